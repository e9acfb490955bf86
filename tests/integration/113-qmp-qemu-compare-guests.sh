#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# QEMU's own QMP client library (qemu.qmp) drives QEMU 7.2's monitor and
# vballoond through the same cases (tests/lib/qmp_cases.py) with a guest
# driving each balloon: discovery, strict argument checks and their error
# texts (as test 111), then guest stats as the guest reports them, and a
# balloon change with its BALLOON_CHANGE event.  Each side has a 384 MiB
# guest running Linux's in-tree virtio_balloon: a QEMU/TCG guest with
# virtio-balloon-pci id balloon0, a UML guest on vballoond (default id
# balloon0).  Every case must give the same result on both, except the
# differences docs/qmp.md documents (the script names each).
# vb-test: timeout=900
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond"
# shellcheck source=/dev/null
[ -f "$VB_CACHE/env.sh" ] && . "$VB_CACHE/env.sh"
[ -n "${VB_QEMU_QMP_PYTHONPATH:-}" ] && [ -d "$VB_QEMU_QMP_PYTHONPATH/qemu/qmp" ] ||
	vb_skip "qemu.qmp (python3-qemu-qmp) is not in the cache: make setup unpacks it"
PY=(env PYTHONPATH="$VB_QEMU_QMP_PYTHONPATH" /usr/bin/python3)
CASES=$TOP/tests/lib/qmp_cases.py
MEM=384M
RAM=$((384 << 20))

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon intree || vb_fail "cannot load virtio_balloon"
vb_signal ready
vb_wait done 800 || exit 1
exit 0
GUEST

vb_start_qemu --mem "$MEM" --no-balloon-module --balloon "" --timeout 850 \
	-- "$T/guest.sh" || vb_fail "QEMU guest did not start"
QSHARE=$VB_SHARE
vb_start_daemon_uml "$MEM" --page-reporting off -- --timeout 850 -- "$T/guest.sh"
USHARE=$VB_SHARE
VB_SHARE=$USHARE vb_wait_guest ready 120 || vb_fail "UML guest not ready"
VB_SHARE=$QSHARE vb_wait_guest ready 300 || vb_fail "QEMU guest not ready"

"${PY[@]}" "$CASES" run "$VB_QEMU_QMP" "$RAM" "$T/qemu.json" ||
	vb_fail "the cases did not run against QEMU"
"${PY[@]}" "$CASES" run "$VB_QMP" "$RAM" "$T/ours.json" ||
	vb_fail "the cases did not run against vballoond"
"${PY[@]}" "$CASES" compare "$T/qemu.json" "$T/ours.json" | tee "$T/compare.txt"
[ "${PIPESTATUS[0]}" = 0 ] || vb_fail "vballoond answers differently from QEMU (see above)"
grep -q '^same  *balloon-reached: {"return": true}' "$T/compare.txt" ||
	vb_fail "the balloon did not reach its target on both"

VB_SHARE=$QSHARE vb_signal_guest done
VB_SHARE=$USHARE vb_signal_guest done
vb_wait_qemu || vb_fail "QEMU guest script failed"
vb_wait_uml || vb_fail "UML guest script failed"
vb_term_daemon
vb_log "ok: $(tail -n 1 "$T/compare.txt")"
