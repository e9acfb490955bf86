// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_balloon.c - the balloon device driven through its vdev_ops, as the
 * vhost-user transport would: guest RAM is a memfd mapped through the real
 * guest_mem translator, and the queues are real split rings (virtq.c) that
 * this test fills as a guest driver would.  Discards are checked on the
 * memfd's st_blocks.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "vballoon_abi.h"
#include "balloon.h"
#include "guest_helpers.h"

#define F(bit)		(1ULL << (bit))
#define F_V1		F(32)
#define PAGE		4096ULL
#define RAM_BASE	0x100000ULL	/* below it: not shared, as in UML */
#define RAM_SIZE	(8ULL << 20)
#define RAM_END		(RAM_BASE + RAM_SIZE)
#define QSIZE		16
#define RING_STRIDE	0x4000ULL	/* queue q's ring at RAM_BASE + q * stride */
#define SCRATCH		(RAM_BASE + 0x20000ULL)
#define SCRATCH_END	(RAM_BASE + 0x40000ULL)
#define DATA		(RAM_BASE + 0x40000ULL)	/* pages the tests balloon */
#define PFN(gpa)	((uint32_t)((gpa) >> 12))

struct fx {
	struct tg g;			/* guest RAM file offset == gpa, as in UML */
	uint64_t bump;
	struct balloon *b;
	struct vdev *vd;
	uint64_t features;
};

static int config_changes;
static int events[8];

static int cfg_changed(struct vdev *vd)
{
	config_changes++;
	return 0;
}

static void ev_cb(struct balloon *b, enum balloon_event ev, void *opaque)
{
	events[ev]++;
}

