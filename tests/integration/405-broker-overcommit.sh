#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vb-test: timeout=600
# vballoon-broker, overcommit: four 512 MiB UML guests on one vballoond,
# with a broker budget of two thirds of their total (their maximum sizes
# add up to 150% of it), run phases of load in turn (tests/lib/overcommit.sh:
# each phase writes and verifies a pattern over 70% of the guest's RAM as
# fast as it can, while the other guests idle).  Page reporting is off, so
# only the broker gives memory back.  First each guest runs one phase
# alone, at its full size and with no broker; then the broker starts, and
# once it has brought the guests within the budget, every guest runs two
# phases in turn.  Claims:
#   - no OOM kill in any guest, every pattern verifies;
#   - the sum of the guests' actual sizes, and of their RAM files' blocks on
#     the host, sampled every 250 ms from then on, never exceeds the budget
#     by more than OC_SLACK (8 MiB: one hysteresis step, the sampler reads
#     the four guests one after the other);
#   - each phase under the broker takes at most 20% more than the median of
#     the alone phases (the same guests, same workload, same run);
#   - no guest is resized more than max-resizes (12) times in any 60 s
#     window of the broker's decision log.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/broker.sh"
. "$TOP/tests/lib/overcommit.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload" \
	"$BUILD/vballoon-broker" "$BUILD/um/vballoon.ko"
MAX_RESIZES=12
OC_SLACK=8
ROUNDS=2

oc_start off
alone=()
for ((i = 0; i < OC_N; i++)); do oc_phase "$i"; alone+=("$OC_MS"); done
base=$(printf '%s\n' "${alone[@]}" | sort -n | awk '{ v[NR] = $1 } END { print int((v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2) }')
vb_log "alone, at full size: ${alone[*]} ms (median $base ms)"

cat >"$T/broker.conf" <<EOF
budget=${OC_BUDGET_MIB}M,max-resizes=$MAX_RESIZES
qmp=$VB_QMP
EOF
oc_sample_start "$T/samples"
vb_start_broker --config "$T/broker.conf"
# The guests start at 4 x 512 MiB, over the budget: the broker's first
# decisions bring them within it.
in_ms=
for ((t = 0; t < 600; t++)); do
	sum=$(vb_ctl --json query | jq '[.[].target] | add / 1048576 | floor')
	act=$(vb_ctl --json query | jq '[.[].actual] | add / 1048576 | floor')
	if (( sum <= OC_BUDGET_MIB && act <= OC_BUDGET_MIB )); then in_ms=$(date +%s%3N); break; fi
	sleep 0.1
done
[ -n "$in_ms" ] || vb_fail "the broker did not bring the guests within $OC_BUDGET_MIB MiB (at $act MiB)"
vb_log "within the budget ($OC_BUDGET_MIB MiB): targets $sum MiB, actual $act MiB"

worst=0
for ((r = 1; r <= ROUNDS; r++)); do
	for ((i = 0; i < OC_N; i++)); do
		oc_phase "$i"
		ms=$OC_MS
		vb_log "round $r, g$i: $ms ms ($((ms * 100 / base))% of alone)"
		(( ms > worst )) && worst=$ms
	done
done
sleep 1
oc_sample_stop
vb_stop_broker
oc_finish
grep ": target \|reached" "$T/broker.log" | tail -n 40

[ "$OC_OOM" = 0 ] || vb_fail "$OC_OOM OOM kills in the guests"
max_act=$(oc_sample_max "$T/samples" 0 "$in_ms")
max_file=$(oc_sample_max "$T/samples" 2 "$in_ms")
vb_log "budget $OC_BUDGET_MIB MiB: largest sum of actual $max_act MiB, of RAM-file blocks $max_file MiB" \
	"($(awk -v f="$in_ms" '$1 >= f' "$T/samples" | wc -l) samples)"
(( max_act <= OC_BUDGET_MIB + OC_SLACK )) || vb_fail "actual sizes over the budget: $max_act MiB"
(( max_file <= OC_BUDGET_MIB + OC_SLACK )) || vb_fail "RAM files over the budget: $max_file MiB"
vb_log "slowest phase under the broker: $worst ms, $((worst * 100 / base))% of the alone median"
(( worst * 100 <= base * 120 )) || vb_fail "a phase took $worst ms, more than 120% of $base ms"

# Resizes per guest in any 60 s window, from the decision log's stamps.
for ((i = 0; i < OC_N; i++)); do
	peak=$(grep "guest g$i: target " "$T/broker.log" |
		awk -F'[:. ]' '{ t[NR] = (($1 * 60 + $2) * 60 + $3) * 1000 + $4 }
			END { for (a = 1; a <= NR; a++) { n = 0
				for (b = a; b <= NR && t[b] - t[a] < 60000; b++) n++
				if (n > m) m = n }
			      print m + 0 }')
	vb_log "g$i: $(vb_broker_decisions "g$i") decisions, at most $peak in 60 s"
	(( peak <= MAX_RESIZES )) || vb_fail "g$i resized $peak times in a minute"
done
vb_log "ok"
