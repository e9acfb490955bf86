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
# shared filesystem.  The shell's own glob reads the directory: no fork
# (a poll that ran ls and tr forked three times, in a UML guest a
# measurable share of its one CPU while a benchmark timed it).
vb_share_has() {
	local f
	for f in "$VB_SHARE"/*; do
		[ "${f##*/}" = "$1" ] && return 0
	done
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
#   intree: the kernel's own virtio_balloon.ko; ours: vballoon.ko, whose
#   NAME=VALUE arguments are knobs (docs/driver.md), set before the driver
#   binds the device.
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
	if [ "$which" = ours ] && [ $# -gt 0 ]; then
		vb__load_ours_knobs "$ko" "$@"
		return
	fi
	insmod "$ko" "$@"
}

# vb_balloon_dev: the name of the balloon's virtio device (virtioN).
vb_balloon_dev() {
	local d
	for d in /sys/bus/virtio/devices/*; do
		[ "$(cat "$d/device")" = 0x0005 ] && { echo "${d##*/}"; return 0; }
	done
	return 1
}

# vb_ours_knob NAME VALUE: set one of vballoon.ko's knobs: a debugfs file,
# or a module parameter on a kernel without debugfs (UML).
vb_ours_knob() {
	local f=/sys/kernel/debug/vballoon/$1
	[ -e "$f" ] || f=/sys/module/vballoon/parameters/$1
	[ -e "$f" ] || { echo "guest: vballoon.ko has no knob $1"; return 2; }
	echo "$2" >"$f"
}

# vb__load_ours_knobs KO NAME=VALUE...: insmod with the bus's autoprobe
# off, set the knobs, then bind the device.
vb__load_ours_knobs() {
	local ko=$1 kv dev rc=0
	shift
	echo 0 >/sys/bus/virtio/drivers_autoprobe
	insmod "$ko" || rc=$?
	if [ $rc = 0 ]; then
		for kv; do
			vb_ours_knob "${kv%%=*}" "${kv#*=}" || rc=2
		done
	fi
	echo 1 >/sys/bus/virtio/drivers_autoprobe
	[ $rc = 0 ] || return $rc
	dev=$(vb_balloon_dev) || { echo "guest: no balloon device"; return 2; }
	echo "$dev" >/sys/bus/virtio/drivers_probe
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

# vb_balloon_pages: the balloon's size as vmstat counts it, any driver
# (balloon_inflate - balloon_deflate; a page compaction moved counts once).
vb_balloon_pages() {
	awk '$1 == "balloon_inflate" { i = $2 } $1 == "balloon_deflate" { d = $2 }
	     END { print i - d }' /proc/vmstat
}

# vb_ours_dir: the directory of vballoon.ko's debug view of its device
# (pages, counters: one value per file), in debugfs or, on a kernel
# without it (UML), in sysfs; fails when the driver is bound to no device.
vb_ours_dir() {
	ls -d /sys/kernel/debug/vballoon/virtio* 2>/dev/null ||
		ls -d /sys/bus/virtio/drivers/vballoon/virtio*/vballoon
}

# vb_ours_val KEY: the value of KEY in vballoon.ko's debug view.
vb_ours_val() {
	local d
	d=$(vb_ours_dir) && cat "$d/$1"
}

# vb_ours_dump: every "KEY VALUE" of vballoon.ko's debug view (for logs).
vb_ours_dump() {
	local f
	for f in "$(vb_ours_dir)"/*; do
		echo "${f##*/} $(cat "$f")"
	done
}

# vb_ours_orders_below KEY ORDER: how many orders below ORDER have a
# non-zero count in the per-order file KEY (blocks_by_order, hint_by_order).
vb_ours_orders_below() {
	vb_ours_val "$1" |
		awk -v top="$2" '{ for (i = 1; i <= top; i++) if ($i > 0) n++ } END { print n + 0 }'
}

# vb_ours_mode: pfns, ranges or cont, from the negotiated feature bits
# (the device's features file: one character per bit, 20 and 21 ours).
vb_ours_mode() {
	local f
	f=$(cat /sys/bus/virtio/drivers/vballoon/virtio*/features) || return 1
	case $(echo "$f" | cut -c21-22) in
	?1) echo cont ;;
	1?) echo ranges ;;
	*) echo pfns ;;
	esac
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
	# "nobody cared": an interrupt line the kernel had to disable (a
	# device that raises it with nothing for its driver to do).
	if dmesg | grep -E "WARNING:|BUG:|Oops|Call Trace|nobody cared|Disabling IRQ"; then
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
