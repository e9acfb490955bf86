// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * law.c - the control law (docs/broker.md): grow at once on pressure,
 * shrink slowly after a quiet period, free memory before page cache, a
 * budget divided by weight between floors and ceilings, hysteresis and a
 * per-minute resize limit.  No I/O here: the unit tests drive it with
 * synthetic samples and clocks.
 */
#include "law.h"

const char *const law_reason_name[LAW_REASONS] = {
	[LAW_HOLD] = "hold",
	[LAW_RECLAIM_FREE] = "reclaim-free",
	[LAW_RECLAIM_CACHE] = "reclaim-cache",
	[LAW_P_LOW_AVAIL] = "pressure-low-available",
	[LAW_P_FALLING] = "pressure-falling-available",
	[LAW_P_REFAULTS] = "pressure-major-faults",
	[LAW_P_STALLS] = "pressure-allocation-stalls",
	[LAW_P_OOM] = "pressure-oom-kill",
	[LAW_P_DEFLATED] = "pressure-guest-deflated",
	[LAW_BUDGET] = "budget",
};

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

void law_state_init(struct law_state *s, uint64_t actual, uint64_t now_ms)
{
	*s = (struct law_state){ .target = actual, .last_pressure_ms = now_ms };
}

/* Growth of a cumulative counter; 0 when either side is unknown or it went
 * backwards (a driver reload restarts the guest's counts: a reset is not
 * pressure, the next tick measures from the new base). */
static uint64_t counter_delta(int64_t before, int64_t now)
{
	if (before < 0 || now < 0 || now < before)
		return 0;
	return (uint64_t)(now - before);
}

/* The guest gave itself memory back (deflate-on-oom): actual rose above
 * the last reading while it is above the target.  An inflate in progress
 * only lowers actual; a grow we asked for stays under the target. */
static bool guest_deflated(const struct law_state *s, const struct law_sample *c)
{
	return s->have_prev && c->actual > s->prev.actual && c->actual > s->target;
}

static unsigned last_resize(const struct law_state *s)
{
	return (s->resize_next + LAW_RESIZE_RING - 1) % LAW_RESIZE_RING;
}

static uint64_t last_resize_ms(const struct law_state *s)
{
	return s->resize_ms[last_resize(s)];
}

/* The counters between readings b and c may count the balloon's own work:
 * the last resize was a shrink, and b's stats were first seen before the
 * balloon settled from it (or it has not settled).  An inflate over page
 * cache makes the guest reclaim it, and the balloon's allocations stall in
 * direct reclaim: seen in the overcommit bench, every idle guest whose
 * cache the broker took counted allocation stalls and was grown straight
 * back, a loop that spent the shrinks' rate limit.  A guest that does need
 * the memory keeps stalling or refaulting once the balloon settled. */
static bool shrink_unsettled(const struct law_state *s, const struct law_sample *b)
{
	uint64_t last = last_resize_ms(s);

	return last && s->resize_shrank[last_resize(s)] &&
	       (s->settled_ms < last || b->stats_ms <= s->settled_ms);
}

/* Counted events: an OOM kill always; allocation stalls and refaults
 * (major faults, swap-ins) unless the balloon's inflate made them. */
static enum law_reason counter_pressure(const struct law_params *p,
					const struct law_state *s,
					const struct law_sample *c)
{
	const struct law_sample *b = &s->prev;
	uint64_t dt = c->t_ms - b->t_ms, refaults;

	if (counter_delta(b->oom_kills, c->oom_kills))
		return LAW_P_OOM;
	if (shrink_unsettled(s, b))
		return LAW_HOLD;
	if (counter_delta(b->stalls, c->stalls))
		return LAW_P_STALLS;
	refaults = counter_delta(b->majflt, c->majflt) + counter_delta(b->swapin, c->swapin);
	/* refaults / (dt / 1000) >= rate, without dividing. */
	if (refaults && refaults * 1000 >= (uint64_t)p->refault_rate * dt)
		return LAW_P_REFAULTS;
	return LAW_HOLD;
}

/* How much MemAvailable falls over the lookahead at the rate the guest's
 * own allocations took it between the last two stats reports (a reading
 * that brings no new report changes nothing: the guest answers requests
 * asynchronously).  What the balloon took is not the guest's doing:
 * counting it would make every shrink look like pressure and start a
 * resize loop.  Stats lag actual by up to a tick, so subtracting actual's
 * change is not enough while the balloon moves: the projection is made
 * only from two reports taken after it settled. */
static uint64_t fall_between(const struct law_params *p, const struct law_state *s,
			     const struct law_sample *b, const struct law_sample *c)
{
	uint64_t last = last_resize_ms(s);
	int64_t fall;

	if (c->stats_ms <= b->stats_ms || b->avail < 0 || c->avail < 0)
		return 0;
	if (last && (s->settled_ms < last || b->stats_ms <= s->settled_ms))
		return 0;
	fall = b->avail - c->avail;
	if (b->actual > c->actual)
		fall -= (int64_t)(b->actual - c->actual);
	if (fall <= 0)
		return 0;
	return (uint64_t)fall * p->lookahead_ms / (c->stats_ms - b->stats_ms);
}

