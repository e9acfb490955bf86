#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/demo.sh - `make demo`: vballoond serving a 512 MiB UML guest that runs
# Linux's stock virtio_balloon.ko.  The guest holds a patterned workload, the
# balloon takes it down to 256 MiB and back, and the host gets the memory
# back from the guest's RAM file while it is ballooned.
. "$(dirname "$0")/lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload"

MEM_MIB=512 TARGET_MIB=256 HOLD_MIB=128 USED_MIB=400

cat >"$T/guest.sh" <<GUEST
vb_load_balloon intree || vb_fail "cannot load virtio_balloon.ko"
vb_put memtotal_before "\$(vb_meminfo MemTotal)"
# Use memory once (a fresh guest's RAM has no host pages yet), free it, then
# hold a patterned workload.
vb-workload fill --mib $USED_MIB --hold-file /tmp/used --remove >/dev/null || exit 2
vb-workload fill --mib $HOLD_MIB --hold-file /tmp/hold --seed 11 || exit 1
vb_signal ready
vb_wait inflated 180 || exit 1
vb_put memtotal_inflated "\$(vb_meminfo MemTotal)"
vb-workload verify --mib $HOLD_MIB --hold-file /tmp/hold --seed 11 && vb_put verify_inflated ok
vb_signal measured
vb_wait deflated 180 || exit 1
vb_put memtotal_after "\$(vb_meminfo MemTotal)"
vb-workload verify --mib $HOLD_MIB --hold-file /tmp/hold --seed 11 || exit 1
vb_put verify_after ok
GUEST

ctl() { "$BUILD/vballoonctl" --qmp "$VB_QMP" "$@"; }
actual() {
	vb_qmp "$VB_QMP" '{"execute":"query-balloon"}' | sed -n 's/.*"actual": *\([0-9]*\).*/\1/p'
}
wait_actual() {
	local i a
	for ((i = 0; i < 600; i++)); do
		a=$(actual)
		[ "$a" = "$1" ] && return 0
		sleep 0.2
	done
	vb_fail "query-balloon actual is '$a', want $1"
}
mib() { echo $(( $1 >> 20 )); }

vb_log "starting vballoond"
vb_start_daemon --ram-size ${MEM_MIB}M --deflate-on-oom off || vb_fail "vballoond did not start"
vb_log "booting a ${MEM_MIB} MiB UML guest with the in-tree virtio_balloon"
vb_start_uml --mem ${MEM_MIB}M --vhost "$VB_SOCK" --timeout 600 -- "$T/guest.sh" ||
	vb_fail "guest did not boot"
vb_wait_guest ready 300 || { vb_wait_uml; vb_fail "guest workload did not start"; }
ram_before=$(vb_ramfile_bytes)
q_before=$(vb_qmp "$VB_QMP" '{"execute":"query-balloon"}')

vb_log "balloon: target ${TARGET_MIB} MiB (vballoonctl set ${TARGET_MIB}M)"
t0=$(date +%s.%N)
ctl set ${TARGET_MIB}M || vb_fail "vballoonctl set failed"
wait_actual $((TARGET_MIB << 20))
t_inflate=$(echo "$(date +%s.%N) - $t0" | bc)
ram_inflated=$(vb_ramfile_bytes)
q_inflated=$(vb_qmp "$VB_QMP" '{"execute":"query-balloon"}')
vb_signal_guest inflated
vb_wait_guest measured 120 || { vb_wait_uml; vb_fail "guest did not measure"; }
echo "--- vballoonctl query (inflated) ---"
ctl query | grep -E "target|actual|discarded|ram-allocated" || true

vb_log "balloon: target ${MEM_MIB} MiB (deflate)"
t0=$(date +%s.%N)
ctl set ${MEM_MIB}M || vb_fail "vballoonctl set failed"
wait_actual $((MEM_MIB << 20))
t_deflate=$(echo "$(date +%s.%N) - $t0" | bc)
ram_after=$(vb_ramfile_bytes)
vb_signal_guest deflated
vb_wait_uml || vb_fail "guest script failed"

row() { printf '%-24s %12s %12s %12s\n' "$@"; }
echo
echo "vballoon demo: ${MEM_MIB} MiB UML guest, stock virtio_balloon.ko, vballoond"
row "" before ballooned deflated
row "guest target (MiB)" "$MEM_MIB" "$TARGET_MIB" "$MEM_MIB"
row "guest MemTotal (kB)" "$(vb_get memtotal_before)" "$(vb_get memtotal_inflated)" "$(vb_get memtotal_after)"
row "host RAM file (MiB)" "$(mib "$ram_before")" "$(mib "$ram_inflated")" "$(mib "$ram_after")"
row "workload ${HOLD_MIB} MiB" filled "$(vb_get verify_inflated || echo FAIL)" "$(vb_get verify_after || echo FAIL)"
echo "query-balloon before:    $q_before"
echo "query-balloon ballooned: $q_inflated"
echo "inflate $(printf '%.2f' "$t_inflate") s, deflate $(printf '%.2f' "$t_deflate") s"
released=$(( (ram_before - ram_inflated) >> 20 ))
echo "host RAM file shrank by ${released} MiB while ballooned (balloon: $((MEM_MIB - TARGET_MIB)) MiB)"
[ "$(vb_get verify_after)" = ok ] || vb_fail "workload corrupted"
echo "demo: OK"
