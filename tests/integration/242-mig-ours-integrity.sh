#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vb-test: timeout=1500
# Live migration to a real destination QEMU (TCP across two network
# namespaces), vballoon.ko on QEMU's virtio-balloon with
# free-page-hint and deflate-on-oom on.  The guest holds a 64 MiB pattern
# and churns 256 MiB in 32 MiB slots (map, write, verify, unmap) all the
# time, more than a hint round leaves free, so the shrinker hands hint
# blocks back and they are written mid-round (checked: hint_shrunk moved); after every
# migration a whole verification pass must run on the destination with no
# bad page and no kernel warning.  Scenarios, one guest in sequence: plain,
# precopy at 32 MiB/s (several rounds), cancelled then migrated, balloon
# inflated to half, ping-pong a->b->a... 10 migrations.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/migrate.sh"
vb_require "$BUILD/x86_64/vballoon.ko" "$BUILD/vb-workload"

vb_mig_setup
vb_mig_guest_script ours 64 256
vb_mig_start --mem 1024M --no-balloon-module --balloon "free-page-hint=on,deflate-on-oom=on"
vb_mig_integrity_scenarios 1024
shrunk=$(vb_mig_hint_state hint_shrunk) || exit 1
rounds=$(vb_mig_hint_state hint_rounds) || exit 1
hinted=$(vb_mig_hint_state hint_pages) || exit 1
vb_log "vballoon.ko: $rounds hint rounds, $((${hinted:-0} >> 8)) MiB hinted, $((${shrunk:-0} >> 8)) MiB given back by the shrinker mid-round"
(( ${shrunk:-0} > 0 )) || vb_fail "the shrinker never gave hint blocks back: the churn did not reuse hinted memory"
vb_mig_finish
