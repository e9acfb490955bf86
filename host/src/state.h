/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * state.h - per-guest state that outlives the daemon (--state-dir DIR).
 *
 * What a restarted vballoond must know about each guest: the target a
 * client set, the RAM size, and what the guest's balloon held when the
 * daemon stopped (its driver, actual pages, features).  One file per guest,
 * DIR/NAME.state, replaced atomically (written to a temporary file, synced,
 * renamed) whenever one of those changes, checked when the daemon starts:
 * a corrupt or foreign file is refused with one log line and never applied.
 */
#ifndef VB_STATE_H
#define VB_STATE_H

#include <stddef.h>

#include "balloon.h"

struct loop;

/* Read each guest's file (applying the valid ones), then keep the files up
 * to date from a timer.  0 or -errno (the directory cannot be used). */
int state_start(struct loop *l, const char *dir);

/* The file's text for guest NAME: bytes written (< len), or -ENOSPC. */
int state_format(const char *name, const struct balloon_saved *s, char *buf, size_t len);
/* Parse a file's text for guest NAME: 0, or -EINVAL with *why set. */
int state_parse(const char *name, const char *text, struct balloon_saved *s,
		const char **why);

#endif /* VB_STATE_H */
