// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_balloon.c - libFuzzer harness for the balloon device model driven
 * through its vdev_ops, as the vhost-user transport drives it.
 *
 * Unlike fuzz_virtq (raw ring bytes), this harness reads the input as a
 * small program: the fuzzer picks features and device options, then
 * builds well-formed (or deliberately broken) split-ring descriptor chains
 * on any queue, fills them with PFN arrays, range entries, stats or hint
 * buffers aimed mostly inside guest RAM and sometimes just outside it,
 * kicks queues, writes config space, and interleaves the control-plane
 * calls (targets, hint rounds, stats requests, stop/restart).  Well-formed
 * rings get past the walker, so the request handlers see most inputs.
 *
 * Guest RAM is a memfd region [RAM_BASE, RAM_END) mapped through the real
 * guest_mem translator.  The same memfd holds canary bytes below RAM_BASE
 * and above RAM_END (as the UML kernel image sits below shared RAM): after
 * every input they must be intact, i.e. the device never discarded or
 * wrote anything outside the guest's RAM.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vballoon_abi.h"
#include "balloon.h"
#include "guest_helpers.h"
#include "log.h"

#define PAGE		4096ULL
#define RAM_BASE	0x10000ULL	/* canary below: "kernel image" */
#define RAM_SIZE	(1ULL << 20)
#define RAM_END		(RAM_BASE + RAM_SIZE)
#define GUARD		0x10000ULL	/* canary above RAM */
#define FILE_SIZE	(RAM_END + GUARD)
#define QSIZE		16
#define RING_STRIDE	0x1000ULL	/* queue q's ring at RAM_BASE + q * stride */
#define DATA		(RAM_BASE + 0x8000ULL)		/* request buffers */
#define DATA_END	(RAM_BASE + 0x10000ULL)
#define CANARY		0xc5

static struct tg g;		/* g.file: the whole RAM file, offset == gpa */
static uint8_t *file;

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t get8(struct in *in)
{
	uint8_t v = 0;

	if (in->n) {
		v = *in->p++;
		in->n--;
	}
	return v;
}

static uint16_t get16(struct in *in)
{
	return get8(in) | (uint16_t)get8(in) << 8;
}

static uint32_t get32(struct in *in)
{
	return get16(in) | (uint32_t)get16(in) << 16;
}

static uint64_t get64(struct in *in)
{
	return get32(in) | (uint64_t)get32(in) << 32;
}

static int config_changed(struct vdev *vd)
{
	return 0;
}

static void init_once(void)
{
	vb_log_set_level(VB_LOG_ERR);
	tg_init(&g, RAM_BASE, RAM_SIZE, RAM_BASE, FILE_SIZE);
	file = g.file;
}

static void canaries_set(void)
{
	memset(file, CANARY, RAM_BASE);
	memset(file + RAM_END, CANARY, GUARD);
}

static void canaries_check(void)
{
	static uint8_t want[RAM_BASE > GUARD ? RAM_BASE : GUARD];

	if (!want[0])
		memset(want, CANARY, sizeof(want));
	if (memcmp(file, want, RAM_BASE) || memcmp(file + RAM_END, want, GUARD)) {
		fprintf(stderr, "fuzz_balloon: bytes outside guest RAM changed\n");
		abort();
	}
}

/* A PFN the fuzzer steers: mostly inside RAM, sometimes at or just past
 * either edge, sometimes anything at all. */
static uint64_t pick_pfn(struct in *in)
{
	uint8_t mode = get8(in);
	uint32_t x = get32(in);
	uint64_t first = RAM_BASE / PAGE, n = RAM_SIZE / PAGE;

	switch (mode & 3) {
	case 0:
	case 1:
		return first + x % n;
	case 2:
		return first - 8 + x % (n + 16);	/* straddles both edges */
	default:
		return x;
	}
}

