#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# vballoon.ko in a QEMU/TCG x86-64 guest with QEMU's own virtio-balloon:
# QMP `balloon` inflates and deflates it, guest MemTotal and query-balloon
# agree, stats arrive through qom-get guest-stats (with our extra tags
# ignored by QEMU), a held pattern survives, rmmod with an inflated balloon
# returns every page, and a second insmod (knob movable=0: pages kept off
# the balloon compaction list) inflates and deflates again.
# VB_ALT_KERNEL=1 (test 206): the same on make setup's second Debian
# kernel (6.12), with the module built from the same source against it.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vb-workload"
KO=$BUILD/x86_64/vballoon.ko QARGS=()
if [ "${VB_ALT_KERNEL:-0}" = 1 ]; then
	# shellcheck source=/dev/null
	[ -f "$VB_CACHE/env.sh" ] && . "$VB_CACHE/env.sh"
	[ -n "${VB_X86_ALT_ROOT:-}" ] ||
		vb_skip "make setup found no second kernel (linux-image-6.12.*) in the archive"
	KO=$BUILD/x86_64-alt/vballoon.ko
	QARGS=(--kernel-root "$VB_X86_ALT_ROOT" --module "$KO")
fi
vb_require "$KO"

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon ours || vb_fail "insmod vballoon failed"
st=$(vb_ours_dir) || vb_fail "no debug view"
vb_put kernel "$(uname -r)"
vb-workload fill --mib 64 --hold-file /tmp/hold --seed 7 || exit 1
before=$(vb_meminfo MemTotal)
vb_put before "$before"
vb_signal ready

vb_wait inflated 300 || exit 1
after=$(vb_wait_meminfo MemTotal -le $((before - 255 * 1024)) 60) ||
	vb_fail "MemTotal $after kB did not drop by 256 MiB from $before kB"
vb_put after "$after"
vb_put pages "$(cat $st/pages)"
vb-workload verify --mib 64 --hold-file /tmp/hold --seed 7 || exit 1
vb_signal checked

vb_wait deflated 300 || exit 1
back=$(vb_wait_meminfo MemTotal -ge "$before" 60) ||
	vb_fail "MemTotal $back kB did not return to $before kB"
vb_signal back

# Inflated again by the host; unload with the balloon full.
vb_wait inflated2 300 || exit 1
vb_wait_meminfo MemTotal -le $((before - 255 * 1024)) 60 >/dev/null ||
	vb_fail "second inflation not seen"
vb_ours_dump | grep -E 'reqs|bytes'
rmmod vballoon || vb_fail "rmmod with an inflated balloon failed"
unloaded=$(vb_meminfo MemTotal)
vb_put unloaded "$unloaded"
[ "$unloaded" -ge "$before" ] ||
	vb_fail "after rmmod MemTotal is $unloaded kB, want $before kB"
vb_load_balloon ours movable=0 || vb_fail "second insmod failed"
again=$(vb_wait_meminfo MemTotal -le $((before - 255 * 1024)) 120) ||
	vb_fail "reloaded driver did not re-inflate (MemTotal $again kB)"
vb_signal reloaded
vb_wait final 300 || exit 1
vb_wait_meminfo MemTotal -ge "$before" 60 >/dev/null ||
	vb_fail "MemTotal did not come back after the final deflate"
vb-workload verify --mib 64 --hold-file /tmp/hold --seed 7 || exit 1
vb_log "MemTotal $before -> $after -> $back; rmmod -> $unloaded; reload ok"
vb_check_dmesg
exit 0
GUEST

guest_fail() {
	vb_wait_qemu
	tail -n 30 "$VB_QEMU_CONSOLE" >&2
	vb_fail "$@"
}

vb_start_qemu --mem 512M --no-balloon-module --balloon "" --timeout 500 \
	"${QARGS[@]}" -- "$T/guest.sh" || vb_fail "QEMU guest did not start"
