#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Memory hotplug under a live vballoond: QEMU 11 sends a new memory table to
# the running device when a 256 MiB DIMM is plugged (object-add +
# device_add pc-dimm), during an inflate.  The rings must survive (the guest
# never hangs), the guest onlines the DIMM and touches it, and a deep inflate
# then takes pages from the DIMM's own backing file, which gives memory back
# to the host; the held pattern survives.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/vhost-qemu.sh"
vb_require "$BUILD/vb-workload"

cat >"$T/guest.sh" <<'GUEST'
[ -d /sys/module/virtio_balloon ] || vb_fail "virtio_balloon not loaded"
vb-workload fill --mib 48 --hold-file /tmp/hold --seed 9 || exit 1
vb_signal ready
vb_wait plugged 300 || exit 1
# Online every new memory block, as udev would.
for s in /sys/devices/system/memory/memory*/state; do
	[ "$(cat "$s")" = offline ] && echo online_movable >"$s"
done
total=$(vb_meminfo MemTotal)
vb_put total "$total"
vb_touch_free /tmp 100 || exit 1
vb_signal touched
vb_wait deep 300 || exit 1
vb_wait_meminfo MemTotal -le $((total - 900 * 1024)) 120 >/dev/null ||
	vb_fail "MemTotal did not drop by 900 MiB"
vb-workload verify --mib 48 --hold-file /tmp/hold --seed 9 || exit 1
vb_signal checked
vb_wait done 300 || exit 1
vb-workload verify --mib 48 --hold-file /tmp/hold --seed 9 || exit 1
vb_check_dmesg || exit 1
GUEST

VB_RAM_FILE= ; vb_ram_tmpfs 1400M
vb_start_daemon_qemu 1G -- --maxmem 2G --cmdline "memhp_default_state=offline" --timeout 600 -- "$T/guest.sh"
vb_wait_guest ready 240 || { vb_wait_qemu; vb_fail "guest not ready"; }
M=$((1 << 20))
vb_wait_actual $((1024 * M)) 60 || vb_fail "not a 1 GiB guest"
# Plug the DIMM while an inflate is in flight.
vb_ctl set 768M >/dev/null
vb_qemu_cmd "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"memory-backend-file\",\"id\":\"dimm0mem\",\"size\":$((256 * M)),\"share\":true,\"mem-path\":\"$T/ram/dimm0\"}}" >/dev/null ||
	vb_fail "object-add refused"
vb_qemu_cmd '{"execute":"device_add","arguments":{"driver":"pc-dimm","id":"dimm0","memdev":"dimm0mem"}}' >/dev/null ||
	vb_fail "device_add pc-dimm refused"
vb_wait_info ram-size $((1280 * M)) 60 || vb_fail "vballoond does not count the DIMM"
# The balloon the target asked for when it was set (256 MiB) is completed
# by the rings the new table kept; as in QEMU, actual then counts the DIMM.
vb_wait_info actual-pages 65536 120 || vb_fail "the inflate in flight did not finish after the plug (rings lost?)"
vb_wait_info actual $((1024 * M)) 30 || vb_fail "actual after the plug is not RAM + DIMM - balloon"
vb_ctl set 1280M >/dev/null
vb_wait_actual $((1280 * M)) 120 || vb_fail "deflate after the plug did not finish"
vb_signal_guest plugged
vb_wait_guest touched 300 || { vb_wait_qemu; vb_fail "guest did not online and touch the DIMM"; }
dimm_before=$(vb_ram_bytes "$T/ram/dimm0")
vb_log "DIMM backing holds $((dimm_before >> 20)) MiB after the guest touched it"
(( dimm_before >= 128 * M )) || vb_fail "the guest did not touch the DIMM ($((dimm_before >> 20)) MiB)"
# Balloon all but ~330 MiB: the DIMM's movable memory must give pages too.
vb_ctl set 330M >/dev/null
vb_wait_actual $((330 * M)) 300 || vb_fail "deep inflate did not reach 330 MiB"
vb_signal_guest deep
vb_wait_guest checked 300 || { vb_wait_qemu; vb_fail "guest check after the deep inflate failed"; }
dimm_after=$(vb_ram_bytes "$T/ram/dimm0")
vb_log "DIMM backing: $((dimm_before >> 20)) -> $((dimm_after >> 20)) MiB"
(( dimm_before - dimm_after >= 64 * M )) ||
	vb_fail "the balloon freed only $(( (dimm_before - dimm_after) >> 20 )) MiB of the DIMM's backing"
vb_ctl set 1280M >/dev/null
vb_wait_actual $((1280 * M)) 300 || vb_fail "final deflate did not finish"
vb_signal_guest done
vb_wait_qemu || vb_fail "guest script failed"
vb_term_daemon
