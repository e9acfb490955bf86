# SPDX-License-Identifier: GPL-2.0-or-later
# bench/qemu11.sh - the qemu11 section of bench/run (sourced): inflate and
# deflate 1.5 GiB of a 2 GiB x86-64 guest (2048 -> 512 MiB and back) on
# QEMU 11 (TCG), for each RAM backing QEMU can share with a vhost-user
# backend:
#   memfd        memory-backend-memfd (shmem, 4 KiB pages)
#   huge tmpfs   memory-backend-file in a huge=always tmpfs (2 MiB THP)
#   hugetlbfs    memory-backend-file in a hugetlbfs mount (2 MiB pages; the
#                section reserves them and the old nr_hugepages comes back
#                on every exit path)
# times {in-tree driver, vballoon.ko} x {QEMU's own virtio-balloon-pci,
# vballoond behind vhost-user-test-device-pci}; vballoon.ko on vballoond in
# its default mode (continuous pages at the backing's order), and with
# BENCH_Q11_MODES=1 also in the other transfer modes (PFN arrays, ranges).
# BENCH_Q11_BACKINGS=REGEX picks backings by name (default: all three).
# One guest per row; RUNS cycles each.  The guest touches nearly all its
# free memory before every inflate (the same guest script as uml-inflate),
# so the host really holds what the balloon takes.  Per row: time from the
# QMP `balloon` to query-balloon's actual == target (polled every 4 ms, the
# same client for both devices), the RAM backing's allocated bytes before
# and after (what the host got back), and the CPU time QEMU and vballoond
# spent meanwhile (where the time goes).  The host floor is punch-floor over
# the same bytes of a file on the same kind of file system, mapped and
# touched (--mmap), in one range.

. "$TOP/tests/lib/vhost-qemu.sh"
. "$TOP/tests/lib/qemu-ram.sh"

# q11_floor DIR MIB: punch-floor's median ms for MIB in one range of a
# mapped, touched file in DIR.
q11_floor() {
	"$PUNCH" --mmap "$1" "$2" all "$RUNS" >"$T/q11-floor.json" ||
		vb_fail "punch-floor in $1 failed"
	median $(jq -r '.ns / 1e6' "$T/q11-floor.json")
}

# q11_balloon SOCK BYTES [PID]: the QMP balloon, timed; prints qmp.py's JSON.
q11_balloon() {
	qmp "$1" balloon "$2" ${3:+--pid "$3"} --timeout 900
}

# q11_transfer DEVICE: the transfer mode the device negotiated.
q11_transfer() {
	[ "$1" = vballoond ] || { echo pfns; return; }
	if [ "$(vb_info cont-pages)" = true ]; then
		echo "cont (order $(vb_info pages-order))"
	else
		vb_info transfer | jq -r .
	fi
}

# q11_run BACKING RAM-OPT FLOOR-MS DRIVER DEVICE [vballoond options]: one
# guest, RUNS cycles, one row.  DEVICE: qemu or vballoond.
q11_run() {
	local backing=$1 ram=$2 floor=$3 drv=$4 dev=$5 mem=2048 target=512
	local label sock dpid= i r b0 b1 c0 transfer
	local im=() dm=() rel=() qc=() dc=()
	shift 5
	[ "$SMOKE" = 1 ] && mem=512 target=256
	label="$backing: $([ "$drv" = ours ] && echo vballoon.ko || echo in-tree) + $([ "$dev" = qemu ] && echo "QEMU's device" || echo vballoond)"
	if [ "$dev" = qemu ]; then
		vb_start_qemu --qemu new --mem ${mem}M --ram "$ram" --balloon "" \
			--no-balloon-module --timeout 3600 \
			-- "$T/uml-inflate.sh" "$drv" "$RUNS" || vb_fail "$label: QEMU did not start"
		sock=$VB_QEMU_QMP
	else
		vb_start_daemon --name balloon0 --page-reporting off --free-page-hint off \
			--deflate-on-oom off "$@" || vb_fail "$label: daemon did not start"
		vb_start_qemu --qemu new --mem ${mem}M --ram "$ram" --vhost-balloon "$VB_SOCK" \
			--no-balloon-module --timeout 3600 \
			-- "$T/uml-inflate.sh" "$drv" "$RUNS" || vb_fail "$label: QEMU did not start"
		sock=$VB_QMP dpid=$VB_DAEMON_PID
	fi
	for ((i = 1; i <= RUNS; i++)); do
		vb_wait_guest_alive "$VB_QEMU_LAUNCHER_PID" touched$i 900 ||
			{ vb_wait_qemu; vb_fail "$label: guest not ready"; }
		# Once the guest runs, QEMU has its RAM (not when QMP is up).
		[ $i = 1 ] && { vb_qemu_ram_info "$T/q11-ram.info" ||
			vb_fail "$label: no guest RAM fd in QEMU"; }
		b0=$(vb_ramfile_bytes "$T/q11-ram.info")
		c0=$(cpu_ms "$VB_QEMU_PID")
		r=$(q11_balloon "$sock" $((target * MIB)) "$dpid") ||
			vb_fail "$label: inflate did not complete"
		# While the guest is surely connected (a guest that ended has no
		# memory table, and its pages-order reads 0).
		[ $i = 1 ] && transfer=$(q11_transfer "$dev")
		qc+=("$(calc "$(cpu_ms "$VB_QEMU_PID") - $c0")")
		im+=("$(jq .ms <<<"$r")")
		[ -n "$dpid" ] && dc+=("$(jq .cpu_ms <<<"$r")")
		b1=$(vb_ramfile_bytes "$T/q11-ram.info")
		rel+=($(((b0 - b1) / MIB)))
		r=$(q11_balloon "$sock" $((mem * MIB))) || vb_fail "$label: deflate did not complete"
		dm+=("$(jq .ms <<<"$r")")
		vb_signal_guest deflated$i
	done
	vb_wait_qemu || vb_fail "$label: guest script failed"
	[ "$dev" = vballoond ] && vb_stop_daemon
	[ "$drv" = ours ] && [ "$dev" = vballoond ] && label+=", $transfer"
	local gib dcpu=()
	gib=$(calc "($mem - $target) / 1024")
	[ -n "$dpid" ] && dcpu=(daemon_cpu_ms="$(IFS=,; echo "${dc[*]}")")
	row qemu11 "$label" mib=$((mem - target)) \
		inflate_ms="$(IFS=,; echo "${im[*]}")" \
		inflate_gib_s="$(for v in "${im[@]}"; do calc "$gib / ($v / 1000)"; echo; done | paste -sd,)" \
		deflate_ms="$(IFS=,; echo "${dm[*]}")" \
		floor_ms="$floor" \
		host_returned_mib="$(IFS=,; echo "${rel[*]}")" \
		qemu_cpu_ms="$(IFS=,; echo "${qc[*]}")" \
		"${dcpu[@]}" @backing="$backing" @transfer="$transfer"
}

