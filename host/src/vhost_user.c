// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost_user.c - vhost-user backend: socket handling, ONE dispatcher that
 * validates every message (header, flags, payload size, fd count) before a
 * per-request handler runs, ring setup and the backend request channel.
 *
 * Policy for bad frontend input:
 *  - framing broken (bad version/flags, payload larger than any request,
 *    send failure): the frontend is disconnected, the device stopped and
 *    everything it gave us closed/unmapped; we listen again;
 *  - a well-framed but invalid request (size, fd count, index, range):
 *    refused; the frontend gets a failure status (NEED_REPLY) or, for a
 *    request with its own reply, an empty reply so it fails instead of
 *    hanging; logged rate-limited;
 *  - every received fd is stored or closed, on every path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "vdev.h"
#include "unix_listen.h"
#include "vhost_user.h"
#include "virtq.h"

_Static_assert(VU_MAX_REGIONS == GUEST_MEM_MAX_REGIONS, "region limits");

#define BIT(n)			(1ULL << (n))
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define VU_MSGS_PER_WAKEUP	64

/* Ring features we do not implement are never offered, whatever the
 * device says: the walker has no indirect/event-idx/packed support. */
#define VU_UNSUPPORTED_F	(BIT(VIRTIO_F_RING_INDIRECT_DESC) | \
				 BIT(VIRTIO_F_RING_EVENT_IDX) | BIT(VIRTIO_F_RING_PACKED))
#define VU_PROTOCOL_F		(BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_BACKEND_REQ) | \
				 BIT(VU_PF_CONFIG))

struct vu_rx {
	struct vu_msg msg;
	size_t got;			/* bytes of header + payload read */
	int fds[VU_MAX_FDS];
	unsigned nfds;
	bool fd_overflow;		/* more fds than allowed, or truncated */
};

struct vu_server {
	struct loop *loop;
	struct vdev *vd;
	char name[64];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd;
	int conn_fd;
	struct vu_rx rx;
	/* VHOST_USER_F_PROTOCOL_FEATURES acked: rings start disabled.  The
	 * virtio features live in vd (vdev.h); the protocol features acked
	 * are checked and not kept (nothing depends on them). */
	bool protocol_f_acked;
	struct guest_mem mem;
	struct virtq vqs[VDEV_MAX_QUEUES];
	/* backend request channel (UML: a pipe's write end) */
	int req_fd;
	bool req_watch;			/* waiting for EPOLLOUT */
	bool req_pending;		/* a CONFIG_CHANGE still to start */
	uint8_t req_buf[sizeof(struct vu_hdr)];
	size_t req_off, req_len;	/* message being written */
};

/* Handler results beyond 0 / -errno. */
#define VU_FATAL	1		/* disconnect the frontend */

