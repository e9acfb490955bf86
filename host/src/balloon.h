/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * balloon.h - the virtio balloon device core, one instance per guest.
 *
 * This is the API the control plane (control.c, qmp_*.c, guests.c) and main.c use.
 * The device core is transport-agnostic: the vhost-user backend feeds it
 * through the vdev ops (vdev.h); nothing here knows about sockets.
 *
 * Sizes at this API are in bytes, as QMP uses them.  "actual" follows QEMU's
 * meaning: the guest's RAM size minus the balloon (what `query-balloon`
 * returns), not the spec's config field of the same name.
 */
#ifndef VB_BALLOON_H
#define VB_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "vballoon_abi.h"

/* Orders counted in blocks_by_order and published as pages_order: 0..10. */
#define BALLOON_MAX_ORDER	10
#define BALLOON_NR_ORDERS	(BALLOON_MAX_ORDER + 1)
/* Longest stats polling interval (seconds): one day. */
#define BALLOON_MAX_STATS_INTERVAL	(24 * 3600)

/* The default floor under every target: half the guest's RAM, at most
 * 128 MiB + RAM/64.  A Linux guest runs in that; below it the in-tree
 * driver without DEFLATE_ON_OOM takes the memory the guest needs to live. */
#define BALLOON_FLOOR_DEFAULT	UINT64_MAX

struct balloon;

/* Per-guest options, from the command line or the config file. */
struct balloon_opts {
	char name[64];			/* guest name, unique in the daemon */
	bool deflate_on_oom;		/* offer DEFLATE_ON_OOM (default off, as QEMU) */
	bool stats;			/* offer STATS_VQ (default on) */
	bool free_page_hint;		/* offer FREE_PAGE_HINT (default on) */
	bool page_poison;		/* offer PAGE_POISON (default on) */
	bool page_reporting;		/* offer PAGE_REPORTING (default on) */
	bool page_ranges;		/* offer VB_F_PAGE_RANGES (default on) */
	bool cont_pages;		/* offer VB_F_CONT_PAGES (default on) */
	int pages_order;		/* -1: THP order of the RAM file's backing */
	bool hint_discard;		/* opt-in: discard hinted pages (caller tracks writes) */
	uint64_t ram_size;		/* guest RAM bytes; 0 = from the memory table */
	uint64_t floor;			/* smallest target; BALLOON_FLOOR_DEFAULT */
	unsigned stats_interval_s;	/* 0 = polling off */
};

void balloon_opts_default(struct balloon_opts *o);

struct loop;
struct vdev;

/* Lifecycle (main.c): one device per guest, named o->name (main.c names
 * and registers it, see guests.h).  NULL on out of memory.  l may be NULL (no stats polling timer; unit tests). */
struct balloon *balloon_new(const struct balloon_opts *o, struct loop *l);
/* The vdev the transport drives (ops, priv set; transport fields zeroed). */
struct vdev *balloon_vdev(struct balloon *b);
void balloon_free(struct balloon *b);

/* Dense queue numbering: index of queue role (enum vb_queue_role) for the
 * negotiated features, or -1 when that queue does not exist. */
int balloon_queue_index(uint64_t features, int role);

/* Stats as the guest last reported them (QEMU's names: qmp_info.c). */
struct balloon_stats {
	uint64_t last_update;		/* unix seconds of the last report, 0 = never */
	unsigned interval_s;		/* polling interval */
	bool have[VB_S_NR];		/* per VB_S_* tag: reported by the guest */
	uint64_t val[VB_S_NR];
};

enum balloon_hint_state {
	BALLOON_HINT_IDLE,		/* no round ever started / after DONE */
	BALLOON_HINT_REQUESTED,		/* cmd id published, guest has not started */
	BALLOON_HINT_RUNNING,		/* guest sent the id, hints arriving */
	BALLOON_HINT_STOPPED,		/* guest or host stopped; set is complete */
};

