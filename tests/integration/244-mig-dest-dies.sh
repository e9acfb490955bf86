#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vb-test: timeout=900
# A destination QEMU that dies mid-migration.  For each driver, in-tree
# and vballoon.ko, a 384 MiB guest churning 96 MiB beside a verified
# 32 MiB pattern (see 241) on QEMU's virtio-balloon with free-page-hint: a
# migration at 4 MiB/s starts (slow enough to be under way long after), the guest's first hint round takes free memory (MemFree
# drops; vballoon.ko holds hint blocks), and the destination QEMU gets
# SIGKILL.  Then the source must say the migration failed, and its guest
# must keep running: QEMU's cleanup sends DONE (vballoon.ko reads it and
# holds no block; MemFree is back), a whole verification pass begun after
# the kill finds no bad page and no kernel warning.  Last, a migration to
# a fresh destination completes and verifies there.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/migrate.sh"
vb_require "$BUILD/x86_64/vballoon.ko" "$BUILD/vb-workload"

VB_CMD_ID_DONE=1
# MemFree a hint round must take, and how close it must come back: the
# churn alone moves it by a slot (12 MiB) or two.
ROUND_KB=$((64 << 10)) BACK_KB=$((56 << 10))

# hint_round_started DRV AFTER FREE0_KB: the guest shows a hint round
# holding memory (console lines after AFTER).
hint_round_started() {
	local drv=$1 after=$2 free0=$3 v
	v=$(vb_mig_wait_state "$after" mem_free_kb "v < $free0 - $ROUND_KB" 120) ||
		vb_fail "no hint round: MemFree $v kB, $free0 kB before the migration; $(vb_mig_qmp '{"execute":"query-migrate"}')"
	vb_log "$drv: hint round under way: MemFree $((v >> 10)) MiB, $((free0 >> 10)) MiB before"
	[ "$drv" = ours ] || return 0
	v=$(vb_mig_wait_state "$after" hint_held_pages 'v > 0' 60) ||
		vb_fail "vballoon.ko holds no hint block"
	vb_log "$drv: vballoon.ko holds $((v >> 8)) MiB of hint blocks"
}

# hints_returned DRV AFTER FREE0_KB: the hint round ended in DONE and
# its memory is the guest's again.
hints_returned() {
	local drv=$1 after=$2 free0=$3 v
	if [ "$drv" = ours ]; then
		v=$(vb_mig_wait_state "$after" hint_id_received "v == $VB_CMD_ID_DONE") ||
			vb_fail "vballoon.ko last read command id $v, not DONE"
		v=$(vb_mig_wait_state "$after" hint_held_pages 'v == 0') ||
			vb_fail "vballoon.ko still holds $((v >> 8)) MiB of hint blocks"
	fi
	v=$(vb_mig_wait_state "$after" mem_free_kb "v >= $free0 - $BACK_KB") ||
		vb_fail "MemFree $v kB stays below $free0 kB - $BACK_KB kB"
	vb_log "$drv: hint memory back: MemFree $((v >> 10)) MiB (before $((free0 >> 10)) MiB)"
}

dest_dies() {
	local drv=$1 after free0 r VB_MIG_PARAMS='{"max-bandwidth":4194304}'
	after=$(vb_mig_lines)
	free0=$(vb_mig_wait_state "$after" mem_free_kb 1) || vb_fail "no MemFree line"
	vb_log "$drv: MemFree $((free0 >> 10)) MiB before the migration"
	after=$(vb_mig_lines)
	vb_mig_begin
	hint_round_started "$drv" "$after" "$free0"
	r=$(vb_mig_qmp '{"execute":"query-migrate"}')
	[[ $r == *'"status": "active"'* ]] || vb_fail "migration not under way: $r"
	vb_log "$drv: SIGKILL to the destination QEMU after $(( $(vb_mig__field transferred "$r") >> 20 )) MiB"
	vb_mig_kill_dest
	r=$(vb_mig_wait_end)
	[[ $r == *'"status": "failed"'* ]] || vb_fail "the source does not say failed: $r"
	vb_log "$drv: source: $(sed -n 's/.*"error-desc": *"\([^"]*\)".*/\1/p' <<<"$r")"
	after=$(vb_mig_lines)
	hints_returned "$drv" "$after" "$free0"
	vb_mig_wait_pass "$after"
	vb_mig_report "$drv: destination SIGKILLed mid-migration"
}

vb_mig_setup
for drv in intree ours; do
	vb_mig_guest_script $drv 32 96
	vb_mig_start --mem 384M --no-balloon-module --balloon "free-page-hint=on"
	dest_dies $drv
	vb_mig_hop
	vb_mig_report "$drv: then migrated to a fresh destination"
	vb_mig_quit "$VB_MIG_SIDE"
done
cat "$T/mig-report"
