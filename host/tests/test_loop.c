// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_loop.c - the event loop: deletion of watches and timers from inside
 * callbacks (including the one being dispatched and one whose event is
 * already fetched), fd number reuse, one-shot and periodic timers, stop.
 * Timers are driven with 0 ms deadlines: no timing is asserted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <cmocka.h>

#include "loop.h"

struct pair {
	int p[2];
	int calls;
};

static struct pair a, b;
static int victim_fd = -1;

static void make(struct pair *x)
{
	memset(x, 0, sizeof(*x));
	assert_int_equal(pipe2(x->p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(write(x->p[1], "x", 1), 1);	/* readable */
}

/* Whichever of a/b runs first deletes and closes the other. */
static void kill_other_cb(struct loop *l, int fd, uint32_t ev, void *opaque)
{
	struct pair *me = opaque, *other = me == &a ? &b : &a;

	me->calls++;
	if (other->p[0] >= 0) {
		loop_del_fd(l, other->p[0]);
		close(other->p[0]);
		other->p[0] = -1;
	}
	loop_del_fd(l, fd);
}

static void test_delete_other_pending(void **state)
{
	struct loop *l = loop_new();

	make(&a);
	make(&b);
	assert_int_equal(loop_add_fd(l, a.p[0], EPOLLIN, kill_other_cb, &a), 0);
	assert_int_equal(loop_add_fd(l, b.p[0], EPOLLIN, kill_other_cb, &b), 0);
	/* Both events come back from one epoll_wait; only one callback runs. */
	assert_int_equal(loop_run_once(l, 0), 2);
	assert_int_equal(a.calls + b.calls, 1);
	assert_int_equal(loop_run_once(l, 0), 0);
	loop_free(l);
	for (int i = 0; i < 2; i++) {
		if (a.p[i] >= 0)
			close(a.p[i]);
		if (b.p[i] >= 0)
			close(b.p[i]);
	}
}

static int new_calls;

static void new_cb(struct loop *l, int fd, uint32_t ev, void *opaque)
{
	new_calls++;
}

/* Delete itself, close, and watch a new fd that reuses the number. */
static void reuse_cb(struct loop *l, int fd, uint32_t ev, void *opaque)
{
	struct pair *me = opaque;
	int p[2];

	me->calls++;
	loop_del_fd(l, fd);
	close(fd);
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	victim_fd = p[0];
	close(p[1]);
	assert_int_equal(loop_add_fd(l, p[0], EPOLLIN, new_cb, NULL), 0);
}

static void test_self_delete_and_reuse(void **state)
{
	struct loop *l = loop_new();

	make(&a);
	assert_int_equal(loop_add_fd(l, a.p[0], EPOLLIN, reuse_cb, &a), 0);
	assert_int_equal(loop_add_fd(l, a.p[0], EPOLLIN, reuse_cb, &a), -EEXIST);
	assert_int_equal(loop_mod_fd(l, 12345, EPOLLIN), -ENOENT);
	loop_run_once(l, 0);
	assert_int_equal(a.calls, 1);
	new_calls = 0;
	loop_run_once(l, 0);		/* the new pipe is at EOF: readable */
	assert_int_equal(a.calls, 1);
	assert_int_equal(new_calls, 1);
	loop_del_fd(l, victim_fd);
	loop_del_fd(l, victim_fd);	/* unknown now: ignored */
	close(victim_fd);
	close(a.p[1]);
	loop_free(l);
}

static int t1, t2, tp, tp_id, t2_id;

static void t1_cb(struct loop *l, void *opaque)
{
	t1++;
	loop_del_timer(l, t2_id);	/* t2 is due in the same round */
	loop_del_timer(l, tp_id + 1000);	/* unknown id: ignored */
}

static void t2_cb(struct loop *l, void *opaque)
{
	t2++;
}

static void tp_cb(struct loop *l, void *opaque)
{
	if (++tp == 3) {
		loop_del_timer(l, tp_id);	/* periodic deletes itself */
		loop_stop(l);
	}
}

static void test_timers(void **state)
{
	struct loop *l = loop_new();

	assert_true(loop_add_timer(l, 0, false, t1_cb, NULL) > 0);
	t2_id = loop_add_timer(l, 0, false, t2_cb, NULL);
	assert_true(t2_id > 0);
	assert_int_equal(loop_add_timer(l, 0, true, tp_cb, NULL), -EINVAL);
	tp_id = loop_add_timer(l, 1, true, tp_cb, NULL);
	assert_true(tp_id > 0);
	usleep(2000);
	loop_run_once(l, 0);
	assert_int_equal(t1, 1);
	assert_int_equal(t2, 0);
	/* loop_run returns once the periodic timer stopped the loop. */
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(tp, 3);
	assert_int_equal(t1, 1);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delete_other_pending),
		cmocka_unit_test(test_self_delete_and_reuse),
		cmocka_unit_test(test_timers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