static uint64_t allocated(struct fx *f)
{
	struct stat st;

	assert_int_equal(fstat(f->g.memfd, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

static void *gpa(struct fx *f, uint64_t a)
{
	return tg_ptr(&f->g, a);
}

/* Bring the device up with features, all queues mapped and ready. */
static struct fx *fx_new(uint64_t features, struct balloon_opts *o)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct balloon_opts def;

	assert_non_null(f);
	if (!o) {
		balloon_opts_default(&def);
		o = &def;
	}
	tg_init(&f->g, RAM_BASE, RAM_SIZE, RAM_BASE, RAM_END);
	/* The guest has used its memory: every data page is allocated. */
	memset(gpa(f, DATA), 0x5a, RAM_END - DATA);
	/* Rings and scratch too, so posting buffers allocates nothing. */
	memset(gpa(f, RAM_BASE), 0, DATA - RAM_BASE);

	f->b = balloon_new(o, NULL);
	assert_non_null(f->b);
	balloon_set_event_cb(f->b, ev_cb, NULL);
	f->vd = balloon_vdev(f->b);
	assert_int_equal(f->vd->ops->device_id, 5);
	assert_int_equal(tg_negotiate(f->vd, features), 0);
	f->features = features;
	f->vd->config_changed = cfg_changed;
	f->bump = SCRATCH;
	tg_dev_up(&f->g, f->vd, QSIZE, RAM_BASE, RING_STRIDE);
	return f;
}

static void fx_free(struct fx *f)
{
	tg_dev_down(&f->g, f->vd);
	balloon_free(f->b);
	tg_free(&f->g);
	free(f);
}

static int qidx(struct fx *f, int role)
{
	int q = balloon_queue_index(f->features, role);

	assert_true(q >= 0);
	return q;
}

static uint64_t scratch(struct fx *f, const void *data, size_t len)
{
	uint64_t a = f->bump;

	f->bump += (len + 15) & ~15ULL;
	assert_true(f->bump <= SCRATCH_END);
	if (data)
		memcpy(gpa(f, a), data, len);
	return a;
}

static void post_out(struct fx *f, unsigned q, const void *data, uint32_t len)
{
	uint64_t a = scratch(f, data, len);
	uint16_t fl = 0;

	tg_post(&f->g, q, &a, &len, &fl, 1);
}

static void post_in(struct fx *f, unsigned q, uint64_t addr, uint32_t len)
{
	uint16_t fl = VIRTQ_DESC_F_WRITE;

	tg_post(&f->g, q, &addr, &len, &fl, 1);
}

static uint16_t used_idx(struct fx *f, unsigned q)
{
	return tg_used_idx(&f->g, q);
}

static int kick(struct fx *f, unsigned q)
{
	return tg_kick(f->vd, q);
}

static void info(struct fx *f, struct balloon_info *i)
{
	balloon_get_info(f->b, i);
}

/* ---- queue indexes -------------------------------------------------------- */

static void test_queue_index_every_combination(void **state)
{
	unsigned mask;

	for (mask = 0; mask < 8; mask++) {
		uint64_t feat = F_V1 | F(VB_F_MUST_TELL_HOST) | F(VB_F_DEFLATE_ON_OOM);
		int expect = 2;

		if (mask & 1)
			feat |= F(VB_F_STATS_VQ);
		if (mask & 2)
			feat |= F(VB_F_FREE_PAGE_HINT);
		if (mask & 4)
			feat |= F(VB_F_PAGE_REPORTING);
		assert_int_equal(balloon_queue_index(feat, VB_Q_INFLATE), 0);
		assert_int_equal(balloon_queue_index(feat, VB_Q_DEFLATE), 1);
		assert_int_equal(balloon_queue_index(feat, VB_Q_STATS),
				 mask & 1 ? expect++ : -1);
		assert_int_equal(balloon_queue_index(feat, VB_Q_FREE_PAGE),
				 mask & 2 ? expect++ : -1);
		assert_int_equal(balloon_queue_index(feat, VB_Q_REPORTING),
				 mask & 4 ? expect++ : -1);
		assert_int_equal(balloon_queue_index(feat, VB_Q_NR_ROLES), -1);
		assert_int_equal(balloon_queue_index(feat, -1), -1);
	}
}

static void test_num_queues_follows_negotiation(void **state)
{
	struct fx *f = fx_new(F_V1 | F(VB_F_PAGE_REPORTING), NULL);

	assert_int_equal(f->vd->ops->num_queues(f->vd), 3);
	assert_int_equal(balloon_queue_index(f->features, VB_Q_REPORTING), 2);
	fx_free(f);
}

/* ---- features and config -------------------------------------------------- */

static void test_features_offered_and_refused(void **state)
{
	struct balloon_opts o;
	struct balloon *b;
	struct vdev *vd;
	uint64_t off;

	/* DEFLATE_ON_OOM is opt-in, as in QEMU. */
	balloon_opts_default(&o);
	assert_false(o.deflate_on_oom);
	o.deflate_on_oom = true;
	b = balloon_new(&o, NULL);
	off = balloon_vdev(b)->ops->get_features(balloon_vdev(b));
	assert_true(off & F(VB_F_DEFLATE_ON_OOM));
	balloon_free(b);

	balloon_opts_default(&o);
	b = balloon_new(&o, NULL);
	vd = balloon_vdev(b);
	off = vd->ops->get_features(vd);
	assert_int_equal(off >> 24, 0);		/* VERSION_1 is the transport's */
	assert_true(off & F(VB_F_MUST_TELL_HOST));
	assert_false(off & F(VB_F_DEFLATE_ON_OOM));
	assert_true(off & F(VB_F_PAGE_RANGES));
	/* Not offered, CONT without RANGES: refused. */
	assert_int_equal(vd->ops->set_features(vd, F_V1 | F(VB_F_DEFLATE_ON_OOM)), -EINVAL);
	assert_int_equal(vd->ops->set_features(vd, F_V1 | F(VB_F_CONT_PAGES)), -EINVAL);
	assert_int_equal(vd->ops->set_features(vd, F_V1 | F(15)), -EINVAL);
	assert_int_equal(vd->ops->set_features(vd, F_V1 | F(VB_F_CONT_PAGES) |
					       F(VB_F_PAGE_RANGES)), 0);
	balloon_free(b);
}

static void test_config_layout_and_actual(void **state)
{
	struct fx *f = fx_new(F_V1 | F(VB_F_MUST_TELL_HOST), NULL);
	struct vb_config_ext c;
	uint32_t v;
	struct balloon_info i;
	int changes = events[BALLOON_EV_CHANGE];

	assert_int_equal(f->vd->ops->config_size(f->vd), 24);
	assert_int_equal(balloon_set_target(f->b, RAM_SIZE - 256 * PAGE), 0);
	memset(&c, 0xff, sizeof(c));
	f->vd->ops->get_config(f->vd, 0, &c, 16);	/* a 16-byte read works */
	assert_int_equal(le32toh(c.std.num_pages), 256);
	assert_int_equal(c.std.actual, 0);
	assert_int_equal(c.pages_order, 0xffffffff);	/* untouched */
	/* Driver writes actual; writes to num_pages are ignored. */
	v = htole32(100);
	f->vd->ops->set_config(f->vd, 4, &v, 4);
	v = htole32(7);
	f->vd->ops->set_config(f->vd, 0, &v, 4);
	info(f, &i);
	assert_int_equal(i.actual_pages, 100);
	assert_int_equal(i.num_pages, 256);
	/* RAM size: what the frontend shares, not where it ends. */
	assert_int_equal(i.ram_size, RAM_SIZE);
	assert_int_equal(i.actual, RAM_SIZE - 100 * PAGE);
	assert_int_equal(events[BALLOON_EV_CHANGE], changes + 1);
	/* Target above RAM clamps to "no balloon"; 0 is refused. */
	assert_int_equal(balloon_set_target(f->b, 1ULL << 50), 0);
	info(f, &i);
	assert_int_equal(i.num_pages, 0);
	assert_int_equal(balloon_set_target(f->b, 0), -EINVAL);
	fx_free(f);
}

static void test_config_16_bytes_without_extensions(void **state)
{
	struct balloon_opts o;
	struct fx *f;

	balloon_opts_default(&o);
	o.page_ranges = false;
	o.cont_pages = false;
	f = fx_new(F_V1, &o);
	assert_int_equal(f->vd->ops->config_size(f->vd), 16);
	fx_free(f);
}

/* ---- inflate / deflate ---------------------------------------------------- */

static void test_inflate_discards_merged_ranges(void **state)
{
	struct fx *f = fx_new(F_V1 | F(VB_F_MUST_TELL_HOST), NULL);
	uint32_t pfns[64];
	uint64_t before = allocated(f);
	struct balloon_info i;
	unsigned k, q = qidx(f, VB_Q_INFLATE);

	/* Three runs, shuffled, with a duplicate: 20 + 30 + 13 pages. */
	for (k = 0; k < 20; k++)
		pfns[k] = PFN(DATA) + 19 - k;
	for (k = 0; k < 30; k++)
		pfns[20 + k] = PFN(DATA) + 100 + k;
	for (k = 0; k < 13; k++)
		pfns[50 + k] = PFN(DATA) + 400 + k;
	pfns[63] = PFN(DATA) + 105;
	for (k = 0; k < 64; k++)
		pfns[k] = htole32(pfns[k]);
	post_out(f, q, pfns, sizeof(pfns));
	kick(f, q);
	assert_int_equal(used_idx(f, q), 1);
	info(f, &i);
	assert_int_equal(i.inflated_pages, 64);
	assert_int_equal(i.discard_ranges, 3);
	assert_int_equal(i.discarded_bytes, 63 * PAGE);
	assert_int_equal(i.refused, 0);
	assert_int_equal(before - allocated(f), 63 * PAGE);
	/* The holes read back as zero; the neighbours are untouched. */
	assert_int_equal(*(uint8_t *)gpa(f, DATA), 0);
	assert_int_equal(*(uint8_t *)gpa(f, DATA + 20 * PAGE), 0x5a);
	fx_free(f);
}

static void test_inflate_pfn_outside_ram_refused(void **state)
{
	struct fx *f = fx_new(F_V1 | F(VB_F_MUST_TELL_HOST), NULL);
	unsigned q = qidx(f, VB_Q_INFLATE);
	uint32_t bad[][3] = {
		{ PFN(DATA), PFN(DATA) + 1, PFN(RAM_END) },	/* past the end */
		{ PFN(DATA), PFN(RAM_BASE) - 1, PFN(DATA) + 2 },	/* below RAM */
		{ PFN(DATA), 0xffffffff, PFN(DATA) + 3 },
	};
	uint64_t before = allocated(f);
	struct balloon_info i;
	uint8_t odd[6] = { 0 };
	unsigned k;

	for (k = 0; k < 3; k++)
		post_out(f, q, bad[k], sizeof(bad[k]));
	post_out(f, q, odd, sizeof(odd));	/* not a multiple of 4 */
	kick(f, q);
	/* Every request is answered (the guest must not hang) ... */
	assert_int_equal(used_idx(f, q), 4);
	info(f, &i);
	/* ... and none of them discarded anything. */
	assert_int_equal(i.refused, 4);
	assert_int_equal(i.discarded_bytes, 0);
	assert_int_equal(i.inflated_pages, 0);
	assert_int_equal(allocated(f), before);
	assert_false(f->vd->broken);
	fx_free(f);
}

static void test_deflate_counts_only(void **state)
{
	struct fx *f = fx_new(F_V1 | F(VB_F_MUST_TELL_HOST), NULL);
	unsigned q = qidx(f, VB_Q_DEFLATE);
	uint32_t pfns[4] = { PFN(DATA), PFN(DATA) + 1, PFN(DATA) + 2, PFN(DATA) + 9 };
	uint64_t before = allocated(f);
	struct balloon_info i;

	post_out(f, q, pfns, sizeof(pfns));
	kick(f, q);
	assert_int_equal(used_idx(f, q), 1);
	info(f, &i);
	assert_int_equal(i.deflated_pages, 4);
	assert_int_equal(allocated(f), before);
	/* Checked like inflate: one PFN outside RAM refuses the request. */
	pfns[3] = PFN(RAM_END);
	post_out(f, q, pfns, sizeof(pfns));
	kick(f, q);
	assert_int_equal(used_idx(f, q), 2);	/* still answered */
	info(f, &i);
	assert_int_equal(i.deflated_pages, 4);
	assert_int_equal(i.refused, 1);
	fx_free(f);
}

static void test_deflate_ranges_checked_not_counted_by_order(void **state)
{
	struct fx *f = fx_new(F_V1 | F(VB_F_PAGE_RANGES), NULL);
	unsigned q = qidx(f, VB_Q_DEFLATE);
	struct vb_range v[2] = {
		{ .pfn = htole64(PFN(DATA)), .npages = htole32(512) },
		{ .pfn = htole64(PFN(DATA) + 600), .npages = htole32(3) },
	};
	struct balloon_info i;
	int k;

	post_out(f, q, v, sizeof(v));
	kick(f, q);
	info(f, &i);
	assert_int_equal(i.deflated_pages, 515);
	for (k = 0; k <= BALLOON_MAX_ORDER; k++)	/* inflate only */
		assert_int_equal(i.blocks_by_order[k], 0);
	v[1].reserved = htole32(1);
	post_out(f, q, v, sizeof(v));
	kick(f, q);
	info(f, &i);
	assert_int_equal(i.deflated_pages, 515);
	assert_int_equal(i.refused, 1);
	fx_free(f);
}

static void test_range_entries_validation(void **state)
{
	uint64_t feat = F_V1 | F(VB_F_MUST_TELL_HOST) | F(VB_F_PAGE_RANGES);
	struct fx *f = fx_new(feat, NULL);
	unsigned q = qidx(f, VB_Q_INFLATE);
	struct vb_range bad[] = {
		{ htole64(PFN(DATA)), htole32(0), 0 },			/* empty */
		{ htole64(PFN(DATA)), htole32(4), htole32(1) },		/* reserved */
		{ htole64(PFN(RAM_END) - 2), htole32(4), 0 },		/* crosses end */
		{ htole64(UINT64_MAX - 1), htole32(4), 0 },		/* wraps */
		{ htole64(UINT64_MAX >> 12), htole32(1), 0 },		/* shift overflow */
	};
	struct vb_range good[] = {
		{ htole64(PFN(DATA)), htole32(512), 0 },		/* order 9 */
		{ htole64(PFN(DATA) + 512), htole32(1), 0 },		/* adjacent */
		{ htole64(PFN(DATA) + 1024), htole32(16), 0 },		/* order 4 */
		{ htole64(PFN(DATA) + 1030), htole32(2), 0 },		/* inside */
	};
	uint64_t before = allocated(f);
	struct balloon_info i;
	unsigned k;

	for (k = 0; k < 5; k++)
		post_out(f, q, &bad[k], sizeof(bad[k]));
	kick(f, q);
	info(f, &i);
	assert_int_equal(i.refused, 5);
	assert_int_equal(allocated(f), before);
	post_out(f, q, good, sizeof(good));
	kick(f, q);
	assert_int_equal(used_idx(f, q), 6);
	info(f, &i);
	assert_int_equal(i.refused, 5);
	assert_int_equal(i.inflated_pages, 531);
	assert_int_equal(i.discard_ranges, 2);
	assert_int_equal(i.discarded_bytes, 529 * PAGE);
	assert_int_equal(before - allocated(f), 529 * PAGE);
	assert_int_equal(i.blocks_by_order[9], 1);
	assert_int_equal(i.blocks_by_order[4], 1);
	assert_int_equal(i.blocks_by_order[1], 1);
	assert_int_equal(i.blocks_by_order[0], 1);
	fx_free(f);
}

static void test_ring_corruption_reported(void **state)
{
	struct fx *f = fx_new(F_V1, NULL);
	unsigned q = qidx(f, VB_Q_INFLATE);
	struct virtq_avail *av = tg_avail(&f->g, q);
	int before = events[BALLOON_EV_BROKEN];
	uint32_t pfn = PFN(DATA);

	av->idx = 100;		/* avail moved by more than the ring size */
	/* The device says so; marking it broken is the transport's job. */
	assert_int_equal(f->vd->ops->queue_kick(f->vd, q), -EINVAL);
	assert_int_equal(events[BALLOON_EV_BROKEN], before + 1);
	/* Nothing was consumed or answered. */
	assert_int_equal(used_idx(f, q), 0);
	/* A bad request is refused, not fatal. */
	av->idx = 0;
	post_out(f, q, &pfn, 2);
	assert_int_equal(f->vd->ops->queue_kick(f->vd, q), 0);
	assert_int_equal(used_idx(f, q), 1);
	fx_free(f);
}

/* ---- poison ------------------------------------------------------------- */

static void test_poison_nonzero_keeps_pages(void **state)
{
	uint64_t feat = F_V1 | F(VB_F_MUST_TELL_HOST) | F(VB_F_PAGE_POISON) |
			F(VB_F_PAGE_REPORTING);
	struct fx *f = fx_new(feat, NULL);
	unsigned q = qidx(f, VB_Q_INFLATE), rq = qidx(f, VB_Q_REPORTING);
	uint32_t pv = htole32(0xaaaaaaaa), pfns[8];
	uint64_t before = allocated(f);
	struct balloon_info i;
	unsigned k;

	f->vd->ops->set_config(f->vd, 12, &pv, 4);
	memset(gpa(f, DATA), 0xaa, 8 * PAGE);	/* the guest poisoned them */
	for (k = 0; k < 8; k++)
		pfns[k] = htole32(PFN(DATA) + k);
	post_out(f, q, pfns, sizeof(pfns));
	kick(f, q);
	post_in(f, rq, DATA + 64 * PAGE, 1 << 20);
	kick(f, rq);
	assert_int_equal(used_idx(f, q), 1);
	assert_int_equal(used_idx(f, rq), 1);
	info(f, &i);
	assert_int_equal(i.poison_val, 0xaaaaaaaa);
	assert_int_equal(i.inflated_pages, 8);
	assert_int_equal(i.reported_bytes, 1 << 20);
	/* Policy: nothing punched, the pattern is still there. */
	assert_int_equal(i.discarded_bytes, 0);
	assert_int_equal(allocated(f), before);
	assert_int_equal(*(uint8_t *)gpa(f, DATA + 7 * PAGE + 100), 0xaa);

	/* A zero poison value: holes read as zero, so discarding is fine. */
	pv = 0;
	f->vd->ops->set_config(f->vd, 12, &pv, 4);
	post_out(f, q, pfns, sizeof(pfns));
	kick(f, q);
	info(f, &i);
	assert_int_equal(i.discarded_bytes, 8 * PAGE);
	assert_int_equal(before - allocated(f), 8 * PAGE);
	fx_free(f);
}

/* ---- reporting ------------------------------------------------------------ */

static void test_reporting_discards_and_validates(void **state)
{
	struct fx *f = fx_new(F_V1 | F(VB_F_PAGE_REPORTING), NULL);
	unsigned q = qidx(f, VB_Q_REPORTING);
	uint64_t before = allocated(f), a[3];
	uint32_t len[3];
	uint16_t fl[3] = { VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_WRITE };
	struct balloon_info i;

	/* Two adjacent blocks and one apart: two discards. */
	a[0] = DATA + (1 << 20);
	len[0] = 1 << 20;
	a[1] = DATA;
	len[1] = 1 << 20;
	a[2] = DATA + (3 << 20);
	len[2] = 256 * 1024;
	tg_post(&f->g, q, a, len, fl, 3);
	/* Unaligned block: the whole buffer refused. */
	a[0] = DATA + (4 << 20) + 100;
	len[0] = 8192;
	tg_post(&f->g, q, a, len, fl, 1);
	kick(f, q);
	assert_int_equal(used_idx(f, q), 2);
	info(f, &i);
	assert_int_equal(i.reported_bytes, (2 << 20) + 256 * 1024);
	assert_int_equal(i.discard_ranges, 2);
	assert_int_equal(i.refused, 1);
	assert_int_equal(before - allocated(f), (2 << 20) + 256 * 1024);
	fx_free(f);
}

/* ---- stats ---------------------------------------------------------------- */

static void test_stats_parse_and_request(void **state)
{
	struct fx *f = fx_new(F_V1 | F(VB_F_STATS_VQ), NULL);
	unsigned q = qidx(f, VB_Q_STATS);
	struct vb_stat s[3] = {
		{ htole16(VB_S_MEMFREE), htole64(123456789) },
		{ htole16(999), htole64(1) },			/* unknown: ignored */
		{ htole16(VB_S_OOM_KILL), htole64(3) },
	};
	struct balloon_stats st;

	assert_int_equal(balloon_request_stats(f->b), -EAGAIN);
	post_out(f, q, s, sizeof(s));
	kick(f, q);
	/* The device keeps the buffer until it wants fresh stats. */
	assert_int_equal(used_idx(f, q), 0);
	balloon_get_stats(f->b, &st);
	assert_true(st.last_update > 0);
	assert_true(st.have[VB_S_MEMFREE]);
	assert_int_equal(st.val[VB_S_MEMFREE], 123456789);
	assert_int_equal(st.val[VB_S_OOM_KILL], 3);
	assert_false(st.have[VB_S_SWAP_IN]);
	assert_int_equal(balloon_request_stats(f->b), 0);
	assert_int_equal(used_idx(f, q), 1);
	assert_int_equal(balloon_request_stats(f->b), -EAGAIN);
	/* After stop nothing points into guest memory any more. */
	post_out(f, q, s, sizeof(s));
	kick(f, q);
	f->vd->ops->reset(f->vd);
	assert_int_equal(balloon_request_stats(f->b), -ENODEV);
	fx_free(f);
}

/* ---- free page hints ------------------------------------------------------ */

static void send_id(struct fx *f, unsigned q, uint32_t id)
{
	uint32_t le = htole32(id);

	post_out(f, q, &le, 4);
	kick(f, q);
}

static uint32_t cfg_cmd_id(struct fx *f)
{
	struct vb_config c;

	f->vd->ops->get_config(f->vd, 0, &c, sizeof(c));
	return le32toh(c.free_page_hint_cmd_id);
}

static void test_hint_round_and_stale_ids(void **state)
{
	uint64_t feat = F_V1 | F(VB_F_FREE_PAGE_HINT) | F(VB_F_STATS_VQ);
	struct fx *f = fx_new(feat, NULL);
	unsigned q = qidx(f, VB_Q_FREE_PAGE);
	uint64_t before = allocated(f);
	struct balloon_info i;
	int id1, id2, changes = config_changes;

	assert_int_equal(q, 3);
	id1 = balloon_hint_start(f->b);
	assert_true(id1 >= 2);
	assert_int_equal(cfg_cmd_id(f), id1);
	assert_int_equal(config_changes, changes + 1);
	send_id(f, q, id1);
	post_in(f, q, DATA, 1 << 20);
	post_in(f, q, DATA + (1 << 20), 1 << 20);
	kick(f, q);
	info(f, &i);
	assert_int_equal(i.hint_state, BALLOON_HINT_RUNNING);
	assert_int_equal(i.hinted_bytes, 2 << 20);

	/* New round: hints still carrying the old id are ignored. */
	id2 = balloon_hint_start(f->b);
	assert_true(id2 > id1);
	post_in(f, q, DATA + (2 << 20), 1 << 20);	/* before the guest starts id2 */
	kick(f, q);
	send_id(f, q, id1);				/* stale start id */
	post_in(f, q, DATA + (3 << 20), 1 << 20);
	kick(f, q);
	info(f, &i);
	assert_int_equal(i.hint_state, BALLOON_HINT_REQUESTED);
	assert_int_equal(i.hinted_bytes, 0);
	send_id(f, q, id2);
	post_in(f, q, DATA + (4 << 20), 1 << 20);
	kick(f, q);
	send_id(f, q, VB_CMD_ID_STOP);
	info(f, &i);
	assert_int_equal(i.hint_state, BALLOON_HINT_STOPPED);
	assert_int_equal(i.hinted_bytes, 1 << 20);
	/* Hints after the guest's STOP belong to no round. */
	post_in(f, q, DATA + (5 << 20), 1 << 20);
	kick(f, q);
	info(f, &i);
	assert_int_equal(i.hinted_bytes, 1 << 20);
	/* Every buffer went back to the guest, with 0 bytes written. */
	assert_int_equal(used_idx(f, q), 10);
	/* Default mode: hinted pages are recorded, never discarded. */
	assert_int_equal(allocated(f), before);
	assert_int_equal(i.discarded_bytes, 0);

	assert_int_equal(balloon_hint_done(f->b), 0);
	assert_int_equal(cfg_cmd_id(f), VB_CMD_ID_DONE);
	info(f, &i);
	assert_int_equal(i.hint_state, BALLOON_HINT_IDLE);
	assert_int_equal(i.hinted_bytes, 1 << 20);	/* readable until next round */
	/* Ids are never reused. */
	assert_true(balloon_hint_start(f->b) > id2);
	assert_int_equal(balloon_hint_stop(f->b), 0);
	assert_int_equal(cfg_cmd_id(f), VB_CMD_ID_STOP);
	info(f, &i);
	assert_int_equal(i.hint_state, BALLOON_HINT_STOPPED);
	fx_free(f);
}

static void test_hint_discard_opt_in(void **state)
{
	struct balloon_opts o;
	struct fx *f;
	uint64_t before;
	unsigned q;
	int id;

	balloon_opts_default(&o);
	o.hint_discard = true;
	f = fx_new(F_V1 | F(VB_F_FREE_PAGE_HINT), &o);
	q = qidx(f, VB_Q_FREE_PAGE);
	before = allocated(f);
	id = balloon_hint_start(f->b);
	send_id(f, q, id);
	post_in(f, q, DATA, 1 << 20);
	kick(f, q);
	assert_int_equal(before - allocated(f), 1 << 20);
	fx_free(f);
}

static void test_hint_needs_feature(void **state)
{
	struct fx *f = fx_new(F_V1, NULL);

	assert_int_equal(balloon_hint_start(f->b), -EOPNOTSUPP);
	fx_free(f);
}

/* ---- hostile input --------------------------------------------------------- */

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* A PFN that is near RAM most of the time, anything some of the time. */
static uint64_t rnd_pfn(void)
{
	switch (rnd() % 4) {
	case 0:
		return rnd();
	case 1:
		return PFN(RAM_BASE) - 8 + rnd() % 16;
	case 2:
		return PFN(RAM_END) - 8 + rnd() % 16;
	default:
		return PFN(DATA) + rnd() % PFN(RAM_END - DATA);
	}
}

static void post_random(struct fx *f, unsigned q)
{
	uint8_t buf[512];
	unsigned k, len = 1 + rnd() % sizeof(buf);

	switch (rnd() % 3) {
	case 0:		/* raw garbage */
		for (k = 0; k < len; k++)
			buf[k] = rnd();
		break;
	case 1:		/* PFN-shaped */
		len &= ~3u;
		for (k = 0; k + 4 <= len; k += 4) {
			uint32_t v = htole32(rnd_pfn());

			memcpy(buf + k, &v, 4);
		}
		break;
	default: {	/* range-shaped */
		struct vb_range r;

		len &= ~15u;
		for (k = 0; k + 16 <= len; k += 16) {
			r.pfn = htole64(rnd_pfn());
			r.npages = htole32(rnd() % 3 ? rnd() % 600 : rnd());
			r.reserved = rnd() % 8 ? 0 : rnd();
			memcpy(buf + k, &r, 16);
		}
	}
	}
	if (!len)
		len = 4;
	if (rnd() % 4 == 0) {	/* device-writable segments instead */
		/* Inside RAM: a descriptor outside is the ring walker's
		 * business (the device is marked broken), tested above. */
		uint64_t a = DATA + (rnd() % ((RAM_END - DATA) / PAGE - 16)) * PAGE +
			     (rnd() % 4 ? 0 : rnd() % PAGE);

		post_in(f, q, a, 1 + rnd() % (32 * 1024));
		return;
	}
	post_out(f, q, buf, len);
}

/*
 * Random requests on every queue, features with and without ranges: the
 * device must survive, answer every buffer, and never discard anything
 * outside guest RAM (the memfd part below RAM_BASE keeps its content: a
 * punched page there would read back as zeroes).
 */
static void test_random_requests_stay_inside_ram(void **state)
{
	static const uint64_t feats[] = {
		F_V1 | F(VB_F_MUST_TELL_HOST) | F(VB_F_STATS_VQ) |
			F(VB_F_FREE_PAGE_HINT) | F(VB_F_PAGE_REPORTING),
		F_V1 | F(VB_F_PAGE_RANGES) | F(VB_F_CONT_PAGES) | F(VB_F_STATS_VQ) |
			F(VB_F_FREE_PAGE_HINT) | F(VB_F_PAGE_REPORTING),
	};
	unsigned v, round, q, nq, k;

	for (v = 0; v < 2; v++) {
		struct fx *f = fx_new(feats[v], NULL);
		unsigned posted[VDEV_MAX_QUEUES] = { 0 };
		struct balloon_info i;

		memset(f->g.file, 0xc3, RAM_BASE);	/* not guest RAM */
		nq = f->vd->ops->num_queues(f->vd);
		balloon_hint_start(f->b);
		for (round = 0; round < 400; round++) {
			q = rnd() % nq;
			f->bump = SCRATCH;
			if (q == (unsigned)qidx(f, VB_Q_FREE_PAGE) && rnd() % 3 == 0) {
				uint32_t id = htole32(rnd() % 4);

				post_out(f, q, &id, 4);
			} else {
				post_random(f, q);
			}
			posted[q]++;
			assert_int_equal(kick(f, q), 0);
		}
		for (k = 0; k < RAM_BASE; k++)
			if (f->g.file[k] != 0xc3)
				fail_msg("byte %u below guest RAM changed", k);
		info(f, &i);
		assert_true(i.refused > 0);
		assert_true(i.discarded_bytes <= RAM_SIZE * 400);
		/* Every buffer answered, except the one stats buffer kept. */
		for (q = 0; q < nq; q++) {
			unsigned kept = q == (unsigned)qidx(f, VB_Q_STATS) && posted[q];

			assert_int_equal(used_idx(f, q), (uint16_t)(posted[q] - kept));
		}
		fx_free(f);
	}
}

/* ---- lifecycle ------------------------------------------------------------ */

static void test_stop_keeps_target(void **state)
{
	struct fx *f = fx_new(F_V1, NULL);
	struct balloon_info i;
	uint32_t v = htole32(50);

	assert_int_equal(balloon_set_target(f->b, RAM_SIZE - 100 * PAGE), 0);
	f->vd->ops->set_config(f->vd, 4, &v, 4);
	f->vd->ops->reset(f->vd);
	info(f, &i);
	assert_int_equal(i.num_pages, 100);
	assert_int_equal(i.actual_pages, 0);	/* a new driver starts empty */
	assert_false(i.connected);
	assert_int_equal(f->vd->ops->queue_ready(f->vd, 0), 0);
	info(f, &i);
	assert_true(i.connected);
	assert_int_equal(i.num_pages, 100);
	fx_free(f);
}

/* The device keeps no copy of the features: what the transport holds
 * (vdev.h) is what it reports and numbers its queues by. */
static void test_features_follow_the_transport(void **state)
{
	uint64_t feat = F_V1 | F(VB_F_PAGE_RANGES) | F(VB_F_STATS_VQ);
	struct fx *f = fx_new(feat, NULL);
	struct balloon_info i;

	info(f, &i);
	assert_int_equal(i.features, feat);
	assert_int_equal(f->vd->ops->num_queues(f->vd), 3);
	/* The frontend went away (vu_server_disconnect). */
	f->vd->connected = false;
	f->vd->features = 0;
	f->vd->features_set = false;
	f->vd->ops->reset(f->vd);
	info(f, &i);
	assert_int_equal(i.features, 0);
	assert_false(i.connected);
	/* Before the next negotiation, queues are numbered by the offer. */
	assert_int_equal(f->vd->ops->num_queues(f->vd), 5);
	fx_free(f);
}

/* ---- host THP state of the RAM file -------------------------------------- */

#define HP	(2ULL << 20)

/* ShmemPmdMapped of our mapping starting at p, in bytes (the test's own,
 * independent view of how many huge pages the file got). */
static uint64_t pmd_mapped_at(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long a, b, kb = 0, v;
	char line[8192];	/* whole lines: the test's paths are long */
	bool in = false;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && line[0] != ' ' &&
		    !strstr(line, ":  "))
			in = a == (unsigned long)p;
		else if (in && sscanf(line, "ShmemPmdMapped: %lu", &v) == 1)
			kb = v;
	}
	fclose(f);
	return (uint64_t)kb << 10;
}

