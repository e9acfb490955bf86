// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * qmp_events.c - from device events to QMP events.
 *
 * QEMU sends at most one BALLOON_CHANGE per second, the latest value at the
 * end of the window; so do we, per guest.  A throttled event is stamped
 * when actual took its value, not when it is delivered (QEMU also stamps an
 * event when it is raised): a client can time a balloon change from it
 * whatever the throttling delay.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/time.h>

#include <json-c/json.h>

#include "control.h"
#include "guests.h"
#include "loop.h"
#include "qmp_events.h"

#define EVENT_THROTTLE_MS	1000

struct throttle {
	struct throttle *next;
	struct balloon *b;
	uint64_t last_ms;
	bool pending;
	struct timeval changed;		/* when the pending value was set */
	int timer;
};

static struct {
	struct loop *loop;
	struct throttle *throttles;
} ev;

static void send_balloon_change(struct balloon *b, const struct timeval *when)
{
	struct balloon_info i;
	json_object *d = json_object_new_object();

	balloon_get_info(b, &i);
	json_object_object_add(d, "actual", json_object_new_uint64(i.actual));
	json_object_object_add(d, "guest", json_object_new_string(i.name));
	control_broadcast("BALLOON_CHANGE", d, when);
}

static struct throttle *throttle_of(struct balloon *b)
{
	struct throttle *t;

	for (t = ev.throttles; t; t = t->next)
		if (t->b == b)
			return t;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->b = b;
	t->next = ev.throttles;
	ev.throttles = t;
	return t;
}

static void throttle_cb(struct loop *l, void *opaque)
{
	struct throttle *t = opaque;

	t->timer = 0;
	if (t->pending) {
		t->pending = false;
		t->last_ms = loop_now_ms();
		send_balloon_change(t->b, &t->changed);
	}
}

static void balloon_change(struct balloon *b)
{
	struct throttle *t = throttle_of(b);
	uint64_t now = loop_now_ms();
	int id;

	if (!t || now - t->last_ms >= EVENT_THROTTLE_MS) {
		if (t)
			t->last_ms = now;
		send_balloon_change(b, NULL);
		return;
	}
	t->pending = true;
	gettimeofday(&t->changed, NULL);
	if (!t->timer) {
		id = loop_add_timer(ev.loop, EVENT_THROTTLE_MS - (now - t->last_ms),
				    false, throttle_cb, t);
		t->timer = id > 0 ? id : 0;
	}
}

static void event_cb(struct balloon *b, enum balloon_event e, void *opaque)
{
	static const char *const names[] = {
		[BALLOON_EV_CONNECTED] = "X_VB_GUEST_CONNECTED",
		[BALLOON_EV_DISCONNECTED] = "X_VB_GUEST_DISCONNECTED",
		[BALLOON_EV_BROKEN] = "X_VB_DEVICE_BROKEN",
		[BALLOON_EV_HINT_DONE] = "X_VB_HINT_STOPPED",
	};
	struct balloon_info i;
	json_object *d;

	if (e == BALLOON_EV_CHANGE) {
		balloon_change(b);
		return;
	}
	if ((unsigned)e >= sizeof(names) / sizeof(names[0]) || !names[e])
		return;
	d = json_object_new_object();
	json_object_object_add(d, "guest", json_object_new_string(balloon_name(b)));
	if (e == BALLOON_EV_HINT_DONE) {
		balloon_get_info(b, &i);
		json_object_object_add(d, "cmd-id", json_object_new_int64(i.hint_cmd_id));
		json_object_object_add(d, "hinted-bytes", json_object_new_uint64(i.hinted_bytes));
	}
	control_broadcast(names[e], d, NULL);
}

void qmp_events_start(struct loop *l)
{
	ev.loop = l;
	guests_set_event_cb(event_cb, NULL);
}

void qmp_events_stop(void)
{
	guests_set_event_cb(NULL, NULL);
	while (ev.throttles) {
		struct throttle *t = ev.throttles;

		ev.throttles = t->next;
		if (t->timer)
			loop_del_timer(ev.loop, t->timer);
		free(t);
	}
}
