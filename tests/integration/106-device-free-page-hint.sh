#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Free page hints, command-id protocol, against the in-tree driver: after the
# guest frees 200 MiB, a round hints free memory of (at least) that order;
# the guest holds its hint blocks until DONE, then MemFree recovers; hinted
# pages are not discarded by default; a pattern written before and checked
# all along, and a writer rewriting and checking memory, survive several
# rounds.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload"
DRIVER=${VB_DRIVER:-intree}
MIB=$((1 << 20))

# round: start a round, wait for the guest to stop it, print hinted bytes.
round() {
	local i st id
	id=$(vb_ctl --json hint start | jq -e '.["cmd-id"]') || { echo "hint start failed" >&2; return 1; }
	(( id >= 2 )) || { echo "cmd id $id" >&2; return 1; }
	for ((i = 0; i < 600; i++)); do
		st=$(vb_ctl --json hint status) || return 1
		[ "$(echo "$st" | jq -r .state)" = stopped ] && break
		sleep 0.1
	done
	[ "$(echo "$st" | jq -r .state)" = stopped ] || { echo "round $id never stopped: $st" >&2; return 1; }
	[ "$(echo "$st" | jq '.["cmd-id"]')" = "$id" ] || { echo "cmd id moved: $st" >&2; return 1; }
	echo "$st" | jq '.["hinted-bytes"]'
}

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon "$1" || vb_fail "cannot load the $1 balloon driver"
vb_tmpfs /mnt/h
vb-workload fill --mib 64 --hold-file /mnt/h/p --seed 31 --ready /tmp/r \
	--hold-until /tmp/stop --interval 1 >/tmp/w.log 2>&1 &
wp=$!
while [ ! -e /tmp/r ]; do sleep 0.1; done
# A writer: rewrites and checks 16 MiB with a new seed, round after round.
(
	i=0
	while [ ! -e /tmp/stop ]; do
		i=$((i + 1))
		vb-workload fill --mib 16 --hold-file /mnt/h/w --seed $i >/dev/null &&
			vb-workload verify --mib 16 --hold-file /mnt/h/w --seed $i >/tmp/wr.log ||
			{ : >/tmp/wr.bad; break; }
	done
	echo "$i" >/tmp/wr.n
) &
wr=$!
dd if=/dev/zero of=/mnt/h/big bs=1M count=200 2>/dev/null
rm /mnt/h/big
free0=$(vb_meminfo MemFree)
vb_put free0 "$free0"
vb_signal ready
vb_wait hinted 120 || exit 1
vb_put free_hinted "$(vb_meminfo MemFree)"
vb_signal measured
vb_wait done 120 || exit 1
v=$(vb_wait_meminfo MemFree -ge $((free0 - 65536)) 30) || vb_fail "MemFree stayed at $v kB after DONE (was $free0)"
vb_put free_after "$v"
vb_signal recovered
vb_wait stop 300 || exit 1
v=$(vb_wait_meminfo MemFree -ge $((free0 - 65536)) 30) ||
	vb_fail "hint pages not all back at the end: MemFree $v kB (was $free0)"
vb_check_dmesg || exit 1
: >/tmp/stop
wait $wp || { cat /tmp/w.log; vb_fail "pattern corrupted during hint rounds"; }
wait $wr
[ -e /tmp/wr.bad ] && { cat /tmp/wr.log; vb_fail "writer found corruption during hint rounds"; }
vb_log "pattern intact, writer verified $(cat /tmp/wr.n) rewrites"
exit 0
GUEST

vb_start_daemon_uml 512M --page-reporting off -- --timeout 300 -- "$T/guest.sh" "$DRIVER"
vb_wait_guest ready 120 || { vb_wait_uml; vb_fail "guest did not get ready"; }
b0=$(vb_ramfile_bytes)
hinted=$(round) || vb_fail "first round failed"
vb_log "round 1: hinted $((hinted / MIB)) MiB after the guest freed 200 MiB"
(( hinted >= 150 * MIB )) || vb_fail "only $hinted bytes hinted"
sum=$(vb_ctl --json hint ranges | jq '[.[].length] | add // 0')
[ "$sum" = "$hinted" ] || vb_fail "hint ranges add up to $sum, status says $hinted"
nr=$(vb_ctl --json hint ranges | jq length)
vb_log "hinted set: $nr merged ranges"
b1=$(vb_ramfile_bytes)
[ "$(vb_info discarded-bytes)" = 0 ] || vb_fail "hinted pages were discarded by default"
(( b0 - b1 < 16 * MIB )) || vb_fail "RAM file shrank by $(((b0 - b1) / MIB)) MiB during a hint round"
vb_signal_guest hinted
vb_wait_guest measured 60 || vb_fail "guest did not measure"
f0=$(vb_get free0) fh=$(vb_get free_hinted)
vb_log "guest MemFree $((f0 / 1024)) MiB before, $((fh / 1024)) MiB while holding hints"
(( f0 - fh >= 150 * 1024 )) || vb_fail "guest does not hold its hint blocks ($f0 -> $fh kB)"
vb_ctl hint done >/dev/null || vb_fail "hint done failed"
[ "$(vb_ctl --json hint status | jq -r .state)" = idle ] || vb_fail "state after done"
vb_signal_guest done
vb_wait_guest recovered 60 || { vb_wait_uml; vb_fail "MemFree did not recover after DONE"; }
vb_log "after DONE MemFree is back to $(($(vb_get free_after) / 1024)) MiB"
for r in 2 3; do
	h=$(round) || vb_fail "round $r failed"
	vb_ctl hint done >/dev/null || vb_fail "done $r"
	vb_log "round $r: hinted $((h / MIB)) MiB"
done
# A host that misbehaves: DONE twice; DONE in the middle of a round it
# never stopped; a new round over a running one; DONE twice again.  The
# guest must lose no page and free none twice: the pattern and the writer
# verify all along, dmesg stays clean, and at the end every hint page is
# back (MemFree, checked in the guest).
vb_ctl hint start >/dev/null && sleep 0.3 && vb_ctl hint done >/dev/null &&
	vb_ctl hint done >/dev/null || vb_fail "DONE mid-round, twice, refused"
vb_ctl hint start >/dev/null && sleep 0.3 && vb_ctl hint start >/dev/null ||
	vb_fail "a round over a running one refused"
h=$(vb_ctl --json hint status | jq -r .state)
vb_ctl hint done >/dev/null && vb_ctl hint done >/dev/null || vb_fail "DONE twice refused"
vb_log "misbehaving host: DONE mid-round and twice, a round over a running one ($h)"
# Host STOP of a round that is running or already stopped is accepted.
vb_ctl hint start >/dev/null && vb_ctl hint stop >/dev/null || vb_fail "host stop failed"
vb_ctl hint done >/dev/null || vb_fail "final done"
sleep 2
vb_signal_guest stop
vb_wait_uml || vb_fail "guest reported corruption or failed"
[ "$(vb_info refused)" = 0 ] || vb_fail "daemon refused requests"
vb_log "ok"
