// SPDX-License-Identifier: GPL-2.0
/*
 * vballoon.c - virtio memory balloon driver (device id 5) for vballoon.
 *
 * Standard features: inflate/deflate with PFN arrays, MUST_TELL_HOST,
 * stats, deflate-on-OOM, free page hints, page poison, free page reporting,
 * movable balloon pages.  vballoon extensions (experimental, docs/abi.md):
 * page ranges on the inflate/deflate queues and continuous-page inflation.
 *
 * Locking:
 *  - vb->lock (mutex) serialises every inflate/deflate request: the request
 *    buffer, num_pages and the pages' membership of the balloon.  The
 *    migratepage callback only trylocks it (compaction may run from within
 *    our own allocations).
 *  - vb->bdi.pages_lock (spinlock, balloon core) protects the page list.
 *  - vb->stop_lock protects stop_update, checked before queueing work.
 *  - vb->hint_lock protects the list of held free page hint blocks.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/oom.h>
#include <linux/slab.h>
#include <linux/vmstat.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/delay.h>
#include <linux/ktime.h>
#include <linux/sched.h>
#include <linux/sysfs.h>
#include <linux/scatterlist.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/mod_devicetable.h>

#include "vballoon_abi.h"
#include "vballoon_compat.h"

#define VB_DEVICE_ID		5	/* VIRTIO_ID_BALLOON */
#define VB_PAGES_PER_PAGE	(1U << (PAGE_SHIFT - VB_PFN_SHIFT))
#define VB_MAX_RANGES		256	/* ranges per request: 4 KiB buffer */
#define VB_MAX_PFN_BATCH	1024
#define VB_OOM_NOTIFY_PRIORITY	80
#define VB_NR_VQS		5
#define VB_HINT_MAX_BUF_PAGES	(32UL << (20 - PAGE_SHIFT))
#define VB_HINT_KICK_BATCH	8
#define VB_POLL_MAX_US		(5 * USEC_PER_SEC)
#define VB_ACTUAL_EVERY		HZ	/* progress while resizing */
#define VB_DEFLATE_CHUNKS	4	/* range_batch_pages per deflate round */
#define VB_REQ_BUFS		3	/* request buffers: one filled, two sent */
#define VB_INFLIGHT		2	/* inflate requests left in flight at most */

/* Module parameters. */
static unsigned int batch_pages = 256;
module_param(batch_pages, uint, 0644);
MODULE_PARM_DESC(batch_pages, "PFNs per inflate/deflate request (1-1024, default 256)");

static bool pipeline = true;
module_param(pipeline, bool, 0644);
MODULE_PARM_DESC(pipeline, "Build the next inflate request while the device discards the last (default 1)");

static unsigned int range_batch_pages = 65536;
module_param(range_batch_pages, uint, 0644);
MODULE_PARM_DESC(range_batch_pages, "Pages per inflate round with page ranges, a deflate round takes up to 4 times that (default 65536)");

static unsigned int oom_pages = 256;
module_param(oom_pages, uint, 0644);
MODULE_PARM_DESC(oom_pages, "Pages released per OOM notification with DEFLATE_ON_OOM (default 256)");

static unsigned int hint_min_order = 4;
module_param(hint_min_order, uint, 0644);
MODULE_PARM_DESC(hint_min_order, "Smallest block order sent as a free page hint (default 4; in-tree hints only the top order; below 3 the guest soon needs the blocks back)");

static unsigned int hint_max_mib;
module_param(hint_max_mib, uint, 0644);
MODULE_PARM_DESC(hint_max_mib, "Most memory held as free page hints per round, MiB (0 = no limit)");

static unsigned int hint_reserve_mib = 16;
module_param(hint_reserve_mib, uint, 0644);
MODULE_PARM_DESC(hint_reserve_mib, "Free memory a hint round leaves above the high watermark, MiB (default 16)");

static unsigned int ack_timeout_ms = 5000;
module_param(ack_timeout_ms, uint, 0644);
MODULE_PARM_DESC(ack_timeout_ms, "Give up waiting for the device to use an inflate/deflate request after this long; no new request until it does (0 = wait forever)");

static bool page_ranges = true;
module_param(page_ranges, bool, 0444);
MODULE_PARM_DESC(page_ranges, "Accept the experimental PAGE_RANGES feature if offered");

static bool cont_pages = true;
module_param(cont_pages, bool, 0444);
MODULE_PARM_DESC(cont_pages, "Accept the experimental CONT_PAGES feature if offered (needs page_ranges)");

static bool cont_compact = true;
module_param(cont_compact, bool, 0644);
MODULE_PARM_DESC(cont_compact, "Let continuous-page allocations compact guest memory before falling back (default on)");

static bool movable = true;
module_param(movable, bool, 0444);
MODULE_PARM_DESC(movable, "Make balloon pages movable by compaction (default on; off only to measure what it buys)");

static bool stats_ext = true;
module_param(stats_ext, bool, 0644);
MODULE_PARM_DESC(stats_ext, "Send stat tags 10-15 (OOM kills, stalls, scan/reclaim)");

enum vb_cfg_bits {
	VB_CFG_CMD_ID,		/* free_page_hint_cmd_id must be re-read */
	VB_CFG_SIZE,		/* num_pages and pages_order must be re-read */
};

struct vb_counters {
	u64 inflated;		/* pages put into the balloon */
	u64 deflated;		/* pages taken out */
	u64 inflate_reqs;
	u64 deflate_reqs;
	u64 req_bytes;		/* inflate/deflate bytes put on the wire */
	u64 alloc_fail;		/* inflate rounds that ran out of memory */
	u64 migrated;
	u64 oom_deflated;
	u64 cont_fallbacks;	/* block allocations retried one order lower */
	u64 inflate_alloc_us;	/* time spent allocating inflate batches */
	u64 inflate_send_us;	/* time under the lock: requests and acks */
	u64 wait_us;		/* time waiting for inflate/deflate acks */
	u64 overlapped;		/* inflate requests sent without waiting */
	u64 actual_us;		/* time writing actual to the config */
	u64 blocks_by_order[VB_TOP_ORDER + 1];
	u64 stats_sent;
	u64 hint_rounds;
	u64 hint_blocks;
	u64 hint_pages;		/* cumulative pages hinted */
	u64 hint_shrunk;	/* hint pages given back to a shrinker */
	u64 hint_round_us;	/* duration of the last hint round */
	u64 hint_by_order[VB_TOP_ORDER + 1];
	u64 reported_pages;
	u64 reports;
};

struct vballoon {
	struct virtio_device *vdev;
	struct virtqueue *inflate_vq, *deflate_vq, *stats_vq;
	struct virtqueue *free_page_vq, *reporting_vq;
	struct workqueue_struct *wq;
	struct work_struct size_work;
	struct work_struct stats_work;
	struct work_struct hint_work;

	spinlock_t stop_lock;
	bool stop_update;		/* stop_lock: no new work after remove */

	unsigned long cfg_flags;	/* enum vb_cfg_bits, atomic bitops */
	wait_queue_head_t acked;	/* a request buffer came back */

	struct mutex lock;
	u32 num_pages;			/* lock: balloon size, 4 KiB units */
	void *req;			/* lock: buffer being filled */
	void *reqs[VB_REQ_BUFS];	/* kmalloc'd; req is one of them */
	unsigned int req_slot;		/* lock: req == reqs[req_slot] */
	unsigned long req_busy;		/* lock: bit i: the device holds reqs[i] */
	u32 req_pages[VB_REQ_BUFS];	/* lock: unacknowledged inflate pages */
	unsigned int infl;		/* lock: inflate requests in flight */
	unsigned long actual_at;	/* size work: last write or resize start */
	bool resizing;			/* size work: target not reached yet */
	u32 target;			/* size work: num_pages last read */
	unsigned int req_n;		/* lock: entries used in req */
	unsigned int req_cap;		/* entries that fit in req */
	u32 max_range_pages;		/* device limit, 0 = none */
	unsigned int cont_order;	/* device's preferred order */
	struct balloon_dev_info bdi;
	bool movable;			/* pages go to bdi, else to pinned */
	struct list_head pinned;	/* lock: unmovable balloon pages */

	bool ranges;			/* PAGE_RANGES negotiated */
	bool cont;			/* CONT_PAGES negotiated */
	bool tell_host_first;		/* MUST_TELL_HOST negotiated */
	bool deflate_on_oom;
	bool dead;			/* device silent while halting */
	struct virtqueue *stuck_vq;	/* lock: holds an unanswered request */
	int req_err;			/* lock: a request of this batch failed */

