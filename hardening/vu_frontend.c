// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vu_frontend.c - the frontend side of vhost-user for the test tools
 * (vu_frontend.h): UML's message sequence, a memfd guest RAM, rings filled
 * by hand.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vu_frontend.h"

/* More than the daemon's control buffer takes: the hostile cases send
 * that many to see it truncated. */
#define MAX_SEND_FDS	64
/* UML's SET_MEM_TABLE is 72 bytes long (room for two regions). */
#define FE_MEM_TABLE_SIZE (8 + 2 * sizeof(struct vu_mem_region))

const char *sock_path;

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "vb-hostile: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

uint8_t pattern(uint64_t off)
{
	return (uint8_t)((off >> 12) * 131 + 7);
}

void status_write(const char *path, const char *fmt, ...)
{
	char tmp[PATH_MAX];
	va_list ap;
	FILE *fp;

	if (!path || snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return;
	fp = fopen(tmp, "w");
	if (!fp)
		return;
	va_start(ap, fmt);
	vfprintf(fp, fmt, ap);
	va_end(ap);
	if (fclose(fp) == 0)
		rename(tmp, path);
}

/* ---- messages ---------------------------------------------------------- */

int connect_sock(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket: %s", strerror(errno));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

int send_raw(int sock, uint32_t req, uint32_t flags, uint32_t hdr_size,
		    const void *p, size_t len, const int *fds, unsigned nfds)
{
	struct vu_hdr h = { req, flags, hdr_size };
	char cbuf[CMSG_SPACE(MAX_SEND_FDS * sizeof(int))];
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)p, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	struct cmsghdr *cm;

	if (nfds > MAX_SEND_FDS)
		return -EINVAL;
	if (nfds) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int recv_reply(int sock, struct vu_msg *m, int timeout_ms)
{
	struct pollfd p = { sock, POLLIN, 0 };
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	n = recv(sock, &m->hdr, sizeof(m->hdr), MSG_WAITALL);
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return -EPIPE;
	if (n != sizeof(m->hdr))
		return -EPROTO;
	if (m->hdr.flags != VU_REPLY_FLAGS || m->hdr.size > sizeof(m->raw))
		return -EPROTO;
	if (m->hdr.size && recv(sock, m->raw, m->hdr.size, MSG_WAITALL) != m->hdr.size)
		return -EPIPE;
	return m->hdr.size;
}

/* Send one message, read its u64 reply into *out: 0 or -errno. */
static long u64_exchange(int sock, uint32_t req, uint32_t flags, const void *p,
			 uint32_t size, const int *fds, unsigned nfds, uint64_t *out)
{
	struct vu_msg r;
	int n;

	if (send_raw(sock, req, flags, size, p, size, fds, nfds))
		return -EPIPE;
	n = recv_reply(sock, &r, REPLY_TIMEOUT_MS);
	if (n < 0)
		return n;
	if (n != 8 || r.hdr.request != req)
		return -EPROTO;
	*out = r.u64;
	return 0;
}

long ack(int sock, uint32_t req, const void *p, uint32_t size, const int *fds,
	 unsigned nfds)
{
	uint64_t status;
	long rc = u64_exchange(sock, req, VU_FLAG_VERSION | VU_FLAG_NEED_REPLY, p, size,
			       fds, nfds, &status);

	return rc ? rc : status != 0;
}

long get_u64(int sock, uint32_t req, uint64_t *out)
{
	return u64_exchange(sock, req, VU_FLAG_VERSION, NULL, 0, NULL, 0, out);
}

/* ---- a guest ----------------------------------------------------------- */

void fe_ram(struct fe *f, uint64_t ram_size)
{
	uint64_t off;

	f->ram_size = ram_size;
	f->file_size = RAM_GPA + ram_size + TAIL;
	f->memfd = memfd_create("vb-hostile-ram", MFD_CLOEXEC);
	if (f->memfd < 0 || ftruncate(f->memfd, f->file_size))
		die("memfd: %s", strerror(errno));
	f->file = mmap(NULL, f->file_size, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	if (f->file == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	for (off = 0; off < f->file_size; off += PAGE)
		memset(f->file + off, pattern(off), PAGE);
	memset(f->file + RAM_GPA, 0, DATA_GPA - RAM_GPA);	/* rings, buffers */
}

void fe_init(struct fe *f)
{
	unsigned q;

	f->sock = f->req[0] = f->req[1] = -1;
	f->gpa = f->uva = RAM_GPA;	/* as UML: all three are equal */
	for (q = 0; q < NQ; q++) {
		f->kick[q] = f->call[q][0] = f->call[q][1] = -1;
		f->avail_idx[q] = 0;
	}
}

void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void fe_close_queue(struct fe *f, unsigned q)
{
	close_fd(&f->kick[q]);
	close_fd(&f->call[q][0]);
	close_fd(&f->call[q][1]);
}

void fe_close(struct fe *f)
{
	unsigned q;

	close_fd(&f->sock);
	close_fd(&f->req[0]);
	close_fd(&f->req[1]);
	for (q = 0; q < NQ; q++)
		fe_close_queue(f, q);
	fe_init(f);
}

/* Connect, retrying while the daemon still holds the previous frontend
 * (a second frontend is closed at once).  A daemon that serves must offer
 * VERSION_1 in a well-formed reply. */
int fe_connect(struct fe *f)
{
	uint64_t t0 = now_ms(), v;

	for (;;) {
		f->sock = connect_sock();
		if (f->sock >= 0 && !get_u64(f->sock, VU_GET_FEATURES, &v) &&
		    (v & BIT(VIRTIO_F_VERSION_1)))
			return 0;
		if (f->sock >= 0)
			close(f->sock);
		f->sock = -1;
		if (now_ms() - t0 > REPLY_TIMEOUT_MS)
			return -1;
		usleep(50000);
	}
}

/* One region: file offset RAM_GPA on.  UML sends it again on every
 * find_vqs (module reload), 72 bytes long. */
int fe_mem_table(struct fe *f)
{
	struct vu_mem_table t = { .nregions = 1 };

	t.r[0] = (struct vu_mem_region){ f->gpa, f->ram_size, f->uva, RAM_GPA };
	return ack(f->sock, VU_SET_MEM_TABLE, &t, FE_MEM_TABLE_SIZE, &f->memfd, 1) ? -1 : 0;
}

/* UML's sequence up to the rings (virtio_uml.c vhost_user_init + probe). */
static int fe_handshake(struct fe *f, uint64_t features)
{
	uint64_t dev_f, pf;

	if (send_raw(f->sock, VU_SET_OWNER, VU_FLAG_VERSION, 0, NULL, 0, NULL, 0) ||
	    get_u64(f->sock, VU_GET_FEATURES, &dev_f) ||
	    !(dev_f & BIT(VU_F_PROTOCOL_FEATURES)) ||
	    get_u64(f->sock, VU_GET_PROTOCOL_FEATURES, &pf))
		return -1;
	pf &= BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_BACKEND_REQ) | BIT(VU_PF_CONFIG);
	if (send_raw(f->sock, VU_SET_PROTOCOL_FEATURES, VU_FLAG_VERSION, 8, &pf, 8, NULL, 0))
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->req))
		return -1;
	if (ack(f->sock, VU_SET_BACKEND_REQ_FD, NULL, 0, &f->req[1], 1))
		return -1;
	close(f->req[1]);
	f->req[1] = -1;
	features &= dev_f;
	if (ack(f->sock, VU_SET_FEATURES, &features, 8, NULL, 0))
		return -1;
	return fe_mem_table(f);
}

static int fe_queue(struct fe *f, unsigned q, uint16_t num, uint64_t desc, uint64_t avail,
		    uint64_t used)
{
	struct vu_vring_state st = { q, num }, base = { q, 0 };
	struct vu_vring_addr a = { q, 0, desc, used, avail, ~0ULL };
	uint64_t v = q;

	fe_close_queue(f, q);		/* a re-initialisation replaces them */
	f->avail_idx[q] = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, f->call[q]))
		return -1;
	f->kick[q] = eventfd(0, EFD_CLOEXEC);
	if (ack(f->sock, VU_SET_VRING_CALL, &v, 8, &f->call[q][1], 1) ||
	    ack(f->sock, VU_SET_VRING_NUM, &st, 8, NULL, 0) ||
	    ack(f->sock, VU_SET_VRING_BASE, &base, 8, NULL, 0) ||
	    ack(f->sock, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) ||
	    ack(f->sock, VU_SET_VRING_KICK, &v, 8, &f->kick[q], 1))
		return -1;
	return 0;
}

