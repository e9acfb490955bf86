#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# hardening/soak.sh - data-integrity soak (make soak; short form in test 310).
#   SOAK_SECS=600 SOAK_GUESTS=3 SOAK_MEM=256 SOAK_PAUSE=0.5 hardening/soak.sh
# One vballoond (the ASan+UBSan build when present) serves SOAK_GUESTS UML
# guests, alternating the in-tree driver and vballoon.ko (when built).
# Every guest runs a workload that keeps filling and verifying patterned
# memory (two hold files on tmpfs, the older one verified and freed each
# round, so free page reporting churns).  Meanwhile the host, at random:
# sets targets, runs free page hint rounds (start, wait, done), asks for
# stats.  At the end every guest is set to a common target and accounting is
# checked: the daemon's balloon size equals the guest's own count, and the
# RAM file holds no more than the guest's RAM (+ kernel image) minus the balloon.
# Result line: "soak: N s, G guests, R rounds verified, C corruptions,
# D daemon crashes, accounting ok|BAD"; exit 0 only for zero corruptions,
# zero crashes and consistent accounting.
. "$(dirname "$0")/../tests/lib/common.sh"
SECS=${SOAK_SECS:-600}
NG=${SOAK_GUESTS:-3}
MEM=${SOAK_MEM:-256}
SEED=${SOAK_SEED:-$$}
MIB=$((1 << 20))
FULL=$((MEM * MIB))
RANDOM=$SEED
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload"
D=$BUILD/vballoond
if [ -x "$BUILD/san/vballoond" ]; then
	D=$BUILD/san/vballoond
	export ASAN_OPTIONS=exitcode=66
fi
vb_log "soak: $SECS s, $NG guests of $MEM MiB, daemon $D, seed $SEED"

cat >"$T/guest.sh" <<'GUEST'
vb_load_balloon "$1" || vb_fail "cannot load the $1 balloon driver"
mkdir -p /mnt/w && mount -t tmpfs -o size=90% none /mnt/w
vb_signal loaded
mib=$2 r=0 bad=0
while ! vb_share_has stop; do
	r=$((r + 1))
	vb-workload fill --mib $mib --hold-file /mnt/w/f$((r % 2)) --seed $r >/dev/null ||
		{ [ $? = 1 ] && bad=$((bad + 1)); }
	if [ $r -gt 1 ]; then
		vb-workload verify --mib $mib --hold-file /mnt/w/f$(((r - 1) % 2)) --seed $((r - 1)) ||
			{ [ $? = 1 ] && bad=$((bad + 1)) && vb_log "CORRUPTION in round $((r - 1))"; }
		rm -f /mnt/w/f$(((r - 1) % 2))
	fi
	vb_put rounds $r
	vb_put bad $bad
	sleep $3	# leave CPU to the other guests and engineers
done
vb-workload verify --mib $mib --hold-file /mnt/w/f$((r % 2)) --seed $r ||
	{ [ $? = 1 ] && bad=$((bad + 1)); }
