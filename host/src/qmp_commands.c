// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * qmp_commands.c - what vballoond answers, with QEMU's checks and error
 * texts where QEMU has the same command (measured against QEMU 7.2).
 *
 * Every command declares its arguments; the dispatcher refuses a missing,
 * mistyped or unexpected one before the command runs, so a command sees
 * only arguments it knows, of the type it declared.  Commands that act on
 * a guest take an optional "guest" (our addition) and get the device
 * resolved.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "guests.h"
#include "qmp_commands.h"
#include "qmp_info.h"
#include "qmp_json.h"

#define QOM_PERIPHERAL_PATH	"/machine/peripheral"
#define QOM_DEVICE_TYPE		"virtio-balloon-pci"
/* The version we say we speak: QEMU's QMP as of 7.2, whose answers the
 * commands below reproduce. */
#define QMP_QEMU_MAJOR		7
#define QMP_QEMU_MINOR		2
#define QMP_QEMU_MICRO		0

enum arg_type { ARG_INT, ARG_STR, ARG_STR_LIST, ARG_ANY };

struct arg_spec {
	const char *name;
	enum arg_type type;
	bool optional;
};

struct command;

/* One request being answered: exactly one of ret / err_class ends up set. */
struct request {
	const struct command *cmd;
	json_object *args;		/* checked against cmd->args; may be NULL */
	struct balloon *b;		/* the guest, for cmd->guest commands */
	json_object *ret;
	const char *err_class;
	char err_desc[320];
};

struct command {
	const char *name;
	void (*fn)(struct request *r);
	const struct arg_spec *args;	/* ends with a NULL name */
	bool guest;			/* takes "guest"; r->b is resolved */
	int (*hint_op)(struct balloon *b);	/* for the x-vb-hint verbs */
};

static void fail(struct request *r, const char *cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct request *r, const char *cls, const char *fmt, ...)
{
	va_list ap;

	json_object_put(r->ret);
	r->ret = NULL;
	r->err_class = cls;
	va_start(ap, fmt);
	vsnprintf(r->err_desc, sizeof(r->err_desc), fmt, ap);
	va_end(ap);
}

static void fail_errno(struct request *r, int err, const char *what)
{
	fail(r, err == -ENODEV ? "DeviceNotActive" : "GenericError", "%s: %s",
	     what, strerror(-err));
}

static json_object *arg(const struct request *r, const char *key)
{
	json_object *v = NULL;

	if (r->args)
		json_object_object_get_ex(r->args, key, &v);
	return v;
}

/* ---- argument checks ------------------------------------------------------ */

/* QEMU's "int" is int64: json-c keeps larger integers as uint64. */
static bool is_int64(json_object *v)
{
	return json_object_is_type(v, json_type_int) &&
	       (json_object_get_int64(v) < INT64_MAX ||
		json_object_get_uint64(v) == INT64_MAX);
}

static bool is_str_list(json_object *v)
{
	size_t i, n;

	if (!json_object_is_type(v, json_type_array))
		return false;
	n = json_object_array_length(v);
	for (i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string))
			return false;
	return true;
}

static bool type_ok(json_object *v, enum arg_type t)
{
	switch (t) {
	case ARG_INT:
		return is_int64(v);
	case ARG_STR:
		return json_object_is_type(v, json_type_string);
	case ARG_STR_LIST:
		return is_str_list(v);
	default:
		return true;
	}
}

static const char *const type_names[] = {
	[ARG_INT] = "integer", [ARG_STR] = "string", [ARG_STR_LIST] = "array",
};

static const struct arg_spec guest_arg = { .name = "guest", .type = ARG_STR, .optional = true };

static const struct arg_spec *spec_of(const struct command *c, const char *key)
{
	const struct arg_spec *a;

	for (a = c->args; a && a->name; a++)
		if (!strcmp(a->name, key))
			return a;
	return c->guest && !strcmp(key, guest_arg.name) ? &guest_arg : NULL;
}

static bool type_fail(struct request *r, const char *key, enum arg_type t)
{
	fail(r, "GenericError", "Invalid parameter type for '%s', expected: %s",
	     key, type_names[t]);
	return false;
}

/* In QEMU's order: declared arguments first (missing, then type), then
 * the ones nobody declared ("guest", our addition, last). */
