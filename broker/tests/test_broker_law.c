// SPDX-License-Identifier: GPL-2.0-or-later
/* test_broker_law.c - the control law with synthetic guests and clocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../src/law.h"

#define MIB	LAW_MIB
#define RAM	(512 * MIB)

static struct law_params params(void)
{
	return (struct law_params){
		.floor = 128 * MIB, .ceiling = RAM, .weight = 1, .headroom = 32 * MIB,
		.min_change = 8 * MIB, .shrink_step = 128 * MIB, .grow_step = 128 * MIB,
		.quiet_ms = 2000, .shrink_gap_ms = 1000, .cache_quiet_ms = 10000,
		.refault_rate = 100, .max_resizes = 12, .reclaim_cache = true,
		.lookahead_ms = 1000,
	};
}

/* A guest using `used` bytes of anonymous memory and `cache` of page
 * cache, the rest of `actual` free; stats fresh at t. */
static struct law_sample sample(uint64_t t, uint64_t actual, uint64_t used, uint64_t cache)
{
	uint64_t fr = actual > used + cache ? actual - used - cache : 0;

	return (struct law_sample){
		.t_ms = t, .stats_ms = t, .actual = actual, .free = (int64_t)fr,
		.avail = (int64_t)(fr + cache), .caches = (int64_t)cache,
		.majflt = 0, .swapin = 0, .stalls = -1, .oom_kills = -1,
	};
}

static struct law_want want_of(const struct law_params *p, struct law_state *s,
			       struct law_sample c)
{
	return law_want(p, s, &c);
}

static void test_idle_guest_waits_quiet_then_reclaims_free(void **st)
{
	struct law_params p = params();
	struct law_state s;
	struct law_want w;

	law_state_init(&s, RAM, 1000);
	w = want_of(&p, &s, sample(1500, RAM, 40 * MIB, 0));
	assert_int_equal(w.reason, LAW_HOLD);		/* quiet not over */
	assert_int_equal(w.want, RAM);
	w = want_of(&p, &s, sample(3000, RAM, 40 * MIB, 0));
	assert_int_equal(w.reason, LAW_RECLAIM_FREE);
	assert_int_equal(w.want, RAM - 128 * MIB);	/* one shrink step */
}

static void test_shrink_stops_at_headroom(void **st)
{
	struct law_params p = params();
	struct law_state s;
	struct law_want w;

	law_state_init(&s, 200 * MIB, 0);
	w = want_of(&p, &s, sample(5000, 200 * MIB, 150 * MIB, 0));	/* 50 MiB free */
	assert_int_equal(w.reason, LAW_RECLAIM_FREE);
	assert_int_equal(w.want, 182 * MIB);		/* keeps 32 MiB free */
	law_state_init(&s, 200 * MIB, 0);		/* steady under the headroom */
	w = want_of(&p, &s, sample(6000, 200 * MIB, 180 * MIB, 0));	/* 20 MiB free */
	assert_int_equal(w.reason, LAW_HOLD);
}

static void test_low_available_grows_at_once(void **st)
{
	struct law_params p = params();
	struct law_state s;
	struct law_want w;

	law_state_init(&s, 200 * MIB, 0);
	w = want_of(&p, &s, sample(100, 200 * MIB, 190 * MIB, 0));	/* 10 MiB < headroom / 2 */
	assert_int_equal(w.reason, LAW_P_LOW_AVAIL);
	assert_int_equal(w.want, 200 * MIB + 128 * MIB);
	assert_int_equal(s.last_pressure_ms, 100);
	/* No shrink for a quiet period after pressure, however much is free. */
	w = want_of(&p, &s, sample(1500, 200 * MIB, 20 * MIB, 0));
	assert_int_equal(w.reason, LAW_HOLD);
}

static void test_grow_covers_twice_the_deficit(void **st)
{
	struct law_params p = params();
	struct law_state s;
	struct law_want w;

	p.headroom = 200 * MIB;
	p.grow_step = 16 * MIB;
	law_state_init(&s, 300 * MIB, 0);
	w = want_of(&p, &s, sample(100, 300 * MIB, 290 * MIB, 0));	/* 10 MiB available */
	assert_int_equal(w.reason, LAW_P_LOW_AVAIL);
	assert_int_equal(w.want, 300 * MIB + 2 * 190 * MIB);
}

