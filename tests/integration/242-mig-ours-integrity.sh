#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vb-test: timeout=1500
# Live migration to a real destination QEMU (TCP across two network
# namespaces), vballoon.ko on QEMU's virtio-balloon with
# free-page-hint and deflate-on-oom on.  The guest holds a 96 MiB pattern
# and churns 48 MiB (map, write, verify, unmap) all the time, so memory
# freed during a hint round is taken again mid-round; after every
# migration a whole verification pass must run on the destination with no
# bad page and no kernel warning.  Scenarios, one guest in sequence: plain,
# precopy at 32 MiB/s (several rounds), cancelled then migrated, balloon
# inflated to half, ping-pong a->b->a... 10 migrations.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/migrate.sh"
vb_require "$BUILD/x86_64/vballoon.ko" "$BUILD/vb-workload"

vb_mig_setup
vb_mig_guest_script ours 64 192
vb_mig_start --mem 512M --no-balloon-module --balloon "free-page-hint=on,deflate-on-oom=on"
vb_mig_scenario_plain
vb_mig_scenario_slow 32
vb_mig_scenario_cancel
vb_mig_scenario_inflated 512
vb_mig_scenario_pingpong ${VB_MIG_PINGPONG:-10}
vb_mig_finish
