// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vballoonctl - command line client of vballoond's QMP control socket.
 *
 *   vballoonctl [--qmp PATH] [--json] [--guest NAME] COMMAND [ARGS]
 *
 * Human-readable output by default; --json prints the daemon's "return"
 * value as JSON for scripts.  Exit status: 0 ok, 1 the daemon returned an
 * error, 2 usage or connection error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#define DEFAULT_QMP	"/run/vballoond/qmp.sock"
#define MAX_LINE	(4 << 20)

static const char *opt_qmp;
static const char *opt_guest;
static bool opt_json;

struct conn {
	int fd;
	char *buf;
	size_t len, cap;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: vballoonctl [--qmp PATH] [--json] [--guest NAME] COMMAND [ARGS]\n"
"  list                     guests served by the daemon\n"
"  query                    balloon state and counters (all guests unless --guest)\n"
"  set SIZE                 target guest RAM size: bytes or 512M, 1G, 1.5G...\n"
"  stats                    guest memory statistics (QEMU names)\n"
"  stats-interval SECONDS   stats polling interval (0 = off)\n"
"  stats-request            ask the guest for fresh stats now\n"
"  hint start|stop|done|status|ranges   free page hint rounds\n"
"  events                   follow events until interrupted\n"
"  raw JSON                 send one QMP command, print the reply\n"
"The socket is --qmp, else $VB_QMP, else " DEFAULT_QMP ".\n");
}

static int conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vballoonctl: socket path too long\n");
		return -1;
	}
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "vballoonctl: cannot connect to %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* Next JSON text from the socket (one per line), NULL on EOF/error. */
static json_object *conn_read(struct conn *c)
{
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		ssize_t n;

		if (nl) {
			json_object *o;

			*nl = '\0';
			o = json_tokener_parse(c->buf);
			c->len -= nl + 1 - c->buf;
			memmove(c->buf, nl + 1, c->len);
			if (o)
				return o;
			fprintf(stderr, "vballoonctl: bad JSON from daemon\n");
			return NULL;
		}
		if (c->len + 4096 > c->cap) {
			if (c->cap >= MAX_LINE) {
				fprintf(stderr, "vballoonctl: reply too long\n");
				return NULL;
			}
			size_t cap = c->cap ? c->cap * 2 : 65536;
			char *p = realloc(c->buf, cap);

			if (!p) {	/* c->buf is still ours: freed with c */
				fprintf(stderr, "vballoonctl: out of memory\n");
				return NULL;
			}
			c->buf = p;
			c->cap = cap;
		}
		n = read(c->fd, c->buf + c->len, c->cap - c->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "vballoonctl: connection closed\n");
			return NULL;
		}
		c->len += n;
	}
}

static int conn_send(struct conn *c, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t n = send(c->fd, s + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += n;
	}
	return send(c->fd, "\n", 1, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static bool is_event(json_object *o)
{
	return json_object_object_get_ex(o, "event", NULL);
}

/* Send a request, return the reply (events in between are skipped). */
static json_object *conn_call(struct conn *c, json_object *req)
{
	json_object *o;

	if (conn_send(c, req) < 0) {
		fprintf(stderr, "vballoonctl: send failed\n");
		return NULL;
	}
	while ((o = conn_read(c))) {
		if (!is_event(o))
			return o;
		json_object_put(o);
	}
	return NULL;
}

static json_object *make_cmd(const char *name, json_object *args)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "execute", json_object_new_string(name));
	if (args)
		json_object_object_add(o, "arguments", args);
	return o;
}

static int conn_handshake(struct conn *c)
{
	json_object *o = conn_read(c), *r;

	if (!o || !json_object_object_get_ex(o, "QMP", NULL)) {
		fprintf(stderr, "vballoonctl: no QMP greeting\n");
		json_object_put(o);
		return -1;
	}
	json_object_put(o);
	o = make_cmd("qmp_capabilities", NULL);
	r = conn_call(c, o);
	json_object_put(o);
	if (!r || !json_object_object_get_ex(r, "return", NULL)) {
		fprintf(stderr, "vballoonctl: capabilities negotiation failed\n");
		json_object_put(r);
		return -1;
	}
	json_object_put(r);
	return 0;
}

/* Run a command; on success *ret holds the "return" value (owned).
 * Returns 0, 1 on a daemon error (printed), 2 on a connection error. */
