// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * control.c - QMP-compatible control socket (json-c).
 *
 * Wire format as QEMU's QMP: the server greets, the client must send
 * qmp_capabilities first, then commands {"execute": NAME, "arguments": {...},
 * "id": ANY}; replies are {"return": ...} or {"error": {"class", "desc"}},
 * each echoing "id"; events are {"event", "data", "timestamp"}.  Every JSON
 * text goes out on its own line.
 *
 * Input is parsed with an incremental tokener (no newline needed, as in
 * QEMU); one command may not exceed CTL_MAX_INPUT bytes.  Output goes
 * through a per-client buffer capped at CTL_MAX_OUTPUT: a client that stops
 * reading is dropped rather than letting it grow the daemon.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* accept4 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "../../include/vballoon_abi.h"
#include "balloon.h"
#include "control.h"
#include "log.h"
#include "loop.h"

#define CTL_MAX_INPUT		(64 * 1024)
#define CTL_MAX_OUTPUT		(1024 * 1024)
#define CTL_MAX_CLIENTS		64
#define CTL_JSON_DEPTH		16
/* QEMU throttles BALLOON_CHANGE to one per second, keeping the latest. */
#define CTL_EVENT_THROTTLE_MS	1000
#define CTL_PATH_PREFIX		"/machine/peripheral/"

struct client {
	struct client *next;
	int fd;
	bool negotiated;	/* qmp_capabilities done */
	bool dead;		/* closing: no more input or output */
	bool busy;		/* inside a callback: free later */
	json_tokener *tok;
	size_t pending_in;	/* bytes fed since the last complete text */
	char *out;
	size_t out_len, out_cap;
	bool want_out;		/* EPOLLOUT armed */
};

/*
 * One pending BALLOON_CHANGE per guest, delivered when the window reopens.
 * Its timestamp is when actual last changed, not when it is delivered (as
 * QEMU stamps an event when it is raised): a client can time a balloon
 * change precisely from the event whatever the throttling delay.
 */
struct throttle {
	struct throttle *next;
	struct balloon *b;
	uint64_t last_ms;
	bool pending;
	struct timeval changed;	/* when the pending value was set */
	int timer;
};

static struct {
	struct loop *loop;
	int listen_fd;
	char path[108];
	struct client *clients;
	unsigned nclients;
	struct throttle *throttles;
} ctl = { .listen_fd = -1 };

static const char *const stat_names[VB_S_NR] = {
	[VB_S_SWAP_IN] = "stat-swap-in",
	[VB_S_SWAP_OUT] = "stat-swap-out",
	[VB_S_MAJFLT] = "stat-major-faults",
	[VB_S_MINFLT] = "stat-minor-faults",
	[VB_S_MEMFREE] = "stat-free-memory",
	[VB_S_MEMTOT] = "stat-total-memory",
	[VB_S_AVAIL] = "stat-available-memory",
	[VB_S_CACHES] = "stat-disk-caches",
	[VB_S_HTLB_PGALLOC] = "stat-htlb-pgalloc",
	[VB_S_HTLB_PGFAIL] = "stat-htlb-pgfail",
	[VB_S_OOM_KILL] = "stat-oom-kills",
	[VB_S_ALLOC_STALL] = "stat-alloc-stalls",
	[VB_S_ASYNC_SCAN] = "stat-async-scans",
	[VB_S_DIRECT_SCAN] = "stat-direct-scans",
	[VB_S_ASYNC_RECLAIM] = "stat-async-reclaims",
	[VB_S_DIRECT_RECLAIM] = "stat-direct-reclaims",
};

static const char *const hint_state_names[] = {
	[BALLOON_HINT_IDLE] = "idle",
	[BALLOON_HINT_REQUESTED] = "requested",
	[BALLOON_HINT_RUNNING] = "running",
	[BALLOON_HINT_STOPPED] = "stopped",
};

/* ---- replies ------------------------------------------------------------- */

/* A command's outcome: exactly one of ret / err_class is set. */
struct reply {
	json_object *ret;
	const char *err_class;
	char err_desc[256];
};

