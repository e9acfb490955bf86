#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A device that cannot hurt its guest.  With Linux's in-tree driver and
# deflate-on-oom off, a target of 1 MiB used to kill a 700 MiB UML guest
# ("System is deadlocked on memory"), and, kept across the disconnect, its
# next boot too.  Now every guest has a floor (default: half its RAM, at
# most 128 MiB + RAM/64): a 1 MiB and a 1-byte target are refused with an
# error naming the floor and one log line each, the target stays where it
# was, the guest lives; the floor itself is accepted and the guest lives at
# it; a rebooted guest on the same socket inherits that target and lives;
# floor=0 (the operator's explicit choice) takes the floor away.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl"
M=$((1 << 20))
RAM=$((700 * M))
FLOOR=$((128 * M + RAM / 64))

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon intree || vb_fail "cannot load virtio_balloon"
vb_signal loaded
n=0
# Alive means: answers each ping while the host tries targets.
while ! vb_share_has done; do
	if vb_share_has "ping$n"; then
		vb_signal "pong$n"
		n=$((n + 1))
	fi
	sleep 0.2
done
vb_check_dmesg || exit 1
GUEST

PING=0
alive() {
	vb_signal_guest "ping$PING"
	vb_wait_guest "pong$PING" 60 || { vb_wait_uml; vb_fail "$1: the guest stopped answering"; }
	PING=$((PING + 1))
}

boot() {
	PING=0
	vb_start_uml --mem 700M --vhost "$VB_SOCK" --timeout 300 -- "$T/guest.sh" ||
		vb_fail "UML did not boot"
	vb_wait_guest loaded 120 || { vb_wait_uml; vb_fail "guest did not load the driver"; }
}

vb_start_daemon --ram-size 700M --deflate-on-oom off || vb_fail "daemon did not start"
boot
vb_wait_actual "$RAM" 60 || vb_fail "not a 700 MiB guest"
[ "$(vb_info floor)" = "$FLOOR" ] || vb_fail "default floor is $(vb_info floor), want $FLOOR"
for t in 1M 1; do
	err=$(vb_ctl set "$t" 2>&1) && vb_fail "a target of $t was accepted"
	vb_log "set $t: $err"
	grep -q "floor" <<<"$err" || vb_fail "the refusal of $t does not name the floor: $err"
	[ "$(vb_info target)" = "$RAM" ] || vb_fail "the refused target $t changed the target"
	sleep 3
	alive "after a refused target of $t"
done
[ "$(grep -c 'below the floor' "$T/daemon.log")" = 2 ] ||
	vb_fail "want one log line per refused target: $(grep 'floor' "$T/daemon.log")"
vb_ctl set "$FLOOR" >/dev/null || vb_fail "the floor itself was refused"
vb_wait_actual "$FLOOR" 120 || vb_fail "the balloon did not reach the floor"
sleep 3
alive "at the floor"

# Reboot: the new driver inherits the kept target, and lives with it.
vb_signal_guest done
vb_wait_uml || vb_fail "guest script failed at the floor"
boot
vb_wait_actual "$FLOOR" 120 || vb_fail "the rebooted guest did not inherit the kept target"
sleep 3
alive "rebooted at the kept target"
vb_ctl set "$RAM" >/dev/null
vb_wait_actual "$RAM" 120 || vb_fail "deflate after the reboot"
vb_signal_guest done
vb_wait_uml || vb_fail "rebooted guest's script failed"
vb_term_daemon

# floor=0: the operator takes the floor away; a small target is accepted.
vb_start_daemon --ram-size 64M --floor 0 || vb_fail "daemon with floor 0 did not start"
vb_ctl set 1M >/dev/null || vb_fail "floor 0: a 1 MiB target was refused"
[ "$(vb_info floor)" = 0 ] || vb_fail "floor 0 reads back as $(vb_info floor)"
vb_log "floor $((FLOOR >> 20)) MiB kept a 700 MiB guest alive through 1 MiB/1 B targets and a reboot"
