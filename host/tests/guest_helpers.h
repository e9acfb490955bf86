/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * guest_helpers.h - a fake guest for the unit tests and the fuzzers: its RAM
 * file shared through the real guest_mem translator, split rings laid out
 * in that RAM and mapped by the real virtq code, and a device brought up
 * and driven the way the vhost-user transport does it.
 *
 * Every helper abort()s on failure: they serve cmocka tests and libFuzzer
 * harnesses alike, and a fixture that cannot be built is a broken test.
 */
#ifndef VB_GUEST_HELPERS_H
#define VB_GUEST_HELPERS_H

#include <stdint.h>

#include "guest_mem.h"
#include "vdev.h"
#include "virtq.h"

struct tg {
	int memfd;			/* the RAM file */
	uint8_t *file;			/* all of it mapped: the guest's view */
	uint64_t file_size;
	uint64_t gpa, size, off;	/* guest RAM: [gpa, gpa + size) at file offset off */
	struct guest_mem mem;		/* the daemon's view, as after SET_MEM_TABLE */
	struct virtq vq[VDEV_MAX_QUEUES];
	uint16_t avail[VDEV_MAX_QUEUES];	/* next avail idx the guest publishes */
	uint16_t next_desc[VDEV_MAX_QUEUES];	/* next free descriptor */
};

/* A memfd of size bytes (a frontend's RAM file). */
int tg_memfd(uint64_t size);

/* RAM file of file_size bytes; guest RAM is [gpa, gpa + size) at file
 * offset off, user address == gpa, shared through g->mem. */
void tg_init(struct tg *g, uint64_t gpa, uint64_t size, uint64_t off, uint64_t file_size);
void tg_free(struct tg *g);
/* The guest's pointer to gpa (through g->file). */
void *tg_ptr(struct tg *g, uint64_t gpa);

/* Bytes a ring of num entries takes: descriptors, avail, used (aligned). */
uint64_t tg_ring_bytes(uint16_t num);
/* Lay out vq[q] at gpa (zeroed: descriptors, avail, used), map it. */
struct virtq *tg_ring(struct tg *g, unsigned q, uint16_t num, uint64_t gpa);
/* The guest posts a chain of n descriptors (readable ones first) on q. */
void tg_post(struct tg *g, unsigned q, const uint64_t *addr, const uint32_t *len,
	     const uint16_t *flags, unsigned n);
struct virtq_avail *tg_avail(struct tg *g, unsigned q);
uint16_t tg_used_idx(struct tg *g, unsigned q);

/* The transport's part.  Negotiate: the device accepts or refuses
 * features; accepted ones are stored in vd.  0 or the device's -errno. */
int tg_negotiate(struct vdev *vd, uint64_t features);
/* Memory and one ring of num entries per queue the device has (queue q at
 * ring_gpa + q * stride), then queue_ready for each. */
void tg_dev_up(struct tg *g, struct vdev *vd, uint16_t num, uint64_t ring_gpa,
	       uint64_t stride);
/* Queue q is ready / kicked, unless the device is broken; an error from
 * the device marks it broken (vdev.h).  The device's result, 0 if broken. */
int tg_ready(struct vdev *vd, unsigned q);
int tg_kick(struct vdev *vd, unsigned q);
/* Stop the device and forget its rings (a re-initialisation). */
void tg_dev_down(struct tg *g, struct vdev *vd);

#endif /* VB_GUEST_HELPERS_H */
