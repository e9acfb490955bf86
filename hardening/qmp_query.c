// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * qmp_query.c - what the daemon says about one guest over its control
 * socket (x-vb-query): whether the device is marked broken and how many
 * requests it refused.  The hostile cases check their outcome with it
 * rather than guess it from the frontend side: a broken device and a slow
 * one look alike from there.
 */
#define _GNU_SOURCE
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp_query.h"

/* The next reply line (events skipped) as JSON, or NULL. */
static json_object *reply_line(FILE *fp)
{
	char line[65536];

	while (fgets(line, sizeof(line), fp)) {
		json_object *o = json_tokener_parse(line);

		if (o && (json_object_object_get_ex(o, "return", NULL) ||
			  json_object_object_get_ex(o, "error", NULL)))
			return o;
		json_object_put(o);
	}
	return NULL;
}

static json_object *qmp_exchange(FILE *fp, const char *cmd)
{
	fprintf(fp, "%s\n", cmd);
	fflush(fp);
	return reply_line(fp);
}

/* The x-vb-query "return" of guest, or NULL; the caller puts *top. */
static json_object *query_guest(FILE *fp, const char *guest, json_object **top)
{
	char cmd[512];
	json_object *ret;

	json_object_put(qmp_exchange(fp, "{\"execute\":\"qmp_capabilities\"}"));
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"x-vb-query\",\"arguments\":{\"guest\":\"%s\"}}", guest);
	*top = qmp_exchange(fp, cmd);
	if (*top && json_object_object_get_ex(*top, "return", &ret))
		return ret;
	return NULL;
}

int qmp_guest_state(const char *path, const char *guest, struct guest_state *st)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = -1;
	json_object *top = NULL, *ret, *v;
	FILE *fp;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fp = fdopen(fd, "r+");
	if (!fp) {
		close(fd);
		return -1;
	}
	ret = query_guest(fp, guest, &top);
	if (ret && json_object_object_get_ex(ret, "broken", &v)) {
		st->broken = json_object_get_boolean(v);
		if (json_object_object_get_ex(ret, "refused", &v)) {
			st->refused = json_object_get_uint64(v);
			rc = 0;
		}
	}
	json_object_put(top);
	fclose(fp);
	return rc;
}
