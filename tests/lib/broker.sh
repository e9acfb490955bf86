# SPDX-License-Identifier: GPL-2.0-or-later
# tests/lib/broker.sh - vballoon-broker in integration tests (bash; source
# after common.sh).  The broker logs to $T/broker.log and writes its metrics
# to $T/broker.prom.

VB_BROKER=${VB_BROKER:-$BUILD/vballoon-broker}

# vb_start_broker [broker options]: start it in the background, tracked.
vb_start_broker() {
	[ -x "$VB_BROKER" ] || vb_skip "$VB_BROKER not built"
	"$VB_BROKER" --metrics "$T/broker.prom" "$@" >>"$T/broker.log" 2>&1 &
	VB_BROKER_PID=$!
	vb_track "$VB_BROKER_PID"
}

vb_stop_broker() {
	vb_stop_pid "$VB_BROKER_PID"
	vb_untrack "$VB_BROKER_PID"
}

# vb_broker_metric NAME GUEST: a per-guest value from the metrics file.
vb_broker_metric() {
	sed -n "s/^vballoon_broker_guest_$1{guest=\"$2\"} //p" "$T/broker.prom" 2>/dev/null
}

# vb_broker_status GUEST: ok, stale, down, broken, no-stats.
vb_broker_status() {
	sed -n "s/^vballoon_broker_guest_status{guest=\"$1\",status=\"\([a-z-]*\)\"} 1/\1/p" \
		"$T/broker.prom" 2>/dev/null
}

# vb_broker_decisions GUEST: decision lines for GUEST so far.
vb_broker_decisions() {
	grep -c "guest $1: target " "$T/broker.log"
}

# vb_wait_broker_log REGEX [timeout_s]: until a broker log line matches.
vb_wait_broker_log() { vb_wait_console "$T/broker.log" "$1" "${2:-60}"; }

# vb_now_ms: wall clock in ms (the broker's log stamps are wall clock).
vb_now_ms() { date +%s%3N; }
