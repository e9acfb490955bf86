// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vb-hostile - a vhost-user frontend for testing vballoond against hostile
 * and well-behaved guests.  Guest RAM is a memfd, as UML's RAM file.
 *
 *   vb-hostile good SOCKET [--mib N] [--until FILE] [--status FILE]
 *	A well-behaved balloon guest: UML's handshake, then it follows the
 *	target (CONFIG_CHANGE -> GET_CONFIG -> inflate/deflate PFN arrays,
 *	waits for every acknowledgement, SET_CONFIG actual) until FILE
 *	exists.  All of its RAM holds a pattern; at exit it checks that every
 *	page outside the balloon still holds it (exit 1 on corruption).
 *	--status FILE gets "actual_pages=N ram_blocks=BYTES" after each change.
 *
 *   vb-hostile hostile SOCKET [--case NAME] [--list] [-v]
 *	Runs every hostile case (list and expected answers in
 *	docs/hardening.md; -v names each input) on fresh connections.  After each
 *	it checks that the daemon still answers a new frontend.  At the end
 *	it checks the parts of its RAM file outside the shared region (the
 *	"kernel image" below it, a tail above it) kept their content and
 *	their blocks.  Prints one line per case:
 *	  case NAME: OUTCOME   (refused | closed | broken | survived)
 *	and a summary; exit 0 only if the daemon survived every case and
 *	nothing outside the guest's RAM changed.
 *
 *   vb-hostile noack SOCKET [--pages N] [--ack K] [--status FILE]
 *	Not a frontend: a minimal balloon backend that answers the vhost-user
 *	protocol but acknowledges only the first K buffers (default 0), for
 *	testing a guest driver against a host that never acknowledges.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
#include <time.h>
#include <unistd.h>

#include "vballoon_abi.h"
#include "vhost_user.h"

#define PAGE		4096ULL
#define QSIZE		64
#define NQ		3		/* inflate, deflate, reporting (when negotiated) */
#define BIT(n)		(1ULL << (n))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Guest RAM layout (guest physical address == offset in the RAM file, as
 * in UML).  Below RAM_GPA: a "kernel image" the frontend never shares. */
#define RAM_GPA		0x100000ULL
#define RING(q)		(RAM_GPA + (q) * 0x4000ULL)	/* desc, +0x1000 avail, +0x2000 used */
#define BUF_GPA		(RAM_GPA + 0x10000ULL)		/* PFN arrays */
#define BUF_SIZE	0x10000ULL
#define DATA_GPA	(RAM_GPA + 0x20000ULL)		/* balloonable pages */
#define TAIL		0x100000ULL			/* unshared bytes after RAM */

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct fe {
	int sock;
	int req[2];			/* backend request channel: [0] ours */
	int kick[NQ], call[NQ][2];
	int memfd;
	uint8_t *file;			/* the whole RAM file */
	uint64_t ram_size;		/* shared bytes from RAM_GPA */
	uint64_t gpa, uva;		/* guest and user address of RAM_GPA */
	uint64_t file_size;
	uint16_t avail_idx[NQ], used_seen[NQ];
};

static const char *sock_path;
static int verbose;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "vb-hostile: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)((off >> 12) * 131 + 7);
}

/* ---- transport ---------------------------------------------------------- */

static int connect_sock(void)
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

/* Send header + payload (sizes as given, even lying ones) + fds. */
static int send_raw(int sock, uint32_t req, uint32_t flags, uint32_t hdr_size,
		    const void *p, size_t len, const int *fds, unsigned nfds)
{
	struct vu_hdr h = { req, flags, hdr_size };
	char cbuf[CMSG_SPACE(64 * sizeof(int))];
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)p, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	struct cmsghdr *cm;

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

/* Wait for one reply: payload size, -EPIPE on EOF, -ETIMEDOUT. */
static int recv_reply(int sock, struct vu_msg *m, int timeout_ms)
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
	if (m->hdr.flags != 0x5 || m->hdr.size > sizeof(m->raw))
		return -EPROTO;		/* UML would fail the device */
	if (m->hdr.size && recv(sock, m->raw, m->hdr.size, MSG_WAITALL) != m->hdr.size)
		return -EPIPE;
	return m->hdr.size;
}

/* NEED_REPLY message: returns the status (0 ok, >0 refused) or -errno. */
static long ack(int sock, uint32_t req, const void *p, uint32_t size, const int *fds,
		unsigned nfds)
{
	struct vu_msg r;
	int n;

	if (send_raw(sock, req, 1 | VU_FLAG_NEED_REPLY, size, p, size, fds, nfds))
		return -EPIPE;
	n = recv_reply(sock, &r, 5000);
	if (n < 0)
		return n;
	if (n != 8 || r.hdr.request != req)
		return -EPROTO;
	return r.u64 ? (long)(r.u64 & 0x7fffffff) | 1 : 0;
}

static long get_u64(int sock, uint32_t req, uint64_t *out)
{
	struct vu_msg r;
	int n;

	if (send_raw(sock, req, 1, 0, NULL, 0, NULL, 0))
		return -EPIPE;
	n = recv_reply(sock, &r, 5000);
	if (n < 0)
		return n;
	if (n != 8 || r.hdr.request != req)
		return -EPROTO;
	*out = r.u64;
	return 0;
}

/* ---- a frontend --------------------------------------------------------- */

static void fe_ram(struct fe *f, uint64_t ram_size)
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

static void fe_init(struct fe *f)
{
	unsigned q;

	f->sock = f->req[0] = f->req[1] = -1;
	f->gpa = f->uva = RAM_GPA;	/* as UML: all three are equal */
	for (q = 0; q < NQ; q++) {
		f->kick[q] = f->call[q][0] = f->call[q][1] = -1;
		f->avail_idx[q] = f->used_seen[q] = 0;
	}
}

static void close_fd(int *fd)
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

static void fe_close(struct fe *f)
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
static int fe_connect(struct fe *f)
{
	uint64_t t0 = now_ms(), v;

	for (;;) {
		f->sock = connect_sock();
		if (f->sock >= 0 && !get_u64(f->sock, VU_GET_FEATURES, &v) && (v & BIT(32)))
			return 0;
		if (f->sock >= 0)
			close(f->sock);
		f->sock = -1;
		if (now_ms() - t0 > 10000)
			return -1;
		usleep(50000);
	}
}

/* One region: file offset RAM_GPA on.  UML sends it again on every
 * find_vqs (module reload), 72 bytes long. */
static int fe_mem_table(struct fe *f)
{
	struct vu_mem_table t = { .nregions = 1 };

	t.r[0] = (struct vu_mem_region){ f->gpa, f->ram_size, f->uva, RAM_GPA };
	return ack(f->sock, VU_SET_MEM_TABLE, &t, 8 + 2 * 32, &f->memfd, 1) ? -1 : 0;
}

/* UML's sequence up to the rings (virtio_uml.c vhost_user_init + probe). */
static int fe_handshake(struct fe *f, uint64_t features)
{
	uint64_t dev_f, pf;

	if (send_raw(f->sock, VU_SET_OWNER, 1, 0, NULL, 0, NULL, 0) ||
	    get_u64(f->sock, VU_GET_FEATURES, &dev_f) ||
	    !(dev_f & BIT(VU_F_PROTOCOL_FEATURES)) ||
	    get_u64(f->sock, VU_GET_PROTOCOL_FEATURES, &pf))
		return -1;
	pf &= BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_BACKEND_REQ) | BIT(VU_PF_CONFIG);
	if (send_raw(f->sock, VU_SET_PROTOCOL_FEATURES, 1, 8, &pf, 8, NULL, 0))
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
	f->avail_idx[q] = f->used_seen[q] = 0;
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

