// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * balloon_hint.c - free page hints: the command-id protocol.
 *
 *   host: publishes a new id >= 2 in config, CONFIG_CHANGE      REQUESTED
 *   guest: sends that id (4-byte out buffer) on the free page vq  RUNNING
 *   guest: hint buffers (device-writable in-buffers, one block each)
 *   guest: sends STOP (0), or the host publishes STOP             STOPPED
 *   host: publishes DONE (1): the guest frees its hint pages      IDLE
 *
 * A hint is only "this page was free when the round's id was issued": the
 * guest may have reused it since.  Without write tracking (a migration's
 * dirty log) acting on it would lose data, so by default the hinted pages
 * are only recorded; opts.hint_discard is for a caller that tracks writes.
 * Ids only go up (wrapping past 2^32 to 2), so an old round's id is never
 * mistaken for the current one.
 */
#include <errno.h>
#include <string.h>
#include <endian.h>

#include "balloon_priv.h"

#define HINT_FIRST_ID	2

void balloon_hint_reset(struct balloon *b)
{
	if (!b->hint.next_id)
		b->hint.next_id = HINT_FIRST_ID;
	b->hint.state = BALLOON_HINT_IDLE;
	b->hint.cmd_id = VB_CMD_ID_STOP;
	b->hint.guest_id = VB_CMD_ID_STOP;
}

static int hint_publish(struct balloon *b, uint32_t id)
{
	b->hint.cmd_id = id;
	return balloon_config_changed(b);
}

static int hint_check(struct balloon *b)
{
	if (!balloon_has(b, VB_F_FREE_PAGE_HINT))
		return -EOPNOTSUPP;
	if (!b->live || b->vdev.broken)
		return -ENODEV;
	return 0;
}

int balloon_hint_start(struct balloon *b)
{
	uint32_t id;
	int ret = hint_check(b);

	if (ret)
		return ret;
	id = b->hint.next_id;
	b->hint.next_id = id == UINT32_MAX ? HINT_FIRST_ID : id + 1;
	b->hint.round_id = id;
	b->hint.state = BALLOON_HINT_REQUESTED;
	b->hint.ignored = 0;
	range_set_clear(&b->hint.set);
	vb_info("%s: free page hint round %u requested", b->opts.name, id);
	ret = hint_publish(b, id);
	return ret < 0 ? ret : (int)(id & INT32_MAX);
}

static void hint_finish(struct balloon *b, const char *who)
{
	range_set_normalize(&b->hint.set);
	b->hint.state = BALLOON_HINT_STOPPED;
	vb_info("%s: hint round %u stopped by %s: %llu bytes in %zu ranges, %llu stale buffers",
		b->opts.name, b->hint.round_id, who,
		(unsigned long long)b->hint.set.total, b->hint.set.n,
		(unsigned long long)b->hint.ignored);
	balloon_emit(b, BALLOON_EV_HINT_DONE);
}

int balloon_hint_stop(struct balloon *b)
{
	int ret = hint_check(b);

	if (ret)
		return ret;
	if (b->hint.state == BALLOON_HINT_REQUESTED ||
	    b->hint.state == BALLOON_HINT_RUNNING)
		hint_finish(b, "host");
	return hint_publish(b, VB_CMD_ID_STOP);
}

int balloon_hint_done(struct balloon *b)
{
	int ret = hint_check(b);

	if (ret)
		return ret;
	if (b->hint.state == BALLOON_HINT_REQUESTED ||
	    b->hint.state == BALLOON_HINT_RUNNING)
		hint_finish(b, "host (done)");
	b->hint.state = BALLOON_HINT_IDLE;
	/* The hinted set stays readable until the next round starts. */
	return hint_publish(b, VB_CMD_ID_DONE);
}

void balloon_hint_ranges(struct balloon *b, balloon_range_cb cb, void *opaque)
{
	size_t i;

	range_set_normalize(&b->hint.set);
	for (i = 0; i < b->hint.set.n; i++)
		cb(b->hint.set.r[i].start, b->hint.set.r[i].len, opaque);
}

/* The guest's start (current id) or stop (0) message. */
static void hint_cmd(struct balloon *b, uint32_t id)
{
	if (id == VB_CMD_ID_STOP) {
		if (b->hint.state == BALLOON_HINT_RUNNING &&
		    b->hint.guest_id == b->hint.round_id)
			hint_finish(b, "guest");
		b->hint.guest_id = VB_CMD_ID_STOP;
		return;
	}
	b->hint.guest_id = id;
	if (id == b->hint.round_id && id == b->hint.cmd_id &&
	    b->hint.state == BALLOON_HINT_REQUESTED) {
		b->hint.state = BALLOON_HINT_RUNNING;
		vb_dbg("%s: guest started hint round %u", b->opts.name, id);
		return;
	}
	/* A repeated start of the running round changes nothing. */
	if (id == b->hint.round_id && b->hint.state == BALLOON_HINT_RUNNING)
		return;
	vb_guest_warn("%s: guest hint id %u is not the current round (%u)",
		      b->opts.name, id, b->hint.cmd_id);
}

/* True while hints belong to the round the host is asking for. */
static bool hint_current(const struct balloon *b)
{
	return b->hint.state == BALLOON_HINT_RUNNING &&
	       b->hint.guest_id == b->hint.round_id &&
	       b->hint.cmd_id == b->hint.round_id;
}

static void hint_record(struct balloon *b, const struct vq_elem *e)
{
	unsigned i;

	for (i = e->n_out; i < e->n_out + e->n_in; i++) {
		const struct vq_seg *s = &e->seg[i];
		uint64_t start = (s->gpa + VB_PAGE_SIZE - 1) & ~(VB_PAGE_SIZE - 1);
		uint64_t end = (s->gpa + s->len) & ~(VB_PAGE_SIZE - 1);

		if (end <= start)	/* less than one whole page */
			continue;
		if (range_set_add(&b->hint.set, start, end - start) < 0) {
			vb_guest_warn("%s: hint set full", b->opts.name);
			b->refused++;
			return;
		}
		if (b->opts.hint_discard)
			balloon_discard(b, start, end - start);
	}
}

void balloon_hint_elem(struct balloon *b, const struct vq_elem *e)
{
	uint32_t id;

	if (e->n_out) {
		if (e->out_len != sizeof(id) || e->n_out != 1 || e->n_in ||
		    guest_mem_read(b->vdev.mem, e->seg[0].gpa, &id, sizeof(id)) < 0) {
			vb_guest_warn("%s: malformed free page command (%u bytes)",
				      b->opts.name, e->out_len);
			b->refused++;
			return;
		}
		hint_cmd(b, le32toh(id));
		return;
	}
	if (!hint_current(b)) {
		b->hint.ignored++;	/* stale: a past or stopped round */
		return;
	}
	hint_record(b, e);
}
