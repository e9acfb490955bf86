#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vb-test: timeout=1500
# Live migration to a real destination QEMU (TCP across two network
# namespaces), the in-tree virtio_balloon on QEMU's virtio-balloon with
# free-page-hint and deflate-on-oom on.  The guest holds a 64 MiB pattern
# and churns 256 MiB in 32 MiB slots (map, write, verify, unmap) all the
# time, more than a hint round leaves free, so hint blocks come back and
# are written mid-round; after every
# migration a whole verification pass must run on the destination with no
# bad page and no kernel warning.  Scenarios, one guest in sequence: plain,
# precopy at 32 MiB/s (several rounds), cancelled then migrated, balloon
# inflated to half, ping-pong a->b->a... 10 migrations.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/migrate.sh"
vb_require "$BUILD/vb-workload"

vb_mig_setup
vb_mig_guest_script intree 64 256
vb_mig_start --mem 1024M --no-balloon-module --balloon "free-page-hint=on,deflate-on-oom=on"
vb_mig_integrity_scenarios 1024
vb_mig_finish
