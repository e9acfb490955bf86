// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_vhost_user.c - the vhost-user dispatcher driven over a socketpair by
 * a fake frontend that speaks like UML's virtio_uml, plus hostile messages.
 * The device is a trivial fake that records what the transport did.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "guest_helpers.h"
#include "log.h"
#include "loop.h"
#include "vdev.h"
#include "vhost_user.h"

#define RAM_GPA		0x100000ULL
#define RAM_SIZE	(1 << 20)

/* ---- fake device -------------------------------------------------------- */

struct fake {
	uint64_t features;
	int set_features, ready[VDEV_MAX_QUEUES], kicks[VDEV_MAX_QUEUES], stops;
	uint8_t config[16];
	bool touch;		/* queue_kick reads the last byte of RAM */
	bool fail_kick;		/* queue_kick reports a corrupted ring */
};

static struct fake fk;

static uint64_t f_get_features(struct vdev *vd)
{
	/* Indirect descriptors offered by the device must be masked off. */
	return 0x7ULL | (1ULL << 28);
}

static int f_set_features(struct vdev *vd, uint64_t f)
{
	fk.features = f;
	fk.set_features++;
	return 0;
}

static uint32_t f_config_size(struct vdev *vd)
{
	return sizeof(fk.config);
}

static void f_get_config(struct vdev *vd, uint32_t off, void *buf, uint32_t len)
{
	memcpy(buf, fk.config + off, len);
}

static void f_set_config(struct vdev *vd, uint32_t off, const void *buf, uint32_t len)
{
	memcpy(fk.config + off, buf, len);
}

static unsigned f_num_queues(struct vdev *vd)
{
	return 3;
}

static int f_queue_ready(struct vdev *vd, unsigned idx)
{
	assert_non_null(vd->vq[idx]);
	assert_non_null(vd->mem);
	fk.ready[idx]++;
	return 0;
}

static int f_queue_kick(struct vdev *vd, unsigned idx)
{
	uint8_t b;

	fk.kicks[idx]++;
	if (fk.touch)
		assert_int_equal(guest_mem_read(vd->mem, RAM_GPA + RAM_SIZE - 1, &b, 1), 0);
	return fk.fail_kick ? -EINVAL : 0;
}

static void f_stop(struct vdev *vd)
{
	fk.stops++;
}

static const struct vdev_ops fake_ops = {
	.device_id = 5,
	.get_features = f_get_features,
	.set_features = f_set_features,
	.config_size = f_config_size,
	.get_config = f_get_config,
	.set_config = f_set_config,
	.num_queues = f_num_queues,
	.queue_ready = f_queue_ready,
	.queue_kick = f_queue_kick,
	.stop = f_stop,
};

/* ---- fake frontend ------------------------------------------------------ */

struct ctx {
	struct loop *l;
	struct vdev vd;
	struct vu_server *s;
	int fe;			/* frontend end of the socketpair */
	int ram;		/* memfd */
	int req[2];		/* backend request channel pipe */
};

static void pump(struct ctx *c)
{
	/* Everything the frontend sent is already queued: a zero-timeout
	 * round processes it (loop twice for fds added on the way). */
	loop_run_once(c->l, 0);
	loop_run_once(c->l, 0);
}

