#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Deflate-on-OOM on and off, with vballoon.ko in place of the in-tree driver: the device
# engineer's scenario 104-device-deflate-on-oom.sh run unchanged with VB_DRIVER=ours (UML + vballoond).
here=$(dirname "$0")
[ -f "$here/104-device-deflate-on-oom.sh" ] || { echo "FAIL: $here/104-device-deflate-on-oom.sh is missing" >&2; exit 1; }
VB_DRIVER=ours exec bash "$here/104-device-deflate-on-oom.sh"
