// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * balloon.c - the virtio balloon device model (device id 5), one instance per
 * guest: its lifecycle and the struct vdev_ops the transport (vhost_user.c)
 * calls.  The device never sees a socket.
 *
 * Everything a guest puts in a buffer is hostile: PFNs are checked against
 * guest RAM before anything is discarded, a bad request is refused as a whole
 * (nothing of it is discarded) and still returned to the guest so the driver
 * does not wait forever, and a corrupted ring is reported to the transport,
 * which marks the device broken.
 *
 * Top of the device's files: queue handlers are in balloon_queues.c, free
 * page hints in balloon_hint.c, what they all share in balloon_core.c; none
 * of those calls back up here (docs/host-transport.md draws the graph).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balloon_priv.h"

void balloon_opts_default(struct balloon_opts *o)
{
	memset(o, 0, sizeof(*o));
	/* DEFLATE_ON_OOM off, as QEMU, cloud-hypervisor and Firecracker
	 * default it: without it the in-tree driver takes ballooned pages out
	 * of MemTotal, so the guest's size follows the target. */
	o->stats = true;
	o->free_page_hint = true;
	o->page_poison = true;
	o->page_reporting = true;
	o->page_ranges = true;
	o->cont_pages = true;
	o->pages_order = -1;
	o->floor = BALLOON_FLOOR_DEFAULT;
}

const char *balloon_name(const struct balloon *b)
{
	return b->opts.name;
}

/* ---- vdev entry points and lifecycle ------------------------------------ */

static int op_queue_ready(struct vdev *vd, unsigned idx)
{
	struct balloon *b = vd->priv;
	int role = balloon_queue_role(balloon_features(b), idx);

	if (idx >= VDEV_MAX_QUEUES || role < 0) {
		vb_guest_warn("%s: queue %u does not exist", b->opts.name, idx);
		b->refused++;
		return 0;
	}
	balloon_start(b);
	if (role == VB_Q_REPORTING && vd->vq[idx] && virtq_size(vd->vq[idx]) < 32)
		vb_guest_warn("%s: reporting queue has %u entries (< 32)",
			      b->opts.name, virtq_size(vd->vq[idx]));
	/* Buffers may have been queued before the kick fd was set up. */
	return balloon_queue_kick(vd, idx);
}

static void op_reset(struct vdev *vd)
{
	struct balloon *b = vd->priv;

	/* The new driver never saw the buffers the old one gave us. */
	b->stats_elem_held = false;
	balloon_hint_reset(b);
	balloon_stop(b);
}

static const struct vdev_ops balloon_ops = {
	.device_id = VIRTIO_ID_BALLOON,
	.get_features = balloon_get_features,
	.set_features = balloon_set_features,
	.config_size = balloon_config_size,
	.get_config = balloon_get_config,
	.set_config = balloon_set_config,
	.num_queues = balloon_num_queues,
	.queue_ready = op_queue_ready,
	.queue_kick = balloon_queue_kick,
	.reset = op_reset,
};

struct balloon *balloon_new(const struct balloon_opts *o, struct loop *l)
{
	struct balloon *b;

	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->elem = malloc(sizeof(*b->elem));
	b->stats_elem = malloc(sizeof(*b->stats_elem));
	if (!b->elem || !b->stats_elem)
		goto fail;
	b->opts = *o;
	b->opts.name[sizeof(b->opts.name) - 1] = '\0';
	b->loop = l;
	b->vdev.ops = &balloon_ops;
	b->vdev.priv = b;
	b->ram_size = o->ram_size;
	range_set_init(&b->hint.set, 0);
	balloon_hint_reset(b);
	if (balloon_set_stats_interval(b, o->stats_interval_s) < 0)
		vb_warn("%s: cannot start stats polling", b->opts.name);
	return b;
fail:
	free(b->elem);
	free(b->stats_elem);
	free(b);
	return NULL;
}

struct vdev *balloon_vdev(struct balloon *b)
{
	return &b->vdev;
}

void balloon_free(struct balloon *b)
{
	if (!b)
		return;
	balloon_set_stats_interval(b, 0);	/* deletes the polling timer */
	range_set_free(&b->hint.set);
	free(b->elem);
	free(b->stats_elem);
	free(b);
}
