/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loop.h - the daemon's single-threaded, non-blocking event loop (epoll).
 *
 * Everything in vballoond runs from this loop: vhost-user sockets, kick fds,
 * the control (QMP) socket, timers.  Callbacks must not block.  It is safe to
 * call loop_del_fd()/loop_del_timer() from inside any callback, including for
 * the fd or timer being dispatched.
 */
#ifndef VB_LOOP_H
#define VB_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;

/* events: EPOLLIN / EPOLLOUT / EPOLLHUP / EPOLLERR bits as in <sys/epoll.h>. */
typedef void (*loop_fd_cb)(struct loop *l, int fd, uint32_t events, void *opaque);
typedef void (*loop_timer_cb)(struct loop *l, void *opaque);

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Watch fd for events; one watch per fd.  Returns 0 or -errno. */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *opaque);
int loop_mod_fd(struct loop *l, int fd, uint32_t events);
/* Stop watching fd (does not close it).  Unknown fds are ignored. */
void loop_del_fd(struct loop *l, int fd);

/* Timers: fire after ms milliseconds, again every ms if periodic.
 * Returns a timer id > 0 or -errno. */
int loop_add_timer(struct loop *l, uint64_t ms, bool periodic, loop_timer_cb cb, void *opaque);
void loop_del_timer(struct loop *l, int id);

/* Monotonic milliseconds. */
uint64_t loop_now_ms(void);

/* Run until loop_stop(); returns 0, or -errno on an epoll failure. */
int loop_run(struct loop *l);
/* One round: wait up to timeout_ms (-1 = until an event or timer, 0 = poll),
 * dispatch what is ready and the due timers.  Returns the number of fd
 * events, or -errno.  For tests and fuzzers that drive the loop by hand. */
int loop_run_once(struct loop *l, int timeout_ms);
void loop_stop(struct loop *l);

#endif /* VB_LOOP_H */
