#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A UML guest boots, runs vb-workload (alloc, fill, frag, verify) and reports
# success; host and guest exchange signals and values through the share; the
# host sees the guest's writes in the RAM file; afterwards nothing the
# launcher made is left (processes, run directory, RAM directory).
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vb-workload"

cat >"$T/guest.sh" <<'GUEST'
set -e
[ "$1" = "two words" ] || vb_fail "argument not passed intact: '$1'"
total=$(vb_meminfo MemTotal)
vb_log "MemTotal $total kB"
vb_put memtotal "$total"
vb-workload alloc --mib 8
vb-workload fill --mib 16 --seed 7
vb-workload fill --mib 192 --hold-file /tmp/hold --seed 3
vb-workload verify --mib 192 --hold-file /tmp/hold --seed 3
# The tool must be able to fail: a wrong seed is reported as corruption.
rc=0; vb-workload verify --mib 192 --hold-file /tmp/hold --seed 4 >/tmp/bad.log || rc=$?
[ "$rc" = 1 ] || vb_fail "verify with a wrong seed returned $rc, want 1"
grep -q CORRUPTION /tmp/bad.log || vb_fail "no CORRUPTION line for a wrong seed"
vb-workload frag --mib 64 --hold-file /tmp/frag --seed 5
vb-workload verify --mib 64 --hold-file /tmp/frag --seed 5 --punch-holes
rc=0; vb-workload verify --mib 64 --hold-file /tmp/frag --seed 5 >/dev/null || rc=$?
[ "$rc" = 1 ] || vb_fail "punched pages not detected as missing data ($rc)"
vb_signal filled
vb_wait release 60 || exit 1
[ "$(vb_get token)" = "from host" ] || vb_fail "host value not received: '$(vb_get token)'"
vb-workload verify --mib 192 --hold-file /tmp/hold --seed 3
vb_log "all workload steps passed"
exit 0
GUEST

vb_start_uml --mem 512M --timeout 120 -- "$T/guest.sh" "two words" || vb_fail "UML did not boot"
uml_pid=$VB_UML_PID
ram_dir=$(dirname "$(readlink "$(vb_ramfile_path)")")
run_root=$(vb_info_field "$VB_UML_INFO" root)
[ -d "$ram_dir" ] || vb_fail "RAM dir '$ram_dir' not found"
vb_wait_guest filled 90 || { vb_wait_uml; vb_fail "guest workload did not finish"; }
bytes=$(vb_ramfile_bytes)
vb_log "RAM file holds $((bytes >> 20)) MiB after the guest wrote 256 MiB to tmpfs"
(( bytes >= 256 << 20 )) || vb_fail "RAM file holds only $bytes bytes"
[ "$(vb_get memtotal)" -gt 400000 ] || vb_fail "bad MemTotal from guest: '$(vb_get memtotal)'"
vb_put_guest token "from host"
vb_signal_guest release
vb_wait_uml || vb_fail "guest script failed"

# Nothing left behind.
kill -0 "$uml_pid" 2>/dev/null && vb_fail "linux.uml pid $uml_pid still running"
pgrep -g "$uml_pid" >/dev/null && vb_fail "processes of group $uml_pid still running: $(pgrep -g "$uml_pid")"
[ -e "$run_root" ] && vb_fail "run directory $run_root left behind"
[ -e "$ram_dir" ] && vb_fail "RAM directory $ram_dir left behind"
vb_log "guest ok, no leftovers"
