// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * balloon_core.c - what every part of the balloon device shares: features
 * and queue numbering, the config space, the target and `actual`, the
 * discard policy, events and the info the control plane reads.
 *
 * Bottom of the device's dependency graph (docs/host-transport.md): it
 * calls no other balloon file and no transport, only guest_mem, ranges and
 * log.  The vdev entry points that need the queues or hints live in
 * balloon.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <endian.h>

#include "balloon_priv.h"


void balloon_set_event_cb(struct balloon *b, balloon_event_cb cb, void *opaque)
{
	b->event_cb = cb;
	b->event_opaque = opaque;
}

void balloon_emit(struct balloon *b, enum balloon_event ev)
{
	if (b->event_cb)
		b->event_cb(b, ev, b->event_opaque);
}

/* ---- features and queues ---------------------------------------------- */

static uint64_t balloon_offered(const struct balloon *b)
{
	const struct balloon_opts *o = &b->opts;
	const struct {
		bool on;
		int bit;
	} offer[] = {
		{ true, VB_F_MUST_TELL_HOST },
		{ o->stats, VB_F_STATS_VQ },
		{ o->deflate_on_oom, VB_F_DEFLATE_ON_OOM },
		{ o->free_page_hint, VB_F_FREE_PAGE_HINT },
		{ o->page_poison, VB_F_PAGE_POISON },
		{ o->page_reporting, VB_F_PAGE_REPORTING },
		{ o->page_ranges, VB_F_PAGE_RANGES },
		/* Continuous pages extend the range format. */
		{ o->page_ranges && o->cont_pages, VB_F_CONT_PAGES },
	};
	uint64_t f = 0;
	size_t i;

	for (i = 0; i < sizeof(offer) / sizeof(offer[0]); i++)
		if (offer[i].on)
			f |= VB_FEAT(offer[i].bit);
	return f;
}

/* Feature bit that makes each queue role exist (inflate/deflate always do). */
static int role_feature(int role)
{
	switch (role) {
	case VB_Q_STATS:
		return VB_F_STATS_VQ;
	case VB_Q_FREE_PAGE:
		return VB_F_FREE_PAGE_HINT;
	case VB_Q_REPORTING:
		return VB_F_PAGE_REPORTING;
	default:
		return -1;
	}
}

static bool role_present(uint64_t features, int role)
{
	int bit = role_feature(role);

	return bit < 0 || (features & VB_FEAT(bit));
}

int balloon_queue_index(uint64_t features, int role)
{
	int r, idx = 0;

	if (role < 0 || role >= VB_Q_NR_ROLES || !role_present(features, role))
		return -1;
	for (r = 0; r < role; r++)
		if (role_present(features, r))
			idx++;
	return idx;
}

/* Inverse of balloon_queue_index(): role of wire queue idx, or -1. */
int balloon_queue_role(uint64_t features, unsigned idx)
{
	int r;

	for (r = 0; r < VB_Q_NR_ROLES; r++)
		if (balloon_queue_index(features, r) == (int)idx)
			return r;
	return -1;
}

/* Features the queues are numbered by: negotiated, else what we offer. */
uint64_t balloon_features(const struct balloon *b)
{
	return b->vdev.features_set ? b->vdev.features : balloon_offered(b);
}

uint64_t balloon_get_features(struct vdev *vd)
{
	return balloon_offered(vd->priv);
}

int balloon_set_features(struct vdev *vd, uint64_t features)
{
	struct balloon *b = vd->priv;
	/* Device-specific bits are 0-23; transport bits (24+), VERSION_1
	 * included, are the transport's business. */
	uint64_t dev = features & (VB_FEAT(24) - 1);

	if (dev & ~balloon_offered(b)) {
		vb_guest_warn("%s: driver accepted features not offered: %#llx",
			      b->opts.name, (unsigned long long)dev);
		b->refused++;
		return -EINVAL;
	}
	if ((features & VB_FEAT(VB_F_CONT_PAGES)) &&
	    !(features & VB_FEAT(VB_F_PAGE_RANGES))) {
		vb_guest_warn("%s: CONT_PAGES without PAGE_RANGES refused",
			      b->opts.name);
		b->refused++;
		return -EINVAL;
	}
	/* The transport stores what was accepted (vdev.h). */
	vb_guest_info("%s: features %#llx", b->opts.name,
		      (unsigned long long)features);
	return 0;
}

