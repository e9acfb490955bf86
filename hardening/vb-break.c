// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vb-break.so - a deliberately broken vballoond, for negative runs only
 * (hardening/negative-run.sh): preloaded into the daemon, it breaks one
 * behaviour at the socket, where a peer sees it, without touching the
 * daemon's source.  VB_BREAK picks the fault:
 *
 *   refuse-by-hangup   a vhost-user failure reply is replaced by a hang-up
 *                      (what a daemon that drops a frontend on any bad
 *                      request would do)
 *   accept-refused     a vhost-user failure status is sent as success
 *   drop-after-hangup  input a client sent just before it hung up is lost
 *                      (a control server that handles the hang-up before
 *                      reading what is still queued)
 *
 * Never built by `make all`, never installed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vhost_user_wire.h"

enum fault { F_NONE, F_REFUSE_BY_HANGUP, F_ACCEPT_REFUSED, F_DROP_AFTER_HANGUP };

static enum fault fault(void)
{
	static const char *const names[] = {
		[F_REFUSE_BY_HANGUP] = "refuse-by-hangup",
		[F_ACCEPT_REFUSED] = "accept-refused",
		[F_DROP_AFTER_HANGUP] = "drop-after-hangup",
	};
	const char *v = getenv("VB_BREAK");
	unsigned i;

	for (i = F_REFUSE_BY_HANGUP; v && i <= F_DROP_AFTER_HANGUP; i++)
		if (!strcmp(v, names[i]))
			return i;
	return F_NONE;
}

/* A reply whose u64 is a status (0 = success), not a value. */
static bool is_failure_status(const void *buf, size_t len)
{
	const struct vu_msg *m = buf;

	if (len != sizeof(m->hdr) + sizeof(m->u64) || m->hdr.flags != VU_REPLY_FLAGS ||
	    m->hdr.size != sizeof(m->u64))
		return false;
	switch (m->hdr.request) {
	case VU_GET_FEATURES:
	case VU_GET_PROTOCOL_FEATURES:
	case VU_GET_QUEUE_NUM:
	case VU_GET_MAX_MEM_SLOTS:
	case VU_GET_VRING_BASE:
		return false;
	}
	return m->u64 != 0;
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	static ssize_t (*real)(int, const void *, size_t, int);
	struct vu_msg ok;

	if (!real)
		real = (ssize_t (*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
	if (!is_failure_status(buf, len))
		return real(fd, buf, len, flags);
	switch (fault()) {
	case F_REFUSE_BY_HANGUP:
		shutdown(fd, SHUT_RDWR);
		return len;
	case F_ACCEPT_REFUSED:
		memcpy(&ok, buf, len);
		ok.u64 = 0;
		return real(fd, &ok, len, flags);
	default:
		return real(fd, buf, len, flags);
	}
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	static ssize_t (*real)(int, void *, size_t, int);
	struct pollfd p = { fd, POLLRDHUP, 0 };

	if (!real)
		real = (ssize_t (*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
	if (fault() == F_DROP_AFTER_HANGUP && poll(&p, 1, 0) == 1 && (p.revents & POLLRDHUP))
		return 0;
	return real(fd, buf, len, flags);
}
