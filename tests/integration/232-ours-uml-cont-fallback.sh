#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Continuous pages under heavy fragmentation (vballoon.ko + vballoond, UML):
# the workload fragments 800 MiB of a 1 GiB guest, so the balloon cannot be
# built from order-9 blocks alone (cont_compact=0: no compaction to make
# new ones).  The driver must fall back order by
# order (the fallback counter rises, lower-order blocks appear), reach the
# target, and the workload's pattern must verify with zero corruption
# while inflated and after deflating.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload" \
	"$BUILD/um/vballoon.ko"
MIB=$((1 << 20))

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon ours cont_compact=0 || vb_fail "insmod vballoon failed"
st=$(vb_ours_dir) || vb_fail "no debug view"
vb_tmpfs /mnt/t
vb-workload frag --mib 800 --hold-file /mnt/t/frag --seed 8 || exit 1
vb_signal ready
vb_wait inflated 300 || exit 1
vb_ours_dump | grep -E "fallbacks|blocks_by_order"
vb_put mode "$(vb_ours_mode)"
vb_put fallbacks "$(vb_ours_val cont_fallbacks)"
vb_put low "$(vb_ours_orders_below blocks_by_order 9)"
vb-workload verify --mib 800 --hold-file /mnt/t/frag --seed 8 --punch-holes ||
	exit 1
vb_signal verified
vb_wait deflated 300 || exit 1
vb-workload verify --mib 800 --hold-file /mnt/t/frag --seed 8 --punch-holes ||
	exit 1
vb_check_dmesg
exit 0
GUEST

vb_start_daemon_uml 1G --page-reporting off --free-page-hint off --pages-order 9 \
	-- --timeout 400 -- "$T/guest.sh"
vb_wait_guest ready 300 || { vb_wait_uml; vb_fail "guest not ready"; }
vb_ctl set 600M >/dev/null || vb_fail "balloon command failed"
vb_wait_actual $((600 * MIB)) 120 || vb_fail "balloon did not reach $((600 * MIB))"
vb_signal_guest inflated
vb_wait_guest verified 300 || { vb_wait_uml; vb_fail "pattern corrupted while inflated"; }
vb_log "mode $(vb_get mode): $(vb_get fallbacks) fallbacks, $(vb_get low) lower orders used"
vb_log "daemon: $(vb_ctl query | grep -E 'blocks-by-order|discard-ranges' | tr -s ' ' | tr '\n' ';')"
[ "$(vb_get mode)" = cont ] || vb_fail "driver mode $(vb_get mode), want cont"
(( $(vb_get fallbacks) > 0 )) || vb_fail "no order fallback counted"
(( $(vb_get low) > 0 )) || vb_fail "no block below order 9 was used"
vb_ctl set 1G >/dev/null || vb_fail "balloon command failed"
vb_wait_actual $((1024 * MIB)) 120 || vb_fail "balloon did not reach $((1024 * MIB))"
vb_signal_guest deflated
vb_wait_uml || vb_fail "guest script failed"
[ "$(vb_info refused)" = 0 ] || vb_fail "daemon refused $(vb_info refused) requests"
vb_log "ok"