struct vu_req_desc {
	const char *name;
	uint32_t min_size, max_size;
	enum { FDS_NONE, FDS_ONE, FDS_VRING, FDS_MEM } fds;
	bool has_reply;			/* sends its own reply */
	int (*handle)(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds);
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* ---- device and queue state ------------------------------------------ */

static bool vq_enabled(const struct vu_server *s, const struct virtq *vq)
{
	if (vq->enable >= 0)
		return vq->enable == 1;
	/* Without PROTOCOL_FEATURES rings start enabled (spec). */
	return !s->protocol_f_acked;
}

static bool dev_running(const struct vu_server *s)
{
	unsigned i;

	for (i = 0; i < VDEV_MAX_QUEUES; i++)
		if (s->vqs[i].ready)
			return true;
	return false;
}

/*
 * Stop the rings: nothing is read from or written to them until the
 * frontend completes them again.  A pause, not a new driver: the device
 * keeps its state, buffers it holds included (a VM stop, a ring or memory
 * table change).  docs/host-transport.md tells pause and new driver apart.
 */
static void rings_stop(struct vu_server *s)
{
	unsigned i;

	for (i = 0; i < VDEV_MAX_QUEUES; i++) {
		virtq_unmap(&s->vqs[i]);
		s->vd->vq[i] = NULL;
	}
}

static void vq_close_fds(struct vu_server *s, struct virtq *vq)
{
	if (vq->kick_fd >= 0)
		loop_del_fd(s->loop, vq->kick_fd);
	close_fd(&vq->kick_fd);
	close_fd(&vq->call_fd);
	close_fd(&vq->err_fd);
}

static void vqs_reset(struct vu_server *s)
{
	unsigned i;

	for (i = 0; i < VDEV_MAX_QUEUES; i++) {
		vq_close_fds(s, &s->vqs[i]);
		virtq_init(&s->vqs[i], i);
	}
}

/* Forget the rings' configuration but keep their call and error fds: the
 * frontend may still poll them (UML frees its interrupts only after the
 * driver's GET_FEATURES barrier; a closed write end reads as EOF there, and
 * UML warns on it).  New SET_VRING_CALL/ERR messages replace them.  The
 * kick fd is ours to read: a ring restarts only with a new one. */
static void vqs_forget(struct vu_server *s)
{
	unsigned i;

	for (i = 0; i < VDEV_MAX_QUEUES; i++) {
		struct virtq *vq = &s->vqs[i];
		int call = vq->call_fd, err = vq->err_fd;

		if (vq->kick_fd >= 0)
			loop_del_fd(s->loop, vq->kick_fd);
		close_fd(&vq->kick_fd);
		virtq_init(vq, i);
		vq->call_fd = call;
		vq->err_fd = err;
	}
}

/* A new driver instance: the device empties its balloon state (the target
 * stays) and takes guest input again after a broken one. */
static void dev_new_driver(struct vu_server *s, const char *why)
{
	unsigned i;

	rings_stop(s);
	for (i = 0; i < VDEV_MAX_QUEUES; i++)
		s->vqs[i].life = VQ_FRESH;
	vb_dbg("%s: new driver instance (%s)", s->name, why);
	s->vd->ops->reset(s->vd);
	s->vd->broken = false;
}

/* Ignore this guest's input until the frontend re-initialises
 * (SET_MEM_TABLE) or reconnects; log once.  The daemon and its other
 * guests carry on. */
static void mark_broken(struct vu_server *s, const char *why)
{
	if (s->vd->broken)
		return;
	s->vd->broken = true;
	vb_guest_warn("%s: device marked broken (%s); guest input ignored until the frontend re-initialises",
		      s->name, why);
}

/* What the device's queue_ready/queue_kick returned (vdev.h). */
static void dev_result(struct vu_server *s, unsigned idx, int rc)
{
	char why[64];

	if (rc >= 0)
		return;
	snprintf(why, sizeof(why), "the device gave up on queue %u: %s", idx,
		 strerror(-rc));
	mark_broken(s, why);
}

/* A queue is live once memory, size, addresses, kick fd and enable are in. */
static int vq_eval(struct vu_server *s, struct virtq *vq)
{
	struct vdev *vd = s->vd;
	bool kicked;
	int rc;

	if (vq->ready || !s->mem.nregions || !vq->num || !vq->addr_set ||
	    vq->kick_fd < 0 || !vq_enabled(s, vq))
		return 0;
	if (vq->index >= vd->ops->num_queues(vd)) {
		vb_guest_warn("%s: queue %u set up beyond the %u negotiated", s->name,
			      vq->index, vd->ops->num_queues(vd));
		return -EINVAL;
	}
	rc = virtq_map(vq, &s->mem);
	if (rc) {
		vb_guest_warn("%s: queue %u ring outside guest RAM or misaligned",
			      s->name, vq->index);
		return rc;
	}
	vd->vq[vq->index] = vq;
	vq->life = VQ_SERVED;
	vb_dbg("%s: queue %u ready (size %u)", s->name, vq->index, vq->num);
	if (vd->broken)
		return 0;
	kicked = vq->kicked;
	vq->kicked = false;
	rc = vd->ops->queue_ready(vd, vq->index);
	/* A kick that came before the queue was live is not lost. */
	if (!rc && kicked && vq->ready)
		rc = vd->ops->queue_kick(vd, vq->index);
	dev_result(s, vq->index, rc);
	return 0;
}

static int vqs_eval(struct vu_server *s)
{
	int rc = 0, r;
	unsigned i;

	for (i = 0; i < VDEV_MAX_QUEUES; i++) {
		r = vq_eval(s, &s->vqs[i]);
		if (r && !rc)
			rc = r;
	}
	return rc;
}

/* The frontend changes a live queue: stop the device, it restarts when
 * the queue is complete again (re-initialisation, not an error). */
static void vq_reconfig(struct vu_server *s, struct virtq *vq)
{
	if (vq->ready)
		rings_stop(s);
}

/* The SIGBUS guard replaced a page the frontend truncated away. */
static void fault_check(struct vu_server *s)
{
	if (s->mem.faulted)
		mark_broken(s, "guest RAM file truncated under the mapping");
}

static void kick_cb(struct loop *l, int fd, uint32_t events, void *opaque)
{
	struct virtq *vq = opaque;
	struct vu_server *s = (void *)((char *)(vq - vq->index) -
				       offsetof(struct vu_server, vqs));
	uint64_t v;
	ssize_t n = read(fd, &v, sizeof(v));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* EOF or error on the kick fd: stop polling it, no busy loop. */
		vb_guest_warn("%s: queue %u kick fd closed", s->name, vq->index);
		loop_del_fd(l, fd);
		return;
	}
	if (s->vd->broken)
		return;
	if (!vq->ready) {
		vq->kicked = true;
		return;
	}
	dev_result(s, vq->index, s->vd->ops->queue_kick(s->vd, vq->index));
	fault_check(s);
}

/* ---- backend request channel ----------------------------------------- */

static void req_close(struct vu_server *s)
{
	if (s->req_watch)
		loop_del_fd(s->loop, s->req_fd);
	s->req_watch = false;
	close_fd(&s->req_fd);
	s->req_pending = false;
	s->req_off = s->req_len = 0;
}