	struct vb_stat *stats;		/* kmalloc'd stats buffer */
	struct notifier_block oom_nb;

	/* Free page hints. */
	__le32 *hint_cmd;		/* kmalloc'd: [0] start id, [1] stop id */
	u32 hint_id_received;		/* last id read from config */
	u32 hint_id_active;		/* id of the last round we started */
	unsigned int hint_unkicked;	/* hint buffers added since a kick */
	bool hint_pressure;		/* the shrinker ran during this round */
	unsigned long hint_reserve;	/* free pages a round leaves alone */
	wait_queue_head_t hint_wait;
	bool hint_used;			/* the device used a hint buffer */
	spinlock_t hint_lock;
	struct list_head hint_list;	/* hint_lock: held blocks */
	unsigned long hint_held;	/* hint_lock: pages held */
	struct shrinker *shrinker;

#ifdef CONFIG_PAGE_REPORTING
	struct page_reporting_dev_info pr;
	bool pr_registered;
#endif
	struct vb_counters cnt;		/* updated under the lock of the path */
};

static unsigned int features[] = {
	VB_F_MUST_TELL_HOST,
	VB_F_STATS_VQ,
	VB_F_DEFLATE_ON_OOM,
	VB_F_FREE_PAGE_HINT,
	VB_F_PAGE_POISON,
	VB_F_PAGE_REPORTING,
	VB_F_PAGE_RANGES,
	VB_F_CONT_PAGES,
};

