# SPDX-License-Identifier: GPL-2.0-or-later
# tests/lib/migrate.sh - live migration of a QEMU/TCG guest to a real
# destination QEMU, verified in the guest.  Source it after common.sh:
#     . "$(dirname "$0")/../lib/common.sh"
#     . "$(dirname "$0")/../lib/migrate.sh"
#
# Two sides, a and b.  With root and ip(8), each side is a network
# namespace the test makes (a veth pair, 10.203.0.1 and .2, private to
# those namespaces) and QEMU runs inside it, so the migration stream is
# QEMU's own TCP across them; otherwise both sides are loopback TCP.
# VB_MIG_TRANSPORT=unix takes unix sockets instead.  The guest runs
# `vb-workload churn` (tests/lib/migrate.sh writes its script): a pattern
# verified in full passes, and memory freed and reused all the time.  A
# migration counts as verified once a whole pass ran on its destination.
#
#   vb_mig_setup                      sides, transport, cleanup on exit
#   vb_mig_guest_script DRV PAT CHURN [PARAMS]  $T/mig-guest.sh
#   vb_mig_boot [opts] -- SCRIPT      boot any guest on side a
#   vb_mig_start [qemu-run opts]      boot the churning guest on side a
#   vb_mig_migrate [CANCEL_AT]        migrate to the other side (or cancel)
#   vb_mig_begin, vb_mig_wait_end     start one and return; its final state
#   vb_mig_kill_dest                  SIGKILL the destination mid-way
#   vb_mig_wait_state AFTER KEY COND  the guest's MemFree / hint counters
#   vb_mig_wait_pass LINE [S]         a full pass begun after console LINE
#   vb_mig_hop                        migrate, then a full pass there
#   vb_mig_qmp JSON                   QMP on the side the guest runs on
#   vb_mig_scenario_*, vb_mig_integrity_scenarios   tests 241-242's steps
#   vb_mig_report NAME                one line for a scenario, counters reset
# docs/testbed.md ("Migration testing") has the details.

VB_MIG_NS=()		# namespaces we made, deleted on exit
VB_MIG_OPTS=()		# qemu-run options every side of this guest gets
VB_MIG_SIDE=		# a or b: where the guest runs now
VB_MIG_HOPS=0		# destinations started (names their addresses)
# migrate-set-parameters before every migration (a destination that
# becomes the source starts with QEMU's defaults): 1 GiB/s by default.
VB_MIG_PARAMS='{"max-bandwidth":1073741824}'
VB_MIG_VERIFIED=0 VB_MIG_BAD=0 VB_MIG_N=0 VB_MIG_SENT=0 VB_MIG_MS=0

# The EXIT handler: our namespaces, then the one we replaced (vb_cleanup
# or a caller's own, such as bench/run's).
vb_mig_cleanup() {
	local rc=$? ns
	for ns in "${VB_MIG_NS[@]}"; do
		# A namespace outlives its name while QEMU runs in it; the
		# next handler kills QEMU and the veth pair goes with it.
		ip netns del "$ns" 2>/dev/null
	done
	(exit "$rc")
	eval "${VB_MIG_PREV_EXIT:-vb_cleanup}"
}

# vb_mig__netns: two namespaces joined by a veth pair; 1 when not possible.
vb_mig__netns() {
	local a=vbmig-$$-a b=vbmig-$$-b
	[ "$(id -u)" = 0 ] && command -v ip >/dev/null || return 1
	ip netns add "$a" 2>/dev/null || return 1
	VB_MIG_NS+=("$a")
	ip netns add "$b" 2>/dev/null || return 1
	VB_MIG_NS+=("$b")
	ip -n "$a" link add vbmig0 type veth peer name vbmig0 netns "$b" &&
		ip -n "$a" addr add 10.203.0.1/30 dev vbmig0 &&
		ip -n "$b" addr add 10.203.0.2/30 dev vbmig0 &&
		ip -n "$a" link set vbmig0 up && ip -n "$b" link set vbmig0 up &&
		ip -n "$a" link set lo up && ip -n "$b" link set lo up || return 1
	VB_MIG_ADDR_a=10.203.0.1 VB_MIG_ADDR_b=10.203.0.2
	VB_MIG_NS_a=$a VB_MIG_NS_b=$b
}

