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
	stat -c '%b %B' "${1:-$VB_RAM_FILE}" | awk '{ print $1 * $2 }'
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

# vb_hugetlbfs PAGES: reserve PAGES more 2 MiB huge pages (the old
# nr_hugepages comes back on every exit path) and mount a hugetlbfs of that
# size at $T/huge.  Sets VB_HUGETLB_DIR.  Skips when the host cannot.
vb_hugetlbfs() {
	local f=/proc/sys/vm/nr_hugepages old
	old=$(cat "$f") || vb_skip "no $f"
	echo "$old" >"$T/nr_hugepages.old"
	trap 'rc=$?; vb__restore_hugepages; (exit $rc); vb_cleanup' EXIT
	echo $((old + $1)) >"$f" 2>/dev/null || vb_skip "cannot reserve huge pages (need root)"
	[ "$(cat "$f")" -ge $((old + $1)) ] || vb_skip "the host gave only $(( $(cat "$f") - old )) of $1 huge pages"
	VB_HUGETLB_DIR=$T/huge
	mkdir -p "$VB_HUGETLB_DIR"
	mount -t hugetlbfs -o "pagesize=2M,size=$(($1 * 2))M" vb-hugetlb "$VB_HUGETLB_DIR" ||
		vb_skip "cannot mount hugetlbfs"
	VB_MOUNTS+=("$VB_HUGETLB_DIR")
}

# The reservation shrinks back; pages still in use become surplus and are
# freed when their last user goes (the kernel's rule), so order is free.
vb__restore_hugepages() {
	[ -f "$T/nr_hugepages.old" ] && cat "$T/nr_hugepages.old" >/proc/sys/vm/nr_hugepages
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