uint64_t fe_gpa(const struct fe *f, uint64_t off)
{
	return off - RAM_GPA + f->gpa;
}

static uint64_t fe_uva(const struct fe *f, uint64_t off)
{
	return off - RAM_GPA + f->uva;
}

/* Fresh, empty rings on every queue the features give. */
int fe_rings(struct fe *f, uint64_t features)
{
	unsigned q;

	memset(f->file + RAM_GPA, 0, BUF_GPA - RAM_GPA);
	for (q = 0; q < (features & BIT(VB_F_PAGE_REPORTING) ? 3u : 2u); q++)
		if (fe_queue(f, q, QSIZE, fe_uva(f, RING(q)), fe_uva(f, RING_AVAIL(q)),
			     fe_uva(f, RING_USED(q))))
			return -1;
	return 0;
}

int fe_up(struct fe *f, uint64_t features)
{
	memset(f->file + BUF_GPA, 0, DATA_GPA - BUF_GPA);
	return fe_handshake(f, features) || fe_rings(f, features) ? -1 : 0;
}

void kick(struct fe *f, unsigned q)
{
	uint64_t one = 1;

	if (write(f->kick[q], &one, 8) != 8)
		die("kick: %s", strerror(errno));
}

/* In the slots after the last head. */
void post_chain(struct fe *f, unsigned q, const struct virtq_desc *c, unsigned n)
{
	struct virtq_desc *d = (struct virtq_desc *)(f->file + RING(q));
	struct virtq_avail *avail = (struct virtq_avail *)(f->file + RING_AVAIL(q));
	uint16_t head = f->avail_idx[q] % QSIZE;
	unsigned i;

	for (i = 0; i < n; i++) {
		uint16_t slot = (head + i) % QSIZE;

		d[slot] = c[i];
		d[slot].next = (slot + 1) % QSIZE;
		if (i + 1 < n)
			d[slot].flags |= VIRTQ_DESC_F_NEXT;
	}
	avail->ring[head] = head;
	__atomic_store_n(&avail->idx, ++f->avail_idx[q], __ATOMIC_RELEASE);
}