static void reply_error(struct reply *r, const char *cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reply_error(struct reply *r, const char *cls, const char *fmt, ...)
{
	va_list ap;

	json_object_put(r->ret);
	r->ret = NULL;
	r->err_class = cls;
	va_start(ap, fmt);
	vsnprintf(r->err_desc, sizeof(r->err_desc), fmt, ap);
	va_end(ap);
}

static void reply_errno(struct reply *r, int err, const char *what)
{
	const char *cls = err == -ENODEV ? "DeviceNotActive" : "GenericError";

	reply_error(r, cls, "%s: %s", what, strerror(-err));
}

/* ---- argument helpers ---------------------------------------------------- */

static json_object *arg(json_object *args, const char *key)
{
	json_object *v = NULL;

	if (args && json_object_object_get_ex(args, key, &v))
		return v;
	return NULL;
}

/* Non-negative integer argument; false (with error set) if absent or bad. */
static bool arg_u64(struct reply *r, json_object *args, const char *key,
		    uint64_t *val)
{
	json_object *v = arg(args, key);
	int64_t x;

	if (!v || !json_object_is_type(v, json_type_int)) {
		reply_error(r, "GenericError",
			    "Parameter '%s' is missing or not an integer", key);
		return false;
	}
	errno = 0;
	x = json_object_get_int64(v);
	if (x < 0) {
		reply_error(r, "GenericError",
			    "Parameter '%s' expects a non-negative integer", key);
		return false;
	}
	*val = x;
	return true;
}

static unsigned count_guests(void)
{
	struct balloon *b = NULL;
	unsigned n = 0;

	while ((b = balloon_next(b)))
		n++;
	return n;
}

static struct balloon *guest_by_name(struct reply *r, const char *name)
{
	struct balloon *b = balloon_find(name);

	if (!b)
		reply_error(r, "DeviceNotFound", "Device '%s' not found", name);
	return b;
}

/* The "guest" argument, or the only guest when there is exactly one. */
static struct balloon *resolve_guest(struct reply *r, json_object *args)
{
	json_object *g = arg(args, "guest");

	if (g) {
		if (!json_object_is_type(g, json_type_string)) {
			reply_error(r, "GenericError",
				    "Parameter 'guest' expects a string");
			return NULL;
		}
		return guest_by_name(r, json_object_get_string(g));
	}
	switch (count_guests()) {
	case 0:
		reply_error(r, "DeviceNotActive",
			    "No balloon device has been activated");
		return NULL;
	case 1:
		return balloon_next(NULL);
	default:
		reply_error(r, "GenericError",
			    "Several guests are served: name one with 'guest'");
		return NULL;
	}
}

/* qom paths: "/machine/peripheral/NAME" or "NAME". */
static struct balloon *resolve_path(struct reply *r, json_object *args)
{
	json_object *p = arg(args, "path");
	const char *path;

	if (!p || !json_object_is_type(p, json_type_string)) {
		reply_error(r, "GenericError", "Parameter 'path' is missing");
		return NULL;
	}
	path = json_object_get_string(p);
	if (!strncmp(path, CTL_PATH_PREFIX, strlen(CTL_PATH_PREFIX)))
		path += strlen(CTL_PATH_PREFIX);
	return guest_by_name(r, path);
}

/* ---- commands ------------------------------------------------------------ */

static void cmd_query_balloon(struct reply *r, json_object *args)
{
	struct balloon *b = resolve_guest(r, args);
	struct balloon_info info;

	if (!b)
		return;
	balloon_get_info(b, &info);
	if (!info.ram_size) {
		reply_error(r, "DeviceNotActive",
			    "No balloon device has been activated");
		return;
	}
	r->ret = json_object_new_object();
	json_object_object_add(r->ret, "actual", json_object_new_int64(info.actual));
}

static void cmd_balloon(struct reply *r, json_object *args)
{
	struct balloon *b = resolve_guest(r, args);
	uint64_t value;
	int ret;

	if (!b || !arg_u64(r, args, "value", &value))
		return;
	if (!value) {
		reply_error(r, "GenericError",
			    "Parameter 'value' expects a size");
		return;
	}
	ret = balloon_set_target(b, value);
	if (ret == -ENODEV) {
		reply_error(r, "DeviceNotActive",
			    "No balloon device has been activated");
		return;
	}
	if (ret < 0) {
		reply_errno(r, ret, "balloon");
		return;
	}
	r->ret = json_object_new_object();
}

static json_object *stats_json(const struct balloon_stats *st)
{
	json_object *o = json_object_new_object();
	json_object *s = json_object_new_object();
	int i;

	/* As QEMU: a stat the guest never reported reads -1. */
	for (i = 0; i < VB_S_NR; i++)
		json_object_object_add(s, stat_names[i], st->have[i] ?
				       json_object_new_uint64(st->val[i]) :
				       json_object_new_int64(-1));
	json_object_object_add(o, "stats", s);
	json_object_object_add(o, "last-update",
			       json_object_new_int64(st->last_update));
	return o;
}

static void cmd_qom_get(struct reply *r, json_object *args)
{
	struct balloon *b = resolve_path(r, args);
	json_object *p = arg(args, "property");
	struct balloon_stats st;
	const char *prop;

	if (!b)
		return;
	prop = p && json_object_is_type(p, json_type_string) ?
	       json_object_get_string(p) : "";
	balloon_get_stats(b, &st);
	if (!strcmp(prop, "guest-stats")) {
		if (!st.last_update) {
			reply_error(r, "GenericError",
				    "guest hasn't updated any stats yet");
			return;
		}
		r->ret = stats_json(&st);
	} else if (!strcmp(prop, "guest-stats-polling-interval")) {
		r->ret = json_object_new_int64(st.interval_s);
	} else {
		reply_error(r, "GenericError", "Property '%s' not found", prop);
	}
}

static void cmd_qom_set(struct reply *r, json_object *args)
{
	struct balloon *b = resolve_path(r, args);
	json_object *p = arg(args, "property");
	uint64_t secs;
	int ret;

	if (!b)
		return;
	if (!p || !json_object_is_type(p, json_type_string) ||
	    strcmp(json_object_get_string(p), "guest-stats-polling-interval")) {
		reply_error(r, "GenericError",
			    "Only 'guest-stats-polling-interval' can be set");
		return;
	}
	if (!arg_u64(r, args, "value", &secs))
		return;
	ret = secs > UINT32_MAX ? -EINVAL : balloon_set_stats_interval(b, secs);
	if (ret < 0) {
		reply_errno(r, ret, "guest-stats-polling-interval");
		return;
	}
	r->ret = json_object_new_object();
}

static json_object *features_json(uint64_t f)
{
	static const struct { int bit; const char *name; } names[] = {
		{ VB_F_MUST_TELL_HOST, "must-tell-host" },
		{ VB_F_STATS_VQ, "stats-vq" },
		{ VB_F_DEFLATE_ON_OOM, "deflate-on-oom" },
		{ VB_F_FREE_PAGE_HINT, "free-page-hint" },
		{ VB_F_PAGE_POISON, "page-poison" },
		{ VB_F_PAGE_REPORTING, "page-reporting" },
		{ VB_F_PAGE_RANGES, "x-page-ranges" },
		{ VB_F_CONT_PAGES, "x-cont-pages" },
		{ 32, "version-1" },
	};
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & (1ULL << names[i].bit))
			json_object_array_add(a, json_object_new_string(names[i].name));
	return a;
}

