// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * answers.c - QMP answers to validated numbers (see answers.h).
 *
 * json-c parses "NaN", 1e400 and 1.5 as doubles: only JSON integers are
 * taken, so none of those can reach the law.  Memory figures above the
 * guest's RAM size are refused (a guest cannot have more free memory than
 * RAM); counters may be any non-negative integer.
 */
#include <errno.h>
#include <string.h>

#include "answers.h"

#define MAX_RAM		(1ULL << 50)	/* no guest has more than 1 PiB */

/* An integer member: 0 and *v, -ENOENT missing, -EINVAL wrong type. */
static int get_int(json_object *o, const char *key, int64_t *v)
{
	json_object *m;

	if (!json_object_object_get_ex(o, key, &m))
		return -ENOENT;
	if (!json_object_is_type(m, json_type_int))
		return -EINVAL;
	errno = 0;
	*v = json_object_get_int64(m);
	return errno ? -EINVAL : 0;	/* saturated: out of int64 range */
}

/* A stat: -1 reported as "never reported"; anything else negative, not an
 * integer, or (memory) above RAM is refused (-1 and counted). */
static int64_t get_stat(json_object *stats, const char *key, uint64_t limit, int *bad)
{
	int64_t v;
	int ret = get_int(stats, key, &v);

	if (ret == -ENOENT || (!ret && v == -1))
		return -1;
	if (ret || v < 0 || (uint64_t)v > limit) {
		(*bad)++;
		return -1;
	}
	return v;
}

int answer_stats(json_object *ret, uint64_t ram, struct answer_stats *out)
{
	uint64_t mem_limit = ram ? ram : MAX_RAM;
	json_object *st;
	int bad = 0;

	memset(out, 0, sizeof(*out));
	out->last_update = -1;
	if (!json_object_is_type(ret, json_type_object) ||
	    !json_object_object_get_ex(ret, "stats", &st) ||
	    !json_object_is_type(st, json_type_object))
		return -EPROTO;
	out->s.free = get_stat(st, "stat-free-memory", mem_limit, &bad);
	out->s.avail = get_stat(st, "stat-available-memory", mem_limit, &bad);
	out->s.caches = get_stat(st, "stat-disk-caches", mem_limit, &bad);
	out->s.majflt = get_stat(st, "stat-major-faults", INT64_MAX, &bad);
	out->s.swapin = get_stat(st, "stat-swap-in", INT64_MAX, &bad);
	out->s.stalls = get_stat(st, "stat-alloc-stalls", INT64_MAX, &bad);
	out->s.oom_kills = get_stat(st, "stat-oom-kills", INT64_MAX, &bad);
	out->minflt = get_stat(st, "stat-minor-faults", INT64_MAX, &bad);
	if (get_int(ret, "last-update", &out->last_update) || out->last_update < 0)
		out->last_update = -1;
	return bad;
}

int answer_actual(json_object *ret, uint64_t ram, uint64_t *actual)
{
	int64_t v;

	if (!json_object_is_type(ret, json_type_object) || get_int(ret, "actual", &v) ||
	    v <= 0 || (uint64_t)v > (ram ? ram : MAX_RAM))
		return -EPROTO;
	*actual = (uint64_t)v;
	return 0;
}

int answer_ram(json_object *ret, uint64_t *ram)
{
	int64_t v;

	if (!json_object_is_type(ret, json_type_object) || get_int(ret, "base-memory", &v) ||
	    v <= 0 || (uint64_t)v > MAX_RAM)
		return -EPROTO;
	*ram = (uint64_t)v;
	return 0;
}

bool answer_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n && n < ANSWER_NAME_MAX &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789_.-") == n;
}

static bool get_bool(json_object *o, const char *key, bool *v)
{
	json_object *m;

	if (!json_object_object_get_ex(o, key, &m) || !json_object_is_type(m, json_type_boolean))
		return false;
	*v = json_object_get_boolean(m);
	return true;
}

/* One x-vb-list entry; a guest not connected has no actual yet. */
static bool list_entry(json_object *e, struct answer_guest *g)
{
	json_object *name;
	int64_t ram, actual = 0, floor = 0;

	if (!json_object_is_type(e, json_type_object) ||
	    !json_object_object_get_ex(e, "name", &name) ||
	    !json_object_is_type(name, json_type_string) ||
	    !answer_name_ok(json_object_get_string(name)) ||
	    !get_bool(e, "connected", &g->connected) || !get_bool(e, "broken", &g->broken))
		return false;
	if (get_int(e, "ram-size", &ram) || ram < 0 || (uint64_t)ram > MAX_RAM)
		return false;
	if (g->connected && (get_int(e, "actual", &actual) || actual <= 0 || actual > ram))
		return false;
	/* Optional (vballoond says it): the device refuses targets below it. */
	if (json_object_object_get_ex(e, "floor", NULL) &&
	    (get_int(e, "floor", &floor) || floor < 0 || floor > ram))
		return false;
	strcpy(g->name, json_object_get_string(name));
	g->ram = (uint64_t)ram;
	g->actual = (uint64_t)actual;
	g->floor = (uint64_t)floor;
	return true;
}

int answer_list(json_object *ret, struct answer_guest *out, unsigned max, unsigned *bad)
{
	size_t i, n;
	unsigned k = 0;

	*bad = 0;
	if (!json_object_is_type(ret, json_type_array))
		return -EPROTO;
	n = json_object_array_length(ret);
	for (i = 0; i < n && k < max; i++) {
		if (list_entry(json_object_array_get_idx(ret, i), &out[k]))
			k++;
		else
			(*bad)++;
	}
	return (int)k;
}

int answer_balloon_child(json_object *ret, char *name, size_t len)
{
	json_object *e, *n, *t;
	size_t i;

	if (!json_object_is_type(ret, json_type_array))
		return -EPROTO;
	for (i = 0; i < json_object_array_length(ret); i++) {
		e = json_object_array_get_idx(ret, i);
		if (!json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, "name", &n) ||
		    !json_object_object_get_ex(e, "type", &t) ||
		    !json_object_is_type(n, json_type_string) ||
		    !json_object_is_type(t, json_type_string))
			continue;
		if (strncmp(json_object_get_string(t), "child<virtio-balloon", 20) ||
		    strlen(json_object_get_string(n)) >= len)
			continue;
		strcpy(name, json_object_get_string(n));
		return 0;
	}
	return -ENOENT;
}
