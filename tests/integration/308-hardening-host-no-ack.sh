#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest side: a host that stops acknowledging.  vballoond has no option to
# stop acking (and freezing it with SIGSTOP freezes the whole UML guest:
# UML's vhost-user frontend waits synchronously for every reply), so the
# host here is `vb-hostile noack`: a minimal balloon backend that answers
# every vhost-user message but uses only the first ACK buffers, then never
# another.  vballoon.ko (UML) is asked for 64 MiB and stalls on an
# unacknowledged request.  The driver must not wedge the guest:
#   1. processes run and a patterned workload verifies;
#   2. a memory hog (OOM with DEFLATE_ON_OOM: the notifier must tell a host
#      that never answers) ends, no hang;
#   3. rmmod vballoon finishes.
# Each phase has its own deadline; a miss is reported as a driver wedge.
# vb-test: timeout=300
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vb-hostile" "$BUILD/vb-workload"
DRIVER=${VB_DRIVER:-ours}	# VB_DRIVER=intree: the same with Linux's driver
[ "$DRIVER" = intree ] || [ -f "$BUILD/um/vballoon.ko" ] || vb_skip "vballoon.ko for UML not built"
ACK=${NOACK_ACK:-20}

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon "$1" || vb_fail "cannot load the $1 driver"
vb_tmpfs /mnt/h 40M
vb_signal loaded
vb_wait stalled 120 || exit 1
if [ "$1" = ours ]; then
	pages=$(cat "$(vb_ours_dir)/pages")
else
	pages=$(awk '/^balloon_inflate/ {i = $2} /^balloon_deflate/ {d = $2} END {print i - d}' /proc/vmstat)
fi
vb_put pages "$pages"
vb-workload fill --mib 32 --hold-file /mnt/h/p --seed 4 &&
	vb-workload verify --mib 32 --hold-file /mnt/h/p --seed 4 || vb_fail "workload"
for i in 1 2 3 4 5; do /bin/true; done
vb_signal worked
echo 1 >/proc/sys/vm/overcommit_memory
vb-workload alloc --mib 512 >/dev/null 2>&1
vb_put hog_rc $?
vb_signal hogged
vb_unload_balloon "$1"
vb_put rmmod_rc $?
vb_signal unloaded
vb-workload verify --mib 32 --hold-file /mnt/h/p --seed 4 || vb_fail "pattern lost"
dmesg | grep -E "blocked for more than|BUG|Oops" | head -n 5
exit 0
GUEST

vb_bg "$BUILD/vb-hostile" noack "$T/noack.sock" --pages 16384 --ack "$ACK" \
	--status "$T/noack.status" >"$T/noack.log" 2>&1
vb_wait_file "$T/noack.status" 10 "$VB_BG_PID" || vb_fail "noack backend did not start"
vb_start_uml --mem 256M --vhost "$T/noack.sock" --timeout 240 -- "$T/guest.sh" "$DRIVER" ||
	vb_fail "UML did not boot"
vb_wait_guest loaded 120 || { vb_wait_uml; vb_fail "guest did not load the $DRIVER driver"; }
for ((i = 0; i < 300; i++)); do
	ign=$(sed -n 's/^ignored=//p' "$T/noack.status")
	[ "${ign:-0}" -gt 0 ] && break
	sleep 0.1
done
[ "${ign:-0}" -gt 0 ] || vb_fail "the driver never queued a request past the $ACK acknowledged"
vb_log "host: $(tr '\n' ' ' <"$T/noack.status")(stops acknowledging)"
sleep 1
vb_signal_guest stalled
stuck() { vb_log "FAILED phase: $1"; tail -n 40 "$VB_UML_CONSOLE" | grep -v '^ \[<'; vb_fail "driver wedged the guest ($1) with a host that never acknowledges"; }
vb_wait_guest worked 60 || stuck "processes and workload"
vb_log "guest keeps working; balloon holds $(vb_get pages) pages"
vb_wait_guest hogged 90 || stuck "memory hog / OOM deflate"
vb_log "memory hog ended (rc $(vb_get hog_rc)), no hang"
vb_wait_guest unloaded 60 || stuck "rmmod"
vb_log "rmmod rc $(vb_get rmmod_rc)"
vb_wait_uml || vb_fail "guest script failed"
vb_log "ok"
