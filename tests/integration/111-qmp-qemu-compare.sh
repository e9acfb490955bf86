#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# QEMU's own QMP client library (qemu.qmp) drives QEMU 7.2's monitor and
# vballoond through the same cases (tests/lib/qmp_cases.py idle): the
# greeting, query-version, query-status, query-commands, the QOM tree
# (qom-list, qom-get, qom-set), and every refusal with its error class and
# text (bad, missing and unexpected arguments, unknown members, unknown
# commands, paths and properties).  No guest on either side: QEMU runs -S
# with virtio-balloon-pci id balloon0 and no driver, vballoond serves
# balloon0 with none attached.  Every case must give the same result on
# both, except the differences docs/qmp.md documents (the script names
# each).  qmp-shell, the library's interactive client, then runs the same
# lines against both and must print the same.  Test 113 does the same with
# guests driving both balloons.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond"
# shellcheck source=/dev/null
[ -f "$VB_CACHE/env.sh" ] && . "$VB_CACHE/env.sh"
[ -n "${VB_QEMU_QMP_PYTHONPATH:-}" ] && [ -d "$VB_QEMU_QMP_PYTHONPATH/qemu/qmp" ] ||
	vb_skip "qemu.qmp (python3-qemu-qmp) is not in the cache: make setup unpacks it"
PY=(env PYTHONPATH="$VB_QEMU_QMP_PYTHONPATH" /usr/bin/python3)
CASES=$TOP/tests/lib/qmp_cases.py

vb_start_qemu_monitor || vb_fail "QEMU's monitor did not start"
vb_start_daemon --ram-size 512M || vb_fail "daemon did not start"
"${PY[@]}" "$CASES" idle "$VB_QEMU_QMP" "$T/qemu.json" || vb_fail "the cases did not run against QEMU"
"${PY[@]}" "$CASES" idle "$VB_QMP" "$T/ours.json" || vb_fail "the cases did not run against vballoond"
"${PY[@]}" "$CASES" compare "$T/qemu.json" "$T/ours.json" | tee "$T/compare.txt"
[ "${PIPESTATUS[0]}" = 0 ] || vb_fail "vballoond answers differently from QEMU (see above)"
grep -q '^same  *balloon-2^63: ' "$T/compare.txt" || vb_fail "the refusals were not compared"

# qmp-shell: the same lines through the library's own shell; its banner
# names each server's version (a documented difference), the rest matches.
shell() {
	printf '%s\n' 'qom-list path=/machine/peripheral' \
		'qom-get path=/machine/peripheral/balloon0 property=type' \
		'qom-set path=/machine/peripheral/balloon0 property=guest-stats-polling-interval value=3' \
		'qom-get path=/machine/peripheral/balloon0 property=guest-stats-polling-interval' \
		'balloon value=0' 'no-such-command' |
		"${PY[@]}" -m qemu.qmp.qmp_shell "$1" 2>&1 | grep -v '^Welcome\|^Connected to QEMU'
}
shell "$VB_QEMU_QMP" >"$T/shell.qemu"
shell "$VB_QMP" >"$T/shell.ours"
diff "$T/shell.qemu" "$T/shell.ours" || vb_fail "qmp-shell shows different answers"
grep -q "virtio-balloon-pci" "$T/shell.ours" || vb_fail "qmp-shell got no answer: $(cat "$T/shell.ours")"
vb_term_daemon
vb_log "ok: $(tail -n 1 "$T/compare.txt"); qmp-shell output identical ($(wc -l <"$T/shell.ours") lines)"
