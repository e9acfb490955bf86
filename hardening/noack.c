// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * noack.c - vb-hostile noack SOCKET [--pages N] [--ack K] [--status FILE]
 *
 * Not a frontend: a minimal balloon backend for one UML guest.  It answers
 * every vhost-user message correctly (UML's frontend waits for each reply
 * with interrupts off, so it must never block), offers MUST_TELL_HOST +
 * DEFLATE_ON_OOM + STATS_VQ, publishes num_pages = N from the start, uses
 * (acknowledges) the first K buffers the driver queues and then never uses
 * another one.  It discards nothing.  For testing a guest driver against a
 * host that stops acknowledging.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vb-hostile.h"
#include "vu_frontend.h"

/* Queues a balloon guest can set up: inflate, deflate, stats, free page,
 * reporting (the driver numbers the negotiated ones densely). */
#define NB_MAX_QUEUES	5

#define NB_FEATURES	(BIT(VIRTIO_F_VERSION_1) | BIT(VU_F_PROTOCOL_FEATURES) | \
			 BIT(VB_F_MUST_TELL_HOST) | BIT(VB_F_DEFLATE_ON_OOM) | \
			 BIT(VB_F_STATS_VQ))
/* UML needs the backend channel: its IRQ is the device's. */
#define NB_PROTOCOL_F	(BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_CONFIG) | BIT(VU_PF_BACKEND_REQ))

struct nb_ring {
	uint16_t num, last;
	uint64_t avail, used;		/* user addresses */
	int kick, call;
};

static struct {
	struct nb_ring q[NB_MAX_QUEUES];
	struct { uint64_t uaddr, size; uint8_t *host; } r[VU_MAX_REGIONS];
	unsigned nr;
	uint32_t pages;
	long ack_left;
	unsigned long used, ignored;
	const char *status;
	int req_fd;
} nb;

static void *nb_uva(uint64_t uva, uint64_t len)
{
	unsigned i;

	for (i = 0; i < nb.nr; i++)
		if (uva >= nb.r[i].uaddr && uva + len <= nb.r[i].uaddr + nb.r[i].size)
			return nb.r[i].host + (uva - nb.r[i].uaddr);
	return NULL;
}

static void nb_status(void)
{
	status_write(nb.status, "used=%lu\nignored=%lu\n", nb.used, nb.ignored);
}

/* Use one chain (head) on q.  Returns false when the guest is gone. */
static bool nb_use(struct nb_ring *q, struct virtq_used *used, uint16_t head)
{
	uint64_t one = 1;

	used->ring[used->idx % q->num] = (struct virtq_used_elem){ head, 0 };
	__atomic_store_n(&used->idx, used->idx + 1, __ATOMIC_RELEASE);
	nb.used++;
	return q->call < 0 || write(q->call, &one, 8) == 8;
}

static void nb_kick(unsigned qi)
{
	struct nb_ring *q = &nb.q[qi];
	struct virtq_avail *avail = nb_uva(q->avail, 4 + 2 * q->num);
	struct virtq_used *used = nb_uva(q->used, 4 + sizeof(used->ring[0]) * q->num);
	uint64_t v;

	if (read(q->kick, &v, 8) < 0 || !avail || !used || !q->num)
		return;
	while (q->last != __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE)) {
		uint16_t head = avail->ring[q->last++ % q->num];

		if (nb.ack_left <= 0) {
			nb.ignored++;
			continue;
		}
		nb.ack_left--;
		if (!nb_use(q, used, head))
			break;
	}
	nb_status();
}

static int nb_recv(int s, struct vu_msg *m, int *fds, unsigned *nfds)
{
	char cbuf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
	struct iovec iov = { &m->hdr, sizeof(m->hdr) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;

	*nfds = 0;
	if (recvmsg(s, &mh, MSG_WAITALL) != sizeof(m->hdr))
		return -1;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_type == SCM_RIGHTS) {
			*nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			memcpy(fds, CMSG_DATA(cm), *nfds * sizeof(int));
		}
	if (m->hdr.size > sizeof(m->raw))
		return -1;
	if (m->hdr.size && recv(s, m->raw, m->hdr.size, MSG_WAITALL) != m->hdr.size)
		return -1;
	return 0;
}

static void nb_reply(int s, struct vu_msg *m, uint32_t size)
{
	m->hdr.flags = VU_REPLY_FLAGS;
	m->hdr.size = size;
	if (write(s, m, sizeof(m->hdr) + size) < 0)
		die("noack: reply: %s", strerror(errno));
}

static void nb_get_config(int s, struct vu_msg *m)
{
	struct vb_config cfg = { .num_pages = nb.pages };
	uint32_t off = m->config.offset, len = m->config.size;

	if (len > VU_MAX_CONFIG)
		len = 0;
	memset(m->config.payload, 0, len);
	if (off < sizeof(cfg))
		memcpy(m->config.payload, (uint8_t *)&cfg + off,
		       len < sizeof(cfg) - off ? len : sizeof(cfg) - off);
	m->config.size = len;
	nb_reply(s, m, VU_CONFIG_HDR + len);
}