/* Addresses of the byte at file offset off, as the daemon sees them. */
static uint64_t fe_gpa(const struct fe *f, uint64_t off)
{
	return off - RAM_GPA + f->gpa;
}

static uint64_t fe_uva(const struct fe *f, uint64_t off)
{
	return off - RAM_GPA + f->uva;
}

/* Fresh, empty rings on every queue the features give. */
static int fe_rings(struct fe *f, uint64_t features)
{
	unsigned q;

	memset(f->file + RAM_GPA, 0, BUF_GPA - RAM_GPA);
	for (q = 0; q < (features & BIT(VB_F_PAGE_REPORTING) ? 3u : 2u); q++)
		if (fe_queue(f, q, QSIZE, fe_uva(f, RING(q)), fe_uva(f, RING(q) + 0x1000),
			     fe_uva(f, RING(q) + 0x2000)))
			return -1;
	return 0;
}

static int fe_up(struct fe *f, uint64_t features)
{
	memset(f->file + BUF_GPA, 0, DATA_GPA - BUF_GPA);
	return fe_handshake(f, features) || fe_rings(f, features) ? -1 : 0;
}

static void kick(struct fe *f, unsigned q)
{
	uint64_t one = 1;

	if (write(f->kick[q], &one, 8) != 8)
		die("kick: %s", strerror(errno));
}

/* Post a chain of n descriptors (addr, len, flags given; NEXT and next
 * filled in) on queue q, in the slots after the last head. */
static void post_chain(struct fe *f, unsigned q, const struct desc *c, unsigned n)
{
	struct desc *d = (struct desc *)(f->file + RING(q));
	uint16_t *avail = (uint16_t *)(f->file + RING(q) + 0x1000);
	uint16_t head = f->avail_idx[q] % QSIZE;
	unsigned i;

	for (i = 0; i < n; i++) {
		uint16_t slot = (head + i) % QSIZE;

		d[slot] = c[i];
		d[slot].next = (slot + 1) % QSIZE;
		if (i + 1 < n)
			d[slot].flags |= 1;	/* VIRTQ_DESC_F_NEXT */
	}
	avail[2 + head] = head;
	__atomic_store_n(&avail[1], ++f->avail_idx[q], __ATOMIC_RELEASE);
}

/* Post one buffer of len bytes at gpa on queue q. */
static void post(struct fe *f, unsigned q, uint64_t gpa, uint32_t len, uint16_t flags)
{
	struct desc d = { gpa, len, flags, 0 };

	post_chain(f, q, &d, 1);
}

static uint16_t used_idx(struct fe *f, unsigned q)
{
	return __atomic_load_n((uint16_t *)(f->file + RING(q) + 0x2000 + 2), __ATOMIC_ACQUIRE);
}

/* Wait until the device used everything posted on q. */
static int wait_used(struct fe *f, unsigned q, int timeout_ms)
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

/* ---- the good guest ----------------------------------------------------- */

struct good {
	struct fe f;
	uint32_t *balloon;		/* pfns in the balloon, a stack */
	uint32_t nballoon, npages;
	const char *status;
};

static uint32_t get_num_pages(struct fe *f)
{
	struct vu_msg r;
	struct vu_config c = { .offset = 0, .size = 16 };
	uint32_t v;

	if (send_raw(f->sock, VU_GET_CONFIG, 1, VU_CONFIG_HDR + 16, &c, VU_CONFIG_HDR + 16, NULL, 0) ||
	    recv_reply(f->sock, &r, 5000) != VU_CONFIG_HDR + 16)
		die("good: GET_CONFIG failed");
	memcpy(&v, r.config.payload, 4);
	return v;
}

static void set_actual(struct fe *f, uint32_t pages)
{
	struct vu_config c = { .offset = 4, .size = 4 };

	memcpy(c.payload, &pages, 4);
	if (ack(f->sock, VU_SET_CONFIG, &c, VU_CONFIG_HDR + 4, NULL, 0))
		die("good: SET_CONFIG actual refused");
}

/* Move up to 256 pages into (q 0) or out of (q 1) the balloon. */
static void good_batch(struct good *g, unsigned q, uint32_t n)
{
	uint32_t *arr = (uint32_t *)(g->f.file + BUF_GPA), i;

	if (n > 256)
		n = 256;
	for (i = 0; i < n; i++) {
		if (q == 0) {
			/* balloon pages from the top of RAM down */
			uint64_t gpa = RAM_GPA + g->f.ram_size - (uint64_t)(g->nballoon + i + 1) * PAGE;

			arr[i] = gpa >> 12;
		} else {
			arr[i] = g->balloon[g->nballoon - 1 - i];
		}
	}
	post(&g->f, q, BUF_GPA, n * 4, 0);
	kick(&g->f, q);
	if (wait_used(&g->f, q, 30000))
		die("good: the device did not acknowledge a %s", q ? "deflate" : "inflate");
	for (i = 0; i < n; i++) {
		if (q == 0) {
			g->balloon[g->nballoon + i] = arr[i];
		} else {
			/* the page is ours again: its content came back as zero
			 * (discarded) and the guest rewrites it */
			uint64_t off = (uint64_t)arr[i] << 12;

			memset(g->f.file + off, pattern(off), PAGE);
		}
	}
	if (q == 0)
		g->nballoon += n;
	else
		g->nballoon -= n;
}

static void good_status(struct good *g)
{
	struct stat st;
	FILE *fp;
	char tmp[4200];

	if (!g->status || fstat(g->f.memfd, &st))
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", g->status);
	fp = fopen(tmp, "w");
	if (!fp)
		return;
	fprintf(fp, "actual_pages=%u\nram_blocks=%llu\n", g->nballoon,
		(unsigned long long)st.st_blocks * 512);
	fclose(fp);
	rename(tmp, g->status);
}

static void good_follow(struct good *g)
{
	uint32_t target = get_num_pages(&g->f);

	if (target > g->npages)
		target = g->npages;
	while (g->nballoon < target)
		good_batch(g, 0, target - g->nballoon);
	while (g->nballoon > target)
		good_batch(g, 1, g->nballoon - target);
	set_actual(&g->f, g->nballoon);
	good_status(g);
}

/* Pages outside the balloon must hold the pattern. */
static int good_verify(struct good *g)
{
	uint64_t off, end = RAM_GPA + g->f.ram_size - (uint64_t)g->nballoon * PAGE;
	unsigned bad = 0;

	for (off = DATA_GPA; off < end; off += PAGE) {
		const uint8_t *p = g->f.file + off;
		uint64_t i;

		for (i = 0; i < PAGE; i++)
			if (p[i] != pattern(off)) {
				if (!bad++)
					fprintf(stderr, "good: corruption at gpa %#llx\n",
						(unsigned long long)(off + i));
				break;
			}
	}
	return bad ? -1 : 0;
}

