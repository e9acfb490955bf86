// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * good.c - vb-hostile good: a well-behaved balloon guest.  UML's handshake,
 * then it follows the target (CONFIG_CHANGE -> GET_CONFIG -> inflate or
 * deflate PFN arrays, waits for every acknowledgement, SET_CONFIG actual).
 * All of its RAM holds a pattern; at exit every page outside the balloon
 * must still hold it.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vb-hostile.h"
#include "vu_frontend.h"

#define CFG_SIZE	((uint32_t)sizeof(struct vb_config))

struct good {
	struct fe f;
	uint32_t *balloon;		/* pfns in the balloon, a stack */
	uint32_t nballoon, npages;
	const char *status;
};

static uint32_t get_num_pages(struct fe *f)
{
	struct vu_msg r;
	struct vu_config c = { .offset = 0, .size = CFG_SIZE };
	uint32_t v;

	if (send_raw(f->sock, VU_GET_CONFIG, VU_FLAG_VERSION, VU_CONFIG_HDR + CFG_SIZE, &c,
		     VU_CONFIG_HDR + CFG_SIZE, NULL, 0) ||
	    recv_reply(f->sock, &r, REPLY_TIMEOUT_MS) != VU_CONFIG_HDR + CFG_SIZE)
		die("good: GET_CONFIG failed");
	memcpy(&v, r.config.payload, 4);
	return v;
}

static void set_actual(struct fe *f, uint32_t pages)
{
	struct vu_config c = { .offset = offsetof(struct vb_config, actual), .size = 4 };

	memcpy(c.payload, &pages, 4);
	if (ack(f->sock, VU_SET_CONFIG, &c, VU_CONFIG_HDR + 4, NULL, 0))
		die("good: SET_CONFIG actual refused");
}

/* Move up to 256 pages into (Q_INFLATE) or out of (Q_DEFLATE) the balloon. */
static void good_batch(struct good *g, unsigned q, uint32_t n)
{
	uint32_t *arr = (uint32_t *)(g->f.file + BUF_GPA), i;

	if (n > 256)
		n = 256;
	for (i = 0; i < n; i++) {
		if (q == Q_INFLATE) {
			/* balloon pages from the top of RAM down */
			uint64_t gpa = RAM_GPA + g->f.ram_size - (uint64_t)(g->nballoon + i + 1) * PAGE;

			arr[i] = gpa >> VB_PFN_SHIFT;
		} else {
			arr[i] = g->balloon[g->nballoon - 1 - i];
		}
	}
	post(&g->f, q, BUF_GPA, n * 4, 0);
	kick(&g->f, q);
	if (wait_used(&g->f, q, REPLY_TIMEOUT_MS))
		die("good: the device did not acknowledge a %s", q ? "deflate" : "inflate");
	for (i = 0; i < n; i++) {
		if (q == Q_INFLATE) {
			g->balloon[g->nballoon + i] = arr[i];
		} else {
			/* the page is ours again: its content came back as zero
			 * (discarded) and the guest rewrites it */
			uint64_t off = (uint64_t)arr[i] << VB_PFN_SHIFT;

			memset(g->f.file + off, pattern(off), PAGE);
		}
	}
	if (q == Q_INFLATE)
		g->nballoon += n;
	else
		g->nballoon -= n;
}

static void good_status(struct good *g)
{
	struct stat st;

	if (!fstat(g->f.memfd, &st))
		status_write(g->status, "actual_pages=%u\nram_blocks=%llu\n", g->nballoon,
			     (unsigned long long)st.st_blocks * 512);
}

static void good_follow(struct good *g)
{
	uint32_t target = get_num_pages(&g->f);

	if (target > g->npages)
		target = g->npages;
	while (g->nballoon < target)
		good_batch(g, Q_INFLATE, target - g->nballoon);
	while (g->nballoon > target)
		good_batch(g, Q_DEFLATE, g->nballoon - target);
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

/* One message on the backend request channel: acknowledged if asked,
 * and a config change followed. */
static void good_backend_request(struct good *g)
{
	int fd = g->f.req[0];
	struct vu_msg m;

	if (recv(fd, &m.hdr, sizeof(m.hdr), MSG_WAITALL) != sizeof(m.hdr))
		die("good: backend request channel closed");
	if (m.hdr.size > sizeof(m.raw) ||
	    (m.hdr.size && recv(fd, m.raw, m.hdr.size, MSG_WAITALL) != m.hdr.size))
		die("good: bad backend request");
	if (m.hdr.flags & VU_FLAG_NEED_REPLY) {
		struct { struct vu_hdr h; uint64_t v; } __attribute__((packed)) r =
			{ { m.hdr.request, VU_REPLY_FLAGS, 8 }, 0 };

		if (write(fd, &r, sizeof(r)) != sizeof(r))
			die("good: reply on the request channel failed");
	}
	if (m.hdr.request == VU_BACKEND_CONFIG_CHANGE_MSG)
		good_follow(g);
}

/* Follow the target until the file until exists (NULL: forever). */
static void good_serve(struct good *g, const char *until)
{
	while (!until || access(until, F_OK)) {
		struct pollfd p[2] = { { g->f.req[0], POLLIN, 0 }, { g->f.sock, POLLIN, 0 } };

		if (poll(p, 2, 100) <= 0)
			continue;
		if (p[1].revents)
			die("good: the daemon closed the connection");
		good_backend_request(g);
	}
}

int run_good(int argc, char **argv)
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
	g.balloon = calloc(g.npages, sizeof(*g.balloon));
	if (!g.balloon || fe_connect(&g.f) || fe_up(&g.f, FE_FEATURES))
		die("good: handshake with %s failed", sock_path);
	good_follow(&g);
	printf("good: up, %llu MiB, balloon %u pages\n", (unsigned long long)mib, g.nballoon);
	good_serve(&g, until);
	/* give everything back, as a driver unload does, then check */
	while (g.nballoon)
		good_batch(&g, Q_DEFLATE, g.nballoon);
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
