/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config.h - the broker's config file: untrusted text.  A bad line or value
 * is reported (one log line, rate-limited) and ignored, so the default
 * stands; every default is a safe one, so no bad input can make a guest
 * smaller than a valid config would.
 *
 * One entry per line, KEY=VALUE pairs separated by commas, '#' comments:
 *   budget=6G,interval=0.25,metrics=/run/vballoon-broker/metrics.prom
 *   qmp=/run/vballoond/qmp.sock              (vballoond: all its guests)
 *   qmp=/run/qemu/web.qmp,name=web           (QEMU: one guest)
 *   guest=web,floor=512M,ceiling=75%,weight=2
 *   floor=25%                                (default for every guest)
 * docs/broker.md lists the keys.
 */
#ifndef VB_BROKER_CONFIG_H
#define VB_BROKER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "law.h"

#define CFG_MAX_GUESTS		64
#define CFG_MAX_ENDPOINTS	32
#define CFG_NAME_MAX		64
#define CFG_PATH_MAX		108	/* sun_path */

/* A size: bytes, or per mille of the guest's RAM ("25%" = 250). */
struct cfg_size {
	bool set;
	uint64_t bytes;
	unsigned permille;
};

/* Guest policy keys; unset ones take the defaults, then the built-ins. */
struct cfg_policy {
	struct cfg_size floor, ceiling, headroom, min_change, shrink_step, grow_step;
	int64_t quiet_ms, cache_quiet_ms, shrink_gap_ms, lookahead_ms;	/* -1 unset */
	int weight, refault_rate, max_resizes;			/* -1 unset */
	int reclaim_cache, paused;				/* -1 unset */
};

struct cfg_guest {
	char name[CFG_NAME_MAX];
	struct cfg_policy policy;
};

struct cfg_endpoint {
	char path[CFG_PATH_MAX];
	char name[CFG_NAME_MAX];	/* QEMU: the guest's name */
	char qom_path[128];		/* QEMU: balloon device (else found) */
};

struct broker_config {
	uint64_t budget;		/* 0: none */
	uint64_t host_reserve;		/* host MemAvailable kept free */
	double host_psi;		/* host memory PSI some avg10 (%) = pressure; 0 off */
	uint64_t interval_ms;
	bool dry_run;
	bool paused;
	char metrics[256];
	struct cfg_policy defaults;
	struct cfg_guest guests[CFG_MAX_GUESTS];
	unsigned nguests;
	struct cfg_endpoint endpoints[CFG_MAX_ENDPOINTS];
	unsigned nendpoints;
	unsigned errors;		/* lines or values refused */
};

void config_init(struct broker_config *c);
/* Parses text (NUL-terminated) on top of c.  Returns the number of errors
 * found; each was logged and left the previous value in place. */
unsigned config_parse(struct broker_config *c, const char *text);
int config_load(struct broker_config *c, const char *path);
/* One guest's law parameters for a RAM size (0 = unknown: no resizes). */
void config_params(const struct broker_config *c, const char *guest, uint64_t ram,
		   struct law_params *out, bool *paused);
/* "512M", "1.5G", "4096" (bytes); refuses signs, NaN, overflow. */
int config_parse_bytes(const char *v, uint64_t *out);

#endif /* VB_BROKER_CONFIG_H */