/* Fill [gpa, gpa + len) with a request payload of the given kind. */
static void fill_payload(struct in *in, uint64_t gpa, uint32_t len, uint8_t kind)
{
	uint8_t *p = file + gpa;
	uint32_t i;

	switch (kind & 3) {
	case 0:		/* le32 PFNs */
		for (i = 0; i + 4 <= len; i += 4) {
			uint32_t v = htole32((uint32_t)pick_pfn(in));

			memcpy(p + i, &v, 4);
		}
		break;
	case 1:		/* struct vb_range entries */
		for (i = 0; i + sizeof(struct vb_range) <= len; i += sizeof(struct vb_range)) {
			struct vb_range r;
			uint8_t sel = get8(in);

			r.pfn = htole64(pick_pfn(in));
			r.npages = htole32(sel & 0x80 ? get32(in) : (uint32_t)(1u << (sel & 9)) + (sel & 0x40 ? 1 : 0));
			r.reserved = htole32(sel & 0x20 ? get8(in) : 0);
			memcpy(p + i, &r, sizeof(r));
		}
		break;
	case 2:		/* stats: packed {le16 tag; le64 val} */
		for (i = 0; i + 10 <= len; i += 10) {
			uint16_t tag = htole16(get8(in) % 20);
			uint64_t val = htole64(get64(in));

			memcpy(p + i, &tag, 2);
			memcpy(p + i + 2, &val, 8);
		}
		break;
	default:	/* raw bytes (hint cmd ids, garbage) */
		for (i = 0; i < len; i++)
			p[i] = get8(in);
		break;
	}
}

/*
 * OP_CHAIN: q, nseg, flags; per segment: kind, len selector, placement.
 * Descriptors go in order into the queue's table; the chain's head is
 * published in the avail ring.  Breakage knobs: a next pointer that loops
 * or leaves the table, a segment address outside RAM, a zero length.
 */
static void op_chain(struct vdev *vd, struct in *in, uint64_t *bump)
{
	unsigned nq = vd->ops->num_queues(vd);
	unsigned q = get8(in) % (nq ? nq : 1);
	unsigned nseg = get8(in) % 5 + 1, s;
	uint8_t flags = get8(in);
	struct virtq_desc *desc;
	struct virtq_avail *av;
	uint16_t head;

	if (!vd->vq[q])
		return;
	desc = tg_ptr(&g, g.vq[q].desc_uva);
	av = tg_avail(&g, q);
	head = g.next_desc[q];
	for (s = 0; s < nseg; s++) {
		uint16_t d = (head + s) % QSIZE;
		uint8_t kind = get8(in);
		uint32_t len = ((uint32_t)get8(in) + 1) * 4;
		uint64_t addr;

		if (*bump + len > DATA_END)
			*bump = DATA;
		addr = *bump;
		*bump += (len + 7) & ~7u;
		fill_payload(in, addr, len, kind);
		if (kind & 0x40)	/* segment outside RAM */
			addr = (kind & 0x80) ? RAM_END - 8 : get64(in);
		if (kind & 0x20 && !(kind & 0x10))
			len = 0;
		desc[d].addr = htole64(addr);
		desc[d].len = htole32(len);
		desc[d].flags = htole16((kind & 0x10 ? VIRTQ_DESC_F_WRITE : 0) |
					(s + 1 < nseg ? VIRTQ_DESC_F_NEXT : 0) |
					(kind & 0x08 && kind & 0x04 ? VIRTQ_DESC_F_INDIRECT : 0));
		desc[d].next = htole16((head + s + 1) % QSIZE);
	}
	if (flags & 0x01)	/* loop back to the head */
		desc[(head + nseg - 1) % QSIZE].flags |= htole16(VIRTQ_DESC_F_NEXT),
		desc[(head + nseg - 1) % QSIZE].next = htole16(head);
	if (flags & 0x02)	/* next outside the table */
		desc[head].flags |= htole16(VIRTQ_DESC_F_NEXT),
		desc[head].next = htole16(QSIZE + (flags >> 4));
	g.next_desc[q] = (head + nseg) % QSIZE;
	av->ring[g.avail[q] % QSIZE] = htole16(flags & 0x04 ? get16(in) : head);
	g.avail[q]++;
	/* avail idx: normally one more; sometimes absurd */
	av->idx = htole16(flags & 0x08 ? get16(in) : g.avail[q]);
	if (!(flags & 0x80))
		tg_kick(vd, q);
}