void post(struct fe *f, unsigned q, uint64_t gpa, uint32_t len, uint16_t flags)
{
	struct virtq_desc d = { gpa, len, flags, 0 };

	post_chain(f, q, &d, 1);
}

static uint16_t used_idx(struct fe *f, unsigned q)
{
	struct virtq_used *used = (struct virtq_used *)(f->file + RING_USED(q));

	return __atomic_load_n(&used->idx, __ATOMIC_ACQUIRE);
}

int wait_used(struct fe *f, unsigned q, int timeout_ms)
{
	uint64_t t0 = now_ms();
	char buf[64];

	while (used_idx(f, q) != f->avail_idx[q]) {
		struct pollfd p = { f->call[q][0], POLLIN, 0 };

		if (now_ms() - t0 > (uint64_t)timeout_ms)
			return -ETIMEDOUT;
		if (poll(&p, 1, 50) > 0 && read(f->call[q][0], buf, sizeof(buf)) <= 0)
			return -EPIPE;
	}
	return 0;
}

bool peer_closed(int sock, int timeout_ms)
{
	struct pollfd p = { sock, POLLIN, 0 };
	char b[256];

	while (poll(&p, 1, timeout_ms) > 0) {
		ssize_t n = recv(sock, b, sizeof(b), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN))
			return true;
	}
	return false;
}
