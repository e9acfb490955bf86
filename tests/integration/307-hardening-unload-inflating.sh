#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest side: rmmod vballoon.ko while it is inflating (UML + vballoond).
# The guest starts unloading as soon as the balloon holds any page, i.e.
# in the middle of a 384 MiB inflate (small batches).  rmmod must finish (no hang), every
# page comes back (MemFree recovers, the daemon sees the balloon empty), a
# patterned region held throughout verifies, and insmod again reaches the
# kept target.  Repeated UNLOAD_ROUNDS times (default 3).
# vb-test: timeout=300
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload"
[ -f "$BUILD/um/vballoon.ko" ] || vb_skip "vballoon.ko for UML not built"
MIB=$((1 << 20))
FULL=$((512 * MIB))
TARGET=$((128 * MIB))
ROUNDS=${UNLOAD_ROUNDS:-3}

cat >"$T/guest.sh" <<'GUEST'
vb_tmpfs /mnt/h 40M
vb-workload fill --mib 32 --hold-file /mnt/h/p --seed 9 || vb_fail "fill"
free0=$(vb_meminfo MemFree)
r=1
while [ $r -le $1 ]; do
	vb_load_balloon ours pipeline=0 range_batch_pages=1024 || vb_fail "insmod round $r"
	pages=$(vb_ours_dir)/pages
	vb_signal "loaded$r"
	# unload as soon as the balloon holds anything
	i=0
	# `read` is a shell builtin: no fork per poll, so the loop notices the
	# first pages long before a 384 MiB inflate can finish.
	# Bounded by time (60 s, checked every 1000 polls), not by a
	# count of polls whose speed depends on the host's load.
	held=0
	end=$(( $(date +%s) + 60 ))
	while [ "$held" = 0 ]; do
		read held <$pages || held=0
		i=$((i + 1))
		[ $((i % 1000)) = 0 ] && [ "$(date +%s)" -gt $end ] && break
	done
	t0=$(date +%s)
	rmmod vballoon || vb_fail "rmmod round $r failed"
	vb_put "held$r" "$held"
	vb_put "rmmod_secs$r" $(( $(date +%s) - t0 ))
	vb_put "free$r" "$(vb_meminfo MemFree)"
	vb_signal "unloaded$r"
	vb_wait "next$r" 120 || exit 1
	r=$((r + 1))
done
vb_load_balloon ours || vb_fail "final insmod"
vb_signal loaded_final
vb_wait finish 120 || exit 1
vb-workload verify --mib 32 --hold-file /mnt/h/p --seed 9 || vb_fail "pattern corrupted"
vb_put free0 "$free0"
dmesg | grep -E "BUG|Oops|WARNING|blocked for more than" | head -n 5
exit 0
GUEST

# floor 0: this test takes the guest below the default floor on purpose.
vb_start_daemon_uml 512M --page-reporting off --floor 0 -- --timeout 240 -- "$T/guest.sh" "$ROUNDS"
mid=0
for ((r = 1; r <= ROUNDS; r++)); do
	vb_wait_guest "loaded$r" 120 || { vb_wait_uml; vb_fail "round $r: guest did not load"; }
	vb_ctl set "$TARGET" >/dev/null || vb_fail "balloon failed"
	vb_wait_guest "unloaded$r" 90 || { vb_wait_uml; vb_fail "round $r: rmmod hung"; }
	held=$(vb_get "held$r")
	vb_log "round $r: rmmod with $held pages in the balloon took $(vb_get "rmmod_secs$r") s, MemFree $(vb_get "free$r") kB"
	# Mid-inflate: some pages held, not all (0: rmmod ran before the
	# inflate started, which races nothing).
	[ "$held" -gt 0 ] && [ "$held" -lt $(((FULL - TARGET) / 4096)) ] && mid=$((mid + 1))
	vb_wait_actual "$FULL" 30 || vb_fail "round $r: the daemon does not see the balloon empty"
	[ "$(vb_info connected)" = false ] || vb_log "round $r: device still connected after rmmod"
	vb_ctl set "$FULL" >/dev/null
	vb_signal_guest "next$r"
done
vb_log "$mid of $ROUNDS unloads happened mid-inflate"
# The point of the test: at least one unload must race a running inflate.
(( mid >= 1 )) || vb_fail "no unload happened mid-inflate: the test did not test the race"
vb_wait_guest loaded_final 60 || vb_fail "final insmod"
vb_ctl set "$TARGET" >/dev/null
vb_wait_actual "$TARGET" 60 || vb_fail "reloaded driver did not reach the target"
vb_ctl set "$FULL" >/dev/null
vb_wait_actual "$FULL" 60 || vb_fail "final deflate"
vb_signal_guest finish
vb_wait_uml || vb_fail "guest script failed"
free0=$(vb_get free0)
for ((r = 1; r <= ROUNDS; r++)); do
	f=$(vb_get "free$r")
	(( f * 10 >= free0 * 9 )) || vb_fail "round $r: MemFree $f kB after rmmod, $free0 kB before: pages not returned"
done
[ "$(vb_info refused)" = 0 ] || vb_fail "daemon refused requests"
kill -0 "$VB_DAEMON_PID" || vb_fail "daemon died"
vb_log "ok"
