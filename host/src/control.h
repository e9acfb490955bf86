/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * control.h - the QMP server of vballoond: the control socket, its clients
 * and the framing of their JSON texts.
 *
 * What is answered lives in qmp_commands.c, how device state reads in
 * qmp_info.c, which events are sent when in qmp_events.c; this file only
 * moves bytes.  Clients are hostile: input per client is bounded, output is
 * buffered non-blocking with a cap, and a client that misbehaves or
 * vanishes is dropped without affecting the others (limits in docs/qmp.md).
 */
#ifndef VB_CONTROL_H
#define VB_CONTROL_H

#include <sys/time.h>

#include <json-c/json.h>

struct loop;

/* Most clients served at once; also the listen backlog, so that a burst
 * of that many connects is queued, not refused. */
#define CTL_MAX_CLIENTS		64
/* Longest JSON text a client may send (QEMU answers 1 MiB commands).  The
 * fuzzers build with a smaller one (host.mk): texts past it then cost a
 * run milliseconds, not a second. */
#ifndef CTL_MAX_INPUT
#define CTL_MAX_INPUT		(2 * 1024 * 1024)
#endif
/* Unsent output per client: twice the input, so a reply echoing the
 * longest id fits; a client that stops reading is dropped at this. */
#define CTL_MAX_OUTPUT		(2 * CTL_MAX_INPUT)

/* Listen on a unix socket at path and serve clients from l.  A live socket
 * at path (another daemon) is refused with -EADDRINUSE; a stale one is
 * replaced.  0 or -errno. */
int control_listen(struct loop *l, const char *path);
/* Close the listening socket and every client; unlink the path. */
void control_close(void);

/* Send event name with data (consumed) to every negotiated client, stamped
 * when (NULL: now). */
void control_broadcast(const char *name, json_object *data, const struct timeval *when);

/* Run one JSON text as a negotiated client's request; the reply as its
 * wire text (CRLF included), malloc'd.  For tests and fuzzers. */
char *control_execute(const char *json);

#endif /* VB_CONTROL_H */
