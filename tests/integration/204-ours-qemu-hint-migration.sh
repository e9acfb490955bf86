#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# vb-test: serial
# Free page hints with vballoon.ko on QEMU's virtio-balloon
# (free-page-hint=on): a 1 GiB guest dirties then frees 600 MiB, QEMU
# migrates it to `exec:cat > /dev/null` at QEMU's default bandwidth.  The
# driver runs hint rounds (command ids from QEMU) and hints at least 400 MiB,
# QEMU skips them (RAM transferred well below what was dirtied), and after
# migration QEMU's DONE makes the driver free every hint page.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/x86_64/vballoon.ko" "$BUILD/vb-workload"

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon ours || vb_fail "insmod vballoon failed"
st=$(vb_ours_dir) || vb_fail "no debug view"
vb-workload fill --mib 600 --hold-file /tmp/big --seed 3 || exit 1
rm -f /tmp/big
free0=$(vb_meminfo MemFree)
# QEMU refuses to migrate while the 9p share is mounted: step off it and
# let QEMU's DONE (sent when migration completes) be the signal.
cd /
umount /vb/share || vb_fail "cannot unmount the share"
echo "VB-HINT-READY"
i=0
while [ "$(vb_ours_val hint_held_pages)" != 0 ] || [ "$(vb_ours_val hint_id_received)" != 1 ]; do
	i=$((i + 1))
	[ $i -gt 600 ] && vb_fail "hint pages not returned after DONE: $(vb_ours_dump)"
	sleep 0.1
done
vb_ours_dump | grep hint
mount -t 9p -o trans=virtio,version=9p2000.L,cache=none vbshare /vb/share ||
	vb_fail "cannot remount the share"
vb_put rounds "$(vb_ours_val hint_rounds)"
vb_put hinted "$(vb_ours_val hint_pages)"
vb_put blocks "$(vb_ours_val hint_blocks)"
free1=$(vb_meminfo MemFree)
vb_log "MemFree $free0 -> $free1 kB after DONE"
[ "$free1" -ge $((free0 - 32768)) ] || vb_fail "MemFree did not recover"
vb_check_dmesg
exit 0
GUEST

vb_start_qemu --mem 1G --no-balloon-module --balloon "free-page-hint=on" \
	--timeout 400 -- "$T/guest.sh" || vb_fail "QEMU guest did not start"
vb_wait_console "$VB_QEMU_CONSOLE" VB-HINT-READY 300 ||
	{ vb_wait_qemu; vb_fail "guest not ready"; }
q() { vb_qmp "$VB_QEMU_QMP" "$1"; }
# QEMU's default bandwidth (128 MiB/s): the hint round has time to finish
# even on a loaded machine; speed is the benchmark's business.
q '{"execute":"migrate","arguments":{"uri":"exec:cat > /dev/null"}}' ||
	vb_fail "migrate refused"
for ((i = 0; i < 1200; i++)); do
	r=$(q '{"execute":"query-migrate"}')
	case $r in
	*'"completed"'*) break ;;
	*'"failed"'*|*'"cancelled"'*) vb_fail "migration failed: $r" ;;
	esac
	sleep 0.1
done
[[ $r == *'"completed"'* ]] || vb_fail "migration did not complete: $r"
sent=$(sed -n 's/.*"ram": {[^}]*"transferred": *\([0-9]*\).*/\1/p' <<<"$r")
ms=$(sed -n 's/.*"total-time": *\([0-9]*\).*/\1/p' <<<"$r")
q '{"execute":"cont"}' >/dev/null || vb_fail "cont after migration refused"
vb_wait_qemu || { tail -n 40 "$VB_QEMU_CONSOLE" >&2; vb_fail "guest script failed"; }
rounds=$(vb_get rounds) hinted=$(vb_get hinted) blocks=$(vb_get blocks)
vb_log "migration: $((sent >> 20)) MiB sent in $ms ms; $rounds round(s), $((hinted >> 8)) MiB hinted in $blocks blocks"
(( rounds >= 1 )) || vb_fail "no hint round ran"
(( hinted >= 400 << 8 )) || vb_fail "only $((hinted >> 8)) MiB hinted"
(( sent < 450 << 20 )) || vb_fail "$((sent >> 20)) MiB sent: the hints were not used"