static const struct virtio_device_id id_table[] = {
	{ VB_DEVICE_ID, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static bool vb_has(struct vballoon *vb, unsigned int bit)
{
	return virtio_has_feature(vb->vdev, bit);
}

static void vb_ack(struct virtqueue *vq)
{
	struct vballoon *vb = vq->vdev->priv;

	wake_up(&vb->acked);
}

/*
 * Take one used inflate/deflate request back (false if there is none):
 * its buffer is free again and its pages are acknowledged.
 */
static bool vb_get_req(struct vballoon *vb, struct virtqueue *vq)
{
	unsigned int len, i;
	void *buf = virtqueue_get_buf(vq, &len);

	if (!buf)
		return false;
	for (i = 0; i < VB_REQ_BUFS; i++) {
		if (buf != vb->reqs[i])
			continue;
		__clear_bit(i, &vb->req_busy);
		vb->req_pages[i] = 0;
	}
	return true;
}

/*
 * UML halts by removing its devices from the idle task, which must not
 * sleep: poll the used ring there, and give up on a device that stays
 * silent (the machine is going down; nobody reuses the pages).
 */
static void vb_poll_used(struct vballoon *vb, struct virtqueue *vq)
{
	unsigned int us;

	for (us = 0; us < VB_POLL_MAX_US; us += 100) {
		if (vb_get_req(vb, vq))
			return;
		udelay(100);
	}
	vb->dead = true;
	dev_err(&vb->vdev->dev, "device did not answer while halting\n");
}

/*
 * A request the device has not used within ack_timeout_ms stays on its
 * queue: the buffer still belongs to the device, so no other request is
 * sent until every request of that queue came back.  Callers keep the
 * pages of a failed request out of the guest's hands, so a silent host
 * never gets pages it may still discard, and never wedges the guest.
 */
static bool vb_unstuck(struct vballoon *vb)
{
	if (!vb->stuck_vq)
		return true;
	while (vb_get_req(vb, vb->stuck_vq))
		;
	if (vb->req_busy)
		return false;
	vb->stuck_vq = NULL;
	dev_info(&vb->vdev->dev, "device answered again\n");
	return true;
}

static int vb_wait_used(struct vballoon *vb, struct virtqueue *vq)
{
	unsigned long start = jiffies;
	ktime_t t0 = ktime_get();

	while (!wait_event_timeout(vb->acked, vb_get_req(vb, vq),
				   HZ / 10)) {
		if (virtqueue_is_broken(vq)) {
			vb->dead = true;
			return -EIO;
		}
		if (ack_timeout_ms &&
		    time_after(jiffies, start + msecs_to_jiffies(ack_timeout_ms))) {
			vb->stuck_vq = vq;
			dev_warn_ratelimited(&vb->vdev->dev,
					     "device did not answer a request in %u ms\n",
					     ack_timeout_ms);
			return -ETIMEDOUT;
		}
	}
	vb->cnt.wait_us += ktime_us_delta(ktime_get(), t0);
	return 0;
}

static int vb_wait_vq(struct vballoon *vb, struct virtqueue *vq)
{
	if (is_idle_task(current)) {
		vb_poll_used(vb, vq);
		return vb->dead ? -EIO : 0;
	}
	return vb_wait_used(vb, vq);
}

/*
 * Wait until at most @left inflate requests left in flight by
 * vb_tell_host(nowait) remain.  vb_drain() waits for all: every other
 * request goes through it first, so no other request (deflate above all:
 * its pages may be the ones being discarded) reaches the device before the
 * host is done with the pages of those inflates.  On a timeout the queue
 * is stuck as with any request, and their pages stay in the balloon.
 */
static int vb_wait_infl(struct vballoon *vb, unsigned int left)
{
	int err;

	while (vb->infl > left) {
		err = vb_wait_vq(vb, vb->inflate_vq);
		if (err) {
			vb->infl = 0;
			/* The batches stay in the balloon and count in actual. */
			memset(vb->req_pages, 0, sizeof(vb->req_pages));
			vb->req_err = err;
			return err;
		}
		vb->infl--;
	}
	return 0;
}

static int vb_drain(struct vballoon *vb)
{
	return vb_wait_infl(vb, 0);
}

/* Fill a buffer the device does not hold next (one always is free). */
static void vb_next_req(struct vballoon *vb)
{
	unsigned int i;

	for (i = 0; i < VB_REQ_BUFS; i++) {
		if (!test_bit(i, &vb->req_busy)) {
			vb->req_slot = i;
			vb->req = vb->reqs[i];
			return;
		}
	}
}

/*
 * Hand the request buffer to @vq and wait until the device used it; with
 * @nowait (inflate only), leave it in flight and switch vb->req to a free
 * buffer, so the next batch is allocated and built while the host
 * discards this one.  Up to VB_INFLIGHT inflate requests stay in flight:
 * the device finds the next one queued when it is done with one, instead
 * of sleeping until the next kick (on vhost-user each sleep and wake-up of
 * the daemon and of the guest costs more than discarding a huge page).
 */
static int vb_tell_host(struct vballoon *vb, struct virtqueue *vq,
			unsigned int bytes, bool nowait)
{
	struct scatterlist sg;
	int err;

	nowait = nowait && !is_idle_task(current);
	err = vb_wait_infl(vb, nowait ? VB_INFLIGHT - 1 : 0);
	if (err)
		return err;
	if (vb->dead)
		return -EIO;
	if (!vb_unstuck(vb))
		return -EBUSY;
	sg_init_one(&sg, vb->req, bytes);
	/* At most VB_INFLIGHT buffers per queue: the add cannot fail. */
	err = virtqueue_add_outbuf(vq, &sg, 1, vb->req, GFP_KERNEL);
	if (WARN_ON(err))
		return err;
	__set_bit(vb->req_slot, &vb->req_busy);
	virtqueue_kick(vq);
	if (nowait) {
		vb->infl++;
		vb->cnt.overlapped++;
		vb_next_req(vb);
		return 0;
	}
	err = vb_wait_vq(vb, vq);
	if (err)
		vb_next_req(vb);	/* the device keeps this one */
	return err;
}

/* Entry size of the current encoding. */
static unsigned int vb_entry_size(struct vballoon *vb)
{
	return vb->ranges ? sizeof(struct vb_range) : sizeof(__le32);
}

static void vb_flush(struct vballoon *vb, struct virtqueue *vq)
{
	int err;

	if (!vb->req_n)
		return;
	/* Only inflate overlaps: a deflate must be acknowledged first. */
	err = vb_tell_host(vb, vq, vb->req_n * vb_entry_size(vb),
			   vq == vb->inflate_vq && pipeline);
	if (err)
		vb->req_err = err;
	vb->cnt.req_bytes += vb->req_n * vb_entry_size(vb);
	if (vq == vb->inflate_vq)
		vb->cnt.inflate_reqs++;
	else
		vb->cnt.deflate_reqs++;
	vb->req_n = 0;
}

/*
 * Append @n pages from @pfn (VB_PFN_SHIFT units) as one range, merging it
 * into the last range when it extends that range at either end.  Sends the
 * request when full.
 */
static void vb_add_range(struct vballoon *vb, struct virtqueue *vq, u64 pfn,
			 u32 n)
{
	u64 max = vb->max_range_pages ?: U32_MAX;
	struct vb_range *r = vb->req;
	struct vb_range *last = vb->req_n ? &r[vb->req_n - 1] : NULL;

	if (last && (u64)le32_to_cpu(last->npages) + n <= max) {
		u64 start = le64_to_cpu(last->pfn);
		u32 len = le32_to_cpu(last->npages);

		if (start + len == pfn) {
			last->npages = cpu_to_le32(len + n);
			return;
		}
		if (pfn + n == start) {
			last->pfn = cpu_to_le64(pfn);
			last->npages = cpu_to_le32(len + n);
			return;
		}
	}
	if (vb->req_n == vb->req_cap) {
		vb_flush(vb, vq);
		r = vb->req;	/* the flush may switch buffers */
	}
	r[vb->req_n].pfn = cpu_to_le64(pfn);
	r[vb->req_n].npages = cpu_to_le32(n);
	r[vb->req_n].reserved = 0;
	vb->req_n++;
}

/*
 * Append @nr physically contiguous guest pages from @page to the request:
 * with ranges as one range (split at the device's max_range_pages), else
 * PFN by PFN.
 */
static void vb_add_pages(struct vballoon *vb, struct virtqueue *vq,
			 struct page *page, unsigned int nr)
{
	u64 pfn = (u64)page_to_pfn(page) << (PAGE_SHIFT - VB_PFN_SHIFT);
	u64 n = (u64)nr * VB_PAGES_PER_PAGE;

	if (vb->ranges) {
		while (n) {
			u32 len = min_t(u64, n, vb->max_range_pages ?: U32_MAX);

			vb_add_range(vb, vq, pfn, len);
			pfn += len;
			n -= len;
		}
		return;
	}
	for (; n; n--, pfn++) {
		__le32 *pfns;

		if (vb->req_n == vb->req_cap)
			vb_flush(vb, vq);
		pfns = vb->req;	/* after the flush: it may switch buffers */
		pfns[vb->req_n++] = cpu_to_le32(pfn);
	}
}

static void vb_add_page(struct vballoon *vb, struct virtqueue *vq,
			struct page *page)
{
	vb_add_pages(vb, vq, page, 1);
}

/*
 * Managed-page accounting (without DEFLATE_ON_OOM the balloon shrinks the
 * guest's MemTotal, as in-tree), batched per zone run: the page pointer
 * only names the zone, so the update may be applied after the page left.
 */
struct vb_managed {
	struct zone *zone;
	struct page *page;
	long count;
};

static void vb_managed_flush(struct vb_managed *m)
{
	if (m->count)
		adjust_managed_page_count(m->page, m->count);
	m->count = 0;
}

static void vb_managed_add(struct vb_managed *m, struct page *page, long n)
{
	struct zone *zone = page_zone(page);

	if (zone != m->zone) {
		vb_managed_flush(m);
		m->zone = zone;
		m->page = page;
	}
	m->count += n;
}

/* Order to try first for the next inflate block. */
static unsigned int vb_inflate_order(struct vballoon *vb, unsigned long want)
{
	unsigned int order = 0;

	if (vb->cont) {
		order = min_t(unsigned int, vb->cont_order, VB_TOP_ORDER);
		/* Never allocate more than asked: that would overshoot. */
		while (order && (1UL << order) > want)
			order--;
	}
	return order;
}

static struct page *vb_alloc_block(unsigned int order)
{
	gfp_t gfp = balloon_mapping_gfp_mask() | __GFP_NOMEMALLOC |
		    __GFP_NORETRY | __GFP_NOWARN;

	/*
	 * A high-order attempt may compact (one light try, __GFP_NORETRY) so
	 * the host keeps more huge pages; without cont_compact it only takes
	 * blocks that are already free and falls back at once.
	 */
	if (order && !cont_compact)
		gfp &= ~__GFP_RECLAIM;
	return alloc_pages(gfp, order);
}

/*
 * Allocate up to @want guest pages into @pages as order-0 pages.  With
 * CONT_PAGES, blocks of the device's order are allocated and split so each
 * 4 KiB page is an ordinary movable balloon page; when the allocator
 * cannot provide a block, the order drops by one (counted) for the rest of
 * this round.  The list holds each block's pages in address order, block
 * after block, and the first page of a block keeps the block's order in
 * page_private() (see vb_fill_request()).
 */
static unsigned long vb_alloc_pages(struct vballoon *vb, unsigned long want,
				    struct list_head *pages)
{
	unsigned long got = 0;
	unsigned int order = vb_inflate_order(vb, want);

	while (got < want) {
		struct page *page;
		unsigned int i;

		while (order && (1UL << order) > want - got)
			order--;
		page = vb_alloc_block(order);
		if (!page) {
			if (!order)
				break;
			order--;
			vb->cnt.cont_fallbacks++;
			continue;
		}
		vb->cnt.blocks_by_order[order]++;
		if (order)
			split_page(page, order);
		/* The block's order rides on its first page until vb_fill(). */
		set_page_private(page, order);
		for (i = 0; i < (1U << order); i++)
			list_add_tail(&page[i].lru, pages);
		got += 1UL << order;
	}
	return got;
}

/* movable=0: balloon pages compaction cannot see (seed 001's "before"). */
static unsigned long vb_pin_pages(struct vballoon *vb, struct list_head *pages)
{
	struct page *page, *next;
	unsigned long n = 0;

	list_for_each_entry_safe(page, next, pages, lru) {
		__SetPageOffline(page);
		list_move(&page->lru, &vb->pinned);
		n++;
	}
	return n;
}

static unsigned long vb_unpin_pages(struct vballoon *vb,
				    struct list_head *pages, unsigned long want)
{
	struct page *page, *next;
	unsigned long n = 0;

	list_for_each_entry_safe(page, next, &vb->pinned, lru) {
		if (n == want)
			break;
		__ClearPageOffline(page);
		list_move(&page->lru, pages);
		n++;
	}
	return n;
}

/*
 * Add the blocks vb_alloc_pages() put on @pages to the inflate request, one
 * range and one managed-page update per block rather than per page (a
 * block is within one zone), clearing the order each carried.
 */
static void vb_fill_request(struct vballoon *vb, struct list_head *pages)
{
	struct vb_managed acct = {};
	struct page *page;

	page = list_first_entry(pages, struct page, lru);
	while (!list_entry_is_head(page, pages, lru)) {
		unsigned int nr = 1U << page_private(page);

		set_page_private(page, 0);
		vb_add_pages(vb, vb->inflate_vq, page, nr);
		if (!vb->deflate_on_oom)
			vb_managed_add(&acct, page, -(long)nr);
		/* The block's pages are consecutive on the list. */
		page = list_next_entry(page + nr - 1, lru);
	}
	vb_managed_flush(&acct);
}

/* Inflate by up to @num 4 KiB pages; returns 4 KiB pages added. */
static unsigned long vb_fill(struct vballoon *vb, unsigned long num)
{
	unsigned long want, got;
	unsigned int sent;
	LIST_HEAD(pages);
	ktime_t t0;

	want = DIV_ROUND_UP(num, VB_PAGES_PER_PAGE);
	want = min_t(unsigned long, want,
		     vb->ranges ? max(range_batch_pages, 1U) : vb->req_cap);

	t0 = ktime_get();
	got = vb_alloc_pages(vb, want, &pages);
	vb->cnt.inflate_alloc_us += ktime_us_delta(ktime_get(), t0);
	if (got < want) {
		vb->cnt.alloc_fail++;
		dev_info_ratelimited(&vb->vdev->dev,
				     "out of memory while inflating\n");
		/* Let the system settle before the work retries. */
		msleep(200);
	}
	if (!got)
		return 0;

	mutex_lock(&vb->lock);
	t0 = ktime_get();
	/*
	 * If the device does not answer, the pages stay in the balloon: it
	 * may still discard them.
	 */
	vb->req_err = 0;
	vb_fill_request(vb, &pages);
	/* One pages_lock round for the whole batch. */
	if (vb->movable)
		got = balloon_page_list_enqueue(&vb->bdi, &pages);
	else
		got = vb_pin_pages(vb, &pages);
	got *= VB_PAGES_PER_PAGE;
	sent = vb->req_slot;
	vb_flush(vb, vb->inflate_vq);
	vb->num_pages += got;
	/*
	 * The batch's pages are acknowledged with the request that ended it
	 * (a batch spans several requests only when it has more ranges than
	 * a request holds; a device answers requests in order).
	 */
	if (vb->infl && test_bit(sent, &vb->req_busy))
		vb->req_pages[sent] += got;
	vb->cnt.inflated += got;
	vb->cnt.inflate_send_us += ktime_us_delta(ktime_get(), t0);
	mutex_unlock(&vb->lock);
	return got;
}

static void vb_release_pages(struct vballoon *vb, struct list_head *pages)
{
	struct vb_managed acct = {};
	struct page *page, *next;

	list_for_each_entry_safe(page, next, pages, lru) {
		list_del(&page->lru);
		if (!vb->deflate_on_oom)
			vb_managed_add(&acct, page, 1);
		put_page(page);	/* balloon reference */
	}
	vb_managed_flush(&acct);
}

/* Put pages whose deflate the device did not answer back in the balloon. */
static void vb_requeue(struct vballoon *vb, struct list_head *pages)
{
	if (vb->movable)
		balloon_page_list_enqueue(&vb->bdi, pages);
	else
		vb_pin_pages(vb, pages);
}

/* Deflate by up to @num 4 KiB pages, vb->lock held; returns pages freed. */
static unsigned long vb_leak_locked(struct vballoon *vb, unsigned long num)
{
	unsigned long want, chunk, n, got = 0;
	struct page *page;
	LIST_HEAD(pages);

	want = DIV_ROUND_UP(num, VB_PAGES_PER_PAGE);
	chunk = vb->ranges ? max(range_batch_pages, 1U) : vb->req_cap;
	/*
	 * The device has nothing to discard on deflate: a request is a pure
	 * round trip, so with ranges a round takes several chunks (whole
	 * blocks come back merged, and a request holds 256 ranges).  Each
	 * chunk is one dequeue: that bounds the time the balloon's page lock
	 * is held with interrupts off.
	 */
	want = min_t(unsigned long, want,
		     vb->ranges ? chunk * VB_DEFLATE_CHUNKS : chunk);
	want = min_t(unsigned long, want, vb->num_pages / VB_PAGES_PER_PAGE);
	if (!vb_unstuck(vb) || vb->dead)
		return 0;
	vb->req_err = 0;
	/*
	 * The balloon list is LIFO: pages of one continuous block come back
	 * together, so whole blocks are deflated while the balloon shrinks.
	 */
	while (got < want && !vb->req_err) {
		LIST_HEAD(part);

		if (vb->movable)
			n = balloon_page_list_dequeue(&vb->bdi, &part,
						      min(chunk, want - got));
		else
			n = vb_unpin_pages(vb, &part, min(chunk, want - got));
		if (!n)
			break;
		list_for_each_entry(page, &part, lru)
			vb_add_page(vb, vb->deflate_vq, page);
		list_splice_tail(&part, &pages);
		got += n;
	}
	/* MUST_TELL_HOST or not, the host hears before the pages are reused. */
	vb_flush(vb, vb->deflate_vq);
	if (vb->req_err) {
		vb_requeue(vb, &pages);
		return 0;
	}
	got *= VB_PAGES_PER_PAGE;
	vb->num_pages -= got;
	vb->cnt.deflated += got;
	vb_release_pages(vb, &pages);
	return got;
}

static unsigned long vb_leak(struct vballoon *vb, unsigned long num)
{
	unsigned long got;

	mutex_lock(&vb->lock);
	got = vb_leak_locked(vb, num);
	mutex_unlock(&vb->lock);
	return got;
}

/* Pages the device acknowledged: an inflate in flight is not counted. */
static void vb_update_actual(struct vballoon *vb)
{
	u32 actual = vb->num_pages;
	ktime_t t0 = ktime_get();
	unsigned int i;

	for (i = 0; i < VB_REQ_BUFS; i++)
		actual -= READ_ONCE(vb->req_pages[i]);

	virtio_cwrite_le(vb->vdev, struct vb_config, actual, &actual);
	vb->cnt.actual_us += ktime_us_delta(ktime_get(), t0);
}

/*
 * The target is read only after the device said the config changed: on
 * vhost-user each read is a round trip to a device that may be busy
 * discarding the request in flight.
 */
static void vb_read_target(struct vballoon *vb)
{
	u32 target;

	virtio_cread_le(vb->vdev, struct vb_config, num_pages, &target);
	vb->target = ALIGN(target, VB_PAGES_PER_PAGE);
}

static s64 vb_towards_target(struct vballoon *vb)
{
	return (s64)vb->target - vb->num_pages;
}

static void vb_read_ext_config(struct vballoon *vb)
{
	u32 order;

	if (!vb->cont)
		return;
	virtio_cread_le(vb->vdev, struct vb_config_ext, pages_order, &order);
	vb->cont_order = min_t(u32, order, VB_TOP_ORDER);
}

static void vb_size_work_fn(struct work_struct *work)
{
	struct vballoon *vb = container_of(work, struct vballoon, size_work);
	s64 diff;

	if (test_and_clear_bit(VB_CFG_SIZE, &vb->cfg_flags)) {
		vb_read_target(vb);
		/* Only inflating uses the order: deflating saves a round trip. */
		if (vb_towards_target(vb) > 0)
			vb_read_ext_config(vb);
	}
	diff = vb_towards_target(vb);
	if (diff && !vb->resizing) {
		/* The first progress report is due a period after the start. */
		vb->resizing = true;
		vb->actual_at = jiffies;
	}
	if (diff > 0)
		diff -= vb_fill(vb, diff);
	else if (diff < 0)
		diff += vb_leak(vb, -diff);
	if (!diff || READ_ONCE(vb->dead)) {
		/* Done: actual says so only once the host has it all. */
		mutex_lock(&vb->lock);
		vb_drain(vb);
		mutex_unlock(&vb->lock);
		vb_update_actual(vb);
		vb->actual_at = jiffies;
		vb->resizing = false;
	} else if (time_after(jiffies, vb->actual_at + VB_ACTUAL_EVERY)) {
		/*
		 * A config write is a round trip to the device (on vhost-user
		 * the whole guest waits for the reply), which may be busy
		 * discarding the request in flight: it would stall the
		 * pipeline, and per batch it costs more than the batch on a
		 * busy host.  Report progress only once a second meanwhile.
		 */
		vb_update_actual(vb);
		vb->actual_at = jiffies;
	}

	if (diff && !READ_ONCE(vb->dead)) {
		/* A silent device is asked again only after a pause. */
		if (READ_ONCE(vb->stuck_vq))
			msleep(1000);
		spin_lock_irq(&vb->stop_lock);
		if (!vb->stop_update)
			queue_work(vb->wq, work);
		spin_unlock_irq(&vb->stop_lock);
	}
}

/* ---- stats ---- */

static void vb_stat_set(struct vballoon *vb, unsigned int *idx, u16 tag,
			u64 val)
{
	vb->stats[*idx].tag = cpu_to_le16(tag);
	vb->stats[*idx].val = cpu_to_le64(val);
	(*idx)++;
}

static unsigned int vb_stats_vm_events(struct vballoon *vb, unsigned int idx)
{
#ifdef CONFIG_VM_EVENT_COUNTERS
	unsigned long ev[NR_VM_EVENT_ITEMS];
	u64 stall = 0;
	int zid;

	all_vm_events(ev);
	vb_stat_set(vb, &idx, VB_S_SWAP_IN, (u64)ev[PSWPIN] << PAGE_SHIFT);
	vb_stat_set(vb, &idx, VB_S_SWAP_OUT, (u64)ev[PSWPOUT] << PAGE_SHIFT);
	vb_stat_set(vb, &idx, VB_S_MAJFLT, ev[PGMAJFAULT]);
	vb_stat_set(vb, &idx, VB_S_MINFLT, ev[PGFAULT]);
#ifdef CONFIG_HUGETLB_PAGE
	vb_stat_set(vb, &idx, VB_S_HTLB_PGALLOC, ev[HTLB_BUDDY_PGALLOC]);
	vb_stat_set(vb, &idx, VB_S_HTLB_PGFAIL, ev[HTLB_BUDDY_PGALLOC_FAIL]);
#endif
	if (!stats_ext)
		return idx;
	vb_stat_set(vb, &idx, VB_S_OOM_KILL, ev[OOM_KILL]);
	/* ALLOCSTALL_* are laid out per zone type, starting at ZONE_NORMAL. */
	for (zid = 0; zid < MAX_NR_ZONES; zid++)
		stall += ev[ALLOCSTALL_NORMAL - ZONE_NORMAL + zid];
	vb_stat_set(vb, &idx, VB_S_ALLOC_STALL, stall);
	vb_stat_set(vb, &idx, VB_S_ASYNC_SCAN, ev[PGSCAN_KSWAPD]);
	vb_stat_set(vb, &idx, VB_S_DIRECT_SCAN, ev[PGSCAN_DIRECT]);
	vb_stat_set(vb, &idx, VB_S_ASYNC_RECLAIM, ev[PGSTEAL_KSWAPD]);
	vb_stat_set(vb, &idx, VB_S_DIRECT_RECLAIM, ev[PGSTEAL_DIRECT]);
#endif
	return idx;
}

static unsigned int vb_stats_fill(struct vballoon *vb)
{
	unsigned int idx = 0;
	struct sysinfo si;
	long avail, caches;

	idx = vb_stats_vm_events(vb, idx);
	si_meminfo(&si);
	avail = si_mem_available();
	caches = global_node_page_state(NR_FILE_PAGES);
	vb_stat_set(vb, &idx, VB_S_MEMFREE, (u64)si.freeram << PAGE_SHIFT);
	vb_stat_set(vb, &idx, VB_S_MEMTOT, (u64)si.totalram << PAGE_SHIFT);
	vb_stat_set(vb, &idx, VB_S_AVAIL, (u64)max(avail, 0L) << PAGE_SHIFT);
	vb_stat_set(vb, &idx, VB_S_CACHES, (u64)max(caches, 0L) << PAGE_SHIFT);
	return idx;
}

static int vb_stats_send(struct vballoon *vb)
{
	struct scatterlist sg;
	unsigned int n = vb_stats_fill(vb);
	int err;

	sg_init_one(&sg, vb->stats, sizeof(vb->stats[0]) * n);
	err = virtqueue_add_outbuf(vb->stats_vq, &sg, 1, vb, GFP_KERNEL);
	if (!err) {
		virtqueue_kick(vb->stats_vq);
		vb->cnt.stats_sent++;
	}
	return err;
}

/* The device used our stats buffer: that is its request for fresh ones. */
static void vb_stats_request(struct virtqueue *vq)
{
	struct vballoon *vb = vq->vdev->priv;
	unsigned long flags;

	spin_lock_irqsave(&vb->stop_lock, flags);
	if (!vb->stop_update)
		queue_work(vb->wq, &vb->stats_work);
	spin_unlock_irqrestore(&vb->stop_lock, flags);
}

static void vb_stats_work_fn(struct work_struct *work)
{
	struct vballoon *vb = container_of(work, struct vballoon, stats_work);
	unsigned int len;

	if (!virtqueue_get_buf(vb->stats_vq, &len))
		return;
	vb_stats_send(vb);
}

/* ---- free page hints ---- */

static u32 vb_hint_id(struct vballoon *vb)
{
	if (test_and_clear_bit(VB_CFG_CMD_ID, &vb->cfg_flags))
		virtio_cread_le(vb->vdev, struct vb_config,
				free_page_hint_cmd_id, &vb->hint_id_received);
	return vb->hint_id_received;
}

static void vb_hint_ack(struct virtqueue *vq)
{
	struct vballoon *vb = vq->vdev->priv;

	WRITE_ONCE(vb->hint_used, true);
	wake_up(&vb->hint_wait);
}

/* Detach used buffers; true when a hint buffer fits beside the stop id. */
static bool vb_hint_room(struct vballoon *vb)
{
	unsigned int len;

	while (virtqueue_get_buf(vb->free_page_vq, &len))
		;
	return vb->free_page_vq->num_free > 1;
}

static void vb_hint_kick(struct vballoon *vb)
{
	vb->hint_unkicked = 0;
	virtqueue_kick(vb->free_page_vq);
}

/*
 * Wait for ring space; false if the round must end instead.  The queue's
 * interrupts are on only while waiting here: used hint buffers need no
 * other attention, and on QEMU (7.2, TCG) the device notifies from its
 * iothread on a shared INTx line, which once raced into an interrupt
 * storm ("irq 10: nobody cared").  The in-tree driver never enables them.
 */
static bool vb_hint_wait_room(struct vballoon *vb)
{
	struct virtqueue *vq = vb->free_page_vq;

	while (!vb_hint_room(vb)) {
		if (vb->hint_unkicked)
			vb_hint_kick(vb);
		if (READ_ONCE(vb->stop_update) ||
		    test_bit(VB_CFG_CMD_ID, &vb->cfg_flags))
			return false;
		WRITE_ONCE(vb->hint_used, false);
		if (!virtqueue_enable_cb(vq)) {
			/* Buffers were used meanwhile: take them now. */
			virtqueue_disable_cb(vq);
			continue;
		}
		/* The timeout covers a device that does not notify. */
		wait_event_timeout(vb->hint_wait,
				   READ_ONCE(vb->hint_used) ||
				   READ_ONCE(vb->stop_update) ||
				   test_bit(VB_CFG_CMD_ID, &vb->cfg_flags),
				   HZ / 10);
		virtqueue_disable_cb(vq);
	}
	return true;
}

static int vb_hint_send_id(struct vballoon *vb, __le32 *id)
{
	struct scatterlist sg;
	int err;

	vb_hint_room(vb);
	sg_init_one(&sg, id, sizeof(*id));
	err = virtqueue_add_outbuf(vb->free_page_vq, &sg, 1, id, GFP_KERNEL);
	if (!err)
		vb_hint_kick(vb);
	return err;
}

static int vb_hint_send_block(struct vballoon *vb, unsigned long pfn,
			      unsigned long npages)
{
	struct scatterlist sg;
	int err;

	if (!vb_hint_wait_room(vb))
		return -EINTR;
	sg_init_table(&sg, 1);
	sg_set_page(&sg, pfn_to_page(pfn), npages << PAGE_SHIFT, 0);
	err = virtqueue_add_inbuf(vb->free_page_vq, &sg, 1, vb, GFP_KERNEL);
	/* Notify in groups: each kick is an exit to the device. */
	if (!err && ++vb->hint_unkicked >= VB_HINT_KICK_BATCH)
		vb_hint_kick(vb);
	return err;
}

static void vb_hint_hold(struct vballoon *vb, struct page *page,
			 unsigned int order)
{
	set_page_private(page, order);
	spin_lock_irq(&vb->hint_lock);
	list_add(&page->lru, &vb->hint_list);
	vb->hint_held += 1UL << order;
	spin_unlock_irq(&vb->hint_lock);
}

/* Give back up to @max held pages (whole blocks); returns pages freed. */
static unsigned long vb_hint_release(struct vballoon *vb, unsigned long max)
{
	unsigned long freed = 0;
	struct page *page;

	spin_lock_irq(&vb->hint_lock);
	while (freed < max && !list_empty(&vb->hint_list)) {
		unsigned int order;

		page = list_first_entry(&vb->hint_list, struct page, lru);
		list_del(&page->lru);
		order = page_private(page);
		set_page_private(page, 0);
		vb->hint_held -= 1UL << order;
		freed += 1UL << order;
		spin_unlock_irq(&vb->hint_lock);
		__free_pages(page, order);
		spin_lock_irq(&vb->hint_lock);
	}
	spin_unlock_irq(&vb->hint_lock);
	return freed;
}

/* Free pages below which the guest would start reclaiming. */
static unsigned long vb_high_wmark_pages(void)
{
	unsigned long sum = 0;
	struct zone *zone;
	int nid, z;

	for_each_online_node(nid) {
		for (z = 0; z < MAX_NR_ZONES; z++) {
			zone = &NODE_DATA(nid)->node_zones[z];
			sum += high_wmark_pages(zone);
		}
	}
	return sum;
}

static bool vb_hint_budget_left(struct vballoon *vb, unsigned long hinted,
				unsigned int order)
{
	unsigned long max = (unsigned long)hint_max_mib << (20 - PAGE_SHIFT);

	if (max && hinted + (1UL << order) > max)
		return false;
	return global_zone_page_state(NR_FREE_PAGES) >
	       vb->hint_reserve + (1UL << order);
}

/*
 * Take free blocks from the top order down to hint_min_order and hint
 * them.  Physically adjacent blocks are merged into one buffer, so lower
 * orders do not cost one ring entry each.
 */
static int vb_hint_blocks(struct vballoon *vb, u32 id)
{
	const gfp_t gfp = __GFP_MOVABLE | __GFP_NORETRY | __GFP_NOWARN |
			  __GFP_NOMEMALLOC;
	unsigned long run_pfn = 0, run_len = 0, hinted = 0;
	unsigned int min_order = min_t(unsigned int, hint_min_order,
				       VB_TOP_ORDER);
	int order, err = 0;

	for (order = VB_TOP_ORDER; order >= (int)min_order && !err; order--) {
		while (vb_hint_id(vb) == id && !READ_ONCE(vb->stop_update) &&
		       !READ_ONCE(vb->hint_pressure) &&
		       vb_hint_budget_left(vb, hinted, order)) {
			struct page *page = alloc_pages(gfp, order);
			unsigned long pfn;

			if (!page)
				break;
			pfn = page_to_pfn(page);
			vb_hint_hold(vb, page, order);
			hinted += 1UL << order;
			vb->cnt.hint_blocks++;
			vb->cnt.hint_by_order[order]++;
			if (run_len && run_pfn + run_len == pfn &&
			    run_len + (1UL << order) <= VB_HINT_MAX_BUF_PAGES) {
				run_len += 1UL << order;
				continue;
			}
			if (run_len)
				err = vb_hint_send_block(vb, run_pfn, run_len);
			run_pfn = pfn;
			run_len = 1UL << order;
			if (err)
				break;
		}
	}
	if (run_len && !err)
		err = vb_hint_send_block(vb, run_pfn, run_len);
	vb->cnt.hint_pages += hinted;
	return err;
}

#ifdef VB_TEST_REUSE_HINTED
/*
 * Test-only broken build (build/x86_64-broken-hint, for the migration
 * integrity test's negative case; never loaded elsewhere): once a round
 * hinted its blocks, they go back to the page allocator, long before DONE,
 * yet every later round hints them again, as if still held.  A page the
 * guest wrote after taking it back, and QEMU already marked dirty, is then
 * skipped: the destination gets stale memory.
 */
#define VB_TEST_STALE_MAX	4096
static unsigned long vb_test_stale[VB_TEST_STALE_MAX];	/* pfn << 4 | order */
static unsigned int vb_test_nstale;

static void vb_test_reuse_hinted(struct vballoon *vb)
{
	struct page *page;
	unsigned int i;

	for (i = 0; i < vb_test_nstale; i++)
		vb_hint_send_block(vb, vb_test_stale[i] >> 4,
				   1UL << (vb_test_stale[i] & 15));
	spin_lock_irq(&vb->hint_lock);
	list_for_each_entry(page, &vb->hint_list, lru)
		if (vb_test_nstale < VB_TEST_STALE_MAX)
			vb_test_stale[vb_test_nstale++] =
				page_to_pfn(page) << 4 | page_private(page);
	spin_unlock_irq(&vb->hint_lock);
	vb_hint_release(vb, ULONG_MAX);
}
#endif

static void vb_hint_round(struct vballoon *vb, u32 id)
{
	ktime_t start = ktime_get();
	int err;

	vb->hint_id_active = id;
	vb->cnt.hint_rounds++;
	WRITE_ONCE(vb->hint_pressure, false);
	/* Stay above the high watermark: hinting must not wake kswapd. */
	vb->hint_reserve = vb_high_wmark_pages() +
			   ((unsigned long)hint_reserve_mib << (20 - PAGE_SHIFT));
	vb->hint_cmd[0] = cpu_to_le32(id);
	err = vb_hint_send_id(vb, &vb->hint_cmd[0]);
	if (!err)
		err = vb_hint_blocks(vb, id);
#ifdef VB_TEST_REUSE_HINTED
	if (!err)
		vb_test_reuse_hinted(vb);
#endif
	if (err && err != -EINTR)
		dev_warn_ratelimited(&vb->vdev->dev,
				     "free page hint round %u: %d\n", id, err);
	/* Always end with a stop id, even after an error. */
	vb->hint_cmd[1] = cpu_to_le32(VB_CMD_ID_STOP);
	if (vb_hint_wait_room(vb) || vb->free_page_vq->num_free)
		vb_hint_send_id(vb, &vb->hint_cmd[1]);
	vb->cnt.hint_round_us = ktime_us_delta(ktime_get(), start);
}

static void vb_hint_work_fn(struct work_struct *work)
{
	struct vballoon *vb = container_of(work, struct vballoon, hint_work);
	u32 id = vb_hint_id(vb);

	if (id == VB_CMD_ID_DONE) {
		vb_hint_release(vb, ULONG_MAX);
		return;
	}
	if (id == VB_CMD_ID_STOP || id == vb->hint_id_active)
		return;
	vb_hint_round(vb, id);
}

static unsigned long vb_shrink_count(struct shrinker *s,
				     struct shrink_control *sc)
{
	struct vballoon *vb = vb_shrinker_owner(s);

	return READ_ONCE(vb->hint_held);
}

static unsigned long vb_shrink_scan(struct shrinker *s,
				    struct shrink_control *sc)
{
	struct vballoon *vb = vb_shrinker_owner(s);
	unsigned long freed;

	/*
	 * The guest needs memory: a running round must not take back what
	 * we give here (it would fight kswapd until the round ends).
	 */
	WRITE_ONCE(vb->hint_pressure, true);
	freed = vb_hint_release(vb, sc->nr_to_scan);

	vb->cnt.hint_shrunk += freed;
	return freed ? freed : SHRINK_STOP;
}

/* ---- config changes, OOM, reporting, migration ---- */

static void vb_config_changed(struct virtio_device *vdev)
{
	struct vballoon *vb = vdev->priv;
	unsigned long flags;

	spin_lock_irqsave(&vb->stop_lock, flags);
	if (!vb->stop_update) {
		set_bit(VB_CFG_SIZE, &vb->cfg_flags);
		queue_work(vb->wq, &vb->size_work);
		if (vb->free_page_vq) {
			set_bit(VB_CFG_CMD_ID, &vb->cfg_flags);
			queue_work(vb->wq, &vb->hint_work);
		}
	}
	spin_unlock_irqrestore(&vb->stop_lock, flags);
}

/*
 * A request in flight holds vb->lock and normally ends within
 * milliseconds; a device that never answers must not hang the OOM path:
 * wait at most ack_timeout_ms, then let the OOM killer act.
 */
static bool vb_oom_lock(struct vballoon *vb)
{
	unsigned long end = jiffies + msecs_to_jiffies(ack_timeout_ms);

	if (!ack_timeout_ms) {
		mutex_lock(&vb->lock);
		return true;
	}
	while (!mutex_trylock(&vb->lock)) {
		if (time_after(jiffies, end) || READ_ONCE(vb->stuck_vq))
			return false;
		msleep(20);
	}
	return true;
}

static int vb_oom_notify(struct notifier_block *nb, unsigned long unused,
			 void *parm)
{
	struct vballoon *vb = container_of(nb, struct vballoon, oom_nb);
	unsigned long *freed = parm;
	unsigned long got;

	if (!vb_oom_lock(vb))
		return NOTIFY_OK;
	got = vb_leak_locked(vb, oom_pages);
	mutex_unlock(&vb->lock);
	vb->cnt.oom_deflated += got;
	*freed += got / VB_PAGES_PER_PAGE;
	vb_update_actual(vb);
	return NOTIFY_OK;
}

#ifdef CONFIG_PAGE_REPORTING
static int vb_report(struct page_reporting_dev_info *pr,
		     struct scatterlist *sg, unsigned int nents)
{
	struct vballoon *vb = container_of(pr, struct vballoon, pr);
	struct virtqueue *vq = vb->reporting_vq;
	struct scatterlist *s;
	unsigned int len, i;
	int err;

	err = virtqueue_add_inbuf(vq, sg, nents, vb, GFP_NOWAIT | __GFP_NOWARN);
	if (WARN_ON_ONCE(err))
		return err;
	virtqueue_kick(vq);
	wait_event(vb->acked, virtqueue_get_buf(vq, &len));
	for_each_sg(sg, s, nents, i)
		vb->cnt.reported_pages += s->length >> PAGE_SHIFT;
	vb->cnt.reports++;
	return 0;
}
#endif

#ifdef CONFIG_BALLOON_COMPACTION
/*
 * Compaction moves a balloon page: the host learns about the new page
 * (inflate) before it is told the old one may be reused (deflate).
 */
static int vb_migratepage(struct balloon_dev_info *bdi, struct page *newpage,
			  struct page *page, enum migrate_mode mode)
{
	struct vballoon *vb = container_of(bdi, struct vballoon, bdi);
	unsigned long flags;
	int err;

	/* Inflate may be compacting right now: let compaction retry. */
	if (!mutex_trylock(&vb->lock))
		return -EAGAIN;
	if (vb->dead || !vb_unstuck(vb)) {
		mutex_unlock(&vb->lock);
		return -EAGAIN;
	}

	get_page(newpage);	/* balloon reference */
	if (!vb->deflate_on_oom && page_zone(page) != page_zone(newpage)) {
		adjust_managed_page_count(page, 1);
		adjust_managed_page_count(newpage, -1);
	}

	spin_lock_irqsave(&bdi->pages_lock, flags);
	balloon_page_insert(bdi, newpage);
	bdi->isolated_pages--;
	__count_vm_event(BALLOON_MIGRATE);
	spin_unlock_irqrestore(&bdi->pages_lock, flags);

	vb->req_err = 0;
	vb_add_page(vb, vb->inflate_vq, newpage);
	vb_flush(vb, vb->inflate_vq);
	vb_add_page(vb, vb->deflate_vq, page);
	vb_flush(vb, vb->deflate_vq);
	vb->cnt.migrated++;
	err = vb->req_err;
	mutex_unlock(&vb->lock);

	balloon_page_finalize(page);
	/* Unacknowledged: the device may still discard it, never reuse it. */
	if (!err)
		put_page(page);		/* balloon reference */
	return VB_MIGRATE_OK;
}
#endif

/* ---- sysfs view: /sys/bus/virtio/devices/virtioN/vballoon/ ---- */

static struct vballoon *dev_to_vb(struct device *dev)
{
	return dev_to_virtio(dev)->priv;
}

static ssize_t state_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct vballoon *vb = dev_to_vb(dev);
	struct vb_counters *c = &vb->cnt;
	int n = 0, o;

	n += sysfs_emit_at(buf, n, "pages %u\n", READ_ONCE(vb->num_pages));
	n += sysfs_emit_at(buf, n, "mode %s\n", vb->cont ? "cont" :
			   vb->ranges ? "ranges" : "pfns");
	n += sysfs_emit_at(buf, n, "cont_order %u\nmovable %d\n",
			   vb->cont_order, vb->movable);
	n += sysfs_emit_at(buf, n, "inflated %llu\ndeflated %llu\n",
			   c->inflated, c->deflated);
	n += sysfs_emit_at(buf, n, "inflate_reqs %llu\ndeflate_reqs %llu\n",
			   c->inflate_reqs, c->deflate_reqs);
	n += sysfs_emit_at(buf, n, "req_bytes %llu\n", c->req_bytes);
	n += sysfs_emit_at(buf, n, "alloc_fail %llu\nmigrated %llu\n",
			   c->alloc_fail, c->migrated);
	n += sysfs_emit_at(buf, n, "oom_deflated %llu\ncont_fallbacks %llu\n",
			   c->oom_deflated, c->cont_fallbacks);
	n += sysfs_emit_at(buf, n, "inflate_alloc_us %llu\ninflate_send_us %llu\n",
			   c->inflate_alloc_us, c->inflate_send_us);
	n += sysfs_emit_at(buf, n, "wait_us %llu\noverlapped %llu\n",
			   c->wait_us, c->overlapped);
	n += sysfs_emit_at(buf, n, "actual_us %llu\n", c->actual_us);
	for (o = 0; o <= VB_TOP_ORDER; o++)
		if (c->blocks_by_order[o])
			n += sysfs_emit_at(buf, n, "blocks_order_%d %llu\n", o,
					   c->blocks_by_order[o]);
	n += sysfs_emit_at(buf, n, "stats_sent %llu\n", c->stats_sent);
	n += sysfs_emit_at(buf, n, "hint_id_received %u\nhint_id_active %u\n",
			   vb->hint_id_received, vb->hint_id_active);
	n += sysfs_emit_at(buf, n, "hint_held_pages %lu\n",
			   READ_ONCE(vb->hint_held));
	n += sysfs_emit_at(buf, n, "hint_rounds %llu\nhint_blocks %llu\n",
			   c->hint_rounds, c->hint_blocks);
	n += sysfs_emit_at(buf, n, "hint_pages %llu\nhint_shrunk %llu\n",
			   c->hint_pages, c->hint_shrunk);
	n += sysfs_emit_at(buf, n, "hint_round_us %llu\n", c->hint_round_us);
	for (o = 0; o <= VB_TOP_ORDER; o++)
		if (c->hint_by_order[o])
			n += sysfs_emit_at(buf, n, "hint_order_%d %llu\n", o,
					   c->hint_by_order[o]);
	n += sysfs_emit_at(buf, n, "hint_pressure %d\nhint_reserve %lu\n",
			   READ_ONCE(vb->hint_pressure), vb->hint_reserve);
	n += sysfs_emit_at(buf, n, "reports %llu\nreported_pages %llu\n",
			   c->reports, c->reported_pages);
	return n;
}
static DEVICE_ATTR_RO(state);

static ssize_t pages_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(dev_to_vb(dev)->num_pages));
}
static DEVICE_ATTR_RO(pages);

