// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * config.c - the config file (format in config.h, keys in docs/broker.md).
 *
 * This is the one place config text becomes numbers: each value is checked
 * here, a bad one is logged (rate-limited) and skipped, and config_params()
 * clamps whatever remains into the law's invariants, so the control law
 * never sees an unchecked value.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

#define LINE_MAX_LEN		1024
#define MAX_BYTES		(1ULL << 50)	/* 1 PiB: larger is a typo */
#define MAX_SECONDS		3600.0
#define MIN_INTERVAL_MS		50
#define MAX_WEIGHT		1000
#define MIN_RESIZES		2
#define DEFAULT_INTERVAL_MS	250
#define DEFAULT_HOST_RESERVE	(256 * LAW_MIB)
#define DEFAULT_HOST_PSI	10.0	/* % of 10 s with some task stalled on memory */

/* Built-in policy, for a guest of RAM size r (docs/broker.md, "Defaults"). */
#define DEF_FLOOR_MIN		(128 * LAW_MIB)
#define DEF_HEADROOM_MIN	(32 * LAW_MIB)
#define DEF_MIN_CHANGE_MIN	(8 * LAW_MIB)
#define DEF_QUIET_MS		2000
#define DEF_CACHE_QUIET_MS	10000
#define DEF_SHRINK_GAP_MS	1000
#define DEF_LOOKAHEAD_MS	1000
#define DEF_REFAULT_RATE	100
#define DEF_MAX_RESIZES		12

/* The offending text goes into the log: printable characters only. */
static void cfg_error(struct broker_config *c, unsigned line, const char *what, const char *a)
{
	char shown[48];
	size_t i;

	for (i = 0; a[i] && i < sizeof(shown) - 1; i++)
		shown[i] = isprint((unsigned char)a[i]) ? a[i] : '?';
	shown[i] = '\0';
	c->errors++;
	vb_guest_warn("config line %u: %s '%s': ignored, the previous value stands",
		      line, what, shown);
}

static const struct cfg_policy policy_none = {
	.quiet_ms = -1, .cache_quiet_ms = -1, .shrink_gap_ms = -1, .lookahead_ms = -1,
	.weight = -1, .refault_rate = -1, .max_resizes = -1,
	.reclaim_cache = -1, .paused = -1,
};

static void policy_unset(struct cfg_policy *p)
{
	*p = policy_none;
}

void config_init(struct broker_config *c)
{
	memset(c, 0, sizeof(*c));
	c->interval_ms = DEFAULT_INTERVAL_MS;
	c->host_reserve = DEFAULT_HOST_RESERVE;
	c->host_psi = DEFAULT_HOST_PSI;
	policy_unset(&c->defaults);
}

/* A non-negative finite decimal number; refuses signs, "nan", "inf", hex,
 * exponents. */
static int parse_number(const char *v, double *out, char **end)
{
	if (!isdigit((unsigned char)v[0]))
		return -EINVAL;
	errno = 0;
	*out = strtod(v, end);
	/* Plain decimal only: strtod also takes hex and exponents. */
	if (errno || !isfinite(*out) || *out < 0 || *end != v + strspn(v, "0123456789."))
		return -EINVAL;
	return 0;
}

static int parse_size(const char *v, struct cfg_size *out, bool percent_ok)
{
	static const char suffix[] = "KMGT";
	double x, mul = 1;
	const char *s;
	char *end;

	if (parse_number(v, &x, &end))
		return -EINVAL;
	if (*end == '%' && percent_ok && !end[1] && x <= 100) {
		if ((unsigned)(x * 10) == 0)
			return -EINVAL;
		*out = (struct cfg_size){ .set = true, .permille = (unsigned)(x * 10) };
		return 0;
	}
	if (*end && (s = strchr(suffix, toupper((unsigned char)*end))) && *s) {
		mul = (double)(1ULL << (10 * (s - suffix + 1)));
		end++;
		if (*end == 'i')	/* M, MB, MiB: all binary */
			end++;
		if (*end == 'B')
			end++;
	}
	if (*end || x * mul > (double)MAX_BYTES)
		return -EINVAL;
	*out = (struct cfg_size){ .set = true, .bytes = (uint64_t)(x * mul) };
	return 0;
}

