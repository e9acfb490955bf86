#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Free page reporting, with vballoon.ko in place of the in-tree driver: the device
# engineer's scenario 107-device-page-reporting.sh run unchanged with VB_DRIVER=ours (UML + vballoond).
here=$(dirname "$0")
[ -f "$here/107-device-page-reporting.sh" ] || { echo "FAIL: $here/107-device-page-reporting.sh is missing" >&2; exit 1; }
VB_DRIVER=ours exec bash "$here/107-device-page-reporting.sh"
