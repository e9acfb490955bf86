# SPDX-License-Identifier: GPL-2.0-or-later
# tests/lib/common.sh - host side of the test library (bash).  Source it from
# an integration test:
#     . "$(dirname "$0")/../lib/common.sh"
# It sets TOP and BUILD, creates a private temp dir $T and installs an EXIT
# trap that stops every process started through this library (by pid) and
# removes $T.  The guest side is tests/lib/guest.sh; docs/testbed.md has the
# whole API.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${BUILD:=$TOP/build}"
: "${VB_CACHE:=$HOME/.cache/vballoon}"
export TOP BUILD VB_CACHE

T=$(mktemp -d "${TMPDIR:-/tmp}/vb-test.XXXXXX") || { echo "cannot create temp dir" >&2; exit 1; }
VB_PIDS=()		# every background process we started
VB_UML_N=0
VB_QEMU_N=0
declare -A VB_LAUNCHER_LOG	# launcher pid -> its stderr log
VB_MOUNTS=()		# mounts under $T, unmounted before $T is removed

vb_log() { echo "[$(date +%T)] $*"; }
vb_fail() { echo "FAIL: $*" >&2; exit 1; }
vb_skip() { echo "SKIP: $*" >&2; exit 77; }

# vb_require FILE...: skip the test when a build product does not exist yet.
vb_require() {
	local f
	for f; do
		[ -e "$f" ] || vb_skip "$f not built"
	done
}

vb_track() { VB_PIDS+=("$1"); }

vb_untrack() {
	local i
	for i in "${!VB_PIDS[@]}"; do
		[ "${VB_PIDS[$i]}" = "$1" ] && unset 'VB_PIDS[$i]'
	done
}

# Stop one process we started: TERM, then KILL after 5 s.
vb_stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# Guest processes (UML helpers) form a group led by the pid in each info
# file: make sure none survives a launcher that had to be SIGKILLed.
vb_stop_guests() {
	local info pid
	for info in "$T"/uml.*/info "$T"/qemu.*/info; do
		[ -f "$info" ] || continue
		pid=$(sed -n 's/^pid=//p' "$info")
		[ -n "$pid" ] && kill -KILL -- "-$pid" 2>/dev/null
	done
}

