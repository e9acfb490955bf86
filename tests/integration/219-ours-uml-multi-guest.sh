#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Several guests on one daemon, with vballoon.ko in place of the in-tree driver: the device
# engineer's scenario 109-device-multi-guest.sh run unchanged with VB_DRIVER=ours (UML + vballoond).
here=$(dirname "$0")
[ -f "$here/109-device-multi-guest.sh" ] || { echo "FAIL: $here/109-device-multi-guest.sh is missing" >&2; exit 1; }
VB_DRIVER=ours exec bash "$here/109-device-multi-guest.sh"
