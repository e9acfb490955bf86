// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * broker.c - one tick of the broker: poll the endpoints, read the host,
 * run the control law over every managed guest, set the targets it
 * decides (or only log them, dry run), one log line per decision.
 *
 * A guest that is down, broken, silent (stale stats) or paused is left
 * alone: it keeps its size, which still counts against the budget.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "frontend.h"

const char *const guest_status_name[G_STATUSES] = {
	[G_OK] = "ok", [G_STALE] = "stale", [G_DOWN] = "down",
	[G_BROKEN] = "broken", [G_NO_STATS] = "no-stats",
};

#define MIB(x)	((x) >> 20)

uint64_t broker_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void broker_setup(struct broker *b)
{
	unsigned i;

	for (i = 0; i < b->cfg.nendpoints && i < CFG_MAX_ENDPOINTS; i++) {
		struct endpoint *e = &b->eps[i];

		memset(e, 0, sizeof(*e));
		e->cfg = b->cfg.endpoints[i];
		frontend_default_name(&e->cfg);
		qmp_init(&e->q);
	}
	b->neps = i;
}

void broker_shutdown(struct broker *b)
{
	unsigned i;

	for (i = 0; i < b->neps; i++)
		qmp_close(&b->eps[i].q);
}

/* The host's memory PSI over its threshold (docs/broker.md, "Host
 * pressure"); a kernel without PSI never is. */
static bool host_under_pressure(const struct broker *b)
{
	return b->cfg.host_psi > 0 && b->host.psi && b->host.some_avg10 >= b->cfg.host_psi;
}

static uint64_t effective_budget(struct broker *b)
{
	uint64_t sum = 0;
	unsigned i;

	if (hostmem_read(&b->host))
		b->host.avail = 0;		/* unknown: the configured budget alone */
	b->host_pressure = host_under_pressure(b);
	for (i = 0; i < b->nguests; i++)
		if (b->guests[i].status != G_DOWN)
			sum += b->guests[i].actual;
	return law_budget(b->cfg.budget, sum, b->host.avail, b->cfg.host_reserve,
			  b->host_pressure);
}

static void log_status(struct guest *g)
{
	static const char *const why[G_STATUSES] = {
		[G_OK] = "managed", [G_STALE] = "stats stopped: left alone",
		[G_DOWN] = "not connected: left alone", [G_BROKEN] = "device broken: left alone",
		[G_NO_STATS] = "no usable stats: left alone",
	};

	if (g->status == g->logged_status)
		return;
	vb_info("guest %s: %s (RAM %" PRIu64 " MiB, actual %" PRIu64 " MiB)", g->name,
		why[g->status], MIB(g->ram), MIB(g->actual));
	g->logged_status = g->status;
}

/* What a guest holds against the budget: its set target when managed, else
 * its actual size; nothing when it is gone. */
static uint64_t guest_size(const struct guest *g)
{
	return g->status == G_DOWN ? 0 : g->managed ? g->law.target : g->actual;
}

/* A claim that keeps the guest where it is. */
static void fixed_claim(const struct guest *g, struct law_claim *c)
{
	uint64_t size = guest_size(g);

	*c = (struct law_claim){ .want = size, .floor = size, .ceiling = size, .weight = 1 };
}

static void guest_plan(struct broker *b, struct guest *g, uint64_t now, struct law_claim *c)
{
	struct law_sample s;

	config_params(&b->cfg, g->name, g->ram, &g->params, &g->paused);
	/* Never plan below what the device accepts. */
	if (g->params.floor < g->device_floor)
		g->params.floor = g->device_floor;
	if (g->params.ceiling < g->params.floor)
		g->params.ceiling = g->params.floor;
	log_status(g);
	if (g->status != G_OK) {
		g->managed = false;
		fixed_claim(g, c);
		return;
	}
	if (!g->managed) {
		law_state_init(&g->law, g->actual, now);
		g->managed = true;
		vb_info("guest %s: floor %" PRIu64 " MiB, ceiling %" PRIu64 " MiB, weight %u",
			g->name, MIB(g->params.floor), MIB(g->params.ceiling), g->params.weight);
	}
	s = g->stats.s;
	s.t_ms = now;
	s.stats_ms = g->stats_seen_ms;
	s.actual = g->actual;
	s.host_pressure = b->host_pressure;
	g->want = law_want(&g->params, &g->law, &s);
	if (g->paused || b->paused) {
		fixed_claim(g, c);
		return;
	}
	*c = (struct law_claim){ .want = g->want.want, .floor = g->params.floor,
				 .ceiling = g->params.ceiling, .weight = g->params.weight };
}