static struct attribute *vb_attrs[] = {
	&dev_attr_state.attr,
	&dev_attr_pages.attr,
	NULL,
};

static const struct attribute_group vb_attr_group = {
	.name = "vballoon",
	.attrs = vb_attrs,
};

/* ---- probe / remove ---- */

static int vb_init_vqs(struct vballoon *vb)
{
	struct virtqueue *vqs[VB_NR_VQS];
	vq_callback_t *cbs[VB_NR_VQS];
	const char *names[VB_NR_VQS];
	struct virtqueue **dst[VB_NR_VQS];
	unsigned int n = 0, i;
	int err;

	/* Queue numbering is dense: absent features take no index. */
	cbs[n] = vb_ack; names[n] = "inflate"; dst[n++] = &vb->inflate_vq;
	cbs[n] = vb_ack; names[n] = "deflate"; dst[n++] = &vb->deflate_vq;
	if (vb_has(vb, VB_F_STATS_VQ)) {
		cbs[n] = vb_stats_request;
		names[n] = "stats";
		dst[n++] = &vb->stats_vq;
	}
	if (vb_has(vb, VB_F_FREE_PAGE_HINT)) {
		cbs[n] = vb_hint_ack;
		names[n] = "free_page_vq";
		dst[n++] = &vb->free_page_vq;
	}
	if (vb_has(vb, VB_F_PAGE_REPORTING)) {
		cbs[n] = vb_ack;
		names[n] = "reporting_vq";
		dst[n++] = &vb->reporting_vq;
	}
	err = vb_find_vqs(vb->vdev, n, vqs, cbs, names);
	if (err)
		return err;
	for (i = 0; i < n; i++)
		*dst[i] = vqs[i];
	return 0;
}

