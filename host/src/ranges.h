/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ranges.h - turn guest-supplied page lists into sorted, merged ranges.
 *
 * The balloon discards memory one range per fallocate() call, so a list of
 * 256 scattered PFNs that happen to be contiguous costs one syscall, not 256.
 * Input is hostile: duplicates, any order, ranges that overlap or would wrap
 * around 2^64 are all handled (wrapping ones are clamped, callers validate
 * against guest RAM before discarding anything).
 */
#ifndef VB_RANGES_H
#define VB_RANGES_H

#include <stddef.h>
#include <stdint.h>

/* [start, start + len), in whatever unit the caller uses (pages or bytes). */
struct range {
	uint64_t start;
	uint64_t len;
};

/* Sort pfns in place and write the merged runs to out (room for n entries).
 * Duplicates and adjacent PFNs merge.  Returns the number of ranges. */
size_t ranges_from_pfns(uint64_t *pfns, size_t n, struct range *out);

/* Sort r by start and merge overlapping or adjacent ranges in place; empty
 * ranges are dropped.  Returns the new count. */
size_t ranges_merge(struct range *r, size_t n);

/* Sum of lengths (saturating). */
uint64_t ranges_total(const struct range *r, size_t n);

/*
 * A growable set of ranges (the free page hint set): appends are cheap (an
 * append that continues the last range extends it), the set is merged
 * whenever its array fills and before it is read.  Reading it again without
 * an add in between costs nothing: status queries and events read it often.
 */
struct range_set {
	struct range *r;
	size_t n;
	size_t cap;
	size_t max;		/* hard cap on entries after merging, 0 = default */
	uint64_t total;		/* valid after range_set_normalize() */
	int dirty;		/* added to since the last normalize */
};

void range_set_init(struct range_set *s, size_t max);
void range_set_clear(struct range_set *s);	/* empty, keeps the array */
void range_set_free(struct range_set *s);
/* 0, -ENOMEM, or -ENOSPC when the set is full even after merging. */
int range_set_add(struct range_set *s, uint64_t start, uint64_t len);
void range_set_normalize(struct range_set *s);

#endif /* VB_RANGES_H */
