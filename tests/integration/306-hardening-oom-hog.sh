#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest side: vballoon.ko with DEFLATE_ON_OOM, balloon inflated to 160 MiB of a
# 256 MiB UML guest, then a real memory hog (anonymous memory, twice the
# guest's RAM, no swap) while a patterned 32 MiB region is held.  No hang:
# the guest script finishes well inside its timeout; the driver deflated on
# OOM (its sysfs counter), the hog was OOM-killed (it wants more than the
# guest has), the held pattern verifies, and the balloon can be inflated
# again afterwards.  (Firecracker #4324: a guest hang in this situation.)
# vb-test: timeout=300
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload"
[ -f "$BUILD/um/vballoon.ko" ] || vb_skip "vballoon.ko for UML not built"
MIB=$((1 << 20))
FULL=$((256 * MIB))
TARGET=$((96 * MIB))

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon ours || vb_fail "cannot load vballoon.ko"
vb_tmpfs /mnt/h 40M
vb-workload fill --mib 32 --hold-file /mnt/h/p --seed 21 || vb_fail "fill"
vb_signal loaded
vb_wait inflated 120 || exit 1
sysfs=$(vb_ours_dir 2>/dev/null)
vb_log "before hog: MemFree $(vb_meminfo MemFree) kB; $(grep -E '^(pages|oom_deflated)' $sysfs/* 2>/dev/null | tr '\n' ' ')"
echo 1 >/proc/sys/vm/overcommit_memory	# let the hog allocate, then touch
t0=$(date +%s)
vb-workload alloc --mib 512
vb_put hog_rc $?
vb_put hog_secs $(( $(date +%s) - t0 ))
vb_put oom_deflated "$(vb_ours_val oom_deflated 2>/dev/null)"
if dmesg | grep -qi "killed process"; then vb_put oomkill yes; else vb_put oomkill no; fi
vb-workload verify --mib 32 --hold-file /mnt/h/p --seed 21
vb_put verify $?
dmesg | grep -E "hung_task|blocked for more than|BUG|Oops|WARNING" | head -n 5
vb_signal hogged
vb_wait finish 120 || exit 1
exit 0
GUEST

# floor 0: this test takes the guest below the default floor on purpose.
vb_start_daemon_uml 256M --page-reporting off --deflate-on-oom on --floor 0 -- --timeout 240 -- "$T/guest.sh"
vb_wait_guest loaded 120 || { vb_wait_uml; vb_fail "guest did not load vballoon.ko"; }
vb_ctl set "$TARGET" >/dev/null || vb_fail "balloon failed"
# The guest may not reach 64 MiB exactly (it holds 32 MiB + kernel); take
# what it gets within a while.
vb_wait_actual "$TARGET" 60 || vb_log "guest stopped at $(($(vb_actual) / MIB)) MiB"
vb_log "balloon inflated: guest at $(($(vb_actual) / MIB)) MiB"
vb_signal_guest inflated
vb_wait_guest hogged 150 || { vb_wait_uml; vb_fail "guest hung under the memory hog"; }
vb_log "hog: rc $(vb_get hog_rc) after $(vb_get hog_secs) s, OOM kill: $(vb_get oomkill), oom_deflated $(vb_get oom_deflated) pages"
[ "$(vb_get verify)" = 0 ] || vb_fail "held pattern corrupted"
[ "${oom:=$(vb_get oom_deflated)}" -gt 0 ] 2>/dev/null || vb_fail "the driver did not deflate on OOM"
a=$(vb_actual)
vb_log "after the hog: guest at $((a / MIB)) MiB"
[ "$a" -gt "$TARGET" ] || vb_fail "balloon did not shrink under OOM"
# The host re-asks: the guest inflates again once the hog is gone.
vb_ctl set $((TARGET + 64 * MIB)) >/dev/null
sleep 1
vb_ctl set "$TARGET" >/dev/null
vb_wait_actual "$TARGET" 60 || vb_log "re-inflate stopped at $(($(vb_actual) / MIB)) MiB"
[ "$(vb_actual)" -lt "$a" ] || vb_fail "balloon did not inflate again after the OOM"
vb_signal_guest finish
vb_wait_uml || vb_fail "guest script failed"
kill -0 "$VB_DAEMON_PID" || vb_fail "daemon died"
vb_log "ok"