/* 40 MiB available, falling 20 MiB per 250 ms: under headroom/2 within
 * the lookahead, so pressure now, and a grow that covers the projection. */
static void test_falling_available_is_pressure(void **st)
{
	struct law_params p = params();
	struct law_state s;
	struct law_sample c;
	struct law_want w;

	law_state_init(&s, 200 * MIB, 0);
	c = sample(1000, 200 * MIB, 140 * MIB, 0);	/* 60 MiB available */
	assert_false(law_reason_is_pressure(law_want(&p, &s, &c).reason));
	w = want_of(&p, &s, sample(1250, 200 * MIB, 160 * MIB, 0));	/* 40 MiB: falling */
	assert_int_equal(w.reason, LAW_P_FALLING);
	assert_int_equal(w.want, 200 * MIB + 2 * 80 * MIB);
	/* The same fall while the balloon inflates by as much is not the
	 * guest's: no pressure (else every shrink would undo itself). */
	law_state_init(&s, 200 * MIB, 0);
	c = sample(1000, 240 * MIB, 140 * MIB, 0);
	law_want(&p, &s, &c);
	c = sample(1250, 220 * MIB, 140 * MIB, 0);
	assert_false(law_reason_is_pressure(law_want(&p, &s, &c).reason));
	/* Stats a tick behind actual at the end of an inflate: actual has
	 * stopped, MemAvailable is still falling.  Not the guest's either. */
	law_state_init(&s, 300 * MIB, 0);
	assert_int_equal(law_commit(&p, &s, 200 * MIB, false, 1000), 200 * MIB);
	c = sample(1250, 200 * MIB, 140 * MIB, 0);	/* settled at 1250 */
	c.avail = 100 * MIB;
	c.stats_ms = 1000;				/* taken while inflating */
	law_want(&p, &s, &c);
	c = sample(1500, 200 * MIB, 140 * MIB, 0);
	c.avail = 40 * MIB;				/* the lagging reading */
	assert_false(law_reason_is_pressure(law_want(&p, &s, &c).reason));
}

/* Plenty free, but falling by 60 MiB/s: no shrink (a workload ramping up
 * after its first grow would otherwise lose what it is about to use). */
static void test_no_shrink_while_available_falls(void **st)
{
	struct law_params p = params();
	struct law_state s;
	struct law_want w;

	law_state_init(&s, RAM, 0);
	want_of(&p, &s, sample(5000, RAM, 200 * MIB, 0));
	w = want_of(&p, &s, sample(6000, RAM, 260 * MIB, 0));
	assert_int_equal(w.reason, LAW_HOLD);
	w = want_of(&p, &s, sample(7000, RAM, 260 * MIB, 0));	/* steady again */
	assert_int_equal(w.reason, LAW_RECLAIM_FREE);
}

static void test_major_fault_rate_is_pressure(void **st)
{
	struct law_params p = params();
	struct law_state s;
	struct law_sample c;
	struct law_want w;

	law_state_init(&s, 300 * MIB, 0);
	c = sample(1000, 300 * MIB, 100 * MIB, 0);
	c.majflt = 1000;
	law_want(&p, &s, &c);
	c.t_ms = 1250;
	c.majflt = 1020;			/* 80/s: under 100/s */
	w = law_want(&p, &s, &c);
	assert_false(law_reason_is_pressure(w.reason));
	c.t_ms = 1500;
	c.majflt = 1040;
	c.swapin = 10;				/* 20 + 10 in 250 ms: 120/s */
	w = law_want(&p, &s, &c);
	assert_int_equal(w.reason, LAW_P_REFAULTS);
}