static void req_cb(struct loop *l, int fd, uint32_t events, void *opaque);

/* Write what is queued without ever blocking: UML waits for our replies
 * with interrupts off, so the main socket must never wait on this one. */
static int req_flush(struct vu_server *s)
{
	while (s->req_fd >= 0) {
		ssize_t n;

		if (s->req_off == s->req_len) {
			struct vu_hdr h = {
				.request = VU_BACKEND_CONFIG_CHANGE_MSG,
				.flags = VU_FLAG_VERSION,	/* no NEED_REPLY */
				.size = 0,
			};

			if (!s->req_pending)
				break;
			s->req_pending = false;
			memcpy(s->req_buf, &h, sizeof(h));
			s->req_off = 0;
			s->req_len = sizeof(h);
		}
		n = write(s->req_fd, s->req_buf + s->req_off, s->req_len - s->req_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!s->req_watch &&
			    loop_add_fd(s->loop, s->req_fd, EPOLLOUT, req_cb, s) == 0)
				s->req_watch = true;
			return 0;
		}
		if (n <= 0) {
			int err = n < 0 ? -errno : -EPIPE;

			vb_guest_warn("%s: backend request channel failed: %s", s->name,
				      strerror(-err));
			req_close(s);
			return err;
		}
		s->req_off += n;
	}
	if (s->req_watch) {
		loop_del_fd(s->loop, s->req_fd);
		s->req_watch = false;
	}
	return 0;
}

static void req_cb(struct loop *l, int fd, uint32_t events, void *opaque)
{
	struct vu_server *s = opaque;

	if (events & (EPOLLERR | EPOLLHUP)) {
		vb_guest_warn("%s: backend request channel closed by the frontend", s->name);
		req_close(s);
		return;
	}
	req_flush(s);
}

static int vu_config_changed(struct vdev *vd)
{
	struct vu_server *s = vd->transport;

	if (!s || s->req_fd < 0)
		return -ENOTCONN;
	/* Messages coalesce: the driver re-reads the whole config anyway, so
	 * a message not yet started covers this change too. */
	if (s->req_off < s->req_len && s->req_off == 0)
		return 0;
	s->req_pending = true;
	return req_flush(s);
}

/* ---- replies ---------------------------------------------------------- */

