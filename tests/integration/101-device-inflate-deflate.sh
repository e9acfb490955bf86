#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vballoond + a UML guest (VB_DRIVER=intree|ours, default intree):
# target 256 MiB below a 512 MiB guest -> the guest's MemTotal drops by that,
# query-balloon reports it, the RAM file's allocated blocks drop by >= 95% of
# it; back to full size -> MemTotal returns and the workload fills and
# verifies all of the guest's memory.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload"
DRIVER=${VB_DRIVER:-intree}
MIB=$((1 << 20))

cat >"$T/guest.sh" <<'GUEST'
set -e
vb_load_balloon "$1" || vb_fail "cannot load the $1 balloon driver"
# Touch (nearly) all free memory so the host file holds it, then free it:
# the balloon then takes pages the host really has to give back.
vb_tmpfs /mnt/fill
vb_touch_free /mnt/fill 48
vb_put total0 "$(vb_meminfo MemTotal)"
vb_signal touched
vb_wait inflated 120 || exit 1
vb_put total1 "$(vb_meminfo MemTotal)"
vb_signal measured
vb_wait deflated 120 || exit 1
vb_put total2 "$(vb_meminfo MemTotal)"
avail=$(vb_meminfo MemAvailable)
mib=$((avail / 1024 - 40))
vb_log "filling and verifying $mib MiB"
vb-workload fill --mib $mib --hold-file /mnt/fill/w --seed 11
vb-workload verify --mib $mib --hold-file /mnt/fill/w --seed 11
vb_put filled "$mib"
exit 0
GUEST

# ram-size: the size the guest was started with, as QEMU would know it.
# No free page reporting: it would return the freed memory before we measure.
vb_start_daemon_uml 512M --deflate-on-oom off --page-reporting off \
	-- --timeout 240 -- "$T/guest.sh" "$DRIVER"
vb_wait_guest touched 120 || { vb_wait_uml; vb_fail "guest did not get ready"; }

full=$(vb_actual) || vb_fail "query-balloon failed: $(vb_ctl raw '{"execute":"query-balloon"}')"
[ "$full" = $((512 * MIB)) ] || vb_fail "query-balloon says $full before ballooning, want 512 MiB"
[ "$(vb_info connected)" = true ] || vb_fail "daemon does not see the guest connected"
b0=$(vb_ramfile_bytes)
vb_log "guest RAM $((full / MIB)) MiB, RAM file holds $((b0 / MIB)) MiB"
target=$((full - 256 * MIB))
# Follow the events: BALLOON_CHANGE must report the final size.
vb_bg "$BUILD/vballoonctl" --qmp "$VB_QMP" --json events >"$T/events" 2>"$T/events.err"
events_pid=$VB_BG_PID
# Subscribed before the target changes, or the events are not ours to see.
for ((i = 0; i < 300; i++)); do
	grep -q "following events" "$T/events.err" && break
	sleep 0.1
done
grep -q "following events" "$T/events.err" || vb_fail "vballoonctl events did not start: $(cat "$T/events.err")"
vb_ctl set "$target" >/dev/null || vb_fail "balloon command failed"
vb_wait_actual "$target" 120 || vb_fail "guest did not reach the target"
b1=$(vb_ramfile_bytes)
# The last event may be held back by the throttle (1 s), and the
# follower has to read and print it: 30 s for a busy machine.
for ((i = 0; i < 300; i++)); do
	last=$(jq -r 'select(.event == "BALLOON_CHANGE") | .data.actual' "$T/events" | tail -1)
	[ "$last" = "$target" ] && break
	sleep 0.1
done
[ "$last" = "$target" ] || vb_fail "last BALLOON_CHANGE says '$last', want $target"
n=$(grep -c BALLOON_CHANGE "$T/events")
jq -e 'select(.event == "BALLOON_CHANGE") | .timestamp.seconds > 0' "$T/events" >/dev/null ||
	vb_fail "BALLOON_CHANGE without timestamp"
vb_log "$n BALLOON_CHANGE events (throttled), the last one at the target"
vb_stop_pid "$events_pid"; vb_untrack "$events_pid"
released=$((b0 - b1))
vb_log "inflated: RAM file released $((released / MIB)) MiB"
discarded=$(vb_info discarded-bytes)
vb_log "daemon: $(vb_ctl query | tr -s ' ' | tr '\n' ';')"
(( released * 100 >= 95 * 256 * MIB )) ||
	vb_fail "RAM file released only $released bytes of $((256 * MIB))"
(( discarded >= 256 * MIB )) || vb_fail "daemon counted $discarded discarded bytes"
vb_signal_guest inflated
vb_wait_guest measured 60 || vb_fail "guest did not measure"
t0=$(vb_get total0) t1=$(vb_get total1)
drop=$(((t0 - t1) / 1024))
vb_log "MemTotal $t0 kB -> $t1 kB (-$drop MiB)"
(( drop >= 255 && drop <= 257 )) || vb_fail "MemTotal dropped by $drop MiB, want 256"

vb_ctl set "$full" >/dev/null || vb_fail "balloon back to full failed"
vb_wait_actual "$full" 120 || vb_fail "guest did not deflate"
vb_signal_guest deflated
vb_wait_uml || vb_fail "guest script failed (see above)"
[ "$(vb_get total2)" = "$t0" ] || vb_fail "MemTotal $(vb_get total2) kB after deflate, want $t0"
vb_log "guest filled and verified $(vb_get filled) MiB after deflating"
[ "$(vb_info refused)" = 0 ] || vb_fail "daemon refused $(vb_info refused) requests"
kill -0 "$VB_DAEMON_PID" || vb_fail "daemon died"
vb_log "ok"
