# SPDX-License-Identifier: GPL-2.0-or-later
# bench/qemu.sh - the QEMU/TCG sections of bench/run (sourced).  One x86-64
# guest per driver serves three sections in turn, each only if selected:
#   qemu-inflate  balloon 2048 -> 512 MiB and back, RUNS times (QMP polling)
#   compaction    fragment, inflate, free, compact_memory;
#                 balloon pages migrated and order-9 blocks afterwards
#   migration     free page hints: a guest of its own per configuration (no
#                 hints, in-tree hints, vballoon.ko hints) migrates to a
#                 real destination QEMU over TCP (tests/lib/migrate.sh):
#                 RUNS times, dirty then free 1.5 GiB, migrate (first),
#                 migrate again (repeated)

cat >"$T/qemu-guest.sh" <<'GUEST'
# args: DRIVER FRAG_MIB COMPACTION(0/1) [MODULE PARAMS]
drv=$1 frag=$2 do_compact=$3
shift 3
vb_load_balloon "$drv" "$@" || vb_fail "cannot load the $drv driver"
vm() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }
# 2 MiB blocks the buddy allocator can hand out: order 9 + 2 x order 10.
order9() { awk '{ n += $14 + 2 * $15 } END { print n + 0 }' /proc/buddyinfo; }
vb_signal ready
vb_wait inflate-done 3600 || exit 1
if [ "$do_compact" = 1 ]; then
	vb-workload frag --mib $frag --hold-file /tmp/frag --seed 5 || exit 1
	vb_signal fragged
	vb_wait inflated 600 || exit 1
	rm -f /tmp/frag
	sync
	vb_put o9_freed "$(order9)"
	m0=$(vm balloon_migrate)
	t0=$(cut -d' ' -f1 /proc/uptime)
	echo 1 >/proc/sys/vm/compact_memory
	t1=$(cut -d' ' -f1 /proc/uptime)
	vb_put migrated $(($(vm balloon_migrate) - m0))
	vb_put o9_compacted "$(order9)"
	vb_put compact_ms "$(awk -v a=$t0 -v b=$t1 'BEGIN { printf "%d", (b - a) * 1000 }')"
	vb_signal compacted
	vb_wait deflated 600 || exit 1
fi
exit 0
GUEST