static int vb_alloc_buffers(struct vballoon *vb)
{
	unsigned int i;
	size_t bytes;

	if (vb->ranges) {
		vb->req_cap = VB_MAX_RANGES;
		bytes = VB_MAX_RANGES * sizeof(struct vb_range);
	} else {
		vb->req_cap = clamp(batch_pages, VB_PAGES_PER_PAGE,
				    (unsigned int)VB_MAX_PFN_BATCH);
		vb->req_cap = rounddown(vb->req_cap, VB_PAGES_PER_PAGE);
		bytes = vb->req_cap * sizeof(__le32);
	}
	/* Shared with the device: heap memory, never .data or the stack. */
	for (i = 0; i < VB_REQ_BUFS; i++) {
		vb->reqs[i] = kzalloc(bytes, GFP_KERNEL);
		if (!vb->reqs[i])
			return -ENOMEM;
	}
	vb->req_slot = 0;
	vb->req = vb->reqs[0];
	vb->stats = kcalloc(VB_S_NR, sizeof(*vb->stats), GFP_KERNEL);
	vb->hint_cmd = kcalloc(2, sizeof(*vb->hint_cmd), GFP_KERNEL);
	if (!vb->stats || !vb->hint_cmd)
		return -ENOMEM;
	return 0;
}