#define ADD_U64(o, k, v) json_object_object_add(o, k, json_object_new_uint64(v))

static json_object *info_json(struct balloon *b)
{
	json_object *o = json_object_new_object(), *orders;
	struct balloon_info i;
	uint64_t thp;
	int k;

	balloon_get_info(b, &i);
	json_object_object_add(o, "name", json_object_new_string(i.name));
	json_object_object_add(o, "connected", json_object_new_boolean(i.connected));
	json_object_object_add(o, "broken", json_object_new_boolean(i.broken));
	ADD_U64(o, "ram-size", i.ram_size);
	ADD_U64(o, "target", i.target);
	ADD_U64(o, "actual", i.actual);
	ADD_U64(o, "num-pages", i.num_pages);
	ADD_U64(o, "actual-pages", i.actual_pages);
	json_object_object_add(o, "features", features_json(i.features));
	/* The transfer mode in use, spelled out (issue 6 extensions);
	 * "none" until a driver has negotiated features. */
	json_object_object_add(o, "transfer", json_object_new_string(
		!i.features ? "none" :
		i.features & (1ULL << VB_F_PAGE_RANGES) ? "ranges" : "pfns"));
	json_object_object_add(o, "cont-pages", json_object_new_boolean(
		!!(i.features & (1ULL << VB_F_CONT_PAGES))));
	ADD_U64(o, "poison-val", i.poison_val);
	ADD_U64(o, "pages-order", i.pages_order);
	ADD_U64(o, "inflated-pages", i.inflated_pages);
	ADD_U64(o, "deflated-pages", i.deflated_pages);
	ADD_U64(o, "discarded-bytes", i.discarded_bytes);
	ADD_U64(o, "discard-ranges", i.discard_ranges);
	ADD_U64(o, "reported-bytes", i.reported_bytes);
	ADD_U64(o, "refused", i.refused);
	ADD_U64(o, "ram-allocated", i.ram_allocated);
	/* Measured on demand, only here: absent when there is nothing to
	 * measure (no guest memory) or the mapping cannot show huge pages. */
	if (balloon_ram_thp(b, &thp) == 0)
		ADD_U64(o, "ram-thp-bytes", thp);
	orders = json_object_new_array();
	for (k = 0; k < 11; k++)
		json_object_array_add(orders, json_object_new_uint64(i.blocks_by_order[k]));
	json_object_object_add(o, "blocks-by-order", orders);
	json_object_object_add(o, "hint-state",
			       json_object_new_string(hint_state_names[i.hint_state]));
	ADD_U64(o, "hint-cmd-id", i.hint_cmd_id);
	ADD_U64(o, "hinted-bytes", i.hinted_bytes);
	return o;
}