# qemu_guest LABEL DRIVER BALLOON-PROPS DO_INFLATE DO_COMPACT [PARAMS]
qemu_guest() {
	local label=$1 drv=$2 props=$3 do_inf=$4 do_comp=$5
	local mlabel="$label, movable pages"
	shift 5
	[ $# -gt 0 ] && mlabel="$label, not movable ($*)"
	local mem=2048 target=512 frag=1024 bal=512 i r im=() dm=() q
	[ "$SMOKE" = 1 ] && mem=512 target=256 frag=128 bal=64
	vb_start_qemu --mem ${mem}M --no-balloon-module --balloon "$props" --timeout 3600 \
		-- "$T/qemu-guest.sh" "$drv" $frag "$do_comp" "$@" ||
		vb_fail "$label: QEMU guest did not start"
	q=$VB_QEMU_QMP
	vb_wait_guest_alive "$VB_QEMU_LAUNCHER_PID" ready 600 || { vb_wait_qemu; vb_fail "$label: guest not ready"; }
	if [ "$do_inf" = 1 ]; then
		for ((i = 1; i <= RUNS; i++)); do
			r=$(qmp "$q" balloon $((target * MIB)) --timeout 900) ||
				vb_fail "$label: QEMU inflate did not complete"
			im+=("$(jq .ms <<<"$r")")
			r=$(qmp "$q" balloon $((mem * MIB)) --timeout 900) ||
				vb_fail "$label: QEMU deflate did not complete"
			dm+=("$(jq .ms <<<"$r")")
		done
		local gib
		gib=$(calc "($mem - $target) / 1024")
		row qemu-inflate "$label" guest_mib=$mem target_mib=$target \
			inflate_ms="$(IFS=,; echo "${im[*]}")" \
			inflate_gib_s="$(for v in "${im[@]}"; do calc "$gib / ($v / 1000)"; echo; done | paste -sd,)" \
			deflate_ms="$(IFS=,; echo "${dm[*]}")" \
			deflate_gib_s="$(for v in "${dm[@]}"; do calc "$gib / ($v / 1000)"; echo; done | paste -sd,)"
	fi
	vb_signal_guest inflate-done
	if [ "$do_comp" = 1 ]; then
		vb_wait_guest_alive "$VB_QEMU_LAUNCHER_PID" fragged 900 || { vb_wait_qemu; vb_fail "$label: frag failed"; }
		qmp "$q" balloon $(((mem - bal) * MIB)) --timeout 900 >/dev/null ||
			vb_fail "$label: inflate for compaction did not complete"
		vb_signal_guest inflated
		vb_wait_guest_alive "$VB_QEMU_LAUNCHER_PID" compacted 900 || { vb_wait_qemu; vb_fail "$label: compaction step failed"; }
		row compaction "$mlabel" guest_mib=$mem balloon_mib=$bal \
			frag_mib=$frag balloon_migrated="$(vb_get migrated)" \
			order9_blocks_before="$(vb_get o9_freed)" \
			order9_blocks_after="$(vb_get o9_compacted)" \
			compact_ms="$(vb_get compact_ms)"
		qmp "$q" balloon $((mem * MIB)) --timeout 900 >/dev/null ||
			vb_fail "$label: deflate after compaction did not complete"
		vb_signal_guest deflated
	fi
	vb_wait_qemu || vb_fail "$label: guest script failed"
}

# ---- migration to a real destination (tests/lib/migrate.sh) ----

. "$TOP/tests/lib/migrate.sh"

# The guest dirties then frees DIRTY_MIB and says VB-MIG-READY N; the host
# migrates it twice (first, repeated), then moves the balloon target by
# 16 MiB: MemTotal changing is the guest's cue for the next run (it has no
# share mounted: QEMU refuses to migrate with the 9p share).  vballoon.ko's
# hinted page count goes to the console every second.
cat >"$T/mig-bench-guest.sh" <<'GUEST'
# args: DRIVER DIRTY_MIB [MODULE PARAMS]
drv=$1 dirty=$2
shift 2
vb_load_balloon "$drv" "$@" || vb_fail "cannot load the $drv driver"
st=$(vb_ours_dir 2>/dev/null)
n=0
while :; do
	n=$((n + 1))
	m=$(vb_meminfo MemTotal)
	vb-workload fill --mib $dirty --hold-file /tmp/big --seed 3 || exit 1
	rm -f /tmp/big
	echo "VB-MIG-READY $n"
	while [ "$(vb_meminfo MemTotal)" = "$m" ]; do
		[ -n "$st" ] && echo "VB-HINTED $(cat $st/hint_pages)"
		sleep 1
	done
done
GUEST

# hinted_pages: vballoon.ko's hinted page count, last seen on the console
# of the side the guest runs on (empty for the in-tree driver).
hinted_pages() {
	sleep 1.2
	sed -n 's/^VB-HINTED \([0-9][0-9]*\).*/\1/p' "$(vb_mig_console)" | tail -n 1
}

# mig_row LABEL QUERY-JSON-LINES-FILE [HINTED-BYTES-FILE] (one line per run)
mig_row() {
	local hinted=()
	[ -s "${3:-/nonexistent}" ] &&
		hinted=(hinted_gb="$(awk '{ print $1 / 1e9 }' "$3" | paste -sd,)")
	row migration "$1" total_ms="$(jq .total_ms "$2" | paste -sd,)" \
		ram_gb="$(jq '.ram_bytes / 1e9' "$2" | paste -sd,)" \
		downtime_ms="$(jq .downtime_ms "$2" | paste -sd,)" \
		normal_pages="$(jq .normal_pages "$2" | paste -sd,)" "${hinted[@]}"
}

# mig_measure KIND: one migration to the other side at unlimited
# bandwidth; its query-migrate and vballoon.ko's hinted bytes appended to
# $T/mig.KIND and $T/hinted.KIND.
mig_measure() {
	local kind=$1 h0 h1
	h0=$(hinted_pages)
	vb_mig_migrate
	jq -c '.return | {total_ms: ."total-time", downtime_ms: .downtime,
		ram_bytes: .ram.transferred, normal_pages: .ram.normal}' \
		<<<"$VB_MIG_LAST" >>"$T/mig.$kind"
	# A hinting guest gets DONE at the end of migration: let it free its
	# hint blocks before anything else.
	sleep 3
	h1=$(hinted_pages)
	[ -n "$h0" ] && [ -n "$h1" ] && echo "$(( (h1 - h0) * 4096 ))" >>"$T/hinted.$kind"
	return 0
}

