#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Free page reporting with vballoon.ko on QEMU's virtio-balloon
# (free-page-reporting=on): after the guest frees 256 MiB it had used, the
# driver reports it (sysfs counter) and QEMU's resident memory drops by most
# of it, with no balloon target change; the guest then reuses that memory
# and reads back correct data.  Run twice: plain, and with init_on_free=1,
# where PAGE_POISON must be negotiated (poison_val 0, as in-tree).
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/x86_64/vballoon.ko" "$BUILD/vb-workload"

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon ours || vb_fail "insmod vballoon failed"
d=$(ls -d /sys/bus/virtio/drivers/vballoon/virtio*) || vb_fail "not bound"
vb_put features "$(cat $d/features)"
rep() { vb_ours_val reported_pages; }
vb-workload fill --mib 256 --hold-file /tmp/big --seed 3 || exit 1
sleep 3
vb_put rep0 "$(rep)"
vb_signal filled
vb_wait measured 120 || exit 1
rm -f /tmp/big
i=0
while [ $(( $(rep) - $(vb_get rep0) )) -lt $((192 << 8)) ]; do
	i=$((i + 1))
	[ $i -gt 300 ] && vb_fail "only $(( $(rep) - $(vb_get rep0) )) pages reported"
	sleep 0.1
done
sleep 1
vb_put rep1 "$(rep)"
vb_signal reported
vb_wait measured2 120 || exit 1
vb-workload fill --mib 256 --hold-file /tmp/big --seed 4 || exit 1
vb-workload verify --mib 256 --hold-file /tmp/big --seed 4 || exit 1
vb_check_dmesg
exit 0
GUEST

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$VB_QEMU_PID/status"; }

run() {
	local cmdline=$1 poison_want=$2 feat rss0 rss1
	vb_start_qemu --mem 512M --no-balloon-module \
		--balloon "free-page-reporting=on" --cmdline "$cmdline" \
		--timeout 400 -- "$T/guest.sh" || vb_fail "QEMU guest did not start"
	vb_wait_guest filled 300 || { vb_wait_qemu; vb_fail "guest did not fill"; }
	rss0=$(rss_kb)
	vb_signal_guest measured
	vb_wait_guest reported 120 || { vb_wait_qemu; vb_fail "nothing reported"; }
	rss1=$(rss_kb)
	vb_signal_guest measured2
	vb_wait_qemu || vb_fail "guest reuse/verify failed"
	feat=$(vb_get features)
	vb_log "[$cmdline] features $feat; reported $(( $(vb_get rep1) - $(vb_get rep0) )) pages; QEMU RSS $rss0 -> $rss1 kB"
	[ "${feat:5:1}" = 1 ] || vb_fail "PAGE_REPORTING not negotiated"
	[ "${feat:4:1}" = "$poison_want" ] ||
		vb_fail "PAGE_POISON bit is ${feat:4:1}, want $poison_want"
	(( rss0 - rss1 >= 160 * 1024 )) ||
		vb_fail "QEMU RSS dropped only $((rss0 - rss1)) kB after 256 MiB was freed"
}

run "" 0
run "init_on_free=1" 1
