#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The test library stops every process a test started, on every exit path:
# processes tracked after others were untracked (as tests that start and
# stop a daemon per round do), processes started with a plain `&`, their
# children, on a normal exit, a failure and a signal.  Each case runs a
# small script on the library in a child bash and then looks for what it
# left behind (by a marker in the command line).
. "$(dirname "$0")/../lib/common.sh"

marker=vb-cleanup-$$-$RANDOM
# leftovers: pids of live processes whose command line holds the marker.
leftovers() {
	local f p args
	for f in /proc/[0-9]*/cmdline; do
		p=${f#/proc/}
		p=${p%/cmdline}
		mapfile -d '' args 2>/dev/null <"$f" || continue
		[[ "${args[*]}" == *"$marker"* ]] && [ "$p" != $$ ] && echo "$p"
	done
}

# case NAME EXIT: a script that starts sleepers every way a test does,
# then ends by EXIT (a command: exit 0, vb_fail, kill -TERM $$).
case_run() {
	local name=$1 how=$2 left
	cat >"$T/$name.sh" <<SCRIPT
. "$TOP/tests/lib/common.sh"
sleeper() { exec -a "$marker-\$1" sleep 1000; }
vb_bg sleeper a
a=\$VB_BG_PID
vb_bg sleeper b
vb_untrack "\$a"
kill "\$a"
vb_bg sleeper c			# tracked after a hole
sleeper d &			# not tracked at all
(sleeper e & wait) &		# a child's child
sleep 0.5
$how
SCRIPT
	bash "$T/$name.sh" >"$T/$name.log" 2>&1
	sleep 0.2
	left=$(leftovers)
	[ -z "$left" ] || {
		ps -o pid,args -p "${left//$'\n'/,}" >&2
		kill -KILL $left 2>/dev/null
		vb_fail "$name: processes left behind"
	}
	vb_log "$name: nothing left behind"
}

case_run normal-exit 'exit 0'
case_run failure 'vb_fail "on purpose"'
case_run signal 'kill -TERM $$; sleep 5'
vb_log "ok"