static int send_all(struct vu_server *s, const void *buf, size_t len)
{
	ssize_t n;

	if (s->conn_fd < 0)
		return 0;	/* dispatch without a connection (fuzzing) */
	do
		n = send(s->conn_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	/* Replies are tiny; a frontend that lets our socket buffer fill up
	 * is not reading them, and a partial write would break framing. */
	if (n != (ssize_t)len) {
		vb_guest_warn("%s: cannot send reply: %s", s->name,
			      n < 0 ? strerror(errno) : "short write");
		return -EIO;
	}
	return 0;
}

static int send_reply(struct vu_server *s, struct vu_msg *m, uint32_t size)
{
	m->hdr.flags = VU_REPLY_FLAGS;
	m->hdr.size = size;
	return send_all(s, m, sizeof(m->hdr) + size);
}

static int send_status(struct vu_server *s, uint32_t request, uint64_t status)
{
	struct vu_msg r = { .hdr.request = request };

	r.u64 = status;
	return send_reply(s, &r, sizeof(r.u64));
}

/* ---- handlers --------------------------------------------------------- */

static int queue_index(struct vu_server *s, uint64_t idx, const char *what)
{
	if (idx >= VDEV_MAX_QUEUES) {
		vb_guest_warn("%s: %s: bad queue index %llu", s->name, what,
			      (unsigned long long)idx);
		return -EINVAL;
	}
	return (int)idx;
}

static uint64_t offered_features(struct vu_server *s)
{
	uint64_t f = s->vd->ops->get_features(s->vd) & ~VU_UNSUPPORTED_F;

	return f | BIT(VIRTIO_F_VERSION_1) | BIT(VU_F_PROTOCOL_FEATURES);
}

static int h_get_features(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds)
{
	/* UML's del_vqs (driver remove, module unload) sends GET_FEATURES as
	 * a barrier right before freeing the rings; without PROTOCOL_FEATURES
	 * acked it sends no SET_VRING_ENABLE(0) first.  So GET_FEATURES on a
	 * live device means the driver is going away: stop touching the rings,
	 * but leave their fds to the frontend until it replaces them. */
	if (dev_running(s)) {
		vb_guest_info("%s: GET_FEATURES on a live device: rings released", s->name);
		dev_new_driver(s, "rings released");
		vqs_forget(s);
	}
	m->u64 = offered_features(s);
	return sizeof(m->u64);
}

static int h_set_features(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds)
{
	uint64_t f = m->u64, virtio_f = f & ~BIT(VU_F_PROTOCOL_FEATURES);
	int rc;

	if (f & ~offered_features(s)) {
		vb_guest_warn("%s: features 0x%llx not offered", s->name,
			      (unsigned long long)(f & ~offered_features(s)));
		return -EINVAL;
	}
	/* QEMU sends the same features again on every start of the rings
	 * (a resumed VM); other features mean another driver. */
	if (dev_running(s))
		rings_stop(s);
	if (s->vd->features_set && virtio_f != s->vd->features)
		dev_new_driver(s, "new features");
	rc = s->vd->ops->set_features(s->vd, virtio_f);
	if (rc)
		return rc;
	s->protocol_f_acked = f & BIT(VU_F_PROTOCOL_FEATURES);
	s->vd->features = virtio_f;
	s->vd->features_set = true;
	return 0;
}

static int h_set_owner(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds)
{
	return 0;
}

static int h_reset(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds)
{
	dev_new_driver(s, "reset");
	vqs_reset(s);
	return 0;
}

static int h_get_protocol_features(struct vu_server *s, struct vu_msg *m, int *fds,
				   unsigned nfds)
{
	m->u64 = VU_PROTOCOL_F;
	return sizeof(m->u64);
}

static int h_set_protocol_features(struct vu_server *s, struct vu_msg *m, int *fds,
				   unsigned nfds)
{
	if (m->u64 & ~VU_PROTOCOL_F) {
		vb_guest_warn("%s: protocol features 0x%llx not offered", s->name,
			      (unsigned long long)m->u64);
		return -EINVAL;
	}
	return 0;
}

static int h_set_mem_table(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds)
{
	struct guest_region in[VU_MAX_REGIONS];
	unsigned i, n = m->mem.nregions;
	int rc;

	/* UML sends a table, then every ring, on each driver probe; QEMU sends
	 * one to a running device when memory is plugged.  Either way the
	 * rings pause and are translated afresh through the new table below:
	 * a new table is not a new driver. */
	rings_stop(s);
	s->vd->mem = NULL;
	guest_mem_clear(&s->mem);
	for (i = 0; i < n; i++) {
		in[i].gpa = m->mem.r[i].gpa;
		in[i].size = m->mem.r[i].size;
		in[i].uaddr = m->mem.r[i].uaddr;
		in[i].mmap_offset = m->mem.r[i].mmap_offset;
		in[i].fd = fds[i];
		fds[i] = -1;	/* guest_mem owns it now, on every path */
	}
	rc = guest_mem_set_table(&s->mem, in, n);
	if (rc) {
		vb_guest_warn("%s: memory table refused: %s", s->name, strerror(-rc));
		return rc;
	}
	s->vd->mem = &s->mem;
	for (i = 0; i < s->mem.nregions; i++)
		vb_guest_info("%s: guest RAM region gpa 0x%llx size %llu MiB", s->name,
			   (unsigned long long)s->mem.r[i].gpa,
			   (unsigned long long)(s->mem.r[i].size >> 20));
	return vqs_eval(s);
}

static int h_set_vring_num(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds)
{
	int idx = queue_index(s, m->state.index, "SET_VRING_NUM");
	uint32_t num = m->state.num;

	if (idx < 0)
		return idx;
	if (!num || num > VIRTQ_MAX_SIZE || (num & (num - 1))) {
		vb_guest_warn("%s: queue %d: bad ring size %u", s->name, idx, num);
		return -EINVAL;
	}
	vq_reconfig(s, &s->vqs[idx]);
	s->vqs[idx].num = num;
	return vqs_eval(s);
}

static int h_set_vring_addr(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds)
{
	int idx = queue_index(s, m->addr.index, "SET_VRING_ADDR");
	struct virtq *vq;

	if (idx < 0)
		return idx;
	vq = &s->vqs[idx];
	vq_reconfig(s, vq);
	vq->desc_uva = m->addr.desc;
	vq->avail_uva = m->addr.avail;
	vq->used_uva = m->addr.used;
	vq->addr_set = true;
	return vqs_eval(s);
}

static int h_set_vring_base(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds)
{
	int idx = queue_index(s, m->state.index, "SET_VRING_BASE");
	struct virtq *vq;

	if (idx < 0)
		return idx;
	if (m->state.num > 0xffff) {
		vb_guest_warn("%s: queue %d: bad base %u", s->name, idx, m->state.num);
		return -EINVAL;
	}
	vq = &s->vqs[idx];
	vq_reconfig(s, vq);
	/* QEMU restarts a paused ring at the base we returned; a ring that
	 * starts anywhere else, or a served ring set up again without being
	 * stopped, belongs to a new driver (a guest reboot, a driver reload,
	 * a frontend re-initialising). */
	if (vq->life == VQ_STOPPED ? m->state.num != vq->returned_base : vq->life == VQ_SERVED)
		dev_new_driver(s, "ring set up anew");
	vq->last_avail_idx = m->state.num;
	return vqs_eval(s);
}

static int h_get_vring_base(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds)
{
	int idx = queue_index(s, m->state.index, "GET_VRING_BASE");
	struct virtq *vq;

	if (idx < 0)
		return idx;
	vq = &s->vqs[idx];
	/* Stops the ring: it restarts only after a new kick fd. */
	vq_reconfig(s, vq);
	if (vq->kick_fd >= 0)
		loop_del_fd(s->loop, vq->kick_fd);
	close_fd(&vq->kick_fd);
	m->state.num = vq->last_avail_idx;
	vq->returned_base = vq->last_avail_idx;
	vq->life = VQ_STOPPED;
	return sizeof(m->state);
}

/* Common part of SET_VRING_KICK/CALL/ERR; *fdp receives the new fd. */
static int vring_fd_msg(struct vu_server *s, struct vu_msg *m, int *fds, const char *what,
			struct virtq **vqp, int *newfd)
{
	int idx;

	if (m->u64 & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD)) {
		vb_guest_warn("%s: %s: reserved bits set 0x%llx", s->name, what,
			      (unsigned long long)m->u64);
		return -EINVAL;
	}
	idx = queue_index(s, m->u64 & VU_VRING_IDX_MASK, what);
	if (idx < 0)
		return idx;
	*vqp = &s->vqs[idx];
	*newfd = -1;
	if (!(m->u64 & VU_VRING_NOFD)) {
		*newfd = fds[0];
		fds[0] = -1;
	}
	return 0;
}

