#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Repeated inflate/deflate cycles with a verified pattern, with vballoon.ko in place of the in-tree driver: the device
# engineer's scenario 102-device-cycles-integrity.sh run unchanged with VB_DRIVER=ours (UML + vballoond).
here=$(dirname "$0")
[ -f "$here/102-device-cycles-integrity.sh" ] || { echo "FAIL: $here/102-device-cycles-integrity.sh is missing" >&2; exit 1; }
VB_DRIVER=ours exec bash "$here/102-device-cycles-integrity.sh"
