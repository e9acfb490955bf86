/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * answers.h - the one place QMP answers (from vballoond or QEMU, both
 * untrusted) become numbers for the law.  Everything is checked here:
 * types, signs, ranges against the guest's RAM size, name characters.  A
 * value that fails is "not reported" (-1) and counted, never guessed.
 */
#ifndef VB_BROKER_ANSWERS_H
#define VB_BROKER_ANSWERS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "law.h"

#define ANSWER_NAME_MAX		64

struct answer_stats {
	struct law_sample s;		/* avail, free, caches and counters */
	int64_t last_update;		/* guest's report time (s), -1 unknown */
	int64_t minflt;			/* only to see that stats moved */
};

struct answer_guest {			/* one x-vb-list entry */
	char name[ANSWER_NAME_MAX];
	bool connected, broken;
	uint64_t ram;
	uint64_t actual;
	uint64_t floor;			/* the device's own floor, 0 = none said */
};

/* qom-get guest-stats: returns the number of values refused (0 = clean) or
 * -EPROTO when the answer has no stats object at all.  Unreported or
 * refused values are -1 in out. */
int answer_stats(json_object *ret, uint64_t ram, struct answer_stats *out);
/* query-balloon: 0 and *actual, or -EPROTO (0 < actual <= ram). */
int answer_actual(json_object *ret, uint64_t ram, uint64_t *actual);
/* query-memory-size-summary: base-memory. */
int answer_ram(json_object *ret, uint64_t *ram);
/* x-vb-list: entries into out (at most max); count or -EPROTO.  Bad
 * entries are skipped and counted in *bad. */
int answer_list(json_object *ret, struct answer_guest *out, unsigned max, unsigned *bad);
/* qom-list of a container: the child whose type is a virtio-balloon. */
int answer_balloon_child(json_object *ret, char *name, size_t len);
/* Names go into logs and metric labels: [A-Za-z0-9_.-], 1..63 chars. */
bool answer_name_ok(const char *name);

#endif /* VB_BROKER_ANSWERS_H */
