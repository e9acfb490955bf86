#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A VM pause (QMP stop, then cont) is not a new driver.  The same scenario
# runs twice on QEMU 11 with Debian 6.1's in-tree driver: once with QEMU's
# own virtio-balloon-pci, once with vballoond behind
# vhost-user-test-device-pci.  Both must end in the same observable state:
# stop/cont while idle keeps `actual`, and guest stats flow again after
# cont; stop/cont in the middle of an inflate, and a storm of 100 more while
# the balloon moves, sent as fast as QEMU's monitor answers them (one
# connection, each command after the last one's reply; the time it took is
# logged), still end with `actual` at the target, the VM running and stats
# flowing; the held pattern survives and MemTotal comes back.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/vhost-qemu.sh"
vb_require "$BUILD/vb-workload"
vb_need_qemu_new

cat >"$T/guest.sh" <<'GUEST'
[ -d /sys/module/virtio_balloon ] || vb_fail "virtio_balloon not loaded"
vb-workload fill --mib 48 --hold-file /tmp/hold --seed 5 || exit 1
before=$(vb_meminfo MemTotal)
vb_signal ready
vb_wait done 600 || exit 1
vb_wait_meminfo MemTotal -ge "$before" 60 >/dev/null || vb_fail "MemTotal did not come back"
vb-workload verify --mib 48 --hold-file /tmp/hold --seed 5 || exit 1
vb_check_dmesg || exit 1
GUEST

PEER=
STORM=100
peer_qmp() {
	if [ "$PEER" = qemu ]; then vb_qmp "$VB_QEMU_QMP" "$1"; else vb_ctl --json raw "$1"; fi
}
actual() { peer_qmp '{"execute":"query-balloon"}' | jq -e .return.actual; }
set_target() { peer_qmp "{\"execute\":\"balloon\",\"arguments\":{\"value\":$1}}" >/dev/null; }
wait_actual() { vb__poll_actual "$1" "${2:-120}" 0.2 actual; }
stats_time() {
	peer_qmp '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/balloon0","property":"guest-stats"}}' |
		jq -e '.return["last-update"]'
}
pause() { vb_qmp "$VB_QEMU_QMP" '{"execute":"stop"}' >/dev/null; }
resume() { vb_qmp "$VB_QEMU_QMP" '{"execute":"cont"}' >/dev/null; }

# stats_flow: a stats report newer than the one before, within 30 s.
stats_flow() {
	local t0 t i
	t0=$(stats_time) || return 1
	for ((i = 0; i < 150; i++)); do
		t=$(stats_time) && [ "$t" -gt "$t0" ] && return 0
		sleep 0.2
	done
	echo "guest stats stuck at last-update $t0" >&2
	return 1
}

scenario() {
	local M=$((1 << 20)) a storm
	vb_wait_guest ready 240 || { vb_wait_qemu; vb_fail "$PEER: guest not ready"; }
	peer_qmp '{"execute":"qom-set","arguments":{"path":"/machine/peripheral/balloon0","property":"guest-stats-polling-interval","value":1}}' >/dev/null ||
		vb_fail "$PEER: cannot set the stats polling interval"
	wait_actual $((1024 * M)) || vb_fail "$PEER: not a 1 GiB guest"
	set_target $((640 * M))
	wait_actual $((640 * M)) || vb_fail "$PEER: actual did not reach 640 MiB"
	stats_flow || vb_fail "$PEER: no stats before the pause"

	pause; sleep 1; resume
	a=$(actual)
	[ "$a" = $((640 * M)) ] || vb_fail "$PEER: idle stop/cont changed actual to $a"
	stats_flow || vb_fail "$PEER: guest stats did not flow again after cont"
	sleep 2
	a=$(actual)
	[ "$a" = $((640 * M)) ] || vb_fail "$PEER: actual became $a after cont"

	set_target $((384 * M))
	pause; sleep 1; resume
	wait_actual $((384 * M)) || vb_fail "$PEER: stop/cont mid-inflate: actual did not reach 384 MiB"

	set_target $((1024 * M))
	storm=$(python3 "$TOP/bench/qmp.py" "$VB_QEMU_QMP" stop-cont $STORM) ||
		vb_fail "$PEER: the stop/cont storm was not answered"
	vb_log "$PEER: $STORM stop/cont pairs in $(jq .ms <<<"$storm") ms"
	vb_qmp "$VB_QEMU_QMP" '{"execute":"query-status"}' | jq -e '.return.running' >/dev/null ||
		vb_fail "$PEER: the VM is not running after the storm"
	wait_actual $((1024 * M)) || vb_fail "$PEER: after a stop/cont storm actual did not reach 1 GiB"
	stats_flow || vb_fail "$PEER: guest stats stopped after the storm"
	vb_signal_guest done
	vb_wait_qemu || vb_fail "$PEER: guest script failed"
	vb_log "$PEER: actual and stats kept across stop/cont (idle, mid-inflate, $STORM-pair storm)"
}

PEER=qemu
vb_start_qemu --qemu new --mem 1G --balloon "" --timeout 500 -- "$T/guest.sh" ||
	vb_fail "QEMU guest did not start"
scenario

PEER=vballoond
vb_start_daemon_qemu 1G -- --timeout 500 -- "$T/guest.sh"
scenario
vb_term_daemon
