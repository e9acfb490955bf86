// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * frontend.c - the broker's view of its QMP endpoints: vballoond (every
 * guest of `x-vb-list`, stats through `qom-get` on the guest's name, a
 * fresh report asked for each tick with `x-vb-stats-request`) and QEMU (one
 * guest, its virtio-balloon found with `qom-list`, stats polled by QEMU
 * every second).  An endpoint that fails is closed and retried with
 * backoff; its guests are marked down and left alone meanwhile.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "frontend.h"

/* A slow answer is not a dead endpoint: on a loaded host (2 cores, load
 * 30) vballoond's answers took more than 500 ms for minutes at a time, and
 * each timeout dropped every guest's law state.  A silent endpoint costs
 * at most this per attempt, and attempts back off to one per 16 s. */
#define QMP_TIMEOUT_MS		2000
#define BACKOFF_MIN_MS		1000
#define BACKOFF_MAX_MS		16000
#define STALE_MIN_MS		5000
#define QEMU_STATS_INTERVAL_S	1	/* QEMU's finest polling interval */

static void ep_down(struct broker *b, struct endpoint *e, const char *why)
{
	unsigned i;

	vb_log_rl(&e->rl, VB_LOG_WARN, "endpoint %s: %s; its guests are left alone",
		  e->cfg.path, why);
	for (i = 0; i < b->nguests; i++) {
		if (b->guests[i].ep != e)
			continue;
		b->guests[i].status = G_DOWN;
		b->guests[i].managed = false;
	}
	qmp_close(&e->q);
	e->backoff_ms = e->backoff_ms ? e->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (e->backoff_ms > BACKOFF_MAX_MS)
		e->backoff_ms = BACKOFF_MAX_MS;
	e->retry_ms = broker_now_ms() + e->backoff_ms;
}

/* A QMP call; a transport failure takes the endpoint down. */
static int ep_exec(struct broker *b, struct endpoint *e, const char *cmd,
		   json_object *args, json_object **ret)
{
	int err = qmp_exec(&e->q, cmd, args, ret, QMP_TIMEOUT_MS);

	if (err && err != -EREMOTEIO) {
		char why[200];

		snprintf(why, sizeof(why), "%s: %s", cmd, e->q.error);
		ep_down(b, e, why);
	}
	return err;
}

static json_object *args1(const char *k, const char *v)
{
	json_object *a = json_object_new_object();

	json_object_object_add(a, k, json_object_new_string(v));
	return a;
}

static json_object *qom_args(const char *path, const char *prop)
{
	json_object *a = args1("path", path);

	json_object_object_add(a, "property", json_object_new_string(prop));
	return a;
}

/* QEMU's balloon device: configured, else the first virtio-balloon child
 * of /machine/peripheral (has an id) or /machine/peripheral-anon. */
static int qemu_find_balloon(struct broker *b, struct endpoint *e)
{
	static const char *const dirs[] = { "/machine/peripheral", "/machine/peripheral-anon" };
	char child[64];
	json_object *r;
	unsigned i;
	int err;

	if (e->cfg.qom_path[0]) {
		snprintf(e->qom_path, sizeof(e->qom_path), "%s", e->cfg.qom_path);
		return 0;
	}
	for (i = 0; i < 2; i++) {
		err = ep_exec(b, e, "qom-list", args1("path", dirs[i]), &r);
		if (err == -EREMOTEIO)
			continue;
		if (err)
			return err;
		err = answer_balloon_child(r, child, sizeof(child));
		json_object_put(r);
		if (!err) {
			snprintf(e->qom_path, sizeof(e->qom_path), "%s/%s", dirs[i], child);
			return 0;
		}
	}
	return -ENODEV;
}