static void test_counters_going_backwards_are_not_pressure(void **st)
{
	struct law_params p = params();
	struct law_state s;
	struct law_sample c;
	struct law_want w;

	law_state_init(&s, 300 * MIB, 0);
	c = sample(1000, 300 * MIB, 100 * MIB, 0);
	c.majflt = 1000000;
	c.stalls = 50;
	c.oom_kills = 3;
	law_want(&p, &s, &c);
	c = sample(1250, 300 * MIB, 100 * MIB, 0);	/* driver reloaded: counts restart */
	c.majflt = 5;
	c.stalls = 0;
	c.oom_kills = 0;
	w = law_want(&p, &s, &c);
	assert_false(law_reason_is_pressure(w.reason));
	c.t_ms = 1500;
	c.majflt = -1;				/* stopped reporting */
	w = law_want(&p, &s, &c);
	assert_false(law_reason_is_pressure(w.reason));
}

static void test_stalls_and_oom_kills_are_pressure(void **st)
{
	struct law_params p = params();
	struct law_state s;
	struct law_sample c;

	law_state_init(&s, 300 * MIB, 0);
	c = sample(1000, 300 * MIB, 100 * MIB, 0);
	c.stalls = 7;
	c.oom_kills = 0;
	law_want(&p, &s, &c);
	c.t_ms = 1250;
	c.stalls = 8;
	assert_int_equal(law_want(&p, &s, &c).reason, LAW_P_STALLS);
	c.t_ms = 1500;
	c.oom_kills = 1;
	assert_int_equal(law_want(&p, &s, &c).reason, LAW_P_OOM);
}

/* An inflate over page cache: the guest reclaims it and the balloon's own
 * allocations stall.  Stalls and refaults counted until stats fresh from
 * after the balloon settled are the shrink's doing, not pressure (the
 * overcommit bench grew every such guest straight back); once settled
 * they are pressure again, and so is a stall while a grow is in flight. */
static void test_stalls_made_by_a_shrink_are_not_pressure(void **st)
{
	struct law_params p = params();
	struct law_state s;
	struct law_sample c;

	law_state_init(&s, 200 * MIB, 0);
	c = sample(20000, 200 * MIB, 50 * MIB, 120 * MIB);
	c.stalls = 0;
	c.oom_kills = 0;
	assert_int_equal(law_want(&p, &s, &c).reason, LAW_RECLAIM_CACHE);
	assert_int_equal(law_commit(&p, &s, 136 * MIB, false, 20000), 136 * MIB);
	c = sample(20250, 150 * MIB, 50 * MIB, 90 * MIB);	/* inflating */
	c.stalls = 40;
	c.majflt = 500;
	c.oom_kills = 0;
	assert_false(law_reason_is_pressure(law_want(&p, &s, &c).reason));
	c = sample(20500, 136 * MIB, 50 * MIB, 80 * MIB);	/* settled */
	c.stats_ms = 20250;				/* stats of the inflate */
	c.stalls = 60;
	c.majflt = 900;
	c.oom_kills = 0;
	assert_false(law_reason_is_pressure(law_want(&p, &s, &c).reason));
	c.t_ms = c.stats_ms = 20750;			/* fresh, still the inflate's counts */
	c.stalls = 70;
	assert_false(law_reason_is_pressure(law_want(&p, &s, &c).reason));
	c.t_ms = c.stats_ms = 21000;			/* the guest stalls on its own */
	c.stalls = 71;
	assert_int_equal(law_want(&p, &s, &c).reason, LAW_P_STALLS);
	c.t_ms = c.stats_ms = 21250;
	c.oom_kills = 1;
	assert_int_equal(law_want(&p, &s, &c).reason, LAW_P_OOM);

	/* A grow in flight: stalls are the guest waiting for its memory. */
	assert_int_equal(law_commit(&p, &s, 300 * MIB, true, 21250), 300 * MIB);
	c.t_ms = c.stats_ms = 21500;
	c.actual = 200 * MIB;
	c.stalls = 72;
	assert_int_equal(law_want(&p, &s, &c).reason, LAW_P_STALLS);
}

/* deflate-on-oom: the guest took memory back without asking. */
static void test_guest_deflating_itself_is_pressure(void **st)
{
	struct law_params p = params();
	struct law_state s;
	struct law_sample c;
	struct law_want w;

	law_state_init(&s, 150 * MIB, 0);
	c = sample(1000, 150 * MIB, 100 * MIB, 0);
	law_want(&p, &s, &c);
	w = want_of(&p, &s, sample(1250, 154 * MIB, 120 * MIB, 0));	/* 4 MiB deflated on OOM */
	assert_int_equal(w.reason, LAW_P_DEFLATED);
	assert_int_equal(w.want, 154 * MIB + 128 * MIB);
}