static int run_good(int argc, char **argv)
{
	struct good g = { 0 };
	const char *until = NULL;
	uint64_t mib = 64;
	int i;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--mib") && i + 1 < argc)
			mib = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--until") && i + 1 < argc)
			until = argv[++i];
		else if (!strcmp(argv[i], "--status") && i + 1 < argc)
			g.status = argv[++i];
		else
			die("good: unknown option %s", argv[i]);
	}
	if (mib < 4 || mib > 4096)
		die("good: --mib 4..4096");
	fe_init(&g.f);
	fe_ram(&g.f, mib << 20);
	g.npages = (g.f.ram_size - (DATA_GPA - RAM_GPA)) / PAGE;
	g.balloon = calloc(g.npages, 4);
	if (!g.balloon || fe_connect(&g.f) ||
	    fe_up(&g.f, BIT(VB_F_MUST_TELL_HOST) | BIT(32)))
		die("good: handshake with %s failed", sock_path);
	good_follow(&g);
	printf("good: up, %llu MiB, balloon %u pages\n", (unsigned long long)mib, g.nballoon);
	fflush(stdout);
	while (!until || access(until, F_OK)) {
		struct pollfd p[2] = { { g.f.req[0], POLLIN, 0 }, { g.f.sock, POLLIN, 0 } };
		struct vu_msg m;

		if (poll(p, 2, 100) <= 0)
			continue;
		if (p[1].revents)
			die("good: the daemon closed the connection");
		if (recv(g.f.req[0], &m.hdr, sizeof(m.hdr), MSG_WAITALL) != sizeof(m.hdr))
			die("good: backend request channel closed");
		if (m.hdr.size > sizeof(m.raw) ||
		    (m.hdr.size && recv(g.f.req[0], m.raw, m.hdr.size, MSG_WAITALL) != m.hdr.size))
			die("good: bad backend request");
		if (m.hdr.flags & VU_FLAG_NEED_REPLY) {
			struct { struct vu_hdr h; uint64_t v; } __attribute__((packed)) r =
				{ { m.hdr.request, 0x5, 8 }, 0 };

			if (write(g.f.req[0], &r, sizeof(r)) != sizeof(r))
				die("good: reply on the request channel failed");
		}
		if (m.hdr.request == VU_BACKEND_CONFIG_CHANGE_MSG)
			good_follow(&g);
	}
	/* give everything back, as a driver unload does, then check */
	while (g.nballoon)
		good_batch(&g, 1, g.nballoon);
	set_actual(&g.f, 0);
	good_status(&g);
	if (good_verify(&g)) {
		printf("good: CORRUPTION\n");
		return 1;
	}
	printf("good: ok, pattern intact\n");
	fe_close(&g.f);
	return 0;
}

/* ---- hostile cases ------------------------------------------------------ */

enum outcome { O_REFUSED, O_CLOSED, O_BROKEN, O_SURVIVED, O_FAILED };
static const char *const outcome_name[] = { "refused", "closed", "broken", "survived", "FAILED" };

static struct fe hf;			/* the hostile guest */
static int wrong_fd;			/* a regular file: not a socket, eventfd or memfd of RAM */

/* Outcome of one NEED_REPLY message the daemon must not accept.  Silence
 * and a malformed reply fail as an acceptance does: UML would hang or fail
 * the device. */
static enum outcome expect_refused(long st)
{
	if (st > 0)
		return O_REFUSED;
	if (st == -EPIPE || st == -ECONNRESET)
		return O_CLOSED;
	return O_FAILED;
}

/* The worse of two outcomes of one case's inputs. */
static enum outcome worse(enum outcome a, enum outcome b)
{
	if (a == O_FAILED || b == O_FAILED)
		return O_FAILED;
	return a == O_CLOSED || b == O_CLOSED ? O_CLOSED : a;
}

/* A fresh connection inside a case, so that each input meets a parser in
 * its initial state even after the daemon dropped the previous one. */
static int reconnect(void)
{
	fe_close(&hf);
	return fe_connect(&hf);
}

static bool peer_closed(int sock, int timeout_ms)
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

/* Bring the hostile guest fully up (features: PFN arrays only). */
static int hostile_up(void)
{
	return fe_up(&hf, BIT(VB_F_MUST_TELL_HOST) | BIT(32));
}

/*
 * Tally one input the daemon must refuse (st from ack()) into the case's
 * outcome o; its name is printed when it fails, or always with -v.  After a
 * hang-up the case goes on on a fresh connection, brought back by setup
 * (may be NULL) to the state the next input needs.
 */
static enum outcome must_refuse(enum outcome o, const char *what, long st, int (*setup)(void))
{
	enum outcome r = expect_refused(st);

	if (verbose || r == O_FAILED)
		printf("  %s: %s\n", what, outcome_name[r]);
	if (r == O_CLOSED && (reconnect() || (setup && setup())))
		r = O_FAILED;
	return worse(o, r);
}

static enum outcome c_short_header(void)
{
	uint32_t h = VU_GET_FEATURES;

	if (send(hf.sock, &h, 4, MSG_NOSIGNAL) != 4)
		return O_CLOSED;
	return O_SURVIVED;	/* then we vanish mid-header */
}

/* Payloads longer than any request, with junk behind the header: the
 * daemon must hang up rather than allocate or wait for them. */
static enum outcome c_oversize(void)
{
	static const struct { uint32_t req, size; } big[] = {
		{ VU_SET_OWNER, 1u << 20 }, { VU_SET_MEM_TABLE, 1u << 30 },
	};
	char junk[4096];
	unsigned i;

	memset(junk, 0x41, sizeof(junk));
	for (i = 0; i < ARRAY_SIZE(big); i++) {
		if (i && reconnect())
			return O_FAILED;
		send_raw(hf.sock, big[i].req, 1 | VU_FLAG_NEED_REPLY, big[i].size, junk,
			 sizeof(junk), NULL, 0);
		if (!peer_closed(hf.sock, 3000))
			return O_FAILED;
	}
	return O_CLOSED;
}

static enum outcome c_unknown_requests(void)
{
	static const uint32_t reqs[] = { 0, 19, 20, 33, 35, 63, 64, 200, 0x7fff, 0xffffffff };
	enum outcome o = O_REFUSED;
	char what[32];
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(reqs); i++) {
		snprintf(what, sizeof(what), "request %u", reqs[i]);
		o = must_refuse(o, what, ack(hf.sock, reqs[i], NULL, 0, NULL, 0), NULL);
	}
	return o;
}

/* Framing the daemon cannot trust, each on its own connection: version 2,
 * a "reply" sent to the backend, a flag bit no version defines. */
static enum outcome c_bad_flags(void)
{
	static const uint32_t flags[] = {
		2, 1 | VU_FLAG_REPLY, 1 | VU_FLAG_REPLY | 0x40, 1 | 0x40,
	};
	enum outcome o = O_REFUSED;
	unsigned i;
	uint64_t v;

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		if (i && reconnect())
			return O_FAILED;
		send_raw(hf.sock, VU_GET_FEATURES, flags[i], 0, NULL, 0, NULL, 0);
		if (peer_closed(hf.sock, 1000) || get_u64(hf.sock, VU_GET_FEATURES, &v))
			o = worse(o, O_CLOSED);
	}
	return o;
}

static enum outcome c_wrong_sizes(void)
{
	uint8_t junk[64] = { 0 };
	enum outcome o;

	o = must_refuse(O_REFUSED, "SET_FEATURES of 4 bytes",
			ack(hf.sock, VU_SET_FEATURES, junk, 4, NULL, 0), NULL);
	o = must_refuse(o, "SET_VRING_NUM of 3 bytes",
			ack(hf.sock, VU_SET_VRING_NUM, junk, 3, NULL, 0), NULL);
	o = must_refuse(o, "SET_VRING_ADDR of 20 bytes",
			ack(hf.sock, VU_SET_VRING_ADDR, junk, 20, NULL, 0), NULL);
	/* header says 64, 8 arrive, then silence: must not wedge the daemon */
	send_raw(hf.sock, VU_SET_FEATURES, 1, 64, junk, 8, NULL, 0);
	return o;
}

static enum outcome c_bad_features(void)
{
	uint64_t v = ~0ULL;

	return expect_refused(ack(hf.sock, VU_SET_FEATURES, &v, 8, NULL, 0));
}

