#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# qemu-run's migration options: a guest started with --save-initrd migrates
# over a unix socket to a second qemu-run started with --initrd and
# --incoming; on the destination the balloon still works (QMP balloon there
# shrinks the guest, which the guest script waits for) and the script's exit
# status comes back through the destination launcher.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vb-workload"

cat >"$T/guest.sh" <<'GUEST'
before=$(vb_meminfo MemTotal)
vb-workload fill --mib 64 --hold-file /tmp/hold --seed 21 || exit 1
echo "guest-up before=$before"
# Only the destination shrinks the balloon: this holds the guest until then.
after=$(vb_wait_meminfo MemTotal -le $((before - 128 * 1024)) 300) ||
	vb_fail "MemTotal stayed at $after kB"
vb-workload verify --mib 64 --hold-file /tmp/hold --seed 21 || exit 1
echo "guest-done after=$after"
GUEST

vb_start_qemu --no-share --balloon "" --save-initrd "$T/initrd" --timeout 400 -- "$T/guest.sh" ||
	vb_fail "source did not start"
src_qmp=$VB_QEMU_QMP src=$VB_QEMU_LAUNCHER_PID src_console=$VB_QEMU_CONSOLE
vb_wait_console "$src_console" 'guest-up' 240 || vb_fail "source guest not up"

vb_start_qemu --no-share --balloon "" --initrd "$T/initrd" --incoming "unix:$T/mig.sock" \
	--timeout 400 || vb_fail "destination did not start"
dst_qmp=$VB_QEMU_QMP dst=$VB_QEMU_LAUNCHER_PID dst_console=$VB_QEMU_CONSOLE
vb_wait_file "$T/mig.sock" 30 || vb_fail "destination not listening"

vb_qmp "$src_qmp" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:$T/mig.sock\"}}" >/dev/null ||
	vb_fail "migrate refused"
for ((i = 0; i < 600; i++)); do
	r=$(vb_qmp "$src_qmp" '{"execute":"query-migrate"}')
	case $r in
	*'"completed"'*) break ;;
	*'"failed"'*|*'"cancelled"'*) vb_fail "migration failed: $r" ;;
	esac
	sleep 0.2
done
[[ $r == *'"completed"'* ]] || vb_fail "migration did not complete: $r"
vb_log "migrated: $(sed -n 's/.*"total-time": *\([0-9]*\).*/\1/p' <<<"$r") ms"
vb_qmp "$src_qmp" '{"execute":"quit"}' >/dev/null
vb_wait_qemu "$src" 2>/dev/null	# no status: the source stopped mid-script

vb_qmp "$dst_qmp" '{"execute":"balloon","arguments":{"value":268435456}}' >/dev/null ||
	vb_fail "balloon on the destination refused"
vb_wait_qemu "$dst" || vb_fail "guest script failed on the destination"
grep -q 'guest-done' "$dst_console" && ! grep -q 'guest-done' "$src_console" ||
	vb_fail "the script did not finish on the destination"
vb_log "guest finished on the destination: $(grep -o 'guest-done.*' "$dst_console")"
