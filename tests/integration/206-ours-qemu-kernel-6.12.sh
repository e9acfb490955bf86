#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# One module source for every kernel: vballoon.ko built against Debian's
# 6.12 kernel (unpacked by make setup) runs test 201's whole scenario on
# that kernel under QEMU/TCG with QEMU's virtio-balloon: inflate, deflate,
# stats, rmmod with an inflated balloon, insmod again.  The differences
# from 6.1 live in guest/vballoon_compat.h.
VB_ALT_KERNEL=1 exec bash "$(dirname "$0")/201-ours-qemu-balloon.sh"
