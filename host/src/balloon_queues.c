// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * balloon_queues.c - the balloon's virtqueue handlers: inflate, deflate,
 * stats and free page reporting.  Free page hints are in balloon_hint.c.
 *
 * Rule for every handler: validate the whole request first, act second.  A
 * request with one bad entry is refused as a whole (nothing discarded) and
 * still returned to the guest, so a buggy driver gets an answer instead of
 * hanging; a ring the guest corrupted marks the device broken.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <endian.h>

#include "balloon_priv.h"

/* Copy all out segments of e into a fresh buffer (caller frees). */
static void *read_out(struct balloon *b, const struct vq_elem *e, uint32_t max)
{
	uint8_t *buf;
	uint32_t off = 0;
	unsigned i;

	if (!e->out_len || e->out_len > max)
		return NULL;
	buf = malloc(e->out_len);
	if (!buf)
		return NULL;
	for (i = 0; i < e->n_out; i++) {
		const struct vq_seg *s = &e->seg[i];

		if (s->len > e->out_len - off ||
		    guest_mem_read(b->vdev.mem, s->gpa, buf + off, s->len) < 0) {
			free(buf);
			return NULL;
		}
		off += s->len;
	}
	return buf;
}

static unsigned order_of(uint64_t npages)
{
	unsigned order = 0;

	while (order < BALLOON_MAX_ORDER && (2ULL << order) <= npages)
		order++;
	return order;
}

/* A page range [pfn, pfn + n) is guest RAM (no wrap, no overflow). */
static bool pages_valid(struct balloon *b, uint64_t pfn, uint64_t n)
{
	const uint64_t max_pfn = UINT64_MAX >> VB_PFN_SHIFT;

	if (!n || pfn > max_pfn || n > max_pfn - pfn)
		return false;
	return guest_mem_valid(b->vdev.mem, pfn << VB_PFN_SHIFT,
			       n << VB_PFN_SHIFT);
}

/*
 * VB_F_PAGE_RANGES entries: every one is checked; with r, they are also
 * stored and merged.  Returns the number of ranges (entries without r), or
 * -EINVAL on any bad entry.
 */
static int parse_ranges(struct balloon *b, const struct vb_range *v, size_t n,
			struct range *r, uint64_t *pages,
			uint64_t blocks[BALLOON_NR_ORDERS])
{
	uint64_t per_order[BALLOON_NR_ORDERS] = { 0 };
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t pfn = le64toh(v[i].pfn);
		uint32_t np = le32toh(v[i].npages);

		if (v[i].reserved || !pages_valid(b, pfn, np))
			return -EINVAL;
		if (r) {
			r[i].start = pfn;
			r[i].len = np;
		}
		*pages += np;
		per_order[order_of(np)]++;
	}
	/* Counted only for a request that is accepted as a whole. */
	for (i = 0; blocks && i <= BALLOON_MAX_ORDER; i++)
		blocks[i] += per_order[i];
	return r ? (int)ranges_merge(r, n) : (int)n;
}

/* le32 PFNs: every one is checked; with r, they are sorted and merged into
 * it.  Returns the number of ranges (PFNs without r), or -errno. */
static int parse_pfns(struct balloon *b, const uint32_t *v, size_t n,
		      struct range *r, uint64_t *pages,
		      uint64_t blocks[BALLOON_NR_ORDERS])
{
	uint64_t *pfns = NULL;
	int ret = -EINVAL;
	size_t i;

	if (r && !(pfns = malloc(n * sizeof(*pfns))))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!pages_valid(b, le32toh(v[i]), 1))
			goto out;
		if (pfns)
			pfns[i] = le32toh(v[i]);
	}
	*pages = n;
	if (blocks)
		blocks[0] += n;
	ret = pfns ? (int)ranges_from_pfns(pfns, n, r) : (int)n;
out:
	free(pfns);
	return ret;
}

/*
 * Parse an inflate/deflate request.  With rp, into page ranges (sorted,
 * merged; *rp allocated) for discarding; without, only checked and counted
 * (deflate: the host has nothing to do, so nothing to sort).  Returns the
 * number of ranges/entries (> 0), or -errno.  *pages gets the page count as
 * the guest sent it (duplicates included), blocks[] (if given) the entries
 * per order, added to only on success.
 */