int config_parse_bytes(const char *v, uint64_t *out)
{
	struct cfg_size s;

	if (parse_size(v, &s, false))
		return -EINVAL;
	*out = s.bytes;
	return 0;
}

static int parse_ms(const char *v, int64_t *out)
{
	double x;
	char *end;

	if (parse_number(v, &x, &end) || *end || x > MAX_SECONDS)
		return -EINVAL;
	*out = (int64_t)(x * 1000);
	return 0;
}

/* A percentage, 0..100 (decimals allowed). */
static int parse_percent(const char *v, double *out)
{
	double x;
	char *end;

	if (parse_number(v, &x, &end) || *end || x > 100)
		return -EINVAL;
	*out = x;
	return 0;
}

static int parse_int(const char *v, int lo, int hi, int *out)
{
	char *end;
	long x;

	if (!isdigit((unsigned char)v[0]))
		return -EINVAL;
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return -EINVAL;
	*out = (int)x;
	return 0;
}

static int parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = 0;
	else
		return -EINVAL;
	return 0;
}

/* A policy key: 0 taken, -EINVAL bad value, -ENOENT not a policy key. */
static int policy_key(struct cfg_policy *p, const char *k, const char *v)
{
	static const struct { const char *key; size_t off; } sizes[] = {
		{ "floor", offsetof(struct cfg_policy, floor) },
		{ "ceiling", offsetof(struct cfg_policy, ceiling) },
		{ "headroom", offsetof(struct cfg_policy, headroom) },
		{ "min-change", offsetof(struct cfg_policy, min_change) },
		{ "shrink-step", offsetof(struct cfg_policy, shrink_step) },
		{ "grow-step", offsetof(struct cfg_policy, grow_step) },
	};
	static const struct { const char *key; size_t off; } times[] = {
		{ "quiet", offsetof(struct cfg_policy, quiet_ms) },
		{ "cache-quiet", offsetof(struct cfg_policy, cache_quiet_ms) },
		{ "shrink-gap", offsetof(struct cfg_policy, shrink_gap_ms) },
		{ "lookahead", offsetof(struct cfg_policy, lookahead_ms) },
	};
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (!strcmp(k, sizes[i].key))
			return parse_size(v, (struct cfg_size *)((char *)p + sizes[i].off), true);
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		if (!strcmp(k, times[i].key))
			return parse_ms(v, (int64_t *)((char *)p + times[i].off));
	if (!strcmp(k, "weight"))
		return parse_int(v, 1, MAX_WEIGHT, &p->weight);
	if (!strcmp(k, "refault-rate"))
		return parse_int(v, 1, 1000000, &p->refault_rate);
	if (!strcmp(k, "max-resizes"))
		return parse_int(v, MIN_RESIZES, LAW_RESIZE_RING, &p->max_resizes);
	if (!strcmp(k, "reclaim-cache"))
		return parse_bool(v, &p->reclaim_cache);
	if (!strcmp(k, "paused"))
		return parse_bool(v, &p->paused);
	return -ENOENT;
}

static int copy_str(char *dst, size_t len, const char *v)
{
	if (!*v || strlen(v) >= len)
		return -EINVAL;
	strcpy(dst, v);
	return 0;
}

static int global_key(struct broker_config *c, const char *k, const char *v)
{
	int64_t ms;
	int b, ret;

	if (!strcmp(k, "budget"))
		return config_parse_bytes(v, &c->budget);
	if (!strcmp(k, "host-reserve"))
		return config_parse_bytes(v, &c->host_reserve);
	if (!strcmp(k, "host-psi"))
		return parse_percent(v, &c->host_psi);
	if (!strcmp(k, "metrics"))
		return copy_str(c->metrics, sizeof(c->metrics), v);
	if (!strcmp(k, "interval")) {
		ret = parse_ms(v, &ms);
		if (!ret && ms < MIN_INTERVAL_MS)
			ret = -EINVAL;
		if (!ret)
			c->interval_ms = (uint64_t)ms;
		return ret;
	}
	if (!strcmp(k, "dry-run") || !strcmp(k, "paused")) {
		ret = parse_bool(v, &b);
		if (!ret)
			*(k[0] == 'd' ? &c->dry_run : &c->paused) = b;
		return ret;
	}
	return policy_key(&c->defaults, k, v);
}