static int qemu_setup(struct broker *b, struct endpoint *e)
{
	json_object *r, *a;
	int err;

	err = qemu_find_balloon(b, e);
	if (err)
		return err;
	err = ep_exec(b, e, "query-memory-size-summary", NULL, &r);
	if (err)
		return err;
	err = answer_ram(r, &e->ram);
	json_object_put(r);
	if (err)
		return err;
	a = qom_args(e->qom_path, "guest-stats-polling-interval");
	json_object_object_add(a, "value", json_object_new_int(QEMU_STATS_INTERVAL_S));
	return ep_exec(b, e, "qom-set", a, NULL);
}

static int ep_connect(struct broker *b, struct endpoint *e, uint64_t now)
{
	int err;

	if (e->q.fd >= 0)
		return 0;
	if (now < e->retry_ms)
		return -EAGAIN;
	err = qmp_open(&e->q, e->cfg.path, QMP_TIMEOUT_MS);
	if (!err && !e->q.vballoond)
		err = qemu_setup(b, e);
	if (err) {
		ep_down(b, e, err == -ENODEV ? "no virtio-balloon device" :
			e->q.error[0] ? e->q.error : "cannot set up");
		return err;
	}
	vb_info("endpoint %s: connected (%s)", e->cfg.path,
		e->q.vballoond ? "vballoond" : "QEMU");
	e->backoff_ms = 0;
	return 0;
}

static struct guest *guest_get(struct broker *b, struct endpoint *e, const char *name)
{
	struct guest *g;
	unsigned i;

	for (i = 0; i < b->nguests; i++)
		if (b->guests[i].ep == e && !strcmp(b->guests[i].name, name))
			return &b->guests[i];
	if (b->nguests == BROKER_MAX_GUESTS) {
		vb_log_rl(&e->rl, VB_LOG_WARN, "endpoint %s: more than %d guests, '%s' ignored",
			  e->cfg.path, BROKER_MAX_GUESTS, name);
		return NULL;
	}
	g = &b->guests[b->nguests++];
	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->ep = e;
	g->status = G_DOWN;
	g->logged_status = G_STATUSES;
	vb_info("guest %s: found on %s", g->name, e->cfg.path);
	return g;
}

static bool stats_moved(const struct answer_stats *a, const struct answer_stats *b)
{
	return a->last_update != b->last_update || a->minflt != b->minflt ||
	       a->s.free != b->s.free || a->s.avail != b->s.avail ||
	       a->s.majflt != b->s.majflt;
}

/* The one place a stats answer becomes the guest's stats and status. */
static void guest_take_stats(struct broker *b, struct guest *g, json_object *r, uint64_t now)
{
	struct answer_stats st;
	int bad = answer_stats(r, g->ram, &st);
	uint64_t stale_ms = b->cfg.interval_ms * 4;

	if (bad < 0) {
		vb_log_rl(&g->rl, VB_LOG_WARN, "guest %s: stats answer without stats", g->name);
		b->bad_answers++;
		g->status = G_NO_STATS;
		return;
	}
	if (bad) {
		vb_log_rl(&g->rl, VB_LOG_WARN, "guest %s: %d stats refused (not an integer, negative or above RAM)",
			  g->name, bad);
		b->bad_answers++;
	}
	if (st.last_update >= 0 && g->stats.last_update > st.last_update)
		vb_log_rl(&g->rl, VB_LOG_WARN, "guest %s: stats time went backwards", g->name);
	if (!g->stats_seen_ms || stats_moved(&st, &g->stats))
		g->stats_seen_ms = now;
	g->stats = st;
	if (stale_ms < STALE_MIN_MS)
		stale_ms = STALE_MIN_MS;
	g->status = now - g->stats_seen_ms > stale_ms ? G_STALE : G_OK;
}

static void guest_poll_stats(struct broker *b, struct guest *g, const char *path, uint64_t now)
{
	json_object *r;
	int err = ep_exec(b, g->ep, "qom-get", qom_args(path, "guest-stats"), &r);

	if (err) {
		if (err == -EREMOTEIO)
			g->status = G_NO_STATS;	/* none reported yet */
		return;
	}
	guest_take_stats(b, g, r, now);
	json_object_put(r);
}

