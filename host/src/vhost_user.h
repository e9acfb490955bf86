/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vhost_user.h - vhost-user backend transport: one listening socket per
 * device, one frontend at a time, driving a struct vdev (vdev.h).
 *
 * The wire format is in vhost_user_wire.h (include/), shared with the
 * tools that play the frontend.
 */
#ifndef VB_VHOST_USER_H
#define VB_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "vhost_user_wire.h"

struct loop;
struct vdev;
struct vu_server;

/* Listen on path (a stale socket file is replaced; a live one is refused)
 * and serve vd.  path NULL: no listener (tests attach a socket by hand).
 * name labels log lines.  The caller must ignore SIGPIPE.  NULL + errno. */
struct vu_server *vu_server_new(struct loop *l, const char *path, const char *name,
				struct vdev *vd);
/* Adopt a connected stream socket as the frontend.  0, -EBUSY (one is
 * active: fd untouched), or -errno. */
int vu_server_attach(struct vu_server *s, int fd);
bool vu_server_connected(const struct vu_server *s);
/* Drop the frontend: device stopped, fds closed, memory unmapped. */
void vu_server_disconnect(struct vu_server *s);
/* Disconnect, close the listener and unlink its socket file. */
void vu_server_free(struct vu_server *s);

/* Fuzzing/test entry: process one complete message as if received with
 * these fds (ownership passes in: every fd is stored or closed).  Returns
 * 0, or -errno when the frontend would be disconnected. */
int vu_server_dispatch(struct vu_server *s, const struct vu_msg *msg, int *fds,
		       unsigned nfds);

#endif /* VB_VHOST_USER_H */