/* With "guest": that guest's info; without: every guest, as an array. */
static void cmd_vb_query(struct reply *r, json_object *args)
{
	struct balloon *b = NULL;

	if (arg(args, "guest")) {
		b = resolve_guest(r, args);
		if (b)
			r->ret = info_json(b);
		return;
	}
	r->ret = json_object_new_array();
	while ((b = balloon_next(b)))
		json_object_array_add(r->ret, info_json(b));
}

static void cmd_vb_list(struct reply *r, json_object *args)
{
	struct balloon *b = NULL;

	r->ret = json_object_new_array();
	while ((b = balloon_next(b))) {
		struct balloon_info i;
		json_object *o = json_object_new_object();

		balloon_get_info(b, &i);
		json_object_object_add(o, "name", json_object_new_string(i.name));
		json_object_object_add(o, "connected", json_object_new_boolean(i.connected));
		json_object_object_add(o, "broken", json_object_new_boolean(i.broken));
		ADD_U64(o, "ram-size", i.ram_size);
		ADD_U64(o, "actual", i.actual);
		json_object_array_add(r->ret, o);
	}
}

static void hint_status(struct reply *r, struct balloon *b)
{
	struct balloon_info i;

	balloon_get_info(b, &i);
	r->ret = json_object_new_object();
	json_object_object_add(r->ret, "state",
			       json_object_new_string(hint_state_names[i.hint_state]));
	ADD_U64(r->ret, "cmd-id", i.hint_cmd_id);
	ADD_U64(r->ret, "hinted-bytes", i.hinted_bytes);
}

static void range_cb(uint64_t gpa, uint64_t len, void *opaque)
{
	json_object *o = json_object_new_object();

	ADD_U64(o, "start", gpa);
	ADD_U64(o, "length", len);
	json_object_array_add(opaque, o);
}