static int call(struct conn *c, const char *name, json_object *args,
		json_object **ret)
{
	json_object *req = make_cmd(name, args), *rep, *v, *e, *d;
	int rc = 0;

	rep = conn_call(c, req);
	json_object_put(req);
	if (!rep)
		return 2;
	if (json_object_object_get_ex(rep, "return", &v)) {
		*ret = json_object_get(v);
	} else {
		rc = 1;
		if (json_object_object_get_ex(rep, "error", &e) &&
		    json_object_object_get_ex(e, "desc", &d))
			fprintf(stderr, "vballoonctl: %s\n", json_object_get_string(d));
		else
			fprintf(stderr, "vballoonctl: unexpected reply\n");
	}
	json_object_put(rep);
	return rc;
}

static json_object *guest_args(void)
{
	json_object *a = json_object_new_object();

	if (opt_guest)
		json_object_object_add(a, "guest", json_object_new_string(opt_guest));
	return a;
}

static uint64_t get_u64(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	return json_object_get_uint64(v);
}

static void print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					    JSON_C_TO_STRING_SPACED));
}

static double mib(uint64_t b)
{
	return b / 1048576.0;
}

/* "512M", "1G", "1.5G", "4096", "2KiB" -> bytes; -1 on error. */
static int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	char *end;
	double v;
	const char *u;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	if (*end) {
		u = strchr(units, *end & ~0x20);
		if (!u || (end[1] && strcasecmp(end + 1, "iB") && strcasecmp(end + 1, "B")))
			return -1;
		v *= (double)(1ULL << (10 * (u - units + 1)));
	}
	if (v >= 18446744073709551616.0)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static void print_list(json_object *r)
{
	size_t i;

	printf("%-20s %-10s %12s %12s\n", "NAME", "STATE", "RAM MiB", "ACTUAL MiB");
	for (i = 0; i < json_object_array_length(r); i++) {
		json_object *g = json_object_array_get_idx(r, i), *v;
		const char *state = "waiting";

		if (json_object_object_get_ex(g, "broken", &v) && json_object_get_boolean(v))
			state = "broken";
		else if (json_object_object_get_ex(g, "connected", &v) &&
			 json_object_get_boolean(v))
			state = "connected";
		json_object_object_get_ex(g, "name", &v);
		printf("%-20s %-10s %12.1f %12.1f\n", json_object_get_string(v), state,
		       mib(get_u64(g, "ram-size")), mib(get_u64(g, "actual")));
	}
}

/* Inflated blocks per order as "order:count" (size of one block), only the
 * orders that occurred. */
static void print_orders(json_object *v)
{
	bool any = false;
	size_t i;

	printf("  %-16s", "blocks-by-order");
	for (i = 0; i < json_object_array_length(v); i++) {
		uint64_t n = json_object_get_uint64(json_object_array_get_idx(v, i));

		if (!n)
			continue;
		printf(" %zu%s:%" PRIu64 " (%s%" PRIu64 " KiB)", i,
		       i == 10 ? "+" : "", n, i == 10 ? ">=" : "", (uint64_t)4 << i);
		any = true;
	}
	printf("%s\n", any ? "" : " none");
}

/* The host THP state of the guest's RAM, against what the file holds. */
static void print_thp(json_object *g)
{
	uint64_t thp = get_u64(g, "ram-thp-bytes");
	uint64_t alloc = get_u64(g, "ram-allocated");

	if (!json_object_object_get_ex(g, "ram-thp-bytes", NULL))
		return;
	printf("  %-16s %.1f MiB of %.1f MiB allocated in 2 MiB pages (%.0f%%)\n",
	       "host-thp", mib(thp), mib(alloc), alloc ? 100.0 * thp / alloc : 0.0);
}

static void print_info(json_object *g)
{
	static const char *const bytes[] = {
		"ram-size", "target", "actual", "discarded-bytes", "reported-bytes",
		"ram-allocated", "ram-thp-bytes", "hinted-bytes",
	};
	static const char *const counts[] = {
		"num-pages", "actual-pages", "inflated-pages", "deflated-pages",
		"discard-ranges", "refused", "pages-order", "poison-val", "hint-cmd-id",
	};
	json_object *v;
	size_t i;

	json_object_object_get_ex(g, "name", &v);
	printf("guest %s\n", json_object_get_string(v));
	json_object_object_get_ex(g, "connected", &v);
	printf("  %-16s %s\n", "connected", json_object_get_boolean(v) ? "yes" : "no");
	json_object_object_get_ex(g, "broken", &v);
	printf("  %-16s %s\n", "broken", json_object_get_boolean(v) ? "yes" : "no");
	for (i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++)
		if (json_object_object_get_ex(g, bytes[i], NULL))
			printf("  %-16s %" PRIu64 " (%.1f MiB)\n", bytes[i],
			       get_u64(g, bytes[i]), mib(get_u64(g, bytes[i])));
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		printf("  %-16s %" PRIu64 "\n", counts[i], get_u64(g, counts[i]));
	if (json_object_object_get_ex(g, "transfer", &v)) {
		json_object *cont = NULL;

		json_object_object_get_ex(g, "cont-pages", &cont);
		printf("  %-16s %s", "transfer", json_object_get_string(v));
		if (json_object_get_boolean(cont))
			printf(", continuous pages of order %" PRIu64,
			       get_u64(g, "pages-order"));
		printf("\n");
	}
	print_thp(g);
	if (json_object_object_get_ex(g, "hint-state", &v))
		printf("  %-16s %s\n", "hint-state", json_object_get_string(v));
	if (json_object_object_get_ex(g, "features", &v)) {
		printf("  %-16s", "features");
		for (i = 0; i < json_object_array_length(v); i++)
			printf(" %s", json_object_get_string(json_object_array_get_idx(v, i)));
		printf("\n");
	}
	if (json_object_object_get_ex(g, "blocks-by-order", &v))
		print_orders(v);
}