vb_wait_guest ready 300 || guest_fail "guest not ready"
vb_log "guest kernel $(vb_get kernel)"
if [ "${VB_ALT_KERNEL:-0}" = 1 ]; then
	[ "$(vb_get kernel)" = "$(basename "$(ls -d "$VB_X86_ALT_ROOT"/lib/modules/*)")" ] ||
		vb_fail "guest runs $(vb_get kernel), not the second kernel"
fi
bal=/machine/peripheral/balloon0
vb_qmp "$VB_QEMU_QMP" "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"$bal\",\"property\":\"guest-stats-polling-interval\",\"value\":1}}" \
	>/dev/null || vb_fail "cannot set the stats polling interval"

vb_qemu_balloon $((256 << 20))
vb_qemu_wait_actual $((256 << 20)) 180 || vb_fail "query-balloon actual did not reach 256 MiB"
vb_signal_guest inflated
vb_wait_guest checked 120 || guest_fail "guest did not see MemTotal drop"
before=$(vb_get before) after=$(vb_get after) pages=$(vb_get pages)
drop=$((before - after))
vb_log "MemTotal $before -> $after kB, driver holds $pages pages"
# query-balloon's actual is RAM minus the balloon: the guest lost exactly that.
(( drop == (512 * 1024 - $(vb_qemu_actual) / 1024) )) ||
	vb_fail "MemTotal drop $drop kB disagrees with query-balloon $(vb_qemu_actual)"
(( pages == 65536 )) || vb_fail "driver reports $pages pages, want 65536"

# A report the guest sent after it measured MemTotal (QEMU polls every
# second; "last-update" is the second QEMU received it), not a fixed
# sleep: a TCG guest on a busy host can take longer to answer.
now=$(date +%s)
for ((i = 0; i < 600; i++)); do
	stats=$(vb_qmp "$VB_QEMU_QMP" "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"$bal\",\"property\":\"guest-stats\"}}") ||
		vb_fail "qom-get guest-stats failed"
	upd=$(sed -n 's/.*"last-update": *\([0-9]*\).*/\1/p' <<<"$stats")
	(( ${upd:-0} > now )) && break
	sleep 0.1
done
(( ${upd:-0} > now )) || vb_fail "no stats report after $now (last-update ${upd:-none})"
echo "$stats"
total=$(sed -n 's/.*"stat-total-memory": *\([0-9]*\).*/\1/p' <<<"$stats")
free=$(sed -n 's/.*"stat-free-memory": *\([0-9]*\).*/\1/p' <<<"$stats")
avail=$(sed -n 's/.*"stat-available-memory": *\([0-9]*\).*/\1/p' <<<"$stats")
[ -n "$total" ] && [ -n "$free" ] && [ -n "$avail" ] || vb_fail "stats missing: $stats"
(( total == after * 1024 )) || vb_fail "stat-total-memory $total != MemTotal $after kB"
(( free > 0 && free < total && avail <= total )) || vb_fail "implausible stats $stats"

vb_qemu_balloon $((512 << 20))
vb_qemu_wait_actual $((512 << 20)) 180 || vb_fail "query-balloon actual did not reach 512 MiB"
vb_signal_guest deflated
vb_wait_guest back 120 || guest_fail "MemTotal did not come back"

vb_qemu_balloon $((256 << 20))
vb_qemu_wait_actual $((256 << 20)) 180 || vb_fail "query-balloon actual did not reach 256 MiB"
vb_signal_guest inflated2
vb_wait_guest reloaded 300 || guest_fail "rmmod/insmod cycle failed"
vb_qemu_wait_actual $((256 << 20)) 180 || vb_fail "query-balloon actual did not reach 256 MiB"
vb_qemu_balloon $((512 << 20))
vb_qemu_wait_actual $((512 << 20)) 180 || vb_fail "query-balloon actual did not reach 512 MiB"
vb_signal_guest final
vb_wait_qemu || guest_fail "guest script failed"
grep -q "vballoon.*mode pfns" "$VB_QEMU_CONSOLE" ||
	vb_log "note: driver banner not on the console"
vb_log "QEMU + vballoon.ko: inflate, deflate, stats, rmmod/insmod all passed"
