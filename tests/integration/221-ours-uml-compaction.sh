#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Movable balloon pages with vballoon.ko on vballoond (UML):
# the balloon is inflated over fragmented guest memory, the fragmenting
# file is removed and `compact_memory` runs.  Balloon pages must migrate
# (vmstat balloon_migrate rises), and the host must see each migration as
# one inflated page (the new one) plus one deflated page (the old one):
# the daemon's inflated/deflated page counters rise by exactly the
# driver's migration count, the balloon keeps its size and a pattern held
# throughout still verifies.  Run with PFN arrays and with the
# extensions (page ranges + continuous pages of order 9).
. "$(dirname "$0")/../lib/common.sh"
vb_require "$BUILD/vballoond" "$BUILD/vballoonctl" "$BUILD/vb-workload" \
	"$BUILD/um/vballoon.ko"
MIB=$((1 << 20))
# Balloon size per run: with order-0 pages the balloon takes the holes the
# workload punched; continuous blocks come from unfragmented memory, so
# that run inflates beyond it (into the fragmented region).
BAL=0

cat >"$T/guest.sh" <<'GUEST'
# Only the compaction this test asks for.
echo 0 >/proc/sys/vm/compaction_proactiveness
vb_load_balloon ours || vb_fail "insmod vballoon failed"
st=$(vb_ours_dir) || vb_fail "no debug view"
vb_tmpfs /mnt/t 90%
vb-workload fill --mib 48 --hold-file /mnt/t/keep --seed 2 || exit 1
vb-workload frag --mib 240 --hold-file /mnt/t/frag --seed 5 || exit 1
vb_signal ready
vb_wait inflated 120 || exit 1
pages=$(cat $st/pages)
rm -f /mnt/t/frag
c=$(vb_settled_migrations) || vb_fail "balloon migrations never settled"
m0=${c% *} d0=${c#* }
vb_put m0 "$d0"
vb_signal before
vb_wait counted 60 || exit 1
echo 1 >/proc/sys/vm/compact_memory
c=$(vb_settled_migrations) || vb_fail "balloon migrations never settled"
m1=${c% *} d1=${c#* }
vb_log "mode $(vb_ours_mode): balloon_migrate $m0 -> $m1; driver migrated $d0 -> $d1"
[ "$m1" -gt "$m0" ] || vb_fail "compaction migrated no balloon page"
[ $((d1 - d0)) -eq $((m1 - m0)) ] || vb_fail "driver and vmstat disagree"
[ "$(cat $st/pages)" = "$pages" ] || vb_fail "balloon size changed"
vb_put migrated $((d1 - d0))
vb_put mode "$(vb_ours_mode)"
vb_put fallbacks "$(vb_ours_val cont_fallbacks)"
echo "blocks_by_order $(vb_ours_val blocks_by_order)"
vb-workload verify --mib 48 --hold-file /mnt/t/keep --seed 2 || exit 1
vb_check_dmesg
vb_signal compacted
vb_wait checked 60 || exit 1
exit 0
GUEST

run() {
	local want_mode=$1 i0 d0 i1 d1 mig
	BAL=$2
	shift 2
	vb_start_daemon_uml 512M --page-reporting off --free-page-hint off "$@" \
		-- --timeout 240 -- "$T/guest.sh"
	vb_wait_guest ready 120 || { vb_wait_uml; vb_fail "guest not ready"; }
	vb_ctl set $((512 * MIB - BAL * MIB)) >/dev/null || vb_fail "balloon command failed"
	vb_wait_actual $((512 * MIB - BAL * MIB)) 60 || vb_fail "balloon did not reach $((512 * MIB - BAL * MIB))"
	vb_signal_guest inflated
	vb_wait_guest before 60 || { vb_wait_uml; vb_fail "guest failed"; }
	i0=$(vb_info inflated-pages) d0=$(vb_info deflated-pages)
	vb_log "before compaction: actual-pages $(vb_info actual-pages)"
	vb_signal_guest counted
	vb_wait_guest compacted 120 || { vb_wait_uml; vb_fail "compaction step failed"; }
	i1=$(vb_info inflated-pages) d1=$(vb_info deflated-pages)
	mig=$(vb_get migrated)
	vb_log "[$(vb_get mode), $(vb_get fallbacks) order fallbacks] host: inflated +$((i1 - i0)), deflated +$((d1 - d0)); guest migrated $mig"
	[ "$(vb_get mode)" = "$want_mode" ] || vb_fail "driver mode $(vb_get mode), want $want_mode"
	(( i1 - i0 == mig && d1 - d0 == mig )) ||
		vb_fail "host did not see one inflate/deflate pair per migration"
	a=$(vb_info actual-pages)
	[ "$a" = $((BAL * 256)) ] || vb_fail "host balloon size changed: $a pages"
	vb_signal_guest checked
	vb_wait_uml || vb_fail "guest script failed"
	[ "$(vb_info refused)" = 0 ] || vb_fail "daemon refused requests"
	vb_stop_daemon
}

run pfns 96 --ranges off --cont-pages off
run cont 200 --pages-order 9
