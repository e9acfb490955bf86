#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Free page reporting: after the guest frees 200 MiB, the RAM file's
# allocated blocks drop by most of it within seconds with no balloon target
# change; the guest then reuses that memory and reads back correct data.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload"
DRIVER=${VB_DRIVER:-intree}
MIB=$((1 << 20))

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon "$1" || vb_fail "cannot load the $1 balloon driver"
vb_tmpfs /mnt/h
dd if=/dev/zero of=/mnt/h/big bs=1M count=200 2>/dev/null
vb_signal filled
vb_wait free 120 || exit 1
rm /mnt/h/big
vb_signal freed
vb_wait reuse 120 || exit 1
vb-workload fill --mib 300 --hold-file /mnt/h/p --seed 41 || vb_fail "fill"
vb-workload verify --mib 300 --hold-file /mnt/h/p --seed 41 || vb_fail "reused memory corrupted"
vb_log "reused memory verified"
exit 0
GUEST

vb_start_daemon_uml 512M -- --timeout 300 -- "$T/guest.sh" "$DRIVER"
vb_wait_guest filled 120 || { vb_wait_uml; vb_fail "guest did not fill"; }
vb_info features | jq -e 'index("page-reporting")' >/dev/null ||
	vb_fail "page reporting not negotiated: $(vb_info features)"
sleep 3		# let reporting of boot-time free memory settle
b0=$(vb_ramfile_bytes)
r0=$(vb_info reported-bytes)
vb_signal_guest free
vb_wait_guest freed 60 || vb_fail "guest did not free"
start=$(date +%s%N)
released=0
for ((i = 0; i < 300; i++)); do
	released=$((b0 - $(vb_ramfile_bytes)))
	(( released >= 160 * MIB )) && break
	sleep 0.1
done
ms=$((($(date +%s%N) - start) / 1000000))
r1=$(vb_info reported-bytes)
vb_log "guest freed 200 MiB: RAM file released $((released / MIB)) MiB in ${ms} ms, reported $(((r1 - r0) / MIB)) MiB"
(( released >= 160 * MIB )) || vb_fail "RAM file released only $((released / MIB)) MiB of 200"
(( r1 - r0 >= 160 * MIB )) || vb_fail "daemon counted only $((r1 - r0)) reported bytes"
[ "$(vb_info num-pages)" = 0 ] || vb_fail "balloon target changed"
[ "$(vb_info actual-pages)" = 0 ] || vb_fail "balloon inflated"
vb_signal_guest reuse
vb_wait_uml || vb_fail "guest failed to reuse reported memory"
[ "$(vb_info refused)" = 0 ] || vb_fail "daemon refused requests"
vb_log "ok"