static int h_set_vring_kick(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds)
{
	struct virtq *vq;
	int fd, rc;

	rc = vring_fd_msg(s, m, fds, "SET_VRING_KICK", &vq, &fd);
	if (rc)
		return rc;
	vq_reconfig(s, vq);
	if (vq->kick_fd >= 0)
		loop_del_fd(s->loop, vq->kick_fd);
	close_fd(&vq->kick_fd);
	if (fd < 0) {
		vb_guest_warn("%s: queue %u: polling mode (no kick fd) unsupported",
			      s->name, vq->index);
		return 0;
	}
	rc = set_nonblock(fd);
	if (!rc)
		rc = loop_add_fd(s->loop, fd, EPOLLIN, kick_cb, vq);
	if (rc) {
		vb_guest_warn("%s: queue %u: unusable kick fd: %s", s->name, vq->index,
			      strerror(-rc));
		close(fd);
		return rc;
	}
	vq->kick_fd = fd;
	return vqs_eval(s);
}

static int h_set_vring_call(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds)
{
	struct virtq *vq;
	int fd, rc;

	rc = vring_fd_msg(s, m, fds, "SET_VRING_CALL", &vq, &fd);
	if (rc)
		return rc;
	/* virtq_notify must never block on a full pipe. */
	if (fd >= 0 && set_nonblock(fd)) {
		close(fd);
		return -EINVAL;
	}
	close_fd(&vq->call_fd);
	vq->call_fd = fd;
	return 0;
}

static int h_set_vring_err(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds)
{
	struct virtq *vq;
	int fd, rc;

	rc = vring_fd_msg(s, m, fds, "SET_VRING_ERR", &vq, &fd);
	if (rc)
		return rc;
	close_fd(&vq->err_fd);
	vq->err_fd = fd;
	return 0;
}

static int h_get_queue_num(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds)
{
	m->u64 = s->vd->ops->num_queues(s->vd);
	return sizeof(m->u64);
}

static int h_set_vring_enable(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds)
{
	int idx = queue_index(s, m->state.index, "SET_VRING_ENABLE");
	struct virtq *vq;

	if (idx < 0)
		return idx;
	if (m->state.num > 1) {
		vb_guest_warn("%s: queue %d: bad enable value %u", s->name, idx,
			      m->state.num);
		return -EINVAL;
	}
	vq = &s->vqs[idx];
	if (!m->state.num) {
		/* UML disables every ring before freeing it (module unload):
		 * from here on the ring memory is the guest's again. */
		vq_reconfig(s, vq);
		vq->enable = 0;
		return 0;
	}
	vq->enable = 1;
	return vqs_eval(s);
}

static int h_set_backend_req_fd(struct vu_server *s, struct vu_msg *m, int *fds,
				unsigned nfds)
{
	int fd = fds[0];

	fds[0] = -1;
	if (set_nonblock(fd)) {
		close(fd);
		return -EINVAL;
	}
	req_close(s);
	s->req_fd = fd;
	return 0;
}

static int config_range(struct vu_server *s, const struct vu_msg *m, const char *what)
{
	uint64_t end = (uint64_t)m->config.offset + m->config.size;

	if (m->config.size > VU_MAX_CONFIG ||
	    m->hdr.size != VU_CONFIG_HDR + m->config.size ||
	    end > s->vd->ops->config_size(s->vd)) {
		vb_guest_warn("%s: %s: bad range offset %u size %u (payload %u)", s->name,
			      what, m->config.offset, m->config.size, m->hdr.size);
		return -EINVAL;
	}
	return 0;
}

