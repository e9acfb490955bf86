// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_vhost_user.c - libFuzzer harness for the vhost-user message parser
 * and dispatcher, with the real balloon device behind it.
 *
 * Input byte 0 picks the path:
 *  even: the rest is a raw byte stream written to the frontend socket and
 *        read by the server exactly as from UML (framing, header checks);
 *  odd:  the rest is a list of records [nfds:1][hdr:12][payload], handed to
 *        vu_server_dispatch() with nfds fresh memfds / eventfds attached, to
 *        reach the fd-carrying requests (memory table, kick/call, backend
 *        channel).
 * Every fd handed over must be stored or closed: the harness checks that
 * the process's fd count is back to its start value after each input.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "balloon.h"
#include "log.h"
#include "loop.h"
#include "vdev.h"
#include "vhost_user.h"

static struct loop *l;
static struct vu_server *s;
static struct vdev *vd;

static void init(void)
{
	struct balloon_opts o;
	struct balloon *b;

	signal(SIGPIPE, SIG_IGN);
	vb_log_set_level(VB_LOG_ERR);
	l = loop_new();
	balloon_opts_default(&o);
	strcpy(o.name, "fuzz");
	b = balloon_new(&o, l);
	if (!l || !b)
		abort();
	vd = balloon_vdev(b);
	s = vu_server_new(l, NULL, "fuzz", vd);
	if (!s)
		abort();
}

/* Our kinds of fd only: libFuzzer opens pipes to its symbolizer. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300], target[256];
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (strstr(target, "memfd:fuzz") || strstr(target, "eventfd") ||
		    !strncmp(target, "socket:", 7))
			n++;
	}
	closedir(d);
	return n;
}

static void drain(int fd)
{
	char buf[4096];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static int make_fd(unsigned i)
{
	int fd;

	if (i & 1)
		return eventfd(0, EFD_CLOEXEC);
	fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd >= 0 && ftruncate(fd, 1 << 20)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void run_stream(int fe, const uint8_t *data, size_t size)
{
	while (size && vu_server_connected(s)) {
		ssize_t n = send(fe, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n <= 0)
			break;
		data += n;
		size -= n;
		loop_run_once(l, 0);
		drain(fe);
	}
	loop_run_once(l, 0);
}

static void run_records(int fe, const uint8_t *data, size_t size)
{
	while (size >= 1 + sizeof(struct vu_hdr)) {
		struct vu_msg m;
		unsigned nfds = data[0] % 4, i;
		int fds[4];
		size_t plen;

		memset(&m, 0, sizeof(m));
		memcpy(&m.hdr, data + 1, sizeof(m.hdr));
		data += 1 + sizeof(m.hdr);
		size -= 1 + sizeof(m.hdr);
		plen = m.hdr.size < size ? m.hdr.size : size;
		if (plen > sizeof(m.raw))
			plen = sizeof(m.raw);
		memcpy(m.raw, data, plen);
		data += plen;
		size -= plen;
		for (i = 0; i < nfds; i++)
			fds[i] = make_fd(i);
		if (vu_server_dispatch(s, &m, fds, nfds) < 0)
			break;
		drain(fe);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int base_fds = -1;
	int sv[2];

	if (!s)
		init();
	if (!size)
		return 0;
	if (base_fds < 0)
		base_fds = count_fds();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	if (vu_server_attach(s, sv[0]))
		abort();
	if (data[0] & 1)
		run_records(sv[1], data + 1, size - 1);
	else
		run_stream(sv[1], data + 1, size - 1);
	/* A kick or config change after the messages, if anything is live. */
	if (vd->config_changed)
		vd->config_changed(vd);
	vu_server_disconnect(s);
	close(sv[1]);
	loop_run_once(l, 0);
	if (count_fds() != base_fds)
		abort();	/* an fd was neither stored nor closed */
	return 0;
}
