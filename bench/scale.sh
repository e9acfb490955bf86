# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# bench/scale.sh - section big of bench/run (sourced there): ballooning
# at the sizes the published figures were measured at, each beside the
# host floor for the same bytes, measured in the same run.
#   7/8 inflate   an 8 GiB UML guest that touched and freed its memory
#                 inflates 7 GiB and deflates back; its RAM file on a
#                 4 KiB-page tmpfs and on a huge=always tmpfs, each mounted
#                 for the run at the size needed (/dev/shm may be capped
#                 below it); in-tree driver, vballoon.ko with page ranges
#                 and with continuous pages.  Published for this scenario:
#                 4126 ms (PFN arrays), 590 ms (bitmaps).
#   large shrink  the largest of 20, 18 and 16 GiB that fits (else the
#                 largest of 14..8 GiB, said in size_by), touched and
#                 freed, shrunk to 2 GiB and grown back, on a huge tmpfs;
#                 in-tree driver and vballoon.ko continuous pages.
# A size runs only while MemAvailable >= its bytes + 3 GiB (the machine is
# shared); the floor rows (section big-floor) say what chose each size
# (info "size_by").
# Knobs: BENCH_BIG=0 skips the section; BENCH_BIG_MIB (8192) sets the 7/8
# guest's size, BENCH_BIG_SHRINK_MIB the large one's (0 skips either
# scenario); BENCH_PIN=0 leaves the daemon and the guest to the scheduler
# (default: daemon and floor on CPU 0, guest on CPU 1, when there are
# two).  Smoke (BENCH_SMOKE=1): 1 GiB guests, so that make check covers
# the code path.

BIG_HEADROOM_MIB=3072

mem_avail_mib() { awk '$1 == "MemAvailable:" { print int($2 / 1024) }' /proc/meminfo; }

# big_fits MIB: MIB more of host memory leaves the headroom free.
big_fits() { (( $(mem_avail_mib) >= $1 + BIG_HEADROOM_MIB )); }

# big_floors SCEN FS MIB SIZE_BY HOLE...: the mmapped punch floor of MIB on
# a tmpfs like the guest's (FS tmpfs or huge), one row per hole size.
big_floors() {
	local scen=$1 fs=$2 mib=$3 size_by=$4 hole label
	shift 4
	ram_dir_mount "$fs" "$mib"
	for hole; do
		label="$hole holes"
		[ "$hole" = all ] && label="one range"
		floor_row big-floor "$scen, $(big_fs_name "$fs"), $label, mmapped" \
			"$VB_HUGE_DIR" "$mib" "$hole" mmap @size_by="$size_by"
	done
	vb_huge_umount
}

big_fs_name() { [ "$1" = huge ] && echo "huge tmpfs" || echo tmpfs; }

# big_guest SCEN FS LABEL DRIVER MEM TARGET DAEMON-ARGS...: one driver row.
big_guest() {
	local scen=$1 fs=$2 label=$3
	shift 3
	big_fits "$2" || {
		vb_log "big: $scen, $label skipped: MemAvailable $(mem_avail_mib) MiB < $2 + $BIG_HEADROOM_MIB MiB"
		return 0
	}
	uml_cycles big "$scen, $(big_fs_name "$fs"), $label" "$fs" "$@"
}