static void cmd_vb_hint(struct reply *r, json_object *args, const char *verb)
{
	struct balloon *b = resolve_guest(r, args);
	int ret = 0;

	if (!b)
		return;
	if (!strcmp(verb, "start"))
		ret = balloon_hint_start(b);
	else if (!strcmp(verb, "stop"))
		ret = balloon_hint_stop(b);
	else if (!strcmp(verb, "done"))
		ret = balloon_hint_done(b);
	if (ret == -EOPNOTSUPP) {
		reply_error(r, "GenericError",
			    "free page hinting was not negotiated with the guest");
		return;
	}
	if (ret < 0) {
		reply_errno(r, ret, "free page hint");
		return;
	}
	if (!strcmp(verb, "ranges")) {
		r->ret = json_object_new_array();
		balloon_hint_ranges(b, range_cb, r->ret);
		return;
	}
	hint_status(r, b);
}

static void cmd_vb_stats_request(struct reply *r, json_object *args)
{
	struct balloon *b = resolve_guest(r, args);
	int ret;

	if (!b)
		return;
	ret = balloon_request_stats(b);
	if (ret == -EAGAIN) {
		reply_error(r, "GenericError", "a stats request is already pending");
		return;
	}
	if (ret < 0) {
		reply_errno(r, ret, "stats request");
		return;
	}
	r->ret = json_object_new_object();
}

static void cmd_query_commands(struct reply *r, json_object *args);

static void cmd_hint_start(struct reply *r, json_object *a) { cmd_vb_hint(r, a, "start"); }
static void cmd_hint_stop(struct reply *r, json_object *a) { cmd_vb_hint(r, a, "stop"); }
static void cmd_hint_done(struct reply *r, json_object *a) { cmd_vb_hint(r, a, "done"); }
static void cmd_hint_status(struct reply *r, json_object *a) { cmd_vb_hint(r, a, "status"); }
static void cmd_hint_ranges(struct reply *r, json_object *a) { cmd_vb_hint(r, a, "ranges"); }

static void cmd_capabilities(struct reply *r, json_object *args)
{
	r->ret = json_object_new_object();
}

static const struct command {
	const char *name;
	void (*fn)(struct reply *r, json_object *args);
} commands[] = {
	{ "qmp_capabilities", cmd_capabilities },
	{ "query-commands", cmd_query_commands },
	{ "query-balloon", cmd_query_balloon },
	{ "balloon", cmd_balloon },
	{ "qom-get", cmd_qom_get },
	{ "qom-set", cmd_qom_set },
	{ "x-vb-query", cmd_vb_query },
	{ "x-vb-list", cmd_vb_list },
	{ "x-vb-hint-start", cmd_hint_start },
	{ "x-vb-hint-stop", cmd_hint_stop },
	{ "x-vb-hint-done", cmd_hint_done },
	{ "x-vb-hint-status", cmd_hint_status },
	{ "x-vb-hint-ranges", cmd_hint_ranges },
	{ "x-vb-stats-request", cmd_vb_stats_request },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void cmd_query_commands(struct reply *r, json_object *args)
{
	size_t i;

	r->ret = json_object_new_array();
	for (i = 0; i < NCOMMANDS; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(commands[i].name));
		json_object_array_add(r->ret, o);
	}
}

/*
 * Run one parsed request.  negotiated: capabilities done; *negotiate is set
 * when this request completes the negotiation.  Returns the reply object.
 */
static json_object *dispatch(json_object *req, bool negotiated, bool *negotiate)
{
	struct reply r = { 0 };
	json_object *exec, *args = NULL, *id = NULL, *out;
	const char *name;
	size_t i;

	if (!json_object_is_type(req, json_type_object) ||
	    !json_object_object_get_ex(req, "execute", &exec) ||
	    !json_object_is_type(exec, json_type_string)) {
		reply_error(&r, "GenericError", "Expected a JSON object with 'execute'");
		goto out;
	}
	json_object_object_get_ex(req, "id", &id);
	if (json_object_object_get_ex(req, "arguments", &args) &&
	    !json_object_is_type(args, json_type_object)) {
		reply_error(&r, "GenericError", "'arguments' must be an object");
		goto out;
	}
	name = json_object_get_string(exec);
	if (!negotiated && strcmp(name, "qmp_capabilities")) {
		reply_error(&r, "CommandNotFound",
			    "Expecting capabilities negotiation with 'qmp_capabilities'");
		goto out;
	}
	if (negotiated && !strcmp(name, "qmp_capabilities")) {
		reply_error(&r, "CommandNotFound",
			    "Capabilities negotiation is already complete, command ignored");
		goto out;
	}
	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(name, commands[i].name))
			break;
	if (i == NCOMMANDS) {
		reply_error(&r, "CommandNotFound", "The command %.64s has not been found",
			    name);
		goto out;
	}
	commands[i].fn(&r, args);
	if (!negotiated && !r.err_class)
		*negotiate = true;