static int h_get_config(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds)
{
	int rc = config_range(s, m, "GET_CONFIG");

	if (rc)
		return rc;
	memset(m->config.payload, 0, m->config.size);
	s->vd->ops->get_config(s->vd, m->config.offset, m->config.payload,
			       m->config.size);
	/* The reply echoes the requested size (UML checks it). */
	return VU_CONFIG_HDR + m->config.size;
}

static int h_set_config(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds)
{
	int rc = config_range(s, m, "SET_CONFIG");

	if (rc)
		return rc;
	s->vd->ops->set_config(s->vd, m->config.offset, m->config.payload,
			       m->config.size);
	return 0;
}

static int h_get_max_mem_slots(struct vu_server *s, struct vu_msg *m, int *fds,
			       unsigned nfds)
{
	m->u64 = VU_MAX_REGIONS;
	return sizeof(m->u64);
}

#define U64	sizeof(uint64_t)
#define STATE	sizeof(struct vu_vring_state)

static const struct vu_req_desc vu_reqs[VU_REQUEST_MAX] = {
	[VU_GET_FEATURES] = { "GET_FEATURES", 0, 0, FDS_NONE, true, h_get_features },
	[VU_SET_FEATURES] = { "SET_FEATURES", U64, U64, FDS_NONE, false, h_set_features },
	[VU_SET_OWNER] = { "SET_OWNER", 0, 0, FDS_NONE, false, h_set_owner },
	[VU_RESET_OWNER] = { "RESET_OWNER", 0, U64, FDS_NONE, false, h_reset },
	[VU_SET_MEM_TABLE] = { "SET_MEM_TABLE", 8 + sizeof(struct vu_mem_region),
			       sizeof(struct vu_mem_table), FDS_MEM, false, h_set_mem_table },
	[VU_SET_VRING_NUM] = { "SET_VRING_NUM", STATE, STATE, FDS_NONE, false, h_set_vring_num },
	[VU_SET_VRING_ADDR] = { "SET_VRING_ADDR", sizeof(struct vu_vring_addr),
				sizeof(struct vu_vring_addr), FDS_NONE, false, h_set_vring_addr },
	[VU_SET_VRING_BASE] = { "SET_VRING_BASE", STATE, STATE, FDS_NONE, false, h_set_vring_base },
	[VU_GET_VRING_BASE] = { "GET_VRING_BASE", STATE, STATE, FDS_NONE, true, h_get_vring_base },
	[VU_SET_VRING_KICK] = { "SET_VRING_KICK", U64, U64, FDS_VRING, false, h_set_vring_kick },
	[VU_SET_VRING_CALL] = { "SET_VRING_CALL", U64, U64, FDS_VRING, false, h_set_vring_call },
	[VU_SET_VRING_ERR] = { "SET_VRING_ERR", U64, U64, FDS_VRING, false, h_set_vring_err },
	[VU_GET_PROTOCOL_FEATURES] = { "GET_PROTOCOL_FEATURES", 0, 0, FDS_NONE, true,
				       h_get_protocol_features },
	[VU_SET_PROTOCOL_FEATURES] = { "SET_PROTOCOL_FEATURES", U64, U64, FDS_NONE, false,
				       h_set_protocol_features },
	[VU_GET_QUEUE_NUM] = { "GET_QUEUE_NUM", 0, 0, FDS_NONE, true, h_get_queue_num },
	[VU_SET_VRING_ENABLE] = { "SET_VRING_ENABLE", STATE, STATE, FDS_NONE, false,
				  h_set_vring_enable },
	[VU_SET_BACKEND_REQ_FD] = { "SET_BACKEND_REQ_FD", 0, 0, FDS_ONE, false,
				    h_set_backend_req_fd },
	[VU_GET_CONFIG] = { "GET_CONFIG", VU_CONFIG_HDR, VU_MAX_PAYLOAD, FDS_NONE, true,
			    h_get_config },
	[VU_SET_CONFIG] = { "SET_CONFIG", VU_CONFIG_HDR, VU_MAX_PAYLOAD, FDS_NONE, false,
			    h_set_config },
	[VU_RESET_DEVICE] = { "RESET_DEVICE", 0, 0, FDS_NONE, false, h_reset },
	[VU_GET_MAX_MEM_SLOTS] = { "GET_MAX_MEM_SLOTS", 0, 0, FDS_NONE, true,
				   h_get_max_mem_slots },
};

/* ---- the dispatcher ---------------------------------------------------- */

static int fds_expected(const struct vu_req_desc *d, const struct vu_msg *m)
{
	switch (d->fds) {
	case FDS_ONE:
		return 1;
	case FDS_VRING:
		return (m->u64 & VU_VRING_NOFD) ? 0 : 1;
	case FDS_MEM:
		return m->mem.nregions;
	default:
		return 0;
	}
}

