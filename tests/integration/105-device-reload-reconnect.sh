#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Module reload (rmmod, insmod) and frontend disconnect/reconnect leave the
# daemon healthy and serving: the balloon empties on rmmod, the target is
# kept and applied again by the reloaded driver and by a new guest on the
# same socket.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload"
DRIVER=${VB_DRIVER:-intree}
MIB=$((1 << 20))
FULL=$((512 * MIB))
TARGET=$((FULL - 128 * MIB))

ctl() { "$BUILD/vballoonctl" --qmp "$VB_QMP" "$@"; }
actual() { ctl --json raw '{"execute":"query-balloon"}' | jq -e .return.actual; }
info() { ctl --json query | jq -e ".[0].$1"; }
wait_actual() {
	local i a
	for ((i = 0; i < ${2:-60} * 10; i++)); do
		a=$(actual) && [ "$a" = "$1" ] && return 0
		sleep 0.1
	done
	echo "actual is $a, want $1" >&2
	return 1
}

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon "$1" || vb_fail "cannot load the $1 balloon driver"
vb_signal loaded
[ "$2" = reload ] || { vb_wait finish 120; exit 0; }
vb_wait unload 120 || exit 1
vb_unload_balloon "$1" || vb_fail "rmmod failed"
vb_signal unloaded
vb_wait reload 120 || exit 1
vb_load_balloon "$1" || vb_fail "second insmod failed"
vb_signal reloaded
vb_wait finish 120 || exit 1
exit 0
GUEST

vb_start_daemon --ram-size 512M --page-reporting off || vb_fail "daemon did not start"
vb_start_uml --mem 512M --vhost "$VB_SOCK" --timeout 300 -- "$T/guest.sh" "$DRIVER" reload ||
	vb_fail "UML did not boot"
vb_wait_guest loaded 120 || { vb_wait_uml; vb_fail "guest did not load the driver"; }
ctl set "$TARGET" >/dev/null || vb_fail "balloon failed"
wait_actual "$TARGET" 60 || vb_fail "first inflate"
vb_signal_guest unload
vb_wait_guest unloaded 60 || vb_fail "guest did not unload"
wait_actual "$FULL" 30 || vb_fail "balloon not emptied by rmmod"
vb_log "rmmod: balloon empty"
vb_signal_guest reload
vb_wait_guest reloaded 60 || vb_fail "guest did not reload"
wait_actual "$TARGET" 60 || vb_fail "reloaded driver did not inflate to the kept target"
vb_log "insmod: target applied again"
vb_signal_guest finish
vb_wait_uml || vb_fail "guest script failed"
kill -0 "$VB_DAEMON_PID" || vb_fail "daemon died after the guest left"
[ "$(info connected)" = false ] || vb_fail "daemon still sees a guest connected"
vb_log "guest gone, daemon still serving: $(ctl list | tail -1)"

# A new guest on the same socket: fresh device, same target.
vb_start_uml --mem 512M --vhost "$VB_SOCK" --timeout 300 -- "$T/guest.sh" "$DRIVER" once ||
	vb_fail "second UML did not boot"
vb_wait_guest loaded 120 || { vb_wait_uml; vb_fail "second guest did not load the driver"; }
wait_actual "$TARGET" 60 || vb_fail "reconnected guest did not inflate to the target"
[ "$(info connected)" = true ] || vb_fail "daemon does not see the new guest"
ctl set "$FULL" >/dev/null
wait_actual "$FULL" 60 || vb_fail "reconnected guest did not deflate"
vb_signal_guest finish
vb_wait_uml || vb_fail "second guest script failed"
kill -0 "$VB_DAEMON_PID" || vb_fail "daemon died"
[ "$(info refused)" = 0 ] || vb_fail "daemon refused requests"
[ "$(info broken)" = false ] || vb_fail "device marked broken"
vb_log "ok"