static void test_ram_thp_memfd_allocates_nothing(void **state)
{
	struct fx *f = fx_new(F_V1, NULL);
	uint64_t before, thp;

	/* Punch a hole: measuring must not refill it. */
	assert_int_equal(guest_mem_discard(&f->g.mem, DATA, 16 * PAGE), 0);
	before = allocated(f);
	assert_int_equal(balloon_ram_thp(f->b, &thp), 0);
	assert_true(thp <= before);
	assert_int_equal(thp % HP, 0);
	assert_int_equal(allocated(f), before);
	fx_free(f);
}

/*
 * On a huge=always tmpfs, with the region starting 1 MiB into the file as
 * UML's does: the measure drops by one huge page when a 4 KiB hole splits a
 * THP and by one more when a whole 2 MiB block is punched; it never
 * allocates; the default pages_order follows the backing (9).
 */
/* The test's tmpfs, unmounted by thp_teardown() even when an assertion
 * fails half way (cmocka still runs the teardown). */
static char thp_dir[] = "/tmp/vb-thp-XXXXXX";
static bool thp_made;

static int thp_teardown(void **state)
{
	(void)state;
	if (!thp_made)
		return 0;
	umount2(thp_dir, MNT_DETACH);
	rmdir(thp_dir);
	thp_made = false;
	return 0;
}

