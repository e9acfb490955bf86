# SPDX-License-Identifier: GPL-2.0-or-later
# tests/lib/vhost-qemu.sh - vballoond as the balloon of a stock QEMU: source
# after common.sh.  The newer QEMU (make setup's VB_QEMU_NEW, 11.x) attaches
# vballoond's guest socket through vhost-user-test-device-pci; guest RAM is
# a file on a tmpfs of the test's own, so the test reads the host's side of
# the balloon (the file's allocated blocks) directly.

[ -f "$VB_CACHE/env.sh" ] && . "$VB_CACHE/env.sh"

# vb_need_qemu_new: skip the test, with one reason, without the newer QEMU.
vb_need_qemu_new() {
	[ -n "${VB_QEMU_NEW:-}" ] ||
		vb_skip "no QEMU >= 10.2 in the cache (make setup could not fetch it; see its NOTE lines)"
}

# vb_ram_tmpfs SIZE: a tmpfs at $T/ram for the guest's RAM file, unmounted
# at exit.  Sets VB_RAM_FILE.
vb_ram_tmpfs() {
	mkdir -p "$T/ram"
	mount -t tmpfs -o "size=$1" vb-ram "$T/ram" || vb_skip "cannot mount a tmpfs (need root)"
	VB_MOUNTS+=("$T/ram")
	VB_RAM_FILE=$T/ram/guest-ram
}

# vb_ram_bytes [FILE]: host memory the guest's RAM file holds.
vb_ram_bytes() {
	local b
	# Shell arithmetic: mawk prints a product above 2^31 as 2.1e+09.
	b=$(stat -c '%b * %B' "${1:-$VB_RAM_FILE}") || return 1
	echo $((b))
}

# vb_start_daemon_qemu MEM [vballoond options] -- [qemu-run options] --
# SCRIPT [ARGS]: vballoond (device id balloon0), then a QEMU 11 x86-64 guest
# of MEM whose RAM is $VB_RAM_FILE and whose balloon is vballoond.
vb_start_daemon_qemu() {
	local mem=$1 dargs=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		dargs+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	vb_need_qemu_new
	[ -n "${VB_RAM_FILE:-}" ] || vb_ram_tmpfs "$mem"
	vb_start_daemon --name balloon0 "${dargs[@]}" || vb_fail "daemon did not start"
	vb_start_qemu --qemu new --mem "$mem" --ram "file:$VB_RAM_FILE" \
		--vhost-balloon "$VB_SOCK" "$@" || vb_fail "QEMU guest did not start"
}

# vb_file_alloc FILE START LEN: bytes FILE holds (data, not holes) in
# [START, START+LEN), by SEEK_DATA/SEEK_HOLE: the host side of one guest
# RAM region that lives at that file offset.
vb_file_alloc() {
	python3 - "$@" <<'PY'
import os, sys
path, start, length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
end, total = start + length, 0
fd = os.open(path, os.O_RDONLY)
pos = start
while pos < end:
    try:
        data = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError:
        break
    if data >= end:
        break
    hole = min(os.lseek(fd, data, os.SEEK_HOLE), end)
    total += hole - data
    pos = hole
print(total)
PY
}

# vb_qemu_cmd JSON: one QMP command to QEMU itself (not vballoond).
vb_qemu_cmd() { vb_qmp "$VB_QEMU_QMP" "$1"; }

# vb_hugetlbfs PAGES: reserve PAGES more 2 MiB huge pages (given back
# on every exit path) and mount a hugetlbfs of that
# size at $T/huge.  Sets VB_HUGETLB_DIR.  Skips when the host cannot.
vb_hugetlbfs() {
	local f=/proc/sys/vm/nr_hugepages old pages=$1
	old=$(cat "$f") || vb_skip "no $f"
	vb__hugepages_trap
	echo $((old + pages)) >"$f" 2>/dev/null || vb_skip "cannot reserve huge pages (need root)"
	# What we added, not the old total, is given back: another test may
	# reserve and release its own pages meanwhile.
	echo $(($(cat "$f") - old)) >"$T/nr_hugepages.added"
	[ "$(cat "$T/nr_hugepages.added")" -ge "$pages" ] ||
		vb_skip "the host gave only $(cat "$T/nr_hugepages.added") of $pages huge pages"
	VB_HUGETLB_DIR=$T/huge
	mkdir -p "$VB_HUGETLB_DIR"
	mount -t hugetlbfs -o "pagesize=2M,size=$((pages * 2))M" vb-hugetlb "$VB_HUGETLB_DIR" ||
		vb_skip "cannot mount hugetlbfs"
	VB_MOUNTS+=("$VB_HUGETLB_DIR")
}

