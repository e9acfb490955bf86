// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_control.c - libFuzzer harness for the control socket's JSON
 * handling (control.c).
 *
 * Two ways in, chosen by the first input byte:
 *  - bit 0 clear: the rest is one command text for control_execute(), the
 *    pure request -> reply entry point (capabilities already negotiated);
 *  - bit 0 set: the rest is a byte stream a socket client sends, cut into
 *    chunks the fuzzer sizes, through the real listening socket, the event
 *    loop and the server's framing scanner (partial texts, several texts
 *    per read, strings holding braces, the capabilities handshake, a
 *    client that vanishes with replies pending);
 *  - exactly 0x03: the stream is HEAD 0x00 BODY 0x00 TAIL and BODY is sent
 *    again and again until the text is longer than CTL_MAX_INPUT: oversize
 *    texts from small inputs (a rare selector).
 *
 * Two guests exist: "alpha" is connected (a live device on a memfd with
 * real rings), so balloon and hint commands reach the device; "beta" has
 * no frontend.  Invariants checked on every input: each reply is one JSON
 * object holding "return" or "error" (control_execute); every message the
 * socket sends ends in CRLF, is ASCII (non-ASCII is escaped, invalid UTF-8
 * refused) and parses as JSON; the daemon's file descriptors do not leak
 * (a dropped client's socket is closed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-c/json.h>

#include "balloon.h"
#include "control.h"
#include "guest_helpers.h"
#include "guests.h"
#include "log.h"
#include "loop.h"
#include "qmp_events.h"

#define RAM_BASE	0x100000ULL
#define RAM_SIZE	(4ULL << 20)
#define QSIZE		16

static struct loop *loop;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static struct balloon *alpha, *beta;
static struct tg guest;		/* alpha's RAM and rings */

static int config_changed(struct vdev *vd)
{
	return 0;
}

static void cleanup(void)
{
	if (sock_path[0])
		unlink(sock_path);
}

/* alpha: a live device as after a UML guest loaded the in-tree driver. */
static void alpha_up(void)
{
	struct vdev *vd = balloon_vdev(alpha);
	uint64_t f;

	tg_init(&guest, RAM_BASE, RAM_SIZE, 0, RAM_SIZE);
	f = vd->ops->get_features(vd);
	if (tg_negotiate(vd, f))
		f &= ~((1ULL << 20) | (1ULL << 21));	/* extensions need our driver */
	if (tg_negotiate(vd, f))
		abort();
	vd->config_changed = config_changed;
	tg_dev_up(&guest, vd, QSIZE, RAM_BASE, 0x1000);
}

static void init_once(void)
{
	struct balloon_opts o;

	vb_log_set_level(VB_LOG_ERR);
	signal(SIGPIPE, SIG_IGN);
	loop = loop_new();
	if (!loop)
		abort();
	snprintf(sock_path, sizeof(sock_path), "/tmp/fuzz-control.%d.sock", getpid());
	if (control_listen(loop, sock_path))
		abort();
	atexit(cleanup);
	balloon_opts_default(&o);
	strcpy(o.name, "alpha");
	alpha = balloon_new(&o, loop);
	strcpy(o.name, "beta");
	beta = balloon_new(&o, loop);
	if (!alpha || !beta || guests_add(alpha) || guests_add(beta))
		abort();
	qmp_events_start(loop);
	alpha_up();
}

static void check_reply(const char *s)
{
	json_object *o = json_tokener_parse(s);

	if (!o || !json_object_is_type(o, json_type_object) ||
	    (!json_object_object_get_ex(o, "return", NULL) &&
	     !json_object_object_get_ex(o, "error", NULL))) {
		fprintf(stderr, "fuzz_control: bad reply: %s\n", s);
		abort();
	}
	json_object_put(o);
}

static void via_execute(const uint8_t *data, size_t size)
{
	char *cmd = malloc(size + 1), *rep;

	if (!cmd)
		return;
	memcpy(cmd, data, size);
	cmd[size] = '\0';
	rep = control_execute(cmd);
	if (!rep)
		abort();
	check_reply(rep);
	free(rep);
	free(cmd);
}

static void bad_message(const char *why, const char *msg)
{
	fprintf(stderr, "fuzz_control: %s: %.300s\n", why, msg);
	abort();
}

/* Every complete message the daemon sent: CRLF-terminated ASCII JSON. */
static void check_lines(char *buf, size_t *len)
{
	char *start = buf, *nl, *p;
	json_object *o;

	while ((nl = memchr(start, '\n', *len - (start - buf)))) {
		*nl = '\0';
		if (nl == start || nl[-1] != '\r')
			bad_message("message not ended by CRLF", start);
		nl[-1] = '\0';
		for (p = start; *p; p++)
			if ((unsigned char)*p >= 0x80)
				bad_message("non-ASCII byte sent", start);
		o = json_tokener_parse(start);
		if (!o)
			bad_message("non-JSON message", start);
		json_object_put(o);
		start = nl + 1;
	}
	*len -= start - buf;
	memmove(buf, start, *len);
}

static void drain(int fd, char *buf, size_t *len, size_t cap)
{
	ssize_t n;

	for (;;) {
		if (*len == cap)	/* a single line longer than we keep */
			*len = 0;
		n = recv(fd, buf + *len, cap - *len, MSG_DONTWAIT);
		if (n <= 0)
			return;
		*len += n;
		check_lines(buf, len);
	}
}

/* The three lowest free descriptor numbers: a leaked socket shows up as a
 * change (the client's and the daemon's ends are the lowest free ones). */
static long fd_probe(void)
{
	int a = dup(2), b = dup(2), c = dup(2);
	long v = a | (long)b << 16 | (long)c << 32;

	close(a);
	close(b);
	close(c);
	return v;
}

/* Whether the daemon sent anything since the last call (read and dropped). */
static bool got_reply(int fd)
{
	static char scratch[64 * 1024];
	bool got = false;

	while (loop_run_once(loop, 0) > 0)
		;
	while (recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT) > 0)
		got = true;
	return got;
}