static bool check_args(struct request *r)
{
	const struct arg_spec *a;
	json_object *v;

	for (a = r->cmd->args; a && a->name; a++) {
		bool have = r->args && json_object_object_get_ex(r->args, a->name, &v);

		if (!have && !a->optional) {
			fail(r, "GenericError", "Parameter '%s' is missing", a->name);
			return false;
		}
		if (have && !type_ok(v, a->type))
			return type_fail(r, a->name, a->type);
	}
	if (!r->args)
		return true;
	json_object_object_foreach(r->args, key, val) {
		a = spec_of(r->cmd, key);
		if (!a) {
			fail(r, "GenericError", "Parameter '%s' is unexpected", key);
			return false;
		}
		if (a == &guest_arg && !type_ok(val, a->type))
			return type_fail(r, key, a->type);
	}
	return true;
}

/* The "guest" argument, or the only guest when there is exactly one. */
static bool resolve_guest(struct request *r)
{
	json_object *g = arg(r, "guest");

	if (g) {
		r->b = guests_find(json_object_get_string(g));
		if (!r->b)
			fail(r, "DeviceNotFound", "Device '%s' not found",
			     json_object_get_string(g));
		return r->b;
	}
	switch (guests_count()) {
	case 0:
		fail(r, "DeviceNotActive", "No balloon device has been activated");
		return false;
	case 1:
		r->b = guests_next(NULL);
		return true;
	default:
		fail(r, "GenericError", "Several guests are served: name one with 'guest'");
		return false;
	}
}

/* ---- QEMU's commands ------------------------------------------------------ */

/* No capability is offered (no out-of-band execution): enabling any fails,
 * on the first one named, with QEMU's text. */
static void cmd_capabilities(struct request *r)
{
	json_object *en = arg(r, "enable");
	const char *cap;

	if (!en || !json_object_array_length(en))
		return;
	cap = json_object_get_string(json_object_array_get_idx(en, 0));
	if (!strcmp(cap, "oob"))
		fail(r, "GenericError", "Capability 'oob' not available");
	else
		fail(r, "GenericError", "Parameter 'null' does not accept value '%s'", cap);
}

static json_object *version_json(void)
{
	json_object *v = json_object_new_object(), *q = json_object_new_object();

	json_object_object_add(q, "micro", json_object_new_int(QMP_QEMU_MICRO));
	json_object_object_add(q, "minor", json_object_new_int(QMP_QEMU_MINOR));
	json_object_object_add(q, "major", json_object_new_int(QMP_QEMU_MAJOR));
	json_object_object_add(v, "qemu", q);
	json_object_object_add(v, "package", json_object_new_string("vballoond"));
	return v;
}

static void cmd_query_version(struct request *r)
{
	r->ret = version_json();
}

/* The daemon runs as long as it answers: QEMU's state of a running VM. */
static void cmd_query_status(struct request *r)
{
	r->ret = json_object_new_object();
	json_object_object_add(r->ret, "status", json_object_new_string("running"));
	json_object_object_add(r->ret, "singlestep", json_object_new_boolean(0));
	json_object_object_add(r->ret, "running", json_object_new_boolean(1));
}

/*
 * Absent guests say so: QEMU answers "actual" for a device without a driver,
 * but a guest that is not attached here may still hold a balloon we cannot
 * see.  DeviceNotActive is the class QEMU clients already take as "no
 * balloon information" (libvirt does).
 */
static void cmd_query_balloon(struct request *r)
{
	struct balloon_info i;

	balloon_get_info(r->b, &i);
	if (!i.attached) {
		fail(r, "DeviceNotActive", "Guest '%s' is not connected", i.name);
		return;
	}
	if (!i.ram_size) {
		fail(r, "DeviceNotActive", "Guest '%s' has not started its balloon driver",
		     i.name);
		return;
	}
	r->ret = json_object_new_object();
	json_object_object_add(r->ret, "actual", json_object_new_uint64(i.actual));
}

/* A target set before the driver loads is kept and applied when it does. */
static void cmd_balloon(struct request *r)
{
	int64_t value = json_object_get_int64(arg(r, "value"));
	int ret;

	if (value <= 0) {
		fail(r, "GenericError", "Parameter 'target' expects a size");
		return;
	}
	ret = balloon_set_target(r->b, value);
	if (ret == -ERANGE)
		fail(r, "GenericError",
		     "Parameter 'value' is below the guest's floor of %llu bytes (floor=)",
		     (unsigned long long)balloon_floor(r->b));
	else if (ret < 0)
		fail_errno(r, ret, "balloon");
}

