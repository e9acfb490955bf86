/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qmp_query.h - one guest's state as vballoond's control socket reports it.
 */
#ifndef VB_QMP_QUERY_H
#define VB_QMP_QUERY_H

#include <stdbool.h>
#include <stdint.h>

struct guest_state {
	bool broken;		/* x-vb-query "broken" */
	uint64_t refused;	/* x-vb-query "refused": requests refused so far */
};

/* x-vb-query of guest on the control socket at path: 0, or -1. */
int qmp_guest_state(const char *path, const char *guest, struct guest_state *st);

#endif /* VB_QMP_QUERY_H */