static int msg_validate(struct vu_server *s, const struct vu_req_desc *d,
			const struct vu_msg *m, unsigned nfds, bool overflow)
{
	uint32_t size = m->hdr.size;

	if (size < d->min_size || size > d->max_size) {
		vb_guest_warn("%s: %s: bad payload size %u", s->name, d->name, size);
		return -EINVAL;
	}
	if (d->fds == FDS_MEM && (!m->mem.nregions || m->mem.nregions > VU_MAX_REGIONS ||
				  size < 8 + m->mem.nregions * sizeof(struct vu_mem_region))) {
		vb_guest_warn("%s: %s: bad region count %u", s->name, d->name,
			      m->mem.nregions);
		return -EINVAL;
	}
	if (overflow || (int)nfds != fds_expected(d, m)) {
		vb_guest_warn("%s: %s: %u fds%s, expected %d", s->name, d->name, nfds,
			      overflow ? " (truncated)" : "", fds_expected(d, m));
		return -EINVAL;
	}
	return 0;
}

static int dispatch(struct vu_server *s, struct vu_msg *m, int *fds, unsigned nfds,
		    bool overflow)
{
	uint32_t req = m->hdr.request;
	bool need_reply = m->hdr.flags & VU_FLAG_NEED_REPLY;
	const struct vu_req_desc *d = req < VU_REQUEST_MAX ? &vu_reqs[req] : NULL;
	int rc;

	if (!d || !d->handle) {
		vb_guest_warn("%s: unsupported request %u refused", s->name, req);
		rc = -EOPNOTSUPP;
	} else {
		vb_dbg("%s: %s size %u fds %u", s->name, d->name, m->hdr.size, nfds);
		rc = msg_validate(s, d, m, nfds, overflow);
		if (!rc)
			rc = d->handle(s, m, fds, nfds);
	}
	if (d && d->has_reply)
		/* Failure: an empty reply, which the frontend cannot mistake
		 * for success and need not wait past. */
		return send_reply(s, m, rc > 0 ? (uint32_t)rc : 0);
	if (rc < 0 && d && d->handle)
		vb_dbg("%s: %s refused: %s", s->name, d->name, strerror(-rc));
	if (need_reply)
		return send_status(s, req, rc < 0 ? 1 : 0);
	return 0;
}

int vu_server_dispatch(struct vu_server *s, const struct vu_msg *msg, int *fds,
		       unsigned nfds)
{
	struct vu_msg m;
	unsigned i;
	int rc;

	memcpy(&m, msg, sizeof(m));
	if ((m.hdr.flags & ~(VU_FLAG_VERSION_MASK | VU_FLAG_NEED_REPLY)) ||
	    (m.hdr.flags & VU_FLAG_VERSION_MASK) != VU_FLAG_VERSION ||
	    m.hdr.size > VU_MAX_PAYLOAD) {
		rc = -EPROTO;
	} else {
		rc = dispatch(s, &m, fds, nfds > VU_MAX_FDS ? VU_MAX_FDS : nfds,
			      nfds > VU_MAX_FDS);
	}
	for (i = 0; i < nfds; i++)
		close_fd(&fds[i]);
	return rc;
}

/* ---- connection -------------------------------------------------------- */

static void rx_reset(struct vu_rx *rx)
{
	unsigned i;

	for (i = 0; i < rx->nfds; i++)
		close_fd(&rx->fds[i]);
	rx->nfds = 0;
	rx->got = 0;
	rx->fd_overflow = false;
}

static void rx_take_fds(struct vu_rx *rx, struct msghdr *mh)
{
	struct cmsghdr *c;

	if (mh->msg_flags & MSG_CTRUNC)
		rx->fd_overflow = true;
	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		int *p = (int *)CMSG_DATA(c);
		size_t i, n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, p + i, sizeof(fd));
			if (rx->nfds < VU_MAX_FDS) {
				rx->fds[rx->nfds++] = fd;
			} else {
				close(fd);
				rx->fd_overflow = true;
			}
		}
	}
}

static int hdr_check(struct vu_server *s, const struct vu_hdr *h)
{
	if ((h->flags & VU_FLAG_VERSION_MASK) != VU_FLAG_VERSION ||
	    (h->flags & ~(VU_FLAG_VERSION_MASK | VU_FLAG_NEED_REPLY))) {
		vb_guest_warn("%s: request %u: bad flags 0x%x", s->name, h->request,
			      h->flags);
		return -EPROTO;
	}
	if (h->size > VU_MAX_PAYLOAD) {
		vb_guest_warn("%s: request %u: payload %u bytes, over %u", s->name,
			      h->request, h->size, VU_MAX_PAYLOAD);
		return -EPROTO;
	}
	return 0;
}

/* Read one message, never past its end (fds travel with the first byte
 * of the next one).  1 = complete, 0 = need more, -errno = drop frontend. */
