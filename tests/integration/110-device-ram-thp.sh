#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The host THP state of the guest's RAM file, as the daemon reports it
# (x-vb-query "ram-thp-bytes", docs/device.md), with the RAM file on a
# huge=always tmpfs and the in-tree driver (4 KiB PFNs; VB_DRIVER=ours:
# vballoon.ko with continuous pages):
#  - the default pages-order follows the backing: 9 (2 MiB THP);
#  - after the guest touched its memory, most of it is THP-backed, and the
#    daemon's figure agrees with the guest process's own PMD mappings;
#  - ballooning 256 MiB drops it by at least that much (with continuous
#    pages: by about that much, no THP split beyond the balloon);
#  - measuring allocates nothing (the balloon's holes stay holes).
# Serial: it fills a huge tmpfs, and tests that read host-wide
# ShmemHugePages (231) must not see it.
# vb-test: serial
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl"
DRIVER=${VB_DRIVER:-intree}
MIB=$((1 << 20))

cat >"$T/guest.sh" <<'GUEST'
set -e
vb_load_balloon "$1" || vb_fail "cannot load the $1 balloon driver"
vb_tmpfs /mnt/fill
vb_touch_free /mnt/fill 48
vb_signal touched
vb_wait bye 300 || exit 1
exit 0
GUEST

vb_huge_tmpfs 1G
vb_start_daemon_uml 512M --page-reporting off --free-page-hint off \
	-- --ram-dir "$VB_HUGE_DIR" --timeout 300 -- "$T/guest.sh" "$DRIVER"
vb_wait_guest touched 200 || { vb_wait_uml; vb_fail "guest did not get ready"; }

order=$(vb_info pages-order) || vb_fail "no pages-order in x-vb-query"
[ "$order" = 9 ] || vb_fail "default pages-order on a huge tmpfs is $order, want 9"
thp0=$(vb_info ram-thp-bytes) || vb_fail "no ram-thp-bytes in x-vb-query: $(vb_ctl --json query)"
alloc0=$(vb_info ram-allocated)
fe0=$(( $(vb_ramfile_smaps ShmemPmdMapped) * 1024 ))
vb_log "touched: RAM file $((alloc0 / MIB)) MiB, THP-backed $((thp0 / MIB)) MiB (daemon); guest process PMD-maps $((fe0 / MIB)) MiB"
vb_ctl query | grep -E "ram-thp|ram-alloc|pages-order" >&2
(( fe0 >= 64 * MIB )) || vb_skip "the host gave the guest's RAM file no huge pages"
(( thp0 <= alloc0 )) || vb_fail "more THP ($thp0) than allocated ($alloc0)"
(( thp0 + 4 * MIB >= fe0 )) ||
	vb_fail "daemon sees $thp0 THP bytes, the guest process alone PMD-maps $fe0"

target=$((256 * MIB))
vb_ctl set "$target" >/dev/null || vb_fail "balloon command failed"
vb_wait_actual "$target" 120 || vb_fail "inflate to $target did not finish"
alloc1=$(vb_info ram-allocated)
thp1=$(vb_info ram-thp-bytes)
for i in 1 2 3; do vb_info ram-thp-bytes >/dev/null; done
alloc2=$(vb_info ram-allocated)
thp2=$(vb_info ram-thp-bytes)
fe1=$(( $(vb_ramfile_smaps ShmemPmdMapped) * 1024 ))
vb_log "ballooned to 256 MiB: RAM file $((alloc1 / MIB)) MiB -> $((alloc2 / MIB)) MiB after 4 more measurements, THP-backed $((thp1 / MIB)) / $((thp2 / MIB)) MiB; guest process PMD-maps $((fe1 / MIB)) MiB"
(( thp1 + target <= thp0 + 4 * MIB )) ||
	vb_fail "256 MiB of 4 KiB balloon pages left $thp1 of $thp0 THP bytes"
if [ "$DRIVER" = ours ]; then
	[ "$(vb_info transfer)" = '"ranges"' ] && [ "$(vb_info cont-pages)" = true ] ||
		vb_fail "vballoon.ko did not negotiate continuous pages"
	(( thp1 + target + 16 * MIB >= thp0 )) ||
		vb_fail "continuous pages: 256 MiB balloon cost $(( (thp0 - thp1) / MIB )) MiB of THP"
fi
(( thp1 + 4 * MIB >= fe1 )) ||
	vb_fail "daemon sees $thp1 THP bytes, the guest process alone PMD-maps $fe1"
(( alloc2 <= alloc1 + 4 * MIB )) ||
	vb_fail "measuring THP allocated memory: $alloc1 -> $alloc2 bytes"
(( thp2 <= thp1 + 4 * MIB )) || vb_fail "THP bytes grew from $thp1 to $thp2 while idle"
vb_signal_guest bye
vb_wait_uml || vb_fail "guest script failed"