/*
 * Send HEAD 0x00 BODY 0x00 TAIL with BODY repeated past CTL_MAX_INPUT (in
 * 8 KiB writes).  Only one long text is wanted: once the daemon answers
 * during the repeats, BODY closes texts and repeating it would only make
 * a run slow, so the repeats stop there.
 */
static void send_amplified(int fd, const uint8_t *data, size_t size)
{
	static uint8_t rep[8 * 1024];
	const uint8_t *body = memchr(data, 0, size), *tail;
	size_t sent = 0, blen, n;

	tail = body ? memchr(body + 1, 0, size - (body + 1 - data)) : NULL;
	if (!tail || tail == body + 1)
		return;
	blen = tail - body - 1;
	for (n = 0; n + blen <= sizeof(rep); n += blen)
		memcpy(rep + n, body + 1, blen);
	if (!n || send(fd, data, body - data, MSG_NOSIGNAL) < 0)
		return;
	got_reply(fd);		/* the greeting, HEAD's replies */
	while (sent <= CTL_MAX_INPUT) {
		ssize_t w = send(fd, rep, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && errno != EAGAIN)
			return;
		sent += w > 0 ? w : 0;
		if (got_reply(fd))
			break;
	}
	send(fd, tail + 1, size - (tail + 1 - data), MSG_NOSIGNAL);
}

static void via_socket(const uint8_t *data, size_t size, bool amplify)
{
	static char buf[256 * 1024];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = 0, chunk, total = size;
	uint8_t sel = size ? data[0] : 0;
	int fd, i;
	long before = fd_probe();

	if (size) {
		data++;
		size--;
	}
	strcpy(sa.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	loop_run_once(loop, 0);		/* accept + greeting */
	if (amplify) {
		send_amplified(fd, data, size);
		size = 0;
	}
	chunk = (sel & 0x3f) ? (sel & 0x3f) * 16 : size;
	if (chunk < size / 64)	/* at most ~64 reads per input: keep it fast */
		chunk = size / 64;
	if (!chunk)
		chunk = 1;
	while (size) {
		size_t n = size < chunk ? size : chunk;
		ssize_t w = send(fd, data, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w <= 0)
			break;		/* daemon dropped us (oversize) */
		data += w;
		size -= w;
		loop_run_once(loop, 0);
		if (!(sel & 0x40))
			drain(fd, buf, &len, sizeof(buf));
	}
	for (i = 0; i < 4; i++)
		loop_run_once(loop, 0);
	if (!(sel & 0x80))	/* else: vanish with replies unread */
		drain(fd, buf, &len, sizeof(buf));
	close(fd);
	/* The daemon reads at most 16 KiB per wake-up (fairness between
	 * clients): give it enough turns to reach EOF on what it was sent. */
	for (i = 0; i < 8 + (int)(total / 4096); i++)
		loop_run_once(loop, 0);
	if (fd_probe() != before) {
		fprintf(stderr, "fuzz_control: descriptor leaked\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!loop)
		init_once();
	if (!size)
		return 0;
	if (data[0] & 1)
		via_socket(data + 1, size - 1, data[0] == 0x03);
	else
		via_execute(data + 1, size - 1);
	return 0;
}