static int parse_pfn_request(struct balloon *b, const struct vq_elem *e,
			     struct range **rp, uint64_t *pages,
			     uint64_t blocks[BALLOON_NR_ORDERS])
{
	bool ranges = balloon_has(b, VB_F_PAGE_RANGES);
	size_t esz = ranges ? sizeof(struct vb_range) : sizeof(uint32_t);
	struct range *r = NULL;
	void *buf;
	size_t n;
	int ret;

	*pages = 0;
	if (e->out_len % esz)
		return -EINVAL;
	buf = read_out(b, e, VB_MAX_REQ_BYTES);
	if (!buf)
		return -EINVAL;
	n = e->out_len / esz;
	if (rp && !(r = malloc(n * sizeof(*r))))
		ret = -ENOMEM;
	else if (ranges)
		ret = parse_ranges(b, buf, n, r, pages, blocks);
	else
		ret = parse_pfns(b, buf, n, r, pages, blocks);
	free(buf);
	if (ret <= 0) {
		free(r);
		return ret < 0 ? ret : -EINVAL;
	}
	if (rp)
		*rp = r;
	return ret;
}

static void handle_inflate(struct balloon *b, const struct vq_elem *e)
{
	struct range *r;
	uint64_t pages;
	int i, n;

	n = parse_pfn_request(b, e, &r, &pages, b->blocks_by_order);
	if (n < 0) {
		vb_guest_warn("%s: inflate request refused (bad PFN list, %u bytes)",
			      b->opts.name, e->out_len);
		b->refused++;
		return;
	}
	b->inflated_pages += pages;
	for (i = 0; i < n; i++)
		if (balloon_discard(b, r[i].start << VB_PFN_SHIFT,
				    r[i].len << VB_PFN_SHIFT) < 0)
			break;
	free(r);
}

/* Nothing to do on the host: a hole refills with zeroes when touched. */
static void handle_deflate(struct balloon *b, const struct vq_elem *e)
{
	uint64_t pages;

	if (parse_pfn_request(b, e, NULL, &pages, NULL) < 0) {
		vb_guest_warn("%s: deflate request refused (bad PFN list, %u bytes)",
			      b->opts.name, e->out_len);
		b->refused++;
		return;
	}
	b->deflated_pages += pages;
}

/* Stats entries are {le16 tag, le64 val}, packed; unknown tags ignored. */
static void parse_stats(struct balloon *b, const struct vq_elem *e)
{
	const struct vb_stat *s;
	uint8_t *buf;
	size_t i, n;

	if (e->out_len % sizeof(struct vb_stat)) {
		vb_guest_warn("%s: stats buffer of %u bytes refused",
			      b->opts.name, e->out_len);
		b->refused++;
		return;
	}
	if (!e->out_len)
		return;
	buf = read_out(b, e, VB_MAX_STATS_BYTES);
	if (!buf) {
		vb_guest_warn("%s: stats buffer unreadable", b->opts.name);
		b->refused++;
		return;
	}
	s = (const struct vb_stat *)buf;
	n = e->out_len / sizeof(*s);
	for (i = 0; i < n; i++) {
		uint16_t tag = le16toh(s[i].tag);

		if (tag >= VB_S_NR)
			continue;
		b->stats.have[tag] = true;
		b->stats.val[tag] = le64toh(s[i].val);
	}
	b->stats.last_update = time(NULL);
	free(buf);
}

/* Returns true when the element was kept (not to be pushed now). */
static bool handle_stats(struct balloon *b, unsigned idx, const struct vq_elem *e)
{
	struct virtq *vq = b->vdev.vq[idx];

	parse_stats(b, e);
	if (b->stats_elem_held) {
		/* Only one buffer is in flight by protocol: give the old back. */
		virtq_push(vq, b->stats_elem, 0);
		virtq_notify(vq);
	}
	memcpy(b->stats_elem, e, sizeof(*e));
	b->stats_elem_held = true;
	b->stats_q = idx;
	return true;
}

