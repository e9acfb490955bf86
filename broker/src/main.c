// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vballoon-broker - automatic memory management of the guests behind QMP
 * sockets (vballoond's and QEMU's).  docs/broker.md has the control law,
 * the config keys and the signals.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"

static volatile sig_atomic_t sig_stop, sig_reload, sig_pause = -1;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		sig_reload = 1;
	else if (sig == SIGUSR1)
		sig_pause = 1;
	else if (sig == SIGUSR2)
		sig_pause = 0;
	else
		sig_stop = 1;
}

static void usage(FILE *f)
{
	fputs("usage: vballoon-broker [options]\n"
	      "       vballoon-broker top [--metrics FILE] [--interval S] [--once]\n"
	      "  -c, --config FILE    config file (docs/broker.md); SIGHUP reloads it\n"
	      "      --qmp PATH       one more QMP socket (vballoond's or QEMU's)\n"
	      "      --name NAME      the guest's name for the last --qmp (QEMU)\n"
	      "  -m, --metrics FILE   Prometheus text file, rewritten each tick\n"
	      "  -n, --dry-run        log decisions, set nothing\n"
	      "      --once           one tick, then exit\n"
	      "  -v, --verbose   -q, --quiet   -h, --help\n"
	      "SIGUSR1 pauses the policy (every guest keeps its size), SIGUSR2 resumes it.\n", f);
}

struct opts {
	const char *config;
	struct broker_config extra;	/* endpoints and metrics from the command line */
	bool dry_run, once;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' }, { "qmp", required_argument, NULL, 'Q' },
		{ "name", required_argument, NULL, 'N' }, { "metrics", required_argument, NULL, 'm' },
		{ "dry-run", no_argument, NULL, 'n' }, { "once", no_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' }, { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	struct broker_config *x = &o->extra;
	char line[300];
	int c;

	while ((c = getopt_long(argc, argv, "c:m:nvqh", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'n': o->dry_run = true; break;
		case 'o': o->once = true; break;
		case 'v': vb_log_set_level(VB_LOG_DEBUG); break;
		case 'q': vb_log_set_level(VB_LOG_WARN); break;
		case 'h': usage(stdout); exit(0);
		case 'Q':
			snprintf(line, sizeof(line), "qmp=%s", optarg);
			config_parse(x, line);
			break;
		case 'N':
			if (!x->nendpoints)
				return -EINVAL;
			snprintf(x->endpoints[x->nendpoints - 1].name, CFG_NAME_MAX, "%.63s", optarg);
			break;
		case 'm':
			snprintf(line, sizeof(line), "metrics=%s", optarg);
			config_parse(x, line);
			break;
		default: return -EINVAL;
		}
	}
	return optind < argc || x->errors ? -EINVAL : 0;
}

/* The config file, then the command line's endpoints and metrics. */
static int load_config(struct broker *b, const struct opts *o)
{
	struct broker_config *c = &b->cfg;
	unsigned i;

	config_init(c);
	if (o->config && config_load(c, o->config)) {
		vb_err("config %s: %s", o->config, strerror(errno));
		return -1;
	}
	for (i = 0; i < o->extra.nendpoints && c->nendpoints < CFG_MAX_ENDPOINTS; i++)
		c->endpoints[c->nendpoints++] = o->extra.endpoints[i];
	if (o->extra.metrics[0])
		memcpy(c->metrics, o->extra.metrics, sizeof(c->metrics));
	if (!c->nendpoints) {
		vb_err("no QMP socket: give --qmp PATH or qmp= lines in the config");
		return -1;
	}
	return 0;
}

/* SIGHUP: policy, budget and metrics change; endpoints stay (a restart
 * re-reads them), so guests keep their law state. */
static void reload(struct broker *b, const struct opts *o)
{
	struct broker_config fresh;

	config_init(&fresh);
	if (o->config && config_load(&fresh, o->config)) {
		vb_warn("config %s: cannot reload, keeping the old one", o->config);
		return;
	}
	memcpy(fresh.endpoints, b->cfg.endpoints, sizeof(fresh.endpoints));
	fresh.nendpoints = b->cfg.nendpoints;
	if (o->extra.metrics[0])
		memcpy(fresh.metrics, o->extra.metrics, sizeof(fresh.metrics));
	b->cfg = fresh;
	vb_info("config reloaded (%u errors)", fresh.errors);
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);	/* a signal ends it early: handled next tick */
}

static void handle_signals(struct broker *b, const struct opts *o)
{
	if (sig_reload) {
		sig_reload = 0;
		reload(b, o);
	}
	if (sig_pause >= 0 && (bool)sig_pause != b->paused) {
		b->paused = sig_pause;
		vb_info("policy %s", b->paused ? "paused: every guest keeps its size" : "resumed");
	}
}

static int run(struct opts *o)
{
	static struct broker b;
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t start;

	if (load_config(&b, o))
		return 2;
	b.dry_run = o->dry_run || b.cfg.dry_run;
	b.config_path = o->config;
	broker_setup(&b);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	vb_info("started: %u endpoints, interval %llu ms%s", b.neps,
		(unsigned long long)b.cfg.interval_ms, b.dry_run ? ", dry run" : "");
	while (!sig_stop) {
		start = broker_now_ms();
		handle_signals(&b, o);
		broker_tick(&b);
		if (o->once)
			break;
		if (broker_now_ms() - start < b.cfg.interval_ms)
			sleep_ms(b.cfg.interval_ms - (broker_now_ms() - start));
	}
	broker_shutdown(&b);
	vb_info("stopped");
	return 0;
}

static int top_main(int argc, char **argv)
{
	const char *metrics = "/run/vballoon-broker/metrics.prom";
	double interval = 1;
	bool once = false;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--metrics") && i + 1 < argc)
			metrics = argv[++i];
		else if (!strcmp(argv[i], "--interval") && i + 1 < argc)
			interval = atof(argv[++i]);
		else if (!strcmp(argv[i], "--once"))
			once = true;
		else
			return usage(stderr), 2;
	}
	if (!(interval >= 0.1 && interval <= 3600))
		interval = 1;
	return broker_top(metrics, interval, once);
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };

	vb_log_set_ident("vballoon-broker");
	if (argc > 1 && !strcmp(argv[1], "top"))
		return top_main(argc - 1, argv + 1);
	config_init(&o.extra);
	if (parse_opts(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	return run(&o);
}
