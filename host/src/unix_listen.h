/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unix_listen.h - the one way vballoond listens on a unix socket path
 * (vhost-user sockets and the QMP socket).
 */
#ifndef VB_UNIX_LISTEN_H
#define VB_UNIX_LISTEN_H

/*
 * A non-blocking, close-on-exec listening socket bound to path, with room
 * for backlog pending connections.  A live socket at path (another daemon
 * accepts on it) is refused with -EADDRINUSE and left alone; a stale one is
 * replaced; anything that is not a socket is refused with -EEXIST.
 * The fd, or -errno.
 */
int unix_listen(const char *path, int backlog);

#endif /* VB_UNIX_LISTEN_H */
