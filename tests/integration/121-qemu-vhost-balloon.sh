#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vballoond as the balloon of a stock QEMU (11.x, vhost-user-test-device-pci
# over virtio-pci) with Debian 6.1's in-tree virtio_balloon in an x86-64
# guest: `balloon` through vballoond's QMP inflates 384 MiB of a 1 GiB guest
# and gives it back twice; MemTotal follows exactly, the guest's RAM file on
# the host loses what the guest had touched there, a held pattern survives
# every cycle, stats arrive, and the guest's dmesg stays clean.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/vhost-qemu.sh"
vb_require "$BUILD/vb-workload"

cat >"$T/guest.sh" <<'GUEST'
[ -d /sys/module/virtio_balloon ] || vb_fail "virtio_balloon not loaded"
vb-workload fill --mib 64 --hold-file /tmp/hold --seed 11 || exit 1
# Touch and free most of RAM, so the host file holds it before inflating.
vb_touch_free /tmp 150 || exit 1
before=$(vb_meminfo MemTotal)
vb_put before "$before"
vb_signal ready
for c in 1 2; do
	vb_wait "inflated$c" 300 || exit 1
	after=$(vb_wait_meminfo MemTotal -le $((before - 384 * 1024)) 60) ||
		vb_fail "cycle $c: MemTotal $after kB did not drop by 384 MiB from $before kB"
	vb_put "after$c" "$after"
	vb-workload verify --mib 64 --hold-file /tmp/hold --seed 11 || exit 1
	vb_signal "checked$c"
	vb_wait "deflated$c" 300 || exit 1
	vb_wait_meminfo MemTotal -ge "$before" 60 >/dev/null ||
		vb_fail "cycle $c: MemTotal did not return to $before kB"
	vb-workload verify --mib 64 --hold-file /tmp/hold --seed 11 || exit 1
	# Use the returned memory again, so the next cycle has some to free.
	vb_touch_free /tmp 150 || exit 1
	vb_signal "back$c"
done
vb_check_dmesg || exit 1
GUEST

# Reporting off: it would return the touched memory before the balloon does.
vb_start_daemon_qemu 1G --stats-interval 1 --page-reporting off -- --timeout 500 -- "$T/guest.sh"
vb_wait_guest ready 240 || { vb_wait_qemu; vb_fail "guest not ready"; }
vb_wait_actual $((1024 << 20)) 60 || vb_fail "vballoond does not see a 1 GiB guest"
feat=$(vb_info features)
vb_log "features: $feat"
for c in 1 2; do
	held=$(vb_ram_bytes)
	vb_ctl set 640M >/dev/null
	vb_wait_actual $((640 << 20)) 120 || vb_fail "cycle $c: actual did not reach 640 MiB"
	vb_signal_guest "inflated$c"
	vb_wait_guest "checked$c" 120 || { vb_wait_qemu; vb_fail "cycle $c: guest check failed"; }
	drop=$(( $(vb_get before) - $(vb_get "after$c") ))
	(( drop == 384 * 1024 )) || vb_fail "cycle $c: MemTotal dropped by $drop kB, want $((384 * 1024))"
	freed=$(( held - $(vb_ram_bytes) ))
	vb_log "cycle $c: MemTotal -$drop kB, RAM file $((held >> 20)) -> $(( $(vb_ram_bytes) >> 20 )) MiB"
	# The guest touched 600 MiB and balloons 384: most of it was backed.
	(( freed >= 300 << 20 )) || vb_fail "cycle $c: the RAM file gave back only $((freed >> 20)) MiB"
	vb_ctl set 1G >/dev/null
	vb_wait_actual $((1024 << 20)) 120 || vb_fail "cycle $c: actual did not return to 1 GiB"
	vb_signal_guest "deflated$c"
	vb_wait_guest "back$c" 120 || { vb_wait_qemu; vb_fail "cycle $c: guest did not get its memory back"; }
done
stats=$(vb_ctl --json stats) || vb_fail "no guest stats"
jq -e '.stats["stat-total-memory"] > 0 and .stats["stat-total-memory"] < 18446744073709551615' <<<"$stats" >/dev/null ||
	vb_fail "stats without total memory: $stats"
vb_wait_qemu || vb_fail "guest script failed"
vb_term_daemon
vb_log "QEMU 11 + vballoond + in-tree 6.1: two 384 MiB cycles, pattern intact"
