// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * qmp_info.c - device state formatted for QMP.  Reads the device through
 * balloon.h only; knows nothing of sockets or commands.
 */
#include <stdint.h>
#include <stdio.h>

#include "vballoon_abi.h"
#include "qmp_info.h"

#define ADD_U64(o, k, v) json_object_object_add(o, k, json_object_new_uint64(v))
#define ADD_BOOL(o, k, v) json_object_object_add(o, k, json_object_new_boolean(v))
#define ADD_STR(o, k, v) json_object_object_add(o, k, json_object_new_string(v))

static const char *const stat_names[VB_S_NR] = {
	[VB_S_SWAP_IN] = "stat-swap-in",
	[VB_S_SWAP_OUT] = "stat-swap-out",
	[VB_S_MAJFLT] = "stat-major-faults",
	[VB_S_MINFLT] = "stat-minor-faults",
	[VB_S_MEMFREE] = "stat-free-memory",
	[VB_S_MEMTOT] = "stat-total-memory",
	[VB_S_AVAIL] = "stat-available-memory",
	[VB_S_CACHES] = "stat-disk-caches",
	[VB_S_HTLB_PGALLOC] = "stat-htlb-pgalloc",
	[VB_S_HTLB_PGFAIL] = "stat-htlb-pgfail",
	[VB_S_OOM_KILL] = "stat-oom-kills",
	[VB_S_ALLOC_STALL] = "stat-alloc-stalls",
	[VB_S_ASYNC_SCAN] = "stat-async-scans",
	[VB_S_DIRECT_SCAN] = "stat-direct-scans",
	[VB_S_ASYNC_RECLAIM] = "stat-async-reclaims",
	[VB_S_DIRECT_RECLAIM] = "stat-direct-reclaims",
};

static const char *const hint_state_names[] = {
	[BALLOON_HINT_IDLE] = "idle",
	[BALLOON_HINT_REQUESTED] = "requested",
	[BALLOON_HINT_RUNNING] = "running",
	[BALLOON_HINT_STOPPED] = "stopped",
};

/* The order QEMU 7.2 writes its stats in (then the tags it lacks), so
 * that the same stats give the same bytes. */
static const int stat_order[VB_S_NR] = {
	VB_S_HTLB_PGALLOC, VB_S_SWAP_OUT, VB_S_AVAIL, VB_S_HTLB_PGFAIL,
	VB_S_MEMFREE, VB_S_MINFLT, VB_S_MAJFLT, VB_S_MEMTOT, VB_S_SWAP_IN,
	VB_S_CACHES, VB_S_OOM_KILL, VB_S_ALLOC_STALL, VB_S_ASYNC_SCAN,
	VB_S_DIRECT_SCAN, VB_S_ASYNC_RECLAIM, VB_S_DIRECT_RECLAIM,
};

/*
 * As QEMU 7.2 answers: a stat the guest has not reported (or every stat,
 * before its first report, with last-update 0) reads 2^64 - 1.
 */
json_object *qmp_info_stats(struct balloon *b)
{
	json_object *o = json_object_new_object(), *s = json_object_new_object();
	struct balloon_stats st;
	int i;

	balloon_get_stats(b, &st);
	for (i = 0; i < VB_S_NR; i++) {
		int k = stat_order[i];

		ADD_U64(s, stat_names[k], st.have[k] ? st.val[k] : UINT64_MAX);
	}
	json_object_object_add(o, "stats", s);
	ADD_U64(o, "last-update", st.last_update);
	return o;
}

static json_object *features_json(uint64_t f)
{
	static const struct { int bit; const char *name; } names[] = {
		{ VB_F_MUST_TELL_HOST, "must-tell-host" },
		{ VB_F_STATS_VQ, "stats-vq" },
		{ VB_F_DEFLATE_ON_OOM, "deflate-on-oom" },
		{ VB_F_FREE_PAGE_HINT, "free-page-hint" },
		{ VB_F_PAGE_POISON, "page-poison" },
		{ VB_F_PAGE_REPORTING, "page-reporting" },
		{ VB_F_PAGE_RANGES, "x-page-ranges" },
		{ VB_F_CONT_PAGES, "x-cont-pages" },
		{ 32, "version-1" },	/* VIRTIO_F_VERSION_1 */
	};
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & (1ULL << names[i].bit))
			json_object_array_add(a, json_object_new_string(names[i].name));
	return a;
}

