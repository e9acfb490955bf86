#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make setup on bad ground: an unwritable cache and a user who is not root
# each stop it with one line saying what to do; a cache entry left behind by
# an interrupted run (a NAME.part directory, an entry without its .ok mark)
# is never trusted: the next run removes it and fetches it again whole.
. "$(dirname "$0")/../lib/common.sh"
SETUP=$TOP/testbed/setup.sh

out=$(VB_CACHE=/proc/vb-no-such-dir "$SETUP" 2>&1) && vb_fail "setup with an unwritable cache succeeded"
vb_log "unwritable cache: $out"
[ "$(grep -c 'setup: error:' <<<"$out")" = 1 ] && grep -q 'cannot be written' <<<"$out" ||
	vb_fail "unwritable cache: want one error line saying so, got: $out"

if id nobody >/dev/null 2>&1; then
	# tests/run gives each test a private TMPDIR: let nobody through.
	chmod 0711 "$T" "$(dirname "$T")" && mkdir -m 0777 "$T/nobody"
	out=$(su nobody -s /bin/bash -c "VB_CACHE=$T/nobody/cache PATH=/usr/sbin:/usr/bin:/bin $SETUP" 2>&1) &&
		vb_fail "setup as nobody on an empty cache succeeded"
	vb_log "not root: $out"
	grep -q 'not root' <<<"$out" || vb_fail "not root: no clear message: $out"
	[ -z "$(ls -A "$T/nobody/cache" | grep -v setup.lock)" ] ||
		vb_fail "setup as nobody left things behind: $(ls -A "$T/nobody/cache")"
fi

# An interrupted fetch, on the smallest cache entry (QEMU's QMP library).
export VB_CACHE=$T/cache
mkdir -p "$VB_CACHE"
# shellcheck source=/dev/null
. "$SETUP"
setup_qemu_qmp 2>"$T/err"
[ -n "$QMP_PYTHONPATH" ] || vb_skip "python3-qemu-qmp cannot be fetched here: $(cat "$T/err")"
entry=${QMP_PYTHONPATH%/usr/lib/python3/dist-packages}
[ -f "$entry/.ok" ] || vb_fail "no .ok mark on $entry"
# As if killed half-way through a new fetch: a .part with junk, no .ok.
rm -f "$entry/.ok"
mkdir -p "$entry.part" && echo junk >"$entry.part/junk"
setup_qemu_qmp 2>"$T/err"
[ -f "$entry/.ok" ] || vb_fail "the entry without .ok was not fetched again"
[ ! -e "$entry.part" ] || vb_fail "$entry.part left behind"
PYTHONPATH=$QMP_PYTHONPATH python3 -c 'import qemu.qmp' || vb_fail "the refetched library does not import"
vb_log "interrupted entry refetched whole: $entry"
