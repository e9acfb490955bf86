/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * broker.h - the broker's runtime: QMP endpoints, the guests behind them,
 * and one tick (poll every endpoint, run the law, set targets).
 */
#ifndef VB_BROKER_BROKER_H
#define VB_BROKER_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "answers.h"
#include "config.h"
#include "hostmem.h"
#include "law.h"
#include "log.h"
#include "qmp.h"

#define BROKER_MAX_GUESTS	CFG_MAX_GUESTS

/* Why a guest is left alone (G_OK: it is managed). */
enum guest_status { G_OK, G_STALE, G_DOWN, G_BROKEN, G_NO_STATS, G_STATUSES };
extern const char *const guest_status_name[G_STATUSES];

struct endpoint {
	struct cfg_endpoint cfg;
	struct qmp q;
	uint64_t retry_ms;		/* next connect attempt */
	uint64_t backoff_ms;
	/* QEMU only: one guest, found at connect time. */
	char qom_path[160];
	uint64_t ram;
	struct vb_ratelimit rl;
};

struct guest {
	char name[ANSWER_NAME_MAX];
	struct endpoint *ep;
	bool listed;			/* seen in the last poll of ep */
	enum guest_status status;
	enum guest_status logged_status;	/* G_STATUSES: none yet */
	uint64_t ram, actual;
	uint64_t device_floor;		/* the device refuses targets below it */
	struct answer_stats stats;
	uint64_t stats_seen_ms;		/* when the stats last changed */
	struct law_params params;
	bool paused;
	bool managed;			/* law state initialised */
	struct law_state law;
	struct law_want want;
	enum law_reason reason;		/* of the last decision */
	uint64_t grant;
	uint64_t grow_ms, grow_target;	/* a grow in flight, for its timing */
	uint64_t last_reach_ms;		/* the last grow's time to actual */
	struct vb_ratelimit rl;
};

struct broker {
	struct broker_config cfg;
	const char *config_path;
	bool dry_run;
	bool paused;			/* SIGUSR1 / SIGUSR2 */
	struct endpoint eps[CFG_MAX_ENDPOINTS];
	unsigned neps;
	struct guest guests[BROKER_MAX_GUESTS];
	unsigned nguests;
	struct host_mem host;
	uint64_t budget;		/* effective, this tick (0 = none) */
	bool host_pressure;		/* this tick */
	uint64_t decisions;
	uint64_t bad_answers;
};

uint64_t broker_now_ms(void);
void broker_setup(struct broker *b);		/* endpoints from b->cfg */
void broker_tick(struct broker *b);
void broker_shutdown(struct broker *b);
int broker_write_metrics(const struct broker *b, const char *path);
/* `vballoon-broker top`: a live view from a metrics file. */
int broker_top(const char *metrics, double interval_s, bool once);

#endif /* VB_BROKER_BROKER_H */
