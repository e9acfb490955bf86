#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fault: control clients that vanish mid-command.  Against the ASan+UBSan
# daemon serving a (vb-hostile) well-behaved guest: clients that hang up
# half-way through a command, right after sending one (replies pending),
# with many pipelined commands unread, while subscribed to a flood of
# events and never reading, SIGKILLed event followers, and more clients than
# the daemon accepts.  Afterwards the daemon is alive, has no more open
# descriptors than before (no leaked client), still answers, the command
# sent by a vanished client took effect (a target nothing else sets, seen
# before anything else changes it), and the guest's balloon works.
# hardening/negative-run.sh shows this test failing against a daemon that
# drops what a client sent just before it hung up.
# vb-test: timeout=200
. "$(dirname "$0")/../lib/common.sh"
SAN_D=$BUILD/san/vballoond
vb_require "$SAN_D" "$BUILD/vb-hostile" "$BUILD/vballoonctl"
command -v python3 >/dev/null || vb_skip "python3 missing"
MIB=$((1 << 20))
export ASAN_OPTIONS=exitcode=66

ctl() { "$BUILD/vballoonctl" --qmp "$VB_QMP" "$@"; }
nfds() { ls "/proc/$VB_DAEMON_PID/fd" | wc -l; }
pages() { sed -n 's/^actual_pages=//p' "$T/good.status" 2>/dev/null; }
wait_pages() {	# 60 s: the daemon and the guest share 2 busy cores
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(pages)" = "$1" ] && return 0
		sleep 0.1
	done
	vb_fail "guest balloon at $(pages) pages, want $1"
}

BUILD=$BUILD/san vb_start_daemon --name g --ram-size 64M || vb_fail "daemon did not start"
vb_bg "$BUILD/vb-hostile" good "$VB_SOCK" --mib 64 --until "$T/stop" --status "$T/good.status" \
	>"$T/good.log" 2>&1
GOOD=$VB_BG_PID
vb_wait_file "$T/good.status" 20 "$GOOD" || vb_fail "guest did not come up"
ctl query >/dev/null || vb_fail "no control"
fd0=$(nfds)

# events flood: a follower that never reads while targets change fast,
# a follower SIGKILLed mid-stream
python3 - "$VB_QMP" >"$T/py.log" 2>&1 <<'PY' || { cat "$T/py.log"; vb_fail "client script failed"; }
import json, os, socket, sys, time
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s
caps = b'{"execute":"qmp_capabilities"}\n'
n = 0
# 1. half a command, then gone (with and without capabilities)
for i in range(50):
    s = conn(); s.sendall(caps + b'{"execute":"query-bal'); s.close(); n += 1
    s = conn(); s.sendall(b'{"execute"'); s.close(); n += 1
# 2. a command whose effect must survive its client: balloon, then gone.
# 40 MiB is a value nothing else here sets: only this command can make it
# the target, so a daemon that drops it fails here.
VANISHED = 40 << 20
s = conn(); s.sendall(caps + b'{"execute":"balloon","arguments":{"value":%d}}\n' % VANISHED); s.close(); n += 1
def target():
    s = conn(); f = s.makefile("rwb")
    f.write(caps + b'{"execute":"x-vb-query","arguments":{"guest":"g"}}\n'); f.flush()
    for line in f:
        r = json.loads(line)
        if "return" in r and "target" in r["return"]:
            s.close(); return r["return"]["target"]
    s.close()
for i in range(600):    # 60 s: the daemon shares 2 busy cores
    t = target()
    if t == VANISHED:
        break
    time.sleep(0.1)
else:
    sys.exit("the vanished client's balloon %d did not take effect (target %s)" % (VANISHED, t))
print("vanished client's balloon took effect: target", t)
# 3. many pipelined commands with big replies, never read, then gone
for i in range(20):
    s = conn()
    s.sendall(caps + b'{"execute":"query-commands"}\n{"execute":"x-vb-query"}\n' * 200)
    s.close(); n += 1
# 4. a subscriber that never reads while events flood, kept open, then RST
lazy = conn(); lazy.sendall(caps)
drv = conn(); drv.sendall(caps); drv.recv(4096)
for i in range(300):
    v = (64 - (i % 3) * 8) << 20
    drv.sendall(b'{"execute":"balloon","arguments":{"value":%d}}\n' % v)
    drv.recv(65536)
lazy.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
lazy.close(); drv.close(); n += 2
# 5. more clients than the daemon accepts, all at once, then gone
many = []
for i in range(100):
    try:
        many.append(conn())
    except OSError:
        pass
for s in many:
    try:
        s.sendall(caps + b'{"execute":"query-balloon"}\n')
    except OSError:
        pass
for s in many:
    s.close()
n += len(many)
print("vanishing clients:", n)
PY
cat "$T/py.log"
# an event follower killed mid-stream
vb_bg "$BUILD/vballoonctl" --qmp "$VB_QMP" events >/dev/null
sleep 0.3
kill -KILL "$VB_BG_PID"; wait "$VB_BG_PID" 2>/dev/null; vb_untrack "$VB_BG_PID"

# The daemon closes a vanished client when its loop gets to the hang-up:
# give a busy machine time (a leaked descriptor never goes away).
for ((i = 0; i < 300; i++)); do
	kill -0 "$VB_DAEMON_PID" || { tail -n 30 "$T/daemon.log"; vb_fail "daemon died"; }
	fd1=$(nfds)
	[ "$fd1" -le "$fd0" ] && break
	sleep 0.1
done
vb_log "daemon descriptors: $fd0 before, $fd1 after the vanished clients"
[ "$fd1" -le "$fd0" ] || { ls -l "/proc/$VB_DAEMON_PID/fd"; vb_fail "descriptors leaked"; }
ctl query >/dev/null || vb_fail "daemon no longer answers"
# the last balloon sent by the flood loop was 64 - (299 % 3) * 8 = 48 MiB
wait_pages 4096
ctl set 32M >/dev/null || vb_fail "balloon refused"
wait_pages 8192
ctl set 64M >/dev/null
wait_pages 0
touch "$T/stop"
wait "$GOOD"; rc=$?; vb_untrack "$GOOD"
[ "$rc" = 0 ] || { cat "$T/good.log"; vb_fail "guest failed ($rc)"; }
lines=$(wc -l <"$T/daemon.log")
vb_log "daemon log: $lines lines"
[ "$lines" -le 400 ] || vb_fail "control clients flooded the log ($lines lines)"
vb_term_daemon
vb_log "ok"