# mig_guest LABEL DRIVER BALLOON-PROPS CMDLINE [MODULE PARAMS]: RUNS first
# and repeated migrations of one guest, at unlimited bandwidth (100 GiB/s,
# far above what TCG produces).
mig_guest() {
	local label=$1 drv=$2 props=$3 cmdline=$4 mem=2048 dirty=1536 i target
	shift 4
	[ "$SMOKE" = 1 ] && mem=512 dirty=192
	local VB_MIG_PARAMS='{"max-bandwidth":107374182400}'
	: >"$T/mig.first" && : >"$T/mig.repeated"
	: >"$T/hinted.first" && : >"$T/hinted.repeated"
	vb_mig_boot --mem ${mem}M --no-share --no-balloon-module --balloon "$props" \
		${cmdline:+--cmdline "$cmdline"} \
		-- "$T/mig-bench-guest.sh" "$drv" $dirty "$@"
	for ((i = 1; i <= RUNS; i++)); do
		vb_wait_console "$(vb_mig_console)" "VB-MIG-READY $i" 1200 ||
			vb_fail "$label: guest not ready for run $i"
		sleep 2
		mig_measure first
		mig_measure repeated
		target=$((i % 2 ? mem - 16 : mem))
		vb_mig_qmp "{\"execute\":\"balloon\",\"arguments\":{\"value\":$((target * MIB))}}" >/dev/null ||
			vb_fail "$label: balloon refused"
	done
	vb_mig_quit "$VB_MIG_SIDE"
	mig_row "$label, first migration" "$T/mig.first" "$T/hinted.first"
	mig_row "$label, repeated" "$T/mig.repeated" "$T/hinted.repeated"
}

sec_migration() {
	vb_mig_setup
	vb_log "migration: over $VB_MIG_WHERE"
	# BENCH_MIG_VARIANTS=1 (=only: nothing else): what the first
	# migration's gap depends on - the guest kernel zeroing hint blocks
	# (init_on_alloc=0 for both drivers).  (The driver's smallest hint order
	# is no longer a parameter: the top-order-only variant measured worse
	# and went with it, docs/driver.md.)
	local variants=${BENCH_MIG_VARIANTS:-0}
	if [ "$variants" != only ]; then
		mig_guest "no hints" intree "" ""
		mig_guest "in-tree hints" intree "free-page-hint=on" ""
		mig_guest "vballoon.ko hints" ours "free-page-hint=on" ""
	fi
	[ "$variants" != 0 ] || return 0
	mig_guest "in-tree hints init_on_alloc=0" intree "free-page-hint=on" init_on_alloc=0
	mig_guest "vballoon.ko hints init_on_alloc=0" ours "free-page-hint=on" init_on_alloc=0
}

sec_qemu() {
	local inf=0 comp=0 mig=0
	want qemu-inflate && inf=1
	want compaction && comp=1
	want migration && mig=1
	vb_log "qemu: inflate=$inf compaction=$comp migration=$mig"
	[ $mig = 1 ] && sec_migration
	[ $inf = 1 ] || [ $comp = 1 ] || return 0
	qemu_guest "in-tree" intree "free-page-hint=on" $inf $comp
	qemu_guest "vballoon.ko" ours "free-page-hint=on" $inf $comp
	# The unmovable-pages comparison needs balloon pages that are NOT
	# movable: the driver's movable knob (docs/driver.md).
	if [ $comp = 1 ]; then
		qemu_guest "vballoon.ko" ours "" 0 1 movable=0
	fi
}