/* After a shrink the balloon inflates: actual falls toward the target.
 * That is neither pressure nor room for another shrink, and neither are
 * stats older than the moment the balloon settled. */
static void test_no_second_shrink_before_fresh_stats(void **st)
{
	struct law_params p = params();
	struct law_state s;
	struct law_sample c;
	struct law_want w;

	law_state_init(&s, RAM, 0);
	assert_int_equal(law_commit(&p, &s, 384 * MIB, false, 5000), 384 * MIB);
	w = want_of(&p, &s, sample(5250, 450 * MIB, 40 * MIB, 0));	/* inflating */
	assert_int_equal(w.reason, LAW_HOLD);
	c = sample(6500, 384 * MIB, 40 * MIB, 0);	/* settled at 6500 */
	c.stats_ms = 4000;			/* but stats from before the shrink */
	c.free = 470 * MIB;
	w = law_want(&p, &s, &c);
	assert_int_equal(w.reason, LAW_HOLD);
	w = want_of(&p, &s, sample(6750, 384 * MIB, 40 * MIB, 0));	/* fresh stats */
	assert_int_equal(w.reason, LAW_RECLAIM_FREE);
	assert_int_equal(w.want, 256 * MIB);
}

static void test_cache_only_after_long_quiet(void **st)
{
	struct law_params p = params();
	struct law_state s;
	struct law_sample c;
	struct law_want w;

	law_state_init(&s, 300 * MIB, 0);
	w = want_of(&p, &s, sample(3000, 300 * MIB, 100 * MIB, 170 * MIB));	/* 30 MiB free */
	assert_int_equal(w.reason, LAW_HOLD);			/* free < headroom */
	c = sample(10000, 300 * MIB, 100 * MIB, 170 * MIB);
	w = law_want(&p, &s, &c);
	assert_int_equal(w.reason, LAW_RECLAIM_CACHE);
	assert_int_equal(w.want, 300 * MIB - 128 * MIB);	/* one step */
	p.reclaim_cache = false;
	c.t_ms = c.stats_ms = 11000;
	assert_int_equal(law_want(&p, &s, &c).reason, LAW_HOLD);
}

static struct law_claim claim(uint64_t want, uint64_t floor, uint64_t ceiling, unsigned w)
{
	return (struct law_claim){ .want = want, .floor = floor, .ceiling = ceiling, .weight = w };
}

/* Host memory pressure: idle memory is taken after the shrink gap instead
 * of the quiet period, page cache after the quiet period instead of the
 * long one; the same guest without host pressure waits. */
static void test_host_pressure_reclaims_sooner(void **st)
{
	struct law_params p = params();
	struct law_state calm, hot;
	struct law_sample c;

	law_state_init(&calm, 300 * MIB, 1000);
	law_state_init(&hot, 300 * MIB, 1000);
	c = sample(2100, 300 * MIB, 100 * MIB, 0);		/* 1.1 s quiet */
	assert_int_equal(law_want(&p, &calm, &c).reason, LAW_HOLD);
	c.host_pressure = true;
	assert_int_equal(law_want(&p, &hot, &c).reason, LAW_RECLAIM_FREE);
	assert_int_equal(law_want(&p, &hot, &c).want, 300 * MIB - 128 * MIB);

	law_state_init(&calm, 300 * MIB, 1000);
	law_state_init(&hot, 300 * MIB, 1000);
	c = sample(3500, 300 * MIB, 100 * MIB, 170 * MIB);	/* 30 MiB free, 2.5 s quiet */
	assert_int_equal(law_want(&p, &calm, &c).reason, LAW_HOLD);
	c.host_pressure = true;
	assert_int_equal(law_want(&p, &hot, &c).reason, LAW_RECLAIM_CACHE);
	/* The guest's own pressure still counts: none of it is taken then. */
	c = sample(3600, 300 * MIB, 280 * MIB, 0);		/* 20 MiB free: pressure */
	c.host_pressure = true;
	assert_true(law_reason_is_pressure(law_want(&p, &hot, &c).reason));
	c = sample(4000, 300 * MIB, 100 * MIB, 0);
	c.host_pressure = true;
	assert_int_equal(law_want(&p, &hot, &c).reason, LAW_HOLD);
}

