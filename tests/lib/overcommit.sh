# SPDX-License-Identifier: GPL-2.0-or-later
# tests/lib/overcommit.sh - the overcommit scenario, shared by test 405 and
# bench/broker.sh (bash; source after common.sh and broker.sh).
#
# OC_N UML guests of OC_MEM MiB (vballoon.ko, deflate-on-oom on) on one
# vballoond touch all their memory, read their file set (below), then idle.
# A phase runs in one guest while the others idle: it reads the file set
# again, then vb-workload writes a pattern over the rest of OC_PHASE_MIB in
# a tmpfs file at OC_RATE MiB/s (a program loading its data: most of the
# guest's RAM in a few seconds), verifies it twice more (work over that
# memory), and deletes it.  The guest times the phase itself.  Budget for
# the broker: two thirds of the guests' total, so their maximum sizes add
# up to 150% of it.
#
# The file set: OC_CACHE_MIB MiB in four files on the guest's root (hostfs:
# its pages are the guest's page cache, as a disk's would be), part of the
# phase's OC_PHASE_MIB; 0 = none, every phase anonymous (tmpfs) memory.
# Real guests hold page cache (a build reads its sources, a service its
# data files), and free page reporting cannot return it: only a policy
# that shrinks the guest can.  hostfs drops a file's cached pages when its
# inode goes, at the last close (new_inode: unhashed; always-delete
# dentries), so the guest's script keeps the files open, as a service
# keeps its data files open; a file opened again finds its pages cached.
#
# The guests' RAM files are on a huge=always tmpfs (the host backs guest
# RAM with transparent huge pages, as a VMM does): memory the balloon
# returned is faulted back in 2 MiB at a time when a guest uses it again.
# A sampler records, every 100 ms, each guest's actual (the daemon's) and
# the blocks its RAM file holds on the host:
#   T_MS  ACTUAL_0 RAMFILE_0  ACTUAL_1 RAMFILE_1 ...   (bytes)

OC_N=${OC_N:-4}
OC_MEM=${OC_MEM:-512}
OC_PHASE_MIB=${OC_PHASE_MIB:-$((OC_MEM * 7 / 10))}
OC_RATE=${OC_RATE:-64}
OC_CACHE_MIB=${OC_CACHE_MIB:-0}
OC_BUDGET_MIB=$((OC_N * OC_MEM * 2 / 3))
OC_SHARE=() OC_INFO=() OC_PID=()

cat >"$T/oc-guest.sh" <<'GUEST'
# args: ANON_MIB RATE_MIBPS FILE_MIB
uptime_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
# file_mib: the page cache of files (the file LRU; Cached also counts tmpfs).
file_mib() {
	echo $((($(vb_meminfo 'Active(file)') + $(vb_meminfo 'Inactive(file)')) / 1024))
}
# The file set (sparse on the host: reading it costs the host no I/O) on
# fds 3-6, open for the script's life.
files() {
	local j
	[ "$1" -gt 0 ] || return 0
	mkdir -p /srv/data
	for j in 0 1 2 3; do
		dd if=/dev/zero of=/srv/data/f$j bs=1M count=0 seek=$(($1 / 4)) 2>/dev/null
		eval "exec $((3 + j))</srv/data/f$j"
	done
}
read_files() { [ "$1" -gt 0 ] && cat /srv/data/f* >/dev/null; return 0; }
vb_load_balloon ours || vb_fail "cannot load vballoon.ko"
vb_tmpfs /mnt/t
vb_touch_free /mnt/t 24
files "$3"
read_files "$3"
vb_log "file set: $3 MiB, file page cache $(file_mib) MiB"
vb_signal idle
k=1
while vb_wait "kv.go$k" 1800; do
	[ "$(vb_get "go$k")" = run ] || break
	vb_put "cache_before$k" "$(file_mib)"
	vb_signal "start$k"
	t0=$(uptime_ms)
	rc=0
	vb_log "phase $k: start"
	read_files "$3"
	vb_put "read_ms$k" $(($(uptime_ms) - t0))
	vb-workload fill --mib "$1" --rate "$2" --hold-file /mnt/t/p --seed "$k" || rc=$?
	for pass in 1 2; do
		[ $rc = 0 ] || break
		vb-workload verify --mib "$1" --hold-file /mnt/t/p --seed "$k" || rc=$?
	done
	t1=$(uptime_ms)
	rm -f /mnt/t/p
	vb_put "cache_after$k" "$(file_mib)"
	vb_put "ms$k" $((t1 - t0))
	vb_put "rc$k" "$rc"
	vb_signal "done$k"
	k=$((k + 1))
done
vb_put oom "$(dmesg | grep -c 'Killed process')"
vb_signal ended
exit 0
GUEST

