#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vballoon-broker, spike: a 512 MiB UML guest is reclaimed down to its
# floor while idle, then a workload suddenly needs 60% of its RAM, twice:
# with deflate-on-oom on and the workload writing as fast as it can, and
# with deflate-on-oom off and the workload growing at 50 MiB/s (without
# it, only the broker can give memory back, so it must act on available
# memory falling, before it runs out).  Each time nothing is OOM-killed and
# the workload writes and verifies its pattern; the sudden spike has its
# memory within 1 s of the broker's first pressure decision, the growing
# one is seen coming.  The guest runs vballoon.ko (VB_DRIVER=intree: the
# in-tree driver, whose deflate, ~60 MiB/s on a loaded host, can miss 1 s).
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/broker.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload" "$BUILD/vballoon-broker"
DRIVER=${VB_DRIVER:-ours}
[ "$DRIVER" = ours ] && vb_require "$BUILD/um/vballoon.ko"
MIB=$((1 << 20))
SPIKE_MIB=$((512 * 6 / 10))

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon "$3" || vb_fail "cannot load the $3 balloon driver"
vb_tmpfs /mnt/t
vb_touch_free /mnt/t 24
vb_signal idle
vb_wait spike 300 || exit 1
rc=0
vb-workload fill --mib "$1" --rate "$2" --hold-file /mnt/t/p --seed 11 || rc=$?
[ $rc = 0 ] && { vb-workload verify --mib "$1" --hold-file /mnt/t/p --seed 11 || rc=$?; }
vb_put rc "$rc"
if dmesg | grep -qi "killed process"; then vb_put oomkill yes; else vb_put oomkill no; fi
[ "$3" = ours ] && vb_put oom "$(for k in oom_calls oom_deflated oom_credited oom_empty; do
	echo "$k $(vb_ours_val $k)"; done | tr "\n" " ")"
vb_log "workload rc $rc, MemTotal $(vb_meminfo MemTotal) kB, MemAvailable $(vb_meminfo MemAvailable) kB"
vb_signal worked
vb_wait finish 120 || exit 1
exit 0
GUEST

run() {	# run DEFLATE_ON_OOM RATE_MIBPS
	rm -f "$T/broker.log" "$T/broker.prom"
	vb_start_daemon_uml 512M --name vm --deflate-on-oom "$1" -- --timeout 300 -- \
		"$T/guest.sh" "$SPIKE_MIB" "$2" "$DRIVER"
	vb_wait_guest idle 120 || { vb_wait_uml; vb_fail "guest did not touch its memory"; }
	vb_start_broker --qmp "$VB_QMP"
	# Idle: down to the floor.
	floor= a=0 end=$((SECONDS + 60))
	while (( SECONDS < end )); do
		floor=$(vb_broker_metric floor_bytes vm)
		a=$(vb_actual) && [ -n "$floor" ] && (( a <= floor + 8 * MIB )) && break
		sleep 0.2
	done
	[ -n "$floor" ] && (( a <= floor + 8 * MIB )) || vb_fail "not reclaimed to the floor (at $((a / MIB)) MiB)"
	vb_log "idle guest at its floor, $((floor / MIB)) MiB; the workload needs $SPIKE_MIB MiB"
	before=$(grep -c "" "$T/broker.log")

	vb_signal_guest spike
	vb_wait_guest worked 240 || { vb_wait_uml; cat "$T/broker.log"; vb_fail "workload did not finish"; }
	sleep 1
	tail -n +"$((before + 1))" "$T/broker.log" >"$T/spike.log"
	cat "$T/spike.log"
	[ "$DRIVER" = ours ] && vb_log "OOM notifier: $(vb_get oom)"
	[ "$(vb_get rc)" = 0 ] || vb_fail "workload failed (rc $(vb_get rc))"
	[ "$(vb_get oomkill)" = no ] || vb_fail "something was OOM-killed"
	grep -q "reason pressure-" "$T/spike.log" || vb_fail "no pressure decision"
	vb_log "first pressure decision: $(grep -m1 'reason pressure-' "$T/spike.log" | sed 's/.*reason //')"
	vb_log "grows: $(sed -n 's/.*guest vm: reached \([0-9]*\) MiB \([0-9]*\) ms after.*/\1 MiB in \2 ms/p' \
		"$T/spike.log" | paste -sd, -)"
	if [ "$2" = 0 ]; then
		# A sudden spike (deflate-on-oom covers its first milliseconds): all
		# it needs within 1 s of the first pressure decision, both stamped
		# in the broker's log.
		stamp_ms() { awk -F'[:. ]' '{ print (($1 * 60 + $2) * 60 + $3) * 1000 + $4; exit }'; }
		t_p=$(grep -m1 "reason pressure-" "$T/spike.log" | stamp_ms)
		t_r=$(awk -v need="$SPIKE_MIB" '/guest vm: reached/ { for (i = 1; i < NF; i++)
			if ($i == "reached" && $(i + 1) >= need) { print; exit } }' "$T/spike.log" | stamp_ms)
		[ -n "$t_r" ] || vb_fail "the guest never reached $SPIKE_MIB MiB"
		vb_log "the guest had $SPIKE_MIB MiB $((t_r - t_p)) ms after the first pressure decision"
		(( t_r - t_p <= 1000 )) || vb_fail "the spike waited $((t_r - t_p)) ms for its memory"
	else
		# A growing workload without deflate-on-oom: the broker saw it
		# coming (available memory falling) before the guest ran short,
		# since the in-tree driver's deflate takes its time (~60 MiB/s in
		# UML on a loaded host: not the broker's to shorten).
		grep -m1 "reason pressure-" "$T/spike.log" | grep -q "pressure-falling-available" ||
			vb_fail "the first pressure decision was not made ahead of need"
	fi
	vb_signal_guest finish
	vb_wait_uml || vb_fail "guest script failed"
	vb_stop_broker
	vb_stop_daemon
	vb_log "deflate-on-oom $1, workload rate $2 MiB/s (0: unpaced): ok"
}

# ONLY_ON / ONLY_OFF: one half (a loop over the unpaced spike: ONLY_ON=1).
[ -z "${ONLY_OFF:-}" ] && run on 0
[ -z "${ONLY_ON:-}" ] && run off 50
vb_log "ok"