static void fe_send(struct ctx *c, uint32_t req, uint32_t flags, const void *payload,
		    uint32_t size, const int *fds, unsigned nfds)
{
	struct vu_msg m = { .hdr = { req, flags, size } };
	char cbuf[CMSG_SPACE(sizeof(int) * 16)];
	struct iovec iov = { &m, sizeof(m.hdr) + size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	assert_true(size <= sizeof(m.raw));
	if (size)
		memcpy(m.raw, payload, size);
	if (nfds) {
		struct cmsghdr *cm;

		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	assert_int_equal(sendmsg(c->fe, &mh, MSG_NOSIGNAL), (ssize_t)iov.iov_len);
	pump(c);
}

/* Read one reply; returns its payload size, -1 on EOF/none. */
static int fe_recv(struct ctx *c, struct vu_msg *m)
{
	ssize_t n = recv(c->fe, &m->hdr, sizeof(m->hdr), MSG_DONTWAIT);

	if (n != (ssize_t)sizeof(m->hdr))
		return -1;
	assert_int_equal(m->hdr.flags, 0x5);	/* UML accepts nothing else */
	assert_true(m->hdr.size <= sizeof(m->raw));
	if (m->hdr.size)
		assert_int_equal(recv(c->fe, m->raw, m->hdr.size, MSG_DONTWAIT),
				 m->hdr.size);
	return m->hdr.size;
}

static uint64_t fe_get_u64(struct ctx *c, uint32_t req)
{
	struct vu_msg r;

	fe_send(c, req, 1, NULL, 0, NULL, 0);
	assert_int_equal(fe_recv(c, &r), 8);
	assert_int_equal(r.hdr.request, req);
	return r.u64;
}

/* Send with NEED_REPLY and return the status (0 ok). */
static uint64_t fe_ack(struct ctx *c, uint32_t req, const void *p, uint32_t size,
		       const int *fds, unsigned nfds)
{
	struct vu_msg r;

	fe_send(c, req, 1 | VU_FLAG_NEED_REPLY, p, size, fds, nfds);
	assert_int_equal(fe_recv(c, &r), 8);
	assert_int_equal(r.hdr.request, req);
	return r.u64;
}

static bool fe_closed(struct ctx *c)
{
	char b;

	return recv(c->fe, &b, 1, MSG_DONTWAIT) == 0;
}

static void ctx_attach(struct ctx *c)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vu_server_attach(c->s, sv[0]), 0);
	c->fe = sv[1];
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	signal(SIGPIPE, SIG_IGN);
	vb_log_set_level(VB_LOG_ERR);
	memset(&fk, 0, sizeof(fk));
	for (unsigned i = 0; i < sizeof(fk.config); i++)
		fk.config[i] = i + 1;
	c->l = loop_new();
	c->vd.ops = &fake_ops;
	c->s = vu_server_new(c->l, NULL, "test", &c->vd);
	assert_non_null(c->s);
	c->ram = tg_memfd(RAM_SIZE);
	assert_int_equal(pipe2(c->req, O_CLOEXEC), 0);
	ctx_attach(c);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	vu_server_free(c->s);
	loop_free(c->l);
	close(c->fe);
	close(c->ram);
	if (c->req[0] >= 0)
		close(c->req[0]);
	close(c->req[1]);
	free(c);
	return 0;
}

/* UML's sequence: virtio_uml.c vhost_user_init + virtio core probe. */
static void uml_init(struct ctx *c)
{
	uint64_t f, pf;

	fe_send(c, VU_SET_OWNER, 1, NULL, 0, NULL, 0);
	f = fe_get_u64(c, VU_GET_FEATURES);
	assert_true(f & (1ULL << VIRTIO_F_VERSION_1));
	assert_true(f & (1ULL << VU_F_PROTOCOL_FEATURES));
	assert_false(f & (1ULL << VIRTIO_F_RING_INDIRECT_DESC));
	assert_int_equal(f & 0x7, 0x7);
	pf = fe_get_u64(c, VU_GET_PROTOCOL_FEATURES);
	assert_int_equal(pf, (1 << VU_PF_REPLY_ACK) | (1 << VU_PF_BACKEND_REQ) |
			 (1 << VU_PF_CONFIG));
	/* From here UML asks an ack for every message without a reply. */
	assert_int_equal(fe_ack(c, VU_SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0), 0);
	assert_int_equal(fe_ack(c, VU_SET_BACKEND_REQ_FD, NULL, 0, &c->req[1], 1), 0);
	f = (1ULL << VIRTIO_F_VERSION_1) | 0x5;
	assert_int_equal(fe_ack(c, VU_SET_FEATURES, &f, 8, NULL, 0), 0);
	assert_int_equal(fk.features, f);
}