# vb__hugepages_trap: restore nr_hugepages on exit, then run the EXIT
# handler that was there before (vb_cleanup, or one that chains to it such
# as the migration library's, which deletes its network namespaces).
vb__hugepages_trap() {
	[ -n "${VB__HUGEPAGES_PREV_EXIT:-}" ] && return 0
	eval "set -- $(trap -p EXIT)"
	VB__HUGEPAGES_PREV_EXIT=${3:-vb_cleanup}
	trap 'rc=$?; vb__restore_hugepages; (exit $rc); eval "$VB__HUGEPAGES_PREV_EXIT"' EXIT
}

# The reservation shrinks back; pages still in use become surplus and are
# freed when their last user goes (the kernel's rule), so order is free.
vb__restore_hugepages() {
	local f=/proc/sys/vm/nr_hugepages added n
	[ -f "$T/nr_hugepages.added" ] || return 0
	added=$(cat "$T/nr_hugepages.added") && n=$(($(cat "$f") - added))
	echo $((n < 0 ? 0 : n)) >"$f"
	rm -f "$T/nr_hugepages.added"
	return 0
}

# vb_hugetlb_free: free huge pages of the test's hugetlbfs mount.
vb_hugetlb_free() { stat -f -c '%f' "$VB_HUGETLB_DIR"; }

# vb_wait_info FIELD VALUE [timeout_s]: until vballoond's x-vb-query FIELD
# reads VALUE, bounded in seconds (not polls: a loaded host slows each
# query).  On timeout prints the last value and returns 1.
vb_wait_info() {
	local field=$1 want=$2 end=$((SECONDS + ${3:-120})) v=
	while ((SECONDS < end)); do
		v=$(vb_info "$field" 2>/dev/null) && [ "$v" = "$want" ] && return 0
		sleep 0.2
	done
	echo "$field is '$v', want $want" >&2
	return 1
}

# vb_vhost_cycles "DRIVER..." [qemu-run options]: the balloon's contract
# through QEMU 11 + vballoond, in one 512 MiB guest: each DRIVER (intree,
# ours) in turn is loaded, `balloon` takes 256 MiB and gives it back twice,
# and the driver is unloaded.  MemTotal drops exactly 256 MiB, the RAM file
# gives back what the guest had touched, a pattern held since boot verifies
# every cycle, the driver's own stats arrive, the transfer mode is the
# driver's (vballoon.ko's extension bits pass through QEMU), and dmesg stays
# clean.  Reporting is off: it would return the touched memory before the
# balloon does.  The guest's kernel release is left in vb_get kernel.
VB_CYCLES_RAM=512 VB_CYCLES_BALLOON=256	# MiB
vb_vhost_cycles() {
	local drivers=$1 d
	shift
	vb__cycles_guest >"$T/cycles.sh"
	# shellcheck disable=SC2086 # the driver list is words
	vb_start_daemon_qemu ${VB_CYCLES_RAM}M --stats-interval 1 --page-reporting off -- \
		--no-balloon-module --timeout 840 "$@" -- "$T/cycles.sh" "$VB_CYCLES_BALLOON" $drivers
	for d in $drivers; do
		vb__cycles_driver "$d"
	done
	vb_wait_qemu || vb_fail "guest script failed"
	vb_term_daemon
}

vb__cycles_guest() {
	cat <<'GUEST'
balloon=$1	# MiB
shift
vb_put kernel "$(uname -r)"
vb-workload fill --mib 32 --hold-file /tmp/hold --seed 11 || exit 1
for d; do
	vb_load_balloon "$d" || vb_fail "cannot load the $d driver"
	before=$(vb_meminfo MemTotal)
	vb_put "before-$d" "$before"
	for c in 1 2; do
		s=$d-$c
		# Touch and free most of RAM, so the host file holds it before
		# the inflate.
		vb_touch_free /tmp 100 || exit 1
		vb_signal "touched-$s"
		vb_wait "inflated-$s" 300 || exit 1
		after=$(vb_wait_meminfo MemTotal -le $((before - balloon * 1024)) 60) ||
			vb_fail "$s: MemTotal $after kB did not drop by $balloon MiB from $before kB"
		vb_put "after-$s" "$after"
		vb-workload verify --mib 32 --hold-file /tmp/hold --seed 11 || exit 1
		vb_signal "checked-$s"
		vb_wait "deflated-$s" 300 || exit 1
		vb_wait_meminfo MemTotal -ge "$before" 60 >/dev/null ||
			vb_fail "$s: MemTotal did not return to $before kB"
		vb-workload verify --mib 32 --hold-file /tmp/hold --seed 11 || exit 1
		vb_signal "back-$s"
	done
	vb_wait "unload-$d" 300 || exit 1
	vb_unload_balloon "$d" || vb_fail "rmmod $d failed"
done
vb_check_dmesg || exit 1
GUEST
}