static void vb_free_buffers(struct vballoon *vb)
{
	unsigned int i;

	for (i = 0; i < VB_REQ_BUFS; i++)
		kfree(vb->reqs[i]);
	kfree(vb->stats);
	kfree(vb->hint_cmd);
}

static void vb_write_poison(struct vballoon *vb)
{
	u32 val = vb_poison_val();

	/* A single repeated byte: the same in either byte order. */
	virtio_cwrite_le(vb->vdev, struct vb_config, poison_val, &val);
}

static int vb_start_features(struct vballoon *vb)
{
	int err;

	if (vb->free_page_vq) {
		/* One entry stays free for the stop id. */
		if (virtqueue_get_vring_size(vb->free_page_vq) < 2)
			return -ENOSPC;
		/* Interrupts only while waiting for room (vb_hint_wait_room). */
		virtqueue_disable_cb(vb->free_page_vq);
		vb->shrinker = vb_shrinker_create(vb, vb_shrink_count,
						  vb_shrink_scan, "vballoon");
		if (!vb->shrinker)
			return -ENOMEM;
	}
	if (vb->deflate_on_oom) {
		vb->oom_nb.notifier_call = vb_oom_notify;
		vb->oom_nb.priority = VB_OOM_NOTIFY_PRIORITY;
		err = register_oom_notifier(&vb->oom_nb);
		if (err)
			return err;
	}
	if (vb_has(vb, VB_F_PAGE_POISON))
		vb_write_poison(vb);
#ifdef CONFIG_PAGE_REPORTING
	if (vb->reporting_vq) {
		if (virtqueue_get_vring_size(vb->reporting_vq) <
		    PAGE_REPORTING_CAPACITY)
			return -ENOSPC;
		vb->pr.report = vb_report;
		err = page_reporting_register(&vb->pr);
		if (err)
			return err;
		vb->pr_registered = true;
	}
#endif
	return 0;
}

