// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_virtq.c - the split-ring walker against hostile rings: descriptors
 * outside RAM, loops, zero lengths, bad heads and next indexes, avail index
 * jumps, over-long chains, readable-after-writable order, indirect tables.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "guest_helpers.h"
#include "log.h"

#define GPA	0x40000ULL		/* guest RAM starts here */
#define SIZE	(4 << 20)
#define RING	(GPA + 0x1000)		/* desc; avail and used follow */
#define BUF	(GPA + 0x100000)	/* data buffers */

struct ctx {
	struct tg g;
	struct virtq *vq;	/* &g.vq[0] */
	int call[2];
};

static struct ctx *ctx_new(unsigned num)
{
	struct ctx *c = calloc(1, sizeof(*c));

	vb_log_set_level(VB_LOG_ERR);
	tg_init(&c->g, GPA, SIZE, 0, SIZE);
	c->vq = tg_ring(&c->g, 0, num, RING);
	assert_int_equal(pipe2(c->call, O_CLOEXEC | O_NONBLOCK), 0);
	c->vq->call_fd = c->call[1];
	return c;
}

static int setup8(void **state)
{
	*state = ctx_new(8);
	return 0;
}

static int setup512(void **state)
{
	*state = ctx_new(512);
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	tg_free(&c->g);
	close(c->call[0]);
	close(c->call[1]);
	free(c);
	return 0;
}

static void set_desc(struct ctx *c, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	c->vq->desc[i] = (struct virtq_desc){ addr, len, flags, next };
}

/* Make head available as the next entry. */
static void offer(struct ctx *c, uint16_t head)
{
	struct virtq_avail *a = c->vq->avail;

	a->ring[a->idx % c->vq->num] = head;
	a->idx++;
}

