#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Page poison: with init_on_free=1 the in-tree driver accepts PAGE_POISON and
# reports poison_val 0 (freed pages are zeroed, and so is a punched hole), so
# the device still discards: free page reporting and inflation release host
# memory, and reused memory reads back correctly.  A non-zero poison value
# (pages kept, never punched) is covered by the unit test test_balloon.
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload"
DRIVER=${VB_DRIVER:-intree}
MIB=$((1 << 20))

cat >"$T/guest.sh" <<'GUEST'
grep -q init_on_free=1 /proc/cmdline || vb_fail "init_on_free=1 not on the command line"
vb_load_balloon "$1" || vb_fail "cannot load the $1 balloon driver"
vb_tmpfs /mnt/h
dd if=/dev/zero of=/mnt/h/big bs=1M count=200 2>/dev/null
vb_signal filled
vb_wait free 120 || exit 1
rm /mnt/h/big
vb_signal freed
vb_wait reuse 120 || exit 1
vb-workload fill --mib 200 --hold-file /mnt/h/p --seed 51 || vb_fail "fill"
vb-workload verify --mib 200 --hold-file /mnt/h/p --seed 51 || vb_fail "reused memory corrupted"
vb_signal reused
vb_wait finish 120 || exit 1
vb-workload verify --mib 200 --hold-file /mnt/h/p --seed 51 || vb_fail "corrupted after ballooning"
exit 0
GUEST

vb_start_daemon_uml 512M \
	-- --cmdline "init_on_free=1" --timeout 300 -- "$T/guest.sh" "$DRIVER"
vb_wait_guest filled 120 || { vb_wait_uml; vb_fail "guest did not fill"; }
feat=$(vb_info features)
echo "$feat" | jq -e 'index("page-poison")' >/dev/null || vb_fail "PAGE_POISON not negotiated: $feat"
echo "$feat" | jq -e 'index("page-reporting")' >/dev/null || vb_fail "reporting not negotiated: $feat"
[ "$(vb_info poison-val)" = 0 ] || vb_fail "poison value $(vb_info poison-val), want 0"
sleep 3
b0=$(vb_ramfile_bytes)
vb_signal_guest free
vb_wait_guest freed 60 || vb_fail "guest did not free"
for ((i = 0; i < 300; i++)); do
	released=$((b0 - $(vb_ramfile_bytes)))
	(( released >= 160 * MIB )) && break
	sleep 0.1
done
vb_log "poison_val 0: reporting released $((released / MIB)) MiB of 200"
(( released >= 160 * MIB )) || vb_fail "reporting released only $((released / MIB)) MiB"
vb_signal_guest reuse
vb_wait_guest reused 120 || { vb_wait_uml; vb_fail "reuse failed"; }
full=$(vb_actual)
vb_ctl set $((full - 128 * MIB)) >/dev/null || vb_fail "balloon failed"
vb_wait_actual $((full - 128 * MIB)) 60 || vb_fail "inflate with poisoning did not finish"
d=$(vb_info discarded-bytes)
vb_log "inflated 128 MiB with init_on_free: discarded $((d / MIB)) MiB in total"
(( d >= 128 * MIB )) || vb_fail "inflated pages not discarded with poison_val 0"
vb_ctl set "$full" >/dev/null
vb_signal_guest finish
vb_wait_uml || vb_fail "guest script failed"
vb_log "ok"
