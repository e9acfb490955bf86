#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The newer QEMU (11.x, trixie-backports' stock build, unpacked by make setup)
# boots the Debian 6.1 x86-64 guest on a q35 machine with shared memfd RAM,
# as the vhost-user tests need it, and its own virtio-balloon-pci balloons the
# guest: QMP `balloon` takes 256 MiB, MemTotal follows, and gives it back with
# a held pattern intact.  This is the control for running vballoond behind
# the same QEMU.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vb-workload"
[ -f "$VB_CACHE/env.sh" ] && . "$VB_CACHE/env.sh"
[ -n "${VB_QEMU_NEW:-}" ] || vb_skip "no newer QEMU in the cache (make setup could not fetch it; see its NOTE lines)"

cat >"$T/guest.sh" <<'GUEST'
[ -d /sys/module/virtio_balloon ] || vb_fail "virtio_balloon not loaded"
vb-workload fill --mib 64 --hold-file /tmp/hold --seed 7 || exit 1
before=$(vb_meminfo MemTotal)
vb_put before "$before"
vb_signal ready
vb_wait inflated 120 || exit 1
after=$(vb_wait_meminfo MemTotal -le $((before - 255 * 1024)) 60) ||
	vb_fail "MemTotal $after kB did not drop by 256 MiB from $before kB"
vb_put after "$after"
vb_signal checked
vb_wait deflated 120 || exit 1
back=$(vb_wait_meminfo MemTotal -ge "$before" 60) ||
	vb_fail "MemTotal $back kB did not return to $before kB"
vb-workload verify --mib 64 --hold-file /tmp/hold --seed 7 || exit 1
vb_check_dmesg || exit 1
GUEST

vb_start_qemu --qemu new --machine q35 --ram memfd --mem 512M --balloon "" --timeout 400 \
	-- "$T/guest.sh" || vb_fail "QEMU 11 guest did not start"
ver=$(vb_qmp "$VB_QEMU_QMP" '{"execute":"query-version"}' | jq -r '.return.qemu | "\(.major).\(.minor).\(.micro)"')
vb_log "QEMU $ver"
[ "${ver%%.*}" -ge 10 ] || vb_fail "the newer QEMU reports version $ver"
vb_wait_guest ready 240 || { vb_wait_qemu; vb_fail "guest not ready"; }
vb_qemu_wait_actual $((512 << 20)) 120 || vb_fail "query-balloon actual did not reach 512 MiB"
vb_qemu_balloon 268435456
vb_qemu_wait_actual $((256 << 20)) 120 || vb_fail "query-balloon actual did not reach 256 MiB"
vb_signal_guest inflated
vb_wait_guest checked 120 || { vb_wait_qemu; vb_fail "guest did not see MemTotal drop"; }
before=$(vb_get before) after=$(vb_get after)
drop=$((before - after))
(( drop >= 255 * 1024 && drop <= 257 * 1024 )) || vb_fail "MemTotal dropped by $drop kB, want 262144"
vb_qemu_balloon 536870912
vb_qemu_wait_actual $((512 << 20)) 120 || vb_fail "query-balloon actual did not reach 512 MiB"
vb_signal_guest deflated
vb_wait_qemu || vb_fail "guest script failed"
vb_log "QEMU $ver guest ballooned 512 -> 256 -> 512 MiB (MemTotal $before -> $after kB), data intact"
