#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Valgrind-clean run of a short scenario with the plain (non-SAN) daemon:
# a UML guest (in-tree driver) inflated and deflated, a vb-hostile guest
# served beside it, a few hostile cases and control commands, then SIGTERM.
# Fails on any memcheck error or definite leak (exit status 99).
# vb-test: timeout=400
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-hostile"
command -v valgrind >/dev/null || vb_skip "valgrind not installed"
MIB=$((1 << 20))
VG_LOG=$T/valgrind.log
# valgrind needs the plain build (ASan and valgrind do not mix).
VB_DAEMON=$BUILD/vballoond
VB_DAEMON_WRAPPER="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --track-fds=no --log-file=$VG_LOG"

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon intree || vb_fail "cannot load virtio_balloon"
vb_signal loaded
vb_wait finish 300 || exit 1
exit 0
GUEST

vb_start_daemon --name uml --ram-size 256M --stats-interval 1 \
	--guest "name=fe,socket=$T/fe.sock" || vb_fail "daemon did not start under valgrind"
vb_start_uml --mem 256M --vhost "$VB_SOCK" --timeout 300 -- "$T/guest.sh" || vb_fail "UML did not boot"
vb_bg "$BUILD/vb-hostile" good "$T/fe.sock" --mib 16 --until "$T/stop" >"$T/good.log" 2>&1
GOOD=$VB_BG_PID
vb_wait_guest loaded 180 || { vb_wait_uml; vb_fail "guest did not load the driver"; }
vb_ctl --guest uml set $((192 * MIB)) >/dev/null || vb_fail "balloon failed"
vb_wait_actual $((192 * MIB)) 180 uml || vb_fail "inflate under valgrind"
vb_ctl --guest fe set 8M >/dev/null || vb_fail "balloon fe failed"
vb_ctl --json query >/dev/null || vb_fail "query"
vb_ctl --guest uml --json stats >/dev/null || vb_fail "stats"
vb_ctl --guest uml stats-request >/dev/null || vb_fail "stats-request"
vb_ctl --guest uml hint start >/dev/null || vb_fail "hint start"
sleep 2
vb_ctl --guest uml hint status >/dev/null || vb_fail "hint status"
vb_ctl --guest uml hint ranges >/dev/null || vb_fail "hint ranges"
vb_ctl --guest uml hint done >/dev/null || vb_fail "hint done"
vb_ctl --guest uml set $((256 * MIB)) >/dev/null
vb_wait_actual $((256 * MIB)) 180 uml || vb_fail "deflate under valgrind"
touch "$T/stop"
wait "$GOOD"; vb_untrack "$GOOD"
vb_signal_guest finish
vb_wait_uml || vb_fail "guest script failed"
# hostile cases on the now free socket
for c in pfns-outside-ram descriptor-loop absurd-indexes bad-mem-tables bad-vrings disconnect-in-flight; do
	"$BUILD/vb-hostile" hostile "$T/fe.sock" --case "$c" >>"$T/hostile.log" 2>&1 ||
		{ cat "$T/hostile.log"; vb_fail "hostile case $c"; }
done
kill -TERM "$VB_DAEMON_PID"
wait "$VB_DAEMON_PID"; rc=$?
vb_untrack "$VB_DAEMON_PID"
grep -E "ERROR SUMMARY|definitely lost|Invalid|uninitialised" "$VG_LOG" | head -n 20
[ "$rc" = 0 ] || { tail -n 60 "$VG_LOG"; vb_fail "vballoond under valgrind exited with $rc"; }
grep -q "ERROR SUMMARY: 0 errors" "$VG_LOG" || vb_fail "valgrind reported errors"
vb_log "ok: valgrind clean"