/* The budget: configured, capped by what the host can give, and under host
 * pressure by what the guests have now (no net growth). */
static void test_budget_host_cap_and_pressure(void **st)
{
	const uint64_t G = 1024 * MIB, res = 256 * MIB;

	assert_int_equal(law_budget(2 * G, G, 8 * G, res, false), 2 * G);
	assert_int_equal(law_budget(2 * G, G, 512 * MIB, res, false), G + 256 * MIB);
	assert_int_equal(law_budget(0, G, 512 * MIB, res, false), G + 256 * MIB);
	assert_int_equal(law_budget(2 * G, G, 0, res, false), 2 * G);	/* host unknown */
	assert_int_equal(law_budget(0, G, 0, res, false), 0);		/* none */
	assert_int_equal(law_budget(2 * G, G, 8 * G, res, true), G);
	assert_int_equal(law_budget(0, G, 8 * G, res, true), G);
	assert_int_equal(law_budget(512 * MIB, G, 8 * G, res, true), 512 * MIB);
}

/* Under host pressure a guest under pressure grows only by what another
 * gives back: the sum stays at what the guests had. */
static void test_host_pressure_growth_paid_by_the_others(void **st)
{
	struct law_claim c[2] = {
		claim(400 * MIB, 128 * MIB, RAM, 1),	/* was 300, under pressure */
		claim(300 * MIB, 128 * MIB, RAM, 1),	/* holds at 300 */
	};
	uint64_t budget = law_budget(0, 600 * MIB, 8192 * MIB, 256 * MIB, true);

	assert_int_equal(law_divide(c, 2, budget), 600 * MIB);
	assert_int_equal(c[0].grant, 300 * MIB);
	c[1].want = 200 * MIB;				/* it reclaims 100 */
	assert_int_equal(law_divide(c, 2, budget), 600 * MIB);
	assert_int_equal(c[0].grant, 400 * MIB);
	assert_int_equal(c[1].grant, 200 * MIB);
	/* Without host pressure the host's MemAvailable pays for it. */
	budget = law_budget(0, 600 * MIB, 8192 * MIB, 256 * MIB, false);
	c[1].want = 300 * MIB;
	assert_int_equal(law_divide(c, 2, budget), 700 * MIB);
}

/* A grow takes only what the other guests' set targets leave: a shrink
 * refused by the rate limit does not free what the division counted on. */
static void test_fit_grow_to_set_targets(void **st)
{
	const uint64_t budget = 1365 * MIB;

	/* Planned: 136 + 409 x 3; set: 136 + 512 + 512 (refused shrinks). */
	assert_int_equal(law_fit(409 * MIB, 136 * MIB, 1160 * MIB, budget), 205 * MIB);
	assert_int_equal(law_fit(409 * MIB, 136 * MIB, 500 * MIB, budget), 409 * MIB);
	assert_int_equal(law_fit(409 * MIB, 136 * MIB, 1400 * MIB, budget), 136 * MIB);
	assert_int_equal(law_fit(100 * MIB, 136 * MIB, 1400 * MIB, budget), 100 * MIB);
	assert_int_equal(law_fit(409 * MIB, 136 * MIB, 1400 * MIB, 0), 409 * MIB);
}

static void test_unknown_free_never_shrinks(void **st)
{
	struct law_params p = params();
	struct law_state s;
	struct law_sample c;

	law_state_init(&s, RAM, 0);
	c = sample(60000, RAM, 10 * MIB, 0);
	c.free = -1;
	c.avail = -1;
	assert_int_equal(law_want(&p, &s, &c).reason, LAW_HOLD);
	assert_int_equal(law_want(&p, &s, &c).want, RAM);
}

