#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Freeze and restore (vballoon.ko in a QEMU/TCG guest, QEMU's device): the
# guest suspends to idle with the balloon inflated to half its memory
# (pm_test "devices": every device's suspend and resume callbacks run, then
# the guest resumes by itself after 5 s).  As in-tree, freeze deflates the
# whole balloon (vmstat's balloon_deflate rises by all of it) and restore
# brings the reset device back: the balloon returns to the target, and a
# new target after the resume is followed (the queues work again), then
# an empty balloon (the guest powers off after it).  A held
# pattern verifies and dmesg stays clean.  The 9p share does not survive a
# suspend (virtio_9p has no freeze/restore): the guest unmounts it first
# and reports on the console from then on.  VB_FREEZE_KO=PATH runs another
# build (a driver without freeze/restore fails: its queues are gone).
. "$(dirname "$0")/../lib/common.sh"
KO=${VB_FREEZE_KO:-$BUILD/x86_64/vballoon.ko}
vb_require "$KO" "$BUILD/vb-workload"
MIB=$((1 << 20))

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon ours || vb_fail "insmod vballoon failed"
vb-workload fill --mib 64 --hold-file /tmp/hold --seed 7 || exit 1
before=$(vb_meminfo MemTotal)
vb_signal ready
vb_wait inflated 300 || exit 1
vb_wait_meminfo MemTotal -le $((before - 255 * 1024)) 60 >/dev/null ||
	vb_fail "MemTotal did not drop by 256 MiB"
cd / && umount /vb/share || vb_fail "cannot unmount the share"
# From here on the console is the only channel to the host.
echo "VB-KV balloon_before $(vb_balloon_pages)"
d0=$(vb_vmstat balloon_deflate)
echo devices >/sys/power/pm_test || vb_fail "no pm_test (CONFIG_PM_DEBUG)"
echo freeze >/sys/power/state || vb_fail "suspend to idle failed"
echo none >/sys/power/pm_test
echo "VB-KV deflated_in_freeze $(( $(vb_vmstat balloon_deflate) - d0 ))"
echo "VB-RESUMED"
# Restore re-reads the target: the balloon comes back.
vb_wait_meminfo MemTotal -le $((before - 255 * 1024)) 120 >/dev/null ||
	vb_fail "the balloon did not come back after the resume"
echo "VB-KV balloon_restored $(vb_balloon_pages)"
echo "VB-RESTORED"
vb_wait_meminfo MemTotal -ge $((before - 193 * 1024)) 300 >/dev/null ||
	vb_fail "MemTotal did not follow the new target after the resume"
# The host empties the balloon once its device reported the new size: the
# guest must not power off before the host has seen it.
vb_wait_meminfo MemTotal -ge $((before - 1024)) 300 >/dev/null ||
	vb_fail "MemTotal did not follow the empty balloon"
vb-workload verify --mib 64 --hold-file /tmp/hold --seed 7 || exit 1
dmesg | grep -E "PM: |vballoon" | tail -n 12
vb_check_dmesg
exit 0
GUEST

# kv KEY: the value the guest printed as "VB-KV KEY VALUE" on the console.
kv() { tr -d '\r' <"$VB_QEMU_CONSOLE" | sed -n "s/^VB-KV $1 //p" | tail -n 1; }

vb_start_qemu --mem 512M --no-balloon-module --balloon "" --timeout 600 \
	--module "$KO" -- "$T/guest.sh" || vb_fail "QEMU guest did not start"
vb_wait_guest ready 300 || { vb_wait_qemu; vb_fail "guest not ready"; }
vb_qemu_balloon $((256 * MIB))
vb_qemu_wait_actual $((256 * MIB)) 180 || vb_fail "query-balloon actual did not reach 256 MiB"
vb_signal_guest inflated
vb_wait_console "$VB_QEMU_CONSOLE" "^VB-RESUMED" 300 || { vb_wait_qemu; vb_fail "guest did not resume"; }
vb_wait_console "$VB_QEMU_CONSOLE" "^VB-RESTORED" 300 || { vb_wait_qemu; vb_fail "balloon not restored"; }
vb_qemu_wait_actual $((256 * MIB)) 60 || vb_fail "query-balloon actual not 256 MiB after the resume"
vb_qemu_balloon $((320 * MIB))
vb_qemu_wait_actual $((320 * MIB)) 180 || vb_fail "the device did not follow a new target after the resume"
vb_qemu_balloon $((512 * MIB))
vb_wait_qemu || vb_fail "guest script failed"
vb_log "balloon $(kv balloon_before) pages; freeze deflated $(kv deflated_in_freeze); restored to $(kv balloon_restored)"
(( $(kv deflated_in_freeze) == $(kv balloon_before) )) ||
	vb_fail "freeze deflated $(kv deflated_in_freeze) of $(kv balloon_before) pages"
(( $(kv balloon_restored) == 65536 )) || vb_fail "restored balloon $(kv balloon_restored) pages"
vb_log "ok"
