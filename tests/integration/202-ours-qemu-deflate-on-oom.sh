#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Deflate-on-OOM with vballoon.ko on QEMU's virtio-balloon
# (deflate-on-oom=on): with 352 MiB of a 512 MiB guest in the balloon, a
# workload that needs 300 MiB gets it from the balloon through the OOM
# notifier, nothing is OOM-killed, and query-balloon sees the balloon shrink.
# MemTotal must not drop while inflated (no managed-page accounting with
# DEFLATE_ON_OOM, as in-tree).
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/x86_64/vballoon.ko" "$BUILD/vb-workload"

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon ours || vb_fail "insmod vballoon failed"
st=$(vb_ours_dir) || vb_fail "no debug view"
before=$(vb_meminfo MemTotal)
vb_signal ready
vb_wait inflated 300 || exit 1
now=$(vb_meminfo MemTotal)
[ "$now" -eq "$before" ] ||
	vb_fail "MemTotal changed $before -> $now kB with DEFLATE_ON_OOM"
vb-workload alloc --mib 300 --seed 11 || vb_fail "workload failed ($?)"
dmesg | grep -q "Killed process" && vb_fail "the OOM killer killed a process"
oom=$(vb_ours_val oom_deflated)
vb_put oom "$oom"
[ "$oom" -gt 0 ] || vb_fail "no pages released to the OOM notifier"
vb_log "OOM notifier released $oom pages; workload ran"
vb_signal worked
vb_wait bye 60 || exit 1
vb_check_dmesg
exit 0
GUEST

vb_start_qemu --mem 512M --no-balloon-module --balloon "deflate-on-oom=on" \
	--timeout 500 -- "$T/guest.sh" || vb_fail "QEMU guest did not start"
vb_wait_guest ready 300 || { vb_wait_qemu; vb_fail "guest not ready"; }
vb_qemu_balloon $((160 << 20))
vb_qemu_wait_actual $((160 << 20)) 180 || vb_fail "balloon never reached 352 MiB"
vb_signal_guest inflated
vb_wait_guest worked 300 ||
	{ vb_wait_qemu; tail -n 30 "$VB_QEMU_CONSOLE" >&2; vb_fail "guest script failed"; }
a=$(vb_qemu_actual)
vb_signal_guest bye
vb_wait_qemu || vb_fail "guest script failed"
vb_log "after the workload query-balloon actual = $((a >> 20)) MiB (was 160)"
(( a > (160 << 20) )) || vb_fail "query-balloon did not see the balloon deflate"
