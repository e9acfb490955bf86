#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# hardening/negative-run.sh (make hardening-negative): tests whose claim is
# subtle must fail when the claim breaks.  Each run below starts the test
# against a daemon broken on purpose (build/vb-break.so preloaded, VB_BREAK
# picks the fault) and passes only if the test FAILS, with the failure the
# fault must cause.  NEG_ONLY=REGEX selects runs by test number and fault.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
: "${BUILD:=$TOP/build}"
export BUILD
SHIM=$BUILD/vb-break.so
[ -e "$SHIM" ] || { echo "negative-run: $SHIM not built (make hardening-negative)" >&2; exit 2; }

# test  fault  the failure it must report (extended regex)
runs=(
	"302|refuse-by-hangup|case unknown-requests: expected error-reply, observed disconnect"
	"302|accept-refused|case unknown-requests: expected error-reply, observed ACCEPTED"
	"305|drop-after-hangup|the vanished client's balloon [0-9]+ did not take effect"
)

fail=0
for r in "${runs[@]}"; do
	IFS='|' read -r t f want <<<"$r"
	[[ "$t $f" =~ ${NEG_ONLY:-.} ]] || continue
	log=$(mktemp "${TMPDIR:-/tmp}/vb-negative.XXXXXX")
	# ASan must accept a library loaded before its runtime.
	VB_DAEMON_WRAPPER="env LD_PRELOAD=$SHIM VB_BREAK=$f ASAN_OPTIONS=exitcode=66:verify_asan_link_order=0" \
		"$TOP"/tests/integration/"$t"-*.sh >"$log" 2>&1
	rc=$?
	if [ "$rc" != 0 ] && grep -qE -- "$want" "$log"; then
		echo "negative $t $f: test failed as it must (status $rc):"
		grep -E -- "$want|^FAIL" "$log" | sed 's/^/    /'
	else
		echo "negative $t $f: NOT DETECTED (status $rc, no /$want/); log:"
		tail -n 20 "$log" | sed 's/^/    /'
		fail=1
	fi
	rm -f "$log"
done
exit $fail
