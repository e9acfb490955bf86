#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The device dies under vballoon.ko (UML + vballoond): the daemon is killed
# (SIGKILL) while half the guest's memory is ballooned.  UML's vhost-user
# frontend then marks the device broken and removes it.  The driver must
# stay calm:
#  - the removal (and then rmmod and poweroff) finishes;
#  - dmesg has no WARNING or BUG of ours (UML's transport warns on its own
#    for the dead backend: "read returned 0" at each interrupt until the
#    queues are deleted, ~30 times, and once when they are; test 304), at
#    most one line saying the device stopped working and one saying what
#    it leaks - never a storm;
#  - vmstat's balloon_inflate - balloon_deflate is never negative while it
#    happens, and the pages leaked are exactly what MemTotal still lacks
#    (no DEFLATE_ON_OOM: the balloon is out of MemTotal).
# VB_DEAD_KO=PATH: run another vballoon.ko (a negative run: the driver
# before this test existed retried its deflate with 500 stack traces).
# vb-test: timeout=300
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/um/vballoon.ko"
MIB=$((1 << 20))

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon ours || vb_fail "insmod vballoon failed"
vb_tmpfs /mnt/t
vb_touch_free /mnt/t 32
total0=$(vb_meminfo MemTotal)
vb_signal loaded
vb_wait inflated 120 || exit 1
total1=$(vb_meminfo MemTotal)
vb_put inflated_pages "$(vb_balloon_pages)"
# Sample the balloon's vmstat size from before the kill until rmmod
# (which waits for the device's removal to finish).
(while :; do vb_balloon_pages; sleep 0.05; done) >/tmp/balloon.log 2>&1 &
sampler=$!
echo "vb-test: the daemon is killed now" >/dev/kmsg
vb_signal marked
vb_wait killed 60 || exit 1
i=0
while ls -d /sys/bus/virtio/drivers/vballoon/virtio* >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 600 ] && { vb_put removed no; break; }
	sleep 0.1
done
[ $i -le 600 ] && vb_put removed "$((i / 10)) s"
t0=$(date +%s)
rmmod vballoon || vb_fail "rmmod failed"
vb_put rmmod_secs $(( $(date +%s) - t0 ))
kill "$sampler"
vb_put balloon_min "$(sort -n /tmp/balloon.log | head -n 1)"
vb_put balloon_end "$(vb_balloon_pages)"
vb_put total "$total0 $total1 $(vb_meminfo MemTotal)"
dmesg | sed -n '/vb-test: the daemon is killed now/,$p' >/vb/share/dmesg.after
exit 0
GUEST

KO=()
if [ -n "${VB_DEAD_KO:-}" ]; then
	mkdir "$T/other" && cp "$VB_DEAD_KO" "$T/other/vballoon.ko"
	KO=(--module "$T/other/vballoon.ko")
fi
vb_start_daemon --ram-size 512M --deflate-on-oom off || vb_fail "daemon did not start"
# A log buffer that holds even a storm of stack traces (UML's is 16 KiB).
vb_start_uml --mem 512M --vhost "$VB_SOCK" --timeout 240 --cmdline log_buf_len=8M \
	"${KO[@]}" -- "$T/guest.sh" ||
	vb_fail "UML did not boot"
vb_wait_guest loaded 120 || { vb_wait_uml; vb_fail "guest did not load the driver"; }
vb_ctl set $((256 * MIB)) >/dev/null || vb_fail "balloon command failed"
vb_wait_actual $((256 * MIB)) 60 || vb_fail "balloon did not reach 256 MiB"
vb_signal_guest inflated
vb_wait_guest marked 60 || { vb_wait_uml; vb_fail "guest did not mark dmesg"; }
kill -KILL "$VB_DAEMON_PID"
wait "$VB_DAEMON_PID" 2>/dev/null
vb_untrack "$VB_DAEMON_PID"
vb_signal_guest killed
vb_wait_uml || vb_fail "guest script failed (or the guest did not shut down)"

after=$VB_SHARE/dmesg.after
vb_log "removal started after $(vb_get removed), rmmod (the end of it) took $(vb_get rmmod_secs) s"
grep -q "vb-test: the daemon is killed now" "$after" || vb_fail "kernel messages not captured"
read -r t0 t1 t2 <<<"$(vb_get total)"
vb_log "balloon (vmstat inflate - deflate): $(vb_get inflated_pages) when inflated, min $(vb_get balloon_min), $(vb_get balloon_end) after rmmod"
[ "$(vb_get removed)" != no ] || vb_fail "UML never removed the dead device"
# The driver's own lines ("vballoon virtio0: ..."), and every warning.
grep -E "^(\[[ 0-9.]*\] )?vballoon[: ]" "$after" >"$T/ours"
vb_log "driver lines after the kill:"
cat "$T/ours"
transport=$(grep -c "WARNING: .* at arch/um/drivers/virtio_uml.c" "$after")
vb_log "the transport's own warnings for the dead backend: $transport"
# Any WARNING not from UML's transport, any BUG or oops, fails.
if grep -E "WARNING:|BUG:|Oops" "$after" | grep -v "at arch/um/drivers/virtio_uml.c"; then
	vb_fail "kernel warnings besides the transport's"
fi
ours=$(wc -l <"$T/ours")
dead=$(grep -c "device .*no more requests" "$T/ours")
leak=$(grep -c "leaking [0-9]* pages" "$T/ours")
vb_log "lines of ours after the kill: $ours ($dead about the dead device, $leak about the leak)"
(( dead <= 1 )) || vb_fail "$dead lines about the dead device"
(( leak == 1 )) || vb_fail "$leak lines about leaked pages, want 1"
(( ours <= 2 )) || vb_fail "$ours lines from the driver: a storm"
leaked=$(sed -n 's/.*leaking \([0-9]*\) pages.*/\1/p' "$T/ours")
vb_log "MemTotal $t0 -> $t1 (inflated) -> $t2 kB; leaked ${leaked:-no} pages"
(( $(vb_get balloon_min) >= 0 )) || vb_fail "vmstat balloon went negative"
[ "$(vb_get balloon_end)" = 0 ] || vb_fail "vmstat balloon $(vb_get balloon_end) after rmmod, want 0"
(( (t0 - t2) == leaked * 4 )) ||
	vb_fail "MemTotal lacks $((t0 - t2)) kB, the driver leaked $((leaked * 4)) kB"
vb_log "ok"
