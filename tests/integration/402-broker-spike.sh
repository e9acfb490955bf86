#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vballoon-broker, spike: a 512 MiB UML guest (deflate-on-oom on) is
# reclaimed down to its floor while idle, then a workload suddenly needs
# 60% of its RAM.  The guest has that much within 1 s of the broker's first
# pressure decision (both times from the broker's log), nothing is
# OOM-killed, and the workload writes and verifies its pattern.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/broker.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload" "$BUILD/vballoon-broker"
MIB=$((1 << 20))
SPIKE_MIB=$((512 * 6 / 10))

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon intree || vb_fail "cannot load virtio_balloon"
vb_tmpfs /mnt/t
vb_touch_free /mnt/t 24
vb_signal idle
vb_wait spike 300 || exit 1
rc=0
vb-workload fill --mib "$1" --hold-file /mnt/t/p --seed 11 || rc=$?
[ $rc = 0 ] && { vb-workload verify --mib "$1" --hold-file /mnt/t/p --seed 11 || rc=$?; }
vb_put rc "$rc"
if dmesg | grep -qi "killed process"; then vb_put oomkill yes; else vb_put oomkill no; fi
vb_log "workload rc $rc, MemTotal $(vb_meminfo MemTotal) kB, MemAvailable $(vb_meminfo MemAvailable) kB"
vb_signal worked
vb_wait finish 120 || exit 1
exit 0
GUEST

vb_start_daemon_uml 512M --name vm --deflate-on-oom on -- --timeout 300 -- \
	"$T/guest.sh" "$SPIKE_MIB"
vb_wait_guest idle 120 || { vb_wait_uml; vb_fail "guest did not touch its memory"; }
vb_start_broker --qmp "$VB_QMP"
# Idle: down to the floor.
floor=
for ((i = 0; i < 600; i++)); do
	floor=$(vb_broker_metric floor_bytes vm)
	[ -n "$floor" ] && [ "$(vb_actual)" = "$floor" ] && break
	sleep 0.1
done
[ -n "$floor" ] && [ "$(vb_actual)" = "$floor" ] || vb_fail "not reclaimed to the floor"
vb_log "idle guest at its floor, $((floor / MIB)) MiB; the workload needs $SPIKE_MIB MiB"
before=$(grep -c "" "$T/broker.log")

vb_signal_guest spike
vb_wait_guest worked 240 || { vb_wait_uml; cat "$T/broker.log"; vb_fail "workload did not finish"; }
sleep 1
tail -n +"$((before + 1))" "$T/broker.log" >"$T/spike.log"
cat "$T/spike.log"
[ "$(vb_get rc)" = 0 ] || vb_fail "workload failed (rc $(vb_get rc))"
[ "$(vb_get oomkill)" = no ] || vb_fail "something was OOM-killed"
grep -q "reason pressure-" "$T/spike.log" || vb_fail "no pressure decision"
# From the first pressure decision to the first time the guest had the
# memory its workload needs, both stamped in the broker's log.
stamp_ms() { awk -F'[:. ]' '{ print (($1 * 60 + $2) * 60 + $3) * 1000 + $4; exit }'; }
t_p=$(grep -m1 "reason pressure-" "$T/spike.log" | stamp_ms)
t_r=$(awk -v need="$SPIKE_MIB" '/guest vm: reached/ { for (i = 1; i < NF; i++)
	if ($i == "reached" && $(i + 1) >= need) { print; exit } }' "$T/spike.log" | stamp_ms)
[ -n "$t_r" ] || vb_fail "the guest never reached $SPIKE_MIB MiB"
ms=$((t_r - t_p))
vb_log "first pressure decision: $(grep -m1 'reason pressure-' "$T/spike.log" | sed 's/.*reason //')"
vb_log "the guest had $SPIKE_MIB MiB ${ms} ms after it; actual now $(($(vb_actual) / MIB)) MiB"
(( ms <= 1000 )) || vb_fail "the guest waited $ms ms for its memory"
vb_signal_guest finish
vb_wait_uml || vb_fail "guest script failed"
vb_log "ok"
