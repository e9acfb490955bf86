#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Launchers refuse bad sizes, paths and missing files with a clear message
# (exit 2, nothing booted); a guest that hangs is killed at its timeout
# (124) and one that panics is reported (125), console tail printed, nothing
# left running.
. "$(dirname "$0")/../lib/common.sh"

echo 'exit 0' >"$T/ok.sh"
UML=$TOP/testbed/uml-run QEMU=$TOP/testbed/qemu-run

# refuse LAUNCHER WANT_MESSAGE ARGS...: exit 2 and the message on stderr.
refuse() {
	local launcher=$1 want=$2 rc=0 out
	shift 2
	out=$("$launcher" "$@" 2>&1) || rc=$?
	[ "$rc" = 2 ] || vb_fail "$(basename "$launcher") $*: exit $rc, want 2 ($out)"
	grep -qi -- "$want" <<<"$out" ||
		vb_fail "$(basename "$launcher") $*: message lacks '$want': $out"
	echo "refused: $(basename "$launcher") $* -> $(grep -i -- "$want" <<<"$out" | head -n 1)"
}

for l in "$UML" "$QEMU"; do
	refuse "$l" "bad size" --mem 12Q -- "$T/ok.sh"
	refuse "$l" "bad size" --mem -5M -- "$T/ok.sh"
	refuse "$l" "out of range" --mem 0 -- "$T/ok.sh"
	refuse "$l" "out of range" --mem 100G -- "$T/ok.sh"
	refuse "$l" "whole number of MiB" --mem 1000K -- "$T/ok.sh"
	refuse "$l" "bad timeout" --timeout 0 -- "$T/ok.sh"
	refuse "$l" "bad timeout" --timeout soon -- "$T/ok.sh"
	refuse "$l" "does not exist" -- "$T/missing.sh"
	refuse "$l" "not a regular file" -- "$T"
	refuse "$l" "no guest script"
	refuse "$l" "unknown option" --frobnicate -- "$T/ok.sh"
	refuse "$l" "needs a value" --mem
	refuse "$l" "does not exist" --module "$T/nope.ko" -- "$T/ok.sh"
	refuse "$l" "not a .ko" --module "$T/ok.sh" -- "$T/ok.sh"
	refuse "$l" "does not exist" --console "$T/no/such/dir/console" -- "$T/ok.sh"
	refuse "$l" "not a directory" --share "$T/nodir" -- "$T/ok.sh"
done
refuse "$UML" "not a directory" --ram-dir "$T/nodir" -- "$T/ok.sh"
refuse "$UML" "bad virtio device ID" --vhost "$T/x.sock:999" -- "$T/ok.sh"
refuse "$QEMU" "not a property list" --balloon 'x;rm -rf /' -- "$T/ok.sh"
refuse "$QEMU" "bad --smp" --smp 0 -- "$T/ok.sh"

# A hung guest is killed at its timeout, with the console's tail.
echo 'echo hanging-now; sleep 1000' >"$T/hang.sh"
rc=0
out=$("$UML" --timeout 15 -- "$T/hang.sh" 2>&1) || rc=$?
out_hang=$out
[ "$rc" = 124 ] || vb_fail "hung guest: exit $rc, want 124"
grep -q "timed out after 15s" <<<"$out" || vb_fail "hung guest: no timeout message"
grep -q -- "--- last .* console lines" <<<"$out" || vb_fail "hung guest: console tail not printed"

# A panicking guest (sysrq crash) is reported as a panic.
echo 'echo c >/proc/sysrq-trigger; sleep 100' >"$T/panic.sh"
rc=0
out=$("$UML" --timeout 60 -- "$T/panic.sh" 2>&1) || rc=$?
[ "$rc" = 125 ] || vb_fail "panicking guest: exit $rc, want 125"
grep -q "panicked" <<<"$out" || vb_fail "panicking guest: no panic message"
grep -q "Kernel panic" <<<"$out" || vb_fail "panicking guest: console tail not printed"

# The same for QEMU: a panic (panic=-1 + -no-reboot) is reported as such.
rc=0
out_q=$("$QEMU" --timeout 120 -- "$T/panic.sh" 2>&1) || rc=$?
[ "$rc" = 125 ] || vb_fail "panicking QEMU guest: exit $rc, want 125"
grep -q "panicked" <<<"$out_q" || vb_fail "panicking QEMU guest: no panic message"
qrun=$(sed -n 's/.*console \(.*\)\/console$/\1/p' <<<"$out_q")
[ -n "$qrun" ] && [ ! -e "$qrun" ] || vb_fail "QEMU run dir '$qrun' left behind"

# Neither left anything behind (processes, run dir, RAM dir).
check_gone() {
	local out=$1 pid dirs d
	pid=$(sed -n 's/.*booting UML (pid \([0-9]*\).*/\1/p' <<<"$out")
	dirs=$(sed -n 's/.*run dir \(.*\), RAM dir \(.*\)$/\1 \2/p' <<<"$out")
	[ -n "$pid" ] && [ -n "$dirs" ] || vb_fail "launcher did not report pid and dirs"
	pgrep -g "$pid" >/dev/null && vb_fail "processes of UML group $pid still running"
	for d in $dirs; do
		[ -e "$d" ] && vb_fail "left behind: $d"
	done
	return 0
}
check_gone "$out_hang"
check_gone "$out"
vb_log "all bad inputs refused; hang and panic reported"
