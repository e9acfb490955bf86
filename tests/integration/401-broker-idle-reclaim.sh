#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vballoon-broker, idle reclaim: two 512 MiB UML guests on one vballoond
# touch all their memory, free it and go idle.  With page reporting off
# (so only the broker can take it back), the broker gives back at least
# 30% of each guest's RAM within 10 s of its start, seen as blocks leaving
# the guests' RAM files on the host; it stays above each floor, and then it
# holds still: no decision for 5 s once settled (no resize loop).  The
# guests run vballoon.ko (VB_DRIVER=intree: the in-tree driver, whose
# inflate, ~20-60 MiB/s in UML on a loaded host, can miss the 10 s).
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/broker.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vballoon-broker"
DRIVER=${VB_DRIVER:-ours}
[ "$DRIVER" = ours ] && vb_require "$BUILD/um/vballoon.ko"
MIB=$((1 << 20))
RAM=$((512 * MIB))
WANT=$((RAM * 3 / 10))

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon "$1" || vb_fail "cannot load the $1 balloon driver"
vb_tmpfs /mnt/t
vb_touch_free /mnt/t 24
vb_signal idle
vb_wait finish 300 || exit 1
vb_check_dmesg
exit 0
GUEST

vb_start_daemon --name alpha --ram-size 512M --page-reporting off \
	--guest "name=beta,socket=$T/beta.sock,ram-size=512M,page-reporting=off" ||
	vb_fail "daemon did not start"
vb_start_uml --mem 512M --vhost "$VB_SOCK" --timeout 300 -- "$T/guest.sh" "$DRIVER" ||
	vb_fail "UML alpha did not boot"
SHARE_A=$VB_SHARE INFO_A=$VB_UML_INFO PID_A=$VB_UML_LAUNCHER_PID
vb_start_uml --mem 512M --vhost "$T/beta.sock" --timeout 300 -- "$T/guest.sh" "$DRIVER" ||
	vb_fail "UML beta did not boot"
SHARE_B=$VB_SHARE INFO_B=$VB_UML_INFO PID_B=$VB_UML_LAUNCHER_PID
VB_SHARE=$SHARE_A vb_wait_guest idle 120 || vb_fail "alpha did not touch its memory"
VB_SHARE=$SHARE_B vb_wait_guest idle 120 || vb_fail "beta did not touch its memory"
a0=$(vb_ramfile_bytes "$INFO_A") b0=$(vb_ramfile_bytes "$INFO_B")
vb_log "RAM files before: alpha $((a0 / MIB)) MiB, beta $((b0 / MIB)) MiB"
(( a0 >= WANT + 64 * MIB && b0 >= WANT + 64 * MIB )) ||
	vb_fail "guests did not touch enough memory to measure a 30% reclaim"

t0=$(vb_now_ms)
vb_start_broker --qmp "$VB_QMP"
done_ms=
for ((i = 0; i < 600; i++)); do
	a=$(vb_ramfile_bytes "$INFO_A") b=$(vb_ramfile_bytes "$INFO_B")
	if (( a0 - a >= WANT && b0 - b >= WANT )); then
		done_ms=$(($(vb_now_ms) - t0))
		break
	fi
	sleep 0.1
done
cat "$T/broker.log"
[ -n "$done_ms" ] || vb_fail "no 30% reclaim in 60 s: alpha $((a / MIB)) MiB, beta $((b / MIB)) MiB"
vb_log "30% of both guests' RAM back on the host after $done_ms ms" \
	"(alpha $(((a0 - a) / MIB)) MiB, beta $(((b0 - b) / MIB)) MiB)"
(( done_ms <= 10000 )) || vb_fail "reclaim took $done_ms ms, more than 10 s"

# Settled: the targets stop moving, above the floors.
for ((i = 0; i < 300; i++)); do
	n=$(grep -c ": target " "$T/broker.log")
	sleep 5
	[ "$n" = "$(grep -c ": target " "$T/broker.log")" ] && break
done
[ "$n" = "$(grep -c ": target " "$T/broker.log")" ] || vb_fail "the broker never settled"
for g in alpha beta; do
	act=$(vb_actual "$g") floor=$(vb_broker_metric floor_bytes "$g")
	vb_log "$g: actual $((act / MIB)) MiB, floor $((floor / MIB)) MiB," \
		"$(vb_broker_decisions "$g") decisions"
	(( act >= floor )) || vb_fail "$g below its floor"
	(( $(vb_broker_decisions "$g") <= 6 )) || vb_fail "$g resized more than 6 times"
done
grep -q "reason reclaim-free" "$T/broker.log" || vb_fail "no reclaim-free decision logged"
"$VB_BROKER" top --metrics "$T/broker.prom" --once || vb_fail "top failed"

VB_SHARE=$SHARE_A vb_signal_guest finish
VB_SHARE=$SHARE_B vb_signal_guest finish
vb_wait_uml "$PID_A" || vb_fail "alpha's script failed"
vb_wait_uml "$PID_B" || vb_fail "beta's script failed"
vb_log "ok"
