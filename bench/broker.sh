# SPDX-License-Identifier: GPL-2.0-or-later
# bench/broker.sh - section "broker" of bench/run (sourced): the overcommit
# scenario of test 405 (tests/lib/overcommit.sh: four 512 MiB UML guests,
# a budget of two thirds of their total, phases of load in turn) under
#   none       no policy: every target stays at the guest's RAM size
#   reporting  free page reporting alone, no policy
#   mom        a MoM-like policy (bench/qmp.py mom: every 10 s, 5% of a
#              guest's RAM, 20% free-memory threshold, over the budget only)
#   broker     vballoon-broker with the budget (page reporting off)
#   broker+reporting   the same with free page reporting on
# Each mode boots fresh guests, lets them idle for OC_IDLE_S, then runs
# BENCH_BROKER_ROUNDS rounds of one phase per guest (BENCH_BROKER_MODES picks
# modes).  The modes run once per file set size in BENCH_BROKER_CACHE_MIB
# (default a quarter of the guest's RAM; 0 = no files, every phase
# anonymous memory): rows "MODE, N MiB files".  Metrics (from the
# 100 ms samples of each guest's actual and RAM-file blocks):
#   saved_gib_s   integral over the phases of (the guests' RAM - their RAM
#                 files' blocks on the host)
#   mean_saved_gib  the same over the phases' duration: a policy that slows
#                 the phases lengthens the integral, so policies compare by this
#   slowdown_pct  median phase time over the no-policy median, minus 1
#   short_ms      median over the phases of the longest time a guest's
#                 actual was below what its workload had written so far
#                 (the anonymous part; page cache is not demand) plus
#                 OC_USE_MIB (its idle use): the spike reaction
#   oom_kills     in all guests
#   resizes_per_min  the busiest guest's target changes in any 60 s of
#                 the policy's run (its start included: a window of phases
#                 shorter than a minute, extrapolated, would overstate it)
# The broker run's samples and decisions are kept for bench/report's plot,
# each broker run's log as OUT/broker-log-MODE-Nmib.txt (N: the file set, MiB).

BROKER_ROUNDS=${BENCH_BROKER_ROUNDS:-1}
OC_IDLE_S=${OC_IDLE_S:-20}
BROKER_MODES=${BENCH_BROKER_MODES:-none reporting mom broker broker+reporting}
# Smoke (test 901): two 256 MiB guests, no policy and the broker only.
if [ "$SMOKE" = 1 ]; then
	OC_N=2 OC_MEM=256 OC_IDLE_S=3
	BROKER_MODES=${BENCH_BROKER_MODES:-none broker}
fi
OC_USE_MIB=48
. "$TOP/tests/lib/broker.sh"
. "$TOP/tests/lib/overcommit.sh"
BROKER_CACHES=${BENCH_BROKER_CACHE_MIB:-$((OC_MEM / 4))}

# broker_phases: the rounds; sets PH_MS (phase times) and PH_WIN (start:end
# wall-clock ms, guest index, ms its file read took) for each phase, and
# logs each phase's file page cache before and after it.
broker_phases() {
	local r i t0
	PH_MS=() PH_WIN=()
	for ((r = 1; r <= BROKER_ROUNDS; r++)); do
		for ((i = 0; i < OC_N; i++)); do
			oc_phase "$i"
			PH_MS+=("$OC_MS") PH_WIN+=("$OC_START_MS:$(date +%s%3N):$i:$OC_READ_MS")
			vb_log "  g$i: phase $OC_MS ms (file read $OC_READ_MS ms)," \
				"file page cache before/after: ${OC_FILE_CACHE// //} MiB"
		done
	done
}

# saved_gib_s SAMPLES FROM TO: integral of (RAM - RAM file) over [FROM, TO].
saved_gib_s() {
	awk -v from="$2" -v to="$3" -v ram=$((OC_N * OC_MEM * MIB)) '
		$1 >= from && $1 <= to { s = 0; for (i = 3; i <= NF; i += 2) s += $i
			if (prev) sum += (ram - s) * ($1 - prev) / 1000
			prev = $1 }
		END { printf "%.2f\n", sum / 1073741824 }' "$1"
}

# short_ms SAMPLES: per phase window, the longest run of samples with the
# guest's actual under its demand (paced writes so far, from the end of
# the file read, + idle use).
short_ms() {
	local w from to i rd
	for w in "${PH_WIN[@]}"; do
		IFS=: read -r from to i rd <<<"$w"
		awk -v from="$from" -v to="$to" -v col=$((2 + 2 * i)) -v rate="$OC_RATE" -v rd="$rd" \
			-v mib="$((OC_PHASE_MIB - OC_CACHE_MIB))" -v use="$OC_USE_MIB" '
			$1 >= from && $1 <= to {
				w = rate * ($1 - from - rd) / 1000; if (w < 0) w = 0; if (w > mib) w = mib
				if ($col / 1048576 < w + use) { if (!s) s = $1; if ($1 - s > m) m = $1 - s }
				else s = 0 }
			END { print m + 0 }' "$1"
	done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] + 0 }'
}

