/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qmp_commands.h - the QMP command table: request checks as QEMU makes
 * them, the negotiation gate, and every command vballoond serves.
 */
#ifndef VB_QMP_COMMANDS_H
#define VB_QMP_COMMANDS_H

#include <stdbool.h>

#include <json-c/json.h>

/*
 * Run one request (a parsed JSON text, anything) and return the reply
 * object.  negotiated: the client completed qmp_capabilities; *negotiate
 * is set when this request completes it.
 */
json_object *qmp_dispatch(json_object *req, bool negotiated, bool *negotiate);

/* The greeting a client gets on connect: {"QMP": {"version", "capabilities"}}. */
json_object *qmp_greeting(void);

#endif /* VB_QMP_COMMANDS_H */
