// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtq.c - split virtqueue walker.  The guest writes the ring concurrently
 * and may be hostile: every index and descriptor field is loaded once and
 * checked before use, chains are bounded, and every buffer segment is
 * validated against guest RAM here (the choke point for descriptor input).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "virtq.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtio 1.x rings are little-endian; this walker assumes a little-endian host"
#endif

_Static_assert(sizeof(struct virtq_desc) == 16, "descriptor layout");

#define VQ_OWNER(vq)	((vq)->owner ? (vq)->owner : "?")
_Static_assert(sizeof(struct virtq_used_elem) == 8, "used element layout");

void virtq_init(struct virtq *vq, unsigned index)
{
	const char *owner = vq->owner;

	memset(vq, 0, sizeof(*vq));
	vq->owner = owner;
	vq->index = index;
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
	vq->enable = -1;
}

static void *ring_part(const struct guest_mem *m, uint64_t uva, uint64_t size,
		       uint64_t align)
{
	uint64_t len = size;
	void *p;

	if (uva & (align - 1))
		return NULL;
	p = guest_mem_uva_to_hva(m, uva, &len);
	/* A shorter usable length means the part crosses a region end. */
	if (!p || len != size)
		return NULL;
	return p;
}

int virtq_map(struct virtq *vq, const struct guest_mem *m)
{
	uint64_t num = vq->num;

	if (!m || !num || !vq->addr_set)
		return -EINVAL;
	/* Sizes from the spec: avail and used carry a trailing event word. */
	vq->desc = ring_part(m, vq->desc_uva, 16 * num, 16);
	vq->avail = ring_part(m, vq->avail_uva, 6 + 2 * num, 2);
	vq->used = ring_part(m, vq->used_uva, 6 + 8 * num, 4);
	if (!vq->desc || !vq->avail || !vq->used) {
		virtq_unmap(vq);
		return -EFAULT;
	}
	vq->mem = m;
	/* SET_VRING_BASE gave the next avail index; nothing is in flight. */
	vq->used_idx = vq->last_avail_idx;
	vq->need_notify = false;
	vq->ready = true;
	return 0;
}

void virtq_unmap(struct virtq *vq)
{
	vq->ready = false;
	vq->mem = NULL;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
}

uint16_t virtq_size(const struct virtq *vq)
{
	return vq ? vq->num : 0;
}

static void desc_load(const struct virtq *vq, uint16_t i, struct virtq_desc *d)
{
	const struct virtq_desc *g = &vq->desc[i];

	/* Atomic loads: one read per field, the compiler may not re-read
	 * guest memory after the checks below. */
	d->addr = __atomic_load_n(&g->addr, __ATOMIC_RELAXED);
	d->len = __atomic_load_n(&g->len, __ATOMIC_RELAXED);
	d->flags = __atomic_load_n(&g->flags, __ATOMIC_RELAXED);
	d->next = __atomic_load_n(&g->next, __ATOMIC_RELAXED);
}

static int seg_add(const struct virtq *vq, struct vq_elem *e, const struct virtq_desc *d,
		   uint64_t *out_len, uint64_t *in_len)
{
	unsigned n = e->n_out + e->n_in;

	if (d->flags & VIRTQ_DESC_F_INDIRECT) {
		vb_guest_warn("%s: vq %u: indirect descriptor (not negotiated)",
			      VQ_OWNER(vq), vq->index);
		return -EINVAL;
	}
	if (!d->len) {
		vb_guest_warn("%s: vq %u: zero-length descriptor", VQ_OWNER(vq), vq->index);
		return -EINVAL;
	}
	if (!guest_mem_valid(vq->mem, d->addr, d->len)) {
		vb_guest_warn("%s: vq %u: buffer 0x%llx+%u outside guest RAM", VQ_OWNER(vq),
			      vq->index, (unsigned long long)d->addr, d->len);
		return -EFAULT;
	}
	if (d->flags & VIRTQ_DESC_F_WRITE) {
		e->n_in++;
		*in_len += d->len;
	} else {
		if (e->n_in) {
			vb_guest_warn("%s: vq %u: readable descriptor after a writable one",
				      VQ_OWNER(vq), vq->index);
			return -EINVAL;
		}
		e->n_out++;
		*out_len += d->len;
	}
	e->seg[n].gpa = d->addr;
	e->seg[n].len = d->len;
	return 0;
}

