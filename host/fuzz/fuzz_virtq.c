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
#include <sys/mman.h>
#include <unistd.h>

#include "balloon.h"
#include "guest_mem.h"
#include "log.h"
#include "vdev.h"
#include "virtq.h"

#define GPA_BASE	0x100000ULL
#define RAM_SIZE	(2 << 20)
#define QSIZE		16
#define RING_GPA	GPA_BASE			/* desc, avail, used */
#define DATA_GPA	(GPA_BASE + 0x1000)		/* buffers */
#define DATA_SIZE	0x4000

static struct guest_mem mem;
static struct virtq vqs[VDEV_MAX_QUEUES];
static struct balloon *b;
static struct vdev *vd;

static void init(void)
{
	struct guest_region r = { .gpa = GPA_BASE, .size = RAM_SIZE, .uaddr = GPA_BASE };
	struct balloon_opts o;

	vb_log_set_level(VB_LOG_ERR);
	r.fd = memfd_create("fuzz-ram", MFD_CLOEXEC);
	if (r.fd < 0 || ftruncate(r.fd, RAM_SIZE) || guest_mem_set_table(&mem, &r, 1))
		abort();
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
	uint64_t len = RAM_SIZE;
	uint8_t *ram;
	unsigned q, nq, i;
	size_t ring_bytes = 16 * QSIZE + 6 + 2 * QSIZE, n;

	if (!b)
		init();
	if (size < 2)
		return 0;
	ram = guest_mem_gpa_to_hva(&mem, GPA_BASE, &len);
	memset(ram, 0, 0x1000 + DATA_SIZE);
	if (vd->ops->set_features(vd, pick_features(data[1])))
		return 0;
	vd->features = pick_features(data[1]);
	vd->mem = &mem;
	nq = vd->ops->num_queues(vd);
	q = data[0] % (nq ? nq : 1);
	data += 2;
	size -= 2;
	n = size < ring_bytes ? size : ring_bytes;
	memcpy(ram, data, n);
	data += n;
	size -= n;
	memcpy(ram + 0x1000, data, size < DATA_SIZE ? size : DATA_SIZE);

	for (i = 0; i < nq && i < VDEV_MAX_QUEUES; i++) {
		virtq_init(&vqs[i], i);
		vqs[i].num = QSIZE;
		/* every queue shares the fuzzed ring; only q is kicked */
		vqs[i].desc_uva = RING_GPA;
		vqs[i].avail_uva = RING_GPA + 16 * QSIZE;
		vqs[i].used_uva = RING_GPA + 0x800;
		vqs[i].addr_set = true;
		if (virtq_map(&vqs[i], &mem))
			abort();
		vd->vq[i] = &vqs[i];
	}
	for (i = 0; i < nq && i < VDEV_MAX_QUEUES; i++)
		vd->ops->queue_ready(vd, i);
	vd->ops->queue_kick(vd, q);
	vd->ops->stop(vd);
	for (i = 0; i < VDEV_MAX_QUEUES; i++) {
		virtq_unmap(&vqs[i]);
		vd->vq[i] = NULL;
	}
	vd->broken = false;
	vd->mem = NULL;
	return 0;
}
