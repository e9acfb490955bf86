#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vb-test: timeout=600
# vballoon-broker, overcommit: four 512 MiB UML guests on one vballoond,
# with a broker budget of two thirds of their total (their maximum sizes
# add up to 150% of it), run phases of load in turn (tests/lib/overcommit.sh:
# a phase writes a pattern over 70% of the guest's RAM at 64 MiB/s and
# verifies it twice, while the other guests idle).  Page reporting is off,
# so only the broker gives memory back; deflate-on-oom is on.  The broker
# first brings the guests within the budget and reclaims them to their
# floors.  Then each guest in turn runs a phase alone (the broker holds it
# at its full size, floor = RAM: no decision touches it and nothing
# competes for its memory) and then a phase managed (back at its floor,
# the broker grows it as its workload asks); interleaved, so the load of a
# shared machine weighs on both alike.  Claims:
#   - no OOM kill in any guest, every pattern verifies;
#   - the sum of the guests' actual sizes, and of their RAM files' blocks on
#     the host, sampled every 100 ms from then on, never exceeds the budget
#     by more than OC_SLACK (8 MiB: one hysteresis step; the sampler reads
#     the RAM files one after the other);
#   - the managed phases' median time is at most 120% of the alone phases'
#     median (each pair's ratio is logged);
#   - no guest is resized more than max-resizes (12) times in any 60 s
#     window of the broker's decision log.
# bench/broker.sh runs the same scenario against other policies.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/broker.sh"
. "$TOP/tests/lib/overcommit.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload" \
	"$BUILD/vballoon-broker" "$BUILD/um/vballoon.ko"
MAX_RESIZES=12
OC_SLACK=8

median() { sort -n | awk '{ v[NR] = $1 } END { print int((v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2) }'; }

# guest_mib I: guest I's actual size in MiB.
guest_mib() { echo $(($(vb_actual "g$1") / 1048576)); }

# reconfigure [LINE]: the broker's config with the budget (and LINE), then
# SIGHUP; returns once the broker has read it.
reconfigure() {
	local n
	printf 'budget=%dM,max-resizes=%d\nqmp=%s\n%s\n' "$OC_BUDGET_MIB" "$MAX_RESIZES" \
		"$VB_QMP" "${1:-}" >"$T/broker.conf"
	n=$(grep -c "config reloaded" "$T/broker.log")
	kill -HUP "$VB_BROKER_PID"
	for ((t = 0; t < 300; t++)); do
		(( $(grep -c "config reloaded (0 errors)" "$T/broker.log") > n )) && return 0
		sleep 0.1
	done
	vb_fail "the broker did not reload its config"
}

# floor_mib I: guest I's floor, once the broker has written its metrics.
floor_mib() {
	local f
	for ((t = 0; t < 600; t++)); do
		f=$(vb_broker_metric floor_bytes "g$1")
		[ -n "$f" ] && { echo $((f / 1048576)); return 0; }
		sleep 0.1
	done
	vb_fail "no floor for g$1 in the broker's metrics"
}

# wait_size I OP MIB: until guest I's actual OP (-le, -ge) MIB (120 s).
wait_size() {
	for ((t = 0; t < 1200; t++)); do
		[ "$(guest_mib "$1")" "$2" "$3" ] && return 0
		sleep 0.1
	done
	vb_fail "g$1 not $2 $3 MiB (at $(guest_mib "$1") MiB)"
}

oc_start off
oc_sample_start "$T/samples"
printf 'budget=%dM,max-resizes=%d\nqmp=%s\n' "$OC_BUDGET_MIB" "$MAX_RESIZES" "$VB_QMP" >"$T/broker.conf"
vb_start_broker --config "$T/broker.conf"
# The guests start at 4 x 512 MiB, over the budget; the broker brings them
# within it, then reclaims the idle guests to their floors.
for ((i = 0; i < OC_N; i++)); do
	wait_size "$i" -le $(($(floor_mib "$i") + 8))
done
in_ms=$(date +%s%3N)
vb_log "idle guests at their floors: $(for ((i = 0; i < OC_N; i++)); do guest_mib "$i"; done | paste -sd' ') MiB"

# Each guest in turn: alone (the broker holds it at its full size: floor
# = RAM, so no other guest and no decision touches it), then managed
# (back at its floor, the broker gives it memory as its workload asks).
alone=() oc=()
for ((i = 0; i < OC_N; i++)); do
	reconfigure "guest=g$i,floor=100%"
	wait_size "$i" -ge "$OC_MEM"
	oc_phase "$i"
	alone+=("$OC_MS")
	reconfigure
	wait_size "$i" -le $(($(floor_mib "$i") + 8))
	oc_phase "$i"
	oc+=("$OC_MS")
	vb_log "g$i: alone $((alone[i])) ms, managed ${OC_MS} ms ($((OC_MS * 100 / alone[i]))%)"
done
base=$(printf '%s\n' "${alone[@]}" | median)
sleep 1
oc_sample_stop
vb_stop_broker
oc_finish
grep ": target \|reached" "$T/broker.log" | tail -n 40

[ "$OC_OOM" = 0 ] || vb_fail "$OC_OOM OOM kills in the guests"
max_act=$(oc_sample_max "$T/samples" 0 "$in_ms")
max_file=$(oc_sample_max "$T/samples" 1 "$in_ms")
vb_log "budget $OC_BUDGET_MIB MiB: largest sum of actual $max_act MiB, of RAM-file blocks $max_file MiB" \
	"($(awk -v f="$in_ms" '$1 >= f' "$T/samples" | wc -l) samples)"
(( max_act <= OC_BUDGET_MIB + OC_SLACK )) || vb_fail "actual sizes over the budget: $max_act MiB"
(( max_file <= OC_BUDGET_MIB + OC_SLACK )) || vb_fail "RAM files over the budget: $max_file MiB"
med=$(printf '%s\n' "${oc[@]}" | median)
vb_log "phases under the budget: median $med ms, $((med * 100 / base))% of the alone median"
(( med * 100 <= base * 120 )) || vb_fail "phases took $med ms (median), more than 120% of $base ms"

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
