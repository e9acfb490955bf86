#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Guest stats names and values, with vballoon.ko in place of the in-tree driver: the device
# engineer's scenario 103-device-stats.sh run unchanged with VB_DRIVER=ours (UML + vballoond).
here=$(dirname "$0")
[ -f "$here/103-device-stats.sh" ] || { echo "FAIL: $here/103-device-stats.sh is missing" >&2; exit 1; }
VB_DRIVER=ours exec bash "$here/103-device-stats.sh"
