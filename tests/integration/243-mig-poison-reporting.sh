#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vb-test: timeout=1500
# Live migration with churn (see 241) where free pages carry meaning: a
# guest booted with init_on_free=1 (the drivers negotiate PAGE_POISON,
# value 0: the allocator trusts freed pages to read zero) on a device with
# free-page-hint and free-page-reporting on.  For each driver, in-tree and
# vballoon.ko: two migrations, each followed by a whole verification pass
# on the destination with no bad page and no kernel warning.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/migrate.sh"
vb_require "$BUILD/x86_64/vballoon.ko" "$BUILD/vb-workload"

vb_mig_setup
for drv in intree ours; do
	vb_mig_guest_script $drv 64 192
	vb_mig_start --mem 512M --no-balloon-module --cmdline init_on_free=1 \
		--balloon "free-page-hint=on,free-page-reporting=on"
	grep -aq 'mem auto-init:.*heap free:on' "$(vb_mig_console)" ||
		vb_fail "the guest did not boot with init_on_free"
	vb_mig_hop
	vb_mig_hop
	vb_mig_report "$drv: init_on_free=1 (poison) + free page reporting"
	vb_mig_quit "$VB_MIG_SIDE"
done
cat "$T/mig-report"
