/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * balloon_priv.h - state shared by balloon.c (core, config, lifecycle),
 * balloon_queues.c (inflate/deflate/stats/reporting) and balloon_hint.c
 * (free page hints).  Not an interface: nothing outside balloon*.c uses it.
 */
#ifndef VB_BALLOON_PRIV_H
#define VB_BALLOON_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "../../include/vballoon_abi.h"
#include "balloon.h"
#include "guest_mem.h"
#include "log.h"
#include "loop.h"
#include "ranges.h"
#include "vdev.h"

#define VIRTIO_ID_BALLOON	5
#define VIRTIO_F_VERSION_1	32
#define VB_FEAT(bit)		(1ULL << (bit))
#define VB_PAGE_SIZE		(1ULL << VB_PFN_SHIFT)
#define VB_MAX_ORDER		10	/* blocks_by_order has 11 slots */
/* Largest inflate/deflate request read (bytes): 1 GiB of le32 PFNs. */
#define VB_MAX_REQ_BYTES	(1u << 20)
/* Largest stats buffer: a few dozen tags; anything bigger is hostile. */
#define VB_MAX_STATS_BYTES	4096

/* State changes the frontend can trigger at will (features, reconnects):
 * informational, but rate-limited like any guest-triggered line. */
#define vb_guest_info(...) do {					\
		static struct vb_ratelimit _rl;				\
		vb_log_rl(&_rl, VB_LOG_INFO, __VA_ARGS__);		\
	} while (0)

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

	uint64_t features;		/* negotiated */
	bool features_set;
	uint64_t ram_size;		/* bytes, last known */
	uint64_t target;		/* bytes */
	bool target_set;
	uint32_t num_pages;		/* config */
	uint32_t actual_pages;		/* config, from the driver */
	uint32_t poison_val;		/* config, from the driver */

	uint64_t inflated_pages;
	uint64_t deflated_pages;
	uint64_t discarded_bytes;
	uint64_t discard_ranges;
	uint64_t reported_bytes;
	uint64_t refused;
	uint64_t poison_kept_bytes;	/* not discarded because of poison */
	uint64_t blocks_by_order[VB_MAX_ORDER + 1];

	struct vq_elem *elem;		/* scratch for popping */
	struct vq_elem *stats_elem;	/* stats buffer held by the device */
	bool stats_elem_held;
	unsigned stats_q;		/* queue the held buffer came from */
	int stats_timer;
	struct balloon_stats stats;

	struct balloon_hint hint;
};

void balloon_emit(struct balloon *b, enum balloon_event ev);
uint64_t balloon_offered(const struct balloon *b);
uint64_t balloon_features(const struct balloon *b);
int balloon_queue_role(uint64_t features, unsigned idx);
uint32_t balloon_pages_order(const struct balloon *b);
uint64_t balloon_actual_bytes(const struct balloon *b);

/* balloon_queues.c */
void balloon_queue_kick(struct vdev *vd, unsigned idx);
bool balloon_may_discard(const struct balloon *b);
int balloon_discard(struct balloon *b, uint64_t gpa, uint64_t len);

/* balloon_hint.c */
void balloon_hint_reset(struct balloon *b);
void balloon_hint_elem(struct balloon *b, const struct vq_elem *e);

#endif /* VB_BALLOON_PRIV_H */