static int msg_recv(struct vu_server *s)
{
	struct vu_rx *rx = &s->rx;
	const size_t hdr = sizeof(struct vu_hdr);

	for (;;) {
		size_t want = rx->got < hdr ? hdr - rx->got
					    : hdr + rx->msg.hdr.size - rx->got;
		char cbuf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
		struct iovec iov = { (char *)&rx->msg + rx->got, want };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		ssize_t n;
		int rc;

		if (!want)
			return 1;
		n = recvmsg(s->conn_fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return -errno;
		rx_take_fds(rx, &mh);
		if (n == 0)
			return -ECONNRESET;
		rx->got += n;
		if (rx->got == hdr) {
			rc = hdr_check(s, &rx->msg.hdr);
			if (rc)
				return rc;
		}
	}
}

static void conn_cb(struct loop *l, int fd, uint32_t events, void *opaque)
{
	struct vu_server *s = opaque;
	int budget = VU_MSGS_PER_WAKEUP, rc;

	while (budget-- > 0 && s->conn_fd >= 0) {
		struct vu_rx *rx = &s->rx;

		rc = msg_recv(s);
		if (rc == 0)
			return;
		if (rc < 0) {
			if (rc == -ECONNRESET)
				vb_guest_info("%s: frontend closed the connection", s->name);
			else
				vb_guest_warn("%s: protocol error (%s), dropping the frontend",
					      s->name, strerror(-rc));
			vu_server_disconnect(s);
			return;
		}
		rc = dispatch(s, &rx->msg, rx->fds, rx->nfds, rx->fd_overflow);
		rx_reset(rx);
		fault_check(s);
		if (rc < 0) {
			vb_guest_warn("%s: dropping the frontend (%s)", s->name, strerror(-rc));
			vu_server_disconnect(s);
			return;
		}
	}
}

int vu_server_attach(struct vu_server *s, int fd)
{
	int rc;

	if (s->conn_fd >= 0)
		return -EBUSY;
	rc = set_nonblock(fd);
	if (!rc)
		rc = loop_add_fd(s->loop, fd, EPOLLIN, conn_cb, s);
	if (rc)
		return rc;
	s->conn_fd = fd;
	rx_reset(&s->rx);
	s->vd->connected = true;
	s->vd->broken = false;
	vb_guest_info("%s: frontend connected", s->name);
	return 0;
}

bool vu_server_connected(const struct vu_server *s)
{
	return s->conn_fd >= 0;
}

void vu_server_disconnect(struct vu_server *s)
{
	struct vdev *vd = s->vd;

	if (s->conn_fd < 0)
		return;
	vd->connected = false;
	dev_new_driver(s, "frontend gone");
	vqs_reset(s);
	req_close(s);
	vd->mem = NULL;
	guest_mem_clear(&s->mem);
	s->protocol_f_acked = false;
	vd->features = 0;
	vd->features_set = false;
	vd->broken = false;
	rx_reset(&s->rx);
	loop_del_fd(s->loop, s->conn_fd);
	close_fd(&s->conn_fd);
	vb_guest_info("%s: frontend disconnected, listening again", s->name);
}

static void listen_cb(struct loop *l, int fd, uint32_t events, void *opaque)
{
	struct vu_server *s = opaque;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (c < 0)
		return;
	if (s->conn_fd >= 0) {
		vb_guest_warn("%s: second frontend refused (one is connected)", s->name);
		close(c);
		return;
	}
	if (vu_server_attach(s, c))
		close(c);
}

static int listen_on(struct vu_server *s, const char *path)
{
	int fd, rc;

	/* One frontend at a time; a few may queue while it reconnects. */
	fd = unix_listen(path, 4);
	if (fd < 0)
		return fd;
	rc = loop_add_fd(s->loop, fd, EPOLLIN, listen_cb, s);
	if (rc) {
		close(fd);
		unlink(path);
		return rc;
	}
	s->listen_fd = fd;
	strcpy(s->path, path);
	return 0;
}

struct vu_server *vu_server_new(struct loop *l, const char *path, const char *name,
				struct vdev *vd)
{
	struct vu_server *s = calloc(1, sizeof(*s));
	unsigned i;
	int rc;

	if (!s)
		return NULL;
	s->loop = l;
	s->vd = vd;
	s->listen_fd = s->conn_fd = s->req_fd = -1;
	snprintf(s->name, sizeof(s->name), "%s", name ? name : "vhost-user");
	for (i = 0; i < VDEV_MAX_QUEUES; i++) {
		s->vqs[i].owner = s->name;
		virtq_init(&s->vqs[i], i);
	}
	if (path) {
		rc = listen_on(s, path);
		if (rc) {
			free(s);
			errno = -rc;
			return NULL;
		}
	}
	vd->transport = s;
	vd->config_changed = vu_config_changed;
	vd->mem = NULL;
	vd->connected = false;
	vd->broken = false;
	return s;
}

void vu_server_free(struct vu_server *s)
{
	if (!s)
		return;
	vu_server_disconnect(s);
	if (s->listen_fd >= 0) {
		loop_del_fd(s->loop, s->listen_fd);
		close(s->listen_fd);
		unlink(s->path);
	}
	s->vd->transport = NULL;
	s->vd->config_changed = NULL;
	free(s);
}
