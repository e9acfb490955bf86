#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A guest holding a verifiable pattern (tmpfs file + anonymous memory,
# re-verified every second) survives repeated inflate/deflate cycles with
# zero corruption; every ballooned page comes back (inflated == deflated).
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload"
DRIVER=${VB_DRIVER:-intree}
MIB=$((1 << 20))
CYCLES=${VB_CYCLES:-4}

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon "$1" || vb_fail "cannot load the $1 balloon driver"
vb_tmpfs /mnt/h
vb-workload fill --mib 128 --hold-file /mnt/h/p --seed 21 --ready /tmp/r1 \
	--hold-until /tmp/stop --interval 1 >/tmp/w1.log 2>&1 &
p1=$!
vb-workload fill --mib 8 --seed 22 --ready /tmp/r2 --hold-until /tmp/stop \
	--interval 1 >/tmp/w2.log 2>&1 &
p2=$!
i=0
while [ ! -e /tmp/r1 ] || [ ! -e /tmp/r2 ]; do
	i=$((i + 1)); [ $i -gt 1200 ] && vb_fail "workloads not ready"
	sleep 0.1
done
vb_signal held
vb_wait stop 600 || exit 1
: >/tmp/stop
rc=0
wait $p1 || rc=1
wait $p2 || rc=1
cat /tmp/w1.log /tmp/w2.log
[ $rc = 0 ] || vb_fail "pattern corrupted while ballooning"
vb-workload verify --mib 128 --hold-file /mnt/h/p --seed 21 || vb_fail "final verify"
vb_log "patterns intact"
exit 0
GUEST

vb_start_daemon_uml 512M -- --timeout 600 -- "$T/guest.sh" "$DRIVER"
vb_wait_guest held 180 || { vb_wait_uml; vb_fail "guest workloads did not start"; }
full=$((512 * MIB))
for ((c = 1; c <= CYCLES; c++)); do
	vb_ctl set $((full - 200 * MIB)) >/dev/null || vb_fail "balloon failed"
	vb_wait_actual $((full - 200 * MIB)) 120 || vb_fail "cycle $c: inflate did not finish"
	vb_ctl set "$full" >/dev/null || vb_fail "balloon failed"
	vb_wait_actual "$full" 120 || vb_fail "cycle $c: deflate did not finish"
	vb_log "cycle $c: inflated and deflated 200 MiB"
done
sleep 2	# a couple of re-verifications with everything returned
vb_signal_guest stop
vb_wait_uml || vb_fail "guest reported corruption or failed"
inf=$(vb_info inflated-pages) def=$(vb_info deflated-pages)
vb_log "daemon: inflated $inf pages, deflated $def pages"
(( inf >= CYCLES * 200 * 256 )) || vb_fail "only $inf pages inflated"
[ "$inf" = "$def" ] || vb_fail "inflated $inf != deflated $def"
[ "$(vb_info refused)" = 0 ] || vb_fail "daemon refused requests"
vb_log "ok"