static void vbd_guest(struct broker *b, struct endpoint *e, const struct answer_guest *a,
		      uint64_t now)
{
	struct guest *g = guest_get(b, e, a->name);
	int err;

	if (!g)
		return;
	g->listed = true;
	g->ram = a->ram;
	g->device_floor = a->floor;
	if (!a->connected || a->broken || !a->ram) {
		g->status = a->broken ? G_BROKEN : G_DOWN;
		g->managed = false;
		return;
	}
	g->actual = a->actual;
	/* The report comes back asynchronously: the next tick reads it. */
	err = ep_exec(b, e, "x-vb-stats-request", args1("guest", g->name), NULL);
	if (err && err != -EREMOTEIO)	/* refused: one is pending already */
		return;
	guest_poll_stats(b, g, g->name, now);
}

static void vbd_poll(struct broker *b, struct endpoint *e, uint64_t now)
{
	struct answer_guest list[BROKER_MAX_GUESTS];
	json_object *r;
	unsigned i, bad;
	int n;

	if (ep_exec(b, e, "x-vb-list", NULL, &r))
		return;
	n = answer_list(r, list, BROKER_MAX_GUESTS, &bad);
	json_object_put(r);
	if (n < 0 || bad) {
		vb_log_rl(&e->rl, VB_LOG_WARN, "endpoint %s: x-vb-list: %s", e->cfg.path,
			  n < 0 ? "not a list" : "bad entries skipped");
		b->bad_answers++;
	}
	for (i = 0; i < b->nguests; i++)
		if (b->guests[i].ep == e)
			b->guests[i].listed = false;
	for (i = 0; i < (unsigned)(n > 0 ? n : 0) && e->q.fd >= 0; i++)
		vbd_guest(b, e, &list[i], now);
	for (i = 0; i < b->nguests; i++)
		if (b->guests[i].ep == e && !b->guests[i].listed)
			b->guests[i].status = G_DOWN;
}

static void qemu_poll(struct broker *b, struct endpoint *e, uint64_t now)
{
	struct guest *g = guest_get(b, e, e->cfg.name);
	json_object *r;

	if (!g)
		return;
	g->ram = e->ram;
	if (ep_exec(b, e, "query-balloon", NULL, &r))
		return;
	if (answer_actual(r, g->ram, &g->actual)) {
		vb_log_rl(&g->rl, VB_LOG_WARN, "guest %s: query-balloon answer refused", g->name);
		b->bad_answers++;
		g->status = G_NO_STATS;
		json_object_put(r);
		return;
	}
	json_object_put(r);
	guest_poll_stats(b, g, e->qom_path, now);
}

void frontend_poll(struct broker *b, struct endpoint *e, uint64_t now)
{
	if (ep_connect(b, e, now))
		return;
	if (e->q.vballoond)
		vbd_poll(b, e, now);
	else
		qemu_poll(b, e, now);
}

int frontend_set_target(struct broker *b, struct guest *g, uint64_t target)
{
	json_object *a = json_object_new_object();
	int err;

	json_object_object_add(a, "value", json_object_new_int64((int64_t)target));
	if (g->ep->q.vballoond)
		json_object_object_add(a, "guest", json_object_new_string(g->name));
	err = ep_exec(b, g->ep, "balloon", a, NULL);
	if (err)
		vb_log_rl(&g->rl, VB_LOG_WARN, "guest %s: balloon %" PRIu64 " failed: %s",
			  g->name, target, g->ep->q.error);
	return err;
}

/* QEMU endpoints name their one guest: configured, else the socket's file
 * name without directory and extension, else "qemu". */
void frontend_default_name(struct cfg_endpoint *c)
{
	const char *base = strrchr(c->path, '/');
	char *dot;

	if (c->name[0] && answer_name_ok(c->name))
		return;
	snprintf(c->name, sizeof(c->name), "%.63s", base ? base + 1 : c->path);
	dot = strchr(c->name, '.');
	if (dot && dot != c->name)
		*dot = '\0';
	if (!answer_name_ok(c->name))
		snprintf(c->name, sizeof(c->name), "qemu");
}
