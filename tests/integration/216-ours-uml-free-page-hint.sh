#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Free page hint rounds, with vballoon.ko in place of the in-tree driver: the device
# engineer's scenario 106-device-free-page-hint.sh run unchanged with VB_DRIVER=ours (UML + vballoond).
here=$(dirname "$0")
[ -f "$here/106-device-free-page-hint.sh" ] || { echo "FAIL: $here/106-device-free-page-hint.sh is missing" >&2; exit 1; }
VB_DRIVER=ours exec bash "$here/106-device-free-page-hint.sh"
