/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * control.h - the QMP-compatible control socket of vballoond.
 *
 * Speaks enough of QEMU's QMP for balloon tooling written against QEMU
 * (greeting, qmp_capabilities, balloon, query-balloon, qom-get/qom-set of
 * guest-stats and guest-stats-polling-interval, BALLOON_CHANGE), plus the
 * x-vb-* extensions documented in docs/qmp.md.  Clients are hostile: input
 * size is bounded, output is buffered non-blocking with a cap, and a client
 * that misbehaves or vanishes is dropped without affecting the others.
 */
#ifndef VB_CONTROL_H
#define VB_CONTROL_H

struct loop;

/* Listen on a unix socket at path (a stale socket file is replaced) and
 * serve clients from l.  Also registers the balloon event callback.
 * 0 or -errno. */
int control_listen(struct loop *l, const char *path);
/* Close the listening socket and every client; unlink the path. */
void control_close(void);

/* Run one command object (a JSON text, capabilities already negotiated) and
 * return the reply as a malloc'd JSON text.  For tests and tools. */
char *control_execute(const char *json);

#endif /* VB_CONTROL_H */
