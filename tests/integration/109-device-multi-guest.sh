#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# One daemon, two UML guests addressed by name: each is ballooned on its own,
# a command without a guest name is refused while both are served, and when
# one guest leaves the other keeps being served.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload"
DRIVER=${VB_DRIVER:-intree}
MIB=$((1 << 20))
FULL=$((256 * MIB))

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon "$1" || vb_fail "cannot load the $1 balloon driver"
vb_signal loaded
vb_wait finish 300 || exit 1
exit 0
GUEST

vb_start_daemon --name alpha --ram-size 256M \
	--guest "name=beta,socket=$T/beta.sock,ram-size=256M" || vb_fail "daemon did not start"
vb_start_uml --mem 256M --vhost "$VB_SOCK" --timeout 300 -- "$T/guest.sh" "$DRIVER" ||
	vb_fail "UML alpha did not boot"
SHARE_A=$VB_SHARE PID_A=$VB_UML_LAUNCHER_PID
vb_start_uml --mem 256M --vhost "$T/beta.sock" --timeout 300 -- "$T/guest.sh" "$DRIVER" ||
	vb_fail "UML beta did not boot"
SHARE_B=$VB_SHARE PID_B=$VB_UML_LAUNCHER_PID
VB_SHARE=$SHARE_A vb_wait_guest loaded 120 || vb_fail "alpha did not load the driver"
VB_SHARE=$SHARE_B vb_wait_guest loaded 120 || vb_fail "beta did not load the driver"

vb_ctl list
[ "$(vb_ctl --json list | jq '[.[] | select(.connected)] | length')" = 2 ] ||
	vb_fail "daemon does not see both guests connected"
vb_ctl set 128M 2>"$T/err" && vb_fail "an unnamed balloon command was accepted with two guests"
grep -q "name one" "$T/err" || vb_fail "unexpected error: $(cat "$T/err")"
vb_ctl --guest alpha set 128M >/dev/null || vb_fail "balloon alpha failed"
vb_ctl --guest beta set 192M >/dev/null || vb_fail "balloon beta failed"
vb_wait_actual $((128 * MIB)) 60 alpha || vb_fail "alpha did not reach its target"
vb_wait_actual $((192 * MIB)) 60 beta || vb_fail "beta did not reach its target"
vb_log "alpha at 128 MiB, beta at 192 MiB"
vb_ctl --guest gamma set 1G 2>/dev/null && vb_fail "unknown guest accepted"

VB_SHARE=$SHARE_A vb_signal_guest finish
vb_wait_uml "$PID_A" || vb_fail "alpha's script failed"
vb_ctl --guest beta set 256M >/dev/null || vb_fail "beta no longer served after alpha left"
vb_wait_actual "$FULL" 60 beta || vb_fail "beta did not deflate after alpha left"
[ "$(vb_ctl --json --guest alpha query | jq .connected)" = false ] || vb_fail "alpha still connected"
VB_SHARE=$SHARE_B vb_signal_guest finish
vb_wait_uml "$PID_B" || vb_fail "beta's script failed"
[ "$(vb_ctl --json query | jq '[.[].refused] | add')" = 0 ] || vb_fail "requests refused"
vb_log "ok"