/* Send a memory table of n regions (nr given) in size bytes (0: just them). */
static long mem_table(uint32_t n, const struct vu_mem_region *r, unsigned nr,
		      const int *fds, unsigned nfds, uint32_t size)
{
	struct vu_mem_table t = { .nregions = n };

	memcpy(t.r, r, nr * sizeof(*r));
	return ack(hf.sock, VU_SET_MEM_TABLE, &t, size ? size : 8 + 32 * (nr ? nr : 1),
		   fds, nfds);
}

static enum outcome c_mem_tables(void)
{
	uint64_t S = hf.ram_size;
	struct vu_mem_region ok = { RAM_GPA, S, RAM_GPA, RAM_GPA };
	struct vu_mem_region r2[2] = { ok, { RAM_GPA + 4096, S, RAM_GPA + S * 2, RAM_GPA } };
	int fds[9], pipefd[2], efd = eventfd(0, EFD_CLOEXEC), i;
	enum outcome o = O_REFUSED;

	if (pipe2(pipefd, O_CLOEXEC))
		return O_FAILED;
	for (i = 0; i < 9; i++)
		fds[i] = hf.memfd;
#define TRY(w, st) (o = must_refuse(o, "mem table " w, (st), NULL))
	TRY("no fd", mem_table(1, &ok, 1, NULL, 0, 0));
	TRY("zero regions", mem_table(0, &ok, 1, fds, 1, 0));
	TRY("nine regions", mem_table(9, &ok, 1, fds, 1, 8 + 32 * 8));
	TRY("200 regions", mem_table(200, &ok, 1, NULL, 0, 8 + 32 * 8));
	TRY("2 regions 1 fd", mem_table(2, r2, 2, fds, 1, 0));
	TRY("overlap", mem_table(2, r2, 2, fds, 2, 0));
	TRY("size 0", mem_table(1, &(struct vu_mem_region){ RAM_GPA, 0, RAM_GPA, 0 }, 1, fds, 1, 0));
	TRY("beyond file", mem_table(1, &(struct vu_mem_region){ RAM_GPA, S * 4, RAM_GPA, RAM_GPA }, 1, fds, 1, 0));
	TRY("64 GiB", mem_table(1, &(struct vu_mem_region){ RAM_GPA, 64ULL << 30, RAM_GPA, 0 }, 1, fds, 1, 0));
	TRY("offset beyond file", mem_table(1, &(struct vu_mem_region){ RAM_GPA, S, RAM_GPA, 1ULL << 40 }, 1, fds, 1, 0));
	TRY("gpa wraps", mem_table(1, &(struct vu_mem_region){ ~0ULL - 4095, S, RAM_GPA, RAM_GPA }, 1, fds, 1, 0));
	TRY("pipe fd", mem_table(1, &ok, 1, &pipefd[0], 1, 0));
	TRY("eventfd", mem_table(1, &ok, 1, &efd, 1, 0));
	TRY("small regular file", mem_table(1, &ok, 1, &wrong_fd, 1, 0));
#undef TRY
	close(pipefd[0]);
	close(pipefd[1]);
	close(efd);
	return o;
}

/*
 * Descriptor counts a message does not take, on a live device: fds on
 * SET_OWNER, 12 for the backend channel, 40 (more than the daemon's control
 * buffer holds: truncated), a kick without its fd, NOFD with an fd.
 */
static enum outcome c_wrong_fd_counts(void)
{
	uint64_t q0 = 0, q3_nofd = VU_VRING_NOFD | 3;
	enum outcome o = O_REFUSED;
	int fds[40], i;

	for (i = 0; i < 40; i++)
		fds[i] = hf.memfd;
	if (hostile_up())
		return O_FAILED;
	o = must_refuse(o, "SET_OWNER with 8 fds",
			ack(hf.sock, VU_SET_OWNER, NULL, 0, fds, 8), hostile_up);
	o = must_refuse(o, "backend channel with 12 fds",
			ack(hf.sock, VU_SET_BACKEND_REQ_FD, NULL, 0, fds, 12), hostile_up);
	o = must_refuse(o, "kick with 40 fds",
			ack(hf.sock, VU_SET_VRING_KICK, &q0, 8, fds, 40), hostile_up);
	o = must_refuse(o, "kick without fd",
			ack(hf.sock, VU_SET_VRING_KICK, &q0, 8, NULL, 0), hostile_up);
	o = must_refuse(o, "call with NOFD and an fd",
			ack(hf.sock, VU_SET_VRING_CALL, &q3_nofd, 8, fds, 1), hostile_up);
	return o;
}

/* What the bad vring inputs meet: a valid table, queue 0 sized 16. */
static int vring_setup(void)
{
	struct vu_mem_table t = { .nregions = 1 };
	struct vu_vring_state num = { 0, 16 };

	t.r[0] = (struct vu_mem_region){ RAM_GPA, hf.ram_size, RAM_GPA, RAM_GPA };
	if (ack(hf.sock, VU_SET_MEM_TABLE, &t, 8 + 32, &hf.memfd, 1))
		return -1;
	return ack(hf.sock, VU_SET_VRING_NUM, &num, 8, NULL, 0) ? -1 : 0;
}

/* Queue 200; sizes 0, not a power of two, above the maximum; a base
 * beyond 16 bits. */
static enum outcome vring_states(enum outcome o)
{
	static const struct {
		const char *what;
		uint32_t req;
		struct vu_vring_state st;
	} bad[] = {
		{ "queue 200", VU_SET_VRING_NUM, { 200, 16 } },
		{ "num 0", VU_SET_VRING_NUM, { 0, 0 } },
		{ "num 3", VU_SET_VRING_NUM, { 0, 3 } },
		{ "num 100", VU_SET_VRING_NUM, { 0, 100 } },
		{ "num 65535", VU_SET_VRING_NUM, { 0, 65535 } },
		{ "num 2^20", VU_SET_VRING_NUM, { 0, 1u << 20 } },
		{ "base 70000", VU_SET_VRING_BASE, { 0, 70000 } },
	};
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		o = must_refuse(o, bad[i].what,
				ack(hf.sock, bad[i].req, &bad[i].st, 8, NULL, 0), vring_setup);
	return o;
}

/* Addresses no ring of 16 can live at: refused at once, or when the ring
 * would go live (kick); never touched. */
static enum outcome vring_addrs(enum outcome o)
{
	uint64_t S = hf.ram_size, q0 = 0;
	const struct {
		const char *what;
		struct vu_vring_addr a;
	} bad[] = {
		{ "ring below RAM", { 0, 0, 0, 0, 0, ~0ULL } },
		{ "desc past RAM", { 0, 0, RAM_GPA + S, RAM_GPA, RAM_GPA, ~0ULL } },
		{ "unaligned", { 0, 0, RAM_GPA + 3, RAM_GPA + 0x2000, RAM_GPA + 0x1000, ~0ULL } },
		{ "straddles the end", { 0, 0, RAM_GPA + S - 16, RAM_GPA + 0x2000, RAM_GPA + 0x1000, ~0ULL } },
		{ "desc wraps 2^64", { 0, 0, ~0ULL - 100, RAM_GPA + 0x2000, RAM_GPA + 0x1000, ~0ULL } },
		{ "queue 99", { 99, 0, RAM_GPA, RAM_GPA, RAM_GPA, ~0ULL } },
	};
	int efd = eventfd(0, EFD_CLOEXEC);
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		long st = ack(hf.sock, VU_SET_VRING_ADDR, &bad[i].a, sizeof(bad[i].a), NULL, 0);

