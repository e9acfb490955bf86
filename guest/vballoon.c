// SPDX-License-Identifier: GPL-2.0
/*
 * vballoon.c - virtio memory balloon driver (device id 5) for vballoon.
 *
 * Standard features: inflate/deflate with PFN arrays, MUST_TELL_HOST,
 * stats, deflate-on-OOM, free page hints, page poison, free page reporting,
 * movable balloon pages, freeze/restore.  vballoon extensions (experimental,
 * docs/abi.md): page ranges on the inflate/deflate queues and
 * continuous-page inflation.
 *
 * Locking:
 *  - vb->lock (mutex) serialises every inflate/deflate request: the request
 *    pipeline (struct vb_reqs), num_pages and the pages' membership of the
 *    balloon.  The migratepage callback only trylocks it (compaction may
 *    run from within our own allocations).
 *  - vb->bdi.pages_lock (spinlock, balloon core) protects the page list
 *    and the list of whole blocks (vb->blocks).
 *  - vb->stop_lock protects stop_update, checked before queueing work.
 *  - vb->hint_lock protects the list of held free page hint blocks.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/memory.h>
#include <linux/oom.h>
#include <linux/slab.h>
#include <linux/vmstat.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/delay.h>
#include <linux/ktime.h>
#include <linux/sched.h>
#include <linux/bitops.h>
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/sysfs.h>
#include <linux/scatterlist.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/mod_devicetable.h>

#include "vballoon_abi.h"
#include "vballoon_compat.h"

#define VB_DEVICE_ID		5	/* VIRTIO_ID_BALLOON */
#define VB_PAGES_PER_PAGE	(1U << (PAGE_SHIFT - VB_PFN_SHIFT))
#define VB_REQ_BYTES		4096	/* one request buffer */
#define VB_MAX_RANGES		(VB_REQ_BYTES / sizeof(struct vb_range))
#define VB_PFN_BATCH		256	/* PFNs per request, as in-tree */
#define VB_OOM_PAGES		256	/* 4 KiB pages per OOM notification */
#define VB_OOM_NOTIFY_PRIORITY	80
#define VB_NR_VQS		5
#define VB_HINT_MIN_ORDER	4	/* see docs/driver.md, free page hints */
#define VB_HINT_RESERVE_MIB	16UL	/* free memory a hint round leaves */
#define VB_HINT_MAX_BUF_PAGES	(32UL << (20 - PAGE_SHIFT))
#define VB_HINT_KICK_BATCH	8
#define VB_ACK_TIMEOUT		(5 * HZ) /* a request the device sits on */
#define VB_POLL_MAX_US		(5 * USEC_PER_SEC)
#define VB_ACTUAL_EVERY		HZ	/* progress while resizing */
#define VB_STUCK_RETRY		HZ	/* ask a silent device again */
#define VB_DRY_RETRY		(HZ / 5) /* the allocator ran dry (in-tree) */
#define VB_DEFLATE_CHUNKS	4	/* range batches per deflate round */
#define VB_REQ_BUFS		3	/* request buffers: one filled, two sent */
#define VB_INFLIGHT		2	/* inflate requests left in flight at most */
#define VB_REMOVE_TRIES		500	/* x 20 ms: isolated pages at removal */
#define VB_GROUP_PAGES		512UL	/* of blocks per vb->lock round, inflating */

/*
 * The one module parameter.  Feature bits 20 and 21 are vballoon's own,
 * not reserved by the virtio specification: a guest administrator must be
 * able to refuse them without the host's cooperation.
 */
static bool extensions = true;
module_param(extensions, bool, 0444);
MODULE_PARM_DESC(extensions, "Accept vballoon's experimental feature bits 20 (page ranges) and 21 (continuous pages) when offered (default 1)");

/*
 * Switches for experiments and tests, never needed in production.  They
 * live in debugfs (/sys/kernel/debug/vballoon/); a kernel without debugfs
 * (UML) gets them as module parameters of the same names instead.  A new
 * switch is a field here plus one line in each of the two lists that
 * publish them: vb_knobs_publish() (debugfs), module_param_named() (none).
 */
static struct vb_knobs {
	bool movable;		/* balloon pages visible to compaction (probe) */
	bool pipeline;		/* inflate requests left in flight */
	bool cont_compact;	/* high-order inflate may compact */
	bool whole_blocks;	/* pageblocks stay whole in the balloon */
	u32 range_batch_pages;	/* pages per inflate round with ranges */
} vb_knobs = {
	.movable = true,
	.pipeline = true,
	.cont_compact = true,
	.whole_blocks = true,
	.range_batch_pages = 65536,
};

enum vb_flag_bits {
	VB_CFG_CMD_ID,		/* free_page_hint_cmd_id must be re-read */
	VB_CFG_SIZE,		/* num_pages and pages_order must be re-read */
	VB_DEAD,		/* the device stopped working: no more requests */
	VB_OOM_WAIT,		/* an OOM notification waits for vb->lock */
	VB_FILLING,		/* the size work holds pages outside the balloon */
};

/* Debug counters (the view below), updated under the lock of their path. */
struct vb_counters {
	unsigned long inflate_reqs;
	unsigned long deflate_reqs;
	unsigned long req_bytes;	/* inflate/deflate bytes sent */
	unsigned long alloc_fail;	/* inflate rounds that ran out of memory */
	unsigned long migrated;
	unsigned long oom_calls;	/* OOM notifications */
	unsigned long oom_deflated;	/* pages the notifier deflated itself */
	unsigned long oom_credited;	/* pages other deflates freed meanwhile */
	unsigned long oom_empty;	/* notifications that freed nothing */
	unsigned long oom_yields;	/* inflate batches given up for an OOM */
	unsigned long cont_fallbacks;	/* blocks retried one order lower */
	unsigned long overlapped;	/* inflate requests sent without waiting */
	unsigned long freed_in_blocks;	/* deflated pages freed as whole blocks */
	unsigned long kept_whole;	/* blocks ballooned unsplit */
	unsigned long split_late;	/* of those, split in the balloon later */
	unsigned long blocks_by_order[VB_TOP_ORDER + 1];
	unsigned long stats_sent;
	unsigned long hint_rounds;
	unsigned long hint_blocks;
	unsigned long hint_pages;	/* cumulative pages hinted */
	unsigned long hint_shrunk;	/* hint pages given back to a shrinker */
	unsigned long hint_round_us;	/* duration of the last hint round */
	unsigned long hint_by_order[VB_TOP_ORDER + 1];
	unsigned long reported_pages;
	unsigned long reports;
};

/*
 * The inflate/deflate request pipeline, all under vb->lock.  Of the
 * VB_REQ_BUFS buffers one is being filled and the others may be held by
 * the device: a buffer is its request's token, refilled only once the
 * device gave it back, so a device answering out of order never sees a
 * request change under it.  The inflates in flight are the buffers the
 * device holds, unless a queue is stuck: those stay the device's, and
 * their pages stay in the balloon and count in actual.
 */
struct vb_reqs {
	void *buf[VB_REQ_BUFS];		/* kmalloc'd, VB_REQ_BYTES each */
	u32 pages[VB_REQ_BUFS];		/* inflate pages acked with buf[i] */
	unsigned long busy;		/* bit i: the device holds buf[i] */
	unsigned int fill;		/* index of the buffer being filled */
	unsigned int n;			/* entries used in buf[fill] */
	unsigned int cap;		/* entries that fit in a buffer */
	struct virtqueue *stuck_vq;	/* holds an unanswered request */
	int err;			/* a request of this batch failed */
};

struct vballoon;
struct vb_view_entry;

/* One file of the debug view: a debugfs file or a sysfs attribute. */
struct vb_view_file {
	struct device_attribute attr;	/* sysfs only */
	struct vballoon *vb;
	const struct vb_view_entry *e;
};

struct vb_view {
	struct vb_view_file *files;
#ifdef CONFIG_DEBUG_FS
	struct dentry *dir;
#else
	struct attribute **attrs;
	struct attribute_group group;
#endif
};

struct vballoon {
	struct virtio_device *vdev;
	struct virtqueue *inflate_vq, *deflate_vq, *stats_vq;
	struct virtqueue *free_page_vq, *reporting_vq;
	struct workqueue_struct *wq;
	struct delayed_work size_work;
	struct work_struct stats_work;
	struct work_struct hint_work;

	spinlock_t stop_lock;
	bool stop_update;		/* stop_lock: no new work (remove, freeze) */

	unsigned long flags;		/* enum vb_flag_bits, atomic bitops */
	wait_queue_head_t acked;	/* a request buffer came back */

