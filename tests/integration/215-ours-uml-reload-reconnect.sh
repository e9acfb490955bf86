#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Module reload and frontend reconnect, with vballoon.ko in place of the in-tree driver: the device
# engineer's scenario 105-device-reload-reconnect.sh run unchanged with VB_DRIVER=ours (UML + vballoond).
here=$(dirname "$0")
[ -f "$here/105-device-reload-reconnect.sh" ] || { echo "FAIL: $here/105-device-reload-reconnect.sh is missing" >&2; exit 1; }
VB_DRIVER=ours exec bash "$here/105-device-reload-reconnect.sh"