static void update_fall(const struct law_params *p, struct law_state *s,
			const struct law_sample *c)
{
	if (s->have_prev && c->stats_ms == s->prev_stats.stats_ms)
		return;			/* no new report: the last projection stands */
	s->fall = s->have_prev ? fall_between(p, s, &s->prev_stats, c) : 0;
	s->prev_stats = *c;
}

static enum law_reason pressure(const struct law_params *p, const struct law_state *s,
				const struct law_sample *c)
{
	if (guest_deflated(s, c))
		return LAW_P_DEFLATED;
	if (c->avail >= 0 && (uint64_t)c->avail < p->headroom / 2)
		return LAW_P_LOW_AVAIL;
	if (c->avail >= 0 && (uint64_t)c->avail < p->headroom / 2 + s->fall)
		return LAW_P_FALLING;
	if (!s->have_prev || c->t_ms <= s->prev.t_ms)
		return LAW_HOLD;
	return counter_pressure(p, s, c);
}

/* Under pressure: at least grow_step more than the guest has or was
 * promised; twice the headroom deficit, or twice the projected fall, when
 * larger (the guest is allocating now; the next reading comes a tick
 * later). */
static uint64_t grow_want(const struct law_params *p, const struct law_state *s,
			  const struct law_sample *c)
{
	uint64_t need = max_u64(p->grow_step, 2 * s->fall);

	if (c->avail >= 0 && (uint64_t)c->avail < p->headroom)
		need = max_u64(need, 2 * (p->headroom - (uint64_t)c->avail));
	return max_u64(c->actual, s->target) + need;
}

/* The host under memory pressure needs the guests' idle memory now: the
 * quiet period shrinks to the shrink gap (the guest's own pressure still
 * counts, and the settling rules still prevent double counting), and page
 * cache is taken after the normal quiet instead of the long one.  Guests
 * with the most free memory above their headroom give the most. */
static uint64_t quiet_needed(const struct law_params *p, const struct law_sample *c)
{
	return c->host_pressure ? min_u64(p->quiet_ms, p->shrink_gap_ms) : p->quiet_ms;
}

static uint64_t cache_quiet_needed(const struct law_params *p, const struct law_sample *c)
{
	return c->host_pressure ? min_u64(p->cache_quiet_ms, p->quiet_ms) : p->cache_quiet_ms;
}

/* Memory the guest does not use beyond its headroom: free memory, and
 * after a longer quiet the page cache MemAvailable counts as reclaimable
 * (bounded by the cache the guest reports). */
static uint64_t spare(const struct law_params *p, const struct law_sample *c,
		      uint64_t quiet_ms, enum law_reason *why)
{
	uint64_t fr = (uint64_t)c->free, cache = 0;

	*why = LAW_RECLAIM_FREE;
	if (p->reclaim_cache && quiet_ms >= cache_quiet_needed(p, c) &&
	    c->avail > c->free && c->caches > 0) {
		cache = min_u64((uint64_t)(c->avail - c->free), (uint64_t)c->caches);
		*why = LAW_RECLAIM_CACHE;
	}
	if (fr + cache <= p->headroom) {
		*why = LAW_HOLD;
		return 0;
	}
	return min_u64(fr + cache - p->headroom, p->shrink_step);
}

/* The balloon got where the last resize sent it: stats read after this
 * moment account for that resize. */
static void note_settled(const struct law_params *p, struct law_state *s,
			 const struct law_sample *c)
{
	uint64_t gap = c->actual > s->target ? c->actual - s->target : s->target - c->actual;

	if (gap < p->min_change && s->settled_ms < last_resize_ms(s))
		s->settled_ms = c->t_ms;
}

/* A shrink is computed from free memory: only from stats the guest sent
 * after the balloon settled (stale stats would count memory the balloon
 * already took, and shrink twice), after a quiet period and a gap since the
 * last resize, and not while the guest's available memory is falling. */
static bool may_shrink(const struct law_params *p, const struct law_state *s,
		       const struct law_sample *c)
{
	uint64_t last = last_resize_ms(s);

	if (c->free < 0 || c->t_ms - s->last_pressure_ms < quiet_needed(p, c))
		return false;
	/* A guest still allocating (MemAvailable falling) is not idle, however
	 * much is free now: taking it would meet the allocations head on. */
	if (s->fall >= p->min_change)
		return false;
	if (last && (c->t_ms - last < p->shrink_gap_ms || s->settled_ms < last ||
		     c->stats_ms <= s->settled_ms))
		return false;
	return true;
}

static struct law_want shrink_want(const struct law_params *p, const struct law_state *s,
				   const struct law_sample *c)
{
	struct law_want w = { .want = s->target, .reason = LAW_HOLD };
	uint64_t quiet = c->t_ms - s->last_pressure_ms, sp;

	if (!may_shrink(p, s, c))
		return w;
	sp = spare(p, c, quiet, &w.reason);
	if (sp)
		w.want = c->actual > sp ? c->actual - sp : 0;
	return w;
}