int balloon_request_stats(struct balloon *b)
{
	struct virtq *vq;

	if (!balloon_has(b, VB_F_STATS_VQ))
		return -EOPNOTSUPP;
	if (!b->live || b->vdev.broken)
		return -ENODEV;
	if (!b->stats_elem_held)
		return -EAGAIN;		/* the guest has a request pending */
	vq = b->vdev.vq[b->stats_q];
	if (!vq)
		return -ENODEV;
	/* Using the buffer is the request: the guest refills and re-adds it. */
	b->stats_elem_held = false;
	if (virtq_push(vq, b->stats_elem, 0) < 0)
		return -EIO;
	virtq_notify(vq);
	return 0;
}

static void stats_timer_cb(struct loop *l, void *opaque)
{
	balloon_request_stats(opaque);
}

int balloon_set_stats_interval(struct balloon *b, unsigned secs)
{
	int id;

	if (secs > BALLOON_MAX_STATS_INTERVAL)
		return -EINVAL;
	if (b->stats_timer > 0)
		loop_del_timer(b->loop, b->stats_timer);
	b->stats_timer = 0;
	b->opts.stats_interval_s = secs;
	if (!secs || !b->loop)
		return 0;
	id = loop_add_timer(b->loop, (uint64_t)secs * 1000, true, stats_timer_cb, b);
	if (id < 0)
		return id;
	b->stats_timer = id;
	return 0;
}

static void handle_reporting(struct balloon *b, const struct vq_elem *e)
{
	struct range r[VQ_ELEM_MAX_SEGS];
	unsigned i, n = 0;
	uint64_t total;

	for (i = e->n_out; i < e->n_out + e->n_in; i++) {
		const struct vq_seg *s = &e->seg[i];

		if ((s->gpa | s->len) & (VB_PAGE_SIZE - 1) ||
		    !guest_mem_valid(b->vdev.mem, s->gpa, s->len)) {
			vb_guest_warn("%s: reported block [%#llx, +%#x) refused",
				      b->opts.name, (unsigned long long)s->gpa,
				      s->len);
			b->refused++;
			return;
		}
		r[n].start = s->gpa;
		r[n++].len = s->len;
	}
	if (e->n_out || !n) {
		vb_guest_warn("%s: malformed reporting buffer", b->opts.name);
		b->refused++;
		return;
	}
	n = ranges_merge(r, n);
	total = ranges_total(r, n);
	for (i = 0; i < n; i++)
		if (balloon_discard(b, r[i].start, r[i].len) < 0)
			break;
	b->reported_bytes += total;
}

/* Returns true when the element was kept by the device. */
static bool handle_elem(struct balloon *b, int role, unsigned idx,
			const struct vq_elem *e)
{
	switch (role) {
	case VB_Q_INFLATE:
		handle_inflate(b, e);
		return false;
	case VB_Q_DEFLATE:
		handle_deflate(b, e);
		return false;
	case VB_Q_STATS:
		return handle_stats(b, idx, e);
	case VB_Q_FREE_PAGE:
		balloon_hint_elem(b, e);
		return false;
	case VB_Q_REPORTING:
		handle_reporting(b, e);
		return false;
	}
	return false;
}

/* Every buffer the guest made available on idx; -errno if the ring is
 * corrupted (the transport marks the device broken). */
int balloon_queue_kick(struct vdev *vd, unsigned idx)
{
	struct balloon *b = vd->priv;
	struct virtq *vq;
	int role, ret;
	bool pushed = false;

	if (!vd->mem || idx >= VDEV_MAX_QUEUES || !vd->vq[idx])
		return 0;
	role = balloon_queue_role(balloon_features(b), idx);
	if (role < 0) {
		vb_guest_warn("%s: kick on unknown queue %u", b->opts.name, idx);
		b->refused++;
		return 0;
	}
	vq = vd->vq[idx];
	while ((ret = virtq_pop(vq, b->elem)) > 0) {
		if (handle_elem(b, role, idx, b->elem))
			continue;
		/* MUST_TELL_HOST: the discard is done before the guest hears
		 * back, so it may reuse deflated pages only after this. */
		if (virtq_push(vq, b->elem, 0) < 0) {
			ret = -EIO;
			break;
		}
		pushed = true;
	}
	if (pushed)
		virtq_notify(vq);
	if (ret < 0) {
		b->refused++;
		balloon_emit(b, BALLOON_EV_BROKEN);
		return ret;
	}
	return 0;
}
