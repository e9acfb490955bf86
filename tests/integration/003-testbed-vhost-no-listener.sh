#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A UML guest given a vhost-user device nobody serves fails fast with a clear
# message instead of hanging: (a) a stale socket file with no listener is
# refused on the host before booting; (b) a listener that drops the
# connection makes the guest's virtio_uml probe fail, reported as such;
# (c) a missing socket is refused.
. "$(dirname "$0")/../lib/common.sh"

echo 'echo "guest script ran"; exit 0' >"$T/guest.sh"

# (a) bound, never listening
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/stale.sock"
[ -S "$T/stale.sock" ] || vb_fail "could not make a stale socket"
rc=0
out=$("$TOP/testbed/uml-run" --timeout 60 --vhost "$T/stale.sock" -- "$T/guest.sh" 2>&1) || rc=$?
echo "$out"
[ "$rc" = 2 ] || vb_fail "(a) stale socket: exit $rc, want 2"
grep -q "nobody is listening" <<<"$out" || vb_fail "(a) no clear message"

# (b) a listener that accepts and closes at once
socat "UNIX-LISTEN:$T/drop.sock,fork" EXEC:/bin/true &
vb_track $!
vb_wait_file "$T/drop.sock" 10 || vb_fail "socat did not listen"
rc=0
out=$("$TOP/testbed/uml-run" --timeout 60 --vhost "$T/drop.sock" -- "$T/guest.sh" 2>&1) || rc=$?
echo "$out" | tail -n 5
[ "$rc" = 125 ] || vb_fail "(b) dropped connection: exit $rc, want 125"
grep -q "did not accept the connection" <<<"$out" || vb_fail "(b) no clear message"
grep -q "guest script ran" <<<"$out" && vb_fail "(b) the guest script ran without its device"

# (c) no socket at all
rc=0
out=$("$TOP/testbed/uml-run" --vhost "$T/none.sock" -- "$T/guest.sh" 2>&1) || rc=$?
echo "$out"
[ "$rc" = 2 ] && grep -q "does not exist" <<<"$out" || vb_fail "(c) missing socket: exit $rc"
vb_log "all three refused with a clear message"
