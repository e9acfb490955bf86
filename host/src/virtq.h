/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtq.h - split virtqueue state, owned by the transport (vhost_user.c).
 *
 * The device only calls the accessors declared in vdev.h (virtq_pop/push/
 * notify/size).  The ring layout is the virtio 1.x split ring; every field
 * the guest can write is read once into local memory and checked.
 */
#ifndef VB_VIRTQ_H
#define VB_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>

#include "vdev.h"

#define VIRTQ_MAX_SIZE		32768

/* Descriptor flags and avail flags (virtio spec 2.7). */
#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_DESC_F_INDIRECT	4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];
};

struct virtq {
	unsigned index;
	const char *owner;		/* guest name for log lines (may be NULL) */
	/* Configuration as the frontend sent it. */
	uint16_t num;			/* 0 = not set */
	uint16_t last_avail_idx;	/* next avail entry to consume */
	bool addr_set;
	uint64_t desc_uva, avail_uva, used_uva;
	int kick_fd;			/* -1 = none */
	int call_fd;			/* -1 = none */
	int err_fd;			/* stored only, never written */
	int8_t enable;			/* -1 never set, 0 off, 1 on */
	bool kicked;			/* kicked while not ready */
	/* Mapped state, valid while ready. */
	bool ready;
	const struct guest_mem *mem;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t used_idx;		/* next used index we publish */
	bool need_notify;		/* pushed since the last notify */
};

/* Reset everything but the fds (set to -1). */
void virtq_init(struct virtq *vq, unsigned index);
/* Translate the ring with guest memory; the whole ring must lie in one
 * region and be aligned as the spec asks.  0 or -errno. */
int virtq_map(struct virtq *vq, const struct guest_mem *m);
/* Forget the mapping (guest memory is about to go away). */
void virtq_unmap(struct virtq *vq);

#endif /* VB_VIRTQ_H */