static void test_ram_thp_huge_tmpfs(void **state)
{
	char *dir = thp_dir, sub[320], path[640], name[250];
	const uint64_t base = 1ULL << 20, size = 16ULL << 20;
	struct guest_region r = { .gpa = base, .size = size, .uaddr = base,
				  .mmap_offset = base };
	struct guest_mem mem = { 0 };
	struct balloon_opts o;
	struct balloon_info i;
	struct balloon *b, *b2;
	uint64_t t0, t1, t2, blocks, mapped;
	struct stat st;
	uint8_t *p;
	int fd;

	assert_non_null(mkdtemp(dir));
	if (mount("vb-thp", dir, "tmpfs", 0, "huge=always,size=64M") < 0) {
		rmdir(dir);
		skip();
	}
	thp_made = true;
	/* A path longer than a smaps reader's line, with pieces that look
	 * like VMA headers ("deadbeef-..."), must not confuse it. */
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memcpy(name + 100, "deadbeef-cafef00d", 17);
	memcpy(name + 200, "7f0000-7f2000", 13);
	snprintf(sub, sizeof(sub), "%s/%s", dir, name);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/%s", sub, name);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, base + size), 0);
	p = mmap(NULL, base + size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	memset(p, 0x5a, base + size);
	mapped = pmd_mapped_at(p);
	munmap(p, base + size);
	r.fd = dup(fd);
	assert_int_equal(guest_mem_set_table(&mem, &r, 1), 0);
	balloon_opts_default(&o);
	b = balloon_new(&o, NULL);
	assert_non_null(b);
	balloon_vdev(b)->mem = &mem;

	assert_int_equal(balloon_ram_thp(b, &t0), 0);
	/* The region leaves out the file's first 2 MiB block: at most one
	 * huge page we mapped is outside what the device measures. */
	assert_true(t0 <= mapped);
	assert_true(t0 + HP >= mapped);
	if (mapped < 4 * HP)	/* the host had few huge pages to give */
		goto out;
	assert_true(t0 <= size);
	assert_int_equal(t0 % HP, 0);
	balloon_get_info(b, &i);
	assert_int_equal(i.pages_order, 9);
	/* pages-order= per guest wins over the backing. */
	o.pages_order = 3;
	strcpy(o.name, "thp-order3");
	b2 = balloon_new(&o, NULL);
	assert_non_null(b2);
	balloon_vdev(b2)->mem = &mem;
	balloon_get_info(b2, &i);
	assert_int_equal(i.pages_order, 3);
	balloon_vdev(b2)->mem = NULL;
	balloon_free(b2);
	/* 4 KiB hole in the THP at file offset 4 MiB: split. */
	assert_int_equal(guest_mem_discard(&mem, 4 * HP + PAGE, PAGE), 0);
	assert_int_equal(balloon_ram_thp(b, &t1), 0);
	assert_int_equal(t1, t0 - HP);
	/* A whole 2 MiB block at file offset 10 MiB: gone. */
	assert_int_equal(guest_mem_discard(&mem, 5 * HP, HP), 0);
	assert_int_equal(fstat(fd, &st), 0);
	blocks = st.st_blocks;
	assert_int_equal(balloon_ram_thp(b, &t2), 0);
	assert_int_equal(t2, t1 - HP);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_blocks, blocks);	/* no hole refilled */
out:
	balloon_vdev(b)->mem = NULL;
	balloon_free(b);
	guest_mem_clear(&mem);
	close(fd);
	unlink(path);
	rmdir(sub);
	assert_int_equal(umount2(dir, MNT_DETACH), 0);
	assert_int_equal(rmdir(dir), 0);
	thp_made = false;
	if (mapped < 4 * HP)
		skip();
}