# vb_mig__qemu_wrapper SIDE: a QEMU that runs in SIDE's namespace (same
# pid: ip netns exec execs it), for qemu-run --qemu.
vb_mig__qemu_wrapper() {
	local side=$1 ns qemu w=$T/mig/qemu-$1
	local -n vb_ns=VB_MIG_NS_$side
	ns=$vb_ns
	qemu=$VB_MIG_QEMU_BIN
	printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$ns" "$qemu" >"$w"
	chmod +x "$w"
	declare -g "VB_MIG_QEMU_$side=$w"
}

vb_mig_setup() {
	mkdir -p "$T/mig"
	eval "set -- $(trap -p EXIT)"
	VB_MIG_PREV_EXIT=${3:-vb_cleanup}
	trap vb_mig_cleanup EXIT
	VB_MIG_TRANSPORT=${VB_MIG_TRANSPORT:-tcp}
	[ -f "$VB_CACHE/env.sh" ] && . "$VB_CACHE/env.sh"
	# VB_MIG_QEMU: new (make setup's 11.x, the default) or 7 (the
	# system's 7.2).  7.2 under TCG loses guest writes across a migration
	# now and then, with or without free page hints (docs/testbed.md,
	# "Migration testing"): a test on it would fail for QEMU's bug.
	case ${VB_MIG_QEMU:-new} in
	7) VB_MIG_QEMU_BIN=${VB_QEMU:-$(command -v qemu-system-x86_64)} ;;
	new) VB_MIG_QEMU_BIN=${VB_QEMU_NEW:-}
		[ -x "$VB_MIG_QEMU_BIN" ] || vb_skip "no newer QEMU (make setup)" ;;
	*) vb_fail "VB_MIG_QEMU: 7 or new" ;;
	esac
	VB_MIG_QEMU_a=$VB_MIG_QEMU_BIN VB_MIG_QEMU_b=$VB_MIG_QEMU_BIN
	if [ "$VB_MIG_TRANSPORT" = tcp ] && vb_mig__netns; then
		vb_mig__qemu_wrapper a
		vb_mig__qemu_wrapper b
		VB_MIG_WHERE="TCP across network namespaces $VB_MIG_NS_a, $VB_MIG_NS_b"
	elif [ "$VB_MIG_TRANSPORT" = tcp ]; then
		VB_MIG_ADDR_a=127.0.0.1 VB_MIG_ADDR_b=127.0.0.1
		VB_MIG_WHERE="loopback TCP (no network namespaces here)"
	else
		VB_MIG_WHERE="unix sockets"
	fi
	VB_MIG_WHERE+=", QEMU $("$VB_MIG_QEMU_BIN" --version | sed -n '1s/.*version \([^ ]*\).*/\1/p')"
	vb_log "migration over $VB_MIG_WHERE"
}

# vb_mig_guest_script DRIVER PATTERN_MIB CHURN_MIB [MODULE PARAMS...]: the
# guest loads the balloon driver, says VB-MIG-READY and churns for ever
# (the host quits QEMU at the end).  Every 2 s of its own time the guest
# prints a VB-HINT-STATE line: MemFree (mem_free_kb) and, with
# vballoon.ko, its hint counters and the last command id it read.  The
# loop reads with shell builtins: a process per value costs the churn
# vCPU time under TCG.
#
# The churn alone may never make the guest reclaim: a round leaves
# hint_reserve_mib (16) over the high watermarks free, about 80 MiB in a
# 1 GiB guest with THP, and a 32 MiB slot then only wakes kswapd, whose
# light slab scans can leave every hint block held.  So with vballoon.ko,
# once per round seen holding 192 MiB or more, the guest also writes and
# verifies MemFree + 32 MiB (VB-BURST): it must reclaim (32 MiB and the
# min watermark's worth, all the shrinker's to give), the shrinker hands
# hint blocks back mid-round, and the guest writes them before QEMU's
# round ends.
vb_mig_guest_script() {
	local drv=$1 pat=$2 churn=$3
	shift 3
	cat >"$T/mig-guest.sh" <<GUEST
vb_load_balloon $drv $* || vb_fail "cannot load the $drv balloon driver"
keys= st= burst_id=
if [ $drv = ours ]; then
	st=\$(vb_ours_dir) || vb_fail "no debug view"
	keys="hint_rounds hint_pages hint_shrunk hint_held_pages hint_id_received"
fi
while :; do
	while read -r k free rest; do [ "\$k" = MemFree: ] && break; done </proc/meminfo
	line="VB-HINT-STATE mem_free_kb \$free" held=0 id=
	for k in \$keys; do
		read -r v <"\$st/\$k"
		line="\$line \$k \$v"
		case \$k in
		hint_held_pages) held=\$v ;;
		hint_id_received) id=\$v ;;
		esac
	done
	echo "\$line"
	if [ "\$held" -ge 49152 ] && [ "\$id" != "\$burst_id" ]; then
		burst_id=\$id
		echo "VB-BURST id \$id mib \$((free / 1024 + 32))"
		vb-workload fill --mib \$((free / 1024 + 32)) --seed \$id
	fi
	sleep 2
