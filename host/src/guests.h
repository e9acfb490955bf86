/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * guests.h - the daemon's guests by name: the registry the control plane
 * looks devices up in, and the one place balloon events leave the devices.
 *
 * The device core knows neither: each device reports its events to the
 * callback it was given, and this registry gives every device it holds the
 * same one (the control plane's), also to devices added later.
 */
#ifndef VB_GUESTS_H
#define VB_GUESTS_H

#include "balloon.h"

/* Register b under its name.  -EEXIST when the name is taken, -EINVAL when
 * it is empty, -ENOMEM. */
int guests_add(struct balloon *b);
void guests_remove(struct balloon *b);

struct balloon *guests_find(const char *name);
struct balloon *guests_next(struct balloon *prev);	/* NULL -> first */
unsigned guests_count(void);

/* Where every registered device's events go (NULL: nowhere). */
void guests_set_event_cb(balloon_event_cb cb, void *opaque);

#endif /* VB_GUESTS_H */
