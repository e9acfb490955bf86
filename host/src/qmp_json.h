/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qmp_json.h - QMP messages as QEMU writes them: the one builder of error
 * and reply objects, QEMU's text form, and the UTF-8 check of input.
 */
#ifndef VB_QMP_JSON_H
#define VB_QMP_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* {"error": {"class": CLASS, "desc": DESC}} */
json_object *qmp_error_new(const char *cls, const char *desc);

/*
 * The reply to req (the request as parsed; anything): the error object when
 * cls is set, else {"return": ret} (ret consumed; NULL reads {}).  req's
 * "id", when it is an object with one (even null), is echoed where QEMU
 * puts it: before "error", after "return".
 */
json_object *qmp_reply_new(json_object *ret, const char *cls,
			   const char *desc, json_object *req);

/*
 * QEMU's text of a message: ", " and ": " separators, non-ASCII escaped as
 * \uXXXX, terminated by CRLF (libvirt splits its input on "\r\n").
 * malloc'd; *len is set without the NUL.  NULL on out of memory.
 */
char *qmp_json_text(json_object *o, size_t *len);

/* Whether s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool qmp_utf8_valid(const char *s, size_t len);

#endif /* VB_QMP_JSON_H */