		if (!st)
			st = ack(hf.sock, VU_SET_VRING_KICK, &q0, 8, &efd, 1);
		o = must_refuse(o, bad[i].what, st, vring_setup);
	}
	close(efd);
	return o;
}

/* Kick and call words: queue 77, reserved bits, a call without its fd;
 * the backend channel without its fd. */
static enum outcome vring_fds(enum outcome o)
{
	uint64_t q77 = 77, q0 = 0, reserved = 0xffff;
	int efd = eventfd(0, EFD_CLOEXEC);

	o = must_refuse(o, "kick on queue 77",
			ack(hf.sock, VU_SET_VRING_KICK, &q77, 8, &efd, 1), vring_setup);
	o = must_refuse(o, "call without fd",
			ack(hf.sock, VU_SET_VRING_CALL, &q0, 8, NULL, 0), vring_setup);
	o = must_refuse(o, "call with reserved bits",
			ack(hf.sock, VU_SET_VRING_CALL, &reserved, 8, NULL, 0), vring_setup);
	o = must_refuse(o, "backend channel without fd",
			ack(hf.sock, VU_SET_BACKEND_REQ_FD, NULL, 0, NULL, 0), vring_setup);
	close(efd);
	return o;
}

static enum outcome c_bad_vrings(void)
{
	if (vring_setup())
		return O_FAILED;
	return vring_fds(vring_addrs(vring_states(O_REFUSED)));
}

/* GET_CONFIG as an ack() status: its refusal is an empty reply. */
static long get_config(uint32_t offset, uint32_t size, uint32_t payload)
{
	struct vu_config c = { .offset = offset, .size = size };
	struct vu_msg r;
	int n;

	if (send_raw(hf.sock, VU_GET_CONFIG, 1, VU_CONFIG_HDR + payload, &c,
		     VU_CONFIG_HDR + payload, NULL, 0))
		return -EPIPE;
	n = recv_reply(hf.sock, &r, 3000);
	if (n < 0)
		return n;
	if (r.hdr.request != VU_GET_CONFIG)
		return -EPROTO;
	return n ? 0 : 1;
}

static enum outcome c_config(void)
{
	struct vu_config c = { .offset = 0xfffffff0, .size = 16 };
	enum outcome o;

	o = must_refuse(O_REFUSED, "GET_CONFIG of 1000 bytes in 16", get_config(0, 1000, 16), NULL);
	o = must_refuse(o, "GET_CONFIG at 2^32-16", get_config(0xfffffff0, 32, 32), NULL);
	return must_refuse(o, "SET_CONFIG at 2^32-16",
			   ack(hf.sock, VU_SET_CONFIG, &c, VU_CONFIG_HDR + 16, NULL, 0), NULL);
}

/* A page named beside bad ones in a refused request keeps its pattern. */
static bool page_kept(uint64_t off)
{
	if (hf.file[off] == pattern(off))
		return true;
	printf("  page %#llx of a refused request was discarded\n", (unsigned long long)off);
	return false;
}

/* Inflate a buffer of PFNs; the device must refuse each request with a
 * PFN outside RAM, discarding none of its pages. */
static void pfn_attack(const uint32_t *pfns, unsigned n)
{
	uint32_t *arr = (uint32_t *)(hf.file + BUF_GPA);

	memcpy(arr, pfns, n * 4);
	post(&hf, 0, fe_gpa(&hf, BUF_GPA), n * 4, 0);
	kick(&hf, 0);
	/* refused requests are still used (or the device is broken) */
	wait_used(&hf, 0, 2000);
}

static enum outcome c_pfns_outside(void)
{
	uint64_t first = RAM_GPA >> 12, end = (RAM_GPA + hf.ram_size) >> 12;
	uint64_t keep = DATA_GPA + 10 * PAGE;	/* in RAM, listed with bad PFNs */
	uint32_t below[] = { first - 1, keep >> 12 };		/* the "kernel image" */
	uint32_t above[] = { end, end + 1, end + 255 };	/* the unshared tail */
	uint32_t huge[] = { 0xffffffff, 0x80000000 };
	uint32_t zero[] = { 0 };

	if (hostile_up())
		return O_FAILED;
	pfn_attack(below, 2);
	pfn_attack(above, 3);
	pfn_attack(huge, 2);
	pfn_attack(zero, 1);
	/* a request with any bad PFN is refused whole: its good page stays */
	return page_kept(keep) ? O_REFUSED : O_FAILED;
}

static enum outcome c_desc_outside(void)
{
	if (hostile_up())
		return O_FAILED;
	post(&hf, 0, RAM_GPA + hf.ram_size, 64, 0);		/* buffer past RAM */
	kick(&hf, 0);
	post(&hf, 1, 0, 4096, 0);				/* buffer in the image */
	kick(&hf, 1);
	post(&hf, 0, RAM_GPA + hf.ram_size - 8, 64, 0);	/* straddles the end */
	kick(&hf, 0);
	post(&hf, 0, BUF_GPA, 0, 0);				/* zero length */
	kick(&hf, 0);
	usleep(200000);
	return peer_closed(hf.sock, 100) ? O_CLOSED : O_BROKEN;
}

static enum outcome c_desc_loop(void)
{
	struct desc *d = (struct desc *)(hf.file + RING(0));
	uint16_t *avail = (uint16_t *)(hf.file + RING(0) + 0x1000);
	unsigned i;

	if (hostile_up())
		return O_FAILED;
	for (i = 0; i < QSIZE; i++)	/* every descriptor chains to the next, wrapping */
		d[i] = (struct desc){ BUF_GPA, 4, 1, (i + 1) % QSIZE };
	avail[2] = 0;
	avail[1] = 1;
	hf.avail_idx[0] = 1;
	kick(&hf, 0);
	usleep(200000);
	/* indirect descriptors (not negotiated) on the deflate queue */
	d = (struct desc *)(hf.file + RING(1));
	avail = (uint16_t *)(hf.file + RING(1) + 0x1000);
	d[0] = (struct desc){ BUF_GPA, 16, 4, 0 };
	avail[2] = 0;
	avail[1] = 1;
	kick(&hf, 1);
	usleep(200000);
	return peer_closed(hf.sock, 100) ? O_CLOSED : O_BROKEN;
}

static enum outcome c_absurd_indexes(void)
{
	uint16_t *avail = (uint16_t *)(hf.file + RING(0) + 0x1000);

	if (hostile_up())
		return O_FAILED;
	avail[2] = 60000;	/* head beyond the table */
	avail[1] = 1;
	kick(&hf, 0);
	usleep(100000);
	avail = (uint16_t *)(hf.file + RING(1) + 0x1000);
	avail[1] = 40000;	/* idx far beyond num */
	kick(&hf, 1);
	usleep(200000);
	return peer_closed(hf.sock, 100) ? O_CLOSED : O_BROKEN;
}

/* The frontend takes its RAM away under a live ring, truncating the file
 * to keep bytes: on a separate memfd, so the canary file stays whole. */
static enum outcome truncate_under(uint64_t keep)
{
	int saved_fd = hf.memfd;
	uint8_t *saved_file = hf.file, *m;
	enum outcome o = O_FAILED;

