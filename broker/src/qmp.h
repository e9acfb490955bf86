/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qmp.h - a small blocking QMP client with deadlines, for QEMU's monitor
 * and vballoond's control socket alike.  The server is untrusted: every
 * wait has a deadline, an answer is bounded in size, garbage or a timeout
 * closes the connection (the caller reconnects later).
 */
#ifndef VB_BROKER_QMP_H
#define VB_BROKER_QMP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define QMP_MAX_MESSAGE		(1 << 20)	/* one answer, bytes */

struct qmp {
	int fd;				/* -1: closed */
	json_tokener *tok;
	size_t pending;			/* bytes fed since the last object */
	char buf[4096];			/* read, not yet parsed: off..len */
	size_t off, len;
	uint64_t next_id;
	bool vballoond;			/* greeting's package is vballoond */
	char error[160];		/* last error's text, for the log */
};

void qmp_init(struct qmp *q);
/* Connects, reads the greeting, negotiates capabilities. */
int qmp_open(struct qmp *q, const char *path, int timeout_ms);
void qmp_close(struct qmp *q);
/* Runs one command (args consumed, may be NULL).  0 and *ret (caller puts
 * it) on "return"; -EREMOTEIO on an "error" answer (q->error has its
 * text; the connection stays up); -ETIMEDOUT, -EPROTO, -EPIPE close it. */
int qmp_exec(struct qmp *q, const char *cmd, json_object *args, json_object **ret,
	     int timeout_ms);

#endif /* VB_BROKER_QMP_H */