/*
 * QEMU's pc layout on a huge tmpfs: 640 KiB at file offset 0, the rest from
 * 768 KiB (the VGA hole between).  shmem leaves a mapping shorter than a
 * huge page unaligned; it holds no huge page, and must not fail the
 * measure of the whole guest (it did: x-vb-query had no ram-thp-bytes).
 */
static void test_ram_thp_short_region(void **state)
{
	const uint64_t low = 640ULL << 10, high = 768ULL << 10, size = 8ULL << 20;
	struct guest_region r[2] = {
		{ .gpa = 0, .size = low, .uaddr = 0, .mmap_offset = 0 },
		{ .gpa = high, .size = size - high, .uaddr = high, .mmap_offset = high },
	};
	struct guest_mem mem = { 0 };
	struct balloon_opts o;
	struct balloon *b;
	char path[64];
	uint64_t thp;
	uint8_t *p;
	int fd;

	(void)state;
	strcpy(thp_dir, "/tmp/vb-thp-XXXXXX");
	assert_non_null(mkdtemp(thp_dir));
	if (mount("vb-thp", thp_dir, "tmpfs", 0, "huge=always,size=16M") < 0) {
		rmdir(thp_dir);
		skip();
	}
	thp_made = true;
	snprintf(path, sizeof(path), "%s/ram", thp_dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	memset(p, 0x5a, size);
	munmap(p, size);
	r[0].fd = dup(fd);
	r[1].fd = dup(fd);
	assert_int_equal(guest_mem_set_table(&mem, r, 2), 0);
	balloon_opts_default(&o);
	b = balloon_new(&o, NULL);
	assert_non_null(b);
	balloon_vdev(b)->mem = &mem;
	assert_int_equal(balloon_ram_thp(b, &thp), 0);
	/* Only the second region's blocks at 2, 4 and 6 MiB can count. */
	assert_true(thp <= 3 * HP);
	assert_int_equal(thp % HP, 0);
	balloon_vdev(b)->mem = NULL;
	balloon_free(b);
	guest_mem_clear(&mem);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_index_every_combination),
		cmocka_unit_test(test_num_queues_follows_negotiation),
		cmocka_unit_test(test_features_offered_and_refused),
		cmocka_unit_test(test_config_layout_and_actual),
		cmocka_unit_test(test_config_16_bytes_without_extensions),
		cmocka_unit_test(test_inflate_discards_merged_ranges),
		cmocka_unit_test(test_inflate_pfn_outside_ram_refused),
		cmocka_unit_test(test_deflate_counts_only),
		cmocka_unit_test(test_deflate_ranges_checked_not_counted_by_order),
		cmocka_unit_test(test_range_entries_validation),
		cmocka_unit_test(test_ring_corruption_reported),
		cmocka_unit_test(test_poison_nonzero_keeps_pages),
		cmocka_unit_test(test_reporting_discards_and_validates),
		cmocka_unit_test(test_stats_parse_and_request),
		cmocka_unit_test(test_hint_round_and_stale_ids),
		cmocka_unit_test(test_hint_discard_opt_in),
		cmocka_unit_test(test_hint_needs_feature),
		cmocka_unit_test(test_random_requests_stay_inside_ram),
		cmocka_unit_test(test_stop_keeps_target),
		cmocka_unit_test(test_features_follow_the_transport),
		cmocka_unit_test(test_ram_thp_memfd_allocates_nothing),
		cmocka_unit_test_teardown(test_ram_thp_huge_tmpfs, thp_teardown),
		cmocka_unit_test_teardown(test_ram_thp_short_region, thp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