static int endpoint_key(struct cfg_endpoint *e, const char *k, const char *v)
{
	if (!strcmp(k, "qmp"))
		return copy_str(e->path, sizeof(e->path), v);
	if (!strcmp(k, "name"))
		return copy_str(e->name, sizeof(e->name), v);
	if (!strcmp(k, "qom-path"))
		return copy_str(e->qom_path, sizeof(e->qom_path), v);
	return -ENOENT;
}

static struct cfg_guest *guest_entry(struct broker_config *c, const char *name)
{
	struct cfg_guest *g;
	unsigned i;

	for (i = 0; i < c->nguests; i++)
		if (!strcmp(c->guests[i].name, name))
			return &c->guests[i];
	if (c->nguests == CFG_MAX_GUESTS || !*name || strlen(name) >= CFG_NAME_MAX)
		return NULL;
	g = &c->guests[c->nguests++];
	strcpy(g->name, name);
	policy_unset(&g->policy);
	return g;
}

enum line_kind { LINE_GLOBAL, LINE_ENDPOINT, LINE_GUEST };

struct line_ctx {
	struct broker_config *c;
	unsigned lineno;
	enum line_kind kind;
	struct cfg_endpoint *ep;
	struct cfg_guest *guest;
};

static void apply_pair(struct line_ctx *x, const char *k, const char *v)
{
	int ret;

	switch (x->kind) {
	case LINE_ENDPOINT:
		ret = endpoint_key(x->ep, k, v);
		break;
	case LINE_GUEST:
		ret = !strcmp(k, "guest") ? 0 : policy_key(&x->guest->policy, k, v);
		break;
	default:
		ret = global_key(x->c, k, v);
	}
	if (ret == -ENOENT)
		cfg_error(x->c, x->lineno, "unknown key", k);
	else if (ret)
		cfg_error(x->c, x->lineno, "bad value for", k);
}

/* The first key says what the line is. */
static int line_begin(struct line_ctx *x, const char *k, const char *v)
{
	struct broker_config *c = x->c;

	if (!strcmp(k, "qmp")) {
		if (c->nendpoints == CFG_MAX_ENDPOINTS)
			return -ENOSPC;
		x->kind = LINE_ENDPOINT;
		x->ep = &c->endpoints[c->nendpoints];
		memset(x->ep, 0, sizeof(*x->ep));
	} else if (!strcmp(k, "guest")) {
		x->kind = LINE_GUEST;
		x->guest = guest_entry(c, v);
		if (!x->guest)
			return -EINVAL;
	}
	return 0;
}

