#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest stats through QMP qom-get guest-stats (QEMU's names and layout),
# polled at the configured interval: total memory matches the guest's
# MemTotal, and free memory drops while the workload holds 160 MiB.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload"
DRIVER=${VB_DRIVER:-intree}
MIB=$((1 << 20))

qmp() { vb_ctl --json raw "$1"; }
stats() {
	qmp '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/vm1","property":"guest-stats"}}'
}
# wait_stats_after T: wait for a report newer than unix time T.
wait_stats_after() {
	local i u
	for ((i = 0; i < 300; i++)); do
		u=$(stats | jq -e '.return["last-update"]') && (( u > $1 )) && return 0
		sleep 0.1
	done
	echo "no stats newer than $1 (last-update ${u:-none})" >&2
	return 1
}

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon "$1" || vb_fail "cannot load the $1 balloon driver"
vb_put total "$(vb_meminfo MemTotal)"
vb_signal loaded
vb_wait hold 120 || exit 1
vb_tmpfs /mnt/h 90%
vb-workload fill --mib 160 --hold-file /mnt/h/p --seed 3 || vb_fail "fill"
vb_put free_held "$(vb_meminfo MemFree)"
vb_signal holding
vb_wait done 120 || exit 1
exit 0
GUEST

vb_start_daemon --name vm1 --stats-interval 1 --page-reporting off || vb_fail "daemon did not start"
vb_start_uml --mem 512M --vhost "$VB_SOCK" --timeout 240 -- "$T/guest.sh" "$DRIVER" ||
	vb_fail "UML did not boot"
vb_wait_guest loaded 120 || { vb_wait_uml; vb_fail "guest did not load the driver"; }
wait_stats_after 0 || vb_fail "no stats from the guest"
s=$(stats)
for name in stat-swap-in stat-swap-out stat-major-faults stat-minor-faults \
	    stat-free-memory stat-total-memory stat-available-memory \
	    stat-disk-caches stat-htlb-pgalloc stat-htlb-pgfail stat-oom-kills \
	    stat-alloc-stalls stat-async-scans stat-direct-scans \
	    stat-async-reclaims stat-direct-reclaims; do
	echo "$s" | jq -e ".return.stats[\"$name\"]" >/dev/null || vb_fail "stat $name missing: $s"
done
total=$(echo "$s" | jq '.return.stats["stat-total-memory"]')
free0=$(echo "$s" | jq '.return.stats["stat-free-memory"]')
minflt=$(echo "$s" | jq '.return.stats["stat-minor-faults"]')
gtotal=$(($(vb_get total) * 1024))
vb_log "stats: total $((total / MIB)) MiB (guest MemTotal $((gtotal / MIB)) MiB), free $((free0 / MIB)) MiB, minflt $minflt"
[ "$total" = "$gtotal" ] || vb_fail "stat-total-memory $total != MemTotal $gtotal"
(( free0 > 100 * MIB && free0 < total )) || vb_fail "implausible stat-free-memory $free0"
(( minflt > 0 )) || vb_fail "implausible stat-minor-faults $minflt"

iv=$(qmp '{"execute":"qom-get","arguments":{"path":"vm1","property":"guest-stats-polling-interval"}}' |
	jq -e .return) || vb_fail "qom-get polling interval failed"
[ "$iv" = 1 ] || vb_fail "polling interval $iv, want 1"

vb_signal_guest hold
vb_wait_guest holding 120 || vb_fail "guest did not fill"
now=$(date +%s)
wait_stats_after "$now" || vb_fail "stats not refreshed by polling"
free1=$(stats | jq '.return.stats["stat-free-memory"]')
vb_log "free memory while holding 160 MiB: $((free1 / MIB)) MiB (was $((free0 / MIB)))"
(( free0 - free1 >= 140 * MIB )) || vb_fail "free memory dropped by only $(((free0 - free1) / MIB)) MiB"

# Polling off, then an explicit request still refreshes.
vb_ctl --guest vm1 stats-interval 0 || vb_fail "stats-interval 0 failed"
sleep 1.5
now=$(date +%s)
vb_ctl --guest vm1 stats-request || vb_fail "stats-request failed"
wait_stats_after "$((now - 1))" || vb_fail "stats-request did not refresh"
vb_ctl --guest vm1 stats | grep -q '^stat-free-memory' || vb_fail "vballoonctl stats output"
# Hostile: unknown path and property.
qmp '{"execute":"qom-get","arguments":{"path":"nope","property":"guest-stats"}}' |
	jq -e '.error.class == "DeviceNotFound"' >/dev/null || vb_fail "unknown path not refused"
qmp '{"execute":"qom-set","arguments":{"path":"vm1","property":"guest-stats-polling-interval","value":-5}}' |
	jq -e '.error' >/dev/null || vb_fail "negative interval accepted"
vb_signal_guest done
vb_wait_uml || vb_fail "guest script failed"
vb_log "ok"
