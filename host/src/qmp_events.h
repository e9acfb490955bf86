/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qmp_events.h - balloon events as QMP events on the control socket:
 * BALLOON_CHANGE throttled as QEMU throttles it, and the X_VB_* events.
 */
#ifndef VB_QMP_EVENTS_H
#define VB_QMP_EVENTS_H

struct loop;

/* Route every registered guest's events to the control socket's clients. */
void qmp_events_start(struct loop *l);
/* Stop routing; drops pending throttled events and their timers. */
void qmp_events_stop(void);

#endif /* VB_QMP_EVENTS_H */
