#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Deflate-on-OOM.  On: a workload needing ballooned memory gets it (the
# balloon shrinks, nothing is OOM-killed, the data verifies).  Off: the guest
# honours the balloon (the balloon keeps its size; the hog does not get the
# memory: its allocation fails or it is OOM-killed).
# VB_DAEMON_ARGS: more vballoond options; VB_EXPECT_WHOLE=1 (vballoon.ko
# with continuous pages of a pageblock): the balloon held whole blocks and
# the OOM notifier's deflates split some (the notifier takes 1 MiB).
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload"
DRIVER=${VB_DRIVER:-intree}
MIB=$((1 << 20))
FULL=$((384 * MIB))
TARGET=$((FULL - 256 * MIB))

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon "$1" || vb_fail "cannot load the $1 balloon driver"
vb_signal loaded
vb_wait inflated 120 || exit 1
vb_log "MemTotal $(vb_meminfo MemTotal) kB, MemFree $(vb_meminfo MemFree) kB"
rc=0
if [ "$2" = on ]; then
	vb_tmpfs /mnt/h
	vb-workload fill --mib 200 --hold-file /mnt/h/p --seed 8 || rc=$?
	[ $rc = 0 ] && { vb-workload verify --mib 200 --hold-file /mnt/h/p --seed 8 || rc=$?; }
else
	vb-workload alloc --mib 160 || rc=$?
fi
vb_put rc "$rc"
if dmesg | grep -qi "killed process"; then vb_put oomkill yes; else vb_put oomkill no; fi
[ "$1" = ours ] && vb_put whole "$(vb_ours_val kept_whole) $(vb_ours_val split_late)"
vb_log "workload rc $rc, MemTotal $(vb_meminfo MemTotal) kB"
vb_signal worked
vb_wait measured 60
exit 0
GUEST

run() {	# run MODE: one guest with deflate-on-oom=MODE
	local mode=$1 a
	rm -f "$T/vhost.sock" "$T/qmp.sock"
	# floor 0: the guest is taken below the default floor on purpose.
	# shellcheck disable=SC2086 # VB_DAEMON_ARGS are words
	vb_start_daemon_uml 384M --deflate-on-oom "$mode" --page-reporting off --free-page-hint off \
		--floor 0 ${VB_DAEMON_ARGS:-} -- --timeout 300 -- "$T/guest.sh" "$DRIVER" "$mode"
	vb_wait_guest loaded 120 || { vb_wait_uml; vb_fail "guest did not load the driver"; }
	vb_ctl set "$TARGET" >/dev/null || vb_fail "balloon failed"
	vb_wait_actual "$TARGET" 120 || vb_fail "$mode: inflate did not finish"
	vb_signal_guest inflated
	vb_wait_guest worked 240 || { vb_wait_uml; vb_fail "$mode: workload did not finish"; }
	a=$(vb_actual)
	vb_signal_guest measured
	vb_wait_uml || vb_fail "$mode: guest script failed"
	vb_log "deflate-on-oom $mode: workload rc $(vb_get rc), OOM kill: $(vb_get oomkill), actual $((a / MIB)) MiB (target $((TARGET / MIB)))"
	vb_stop_pid "$VB_DAEMON_PID"
	vb_untrack "$VB_DAEMON_PID"
	if [ "$mode" = on ]; then
		[ "$(vb_get rc)" = 0 ] || vb_fail "on: workload failed ($(vb_get rc))"
		[ "$(vb_get oomkill)" = no ] || vb_fail "on: something was OOM-killed"
		(( a >= TARGET + 60 * MIB )) || vb_fail "on: the balloon did not shrink under OOM"
		if [ -n "${VB_EXPECT_WHOLE:-}" ]; then
			read -r kept split <<<"$(vb_get whole)"
			vb_log "on: $kept blocks ballooned whole, $split split for the OOM notifier"
			((kept > 0 && split > 0)) || vb_fail "on: whole blocks kept $kept, split $split"
		fi
	else
		[ "$(vb_get rc)" != 0 ] || vb_fail "off: the hog got more memory than the balloon left"
		[ "$a" = "$TARGET" ] || vb_fail "off: the balloon shrank to $a"
	fi
}

run on
run off
vb_log "ok"
