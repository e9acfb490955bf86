#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vballoond keeps what must outlive it in --state-dir: each guest's target,
# RAM size and what its balloon held.  Killed (-9) with half a UML guest
# ballooned, a restarted daemon says plainly that the guest's balloon held
# 65536 pages and no driver came back (UML cannot reattach a device), and it
# keeps the target, instead of reporting full RAM.  Killed 20 times while
# its target changes as fast as a client can set it, it never finds a torn
# file (the write is all or nothing).  A corrupt file and another guest's
# file are refused with one line each and never applied.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl"
M=$((1 << 20))
STATE=$T/state
mkdir -p "$STATE"

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon intree || vb_fail "cannot load virtio_balloon"
vb_signal loaded
vb_wait never 300
GUEST

restart() {
	kill -KILL "$VB_DAEMON_PID" 2>/dev/null
	wait "$VB_DAEMON_PID" 2>/dev/null
	vb_untrack "$VB_DAEMON_PID"
	rm -f "$VB_SOCK" "$VB_QMP"
	mv "$T/daemon.log" "$T/daemon.log.$1"
	vb_start_daemon --name vm1 --ram-size 512M --state-dir "$STATE" "${@:2}" ||
		vb_fail "restart $1: the daemon did not start"
}

vb_start_daemon_uml 512M --name vm1 --state-dir "$STATE" -- --timeout 300 -- "$T/guest.sh"
vb_wait_guest loaded 120 || { vb_wait_uml; vb_fail "guest did not load the driver"; }
vb_ctl set 256M >/dev/null
vb_wait_actual $((256 * M)) 120 || vb_fail "inflate to 256 MiB"
sleep 1	# the file is brought up to date every 200 ms
grep -q '^actual-pages 65536$' "$STATE/vm1.state" || vb_fail "state file: $(cat "$STATE/vm1.state")"
grep -q '^connected 1$' "$STATE/vm1.state" || vb_fail "state file does not say a driver was there"

restart 1
q=$(vb_ctl --json query)
vb_log "after kill -9 and restart: $(jq -c '.[0] | {connected, target, actual, "orphaned-pages"}' <<<"$q")"
jq -e '.[0].connected == false' <<<"$q" >/dev/null || vb_fail "restarted daemon sees a driver"
jq -e ".[0].target == $((256 * M))" <<<"$q" >/dev/null || vb_fail "target not kept"
jq -e '.[0]["orphaned-pages"] == 65536' <<<"$q" >/dev/null ||
	vb_fail "the restarted daemon does not say what the guest's balloon held"
grep -q 'held 65536 pages' "$T/daemon.log" || vb_fail "no log line about the guest's held pages"

# Kill -9 while the target changes as fast as a client sets it.
for ((i = 0; i < 20; i++)); do
	(sleep "0.$((RANDOM % 5))"; kill -KILL "$VB_DAEMON_PID") &
	killer=$!
	for ((v = 300; v < 364; v++)); do vb_ctl set "${v}M" >/dev/null 2>&1 || break; done
	wait "$killer"
	restart "k$i"
	grep -q 'refused' "$T/daemon.log" && vb_fail "kill $i: the state file was refused: $(grep refused "$T/daemon.log")"
done
vb_log "20 kills mid-write: every restart read a whole file ($(sed -n 's/^target //p' "$STATE/vm1.state") kept)"

# A corrupt file: one byte changed.  Refused, not applied.
kill -KILL "$VB_DAEMON_PID"; wait "$VB_DAEMON_PID" 2>/dev/null; vb_untrack "$VB_DAEMON_PID"
sed -i 's/^target 3/target 1/' "$STATE/vm1.state"
rm -f "$VB_SOCK" "$VB_QMP"; mv "$T/daemon.log" "$T/daemon.log.c"
vb_start_daemon --name vm1 --ram-size 512M --state-dir "$STATE" || vb_fail "start on a corrupt file"
[ "$(grep -c 'refused (the check sum does not match' "$T/daemon.log")" = 1 ] ||
	vb_fail "corrupt file not refused once: $(cat "$T/daemon.log")"
[ "$(vb_info target)" = $((512 * M)) ] || vb_fail "a corrupt file's target was applied"

# Another guest's file under this guest's name.
vb_ctl set 400M >/dev/null
sleep 1
sed 's/^guest vm1$/guest vm2/' "$STATE/vm1.state" >"$T/x" && mv "$T/x" "$STATE/vm1.state"
restart f
[ "$(grep -c 'refused (' "$T/daemon.log")" = 1 ] || vb_fail "foreign file not refused once"
[ "$(vb_info target)" = $((512 * M)) ] || vb_fail "a foreign file's target was applied"
vb_term_daemon
vb_log "corrupt and foreign state files refused, never applied"
