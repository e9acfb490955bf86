#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Test 121's scenario with vballoon.ko (built for Debian 6.1) in place of
# the in-tree driver, through QEMU 11's vhost-user-test-device-pci and
# vballoond: page ranges negotiated through QEMU (the generic device passes
# feature bits 20 and 21 unchanged), two 256 MiB cycles with MemTotal
# exact, the RAM file giving memory back, the pattern intact, stats, rmmod
# and a clean dmesg.
# vb-test: timeout=900
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/vhost-qemu.sh"
vb_require "$BUILD/vb-workload" "$BUILD/x86_64/vballoon.ko"
vb_vhost_cycles ours
vb_log "QEMU 11 + vballoond + vballoon.ko: two 256 MiB cycles, pattern intact"