static void test_divide_under_budget_grants_wants_within_bounds(void **st)
{
	struct law_claim c[3] = {
		claim(300, 100, 1000, 1), claim(10, 100, 1000, 1), claim(5000, 100, 1000, 1),
	};

	assert_int_equal(law_divide(c, 3, 0), 300 + 100 + 1000);
	assert_int_equal(c[0].grant, 300);
	assert_int_equal(c[1].grant, 100);	/* never below the floor */
	assert_int_equal(c[2].grant, 1000);	/* never above the ceiling */
	assert_int_equal(law_divide(c, 3, 1400), 1400);
}

static void test_divide_over_budget_by_weight(void **st)
{
	struct law_claim c[2] = { claim(1000, 100, 1000, 1), claim(1000, 100, 1000, 3) };

	assert_int_equal(law_divide(c, 2, 1000), 1000);
	assert_int_equal(c[0].grant, 100 + 200);
	assert_int_equal(c[1].grant, 100 + 600);
}

static void test_divide_leftover_goes_to_the_others(void **st)
{
	struct law_claim c[3] = {
		claim(150, 100, 1000, 1), claim(1000, 100, 1000, 1), claim(1000, 100, 1000, 1),
	};

	/* 600 over floors: 200 each, the first needs only 50: 75 more each. */
	law_divide(c, 3, 900);
	assert_int_equal(c[0].grant, 150);
	assert_in_range(c[1].grant, 374, 375);
	assert_in_range(c[2].grant, 374, 375);
}

static void test_divide_floors_above_budget_still_get_floors(void **st)
{
	struct law_claim c[2] = { claim(1000, 400, 1000, 1), claim(1000, 400, 1000, 5) };

	assert_int_equal(law_divide(c, 2, 500), 800);
	assert_int_equal(c[0].grant, 400);
	assert_int_equal(c[1].grant, 400);
}

static void test_commit_hysteresis_and_rate_limits(void **st)
{
	struct law_params p = params();
	struct law_state s;
	uint64_t t = 1000, target = RAM;
	unsigned n;

	law_state_init(&s, RAM, 0);
	assert_int_equal(law_commit(&p, &s, RAM - 4 * MIB, false, t), 0);	/* < min_change */
	/* Shrinks: at most half the per-minute budget. */
	for (n = 0; n < 20; n++, t += 1000)
		if (law_commit(&p, &s, target - 10 * MIB, false, t))
			target -= 10 * MIB;
	assert_int_equal(s.resizes, 6);
	/* A shrink under pressure is never made. */
	assert_int_equal(law_commit(&p, &s, 100 * MIB, true, t + LAW_MINUTE_MS), 0);
	/* Grows may use the rest. */
	for (n = 0; n < 20; n++, t += 1000)
		if (law_commit(&p, &s, target + 10 * MIB, true, t))
			target += 10 * MIB;
	assert_int_equal(law_recent_resizes(&s, t, false), 12);
	assert_int_equal(law_recent_resizes(&s, t, true), 6);
	/* A minute later the window is empty again. */
	assert_int_equal(law_recent_resizes(&s, t + LAW_MINUTE_MS, false), 0);
	assert_int_equal(law_commit(&p, &s, target - 50 * MIB, false, t + LAW_MINUTE_MS),
			 target - 50 * MIB);
}

/* Grows do not use the shrinks' half: a guest grown for a phase of load
 * gives its memory back after it (with grows counted, four grows left two
 * shrinks); all resizes together stay within max_resizes. */
static void test_grows_leave_the_shrinks_their_half(void **st)
{
	struct law_params p = params();
	struct law_state s;
	uint64_t t = 1000, target = 256 * MIB;
	unsigned n;

	law_state_init(&s, target, 0);
	for (n = 0; n < 4; n++, t += 1000)
		assert_int_not_equal(law_commit(&p, &s, target += 10 * MIB, true, t), 0);
	for (n = 0; n < 20; n++, t += 1000)
		if (law_commit(&p, &s, target - 10 * MIB, false, t))
			target -= 10 * MIB;
	assert_int_equal(s.resizes, 4 + 6);
	for (n = 0; n < 20; n++, t += 1000)
		if (law_commit(&p, &s, target + 10 * MIB, true, t))
			target += 10 * MIB;
	assert_int_equal(law_recent_resizes(&s, t, false), 12);
}

