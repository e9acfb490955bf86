#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# vb-test: serial
# Host THP of the RAM file while ballooning, with vballoon.ko in place of
# the in-tree driver: the device engineer's scenario 110-device-ram-thp.sh
# run unchanged with VB_DRIVER=ours (UML + vballoond).
here=$(dirname "$0")
[ -f "$here/110-device-ram-thp.sh" ] || { echo "FAIL: $here/110-device-ram-thp.sh is missing" >&2; exit 1; }
VB_DRIVER=ours exec bash "$here/110-device-ram-thp.sh"
