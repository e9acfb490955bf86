// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_virtq.c - libFuzzer harness for the split-ring walker and, behind
 * it, every balloon request handler (inflate, deflate, stats, hints,
 * reporting, range extension).
 *
 * Input: byte 0 = queue index, byte 1 = feature selector, then the bytes
 * that land in guest RAM at the ring (descriptor table, avail ring) and in
 * the data area the descriptors usually point to.  Guest RAM is a memfd at
 * GPA_BASE; anything the device discards must lie inside it.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "balloon.h"
#include "guest_helpers.h"
#include "log.h"

#define GPA_BASE	0x100000ULL
#define RAM_SIZE	(2 << 20)
#define QSIZE		16
#define RING_GPA	GPA_BASE			/* desc, avail, used: one ring */
#define DATA_GPA	(GPA_BASE + 0x1000)		/* buffers */
#define DATA_SIZE	0x4000

static struct tg g;
static struct balloon *b;
static struct vdev *vd;

static void init(void)
{
	struct balloon_opts o;

	vb_log_set_level(VB_LOG_ERR);
	tg_init(&g, GPA_BASE, RAM_SIZE, 0, RAM_SIZE);
	balloon_opts_default(&o);
	strcpy(o.name, "fuzz");
	b = balloon_new(&o, NULL);
	if (!b)
		abort();
	vd = balloon_vdev(b);
}

/* The device only ever sees features it offered. */
static uint64_t pick_features(uint8_t sel)
{
	uint64_t offered = vd->ops->get_features(vd);
	uint64_t f = 1ULL << 32;
	unsigned i;

	for (i = 0; i < 24; i++)
		if ((offered >> i) & 1 && (sel >> (i % 8)) & 1)
			f |= 1ULL << i;
	/* vary the high selector bits across the low feature bits too */
	if (sel & 0x80)
		f |= offered & 0xff0000;
	return f & (offered | (1ULL << 32));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *ram;
	unsigned q, nq, i;
	size_t ring_bytes = 16 * QSIZE + 6 + 2 * QSIZE, n;

	if (!b)
		init();
	if (size < 2)
		return 0;
	ram = tg_ptr(&g, GPA_BASE);
	memset(ram, 0, 0x1000 + DATA_SIZE);
	if (tg_negotiate(vd, pick_features(data[1])))
		return 0;
	vd->mem = &g.mem;
	nq = vd->ops->num_queues(vd);
	q = data[0] % (nq ? nq : 1);
	/* Every queue shares the one ring; only q is kicked.  The ring is
	 * laid out (zeroed) first, then the input fills its descriptor table
	 * and avail ring, and the data area behind it. */
	for (i = 0; i < nq && i < VDEV_MAX_QUEUES; i++)
		vd->vq[i] = tg_ring(&g, i, QSIZE, RING_GPA);
	data += 2;
	size -= 2;
	n = size < ring_bytes ? size : ring_bytes;
	memcpy(ram, data, n);
	data += n;
	size -= n;
	memcpy(ram + 0x1000, data, size < DATA_SIZE ? size : DATA_SIZE);
	for (i = 0; i < nq && i < VDEV_MAX_QUEUES; i++)
		tg_ready(vd, i);
	tg_kick(vd, q);
	tg_dev_down(&g, vd);
	vd->broken = false;
	vd->mem = NULL;
	return 0;
}
