#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Memory offlining under a balloon of whole blocks, on QEMU 11 with
# vballoond and vballoon.ko (continuous pages of order 9, a pageblock on
# x86-64): the driver keeps such blocks unsplit and unmovable, and must
# make them movable when memory holding them goes offline.  A 1 GiB guest
# whose top 512 MiB is ZONE_MOVABLE (movablecore=) inflates 256 MiB; the
# allocator serves the balloon from ZONE_MOVABLE first, so whole blocks
# land there.  Then every online movable memory block without a hole is
# offlined:
#  - none fails for an unmovable page (without the driver's memory
#    notifier the kernel finds the blocks' first pages referenced and
#    fails so); a block the kernel cannot isolate holds a page placed
#    there at boot (isolation skips balloon pages) and stays online, and
#    at least one block goes offline;
#  - the driver split whole blocks for it (split_late rises) and their
#    pages migrated (balloon_migrate rises);
#  - the balloon keeps its size, in the guest and in query-balloon;
#  - a pattern held throughout verifies; the blocks come back online, the
#    balloon deflates and MemTotal returns.
# On Debian 6.1, then on make setup's second kernel (6.12) when it has one.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/vhost-qemu.sh"
vb_require "$BUILD/vb-workload" "$BUILD/x86_64/vballoon.ko"
MIB=$((1 << 20))

cat >"$T/guest.sh" <<'GUEST'
echo 0 >/proc/sys/vm/compaction_proactiveness
# Why an offline fails, should it (the kernel says so at debug level).
echo 'file memory_hotplug.c +p' >/sys/kernel/debug/dynamic_debug/control
# whole BLOCK: memory block BLOCK lies within one System RAM range (the
# top of RAM holds the firmware's tables: a block with a hole never goes
# offline, balloon or not).
bs=$((0x$(cat /sys/devices/system/memory/block_size_bytes)))
whole() {
	local s=$(($1 * bs)) e=$((($1 + 1) * bs - 1)) a b
	for r in $(sed -n 's/^\([0-9a-f]*\)-\([0-9a-f]*\) : System RAM$/\1-\2/p' /proc/iomem); do
		a=$((0x${r%-*})) b=$((0x${r#*-}))
		[ $a -le $s ] && [ $e -le $b ] && return 0
	done
	return 1
}
vb_load_balloon ours || vb_fail "insmod vballoon failed"
st=$(vb_ours_dir) || vb_fail "no debug view"
vb-workload fill --mib 32 --hold-file /tmp/hold --seed 7 || exit 1
before=$(vb_meminfo MemTotal)
vb_signal ready
vb_wait inflated 300 || exit 1
[ "$(vb_ours_mode)" = cont ] || vb_fail "mode $(vb_ours_mode), want cont"
pages=$(cat $st/pages)
kept=$(cat $st/kept_whole)
[ "$kept" -gt 0 ] || vb_fail "no block was kept whole"
split0=$(cat $st/split_late) m0=$(vb_vmstat balloon_migrate)
n=0
for b in /sys/devices/system/memory/memory*; do
	[ "$(cat $b/state)" = online ] || continue
	grep -qx Movable $b/valid_zones || continue
	whole "${b##*/memory}" || continue
	# The kernel retries an offline that finds pages it cannot migrate
	# until a signal: 120 s tells that from a slow TCG guest.
	if ! timeout 120 sh -c "echo offline >$b/state" 2>/dev/null; then
		why=$(dmesg | sed -n 's/.*memory offlining .* failed due to //p' | tail -1)
		# Isolation skips offline (balloon) pages: a failure there is
		# another page's, one the kernel placed in ZONE_MOVABLE at boot.
		[ "$why" = "failure to isolate range" ] || {
			dmesg | tail -20
			vb_fail "${b##*/} did not go offline (${why:-timed out}; balloon $pages pages, split $(cat $st/split_late))"
		}
		vb_log "${b##*/} stays online: $why (not a balloon page)"
		continue
	fi
	n=$((n + 1))
	echo "${b##*/}" >>/tmp/offlined
done
[ "$n" -gt 0 ] || vb_fail "no movable memory block went offline: $(cat /sys/devices/system/memory/memory*/valid_zones | sort | uniq -c)"
split1=$(cat $st/split_late) m1=$(vb_vmstat balloon_migrate)
c=$(vb_settled_migrations) || vb_fail "balloon migrations never settled"
sum="$n movable memory blocks offlined; $kept blocks kept whole, split_late $split0 -> $split1, balloon_migrate $m0 -> $m1 (driver ${c#* })"
vb_log "$sum"
[ "$split1" -gt "$split0" ] || vb_fail "offlining split no whole block"
[ "$m1" -gt "$m0" ] || vb_fail "offlining migrated no balloon page"
[ "$(cat $st/pages)" = "$pages" ] || vb_fail "balloon size changed: $pages -> $(cat $st/pages)"
vb-workload verify --mib 32 --hold-file /tmp/hold --seed 7 || exit 1
for m in $(cat /tmp/offlined); do
	echo online_movable >/sys/devices/system/memory/$m/state ||
		vb_fail "$m did not come back online"
done
vb_put offlined "$sum"
vb_signal offlined
vb_wait deflated 300 || exit 1
vb_wait_meminfo MemTotal -ge "$before" 60 >/dev/null ||
	vb_fail "MemTotal did not return to $before kB"
vb-workload verify --mib 32 --hold-file /tmp/hold --seed 7 || exit 1
vb_check_dmesg
GUEST

# run LABEL [qemu-run options]: one guest, the whole scenario.
run() {
	local label=$1
	shift
	vb_start_daemon_qemu 1G --pages-order 9 --page-reporting off --free-page-hint off -- \
		--no-balloon-module --cmdline movablecore=512M --timeout 800 "$@" -- "$T/guest.sh"
	vb_wait_guest ready 300 || { vb_wait_qemu; vb_fail "$label: guest not ready"; }
	vb_ctl set 768M >/dev/null || vb_fail "$label: balloon command failed"
	vb_wait_actual $((768 * MIB)) 120 || vb_fail "$label: inflate did not reach 768 MiB"
	vb_signal_guest inflated
	vb_wait_guest offlined 600 || { vb_wait_qemu; vb_fail "$label: offlining step failed"; }
	[ "$(vb_info actual)" = $((768 * MIB)) ] || vb_fail "$label: actual changed: $(vb_info actual)"
	vb_ctl set 1G >/dev/null || vb_fail "$label: balloon command failed"
	vb_wait_actual $((1024 * MIB)) 120 || vb_fail "$label: deflate did not reach 1 GiB"
	vb_signal_guest deflated
	vb_wait_qemu || vb_fail "$label: guest script failed"
	vb_term_daemon
	rm -f "$VB_SOCK" "$VB_QMP" "$VB_RAM_FILE"
	vb_log "$label, QEMU 11 + vballoond + vballoon.ko, a 256 MiB balloon: $(vb_get offlined)"
}

run "Debian 6.1"
if [ -n "${VB_X86_ALT_ROOT:-}" ]; then
	run "Debian 6.12" --kernel-root "$VB_X86_ALT_ROOT" --module "$BUILD/x86_64-alt/vballoon.ko"
else
	vb_log "no second kernel (linux-image-6.12.*): 6.1 only"
fi