static void split_pair(char *tok, char **k, char **v)
{
	char *eq = strchr(tok, '=');

	*k = tok;
	*v = eq ? eq + 1 : tok + strlen(tok);
	if (eq)
		*eq = '\0';
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static void parse_line(struct broker_config *c, char *line, unsigned lineno)
{
	struct line_ctx x = { .c = c, .lineno = lineno, .kind = LINE_GLOBAL };
	char *save = NULL, *tok, *k, *v;
	bool first = true;

	*strchrnul(line, '#') = '\0';
	for (tok = strtok_r(line, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		split_pair(trim(tok), &k, &v);
		if (!*k)
			continue;
		if (first && line_begin(&x, k, v)) {
			cfg_error(c, lineno, "too many entries, or a bad name:", v);
			return;
		}
		first = false;
		apply_pair(&x, k, v);
	}
	if (x.kind == LINE_ENDPOINT && x.ep->path[0])
		c->nendpoints++;
}

unsigned config_parse(struct broker_config *c, const char *text)
{
	unsigned before = c->errors, lineno = 0;
	char line[LINE_MAX_LEN];
	const char *p = text, *nl;
	size_t len;

	while (*p) {
		nl = strchrnul(p, '\n');
		len = (size_t)(nl - p);
		lineno++;
		if (len >= sizeof(line)) {
			cfg_error(c, lineno, "line too long:", "");
		} else {
			memcpy(line, p, len);
			line[len] = '\0';
			parse_line(c, line, lineno);
		}
		p = *nl ? nl + 1 : nl;
	}
	return c->errors - before;
}

int config_load(struct broker_config *c, const char *path)
{
	char *text;
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	text = calloc(1, 1 << 20);
	n = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (!text)
		return -ENOMEM;
	text[n] = '\0';
	config_parse(c, text);
	free(text);
	return 0;
}

static uint64_t size_of(const struct cfg_size *g, const struct cfg_size *d,
			uint64_t ram, uint64_t builtin)
{
	const struct cfg_size *s = g->set ? g : d->set ? d : NULL;

	if (!s)
		return builtin;
	return s->permille ? ram / 1000 * s->permille : s->bytes;
}

static int64_t int_of(int64_t g, int64_t d, int64_t builtin)
{
	return g >= 0 ? g : d >= 0 ? d : builtin;
}

static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static uint64_t max_of(uint64_t a, uint64_t b) { return a > b ? a : b; }

static const struct cfg_policy *guest_policy(const struct broker_config *c, const char *name)
{
	unsigned i;

	for (i = 0; i < c->nguests; i++)
		if (!strcmp(c->guests[i].name, name))
			return &c->guests[i].policy;
	return &policy_none;
}

/* Sizes: per guest, else default, else built-in; then clamped so that
 * LAW_HARD_FLOOR <= floor <= ceiling <= ram (a guest smaller than the hard
 * floor is never shrunk). */
static void resolve_sizes(const struct cfg_policy *g, const struct cfg_policy *d,
			  uint64_t ram, struct law_params *o)
{
	uint64_t hard = ram < LAW_HARD_FLOOR ? ram : LAW_HARD_FLOOR;

	o->floor = clamp(size_of(&g->floor, &d->floor, ram, max_of(DEF_FLOOR_MIN, ram / 8)),
			 hard, ram);
	o->ceiling = clamp(size_of(&g->ceiling, &d->ceiling, ram, ram), o->floor, ram);
	o->headroom = clamp(size_of(&g->headroom, &d->headroom, ram,
				    max_of(DEF_HEADROOM_MIN, ram / 16)), 0, ram / 2);
	o->min_change = clamp(size_of(&g->min_change, &d->min_change, ram,
				      max_of(DEF_MIN_CHANGE_MIN, ram / 64)), LAW_MIB, max_of(ram / 4, LAW_MIB));
	o->shrink_step = clamp(size_of(&g->shrink_step, &d->shrink_step, ram, ram / 2),
			       o->min_change, max_of(ram, o->min_change));
	o->grow_step = clamp(size_of(&g->grow_step, &d->grow_step, ram, ram / 2),
			     o->min_change, max_of(ram, o->min_change));
}

void config_params(const struct broker_config *c, const char *guest, uint64_t ram,
		   struct law_params *o, bool *paused)
{
	const struct cfg_policy *g = guest_policy(c, guest), *d = &c->defaults;

	resolve_sizes(g, d, ram, o);
	o->quiet_ms = (uint64_t)int_of(g->quiet_ms, d->quiet_ms, DEF_QUIET_MS);
	o->cache_quiet_ms = (uint64_t)int_of(g->cache_quiet_ms, d->cache_quiet_ms,
					     DEF_CACHE_QUIET_MS);
	o->shrink_gap_ms = (uint64_t)int_of(g->shrink_gap_ms, d->shrink_gap_ms,
					    DEF_SHRINK_GAP_MS);
	o->lookahead_ms = (uint64_t)int_of(g->lookahead_ms, d->lookahead_ms, DEF_LOOKAHEAD_MS);
	o->weight = (unsigned)int_of(g->weight, d->weight, 1);
	o->refault_rate = (unsigned)int_of(g->refault_rate, d->refault_rate, DEF_REFAULT_RATE);
	o->max_resizes = (unsigned)int_of(g->max_resizes, d->max_resizes, DEF_MAX_RESIZES);
	o->reclaim_cache = int_of(g->reclaim_cache, d->reclaim_cache, 1);
	*paused = c->paused || int_of(g->paused, d->paused, 0);
}