done &
echo "VB-MIG-READY $drv"
exec vb-workload churn --mib $pat --churn-mib $churn --seed $$
GUEST
}

# vb_mig__state_line AFTER KEY: the last VB-HINT-STATE line with KEY after
# line AFTER of the current side's console.
vb_mig__state_line() {
	tail -n +"$(($1 + 1))" "$(vb_mig_console)" |
		grep -aE "^VB-HINT-STATE (.* )?$2 [0-9]" | tail -n 1
}

# vb_mig_wait_state AFTER KEY CONDITION [timeout_s]: wait (default 60 s)
# for a VB-HINT-STATE line after console line AFTER whose KEY, as v,
# meets the arithmetic CONDITION (e.g. 'v == 0'); prints that value, or
# the last one seen and returns 1.  The guest prints every 2 s of its own
# time, slower under TCG on a loaded host, hence the generous bound.
vb_mig_wait_state() {
	local after=$1 key=$2 cond=$3 deadline=$((SECONDS + ${4:-60})) line v=
	while :; do
		line=$(vb_mig__state_line "$after" "$key")
		[ -z "$line" ] || v=$(sed -n "s/.* $key \([0-9]*\).*/\1/p" <<<"$line")
		[ -n "$v" ] && (( $cond )) && break
		if ((SECONDS >= deadline)); then
			echo "$v"
			return 1
		fi
		sleep 0.5
	done
	echo "$v"
}

# vb_mig_hint_state KEY: the guest's state value KEY as last printed on
# the current side's console; waits up to 60 s for a line (right after a
# migration the side's console may not have a whole one yet).
vb_mig_hint_state() {
	vb_mig_wait_state 0 "$1" 1 ||
		vb_fail "no VB-HINT-STATE line with $1 on $(vb_mig_console) in 60 s"
}

vb_mig_qmp() {
	local -n vb_q=VB_MIG_QMP_$VB_MIG_SIDE
	vb_qmp "$vb_q" "$1"
}

vb_mig__set_side() {
	local side=$1
	declare -g "VB_MIG_QMP_$side=$VB_QEMU_QMP" \
		"VB_MIG_CONSOLE_$side=$VB_QEMU_CONSOLE" \
		"VB_MIG_LAUNCHER_$side=$VB_QEMU_LAUNCHER_PID" \
		"VB_MIG_PID_$side=$VB_QEMU_PID"
}

vb_mig__launcher() {
	local -n vb_l=VB_MIG_LAUNCHER_$VB_MIG_SIDE
	echo "$vb_l"
}

vb_mig_console() {
	local -n vb_c=VB_MIG_CONSOLE_$VB_MIG_SIDE
	echo "$vb_c"
}

# vb_mig_boot [qemu-run options] -- SCRIPT [ARGS]: boot a guest on side a.
# The options are given to every destination too (the devices must match).
vb_mig_boot() {
	VB_MIG_OPTS=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		VB_MIG_OPTS+=("$1")
		shift
	done
	vb_start_qemu "${VB_MIG_OPTS[@]}" --qemu "$VB_MIG_QEMU_a" --timeout 3600 \
		--save-initrd "$T/mig/initrd" "$@" || vb_fail "source guest did not start"
	VB_MIG_SIDE=a
	vb_mig__set_side a
}

