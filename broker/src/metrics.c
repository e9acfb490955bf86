// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * metrics.c - the broker's figures in the Prometheus text format, written
 * to a file each tick (node_exporter's textfile collector, or any scraper,
 * reads it), and `vballoon-broker top`, a live view of that file.  The
 * file is the one interface between the two, so top needs no socket.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"

#define P "vballoon_broker_"

struct gauge {
	const char *name, *help;
	uint64_t (*get)(const struct guest *g);
};

static uint64_t m_ram(const struct guest *g) { return g->ram; }
static uint64_t m_actual(const struct guest *g) { return g->actual; }
static uint64_t m_target(const struct guest *g) { return g->managed ? g->law.target : g->actual; }
static uint64_t m_want(const struct guest *g) { return g->managed ? g->want.want : 0; }
static uint64_t m_floor(const struct guest *g) { return g->params.floor; }
static uint64_t m_ceiling(const struct guest *g) { return g->params.ceiling; }
static uint64_t m_avail(const struct guest *g) { return g->stats.s.avail < 0 ? 0 : (uint64_t)g->stats.s.avail; }
static uint64_t m_free(const struct guest *g) { return g->stats.s.free < 0 ? 0 : (uint64_t)g->stats.s.free; }
static uint64_t m_paused(const struct guest *g) { return g->paused; }
static uint64_t m_pressure(const struct guest *g) { return g->managed && law_reason_is_pressure(g->want.reason); }
static uint64_t m_resizes(const struct guest *g) { return g->law.resizes; }
static uint64_t m_grow_ms(const struct guest *g) { return g->last_reach_ms; }

static const struct gauge gauges[] = {
	{ "ram_bytes", "guest RAM size", m_ram },
	{ "actual_bytes", "guest RAM minus balloon, as the guest reports it", m_actual },
	{ "target_bytes", "target the broker set", m_target },
	{ "want_bytes", "what the control law wants for the guest", m_want },
	{ "floor_bytes", "never below", m_floor },
	{ "ceiling_bytes", "never above", m_ceiling },
	{ "available_bytes", "guest MemAvailable (0: not reported)", m_avail },
	{ "free_bytes", "guest MemFree (0: not reported)", m_free },
	{ "paused", "1: the policy leaves the guest alone", m_paused },
	{ "pressure", "1: the guest is under memory pressure", m_pressure },
	{ "resizes_total", "targets set", m_resizes },
	{ "grow_latency_ms", "last grow: decision to actual", m_grow_ms },
};

static void write_guests(FILE *f, const struct broker *b)
{
	size_t k;
	unsigned i;

	for (k = 0; k < sizeof(gauges) / sizeof(gauges[0]); k++) {
		fprintf(f, "# HELP " P "guest_%s %s\n# TYPE " P "guest_%s %s\n", gauges[k].name,
			gauges[k].help, gauges[k].name,
			strstr(gauges[k].name, "_total") ? "counter" : "gauge");
		for (i = 0; i < b->nguests; i++)
			fprintf(f, P "guest_%s{guest=\"%s\"} %" PRIu64 "\n", gauges[k].name,
				b->guests[i].name, gauges[k].get(&b->guests[i]));
	}
	fputs("# TYPE " P "guest_status gauge\n", f);
	for (i = 0; i < b->nguests; i++)
		fprintf(f, P "guest_status{guest=\"%s\",status=\"%s\"} 1\n", b->guests[i].name,
			guest_status_name[b->guests[i].status]);
	fputs("# TYPE " P "guest_reason gauge\n", f);
	for (i = 0; i < b->nguests; i++)
		fprintf(f, P "guest_reason{guest=\"%s\",reason=\"%s\"} 1\n", b->guests[i].name,
			law_reason_name[b->guests[i].reason]);
}

static void write_host(FILE *f, const struct broker *b)
{
	fprintf(f, "# TYPE " P "budget_bytes gauge\n" P "budget_bytes %" PRIu64 "\n", b->budget);
	fprintf(f, "# TYPE " P "host_available_bytes gauge\n" P "host_available_bytes %" PRIu64 "\n",
		b->host.avail);
	fprintf(f, "# TYPE " P "host_psi_some_avg10 gauge\n" P "host_psi_some_avg10 %.2f\n",
		b->host.psi ? b->host.some_avg10 : 0.0);
	fprintf(f, "# TYPE " P "host_pressure gauge\n" P "host_pressure %d\n", b->host_pressure);
	fprintf(f, "# TYPE " P "decisions_total counter\n" P "decisions_total %" PRIu64 "\n",
		b->decisions);
	fprintf(f, "# TYPE " P "bad_answers_total counter\n" P "bad_answers_total %" PRIu64 "\n",
		b->bad_answers);
	fprintf(f, "# TYPE " P "paused gauge\n" P "paused %d\n", b->paused || b->cfg.paused);
	fprintf(f, "# TYPE " P "dry_run gauge\n" P "dry_run %d\n", b->dry_run);
}

