#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest RAM on hugetlbfs (2 MiB pages) behind vballoond.  No 4 KiB page can
# be returned from such RAM: a hole must cover whole huge pages.  vballoon.ko
# with continuous pages at the backing's order (the device sets pages_order
# from the RAM file, 9 here) returns whole huge pages: the mount's free huge
# pages rise by what the balloon holds.  Linux's in-tree driver (4 KiB pages
# only) gets a balloon that holds pages the host cannot free: the daemon
# says so once in its log and in query, and logs no error per request.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/vhost-qemu.sh"
vb_require "$BUILD/x86_64/vballoon.ko"
vb_need_qemu_new
M=$((1 << 20))
vb_hugetlbfs 560

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon "$1" || vb_fail "cannot load the $1 driver"
vb_touch_free /tmp 100 || exit 1
vb_signal ready
vb_wait done 300 || exit 1
vb_check_dmesg || exit 1
GUEST

# run DRIVER: one guest of 512 MiB on the hugetlbfs; sets FREED (huge pages).
run() {
	local drv=$1 free0 free1
	VB_RAM_FILE=$VB_HUGETLB_DIR/ram-$drv
	# Reporting off: it returns free 2 MiB blocks on its own (it works on
	# hugetlbfs too), which would hide what the balloon gave back.
	vb_start_daemon_qemu 512M --cont-pages on --page-reporting off -- --no-balloon-module --ram "hugetlbfs:$VB_RAM_FILE" \
		--timeout 400 -- "$T/guest.sh" "$drv"
	vb_wait_guest ready 240 || { vb_wait_qemu; vb_fail "$drv: guest not ready"; }
	free0=$(vb_hugetlb_free)
	vb_ctl set 256M >/dev/null
	vb_wait_actual $((256 * M)) 180 || vb_fail "$drv: inflate did not reach 256 MiB"
	sleep 1
	free1=$(vb_hugetlb_free)
	QUERY=$(vb_ctl --json query)
	FREED=$((free1 - free0))
	vb_log "$drv: order $(vb_info pages-order), transfer $(vb_info transfer), free huge pages $free0 -> $free1"
	vb_ctl set 512M >/dev/null
	vb_wait_actual $((512 * M)) 180 || vb_fail "$drv: deflate did not finish"
	vb_signal_guest done
	vb_wait_qemu || vb_fail "$drv: guest script failed"
	vb_term_daemon
	rm -f "$VB_SOCK" "$VB_QMP"
}

run ours
[ "$(jq -r '.[0]["pages-order"]' <<<"$QUERY")" = 9 ] || vb_fail "pages-order is not the huge page's order"
# Pages the guest never touched were never allocated: at least half of the
# 128 the balloon holds come back, and nothing it holds is unfreeable.
(( FREED >= 64 )) || vb_fail "vballoon.ko gave back only $FREED of 128 huge pages"
jq -e '.[0]["unfreeable-bytes"] == 0' <<<"$QUERY" >/dev/null ||
	vb_fail "continuous pages left unfreeable bytes: $QUERY"
vb_log "vballoon.ko: $((FREED * 2)) MiB of huge pages back in the pool"

run intree
(( FREED <= 2 )) || vb_fail "4 KiB pages freed $FREED huge pages (they cannot)"
jq -e '.[0]["ram-page-size"] == 2097152 and .[0]["unfreeable-bytes"] > 0' <<<"$QUERY" >/dev/null ||
	vb_fail "query does not say the balloon holds memory it cannot free: $QUERY"
n=$(grep -c 'cannot return 4 KiB pages' "$T/daemon.log")
[ "$n" = 1 ] || vb_fail "want the hugetlbfs limit said once, said $n times"
grep -E 'warn|error' "$T/daemon.log" | grep -v 'cannot return 4 KiB pages' && vb_fail "errors per request"
vb_log "in-tree: the daemon said once that 4 KiB pages cannot be returned from hugetlbfs"