out:
	out = json_object_new_object();
	if (r.err_class) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "class", json_object_new_string(r.err_class));
		json_object_object_add(e, "desc", json_object_new_string(r.err_desc));
		json_object_object_add(out, "error", e);
	} else {
		json_object_object_add(out, "return",
				       r.ret ? r.ret : json_object_new_object());
	}
	if (id)
		json_object_object_add(out, "id", json_object_get(id));
	return out;
}

char *control_execute(const char *json)
{
	json_object *req = json_tokener_parse(json), *rep;
	bool neg = false;
	char *s;

	if (!req) {
		rep = json_object_new_object();
		json_object *e = json_object_new_object();

		json_object_object_add(e, "class", json_object_new_string("GenericError"));
		json_object_object_add(e, "desc", json_object_new_string("JSON parse error"));
		json_object_object_add(rep, "error", e);
	} else {
		rep = dispatch(req, true, &neg);
	}
	s = strdup(json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PLAIN));
	json_object_put(req);
	json_object_put(rep);
	return s;
}

/* ---- clients ------------------------------------------------------------- */

static void client_free(struct client *c)
{
	struct client **pp;

	for (pp = &ctl.clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	ctl.nclients--;
	json_tokener_free(c->tok);
	free(c->out);
	free(c);
}

/* Drop a client; freed now, or when its callback unwinds. */
static void client_close(struct client *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = true;
	vb_dbg("control: client %d closed: %s", c->fd, why);
	loop_del_fd(ctl.loop, c->fd);
	close(c->fd);
	c->fd = -1;
	if (!c->busy)
		client_free(c);
}

static void client_flush(struct client *c)
{
	while (c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* The client is gone: what it sent before still runs
			 * (a command must not depend on its reply being read),
			 * its replies go nowhere, and the read side closes it. */
			c->out_len = 0;
			break;
		}
		memmove(c->out, c->out + n, c->out_len - n);
		c->out_len -= n;
	}
	if (!!c->out_len != c->want_out) {
		c->want_out = !!c->out_len;
		loop_mod_fd(ctl.loop, c->fd, EPOLLIN | (c->want_out ? EPOLLOUT : 0));
	}
}