/* Hinted ranges handed to a migration tool must lie inside guest RAM. */
static void hint_range_cb(uint64_t gpa, uint64_t len, void *opaque)
{
	if (!len || gpa < RAM_BASE || gpa + len > RAM_END || gpa + len < gpa) {
		fprintf(stderr, "fuzz_balloon: hinted range [%#llx, +%#llx) outside RAM\n",
			(unsigned long long)gpa, (unsigned long long)len);
		abort();
	}
}

static void run(struct in *in)
{
	struct balloon_opts o;
	struct balloon_info info;
	struct balloon *b;
	struct vdev *vd;
	uint64_t bump = DATA, offered, features;
	uint8_t sel = get8(in), buf[64];
	unsigned steps = 0;

	balloon_opts_default(&o);
	snprintf(o.name, sizeof(o.name), "fuzz");
	o.hint_discard = sel & 1;
	o.deflate_on_oom = sel & 2;
	o.pages_order = sel & 4 ? (int)(get8(in) % 12) - 1 : -1;
	o.ram_size = sel & 8 ? get64(in) : 0;
	b = balloon_new(&o, NULL);
	if (!b)
		abort();
	vd = balloon_vdev(b);
	vd->config_changed = config_changed;
	offered = vd->ops->get_features(vd);
	features = (get32(in) & offered) | (1ULL << 32);	/* + VERSION_1, as the transport */
	if (sel & 0x10)		/* rarely: bits the device never offered */
		features = get64(in);
	if (tg_negotiate(vd, features))
		goto out;
	if (sel & 0x20) {	/* poison value before the queues, as Linux does */
		uint32_t pv = get32(in);

		vd->ops->set_config(vd, 12, &pv, 4);
	}
	tg_dev_up(&g, vd, QSIZE, RAM_BASE, RING_STRIDE);

	while (in->n && steps++ < 64) {
		uint8_t op = get8(in);
		uint32_t off, len;

		switch (op % 12) {
		case 0: case 1: case 2: case 3:
			op_chain(vd, in, &bump);
			break;
		case 4:
			tg_kick(vd, get8(in) % VDEV_MAX_QUEUES);
			break;
		case 5:		/* config write: actual, poison, anything */
			off = get8(in) % 40;
			len = get8(in) % 9;
			memset(buf, 0, sizeof(buf));
			for (unsigned i = 0; i < len; i++)
				buf[i] = get8(in);
			if (off + len <= vd->ops->config_size(vd))
				vd->ops->set_config(vd, off, buf, len);
			break;
		case 6:
			off = get8(in) % 40;
			len = get8(in) % 9;
			if (off + len <= vd->ops->config_size(vd))
				vd->ops->get_config(vd, off, buf, len);
			break;
		case 7:
			balloon_set_target(b, get8(in) & 1 ? get64(in) :
					   RAM_SIZE - (uint64_t)get16(in) * PAGE);
			break;
		case 8:
			switch (get8(in) % 3) {
			case 0: balloon_hint_start(b); break;
			case 1: balloon_hint_stop(b); break;
			default: balloon_hint_done(b); break;
			}
			break;
		case 9:
			balloon_request_stats(b);
			break;
		case 10: {
			struct balloon_stats st;

			balloon_get_info(b, &info);
			balloon_get_stats(b, &st);
			balloon_hint_ranges(b, hint_range_cb, NULL);
			break;
		}
		case 11:	/* module reload: rings re-sent */
			tg_dev_down(&g, vd);
			vd->broken = false;	/* the new rings clear it */
			tg_dev_up(&g, vd, QSIZE, RAM_BASE, RING_STRIDE);
			break;
		}
	}
out:
	tg_dev_down(&g, vd);
	balloon_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };

	if (!file)
		init_once();
	canaries_set();
	memset(file + RAM_BASE, 0, DATA_END - RAM_BASE);
	run(&in);
	canaries_check();
	return 0;
}
