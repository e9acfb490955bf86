// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ranges.c - PFN lists and range lists -> sorted merged ranges.
 *
 * qsort is plenty: a request carries at most a few thousand entries, and the
 * fallocate() calls that follow cost far more than sorting them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ranges.h"

#define RANGE_SET_DEFAULT_MAX	(1u << 20)

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* End of a range, clamped so start + len cannot wrap. */
static uint64_t range_end(const struct range *r)
{
	uint64_t end = r->start + r->len;

	return end < r->start ? UINT64_MAX : end;
}

size_t ranges_from_pfns(uint64_t *pfns, size_t n, struct range *out)
{
	size_t i, nr = 0;

	if (!n)
		return 0;
	qsort(pfns, n, sizeof(*pfns), cmp_u64);
	out[0].start = pfns[0];
	out[0].len = 1;
	for (i = 1; i < n; i++) {
		struct range *cur = &out[nr];
		/* Last PFN, not the end: the end of a run up to 2^64-1 wraps. */
		uint64_t last = cur->start + cur->len - 1;

		if (pfns[i] <= last)		/* duplicate */
			continue;
		if (pfns[i] == last + 1) {	/* adjacent */
			cur->len++;
			continue;
		}
		nr++;
		out[nr].start = pfns[i];
		out[nr].len = 1;
	}
	return nr + 1;
}

size_t ranges_merge(struct range *r, size_t n)
{
	size_t i, nr = 0;

	for (i = 0; i < n; i++)		/* drop empty ranges first */
		if (r[i].len)
			r[nr++] = r[i];
	n = nr;
	if (!n)
		return 0;
	qsort(r, n, sizeof(*r), cmp_range);
	nr = 0;
	r[0].len = range_end(&r[0]) - r[0].start;
	for (i = 1; i < n; i++) {
		uint64_t end = range_end(&r[nr]);

		if (r[i].start <= end) {
			uint64_t e2 = range_end(&r[i]);

			if (e2 > end)
				r[nr].len = e2 - r[nr].start;
			continue;
		}
		r[++nr] = r[i];
		r[nr].len = range_end(&r[nr]) - r[nr].start;
	}
	return nr + 1;
}

uint64_t ranges_total(const struct range *r, size_t n)
{
	uint64_t t = 0;
	size_t i;

	for (i = 0; i < n; i++)
		t = t + r[i].len < t ? UINT64_MAX : t + r[i].len;
	return t;
}

void range_set_init(struct range_set *s, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->max = max ? max : RANGE_SET_DEFAULT_MAX;
}

void range_set_clear(struct range_set *s)
{
	s->n = 0;
	s->total = 0;
	s->dirty = 0;
}

void range_set_free(struct range_set *s)
{
	free(s->r);
	range_set_init(s, s->max);
}

void range_set_normalize(struct range_set *s)
{
	if (!s->dirty)
		return;
	s->n = ranges_merge(s->r, s->n);
	s->total = ranges_total(s->r, s->n);
	s->dirty = 0;
}

static int range_set_grow(struct range_set *s)
{
	size_t cap = s->cap ? s->cap * 2 : 64;
	struct range *r;

	if (cap > s->max)
		cap = s->max;
	if (cap <= s->cap)
		return -ENOSPC;
	r = realloc(s->r, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	s->r = r;
	s->cap = cap;
	return 0;
}

int range_set_add(struct range_set *s, uint64_t start, uint64_t len)
{
	int ret;

	if (!len)
		return 0;
	s->dirty = 1;
	/* Hints arrive mostly in address order: grow the last range in
	 * place instead of spending an entry (no wrap past 2^64). */
	if (s->n && start == s->r[s->n - 1].start + s->r[s->n - 1].len &&
	    start + len > start) {
		s->r[s->n - 1].len += len;
		return 0;
	}
	if (s->n == s->cap) {
		/* Merge first: hints mostly arrive in order and coalesce. */
		range_set_normalize(s);
		if (s->n > s->cap / 2 || !s->cap) {
			ret = range_set_grow(s);
			if (ret && s->n == s->cap)
				return ret;
		}
	}
	s->r[s->n].start = start;
	s->r[s->n].len = len;
	s->n++;
	return 0;
}
