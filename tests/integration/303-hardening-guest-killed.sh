#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fault: the UML guest is SIGKILLed in the middle of a large inflate.  The
# (ASan+UBSan) daemon must notice the vanished frontend, keep the guest's
# target, and serve a new guest connecting to the same socket: that guest's
# balloon reaches the target, deflates, and its memory verifies clean.
# vb-test: timeout=400
. "$(dirname "$0")/../lib/common.sh"
SAN_D=$BUILD/san/vballoond
vb_require "$SAN_D" "$BUILD/vballoonctl" "$BUILD/vb-workload"
DRIVER=${VB_DRIVER:-intree}
MIB=$((1 << 20))
FULL=$((384 * MIB))
TARGET=$((64 * MIB))
export ASAN_OPTIONS=exitcode=66

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon "$1" || vb_fail "cannot load the $1 balloon driver"
vb_signal loaded
vb_wait finish 240 || exit 1
[ "$2" = verify ] || exit 0
mib=$(( $(vb_meminfo MemAvailable) / 1024 - 48 ))
vb_tmpfs /mnt/w
vb-workload fill --mib $mib --hold-file /mnt/w/f --seed 3 &&
	vb-workload verify --mib $mib --hold-file /mnt/w/f --seed 3 || vb_fail "workload"
vb_put verified $mib
exit 0
GUEST

# floor 0: this test takes the guest below the default floor on purpose.
BUILD=$BUILD/san vb_start_daemon --ram-size 384M --page-reporting off --floor 0 ||
	vb_fail "daemon did not start"
vb_start_uml --mem 384M --vhost "$VB_SOCK" --timeout 300 -- "$T/guest.sh" "$DRIVER" ||
	vb_fail "UML did not boot"
vb_wait_guest loaded 120 || { vb_wait_uml; vb_fail "guest did not load the driver"; }
vb_ctl set "$TARGET" >/dev/null || vb_fail "balloon failed"
# Kill it once the inflate is under way (some pages discarded, not all).
mid=no
for ((i = 0; i < 600; i++)); do
	d=$(vb_info discarded-bytes) || d=0
	if [ "$d" -gt 0 ]; then
		a=$(vb_actual)
		[ "$a" -gt "$TARGET" ] && mid=yes
		break
	fi
	sleep 0.02
done
kill -KILL "$VB_UML_PID"
vb_log "guest killed after $((d / MIB)) MiB discarded (mid-inflate: $mid)"
vb_wait_uml && vb_fail "killed guest reported success"
for ((i = 0; i < 100; i++)); do
	[ "$(vb_info connected)" = false ] && break
	sleep 0.1
done
kill -0 "$VB_DAEMON_PID" || vb_fail "daemon died with the guest"
[ "$(vb_info connected)" = false ] || vb_fail "daemon still sees the killed guest"
[ "$(vb_ctl --json query | jq '.[0].target')" = "$TARGET" ] || vb_fail "target lost"

# A new guest on the same socket gets the kept target, then its memory back.
vb_start_uml --mem 384M --vhost "$VB_SOCK" --timeout 300 -- "$T/guest.sh" "$DRIVER" verify ||
	vb_fail "second UML did not boot"
vb_wait_guest loaded 120 || { vb_wait_uml; vb_fail "second guest did not load the driver"; }
vb_wait_actual "$TARGET" 120 || vb_fail "reconnected guest did not reach the kept target"
vb_ctl set "$FULL" >/dev/null
vb_wait_actual "$FULL" 120 || vb_fail "reconnected guest did not deflate"
vb_signal_guest finish
vb_wait_uml || vb_fail "second guest failed"
vb_log "second guest verified $(vb_get verified) MiB"
[ "$(vb_info broken)" = false ] || vb_fail "device left broken"
vb_term_daemon
vb_log "ok"