static void print_query(json_object *r)
{
	size_t i;

	if (!json_object_is_type(r, json_type_array)) {
		print_info(r);
		return;
	}
	for (i = 0; i < json_object_array_length(r); i++)
		print_info(json_object_array_get_idx(r, i));
}

static void print_stats(json_object *r)
{
	json_object *s, *v;
	time_t t;

	if (json_object_object_get_ex(r, "stats", &s)) {
		/* As QEMU: 2^64-1 is a stat the guest has not reported. */
		json_object_object_foreach(s, k, val) {
			uint64_t x = json_object_get_uint64(val);

			if (x == UINT64_MAX)
				printf("%-24s -\n", k);
			else
				printf("%-24s %" PRIu64 "\n", k, x);
		}
	}
	if (json_object_object_get_ex(r, "last-update", &v)) {
		t = json_object_get_int64(v);
		printf("%-24s %s", "last-update", t ? ctime(&t) : "never\n");
	}
}

/* Name of the guest for qom paths: --guest, else the only one served. */
static const char *one_guest(struct conn *c)
{
	static char name[128];
	json_object *r = NULL, *v;
	int rc;

	if (opt_guest)
		return opt_guest;
	rc = call(c, "x-vb-list", NULL, &r);
	if (rc)
		return NULL;
	if (json_object_array_length(r) != 1) {
		fprintf(stderr, "vballoonctl: %zu guests served: use --guest NAME\n",
			json_object_array_length(r));
		json_object_put(r);
		return NULL;
	}
	json_object_object_get_ex(json_object_array_get_idx(r, 0), "name", &v);
	snprintf(name, sizeof(name), "%s", json_object_get_string(v));
	json_object_put(r);
	return name;
}

static int do_stats(struct conn *c)
{
	const char *g = one_guest(c);
	json_object *a, *r = NULL;
	int rc;

	if (!g)
		return 1;
	a = json_object_new_object();
	json_object_object_add(a, "path", json_object_new_string(g));
	json_object_object_add(a, "property", json_object_new_string("guest-stats"));
	rc = call(c, "qom-get", a, &r);
	if (!rc)
		opt_json ? print_json(r) : print_stats(r);
	json_object_put(r);
	return rc;
}

static int do_stats_interval(struct conn *c, const char *secs)
{
	const char *g = one_guest(c);
	json_object *a, *r = NULL;
	char *end;
	long v = strtol(secs, &end, 10);
	int rc;

	if (*end || v < 0) {
		fprintf(stderr, "vballoonctl: bad interval '%s'\n", secs);
		return 2;
	}
	if (!g)
		return 1;
	a = json_object_new_object();
	json_object_object_add(a, "path", json_object_new_string(g));
	json_object_object_add(a, "property",
			       json_object_new_string("guest-stats-polling-interval"));
	json_object_object_add(a, "value", json_object_new_int64(v));
	rc = call(c, "qom-set", a, &r);
	if (!rc && opt_json)
		print_json(r);
	json_object_put(r);
	return rc;
}

static int do_set(struct conn *c, const char *size)
{
	json_object *a, *r = NULL;
	uint64_t bytes;
	int rc;

	if (parse_size(size, &bytes) < 0 || !bytes) {
		fprintf(stderr, "vballoonctl: bad size '%s'\n", size);
		return 2;
	}
	a = guest_args();
	json_object_object_add(a, "value", json_object_new_int64(bytes));
	rc = call(c, "balloon", a, &r);
	if (!rc)
		opt_json ? print_json(r) :
			   (void)printf("target %" PRIu64 " bytes (%.1f MiB)\n",
					bytes, mib(bytes));
	json_object_put(r);
	return rc;
}

