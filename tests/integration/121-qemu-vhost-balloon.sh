#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vballoond as the balloon of a stock QEMU (11.x, vhost-user-test-device-pci
# over virtio-pci) with Debian 6.1's in-tree virtio_balloon in an x86-64
# guest: `balloon` through vballoond's QMP inflates 256 MiB of a 512 MiB guest
# and gives it back twice; MemTotal follows exactly, the guest's RAM file on
# the host loses what the guest had touched there, a held pattern survives
# every cycle, stats arrive, rmmod works and the guest's dmesg stays clean
# (vb_vhost_cycles, tests/lib/vhost-qemu.sh; 123 and 124 run the same).
# vb-test: timeout=900
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/vhost-qemu.sh"
vb_require "$BUILD/vb-workload"
vb_vhost_cycles intree
vb_log "QEMU 11 + vballoond + in-tree 6.1: two 256 MiB cycles, pattern intact"
