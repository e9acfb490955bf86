#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# hardening/fuzz-run.sh - run every libFuzzer harness $BUILD/fuzz/fuzz_* for
# FUZZ_SECS seconds each (default 25), one at a time, each on a working
# corpus $BUILD/fuzz/corpus/NAME seeded from host/fuzz/corpus/NAME.
# Prints one line per harness with its executions and coverage, then the
# total; exits non-zero if a harness crashed (the crash input is kept in
# $BUILD/fuzz/crashes/ and its log tail printed).
#   FUZZ_SECS=3600 hardening/fuzz-run.sh     # the long run (make fuzz-long)
#   FUZZ_ONLY=fuzz_balloon hardening/fuzz-run.sh
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
SECS=${FUZZ_SECS:-25}
OUT=$BUILD/fuzz
total=0 fail=0 n=0

mkdir -p "$OUT/crashes"
for f in "$OUT"/fuzz_*; do
	[ -x "$f" ] && [ -f "$f" ] || continue
	name=$(basename "$f")
	[ -n "${FUZZ_ONLY:-}" ] && [ "$name" != "$FUZZ_ONLY" ] && continue
	seeds=$TOP/host/fuzz/corpus/$name
	work=$OUT/corpus/$name
	log=$OUT/$name.run.log
	mkdir -p "$work"
	args=("$work")
	[ -d "$seeds" ] && args+=("$seeds")
	# -max_len: room for the oversize-message seeds; rss limit: ASan quarantine.
	timeout -k 10 $((SECS + 60)) "$f" -max_total_time="$SECS" -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix="$OUT/crashes/$name-" \
		-print_final_stats=1 "${args[@]}" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
	n=$((n + 1))
	total=$((total + ${runs:-0}))
	if [ "$rc" != 0 ]; then
		fail=$((fail + 1))
		echo "FAIL $name: exit $rc after ${runs:-?} executions; log $log"
		grep -E 'ERROR|SUMMARY|==[0-9]+==|fuzz_' "$log" | head -n 20
		ls -t "$OUT/crashes/$name-"* 2>/dev/null | head -n 1
	else
		echo "ok   $name: ${runs:-0} executions in ${SECS}s, ${cov:-cov: ?}, corpus $(ls "$work" | wc -l)"
	fi
done
echo "fuzz: $n harnesses, $total executions, $fail crashed"
[ "$n" -gt 0 ] || { echo "fuzz: no harness in $OUT (make fuzz)"; exit 1; }
[ "$fail" = 0 ]
