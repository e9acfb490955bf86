#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Deflate-on-OOM on and off, with vballoon.ko in place of the in-tree driver: the device
# engineer's scenario 104-device-deflate-on-oom.sh run unchanged with VB_DRIVER=ours (UML + vballoond),
# then again with continuous pages of order 9, so the balloon holds whole
# blocks (a UML pageblock, 4 MiB) and the notifier's 1 MiB deflates split them.
here=$(dirname "$0")
[ -f "$here/104-device-deflate-on-oom.sh" ] || { echo "FAIL: $here/104-device-deflate-on-oom.sh is missing" >&2; exit 1; }
VB_DRIVER=ours bash "$here/104-device-deflate-on-oom.sh" || exit
VB_DRIVER=ours VB_DAEMON_ARGS="--pages-order 9" VB_EXPECT_WHOLE=1 \
	exec bash "$here/104-device-deflate-on-oom.sh"
