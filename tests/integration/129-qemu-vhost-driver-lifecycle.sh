#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The drivers' optional paths and their lifecycle through QEMU 11's
# vhost-user-test-device-pci and vballoond, one 512 MiB guest, Debian 6.1's
# in-tree virtio_balloon and then vballoon.ko (VB_DRIVERS picks), each:
#   - free page reporting: 200 MiB the guest frees comes back from the RAM
#     file, with no balloon target;
#   - a free page hint round without a migration: the guest hints its free
#     memory, holds the blocks until DONE, then has them back;
#   - rmmod with 256 MiB ballooned gives the memory back (guest and
#     vballoond), insmod inflates to the kept target again;
#   - a storm of 20 insmod/rmmod cycles, each unloading the driver while the
#     inflate to the kept target runs; then the guest has all its memory,
#     vballoond is alive, serving and sees no balloon, and one more insmod
#     inflates to the target with vballoond's actual equal to the guest's
#     balloon, and stats from that driver.
# A pattern held since boot verifies after every step; dmesg has no
# warning, BUG, oops, hung task or "nobody cared" interrupt at the end.
# vb-test: timeout=900
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/vhost-qemu.sh"
DRIVERS=${VB_DRIVERS:-intree ours}
vb_require "$BUILD/vb-workload"
[[ $DRIVERS != *ours* ]] || vb_require "$BUILD/x86_64/vballoon.ko"
M=$((1 << 20))
STORM=20
RAM=512 BALLOON=256	# MiB

cat >"$T/guest.sh" <<'GUEST'
storm=$1
balloon=$2	# MiB, at the kept target
shift 2
FULL=$((balloon * 256))	# 4 KiB pages
verify() { vb-workload verify --mib 32 --hold-file /tmp/hold --seed 13 || vb_fail "$1: pattern corrupted"; }
inflated() {
	vb_wait_meminfo MemTotal -le $((before - balloon * 1024)) 120 >/dev/null
}
# unload DRIVER: rmmod; HELD is the pages it handed back, what the balloon
# held at that moment.
unload() {
	local d0
	d0=$(vb_vmstat balloon_deflate)
	vb_unload_balloon "$1" || vb_fail "rmmod $1 failed"
	HELD=$(($(vb_vmstat balloon_deflate) - d0))
}

reporting() {
	dd if=/dev/zero of=/tmp/big bs=1M count=200 2>/dev/null
	vb_signal "filled-$1"
	vb_wait "free-$1" 120 || exit 1
	rm /tmp/big
	vb_signal "freed-$1"
}

hints() {
	local free0 v
	vb_wait "hint-$1" 120 || exit 1
	free0=$(vb_meminfo MemFree)
	vb_put "free0-$1" "$free0"
	vb_signal "hintready-$1"
	vb_wait "hinted-$1" 120 || exit 1
	vb_put "freehinted-$1" "$(vb_meminfo MemFree)"
	vb_signal "measured-$1"
	vb_wait "hintdone-$1" 120 || exit 1
	v=$(vb_wait_meminfo MemFree -ge $((free0 - 65536)) 60) ||
		vb_fail "$1: MemFree stayed at $v kB after DONE (was $free0)"
	verify "$1: hint round"
	vb_signal "recovered-$1"
}

reload() {
	local v
	vb_wait "inflated-$1" 120 || exit 1
	inflated || vb_fail "$1: MemTotal $(vb_meminfo MemTotal) kB, not $balloon MiB below $before kB"
	unload "$1"
	[ "$HELD" = "$FULL" ] || vb_fail "$1: rmmod gave back $HELD pages, the balloon held $FULL"
	v=$(vb_meminfo MemTotal)
	[ "$v" -ge "$before" ] || vb_fail "$1: MemTotal $v kB after rmmod, want $before kB"
	vb_signal "unloaded-$1"
	vb_wait "reload-$1" 120 || exit 1
	vb_load_balloon "$1" || vb_fail "$1: second insmod failed"
	inflated || vb_fail "$1: the reloaded driver did not inflate to the kept target"
	verify "$1: rmmod/insmod"
	vb_signal "reinflated-$1"
}