static void test_good_chain(void **state)
{
	struct ctx *c = *state;
	struct vq_elem e;
	char b;

	assert_int_equal(virtq_pop(c->vq, &e), 0);	/* empty */
	set_desc(c, 3, BUF, 100, VIRTQ_DESC_F_NEXT, 5);
	set_desc(c, 5, BUF + 4096, 200, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(c, 1, BUF + 8192, 300, VIRTQ_DESC_F_WRITE, 0);
	offer(c, 3);
	assert_int_equal(virtq_pop(c->vq, &e), 1);
	assert_int_equal(e.head, 3);
	assert_int_equal(e.n_out, 1);
	assert_int_equal(e.n_in, 2);
	assert_int_equal(e.out_len, 100);
	assert_int_equal(e.in_len, 500);
	assert_int_equal(e.seg[0].gpa, BUF);
	assert_int_equal(e.seg[2].gpa, BUF + 8192);
	assert_int_equal(virtq_pop(c->vq, &e), 0);
	/* Written length is clamped to the chain's writable bytes. */
	assert_int_equal(virtq_push(c->vq, &e, 100000), 0);
	assert_int_equal(c->vq->used->idx, 1);
	assert_int_equal(c->vq->used->ring[0].id, 3);
	assert_int_equal(c->vq->used->ring[0].len, 500);
	virtq_notify(c->vq);
	{
		uint64_t v;

		assert_int_equal(read(c->call[0], &v, sizeof(v)), 8);	/* exactly 8 */
		assert_int_equal(v, 1);
	}
	/* Nothing pushed since: no second notification. */
	virtq_notify(c->vq);
	assert_int_equal(read(c->call[0], &b, 1), -1);
	/* The guest asked for no interrupts. */
	offer(c, 1);
	assert_int_equal(virtq_pop(c->vq, &e), 1);
	c->vq->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	assert_int_equal(virtq_push(c->vq, &e, 0), 0);
	virtq_notify(c->vq);
	assert_int_equal(read(c->call[0], &b, 1), -1);
}

static void test_desc_outside_ram(void **state)
{
	struct ctx *c = *state;
	struct vq_elem e;

	set_desc(c, 0, GPA + SIZE - 10, 20, 0, 0);	/* crosses the end */
	offer(c, 0);
	assert_int_equal(virtq_pop(c->vq, &e), -EFAULT);

	set_desc(c, 0, GPA - 4096, 16, 0, 0);		/* below RAM */
	assert_int_equal(virtq_pop(c->vq, &e), -EFAULT);

	set_desc(c, 0, ~0ULL - 4, 16, 0, 0);		/* wraps */
	assert_int_equal(virtq_pop(c->vq, &e), -EFAULT);
	/* Nothing consumed: the failed chain is still pending. */
	assert_int_equal(c->vq->last_avail_idx, 0);
}

static void test_loop(void **state)
{
	struct ctx *c = *state;
	struct vq_elem e;

	set_desc(c, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(c, 1, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(c, 0);
	assert_int_equal(virtq_pop(c->vq, &e), -ELOOP);
	/* self loop */
	set_desc(c, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
	assert_int_equal(virtq_pop(c->vq, &e), -ELOOP);
}

static void test_zero_len(void **state)
{
	struct ctx *c = *state;
	struct vq_elem e;

	set_desc(c, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(c, 1, BUF, 0, 0, 0);
	offer(c, 0);
	assert_int_equal(virtq_pop(c->vq, &e), -EINVAL);
}

static void test_head_and_next_out_of_range(void **state)
{
	struct ctx *c = *state;
	struct vq_elem e;

	offer(c, 8);			/* head == size */
	assert_int_equal(virtq_pop(c->vq, &e), -EINVAL);
	c->vq->avail->ring[0] = 0xffff;
	assert_int_equal(virtq_pop(c->vq, &e), -EINVAL);
	c->vq->avail->ring[0] = 2;
	set_desc(c, 2, BUF, 8, VIRTQ_DESC_F_NEXT, 8);	/* next == size */
	assert_int_equal(virtq_pop(c->vq, &e), -EINVAL);
}

static void test_avail_idx_jump(void **state)
{
	struct ctx *c = *state;
	struct vq_elem e;

	set_desc(c, 0, BUF, 8, 0, 0);
	c->vq->avail->idx = 9;		/* 9 new entries in a ring of 8 */
	assert_int_equal(virtq_pop(c->vq, &e), -EINVAL);
	c->vq->avail->idx = 0x8000;
	assert_int_equal(virtq_pop(c->vq, &e), -EINVAL);
	/* Exactly size entries is legal, and wraps around u16 too. */
	c->vq->last_avail_idx = 0xfffc;
	c->vq->avail->idx = 4;		/* 8 pending across the wrap */
	memset(c->vq->avail->ring, 0, 8 * 2);
	assert_int_equal(virtq_pop(c->vq, &e), 1);
	assert_int_equal(c->vq->last_avail_idx, 0xfffd);
}

static void test_chain_too_long(void **state)
{
	struct ctx *c = *state;	/* 512 entries: longer than VQ_ELEM_MAX_SEGS */
	struct vq_elem *e = malloc(sizeof(*e));
	unsigned i;

	for (i = 0; i < 300; i++)
		set_desc(c, i, BUF + i * 16, 16, i < 299 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	offer(c, 0);
	assert_int_equal(virtq_pop(c->vq, e), -ELOOP);
	/* VQ_ELEM_MAX_SEGS segments exactly is accepted. */
	set_desc(c, VQ_ELEM_MAX_SEGS - 1, BUF, 16, 0, 0);
	assert_int_equal(virtq_pop(c->vq, e), 1);
	assert_int_equal(e->n_out, VQ_ELEM_MAX_SEGS);
	free(e);
}

static void test_read_after_write(void **state)
{
	struct ctx *c = *state;
	struct vq_elem e;

	set_desc(c, 0, BUF, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(c, 1, BUF + 8, 8, 0, 0);
	offer(c, 0);
	assert_int_equal(virtq_pop(c->vq, &e), -EINVAL);
}

static void test_indirect_refused(void **state)
{
	struct ctx *c = *state;
	struct vq_elem e;

	set_desc(c, 0, BUF, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(c, 0);
	assert_int_equal(virtq_pop(c->vq, &e), -EINVAL);
}

static void test_map_refuses_bad_rings(void **state)
{
	struct ctx *c = *state;
	struct virtq vq;

	virtq_init(&vq, 1);
	vq.num = 256;
	vq.addr_set = true;
	vq.desc_uva = GPA + SIZE - 1024;	/* 4 KiB table past the end */
	vq.avail_uva = GPA;
	vq.used_uva = GPA + 0x800;
	assert_int_equal(virtq_map(&vq, &c->g.mem), -EFAULT);
	assert_false(vq.ready);
	vq.desc_uva = GPA + 8;			/* misaligned (needs 16) */
	assert_int_equal(virtq_map(&vq, &c->g.mem), -EFAULT);
	vq.desc_uva = 0;			/* not guest RAM at all */
	assert_int_equal(virtq_map(&vq, &c->g.mem), -EFAULT);
	vq.desc_uva = GPA + 0x10000;
	assert_int_equal(virtq_map(&vq, &c->g.mem), 0);
	/* A queue that is not mapped pops nothing and refuses pushes. */
	virtq_unmap(&vq);
	{
		struct vq_elem e = { .head = 0 };

		assert_int_equal(virtq_pop(&vq, &e), 0);
		assert_int_equal(virtq_push(&vq, &e, 0), -ENODEV);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_chain, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_desc_outside_ram, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_loop, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_zero_len, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_head_and_next_out_of_range, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_avail_idx_jump, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_chain_too_long, setup512, teardown),
		cmocka_unit_test_setup_teardown(test_read_after_write, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_refused, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_map_refuses_bad_rings, setup8, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