	hf.memfd = memfd_create("vb-hostile-shrinking", MFD_CLOEXEC);
	if (hf.memfd < 0 || ftruncate(hf.memfd, hf.file_size))
		goto out;
	m = mmap(NULL, hf.file_size, PROT_READ | PROT_WRITE, MAP_SHARED, hf.memfd, 0);
	if (m == MAP_FAILED)
		goto out;
	hf.file = m;
	if (hostile_up())
		goto unmap;
	*(uint32_t *)(hf.file + BUF_GPA) = DATA_GPA >> 12;
	post(&hf, 0, BUF_GPA, 4, 0);
	if (ftruncate(hf.memfd, keep))
		goto unmap;
	/* the kicks make the daemon touch what is gone */
	kick(&hf, 0);
	kick(&hf, 1);
	usleep(300000);
	o = peer_closed(hf.sock, 100) ? O_CLOSED : O_BROKEN;
unmap:
	munmap(m, hf.file_size);
out:
	if (hf.memfd >= 0)
		close(hf.memfd);
	hf.memfd = saved_fd;
	hf.file = saved_file;
	return o;
}

/* Once keeping the rings but not the posted PFN array (the daemon faults
 * reading the request), once keeping nothing (it faults reading a ring). */
static enum outcome c_truncate_ram(void)
{
	enum outcome o = truncate_under(BUF_GPA);

	if (reconnect())
		return O_FAILED;
	return worse(o, truncate_under(0));
}

static enum outcome c_flood_messages(void)
{
	unsigned i;

	/* 20000 refused messages as fast as the socket takes them */
	for (i = 0; i < 20000; i++) {
		uint64_t v = 999;

		if (send_raw(hf.sock, VU_SET_VRING_CALL, 1, 8, &v, 8, NULL, 0))
			return O_CLOSED;
	}
	return O_REFUSED;
}

static enum outcome c_flood_bad_requests(void)
{
	uint32_t bad = 0xffffffff;
	unsigned i;

	if (hostile_up())
		return O_FAILED;
	/* 5000 bad inflate requests, each posted and kicked */
	for (i = 0; i < 5000; i++) {
		uint32_t *arr = (uint32_t *)(hf.file + BUF_GPA);

		arr[0] = bad;
		post(&hf, 0, BUF_GPA, 4, 0);
		kick(&hf, 0);
		if (wait_used(&hf, 0, 2000))
			break;		/* device broken: fine */
	}
	return peer_closed(hf.sock, 100) ? O_CLOSED : O_REFUSED;
}

static enum outcome c_disconnect_mid_message(void)
{
	struct vu_mem_table t = { .nregions = 1 };

	t.r[0] = (struct vu_mem_region){ RAM_GPA, hf.ram_size, RAM_GPA, RAM_GPA };
	/* header announces the table, half of it arrives with the fd */
	send_raw(hf.sock, VU_SET_MEM_TABLE, 1 | VU_FLAG_NEED_REPLY, 8 + 32, &t, 20, &hf.memfd, 1);
	return O_SURVIVED;
}

static enum outcome c_disconnect_in_flight(void)
{
	uint32_t *arr = (uint32_t *)(hf.file + BUF_GPA);
	unsigned i;

	if (hostile_up())
		return O_FAILED;
	for (i = 0; i < 256; i++)
		arr[i] = (DATA_GPA >> 12) + i;
	post(&hf, 0, BUF_GPA, 1024, 0);
	kick(&hf, 0);
	return O_SURVIVED;	/* close before the acknowledgement */
}

static enum outcome c_reconnect_storm(void)
{
	unsigned i;

	for (i = 0; i < 200; i++) {
		int s = connect_sock();

		if (s >= 0)
			close(s);
	}
	return O_SURVIVED;
}


/* VB_F_PAGE_RANGES: ranges crossing RAM's edges, wrapping, empty, reserved
 * bits set; each request also names a good range that must stay. */
static enum outcome c_ranges_outside(void)
{
	uint64_t first = RAM_GPA >> 12, end = (RAM_GPA + hf.ram_size) >> 12;
	uint64_t keep = DATA_GPA + 20 * PAGE;
	struct vb_range bad[] = {
		{ end - 1, 2, 0 },			/* crosses the end */
		{ first - 1, 2, 0 },			/* starts in the image */
		{ ~0ULL - 1, 0x80000000u, 0 },		/* pfn + npages wraps */
		{ 1ULL << 52, 1, 0 },			/* address overflows */
		{ first + 40, 0, 0 },			/* empty */
		{ first + 40, 1, 7 },			/* reserved bits */
		{ first, 0xffffffffu, 0 },		/* far past the end */
	};
	struct vb_range *buf = (struct vb_range *)(hf.file + BUF_GPA);
	unsigned i;

	if (fe_up(&hf, BIT(VB_F_MUST_TELL_HOST) | BIT(32) | BIT(VB_F_PAGE_RANGES)))
		return O_FAILED;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf[0] = (struct vb_range){ keep >> 12, 1, 0 };
		buf[1] = bad[i];
		post(&hf, i & 1, BUF_GPA, 2 * sizeof(*buf), 0);
		kick(&hf, i & 1);
		if (wait_used(&hf, i & 1, 2000))
			break;		/* broken device: stops using buffers */
	}
	if (!page_kept(keep))
		return O_FAILED;
	return peer_closed(hf.sock, 100) ? O_CLOSED : O_REFUSED;
}

/* PAGE_REPORTING: reported blocks outside RAM or straddling its end. */
static enum outcome c_reporting_outside(void)
{
	if (fe_up(&hf, BIT(VB_F_MUST_TELL_HOST) | BIT(32) | BIT(VB_F_PAGE_REPORTING)))
		return O_FAILED;
	post(&hf, 2, RAM_GPA + hf.ram_size - PAGE, 4 * PAGE, 2);	/* straddles */
	kick(&hf, 2);
	wait_used(&hf, 2, 1000);
	post(&hf, 2, 0, 64 * PAGE, 2);				/* the image */
	kick(&hf, 2);
	wait_used(&hf, 2, 1000);
	post(&hf, 2, RAM_GPA + hf.ram_size + TAIL / 2, PAGE, 2);	/* the tail */
	kick(&hf, 2);
	usleep(200000);
	return peer_closed(hf.sock, 100) ? O_CLOSED : O_BROKEN;
}

/* A valid inflate of the RAM page at file offset off: the device must use
 * it (and discard the page) within 5 s. */
static int inflate_one(uint64_t off)
{
	*(uint32_t *)(hf.file + BUF_GPA) = fe_gpa(&hf, off) >> 12;
	post(&hf, 0, fe_gpa(&hf, BUF_GPA), 4, 0);
	kick(&hf, 0);
	return wait_used(&hf, 0, 5000);
}

static bool page_is_zero(uint64_t off)
{
	uint64_t i;

	for (i = 0; i < PAGE; i++)
		if (hf.file[off + i])
			return false;
	return true;
}

/*
 * A zero-length buffer breaks the device; the frontend then sends the table
 * and rings again, as UML does on a module reload: that must be accepted
 * and the device must serve again.  Then a writable descriptor before a
 * readable one, which a driver-to-device request never carries.
 */
static enum outcome c_zero_length_reinit(void)
{
	struct desc order[2] = { { BUF_GPA, 8, 2, 0 }, { BUF_GPA + 8, 8, 0, 0 } };
	uint64_t features = BIT(VB_F_MUST_TELL_HOST) | BIT(32);

	if (hostile_up())
		return O_FAILED;
	post(&hf, 0, BUF_GPA, 0, 0);
	kick(&hf, 0);
	usleep(200000);
	if (fe_mem_table(&hf) || fe_rings(&hf, features) || inflate_one(DATA_GPA)) {
		printf("  no service after a re-initialisation of a broken device\n");
		return O_FAILED;
	}
	post_chain(&hf, 0, order, 2);
	kick(&hf, 0);
	usleep(200000);
	return peer_closed(hf.sock, 100) ? O_CLOSED : O_BROKEN;
}

