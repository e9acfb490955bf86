// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * control.c - the QMP server: listening socket, clients, framing.
 *
 * Framing as QEMU's JSON streamer: a text ends where its outermost brace or
 * bracket closes (no newline needed; texts may be split across writes or
 * batched in one); a top-level scalar or stray byte ends at whitespace and
 * is a text of its own (it gets an error).  The scanner buffers only the
 * current text, at most CTL_MAX_INPUT bytes; a longer one gets an error and
 * is skipped to its end without being stored.  A complete text is checked
 * for UTF-8, parsed and answered at once, so at most one parsed request
 * exists in the daemon at any time.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* accept4 */
#endif
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "loop.h"
#include "qmp_commands.h"
#include "qmp_json.h"
#include "unix_listen.h"

/* QEMU allows 1024 levels; requests need 3, ids echoed back a few more. */
#define CTL_JSON_DEPTH		64

/* Where the scanner is in the current text. */
struct scan {
	size_t depth;		/* open braces and brackets */
	bool started;		/* inside a text */
	bool in_str, esc;	/* inside a string, after a backslash */
	bool word;		/* a top-level scalar (or garbage) */
	bool skip;		/* too long: scanned to its end, not stored */
};

struct client {
	struct client *next;
	int fd;
	bool negotiated;	/* qmp_capabilities done */
	bool dead;		/* closing: no more input or output */
	bool busy;		/* inside a callback: free later */
	struct scan sc;
	char *in;		/* the current text, in_len <= CTL_MAX_INPUT */
	size_t in_len, in_cap;
	char *out;		/* unsent output, out_len <= CTL_MAX_OUTPUT */
	size_t out_len, out_cap;
	bool want_out;		/* EPOLLOUT armed */
};

static struct {
	struct loop *loop;
	int listen_fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct client *clients;
	unsigned nclients;
	json_tokener *tok;	/* shared: texts are parsed whole, one at a time */
} ctl = { .listen_fd = -1 };

/* ---- requests ----------------------------------------------------------- */

/* Parse one complete text; false with desc set when it is not JSON. */
static bool parse_text(const char *text, size_t len, json_object **req,
		       char *desc, size_t desc_len)
{
	enum json_tokener_error err;

	json_tokener_reset(ctl.tok);
	*req = json_tokener_parse_ex(ctl.tok, text, len);
	err = json_tokener_get_error(ctl.tok);
	if (err == json_tokener_continue) {
		/* A bare number may go on: the scanner says it ended. */
		*req = json_tokener_parse_ex(ctl.tok, " ", 1);
		err = json_tokener_get_error(ctl.tok);
	} else if (err == json_tokener_success &&
		   json_tokener_get_parse_end(ctl.tok) < len) {
		snprintf(desc, desc_len, "JSON parse error, trailing characters");
		json_object_put(*req);
		return false;
	}
	if (err == json_tokener_success)
		return true;	/* *req is NULL for the text "null" */
	snprintf(desc, desc_len, "JSON parse error, %s", json_tokener_error_desc(err));
	json_object_put(*req);
	return false;
}

/* The reply to one complete text. */
static json_object *answer(const char *text, size_t len, bool negotiated,
			   bool *negotiate)
{
	char desc[160];
	json_object *req, *rep;

	if (!qmp_utf8_valid(text, len))
		return qmp_error_new("GenericError", "JSON parse error, invalid UTF-8 sequence");
	if (!parse_text(text, len, &req, desc, sizeof(desc)))
		return qmp_error_new("GenericError", desc);
	rep = qmp_dispatch(req, negotiated, negotiate);
	json_object_put(req);
	return rep;
}

char *control_execute(const char *json)
{
	bool neg = false;
	json_object *rep;
	size_t len;
	char *s;

	if (!ctl.tok && !(ctl.tok = json_tokener_new_ex(CTL_JSON_DEPTH)))
		return NULL;
	json_tokener_set_flags(ctl.tok, JSON_TOKENER_STRICT);
	rep = answer(json, strlen(json), true, &neg);
	s = qmp_json_text(rep, &len);
	json_object_put(rep);
	return s;
}

/* ---- clients ------------------------------------------------------------ */

