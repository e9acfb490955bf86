#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vballoon-broker with two frontends in one run: a UML guest on vballoond
# and a QEMU 7.2 guest with QEMU's own virtio-balloon (in-tree driver,
# deflate-on-oom: TCG deflates too slowly to outrun a tmpfs writer),
# driven through QEMU's monitor.  Both touched their memory and went idle:
# the broker finds QEMU's balloon device by itself, takes at least 30% of
# each guest's RAM (UML: RAM-file blocks; QEMU: the process's RSS), and the
# QEMU guest, given work again, gets its memory back.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/broker.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload" "$BUILD/vballoon-broker"
MIB=$((1 << 20))
RAM=$((512 * MIB))
WANT=$((RAM * 3 / 10))

cat >"$T/guest.sh" <<'GUEST'
[ "$1" = uml ] && { vb_load_balloon intree || vb_fail "cannot load virtio_balloon"; }
vb_tmpfs /mnt/t
vb_touch_free /mnt/t 24
vb_signal idle
if [ "$1" = qemu ]; then
	vb_wait work 300 || exit 1
	rc=0
	vb-workload fill --mib 250 --hold-file /mnt/t/p --seed 4 || rc=$?
	vb_put rc "$rc"
	vb_signal worked
fi
vb_wait finish 300 || exit 1
exit 0
GUEST

rss() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }

vb_start_daemon_uml 512M --name uml --page-reporting off -- --timeout 400 -- "$T/guest.sh" uml
SHARE_U=$VB_SHARE INFO_U=$VB_UML_INFO PID_U=$VB_UML_LAUNCHER_PID
vb_start_qemu --mem 512M --balloon "deflate-on-oom=on" --timeout 400 -- "$T/guest.sh" qemu ||
	vb_fail "QEMU guest did not start"
SHARE_Q=$VB_SHARE
VB_SHARE=$SHARE_U vb_wait_guest idle 120 || vb_fail "UML guest did not touch its memory"
VB_SHARE=$SHARE_Q vb_wait_guest idle 300 || { vb_wait_qemu; vb_fail "QEMU guest did not touch its memory"; }
u0=$(vb_ramfile_bytes "$INFO_U") q0=$(rss "$VB_QEMU_PID")
vb_log "before: UML RAM file $((u0 / MIB)) MiB, QEMU RSS $((q0 / MIB)) MiB"

vb_start_broker --qmp "$VB_QMP" --qmp "$VB_QEMU_QMP" --name vmq
ok=
for ((i = 0; i < 600; i++)); do
	u=$(vb_ramfile_bytes "$INFO_U") q=$(rss "$VB_QEMU_PID")
	(( u0 - u >= WANT && q0 - q >= WANT )) && { ok=1; break; }
	sleep 0.2
done
cat "$T/broker.log"
qa=$(vb_broker_metric actual_bytes vmq)	# QEMU's monitor takes one client: the broker
vb_log "after: UML RAM file $((u / MIB)) MiB, QEMU RSS $((q / MIB)) MiB, QEMU actual $((qa / MIB)) MiB"
[ -n "$ok" ] || vb_fail "no 30% reclaim from both guests in 120 s"
grep -q "endpoint $VB_QEMU_QMP: connected (QEMU)" "$T/broker.log" || vb_fail "QEMU endpoint not seen as QEMU"
grep -q "guest vmq: target .* reason reclaim-free" "$T/broker.log" || vb_fail "no decision for the QEMU guest"

VB_SHARE=$SHARE_Q vb_signal_guest work
VB_SHARE=$SHARE_Q vb_wait_guest worked 300 || { vb_wait_qemu; vb_fail "QEMU workload did not finish"; }
[ "$(VB_SHARE=$SHARE_Q vb_get rc)" = 0 ] || vb_fail "QEMU workload failed"
grep -q "guest vmq: target .* reason pressure-" "$T/broker.log" || vb_fail "QEMU guest never grown"
qa=$(vb_broker_metric actual_bytes vmq)	# QEMU's monitor takes one client: the broker
vb_log "QEMU guest after its workload: actual $((qa / MIB)) MiB"
for s in "$SHARE_U" "$SHARE_Q"; do VB_SHARE=$s vb_signal_guest finish; done
vb_wait_uml "$PID_U" || vb_fail "UML script failed"
vb_wait_qemu || vb_fail "QEMU script failed"
vb_log "ok"