/*
 * Guest address, user address and file offset all differ (QEMU-like; UML
 * has them equal): a valid inflate must punch its own page of the file,
 * and a PFN that is RAM only when misread as a file offset must be refused
 * with its request.  check_outside() catches a ring or hole misplaced.
 */
static enum outcome c_offset_region(void)
{
	uint64_t page = DATA_GPA + 30 * PAGE, keep = DATA_GPA + 31 * PAGE;
	uint32_t misread[2];

	hf.gpa = 0x40000000;
	hf.uva = 0x10000000000ULL;
	if (hostile_up() || inflate_one(page))
		return O_FAILED;
	if (!page_is_zero(page)) {
		printf("  inflated page at file offset %#llx not discarded\n",
		       (unsigned long long)page);
		return O_FAILED;
	}
	misread[0] = fe_gpa(&hf, keep) >> 12;
	misread[1] = keep >> 12;
	pfn_attack(misread, 2);
	return page_kept(keep) ? O_REFUSED : O_FAILED;
}

/* Send header h n times without reading a reply; stop early when the
 * daemon hangs up or has taken nothing for 2 s. */
static void send_unread(const struct vu_hdr *h, unsigned n)
{
	struct pollfd p = { hf.sock, POLLOUT, 0 };

	while (n) {
		if (send(hf.sock, h, sizeof(*h), MSG_NOSIGNAL | MSG_DONTWAIT) == sizeof(*h))
			n--;
		else if (errno != EAGAIN || poll(&p, 1, 2000) <= 0)
			return;
	}
}

/* Requests whose replies are never read: rather than block on a full
 * socket while its other guests wait, the daemon drops this frontend. */
static enum outcome c_flood_unread_replies(void)
{
	struct vu_hdr get = { VU_GET_FEATURES, 1, 0 };
	struct vu_hdr unknown = { 0x4444, 1 | VU_FLAG_NEED_REPLY, 0 };

	send_unread(&get, 200000);
	send_unread(&unknown, 10000);
	return peer_closed(hf.sock, 2000) ? O_CLOSED : O_FAILED;
}

/* 100 000 kicks with nothing posted (pointless, not wrong): the queue must
 * still serve a valid request after them. */
static enum outcome c_flood_kicks(void)
{
	unsigned i;

	if (hostile_up())
		return O_FAILED;
	for (i = 0; i < 100000; i++)
		kick(&hf, 0);
	return inflate_one(DATA_GPA) ? O_FAILED : O_SURVIVED;
}

struct hcase {
	const char *name;
	enum outcome (*fn)(void);
};

static const struct hcase cases[] = {
	{ "short-header", c_short_header },
	{ "oversize-payload", c_oversize },
	{ "unknown-requests", c_unknown_requests },
	{ "bad-flags", c_bad_flags },
	{ "wrong-sizes", c_wrong_sizes },
	{ "unsupported-features", c_bad_features },
	{ "bad-mem-tables", c_mem_tables },
	{ "wrong-fd-counts", c_wrong_fd_counts },
	{ "bad-vrings", c_bad_vrings },
	{ "bad-config", c_config },
	{ "pfns-outside-ram", c_pfns_outside },
	{ "ranges-outside-ram", c_ranges_outside },
	{ "reporting-outside-ram", c_reporting_outside },
	{ "offset-region", c_offset_region },
	{ "descriptors-outside-ram", c_desc_outside },
	{ "descriptor-loop", c_desc_loop },
	{ "absurd-indexes", c_absurd_indexes },
	{ "zero-length-reinit", c_zero_length_reinit },
	{ "ram-truncated", c_truncate_ram },
	{ "flood-messages", c_flood_messages },
	{ "flood-unread-replies", c_flood_unread_replies },
	{ "flood-bad-requests", c_flood_bad_requests },
	{ "flood-kicks", c_flood_kicks },
	{ "disconnect-mid-message", c_disconnect_mid_message },
	{ "disconnect-in-flight", c_disconnect_in_flight },
	{ "reconnect-storm", c_reconnect_storm },
};
#define NCASES ARRAY_SIZE(cases)

/* Bytes outside the shared region must keep their pattern and blocks. */
static int check_outside(void)
{
	uint64_t off, end = RAM_GPA + hf.ram_size;
	struct stat st;
	unsigned bad = 0;

	for (off = 0; off < hf.file_size; off += PAGE) {
		uint64_t i;

		if (off >= RAM_GPA && off < end)
			continue;
		for (i = 0; i < PAGE; i++)
			if (hf.file[off + i] != pattern(off)) {
				if (!bad++)
					printf("outside RAM changed at file offset %#llx\n",
					       (unsigned long long)(off + i));
				break;
			}
	}
	if (fstat(hf.memfd, &st))
		return -1;
	/* everything outside RAM is allocated: at least that many blocks */
	if ((uint64_t)st.st_blocks * 512 < RAM_GPA + TAIL) {
		printf("RAM file holds %llu bytes, less than the %llu outside RAM\n",
		       (unsigned long long)st.st_blocks * 512,
		       (unsigned long long)(RAM_GPA + TAIL));
		bad++;
	}
	return bad ? -1 : 0;
}

static int run_hostile(int argc, char **argv)
{
	const char *only = NULL;
	unsigned i, ran = 0, failed = 0, counts[5] = { 0 };
	char tmpl[] = "/tmp/vb-hostile.XXXXXX";

	for (i = 0; i < (unsigned)argc; i++) {
		if (!strcmp(argv[i], "--case") && i + 1 < (unsigned)argc) {
			only = argv[++i];
		} else if (!strcmp(argv[i], "--list")) {
			for (i = 0; i < NCASES; i++)
				printf("%s\n", cases[i].name);
			return 0;
		} else if (!strcmp(argv[i], "-v")) {
			verbose = 1;
		} else {
			die("hostile: unknown option %s", argv[i]);
		}
	}
	wrong_fd = mkstemp(tmpl);
	if (wrong_fd < 0)
		die("mkstemp: %s", strerror(errno));
	unlink(tmpl);
	if (write(wrong_fd, "x", 1) != 1)
		die("write");
	fe_init(&hf);
	fe_ram(&hf, 16 << 20);
	for (i = 0; i < NCASES; i++) {
		enum outcome o;

		if (only && strcmp(only, cases[i].name))
			continue;
		if (fe_connect(&hf)) {
			printf("case %s: daemon not answering before the case\n", cases[i].name);
			return 1;
		}
		printf("case %s: start\n", cases[i].name);
		fflush(stdout);
		o = cases[i].fn();
		fe_close(&hf);
		/* the daemon must still serve a new frontend */
		if (fe_connect(&hf)) {
			printf("case %s: %s, then the daemon stopped answering\n",
			       cases[i].name, outcome_name[o]);
			return 1;
		}
		fe_close(&hf);
		printf("case %s: %s\n", cases[i].name, outcome_name[o]);
		fflush(stdout);
		counts[o]++;
		ran++;
		if (o == O_FAILED)
			failed++;
	}
	if (check_outside()) {
		printf("hostile: memory outside the guest's RAM was touched\n");
		return 1;
	}
	printf("hostile: %u cases, %u refused, %u closed, %u broken, %u survived, %u failed; "
	       "outside RAM intact\n", ran, counts[O_REFUSED], counts[O_CLOSED],
	       counts[O_BROKEN], counts[O_SURVIVED], failed);
	return failed || !ran ? 1 : 0;
}


/* ---- a backend that stops acknowledging --------------------------------- */