unsigned balloon_num_queues(struct vdev *vd)
{
	uint64_t f = balloon_features(vd->priv);
	unsigned n = 0;
	int r;

	for (r = 0; r < VB_Q_NR_ROLES; r++)
		n += role_present(f, r);
	return n;
}

/* ---- config space ------------------------------------------------------ */

static bool balloon_ext_offered(const struct balloon *b)
{
	return balloon_offered(b) &
	       (VB_FEAT(VB_F_PAGE_RANGES) | VB_FEAT(VB_F_CONT_PAGES));
}

/*
 * The size is fixed by what we offer, not by what was negotiated: the
 * frontend may read config before features are final.  A driver that knows
 * only the 16-byte layout reads a prefix, which the transport allows.
 */
uint32_t balloon_config_size(struct vdev *vd)
{
	return balloon_ext_offered(vd->priv) ? sizeof(struct vb_config_ext)
					    : sizeof(struct vb_config);
}

/*
 * pages_order in config: the guest's option, else the huge page order of
 * the RAM file's backing.  That lookup reads /proc (mountinfo, fdinfo) and
 * every config read of the driver lands here, so it is cached while the
 * device is live (stop() ends it: a new memory table may have another
 * backing); before that, the few reads of probe look it up each time.
 */
static uint32_t balloon_pages_order(const struct balloon *b)
{
	int order = b->opts.pages_order;

	if (order < 0 && b->live)
		order = b->backing_order;
	else if (order < 0)
		order = b->vdev.mem ? guest_mem_huge_order(b->vdev.mem) : 0;
	if (order < 0)
		order = 0;
	if (order > BALLOON_MAX_ORDER)
		order = BALLOON_MAX_ORDER;
	return order;
}

static void config_image(struct balloon *b, struct vb_config_ext *c)
{
	memset(c, 0, sizeof(*c));
	c->std.num_pages = htole32(b->num_pages);
	c->std.actual = htole32(b->actual_pages);
	c->std.free_page_hint_cmd_id = htole32(b->hint.cmd_id);
	c->std.poison_val = htole32(b->poison_val);
	c->pages_order = htole32(balloon_pages_order(b));
	c->max_range_pages = htole32(0);
}

void balloon_get_config(struct vdev *vd, uint32_t off, void *buf, uint32_t len)
{
	struct vb_config_ext c;

	config_image(vd->priv, &c);
	if (off > sizeof(c) || len > sizeof(c) - off) {	/* transport checked */
		memset(buf, 0, len);
		return;
	}
	memcpy(buf, (uint8_t *)&c + off, len);
}

static uint64_t balloon_actual_bytes(const struct balloon *b)
{
	uint64_t ball = (uint64_t)b->actual_pages << VB_PFN_SHIFT;

	return ball > b->ram_size ? 0 : b->ram_size - ball;
}

static void set_actual(struct balloon *b, uint32_t pages)
{
	if (pages == b->actual_pages)
		return;
	b->actual_pages = pages;
	vb_dbg("%s: actual %u pages", b->opts.name, pages);
	if (pages == b->num_pages)
		vb_guest_info("%s: balloon at target: %u pages, %llu bytes discarded so far",
			      b->opts.name, pages,
			      (unsigned long long)b->discarded_bytes);
	balloon_emit(b, BALLOON_EV_CHANGE);
}

/*
 * The driver writes `actual` and `poison_val`; num_pages and the hint
 * command id are device-owned and writes to them are ignored.
 */
void balloon_set_config(struct vdev *vd, uint32_t off, const void *buf, uint32_t len)
{
	struct balloon *b = vd->priv;
	struct vb_config_ext c;

	config_image(b, &c);
	if (off > sizeof(c) || len > sizeof(c) - off) {
		vb_guest_warn("%s: config write out of range", b->opts.name);
		b->refused++;
		return;
	}
	memcpy((uint8_t *)&c + off, buf, len);
	set_actual(b, le32toh(c.std.actual));
	if (le32toh(c.std.poison_val) != b->poison_val) {
		b->poison_val = le32toh(c.std.poison_val);
		vb_guest_info("%s: poison value %#x%s", b->opts.name, b->poison_val,
			b->poison_val ? ": inflated/reported pages kept, not discarded" : "");
	}
}

/* ---- target and stats ---------------------------------------------------- */

