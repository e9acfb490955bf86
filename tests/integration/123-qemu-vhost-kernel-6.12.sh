#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Test 121's scenario on make setup's second Debian kernel (6.12), one
# guest, both drivers in turn: Debian 6.12's in-tree virtio_balloon, then,
# after its rmmod, vballoon.ko built from the same source against 6.12
# (a new driver on the same device: vballoond starts it from an empty
# balloon).  Each: two 256 MiB cycles through QEMU 11 and vballoond, MemTotal
# exact, RAM file, pattern, stats; dmesg clean at the end.
# vb-test: timeout=900
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/vhost-qemu.sh"
KO=$BUILD/x86_64-alt/vballoon.ko
vb_require "$BUILD/vb-workload" "$KO"
[ -n "${VB_X86_ALT_ROOT:-}" ] ||
	vb_skip "make setup found no second kernel (linux-image-6.12.*) in the archive"
vb_vhost_cycles "intree ours" --kernel-root "$VB_X86_ALT_ROOT" --module "$KO"
want=$(basename "$(ls -d "$VB_X86_ALT_ROOT"/lib/modules/*)")
[ "$(vb_get kernel)" = "$want" ] || vb_fail "guest ran $(vb_get kernel), not $want"
vb_log "QEMU 11 + vballoond on $want: in-tree, then vballoon.ko, two 256 MiB cycles each"