static void uml_mem_table(struct ctx *c)
{
	/* UML sends room for two regions (72 bytes) with nregions = 1. */
	struct vu_mem_table t = { .nregions = 1 };

	t.r[0] = (struct vu_mem_region){ RAM_GPA, RAM_SIZE, RAM_GPA, 0 };
	assert_int_equal(fe_ack(c, VU_SET_MEM_TABLE, &t, 8 + 2 * 32, &c->ram, 1), 0);
}

static int uml_queue(struct ctx *c, unsigned idx)
{
	struct vu_vring_state num = { idx, 16 }, base = { idx, 0 };
	uint64_t base_gpa = RAM_GPA + idx * 0x2000;
	struct vu_vring_addr a = { idx, 0, base_gpa, base_gpa + 0x1000,
				   base_gpa + 0x100, ~0ULL };
	uint64_t v = idx;
	int p[2], kick;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(fe_ack(c, VU_SET_VRING_CALL, &v, 8, &p[1], 1), 0);
	close(p[1]);
	close(p[0]);
	assert_int_equal(fe_ack(c, VU_SET_VRING_NUM, &num, 8, NULL, 0), 0);
	assert_int_equal(fe_ack(c, VU_SET_VRING_BASE, &base, 8, NULL, 0), 0);
	assert_int_equal(fe_ack(c, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	kick = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(fe_ack(c, VU_SET_VRING_KICK, &v, 8, &kick, 1), 0);
	return kick;
}

/* A guest as after probe: negotiated, memory shared, queue 0 live.
 * Returns queue 0's kick fd. */
static int uml_up(struct ctx *c)
{
	uml_init(c);
	uml_mem_table(c);
	return uml_queue(c, 0);
}

static void test_uml_handshake(void **state)
{
	struct ctx *c = *state;
	struct vu_config cfg = { .offset = 0, .size = 16 };
	struct vu_msg r;
	uint64_t one = 1;
	int kick0, kick1;

	uml_init(c);
	/* GET_CONFIG: the reply echoes the requested size. */
	fe_send(c, VU_GET_CONFIG, 1, &cfg, VU_CONFIG_HDR + 16, NULL, 0);
	assert_int_equal(fe_recv(c, &r), VU_CONFIG_HDR + 16);
	assert_int_equal(r.config.size, 16);
	assert_memory_equal(r.config.payload, fk.config, 16);

	uml_mem_table(c);
	assert_non_null(c->vd.mem);
	kick0 = uml_queue(c, 0);
	assert_int_equal(fk.ready[0], 1);
	kick1 = uml_queue(c, 1);
	assert_int_equal(fk.ready[1], 1);
	assert_true(c->vd.connected);

	/* A kick reaches the device. */
	assert_int_equal(write(kick1, &one, 8), 8);
	pump(c);
	assert_int_equal(fk.kicks[1], 1);

	/* CONFIG_CHANGE on the backend channel: version 1, no NEED_REPLY. */
	assert_int_equal(c->vd.config_changed(&c->vd), 0);
	{
		struct vu_hdr h;

		assert_int_equal(read(c->req[0], &h, sizeof(h)), sizeof(h));
		assert_int_equal(h.request, VU_BACKEND_CONFIG_CHANGE_MSG);
		assert_int_equal(h.flags, 1);
		assert_int_equal(h.size, 0);
	}

	/* Module reload: GET_FEATURES as the barrier, then table + rings. */
	fe_get_u64(c, VU_GET_FEATURES);
	assert_int_equal(fk.stops, 1);
	assert_null(c->vd.vq[0]);
	uml_mem_table(c);
	close(uml_queue(c, 0));
	assert_int_equal(fk.ready[0], 2);
	close(kick0);
	close(kick1);
}

static void test_oversize_disconnects(void **state)
{
	struct ctx *c = *state;
	struct vu_hdr h = { VU_SET_OWNER, 1, 100000 };

	uml_init(c);
	assert_int_equal(send(c->fe, &h, sizeof(h), 0), sizeof(h));
	pump(c);
	assert_true(fe_closed(c));
	assert_false(vu_server_connected(c->s));
	assert_false(c->vd.connected);
	assert_true(fk.stops >= 1);
	/* A fresh frontend is served. */
	close(c->fe);
	ctx_attach(c);
	uml_init(c);
}

static void test_bad_flags_disconnect(void **state)
{
	struct ctx *c = *state;

	fe_send(c, VU_GET_FEATURES, 2, NULL, 0, NULL, 0);	/* version 2 */
	assert_true(fe_closed(c));
	close(c->fe);
	ctx_attach(c);
	fe_send(c, VU_GET_FEATURES, 1 | VU_FLAG_REPLY, NULL, 0, NULL, 0);
	assert_true(fe_closed(c));
	close(c->fe);
	ctx_attach(c);
	fe_send(c, VU_GET_FEATURES, 1 | 0x100, NULL, 0, NULL, 0);
	assert_true(fe_closed(c));
}

static void test_wrong_fd_counts(void **state)
{
	struct ctx *c = *state;
	uint64_t v = 0;
	int p[2], many[10], i;
	char b;

	uml_init(c);
	/* KICK without fd and without the NOFD bit. */
	assert_int_not_equal(fe_ack(c, VU_SET_VRING_KICK, &v, 8, NULL, 0), 0);
	/* An fd where none belongs is refused and closed. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_not_equal(fe_ack(c, VU_SET_VRING_NUM, &(struct vu_vring_state){ 0, 16 },
				    8, &p[1], 1), 0);
	close(p[1]);
	assert_int_equal(read(p[0], &b, 1), 0);	/* EOF: the daemon's copy is gone */
	close(p[0]);
	/* Memory table with fewer fds than regions. */
	{
		struct vu_mem_table t = { .nregions = 2 };

		t.r[0] = (struct vu_mem_region){ 0, 4096, 0, 0 };
		t.r[1] = (struct vu_mem_region){ 8192, 4096, 8192, 0 };
		assert_int_not_equal(fe_ack(c, VU_SET_MEM_TABLE, &t, 8 + 64, &c->ram, 1), 0);
		assert_null(c->vd.mem);
	}
	/* More fds than any message may carry. */
	for (i = 0; i < 10; i++)
		many[i] = dup(c->ram);
	assert_int_not_equal(fe_ack(c, VU_SET_BACKEND_REQ_FD, NULL, 0, many, 10), 0);
	for (i = 0; i < 10; i++)
		close(many[i]);
	assert_true(vu_server_connected(c->s));
}

static void test_bad_queue_index_and_sizes(void **state)
{
	struct ctx *c = *state;
	struct vu_vring_addr a = { 200, 0, RAM_GPA, RAM_GPA + 0x1000, RAM_GPA + 0x100, 0 };
	uint64_t v = VDEV_MAX_QUEUES | VU_VRING_NOFD;

	uml_init(c);
	uml_mem_table(c);
	assert_int_not_equal(fe_ack(c, VU_SET_VRING_NUM,
				    &(struct vu_vring_state){ VDEV_MAX_QUEUES, 16 }, 8, NULL, 0), 0);
	assert_int_not_equal(fe_ack(c, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	assert_int_not_equal(fe_ack(c, VU_SET_VRING_CALL, &v, 8, NULL, 0), 0);
	/* Ring sizes: power of two, 1..32768. */
	assert_int_not_equal(fe_ack(c, VU_SET_VRING_NUM, &(struct vu_vring_state){ 0, 3 },
				    8, NULL, 0), 0);
	assert_int_not_equal(fe_ack(c, VU_SET_VRING_NUM, &(struct vu_vring_state){ 0, 65536 },
				    8, NULL, 0), 0);
	assert_int_not_equal(fe_ack(c, VU_SET_VRING_NUM, &(struct vu_vring_state){ 0, 0 },
				    8, NULL, 0), 0);
	/* Payload sizes wrong for the request. */
	assert_int_not_equal(fe_ack(c, VU_SET_VRING_NUM, &v, 4, NULL, 0), 0);
	assert_int_not_equal(fe_ack(c, VU_SET_FEATURES, &a, 16, NULL, 0), 0);
	/* Features never offered. */
	v = 1ULL << 40;
	assert_int_not_equal(fe_ack(c, VU_SET_FEATURES, &v, 8, NULL, 0), 0);
	/* Unknown request. */
	assert_int_not_equal(fe_ack(c, 99, NULL, 0, NULL, 0), 0);
	assert_int_not_equal(fe_ack(c, 0xffffffff, NULL, 0, NULL, 0), 0);
	/* A queue beyond the device's count never becomes ready. */
	close(uml_queue(c, 0));
	assert_int_equal(fk.ready[0], 1);
	assert_true(vu_server_connected(c->s));
}

static void test_ring_outside_ram(void **state)
{
	struct ctx *c = *state;
	struct vu_vring_state num = { 0, 256 };
	/* used ring runs past the end of the region */
	struct vu_vring_addr a = { 0, 0, RAM_GPA, RAM_GPA + RAM_SIZE - 64,
				   RAM_GPA + 0x1000, 0 };
	uint64_t v = 0;
	int kick = eventfd(0, EFD_CLOEXEC);

	uml_init(c);
	uml_mem_table(c);
	assert_int_equal(fe_ack(c, VU_SET_VRING_NUM, &num, 8, NULL, 0), 0);
	assert_int_equal(fe_ack(c, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	assert_int_not_equal(fe_ack(c, VU_SET_VRING_KICK, &v, 8, &kick, 1), 0);
	assert_int_equal(fk.ready[0], 0);
	assert_null(c->vd.vq[0]);
	close(kick);
}

static void test_config_range(void **state)
{
	struct ctx *c = *state;
	struct vu_config cfg = { .offset = 8, .size = 16 };
	struct vu_msg r;

	uml_init(c);
	/* Out of range: an empty reply the frontend cannot take for data. */
	fe_send(c, VU_GET_CONFIG, 1, &cfg, VU_CONFIG_HDR + 16, NULL, 0);
	assert_int_equal(fe_recv(c, &r), 0);
	/* Header size disagreeing with config.size. */
	cfg.offset = 0;
	fe_send(c, VU_GET_CONFIG, 1, &cfg, VU_CONFIG_HDR + 8, NULL, 0);
	assert_int_equal(fe_recv(c, &r), 0);
	cfg.offset = 0xfffffff8;
	cfg.size = 16;
	assert_int_not_equal(fe_ack(c, VU_SET_CONFIG, &cfg, VU_CONFIG_HDR + 16, NULL, 0), 0);
	/* In range SET_CONFIG reaches the device. */
	cfg.offset = 4;
	cfg.size = 4;
	memset(cfg.payload, 0xab, 4);
	assert_int_equal(fe_ack(c, VU_SET_CONFIG, &cfg, VU_CONFIG_HDR + 4, NULL, 0), 0);
	assert_int_equal(fk.config[4], 0xab);
	assert_int_equal(fk.config[8], 9);
}

static void test_bad_mem_tables(void **state)
{
	struct ctx *c = *state;
	struct vu_mem_table t = { .nregions = 1 };
	int fd;

	uml_init(c);
	/* Region larger than the file behind it (would SIGBUS the daemon). */
	t.r[0] = (struct vu_mem_region){ 0, 2 * RAM_SIZE, 0, 0 };
	fd = dup(c->ram);
	assert_int_not_equal(fe_ack(c, VU_SET_MEM_TABLE, &t, 8 + 32, &fd, 1), 0);
	close(fd);
	/* Zero size, wrap-around. */
	t.r[0] = (struct vu_mem_region){ 0, 0, 0, 0 };
	assert_int_not_equal(fe_ack(c, VU_SET_MEM_TABLE, &t, 8 + 32, &c->ram, 1), 0);
	t.r[0] = (struct vu_mem_region){ ~0ULL - 10, 4096, 0, 0 };
	assert_int_not_equal(fe_ack(c, VU_SET_MEM_TABLE, &t, 8 + 32, &c->ram, 1), 0);
	/* Too many regions. */
	t.nregions = 9;
	assert_int_not_equal(fe_ack(c, VU_SET_MEM_TABLE, &t, sizeof(t), NULL, 0), 0);
	assert_null(c->vd.mem);
	assert_true(vu_server_connected(c->s));
}

static void test_second_frontend_refused(void **state)
{
	struct ctx *c = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vdev vd2 = { .ops = &fake_ops };
	struct vu_server *s2;
	int a, b;
	char ch;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/vb-test-vu.%d", getpid());
	s2 = vu_server_new(c->l, sa.sun_path, "second", &vd2);
	assert_non_null(s2);
	a = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	b = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(a, (struct sockaddr *)&sa, sizeof(sa)), 0);
	pump(c);
	assert_true(vu_server_connected(s2));
	assert_int_equal(connect(b, (struct sockaddr *)&sa, sizeof(sa)), 0);
	pump(c);
	assert_int_equal(recv(b, &ch, 1, MSG_DONTWAIT), 0);	/* refused: EOF */
	/* The first one still works. */
	{
		struct vu_hdr h = { VU_GET_FEATURES, 1, 0 };
		struct vu_msg r;

		assert_int_equal(send(a, &h, sizeof(h), 0), sizeof(h));
		pump(c);
		assert_int_equal(recv(a, &r, sizeof(r), MSG_DONTWAIT), 12 + 8);
		assert_int_equal(r.hdr.flags, 5);
	}
	/* Another server refuses to take over a live socket path. */
	assert_null(vu_server_new(c->l, sa.sun_path, "third", &vd2));
	close(a);
	close(b);
	pump(c);
	assert_false(vu_server_connected(s2));
	vu_server_free(s2);
	assert_int_equal(access(sa.sun_path, F_OK), -1);
	/* attach while connected: -EBUSY */
	assert_int_equal(vu_server_attach(c->s, 0), -EBUSY);
}

static void test_reconnect_and_broken(void **state)
{
	struct ctx *c = *state;
	uint64_t one = 1;
	int kick;

	kick = uml_up(c);
	assert_true(c->vd.features_set);
	assert_int_equal(c->vd.features, fk.features);
	/* The device reports a corrupted ring: the transport marks it
	 * broken and delivers no more of this guest's kicks. */
	fk.fail_kick = true;
	assert_int_equal(write(kick, &one, 8), 8);
	pump(c);
	assert_int_equal(fk.kicks[0], 1);
	assert_true(c->vd.broken);
	fk.fail_kick = false;
	assert_int_equal(write(kick, &one, 8), 8);
	pump(c);
	assert_int_equal(fk.kicks[0], 1);	/* ignored while broken */
	/* EOF: device stopped, everything closed, listening again. */
	close(c->fe);
	pump(c);
	assert_false(vu_server_connected(c->s));
	assert_null(c->vd.mem);
	assert_false(c->vd.broken);
	/* No driver any more: no negotiated features either. */
	assert_false(c->vd.features_set);
	assert_int_equal(c->vd.features, 0);
	close(kick);
	ctx_attach(c);
	kick = uml_up(c);
	assert_int_equal(write(kick, &one, 8), 8);
	pump(c);
	assert_int_equal(fk.kicks[0], 2);
	close(kick);
}

static void test_enable_and_early_kick(void **state)
{
	struct ctx *c = *state;
	struct vu_vring_state en = { 0, 1 };
	uint64_t one = 1, f;
	int kick;

	uml_init(c);
	/* Ack PROTOCOL_FEATURES: rings now start disabled. */
	f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VU_F_PROTOCOL_FEATURES) | 0x5;
	assert_int_equal(fe_ack(c, VU_SET_FEATURES, &f, 8, NULL, 0), 0);
	assert_int_equal(fk.features, f & ~(1ULL << VU_F_PROTOCOL_FEATURES));
	uml_mem_table(c);
	kick = uml_queue(c, 0);
	assert_int_equal(fk.ready[0], 0);
	/* A kick before the ring is enabled is kept, not lost. */
	assert_int_equal(write(kick, &one, 8), 8);
	pump(c);
	assert_int_equal(fk.kicks[0], 0);
	assert_int_equal(fe_ack(c, VU_SET_VRING_ENABLE, &en, 8, NULL, 0), 0);
	assert_int_equal(fk.ready[0], 1);
	assert_int_equal(fk.kicks[0], 1);
	/* Disable: the device stops and no longer sees kicks. */
	en.num = 0;
	assert_int_equal(fe_ack(c, VU_SET_VRING_ENABLE, &en, 8, NULL, 0), 0);
	assert_int_equal(fk.stops, 1);
	assert_null(c->vd.vq[0]);
	assert_int_equal(write(kick, &one, 8), 8);
	pump(c);
	assert_int_equal(fk.kicks[0], 1);
	en.num = 2;
	assert_int_not_equal(fe_ack(c, VU_SET_VRING_ENABLE, &en, 8, NULL, 0), 0);
	/* GET_VRING_BASE stops the ring and returns the next avail index. */
	en.num = 1;
	assert_int_equal(fe_ack(c, VU_SET_VRING_ENABLE, &en, 8, NULL, 0), 0);
	assert_int_equal(fk.ready[0], 2);
	{
		struct vu_vring_state st = { 0, 0 };
		struct vu_msg r;

		fe_send(c, VU_GET_VRING_BASE, 1, &st, 8, NULL, 0);
		assert_int_equal(fe_recv(c, &r), 8);
		assert_int_equal(r.state.index, 0);
		assert_int_equal(r.state.num, 0);
		assert_int_equal(fk.stops, 2);
		assert_null(c->vd.vq[0]);
	}
	close(kick);
}

static void test_backend_channel_full(void **state)
{
	struct ctx *c = *state;
	char junk[4096];
	struct vu_hdr h;
	ssize_t n;
	int fl;

	uml_init(c);
	fcntl(c->req[0], F_SETFL, O_NONBLOCK);
	/* The guest is not reading its request pipe: fill it up. */
	fl = fcntl(c->req[1], F_GETFL);
	assert_true(fl & O_NONBLOCK);		/* the daemon made it non-blocking */
	memset(junk, 0, sizeof(junk));
	while (write(c->req[1], junk, sizeof(junk)) > 0)
		;
	while (write(c->req[1], junk, 1) > 0)
		;
	/* Never blocks; queued instead, and two changes coalesce. */
	assert_int_equal(c->vd.config_changed(&c->vd), 0);
	assert_int_equal(c->vd.config_changed(&c->vd), 0);
	/* The main socket is still served meanwhile. */
	fe_get_u64(c, VU_GET_FEATURES);
	/* The guest drains the pipe: the message goes out on EPOLLOUT. */
	while ((n = read(c->req[0], junk, sizeof(junk))) > 0)
		;
	pump(c);
	assert_int_equal(read(c->req[0], &h, sizeof(h)), sizeof(h));
	assert_int_equal(h.request, VU_BACKEND_CONFIG_CHANGE_MSG);
	assert_int_equal(h.flags, 1);
	assert_int_equal(read(c->req[0], &h, sizeof(h)), -1);	/* just one */
	/* The guest closes its end: the channel is dropped, not fatal. */
	close(c->req[0]);
	c->req[0] = -1;
	assert_true(c->vd.config_changed(&c->vd) < 0);
	assert_int_equal(c->vd.config_changed(&c->vd), -ENOTCONN);
	assert_true(vu_server_connected(c->s));
}

static void test_truncated_ram_breaks_device(void **state)
{
	struct ctx *c = *state;
	uint64_t one = 1;
	int kick;

	kick = uml_up(c);
	fk.touch = true;
	/* The frontend shrinks its RAM file: the device's next access would
	 * SIGBUS the daemon; instead this device is marked broken. */
	assert_int_equal(ftruncate(c->ram, 4096), 0);
	assert_int_equal(write(kick, &one, 8), 8);
	pump(c);
	assert_int_equal(fk.kicks[0], 1);
	assert_true(c->vd.broken);
	assert_true(vu_server_connected(c->s));
	fk.touch = false;
	close(kick);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_uml_handshake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_disconnects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_flags_disconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_fd_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_queue_index_and_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_mem_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_frontend_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_and_broken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_ram_breaks_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_channel_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enable_and_early_kick, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