static void client_send(struct client *c, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(s);

	if (c->dead)
		return;
	if (c->out_len + len + 1 > CTL_MAX_OUTPUT) {
		client_close(c, "output buffer full (client not reading)");
		return;
	}
	if (c->out_len + len + 1 > c->out_cap) {
		size_t cap = (c->out_len + len + 1) * 2;
		char *p;

		if (cap > CTL_MAX_OUTPUT)
			cap = CTL_MAX_OUTPUT;
		p = realloc(c->out, cap);
		if (!p) {
			client_close(c, "out of memory");
			return;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	client_flush(c);
}

static void client_error(struct client *c, const char *desc)
{
	json_object *o = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "class", json_object_new_string("GenericError"));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(o, "error", e);
	client_send(c, o);
	json_object_put(o);
}

static void client_request(struct client *c, json_object *req)
{
	bool neg = false;
	json_object *rep = dispatch(req, c->negotiated, &neg);

	if (neg)
		c->negotiated = true;
	client_send(c, rep);
	json_object_put(rep);
}

/* Feed bytes to the tokener, running every complete JSON text. */
static void client_input(struct client *c, const char *buf, size_t len)
{
	while (len && !c->dead) {
		json_object *obj = json_tokener_parse_ex(c->tok, buf, len);
		enum json_tokener_error err = json_tokener_get_error(c->tok);
		size_t used = json_tokener_get_parse_end(c->tok);

		if (used > len || (!used && !obj && err != json_tokener_continue))
			used = len;
		if (err == json_tokener_continue) {
			c->pending_in += len;
			if (c->pending_in > CTL_MAX_INPUT) {
				client_error(c, "command too long");
				client_close(c, "command too long");
			}
			return;
		}
		json_tokener_reset(c->tok);
		c->pending_in = 0;
		if (!obj) {
			const char *nl = memchr(buf, '\n', len);

			client_error(c, "JSON parse error");
			/* Resynchronise at the next line. */
			used = nl ? (size_t)(nl - buf) + 1 : len;
		} else {
			client_request(c, obj);
			json_object_put(obj);
		}
		buf += used;
		len -= used;
		/* Skip whitespace so a trailing newline is not a partial text. */
		while (len && (*buf == '\n' || *buf == '\r' || *buf == ' ' || *buf == '\t')) {
			buf++;
			len--;
		}
	}
}

static void client_cb(struct loop *l, int fd, uint32_t events, void *opaque)
{
	struct client *c = opaque;
	char buf[4096];

	c->busy = true;
	if (events & EPOLLOUT)
		client_flush(c);
	if (!c->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0)
			client_input(c, buf, n);
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			client_close(c, "peer closed");
	}
	c->busy = false;
	if (c->dead)
		client_free(c);
}

static void client_greet(struct client *c)
{
	json_object *o = json_object_new_object(), *q = json_object_new_object();
	json_object *v = json_object_new_object(), *qemu = json_object_new_object();

	json_object_object_add(qemu, "major", json_object_new_int(7));
	json_object_object_add(qemu, "minor", json_object_new_int(2));
	json_object_object_add(qemu, "micro", json_object_new_int(0));
	json_object_object_add(v, "qemu", qemu);
	json_object_object_add(v, "package", json_object_new_string("vballoond"));
	json_object_object_add(q, "version", v);
	json_object_object_add(q, "capabilities", json_object_new_array());
	json_object_object_add(o, "QMP", q);
	client_send(c, o);
	json_object_put(o);
}

static void accept_cb(struct loop *l, int fd, uint32_t events, void *opaque)
{
	struct client *c;
	int cfd;

	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	if (ctl.nclients >= CTL_MAX_CLIENTS) {
		vb_guest_warn("control: too many clients, refusing one");
		close(cfd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->tok = json_tokener_new_ex(CTL_JSON_DEPTH))) {
		free(c);
		close(cfd);
		return;
	}
	c->fd = cfd;
	if (loop_add_fd(ctl.loop, cfd, EPOLLIN, client_cb, c) < 0) {
		json_tokener_free(c->tok);
		free(c);
		close(cfd);
		return;
	}
	c->next = ctl.clients;
	ctl.clients = c;
	ctl.nclients++;
	client_greet(c);
}

/* ---- events -------------------------------------------------------------- */

/* Send an event to every negotiated client, stamped @when (NULL: now). */
static void broadcast_at(const char *name, json_object *data,
			 const struct timeval *when)
{
	json_object *o = json_object_new_object(), *ts = json_object_new_object();
	struct client *c, *next;
	struct timeval tv;

	if (when)
		tv = *when;
	else
		gettimeofday(&tv, NULL);
	json_object_object_add(ts, "seconds", json_object_new_int64(tv.tv_sec));
	json_object_object_add(ts, "microseconds", json_object_new_int64(tv.tv_usec));
	json_object_object_add(o, "event", json_object_new_string(name));
	json_object_object_add(o, "data", data);
	json_object_object_add(o, "timestamp", ts);
	for (c = ctl.clients; c; c = next) {
		next = c->next;
		if (c->negotiated)
			client_send(c, o);
	}
	json_object_put(o);
}

static void broadcast(const char *name, json_object *data)
{
	broadcast_at(name, data, NULL);
}