static void cmd_query_commands(struct request *r);

/* ---- QOM: /machine/peripheral/<guest> ----------------------------------- */

enum qom_kind { QOM_ROOT, QOM_MACHINE, QOM_PERIPHERAL, QOM_DEVICE };

struct qom_node {
	enum qom_kind kind;
	struct balloon *b;		/* QOM_DEVICE */
};

/* Absolute paths, or QEMU's partial paths ("balloon0", "peripheral"). */
static bool qom_resolve(const char *path, struct qom_node *n)
{
	static const char *const fixed[] = {
		[QOM_ROOT] = "/", [QOM_MACHINE] = "/machine",
		[QOM_PERIPHERAL] = QOM_PERIPHERAL_PATH,
	};
	const char *id = path;
	int k;

	for (k = QOM_ROOT; k <= QOM_PERIPHERAL; k++) {
		if (!strcmp(path, fixed[k]) || (k && !strcmp(path, strrchr(fixed[k], '/') + 1))) {
			n->kind = k;
			return true;
		}
	}
	if (!strncmp(path, QOM_PERIPHERAL_PATH "/", strlen(QOM_PERIPHERAL_PATH) + 1))
		id = path + strlen(QOM_PERIPHERAL_PATH) + 1;
	else if (path[0] == '/')
		return false;
	n->kind = QOM_DEVICE;
	n->b = guests_find(id);
	return n->b;
}

static bool qom_node(struct request *r, struct qom_node *n)
{
	const char *path = json_object_get_string(arg(r, "path"));

	if (qom_resolve(path, n))
		return true;
	fail(r, "DeviceNotFound", "Device '%s' not found", path);
	return false;
}

static void qom_prop(json_object *a, const char *name, const char *type)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_array_add(a, o);
}

static void cmd_qom_list(struct request *r)
{
	struct qom_node n;
	struct balloon *b = NULL;

	if (!qom_node(r, &n))
		return;
	r->ret = json_object_new_array();
	qom_prop(r->ret, "type", "string");
	switch (n.kind) {
	case QOM_ROOT:
		qom_prop(r->ret, "machine", "child<container>");
		break;
	case QOM_MACHINE:
		qom_prop(r->ret, "peripheral", "child<container>");
		break;
	case QOM_PERIPHERAL:
		while ((b = guests_next(b)))
			qom_prop(r->ret, balloon_name(b), "child<" QOM_DEVICE_TYPE ">");
		break;
	case QOM_DEVICE:	/* QEMU's order and type names */
		qom_prop(r->ret, "guest-stats-polling-interval", "int");
		qom_prop(r->ret, "guest-stats", "guest statistics");
		break;
	}
}

static const char *qom_type(const struct qom_node *n)
{
	return n->kind == QOM_DEVICE ? QOM_DEVICE_TYPE : "container";
}

static void cmd_qom_get(struct request *r)
{
	const char *prop = json_object_get_string(arg(r, "property"));
	struct balloon_stats st;
	struct qom_node n;

	if (!qom_node(r, &n))
		return;
	if (!strcmp(prop, "type")) {
		r->ret = json_object_new_string(qom_type(&n));
	} else if (n.kind == QOM_DEVICE && !strcmp(prop, "guest-stats")) {
		r->ret = qmp_info_stats(n.b);
	} else if (n.kind == QOM_DEVICE && !strcmp(prop, "guest-stats-polling-interval")) {
		balloon_get_stats(n.b, &st);
		r->ret = json_object_new_int64(st.interval_s);
	} else {
		fail(r, "GenericError", "Property '%s.%s' not found", qom_type(&n), prop);
	}
}

static void set_polling_interval(struct request *r, struct balloon *b)
{
	json_object *v = arg(r, "value");
	int64_t secs;

	if (!is_int64(v)) {
		fail(r, "GenericError", "Invalid parameter type for "
		     "'guest-stats-polling-interval', expected: integer");
		return;
	}
	secs = json_object_get_int64(v);
	if (secs < 0)
		fail(r, "GenericError", "timer value must be greater than zero");
	else if (secs > UINT32_MAX || balloon_set_stats_interval(b, secs) < 0)
		fail(r, "GenericError", "timer value is too big");
}

