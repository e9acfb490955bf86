#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vb-test: serial timeout=1200
# `make bench` in its smoke form (BENCH_SMOKE=1: tiny guests, one run per
# row), so the benchmark code cannot rot: every section runs on real
# guests, the results JSON holds every expected row with numeric values,
# the machine and the commit, and the Markdown table and the plots are
# written.  No timing is asserted: speed is what `make bench` reports.
# Serial: it mounts a huge=always tmpfs, which would disturb the host-wide
# ShmemHugePages readings of tests running beside it (231).
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload" \
	"$BUILD/um/vballoon.ko" "$BUILD/x86_64/vballoon.ko"
command -v gnuplot >/dev/null || vb_skip "gnuplot not installed (make setup)"

# punch-floor is a bench tool, not part of `make all`: build it here.
${CC:-cc} -O2 -Wall -Wextra -o "$T/punch-floor" "$TOP/bench/punch-floor.c" ||
	vb_fail "bench/punch-floor.c does not build"
"$T/punch-floor" /dev/shm 4 4k 1 >/dev/null || vb_fail "punch-floor failed"
"$T/punch-floor" /dev/shm 3 4k 1 2>/dev/null && vb_fail "punch-floor accepted an odd size"

OUT=$T/out
vb_log "running bench/run in smoke mode"
BENCH_SMOKE=1 BENCH_OUT=$OUT BENCH_PUNCH_FLOOR=$T/punch-floor \
	vb_bg "$TOP/bench/run"
bench_pid=$VB_BG_PID
wait "$bench_pid"
rc=$?
vb_untrack "$bench_pid"
[ "$rc" = 0 ] || vb_fail "bench/run exited with status $rc"

J=$OUT/latest.json
[ -s "$J" ] || vb_fail "no $J"
ls "$OUT"/bench-*.json >/dev/null 2>&1 || vb_fail "no dated results file"
jq -e '.smoke == true and (.commit | length > 0) and (.machine.nproc | type == "number")
	and (.machine.model | length > 0) and (.machine.kernel | length > 0)' "$J" >/dev/null ||
	vb_fail "results lack commit/machine: $(jq -c 'del(.rows)' "$J")"

expect=(
	"floor|tmpfs, 4k holes" "floor|tmpfs, 64k holes" "floor|tmpfs, 1m holes"
	"floor|tmpfs, 2m holes" "floor|tmpfs, one range"
	"floor|huge tmpfs, 4k holes" "floor|huge tmpfs, 64k holes"
	"floor|huge tmpfs, 1m holes" "floor|huge tmpfs, 2m holes"
	"floor|huge tmpfs, one range"
	"uml-inflate|in-tree, PFN arrays" "uml-inflate|vballoon.ko, PFN arrays"
	"uml-inflate|vballoon.ko, ranges" "uml-inflate|vballoon.ko, continuous pages"
	"uml-inflate|in-tree, PFN arrays, huge tmpfs"
	"uml-inflate|vballoon.ko, PFN arrays, huge tmpfs"
	"uml-inflate|vballoon.ko, ranges, huge tmpfs"
	"uml-inflate|vballoon.ko, continuous pages, huge tmpfs"
	"thp|4 KiB pages (ranges)" "thp|continuous pages"
	"hints|in-tree" "hints|vballoon.ko"
	"reporting|in-tree" "reporting|vballoon.ko"
	"qemu-inflate|in-tree" "qemu-inflate|vballoon.ko"
	"compaction|in-tree, movable pages" "compaction|vballoon.ko, movable pages"
	"migration|no hints, first migration" "migration|no hints, repeated"
	"migration|in-tree hints, first migration" "migration|in-tree hints, repeated"
	"migration|vballoon.ko hints, first migration" "migration|vballoon.ko hints, repeated"
	"broker|none, 64 MiB files" "broker|broker, 64 MiB files"
	"big-floor|7/8 inflate, tmpfs, one range, mmapped"
	"big-floor|7/8 inflate, huge tmpfs, one range, mmapped"
	"big-floor|large shrink, huge tmpfs, one range, mmapped"
	"big|7/8 inflate, tmpfs, vballoon.ko, continuous pages"
	"big|7/8 inflate, huge tmpfs, vballoon.ko, continuous pages"
	"big|large shrink, huge tmpfs, in-tree"
)
# QEMU 11 (make setup's newer QEMU): one row per RAM backing.
grep -qs '^VB_QEMU_NEW=.' "$VB_CACHE/env.sh" && expect+=(
	"qemu11|hugetlbfs: vballoon.ko + vballoond, cont (order 9)"
	"qemu11|huge tmpfs: in-tree + vballoond" "qemu11|memfd: in-tree + QEMU's device")
# The movable-pages comparison exists only if the driver can make its pages
# unmovable.
p=$(modinfo -p "$BUILD/x86_64/vballoon.ko" | sed -n 's/^\([a-z_]*movable[a-z_]*\):.*/\1/p' | head -1)
[ -n "$p" ] && expect+=("compaction|vballoon.ko, not movable ($p=0)")
for e in "${expect[@]}"; do
	sec=${e%%|*} name=${e#*|}
	jq -e --arg s "$sec" --arg n "$name" \
		'[.rows[] | select(.section == $s and .name == $n)] | length == 1' "$J" >/dev/null ||
		vb_fail "row '$sec / $name' missing (or duplicated)"
done
jq -e '[.rows[] | select(.section == "scale")] | length == 1' "$J" >/dev/null ||
	vb_fail "no scale row"
bad=$(jq -r '.rows[] | select((.metrics | length == 0) or
	([.metrics[] | type] | any(. != "number"))) | "\(.section) / \(.name): \(.metrics)"' "$J")
[ -z "$bad" ] || vb_fail "rows with missing or non-numeric values: $bad"
n=$(jq '.rows | length' "$J")
vb_log "$n rows, all numeric"

# The transfer mode each UML row claims is the one the daemon negotiated.
for m in "PFN arrays|pfns" "ranges|ranges" "continuous pages|cont"; do
	got=$(jq -r --arg n "vballoon.ko, ${m%|*}" \
		'.rows[] | select(.section == "uml-inflate" and .name == $n) | .info.transfer' "$J")
	[ "$got" = "${m#*|}" ] || vb_fail "'vballoon.ko, ${m%|*}' ran in mode '$got'"
done

# The big rows' guests gave their RAM file's memory back to the host.
jq -e '[.rows[] | select(.section == "big") | .metrics.host_released_mib > 0] | all' "$J" >/dev/null ||
	vb_fail "a big row released nothing from its RAM file"

md=$OUT/latest.md
[ -s "$md" ] || vb_fail "no $md"
# The big rows stand beside the floor measured in the same run.
grep -A2 '^## Big guests: 7 GiB' "$md" | grep -q 'x_floor' ||
	vb_fail "the big table has no x_floor column"
for e in "${expect[@]}"; do
	grep -qF "| ${e#*|} |" "$md" || vb_fail "'${e#*|}' not in the Markdown table"
done
grep -E '^\|' "$md" | grep -qE '\| *(null|n/a|nan|) *\|' &&
	vb_fail "placeholder in the Markdown table: $(grep -E '\| *(null|n/a|nan|) *\|' "$md" | head -3)"
for p in inflate thp migration qemu-inflate broker; do
	[ "$(head -c 4 "$OUT/$p.png" 2>/dev/null | tail -c 3)" = PNG ] ||
		vb_fail "plot $p.png missing or not a PNG"
done
vb_log "ok"