static void send_balloon_change(struct balloon *b, const struct timeval *when)
{
	struct balloon_info i;
	json_object *d = json_object_new_object();

	balloon_get_info(b, &i);
	json_object_object_add(d, "actual", json_object_new_int64(i.actual));
	json_object_object_add(d, "guest", json_object_new_string(i.name));
	broadcast_at("BALLOON_CHANGE", d, when);
}

static struct throttle *throttle_of(struct balloon *b)
{
	struct throttle *t;

	for (t = ctl.throttles; t; t = t->next)
		if (t->b == b)
			return t;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->b = b;
	t->next = ctl.throttles;
	ctl.throttles = t;
	return t;
}

static void throttle_cb(struct loop *l, void *opaque)
{
	struct throttle *t = opaque;

	t->timer = 0;
	if (t->pending) {
		t->pending = false;
		t->last_ms = loop_now_ms();
		send_balloon_change(t->b, &t->changed);
	}
}

static void balloon_change(struct balloon *b)
{
	struct throttle *t = throttle_of(b);
	uint64_t now = loop_now_ms();

	if (!t || now - t->last_ms >= CTL_EVENT_THROTTLE_MS) {
		if (t)
			t->last_ms = now;
		send_balloon_change(b, NULL);
		return;
	}
	t->pending = true;
	gettimeofday(&t->changed, NULL);
	if (!t->timer) {
		int id = loop_add_timer(ctl.loop, CTL_EVENT_THROTTLE_MS - (now - t->last_ms),
					false, throttle_cb, t);
		t->timer = id > 0 ? id : 0;
	}
}

static void event_cb(struct balloon *b, enum balloon_event ev, void *opaque)
{
	static const char *const names[] = {
		[BALLOON_EV_CONNECTED] = "X_VB_GUEST_CONNECTED",
		[BALLOON_EV_DISCONNECTED] = "X_VB_GUEST_DISCONNECTED",
		[BALLOON_EV_BROKEN] = "X_VB_DEVICE_BROKEN",
		[BALLOON_EV_HINT_DONE] = "X_VB_HINT_STOPPED",
	};
	json_object *d;

	if (ev == BALLOON_EV_CHANGE) {
		balloon_change(b);
		return;
	}
	if ((unsigned)ev >= sizeof(names) / sizeof(names[0]) || !names[ev])
		return;
	d = json_object_new_object();
	json_object_object_add(d, "guest", json_object_new_string(balloon_name(b)));
	if (ev == BALLOON_EV_HINT_DONE) {
		struct balloon_info i;

		balloon_get_info(b, &i);
		json_object_object_add(d, "cmd-id", json_object_new_int64(i.hint_cmd_id));
		json_object_object_add(d, "hinted-bytes", json_object_new_uint64(i.hinted_bytes));
	}
	broadcast(names[ev], d);
}

/* ---- socket -------------------------------------------------------------- */

int control_listen(struct loop *l, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	ctl.loop = l;
	ret = loop_add_fd(l, fd, EPOLLIN, accept_cb, NULL);
	if (ret < 0) {
		close(fd);
		unlink(path);
		return ret;
	}
	ctl.listen_fd = fd;
	snprintf(ctl.path, sizeof(ctl.path), "%s", path);
	balloon_set_event_cb(event_cb, NULL);
	vb_info("control: QMP socket %s", path);
	return 0;
}

void control_close(void)
{
	while (ctl.clients) {
		struct client *c = ctl.clients;

		c->busy = false;
		if (c->dead)
			client_free(c);
		else
			client_close(c, "shutdown");
	}
	while (ctl.throttles) {
		struct throttle *t = ctl.throttles;

		ctl.throttles = t->next;
		if (t->timer)
			loop_del_timer(ctl.loop, t->timer);
		free(t);
	}
	if (ctl.listen_fd >= 0) {
		loop_del_fd(ctl.loop, ctl.listen_fd);
		close(ctl.listen_fd);
		unlink(ctl.path);
		ctl.listen_fd = -1;
	}
	balloon_set_event_cb(NULL, NULL);
}
