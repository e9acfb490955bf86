#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Pipelined inflate (vballoon.ko + vballoond, UML, page ranges): with small
# batches (range_batch_pages=2048) inflating 400 MiB takes dozens of
# requests, each left in flight while the next is built.  Checks: requests
# really overlapped (state "overlapped"); when the daemon's actual reaches
# the target the device has already discarded every page of it (actual never
# counts a request in flight); a workload holding fragmented memory verifies
# with zero corruption while inflated and after deflating; with pipeline=0
# nothing overlaps.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload" \
	"$BUILD/um/vballoon.ko"
MIB=$((1 << 20))

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon ours range_batch_pages=2048 || vb_fail "insmod vballoon failed"
st=$(vb_ours_dir) || vb_fail "no debug view"
vb_tmpfs /mnt/t
vb-workload frag --mib 300 --hold-file /mnt/t/frag --seed 3 || exit 1
for round in 1 2; do
	vb_signal ready$round
	vb_wait inflated$round 300 || exit 1
	vb_put mode "$(vb_ours_mode)"
	vb_put overlapped$round "$(vb_ours_val overlapped)"
	vb_put reqs$round "$(vb_ours_val inflate_reqs)"
	vb-workload verify --mib 300 --hold-file /mnt/t/frag --seed 3 \
		--punch-holes || exit 1
	vb_signal verified$round
	vb_wait deflated$round 300 || exit 1
	vb-workload verify --mib 300 --hold-file /mnt/t/frag --seed 3 \
		--punch-holes || exit 1
	# Round 2 runs without the pipeline.
	vb_ours_knob pipeline 0 || vb_fail "cannot turn the pipeline off"
done
vb_check_dmesg
exit 0
GUEST

vb_start_daemon --ram-size 1G --page-reporting off --free-page-hint off \
	--cont-pages off || vb_fail "daemon did not start"
vb_start_uml --mem 1G --vhost "$VB_SOCK" --timeout 400 -- "$T/guest.sh" ||
	vb_fail "UML did not boot"
want=$((424 * MIB / 4096))
for round in 1 2; do
	vb_wait_guest ready$round 300 || { vb_wait_uml; vb_fail "guest not ready"; }
	before=$(vb_info inflated-pages) || vb_fail "no inflated-pages"
	vb_ctl set 600M >/dev/null || vb_fail "balloon command failed"
	vb_wait_actual $((600 * MIB)) 120 || vb_fail "balloon did not reach 600 MiB"
	# Read at once: pages still in flight would not be counted yet.
	got=$(( $(vb_info inflated-pages) - before ))
	(( got >= want )) ||
		vb_fail "round $round: actual reached the target with $got of $want pages discarded"
	vb_signal_guest inflated$round
	vb_wait_guest verified$round 300 ||
		{ vb_wait_uml; vb_fail "round $round: pattern corrupted while inflated"; }
	vb_ctl set 1G >/dev/null || vb_fail "balloon command failed"
	vb_wait_actual $((1024 * MIB)) 120 || vb_fail "balloon did not reach 1 GiB"
	vb_signal_guest deflated$round
done
vb_wait_uml || vb_fail "guest script failed"
[ "$(vb_get mode)" = ranges ] || vb_fail "driver mode $(vb_get mode), want ranges"
o1=$(vb_get overlapped1) o2=$(vb_get overlapped2) r1=$(vb_get reqs1) r2=$(vb_get reqs2)
vb_log "round 1: $r1 inflate requests, $o1 overlapped; round 2 (pipeline=0): $((r2 - r1)) requests, $((o2 - o1)) overlapped"
(( r1 >= 20 )) || vb_fail "only $r1 inflate requests: batches not small"
(( o1 >= r1 / 2 )) || vb_fail "only $o1 of $r1 inflate requests overlapped"
(( o2 == o1 )) || vb_fail "pipeline=0 still overlapped $((o2 - o1)) requests"
[ "$(vb_info refused)" = 0 ] || vb_fail "daemon refused $(vb_info refused) requests"
vb_log "ok"
