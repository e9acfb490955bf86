#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# QEMU/TCG x86-64 guest (Debian kernel, in-tree virtio_balloon) with QEMU's
# virtio-balloon: the workload runs (alloc, fill, frag, verify), QMP
# `balloon` shrinks the guest by 256 MiB and its MemTotal drops by that much,
# then grows it back and the held pattern is still intact.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vb-workload"

cat >"$T/guest.sh" <<'GUEST'
[ -d /sys/module/virtio_balloon ] || vb_fail "virtio_balloon not loaded"
vb-workload alloc --mib 8 || exit 1
vb-workload fill --mib 16 --seed 9 || exit 1
vb-workload frag --mib 64 --hold-file /tmp/frag --seed 5 || exit 1
vb-workload fill --mib 96 --hold-file /tmp/hold --seed 3 || exit 1
before=$(vb_meminfo MemTotal)
vb_put before "$before"
vb_signal ready
vb_wait inflated 120 || exit 1
after=$(vb_wait_meminfo MemTotal -le $((before - 255 * 1024)) 60) ||
	vb_fail "MemTotal $after kB did not drop by 256 MiB from $before kB"
vb_put after "$after"
vb-workload verify --mib 96 --hold-file /tmp/hold --seed 3 || exit 1
vb_signal checked
vb_wait deflated 120 || exit 1
back=$(vb_wait_meminfo MemTotal -ge "$before" 60) ||
	vb_fail "MemTotal $back kB did not return to $before kB"
vb-workload verify --mib 96 --hold-file /tmp/hold --seed 3 || exit 1
vb-workload verify --mib 64 --hold-file /tmp/frag --seed 5 --punch-holes || exit 1
vb_log "MemTotal $before -> $after -> $back kB"
GUEST

vb_start_qemu --mem 512M --balloon "free-page-reporting=on" --timeout 400 -- "$T/guest.sh" ||
	vb_fail "QEMU guest did not start"
qemu_pid=$VB_QEMU_PID
run_dir=$(dirname "$(vb_info_field "$VB_QEMU_INFO" initrd)")
vb_wait_guest ready 240 || { vb_wait_qemu; vb_fail "guest not ready"; }
vb_qemu_wait_actual $((512 << 20)) 120 || vb_fail "query-balloon actual did not reach 512 MiB"
vb_qemu_balloon 268435456
vb_qemu_wait_actual $((256 << 20)) 120 || vb_fail "query-balloon actual did not reach 256 MiB"
vb_signal_guest inflated
vb_wait_guest checked 120 || { vb_wait_qemu; vb_fail "guest did not see MemTotal drop"; }
before=$(vb_get before) after=$(vb_get after)
drop=$((before - after))
vb_log "guest MemTotal $before -> $after kB (drop $drop kB)"
(( drop >= 255 * 1024 && drop <= 257 * 1024 )) || vb_fail "MemTotal dropped by $drop kB, want 262144"
vb_qemu_balloon 536870912
vb_qemu_wait_actual $((512 << 20)) 120 || vb_fail "query-balloon actual did not reach 512 MiB"
vb_signal_guest deflated
vb_wait_qemu || vb_fail "guest script failed"
kill -0 "$qemu_pid" 2>/dev/null && vb_fail "QEMU pid $qemu_pid still running"
[ -e "$run_dir" ] && vb_fail "run directory $run_dir left behind"
[ -e "$VB_QEMU_QMP" ] && vb_fail "QMP socket $VB_QEMU_QMP left behind"
vb_log "QEMU guest ballooned 512 -> 256 -> 512 MiB, data intact"
