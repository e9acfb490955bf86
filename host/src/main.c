// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * main.c - vballoond: virtio-balloon devices as vhost-user backends, one
 * per guest, all served by one non-blocking event loop, plus a
 * QMP-compatible control socket.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "balloon.h"
#include "control.h"
#include "guests.h"
#include "log.h"
#include "state.h"
#include "loop.h"
#include "qmp_events.h"
#include "vdev.h"
#include "vhost_user.h"

#define MAX_GUESTS 64

struct guest {
	struct balloon_opts o;
	char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct balloon *b;
	struct vu_server *vu;
};

static struct guest guests[MAX_GUESTS];
static unsigned nguests;

static void usage(FILE *f)
{
	fprintf(f,
"Usage: vballoond --socket PATH [--qmp PATH] [--name NAME] [guest options]\n"
"       vballoond [--guest SPEC]... [--config FILE] [--qmp PATH]\n"
"\n"
"Serves a virtio-balloon device (virtio id 5) to each guest over a\n"
"vhost-user socket (UML: virtio_uml.device=PATH:5).\n"
"\n"
"  -s, --socket PATH     vhost-user socket of the single guest\n"
"  -n, --name NAME       its name, also its QMP id (/machine/peripheral/NAME);\n"
"                        unnamed guests are balloon0, balloon1, ...\n"
"      --qmp PATH        QMP-compatible control socket (all guests)\n"
"  -g, --guest SPEC      one more guest: name=NAME,socket=PATH[,KEY=VALUE...]\n"
"  -c, --config FILE     guests from FILE: one SPEC per line, '#' comments,\n"
"                        optionally a line qmp=PATH\n"
"      --state-dir DIR   keep each guest's state (target, RAM size, what its\n"
"                        balloon holds) in DIR/NAME.state across restarts\n"
"  -v, --verbose         debug log    -q, --quiet   warnings and errors only\n"
"  -h, --help\n"
"\n"
"Guest keys (SPEC, or --KEY VALUE for the single guest):\n"
"  deflate-on-oom=on|off  stats=on|off  stats-interval=SECONDS\n"
"  free-page-hint=on|off  hint-discard=on|off  page-poison=on|off\n"
"  page-reporting=on|off  ranges=on|off  cont-pages=on|off\n"
"  pages-order=N (-1 = THP order of the RAM file)\n"
"  ram-size=BYTES[KMG] (default: from the memory table; UML needs it)\n"
"  floor=BYTES[KMG]   smallest target accepted (default: half the RAM, at\n"
"                     most 128M + RAM/64; 0 = none)\n");
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int parse_u64(const char *v, uint64_t *out, bool suffix)
{
	unsigned long long x;
	char *end;

	if (!*v || *v == '-')
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno)
		return -EINVAL;
	if (suffix && *end) {
		int shift = strchr("kK", *end) ? 10 : strchr("mM", *end) ? 20 :
			    strchr("gG", *end) ? 30 : -1;

		if (shift < 0 || end[1] || x > (UINT64_MAX >> shift))
			return -EINVAL;
		x <<= shift;
		end++;
	}
	if (*end)
		return -EINVAL;
	*out = x;
	return 0;
}

static int guest_key(struct guest *g, const char *k, const char *v)
{
	struct balloon_opts *o = &g->o;
	uint64_t x;

	if (!strcmp(k, "name")) {
		if (!*v || strlen(v) >= sizeof(o->name))
			return -EINVAL;
		strcpy(o->name, v);
		return 0;
	}
	if (!strcmp(k, "socket")) {
		if (!*v || strlen(v) >= sizeof(g->socket))
			return -EINVAL;
		strcpy(g->socket, v);
		return 0;
	}
	if (!strcmp(k, "deflate-on-oom"))
		return parse_bool(v, &o->deflate_on_oom);
	if (!strcmp(k, "stats"))
		return parse_bool(v, &o->stats);
	if (!strcmp(k, "free-page-hint"))
		return parse_bool(v, &o->free_page_hint);
	if (!strcmp(k, "hint-discard"))
		return parse_bool(v, &o->hint_discard);
	if (!strcmp(k, "page-poison"))
		return parse_bool(v, &o->page_poison);
	if (!strcmp(k, "page-reporting"))
		return parse_bool(v, &o->page_reporting);
	if (!strcmp(k, "ranges"))
		return parse_bool(v, &o->page_ranges);
	if (!strcmp(k, "cont-pages"))
		return parse_bool(v, &o->cont_pages);
	if (!strcmp(k, "stats-interval")) {
		if (parse_u64(v, &x, false) || x > BALLOON_MAX_STATS_INTERVAL)
			return -EINVAL;
		o->stats_interval_s = x;
		return 0;
	}
	if (!strcmp(k, "pages-order")) {
		if (!strcmp(v, "-1")) {
			o->pages_order = -1;
			return 0;
		}
		if (parse_u64(v, &x, false) || x > BALLOON_MAX_ORDER)
			return -EINVAL;
		o->pages_order = x;
		return 0;
	}
	if (!strcmp(k, "ram-size"))
		return parse_u64(v, &o->ram_size, true);
	if (!strcmp(k, "floor"))
		return parse_u64(v, &o->floor, true);
	return -ENOENT;
}

