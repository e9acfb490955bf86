#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Inflate/deflate, MemTotal, RAM file release, with vballoon.ko in place of the in-tree driver: the device
# engineer's scenario 101-device-inflate-deflate.sh run unchanged with VB_DRIVER=ours (UML + vballoond).
here=$(dirname "$0")
[ -f "$here/101-device-inflate-deflate.sh" ] || { echo "FAIL: $here/101-device-inflate-deflate.sh is missing" >&2; exit 1; }
VB_DRIVER=ours exec bash "$here/101-device-inflate-deflate.sh"