# big_scenario SCEN MEM TARGET SIZE_BY FS:FLOOR_HOLES... -- ROWS: floors,
# then each ROW ("LABEL|DRIVER|DAEMON-ARGS") on each FS.
big_scenario() {
	local scen=$1 mem=$2 target=$3 size_by=$4 fsh r fs label drv
	local fss=() rows=()
	shift 4
	while [ "$1" != -- ]; do fss+=("$1"); shift; done
	shift
	rows=("$@")
	vb_log "big: $scen, $mem -> $target MiB ($size_by)"
	for fsh in "${fss[@]}"; do
		fs=${fsh%%:*}
		# shellcheck disable=SC2086 # the hole sizes are words
		big_fits $((mem - target)) &&
			big_floors "$scen" "$fs" $((mem - target)) "$size_by" ${fsh#*:}
		for r in "${rows[@]}"; do
			IFS='|' read -r label drv args <<<"$r"
			# shellcheck disable=SC2086 # DAEMON-ARGS are words
			big_guest "$scen" "$fs" "$label" "$drv" "$mem" "$target" $args
		done
	done
}

# big_shrink_mib: the large guest's size: the largest of 20, 18, 16 GiB
# that fits now, else the largest smaller one down to 8 GiB (a row below
# the scenario's size, which says so); prints "MIB REASON".
big_shrink_mib() {
	local m avail
	avail=$(mem_avail_mib)
	if [ -n "${BENCH_BIG_SHRINK_MIB:-}" ]; then
		echo "$BENCH_BIG_SHRINK_MIB BENCH_BIG_SHRINK_MIB"
		return
	fi
	for m in 20480 18432 16384 14336 12288 10240 8192; do
		big_fits "$m" || continue
		if ((m >= 16384)); then
			echo "$m MemAvailable $avail MiB: the largest of 20/18/16 GiB with $BIG_HEADROOM_MIB MiB spare"
		else
			echo "$m MemAvailable $avail MiB: BELOW the scenario's 16 GiB, the largest that leaves $BIG_HEADROOM_MIB MiB spare"
		fi
		return
	done
	echo "0 MemAvailable $avail MiB: not even 8 GiB + $BIG_HEADROOM_MIB MiB"
}

sec_big() {
	local mem=${BENCH_BIG_MIB:-8192} target size_by shrink
	local drivers=("in-tree|intree|" "vballoon.ko, ranges|ours|--cont-pages off"
		"vballoon.ko, continuous pages|ours|") shrinkers
	if [ "${BENCH_BIG:-1}" = 0 ]; then
		vb_log "big: skipped (BENCH_BIG=0)"
		return 0
	fi
	shrinkers=("${drivers[0]}" "${drivers[2]}")
	# Local: the pinning ends with the section (bench/run, pin_apart).
	local PIN_CPUS=
	[ "${BENCH_PIN:-1}" = 1 ] && (($(nproc) >= 2)) && PIN_CPUS="0 1"
	# Smoke: the code path only (one guest per scenario and tmpfs kind:
	# make check's time is short); every row shape is that of uml-inflate.
	if [ "$SMOKE" = 1 ]; then
		shrinkers=("${drivers[0]}") drivers=("${drivers[2]}")
	fi
	size_by="the published scenario (8 GiB guest, 7 GiB inflated)"
	[ -n "${BENCH_BIG_MIB:-}" ] && size_by=BENCH_BIG_MIB
	target=$((mem / 8))
	# Smoke: 1 GiB, to 160 MiB (the daemon's floor for 1 GiB is 144 MiB).
	[ "$SMOKE" = 1 ] && mem=1024 target=160 size_by="smoke size"
	if [ "$mem" = 0 ]; then
		vb_log "big: 7/8 inflate skipped (BENCH_BIG_MIB=0)"
	else
		big_scenario "7/8 inflate" "$mem" "$target" "$size_by" \
			tmpfs:all huge:all -- "${drivers[@]}"
	fi
	read -r shrink size_by <<<"$(big_shrink_mib)"
	[ "$SMOKE" = 1 ] && shrink=1024 size_by="smoke size"
	if [ "$shrink" = 0 ]; then
		vb_log "big: large shrink skipped: $size_by"
		row big "large shrink: skipped" @size_by="$size_by"
		return 0
	fi
	big_scenario "large shrink" "$shrink" $((shrink >= 4096 ? 2048 : shrink / 4)) \
		"$size_by" huge:all -- "${shrinkers[@]}"
}
