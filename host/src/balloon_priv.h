/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * balloon_priv.h - state shared by balloon.c (lifecycle, vdev ops),
 * balloon_core.c (features, config, target, discard policy, info),
 * balloon_queues.c (inflate/deflate/stats/reporting) and balloon_hint.c
 * (free page hints).  Not an interface: nothing outside balloon*.c uses it.
 */
#ifndef VB_BALLOON_PRIV_H
#define VB_BALLOON_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "balloon.h"
#include "guest_mem.h"
#include "log.h"
#include "loop.h"
#include "ranges.h"
#include "vdev.h"

#define VIRTIO_ID_BALLOON	5
#define VB_FEAT(bit)		(1ULL << (bit))
#define VB_PAGE_SIZE		(1ULL << VB_PFN_SHIFT)
/* Largest inflate/deflate request read (bytes): 1 GiB of le32 PFNs. */
#define VB_MAX_REQ_BYTES	(1u << 20)
/* Largest stats buffer: a few dozen tags; anything bigger is hostile. */
#define VB_MAX_STATS_BYTES	4096

struct balloon_hint {
	enum balloon_hint_state state;
	uint32_t cmd_id;	/* published in config (0/1/>=2) */
	uint32_t round_id;	/* id of the current/last round (>= 2) */
	uint32_t next_id;	/* next id to hand out, never reused */
	uint32_t guest_id;	/* last start id the guest sent */
	struct range_set set;	/* hinted guest-physical bytes */
	uint64_t ignored;	/* hint buffers dropped as stale */
};

struct balloon {
	balloon_event_cb event_cb;	/* the control plane's, may be NULL */
	void *event_opaque;
	struct balloon_opts opts;
	struct vdev vdev;
	struct loop *loop;
	bool live;			/* queues set up since the last stop */
	int backing_order;		/* huge order of the RAM file, valid while live */

	uint64_t ram_size;		/* bytes, last known */
	uint64_t target;		/* bytes */
	bool target_set;
	uint32_t num_pages;		/* config */
	uint32_t actual_pages;		/* config, from the driver */
	uint32_t poison_val;		/* config, from the driver */
	uint32_t orphaned_pages;	/* saved state: held when the daemon died */

	uint64_t inflated_pages;
	uint64_t deflated_pages;
	uint64_t discarded_bytes;
	uint64_t unfreeable_bytes;	/* discarded but kept by the backing */
	uint64_t discard_ranges;
	uint64_t reported_bytes;
	uint64_t refused;
	uint64_t blocks_by_order[BALLOON_NR_ORDERS];

	struct vq_elem *elem;		/* scratch for popping */
	struct vq_elem *stats_elem;	/* stats buffer held by the device */
	bool stats_elem_held;
	unsigned stats_q;		/* queue the held buffer came from */
	int stats_timer;
	struct balloon_stats stats;

	struct balloon_hint hint;
};

/* Whether feature bit was negotiated (vdev.h keeps the features). */
static inline bool balloon_has(const struct balloon *b, int bit)
{
	return b->vdev.features & VB_FEAT(bit);
}

/*
 * Calls run one way (docs/host-transport.md): balloon.c uses the three
 * below; balloon_queues.c uses balloon_hint.c and balloon_core.c;
 * balloon_hint.c uses balloon_core.c; balloon_core.c uses none of them.
 */

/* balloon_core.c */
void balloon_emit(struct balloon *b, enum balloon_event ev);
/* Features the queues are numbered by: negotiated, else what we offer. */
uint64_t balloon_features(const struct balloon *b);
/* Inverse of balloon_queue_index(): role of wire queue idx, or -1. */
int balloon_queue_role(uint64_t features, unsigned idx);
/* vdev ops for features and config space (balloon.c's table). */
uint64_t balloon_get_features(struct vdev *vd);
int balloon_set_features(struct vdev *vd, uint64_t features);
unsigned balloon_num_queues(struct vdev *vd);
uint32_t balloon_config_size(struct vdev *vd);
void balloon_get_config(struct vdev *vd, uint32_t off, void *buf, uint32_t len);
void balloon_set_config(struct vdev *vd, uint32_t off, const void *buf, uint32_t len);
/* Tell the driver the config changed: 0, or -errno from the transport. */
int balloon_config_changed(struct balloon *b);
/* Discard a merged, validated range unless the poison policy keeps it. */
int balloon_discard(struct balloon *b, uint64_t gpa, uint64_t len);
/* A queue became ready (the first one makes the device live: RAM size,
 * target); the driver instance is gone (empty balloon, target kept).  A
 * pause of the rings (VM stopped, memory table changed) is neither. */
void balloon_start(struct balloon *b);
void balloon_stop(struct balloon *b);

/* balloon_hint.c */
void balloon_hint_reset(struct balloon *b);
void balloon_hint_elem(struct balloon *b, const struct vq_elem *e);

/* balloon_queues.c */
int balloon_queue_kick(struct vdev *vd, unsigned idx);

#endif /* VB_BALLOON_PRIV_H */