struct law_want law_want(const struct law_params *p, struct law_state *s,
			 const struct law_sample *cur)
{
	struct law_want w;

	note_settled(p, s, cur);
	update_fall(p, s, cur);
	w.reason = pressure(p, s, cur);
	if (law_reason_is_pressure(w.reason)) {
		s->last_pressure_ms = cur->t_ms;
		w.want = grow_want(p, s, cur);
	} else {
		w = shrink_want(p, s, cur);
	}
	s->prev = *cur;
	s->have_prev = true;
	return w;
}

uint64_t law_budget(uint64_t configured, uint64_t guests, uint64_t host_avail,
		    uint64_t reserve, bool host_pressure)
{
	uint64_t cap = guests + host_avail;

	/* A host short of memory (its tasks stall on it) gets no more of it
	 * taken: a guest under pressure is grown only with what the others
	 * give back. */
	if (host_pressure)
		cap = guests;
	else if (!host_avail)
		return configured;
	else
		cap = cap > reserve ? cap - reserve : 0;
	return configured && configured < cap ? configured : cap;
}

static uint64_t clamp_claim(const struct law_claim *c)
{
	return min_u64(max_u64(c->want, c->floor), max_u64(c->ceiling, c->floor));
}

/* One round of weighted sharing of `rest` among claims not yet satisfied;
 * returns what it gave. */
static uint64_t share_round(struct law_claim *c, unsigned n, uint64_t rest)
{
	unsigned __int128 weights = 0;
	uint64_t given = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		if (c[i].grant < clamp_claim(&c[i]))
			weights += c[i].weight;
	if (!weights)
		return 0;
	for (i = 0; i < n; i++) {
		uint64_t gap = clamp_claim(&c[i]) - c[i].grant, share;

		if (!gap)
			continue;
		share = (uint64_t)((unsigned __int128)rest * c[i].weight / weights);
		share = min_u64(share, gap);
		c[i].grant += share;
		given += share;
	}
	return given;
}

uint64_t law_divide(struct law_claim *c, unsigned n, uint64_t budget)
{
	uint64_t sum = 0, floors = 0, rest, given;
	unsigned i, round;

	for (i = 0; i < n; i++) {
		c[i].grant = clamp_claim(&c[i]);
		sum += c[i].grant;
		floors += c[i].floor;
	}
	if (!budget || sum <= budget)
		return sum;
	/* Over budget: floors first (never less, even when the floors alone
	 * exceed the budget), the rest by weight, each up to its want.  A
	 * guest that wants less than its share leaves the difference to the
	 * others in the next round. */
	for (i = 0; i < n; i++)
		c[i].grant = c[i].floor;
	rest = budget > floors ? budget - floors : 0;
	for (round = 0; round < n && rest; round++) {
		given = share_round(c, n, rest);
		if (!given)
			break;
		rest -= given;
	}
	for (sum = 0, i = 0; i < n; i++)
		sum += c[i].grant;
	return sum;
}

uint64_t law_fit(uint64_t grant, uint64_t target, uint64_t others, uint64_t budget)
{
	uint64_t room = budget > others ? budget - others : 0;

	if (!budget || grant <= target)
		return grant;
	return max_u64(target, min_u64(grant, room));
}

unsigned law_recent_resizes(const struct law_state *s, uint64_t now_ms, bool shrinks_only)
{
	unsigned i, n = 0;

	for (i = 0; i < LAW_RESIZE_RING; i++)
		if (s->resize_ms[i] && now_ms - s->resize_ms[i] < LAW_MINUTE_MS &&
		    (!shrinks_only || s->resize_shrank[i]))
			n++;
	return n;
}

uint64_t law_commit(const struct law_params *p, struct law_state *s,
		    uint64_t grant, bool pressure_now, uint64_t now_ms)
{
	uint64_t cur = s->target, diff = grant > cur ? grant - cur : cur - grant;
	bool shrink = grant < cur;

	if (!diff || diff < p->min_change)
		return 0;
	if (shrink && pressure_now)
		return 0;
	if (law_recent_resizes(s, now_ms, false) >= p->max_resizes)
		return 0;
	/* Shrinks may use only half of the per-minute budget, so a guest
	 * whose shrinks used theirs can still be grown when it needs to.
	 * Grows do not count against the shrinks' half: a guest grown for a
	 * phase of load must still give its memory back after it (the
	 * overcommit bench held guests at 256 MiB, 140 MiB of it free, for
	 * the rest of a minute: three shrinks at the start and a phase's two
	 * grows and one shrink had used six). */
	if (shrink && law_recent_resizes(s, now_ms, true) >= p->max_resizes / 2)
		return 0;
	/* 0 marks an empty ring slot; a monotonic clock at 0 is a test's. */
	s->resize_ms[s->resize_next] = now_ms ? now_ms : 1;
	s->resize_shrank[s->resize_next] = shrink;
	s->resize_next = (s->resize_next + 1) % LAW_RESIZE_RING;
	s->resizes++;
	s->target = grant;
	return grant;
}