static void cmd_qom_set(struct request *r)
{
	const char *prop = json_object_get_string(arg(r, "property"));
	struct qom_node n;

	if (!qom_node(r, &n))
		return;
	if (n.kind == QOM_DEVICE && !strcmp(prop, "guest-stats-polling-interval"))
		set_polling_interval(r, n.b);
	else if (n.kind == QOM_DEVICE && !strcmp(prop, "guest-stats"))
		fail(r, "GenericError",
		     "Property 'virtio-balloon-device.guest-stats' is not writable");
	else if (!strcmp(prop, "type"))
		fail(r, "GenericError", "Property '%s.type' is not writable", qom_type(&n));
	else
		fail(r, "GenericError", "Property '%s.%s' not found", qom_type(&n), prop);
}

/* ---- x-vb-* --------------------------------------------------------------- */

/* With "guest": that guest's info; without: every guest, as an array. */
static void cmd_vb_query(struct request *r)
{
	struct balloon *b = NULL;

	if (arg(r, "guest")) {
		if (resolve_guest(r))
			r->ret = qmp_info_full(r->b);
		return;
	}
	r->ret = json_object_new_array();
	while ((b = guests_next(b)))
		json_object_array_add(r->ret, qmp_info_full(b));
}

static void cmd_vb_list(struct request *r)
{
	struct balloon *b = NULL;

	r->ret = json_object_new_array();
	while ((b = guests_next(b)))
		json_object_array_add(r->ret, qmp_info_brief(b));
}

static void hint_fail(struct request *r, int ret)
{
	if (ret == -EOPNOTSUPP)
		fail(r, "GenericError", "free page hinting was not negotiated with the guest");
	else
		fail_errno(r, ret, "free page hint");
}

static void cmd_vb_hint_op(struct request *r)
{
	int ret = r->cmd->hint_op(r->b);

	if (ret < 0)
		hint_fail(r, ret);
	else
		r->ret = qmp_info_hint(r->b);
}

static void cmd_vb_hint_status(struct request *r)
{
	r->ret = qmp_info_hint(r->b);
}

static void cmd_vb_hint_ranges(struct request *r)
{
	r->ret = qmp_info_hint_ranges(r->b);
}

static void cmd_vb_stats_request(struct request *r)
{
	int ret = balloon_request_stats(r->b);

	if (ret == -EAGAIN)
		fail(r, "GenericError", "a stats request is already pending");
	else if (ret < 0)
		fail_errno(r, ret, "stats request");
}

/* ---- the table ------------------------------------------------------------ */

#define END_ARGS	{ .name = NULL }

static const struct arg_spec no_args[] = { END_ARGS };
static const struct arg_spec caps_args[] = {
	{ .name = "enable", .type = ARG_STR_LIST, .optional = true }, END_ARGS };
static const struct arg_spec balloon_args[] = {
	{ .name = "value", .type = ARG_INT }, END_ARGS };
static const struct arg_spec query_args[] = {
	{ .name = "guest", .type = ARG_STR, .optional = true }, END_ARGS };
static const struct arg_spec qom_list_args[] = {
	{ .name = "path", .type = ARG_STR }, END_ARGS };
static const struct arg_spec qom_get_args[] = {
	{ .name = "path", .type = ARG_STR }, { .name = "property", .type = ARG_STR },
	END_ARGS };
static const struct arg_spec qom_set_args[] = {
	{ .name = "path", .type = ARG_STR }, { .name = "property", .type = ARG_STR },
	{ .name = "value", .type = ARG_ANY }, END_ARGS };

#define CMD(n, f, a)		{ .name = n, .fn = f, .args = a }
#define GUEST_CMD(n, f, a)	{ .name = n, .fn = f, .args = a, .guest = true }
#define HINT_CMD(n, op)		{ .name = n, .fn = cmd_vb_hint_op, .args = no_args, \
				  .guest = true, .hint_op = op }