static struct guest *guest_add(void)
{
	struct guest *g;

	if (nguests >= MAX_GUESTS) {
		vb_err("too many guests (max %d)", MAX_GUESTS);
		return NULL;
	}
	g = &guests[nguests++];
	balloon_opts_default(&g->o);
	return g;
}

/* SPEC: key=value[,key=value...] */
static int guest_spec(const char *spec, const char *where)
{
	char buf[1024], *save = NULL, *kv;
	struct guest *g;

	if (strlen(spec) >= sizeof(buf)) {
		vb_err("%s: guest spec too long", where);
		return -EINVAL;
	}
	strcpy(buf, spec);
	g = guest_add();
	if (!g)
		return -ENOSPC;
	for (kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		int rc;

		if (!eq) {
			vb_err("%s: '%s' is not key=value", where, kv);
			return -EINVAL;
		}
		*eq = '\0';
		rc = guest_key(g, kv, eq + 1);
		if (rc) {
			vb_err("%s: %s '%s=%s'", where,
			       rc == -ENOENT ? "unknown key" : "bad value", kv, eq + 1);
			return rc;
		}
	}
	if (!g->socket[0]) {
		vb_err("%s: guest without socket=", where);
		return -EINVAL;
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && strchr(" \t\r\n", e[-1]))
		*--e = '\0';
	return s;
}

static int config_file(const char *path, char *qmp, size_t qmp_len)
{
	char line[1024], where[300];
	unsigned lineno = 0;
	int rc = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		vb_err("%s: %s", path, strerror(errno));
		return -errno;
	}
	while (!rc && fgets(line, sizeof(line), f)) {
		char *s = trim(line);

		lineno++;
		if (!*s || *s == '#')
			continue;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		if (!strncmp(s, "qmp=", 4)) {
			if (strlen(s + 4) >= qmp_len) {
				vb_err("%s: qmp path too long", where);
				rc = -EINVAL;
			} else {
				strcpy(qmp, s + 4);
			}
			continue;
		}
		if (!strncmp(s, "guest ", 6))
			s = trim(s + 6);
		rc = guest_spec(s, where);
	}
	fclose(f);
	return rc;
}

static bool name_taken(const char *name)
{
	unsigned i;

	for (i = 0; i < nguests; i++)
		if (!strcmp(guests[i].o.name, name))
			return true;
	return false;
}

/* Unnamed guests get QEMU's usual device ids: balloon0, balloon1, ... */
static void name_defaults(void)
{
	unsigned i, n = 0;

	for (i = 0; i < nguests; i++) {
		while (!guests[i].o.name[0]) {
			char name[sizeof(guests[i].o.name)];

			snprintf(name, sizeof(name), "balloon%u", n++);
			if (!name_taken(name))
				strcpy(guests[i].o.name, name);
		}
	}
}

static int check_unique(void)
{
	unsigned i, j;

	for (i = 0; i < nguests; i++) {
		for (j = 0; j < i; j++) {
			if (!strcmp(guests[i].socket, guests[j].socket)) {
				vb_err("socket %s given twice", guests[i].socket);
				return -EINVAL;
			}
			if (guests[i].o.name[0] && !strcmp(guests[i].o.name, guests[j].o.name)) {
				vb_err("guest name %s given twice", guests[i].o.name);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static void signal_cb(struct loop *l, int fd, uint32_t events, void *opaque)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		vb_info("signal %u: shutting down", si.ssi_signo);
	loop_stop(l);
}

static int signals_setup(struct loop *l)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	return loop_add_fd(l, fd, EPOLLIN, signal_cb, NULL);
}

static int guests_start(struct loop *l)
{
	unsigned i;

	for (i = 0; i < nguests; i++) {
		struct guest *g = &guests[i];

		g->b = balloon_new(&g->o, l);
		if (!g->b || guests_add(g->b)) {
			vb_err("guest %s: cannot create the device", g->o.name);
			return -EINVAL;
		}
		g->vu = vu_server_new(l, g->socket, balloon_name(g->b), balloon_vdev(g->b));
		if (!g->vu) {
			vb_err("guest %s: cannot listen on %s: %s", balloon_name(g->b),
			       g->socket, strerror(errno));
			return -errno;
		}
		vb_info("guest %s: vhost-user socket %s", balloon_name(g->b), g->socket);
	}
	return 0;
}

static void guests_stop(void)
{
	unsigned i;

	for (i = 0; i < nguests; i++) {
		vu_server_free(guests[i].vu);
		if (guests[i].b) {
			guests_remove(guests[i].b);
			balloon_free(guests[i].b);
		}
		guests[i].vu = NULL;
		guests[i].b = NULL;
	}
}

enum {
	OPT_QMP = 0x100,
	OPT_GUEST_KEY,
	OPT_STATE_DIR,
};

static const struct option long_opts[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "name", required_argument, NULL, 'n' },
	{ "qmp", required_argument, NULL, OPT_QMP },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "guest", required_argument, NULL, 'g' },
	{ "config", required_argument, NULL, 'c' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "deflate-on-oom", required_argument, NULL, OPT_GUEST_KEY },
	{ "stats", required_argument, NULL, OPT_GUEST_KEY },
	{ "stats-interval", required_argument, NULL, OPT_GUEST_KEY },
	{ "free-page-hint", required_argument, NULL, OPT_GUEST_KEY },
	{ "hint-discard", required_argument, NULL, OPT_GUEST_KEY },
	{ "page-poison", required_argument, NULL, OPT_GUEST_KEY },
	{ "page-reporting", required_argument, NULL, OPT_GUEST_KEY },
	{ "ranges", required_argument, NULL, OPT_GUEST_KEY },
	{ "cont-pages", required_argument, NULL, OPT_GUEST_KEY },
	{ "pages-order", required_argument, NULL, OPT_GUEST_KEY },
	{ "ram-size", required_argument, NULL, OPT_GUEST_KEY },
	{ "floor", required_argument, NULL, OPT_GUEST_KEY },
	{ NULL, 0, NULL, 0 },
};