/* Free memory reported above the guest's size (a lying guest) wants less
 * than nothing: the division still grants the floor. */
static void test_absurd_free_stops_at_floor(void **st)
{
	struct law_params p = params();
	struct law_state s;
	struct law_sample c;
	struct law_claim cl;
	struct law_want w;

	p.shrink_step = RAM;
	law_state_init(&s, RAM, 0);
	c = sample(5000, RAM, 0, 0);
	c.free = c.avail = 100 * RAM;
	w = law_want(&p, &s, &c);
	cl = claim(w.want, p.floor, p.ceiling, 1);
	law_divide(&cl, 1, 0);
	assert_int_equal(cl.grant, p.floor);
}

/* A simulated guest whose balloon follows the target at once and whose
 * usage steps up and down: the law settles (no resize loop) and the guest
 * never runs out of available memory for longer than one tick. */
static void test_simulated_guest_settles(void **st)
{
	struct law_params p = params();
	struct law_state s;
	uint64_t actual = RAM, used = 60 * MIB, t, set, last_change = 0;
	unsigned resizes_quiet = 0;
	struct law_sample c;
	struct law_claim cl;
	struct law_want w;

	law_state_init(&s, RAM, 0);
	for (t = 250; t <= 120000; t += 250) {
		if (t == 40000)
			used = 300 * MIB;	/* a spike */
		if (t == 70000)
			used = 60 * MIB;	/* and back to idle */
		if (used + 8 * MIB > actual)
			actual = used + 8 * MIB;	/* deflate-on-oom */
		c = sample(t, actual, used, 0);
		w = law_want(&p, &s, &c);
		cl = claim(w.want, p.floor, p.ceiling, 1);
		law_divide(&cl, 1, 0);
		set = law_commit(&p, &s, cl.grant, law_reason_is_pressure(w.reason), t);
		if (set) {
			actual = set;
			last_change = t;
			if ((t > 30000 && t < 40000) || t > 110000)
				resizes_quiet++;
		}
	}
	assert_int_equal(resizes_quiet, 0);		/* settled between phases */
	assert_true(last_change < 110000);
	assert_true(actual >= used + p.headroom / 2);
	assert_true(actual <= 160 * MIB);		/* idle memory was reclaimed */
	assert_true(actual >= p.floor);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_guest_waits_quiet_then_reclaims_free),
		cmocka_unit_test(test_shrink_stops_at_headroom),
		cmocka_unit_test(test_low_available_grows_at_once),
		cmocka_unit_test(test_grow_covers_twice_the_deficit),
		cmocka_unit_test(test_falling_available_is_pressure),
		cmocka_unit_test(test_no_shrink_while_available_falls),
		cmocka_unit_test(test_major_fault_rate_is_pressure),
		cmocka_unit_test(test_counters_going_backwards_are_not_pressure),
		cmocka_unit_test(test_stalls_and_oom_kills_are_pressure),
		cmocka_unit_test(test_guest_deflating_itself_is_pressure),
		cmocka_unit_test(test_no_second_shrink_before_fresh_stats),
		cmocka_unit_test(test_stalls_made_by_a_shrink_are_not_pressure),
		cmocka_unit_test(test_cache_only_after_long_quiet),
		cmocka_unit_test(test_host_pressure_reclaims_sooner),
		cmocka_unit_test(test_budget_host_cap_and_pressure),
		cmocka_unit_test(test_host_pressure_growth_paid_by_the_others),
		cmocka_unit_test(test_fit_grow_to_set_targets),
		cmocka_unit_test(test_unknown_free_never_shrinks),
		cmocka_unit_test(test_divide_under_budget_grants_wants_within_bounds),
		cmocka_unit_test(test_divide_over_budget_by_weight),
		cmocka_unit_test(test_divide_leftover_goes_to_the_others),
		cmocka_unit_test(test_divide_floors_above_budget_still_get_floors),
		cmocka_unit_test(test_commit_hysteresis_and_rate_limits),
		cmocka_unit_test(test_grows_leave_the_shrinks_their_half),
		cmocka_unit_test(test_absurd_free_stops_at_floor),
		cmocka_unit_test(test_simulated_guest_settles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
