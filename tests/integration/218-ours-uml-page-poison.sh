#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Page poison (init_on_free), with vballoon.ko in place of the in-tree driver: the device
# engineer's scenario 108-device-page-poison.sh run unchanged with VB_DRIVER=ours (UML + vballoond).
here=$(dirname "$0")
[ -f "$here/108-device-page-poison.sh" ] || { echo "FAIL: $here/108-device-page-poison.sh is missing" >&2; exit 1; }
VB_DRIVER=ours exec bash "$here/108-device-page-poison.sh"
