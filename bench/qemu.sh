# SPDX-License-Identifier: GPL-2.0-or-later
# bench/qemu.sh - the QEMU/TCG sections of bench/run (sourced).  One x86-64
# guest per driver serves three sections in turn, each only if selected:
#   qemu-inflate  balloon 2048 -> 512 MiB and back, RUNS times (QMP polling)
#   compaction    fragment, inflate, free, compact_memory;
#                 balloon pages migrated and order-9 blocks afterwards
#   migration     dirty then free 1.5 GiB, migrate to
#                 exec:cat > /dev/null at unlimited bandwidth and at 1 GiB/s
# A third guest (in-tree driver, device without free-page-hint) gives the
# migration baseline.

cat >"$T/qemu-guest.sh" <<'GUEST'
# args: DRIVER FRAG_MIB DIRTY_MIB COMPACTION(0/1) MIGRATION(0/1) [MODULE PARAMS]
drv=$1 frag=$2 dirty=$3 do_compact=$4 do_mig=$5
shift 5
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
if [ "$do_mig" = 1 ]; then
	vb-workload fill --mib $dirty --hold-file /tmp/big --seed 3 || exit 1
	rm -f /tmp/big
	# QEMU refuses to migrate while the 9p share is mounted.
	cd /
	umount /vb/share || vb_fail "cannot unmount the share"
	echo "VB-MIG-READY"
	# The host quits QEMU after its migrations.  vballoon.ko counts the
	# pages it hinted: the host reads the count from the console.
	while :; do
		vb_ours_dir >/dev/null 2>&1 && echo "VB-HINTED $(vb_ours_val hint_pages)"
		sleep 1
	done
fi
exit 0
GUEST

# qemu_guest LABEL DRIVER BALLOON-PROPS DO_INFLATE DO_COMPACT DO_MIG [PARAMS]
qemu_guest() {
	local label=$1 drv=$2 props=$3 do_inf=$4 do_comp=$5 do_mig=$6
	local mlabel="$label, movable pages"
	shift 6
	[ $# -gt 0 ] && mlabel="$label, not movable ($*)"
	local mem=2048 target=512 frag=1024 bal=512 dirty=1536 i r im=() dm=() q
	[ "$SMOKE" = 1 ] && mem=512 target=256 frag=128 bal=64 dirty=192
	vb_start_qemu --mem ${mem}M --no-balloon-module --balloon "$props" --timeout 3600 \
		-- "$T/qemu-guest.sh" "$drv" $frag $dirty "$do_comp" "$do_mig" "$@" ||
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
	if [ "$do_mig" = 1 ]; then
		local ml="$label hints"
		[ "$drv" = intree ] && [ -z "$props" ] && ml=$label
		vb_wait_console "$VB_QEMU_CONSOLE" VB-MIG-READY 1200 ||
			{ vb_wait_qemu; vb_fail "$label: guest not ready to migrate"; }
		sleep 2
		local bw tag h0 h1
		: >"$T/mig.unlimited" && : >"$T/mig.1g"
		: >"$T/hinted.unlimited" && : >"$T/hinted.1g"
		: >"$T/mig.first" && : >"$T/hinted.first"
		# The guest's first migration (unlimited) is reported on its own:
		# it behaves differently from the repeated ones (see
		# docs/results.md).
		for ((i = 0; i <= RUNS; i++)); do
			# "unlimited": 100 GiB/s, far above what TCG can produce.
			for tag in unlimited 1g; do
				[ $i = 0 ] && [ $tag = 1g ] && continue
				bw=107374182400
				[ $tag = 1g ] && bw=1073741824
				[ $i = 0 ] && tag=first
				h0=$(hinted_pages)
				qmp "$q" migrate "exec:cat > /dev/null" --max-bandwidth $bw \
					--timeout 900 >>"$T/mig.$tag" || vb_fail "$label: migration failed"
				qmp "$q" cmd '{"execute":"cont"}' >/dev/null ||
					vb_fail "$label: cont refused"
				# A hinting guest gets DONE at the end of migration:
				# let it free its hint blocks before the next round.
				sleep 3
				h1=$(hinted_pages)
				[ -n "$h0" ] && [ -n "$h1" ] &&
					echo "$(( (h1 - h0) * 4096 ))" >>"$T/hinted.$tag"
			done
		done
		mig_row "$ml, first migration (unlimited)" "$T/mig.first" "$T/hinted.first"
		mig_row "$ml, unlimited" "$T/mig.unlimited" "$T/hinted.unlimited"
		mig_row "$ml, 1 GiB/s" "$T/mig.1g" "$T/hinted.1g"
	fi
	if [ "$do_mig" = 1 ]; then
		qmp "$q" cmd '{"execute":"quit"}' >/dev/null 2>&1
		vb_wait_qemu >/dev/null 2>&1
	else
		vb_wait_qemu || vb_fail "$label: guest script failed"
	fi
}

# hinted_pages: vballoon.ko's hinted page count, last seen on the console
# of the QEMU guest started last (empty for the in-tree driver).
hinted_pages() {
	sleep 1.2
	sed -n 's/^VB-HINTED \([0-9][0-9]*\).*/\1/p' "$VB_QEMU_CONSOLE" | tail -n 1
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

sec_qemu() {
	local inf=0 comp=0 mig=0
	want qemu-inflate && inf=1
	want compaction && comp=1
	want migration && mig=1
	vb_log "qemu: inflate=$inf compaction=$comp migration=$mig"
	if [ $mig = 1 ]; then
		qemu_guest "no hints" intree "" 0 0 1
	fi
	qemu_guest "in-tree" intree "free-page-hint=on" $inf $comp $mig
	qemu_guest "vballoon.ko" ours "free-page-hint=on" $inf $comp $mig
	# The unmovable-pages comparison needs balloon pages that are NOT
	# movable: the driver's movable knob (docs/driver.md).
	if [ $comp = 1 ]; then
		qemu_guest "vballoon.ko" ours "" 0 1 0 movable=0
	fi
}