# storm DRIVER KNOBS: the cycles; each unloads the driver once the inflate
# to the kept target has started (60 s at most).
storm() {
	local i=1 mid=0 helds= end v
	vb_wait "storm-$1" 120 || exit 1
	unload "$1"
	while [ $i -le "$storm" ]; do
		# shellcheck disable=SC2086 # knobs are words
		vb_load_balloon "$1" $2 || vb_fail "$1: storm insmod $i failed"
		end=$(($(date +%s) + 60))
		while [ "$(vb_balloon_pages)" -le 0 ] && [ "$(date +%s)" -le $end ]; do :; done
		unload "$1"
		[ "$HELD" -gt 0 ] && [ "$HELD" -lt "$FULL" ] && mid=$((mid + 1))
		helds="$helds $HELD"
		i=$((i + 1))
	done
	v=$(vb_wait_meminfo MemTotal -ge "$before" 60) ||
		vb_fail "$1: after the storm MemTotal is $v kB, want $before kB"
	[ "$(vb_balloon_pages)" = 0 ] || vb_fail "$1: $(vb_balloon_pages) pages still ballooned after the storm"
	verify "$1: storm"
	vb_put "mid-$1" "$mid"
	vb_put "helds-$1" "$helds"
	vb_signal "stormed-$1"
}

final() {
	vb_wait "final-$1" 120 || exit 1
	vb_load_balloon "$1" || vb_fail "$1: insmod after the storm failed"
	inflated || vb_fail "$1: no inflate after the storm"
	vb_put "pages-$1" "$(vb_balloon_pages)"
	vb_signal "finalinflated-$1"
	vb_wait "finaldeflated-$1" 120 || exit 1
	vb_wait_meminfo MemTotal -ge "$before" 60 >/dev/null || vb_fail "$1: MemTotal did not come back"
	unload "$1"
	verify "$1: end"
}

vb-workload fill --mib 32 --hold-file /tmp/hold --seed 13 || exit 1
before=$(vb_meminfo MemTotal)
for d; do
	vb_load_balloon "$d" || vb_fail "cannot load the $d driver"
	reporting "$d"
	hints "$d"
	reload "$d"
	# Small requests, one at a time, for vballoon.ko's storm: its default
	# 256 MiB batches would finish an inflate between two polls.
	knobs=
	[ "$d" = ours ] && knobs="pipeline=0 range_batch_pages=1024"
	storm "$d" "$knobs"
	final "$d"
done
vb_check_dmesg || exit 1
dmesg | grep -E "nobody cared|Disabling IRQ|blocked for more than" &&
	vb_fail "interrupt or stall reports in dmesg"
exit 0
GUEST

# reporting DRIVER: 200 MiB the guest frees leaves the RAM file.
reporting() {
	local d=$1 b0 r0 r1 released=0 end
	sleep 3 # boot-time and earlier reports settle
	b0=$(vb_ram_bytes) r0=$(vb_info reported-bytes)
	vb_signal_guest "free-$d"
	vb_wait_guest "freed-$d" 60 || vb_fail "$d: guest did not free"
	end=$((SECONDS + 60))
	while ((SECONDS < end)); do
		released=$((b0 - $(vb_ram_bytes)))
		((released >= 160 * M)) && break
		sleep 0.2
	done
	r1=$(vb_info reported-bytes)
	vb_log "$d: guest freed 200 MiB: RAM file released $((released / M)) MiB, reported $(((r1 - r0) / M)) MiB"
	((released >= 160 * M)) || vb_fail "$d: RAM file released only $((released / M)) MiB of 200"
	((r1 - r0 >= 160 * M)) || vb_fail "$d: vballoond counted only $((r1 - r0)) reported bytes"
	[ "$(vb_info actual-pages)" = 0 ] || vb_fail "$d: the balloon moved during reporting"
}

# hints DRIVER: a round hints the guest's free memory, which the guest
# holds until DONE.
hints() {
	local d=$1 hinted sum f0 fh
	vb_signal_guest "hint-$d"
	vb_wait_guest "hintready-$d" 60 || vb_fail "$d: guest not ready for hints"
	hinted=$(vb_hint_round) || vb_fail "$d: hint round failed"
	sum=$(vb_ctl --json hint ranges | jq '[.[].length] | add // 0')
	[ "$sum" = "$hinted" ] || vb_fail "$d: hint ranges add up to $sum, status says $hinted"
	vb_signal_guest "hinted-$d"
	vb_wait_guest "measured-$d" 60 || vb_fail "$d: guest did not measure"
	f0=$(vb_get "free0-$d") fh=$(vb_get "freehinted-$d")
	vb_log "$d: hinted $((hinted / M)) MiB; guest MemFree $((f0 / 1024)) -> $((fh / 1024)) MiB while holding hints"
	((hinted >= 150 * M)) || vb_fail "$d: only $hinted bytes hinted"
	((f0 - fh >= 150 * 1024)) || vb_fail "$d: guest does not hold its hint blocks ($f0 -> $fh kB)"
	vb_ctl hint 'done' >/dev/null || vb_fail "$d: hint done failed"
	vb_signal_guest "hintdone-$d"
	vb_wait_guest "recovered-$d" 90 || { vb_wait_qemu; vb_fail "$d: hint blocks not back after DONE"; }
}

