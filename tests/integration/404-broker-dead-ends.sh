#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vballoon-broker, dead ends: a config full of bad values, an endpoint that
# answers garbage, one that never answers, one that does not exist, a guest
# whose stats stop (its UML frozen), a guest that dies, and finally the
# daemon's QMP socket going away.  Each is logged and left alone while the
# other guest goes on being managed (it is grown when its workload needs
# it); nothing is ever taken below the default floor; the broker exits
# cleanly at the end.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/broker.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload" "$BUILD/vballoon-broker"
DRIVER=${VB_DRIVER:-ours}
[ "$DRIVER" = ours ] && vb_require "$BUILD/um/vballoon.ko"
command -v socat >/dev/null || vb_skip "no socat"
MIB=$((1 << 20))
# The device's floor for a 512 MiB guest (128 MiB + RAM/64) is above the
# broker's default (128 MiB): the broker plans above it.
FLOOR=$((136 * MIB))

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon "$1" || vb_fail "cannot load the $1 balloon driver"
vb_tmpfs /mnt/t
vb_touch_free /mnt/t 24
vb_signal idle
vb_wait work 300 || exit 1
# Paced as a real workload grows: this test shows alpha is still grown
# while beta is a dead end; the unpaced spike from the floor is test 402's.
vb-workload fill --mib 200 --rate 64 --hold-file /mnt/t/p --seed 9 || {
	dmesg | grep -iE "oom|killed process" | tail -n 5
	exit 1
}
vb_signal worked
vb_wait finish 300 || exit 1
exit 0
GUEST

vb_start_daemon --name alpha --ram-size 512M --page-reporting off --deflate-on-oom on \
	--guest "name=beta,socket=$T/beta.sock,ram-size=512M,page-reporting=off" ||
	vb_fail "daemon did not start"
vb_start_uml --mem 512M --vhost "$VB_SOCK" --timeout 400 -- "$T/guest.sh" "$DRIVER" ||
	vb_fail "UML alpha did not boot"
SHARE_A=$VB_SHARE PID_A=$VB_UML_LAUNCHER_PID
vb_start_uml --mem 512M --vhost "$T/beta.sock" --timeout 400 -- "$T/guest.sh" "$DRIVER" ||
	vb_fail "UML beta did not boot"
SHARE_B=$VB_SHARE PID_B=$VB_UML_LAUNCHER_PID GROUP_B=$VB_UML_PID
VB_SHARE=$SHARE_A vb_wait_guest idle 120 || vb_fail "alpha not idle"
VB_SHARE=$SHARE_B vb_wait_guest idle 120 || vb_fail "beta not idle"

# Endpoints that are not QMP servers.
# (Each connection's child ends by itself: a greeting then garbage; cat
# echoes nothing until the broker speaks, which it never does first.)
vb_bg socat UNIX-LISTEN:"$T/garbage.sock",fork \
	SYSTEM:'echo "{\"QMP\": {\"version\": {}}}"; head -c 3000 /dev/urandom' 2>>"$T/socat.log"
vb_bg socat UNIX-LISTEN:"$T/silent.sock",fork EXEC:cat 2>>"$T/socat.log"
vb_wait_file "$T/garbage.sock" 10 && vb_wait_file "$T/silent.sock" 10 || vb_fail "socat"
cat >"$T/broker.conf" <<EOF
floor=nan,headroom=-5M,weight=abc,max-resizes=0
budget=-1G,interval=nan
guest=alpha,floor=1e400,ceiling=0x10
qmp=$VB_QMP
qmp=$T/garbage.sock,name=garbage
qmp=$T/silent.sock,name=silent
qmp=$T/none.sock,name=none
$(head -c 300 /dev/urandom | tr -d '\n\0')
EOF
vb_start_broker --config "$T/broker.conf"

# Down to the default floor (within the hysteresis, min-change 8 MiB).
for g in alpha beta; do
	end=$((SECONDS + 120))
	while (( SECONDS < end )); do
		a=$(vb_actual "$g") && (( a <= FLOOR + 8 * MIB )) && break
		sleep 0.2
	done
	(( a >= FLOOR && a <= FLOOR + 8 * MIB )) ||
		vb_fail "$g at $((a / MIB)) MiB, not at the default floor"
done
vb_log "both guests at the default floor of 128 MiB (+ hysteresis)"
errs=$(grep -ac "config line" "$T/broker.log")
vb_log "$errs config errors logged"
(( errs >= 8 )) || vb_fail "bad config values not reported"
grep -q "garbage.sock: .*not QMP (bad JSON)" "$T/broker.log" || vb_fail "garbage endpoint not reported"
grep -q "silent.sock: greeting: no answer in time" "$T/broker.log" || vb_fail "silent endpoint not reported"
grep -q "none.sock: connect" "$T/broker.log" || vb_fail "missing endpoint not reported"

# Stats stop: beta frozen.  It is marked and left alone; alpha goes on.
b_before=$(vb_actual beta)
kill -STOP -- "-$GROUP_B"
vb_wait_broker_log "guest beta: stats stopped: left alone" 60 || vb_fail "beta not marked stale"
VB_SHARE=$SHARE_A vb_signal_guest work
VB_SHARE=$SHARE_A vb_wait_guest worked 200 || vb_fail "alpha's workload failed"
grep -q "guest alpha: target .* reason pressure-" "$T/broker.log" || vb_fail "alpha not grown"
[ "$(vb_actual beta)" = "$b_before" ] || vb_fail "beta resized while stale"

# A guest dies (the frozen one: UML does not always survive SIGCONT).
kill -KILL -- "-$GROUP_B"
vb_wait_uml "$PID_B" 2>/dev/null
vb_wait_broker_log "guest beta: not connected: left alone" 60 || vb_fail "beta's death not seen"
[ "$(vb_broker_status alpha)" = ok ] || vb_fail "alpha not managed after beta died"
VB_SHARE=$SHARE_A vb_signal_guest finish
vb_wait_uml "$PID_A" || vb_fail "alpha's script failed"

# The daemon's socket goes away.
vb_stop_daemon
vb_wait_broker_log "qmp.sock: .*its guests are left alone" 30 || vb_fail "daemon's end not seen"
kill -0 "$VB_BROKER_PID" || vb_fail "the broker died"
low=$(sed -n 's/.*guest [a-z]*: target [0-9]* -> \([0-9]*\) MiB.*/\1/p' "$T/broker.log" | sort -n | head -1)
vb_log "lowest target set: $low MiB"
(( low >= 128 )) || vb_fail "a target below the floor was set"
warns=$(grep -c "garbage.sock" "$T/broker.log")
vb_log "garbage endpoint: $warns log lines"
(( warns <= 30 )) || vb_fail "garbage endpoint flooded the log"
kill -TERM "$VB_BROKER_PID"
wait "$VB_BROKER_PID"
rc=$?
vb_untrack "$VB_BROKER_PID"
[ "$rc" = 0 ] || vb_fail "broker exited with $rc"
vb_log "ok"
