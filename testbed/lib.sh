# SPDX-License-Identifier: GPL-2.0-or-later
# testbed/lib.sh - helpers shared by testbed/uml-run and testbed/qemu-run (bash).
# Sourced, not executed.  Every function reports errors with the launcher's
# name ($VB_PROG) and never kills anything it did not start.

VB_TESTBED=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VB_TOP=$(cd "$VB_TESTBED/.." && pwd)
: "${BUILD:=$VB_TOP/build}"
: "${VB_CACHE:=$HOME/.cache/vballoon}"

vb_die() {
	echo "$VB_PROG: error: $*" >&2
	exit 2
}

vb_note() {
	[ -n "${VB_QUIET:-}" ] || echo "$VB_PROG: $*" >&2
}

# Size with optional K/M/G (binary) suffix -> MiB on stdout.  Refuses
# anything that is not a whole number of MiB within [min, max] MiB.
vb_size_mib() {
	local s=$1 min=$2 max=$3 n unit mib
	[[ $s =~ ^([0-9]+)([KkMmGg]?)(i?[Bb])?$ ]] ||
		vb_die "bad size '$s' (expected e.g. 512M or 2G)"
	n=$((10#${BASH_REMATCH[1]}))
	unit=${BASH_REMATCH[2]^^}
	[ ${#BASH_REMATCH[1]} -le 9 ] || vb_die "size '$s' is too large"
	case $unit in
	K) (( n % 1024 == 0 )) || vb_die "size '$s' is not a whole number of MiB"
	   mib=$((n / 1024)) ;;
	G) mib=$((n * 1024)) ;;
	*) mib=$n ;;
	esac
	(( mib >= min && mib <= max )) ||
		vb_die "size '$s' out of range (${min} MiB .. ${max} MiB)"
	echo "$mib"
}

vb_check_timeout() {
	[[ $1 =~ ^[0-9]+$ ]] && (( 10#$1 > 0 && 10#$1 <= 86400 )) ||
		vb_die "bad timeout '$1' (whole seconds, 1..86400)"
}

# A file we are asked to write: its directory must exist and be writable.
vb_check_out_file() {
	local what=$1 f=$2 d
	[ -n "$f" ] || vb_die "$what: empty path"
	d=$(dirname -- "$f")
	[ -d "$d" ] || vb_die "$what: directory '$d' does not exist"
	[ -w "$d" ] || vb_die "$what: directory '$d' is not writable"
	[ ! -d "$f" ] || vb_die "$what: '$f' is a directory"
}

vb_check_in_file() {
	local what=$1 f=$2
	[ -e "$f" ] || vb_die "$what: '$f' does not exist"
	[ -f "$f" ] || vb_die "$what: '$f' is not a regular file"
	[ -r "$f" ] || vb_die "$what: '$f' is not readable"
}

# Is somebody listening on unix socket PATH?  Looked up in /proc/net/unix
# (flag __SO_ACCEPTCON = 00010000) instead of connecting: a vhost-user
# backend would take a probe connection for a frontend.
vb_unix_listening() {
	local path=$1 real
	real=$(realpath -m -- "$path")
	awk -v p="$path" -v r="$real" '
		NR > 1 && $4 == "00010000" && ($8 == p || $8 == r) { found = 1 }
		END { exit !found }' /proc/net/unix
}

vb_check_vhost_socket() {
	local sock=$1
	[ -e "$sock" ] || vb_die "vhost-user socket '$sock' does not exist (is the backend running?)"
	[ -S "$sock" ] || vb_die "vhost-user socket '$sock' is not a socket"
	[ ${#sock} -le 107 ] || vb_die "vhost-user socket path '$sock' is longer than 107 bytes"
	vb_unix_listening "$sock" ||
		vb_die "nobody is listening on vhost-user socket '$sock' (start the backend first)"
}

# Stop a process group we created (its leader is $1) and wait for it.
vb_kill_group() {
	local pgid=$1 i
	[ -n "$pgid" ] || return 0
	kill -0 -- "-$pgid" 2>/dev/null || return 0
	kill -TERM -- "-$pgid" 2>/dev/null
	for i in $(seq 1 20); do
		kill -0 -- "-$pgid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pgid" 2>/dev/null
	wait "$pgid" 2>/dev/null
	for i in $(seq 1 50); do
		kill -0 -- "-$pgid" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "$VB_PROG: warning: process group $pgid survived SIGKILL" >&2
}

# vb_console_tail FILE [N]: the last N lines of the guest script's output
# (up to its "VB-EXIT" marker: what follows is the halt, where UML warns
# once per vhost-user device that its socket closed), else of the console.
vb_console_tail() {
	local f=$1 n=${2:-40} end
	[ -s "$f" ] || { echo "--- console empty ---" >&2; return; }
	end=$(grep -n 'VB-EXIT:' -- "$f" | tail -n 1 | cut -d: -f1)
	if [ -n "$end" ]; then
		echo "--- guest script output, last $n lines ($f) ---" >&2
		head -n "$end" -- "$f" | tail -n "$n" | grep -v '^ \[<' >&2
	else
		echo "--- last $n console lines ($f) ---" >&2
		tail -n "$n" -- "$f" | grep -v '^ \[<' >&2
	fi
	echo "--- end of console ---" >&2
}

# Guest reported "VB-EXIT: N" on the console (QEMU path; UML uses a file).
vb_console_exit() {
	sed -n 's/.*VB-EXIT: \([0-9][0-9]*\).*/\1/p' "$1" 2>/dev/null | tail -n 1
}

vb_console_panicked() {
	grep -qE 'Kernel panic - not syncing|Attempted to kill init' "$1" 2>/dev/null
}

# vb_fail RC MSG: the launcher fails with RC, the console's tail on stderr.
vb_fail() {
	RC=$1
	shift
	echo "$VB_PROG: $*" >&2
	vb_console_tail "$CONSOLE"
	exit "$RC"
}

# vb_supervise PID TIMEOUT GRACE READY: watch the guest process PID (its
# console is $CONSOLE) until it exits.  READY is called each round until it
# succeeds (the launcher writes its info file there).  A panic fails the
# launcher after GRACE seconds (time for the trace), the deadline after
# TIMEOUT.  Then the process group is stopped, $GUEST_RC holds the exit
# status, and a panic or a VB-ERROR line on the console fails the launcher.
vb_supervise() {
	local pid=$1 deadline=$(( $(date +%s) + $2 )) grace=$3 ready=$4 t0 panic_at= ok=0
	t0=$(date +%s.%N)
	while kill -0 "$pid" 2>/dev/null; do
		[ "$ok" = 1 ] || ! "$ready" || ok=1
		[ -n "$panic_at" ] || ! vb_console_panicked "$CONSOLE" || panic_at=$(date +%s)
		[ -n "$panic_at" ] && (( $(date +%s) > panic_at + grace )) &&
			vb_fail 125 "guest kernel panicked"
		(( $(date +%s) >= deadline )) && vb_fail 124 "guest timed out after ${2}s"
		sleep 0.1
	done
	wait "$pid" 2>/dev/null
	GUEST_RC=$?
	vb_kill_group "$pid"	# helpers of a crashed guest, if any
	vb_note "guest ran $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5) s"
	vb_console_panicked "$CONSOLE" && vb_fail 125 "guest kernel panicked"
	return 0
}

# vb_run_dir_cleanup: remove the launcher's run directory $RUN (kept with
# --keep, $KEEP = 1).
vb_run_dir_cleanup() {
	[ -n "$RUN" ] || return 0
	if [ "$KEEP" = 1 ]; then
		vb_note "kept run directory $RUN"
	else
		rm -rf -- "$RUN"
	fi
}

# Per-run directory for a launcher: under $VB_RUN_DIR or /tmp.
vb_make_run_dir() {
	local base=${VB_RUN_DIR:-${TMPDIR:-/tmp}}
	mktemp -d "$base/vb-$1.XXXXXX" || vb_die "cannot create a run directory in $base"
}

# Guest files common to both launchers: busybox, init, guest library,
# workload tool, the script and its arguments.  $1 = guest root.
vb_populate_common() {
	local root=$1 bb
	bb=$(command -v busybox) || vb_die "busybox not found (make setup)"
	[[ $(ldd "$bb" 2>&1) == *"not a dynamic"* ]] ||
		vb_die "$bb is not statically linked (apt-get install busybox-static)"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,mnt,vb/bin,vb/lib,vb/share,vb/modules}
	cp "$bb" "$root/bin/busybox"
	cp "$VB_TESTBED/guest-init" "$root/init"
	cp "$VB_TOP/tests/lib/guest.sh" "$root/vb/lib/guest.sh"
	chmod 755 "$root/init"
	if [ -x "$BUILD/vb-workload" ]; then
		cp "$BUILD/vb-workload" "$root/vb/bin/"
	else
		vb_note "warning: $BUILD/vb-workload not built (make all); guests run without it"
	fi
}

# Write the guest script and its shell-quoted arguments.
vb_install_script() {
	local root=$1 script=$2
	shift 2
	cp -- "$script" "$root/vb/script"
	{
		printf 'set --'
		printf ' %q' "$@"
		printf '\n'
	} >"$root/vb/args"
}