# vb__cycles_driver DRIVER: the host's half of one driver's cycles.
vb__cycles_driver() {
	local d=$1 loaded
	vb_wait_guest "touched-$d-1" 300 || { vb_wait_qemu; vb_fail "$d: guest not ready"; }
	loaded=$(date +%s)
	vb__cycles_mode "$d"
	vb__cycle "$d" 1
	vb__cycle "$d" 2
	vb_wait_stats_since "$loaded" || vb_fail "$d: no stats from this driver"
	vb_signal_guest "unload-$d"
}

# vb__cycles_mode DRIVER: the whole guest's RAM, and the driver's transfer
# mode: PFNs for the in-tree driver, page ranges for vballoon.ko (the
# generic device passes the extension bits unchanged).
vb__cycles_mode() {
	local d=$1 want=pfns
	[ "$d" = ours ] && want=ranges
	vb_wait_actual $((VB_CYCLES_RAM << 20)) 60 || vb_fail "$d: vballoond does not see a $VB_CYCLES_RAM MiB guest"
	[ "$(vb_info transfer)" = "\"$want\"" ] ||
		vb_fail "$d: transfer $(vb_info transfer), want $want; features $(vb_info features | jq -c .)"
	vb_log "$d: features $(vb_info features | jq -c .), transfer $want"
}

# vb__cycle DRIVER N: one cycle, once the guest touched its RAM.
vb__cycle() {
	local d=$1 s=$1-$2 held drop freed M=$((1 << 20))
	local full=$((VB_CYCLES_RAM * M)) target=$(((VB_CYCLES_RAM - VB_CYCLES_BALLOON) * M))
	vb_wait_guest "touched-$s" 300 || { vb_wait_qemu; vb_fail "$s: guest did not touch its RAM"; }
	held=$(vb_ram_bytes)
	vb_ctl set "$target" >/dev/null
	vb_wait_actual "$target" 120 || vb_fail "$s: actual did not reach $((target / M)) MiB"
	vb_signal_guest "inflated-$s"
	vb_wait_guest "checked-$s" 120 || { vb_wait_qemu; vb_fail "$s: guest check failed"; }
	drop=$(($(vb_get "before-$d") - $(vb_get "after-$s")))
	((drop == VB_CYCLES_BALLOON * 1024)) ||
		vb_fail "$s: MemTotal dropped by $drop kB, want $((VB_CYCLES_BALLOON * 1024))"
	freed=$((held - $(vb_ram_bytes)))
	vb_log "$s: MemTotal -$drop kB, RAM file $((held / M)) -> $(($(vb_ram_bytes) / M)) MiB"
	# The guest touched all but 100 MiB of its free memory, and the
	# balloon takes recently freed pages first: most of it was backed.
	((freed >= VB_CYCLES_BALLOON * M * 3 / 4)) || vb_fail "$s: the RAM file gave back only $((freed / M)) MiB"
	vb_ctl set "$full" >/dev/null
	vb_wait_actual "$full" 120 || vb_fail "$s: actual did not return to $VB_CYCLES_RAM MiB"
	vb_signal_guest "deflated-$s"
	vb_wait_guest "back-$s" 120 || { vb_wait_qemu; vb_fail "$s: guest did not get its memory back"; }
}

# vb_wait_stats_since SECONDS: until vballoond holds a stats report with
# a total memory received after SECONDS (epoch), 60 s at most.
vb_wait_stats_since() {
	local end=$((SECONDS + 60)) st=
	while ((SECONDS < end)); do
		st=$(vb_ctl --json stats 2>/dev/null) &&
			jq -e --argjson t "$1" '.["last-update"] > $t and
				.stats["stat-total-memory"] > 0 and
				.stats["stat-total-memory"] < 18446744073709551615' <<<"$st" >/dev/null &&
			return 0
		sleep 0.5
	done
	echo "no stats report after $1: $st" >&2
	return 1
}

# vb_hint_round: one free page hint round, as a migration tool starts it
# (no migration needed): a new command id, then until the guest stopped
# the round (120 s at most); prints the bytes hinted.
vb_hint_round() {
	local id st end=$((SECONDS + 120))
	id=$(vb_ctl --json hint start | jq -e '.["cmd-id"]') || { echo "hint start failed" >&2; return 1; }
	while ((SECONDS < end)); do
		st=$(vb_ctl --json hint status) || return 1
		[ "$(jq -r .state <<<"$st")" = stopped ] && break
		sleep 0.2
	done
	[ "$(jq -r .state <<<"$st")" = stopped ] || { echo "round $id never stopped: $st" >&2; return 1; }
	[ "$(jq '.["cmd-id"]' <<<"$st")" = "$id" ] || { echo "cmd id moved: $st" >&2; return 1; }
	jq '.["hinted-bytes"]' <<<"$st"
}