# vb_mig_start [qemu-run options]: the churning guest ($T/mig-guest.sh) on
# side a, without the 9p share (QEMU refuses to migrate with it mounted);
# returns once its first verification pass ended.
vb_mig_start() {
	vb_mig_boot --no-share "$@" -- "$T/mig-guest.sh"
	vb_mig_wait_pass 0 900
	VB_MIG_VERIFIED=0	# counted per scenario: after a migration
}

# vb_mig__uri SIDE: a fresh listening address on SIDE.
vb_mig__uri() {
	local side=$1 port
	case $VB_MIG_TRANSPORT in
	unix) echo "unix:$T/mig/hop$VB_MIG_HOPS.sock"; return ;;
	esac
	local -n vb_addr=VB_MIG_ADDR_$side
	port=$((20000 + ($$ * 7 + VB_MIG_HOPS * 131) % 40000))
	echo "tcp:$vb_addr:$port"
}

# vb_mig__listening URI SIDE: wait until the destination accepts.
vb_mig__listening() {
	local uri=$1 i ns_var=VB_MIG_NS_$2 in_ns=()
	[ -z "${!ns_var:-}" ] || in_ns=(ip netns exec "${!ns_var}")
	for ((i = 0; i < 600; i++)); do
		case $uri in
		unix:*) [ -S "${uri#unix:}" ] && return 0 ;;
		tcp:*) "${in_ns[@]}" ss -Hltn "sport = :${uri##*:}" 2>/dev/null |
			grep -q . && return 0 ;;
		esac
		sleep 0.1
	done
	return 1
}

# vb_mig_dest: a destination QEMU on the other side; prints its side.
vb_mig_dest() {
	local side uri
	side=$([ "$VB_MIG_SIDE" = a ] && echo b || echo a)
	local -n vb_w=VB_MIG_QEMU_$side
	VB_MIG_HOPS=$((VB_MIG_HOPS + 1))
	uri=$(vb_mig__uri "$side")
	vb_start_qemu "${VB_MIG_OPTS[@]}" ${VB_MIG_DEST_PAUSED:+--extra -S} \
		--qemu "$vb_w" --timeout 3600 --initrd "$T/mig/initrd" --incoming "$uri" ||
		vb_fail "destination on side $side did not start"
	vb_mig__set_side "$side"
	vb_mig__listening "$uri" "$side" || vb_fail "destination not listening on $uri"
	VB_MIG_DEST=$side VB_MIG_URI=$uri
}

# vb_mig_wait_end [cancel_at_bytes]: poll the source until the migration ends;
# with cancel_at_bytes, cancel it once that much RAM went.  Prints the last
# query-migrate reply.
vb_mig_wait_end() {
	local cancel=${1:-} r sent i
	for ((i = 0; i < 6000; i++)); do
		r=$(vb_mig_qmp '{"execute":"query-migrate"}') || return 1
		case $r in
		*'"completed"'*|*'"failed"'*|*'"cancelled"'*) echo "$r"; return 0 ;;
		esac
		sent=$(vb_mig__field transferred "$r")
		if [ -n "$cancel" ] && (( ${sent:-0} >= cancel )); then
			vb_mig_qmp '{"execute":"migrate_cancel"}' >/dev/null
			cancel=
		fi
		sleep 0.1
	done
	echo "$r"
}

vb_mig__field() {
	sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p" <<<"$2" | head -n 1
}

# vb_mig_wait_pass AFTER_LINE [timeout_s]: wait for a verification pass
# that began after line AFTER_LINE of the current side's console and
# ended; fails on a corrupt page, a dead workload or kernel warnings.
# Sets VB_MIG_PASS_VERIFIED and adds to the scenario counters.
vb_mig_wait_pass() {
	local after=$1 timeout=${2:-600} con n line i
	con=$(vb_mig_console)
	for ((i = 0; i < timeout * 5; i++)); do
		n=$(tail -n +"$((after + 1))" "$con" | sed -n 's/.*vb-workload: pass \([0-9]*\) begin.*/\1/p' | head -n 1)
		line=
		[ -z "$n" ] || line=$(grep -a "vb-workload: pass $n end:" "$con" | tail -n 1)
		[ -n "$line" ] && break
		grep -aq 'VB-EXIT:\|CORRUPTION\|Kernel panic' "$con" && break
		kill -0 "$(vb_mig__launcher)" 2>/dev/null || break
		sleep 0.2
	done
	# The workload ends its pass (with the count) before it exits.
	grep -aq 'CORRUPTION' "$con" && vb_wait_console "$con" 'VB-EXIT:' 120 2>/dev/null
	vb_mig__check_console "$con" || return 1
	[ -n "$line" ] || vb_fail "no whole verification pass on side $VB_MIG_SIDE within ${timeout}s"
	VB_MIG_PASS_VERIFIED=$(sed -n 's/.*end: verified \([0-9]*\) bad.*/\1/p' <<<"$line")
	VB_MIG_VERIFIED=$((VB_MIG_VERIFIED + VB_MIG_PASS_VERIFIED))
	VB_MIG_BAD=$((VB_MIG_BAD + $(sed -n 's/.*end: verified [0-9]* bad \([0-9]*\);.*/\1/p' <<<"$line")))
}

