// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * qmp.c - QMP client (see qmp.h).  Messages are parsed as a stream with
 * json-c's incremental tokener, so it does not depend on how the server
 * frames them (QEMU ends them with "\r\n", vballoond with "\n"); events
 * between a command and its answer are skipped.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"

#define MAX_SKIPPED	1000	/* events/stale answers before an answer */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void qmp_init(struct qmp *q)
{
	memset(q, 0, sizeof(*q));
	q->fd = -1;
}

void qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	if (q->tok)
		json_tokener_free(q->tok);
	q->fd = -1;
	q->tok = NULL;
	q->off = q->len = 0;
}

static int fail(struct qmp *q, int err, const char *what)
{
	snprintf(q->error, sizeof(q->error), "%s", what);
	qmp_close(q);
	return err;
}

static int wait_fd(int fd, short ev, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int64_t left = deadline - now_ms();
	int n;

	if (left <= 0)
		return -ETIMEDOUT;
	n = poll(&p, 1, (int)left);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n ? 0 : -ETIMEDOUT;
}

/* Feed buffered bytes to the tokener: an object, or NULL (need more). */
static int parse_some(struct qmp *q, json_object **obj)
{
	enum json_tokener_error err;
	size_t used;

	*obj = json_tokener_parse_ex(q->tok, q->buf + q->off, (int)(q->len - q->off));
	used = json_tokener_get_parse_end(q->tok);
	q->off += used;
	q->pending += used;
	err = json_tokener_get_error(q->tok);
	if (*obj) {
		q->pending = 0;
		return 0;
	}
	if (err != json_tokener_continue || q->pending > QMP_MAX_MESSAGE)
		return -EPROTO;
	q->off = q->len;
	return 0;
}

static int read_message(struct qmp *q, int64_t deadline, json_object **obj)
{
	ssize_t n;
	int ret;

	for (;;) {
		if (q->off < q->len) {
			ret = parse_some(q, obj);
			if (ret || *obj)
				return ret;
			continue;
		}
		ret = wait_fd(q->fd, POLLIN, deadline);
		if (ret)
			return ret;
		n = read(q->fd, q->buf, sizeof(q->buf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -EPIPE;
		q->off = 0;
		q->len = (size_t)n;
	}
}

static int write_all(struct qmp *q, const char *s, int64_t deadline)
{
	size_t len = strlen(s), done = 0;
	ssize_t n;
	int ret;

	while (done < len) {
		n = send(q->fd, s + done, len - done, MSG_NOSIGNAL);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -EPIPE;
		ret = wait_fd(q->fd, POLLOUT, deadline);
		if (ret)
			return ret;
	}
	return 0;
}

static bool is_answer(json_object *m, uint64_t id)
{
	json_object *v;

	if (!json_object_is_type(m, json_type_object) ||
	    (!json_object_object_get_ex(m, "return", NULL) &&
	     !json_object_object_get_ex(m, "error", NULL)))
		return false;
	return json_object_object_get_ex(m, "id", &v) && json_object_is_type(v, json_type_int) &&
	       (uint64_t)json_object_get_int64(v) == id;
}

static int take_answer(struct qmp *q, json_object *m, json_object **ret)
{
	json_object *v, *desc;

	if (json_object_object_get_ex(m, "return", &v)) {
		if (ret)
			*ret = json_object_get(v);
		return 0;
	}
	json_object_object_get_ex(m, "error", &v);
	snprintf(q->error, sizeof(q->error), "%.150s",
		 json_object_object_get_ex(v, "desc", &desc) &&
		 json_object_is_type(desc, json_type_string) ?
		 json_object_get_string(desc) : "error without a description");
	return -EREMOTEIO;
}

static const char *read_error(int err)
{
	return err == -ETIMEDOUT ? "no answer in time" :
	       err == -EPIPE ? "connection closed" : "not QMP (bad JSON)";
}

static int await_answer(struct qmp *q, uint64_t id, json_object **ret, int64_t deadline)
{
	json_object *m;
	unsigned skipped;
	int err;

	for (skipped = 0; skipped < MAX_SKIPPED; skipped++) {
		err = read_message(q, deadline, &m);
		if (err)
			return fail(q, err, read_error(err));
		if (is_answer(m, id)) {
			err = take_answer(q, m, ret);
			json_object_put(m);
			return err;
		}
		json_object_put(m);	/* an event, or an answer we gave up on */
	}
	return fail(q, -EPROTO, "too many messages without an answer");
}

int qmp_exec(struct qmp *q, const char *cmd, json_object *args, json_object **ret,
	     int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	json_object *m = json_object_new_object();
	uint64_t id = ++q->next_id;
	int err;

	if (ret)
		*ret = NULL;
	json_object_object_add(m, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(m, "arguments", args);
	json_object_object_add(m, "id", json_object_new_int64((int64_t)id));
	if (q->fd < 0) {
		json_object_put(m);
		return -ENOTCONN;
	}
	err = write_all(q, json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN), deadline);
	if (!err)
		err = write_all(q, "\n", deadline);
	json_object_put(m);
	if (err)
		return fail(q, err, "cannot send");
	return await_answer(q, id, ret, deadline);
}

static bool greeting_from_vballoond(json_object *g)
{
	json_object *qmp, *ver, *pkg;

	return json_object_object_get_ex(g, "QMP", &qmp) &&
	       json_object_object_get_ex(qmp, "version", &ver) &&
	       json_object_object_get_ex(ver, "package", &pkg) &&
	       json_object_is_type(pkg, json_type_string) &&
	       !strcmp(json_object_get_string(pkg), "vballoond");
}

static int greeting(struct qmp *q, int64_t deadline)
{
	json_object *g;
	int err = read_message(q, deadline, &g);

	if (err) {
		char why[64];

		snprintf(why, sizeof(why), "greeting: %s", read_error(err));
		return fail(q, err, why);
	}
	if (!json_object_is_type(g, json_type_object) ||
	    !json_object_object_get_ex(g, "QMP", NULL)) {
		json_object_put(g);
		return fail(q, -EPROTO, "not a QMP greeting");
	}
	q->vballoond = greeting_from_vballoond(g);
	json_object_put(g);
	return 0;
}

int qmp_open(struct qmp *q, const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int err;

	qmp_close(q);
	if (strlen(path) >= sizeof(sa.sun_path))
		return fail(q, -ENAMETOOLONG, "socket path too long");
	strcpy(sa.sun_path, path);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	q->tok = json_tokener_new();
	if (q->fd < 0 || !q->tok)
		return fail(q, -ENOMEM, "no socket");
	if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		snprintf(q->error, sizeof(q->error), "connect: %s", strerror(-err));
		qmp_close(q);
		return err;
	}
	err = greeting(q, now_ms() + timeout_ms);
	if (err)
		return err;
	return qmp_exec(q, "qmp_capabilities", NULL, NULL, timeout_ms);
}