	struct mutex lock;
	u32 num_pages;			/* lock: balloon size, 4 KiB units */
	unsigned long released;		/* lock: 4 KiB pages given back, ever */
	struct vb_reqs reqs;		/* lock */
	unsigned long actual_at;	/* size work: last write or resize start */
	bool resizing;			/* size work: target not reached yet */
	u32 target;			/* size work: num_pages last read */
	u32 max_range_pages;		/* device limit, 0 = none */
	unsigned int cont_order;	/* device's preferred order */
	struct balloon_dev_info bdi;
	bool movable;			/* pages go to bdi, else to pinned */
	bool whole;			/* pageblocks go to blocks, unsplit */
	struct list_head pinned;	/* lock: unmovable balloon pages */
	struct list_head blocks;	/* bdi.pages_lock: whole blocks */

	bool ranges;			/* PAGE_RANGES negotiated */
	bool cont;			/* CONT_PAGES negotiated */
	bool deflate_on_oom;

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
#ifdef CONFIG_MEMORY_HOTPLUG
	struct notifier_block memory_nb;
#endif
	struct vb_view view;
	struct vb_counters cnt;
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

static bool vb_dead(struct vballoon *vb)
{
	return test_bit(VB_DEAD, &vb->flags);
}

/*
 * The device stopped working (a broken queue, or silent while halting):
 * say so once, and send it nothing more.  What it holds stays with it.
 */
static void vb_mark_dead(struct vballoon *vb, const char *why)
{
	if (!test_and_set_bit(VB_DEAD, &vb->flags))
		dev_err(&vb->vdev->dev, "device %s: no more requests to it\n",
			why);
}

/* After a failed add or wait: was it the device? */
static bool vb_check_broken(struct vballoon *vb, struct virtqueue *vq)
{
	if (!virtqueue_is_broken(vq))
		return false;
	vb_mark_dead(vb, "broken");
	return true;
}

static void vb_ack(struct virtqueue *vq)
{
	struct vballoon *vb = vq->vdev->priv;

	wake_up(&vb->acked);
}

/* ---- the request pipeline (struct vb_reqs, vb->lock) ---- */

static void *vb_req_buf(struct vb_reqs *r)
{
	return r->buf[r->fill];
}

/* Inflate requests left in flight (see struct vb_reqs). */
static unsigned int vb_reqs_inflight(struct vb_reqs *r)
{
	return r->stuck_vq ? 0 : hweight_long(r->busy);
}

/* Inflate pages sent but not yet acknowledged: not in actual yet. */
static u32 vb_reqs_unacked(struct vb_reqs *r)
{
	unsigned int i;
	u32 sum = 0;

	if (r->stuck_vq)
		return 0;
	for_each_set_bit(i, &r->busy, VB_REQ_BUFS)
		sum += r->pages[i];
	return sum;
}

/* Fill a buffer the device does not hold next (one always is free). */
static void vb_reqs_next(struct vb_reqs *r)
{
	r->fill = find_first_zero_bit(&r->busy, VB_REQ_BUFS);
}

/* Take one used request back from @vq (false if there is none). */
static bool vb_reqs_get(struct vb_reqs *r, struct virtqueue *vq)
{
	unsigned int len, i;
	void *buf = virtqueue_get_buf(vq, &len);

	if (!buf)
		return false;
	for (i = 0; i < VB_REQ_BUFS; i++)
		if (buf == r->buf[i])
			__clear_bit(i, &r->busy);
	return true;
}

/*
 * A request the device has not used within VB_ACK_TIMEOUT stays on its
 * queue: the buffer still belongs to the device, so no other request is
 * sent until every request of that queue came back.  Callers keep the
 * pages of a failed request out of the guest's hands, so a silent host
 * never gets pages it may still discard, and never wedges the guest.
 */
static bool vb_reqs_unstuck(struct vballoon *vb)
{
	struct vb_reqs *r = &vb->reqs;

	if (!r->stuck_vq)
		return true;
	while (vb_reqs_get(r, r->stuck_vq))
		;
	if (r->busy)
		return false;
	r->stuck_vq = NULL;
	dev_info(&vb->vdev->dev, "device answered again\n");
	return true;
}

static int vb_reqs_alloc(struct vb_reqs *r)
{
	unsigned int i;

	/* Shared with the device: heap memory, never .data or the stack. */
	for (i = 0; i < VB_REQ_BUFS; i++) {
		r->buf[i] = kzalloc(VB_REQ_BYTES, GFP_KERNEL);
		if (!r->buf[i])
			return -ENOMEM;
	}
	return 0;
}

static void vb_reqs_free(struct vb_reqs *r)
{
	unsigned int i;

	for (i = 0; i < VB_REQ_BUFS; i++)
		kfree(r->buf[i]);
}

/*
 * UML halts by removing its devices from the idle task, which must not
 * sleep: poll the used ring there, and give up on a device that stays
 * silent (the machine is going down; nobody reuses the pages).
 */
static int vb_poll_used(struct vballoon *vb, struct virtqueue *vq)
{
	unsigned int us;

	for (us = 0; us < VB_POLL_MAX_US; us += 100) {
		if (vb_reqs_get(&vb->reqs, vq))
			return 0;
		if (vb_check_broken(vb, vq))
			return -ENODEV;
		udelay(100);
	}
	vb_mark_dead(vb, "silent while halting");
	return -ENODEV;
}

static int vb_wait_used(struct vballoon *vb, struct virtqueue *vq)
{
	unsigned long end = jiffies + VB_ACK_TIMEOUT;

	while (!wait_event_timeout(vb->acked, vb_reqs_get(&vb->reqs, vq),
				   HZ / 10)) {
		if (vb_check_broken(vb, vq))
			return -ENODEV;
		if (time_after(jiffies, end)) {
			vb->reqs.stuck_vq = vq;
			dev_warn_ratelimited(&vb->vdev->dev,
					     "device did not answer a request in %u ms\n",
					     jiffies_to_msecs(VB_ACK_TIMEOUT));
			return -ETIMEDOUT;
		}
	}
	return 0;
}

static int vb_wait_vq(struct vballoon *vb, struct virtqueue *vq)
{
	if (vb_dead(vb))
		return -ENODEV;
	if (is_idle_task(current))
		return vb_poll_used(vb, vq);
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

	while (vb_reqs_inflight(&vb->reqs) > left) {
		err = vb_wait_vq(vb, vb->inflate_vq);
		if (err) {
			vb->reqs.err = err;
			return err;
		}
	}
	return 0;
}

static int vb_drain(struct vballoon *vb)
{
	return vb_wait_infl(vb, 0);
}

/* Hand the buffer being filled to @vq; the device holds it from now on. */
static int vb_reqs_send(struct vballoon *vb, struct virtqueue *vq,
			unsigned int bytes)
{
	struct vb_reqs *r = &vb->reqs;
	struct scatterlist sg;
	int err;

	sg_init_one(&sg, vb_req_buf(r), bytes);
	err = virtqueue_add_outbuf(vq, &sg, 1, vb_req_buf(r), GFP_KERNEL);
	if (err) {
		/* At most VB_INFLIGHT buffers per queue: only a broken one. */
		if (!vb_check_broken(vb, vq))
			WARN_ON_ONCE(err);
		return err;
	}
	r->pages[r->fill] = 0;
	__set_bit(r->fill, &r->busy);
	virtqueue_kick(vq);
	return 0;
}

/*
 * Send the buffer being filled and wait until the device used it; with
 * @nowait (inflate only), leave it in flight and fill a free buffer next,
 * so the next batch is allocated and built while the host discards this
 * one.  Up to VB_INFLIGHT inflate requests stay in flight: the device
 * finds the next one queued when it is done with one, instead of sleeping
 * until the next kick (on vhost-user each sleep and wake-up of the daemon
 * and of the guest costs more than discarding a huge page).
 */
static int vb_tell_host(struct vballoon *vb, struct virtqueue *vq,
			unsigned int bytes, bool nowait)
{
	int err;

	nowait = nowait && !is_idle_task(current);
	err = vb_wait_infl(vb, nowait ? VB_INFLIGHT - 1 : 0);
	if (err)
		return err;
	if (vb_dead(vb))
		return -ENODEV;
	if (!vb_reqs_unstuck(vb))
		return -EBUSY;
	err = vb_reqs_send(vb, vq, bytes);
	if (err)
		return err;
	if (nowait) {
		vb->cnt.overlapped++;
		vb_reqs_next(&vb->reqs);
		return 0;
	}
	err = vb_wait_vq(vb, vq);
	if (err)
		vb_reqs_next(&vb->reqs);	/* the device keeps this one */
	return err;
}

/* Entry size of the current encoding. */
static unsigned int vb_entry_size(struct vballoon *vb)
{
	return vb->ranges ? sizeof(struct vb_range) : sizeof(__le32);
}

static void vb_flush(struct vballoon *vb, struct virtqueue *vq)
{
	struct vb_reqs *r = &vb->reqs;
	unsigned int bytes = r->n * vb_entry_size(vb);
	int err;

	if (!r->n)
		return;
	/* Only inflate overlaps: a deflate must be acknowledged first. */
	err = vb_tell_host(vb, vq, bytes,
			   vq == vb->inflate_vq && READ_ONCE(vb_knobs.pipeline));
	if (err)
		r->err = err;
	vb->cnt.req_bytes += bytes;
	if (vq == vb->inflate_vq)
		vb->cnt.inflate_reqs++;
	else
		vb->cnt.deflate_reqs++;
	r->n = 0;
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
	struct vb_reqs *r = &vb->reqs;
	struct vb_range *e = vb_req_buf(r);
	struct vb_range *last = r->n ? &e[r->n - 1] : NULL;

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
	if (r->n == r->cap) {
		vb_flush(vb, vq);
		e = vb_req_buf(r);	/* the flush may switch buffers */
	}
	e[r->n].pfn = cpu_to_le64(pfn);
	e[r->n].npages = cpu_to_le32(n);
	e[r->n].reserved = 0;
	r->n++;
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
	struct vb_reqs *r = &vb->reqs;

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

		if (r->n == r->cap)
			vb_flush(vb, vq);
		pfns = vb_req_buf(r);	/* after the flush: it may switch */
		pfns[r->n++] = cpu_to_le32(pfn);
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

/* Pages per inflate round with ranges (a deflate round takes 4 times). */
static unsigned long vb_range_batch(void)
{
	return max(READ_ONCE(vb_knobs.range_batch_pages), 1U);
}

/*
 * Order to try first for the next inflate block: the device's, raised to a
 * pageblock when whole blocks are kept (still whole huge pages of the
 * host's, aligned; falls back order by order, vb_alloc_next()).
 */
static unsigned int vb_inflate_order(struct vballoon *vb, unsigned long want)
{
	unsigned int order = 0;

	if (vb->cont) {
		order = vb->cont_order;
		if (vb->whole && order && order < pageblock_order)
			order = pageblock_order;
		order = min_t(unsigned int, order, VB_TOP_ORDER);
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
	if (order && !READ_ONCE(vb_knobs.cont_compact))
		gfp &= ~__GFP_RECLAIM;
	return alloc_pages(gfp, order);
}

/*
 * The next inflate block, at most @left pages: of *@order (the device's
 * order with CONT_PAGES), or one order lower for the rest of the round
 * each time the allocator cannot provide one (counted); NULL when not even
 * a page is left.
 */
static struct page *vb_alloc_next(struct vballoon *vb, unsigned int *order,
				  unsigned long left)
{
	struct page *page;

	while (*order && (1UL << *order) > left)
		(*order)--;
	while (!(page = vb_alloc_block(*order)) && *order) {
		(*order)--;
		vb->cnt.cont_fallbacks++;
	}
	if (page)
		vb->cnt.blocks_by_order[*order]++;
	return page;
}

/*
 * Pages to publish per vb->lock round: blocks by VB_GROUP_PAGES, split and
 * enqueued while the allocator's check of their struct pages left them
 * cached; single pages a batch at once (the allocator checks them when it
 * refills its per-CPU lists, not when it hands one out: a round per group
 * would cost more than it saves).
 */
static unsigned long vb_group_pages(unsigned int order, unsigned long left)
{
	return order ? min(left, max(VB_GROUP_PAGES, 1UL << order)) : left;
}

/*
 * Allocate up to @max pages of blocks onto @blocks: the first page of
 * each, with the block's order in page_private().  Returns the pages
 * allocated, fewer than @max only when the allocator ran dry.
 */
static unsigned long vb_alloc_group(struct vballoon *vb, unsigned int *order,
				    unsigned long max, struct list_head *blocks)
{
	unsigned long got = 0;
	struct page *page;

	/* An OOM notification stops the allocation (vb_fill()). */
	while (got < max && !test_bit(VB_OOM_WAIT, &vb->flags) &&
	       (page = vb_alloc_next(vb, order, max - got))) {
		set_page_private(page, *order);
		list_add_tail(&page->lru, blocks);
		got += 1UL << *order;
	}
	return got;
}

/* Take a block off its list and split it; returns its pages. */
static unsigned long vb_take_block(struct page *page)
{
	unsigned int order = page_private(page);

	list_del(&page->lru);
	set_page_private(page, 0);
	if (order)
		split_page(page, order);
	return 1UL << order;
}

/*
 * Put a block's @nr pages in the balloon, in address order (the list is
 * LIFO: a deflate takes them back in that order and frees them as one
 * block), pages_lock held; returns the pages put in.
 */
static unsigned long vb_balloon_block(struct vballoon *vb, struct page *page,
				      unsigned long nr)
{
	unsigned long i, n = 0;

	for (i = 0; i < nr; i++) {
		/*
		 * What balloon_page_list_enqueue() does per page on 6.1 and
		 * 6.12, under one pages_lock round per group instead of a
		 * list of every page (later kernels also count
		 * NR_BALLOON_PAGES there: a port must too).  Ours alone (the
		 * balloon core BUG()s here): should anyone else hold the
		 * lock, the page stays out of the balloon, leaked, as the
		 * host may have it already.
		 */
		if (WARN_ON_ONCE(!trylock_page(page + i)))
			continue;
		balloon_page_insert(&vb->bdi, page + i);
		unlock_page(page + i);
		n++;
	}
	return n;
}

/*
 * Whole blocks: a block that covers whole pageblocks stays one block in
 * the balloon, its pages marked offline but neither split nor made
 * movable, so ballooning it costs one store per page instead of the
 * balloon core's per-page contract.  Compaction loses nothing by it: it
 * could only move the block's pages into the free pages of other
 * pageblocks.  Memory offlining gets the block split into movable pages
 * first (vb_memory_notify()), and a deflate that wants part of a block
 * splits it the same way.  Blocks in CMA pageblocks are split at once:
 * whoever owns the area must be able to migrate every page out.
 */
static bool vb_keeps_whole(struct vballoon *vb, struct page *page)
{
	return vb->whole && page_private(page) >= pageblock_order &&
	       !is_migrate_cma_page(page);
}

/* Put a block (order in page_private()) in the balloon unsplit. */
static unsigned long vb_balloon_whole(struct vballoon *vb, struct page *page)
{
	unsigned long i, nr = 1UL << page_private(page);

	for (i = 0; i < nr; i++)
		__SetPageOffline(page + i);
	list_move(&page->lru, &vb->blocks);
	vb->cnt.kept_whole++;
	return nr;
}

/* Make a whole block movable 4 KiB balloon pages, pages_lock held. */
static void vb_split_whole(struct vballoon *vb, struct page *page)
{
	unsigned int order = page_private(page);

	list_del(&page->lru);
	set_page_private(page, 0);
	split_page(page, order);
	vb_balloon_block(vb, page, 1UL << order);
	vb->cnt.split_late++;
}

/* movable=0: balloon pages compaction cannot see (to measure movability). */
static unsigned long vb_pin_blocks(struct vballoon *vb,
				   struct list_head *blocks)
{
	struct page *page, *next;
	unsigned long i, nr, n = 0;

	list_for_each_entry_safe(page, next, blocks, lru) {
		nr = vb_take_block(page);
		for (i = 0; i < nr; i++) {
			__SetPageOffline(page + i);
			list_add(&page[i].lru, &vb->pinned);
		}
		n += nr;
	}
	return n;
}

/*
 * Put the blocks on @blocks (vb_alloc_group(), or single pages) in the
 * balloon as 4 KiB pages; returns how many.  balloon_page_list_enqueue()
 * for blocks: one pages_lock round, each block split right before its
 * pages go in, while their struct pages are still cached, and no list of
 * every page.
 */
static unsigned long vb_enqueue(struct vballoon *vb, struct list_head *blocks)
{
	struct page *page, *next;
	unsigned long flags, n = 0;

	if (!vb->movable)
		return vb_pin_blocks(vb, blocks);
	spin_lock_irqsave(&vb->bdi.pages_lock, flags);
	list_for_each_entry_safe(page, next, blocks, lru) {
		if (vb_keeps_whole(vb, page))
			n += vb_balloon_whole(vb, page);
		else
			n += vb_balloon_block(vb, page, vb_take_block(page));
	}
	spin_unlock_irqrestore(&vb->bdi.pages_lock, flags);
	count_vm_events(BALLOON_INFLATE, n);
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
 * The blocks on @blocks go into the inflate request (one range each), then
 * into the balloon as 4 KiB movable pages, vb->lock held.  The request is
 * sent when full or at the end of the batch (vb_fill_end()), so between
 * two groups it may hold inflate entries not sent yet: whoever else takes
 * vb->lock sends them before anything else (a migration adds to them;
 * vb_leak_locked() flushes them).
 */
static void vb_publish(struct vballoon *vb, struct list_head *blocks,
		       struct vb_managed *acct)
{
	struct page *page;

	list_for_each_entry(page, blocks, lru) {
		unsigned int nr = 1U << page_private(page);

		vb_add_pages(vb, vb->inflate_vq, page, nr);
		if (!vb->deflate_on_oom)
			vb_managed_add(acct, page, -(long)nr);
	}
	vb_enqueue(vb, blocks);
}

/*
 * Send what is left of the batch's request; @got 4 KiB pages join the
 * balloon's size.  If the device does not answer, they stay in the
 * balloon: it may still discard them.
 */
static void vb_fill_end(struct vballoon *vb, unsigned long got)
{
	struct vb_reqs *r = &vb->reqs;
	unsigned int sent;

	mutex_lock(&vb->lock);
	sent = r->fill;
	vb_flush(vb, vb->inflate_vq);
	vb->num_pages += got;
	/*
	 * The batch's pages are acknowledged with the request that ended it
	 * (a batch spans several requests when it has more ranges than a
	 * request holds, or when another holder of vb->lock sent its first
	 * groups; a device answers requests in order).
	 */
	if (test_bit(sent, &r->busy) && !r->stuck_vq)
		r->pages[sent] += got;
	mutex_unlock(&vb->lock);
}

/*
 * Blocks allocated while an OOM notification waits go back to the
 * allocator instead of into the balloon: they hold the memory the guest
 * ran out of, and ballooning them would make the notification wait for
 * the host too.  Counted in released, so the notification (which waits
 * for them, VB_FILLING) counts them as memory given back.
 */
static void vb_give_up_blocks(struct vballoon *vb, struct list_head *blocks,
			      unsigned long n)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, blocks, lru) {
		unsigned int order = page_private(page);

		list_del(&page->lru);
		set_page_private(page, 0);
		__free_pages(page, order);	/* not split yet */
	}
	mutex_lock(&vb->lock);
	WRITE_ONCE(vb->released, vb->released + n * VB_PAGES_PER_PAGE);
	vb->cnt.oom_yields++;
	mutex_unlock(&vb->lock);
}

/*
 * Allocate and publish up to @want pages by groups; returns the pages put
 * in the balloon.  @oom: an OOM notification came, the rest was given up.
 */
static unsigned long vb_fill_groups(struct vballoon *vb, unsigned long want,
				    bool *oom)
{
	unsigned long n, got = 0;
	struct vb_managed acct = {};
	unsigned int order = vb_inflate_order(vb, want);

	while (got < want) {
		unsigned long max = vb_group_pages(order, want - got);
		LIST_HEAD(blocks);

		n = vb_alloc_group(vb, &order, max, &blocks);
		*oom = test_bit(VB_OOM_WAIT, &vb->flags);
		if (*oom) {
			vb_give_up_blocks(vb, &blocks, n);
			break;
		}
		if (n) {
			mutex_lock(&vb->lock);
			vb_publish(vb, &blocks, &acct);
			mutex_unlock(&vb->lock);
		}
		got += n;
		if (n < max)
			break;	/* the allocator ran dry */
	}
	vb_managed_flush(&acct);
	return got;
}

/*
 * Inflate by up to @num 4 KiB pages; returns 4 KiB pages added.  @dry:
 * the allocator could not provide the whole batch, or an OOM notification
 * came (retry later).  Blocks are allocated outside vb->lock and published
 * under it by groups (vb_group_pages()), while their struct pages are
 * still in the cache (docs/driver.md, "Per-page work").  Until the batch
 * is counted in the balloon (vb_fill_end()), VB_FILLING tells an OOM
 * notification to wait for it: single pages are allocated a whole batch
 * (up to range_batch_pages) at once, neither free nor in the balloon.
 */
static unsigned long vb_fill(struct vballoon *vb, unsigned long num,
			     bool *dry)
{
	unsigned long want, got;
	bool oom = false;

	want = DIV_ROUND_UP(num, VB_PAGES_PER_PAGE);
	want = min(want, vb->ranges ? vb_range_batch() : vb->reqs.cap);
	set_bit(VB_FILLING, &vb->flags);
	smp_mb__after_atomic();		/* pairs with vb_oom_notify() */
	got = vb_fill_groups(vb, want, &oom);
	*dry = got < want;
	if (*dry && !oom) {
		vb->cnt.alloc_fail++;
		dev_info_ratelimited(&vb->vdev->dev,
				     "out of memory while inflating\n");
	}
	if (got)
		vb_fill_end(vb, got * VB_PAGES_PER_PAGE);
	clear_bit(VB_FILLING, &vb->flags);
	wake_up(&vb->acked);
	return got * VB_PAGES_PER_PAGE;
}

/*
 * A deflate takes pages off the balloon as runs of consecutive PFNs in one
 * zone, at most a top-order block each: a run's first page stands for it
 * on a list, its length in page_private().  So the struct pages of a large
 * deflate are touched once here and once by the page allocator freeing the
 * runs as blocks, not once more per step (request, accounting, free): at
 * 7 GiB those are 117 MB of struct pages, far more than the caches hold.
 *
 * Each page's reference, the balloon's alone, is frozen to zero as it
 * leaves, so a PFN scanner (compaction, page_idle) cannot take one before
 * its run goes back whole, the reverse of split_page().  A page someone
 * holds a speculative reference to, or a poisoned one (only a page-by-page
 * free keeps it out of the allocator), is a run of its own marked
 * VB_RUN_LOOSE, not frozen, and freed alone.  A whole block is a run of
 * its own marked VB_RUN_BLOCK: its first page's reference frozen, the
 * others never had one.
 */
#define VB_RUN_LOOSE	(1UL << (BITS_PER_LONG - 1))
#define VB_RUN_BLOCK	(1UL << (BITS_PER_LONG - 2))
#define VB_RUN_FLAGS	(VB_RUN_LOOSE | VB_RUN_BLOCK)

struct vb_runs {
	struct list_head *heads;
	struct page *first;	/* lowest page of the run being built */
	unsigned long len;
};

static void vb_run_end(struct vb_runs *runs)
{
	if (!runs->len)
		return;
	set_page_private(runs->first, runs->len);
	list_add_tail(&runs->first->lru, runs->heads);
	runs->len = 0;
}

/*
 * @page left the balloon.  The balloon list gives a block's pages from
 * the highest PFN down (vb_balloon_block()), so runs grow downwards.
 */
static void vb_run_add(struct vb_runs *runs, struct page *page)
{
	unsigned long pfn = page_to_pfn(page);

	if (PageHWPoison(page) || !page_ref_freeze(page, 1)) {
		vb_run_end(runs);
		set_page_private(page, 1 | VB_RUN_LOOSE);
		list_add_tail(&page->lru, runs->heads);
		return;
	}
	/*
	 * Leaving the balloon left the movable marker, which the free path
	 * clears for a block's first page only.
	 */
	page->mapping = NULL;
	if (runs->len && page_to_pfn(runs->first) == pfn + 1 &&
	    page_zone_id(runs->first) == page_zone_id(page) &&
	    runs->len < (1UL << VB_TOP_ORDER)) {
		runs->first = page;
		runs->len++;
		return;
	}
	vb_run_end(runs);
	runs->first = page;
	runs->len = 1;
}

static unsigned long vb_run_pages(struct page *head)
{
	return page_private(head) & ~VB_RUN_FLAGS;
}

/*
 * Take a whole block off the balloon as a run, pages_lock held, without
 * touching its other pages: they stay marked offline until the block is
 * freed (vb_unmark_whole()), so a deflate walks them once, right before the
 * allocator does.  A block whose first page someone holds a speculative
 * reference to is split and taken page by page.
 */
static void vb_dequeue_whole(struct vballoon *vb, struct vb_runs *runs,
			     struct page *page)
{
	unsigned int order = page_private(page);
	unsigned long i, nr = 1UL << order;

	list_del(&page->lru);
	set_page_private(page, 0);
	vb_run_end(runs);
	if (page_ref_freeze(page, 1)) {
		set_page_private(page, nr | VB_RUN_BLOCK);
		list_add_tail(&page->lru, runs->heads);
		return;
	}
	split_page(page, order);
	for (i = nr; i--; ) {
		__ClearPageOffline(page + i);
		vb_run_add(runs, page + i);
	}
	vb->cnt.split_late++;
}

/*
 * Whole blocks leave first: a block costs a store per page.  A deflate
 * that wants part of one splits it into movable pages and takes them.
 */
static unsigned long vb_dequeue_blocks(struct vballoon *vb,
				       struct vb_runs *runs, unsigned long n)
{
	struct page *page, *next;
	unsigned long nr, got = 0;

	list_for_each_entry_safe(page, next, &vb->blocks, lru) {
		if (got == n)
			break;
		nr = 1UL << page_private(page);
		if (got + nr > n) {
			vb_split_whole(vb, page);
			break;
		}
		vb_dequeue_whole(vb, runs, page);
		got += nr;
	}
	return got;
}

/* Take up to @n pages off the balloon, as runs onto @heads. */
static unsigned long vb_dequeue(struct vballoon *vb, struct list_head *heads,
				unsigned long n)
{
	struct vb_runs runs = { .heads = heads };
	struct page *page, *next;
	unsigned long flags, got = 0;

	if (!vb->movable) {
		list_for_each_entry_safe(page, next, &vb->pinned, lru) {
			if (got == n)
				break;
			list_del(&page->lru);
			__ClearPageOffline(page);
			vb_run_add(&runs, page);
			got++;
		}
		vb_run_end(&runs);
		return got;
	}
	spin_lock_irqsave(&vb->bdi.pages_lock, flags);
	got = vb_dequeue_blocks(vb, &runs, n);
	list_for_each_entry_safe(page, next, &vb->bdi.pages, lru) {
		if (got == n)
			break;
		/*
		 * What balloon_page_list_dequeue() does per page on 6.1 and
		 * 6.12: a page compaction holds locked is skipped.
		 */
		if (!trylock_page(page))
			continue;
		list_del(&page->lru);
		balloon_page_finalize(page);
		unlock_page(page);
		vb_run_add(&runs, page);
		got++;
	}
	spin_unlock_irqrestore(&vb->bdi.pages_lock, flags);
	vb_run_end(&runs);
	count_vm_events(BALLOON_DEFLATE, got);
	return got;
}

/* Add the runs on @heads to @vq's request, a range each. */
static void vb_add_runs(struct vballoon *vb, struct virtqueue *vq,
			struct list_head *heads)
{
	struct page *page;

	list_for_each_entry(page, heads, lru)
		vb_add_pages(vb, vq, page, vb_run_pages(page));
}

/* The device did not acknowledge: the runs go back into the balloon. */
static void vb_requeue_runs(struct vballoon *vb, struct list_head *heads)
{
	struct page *head, *next, *page;
	unsigned long pfn, i, nr;
	LIST_HEAD(pages);

	list_for_each_entry_safe(head, next, heads, lru) {
		nr = vb_run_pages(head);
		pfn = page_to_pfn(head);
		if (page_private(head) & VB_RUN_BLOCK) {
			/* Back whole; its pages are still marked offline. */
			page_ref_unfreeze(head, 1);
			set_page_private(head, ilog2(nr));
			list_move_tail(&head->lru, &pages);
			continue;
		}
		list_del(&head->lru);
		for (i = 0; i < nr; i++) {
			page = pfn_to_page(pfn + i);
			if (!(page_private(head) & VB_RUN_LOOSE))
				page_ref_unfreeze(page, 1);
			list_add_tail(&page->lru, &pages);
		}
		set_page_private(head, 0);
	}
	vb_enqueue(vb, &pages);
}

/*
 * Clear a whole block's offline marks as it goes back, right before the
 * allocator walks the same pages; true if one of them is poisoned.
 */
static bool vb_unmark_whole(struct page *page, unsigned long nr)
{
	bool poisoned = false;
	unsigned long i;

	for (i = 0; i < nr; i++) {
		__ClearPageOffline(page + i);
		poisoned |= PageHWPoison(page + i);
	}
	return poisoned;
}

/*
 * Give the runs on @heads (acknowledged by the device) back to the guest:
 * each in the largest aligned blocks it holds, counted back into the
 * guest's managed pages before it is freed.
 */
static void vb_release_runs(struct vballoon *vb, struct list_head *heads)
{
	struct page *head, *next, *page;
	unsigned long pfn, nr, kind, i;
	unsigned int order;

	list_for_each_entry_safe(head, next, heads, lru) {
		nr = vb_run_pages(head);
		kind = page_private(head) & VB_RUN_FLAGS;
		pfn = page_to_pfn(head);
		list_del(&head->lru);
		set_page_private(head, 0);
		if (!vb->deflate_on_oom)
			adjust_managed_page_count(head, nr);
		if (kind & VB_RUN_LOOSE) {
			put_page(head);
			continue;
		}
		if ((kind & VB_RUN_BLOCK) && vb_unmark_whole(head, nr)) {
			/* Page by page: the free path keeps a poisoned one out. */
			page_ref_unfreeze(head, 1);
			split_page(head, ilog2(nr));
			for (i = 0; i < nr; i++)
				put_page(head + i);
			continue;
		}
		/* A whole block is aligned: it goes back in one piece. */
		while (nr) {
			order = min_t(unsigned int, ilog2(nr),
				      pfn ? __ffs(pfn) : VB_TOP_ORDER);
			page = pfn_to_page(pfn);
			page_ref_unfreeze(page, 1);
			__free_pages(page, order);
			if (order)
				vb->cnt.freed_in_blocks += 1UL << order;
			pfn += 1UL << order;
			nr -= 1UL << order;
		}
	}
}

#ifdef VB_TEST_SLOW_DEFLATE
/*
 * Test-only build (build/um-slow-deflate, for test 235; never loaded
 * elsewhere): a large deflate's pages, off the balloon list and not yet
 * freed, stay so with vb->lock held until an OOM notification waits for
 * the lock (30 s at most): the interleaving a loaded host makes likely,
 * made certain.
 */
#define VB_TEST_HOLD_MAX_MS	30000
static void vb_test_slow_deflate(struct vballoon *vb, unsigned long pages)
{
	unsigned int ms;

	if (pages <= VB_OOM_PAGES)
		return;
	for (ms = 0; ms < VB_TEST_HOLD_MAX_MS; ms += 20) {
		if (test_bit(VB_OOM_WAIT, &vb->flags))
			return;
		msleep(20);
	}
}
#endif

/* Deflate by up to @num 4 KiB pages, vb->lock held; returns pages freed. */
static unsigned long vb_leak_locked(struct vballoon *vb, unsigned long num)
{
	unsigned long want, chunk, n, got = 0;
	struct vb_reqs *r = &vb->reqs;
	LIST_HEAD(pages);

	if (vb_dead(vb) || !vb_reqs_unstuck(vb))
		return 0;
	want = DIV_ROUND_UP(num, VB_PAGES_PER_PAGE);
	chunk = vb->ranges ? vb_range_batch() : r->cap;
	/*
	 * The device has nothing to discard on deflate: a request is a pure
	 * round trip, so with ranges a round takes several chunks (whole
	 * blocks come back merged, and a request holds 256 ranges).  Each
	 * chunk is one dequeue: that bounds the time the balloon's page lock
	 * is held with interrupts off.
	 */
	want = min(want, vb->ranges ? chunk * VB_DEFLATE_CHUNKS : chunk);
	want = min_t(unsigned long, want, vb->num_pages / VB_PAGES_PER_PAGE);
	/*
	 * An inflate batch under way may have left entries (vb_publish()):
	 * they go first, and the device is done with them before it hears of
	 * a deflate, even one that finds nothing to take.
	 */
	vb_flush(vb, vb->inflate_vq);
	if (vb_drain(vb))
		return 0;
	r->err = 0;
	/*
	 * The balloon list is LIFO: pages of one continuous block come back
	 * together, so whole blocks are deflated while the balloon shrinks.
	 */
	while (got < want && !r->err) {
		LIST_HEAD(part);

		n = vb_dequeue(vb, &part, min(chunk, want - got));
		if (!n)
			break;
		vb_add_runs(vb, vb->deflate_vq, &part);
		list_splice_tail(&part, &pages);
		got += n;
	}
	/* MUST_TELL_HOST or not, the host hears before the pages are reused. */
	vb_flush(vb, vb->deflate_vq);
#ifdef VB_TEST_SLOW_DEFLATE
	vb_test_slow_deflate(vb, got);
#endif
	if (r->err) {
		/* Unacknowledged: the device may still discard them. */
		vb_requeue_runs(vb, &pages);
		return 0;
	}
	got *= VB_PAGES_PER_PAGE;
	vb->num_pages -= got;
	vb_release_runs(vb, &pages);
	/* Before the lock is dropped: an OOM notification waiting counts it. */
	WRITE_ONCE(vb->released, vb->released + got);
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
	u32 actual;

	if (vb_dead(vb))
		return;
	mutex_lock(&vb->lock);
	actual = vb->num_pages - vb_reqs_unacked(&vb->reqs);
	mutex_unlock(&vb->lock);
	virtio_cwrite_le(vb->vdev, struct vb_config, actual, &actual);
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

/* Queue @work unless remove or freeze started. */
static void vb_queue(struct vballoon *vb, struct work_struct *work)
{
	unsigned long flags;

	spin_lock_irqsave(&vb->stop_lock, flags);
	if (!vb->stop_update)
		queue_work(vb->wq, work);
	spin_unlock_irqrestore(&vb->stop_lock, flags);
}

/* The size work queues itself again after @delay (a config change: at once). */
static void vb_queue_size(struct vballoon *vb, unsigned long delay)
{
	unsigned long flags;

	spin_lock_irqsave(&vb->stop_lock, flags);
	if (!vb->stop_update)
		queue_delayed_work(vb->wq, &vb->size_work, delay);
	spin_unlock_irqrestore(&vb->stop_lock, flags);
}

/* The target is reached (or the device is gone): say where we are. */
static void vb_resize_done(struct vballoon *vb)
{
	/* actual says so only once the host has it all. */
	mutex_lock(&vb->lock);
	vb_drain(vb);
	mutex_unlock(&vb->lock);
	vb_update_actual(vb);
	vb->actual_at = jiffies;
	vb->resizing = false;
}

/* One step towards the target; returns what is left of the way. */
static s64 vb_resize_step(struct vballoon *vb, bool *dry)
{
	s64 diff = vb_towards_target(vb);

	*dry = false;
	if (diff && !vb->resizing) {
		/* The first progress report is due a period after the start. */
		vb->resizing = true;
		vb->actual_at = jiffies;
	}
	if (diff > 0)
		diff -= vb_fill(vb, diff, dry);
	else if (diff < 0)
		diff += vb_leak(vb, -diff);
	return diff;
}

static void vb_size_work_fn(struct work_struct *work)
{
	struct vballoon *vb = container_of(to_delayed_work(work),
					   struct vballoon, size_work);
	bool dry;

	if (test_and_clear_bit(VB_CFG_SIZE, &vb->flags)) {
		vb_read_target(vb);
		/* Only inflating uses the order: deflating saves a round trip. */
		if (vb_towards_target(vb) > 0)
			vb_read_ext_config(vb);
	}
	if (!vb_resize_step(vb, &dry) || vb_dead(vb)) {
		vb_resize_done(vb);
		return;
	}
	if (time_after(jiffies, vb->actual_at + VB_ACTUAL_EVERY)) {
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
	/* A silent device, or an allocator run dry, gets a pause. */
	if (READ_ONCE(vb->reqs.stuck_vq))
		vb_queue_size(vb, VB_STUCK_RETRY);
	else
		vb_queue_size(vb, dry ? VB_DRY_RETRY : 0);
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
	/* Tags 10-15: standard since Linux 6.12; devices ignore unknown tags. */
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
	if (err) {
		vb_check_broken(vb, vb->stats_vq);
		return err;
	}
	virtqueue_kick(vb->stats_vq);
	vb->cnt.stats_sent++;
	return 0;
}

/* The device used our stats buffer: that is its request for fresh ones. */
static void vb_stats_request(struct virtqueue *vq)
{
	struct vballoon *vb = vq->vdev->priv;

	vb_queue(vb, &vb->stats_work);
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
	if (test_and_clear_bit(VB_CFG_CMD_ID, &vb->flags))
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
		if (READ_ONCE(vb->stop_update) || vb_dead(vb) ||
		    test_bit(VB_CFG_CMD_ID, &vb->flags))
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
				   test_bit(VB_CFG_CMD_ID, &vb->flags),
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
	if (err) {
		vb_check_broken(vb, vb->free_page_vq);
		return err;
	}
	vb_hint_kick(vb);
	return 0;
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
	if (err) {
		vb_check_broken(vb, vb->free_page_vq);
		return err;
	}
	/* Notify in groups: each kick is an exit to the device. */
	if (++vb->hint_unkicked >= VB_HINT_KICK_BATCH)
		vb_hint_kick(vb);
	return 0;
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

static bool vb_hint_budget_left(struct vballoon *vb, unsigned int order)
{
	return global_zone_page_state(NR_FREE_PAGES) >
	       vb->hint_reserve + (1UL << order);
}

/*
 * Take free blocks from the top order down to VB_HINT_MIN_ORDER and hint
 * them.  Physically adjacent blocks are merged into one buffer, so lower
 * orders do not cost one ring entry each.
 */
static int vb_hint_blocks(struct vballoon *vb, u32 id)
{
	const gfp_t gfp = __GFP_MOVABLE | __GFP_NORETRY | __GFP_NOWARN |
			  __GFP_NOMEMALLOC;
	unsigned long run_pfn = 0, run_len = 0, hinted = 0;
	int order, err = 0;

	for (order = VB_TOP_ORDER; order >= VB_HINT_MIN_ORDER && !err; order--) {
		while (vb_hint_id(vb) == id && !READ_ONCE(vb->stop_update) &&
		       !READ_ONCE(vb->hint_pressure) &&
		       vb_hint_budget_left(vb, order)) {
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
			   (VB_HINT_RESERVE_MIB << (20 - PAGE_SHIFT));
	vb->hint_cmd[0] = cpu_to_le32(id);
	err = vb_hint_send_id(vb, &vb->hint_cmd[0]);
	if (!err)
		err = vb_hint_blocks(vb, id);
#ifdef VB_TEST_REUSE_HINTED
	if (!err)
		vb_test_reuse_hinted(vb);
#endif
	if (err && err != -EINTR && !vb_dead(vb))
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

static void vb_count_oom(struct vballoon *vb, unsigned long others,
			 unsigned long got)
{
	vb->cnt.oom_calls++;
	vb->cnt.oom_credited += others;
	vb->cnt.oom_deflated += got;
	if (!others && !got) {
		vb->cnt.oom_empty++;
		dev_info_ratelimited(&vb->vdev->dev,
				     "OOM: nothing to deflate (%u pages in the balloon)\n",
				     vb->num_pages);
	}
}

static void vb_config_changed(struct virtio_device *vdev)
{
	struct vballoon *vb = vdev->priv;
	unsigned long flags;

	spin_lock_irqsave(&vb->stop_lock, flags);
	if (!vb->stop_update) {
		set_bit(VB_CFG_SIZE, &vb->flags);
		mod_delayed_work(vb->wq, &vb->size_work, 0);
		if (vb->free_page_vq) {
			set_bit(VB_CFG_CMD_ID, &vb->flags);
			queue_work(vb->wq, &vb->hint_work);
		}
	}
	spin_unlock_irqrestore(&vb->stop_lock, flags);
}

/*
 * Deflate on OOM: up to VB_OOM_PAGES per notification, as in-tree.  The
 * lock may be held by a long operation: a deflate of up to a GiB (dequeue,
 * a host round trip, freeing), or an inflate waiting for the host.  A
 * deflate frees its pages before it unlocks, and when it takes the whole
 * balloon (the host growing the guest) the notifier would find nothing
 * left: so what the driver gave back while it waited counts towards its
 * share (the OOM killer asks only whether memory came back), and it
 * deflates only the rest.  An inflate batch being allocated outside the
 * lock stops and goes back to the allocator (vb_fill()).
 */
static int vb_oom_notify(struct notifier_block *nb, unsigned long unused,
			 void *parm)
{
	struct vballoon *vb = container_of(nb, struct vballoon, oom_nb);
	unsigned long *freed = parm;
	unsigned long before, others, got = 0;

	before = READ_ONCE(vb->released);
	set_bit(VB_OOM_WAIT, &vb->flags);
	smp_mb__after_atomic();		/* pairs with vb_fill() */
	/*
	 * An inflate batch out of the allocator but not in the balloon yet
	 * (VB_FILLING): wait until it is ballooned or given back.  It stops
	 * allocating at VB_OOM_WAIT.
	 */
	wait_event_timeout(vb->acked, !test_bit(VB_FILLING, &vb->flags),
			   VB_ACK_TIMEOUT);
	mutex_lock(&vb->lock);
	others = vb->released - before;
	if (others < VB_OOM_PAGES)
		got = vb_leak_locked(vb, VB_OOM_PAGES - others);
	vb_count_oom(vb, others, got);
	mutex_unlock(&vb->lock);
	clear_bit(VB_OOM_WAIT, &vb->flags);
	*freed += (others + got) / VB_PAGES_PER_PAGE;
	/*
	 * Only when this changed the balloon: on UML a config write allocates
	 * (GFP_KERNEL), which with nothing freed could only wait for the OOM
	 * lock this task holds.
	 */
	if (got)
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
	if (err) {
		vb_check_broken(vb, vq);
		return err;
	}
	virtqueue_kick(vq);
	/*
	 * No timeout: handing the pages back early would let a late discard
	 * corrupt them.  Only a broken queue ends the wait (the transport
	 * says the device is gone), or page reporting, and with it rmmod,
	 * would wait forever.
	 */
	while (!wait_event_timeout(vb->acked, virtqueue_get_buf(vq, &len), HZ))
		if (vb_check_broken(vb, vq))
			return -ENODEV;
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
	if (vb_dead(vb) || !vb_reqs_unstuck(vb)) {
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

	vb->reqs.err = 0;
	vb_add_page(vb, vb->inflate_vq, newpage);
	vb_flush(vb, vb->inflate_vq);
	vb_add_page(vb, vb->deflate_vq, page);
	vb_flush(vb, vb->deflate_vq);
	vb->cnt.migrated++;
	err = vb->reqs.err;
	mutex_unlock(&vb->lock);

	balloon_page_finalize(page);
	/* Unacknowledged: the device may still discard it, never reuse it. */
	if (!err)
		put_page(page);		/* balloon reference */
	return VB_MIGRATE_OK;
}
#endif

#ifdef CONFIG_MEMORY_HOTPLUG
/*
 * Memory going offline: the whole blocks in the range become movable
 * balloon pages, which offlining then migrates like any other (they stay
 * in the balloon; the host hears of each move).  Without this, offlining
 * would find their first pages referenced and fail.
 */
static int vb_memory_notify(struct notifier_block *nb, unsigned long action,
			    void *arg)
{
	struct vballoon *vb = container_of(nb, struct vballoon, memory_nb);
	struct memory_notify *mn = arg;
	unsigned long start = mn->start_pfn, end = start + mn->nr_pages;
	unsigned long flags, pfn;
	struct page *page, *next;

	if (action != MEM_GOING_OFFLINE)
		return NOTIFY_OK;
	spin_lock_irqsave(&vb->bdi.pages_lock, flags);
	list_for_each_entry_safe(page, next, &vb->blocks, lru) {
		pfn = page_to_pfn(page);
		if (pfn < end && pfn + (1UL << page_private(page)) > start)
			vb_split_whole(vb, page);
	}
	spin_unlock_irqrestore(&vb->bdi.pages_lock, flags);
	return NOTIFY_OK;
}

static int vb_memory_watch(struct vballoon *vb)
{
	if (!vb->whole)
		return 0;
	vb->memory_nb.notifier_call = vb_memory_notify;
	return register_memory_notifier(&vb->memory_nb);
}

static void vb_memory_unwatch(struct vballoon *vb)
{
	if (vb->memory_nb.notifier_call)
		unregister_memory_notifier(&vb->memory_nb);
}
#else
static int vb_memory_watch(struct vballoon *vb)
{
	return 0;
}

static void vb_memory_unwatch(struct vballoon *vb)
{
}
#endif


/* ---- debug view: one value per file ---- */

enum vb_view_type { VB_VIEW_U32, VB_VIEW_ULONG, VB_VIEW_ORDERS };

struct vb_view_entry {
	const char *name;
	size_t off;			/* of the value in struct vballoon */
	enum vb_view_type type;
};

#define VB_VIEW(_name, _field, _type) \
	{ _name, offsetof(struct vballoon, _field), _type }
#define VB_VIEW_CNT(_field)	VB_VIEW(#_field, cnt._field, VB_VIEW_ULONG)

static const struct vb_view_entry vb_view_entries[] = {
	VB_VIEW("pages", num_pages, VB_VIEW_U32),
	VB_VIEW_CNT(inflate_reqs),
	VB_VIEW_CNT(deflate_reqs),
	VB_VIEW_CNT(req_bytes),
	VB_VIEW_CNT(alloc_fail),
	VB_VIEW_CNT(migrated),
	VB_VIEW("released", released, VB_VIEW_ULONG),
	VB_VIEW_CNT(oom_calls),
	VB_VIEW_CNT(oom_deflated),
	VB_VIEW_CNT(oom_credited),
	VB_VIEW_CNT(oom_empty),
	VB_VIEW_CNT(oom_yields),
	VB_VIEW_CNT(cont_fallbacks),
	VB_VIEW_CNT(overlapped),
	VB_VIEW_CNT(freed_in_blocks),
	VB_VIEW_CNT(kept_whole),
	VB_VIEW_CNT(split_late),
	VB_VIEW("blocks_by_order", cnt.blocks_by_order, VB_VIEW_ORDERS),
	VB_VIEW_CNT(stats_sent),
	VB_VIEW("hint_id_received", hint_id_received, VB_VIEW_U32),
	VB_VIEW("hint_held_pages", hint_held, VB_VIEW_ULONG),
	VB_VIEW_CNT(hint_rounds),
	VB_VIEW_CNT(hint_blocks),
	VB_VIEW_CNT(hint_pages),
	VB_VIEW_CNT(hint_shrunk),
	VB_VIEW_CNT(hint_round_us),
	VB_VIEW("hint_by_order", cnt.hint_by_order, VB_VIEW_ORDERS),
	VB_VIEW_CNT(reports),
	VB_VIEW_CNT(reported_pages),
};

#define VB_VIEW_N	ARRAY_SIZE(vb_view_entries)
#define VB_VIEW_BUF	((VB_TOP_ORDER + 1) * 21 + 1)	/* per-order line */

static int vb_view_print(const struct vb_view_file *f, char *buf, size_t size)
{
	const void *p = (const char *)f->vb + f->e->off;
	const unsigned long *v = p;
	int n = 0, o;

	switch (f->e->type) {
	case VB_VIEW_U32:
		return scnprintf(buf, size, "%u\n", READ_ONCE(*(const u32 *)p));
	case VB_VIEW_ULONG:
		return scnprintf(buf, size, "%lu\n", READ_ONCE(*v));
	case VB_VIEW_ORDERS:
		for (o = 0; o <= VB_TOP_ORDER; o++)
			n += scnprintf(buf + n, size - n, "%lu%c",
				       READ_ONCE(v[o]),
				       o < VB_TOP_ORDER ? ' ' : '\n');
		break;
	}
	return n;
}


#ifdef CONFIG_DEBUG_FS
/* /sys/kernel/debug/vballoon/: the knobs, and a directory per device. */
static struct dentry *vb_debugfs;

static int vb_view_show(struct seq_file *m, void *unused)
{
	char buf[VB_VIEW_BUF];

	vb_view_print(m->private, buf, sizeof(buf));
	seq_puts(m, buf);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vb_view);

static int vb_view_attach(struct vballoon *vb)
{
	struct vb_view *v = &vb->view;
	unsigned int i;

	v->dir = debugfs_create_dir(dev_name(&vb->vdev->dev), vb_debugfs);
	for (i = 0; i < VB_VIEW_N; i++)
		debugfs_create_file(vb_view_entries[i].name, 0444, v->dir,
				    &v->files[i], &vb_view_fops);
	return 0;
}

static void vb_view_detach(struct vballoon *vb)
{
	debugfs_remove_recursive(vb->view.dir);
}

static void vb_knobs_publish(void)
{
	struct dentry *d = debugfs_create_dir(KBUILD_MODNAME, NULL);

	vb_debugfs = d;
	debugfs_create_bool("movable", 0600, d, &vb_knobs.movable);
	debugfs_create_bool("pipeline", 0600, d, &vb_knobs.pipeline);
	debugfs_create_bool("cont_compact", 0600, d, &vb_knobs.cont_compact);
	debugfs_create_bool("whole_blocks", 0600, d, &vb_knobs.whole_blocks);
	debugfs_create_u32("range_batch_pages", 0600, d,
			   &vb_knobs.range_batch_pages);
}

static void vb_knobs_unpublish(void)
{
	debugfs_remove_recursive(vb_debugfs);
}
#else
/* No debugfs (UML): the knobs as module parameters, the view in sysfs. */
module_param_named(movable, vb_knobs.movable, bool, 0644);
module_param_named(pipeline, vb_knobs.pipeline, bool, 0644);
module_param_named(cont_compact, vb_knobs.cont_compact, bool, 0644);
module_param_named(whole_blocks, vb_knobs.whole_blocks, bool, 0644);
module_param_named(range_batch_pages, vb_knobs.range_batch_pages, uint, 0644);

static void vb_knobs_publish(void)
{
}

static void vb_knobs_unpublish(void)
{
}

static ssize_t vb_view_attr_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return vb_view_print(container_of(attr, struct vb_view_file, attr),
			     buf, PAGE_SIZE);
}

/* /sys/bus/virtio/devices/virtioN/vballoon/, the same files. */
static int vb_view_attach(struct vballoon *vb)
{
	struct vb_view *v = &vb->view;
	unsigned int i;
	int err;

	v->attrs = kcalloc(VB_VIEW_N + 1, sizeof(*v->attrs), GFP_KERNEL);
	if (!v->attrs)
		return -ENOMEM;
	for (i = 0; i < VB_VIEW_N; i++) {
		struct device_attribute *a = &v->files[i].attr;

		sysfs_attr_init(&a->attr);
		a->attr.name = vb_view_entries[i].name;
		a->attr.mode = 0444;
		a->show = vb_view_attr_show;
		v->attrs[i] = &a->attr;
	}
	v->group.name = KBUILD_MODNAME;
	v->group.attrs = v->attrs;
	err = sysfs_create_group(&vb->vdev->dev.kobj, &v->group);
	if (err)
		kfree(v->attrs);
	return err;
}

static void vb_view_detach(struct vballoon *vb)
{
	sysfs_remove_group(&vb->vdev->dev.kobj, &vb->view.group);
	kfree(vb->view.attrs);
}
#endif

static int vb_view_publish(struct vballoon *vb)
{
	struct vb_view *v = &vb->view;
	unsigned int i;
	int err;

	v->files = kcalloc(VB_VIEW_N, sizeof(*v->files), GFP_KERNEL);
	if (!v->files)
		return -ENOMEM;
	for (i = 0; i < VB_VIEW_N; i++) {
		v->files[i].vb = vb;
		v->files[i].e = &vb_view_entries[i];
	}
	err = vb_view_attach(vb);
	if (err)
		kfree(v->files);
	return err;
}

static void vb_view_unpublish(struct vballoon *vb)
{
	vb_view_detach(vb);
	kfree(vb->view.files);
}

/* ---- probe, remove, freeze, restore ---- */

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
	int err = vb_reqs_alloc(&vb->reqs);

	if (err)
		return err;
	vb->stats = kcalloc(VB_S_NR, sizeof(*vb->stats), GFP_KERNEL);
	vb->hint_cmd = kcalloc(2, sizeof(*vb->hint_cmd), GFP_KERNEL);
	if (!vb->stats || !vb->hint_cmd)
		return -ENOMEM;
	return 0;
}

static void vb_free_buffers(struct vballoon *vb)
{
	vb_reqs_free(&vb->reqs);
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
	INIT_DELAYED_WORK(&vb->size_work, vb_size_work_fn);
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
	INIT_LIST_HEAD(&vb->blocks);
	/* Pages stay on the list they went to: read once per device. */
	vb->movable = READ_ONCE(vb_knobs.movable);
	vb->whole = vb->movable && READ_ONCE(vb_knobs.whole_blocks);
#ifdef CONFIG_BALLOON_COMPACTION
	vb->bdi.migratepage = vb_migratepage;
#endif
}

/*
 * What depends on the negotiated features, and the state of a fresh
 * device session (probe, restore): the device holds no buffer of ours.
 */
static void vb_session_init(struct vballoon *vb)
{
	struct vb_reqs *r = &vb->reqs;

	/* vb_init_vqs() sets those whose feature was negotiated. */
	vb->stats_vq = NULL;
	vb->free_page_vq = NULL;
	vb->reporting_vq = NULL;
	vb->ranges = vb_has(vb, VB_F_PAGE_RANGES);
	vb->cont = vb->ranges && vb_has(vb, VB_F_CONT_PAGES);
	vb->deflate_on_oom = vb_has(vb, VB_F_DEFLATE_ON_OOM);
	r->cap = vb->ranges ? VB_MAX_RANGES : VB_PFN_BATCH;
	r->busy = 0;
	r->fill = 0;
	r->n = 0;
	r->stuck_vq = NULL;
	vb->hint_id_received = VB_CMD_ID_STOP;
	vb->hint_id_active = VB_CMD_ID_STOP;
	clear_bit(VB_CFG_CMD_ID, &vb->flags);
	clear_bit(VB_CFG_SIZE, &vb->flags);
	clear_bit(VB_DEAD, &vb->flags);
}

/* Bring the device up (probe, restore). */
static int vb_start(struct vballoon *vb)
{
	struct virtio_device *vdev = vb->vdev;
	int err;

	vb_session_init(vb);
	err = vb_init_vqs(vb);
	if (err)
		return err;
	if (vb->ranges)
		virtio_cread_le(vdev, struct vb_config_ext, max_range_pages,
				&vb->max_range_pages);
	vb_read_ext_config(vb);
	err = vb_start_features(vb);
	if (err) {
		vb_stop_features(vb);
		virtio_reset_device(vdev);
		vdev->config->del_vqs(vdev);
		return err;
	}
	virtio_device_ready(vdev);
	spin_lock_irq(&vb->stop_lock);
	vb->stop_update = false;
	spin_unlock_irq(&vb->stop_lock);

	/* The device asks for stats by using this first buffer. */
	if (vb->stats_vq && vb_stats_send(vb))
		dev_warn(&vdev->dev, "cannot queue the stats buffer\n");
	vb_read_target(vb);
	if (vb_towards_target(vb))
		vb_config_changed(vdev);
	return 0;
}

/*
 * Give every balloon page back.  A stuck queue may answer again, and
 * pages compaction isolated come back within moments: both are waited
 * for, up to 10 s.  A dead device gets nothing more.
 */
static void vb_leak_all(struct vballoon *vb)
{
	unsigned int idle = 0;

	while (READ_ONCE(vb->num_pages) && idle < VB_REMOVE_TRIES) {
		if (vb_leak(vb, vb->num_pages)) {
			idle = 0;
			continue;
		}
		if (vb_dead(vb) && !READ_ONCE(vb->bdi.isolated_pages))
			break;
		idle++;
		if (is_idle_task(current))
			mdelay(20);
		else
			msleep(20);
	}
	vb_update_actual(vb);
}

/* Take the device down (remove, freeze: the workqueue is frozen then). */
static void vb_stop(struct vballoon *vb)
{
	struct virtio_device *vdev = vb->vdev;

	vb_stop_features(vb);
	spin_lock_irq(&vb->stop_lock);
	vb->stop_update = true;
	spin_unlock_irq(&vb->stop_lock);
	wake_up(&vb->hint_wait);
	cancel_delayed_work_sync(&vb->size_work);
	cancel_work_sync(&vb->stats_work);
	cancel_work_sync(&vb->hint_work);

	vb_hint_release(vb, ULONG_MAX);
	vb_leak_all(vb);
	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
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
	err = vb_view_publish(vb);
	if (err)
		goto out_wq;
	err = vb_memory_watch(vb);
	if (err)
		goto out_view;
	err = vb_start(vb);
	if (err)
		goto out_memory;
	dev_info(&vdev->dev, "features 0x%llx, mode %s\n",
		 (unsigned long long)vdev->features,
		 vb->cont ? "cont" : vb->ranges ? "ranges" : "pfns");
	return 0;

out_memory:
	vb_memory_unwatch(vb);
out_view:
	vb_view_unpublish(vb);
out_wq:
	destroy_workqueue(vb->wq);
out_free:
	vb_free_buffers(vb);
	kfree(vb);
	return err;
}

/*
 * After the reset: pages the device never gave back (silent or dead
 * device) are taken off the balloon list so compaction cannot reach freed
 * driver state, and are leaked on purpose - the device may still discard
 * them.  They stay out of MemTotal.
 */
static void vb_abandon_pages(struct vballoon *vb)
{
	struct page *page, *next;
	unsigned long flags, n = 0;
	LIST_HEAD(pages);

	spin_lock_irqsave(&vb->bdi.pages_lock, flags);
	list_for_each_entry_safe(page, next, &vb->blocks, lru) {
		list_del(&page->lru);
		n += 1UL << page_private(page);
	}
	spin_unlock_irqrestore(&vb->bdi.pages_lock, flags);
	n += balloon_page_list_dequeue(&vb->bdi, &pages, ULONG_MAX);
	n += vb_unpin_pages(vb, &pages, ULONG_MAX);
	if (n)
		dev_err(&vb->vdev->dev,
			"leaking %lu pages the device may still discard\n", n);
}

static void vb_remove(struct virtio_device *vdev)
{
	struct vballoon *vb = vdev->priv;

	vb_view_unpublish(vb);
	vb_stop(vb);
	vb_abandon_pages(vb);
	vb_memory_unwatch(vb);
	destroy_workqueue(vb->wq);
	vb_free_buffers(vb);
	kfree(vb);
}

#ifdef CONFIG_PM_SLEEP
/* As in-tree: the balloon is deflated across a suspend or hibernation. */
static int vb_freeze(struct virtio_device *vdev)
{
	vb_stop(vdev->priv);
	return 0;
}

static int vb_restore(struct virtio_device *vdev)
{
	struct vballoon *vb = vdev->priv;
	int err = vb_start(vb);

	if (!err)
		vb_update_actual(vb);	/* pages a silent device kept */
	return err;
}
#endif

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

	if (!extensions)
		__virtio_clear_bit(vdev, VB_F_PAGE_RANGES);
	/* Continuous pages are only ever sent as ranges. */
	if (!virtio_has_feature(vdev, VB_F_PAGE_RANGES))
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
#ifdef CONFIG_PM_SLEEP
	.freeze = vb_freeze,
	.restore = vb_restore,
#endif
};

static int __init vb_init(void)
{
	int err;

	BUILD_BUG_ON(VB_PFN_BATCH * sizeof(__le32) > VB_REQ_BYTES);
	BUILD_BUG_ON(VB_PFN_BATCH % VB_PAGES_PER_PAGE);
	vb_knobs_publish();
	err = register_virtio_driver(&vb_driver);
	if (err)
		vb_knobs_unpublish();
	return err;
}
module_init(vb_init);

static void __exit vb_exit(void)
{
	unregister_virtio_driver(&vb_driver);
	vb_knobs_unpublish();
}
module_exit(vb_exit);

MODULE_DEVICE_TABLE(virtio, id_table);
MODULE_DESCRIPTION("vballoon virtio memory balloon driver");
MODULE_LICENSE("GPL");