static void client_free(struct client *c)
{
	struct client **pp;

	for (pp = &ctl.clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	ctl.nclients--;
	free(c->in);
	free(c->out);
	free(c);
}

/* Drop a client; freed now, or when its callback unwinds. */
static void client_close(struct client *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = true;
	vb_dbg("control: client %d closed: %s", c->fd, why);
	loop_del_fd(ctl.loop, c->fd);
	close(c->fd);
	c->fd = -1;
	if (!c->busy)
		client_free(c);
}

static void client_flush(struct client *c)
{
	while (c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* The client is gone: what it sent before still runs
			 * (a command must not depend on its reply being read),
			 * its replies go nowhere, and the read side closes it. */
			c->out_len = 0;
			break;
		}
		memmove(c->out, c->out + n, c->out_len - n);
		c->out_len -= n;
	}
	if (!!c->out_len != c->want_out) {
		c->want_out = !!c->out_len;
		loop_mod_fd(ctl.loop, c->fd, EPOLLIN | (c->want_out ? EPOLLOUT : 0));
	}
}

/* Grow *buf to hold need bytes, doubling, never past max.  0 or -ENOMEM. */
static int buf_reserve(char **buf, size_t *cap, size_t need, size_t max)
{
	size_t n = *cap ? *cap : 4096;
	char *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if (n > max)
		n = max;
	p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

/* Queue one message (o consumed) in QEMU's text form. */
static void client_send(struct client *c, json_object *o)
{
	size_t len;
	char *s = qmp_json_text(o, &len);

	json_object_put(o);
	if (c->dead) {
		free(s);
		return;
	}
	if (!s || c->out_len + len > CTL_MAX_OUTPUT) {
		free(s);
		client_close(c, s ? "output buffer full (client not reading)" : "out of memory");
		return;
	}
	if (buf_reserve(&c->out, &c->out_cap, c->out_len + len, CTL_MAX_OUTPUT)) {
		free(s);
		client_close(c, "out of memory");
		return;
	}
	memcpy(c->out + c->out_len, s, len);
	c->out_len += len;
	free(s);
	client_flush(c);
}

/* One complete text, or a skipped one. */
static void client_text(struct client *c)
{
	bool neg = false;
	json_object *rep;

	if (c->sc.skip)
		rep = qmp_error_new("GenericError", "JSON parse error, text too long");
	else
		rep = answer(c->in, c->in_len, c->negotiated, &neg);
	if (neg)
		c->negotiated = true;
	memset(&c->sc, 0, sizeof(c->sc));
	c->in_len = 0;
	if (c->in_cap > 64 * 1024) {	/* give a large text's memory back */
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	client_send(c, rep);
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/*
 * Advance the scanner over ch.  Returns 1 when ch completes the text, -1
 * when ch is outside any text (whitespace, or the delimiter after a
 * top-level word, which is rescanned), 0 otherwise.
 */
static int scan_byte(struct scan *s, char ch)
{
	if (!s->started) {
		if (is_space(ch))
			return -1;
		s->started = true;
		s->word = ch != '{' && ch != '[' && ch != '"';
	} else if (s->word) {
		return is_space(ch) || ch == '{' || ch == '[' || ch == '"' ? 1 : 0;
	} else if (s->in_str) {
		if (s->esc)
			s->esc = false;
		else if (ch == '\\')
			s->esc = true;
		else if (ch == '"')
			s->in_str = false;
		return !s->in_str && !s->depth;
	}
	if (s->word)
		return 0;
	if (ch == '"')
		s->in_str = true;
	else if (ch == '{' || ch == '[')
		s->depth++;
	else if ((ch == '}' || ch == ']') && s->depth)
		s->depth--;
	return !s->depth && !s->in_str;
}

/* Append n bytes to the current text, or start skipping it once it would
 * pass CTL_MAX_INPUT.  0, or -ENOMEM (client closed). */
static int client_take(struct client *c, const char *p, size_t n)
{
	if (c->sc.skip)
		return 0;
	if (c->in_len + n > CTL_MAX_INPUT) {
		c->sc.skip = true;
		return 0;
	}
	if (buf_reserve(&c->in, &c->in_cap, c->in_len + n, CTL_MAX_INPUT)) {
		client_close(c, "out of memory");
		return -ENOMEM;
	}
	memcpy(c->in + c->in_len, p, n);
	c->in_len += n;
	return 0;
}

/* Inside a string, the bytes up to the next quote or backslash change
 * nothing in the scanner: take them in one go (long strings are the usual
 * bulk of a large command). */
static size_t string_span(const char *p, size_t n)
{
	const char *q = memchr(p, '"', n), *b = memchr(p, '\\', n);

	if (b && (!q || b < q))
		q = b;
	return q ? (size_t)(q - p) : n;
}

/* Feed received bytes, answering every complete text. */
static void client_input(struct client *c, const char *buf, size_t len)
{
	size_t i, span;
	bool word;
	int r;

	for (i = 0; i < len && !c->dead; i++) {
		if (c->sc.in_str && !c->sc.esc) {
			span = string_span(buf + i, len - i);
			if (client_take(c, buf + i, span))
				return;
			i += span;
			if (i == len)
				break;
		}
		word = c->sc.word;
		r = scan_byte(&c->sc, buf[i]);
		if (r < 0)
			continue;
		/* A word's delimiter is not part of it: it is rescanned. */
		if (!(r > 0 && word) && client_take(c, buf + i, 1))
			return;
		if (r > 0) {
			client_text(c);
			if (word)
				i--;
		}
	}
}

static void client_cb(struct loop *l, int fd, uint32_t events, void *opaque)
{
	struct client *c = opaque;
	char buf[16384];

	c->busy = true;
	if (events & EPOLLOUT)
		client_flush(c);
	if (!c->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0)
			client_input(c, buf, n);
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			client_close(c, "peer closed");
	}
	c->busy = false;
	if (c->dead)
		client_free(c);
}

static void accept_cb(struct loop *l, int fd, uint32_t events, void *opaque)
{
	struct client *c;
	int cfd;

	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	if (ctl.nclients >= CTL_MAX_CLIENTS) {
		vb_guest_warn("control: too many clients, refusing one");
		close(cfd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || loop_add_fd(ctl.loop, cfd, EPOLLIN, client_cb, c) < 0) {
		free(c);
		close(cfd);
		return;
	}
	c->fd = cfd;
	c->next = ctl.clients;
	ctl.clients = c;
	ctl.nclients++;
	client_send(c, qmp_greeting());
}

/* ---- events ------------------------------------------------------------- */

void control_broadcast(const char *name, json_object *data, const struct timeval *when)
{
	json_object *o = json_object_new_object(), *ts = json_object_new_object();
	struct client *c, *next;
	struct timeval tv;

	if (when)
		tv = *when;
	else
		gettimeofday(&tv, NULL);
	/* QEMU's member order. */
	json_object_object_add(ts, "seconds", json_object_new_int64(tv.tv_sec));
	json_object_object_add(ts, "microseconds", json_object_new_int64(tv.tv_usec));
	json_object_object_add(o, "timestamp", ts);
	json_object_object_add(o, "event", json_object_new_string(name));
	json_object_object_add(o, "data", data);
	for (c = ctl.clients; c; c = next) {
		next = c->next;
		if (c->negotiated)
			client_send(c, json_object_get(o));
	}
	json_object_put(o);
}

/* ---- socket ------------------------------------------------------------- */

int control_listen(struct loop *l, const char *path)
{
	int fd, ret;

	if (!ctl.tok && !(ctl.tok = json_tokener_new_ex(CTL_JSON_DEPTH)))
		return -ENOMEM;
	json_tokener_set_flags(ctl.tok, JSON_TOKENER_STRICT);
	fd = unix_listen(path, CTL_MAX_CLIENTS);
	if (fd < 0)
		return fd;
	ctl.loop = l;
	ret = loop_add_fd(l, fd, EPOLLIN, accept_cb, NULL);
	if (ret < 0) {
		close(fd);
		unlink(path);
		return ret;
	}
	ctl.listen_fd = fd;
	snprintf(ctl.path, sizeof(ctl.path), "%s", path);
	vb_info("control: QMP socket %s", path);
	return 0;
}

void control_close(void)
{
	while (ctl.clients) {
		struct client *c = ctl.clients;

		c->busy = false;
		if (c->dead)
			client_free(c);
		else
			client_close(c, "shutdown");
	}
	if (ctl.listen_fd >= 0) {
		loop_del_fd(ctl.loop, ctl.listen_fd);
		close(ctl.listen_fd);
		unlink(ctl.path);
		ctl.listen_fd = -1;
	}
	if (ctl.tok)
		json_tokener_free(ctl.tok);
	ctl.tok = NULL;
}
