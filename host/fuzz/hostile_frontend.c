// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hostile_frontend.c - vb-hostile-frontend: a vhost-user frontend that
 * attacks a running vballoond and checks that it survives.
 *
 *   vb-hostile-frontend --socket PATH [--scenario NAME]... [--list] [-v]
 *
 * Each scenario opens a fresh connection, does UML's handshake (guest RAM
 * is a memfd larger than the region we declare: the bytes around the region
 * are NOT guest RAM and hold a pattern), misbehaves, then checks:
 *  - the daemon still serves: a new connection gets well-formed replies;
 *  - nothing outside the declared RAM was discarded or written (pattern and
 *    allocated blocks of the surrounding file bytes intact).
 * Exit status: 0 all passed, 1 a check failed, 2 usage/setup error.
 * That the daemon keeps serving its *other* guests is for the caller to
 * check (integration test, through the control socket).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vhost_user.h"

#define PAD		(1 << 20)		/* file bytes each side of RAM */
#define RAM		(16 << 20)
#define GPA		0x40000000ULL		/* declared guest RAM start */
#define QSIZE		64
#define RING(q)		(GPA + 0x10000 * (q))	/* desc; avail +0x400; used +0x1000 */
#define DATA		(GPA + 0x100000)	/* request buffers */
#define PAT		0xa5
#define NR		(VU_FLAG_VERSION | VU_FLAG_NEED_REPLY)

static const char *sock_path;
static bool verbose;
static int failures;

struct fe {
	int sock;
	int memfd;
	uint8_t *file;		/* whole memfd: PAD | RAM | PAD */
	uint8_t *ram;		/* file + PAD */
	int kick[2];
	int req[2];
};

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("FAIL: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	failures++;
}
#define info(...) do { if (verbose) { printf(__VA_ARGS__); putchar('\n'); } } while (0)

static int fe_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

static int send_raw(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 64)];
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int send_msg(int sock, uint32_t req, uint32_t flags, const void *p, uint32_t size,
		    const int *fds, unsigned nfds)
{
	struct vu_msg m = { .hdr = { req, flags, size } };

	if (size > sizeof(m.raw))
		return -1;
	if (size)
		memcpy(m.raw, p, size);
	return send_raw(sock, &m, sizeof(m.hdr) + size, fds, nfds);
}

/* One reply within 5 s; -1 on EOF, timeout or bad framing. */
static int recv_reply(int sock, struct vu_msg *m)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };

	if (poll(&pfd, 1, 5000) <= 0)
		return -1;
	if (recv(sock, &m->hdr, sizeof(m->hdr), MSG_WAITALL) != (ssize_t)sizeof(m->hdr))
		return -1;
	if (m->hdr.flags != 0x5 || m->hdr.size > sizeof(m->raw)) {
		fail("malformed reply: flags 0x%x size %u", m->hdr.flags, m->hdr.size);
		return -1;
	}
	if (m->hdr.size &&
	    recv(sock, m->raw, m->hdr.size, MSG_WAITALL) != (ssize_t)m->hdr.size)
		return -1;
	return 0;
}

/* Send with NEED_REPLY; status (0 ok), or -1 when the daemon hung up. */
static long ack(struct fe *f, uint32_t req, const void *p, uint32_t size,
		const int *fds, unsigned nfds)
{
	struct vu_msg r;

	if (send_msg(f->sock, req, NR, p, size, fds, nfds) || recv_reply(f->sock, &r))
		return -1;
	return r.hdr.size == 8 ? (long)r.u64 : -1;
}

static bool alive(void)
{
	int s = fe_connect(), i;
	struct vu_msg r;
	bool ok = s >= 0;

	/* The previous connection may still be being torn down: a refused
	 * second frontend is closed at once, so retry briefly. */
	for (i = 0; ok && i < 50; i++) {
		if (send_msg(s, VU_GET_FEATURES, 1, NULL, 0, NULL, 0) == 0 &&
		    recv_reply(s, &r) == 0 && r.hdr.size == 8 &&
		    (r.u64 & (1ULL << VIRTIO_F_VERSION_1)))
			break;
		close(s);
		usleep(100000);
		s = fe_connect();
		ok = s >= 0;
	}
	if (s >= 0)
		close(s);
	return ok && i < 50;
}

