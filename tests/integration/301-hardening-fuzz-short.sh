#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Short libFuzzer run (ASan + UBSan) of every harness in host/fuzz/:
# vhost-user dispatcher, ring walker, balloon device with fuzzer-built rings,
# control socket JSON.  Each runs FUZZ_SECS (default 20) from its seed
# corpus; any crash, sanitizer report, leak, or harness invariant (e.g. a
# byte outside guest RAM changed) fails the test.  Long run: make fuzz-long.
# vb-test: timeout=600
. "$(dirname "$0")/../lib/common.sh"
command -v clang >/dev/null || vb_skip "clang not installed"
make -C "$TOP" --no-print-directory fuzz >"$T/build.log" 2>&1 ||
	{ tail -n 30 "$T/build.log"; vb_fail "fuzzers do not build"; }
n=$(ls "$TOP"/host/fuzz/fuzz_*.c | wc -l)
[ "$n" -ge 4 ] || vb_fail "expected at least 4 harnesses, found $n"
FUZZ_SECS=${FUZZ_SECS:-20} "$TOP/hardening/fuzz-run.sh" | tee "$T/run.log"
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || vb_fail "a fuzzer crashed (inputs in $BUILD/fuzz/crashes/)"
ran=$(grep -c '^ok ' "$T/run.log")
[ "$ran" = "$n" ] || vb_fail "$ran of $n harnesses ran"
