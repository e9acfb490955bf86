# SPDX-License-Identifier: GPL-2.0-or-later
# tests/lib/qemu-ram.sh - the host side of a QEMU guest's shared RAM
# backing (qemu-run --ram), for tests and bench/run: source after
# common.sh.  QEMU keeps the backing's fd open (a vhost-user backend gets a
# copy of it), so /proc/PID/fd finds the memfd, the unlinked file QEMU made
# in a --ram directory, or a named --ram file, whichever the guest has.

# vb_qemu_ram_info FILE [PID] [PATH]: write an info file (pid=, ramfile=)
# for QEMU process PID (default VB_QEMU_PID) whose guest RAM is PATH (a
# --ram file; default: a memfd or a file QEMU made in a --ram directory),
# so that vb_ramfile_bytes FILE and vb_ramfile_smaps FIELD FILE read that
# guest's RAM as they read a UML guest's.
vb_qemu_ram_info() {
	local info=$1 pid=${2:-$VB_QEMU_PID} path=${3:-} f l
	for f in /proc/"$pid"/fd/*; do
		l=$(readlink "$f") || continue
		case $l in
		"$path"|"$path (deleted)") [ -n "$path" ] || continue ;;
		/memfd:memory-backend-memfd*|*/qemu_back_mem.vbmem.*) [ -z "$path" ] || continue ;;
		*) continue ;;
		esac
		printf 'pid=%s\nramfile=%s\n' "$pid" "$f" >"$info"
		return 0
	done
	echo "vb_qemu_ram_info: QEMU $pid holds no guest RAM fd${path:+ for $path}" >&2
	return 1
}