static void fe_close(struct fe *f)
{
	if (f->sock >= 0)
		close(f->sock);
	if (f->file)
		munmap(f->file, RAM + 2 * PAD);
	if (f->memfd >= 0)
		close(f->memfd);
	for (int i = 0; i < 2; i++) {
		if (f->kick[i] >= 0)
			close(f->kick[i]);
		if (f->req[i] >= 0)
			close(f->req[i]);
	}
	memset(f, 0, sizeof(*f));
	f->sock = f->memfd = -1;
	f->kick[0] = f->kick[1] = f->req[0] = f->req[1] = -1;
}

static uint64_t pad_blocks(struct fe *f)
{
	struct stat st;

	/* The pads are fully written at setup; only they can be compared
	 * across a test: RAM pages come and go with the device's work. */
	fstat(f->memfd, &st);
	return (uint64_t)st.st_blocks * 512;
}

static bool pads_intact(struct fe *f)
{
	for (size_t i = 0; i < PAD; i++) {
		if (f->file[i] != PAT || f->file[PAD + RAM + i] != PAT) {
			fail("byte outside guest RAM changed at file offset %zu",
			     f->file[i] != PAT ? i : PAD + RAM + i);
			return false;
		}
	}
	return true;
}

static int fe_open(struct fe *f)
{
	uint64_t feat, pf;
	int rfd;

	fe_close(f);
	f->memfd = memfd_create("hostile-ram", MFD_CLOEXEC);
	if (f->memfd < 0 || ftruncate(f->memfd, RAM + 2 * PAD))
		return -1;
	f->file = mmap(NULL, RAM + 2 * PAD, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	if (f->file == MAP_FAILED) {
		f->file = NULL;
		return -1;
	}
	f->ram = f->file + PAD;
	memset(f->file, PAT, PAD);
	memset(f->file + PAD + RAM, PAT, PAD);
	if (pipe2(f->req, O_CLOEXEC) || pipe2(f->kick, O_CLOEXEC))
		return -1;
	f->sock = fe_connect();
	if (f->sock < 0)
		return -1;
	/* UML: SET_OWNER, GET_FEATURES, protocol features, request channel. */
	if (send_msg(f->sock, VU_SET_OWNER, 1, NULL, 0, NULL, 0))
		return -1;
	{
		struct vu_msg r;

		if (send_msg(f->sock, VU_GET_FEATURES, 1, NULL, 0, NULL, 0) ||
		    recv_reply(f->sock, &r))
			return -1;
		feat = r.u64;
		if (send_msg(f->sock, VU_GET_PROTOCOL_FEATURES, 1, NULL, 0, NULL, 0) ||
		    recv_reply(f->sock, &r))
			return -1;
		pf = r.u64;
	}
	if (ack(f, VU_SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0))
		return -1;
	rfd = f->req[1];
	if (ack(f, VU_SET_BACKEND_REQ_FD, NULL, 0, &rfd, 1))
		return -1;
	/* VERSION_1 + MUST_TELL_HOST only: inflate = 0, deflate = 1. */
	feat &= (1ULL << VIRTIO_F_VERSION_1) | 1;
	if (ack(f, VU_SET_FEATURES, &feat, 8, NULL, 0))
		return -1;
	return 0;
}

static long set_table(struct fe *f)
{
	struct vu_mem_table t = { .nregions = 1 };

	t.r[0] = (struct vu_mem_region){ GPA, RAM, GPA, PAD };
	return ack(f, VU_SET_MEM_TABLE, &t, 8 + 2 * 32, &f->memfd, 1);
}

static long set_queue(struct fe *f, unsigned q)
{
	struct vu_vring_state num = { q, QSIZE }, base = { q, 0 };
	struct vu_vring_addr a = { q, 0, RING(q), RING(q) + 0x1000, RING(q) + 0x400, ~0ULL };
	uint64_t v = q;
	int kick = eventfd(0, EFD_CLOEXEC), rc;

	if (ack(f, VU_SET_VRING_NUM, &num, 8, NULL, 0) ||
	    ack(f, VU_SET_VRING_BASE, &base, 8, NULL, 0) ||
	    ack(f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0))
		return -1;
	rc = ack(f, VU_SET_VRING_KICK, &v, 8, &kick, 1);
	if (q == 0)
		f->kick[0] = kick;	/* keep the inflate kick to use it */
	else
		close(kick);
	return rc;
}

/* Guest-side ring access (our own memory). */
static uint8_t *g(struct fe *f, uint64_t gpa)
{
	return f->ram + (gpa - GPA);
}

static void put_desc(struct fe *f, unsigned q, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *d = g(f, RING(q)) + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void offer(struct fe *f, unsigned q, uint16_t head, uint16_t bump)
{
	uint16_t *avail = (uint16_t *)g(f, RING(q) + 0x400);

	avail[2 + avail[1] % QSIZE] = head;
	__atomic_store_n(&avail[1], (uint16_t)(avail[1] + bump), __ATOMIC_RELEASE);
}

static void kick(struct fe *f)
{
	uint64_t one = 1;

	if (write(f->kick[0], &one, 8) != 8)
		fail("kick write");
}

static uint16_t used_idx(struct fe *f, unsigned q)
{
	return __atomic_load_n((uint16_t *)g(f, RING(q) + 0x1000 + 2), __ATOMIC_ACQUIRE);
}

/* Give the daemon time to act on a kick (no reply exists for kicks):
 * a GET_FEATURES round trip on the same socket orders after it enough for
 * a single-threaded daemon once it has read the eventfd. */
static void settle(struct fe *f)
{
	struct vu_msg r;

	usleep(200000);
	if (send_msg(f->sock, VU_GET_QUEUE_NUM, 1, NULL, 0, NULL, 0) == 0)
		recv_reply(f->sock, &r);
}

static int live_device(struct fe *f)
{
	if (fe_open(f) || set_table(f) || set_queue(f, 0) || set_queue(f, 1)) {
		fail("handshake refused");
		return -1;
	}
	return 0;
}

/* ---- scenarios --------------------------------------------------------- */

static void sc_bad_header(struct fe *f)
{
	uint32_t h[3] = { VU_GET_FEATURES, 2, 0 };	/* version 2 */

	if (fe_open(f)) {
		fail("handshake");
		return;
	}
	send_raw(f->sock, h, sizeof(h), NULL, 0);
	h[1] = 1 | VU_FLAG_REPLY | 0x40;
	send_raw(f->sock, h, sizeof(h), NULL, 0);
}

static void sc_oversize(struct fe *f)
{
	uint32_t h[3] = { VU_SET_MEM_TABLE, 1, 1u << 30 };
	char junk[4096];

	if (fe_open(f)) {
		fail("handshake");
		return;
	}
	memset(junk, 0x41, sizeof(junk));
	send_raw(f->sock, h, sizeof(h), NULL, 0);
	send(f->sock, junk, sizeof(junk), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void sc_fd_abuse(struct fe *f)
{
	int fds[40], i;
	uint64_t v = 0;

	if (fe_open(f)) {
		fail("handshake");
		return;
	}
	for (i = 0; i < 40; i++)
		fds[i] = dup(f->memfd);
	if (ack(f, VU_SET_OWNER, NULL, 0, fds, 8) == 0)
		fail("SET_OWNER with 8 fds accepted");
	if (ack(f, VU_SET_VRING_KICK, &v, 8, fds, 40) == 0)	/* truncated by the kernel */
		fail("SET_VRING_KICK with 40 fds accepted");
	if (ack(f, VU_SET_VRING_KICK, &v, 8, NULL, 0) == 0)
		fail("SET_VRING_KICK without fd accepted");
	v = VU_VRING_NOFD | 3;
	if (ack(f, VU_SET_VRING_CALL, &v, 8, fds, 1) == 0)
		fail("SET_VRING_CALL with NOFD and an fd accepted");
	for (i = 0; i < 40; i++)
		close(fds[i]);
}

static void sc_bad_indexes(struct fe *f)
{
	struct vu_vring_state st = { 200, 64 };
	struct vu_vring_addr a = { 7, 0, ~0ULL - 100, 0, 0, 0 };
	uint64_t v = 0xffff;

	if (fe_open(f) || set_table(f)) {
		fail("handshake");
		return;
	}
	if (ack(f, VU_SET_VRING_NUM, &st, 8, NULL, 0) == 0)
		fail("queue index 200 accepted");
	st = (struct vu_vring_state){ 0, 100 };
	if (ack(f, VU_SET_VRING_NUM, &st, 8, NULL, 0) == 0)
		fail("ring size 100 accepted");
	st = (struct vu_vring_state){ 0, 1u << 20 };
	if (ack(f, VU_SET_VRING_NUM, &st, 8, NULL, 0) == 0)
		fail("ring size 2^20 accepted");
	st = (struct vu_vring_state){ 0, 70000 };
	if (ack(f, VU_SET_VRING_BASE, &st, 8, NULL, 0) == 0)
		fail("ring base 70000 accepted");
	if (ack(f, VU_SET_VRING_CALL, &v, 8, NULL, 0) == 0)
		fail("vring fd word with reserved bits accepted");
	ack(f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	if (ack(f, 0x7fff, NULL, 0, NULL, 0) == 0)
		fail("unknown request accepted");
	{
		struct vu_config c = { .offset = 0xfffffff0, .size = 32 };
		struct vu_msg r;

		send_msg(f->sock, VU_GET_CONFIG, 1, &c, VU_CONFIG_HDR + 32, NULL, 0);
		if (recv_reply(f->sock, &r) == 0 && r.hdr.size)
			fail("GET_CONFIG out of range answered with data");
	}
}

static void sc_ring_outside(struct fe *f)
{
	struct vu_vring_state num = { 0, QSIZE };
	struct vu_vring_addr a = { 0, 0, GPA + RAM - 512, GPA, GPA + 0x400, 0 };
	uint64_t v = 0;
	int k = eventfd(0, EFD_CLOEXEC);

	if (fe_open(f) || set_table(f)) {
		fail("handshake");
		return;
	}
	ack(f, VU_SET_VRING_NUM, &num, 8, NULL, 0);
	ack(f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	if (ack(f, VU_SET_VRING_KICK, &v, 8, &k, 1) == 0)
		fail("descriptor table crossing the end of RAM accepted");
	close(k);
}

static void sc_bad_mem_table(struct fe *f)
{
	struct vu_mem_table t = { .nregions = 1 };

	if (fe_open(f)) {
		fail("handshake");
		return;
	}
	t.r[0] = (struct vu_mem_region){ GPA, 64ULL << 30, GPA, 0 };	/* > file */
	if (ack(f, VU_SET_MEM_TABLE, &t, 8 + 32, &f->memfd, 1) == 0)
		fail("region larger than its file accepted");
	t.r[0] = (struct vu_mem_region){ ~0ULL - 4095, 8192, 0, 0 };
	if (ack(f, VU_SET_MEM_TABLE, &t, 8 + 32, &f->memfd, 1) == 0)
		fail("wrapping region accepted");
	t.nregions = 200;
	if (ack(f, VU_SET_MEM_TABLE, &t, sizeof(t), NULL, 0) == 0)
		fail("200 regions accepted");
}

static void sc_desc_loop(struct fe *f)
{
	if (live_device(f))
		return;
	put_desc(f, 0, 0, DATA, 4, 1, 1);
	put_desc(f, 0, 1, DATA, 4, 1, 0);
	offer(f, 0, 0, 1);
	kick(f);
	settle(f);
}

static void sc_desc_outside(struct fe *f)
{
	if (live_device(f))
		return;
	put_desc(f, 0, 0, GPA - 4096, 4096, 0, 0);	/* below RAM: a pad */
	offer(f, 0, 0, 1);
	kick(f);
	settle(f);
}

static void sc_pfns_outside(struct fe *f)
{
	uint32_t pfns[] = {
		(uint32_t)((GPA >> 12) + 0x200),	/* valid */
		(uint32_t)((GPA - PAD) >> 12),		/* in the low pad */
		(uint32_t)((GPA + RAM) >> 12),		/* first page past RAM */
		(uint32_t)((GPA >> 12) - 1),
		0, 0xffffffff,
	};

	if (live_device(f))
		return;
	memset(g(f, GPA + 0x200000), 1, 0x100000);	/* RAM the device may discard */
	memcpy(g(f, DATA), pfns, sizeof(pfns));
	put_desc(f, 0, 0, DATA, sizeof(pfns), 0, 0);
	offer(f, 0, 0, 1);
	kick(f);
	settle(f);
	/* Each PFN alone, outside RAM. */
	for (unsigned i = 1; i < 6; i++) {
		memcpy(g(f, DATA + 64 * i), &pfns[i], 4);
		put_desc(f, 0, i, DATA + 64 * i, 4, 0, 0);
		offer(f, 0, i, 1);
	}
	kick(f);
	settle(f);
	info("used idx after PFN requests: %u", used_idx(f, 0));
}

static void sc_avail_jump(struct fe *f)
{
	if (live_device(f))
		return;
	put_desc(f, 0, 0, DATA, 4, 0, 0);
	offer(f, 0, 0, 1000);
	kick(f);
	settle(f);
	offer(f, 0, QSIZE + 5, 1);	/* head >= size */
	kick(f);
	settle(f);
}

static void sc_zero_len_and_order(struct fe *f)
{
	if (live_device(f))
		return;
	put_desc(f, 0, 0, DATA, 0, 0, 0);
	offer(f, 0, 0, 1);
	kick(f);
	settle(f);
	/* the frontend re-initialises (fresh ring): the device is usable again */
	memset(g(f, RING(0)), 0, 0x2000);
	if (f->kick[0] >= 0)
		close(f->kick[0]);
	f->kick[0] = -1;
	if (set_table(f) || set_queue(f, 0))
		fail("re-initialisation after a broken ring refused");
	put_desc(f, 0, 0, DATA, 8, 2 | 1, 1);	/* writable, then readable */
	put_desc(f, 0, 1, DATA + 8, 8, 0, 0);
	offer(f, 0, 0, 1);
	kick(f);
	settle(f);
}

static void sc_flood(struct fe *f)
{
	uint32_t h[3] = { VU_GET_FEATURES, 1, 0 };
	int i;

	if (fe_open(f)) {
		fail("handshake");
		return;
	}
	/* Requests without ever reading the replies. */
	for (i = 0; i < 200000; i++)
		if (send(f->sock, h, sizeof(h), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			break;
	info("flood: %d requests sent before the socket filled or closed", i);
	/* Kicks and unknown requests. */
	h[0] = 0x4444;
	h[1] = NR;
	for (i = 0; i < 10000; i++)
		if (send(f->sock, h, sizeof(h), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			break;
}

static void sc_kick_flood(struct fe *f)
{
	if (live_device(f))
		return;
	for (int i = 0; i < 100000; i++)
		kick(f);
	settle(f);
}

static void sc_truncate(struct fe *f)
{
	uint32_t pfn = (uint32_t)((GPA >> 12) + 0x300);

	if (live_device(f))
		return;
	memcpy(g(f, DATA), &pfn, 4);
	put_desc(f, 0, 0, DATA, 4, 0, 0);
	offer(f, 0, 0, 1);
	/* Shrink the RAM file under the daemon's mapping (our own pads and
	 * RAM go too: this scenario checks survival only). */
	if (ftruncate(f->memfd, PAD + 0x10000))
		fail("ftruncate");
	munmap(f->file, RAM + 2 * PAD);
	f->file = NULL;
	kick(f);
	settle(f);
}

static const struct {
	const char *name;
	void (*run)(struct fe *f);
	bool check_pads;
} scenarios[] = {
	{ "bad-header", sc_bad_header, true },
	{ "oversize", sc_oversize, true },
	{ "fd-abuse", sc_fd_abuse, true },
	{ "bad-indexes", sc_bad_indexes, true },
	{ "ring-outside-ram", sc_ring_outside, true },
	{ "bad-mem-table", sc_bad_mem_table, true },
	{ "desc-loop", sc_desc_loop, true },
	{ "desc-outside-ram", sc_desc_outside, true },
	{ "pfns-outside-ram", sc_pfns_outside, true },
	{ "avail-jump", sc_avail_jump, true },
	{ "zero-len-and-order", sc_zero_len_and_order, true },
	{ "flood", sc_flood, true },
	{ "kick-flood", sc_kick_flood, true },
	{ "truncate-ram", sc_truncate, false },
};

#define NSCEN (sizeof(scenarios) / sizeof(scenarios[0]))

static void run_one(unsigned i)
{
	struct fe f = { .sock = -1, .memfd = -1, .kick = { -1, -1 }, .req = { -1, -1 } };
	int before = failures;
	uint64_t blocks = 0;

	info("== %s", scenarios[i].name);
	scenarios[i].run(&f);
	if (f.file && scenarios[i].check_pads) {
		/* pads were written at setup: their blocks are all there */
		blocks = pad_blocks(&f);
		if (!pads_intact(&f))
			fail("%s: memory outside guest RAM modified", scenarios[i].name);
		if (blocks < 2ULL * PAD)
			fail("%s: file blocks %llu below the pads' %u", scenarios[i].name,
			     (unsigned long long)blocks, 2 * PAD);
	}
	fe_close(&f);
	if (!alive())
		fail("%s: daemon no longer serves %s", scenarios[i].name, sock_path);
	printf("%s %s\n", failures == before ? "ok  " : "FAIL", scenarios[i].name);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "scenario", required_argument, NULL, 'S' },
		{ "list", no_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	bool pick[NSCEN] = { false }, any = false;
	unsigned i;
	int o;

	signal(SIGPIPE, SIG_IGN);
	while ((o = getopt_long(argc, argv, "s:S:lv", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			sock_path = optarg;
			break;
		case 'S':
			for (i = 0; i < NSCEN && strcmp(scenarios[i].name, optarg); i++)
				;
			if (i == NSCEN) {
				fprintf(stderr, "unknown scenario %s (--list)\n", optarg);
				return 2;
			}
			pick[i] = any = true;
			break;
		case 'l':
			for (i = 0; i < NSCEN; i++)
				puts(scenarios[i].name);
			return 0;
		case 'v':
			verbose = true;
			break;
		default:
			fprintf(stderr, "usage: vb-hostile-frontend --socket PATH "
				"[--scenario NAME]... [--list] [-v]\n");
			return 2;
		}
	}
	if (!sock_path) {
		fprintf(stderr, "--socket PATH is required\n");
		return 2;
	}
	if (!alive()) {
		fprintf(stderr, "no vballoond serving %s\n", sock_path);
		return 2;
	}
	for (i = 0; i < NSCEN; i++)
		if (!any || pick[i])
			run_one(i);
	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
