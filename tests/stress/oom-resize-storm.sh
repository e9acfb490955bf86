#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Stress, outside make check (its outcome is a rate, not a verdict): the
# host resizes a 384 MiB UML guest (vballoon.ko, deflate-on-oom on) between
# 64 and 384 MiB every 0.6 s while the guest writes 200 MiB to a tmpfs file
# as fast as it can, six times.  Every OOM kill there is the driver's: 200
# MiB fit whenever the balloon gives back what it holds.  Prints the fills'
# exit codes, the OOM kills and the driver's OOM counters.
#   tests/stress/oom-resize-storm.sh            build/um/vballoon.ko
#   VB_STORM_KO=PATH tests/stress/oom-resize-storm.sh   another build
. "$(dirname "$0")/../lib/common.sh"
ko=${VB_STORM_KO:-$BUILD/um/vballoon.ko}
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload" "$ko"
MIB=$((1 << 20))

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon ours || vb_fail "cannot load vballoon.ko"
vb_tmpfs /mnt/h
vb_signal loaded
vb_wait go 60 || exit 1
rcs=
for s in 1 2 3 4 5 6; do
	vb-workload fill --mib 200 --hold-file /mnt/h/p --seed "$s" >/dev/null 2>&1
	rcs="$rcs $?"
	rm -f /mnt/h/p
done
vb_put rcs "$rcs"
vb_put kills "$(dmesg | grep -c "Killed process")"
vb_put oom "$(for k in oom_calls oom_deflated oom_credited oom_empty oom_yields; do
	echo "$k $(vb_ours_val $k)"; done | tr "\n" " ")"
vb_signal done
exit 0
GUEST

vb_start_oom_uml "$ko" 384M "$T/guest.sh"
vb_signal_guest go
end=$((SECONDS + 190))
while [ ! -e "$VB_SHARE/done" ] && [ ! -e "$VB_SHARE/.vb-exit" ] && ((SECONDS < end)); do
	vb_ctl set $((64 * MIB)) >/dev/null
	sleep 0.4
	vb_ctl set $((384 * MIB)) >/dev/null
	sleep 0.2
done
vb_wait_uml
# A guest whose script was OOM-killed never says done.
[ -e "$VB_SHARE/done" ] || vb_fail "the guest script did not finish (killed?)"
vb_log "fills' exit codes:$(vb_get rcs); OOM kills: $(vb_get kills); $(vb_get oom)"
