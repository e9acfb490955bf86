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

vb_start_daemon_uml 512M --page-reporting off \
	-- --timeout 300 -- "$T/guest.sh" "$DRIVER" reload
vb_wait_guest loaded 120 || { vb_wait_uml; vb_fail "guest did not load the driver"; }
vb_ctl set "$TARGET" >/dev/null || vb_fail "balloon failed"
vb_wait_actual "$TARGET" 60 || vb_fail "first inflate"
vb_signal_guest unload
vb_wait_guest unloaded 60 || vb_fail "guest did not unload"
vb_wait_actual "$FULL" 30 || vb_fail "balloon not emptied by rmmod"
vb_log "rmmod: balloon empty"
vb_signal_guest reload
vb_wait_guest reloaded 60 || vb_fail "guest did not reload"
vb_wait_actual "$TARGET" 60 || vb_fail "reloaded driver did not inflate to the kept target"
vb_log "insmod: target applied again"
vb_signal_guest finish
vb_wait_uml || vb_fail "guest script failed"
kill -0 "$VB_DAEMON_PID" || vb_fail "daemon died after the guest left"
[ "$(vb_info connected)" = false ] || vb_fail "daemon still sees a guest connected"
vb_log "guest gone, daemon still serving: $(vb_ctl list | tail -1)"

# A new guest on the same socket: fresh device, same target.
vb_start_uml --mem 512M --vhost "$VB_SOCK" --timeout 300 -- "$T/guest.sh" "$DRIVER" once ||
	vb_fail "second UML did not boot"
vb_wait_guest loaded 120 || { vb_wait_uml; vb_fail "second guest did not load the driver"; }
vb_wait_actual "$TARGET" 60 || vb_fail "reconnected guest did not inflate to the target"
[ "$(vb_info connected)" = true ] || vb_fail "daemon does not see the new guest"
vb_ctl set "$FULL" >/dev/null
vb_wait_actual "$FULL" 60 || vb_fail "reconnected guest did not deflate"
vb_signal_guest finish
vb_wait_uml || vb_fail "second guest script failed"
kill -0 "$VB_DAEMON_PID" || vb_fail "daemon died"
[ "$(vb_info refused)" = 0 ] || vb_fail "daemon refused requests"
[ "$(vb_info broken)" = false ] || vb_fail "device marked broken"
vb_log "ok"
