#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Free page hints and memory pressure (vballoon.ko + vballoond, UML): when
# the host never sends DONE, the blocks the driver holds after a round go
# back to the guest through its shrinker: a workload that needs most of
# the guest's memory gets it and verifies its pattern, the driver counts
# the pages it gave back, and a round that sees pressure ends instead of
# taking them again.  DONE afterwards frees the rest.  Unlike in-tree,
# blocks below the top order are hinted too (down to order 4).
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload" \
	"$BUILD/um/vballoon.ko"

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon ours || vb_fail "insmod vballoon failed"
st=$(vb_ours_dir) || vb_fail "no debug view"
vb_tmpfs /mnt/t
vb-workload frag --mib 64 --hold-file /mnt/t/frag --seed 4 || exit 1
dd if=/dev/zero of=/mnt/t/z bs=1M count=300 2>/dev/null
rm /mnt/t/z
vb_signal ready
vb_wait hinted 120 || exit 1
held=$(vb_ours_val hint_held_pages)
vb_put held "$held"
vb_put blocks "$(vb_ours_val hint_blocks)"
vb_put low "$(vb_ours_orders_below hint_by_order 10)"
vb_put free_hinted "$(vb_meminfo MemFree)"
[ "$held" -gt $((200 * 256)) ] || { vb_ours_dump; vb_fail "only $held pages held after the round"; }
# Memory pressure: the workload needs memory the hint blocks hold.
avail=$(vb_meminfo MemAvailable)
mib=$((held / 256 + avail / 1024 - 100))
vb_log "held $((held / 256)) MiB as hints, MemAvailable $((avail / 1024)) MiB: filling $mib MiB"
vb-workload fill --mib $mib --hold-file /mnt/t/w --seed 6 || vb_fail "workload failed"
vb-workload verify --mib $mib --hold-file /mnt/t/w --seed 6 || exit 1
vb-workload verify --mib 64 --hold-file /mnt/t/frag --seed 4 --punch-holes || exit 1
shrunk=$(vb_ours_val hint_shrunk)
vb_put shrunk "$shrunk"
[ "$shrunk" -gt 0 ] || vb_fail "the shrinker took no hint page back"
rm /mnt/t/w
vb_signal pressured
vb_wait done 60 || exit 1
i=0
while [ "$(vb_ours_val hint_held_pages)" != 0 ]; do
	i=$((i + 1))
	[ $i -gt 300 ] && vb_fail "hint pages still held after DONE"
	sleep 0.1
done
vb_ours_dump | grep -E "^hint"
vb_check_dmesg
exit 0
GUEST

vb_start_daemon_uml 512M --page-reporting off -- --timeout 300 -- "$T/guest.sh"
vb_wait_guest ready 120 || { vb_wait_uml; vb_fail "guest not ready"; }
vb_ctl hint start >/dev/null || vb_fail "hint start failed"
for ((i = 0; i < 600; i++)); do
	[ "$(vb_ctl --json hint status | jq -r .state)" = stopped ] && break
	sleep 0.1
done
[ "$(vb_ctl --json hint status | jq -r .state)" = stopped ] || vb_fail "round never stopped"
hinted=$(vb_ctl --json hint status | jq '.["hinted-bytes"]')
vb_signal_guest hinted
vb_wait_guest pressured 300 || { vb_wait_uml; vb_fail "pressure step failed"; }
vb_log "round hinted $((hinted >> 20)) MiB in $(vb_get blocks) blocks; held $(( $(vb_get held) / 256 )) MiB; shrinker gave back $(( $(vb_get shrunk) / 256 )) MiB"
vb_ctl hint done >/dev/null || vb_fail "hint done failed"
vb_signal_guest done
vb_wait_uml || vb_fail "guest script failed"
(( hinted >= 200 << 20 )) || vb_fail "device saw only $hinted hinted bytes"
(( $(vb_get low) > 0 )) || vb_fail "no block below the top order was hinted"