/* Written to a temporary file and renamed: a scraper never reads half. */
int broker_write_metrics(const struct broker *b, const char *path)
{
	static struct vb_ratelimit rl;
	char tmp[300];
	FILE *f;
	int err;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		vb_log_rl(&rl, VB_LOG_WARN, "metrics %s: %s", tmp, strerror(errno));
		return -errno;
	}
	write_guests(f, b);
	write_host(f, b);
	err = ferror(f) | fclose(f);
	if (err || rename(tmp, path)) {
		vb_log_rl(&rl, VB_LOG_WARN, "metrics %s: cannot write", path);
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

/* ---- top ---- */

#define TOP_COLS	8
static const char *const top_cols[TOP_COLS] = {
	"ram_bytes", "actual_bytes", "target_bytes", "want_bytes", "floor_bytes",
	"available_bytes", "free_bytes", "resizes_total",
};

struct top_row {
	char name[ANSWER_NAME_MAX];
	char status[16], reason[32];
	double v[TOP_COLS];
};

static struct top_row *top_row(struct top_row *rows, unsigned *n, const char *name)
{
	unsigned i;

	for (i = 0; i < *n; i++)
		if (!strcmp(rows[i].name, name))
			return &rows[i];
	if (*n == BROKER_MAX_GUESTS)
		return NULL;
	memset(&rows[*n], 0, sizeof(rows[*n]));
	snprintf(rows[*n].name, sizeof(rows[*n].name), "%s", name);
	return &rows[(*n)++];
}

/* P "guest_METRIC{guest=\"NAME\"[,KEY=\"LABEL\"]} VALUE" */
static void top_line(const char *line, struct top_row *rows, unsigned *n)
{
	char metric[48], name[ANSWER_NAME_MAX], key[16] = "", label[32] = "";
	struct top_row *r;
	double v;
	int k;

	if (sscanf(line, P "guest_%47[a-z_]{guest=\"%63[^\"]\",%15[a-z]=\"%31[^\"]\"} %lf",
		   metric, name, key, label, &v) != 5 &&
	    sscanf(line, P "guest_%47[a-z_]{guest=\"%63[^\"]\"} %lf", metric, name, &v) != 3)
		return;
	r = top_row(rows, n, name);
	if (!r)
		return;
	if (!strcmp(key, "status"))
		snprintf(r->status, sizeof(r->status), "%s", label);
	else if (!strcmp(key, "reason"))
		snprintf(r->reason, sizeof(r->reason), "%s", label);
	for (k = 0; k < TOP_COLS; k++)
		if (!key[0] && !strcmp(metric, top_cols[k]))
			r->v[k] = v;
}

static void top_print(FILE *in, bool clear)
{
	struct top_row rows[BROKER_MAX_GUESTS];
	char line[512], host[512] = "";
	unsigned n = 0, i;
	double v;
	int k;

	while (fgets(line, sizeof(line), in)) {
		if (sscanf(line, P "budget_bytes %lf", &v) == 1 ||
		    sscanf(line, P "host_available_bytes %lf", &v) == 1 ||
		    sscanf(line, P "host_psi_some_avg10 %lf", &v) == 1 ||
		    sscanf(line, P "decisions_total %lf", &v) == 1)
			snprintf(host + strlen(host), sizeof(host) - strlen(host), "%.*s  ",
				 (int)strcspn(line + strlen(P), "\n"), line + strlen(P));
		top_line(line, rows, &n);
	}
	printf("%s%s\n%-16s %-8s %7s %7s %7s %7s %7s %7s %7s %7s  %s\n", clear ? "\033[H\033[J" : "",
	       host, "GUEST", "STATUS", "RAM", "ACTUAL", "TARGET", "WANT", "FLOOR", "AVAIL",
	       "FREE", "RESIZES", "LAST REASON");
	for (i = 0; i < n; i++) {
		printf("%-16s %-8s", rows[i].name, rows[i].status);
		for (k = 0; k < TOP_COLS - 1; k++)
			printf(" %7.0f", rows[i].v[k] / (1 << 20));
		printf(" %7.0f  %s\n", rows[i].v[TOP_COLS - 1], rows[i].reason);
	}
	printf("(MiB)\n");
	fflush(stdout);
}

int broker_top(const char *metrics, double interval_s, bool once)
{
	FILE *f;

	for (;;) {
		f = fopen(metrics, "r");
		if (!f) {
			fprintf(stderr, "vballoon-broker top: %s: %s\n", metrics, strerror(errno));
			return 2;
		}
		top_print(f, !once);
		fclose(f);
		if (once)
			return 0;
		usleep((useconds_t)(interval_s * 1e6));
	}
}