vb_put bad $bad
# The balloon as the guest counts it, for the accounting check.
if [ "$1" = ours ]; then
	p=$(cat /sys/bus/virtio/devices/*/vballoon/pages 2>/dev/null | head -n 1)
else
	p=$(awk '/^balloon_inflate/ {i = $2} /^balloon_deflate/ {d = $2} END {print i - d}' /proc/vmstat)
fi
vb_put balloon_pages "$p"
vb_signal counted
vb_wait finish 120
exit 0
GUEST

specs=()
for ((g = 1; g < NG; g++)); do
	specs+=(--guest "name=g$g,socket=$T/g$g.sock,ram-size=${MEM}M")
done
BUILD=$(dirname "$D") vb_start_daemon --name g0 --ram-size "${MEM}M" "${specs[@]}" ||
	vb_fail "daemon did not start"
declare -a LPID SHARE INFO DRV
for ((g = 0; g < NG; g++)); do
	sock=$VB_SOCK
	[ $g -gt 0 ] && sock=$T/g$g.sock
	DRV[$g]=intree
	[ $((g % 2)) = 1 ] && [ -f "$BUILD/um/vballoon.ko" ] && DRV[$g]=ours
	vb_start_uml --mem "${MEM}M" --vhost "$sock" --timeout $((SECS + 300)) -- \
		"$T/guest.sh" "${DRV[$g]}" $((MEM / 6)) "${SOAK_PAUSE:-0.5}" || vb_fail "UML g$g did not boot"
	LPID[$g]=$VB_UML_LAUNCHER_PID SHARE[$g]=$VB_SHARE INFO[$g]=$VB_UML_INFO
done
for ((g = 0; g < NG; g++)); do
	VB_SHARE=${SHARE[$g]} vb_wait_guest loaded 180 || vb_fail "g$g did not load its driver"
done
ctl() { "$BUILD/vballoonctl" --qmp "$VB_QMP" "$@"; }
q() { ctl --json --guest "$1" query | jq 'if type == "array" then .[0] else . end'; }
alive() {
	kill -0 "$VB_DAEMON_PID" 2>/dev/null && return 0
	tail -n 40 "$T/daemon.log"
	vb_fail "vballoond died"
}

actions=0 targets=0 hints=0 stats=0 end=$((SECONDS + SECS))
while [ $SECONDS -lt $end ]; do
	alive
	g=$((RANDOM % NG))
	case $((RANDOM % 6)) in
	0|1|2)	# a target between 55% and 100% of RAM
		t=$(( (MEM * 55 / 100 + RANDOM % (MEM * 45 / 100 + 1)) * MIB ))
		ctl --guest g$g set $t >/dev/null || vb_fail "set g$g $t"
		targets=$((targets + 1)) ;;
	3|4)	# a hint round: start, let it run, done
		if ctl --guest g$g hint start >/dev/null 2>&1; then
			sleep 0.$((RANDOM % 9 + 1))
			ctl --guest g$g hint stop >/dev/null 2>&1
			ctl --guest g$g hint done >/dev/null 2>&1
			hints=$((hints + 1))
		fi ;;
	5)	ctl --guest g$g stats-request >/dev/null 2>&1 && stats=$((stats + 1)) ;;
	esac
	actions=$((actions + 1))
	sleep 0.$((RANDOM % 10))$((RANDOM % 10))
	for ((k = 0; k < NG; k++)); do
		b=$(cat "${SHARE[$k]}/kv.bad" 2>/dev/null || echo 0)
		[ "${b:-0}" = 0 ] || vb_fail "g$k reports $b corruptions"
		kill -0 "${LPID[$k]}" 2>/dev/null || { vb_wait_uml "${LPID[$k]}"; vb_fail "g$k died"; }
	done
done
vb_log "churn: $actions actions ($targets targets, $hints hint rounds, $stats stats requests)"

# Accounting: a common target, then compare balloon counts and RAM files.
common=$((MEM * 3 / 4 * MIB))
for ((g = 0; g < NG; g++)); do
	ctl --guest g$g set $common >/dev/null
done
acct=ok
for ((g = 0; g < NG; g++)); do
	for ((i = 0; i < 600; i++)); do
		[ "$(q g$g | jq .actual)" = $common ] && break
		sleep 0.1
	done
done
for ((g = 0; g < NG; g++)); do
	: >"${SHARE[$g]}/stop"
done
rounds=0 bad=0
for ((g = 0; g < NG; g++)); do
	VB_SHARE=${SHARE[$g]} vb_wait_guest counted 300 || vb_fail "g$g did not finish"
	r=$(cat "${SHARE[$g]}/kv.rounds") b=$(cat "${SHARE[$g]}/kv.bad")
	gp=$(cat "${SHARE[$g]}/kv.balloon_pages")
	info=$(q g$g)
	dp=$(jq '."actual-pages"' <<<"$info")
	act=$(jq .actual <<<"$info")
	f=$(vb_ramfile_path "${INFO[$g]}")
	size=$(stat -L -c %s "$f") alloc=$(vb_ramfile_bytes "${INFO[$g]}")
	vb_log "g$g (${DRV[$g]}): $r rounds, $b corrupt, balloon guest $gp / daemon $dp pages, actual $((act / MIB)) MiB, RAM file $((alloc / MIB)) of $((size / MIB)) MiB"
	rounds=$((rounds + r)) bad=$((bad + b))
	[ "$gp" = "$dp" ] || { acct=BAD; vb_log "g$g: guest counts $gp balloon pages, daemon $dp"; }
	# ballooned pages are holes: the file holds at most RAM + the kernel
	# image (64 MiB slack) minus the balloon
	(( alloc <= FULL + 64 * MIB - dp * 4096 && alloc <= size - dp * 4096 )) ||
		{ acct=BAD; vb_log "g$g: RAM file holds $alloc bytes with $dp pages ballooned"; }
done
for ((g = 0; g < NG; g++)); do
	VB_SHARE=${SHARE[$g]} vb_signal_guest finish
done
for ((g = 0; g < NG; g++)); do
	vb_wait_uml "${LPID[$g]}" || vb_fail "g$g script failed"
done
crashes=0
alive
kill -TERM "$VB_DAEMON_PID"; wait "$VB_DAEMON_PID"; rc=$?; vb_untrack "$VB_DAEMON_PID"
[ "$rc" = 0 ] || crashes=1
grep -E "AddressSanitizer|runtime error|LeakSanitizer" "$T/daemon.log" && crashes=1
echo "soak: $SECS s, $NG guests, $rounds rounds verified, $bad corruptions, $crashes daemon crashes, accounting $acct"
[ "$bad" = 0 ] && [ "$crashes" = 0 ] && [ "$acct" = ok ]
