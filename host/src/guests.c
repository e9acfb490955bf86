// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * guests.c - the registry of guests (one balloon device each), in order of
 * registration, so that lists and QOM paths come out as configured.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guests.h"

static struct {
	struct balloon **v;
	unsigned n, cap;
	balloon_event_cb cb;
	void *opaque;
} reg;

int guests_add(struct balloon *b)
{
	struct balloon **v;

	if (!balloon_name(b)[0])
		return -EINVAL;
	if (guests_find(balloon_name(b)))
		return -EEXIST;
	if (reg.n == reg.cap) {
		v = realloc(reg.v, (reg.cap ? reg.cap * 2 : 4) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		reg.v = v;
		reg.cap = reg.cap ? reg.cap * 2 : 4;
	}
	reg.v[reg.n++] = b;
	balloon_set_event_cb(b, reg.cb, reg.opaque);
	return 0;
}

void guests_remove(struct balloon *b)
{
	unsigned i;

	for (i = 0; i < reg.n; i++) {
		if (reg.v[i] != b)
			continue;
		memmove(&reg.v[i], &reg.v[i + 1], (reg.n - i - 1) * sizeof(*reg.v));
		balloon_set_event_cb(b, NULL, NULL);
		if (!--reg.n) {
			free(reg.v);
			reg.v = NULL;
			reg.cap = 0;
		}
		return;
	}
}

struct balloon *guests_find(const char *name)
{
	unsigned i;

	for (i = 0; i < reg.n; i++)
		if (!strcmp(balloon_name(reg.v[i]), name))
			return reg.v[i];
	return NULL;
}

struct balloon *guests_next(struct balloon *prev)
{
	unsigned i;

	if (!prev)
		return reg.n ? reg.v[0] : NULL;
	for (i = 0; i + 1 < reg.n; i++)
		if (reg.v[i] == prev)
			return reg.v[i + 1];
	return NULL;
}

unsigned guests_count(void)
{
	return reg.n;
}

void guests_set_event_cb(balloon_event_cb cb, void *opaque)
{
	unsigned i;

	reg.cb = cb;
	reg.opaque = opaque;
	for (i = 0; i < reg.n; i++)
		balloon_set_event_cb(reg.v[i], cb, opaque);
}