struct balloon_info {
	const char *name;
	bool connected;			/* a frontend is attached and the device is live */
	bool attached;			/* a frontend is attached (the guest is there) */
	bool broken;			/* device refused further guest input */
	uint64_t ram_size;		/* bytes */
	uint64_t target;		/* bytes: QMP `balloon` value (guest size wanted) */
	uint64_t actual;		/* bytes: ram_size - balloon as the guest reports it */
	uint32_t num_pages;		/* config num_pages (4 KiB pages) */
	uint32_t actual_pages;		/* config actual (4 KiB pages) */
	uint64_t features;		/* negotiated */
	uint32_t poison_val;
	uint32_t pages_order;
	/* counters since the device became live */
	uint64_t inflated_pages;	/* 4 KiB pages received on inflate */
	uint64_t deflated_pages;
	uint64_t discarded_bytes;	/* bytes punched out of the RAM file */
	uint64_t discard_ranges;	/* fallocate calls made */
	uint64_t reported_bytes;	/* free page reporting */
	uint64_t refused;		/* bad requests refused */
	uint64_t ram_allocated;		/* RAM file(s) allocated bytes, fstat st_blocks*512 */
	uint64_t ram_page_size;		/* the backing's page (2 MiB on hugetlbfs) */
	uint64_t unfreeable_bytes;	/* ballooned bytes the backing could not take back */
	uint64_t floor;			/* bytes: smallest target accepted */
	/* From a restarted daemon's saved state: the pages the guest's driver
	 * held when the daemon stopped, while no driver came back (0 else). */
	uint32_t orphaned_pages;
	uint64_t blocks_by_order[BALLOON_NR_ORDERS];	/* inflated blocks per order */
	/* free page hints */
	enum balloon_hint_state hint_state;
	uint32_t hint_cmd_id;
	uint64_t hinted_bytes;		/* in the current/last round */
};

const char *balloon_name(const struct balloon *b);

/* Control. Return 0 or -errno (-EINVAL bad value, -ENODEV not connected,
 * -ERANGE below the guest's floor: refused, logged, target unchanged);
 * balloon_set_target keeps a target set before the driver comes. */
int balloon_set_target(struct balloon *b, uint64_t guest_bytes);
/* The floor in force (bytes; 0 while the guest's RAM size is unknown). */
uint64_t balloon_floor(const struct balloon *b);
void balloon_get_info(struct balloon *b, struct balloon_info *info);
void balloon_get_stats(struct balloon *b, struct balloon_stats *st);
/* Bytes of the shared guest RAM backed by PMD-size huge pages in the host
 * right now (the RAM file's THP state).  Measured on each call (mincore +
 * one fault per resident 2 MiB; see balloon_thp.c): for on-demand queries,
 * not for events.  0 or -errno (-ENODEV: no guest memory). */
int balloon_ram_thp(struct balloon *b, uint64_t *bytes);
int balloon_set_stats_interval(struct balloon *b, unsigned secs);
int balloon_request_stats(struct balloon *b);	/* ask the guest now */

/* Free page hints (balloon_hint.c: the command-id protocol). */
int balloon_hint_start(struct balloon *b);	/* new round; returns cmd id or -errno */
int balloon_hint_stop(struct balloon *b);	/* host STOP */
int balloon_hint_done(struct balloon *b);	/* DONE: guest may free hint pages */
/* Iterate the hinted set as merged ranges of guest-physical bytes. */
typedef void (*balloon_range_cb)(uint64_t gpa, uint64_t len, void *opaque);
void balloon_hint_ranges(struct balloon *b, balloon_range_cb cb, void *opaque);

/* What must outlive the daemon (state.c writes it to --state-dir). */
struct balloon_saved {
	uint64_t ram_size;		/* bytes, 0 = not known */
	uint64_t target;		/* bytes, valid with target_set */
	bool target_set;
	bool connected;			/* a driver was there */
	uint32_t actual_pages;		/* what its balloon held */
	uint64_t features;		/* what it negotiated */
};
void balloon_save(struct balloon *b, struct balloon_saved *s);
/* At start, from a saved state: the target and RAM size come back; pages a
 * driver held then are reported as held by a guest whose driver has not
 * come back (no frontend can reattach to a restarted daemon's device). */
void balloon_restore(struct balloon *b, const struct balloon_saved *s);

/* Events to the control plane (QMP BALLOON_CHANGE etc.). */
enum balloon_event {
	BALLOON_EV_CHANGE,		/* actual changed */
	BALLOON_EV_CONNECTED,
	BALLOON_EV_DISCONNECTED,
	BALLOON_EV_BROKEN,
	BALLOON_EV_HINT_DONE,		/* a hint round stopped */
};
typedef void (*balloon_event_cb)(struct balloon *b, enum balloon_event ev, void *opaque);
/* Where b's events go (NULL: nowhere); the registry sets it (guests.h). */
void balloon_set_event_cb(struct balloon *b, balloon_event_cb cb, void *opaque);

#endif /* VB_BALLOON_H */
