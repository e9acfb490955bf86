#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Deflate-on-OOM while the host grows the guest (vballoon.ko, UML +
# vballoond): the guest runs out of memory while a deflate of the whole
# balloon holds the balloon's lock.  The OOM notification waits for it, and
# by the time it has the lock the balloon is empty: the memory came back,
# but not through the notifier.  The notifier must still say memory came
# back, or the OOM killer kills with hundreds of MiB just freed (seen with
# the broker growing a guest at its floor under an unpaced spike).
# The module is build/um-slow-deflate/vballoon.ko (-DVB_TEST_SLOW_DEFLATE):
# a large deflate keeps its pages, acknowledged but not yet freed, until an
# OOM notification waits for the lock, so the interleaving is certain.
# Checked: nothing is OOM-killed, the workload verifies, the notification
# counted the deflate's pages (oom_credited) and none came back empty.
# VB_OOM_KO=PATH runs another build (a negative run: the same test
# build without the credit is OOM-killed every time).
# vb-test: timeout=240
. "$(dirname "$0")/../lib/common.sh"
ko=${VB_OOM_KO:-$BUILD/um-slow-deflate/vballoon.ko}
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload" "$ko"
MIB=$((1 << 20))
FULL=$((384 * MIB))
TARGET=$((128 * MIB))

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon ours || vb_fail "cannot load vballoon.ko"
vb_tmpfs /mnt/h
vb_signal loaded
vb_wait inflated 120 || exit 1
reqs=$(vb_ours_val deflate_reqs)
vb_signal ready
# The host sets the full size now: once the deflate's request is answered
# its pages are held (test build) until the workload runs out of memory.
i=0
while [ "$(vb_ours_val deflate_reqs)" = "$reqs" ]; do
	i=$((i + 1))
	[ $i -gt 6000 ] && vb_fail "no deflate within 60 s"
	sleep 0.01
done
rc=0
vb-workload fill --mib 200 --hold-file /mnt/h/p --seed 6 || rc=$?
[ $rc = 0 ] && { vb-workload verify --mib 200 --hold-file /mnt/h/p --seed 6 || rc=$?; }
vb_put rc "$rc"
if dmesg | grep -qi "killed process"; then vb_put oomkill yes; else vb_put oomkill no; fi
for k in oom_calls oom_credited oom_deflated oom_empty pages; do
	vb_put "$k" "$(vb_ours_val $k)"
done
dmesg | grep -iE "oom|killed process" | tail -n 5
exit 0
GUEST

vb_start_oom_uml "$ko" 384M "$T/guest.sh"
vb_ctl set "$TARGET" >/dev/null || vb_fail "balloon command failed"
vb_wait_actual "$TARGET" 120 || vb_fail "inflate did not finish"
vb_signal_guest inflated
vb_wait_guest ready 60 || { vb_wait_uml; vb_fail "guest not ready"; }
vb_ctl set "$FULL" >/dev/null || vb_fail "balloon command failed"
vb_wait_uml || vb_fail "guest script failed"
vb_log "workload rc $(vb_get rc), OOM kill: $(vb_get oomkill); notifications $(vb_get oom_calls):" \
	"credited $(vb_get oom_credited), deflated $(vb_get oom_deflated), empty $(vb_get oom_empty);" \
	"balloon $(vb_get pages) pages"
[ "$(vb_get oomkill)" = no ] || vb_fail "something was OOM-killed"
[ "$(vb_get rc)" = 0 ] || vb_fail "workload failed (rc $(vb_get rc))"
[ "$(vb_get oom_credited)" -gt 0 ] 2>/dev/null ||
	vb_fail "no OOM notification waited behind the deflate (the test did not test)"
[ "$(vb_get oom_empty)" = 0 ] || vb_fail "$(vb_get oom_empty) notifications freed nothing"
vb_log "ok"