/* A grow in flight: log how long the guest waited for its memory. */
static void track_grow(struct guest *g, uint64_t now)
{
	if (!g->grow_ms || g->actual + g->params.min_change < g->grow_target)
		return;
	g->last_reach_ms = now - g->grow_ms;
	vb_info("guest %s: reached %" PRIu64 " MiB %" PRIu64 " ms after the decision",
		g->name, MIB(g->actual), g->last_reach_ms);
	g->grow_ms = 0;
}

static enum law_reason decision_reason(const struct guest *g, const struct law_claim *c)
{
	uint64_t asked = g->want.want;

	asked = asked < c->floor ? c->floor : asked > c->ceiling ? c->ceiling : asked;
	if (c->grant < asked || g->want.reason == LAW_HOLD)
		return LAW_BUDGET;
	return g->want.reason;
}

static void log_decision(const struct broker *b, const struct guest *g, uint64_t from,
			 uint64_t to)
{
	const struct law_sample *s = &g->stats.s;

	vb_info("%sguest %s: target %" PRIu64 " -> %" PRIu64 " MiB, reason %s "
		"(actual %" PRIu64 ", available %" PRId64 ", free %" PRId64 ", want %" PRIu64 " MiB)",
		b->dry_run ? "dry run: " : "", g->name, MIB(from), MIB(to),
		law_reason_name[g->reason], MIB(g->actual),
		s->avail < 0 ? -1 : (int64_t)MIB((uint64_t)s->avail),
		s->free < 0 ? -1 : (int64_t)MIB((uint64_t)s->free), MIB(g->want.want));
}

static void guest_act(struct broker *b, struct guest *g, const struct law_claim *c,
		      uint64_t now)
{
	uint64_t from = g->law.target, to;

	g->grant = c->grant;
	if (g->status != G_OK || g->paused || b->paused)
		return;
	if (!b->dry_run)
		track_grow(g, now);
	to = law_commit(&g->params, &g->law, c->grant,
			law_reason_is_pressure(g->want.reason), now);
	if (!to)
		return;
	g->reason = decision_reason(g, c);
	b->decisions++;
	log_decision(b, g, from, to);
	if (b->dry_run)
		return;
	frontend_set_target(b, g, to);
	/* A grow is timed from the first decision of a run of grows: the
	 * time the guest waited since the broker first saw its need. */
	if (to > from) {
		if (!g->grow_ms)
			g->grow_ms = now;
		g->grow_target = to;
	} else {
		g->grow_ms = 0;
	}
}

/* What a guest holds on the host now: a shrink in flight (actual above the
 * target until the balloon has inflated) or a guest that deflated itself
 * still holds its actual size. */
static uint64_t guest_held(const struct guest *g)
{
	uint64_t size = guest_size(g);

	return g->status != G_DOWN && g->actual > size ? g->actual : size;
}

static void guest_grow(struct broker *b, unsigned i, struct law_claim *c, uint64_t now)
{
	struct guest *g = &b->guests[i];
	uint64_t others = 0;
	unsigned j;

	for (j = 0; j < b->nguests; j++)
		if (j != i)
			others += guest_held(&b->guests[j]);
	c->grant = law_fit(c->grant, guest_size(g), others, b->budget);
	guest_act(b, g, c, now);
}

void broker_tick(struct broker *b)
{
	struct law_claim claims[BROKER_MAX_GUESTS];
	uint64_t now = broker_now_ms();
	unsigned i;

	for (i = 0; i < b->neps; i++)
		frontend_poll(b, &b->eps[i], now);
	b->budget = effective_budget(b);
	now = broker_now_ms();
	for (i = 0; i < b->nguests; i++)
		guest_plan(b, &b->guests[i], now, &claims[i]);
	law_divide(claims, b->nguests, b->budget);
	/* Shrinks first, then grows into what the shrinks really freed. */
	for (i = 0; i < b->nguests; i++)
		if (claims[i].grant < guest_size(&b->guests[i]))
			guest_act(b, &b->guests[i], &claims[i], now);
	for (i = 0; i < b->nguests; i++)
		if (claims[i].grant >= guest_size(&b->guests[i]))
			guest_grow(b, i, &claims[i], now);
	if (b->cfg.metrics[0])
		broker_write_metrics(b, b->cfg.metrics);
}