/*
 * Guest RAM size for QMP's "actual": ram-size= when configured (the size the
 * VM was started with, as the VMM knows it), else the RAM the frontend
 * shares, rounded up to whole MiB (guest_mem_ram_size), which is QEMU's -m
 * for pc and q35 and follows a DIMM plugged in later.  UML needs ram-size=:
 * it shares its RAM file from the end of the kernel image.
 */
static void balloon_update_ram_size(struct balloon *b)
{
	uint64_t shared = b->vdev.mem ? guest_mem_ram_size(b->vdev.mem) : 0;

	if (b->opts.ram_size)
		b->ram_size = b->opts.ram_size;
	else if (shared)
		b->ram_size = shared;
}

uint64_t balloon_floor(const struct balloon *b)
{
	uint64_t dflt = (128ULL << 20) + b->ram_size / 64;

	if (b->opts.floor != BALLOON_FLOOR_DEFAULT)
		return b->opts.floor < b->ram_size ? b->opts.floor : b->ram_size;
	return dflt < b->ram_size / 2 ? dflt : b->ram_size / 2;
}

int balloon_config_changed(struct balloon *b)
{
	struct vdev *vd = &b->vdev;

	if (!vd->connected || !vd->config_changed || vd->broken)
		return 0;	/* a driver that comes later reads config anyway */
	return vd->config_changed(vd);
}

/* Recompute num_pages from the byte target; tell the driver if it moved.
 * A target kept from before the RAM size was known (or grew) never takes
 * the guest below its floor. */
static void balloon_apply_target(struct balloon *b)
{
	uint64_t pages, target = b->target;

	if (!b->target_set || !b->ram_size)
		return;
	if (target < balloon_floor(b)) {
		target = balloon_floor(b);
		vb_guest_info("%s: kept target %llu bytes is below the floor: balloon to %llu",
			      b->opts.name, (unsigned long long)b->target,
			      (unsigned long long)target);
	}
	pages = target >= b->ram_size ? 0 :
		(b->ram_size - target) >> VB_PFN_SHIFT;
	if (pages > UINT32_MAX)
		pages = UINT32_MAX;
	if (pages == b->num_pages)
		return;
	b->num_pages = pages;
	vb_info("%s: target %llu bytes -> num_pages %u", b->opts.name,
		(unsigned long long)b->target, b->num_pages);
	if (balloon_config_changed(b) < 0)
		vb_warn("%s: config change notification failed", b->opts.name);
}

int balloon_set_target(struct balloon *b, uint64_t guest_bytes)
{
	if (!guest_bytes)
		return -EINVAL;
	/* Without a RAM size yet, the target waits for the driver (as QEMU). */
	if (b->ram_size && guest_bytes > b->ram_size)
		guest_bytes = b->ram_size;
	if (guest_bytes < balloon_floor(b)) {
		vb_guest_info("%s: target %llu bytes refused: below the floor of %llu bytes (floor=)",
			      b->opts.name, (unsigned long long)guest_bytes,
			      (unsigned long long)balloon_floor(b));
		return -ERANGE;
	}
	b->target = guest_bytes;
	b->target_set = true;
	balloon_apply_target(b);
	return 0;
}

void balloon_get_stats(struct balloon *b, struct balloon_stats *st)
{
	*st = b->stats;
	st->interval_s = b->opts.stats_interval_s;
}

/* ---- discard policy ----------------------------------------------------- */

/* Poison: with a non-zero poison value the guest expects pages it gets back
 * to hold that pattern, and a punched hole reads back as zeroes.  Policy: do
 * not discard those pages at all (refilling them with the pattern would
 * allocate the memory we meant to free).  See docs/device.md. */
static bool balloon_may_discard(const struct balloon *b)
{
	return !balloon_has(b, VB_F_PAGE_POISON) || !b->poison_val;
}