static void vb_stop_features(struct vballoon *vb)
{
#ifdef CONFIG_PAGE_REPORTING
	if (vb->pr_registered)
		page_reporting_unregister(&vb->pr);
	vb->pr_registered = false;
#endif
	if (vb->deflate_on_oom && vb->oom_nb.notifier_call)
		unregister_oom_notifier(&vb->oom_nb);
	vb->oom_nb.notifier_call = NULL;
	if (vb->shrinker)
		vb_shrinker_destroy(vb->shrinker);
	vb->shrinker = NULL;
}

static void vb_init_state(struct vballoon *vb, struct virtio_device *vdev)
{
	vb->vdev = vdev;
	INIT_WORK(&vb->size_work, vb_size_work_fn);
	INIT_WORK(&vb->stats_work, vb_stats_work_fn);
	INIT_WORK(&vb->hint_work, vb_hint_work_fn);
	spin_lock_init(&vb->stop_lock);
	spin_lock_init(&vb->hint_lock);
	INIT_LIST_HEAD(&vb->hint_list);
	mutex_init(&vb->lock);
	init_waitqueue_head(&vb->acked);
	init_waitqueue_head(&vb->hint_wait);
	balloon_devinfo_init(&vb->bdi);
	INIT_LIST_HEAD(&vb->pinned);
	vb->movable = movable;
#ifdef CONFIG_BALLOON_COMPACTION
	vb->bdi.migratepage = vb_migratepage;
#endif
	vb->hint_id_received = VB_CMD_ID_STOP;
	vb->hint_id_active = VB_CMD_ID_STOP;
	vb->ranges = vb_has(vb, VB_F_PAGE_RANGES);
	vb->cont = vb->ranges && vb_has(vb, VB_F_CONT_PAGES);
	vb->tell_host_first = vb_has(vb, VB_F_MUST_TELL_HOST);
	vb->deflate_on_oom = vb_has(vb, VB_F_DEFLATE_ON_OOM);
}

