// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * loop.c - single-threaded epoll loop with millisecond timers.
 *
 * Deletion is safe from any callback: a deleted watch or timer is only
 * marked dead and unlinked; its memory is freed after the current dispatch
 * round, so events already fetched by epoll_wait() for it are skipped
 * instead of touching freed memory (or a new watch that reused the fd).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

#define LOOP_MAX_EVENTS 64

struct watch {
	int fd;
	bool dead;
	loop_fd_cb cb;
	void *opaque;
	struct watch *next;	/* live list, or the graveyard once dead */
};

struct timer {
	int id;
	bool periodic;
	uint64_t period_ms;
	uint64_t deadline;
	loop_timer_cb cb;
	void *opaque;
	struct timer *next;	/* sorted by deadline */
};

struct loop {
	int epfd;
	bool stop;
	int next_timer_id;
	struct watch *watches;
	struct timer *timers;
	struct watch *dead_watches;
	struct timer *dead_timers;
};

uint64_t loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	l->next_timer_id = 1;
	return l;
}

static void reap(struct loop *l)
{
	while (l->dead_watches) {
		struct watch *w = l->dead_watches;

		l->dead_watches = w->next;
		free(w);
	}
	while (l->dead_timers) {
		struct timer *t = l->dead_timers;

		l->dead_timers = t->next;
		free(t);
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	while (l->watches)
		loop_del_fd(l, l->watches->fd);
	while (l->timers)
		loop_del_timer(l, l->timers->id);
	reap(l);
	close(l->epfd);
	free(l);
}

static struct watch *watch_find(struct loop *l, int fd)
{
	struct watch *w;

	for (w = l->watches; w; w = w->next)
		if (w->fd == fd)
			return w;
	return NULL;
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *opaque)
{
	struct epoll_event ev = { .events = events };
	struct watch *w;

	if (fd < 0 || !cb)
		return -EINVAL;
	if (watch_find(l, fd))
		return -EEXIST;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->cb = cb;
	w->opaque = opaque;
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		free(w);
		return err;
	}
	w->next = l->watches;
	l->watches = w;
	return 0;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
	struct watch *w = watch_find(l, fd);
	struct epoll_event ev = { .events = events };

	if (!w)
		return -ENOENT;
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

void loop_del_fd(struct loop *l, int fd)
{
	struct watch **pp, *w;

	for (pp = &l->watches; (w = *pp); pp = &w->next) {
		if (w->fd != fd)
			continue;
		*pp = w->next;
		/* May fail if the fd was already closed: nothing left to do. */
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		w->dead = true;
		w->next = l->dead_watches;
		l->dead_watches = w;
		return;
	}
}

static void timer_insert(struct loop *l, struct timer *t)
{
	struct timer **pp = &l->timers;

	while (*pp && (*pp)->deadline <= t->deadline)
		pp = &(*pp)->next;
	t->next = *pp;
	*pp = t;
}

int loop_add_timer(struct loop *l, uint64_t ms, bool periodic, loop_timer_cb cb, void *opaque)
{
	struct timer *t;

	if (!cb || (periodic && !ms))
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->id = l->next_timer_id++;
	if (l->next_timer_id <= 0)
		l->next_timer_id = 1;
	t->periodic = periodic;
	t->period_ms = ms;
	t->deadline = loop_now_ms() + ms;
	t->cb = cb;
	t->opaque = opaque;
	timer_insert(l, t);
	return t->id;
}

static struct timer *timer_unlink(struct loop *l, int id)
{
	struct timer **pp, *t;

	for (pp = &l->timers; (t = *pp); pp = &t->next) {
		if (t->id == id) {
			*pp = t->next;
			t->next = NULL;
			return t;
		}
	}
	return NULL;
}

void loop_del_timer(struct loop *l, int id)
{
	struct timer *t = timer_unlink(l, id);

	if (!t)
		return;
	t->next = l->dead_timers;
	l->dead_timers = t;
}

static int next_timeout(struct loop *l, int max_ms)
{
	uint64_t now, wait;

	if (!l->timers)
		return max_ms;
	now = loop_now_ms();
	wait = l->timers->deadline > now ? l->timers->deadline - now : 0;
	if (wait > 60000)
		wait = 60000;
	if (max_ms >= 0 && (uint64_t)max_ms < wait)
		return max_ms;
	return (int)wait;
}

static void run_timers(struct loop *l)
{
	uint64_t now = loop_now_ms();
	struct timer *t;

	/* Take expired timers one at a time: a callback may add or delete
	 * timers, so never hold a pointer into the list across a call. */
	while ((t = l->timers) && t->deadline <= now) {
		l->timers = t->next;
		t->next = NULL;
		if (t->periodic) {
			/* Re-arm first so the callback can delete it. */
			t->deadline = now + t->period_ms;
			timer_insert(l, t);
		} else {
			t->next = l->dead_timers;
			l->dead_timers = t;
		}
		t->cb(l, t->opaque);
		if (l->stop)
			break;
	}
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	int i, n;

	n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, next_timeout(l, timeout_ms));
	if (n < 0 && errno != EINTR)
		return -errno;
	for (i = 0; i < n && !l->stop; i++) {
		struct watch *w = evs[i].data.ptr;

		if (w->dead)
			continue;
		w->cb(l, w->fd, evs[i].events, w->opaque);
	}
	if (!l->stop)
		run_timers(l);
	reap(l);
	return n < 0 ? 0 : n;
}

int loop_run(struct loop *l)
{
	int rc = 0;

	l->stop = false;
	while (!l->stop) {
		rc = loop_run_once(l, -1);
		if (rc < 0)
			break;
	}
	return rc < 0 ? rc : 0;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}