/*
 * vb-hostile noack SOCKET [--pages N] [--ack K] [--status FILE]
 * A minimal balloon backend for one UML guest: it answers every vhost-user
 * message correctly (so UML's synchronous frontend never blocks), offers
 * MUST_TELL_HOST + DEFLATE_ON_OOM + STATS_VQ, publishes num_pages = N from
 * the start, uses (acknowledges) the first K buffers the driver queues and
 * then never uses another one.  It discards nothing.
 */
struct nb_ring {
	uint16_t num, last;
	uint64_t desc, avail, used;	/* uaddr */
	int kick, call;
};

static struct {
	struct nb_ring q[8];
	struct { uint64_t uaddr, size; uint8_t *host; } r[8];
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
	FILE *fp;
	char tmp[4200];

	if (!nb.status)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", nb.status);
	fp = fopen(tmp, "w");
	if (!fp)
		return;
	fprintf(fp, "used=%lu\nignored=%lu\n", nb.used, nb.ignored);
	fclose(fp);
	rename(tmp, nb.status);
}

static void nb_kick(unsigned qi)
{
	struct nb_ring *q = &nb.q[qi];
	uint16_t *avail = nb_uva(q->avail, 4 + 2 * q->num);
	uint8_t *used = nb_uva(q->used, 4 + 8 * q->num);
	uint64_t v;

	if (read(q->kick, &v, 8) < 0 || !avail || !used || !q->num)
		return;
	while (q->last != __atomic_load_n(&avail[1], __ATOMIC_ACQUIRE)) {
		uint16_t head = avail[2 + q->last % q->num];
		uint16_t uidx;
		uint32_t e[2] = { head, 0 };

		if (nb.ack_left <= 0) {
			nb.ignored++;
			q->last++;
			continue;
		}
		nb.ack_left--;
		uidx = *(uint16_t *)(used + 2);
		memcpy(used + 4 + 8 * (uidx % q->num), e, 8);
		__atomic_store_n((uint16_t *)(used + 2), uidx + 1, __ATOMIC_RELEASE);
		q->last++;
		nb.used++;
		v = 1;
		if (q->call >= 0 && write(q->call, &v, 8) < 0)
			break;	/* the guest is gone */
	}
	nb_status();
}

static int nb_recv(int s, struct vu_msg *m, int *fds, unsigned *nfds)
{
	char cbuf[CMSG_SPACE(8 * sizeof(int))];
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
	m->hdr.flags = 0x5;
	m->hdr.size = size;
	if (write(s, m, sizeof(m->hdr) + size) < 0)
		die("noack: reply: %s", strerror(errno));
}

static void nb_message(int s, struct vu_msg *m, int *fds, unsigned nfds)
{
	bool need = m->hdr.flags & VU_FLAG_NEED_REPLY;
	unsigned i, qi = m->u64 & 0xff;
	struct vb_config cfg = { 0 };

	switch (m->hdr.request) {
	case VU_GET_FEATURES:
		m->u64 = BIT(32) | BIT(VU_F_PROTOCOL_FEATURES) | BIT(VB_F_MUST_TELL_HOST) |
			 BIT(VB_F_DEFLATE_ON_OOM) | BIT(VB_F_STATS_VQ);
		nb_reply(s, m, 8);
		return;
	case VU_GET_PROTOCOL_FEATURES:
		/* UML needs the backend channel: its IRQ is the device's */
		m->u64 = BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_CONFIG) | BIT(VU_PF_BACKEND_REQ);
		nb_reply(s, m, 8);
		return;
	case VU_SET_BACKEND_REQ_FD:
		if (nfds) {
			if (nb.req_fd >= 0)
				close(nb.req_fd);
			nb.req_fd = fds[0];	/* kept open, never written */
			nfds = 0;
		}
		break;
	case VU_GET_CONFIG:
		cfg.num_pages = nb.pages;
		memset(m->config.payload, 0, m->config.size);
		if (m->config.offset < sizeof(cfg))
			memcpy(m->config.payload, (uint8_t *)&cfg + m->config.offset,
			       m->config.offset + m->config.size <= sizeof(cfg) ?
			       m->config.size : sizeof(cfg) - m->config.offset);
		nb_reply(s, m, VU_CONFIG_HDR + m->config.size);
		return;
	case VU_SET_MEM_TABLE:
		for (i = 0; i < nb.nr; i++)
			munmap(nb.r[i].host, nb.r[i].size);
		nb.nr = 0;
		for (i = 0; i < m->mem.nregions && i < nfds && i < 8; i++) {
			struct vu_mem_region *r = &m->mem.r[i];
			void *p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED,
				       fds[i], r->mmap_offset);

			if (p == MAP_FAILED)
				continue;
			nb.r[nb.nr].uaddr = r->uaddr;
			nb.r[nb.nr].size = r->size;
			nb.r[nb.nr].host = p;
			nb.nr++;
		}
		break;
	case VU_SET_VRING_NUM:
		if (m->state.index < 8)
			nb.q[m->state.index].num = m->state.num;
		break;
	case VU_SET_VRING_BASE:
		if (m->state.index < 8)
			nb.q[m->state.index].last = m->state.num;
		break;
	case VU_SET_VRING_ADDR:
		if (m->addr.index < 8) {
			nb.q[m->addr.index].desc = m->addr.desc;
			nb.q[m->addr.index].avail = m->addr.avail;
			nb.q[m->addr.index].used = m->addr.used;
		}
		break;
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
		if (qi < 8 && nfds) {
			int *slot = m->hdr.request == VU_SET_VRING_KICK ? &nb.q[qi].kick : &nb.q[qi].call;

			if (*slot >= 0)
				close(*slot);
			*slot = fds[0];
			nfds = 0;
		}
		break;
	}
	for (i = 0; i < nfds; i++)	/* mappings outlive their fds */
		close(fds[i]);
	if (need) {
		m->u64 = 0;
		nb_reply(s, m, 8);
	}
}

static int run_noack(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l, s, i;

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
	for (i = 0; i < 8; i++)
		nb.q[i].kick = nb.q[i].call = -1;
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	unlink(sock_path);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1))
		die("noack: listen on %s: %s", sock_path, strerror(errno));
	nb_status();
	s = accept(l, NULL, NULL);
	if (s < 0)
		die("noack: accept: %s", strerror(errno));
	for (;;) {
		struct pollfd p[9];
		unsigned n = 0, map[9];
		int k;

		p[n].fd = s;
		p[n].events = POLLIN;
		map[n++] = 99;
		for (k = 0; k < 8; k++)
			if (nb.q[k].kick >= 0) {
				p[n].fd = nb.q[k].kick;
				p[n].events = POLLIN;
				map[n++] = k;
			}
		if (poll(p, n, -1) < 0)
			continue;
		for (k = 1; k < (int)n; k++)
			if (p[k].revents & POLLIN)
				nb_kick(map[k]);
		if (p[0].revents) {
			struct vu_msg m;
			int fds[8];
			unsigned nfds;

			if (nb_recv(s, &m, fds, &nfds))
				break;
			nb_message(s, &m, fds, nfds);
		}
	}
	printf("noack: frontend gone; %lu buffers used, %lu never acknowledged\n",
	       nb.used, nb.ignored);
	unlink(sock_path);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3) {
		fprintf(stderr, "usage: vb-hostile good|hostile|noack SOCKET [options]\n");
		return 2;
	}
	sock_path = argv[2];
	if (!strcmp(argv[1], "good"))
		return run_good(argc - 3, argv + 3);
	if (!strcmp(argv[1], "hostile"))
		return run_hostile(argc - 3, argv + 3);
	if (!strcmp(argv[1], "noack"))
		return run_noack(argc - 3, argv + 3);
	fprintf(stderr, "vb-hostile: unknown mode %s\n", argv[1]);
	return 2;
}