static int chain_walk(const struct virtq *vq, uint16_t head, struct vq_elem *e)
{
	unsigned limit = vq->num < VQ_ELEM_MAX_SEGS ? vq->num : VQ_ELEM_MAX_SEGS;
	uint64_t out_len = 0, in_len = 0;
	struct virtq_desc d;
	uint16_t i = head;
	int rc;

	e->head = head;
	e->n_out = e->n_in = 0;
	for (;;) {
		/* A chain longer than the ring must revisit a descriptor. */
		if ((unsigned)e->n_out + e->n_in >= limit) {
			vb_guest_warn("%s: vq %u: descriptor chain too long or looping",
				      VQ_OWNER(vq), vq->index);
			return -ELOOP;
		}
		desc_load(vq, i, &d);
		rc = seg_add(vq, e, &d, &out_len, &in_len);
		if (rc)
			return rc;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= vq->num) {
			vb_guest_warn("%s: vq %u: next %u >= size %u", VQ_OWNER(vq), vq->index,
				      d.next, vq->num);
			return -EINVAL;
		}
		i = d.next;
	}
	if (out_len > UINT32_MAX || in_len > UINT32_MAX) {
		vb_guest_warn("%s: vq %u: chain longer than 4 GiB", VQ_OWNER(vq), vq->index);
		return -EINVAL;
	}
	e->out_len = out_len;
	e->in_len = in_len;
	return 0;
}

int virtq_pop(struct virtq *vq, struct vq_elem *elem)
{
	uint16_t avail_idx, pending, head;
	int rc;

	if (!vq || !vq->ready)
		return 0;
	/* Acquire: ring entries are read after the index that covers them. */
	avail_idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
	pending = avail_idx - vq->last_avail_idx;
	if (!pending)
		return 0;
	if (pending > vq->num) {
		vb_guest_warn("%s: vq %u: avail idx moved by %u > size %u", VQ_OWNER(vq),
			      vq->index, pending, vq->num);
		return -EINVAL;
	}
	head = __atomic_load_n(&vq->avail->ring[vq->last_avail_idx & (vq->num - 1)],
			       __ATOMIC_RELAXED);
	if (head >= vq->num) {
		vb_guest_warn("%s: vq %u: head %u >= size %u", VQ_OWNER(vq), vq->index, head,
			      vq->num);
		return -EINVAL;
	}
	rc = chain_walk(vq, head, elem);
	if (rc)
		return rc;
	vq->last_avail_idx++;
	return 1;
}

int virtq_push(struct virtq *vq, const struct vq_elem *elem, uint32_t written)
{
	struct virtq_used_elem *slot;

	if (!vq || !vq->ready)
		return -ENODEV;
	if (elem->head >= vq->num)
		return -EINVAL;
	if (written > elem->in_len)
		written = elem->in_len;
	slot = &vq->used->ring[vq->used_idx & (vq->num - 1)];
	__atomic_store_n(&slot->id, elem->head, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->len, written, __ATOMIC_RELAXED);
	vq->used_idx++;
	/* Release: the guest sees the entry before the index covering it. */
	__atomic_store_n(&vq->used->idx, vq->used_idx, __ATOMIC_RELEASE);
	vq->need_notify = true;
	return 0;
}

void virtq_notify(struct virtq *vq)
{
	static const uint64_t one = 1;
	uint16_t flags;
	ssize_t n;

	if (!vq || !vq->ready || !vq->need_notify)
		return;
	vq->need_notify = false;
	/* Order our used->idx store before reading the guest's flags. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	flags = __atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED);
	if ((flags & VIRTQ_AVAIL_F_NO_INTERRUPT) || vq->call_fd < 0)
		return;
	/* Exactly 8 bytes: UML's call fd is a pipe read 8 bytes at a time.
	 * Non-blocking; a full pipe already means "interrupt pending". */
	n = write(vq->call_fd, &one, sizeof(one));
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		vb_guest_warn("%s: vq %u: call fd write failed: %s", VQ_OWNER(vq), vq->index,
			      strerror(errno));
}
