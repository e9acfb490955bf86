/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vu_frontend.h - the frontend side of vhost-user for the test tools: a
 * client socket, raw and NEED_REPLY messages, and a guest whose RAM is a
 * memfd laid out as UML's RAM file (guest physical address == file offset;
 * an unshared "kernel image" below the region and a tail above it), with
 * split rings it fills by hand.  Used by the good and the hostile modes of
 * vb-hostile; the wire format is vhost_user_wire.h, the daemon's own.
 */
#ifndef VB_VU_FRONTEND_H
#define VB_VU_FRONTEND_H

#include <stdbool.h>
#include <stdint.h>

#include "vballoon_abi.h"
#include "vhost_user_wire.h"
#include "virtq.h"

#define PAGE		4096ULL
#define BIT(n)		(1ULL << (n))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define QSIZE		64
#define NQ		3	/* inflate, deflate, reporting (when negotiated) */
#define Q_INFLATE	0
#define Q_DEFLATE	1
#define Q_REPORTING	2	/* its index when STATS_VQ and FREE_PAGE_HINT are off */

/* Guest RAM layout: file offsets, equal to guest addresses as in UML. */
#define RAM_GPA		0x100000ULL
#define RING(q)		(RAM_GPA + (q) * 0x4000ULL)
#define RING_AVAIL(q)	(RING(q) + 0x1000)
#define RING_USED(q)	(RING(q) + 0x2000)
#define BUF_GPA		(RAM_GPA + 0x10000ULL)		/* request buffers */
#define BUF_SIZE	0x10000ULL
#define DATA_GPA	(RAM_GPA + 0x20000ULL)		/* balloonable pages */
#define TAIL		0x100000ULL			/* unshared bytes after RAM */

/* Features of a plain PFN-array balloon guest. */
#define FE_FEATURES	(BIT(VB_F_MUST_TELL_HOST) | BIT(VIRTIO_F_VERSION_1))

/* How long a well-behaved daemon may take to answer: generous, because
 * the machine is shared; only a hang or a wrong answer runs into it. */
#define REPLY_TIMEOUT_MS 30000

struct fe {
	int sock;
	int req[2];			/* backend request channel: [0] ours */
	int kick[NQ], call[NQ][2];
	int memfd;
	uint8_t *file;			/* the whole RAM file */
	uint64_t ram_size;		/* shared bytes from RAM_GPA */
	uint64_t gpa, uva;		/* guest and user address of RAM_GPA */
	uint64_t file_size;
	uint16_t avail_idx[NQ];
};

extern const char *sock_path;

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
uint64_t now_ms(void);
/* The byte every page at file offset off holds while the guest owns it. */
uint8_t pattern(uint64_t off);
void close_fd(int *fd);
/* Replace the file at path (NULL: none) with the text, atomically: a test
 * polling it never reads half of it. */
void status_write(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- messages ---- */
int connect_sock(void);
/* Send header + payload (sizes as given, even lying ones) + fds: 0/-errno. */
int send_raw(int sock, uint32_t req, uint32_t flags, uint32_t hdr_size,
	     const void *p, size_t len, const int *fds, unsigned nfds);
/* One reply: its payload size; -EPIPE on hang-up, -ETIMEDOUT, -EPROTO when
 * its flags are not VU_REPLY_FLAGS or it is oversized (UML fails then). */
int recv_reply(int sock, struct vu_msg *m, int timeout_ms);
/* A NEED_REPLY message: 0 accepted, 1 refused (error status), or -errno
 * (-EPIPE hang-up, -ETIMEDOUT silence, -EPROTO malformed reply). */
long ack(int sock, uint32_t req, const void *p, uint32_t size, const int *fds,
	 unsigned nfds);
long get_u64(int sock, uint32_t req, uint64_t *out);
/* The daemon hung up within timeout_ms (anything it sends is drained). */
bool peer_closed(int sock, int timeout_ms);

/* ---- a guest ---- */
void fe_init(struct fe *f);
void fe_ram(struct fe *f, uint64_t ram_size);
void fe_close(struct fe *f);
int fe_connect(struct fe *f);
int fe_mem_table(struct fe *f);
int fe_rings(struct fe *f, uint64_t features);
int fe_up(struct fe *f, uint64_t features);
/* Addresses of the byte at file offset off, as the daemon sees them. */
uint64_t fe_gpa(const struct fe *f, uint64_t off);
void kick(struct fe *f, unsigned q);
/* Post a chain (addr, len, flags given; NEXT and next filled in). */
void post_chain(struct fe *f, unsigned q, const struct virtq_desc *c, unsigned n);
void post(struct fe *f, unsigned q, uint64_t gpa, uint32_t len, uint16_t flags);
/* Wait until the device used everything posted on q: 0, -ETIMEDOUT, -EPIPE. */
int wait_used(struct fe *f, unsigned q, int timeout_ms);

#endif /* VB_VU_FRONTEND_H */