static int vb_probe(struct virtio_device *vdev)
{
	struct vballoon *vb;
	int err;

	if (!vdev->config->get) {
		dev_err(&vdev->dev, "config access disabled\n");
		return -EINVAL;
	}
	vb = kzalloc(sizeof(*vb), GFP_KERNEL);
	if (!vb)
		return -ENOMEM;
	vdev->priv = vb;
	vb_init_state(vb, vdev);

	err = vb_alloc_buffers(vb);
	if (err)
		goto out_free;
	vb->wq = alloc_workqueue("vballoon", WQ_FREEZABLE | WQ_CPU_INTENSIVE,
				 0);
	if (!vb->wq) {
		err = -ENOMEM;
		goto out_free;
	}
	err = vb_init_vqs(vb);
	if (err)
		goto out_wq;
	if (vb->ranges)
		virtio_cread_le(vdev, struct vb_config_ext, max_range_pages,
				&vb->max_range_pages);
	vb_read_ext_config(vb);

	err = vb_start_features(vb);
	if (err)
		goto out_features;
	err = sysfs_create_group(&vdev->dev.kobj, &vb_attr_group);
	if (err)
		goto out_features;

	virtio_device_ready(vdev);

	/* The device asks for stats by using this first buffer. */
	if (vb->stats_vq && vb_stats_send(vb))
		dev_warn(&vdev->dev, "cannot queue the stats buffer\n");
	vb_read_target(vb);
	if (vb_towards_target(vb))
		vb_config_changed(vdev);
	dev_info(&vdev->dev, "features 0x%llx, mode %s\n",
		 (unsigned long long)vdev->features,
		 vb->cont ? "cont" : vb->ranges ? "ranges" : "pfns");
	return 0;

out_features:
	vb_stop_features(vb);
	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
out_wq:
	destroy_workqueue(vb->wq);
out_free:
	vb_free_buffers(vb);
	kfree(vb);
	return err;
}

/* Give every balloon page back, waiting for pages compaction isolated. */
static void vb_leak_all(struct vballoon *vb)
{
	unsigned int idle = 0;

	while (READ_ONCE(vb->num_pages) && idle < 500) {
		if (vb_leak(vb, vb->num_pages)) {
			idle = 0;
			continue;
		}
		idle++;
		if (is_idle_task(current))
			mdelay(20);
		else
			msleep(20);
	}
	if (vb->num_pages)
		dev_err(&vb->vdev->dev, "%u pages not returned at removal\n",
			vb->num_pages);
	vb_update_actual(vb);
}

/*
 * After the reset: pages the device never gave back (silent device) are
 * taken off the balloon list so compaction cannot reach freed driver
 * state, and are leaked on purpose - the device may still discard them.
 */
static void vb_abandon_pages(struct vballoon *vb)
{
	unsigned long n = 0;
	LIST_HEAD(pages);

	n += balloon_page_list_dequeue(&vb->bdi, &pages, ULONG_MAX);
	n += vb_unpin_pages(vb, &pages, ULONG_MAX);
	if (n)
		dev_err(&vb->vdev->dev, "leaking %lu pages the device kept\n",
			n);
}

static void vb_remove(struct virtio_device *vdev)
{
	struct vballoon *vb = vdev->priv;

	sysfs_remove_group(&vdev->dev.kobj, &vb_attr_group);
	vb_stop_features(vb);

	spin_lock_irq(&vb->stop_lock);
	vb->stop_update = true;
	spin_unlock_irq(&vb->stop_lock);
	wake_up(&vb->hint_wait);
	cancel_work_sync(&vb->size_work);
	cancel_work_sync(&vb->stats_work);
	cancel_work_sync(&vb->hint_work);

	vb_hint_release(vb, ULONG_MAX);
	vb_leak_all(vb);

	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
	vb_abandon_pages(vb);
	destroy_workqueue(vb->wq);
	vb_free_buffers(vb);
	kfree(vb);
}

static int vb_validate(struct virtio_device *vdev)
{
	/*
	 * Reported pages come back zeroed: only safe when the guest does not
	 * expect a poison pattern, or can tell the device which one.
	 */
	if (!vb_free_pages_initialised())
		__virtio_clear_bit(vdev, VB_F_PAGE_POISON);
	else if (!virtio_has_feature(vdev, VB_F_PAGE_POISON))
		__virtio_clear_bit(vdev, VB_F_PAGE_REPORTING);

	if (!page_ranges)
		__virtio_clear_bit(vdev, VB_F_PAGE_RANGES);
	/* Continuous pages are only ever sent as ranges. */
	if (!cont_pages || !virtio_has_feature(vdev, VB_F_PAGE_RANGES))
		__virtio_clear_bit(vdev, VB_F_CONT_PAGES);
#ifndef CONFIG_PAGE_REPORTING
	__virtio_clear_bit(vdev, VB_F_PAGE_REPORTING);
#endif
	__virtio_clear_bit(vdev, VIRTIO_F_ACCESS_PLATFORM);
	return 0;
}

static struct virtio_driver vb_driver = {
	.feature_table = features,
	.feature_table_size = ARRAY_SIZE(features),
	.driver.name = KBUILD_MODNAME,
	.driver.owner = THIS_MODULE,
	.id_table = id_table,
	.validate = vb_validate,
	.probe = vb_probe,
	.remove = vb_remove,
	.config_changed = vb_config_changed,
};

module_virtio_driver(vb_driver);
MODULE_DEVICE_TABLE(virtio, id_table);
MODULE_DESCRIPTION("vballoon virtio memory balloon driver");
MODULE_LICENSE("GPL");
