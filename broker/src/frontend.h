/* SPDX-License-Identifier: GPL-2.0-or-later */
/* frontend.h - QMP endpoints: polling guests and setting their targets. */
#ifndef VB_BROKER_FRONTEND_H
#define VB_BROKER_FRONTEND_H

#include "broker.h"

/* Connects (with backoff) and refreshes the endpoint's guests: RAM size,
 * actual, stats, status. */
void frontend_poll(struct broker *b, struct endpoint *e, uint64_t now);
/* QMP `balloon`; 0 or a negative errno (logged). */
int frontend_set_target(struct broker *b, struct guest *g, uint64_t target);
void frontend_default_name(struct cfg_endpoint *c);

#endif /* VB_BROKER_FRONTEND_H */
