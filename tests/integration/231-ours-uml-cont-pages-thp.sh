#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# vb-test: serial
# Host huge pages under a fragmented, ballooned guest, with vballoon.ko on
# vballoond (UML), the RAM file on a
# huge=always tmpfs: a 1 GiB guest touches its memory (host THP-backed),
# the workload fragments 400 MiB (every other page freed), the balloon goes
# to 600 MiB.  Run with 4 KiB inflation (PAGE_RANGES only) and with
# continuous pages (CONT_PAGES, order from the RAM file = 9).  With
# continuous pages the balloon costs the host no THP beyond its own 424 MiB
# (+16 MiB), so the rest of the guest RAM stays THP-backed, clearly more
# than with 4 KiB pages; the held pattern verifies; after deflating and
# refilling, THP coverage recovers (>= 90% of what it was).
# Host THP is the daemon's per-guest "ram-thp-bytes" (docs/device.md).
# Measured against the THP the host gave the RAM file before inflating,
# not against fixed sizes: how many huge pages a host can supply depends
# on its own memory (a few MiB less on a busy CI host is not a bug).
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload" \
	"$BUILD/um/vballoon.ko"
MIB=$((1 << 20))
vb_huge_tmpfs 1200M
HUGE=$VB_HUGE_DIR

# THP-backed part of this guest's RAM file, as the daemon measures it.
thp_kb() { vb_ctl --json query | jq -e '.[0]["ram-thp-bytes"] / 1024 | floor'; }

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon ours || vb_fail "insmod vballoon failed"
st=$(vb_ours_dir) || vb_fail "no debug view"
vb_tmpfs /mnt/t
# Touch all free memory once so the host file is fully populated.
vb_touch_free /mnt/t 32
vb-workload frag --mib 400 --hold-file /mnt/t/frag --seed 5 || exit 1
vb_signal ready
vb_wait inflated 300 || exit 1
vb_put mode "$(vb_ours_mode)"
vb_put fallbacks "$(vb_ours_val cont_fallbacks)"
echo "blocks_by_order $(vb_ours_val blocks_by_order)"
vb-workload verify --mib 400 --hold-file /mnt/t/frag --seed 5 --punch-holes ||
	exit 1
vb_signal measured
vb_wait deflated 300 || exit 1
vb_put inblocks "$(vb_ours_val freed_in_blocks)"
avail=$(vb_meminfo MemAvailable)
dd if=/dev/zero of=/mnt/t/z bs=1M count=$((avail / 1024 - 32)) 2>/dev/null
vb-workload verify --mib 400 --hold-file /mnt/t/frag --seed 5 --punch-holes ||
	exit 1
vb_signal refilled
vb_wait bye 60 || exit 1
vb_check_dmesg
exit 0
GUEST

# run LABEL DAEMON-ARGS...: sets R_T0 R_T1 R_T2 (host THP kB before
# inflating, at 600 MiB and after deflate+refill) and R_MODE.  Not in a
# subshell: the library must track every process it starts.
run() {
	local label=$1 t0 t1 t2 pmd
	shift
	vb_start_daemon_uml 1G --page-reporting off --free-page-hint off "$@" \
		-- --ram-dir "$HUGE" --timeout 400 -- "$T/guest.sh"
	vb_wait_guest ready 300 || { vb_wait_uml; vb_fail "guest not ready"; }
	t0=$(thp_kb)
	# Measured without the daemon: the guest process's own PMD mappings.
	pmd=$(vb_ramfile_smaps ShmemPmdMapped)
	vb_log "[$label] before inflating: host THP $((t0 / 1024)) MiB (file $(( $(vb_ramfile_bytes) >> 20 )) MiB), guest process PMD-maps $((pmd / 1024)) MiB"
	(( pmd >= 768 * 1024 )) ||
		vb_skip "the host gave the 1 GiB RAM file only $((pmd / 1024)) MiB of huge pages: nothing to measure"
	vb_ctl set 600M >/dev/null || vb_fail "balloon command failed"
	vb_wait_actual $((600 * MIB)) 120 || vb_fail "balloon did not reach $((600 * MIB))"
	vb_signal_guest inflated
	vb_wait_guest measured 300 || { vb_wait_uml; vb_fail "verify failed"; }
	t1=$(thp_kb)
	vb_ctl set 1G >/dev/null || vb_fail "balloon command failed"
	vb_wait_actual $((1024 * MIB)) 120 || vb_fail "balloon did not reach $((1024 * MIB))"
	vb_signal_guest deflated
	vb_wait_guest refilled 300 || { vb_wait_uml; vb_fail "refill failed"; }
	t2=$(thp_kb)
	vb_signal_guest bye
	vb_wait_uml || vb_fail "guest script failed"
	vb_log "[$label] mode $(vb_get mode), fallbacks $(vb_get fallbacks): host THP at 600 MiB $((t1 / 1024)) MiB, after deflate+refill $((t2 / 1024)) MiB"
	vb_stop_daemon
	R_T0=$t0 R_T1=$t1 R_T2=$t2 R_MODE=$(vb_get mode) R_INBLOCKS=$(vb_get inblocks)
}

run cont
c0=$R_T0 c1=$R_T1 c2=$R_T2 cmode=$R_MODE
# Deflating continuous pages frees whole blocks: at least half of the
# 424 MiB (108544 pages) must have gone back that way (compaction may
# have moved some pages out of their blocks meanwhile).
vb_log "continuous pages: $R_INBLOCKS of 108544 deflated pages freed as whole blocks"
(( ${R_INBLOCKS:-0} >= 108544 / 2 )) ||
	vb_fail "deflate freed only ${R_INBLOCKS:-0} pages as whole blocks"
run order0 --cont-pages off
o1=$R_T1 omode=$R_MODE
[ "$omode" = ranges ] || vb_fail "4 KiB run used mode '$omode'"
[ "$cmode" = cont ] || vb_fail "continuous run used mode '$cmode'"
vb_log "host THP kept at 600 MiB: 4 KiB pages $((o1 / 1024)) MiB, continuous $((c1 / 1024)) MiB"
# 424 MiB of order-9 blocks free exactly 212 THPs; 16 MiB for the few
# blocks the guest may have had to take from THPs it shares with the kernel.
(( c0 - c1 <= (424 + 16) * 1024 )) ||
	vb_fail "continuous pages: the 424 MiB balloon cost $(((c0 - c1) / 1024)) MiB of THP ($((c0 / 1024)) -> $((c1 / 1024)) MiB)"
(( c1 - o1 >= 100 * 1024 )) || vb_fail "continuous pages not clearly better than 4 KiB"
(( c2 * 100 >= 90 * c0 )) ||
	vb_fail "THP coverage did not recover after deflating: $((c2 / 1024)) MiB of $((c0 / 1024)) MiB"