# The guest's kernel logs to this console: warnings show up here.
# With VB_MIG_EXPECT_CORRUPTION=1 (a negative test), corruption or a
# kernel warning is returned (1, VB_MIG_CORRUPTION holds the lines), not
# fatal.
vb_mig__check_console() {
	local con=$1
	VB_MIG_CORRUPTION=$(grep -aE 'CORRUPTION|bad pages|end: verified [0-9]+ bad [1-9]|VB-EXIT: [1-9]' "$con")
	if [ -n "$VB_MIG_CORRUPTION" ]; then
		[ "${VB_MIG_EXPECT_CORRUPTION:-0}" = 1 ] && return 1
		echo "$VB_MIG_CORRUPTION" >&2
		vb_fail "the guest found corrupted memory on side $VB_MIG_SIDE"
	fi
	VB_MIG_CORRUPTION=$(grep -aE 'WARNING:|BUG:|Oops|Kernel panic|Out of memory' "$con")
	[ -z "$VB_MIG_CORRUPTION" ] && return 0
	[ "${VB_MIG_EXPECT_CORRUPTION:-0}" = 1 ] && return 1
	echo "$VB_MIG_CORRUPTION" >&2
	vb_fail "kernel warnings on side $VB_MIG_SIDE's console"
}

# vb_mig_quit SIDE: stop a side's QEMU (a source that migrated away or a
# destination left behind); its launcher then finds no status (125).
vb_mig_quit() {
	local -n vb_q=VB_MIG_QMP_$1 vb_l=VB_MIG_LAUNCHER_$1
	vb_qmp "$vb_q" '{"execute":"quit"}' >/dev/null 2>&1
	vb_wait_qemu "$vb_l" >/dev/null 2>&1
}

# vb_mig_begin: start a destination and a migration there (with
# VB_MIG_PARAMS); returns at once, VB_MIG_SIDE still the source.
vb_mig_begin() {
	local src=$VB_MIG_SIDE
	vb_mig_dest
	VB_MIG_SIDE=$src
	vb_mig_params "$VB_MIG_PARAMS"
	vb_mig_qmp "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"$VB_MIG_URI\"}}" >/dev/null ||
		vb_fail "migrate to $VB_MIG_URI refused"
}

# vb_mig_kill_dest: SIGKILL the destination's QEMU (no quit, no cleanup
# of its own), then reap its launcher.
vb_mig_kill_dest() {
	local -n vb_p=VB_MIG_PID_$VB_MIG_DEST vb_l=VB_MIG_LAUNCHER_$VB_MIG_DEST
	kill -KILL "$vb_p" || vb_fail "destination QEMU $vb_p already gone"
	vb_wait_qemu "$vb_l" >/dev/null 2>&1
}