# reload DRIVER: rmmod with 256 MiB ballooned, insmod inflates again.
reload() {
	local d=$1
	vb_ctl set $(((RAM - BALLOON) * M)) >/dev/null
	vb_wait_actual $(((RAM - BALLOON) * M)) 120 || vb_fail "$d: actual did not reach $((RAM - BALLOON)) MiB"
	vb_signal_guest "inflated-$d"
	vb_wait_guest "unloaded-$d" 120 || { vb_wait_qemu; vb_fail "$d: rmmod failed"; }
	vb_wait_actual $((RAM * M)) 60 || vb_fail "$d: vballoond still sees a balloon after rmmod"
	vb_signal_guest "reload-$d"
	vb_wait_guest "reinflated-$d" 180 || { vb_wait_qemu; vb_fail "$d: insmod did not inflate again"; }
	vb_wait_actual $(((RAM - BALLOON) * M)) 60 || vb_fail "$d: actual not back after insmod"
	vb_log "$d: rmmod gave back $BALLOON MiB, insmod took it again"
}

# storm DRIVER: 20 insmod/rmmod cycles mid-inflate, then one inflate that
# vballoond must count as the guest does.
storm() {
	local d=$1 mid pages t
	vb_signal_guest "storm-$d"
	vb_wait_guest "stormed-$d" 600 || { vb_wait_qemu; vb_fail "$d: storm failed in the guest"; }
	mid=$(vb_get "mid-$d")
	vb_log "$d: $mid of $STORM unloads happened mid-inflate; pages in the balloon at each:$(vb_get "helds-$d")"
	# The point of the storm: unloads that race a running inflate.
	((mid >= STORM / 2)) || vb_fail "$d: only $mid of $STORM unloads were mid-inflate"
	kill -0 "$VB_DAEMON_PID" || vb_fail "$d: vballoond died in the storm"
	vb_wait_actual $((RAM * M)) 60 || vb_fail "$d: vballoond sees a balloon with no driver"
	[ "$(vb_info broken)" = false ] || vb_fail "$d: device marked broken"
	[ "$(vb_info refused)" = 0 ] || vb_fail "$d: vballoond refused requests"
	t=$(date +%s)
	vb_signal_guest "final-$d"
	vb_wait_guest "finalinflated-$d" 180 || { vb_wait_qemu; vb_fail "$d: no inflate after the storm"; }
	vb_wait_stats_since "$t" || vb_fail "$d: no stats from the driver loaded after the storm"
	vb_wait_actual $(((RAM - BALLOON) * M)) 60 || vb_fail "$d: actual not at the target after the storm"
	pages=$(vb_get "pages-$d")
	[ "$(vb_info actual-pages)" = "$pages" ] ||
		vb_fail "$d: vballoond counts $(vb_info actual-pages) pages, the guest's balloon holds $pages"
	vb_ctl set $((RAM * M)) >/dev/null
	vb_wait_actual $((RAM * M)) 120 || vb_fail "$d: final deflate"
	vb_signal_guest "finaldeflated-$d"
}

vb_start_daemon_qemu ${RAM}M --stats-interval 1 -- --no-balloon-module --timeout 840 -- "$T/guest.sh" "$STORM" "$BALLOON" $DRIVERS
for d in $DRIVERS; do
	vb_wait_guest "filled-$d" 240 || { vb_wait_qemu; vb_fail "$d: guest not ready"; }
	vb_info features | jq -e 'index("free-page-hint") and index("page-reporting")' >/dev/null ||
		vb_fail "$d: hints and reporting not negotiated: $(vb_info features | jq -c .)"
	reporting "$d"
	hints "$d"
	reload "$d"
	storm "$d"
done
vb_wait_qemu || vb_fail "guest script failed"
vb_term_daemon
vb_log "QEMU 11 + vballoond: reporting, hints, rmmod/insmod and a $STORM-cycle storm with $DRIVERS"