static void add_counters(json_object *o, const struct balloon_info *i)
{
	json_object *orders = json_object_new_array();
	size_t k;

	ADD_U64(o, "poison-val", i->poison_val);
	ADD_U64(o, "pages-order", i->pages_order);
	ADD_U64(o, "inflated-pages", i->inflated_pages);
	ADD_U64(o, "deflated-pages", i->deflated_pages);
	ADD_U64(o, "discarded-bytes", i->discarded_bytes);
	ADD_U64(o, "discard-ranges", i->discard_ranges);
	ADD_U64(o, "reported-bytes", i->reported_bytes);
	ADD_U64(o, "refused", i->refused);
	ADD_U64(o, "ram-allocated", i->ram_allocated);
	for (k = 0; k < sizeof(i->blocks_by_order) / sizeof(i->blocks_by_order[0]); k++)
		json_object_array_add(orders, json_object_new_uint64(i->blocks_by_order[k]));
	json_object_object_add(o, "blocks-by-order", orders);
}

static void add_hint(json_object *o, const struct balloon_info *i, const char *prefix)
{
	char key[32];

	snprintf(key, sizeof(key), "%sstate", prefix);
	ADD_STR(o, key, hint_state_names[i->hint_state]);
	snprintf(key, sizeof(key), "%scmd-id", prefix);
	ADD_U64(o, key, i->hint_cmd_id);
	ADD_U64(o, "hinted-bytes", i->hinted_bytes);
}

/* What x-vb-list shows of a guest; x-vb-query starts with it too. */
static json_object *brief_json(const struct balloon_info *i)
{
	json_object *o = json_object_new_object();

	ADD_STR(o, "name", i->name);
	ADD_BOOL(o, "connected", i->connected);
	ADD_BOOL(o, "broken", i->broken);
	ADD_U64(o, "ram-size", i->ram_size);
	ADD_U64(o, "actual", i->actual);
	/* The smallest target the device accepts: a policy (the broker)
	 * plans above it. */
	ADD_U64(o, "floor", i->floor);
	return o;
}

json_object *qmp_info_full(struct balloon *b)
{
	struct balloon_info i;
	json_object *o;
	uint64_t thp;

	balloon_get_info(b, &i);
	o = brief_json(&i);
	ADD_U64(o, "target", i.target);
	ADD_U64(o, "floor", i.floor);
	ADD_U64(o, "ram-page-size", i.ram_page_size);
	ADD_U64(o, "unfreeable-bytes", i.unfreeable_bytes);
	ADD_U64(o, "orphaned-pages", i.orphaned_pages);
	ADD_U64(o, "num-pages", i.num_pages);
	ADD_U64(o, "actual-pages", i.actual_pages);
	json_object_object_add(o, "features", features_json(i.features));
	/* The inflate/deflate encoding in use; "none" before a driver
	 * negotiated features. */
	ADD_STR(o, "transfer", !i.features ? "none" :
		i.features & (1ULL << VB_F_PAGE_RANGES) ? "ranges" : "pfns");
	ADD_BOOL(o, "cont-pages", i.features & (1ULL << VB_F_CONT_PAGES));
	add_counters(o, &i);
	/* Measured on demand, only here: absent when there is nothing to
	 * measure (no guest memory) or the mapping cannot show huge pages. */
	if (balloon_ram_thp(b, &thp) == 0)
		ADD_U64(o, "ram-thp-bytes", thp);
	add_hint(o, &i, "hint-");
	return o;
}

json_object *qmp_info_brief(struct balloon *b)
{
	struct balloon_info i;

	balloon_get_info(b, &i);
	return brief_json(&i);
}

json_object *qmp_info_hint(struct balloon *b)
{
	json_object *o = json_object_new_object();
	struct balloon_info i;

	balloon_get_info(b, &i);
	add_hint(o, &i, "");
	return o;
}

static void range_cb(uint64_t gpa, uint64_t len, void *opaque)
{
	json_object *o = json_object_new_object();

	ADD_U64(o, "start", gpa);
	ADD_U64(o, "length", len);
	json_object_array_add(opaque, o);
}

json_object *qmp_info_hint_ranges(struct balloon *b)
{
	json_object *a = json_object_new_array();

	balloon_hint_ranges(b, range_cb, a);
	return a;
}
