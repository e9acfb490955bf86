# SPDX-License-Identifier: GPL-2.0-or-later
# tests/lib/guest.sh - guest side of the test library (busybox sh).
# Sourced before every guest script, in UML and in QEMU guests alike.
# /vb/share is shared with the host (hostfs in UML, 9p in QEMU); the host
# side of each function is in tests/lib/common.sh.

VB_SHARE=/vb/share

vb_log() {
	echo "guest: $*"
}

vb_fail() {
	echo "guest: FAIL: $*"
	exit 1
}

# Existence through readdir: robust against any dentry caching of the
# shared filesystem.
vb_share_has() {
	case " $(ls -A "$VB_SHARE" 2>/dev/null | tr '\n' ' ') " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

vb_signal() {
	: >"$VB_SHARE/.$1.tmp" && mv "$VB_SHARE/.$1.tmp" "$VB_SHARE/$1"
}

# vb_wait NAME [timeout_s]: wait until the host signals NAME.
vb_wait() {
	local name=$1 timeout=${2:-60} i=0
	while ! vb_share_has "$name"; do
		i=$((i + 1))
		if [ "$i" -gt $((timeout * 10)) ]; then
			echo "guest: timed out after ${timeout}s waiting for host signal '$name'"
			return 1
		fi
		sleep 0.1
	done
	return 0
}

# vb_put KEY VALUE: the host reads it with vb_get KEY.
vb_put() {
	echo "$2" >"$VB_SHARE/.kv.$1.tmp" && mv "$VB_SHARE/.kv.$1.tmp" "$VB_SHARE/kv.$1"
}

# vb_get KEY: a value the host put with vb_put_guest (empty if none).
vb_get() {
	vb_share_has "kv.$1" && cat "$VB_SHARE/kv.$1"
}

# vb_meminfo FIELD: value in kB from /proc/meminfo (MemTotal, MemFree, ...).
vb_meminfo() {
	awk -v f="$1:" '$1 == f { print $2; found = 1 } END { exit !found }' /proc/meminfo
}

vb_module_dir() {
	echo "/lib/modules/$(uname -r)"
}

# vb_load_balloon intree|ours [module params...]
#   intree: the kernel's own virtio_balloon.ko; ours: vballoon.ko.
vb_load_balloon() {
	local which=$1 ko
	shift
	case $which in
	intree)
		[ -d /sys/module/virtio_balloon ] && return 0
		ko=$(vb_module_dir)/kernel/drivers/virtio/virtio_balloon.ko ;;
	ours)
		[ -d /sys/module/vballoon ] && return 0
		ko=/vb/modules/vballoon.ko ;;
	*)
		echo "guest: vb_load_balloon: want intree or ours, got '$which'"
		return 2 ;;
	esac
	if [ ! -e "$ko" ]; then
		echo "guest: vb_load_balloon: $ko is not in the guest (not built?)"
		return 2
	fi
	insmod "$ko" "$@"
}

vb_unload_balloon() {
	case $1 in
	intree) rmmod virtio_balloon ;;
	ours) rmmod vballoon ;;
	*) echo "guest: vb_unload_balloon: want intree or ours"; return 2 ;;
	esac
}

# vb_wait_meminfo FIELD OP KB [timeout_s]: wait until `FIELD OP KB` holds
# (OP: -lt -le -gt -ge -eq).  Prints the last value read.
vb_wait_meminfo() {
	local field=$1 op=$2 want=$3 timeout=${4:-60} i=0 v
	while :; do
		v=$(vb_meminfo "$field")
		if [ "$v" "$op" "$want" ]; then
			echo "$v"
			return 0
		fi
		i=$((i + 1))
		if [ "$i" -gt $((timeout * 10)) ]; then
			echo "$v"
			return 1
		fi
		sleep 0.1
	done
}

# vb_vmstat FIELD: a counter from /proc/vmstat (e.g. balloon_migrate).
vb_vmstat() {
	awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat
}

# vb_ours_dir: the sysfs directory of vballoon.ko's device (state, pages,
# ...); fails when the driver is bound to no device.
vb_ours_dir() {
	ls -d /sys/bus/virtio/drivers/vballoon/virtio*/vballoon
}

# vb_ours_val KEY: KEY's value in vballoon.ko's state file ("KEY VALUE" lines).
vb_ours_val() {
	sed -n "s/^$1 //p" "$(vb_ours_dir)/state"
}

# vb_settled_migrations: "VMSTAT DRIVER" balloon migration counts
# (/proc/vmstat balloon_migrate, vballoon.ko's migrated) once neither moved
# for 0.2 s (fails after 10 s).  kcompactd migrates balloon pages on its
# own, vmstat counts a migration before the driver has told the host, and
# two reads are not atomic: compare them only once they settled.
vb_settled_migrations() {
	local a b i
	a="$(vb_vmstat balloon_migrate) $(vb_ours_val migrated)"
	for i in $(seq 1 50); do
		sleep 0.2
		b="$(vb_vmstat balloon_migrate) $(vb_ours_val migrated)"
		[ "$a" = "$b" ] && { echo "$a"; return 0; }
		a=$b
	done
	return 1
}

# vb_check_dmesg: fail (printing them) on kernel warnings, BUGs or oopses.
vb_check_dmesg() {
	if dmesg | grep -E "WARNING:|BUG:|Oops|Call Trace"; then
		vb_fail "kernel warnings in dmesg"
	fi
	return 0
}

# vb_tmpfs DIR [SIZE]: mount a tmpfs of SIZE (default 95%) at DIR.
vb_tmpfs() {
	mkdir -p "$1" && mount -t tmpfs -o "size=${2:-95%}" none "$1"
}

# vb_touch_free DIR MARGIN_MIB: fill a file in DIR (a tmpfs) with zeros
# until MARGIN_MIB of MemAvailable is left, then delete it: the guest has
# touched nearly all its free memory, so the host's RAM file holds it.
vb_touch_free() {
	local avail
	avail=$(vb_meminfo MemAvailable)
	dd if=/dev/zero of="$1/.vb-touch" bs=1M count=$((avail / 1024 - $2)) 2>/dev/null
	rm "$1/.vb-touch"
}
