#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fault: vballoond is killed (SIGKILL) and restarted while a UML guest runs
# with an inflated balloon.  Defined behaviour (docs/hardening.md):
#  - the guest keeps its balloon pages: the host memory released stays
#    released (RAM file blocks do not come back), the guest keeps running and
#    its memory verifies clean;
#  - the restarted daemon cannot reach the old connection (vhost-user has no
#    reconnect in UML's frontend): it reports the guest "not connected" and
#    serves new guests on the same socket;
#  - UML logs a WARNING (virtio_uml vu_interrupt "read returned 0") for the
#    dead backend; removing the orphaned device (rmmod) would block in UML,
#    so the test does not try.
# vb-test: timeout=300
. "$(dirname "$0")/../lib/common.sh"
SAN_D=$BUILD/san/vballoond
vb_require "$SAN_D" "$BUILD/vballoonctl" "$BUILD/vb-workload"
DRIVER=${VB_DRIVER:-intree}
MIB=$((1 << 20))
export ASAN_OPTIONS=exitcode=66

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon "$1" || vb_fail "cannot load the $1 balloon driver"
vb_tmpfs /mnt/w 90%
# touch memory so the host RAM file holds it, then free it for the balloon
dd if=/dev/zero of=/mnt/w/z bs=1M count=160 2>/dev/null; rm /mnt/w/z
vb_signal loaded
vb_wait check 200 || exit 1
vb_put infl "$(awk '/^balloon_inflate/ {print $2}' /proc/vmstat)"
vb_put defl "$(awk '/^balloon_deflate/ {print $2}' /proc/vmstat)"
vb-workload fill --mib 48 --hold-file /mnt/w/f --seed 5 &&
	vb-workload verify --mib 48 --hold-file /mnt/w/f --seed 5 || vb_fail "workload corrupted"
vb_signal checked
vb_wait finish 200
exit 0
GUEST

BUILD=$BUILD/san vb_start_daemon --ram-size 256M --page-reporting off ||
	vb_fail "daemon did not start"
vb_start_uml --mem 256M --vhost "$VB_SOCK" --timeout 240 -- "$T/guest.sh" "$DRIVER" ||
	vb_fail "UML did not boot"
ORPHAN=$VB_UML_LAUNCHER_PID ORPHAN_SHARE=$VB_SHARE ORPHAN_INFO=$VB_UML_INFO
vb_wait_guest loaded 120 || { vb_wait_uml; vb_fail "guest did not load the driver"; }
b0=$(vb_ramfile_bytes)
vb_ctl set $((128 * MIB)) >/dev/null || vb_fail "balloon failed"
vb_wait_actual $((128 * MIB)) 60 || vb_fail "inflate"
b1=$(vb_ramfile_bytes)
vb_log "inflated 128 MiB: RAM file $((b0 / MIB)) -> $((b1 / MIB)) MiB"
(( b0 - b1 >= 120 * MIB )) || vb_fail "inflate released only $(((b0 - b1) / MIB)) MiB"

kill -KILL "$VB_DAEMON_PID"
wait "$VB_DAEMON_PID" 2>/dev/null
vb_untrack "$VB_DAEMON_PID"
mv "$T/daemon.log" "$T/daemon.1.log"
rm -f "$VB_SOCK" "$VB_QMP"	# so vb_start_daemon waits for the new ones
BUILD=$BUILD/san vb_start_daemon --ram-size 256M --page-reporting off ||
	vb_fail "daemon did not restart"
vb_log "daemon restarted: $(vb_ctl list | tail -n 1)"
[ "$(vb_info connected)" = false ] || vb_fail "restarted daemon claims the old guest"

vb_signal_guest check
vb_wait_guest checked 90 || vb_fail "orphaned guest stopped working"
vb_log "orphaned guest: balloon_inflate=$(vb_get infl) balloon_deflate=$(vb_get defl), 48 MiB verified"
b2=$(vb_ramfile_bytes "$ORPHAN_INFO")
# the balloon is kept: the workload's 48 MiB may come from the free pages,
# never from the balloon, so the file stays well below its size before
(( b2 <= b0 - 64 * MIB )) || vb_fail "RAM file grew back to $((b2 / MIB)) MiB: balloon pages reused"
warn=$(grep -c "read returned 0" "$(vb_info_field "$ORPHAN_INFO" console)")
vb_log "UML console: $warn 'read returned 0' warnings for the dead backend"

# The restarted daemon serves a new guest on the same socket.
vb_start_uml --mem 256M --vhost "$VB_SOCK" --timeout 240 -- "$T/guest.sh" "$DRIVER" ||
	vb_fail "new UML did not boot"
vb_wait_guest loaded 120 || { vb_wait_uml; vb_fail "new guest did not load the driver"; }
vb_ctl set $((192 * MIB)) >/dev/null || vb_fail "balloon on the restarted daemon failed"
vb_wait_actual $((192 * MIB)) 60 || vb_fail "new guest did not inflate"
vb_ctl set $((256 * MIB)) >/dev/null
vb_wait_actual $((256 * MIB)) 60 || vb_fail "new guest did not deflate"
vb_signal_guest check
vb_wait_guest checked 90 || vb_fail "new guest workload"
vb_signal_guest finish
vb_wait_uml || vb_fail "new guest failed"
VB_SHARE=$ORPHAN_SHARE vb_signal_guest finish
con=$(vb_info_field "$ORPHAN_INFO" console)
vb_wait_console "$con" "VB-EXIT: 0" 60 || vb_fail "orphaned guest script did not finish"
# UML's shutdown removes the device and waits for a backend that is gone.
for ((i = 0; i < 100; i++)); do
	kill -0 "$ORPHAN" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$ORPHAN" 2>/dev/null; then
	vb_log "orphaned guest hangs at shutdown (device removal waits for the dead backend): killed"
	kill -KILL "$(vb_info_field "$ORPHAN_INFO" pid)"
fi
vb_wait_uml "$ORPHAN" >/dev/null 2>&1
vb_term_daemon "$T/daemon.log" "$T/daemon.1.log"
vb_log "ok"