# oc_start REPORTING(on|off): the daemon and OC_N guests, idle when it
# returns; guest i is named g<i>.
oc_start() {
	local i gs=()
	for ((i = 1; i < OC_N; i++)); do
		gs+=(--guest "name=g$i,socket=$T/g$i.sock,ram-size=${OC_MEM}M,page-reporting=$1,deflate-on-oom=on")
	done
	vb_huge_tmpfs $((OC_N * OC_MEM + 256))M
	vb_start_daemon --name g0 --ram-size "${OC_MEM}M" --page-reporting "$1" \
		--deflate-on-oom on "${gs[@]}" || vb_fail "daemon did not start"
	for ((i = 0; i < OC_N; i++)); do
		vb_start_uml --mem "${OC_MEM}M" --ram-dir "$VB_HUGE_DIR" --vhost "$([ $i = 0 ] && echo "$VB_SOCK" || echo "$T/g$i.sock")" \
			--timeout 1800 -- "$T/oc-guest.sh" $((OC_PHASE_MIB - OC_CACHE_MIB)) "$OC_RATE" \
			"$OC_CACHE_MIB" || vb_fail "UML g$i did not boot"
		OC_SHARE[i]=$VB_SHARE OC_INFO[i]=$VB_UML_INFO OC_PID[i]=$VB_UML_LAUNCHER_PID
	done
	OC_K=()
	for ((i = 0; i < OC_N; i++)); do
		VB_SHARE=${OC_SHARE[i]} vb_wait_guest_alive "${OC_PID[i]}" idle 300 ||
			vb_fail "g$i did not touch its memory"
		OC_K[i]=0
	done
}

# oc_get I KEY: a value guest I put.
oc_get() { VB_SHARE=${OC_SHARE[$1]} vb_get "$2"; }

# oc_phase I: one phase in guest I; sets OC_MS to its time in ms (the
# guest's clock), OC_START_MS to when it started on the host's wall clock
# (the mtime the host gave the guest's start signal in the share),
# OC_READ_MS to the time its file read took (its writes start then), and
# OC_FILE_CACHE to "BEFORE AFTER", the guest's file page cache in MiB
# before and after the phase; fails the test when the workload failed.
oc_phase() {
	local i=$1 k rc
	k=$((OC_K[i] + 1))
	OC_K[i]=$k
	VB_SHARE=${OC_SHARE[i]} vb_put_guest "go$k" run
	VB_SHARE=${OC_SHARE[i]} vb_wait_guest_alive "${OC_PID[i]}" "done$k" 600 ||
		vb_fail "g$i: phase $k did not finish"
	OC_MS=$(oc_get "$i" "ms$k") rc=$(oc_get "$i" "rc$k") OC_READ_MS=$(oc_get "$i" "read_ms$k")
	OC_FILE_CACHE="$(oc_get "$i" "cache_before$k") $(oc_get "$i" "cache_after$k")"
	OC_START_MS=$(stat -c %.3Y "${OC_SHARE[i]}/start$k" | tr -d .)
	[ "$rc" = 0 ] || vb_fail "g$i: phase $k: workload failed (rc $rc)"
}

# oc_finish: end every guest's script; sets OC_OOM to the OOM kills in all
# guests.
oc_finish() {
	local i
	OC_OOM=0
	for ((i = 0; i < OC_N; i++))
		do VB_SHARE=${OC_SHARE[i]} vb_put_guest "go$((OC_K[i] + 1))" end; done
	for ((i = 0; i < OC_N; i++)); do
		VB_SHARE=${OC_SHARE[i]} vb_wait_guest_alive "${OC_PID[i]}" ended 120 ||
			vb_fail "g$i did not end"
		OC_OOM=$((OC_OOM + $(oc_get "$i" oom)))
		vb_wait_uml "${OC_PID[i]}" || vb_fail "g$i's script failed"
	done
}

# oc_sample_start FILE: the sampler (bench/qmp.py sample: one QMP
# connection, every 100 ms), tracked.
oc_sample_start() {
	local pairs=() i
	for ((i = 0; i < OC_N; i++)); do pairs+=("g$i=$(vb_ramfile_path "${OC_INFO[i]}")"); done
	python3 "$TOP/bench/qmp.py" "$VB_QMP" sample --interval 0.1 "${pairs[@]}" >"$1" &
	OC_SAMPLER=$!
	vb_track "$OC_SAMPLER"
}

oc_sample_stop() {
	vb_stop_pid "$OC_SAMPLER"
	vb_untrack "$OC_SAMPLER"
}

# oc_sample_max FILE COLUMN(0 actual, 1 RAM file) [FROM_MS]: the largest
# sum over the guests of that column, in MiB, from FROM_MS on.
oc_sample_max() {
	awk -v c="$2" -v from="${3:-0}" '$1 >= from && NF > 1 {
		s = 0; for (i = 2 + c; i <= NF; i += 2) s += $i
		if (s > m) m = s } END { printf "%d\n", m / 1048576 }' "$1"
}
