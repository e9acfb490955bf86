# SPDX-License-Identifier: GPL-2.0-or-later
# tests/lib/common.sh - host side of the test library (bash).  Source it from
# an integration test:
#     . "$(dirname "$0")/../lib/common.sh"
# It sets TOP and BUILD, creates a private temp dir $T and installs an EXIT
# trap that stops every process the test started (those started through
# this library by pid, newest first, then any other descendant of the test)
# and removes $T.  The guest side is tests/lib/guest.sh; docs/testbed.md has the
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

# Kept dense (no holes): the cleanup walks it by index.
vb_untrack() {
	local p keep=()
	for p in "${VB_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	VB_PIDS=("${keep[@]}")
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

# vb__descendants PID: sets VB_DESC to every live descendant of PID, read
# from /proc by builtins only (a subshell of ours would list itself).
vb__descendants() {
	local -A kids=()
	local f pid rest ppid c queue=("$1")
	VB_DESC=()
	for f in /proc/[0-9]*/stat; do
		read -r pid rest 2>/dev/null <"$f" || continue
		rest=${rest##*) }	# past "(comm) ", which may hold spaces
		ppid=${rest#* }
		kids[${ppid%% *}]+="$pid "
	done
	while [ ${#queue[@]} -gt 0 ]; do
		for c in ${kids[${queue[0]}]:-}; do
			VB_DESC+=("$c")
			queue+=("$c")
		done
		queue=("${queue[@]:1}")
	done
}

vb__any_alive() {
	local p
	for p; do
		kill -0 "$p" 2>/dev/null && return 0
	done
	return 1
}

# Whatever the test started without the library (`cmd &`, helpers of a
# launcher): TERM, then KILL after 5 s.
vb__stop_descendants() {
	local i
	vb__descendants $$
	[ ${#VB_DESC[@]} -gt 0 ] || return 0
	kill -TERM "${VB_DESC[@]}" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		vb__any_alive "${VB_DESC[@]}" || break
		sleep 0.1
	done
	kill -KILL "${VB_DESC[@]}" 2>/dev/null
	wait 2>/dev/null
}

vb_cleanup() {
	local rc=$? i
	trap - EXIT
	for ((i = ${#VB_PIDS[@]} - 1; i >= 0; i--)); do
		vb_stop_pid "${VB_PIDS[$i]}"
	done
	vb_stop_guests
	vb__stop_descendants
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
	# VB_DAEMON picks the binary: `make check` runs the ASan+UBSan build
	# (tests/run), a sanitizer finding aborts the daemon and fails the test.
	local daemon=${VB_DAEMON:-$BUILD/vballoond}
	[ -x "$daemon" ] || vb_skip "$daemon not built"
	${VB_DAEMON_WRAPPER:-} "$daemon" --socket "$VB_SOCK" --qmp "$VB_QMP" "$@" \
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

# vb_start_daemon_uml MEM [vballoond options] -- [uml-run options] -- SCRIPT
# [ARGS]: vballoond for a guest of MEM (--ram-size), then a UML guest of MEM
# on its vhost-user socket; fails the test when either does not come up.
vb_start_daemon_uml() {
	local mem=$1 dargs=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		dargs+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	vb_start_daemon --ram-size "$mem" "${dargs[@]}" || vb_fail "daemon did not start"
	vb_start_uml --mem "$mem" --vhost "$VB_SOCK" "$@" || vb_fail "UML did not boot"
}

# vb_start_oom_uml KO MEM SCRIPT: vballoond with deflate-on-oom on (floor 0,
# reporting and hints off) and a UML guest of MEM whose vballoon.ko is the
# build at KO; waits for the guest's "loaded" signal.
vb_start_oom_uml() {
	mkdir -p "$T/ko" && cp "$1" "$T/ko/vballoon.ko" || vb_fail "cannot copy $1"
	vb_start_daemon_uml "$2" --deflate-on-oom on --page-reporting off --free-page-hint off \
		--floor 0 -- --timeout 200 --module "$T/ko/vballoon.ko" -- "$3"
	vb_wait_guest loaded 120 || { vb_wait_uml; vb_fail "guest did not load the driver"; }
}

# vb_stop_daemon: stop the daemon vb_start_daemon started and remove its
# sockets, so that vb_start_daemon can start another one.
vb_stop_daemon() {
	vb_stop_pid "$VB_DAEMON_PID"
	vb_untrack "$VB_DAEMON_PID"
	rm -f "$VB_SOCK" "$VB_QMP"
}

# vb_term_daemon [LOG...]: the clean-exit check of a (sanitized) daemon:
# SIGTERM it and wait; fail the test on a sanitizer report in LOGs (default
# $T/daemon.log) or on a non-zero exit status.
vb_term_daemon() {
	local rc
	kill -TERM "$VB_DAEMON_PID"
	wait "$VB_DAEMON_PID"
	rc=$?
	vb_untrack "$VB_DAEMON_PID"
	[ $# -gt 0 ] || set -- "$T/daemon.log"
	grep -E "AddressSanitizer|runtime error|LeakSanitizer" "$@" &&
		vb_fail "sanitizer report after SIGTERM"
	[ "$rc" = 0 ] || vb_fail "vballoond exited with status $rc after SIGTERM"
	return 0
}

# ---- the balloon's size: vballoonctl (vballoond) and QMP (QEMU) ----

# vb_ctl ARGS...: vballoonctl on the daemon's control socket.
vb_ctl() { "$BUILD/vballoonctl" --qmp "$VB_QMP" "$@"; }

# vb_actual [GUEST]: the daemon's query-balloon "actual" (bytes) of GUEST
# (needed once the daemon serves more than one guest).
vb_actual() {
	local args=
	[ -n "${1:-}" ] && args=",\"arguments\":{\"guest\":\"$1\"}"
	vb_ctl --json raw "{\"execute\":\"query-balloon\"$args}" | jq -e .return.actual
}

# vb_info FIELD: FIELD of the first guest in `vballoonctl --json query`.
vb_info() { vb_ctl --json query | jq -e ".[0].\"$1\""; }

# vb_qemu_actual: QEMU's query-balloon "actual" (bytes).
vb_qemu_actual() {
	vb_qmp "$VB_QEMU_QMP" '{"execute":"query-balloon"}' |
		sed -n 's/.*"actual": *\([0-9]*\).*/\1/p'
}

# vb_qemu_balloon BYTES: QEMU's balloon command; fails the test if refused.
vb_qemu_balloon() {
	vb_qmp "$VB_QEMU_QMP" "{\"execute\":\"balloon\",\"arguments\":{\"value\":$1}}" \
		>/dev/null || vb_fail "QMP balloon $1 refused"
}

# vb__poll_actual BYTES TIMEOUT_S INTERVAL_S GETTER [GUEST]: until GETTER
# [GUEST] prints BYTES; on timeout prints the last value seen and returns 1.
# With VB_POLL_PID set, also returns 1 as soon as that process is gone.
vb__poll_actual() {
	local want=$1 timeout=$2 step=$3 i a= n
	shift 3
	n=$(awk -v t="$timeout" -v s="$step" 'BEGIN { print int(t / s) }')
	for ((i = 0; i < n; i++)); do
		a=$("$@") && [ "$a" = "$want" ] && return 0
		[ -z "${VB_POLL_PID:-}" ] || kill -0 "$VB_POLL_PID" 2>/dev/null || break
		sleep "$step"
	done
	echo "${2:+$2: }actual is '$a', want $want" >&2
	return 1
}

# vb_wait_actual BYTES [timeout_s [GUEST]]: until the daemon reports BYTES
# (default 60 s).
vb_wait_actual() { vb__poll_actual "$1" "${2:-60}" 0.1 vb_actual ${3:+"$3"}; }

# vb_qemu_wait_actual BYTES [timeout_s]: the same for QEMU (default 120 s);
# when QEMU exits meanwhile, fails at once with the end of its console.
vb_qemu_wait_actual() {
	VB_POLL_PID=${VB_QEMU_PID:-} vb__poll_actual "$1" "${2:-120}" 0.2 vb_qemu_actual &&
		return 0
	if [ -z "${VB_QEMU_PID:-}" ] || kill -0 "$VB_QEMU_PID" 2>/dev/null; then
		return 1
	fi
	echo "QEMU (pid $VB_QEMU_PID) exited; the end of its console:" >&2
	tail -n 20 "$VB_QEMU_CONSOLE" | tr -d '\r' >&2
	return 1
}

# ---- UML guests ----

# vb__start_guest KIND WHAT [launcher options] -- SCRIPT [ARGS]: start
# testbed/KIND-run (uml or qemu) in the background, tracked, with its
# console, info file, share (and QEMU's QMP socket) in $T/KIND.N and its
# stderr in launcher.log there.  Sets VB_<KIND>_{LAUNCHER_PID,PID,CONSOLE,
# INFO}, VB_QEMU_QMP and VB_SHARE.  Returns 1, printing "WHAT:" and the
# launcher's log, when the launcher exits before it writes its info file.
vb__start_guest() {
	local kind=$1 what=$2 K d pid
	shift 2
	K=${kind^^}
	local -n vb_n=VB_${K}_N
	vb_n=$((vb_n + 1))
	d=$T/$kind.$vb_n
	mkdir -p "$d/share"
	declare -g "VB_${K}_CONSOLE=$d/console" "VB_${K}_INFO=$d/info" "VB_${K}_PID="
	VB_SHARE=$d/share
	if [ "$kind" = qemu ]; then
		VB_QEMU_QMP=$d/qmp.sock
		set -- --qmp "$d/qmp.sock" "$@"
	fi
	"$TOP/testbed/$kind-run" -q --console "$d/console" --info "$d/info" \
		--share "$d/share" "$@" 2>"$d/launcher.log" &
	pid=$!
	declare -g "VB_${K}_LAUNCHER_PID=$pid"
	vb_track "$pid"
	VB_LAUNCHER_LOG[$pid]=$d/launcher.log
	if ! vb_wait_file "$d/info" 60 "$pid"; then
		echo "$what:" >&2
		cat "$d/launcher.log" >&2
		return 1
	fi
	declare -g "VB_${K}_PID=$(vb_info_field "$d/info" pid)"
}

# vb__wait_launcher PID WHAT: wait for a launcher; returns its status (the
# guest script's), printing its log when that is not 0.
vb__wait_launcher() {
	local pid=$1 what=$2 rc log
	wait "$pid"
	rc=$?
	vb_untrack "$pid"
	if [ "$rc" != 0 ]; then
		log=${VB_LAUNCHER_LOG[$pid]:-}
		echo "$what exited with status $rc" >&2
		[ -n "$log" ] && cat "$log" >&2
	fi
	return "$rc"
}

# vb_start_uml [uml-run options] -- SCRIPT [ARGS]: boot in the background.
# Sets VB_UML_LAUNCHER_PID, VB_UML_PID (linux.uml), VB_UML_CONSOLE,
# VB_UML_INFO, VB_SHARE (the share of the guest started last).
vb_start_uml() { vb__start_guest uml "UML guest did not boot" "$@"; }

# vb_wait_uml [LAUNCHER_PID]: wait for a guest; returns its script's status.
vb_wait_uml() {
	vb__wait_launcher "${1:-$VB_UML_LAUNCHER_PID}" "UML guest"
}

vb_info_field() {
	sed -n "s/^$2=//p" "$1"
}

vb_ramfile_path() {
	vb_info_field "${1:-$VB_UML_INFO}" ramfile
}

# Bytes of host memory the guest's RAM file holds (st_blocks * 512).
vb_ramfile_bytes() {
	local f blocks unit
	f=$(vb_ramfile_path "$@") || return 1
	# Shell arithmetic: awk prints a product of 2^31 or more as 8.2e+09.
	read -r blocks unit < <(stat -L -c '%b %B' "$f") || return 1
	echo $((blocks * unit))
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

# vb_huge_tmpfs [SIZE [HUGE]]: mount a huge=always tmpfs (HUGE: the
# tmpfs huge= option, e.g. never for 4 KiB pages) at $T/huge (for uml-run
# --ram-dir), unmounted at exit.  Sets VB_HUGE_DIR.
vb_huge_tmpfs() {
	VB_HUGE_DIR=$T/huge
	mkdir -p "$VB_HUGE_DIR"
	mount -t tmpfs -o "huge=${2:-always},size=${1:-4G}" vb-huge "$VB_HUGE_DIR" ||
		vb_skip "cannot mount a huge=always tmpfs (need root)"
	VB_MOUNTS+=("$VB_HUGE_DIR")
}

# ---- host <-> guest sync through the share ----

vb_wait_guest() {
	local name=$1 timeout=${2:-60} i
	for ((i = 0; i < timeout * 10; i++)); do
		[ -e "$VB_SHARE/$name" ] && return 0
		# The guest script ended without sending it: no use waiting.
		# Look for the signal once more: the guest may have sent it
		# and exited between the two tests above.
		if [ -e "$VB_SHARE/.vb-exit" ]; then
			[ -e "$VB_SHARE/$name" ] && return 0
			echo "guest script exited ($(cat "$VB_SHARE/.vb-exit")) without signalling '$name'" >&2
			return 1
		fi
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
		# SIGKILL: socat catches SIGTERM and was once seen (CI) to sit in
		# poll() with it pending for minutes; it holds nothing to clean up.
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		[ -n "$reply" ] || { echo "vb_qmp: no reply from $sock to $cmd" >&2; exit 1; }
		echo "$reply"
		[[ $reply != *'"error"'* ]]
	)
}

# vb_start_qemu_monitor: QEMU's monitor alone, with a virtio-balloon-pci
# (id balloon0) and no guest (-S: the VM never runs, and QMP discovery needs
# none).  Sets VB_QEMU_QMP; fails when no socket appears.
vb_start_qemu_monitor() {
	local qemu=${VB_QEMU:-}
	# shellcheck source=/dev/null
	[ -n "$qemu" ] || { [ -f "$VB_CACHE/env.sh" ] && . "$VB_CACHE/env.sh"; qemu=${VB_QEMU:-}; }
	qemu=${qemu:-qemu-system-x86_64}
	command -v "$qemu" >/dev/null || vb_skip "$qemu not installed"
	VB_QEMU_QMP=$T/qemu-monitor.sock
	vb_bg "$qemu" -S -nodefaults -display none -machine pc -m 512M \
		-device virtio-balloon-pci,id=balloon0 \
		-qmp "unix:$VB_QEMU_QMP,server=on,wait=off" >"$T/qemu-monitor.log" 2>&1
	vb_wait_file "$VB_QEMU_QMP" 30 "$VB_BG_PID" ||
		{ cat "$T/qemu-monitor.log" >&2; return 1; }
}

# ---- QEMU/TCG guests ----

# vb_start_qemu [qemu-run options] -- SCRIPT [ARGS]: like vb_start_uml.
# Sets VB_QEMU_LAUNCHER_PID, VB_QEMU_PID, VB_QEMU_CONSOLE, VB_QEMU_QMP,
# VB_QEMU_INFO, VB_SHARE.
vb_start_qemu() { vb__start_guest qemu "QEMU guest did not start" "$@"; }

vb_wait_qemu() {
	vb__wait_launcher "${1:-$VB_QEMU_LAUNCHER_PID}" "QEMU guest"
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

# ---- for bench/run: launcher-bounded waits, a huge tmpfs per run ----

# vb_wait_guest_alive PID NAME [timeout_s]: vb_wait_guest that also gives
# up as soon as launcher PID is gone (a guest that crashed never signals).
vb_wait_guest_alive() {
	local pid=$1 name=$2 timeout=${3:-60} i
	for ((i = 0; i < timeout; i++)); do
		vb_wait_guest "$name" 1 2>/dev/null && return 0
		# the script ended: vb_wait_guest says so
		[ -e "$VB_SHARE/.vb-exit" ] && { vb_wait_guest "$name" 1; return; }
		kill -0 "$pid" 2>/dev/null ||
			{ echo "guest exited while the host waited for '$name'" >&2; return 1; }
	done
	echo "timed out after ${timeout}s waiting for guest signal '$name'" >&2
	return 1
}

# vb_huge_umount: unmount vb_huge_tmpfs's tmpfs now (a benchmark starts
# each run from an empty one; vb_huge_tmpfs mounts the next).
vb_huge_umount() {
	local i
	for i in "${!VB_MOUNTS[@]}"; do
		[ "${VB_MOUNTS[$i]}" = "$VB_HUGE_DIR" ] && unset 'VB_MOUNTS[i]'
	done
	VB_MOUNTS=("${VB_MOUNTS[@]}")
	umount "$VB_HUGE_DIR"
}