/* Discard one merged, validated byte range (or keep it, under poison). */
int balloon_discard(struct balloon *b, uint64_t gpa, uint64_t len)
{
	int64_t kept;

	if (!balloon_may_discard(b))
		return 0;
	kept = guest_mem_discard(b->vdev.mem, gpa, len);
	if (kept < 0) {
		vb_guest_warn("%s: discard [%#llx, +%#llx) failed: %s",
			      b->opts.name, (unsigned long long)gpa,
			      (unsigned long long)len, strerror((int)-kept));
		return (int)kept;
	}
	/* Said once per guest: every request of a 4 KiB driver would say it. */
	if (kept && !b->unfreeable_bytes)
		vb_info("%s: RAM backed by %llu KiB pages cannot return 4 KiB pages: the balloon holds them, the host keeps the memory (continuous pages at order %d, as vballoon.ko sends them, return whole pages)",
			b->opts.name, (unsigned long long)(guest_mem_page_size(b->vdev.mem) >> 10),
			(int)balloon_pages_order(b));
	b->unfreeable_bytes += kept;
	b->discarded_bytes += len - kept;
	b->discard_ranges++;
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------ */

void balloon_start(struct balloon *b)
{
	balloon_update_ram_size(b);
	if (b->live)
		return;
	b->backing_order = b->vdev.mem ? guest_mem_huge_order(b->vdev.mem) : 0;
	b->live = true;
	b->orphaned_pages = 0;	/* a driver is back: the guest is whole again */
	vb_guest_info("%s: device live, ram %llu bytes", b->opts.name,
		      (unsigned long long)b->ram_size);
	balloon_apply_target(b);
	balloon_emit(b, BALLOON_EV_CONNECTED);
}

void balloon_stop(struct balloon *b)
{
	if (!b->live)
		return;
	b->live = false;
	vb_guest_info("%s: device stopped (target kept: %u pages)",
		      b->opts.name, b->num_pages);
	/* A new driver instance starts with an empty balloon. */
	set_actual(b, 0);
	b->poison_val = 0;
	balloon_emit(b, BALLOON_EV_DISCONNECTED);
}

/* ---- info ---------------------------------------------------------------- */

void balloon_get_info(struct balloon *b, struct balloon_info *info)
{
	memset(info, 0, sizeof(*info));
	info->name = b->opts.name;
	info->connected = b->live && b->vdev.connected;
	info->attached = b->vdev.connected;
	info->broken = b->vdev.broken;
	info->ram_size = b->ram_size;
	info->floor = balloon_floor(b);
	info->orphaned_pages = b->orphaned_pages;
	info->unfreeable_bytes = b->unfreeable_bytes;
	info->ram_page_size = b->vdev.mem ? guest_mem_page_size(b->vdev.mem) : 0;
	info->target = b->target_set ? b->target : b->ram_size;
	info->actual = balloon_actual_bytes(b);
	info->num_pages = b->num_pages;
	info->actual_pages = b->actual_pages;
	info->features = b->vdev.features;	/* 0 without a driver */
	info->poison_val = b->poison_val;
	info->pages_order = balloon_pages_order(b);
	info->inflated_pages = b->inflated_pages;
	info->deflated_pages = b->deflated_pages;
	info->discarded_bytes = b->discarded_bytes;
	info->discard_ranges = b->discard_ranges;
	info->reported_bytes = b->reported_bytes;
	info->refused = b->refused;
	info->ram_allocated = b->vdev.mem ? guest_mem_allocated(b->vdev.mem) : 0;
	memcpy(info->blocks_by_order, b->blocks_by_order,
	       sizeof(info->blocks_by_order));
	info->hint_state = b->hint.state;
	info->hint_cmd_id = b->hint.cmd_id;
	range_set_normalize(&b->hint.set);
	info->hinted_bytes = b->hint.set.total;
}

/* ---- state that outlives the daemon --------------------------------------- */

void balloon_save(struct balloon *b, struct balloon_saved *s)
{
	memset(s, 0, sizeof(*s));
	s->ram_size = b->ram_size;
	s->target = b->target;
	s->target_set = b->target_set;
	s->connected = b->live && b->vdev.connected;
	s->actual_pages = s->connected ? b->actual_pages : b->orphaned_pages;
	s->features = b->vdev.features;
}

void balloon_restore(struct balloon *b, const struct balloon_saved *s)
{
	if (!b->opts.ram_size && s->ram_size)
		b->ram_size = s->ram_size;	/* until a memory table says more */
	if (s->target_set) {
		b->target = s->target;
		b->target_set = true;
	}
	if (s->actual_pages) {
		b->orphaned_pages = s->actual_pages;
		vb_warn("%s: when vballoond stopped the guest's balloon held %u pages; no frontend can reattach to this device, so they stay out of the guest until it reboots",
			b->opts.name, s->actual_pages);
	}
}