# resizes_per_min DECISIONS: DECISIONS has "T_MS GUEST" lines in time
# order; the most of one guest's in any 60 s.
resizes_per_min() {
	awk '{ t[$2, ++n[$2]] = $1 }
		END { for (g in n) for (a = b = 1; b <= n[g]; b++) {
			while (t[g, b] - t[g, a] >= 60000) a++
			if (b - a + 1 > m) m = b - a + 1 }
		      print m + 0 }' "$1"
}

# The broker's decisions as "T_MS GUEST TARGET_BYTES" (its log stamps are
# wall clock of today).
broker_decisions() {
	local day
	day=$(date -d "$(date +%F)" +%s)
	sed -n 's/^\([0-9:.]*\) .*guest \(g[0-9]*\): target [0-9]* -> \([0-9]*\) MiB.*/\1 \2 \3/p' \
		"$T/broker.log" | awk -v day="$day" -F'[ ]' '{ split($1, t, /[:.]/)
			printf "%.0f %s %.0f\n", day * 1000 + ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 + t[4], $2, $3 * 1048576 }'
}

# broker_mode NAME FILE_MIB: one run of the scenario under policy NAME with
# a file set of FILE_MIB.
broker_mode() {
	local mode=$1 rep=off pol= from to slow= med saved
	case $mode in *reporting) rep=on ;; esac
	OC_CACHE_MIB=$2
	vb_log "broker: $mode, $2 MiB files"
	oc_start "$rep"
	oc_sample_start "$T/samples"
	: >"$T/decisions"
	case $mode in
	mom)
		python3 "$QMPPY" "$VB_QMP" mom --budget $((OC_BUDGET_MIB * MIB)) \
			$(for ((i = 0; i < OC_N; i++)); do echo "g$i"; done) >"$T/mom.log" &
		pol=$!
		vb_track "$pol" ;;
	broker*)
		rm -f "$T/broker.log"
		printf 'budget=%dM\nqmp=%s\n' "$OC_BUDGET_MIB" "$VB_QMP" >"$T/broker.conf"
		vb_start_broker --config "$T/broker.conf" ;;
	esac
	sleep "$OC_IDLE_S"
	broker_phases
	from=${PH_WIN[0]%%:*} to=$(date +%s%3N)
	case $mode in
	mom) vb_stop_pid "$pol"; vb_untrack "$pol"
	     awk '{ print $1, $2 }' "$T/mom.log" >"$T/decisions" ;;
	broker*) vb_stop_broker; broker_decisions >"$T/decisions"
		# Its decisions with their reasons, for reading the run.
		cp "$T/broker.log" "$OUT/broker-log-${mode/+/-}-$2mib.txt" ;;
	esac
	oc_sample_stop
	oc_finish
	vb_stop_daemon
	vb_huge_umount
	med=$(median "${PH_MS[@]}")
	[ "$mode" = none ] && BROKER_BASE_MS[$2]=$med
	[ -n "${BROKER_BASE_MS[$2]:-}" ] && slow=$(calc "($med / ${BROKER_BASE_MS[$2]} - 1) * 100")
	# The plot is of the first file set's broker run.
	if [ "$mode" = broker ] && [ "$2" = "${BROKER_CACHES%% *}" ]; then
		cp "$T/samples" "$OUT/broker-samples.txt"
		cp "$T/decisions" "$OUT/broker-targets.txt"
	fi
	saved=$(saved_gib_s "$T/samples" "$from" "$to")
	row broker "$mode, $2 MiB files" saved_gib_s="$saved" mean_saved_gib="$(calc "$saved * 1000 / ($to - $from)")" \
		phase_ms="$(IFS=,; echo "${PH_MS[*]}")" slowdown_pct="$slow" \
		short_ms="$(short_ms "$T/samples")" oom_kills="$OC_OOM" \
		resizes_per_min="$(resizes_per_min "$T/decisions")" \
		window_s="$(calc "($to - $from) / 1000")" budget_mib="$OC_BUDGET_MIB" \
		peak_host_mib="$(oc_sample_max "$T/samples" 1 "$from")" \
		peak_actual_mib="$(oc_sample_max "$T/samples" 0 "$from")" \
		file_mib="$2"
}

sec_broker() {
	local c m
	BROKER_BASE_MS=()
	for c in $BROKER_CACHES; do
		[[ $c =~ ^[0-9]+$ ]] && ((c < OC_PHASE_MIB)) ||
			vb_fail "BENCH_BROKER_CACHE_MIB: '$c' is not a size in MiB below the phase's $OC_PHASE_MIB"
	done
	for c in $BROKER_CACHES; do
		for m in $BROKER_MODES; do broker_mode "$m" "$c"; done
	done
}
