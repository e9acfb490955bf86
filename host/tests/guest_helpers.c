// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * guest_helpers.c - the fake guest shared by the unit tests and fuzzers
 * (see guest_helpers.h).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_helpers.h"

static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "guest_helpers: %s failed\n", what);
		abort();
	}
}

int tg_memfd(uint64_t size)
{
	int fd = memfd_create("guest-ram", MFD_CLOEXEC);

	must(fd >= 0 && ftruncate(fd, size) == 0, "RAM memfd");
	return fd;
}

void tg_init(struct tg *g, uint64_t gpa, uint64_t size, uint64_t off, uint64_t file_size)
{
	struct guest_region r = { .gpa = gpa, .size = size, .uaddr = gpa,
				  .mmap_offset = off };
	unsigned q;

	memset(g, 0, sizeof(*g));
	must(off + size <= file_size, "RAM layout");
	g->memfd = tg_memfd(file_size);
	g->file = mmap(NULL, file_size, PROT_READ | PROT_WRITE, MAP_SHARED, g->memfd, 0);
	must(g->file != MAP_FAILED, "RAM mapping");
	g->file_size = file_size;
	g->gpa = gpa;
	g->size = size;
	g->off = off;
	r.fd = dup(g->memfd);
	must(r.fd >= 0 && guest_mem_set_table(&g->mem, &r, 1) == 0, "memory table");
	for (q = 0; q < VDEV_MAX_QUEUES; q++)
		virtq_init(&g->vq[q], q);
}

void tg_free(struct tg *g)
{
	guest_mem_clear(&g->mem);
	munmap(g->file, g->file_size);
	close(g->memfd);
}

void *tg_ptr(struct tg *g, uint64_t gpa)
{
	must(gpa >= g->gpa && gpa - g->gpa < g->size, "address inside guest RAM");
	return g->file + g->off + (gpa - g->gpa);
}

/* The spec's split ring: avail and used carry a trailing event word. */
static uint64_t avail_at(uint16_t num)
{
	return 16ULL * num;
}

static uint64_t used_at(uint16_t num)
{
	return (avail_at(num) + 6 + 2ULL * num + 3) & ~3ULL;
}

uint64_t tg_ring_bytes(uint16_t num)
{
	return used_at(num) + 6 + 8ULL * num;
}

struct virtq *tg_ring(struct tg *g, unsigned q, uint16_t num, uint64_t gpa)
{
	struct virtq *vq = &g->vq[q];

	must(q < VDEV_MAX_QUEUES, "queue index");
	memset(tg_ptr(g, gpa), 0, tg_ring_bytes(num));
	virtq_init(vq, q);
	vq->num = num;
	vq->desc_uva = gpa;
	vq->avail_uva = gpa + avail_at(num);
	vq->used_uva = gpa + used_at(num);
	vq->addr_set = true;
	must(virtq_map(vq, &g->mem) == 0, "ring mapping");
	g->avail[q] = 0;
	g->next_desc[q] = 0;
	return vq;
}

struct virtq_avail *tg_avail(struct tg *g, unsigned q)
{
	return tg_ptr(g, g->vq[q].avail_uva);
}

uint16_t tg_used_idx(struct tg *g, unsigned q)
{
	struct virtq_used *u = tg_ptr(g, g->vq[q].used_uva);

	return __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);
}

void tg_post(struct tg *g, unsigned q, const uint64_t *addr, const uint32_t *len,
	     const uint16_t *flags, unsigned n)
{
	struct virtq *vq = &g->vq[q];
	struct virtq_desc *d = tg_ptr(g, vq->desc_uva);
	struct virtq_avail *av = tg_avail(g, q);
	uint16_t head = g->next_desc[q];
	unsigned i;

	for (i = 0; i < n; i++) {
		uint16_t slot = (head + i) % vq->num;

		d[slot].addr = addr[i];
		d[slot].len = len[i];
		d[slot].flags = flags[i] | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
		d[slot].next = (head + i + 1) % vq->num;
	}
	g->next_desc[q] = (head + n) % vq->num;
	av->ring[g->avail[q] % vq->num] = head;
	g->avail[q]++;
	/* Release: the device sees the entry before the index covering it. */
	__atomic_store_n(&av->idx, g->avail[q], __ATOMIC_RELEASE);
}

int tg_negotiate(struct vdev *vd, uint64_t features)
{
	int rc = vd->ops->set_features(vd, features);

	if (!rc) {
		vd->features = features;
		vd->features_set = true;
	}
	return rc;
}

/* The transport's rule for what queue_ready/queue_kick return. */
static int dev_result(struct vdev *vd, int rc)
{
	if (rc < 0)
		vd->broken = true;
	return rc;
}

int tg_ready(struct vdev *vd, unsigned q)
{
	return vd->broken ? 0 : dev_result(vd, vd->ops->queue_ready(vd, q));
}

int tg_kick(struct vdev *vd, unsigned q)
{
	return vd->broken ? 0 : dev_result(vd, vd->ops->queue_kick(vd, q));
}

void tg_dev_up(struct tg *g, struct vdev *vd, uint16_t num, uint64_t ring_gpa,
	       uint64_t stride)
{
	unsigned q, nq = vd->ops->num_queues(vd);

	must(nq <= VDEV_MAX_QUEUES, "queue count");
	vd->mem = &g->mem;
	vd->connected = true;
	for (q = 0; q < nq; q++)
		vd->vq[q] = tg_ring(g, q, num, ring_gpa + q * stride);
	for (q = 0; q < nq; q++)
		tg_ready(vd, q);
}

void tg_dev_down(struct tg *g, struct vdev *vd)
{
	unsigned q;

	vd->ops->stop(vd);
	for (q = 0; q < VDEV_MAX_QUEUES; q++) {
		virtq_unmap(&g->vq[q]);
		vd->vq[q] = NULL;
	}
}