static void print_hint(json_object *r, const char *verb)
{
	size_t i;

	if (!strcmp(verb, "ranges")) {
		for (i = 0; i < json_object_array_length(r); i++) {
			json_object *o = json_object_array_get_idx(r, i);

			printf("%#" PRIx64 " %" PRIu64 "\n", get_u64(o, "start"),
			       get_u64(o, "length"));
		}
		return;
	}
	json_object *v;

	json_object_object_get_ex(r, "state", &v);
	printf("state %s, cmd-id %" PRIu64 ", hinted %" PRIu64 " bytes (%.1f MiB)\n",
	       json_object_get_string(v), get_u64(r, "cmd-id"),
	       get_u64(r, "hinted-bytes"), mib(get_u64(r, "hinted-bytes")));
}

static int do_hint(struct conn *c, const char *verb)
{
	static const char *const verbs[] = { "start", "stop", "done", "status", "ranges" };
	char name[32];
	json_object *r = NULL;
	size_t i;
	int rc;

	for (i = 0; i < 5; i++)
		if (!strcmp(verb, verbs[i]))
			break;
	if (i == 5) {
		fprintf(stderr, "vballoonctl: hint start|stop|done|status|ranges\n");
		return 2;
	}
	snprintf(name, sizeof(name), "x-vb-hint-%s", verb);
	rc = call(c, name, guest_args(), &r);
	if (!rc)
		opt_json ? print_json(r) : print_hint(r, verb);
	json_object_put(r);
	return rc;
}

static int do_events(struct conn *c)
{
	json_object *o, *v, *ts;

	/* The session is set up: say so, so a script can wait for it before
	 * causing the events it wants to see. */
	fprintf(stderr, "vballoonctl: following events (interrupt to stop)\n");
	while ((o = conn_read(c))) {
		if (opt_json) {
			puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		} else if (json_object_object_get_ex(o, "event", &v)) {
			int64_t sec = 0;

			if (json_object_object_get_ex(o, "timestamp", &ts))
				sec = get_u64(ts, "seconds");
			printf("%" PRId64 " %s", sec, json_object_get_string(v));
			if (json_object_object_get_ex(o, "data", &v))
				printf(" %s", json_object_to_json_string_ext(v,
						JSON_C_TO_STRING_PLAIN));
			printf("\n");
		}
		fflush(stdout);
		json_object_put(o);
	}
	return 2;
}

static int do_raw(struct conn *c, const char *text)
{
	json_object *req = json_tokener_parse(text), *rep;

	if (!req) {
		fprintf(stderr, "vballoonctl: raw: not valid JSON\n");
		return 2;
	}
	rep = conn_call(c, req);
	json_object_put(req);
	if (!rep)
		return 2;
	puts(json_object_to_json_string_ext(rep, opt_json ? JSON_C_TO_STRING_PLAIN :
					    JSON_C_TO_STRING_PRETTY));
	json_object_put(rep);
	return 0;
}

static int simple(struct conn *c, const char *name, json_object *args,
		  void (*print)(json_object *))
{
	json_object *r = NULL;
	int rc = call(c, name, args, &r);

	if (!rc)
		opt_json ? print_json(r) : print(r);
	json_object_put(r);
	return rc;
}

static void print_nothing(json_object *r)
{
}

static int run(struct conn *c, int argc, char **argv)
{
	const char *cmd = argv[0];

	if (!strcmp(cmd, "list"))
		return simple(c, "x-vb-list", NULL, print_list);
	if (!strcmp(cmd, "query"))
		return simple(c, "x-vb-query", guest_args(), print_query);
	if (!strcmp(cmd, "stats"))
		return do_stats(c);
	if (!strcmp(cmd, "stats-request"))
		return simple(c, "x-vb-stats-request", guest_args(), print_nothing);
	if (!strcmp(cmd, "events"))
		return do_events(c);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(cmd, "set"))
		return do_set(c, argv[1]);
	if (!strcmp(cmd, "stats-interval"))
		return do_stats_interval(c, argv[1]);
	if (!strcmp(cmd, "hint"))
		return do_hint(c, argv[1]);
	if (!strcmp(cmd, "raw"))
		return do_raw(c, argv[1]);
	usage(stderr);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "qmp", required_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "guest", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct conn c = { .fd = -1 };
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "+q:jg:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			opt_qmp = optarg;
			break;
		case 'j':
			opt_json = true;
			break;
		case 'g':
			opt_guest = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (!opt_qmp)
		opt_qmp = getenv("VB_QMP") ? getenv("VB_QMP") : DEFAULT_QMP;
	if (conn_open(&c, opt_qmp) < 0 || conn_handshake(&c) < 0)
		return 2;
	rc = run(&c, argc - optind, argv + optind);
	close(c.fd);
	free(c.buf);
	return rc;
}
