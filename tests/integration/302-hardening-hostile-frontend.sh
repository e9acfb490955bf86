#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A hostile vhost-user frontend (vb-hostile) against the ASan+UBSan daemon,
# while a second, well-behaved guest is served by the same daemon.  Each
# hostile case runs on fresh connections and must show exactly the outcome
# the table in docs/hardening.md gives it (error reply, disconnect, request
# refused, broken, ignored, survived): vb-hostile checks it, with the
# daemon's own broken flag and refused counter over QMP, and the table is
# the one vb-hostile prints (--table), so the two cannot drift.  After each
# case: the daemon is alive, answers a new frontend, logged a bounded number
# of lines (rate limits, floods included), and the good guest's balloon
# still follows its target.  vb-hostile checks that the parts of its RAM
# file outside the shared region kept content and blocks; the good guest
# checks its pattern at the end.  No sanitizer report may appear.
# hardening/negative-run.sh shows this test failing against daemons that
# answer a refusal by hanging up or accept what they must refuse.
# vb-test: timeout=400
. "$(dirname "$0")/../lib/common.sh"
SAN_D=$BUILD/san/vballoond
vb_require "$SAN_D" "$BUILD/vb-hostile" "$BUILD/vballoonctl"
MIB=$((1 << 20))
export ASAN_OPTIONS=abort_on_error=0:exitcode=66 UBSAN_OPTIONS=print_stacktrace=1
MAX_LINES=${VB_HOSTILE_MAX_LINES:-80}	# per case: rate limits hold under floods

ctl() { "$BUILD/vballoonctl" --qmp "$VB_QMP" "$@"; }
alive() { kill -0 "$VB_DAEMON_PID" 2>/dev/null || { tail -n 40 "$T/daemon.log"; vb_fail "vballoond died ($1)"; }; }
status_of() { sed -n "s/^$1=//p" "$T/good.status" 2>/dev/null; }
wait_good_pages() {	# wait until the good guest's balloon holds N pages
	local i
	# 60 s: floods of the hostile case share 2 busy cores with it
	for ((i = 0; i < 600; i++)); do
		[ "$(status_of actual_pages)" = "$1" ] && return 0
		sleep 0.1
	done
	vb_fail "good guest: balloon at $(status_of actual_pages) pages, want $1"
}

BUILD=$BUILD/san vb_start_daemon --name hostile --ram-size 16M \
	--guest "name=good,socket=$T/good.sock" || vb_fail "daemon did not start"
vb_bg "$BUILD/vb-hostile" good "$T/good.sock" --mib 32 --until "$T/good.stop" \
	--status "$T/good.status" >"$T/good.log" 2>&1
GOOD_PID=$VB_BG_PID
vb_wait_file "$T/good.status" 20 "$GOOD_PID" || vb_fail "good guest did not come up: $(cat "$T/good.log")"
blocks0=$(status_of ram_blocks)

# The documented table is the one the cases carry.
table() { sed -n '/^<!-- hostile-cases: /,/^<!-- end hostile-cases -->/p' "$TOP/docs/hardening.md" | sed '1d;$d'; }
diff <(table) <("$BUILD/vb-hostile" hostile --table) ||
	vb_fail "docs/hardening.md's hostile case table differs from vb-hostile hostile --table"
expected_of() { table | awk -F' [|] ' -v c="| $1" '$1 == c { sub(/ [|]$/, "", $3); print $3 }'; }

n=0 i=0
for c in $("$BUILD/vb-hostile" hostile --list); do
	before=$(wc -l <"$T/daemon.log")
	# the case runs while the other guest's balloon is moved (served
	# concurrently, floods included)
	vb_bg "$BUILD/vb-hostile" hostile "$VB_SOCK" --qmp "$VB_QMP" --guest hostile \
		--case "$c" >"$T/case.log" 2>&1
	hpid=$VB_BG_PID
	i=$((i + 1))
	want=$(( (i % 3) * 1024 ))
	ctl --guest good set $((32 * MIB - want * 4096)) >/dev/null || vb_fail "balloon good refused during $c"
	wait_good_pages "$want"
	wait "$hpid" || { cat "$T/case.log"; vb_fail "hostile case $c failed"; }
	vb_untrack "$hpid"
	grep -v ': start$' "$T/case.log"
	expect=$(expected_of "$c")
	[ -n "$expect" ] || vb_fail "case $c is not in docs/hardening.md"
	grep -qx "case $c: expected $expect, observed $expect" "$T/case.log" ||
		vb_fail "case $c: not the documented outcome '$expect'"
	alive "$c"
	lines=$(($(wc -l <"$T/daemon.log") - before))
	[ "$lines" -le "$MAX_LINES" ] ||
		{ tail -n 20 "$T/daemon.log"; vb_fail "case $c: $lines log lines (> $MAX_LINES): not rate-limited"; }
	n=$((n + 1))
done
vb_log "$n hostile cases run, each with its documented outcome"
[ "$n" -ge 26 ] || vb_fail "only $n cases"

# The good guest: inflate 16 MiB, host blocks drop, then everything back.
ctl --guest good set $((16 * MIB)) >/dev/null || vb_fail "balloon good refused"
wait_good_pages 4096
b=$(status_of ram_blocks)
[ $((blocks0 - b)) -ge $((15 * MIB)) ] || vb_fail "good guest: only $(((blocks0 - b) / MIB)) MiB released"
ctl --guest good set $((32 * MIB)) >/dev/null
wait_good_pages 0
touch "$T/good.stop"
wait "$GOOD_PID"; rc=$?
vb_untrack "$GOOD_PID"
cat "$T/good.log"
[ "$rc" = 0 ] || vb_fail "good guest reports corruption or failure ($rc)"

alive "end"
# refusals are logged (rate-limited), broken devices say so
w=$(grep -c "warn: hostile" "$T/daemon.log")
[ "$w" -gt 0 ] || vb_fail "no refusal was logged"
grep -q "hostile: device marked broken" "$T/daemon.log" || vb_fail "no broken device was logged"
vb_log "daemon log: $w warnings for the hostile guest, $(wc -l <"$T/daemon.log") lines in all"
refused=$(ctl --json --guest hostile query | jq .refused)
vb_log "hostile guest: $refused requests refused"
[ "$refused" -gt 0 ] || vb_fail "the daemon counted no refused request"
[ "$(ctl --json --guest good query | jq .refused)" = 0 ] || vb_fail "the good guest saw refusals"
if grep -E "AddressSanitizer|runtime error|LeakSanitizer" "$T/daemon.log"; then
	vb_fail "sanitizer report in the daemon log"
fi
vb_term_daemon
vb_log "ok: $n cases, daemon survived, other guest served, nothing outside RAM touched"