# q11_rows BACKING RAM-OPT FLOOR-MS: every driver x device row of a backing;
# in smoke mode one row per backing, so that each backing, driver and
# device still runs (tests/integration/901 checks those three rows).
q11_rows() {
	if [ "$SMOKE" = 1 ]; then
		case $1 in
		hugetlbfs) q11_run "$@" ours vballoond --cont-pages on ;;
		"huge tmpfs") q11_run "$@" intree vballoond ;;
		*) q11_run "$@" intree qemu ;;
		esac
		return 0
	fi
	q11_run "$@" intree qemu
	q11_run "$@" ours qemu
	q11_run "$@" intree vballoond
	q11_run "$@" ours vballoond --cont-pages on
	[ "${BENCH_Q11_MODES:-0}" = 1 ] || return 0
	q11_run "$@" ours vballoond --ranges off --cont-pages off
	q11_run "$@" ours vballoond --cont-pages off
}

sec_qemu11() {
	local mem=2048 mib=1536 dir floor
	[ "$SMOKE" = 1 ] && mem=512 mib=256
	[ -n "${VB_QEMU_NEW:-}" ] || { vb_log "qemu11: no QEMU 11 in the cache (make setup): skipped"; return 0; }
	vb_log "qemu11: QEMU 11, $mem MiB guest, balloon $mib MiB, hugetlbfs / huge tmpfs / memfd"

	# hugetlbfs first: a host that cannot reserve the pages skips the
	# bench before the other rows ran.  The guest's RAM in 2 MiB pages,
	# and room for nothing else.
	if q11_want hugetlbfs && q11_can_reserve $((mem / 2 + 8)); then
		vb_hugetlbfs $((mem / 2 + 8))
		floor=$(q11_floor "$VB_HUGETLB_DIR" $mib)
		q11_rows hugetlbfs "hugetlbfs:$VB_HUGETLB_DIR" "$floor"
		VB_HUGE_DIR=$VB_HUGETLB_DIR vb_huge_umount
		vb__restore_hugepages
	fi
	if q11_want "huge tmpfs"; then
		vb_huge_tmpfs $((mem + 64))M
		floor=$(q11_floor "$VB_HUGE_DIR" $mib)
		q11_rows "huge tmpfs" "file:$VB_HUGE_DIR" "$floor"
		vb_huge_umount
	fi
	if q11_want memfd; then
		# memfd is shmem: its floor is a tmpfs file's.
		dir=$(mktemp -d /dev/shm/vb-bench.XXXXXX) || vb_fail "no /dev/shm"
		floor=$(q11_floor "$dir" $mib)
		rmdir "$dir"
		q11_rows memfd memfd "$floor"
	fi
}

q11_want() { [[ $1 =~ ${BENCH_Q11_BACKINGS:-.} ]]; }

# q11_can_reserve PAGES: whether the host gives PAGES more 2 MiB pages now
# (tried, then given back): a host that cannot loses the hugetlbfs rows
# only (vb_hugetlbfs would skip, ending the whole bench).
q11_can_reserve() {
	local f=/proc/sys/vm/nr_hugepages old got ok=1
	old=$(cat "$f" 2>/dev/null) || return 1
	echo $((old + $1)) >"$f" 2>/dev/null || ok=0
	got=$(($(cat "$f") - old))
	((got >= $1)) || ok=0
	# Give back what was added, not the old total (as vb_hugetlbfs does).
	echo $(($(cat "$f") - got)) >"$f"
	[ $ok = 1 ] || vb_log "qemu11: the host cannot reserve $1 huge pages: no hugetlbfs rows"
	[ $ok = 1 ]
}