static const struct command commands[] = {
	CMD("qmp_capabilities", cmd_capabilities, caps_args),
	CMD("query-version", cmd_query_version, no_args),
	CMD("query-status", cmd_query_status, no_args),
	CMD("query-commands", cmd_query_commands, no_args),
	GUEST_CMD("query-balloon", cmd_query_balloon, no_args),
	GUEST_CMD("balloon", cmd_balloon, balloon_args),
	CMD("qom-list", cmd_qom_list, qom_list_args),
	CMD("qom-get", cmd_qom_get, qom_get_args),
	CMD("qom-set", cmd_qom_set, qom_set_args),
	/* x-vb-query resolves "guest" itself: without it, every guest. */
	CMD("x-vb-query", cmd_vb_query, query_args),
	CMD("x-vb-list", cmd_vb_list, no_args),
	HINT_CMD("x-vb-hint-start", balloon_hint_start),
	HINT_CMD("x-vb-hint-stop", balloon_hint_stop),
	HINT_CMD("x-vb-hint-done", balloon_hint_done),
	GUEST_CMD("x-vb-hint-status", cmd_vb_hint_status, no_args),
	GUEST_CMD("x-vb-hint-ranges", cmd_vb_hint_ranges, no_args),
	GUEST_CMD("x-vb-stats-request", cmd_vb_stats_request, no_args),
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* What is served, as QEMU lists it: [{"name": NAME}, ...]. */
static void cmd_query_commands(struct request *r)
{
	size_t i;

	r->ret = json_object_new_array();
	for (i = 0; i < NCOMMANDS; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(commands[i].name));
		json_object_array_add(r->ret, o);
	}
}

static const struct command *command_find(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

/* ---- dispatch ------------------------------------------------------------- */

/* QEMU's checks of the request object itself; the command name or NULL. */
static const char *check_request(struct request *r, json_object *req)
{
	json_object *exec = NULL;

	if (!json_object_is_type(req, json_type_object)) {
		fail(r, "GenericError", "QMP input must be a JSON object");
		return NULL;
	}
	json_object_object_foreach(req, key, val) {
		if (!strcmp(key, "execute") && !json_object_is_type(val, json_type_string)) {
			fail(r, "GenericError", "QMP input member 'execute' must be a string");
			return NULL;
		}
		if (!strcmp(key, "arguments") && !json_object_is_type(val, json_type_object)) {
			fail(r, "GenericError", "QMP input member 'arguments' must be an object");
			return NULL;
		}
		if (strcmp(key, "execute") && strcmp(key, "arguments") && strcmp(key, "id")) {
			fail(r, "GenericError", "QMP input member '%s' is unexpected", key);
			return NULL;
		}
	}
	if (!json_object_object_get_ex(req, "execute", &exec)) {
		fail(r, "GenericError", "QMP input lacks member 'execute'");
		return NULL;
	}
	json_object_object_get_ex(req, "arguments", &r->args);
	return json_object_get_string(exec);
}

/* The negotiation gate and the table; r->cmd or NULL. */
static const struct command *gate(struct request *r, const char *name, bool negotiated)
{
	bool caps = !strcmp(name, "qmp_capabilities");

	if (!negotiated && !caps) {
		fail(r, "CommandNotFound",
		     "Expecting capabilities negotiation with 'qmp_capabilities'");
		return NULL;
	}
	if (negotiated && caps) {
		fail(r, "CommandNotFound",
		     "Capabilities negotiation is already complete, command ignored");
		return NULL;
	}
	r->cmd = command_find(name);
	if (!r->cmd)
		fail(r, "CommandNotFound", "The command %.200s has not been found", name);
	return r->cmd;
}

json_object *qmp_greeting(void)
{
	json_object *o = json_object_new_object(), *q = json_object_new_object();

	json_object_object_add(q, "version", version_json());
	json_object_object_add(q, "capabilities", json_object_new_array());
	json_object_object_add(o, "QMP", q);
	return o;
}

json_object *qmp_dispatch(json_object *req, bool negotiated, bool *negotiate)
{
	struct request r = { 0 };
	const char *name = check_request(&r, req);

	if (name && gate(&r, name, negotiated) && check_args(&r) &&
	    (!r.cmd->guest || resolve_guest(&r))) {
		r.cmd->fn(&r);
		if (!negotiated && !r.err_class)
			*negotiate = true;
	}
	return qmp_reply_new(r.ret, r.err_class, r.err_desc, req);
}