/* Map every region that came with its fd (mappings outlive their fds). */
static void nb_mem_table(const struct vu_msg *m, const int *fds, unsigned nfds)
{
	unsigned i;

	for (i = 0; i < nb.nr; i++)
		munmap(nb.r[i].host, nb.r[i].size);
	nb.nr = 0;
	for (i = 0; i < m->mem.nregions && i < nfds && i < VU_MAX_REGIONS; i++) {
		const struct vu_mem_region *r = &m->mem.r[i];
		void *p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i],
			       r->mmap_offset);

		if (p == MAP_FAILED)
			continue;
		nb.r[nb.nr].uaddr = r->uaddr;
		nb.r[nb.nr].size = r->size;
		nb.r[nb.nr].host = p;
		nb.nr++;
	}
}

/* Keep the fd a message brought in *slot; true if it was taken. */
static bool nb_keep_fd(int *slot, const int *fds, unsigned nfds)
{
	if (!nfds)
		return false;
	if (*slot >= 0)
		close(*slot);
	*slot = fds[0];
	return true;
}

/* Record what a message sets; true if its first fd was kept. */
static bool nb_set(const struct vu_msg *m, const int *fds, unsigned nfds)
{
	unsigned qi = m->u64 & VU_VRING_IDX_MASK;

	switch (m->hdr.request) {
	case VU_SET_BACKEND_REQ_FD:
		return nb_keep_fd(&nb.req_fd, fds, nfds);	/* never written */
	case VU_SET_MEM_TABLE:
		nb_mem_table(m, fds, nfds);
		return false;
	case VU_SET_VRING_NUM:
		if (m->state.index < NB_MAX_QUEUES)
			nb.q[m->state.index].num = m->state.num;
		return false;
	case VU_SET_VRING_BASE:
		if (m->state.index < NB_MAX_QUEUES)
			nb.q[m->state.index].last = m->state.num;
		return false;
	case VU_SET_VRING_ADDR:
		if (m->addr.index < NB_MAX_QUEUES) {
			nb.q[m->addr.index].avail = m->addr.avail;
			nb.q[m->addr.index].used = m->addr.used;
		}
		return false;
	case VU_SET_VRING_KICK:
		return qi < NB_MAX_QUEUES && nb_keep_fd(&nb.q[qi].kick, fds, nfds);
	case VU_SET_VRING_CALL:
		return qi < NB_MAX_QUEUES && nb_keep_fd(&nb.q[qi].call, fds, nfds);
	}
	return false;
}

static void nb_message(int s, struct vu_msg *m, int *fds, unsigned nfds)
{
	unsigned i;

	switch (m->hdr.request) {
	case VU_GET_FEATURES:
		m->u64 = NB_FEATURES;
		nb_reply(s, m, 8);
		return;
	case VU_GET_PROTOCOL_FEATURES:
		m->u64 = NB_PROTOCOL_F;
		nb_reply(s, m, 8);
		return;
	case VU_GET_CONFIG:
		nb_get_config(s, m);
		return;
	}
	for (i = nb_set(m, fds, nfds) ? 1 : 0; i < nfds; i++)
		close(fds[i]);
	if (m->hdr.flags & VU_FLAG_NEED_REPLY) {
		m->u64 = 0;
		nb_reply(s, m, 8);
	}
}

static int nb_accept(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), s;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	unlink(sock_path);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1))
		die("noack: listen on %s: %s", sock_path, strerror(errno));
	nb_status();
	s = accept(l, NULL, NULL);
	if (s < 0)
		die("noack: accept: %s", strerror(errno));
	close(l);
	return s;
}

/* Serve the frontend on s until it hangs up. */
static void nb_serve(int s)
{
	for (;;) {
		struct pollfd p[1 + NB_MAX_QUEUES] = { { s, POLLIN, 0 } };
		unsigned n = 1, map[1 + NB_MAX_QUEUES], k;

		for (k = 0; k < NB_MAX_QUEUES; k++)
			if (nb.q[k].kick >= 0) {
				p[n] = (struct pollfd){ nb.q[k].kick, POLLIN, 0 };
				map[n++] = k;
			}
		if (poll(p, n, -1) < 0)
			continue;
		for (k = 1; k < n; k++)
			if (p[k].revents & POLLIN)
				nb_kick(map[k]);
		if (p[0].revents) {
			struct vu_msg m;
			int fds[VU_MAX_FDS];
			unsigned nfds;

			if (nb_recv(s, &m, fds, &nfds))
				return;
			nb_message(s, &m, fds, nfds);
		}
	}
}

int run_noack(int argc, char **argv)
{
	int i;

	nb.pages = 16384;
	nb.ack_left = 0;
	nb.req_fd = -1;
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--pages") && i + 1 < argc)
			nb.pages = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--ack") && i + 1 < argc)
			nb.ack_left = strtol(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--status") && i + 1 < argc)
			nb.status = argv[++i];
		else
			die("noack: unknown option %s", argv[i]);
	}
	for (i = 0; i < NB_MAX_QUEUES; i++)
		nb.q[i].kick = nb.q[i].call = -1;
	nb_serve(nb_accept());
	printf("noack: frontend gone; %lu buffers used, %lu never acknowledged\n",
	       nb.used, nb.ignored);
	unlink(sock_path);
	return 0;
}