struct cmdline {
	char qmp[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct guest single;		/* from --socket and --KEY options */
	bool have_single, single_opts;
	const char *config;
	const char *state_dir;
};

static int parse_args(int argc, char **argv, struct cmdline *c)
{
	int opt, idx, rc;

	balloon_opts_default(&c->single.o);
	while ((opt = getopt_long(argc, argv, "s:n:g:c:vqh", long_opts, &idx)) != -1) {
		switch (opt) {
		case 's':
		case 'n':
			rc = guest_key(&c->single, opt == 's' ? "socket" : "name", optarg);
			if (rc) {
				vb_err("bad --%s '%s'", opt == 's' ? "socket" : "name", optarg);
				return 2;
			}
			c->have_single |= opt == 's';
			c->single_opts = true;
			break;
		case OPT_GUEST_KEY:
			if (guest_key(&c->single, long_opts[idx].name, optarg)) {
				vb_err("bad value for --%s: '%s'", long_opts[idx].name, optarg);
				return 2;
			}
			c->single_opts = true;
			break;
		case OPT_QMP:
			if (strlen(optarg) >= sizeof(c->qmp)) {
				vb_err("--qmp path too long");
				return 2;
			}
			strcpy(c->qmp, optarg);
			break;
		case 'g':
			if (guest_spec(optarg, "--guest"))
				return 2;
			break;
		case 'c':
			c->config = optarg;
			break;
		case OPT_STATE_DIR:
			c->state_dir = optarg;
			break;
		case 'v':
			vb_log_set_level(VB_LOG_DEBUG);
			break;
		case 'q':
			vb_log_set_level(VB_LOG_WARN);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		vb_err("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (c->single_opts && !c->have_single) {
		vb_err("--name and guest options need --socket (or use --guest)");
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct cmdline c;
	struct loop *l;
	int rc;

	rc = parse_args(argc, argv, &c);
	if (rc)
		return rc;
	if (c.config && config_file(c.config, c.qmp, sizeof(c.qmp)))
		return 2;
	if (c.have_single) {
		struct guest *g = guest_add();

		if (!g)
			return 2;
		*g = c.single;
	}
	if (!nguests) {
		usage(stderr);
		return 2;
	}
	if (check_unique())
		return 2;
	name_defaults();

	l = loop_new();
	if (!l) {
		vb_err("cannot create the event loop");
		return 1;
	}
	rc = signals_setup(l);
	if (rc) {
		vb_err("signals: %s", strerror(-rc));
		return 1;
	}
	rc = guests_start(l);
	if (!rc && c.state_dir) {
		rc = state_start(l, c.state_dir);
		if (rc)
			vb_err("--state-dir %s: %s", c.state_dir, strerror(-rc));
	}
	if (!rc && c.qmp[0]) {
		rc = control_listen(l, c.qmp);
		if (rc)
			vb_err("cannot listen on %s: %s", c.qmp, strerror(-rc));
		else
			qmp_events_start(l);
	}
	if (!rc) {
		vb_info("serving %u guest%s", nguests, nguests == 1 ? "" : "s");
		rc = loop_run(l);
		if (rc)
			vb_err("event loop: %s", strerror(-rc));
	}
	if (c.qmp[0]) {
		qmp_events_stop();
		control_close();
	}
	guests_stop();
	loop_free(l);
	return rc ? 1 : 0;
}
