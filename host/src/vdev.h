/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vdev.h - the boundary between a transport (vhost-user.c) and a device model
 * (balloon.c).  The device sees "a buffer arrived on queue N", never sockets;
 * a unit test drives the same entry points a vhost-user message would.
 *
 * Ownership: the transport owns guest_mem and the virtqueues; they are valid
 * from ops->start() until ops->stop().  The device owns its private state.
 */
#ifndef VB_VDEV_H
#define VB_VDEV_H

#include <stdbool.h>
#include <stdint.h>
#include "guest_mem.h"

#define VDEV_MAX_QUEUES		8
/* Longest descriptor chain accepted; longer chains are refused as hostile. */
#define VQ_ELEM_MAX_SEGS	256

struct virtq;
struct vdev;

/* One guest buffer segment, already checked to lie inside guest RAM. */
struct vq_seg {
	uint64_t gpa;
	uint32_t len;		/* > 0 */
};

/* A popped descriptor chain: n_out driver-readable segments first, then
 * n_in device-writable ones (seg[n_out .. n_out + n_in)). */
struct vq_elem {
	uint16_t head;
	uint16_t n_out;
	uint16_t n_in;
	uint32_t out_len;	/* total bytes of the out segments */
	uint32_t in_len;
	struct vq_seg seg[VQ_ELEM_MAX_SEGS];
};

/* Split virtqueue, parsed as hostile input (virtq.c).
 * virtq_pop: 1 = elem filled, 0 = nothing available, -errno = the guest broke
 * the ring (the caller marks the device broken).  Every segment is validated
 * against guest RAM here: this is the choke point for descriptor input. */
int virtq_pop(struct virtq *vq, struct vq_elem *elem);
/* Return a chain to the guest with `written` bytes written into its in segments. */
int virtq_push(struct virtq *vq, const struct vq_elem *elem, uint32_t written);
/* Signal the guest (call fd) if anything was pushed since the last notify. */
void virtq_notify(struct virtq *vq);
uint16_t virtq_size(const struct virtq *vq);

struct vdev_ops {
	uint32_t device_id;
	/* Device feature bits offered (0-23).  Transport bits, VERSION_1
	 * included, are the transport's to offer. */
	uint64_t (*get_features)(struct vdev *vd);
	/* Driver's accepted features; -EINVAL refuses the combination. */
	int (*set_features)(struct vdev *vd, uint64_t features);
	/* Config space; the transport has checked off + len <= config_size(). */
	uint32_t (*config_size)(struct vdev *vd);
	void (*get_config)(struct vdev *vd, uint32_t off, void *buf, uint32_t len);
	void (*set_config)(struct vdev *vd, uint32_t off, const void *buf, uint32_t len);
	/* Queues the driver uses for the negotiated features (dense numbering). */
	unsigned (*num_queues)(struct vdev *vd);
	/*
	 * Memory table and queue idx are usable (kick fd + addresses set);
	 * the guest kicked queue idx.  0, or -errno when the guest broke the
	 * queue beyond recovery (a corrupted ring): the transport then marks
	 * the device broken and delivers none of this guest's input until the
	 * frontend re-initialises.  A bad request is not such an error: the
	 * device refuses it and goes on.
	 */
	int (*queue_ready)(struct vdev *vd, unsigned idx);
	int (*queue_kick)(struct vdev *vd, unsigned idx);
	/* Frontend gone or re-initialising (new mem table, module reload):
	 * drop every reference into guest memory and queues.  Device state
	 * that must survive a reconnect (target) is kept. */
	void (*stop)(struct vdev *vd);
};

struct vdev {
	const struct vdev_ops *ops;
	void *priv;			/* device model */
	/* set by the transport */
	struct guest_mem *mem;		/* NULL when no table */
	struct virtq *vq[VDEV_MAX_QUEUES];	/* NULL until set up */
	/* The negotiated features, kept only here: stored once the device's
	 * set_features accepted them, cleared when the frontend goes away. */
	uint64_t features;
	bool features_set;
	bool connected;
	bool broken;			/* guest input ignored (see queue_kick) */
	/* Transport hook: tell the driver the config changed (backend request
	 * channel CONFIG_CHANGE_MSG).  Never blocks.  0 or -errno. */
	int (*config_changed)(struct vdev *vd);
	void *transport;
};

#endif /* VB_VDEV_H */
