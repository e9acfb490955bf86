#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Movable balloon pages with vballoon.ko on QEMU's device: the
# balloon is inflated while a workload holds most of memory, so balloon
# pages land scattered over the zone; the workload then frees its memory
# and `compact_memory` must migrate balloon pages (vmstat balloon_migrate
# and the driver's own counter rise), the balloon keeps its size
# (query-balloon unchanged) and a pattern written afterwards verifies.
# With the knob movable=0 (the bench's unmovable comparison) the
# same compaction must migrate none.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/x86_64/vballoon.ko" "$BUILD/vb-workload"

cat >"$T/guest.sh" <<'GUEST'
# Only the compaction this test asks for: no proactive kcompactd runs.
echo 0 >/proc/sys/vm/compaction_proactiveness
vb_load_balloon ours movable=$1 || vb_fail "insmod vballoon failed"
st=$(vb_ours_dir) || vb_fail "no debug view"
vb-workload frag --mib 320 --hold-file /tmp/frag --seed 5 || exit 1
vb_signal ready
vb_wait inflated 300 || exit 1
pages=$(cat $st/pages)
rm -f /tmp/frag
m0=$(vb_vmstat balloon_migrate)
echo 1 >/proc/sys/vm/compact_memory
m1=$(vb_vmstat balloon_migrate)
c=$(vb_settled_migrations) || vb_fail "balloon migrations never settled"
vb_log "balloon_migrate $m0 -> $m1 (${c% *} settled); driver migrated ${c#* }"
if [ "$1" = 1 ]; then
	[ "$m1" -gt "$m0" ] || vb_fail "compaction migrated no balloon page"
else
	[ "$m1" = "$m0" ] || vb_fail "movable=0 but $((m1 - m0)) pages migrated"
fi
[ "${c#* }" -ge $((${c% *} - m0)) ] || vb_fail "driver counter lags vmstat"
[ "$(cat $st/pages)" = "$pages" ] || vb_fail "balloon size changed"
vb_put migrated $((m1 - m0))
vb_signal compacted
vb_wait checked 60 || exit 1
vb-workload fill --mib 128 --hold-file /tmp/after --seed 9 || exit 1
vb-workload verify --mib 128 --hold-file /tmp/after --seed 9 || exit 1
vb_check_dmesg
exit 0
GUEST

run() {
	vb_start_qemu --mem 512M --no-balloon-module --balloon "" --timeout 400 \
		-- "$T/guest.sh" "$1" || vb_fail "QEMU guest did not start"
	vb_wait_guest ready 300 || { vb_wait_qemu; vb_fail "guest not ready"; }
	vb_qemu_balloon $((448 << 20))
	vb_qemu_wait_actual $((448 << 20)) 120 || vb_fail "balloon did not reach 64 MiB"
	vb_signal_guest inflated
	vb_wait_guest compacted 300 || { vb_wait_qemu; vb_fail "compaction step failed"; }
	[ "$(vb_qemu_actual)" = $((448 << 20)) ] || vb_fail "query-balloon changed: $(vb_qemu_actual)"
	vb_signal_guest checked
	vb_wait_qemu || vb_fail "guest script failed"
	vb_log "movable=$1: compaction migrated $(vb_get migrated) balloon pages"
}

run 1
run 0
