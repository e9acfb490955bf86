/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * law.h - the broker's control law, as pure functions of validated input
 * and time (docs/broker.md has the law and its reasons).
 *
 * A tick runs three steps:
 *   law_want()    each guest alone: how much it should have (its "want"),
 *                 and why (pressure, reclaimable free memory, cold cache);
 *   law_divide()  all guests: grants = wants cut down to the budget by
 *                 weight, never below a floor nor above a ceiling;
 *   law_commit()  each guest: hysteresis and rate limits decide whether its
 *                 grant becomes a new target now.
 * Sizes are bytes, times milliseconds of a monotonic clock.
 */
#ifndef VB_BROKER_LAW_H
#define VB_BROKER_LAW_H

#include <stdbool.h>
#include <stdint.h>

#define LAW_MIB			(1ULL << 20)
/* No guest is taken below this, whatever the config says: a Linux guest
 * squeezed under a few tens of MiB panics or live-locks in reclaim. */
#define LAW_HARD_FLOOR		(64 * LAW_MIB)
/* Resize timestamps kept per guest for the per-minute limit. */
#define LAW_RESIZE_RING		64
#define LAW_MINUTE_MS		60000ULL

/* Per-guest policy, validated (config.c resolves it against the RAM size):
 * LAW_HARD_FLOOR <= floor <= ceiling <= RAM size. */
struct law_params {
	uint64_t floor;
	uint64_t ceiling;
	unsigned weight;		/* 1..1000 */
	uint64_t headroom;		/* free memory a guest keeps */
	uint64_t min_change;		/* hysteresis: smaller moves are not made */
	uint64_t shrink_step;		/* most a guest loses in one decision */
	uint64_t grow_step;		/* least a guest gains on pressure */
	uint64_t quiet_ms;		/* pressure-free time before a shrink */
	uint64_t shrink_gap_ms;		/* time between a resize and a shrink */
	uint64_t cache_quiet_ms;	/* ... before its page cache is taken */
	unsigned refault_rate;		/* major faults + swap-ins per s = pressure */
	uint64_t lookahead_ms;		/* how far a falling MemAvailable is projected */
	unsigned max_resizes;		/* per minute */
	bool reclaim_cache;
};

/* One stats reading, validated (answers.c): -1 = not reported. */
struct law_sample {
	uint64_t t_ms;			/* when the broker read it */
	uint64_t stats_ms;		/* when these stats were first seen */
	uint64_t actual;		/* guest RAM minus balloon, bytes */
	int64_t avail, free, caches;	/* bytes */
	int64_t majflt, swapin, stalls, oom_kills;	/* cumulative counts */
	bool host_pressure;		/* the host's memory PSI is over its threshold */
};

enum law_reason {
	LAW_HOLD,		/* nothing to do */
	LAW_RECLAIM_FREE,	/* free memory above the headroom */
	LAW_RECLAIM_CACHE,	/* page cache, after a long quiet */
	LAW_P_LOW_AVAIL,	/* pressure: available memory under headroom/2 */
	LAW_P_FALLING,		/* pressure: ... or soon, at its current fall rate */
	LAW_P_REFAULTS,		/* pressure: major faults / swap-in rate */
	LAW_P_STALLS,		/* pressure: allocation stalls rose */
	LAW_P_OOM,		/* pressure: an OOM kill */
	LAW_P_DEFLATED,		/* pressure: the guest deflated itself (OOM) */
	LAW_BUDGET,		/* cut down to the host budget */
	LAW_REASONS
};

extern const char *const law_reason_name[LAW_REASONS];

static inline bool law_reason_is_pressure(enum law_reason r)
{
	return r >= LAW_P_LOW_AVAIL && r <= LAW_P_DEFLATED;
}

/* What the law remembers of a guest between ticks. */
struct law_state {
	struct law_sample prev;
	bool have_prev;
	struct law_sample prev_stats;	/* the reading where stats last changed */
	uint64_t fall;			/* projected MemAvailable fall, bytes */
	uint64_t target;		/* last target set (or would be, dry run) */
	uint64_t last_pressure_ms;
	uint64_t settled_ms;		/* actual reached target after a resize */
	uint64_t resize_ms[LAW_RESIZE_RING];
	bool resize_shrank[LAW_RESIZE_RING];	/* that resize lowered the target */
	unsigned resize_next;		/* ring index */
	uint64_t resizes;		/* total, for metrics */
};

/* One guest's input to law_divide() and its output. */
struct law_claim {
	uint64_t want;
	uint64_t floor, ceiling;
	unsigned weight;
	uint64_t grant;			/* out */
};

struct law_want {
	uint64_t want;
	enum law_reason reason;
};

void law_state_init(struct law_state *s, uint64_t actual, uint64_t now_ms);

/* Step 1.  Updates s->prev and s->last_pressure_ms. */
struct law_want law_want(const struct law_params *p, struct law_state *s,
			 const struct law_sample *cur);

/* The budget for this tick: the configured one (0 = none), capped by what
 * the host can give (the guests' current sizes `guests` plus the host's
 * MemAvailable `host_avail` minus `reserve`; host_avail 0 = unknown), and
 * under host memory pressure by the guests' current sizes: no net growth. */
uint64_t law_budget(uint64_t configured, uint64_t guests, uint64_t host_avail,
		    uint64_t reserve, bool host_pressure);

/* Step 2.  budget 0 = none.  Returns the sum of grants. */
uint64_t law_divide(struct law_claim *c, unsigned n, uint64_t budget);

/* Step 2b: the budget holds for the targets set, not only for the grants
 * planned: a shrink law_commit() refuses (rate limit, hysteresis) leaves
 * its guest above its grant, so a grow is cut to what the budget leaves
 * after `others`, the other guests' set sizes; never below `target`, the
 * guest's own set size (budget 0 = none). */
uint64_t law_fit(uint64_t grant, uint64_t target, uint64_t others, uint64_t budget);

/* Step 3: the target to set now, or 0 to leave the guest alone.  Records
 * the resize in s when it returns non-zero. */
uint64_t law_commit(const struct law_params *p, struct law_state *s,
		    uint64_t grant, bool pressure, uint64_t now_ms);

/* Resizes in the last minute (shrinks_only: only those that shrank). */
unsigned law_recent_resizes(const struct law_state *s, uint64_t now_ms, bool shrinks_only);

#endif /* VB_BROKER_LAW_H */