# vb_mig_migrate [cancel_at_bytes]: start a destination, migrate there.
# Completed: the source is quit, the guest runs on the destination
# (VB_MIG_SIDE), VB_MIG_LAST holds the source's final query-migrate and
# VB_MIG_SRC_ACTUAL the source balloon's final size in MiB (empty if it
# could not be read).
# Cancelled: the destination is quit, the guest stays.  Fails otherwise.
vb_mig_migrate() {
	local cancel=${1:-} r src=$VB_MIG_SIDE
	vb_mig_begin
	r=$(vb_mig_wait_end "$cancel") || vb_fail "source QMP gone during migration"
	VB_MIG_LAST=$r
	case $r in
	*'"completed"'*)
		VB_MIG_SRC_ACTUAL=$(vb_mig_balloon_mib) || VB_MIG_SRC_ACTUAL=
		vb_mig_quit "$src"
		VB_MIG_SIDE=$VB_MIG_DEST
		VB_MIG_N=$((VB_MIG_N + 1))
		VB_MIG_SENT=$((VB_MIG_SENT + $(vb_mig__field transferred "$r")))
		VB_MIG_MS=$((VB_MIG_MS + $(vb_mig__field total-time "$r")))
		vb_log "migrated $src -> $VB_MIG_SIDE: $(( $(vb_mig__field transferred "$r") >> 20 )) MiB in $(vb_mig__field total-time "$r") ms, downtime $(vb_mig__field downtime "$r") ms" ;;
	*'"cancelled"'*)
		[ -n "$cancel" ] || vb_fail "migration cancelled: $r"
		vb_mig_quit "$VB_MIG_DEST"
		vb_log "migration $src -> $VB_MIG_DEST cancelled once $((cancel >> 20)) MiB had gone" ;;
	*) vb_fail "migration $src -> $VB_MIG_DEST did not complete: $r" ;;
	esac
}

# vb_mig_hop: migrate to the other side, then wait for a whole verification
# pass there (every pattern page and every live churn page).
vb_mig_hop() {
	vb_mig_migrate
	vb_mig_wait_pass 0
}

# vb_mig_lines: the current side's console length, for vb_mig_wait_pass.
vb_mig_lines() {
	wc -l <"$(vb_mig_console)"
}

# vb_mig_params JSON-OBJECT: migrate-set-parameters on the current side
# (a destination that becomes the source later starts with defaults).
vb_mig_params() {
	vb_mig_qmp "{\"execute\":\"migrate-set-parameters\",\"arguments\":$1}" >/dev/null ||
		vb_fail "migrate-set-parameters $1 refused"
}

# vb_mig_report NAME: one line per scenario (also appended to
# $T/mig-report), then the counters start again.
vb_mig_report() {
	local line="scenario $1: $VB_MIG_N migration(s), $VB_MIG_VERIFIED pages verified, $VB_MIG_BAD corrupted; sent $((VB_MIG_SENT >> 20)) MiB in $VB_MIG_MS ms"
	vb_log "$line"
	echo "$line" >>"$T/mig-report"
	VB_MIG_VERIFIED=0 VB_MIG_BAD=0 VB_MIG_N=0 VB_MIG_SENT=0 VB_MIG_MS=0
}

# ---- scenarios (each ends with its report line) ----

# vb_mig_scenario_plain: one migration at 1 GiB/s.
vb_mig_scenario_plain() {
	vb_mig_hop
	vb_mig_report plain
}

# vb_mig_scenario_slow MIB_S: precopy at a low bandwidth, so the guest
# dirties memory (and QEMU starts a hint round) over several rounds.  The
# churn dirties memory faster than that: auto-converge (QEMU throttles the
# vCPU more each round) and a 2 s downtime limit let it end.
vb_mig_scenario_slow() {
	local VB_MIG_PARAMS="{\"max-bandwidth\":$(($1 << 20)),\"downtime-limit\":2000}"
	vb_mig_qmp '{"execute":"migrate-set-capabilities","arguments":{"capabilities":[{"capability":"auto-converge","state":true}]}}' >/dev/null ||
		vb_fail "auto-converge refused"
	vb_mig_hop
	VB_MIG_ROUNDS=$(vb_mig__field dirty-sync-count "$VB_MIG_LAST")
	vb_log "precopy at $1 MiB/s took $VB_MIG_ROUNDS dirty-bitmap syncs"
	(( VB_MIG_ROUNDS >= 3 )) || vb_fail "only $VB_MIG_ROUNDS bitmap syncs: not several rounds"
	vb_mig_report "precopy at $1 MiB/s ($VB_MIG_ROUNDS rounds)"
}

