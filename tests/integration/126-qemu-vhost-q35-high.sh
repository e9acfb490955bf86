#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest RAM in several regions: a q35 guest of 3.5 GiB has 2 GiB below the
# PCI hole and 1.5 GiB at guest address 4 GiB, which lives at file offset
# 2 GiB of the same backing file.  After the guest touched its memory, a
# deep inflate must give back memory from both parts of the file, each at its
# own offset (the translator's regions, not the guest address, decide the
# file offset), with the held pattern intact and the sizes as QEMU's.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/vhost-qemu.sh"
vb_require "$BUILD/vb-workload"

cat >"$T/guest.sh" <<'GUEST'
[ -d /sys/module/virtio_balloon ] || vb_fail "virtio_balloon not loaded"
vb-workload fill --mib 64 --hold-file /tmp/hold --seed 13 || exit 1
vb_touch_free /tmp 150 || exit 1
vb_signal ready
vb_wait deep 400 || exit 1
vb-workload verify --mib 64 --hold-file /tmp/hold --seed 13 || exit 1
vb_signal checked
vb_wait done 400 || exit 1
vb-workload verify --mib 64 --hold-file /tmp/hold --seed 13 || exit 1
vb_check_dmesg || exit 1
GUEST

M=$((1 << 20)) G=$((1 << 30))
vb_start_daemon_qemu 3584M -- --machine q35 --timeout 700 -- "$T/guest.sh"
vb_wait_guest ready 400 || { vb_wait_qemu; vb_fail "guest not ready"; }
vb_wait_actual $((3584 * M)) 60 || vb_fail "vballoond does not see the 3.5 GiB QEMU gave the guest"
low0=$(vb_file_alloc "$VB_RAM_FILE" 0 $((2 * G)))
high0=$(vb_file_alloc "$VB_RAM_FILE" $((2 * G)) $((1536 * M)))
vb_log "RAM file before: below 4 GiB $((low0 >> 20)) MiB, above $((high0 >> 20)) MiB"
(( high0 >= 256 * M )) || vb_fail "the guest did not touch its memory above 4 GiB ($((high0 >> 20)) MiB)"
vb_ctl set 512M >/dev/null
vb_wait_actual $((512 * M)) 400 || vb_fail "deep inflate did not reach 512 MiB"
vb_signal_guest deep
vb_wait_guest checked 300 || { vb_wait_qemu; vb_fail "pattern check after the inflate failed"; }
low1=$(vb_file_alloc "$VB_RAM_FILE" 0 $((2 * G)))
high1=$(vb_file_alloc "$VB_RAM_FILE" $((2 * G)) $((1536 * M)))
vb_log "RAM file after: below 4 GiB $((low1 >> 20)) MiB, above $((high1 >> 20)) MiB"
# The balloon takes 3 of the 3.5 GiB: each part gives back at least half
# of what the guest had touched there.
(( 2 * (low0 - low1) >= low0 )) || vb_fail "below 4 GiB only $(( (low0 - low1) >> 20 )) of $((low0 >> 20)) MiB came back"
(( 2 * (high0 - high1) >= high0 )) || vb_fail "above 4 GiB only $(( (high0 - high1) >> 20 )) of $((high0 >> 20)) MiB came back"
vb_ctl set 3584M >/dev/null
vb_wait_actual $((3584 * M)) 400 || vb_fail "deflate did not finish"
vb_signal_guest done
vb_wait_qemu || vb_fail "guest script failed"
vb_term_daemon