vb_cleanup() {
	local rc=$? i
	trap - EXIT
	for ((i = ${#VB_PIDS[@]} - 1; i >= 0; i--)); do
		[ -n "${VB_PIDS[$i]:-}" ] && vb_stop_pid "${VB_PIDS[$i]}"
	done
	vb_stop_guests
	for ((i = ${#VB_MOUNTS[@]} - 1; i >= 0; i--)); do
		umount "${VB_MOUNTS[$i]}" 2>/dev/null || umount -l "${VB_MOUNTS[$i]}" 2>/dev/null
	done
	if [ -n "${VB_KEEP_T:-}" ]; then
		echo "kept $T" >&2
	else
		rm -rf -- "$T"
	fi
	exit "$rc"
}
trap vb_cleanup EXIT
trap 'exit 130' INT TERM HUP

# vb_bg CMD...: run CMD in the background, tracked; sets VB_BG_PID.
vb_bg() {
	"$@" &
	VB_BG_PID=$!
	vb_track "$VB_BG_PID"
}

# vb_wait_file PATH [timeout_s] [PID]: wait for PATH to exist (and PID alive).
vb_wait_file() {
	local f=$1 timeout=${2:-30} pid=${3:-} i
	for ((i = 0; i < timeout * 10; i++)); do
		[ -e "$f" ] && return 0
		[ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && return 1
		sleep 0.1
	done
	return 1
}

# ---- vballoond ----

vb_start_daemon() {
	VB_SOCK=$T/vhost.sock
	VB_QMP=$T/qmp.sock
	[ -x "$BUILD/vballoond" ] || vb_skip "$BUILD/vballoond not built"
	${VB_DAEMON_WRAPPER:-} "$BUILD/vballoond" --socket "$VB_SOCK" --qmp "$VB_QMP" "$@" \
		>"$T/daemon.log" 2>&1 &
	VB_DAEMON_PID=$!
	vb_track "$VB_DAEMON_PID"
	local i
	for ((i = 0; i < 300; i++)); do
		[ -S "$VB_SOCK" ] && [ -S "$VB_QMP" ] && return 0
		if ! kill -0 "$VB_DAEMON_PID" 2>/dev/null; then
			echo "vballoond exited early; log:" >&2
			tail -n 30 "$T/daemon.log" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "vballoond did not create its sockets within 30 s; log:" >&2
	tail -n 30 "$T/daemon.log" >&2
	return 1
}

# ---- UML guests ----

# vb_start_uml [uml-run options] -- SCRIPT [ARGS]: boot in the background.
# Sets VB_UML_LAUNCHER_PID, VB_UML_PID (linux.uml), VB_UML_CONSOLE,
# VB_UML_INFO, VB_SHARE (the share of the guest started last).
vb_start_uml() {
	local d
	VB_UML_N=$((VB_UML_N + 1))
	d=$T/uml.$VB_UML_N
	mkdir -p "$d/share"
	VB_UML_CONSOLE=$d/console
	VB_UML_INFO=$d/info
	VB_SHARE=$d/share
	VB_UML_PID=
	"$TOP/testbed/uml-run" -q --console "$d/console" --info "$d/info" \
		--share "$d/share" "$@" 2>"$d/launcher.log" &
	VB_UML_LAUNCHER_PID=$!
	vb_track "$VB_UML_LAUNCHER_PID"
	VB_LAUNCHER_LOG[$VB_UML_LAUNCHER_PID]=$d/launcher.log
	if ! vb_wait_file "$d/info" 60 "$VB_UML_LAUNCHER_PID"; then
		echo "UML guest did not boot:" >&2
		cat "$d/launcher.log" >&2
		return 1
	fi
	VB_UML_PID=$(sed -n 's/^pid=//p' "$d/info")
}

# vb_wait_uml [LAUNCHER_PID]: wait for a guest; returns its script's status.
vb_wait_uml() {
	local pid=${1:-$VB_UML_LAUNCHER_PID} rc log
	wait "$pid"
	rc=$?
	vb_untrack "$pid"
	if [ "$rc" != 0 ]; then
		log=${VB_LAUNCHER_LOG[$pid]:-}
		echo "UML guest exited with status $rc" >&2
		[ -n "$log" ] && cat "$log" >&2
	fi
	return "$rc"
}

vb_info_field() {
	sed -n "s/^$2=//p" "$1"
}

vb_ramfile_path() {
	vb_info_field "${1:-$VB_UML_INFO}" ramfile
}

# Bytes of host memory the guest's RAM file holds (st_blocks * 512).
vb_ramfile_bytes() {
	local f
	f=$(vb_ramfile_path "$@") || return 1
	stat -L -c '%b %B' "$f" | awk '{ print $1 * $2 }'
}

# vb_ramfile_smaps FIELD [INFO]: FIELD (kB) summed over the guest process's
# mappings of its RAM file in /proc/PID/smaps (e.g. Rss, ShmemPmdMapped,
# FilePmdMapped).
vb_ramfile_smaps() {
	local field=$1 info=${2:-$VB_UML_INFO} pid target
	pid=$(vb_info_field "$info" pid)
	target=$(readlink "$(vb_ramfile_path "$info")") || return 1
	awk -v t="$target" -v f="$field:" '
		/^[0-9a-f]+-[0-9a-f]+ / { m = (substr($0, length($0) - length(t)) == " " t) }
		m && $1 == f { sum += $2 }
		END { print sum + 0 }' "/proc/$pid/smaps"
}

# vb_huge_tmpfs [SIZE]: mount a huge=always tmpfs at $T/huge (for
# uml-run --ram-dir), unmounted at exit.  Sets VB_HUGE_DIR.
vb_huge_tmpfs() {
	VB_HUGE_DIR=$T/huge
	mkdir -p "$VB_HUGE_DIR"
	mount -t tmpfs -o "huge=always,size=${1:-4G}" vb-huge "$VB_HUGE_DIR" ||
		vb_skip "cannot mount a huge=always tmpfs (need root)"
	VB_MOUNTS+=("$VB_HUGE_DIR")
}

# ---- host <-> guest sync through the share ----

vb_wait_guest() {
	local name=$1 timeout=${2:-60} i
	for ((i = 0; i < timeout * 10; i++)); do
		[ -e "$VB_SHARE/$name" ] && return 0
		sleep 0.1
	done
	echo "timed out after ${timeout}s waiting for guest signal '$name'" >&2
	return 1
}

vb_signal_guest() {
	: >"$VB_SHARE/.$1.tmp" && mv "$VB_SHARE/.$1.tmp" "$VB_SHARE/$1"
}

vb_get() {
	cat "$VB_SHARE/kv.$1" 2>/dev/null
}

vb_put_guest() {
	echo "$2" >"$VB_SHARE/.kv.$1.tmp" && mv "$VB_SHARE/.kv.$1.tmp" "$VB_SHARE/kv.$1"
}

# ---- QMP (QEMU's and vballoond's control socket) ----

# vb_qmp SOCK JSON: negotiate capabilities, send JSON, print its reply line
# (events skipped).  Returns 1 on no reply or an "error" reply.
vb_qmp() {
	local sock=$1 cmd=$2
	[ -S "$sock" ] || { echo "vb_qmp: no socket $sock" >&2; return 1; }
	# In a subshell: a server that hangs up must not SIGPIPE the test.
	(
		trap '' PIPE
		coproc QMP_CO { exec socat -t 1 - "UNIX-CONNECT:$sock" 2>/dev/null; }
		in=${QMP_CO[0]} out=${QMP_CO[1]} pid=$QMP_CO_PID reply=
		for step in greet caps cmd; do
			case $step in
			caps) echo '{"execute":"qmp_capabilities"}' >&"$out" || break ;;
			cmd) echo "$cmd" >&"$out" || break ;;
			esac
			line=
			while IFS= read -r -t "${VB_QMP_TIMEOUT:-30}" line <&"$in"; do
				case $line in
				*'"event"'*) continue ;;
				*'"QMP"'*) [ $step = greet ] && break ;;
				*'"return"'*|*'"error"'*) [ $step != greet ] && break ;;
				esac
			done || line=
			[ -n "$line" ] || break
			[ $step = cmd ] && reply=$line
		done
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		[ -n "$reply" ] || { echo "vb_qmp: no reply from $sock to $cmd" >&2; exit 1; }
		echo "$reply"
		[[ $reply != *'"error"'* ]]
	)
}

# ---- QEMU/TCG guests ----

# vb_start_qemu [qemu-run options] -- SCRIPT [ARGS]: like vb_start_uml.
# Sets VB_QEMU_LAUNCHER_PID, VB_QEMU_PID, VB_QEMU_CONSOLE, VB_QEMU_QMP,
# VB_QEMU_INFO, VB_SHARE.
vb_start_qemu() {
	local d
	VB_QEMU_N=$((VB_QEMU_N + 1))
	d=$T/qemu.$VB_QEMU_N
	mkdir -p "$d/share"
	VB_QEMU_CONSOLE=$d/console
	VB_QEMU_INFO=$d/info
	VB_QEMU_QMP=$d/qmp.sock
	VB_SHARE=$d/share
	VB_QEMU_PID=
	"$TOP/testbed/qemu-run" -q --console "$d/console" --info "$d/info" \
		--share "$d/share" --qmp "$d/qmp.sock" "$@" 2>"$d/launcher.log" &
	VB_QEMU_LAUNCHER_PID=$!
	vb_track "$VB_QEMU_LAUNCHER_PID"
	VB_LAUNCHER_LOG[$VB_QEMU_LAUNCHER_PID]=$d/launcher.log
	if ! vb_wait_file "$d/info" 60 "$VB_QEMU_LAUNCHER_PID"; then
		echo "QEMU guest did not start:" >&2
		cat "$d/launcher.log" >&2
		return 1
	fi
	VB_QEMU_PID=$(sed -n 's/^pid=//p' "$d/info")
}

vb_wait_qemu() {
	local pid=${1:-$VB_QEMU_LAUNCHER_PID} rc log
	wait "$pid"
	rc=$?
	vb_untrack "$pid"
	if [ "$rc" != 0 ]; then
		log=${VB_LAUNCHER_LOG[$pid]:-}
		echo "QEMU guest exited with status $rc" >&2
		[ -n "$log" ] && cat "$log" >&2
	fi
	return "$rc"
}

# vb_wait_console FILE PATTERN [timeout_s]: wait for a console line.
vb_wait_console() {
	local f=$1 pat=$2 timeout=${3:-60} i
	for ((i = 0; i < timeout * 10; i++)); do
		grep -qE -- "$pat" "$f" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "timed out after ${timeout}s waiting for /$pat/ on $f" >&2
	return 1
}