# vb_mig_scenario_cancel: cancel at a low bandwidth once 48 MiB went, check
# the guest where it stayed (a pass begun after the cancel), migrate again.
vb_mig_scenario_cancel() {
	local VB_MIG_PARAMS='{"max-bandwidth":33554432}' lines
	vb_mig_migrate $((48 << 20))
	lines=$(vb_mig_lines)
	vb_mig_wait_pass "$lines"
	VB_MIG_PARAMS='{"max-bandwidth":1073741824}'
	vb_mig_hop
	vb_mig_report "cancelled, then migrated"
}

# vb_mig_balloon_mib: the balloon's "actual" (guest size) in MiB.
vb_mig_balloon_mib() {
	local r
	r=$(vb_mig_qmp '{"execute":"query-balloon"}') || return 1
	echo $(( $(vb_mig__field actual "$r") >> 20 ))
}

# vb_mig__balloon_to MIB: set the target, wait until actual reaches it.
vb_mig__balloon_to() {
	local want=$1 i a
	vb_mig_qmp "{\"execute\":\"balloon\",\"arguments\":{\"value\":$((want << 20))}}" >/dev/null ||
		vb_fail "balloon $want MiB refused"
	for ((i = 0; i < 1500; i++)); do
		a=$(vb_mig_balloon_mib)
		[ "$a" = "$want" ] && return 0
		sleep 0.2
	done
	vb_fail "the balloon did not reach $want MiB (actual $a MiB)"
}

# vb_mig__wait_status STATUS: until the current side's run state is STATUS
# (a paused destination ends "inmigrate" once it loaded the last state).
vb_mig__wait_status() {
	local i r=
	for ((i = 0; i < 300; i++)); do
		r=$(vb_mig_qmp '{"execute":"query-status"}') || break
		[[ $r == *"\"status\": \"$1\""* ]] && return 0
		sleep 0.1
	done
	vb_fail "side $VB_MIG_SIDE never reached run state $1: $r"
}

# vb_mig_scenario_inflated MEM_MIB: balloon to half, migrate, and the
# destination's device holds the size the source's device had at the end:
# checked with the destination paused (-S), before its guest runs, since
# with deflate-on-oom the guest may deflate at any time (a hint round holds
# its free memory while the churn runs).  That size is half or more.
vb_mig_scenario_inflated() {
	local mem=$1 a VB_MIG_DEST_PAUSED=1
	vb_mig__balloon_to $((mem / 2))
	vb_mig_migrate
	vb_mig__wait_status paused
	a=$(vb_mig_balloon_mib)
	[ "$a" = "$VB_MIG_SRC_ACTUAL" ] ||
		vb_fail "after migration the balloon says $a MiB on the destination, $VB_MIG_SRC_ACTUAL MiB on the source"
	(( a >= mem / 2 && a <= mem )) || vb_fail "after migration the balloon says $a MiB, not $((mem / 2)) to $mem"
	[ "$a" = $((mem / 2)) ] || vb_log "the guest deflated on OOM during the migration: $((mem / 2)) -> $a MiB"
	vb_mig_qmp '{"execute":"cont"}' >/dev/null || vb_fail "cont refused on side $VB_MIG_SIDE"
	vb_mig_wait_pass 0
	vb_mig__balloon_to "$mem"
	vb_mig_wait_pass "$(vb_mig_lines)"
	vb_mig_report "balloon at half ($((mem / 2)) MiB), deflate-on-oom"
}

# vb_mig_scenario_pingpong N: N migrations back and forth (a->b->a...).
vb_mig_scenario_pingpong() {
	local i
	for ((i = 0; i < $1; i++)); do
		vb_mig_hop
	done
	vb_mig_report "ping-pong, $1 migrations"
}

# vb_mig_finish: stop the guest where it runs; the report lines.
vb_mig_finish() {
	vb_mig_quit "$VB_MIG_SIDE"
	cat "$T/mig-report"
}

# vb_mig_integrity_scenarios MEM_MIB: tests 241/242's sequence on one
# guest of MEM_MIB: plain, precopy at 32 MiB/s, cancelled then migrated,
# balloon at half, ping-pong (VB_MIG_PINGPONG migrations, default 10).
vb_mig_integrity_scenarios() {
	vb_mig_scenario_plain
	vb_mig_scenario_slow 32
	vb_mig_scenario_cancel
	vb_mig_scenario_inflated "$1"
	vb_mig_scenario_pingpong "${VB_MIG_PINGPONG:-10}"
}
