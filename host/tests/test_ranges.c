// SPDX-License-Identifier: GPL-2.0-or-later
/* test_ranges.c - the PFN/range merger with hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ranges.h"

static void test_pfns_merge_adjacent_and_duplicates(void **state)
{
	uint64_t pfns[] = { 7, 3, 4, 5, 5, 100, 6, 3, 101, 99, 1000 };
	struct range out[11];
	size_t n = ranges_from_pfns(pfns, 11, out);

	assert_int_equal(n, 3);
	assert_int_equal(out[0].start, 3);
	assert_int_equal(out[0].len, 5);	/* 3..7 */
	assert_int_equal(out[1].start, 99);
	assert_int_equal(out[1].len, 3);
	assert_int_equal(out[2].start, 1000);
	assert_int_equal(out[2].len, 1);
}

static void test_pfns_empty_and_single(void **state)
{
	uint64_t one = 42;
	struct range out[1];

	assert_int_equal(ranges_from_pfns(NULL, 0, out), 0);
	assert_int_equal(ranges_from_pfns(&one, 1, out), 1);
	assert_int_equal(out[0].start, 42);
	assert_int_equal(out[0].len, 1);
}

static void test_pfns_extremes(void **state)
{
	uint64_t pfns[] = { UINT64_MAX, 0, UINT64_MAX - 1, UINT64_MAX, 1 };
	struct range out[5];
	size_t n = ranges_from_pfns(pfns, 5, out);

	assert_int_equal(n, 2);
	assert_int_equal(out[0].start, 0);
	assert_int_equal(out[0].len, 2);
	assert_true(out[1].start == UINT64_MAX - 1);
	assert_int_equal(out[1].len, 2);
}

static void test_pfns_all_same(void **state)
{
	uint64_t pfns[256];
	struct range out[256];
	int i;

	for (i = 0; i < 256; i++)
		pfns[i] = 12345;
	assert_int_equal(ranges_from_pfns(pfns, 256, out), 1);
	assert_int_equal(out[0].len, 1);
}

static void test_pfns_reverse_contiguous(void **state)
{
	uint64_t pfns[512];
	struct range out[512];
	int i;

	for (i = 0; i < 512; i++)
		pfns[i] = 4096 + 511 - i;
	assert_int_equal(ranges_from_pfns(pfns, 512, out), 1);
	assert_int_equal(out[0].start, 4096);
	assert_int_equal(out[0].len, 512);
}

static void test_merge_overlap_contained_empty(void **state)
{
	struct range r[] = {
		{ 100, 10 }, { 0, 0 }, { 105, 2 }, { 50, 50 }, { 200, 1 },
		{ 110, 5 }, { 300, 0 }, { 201, 9 },
	};
	size_t n = ranges_merge(r, 8);

	assert_int_equal(n, 2);
	assert_int_equal(r[0].start, 50);
	assert_int_equal(r[0].len, 65);		/* 50..115 */
	assert_int_equal(r[1].start, 200);
	assert_int_equal(r[1].len, 10);
	assert_int_equal(ranges_total(r, n), 75);
}

static void test_merge_wrapping_is_clamped(void **state)
{
	struct range r[] = { { UINT64_MAX - 5, 100 }, { 10, UINT64_MAX } };
	size_t n = ranges_merge(r, 2);

	assert_int_equal(n, 1);
	assert_int_equal(r[0].start, 10);
	assert_true(r[0].len == UINT64_MAX - 10);
	assert_true(ranges_total(r, n) == UINT64_MAX - 10);
}

static void test_merge_all_empty(void **state)
{
	struct range r[] = { { 1, 0 }, { 2, 0 } };

	assert_int_equal(ranges_merge(r, 2), 0);
	assert_int_equal(ranges_merge(r, 0), 0);
}

static void test_total_saturates(void **state)
{
	struct range r[] = { { 0, UINT64_MAX }, { 0, 5 } };

	assert_true(ranges_total(r, 2) == UINT64_MAX);
}

static void test_set_grows_merges_and_caps(void **state)
{
	struct range_set s;
	uint64_t i;

	range_set_init(&s, 128);
	/* 10000 adjacent pages coalesce, the cap of 128 is never hit. */
	for (i = 0; i < 10000; i++)
		assert_int_equal(range_set_add(&s, i * 4096, 4096), 0);
	range_set_normalize(&s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.total, 10000 * 4096ULL);
	range_set_clear(&s);
	assert_int_equal(s.n, 0);
	/* Disjoint ranges: the set refuses once it holds 128 after merging. */
	for (i = 0; i < 128; i++)
		assert_int_equal(range_set_add(&s, i * 8192, 4096), 0);
	assert_int_equal(range_set_add(&s, 1 << 30, 4096), -ENOSPC);
	range_set_normalize(&s);
	assert_int_equal(s.n, 128);
	assert_int_equal(range_set_add(&s, 0, 0), 0);	/* empty: ignored */
	range_set_free(&s);
}

static void test_set_normalize_tracks_adds(void **state)
{
	struct range_set s;

	range_set_init(&s, 0);
	assert_int_equal(range_set_add(&s, 8192, 4096), 0);
	assert_int_equal(range_set_add(&s, 12288, 4096), 0);	/* extends */
	assert_int_equal(s.n, 1);
	assert_int_equal(range_set_add(&s, 0, 4096), 0);
	range_set_normalize(&s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.total, 3 * 4096);
	range_set_normalize(&s);		/* nothing added: same */
	assert_int_equal(s.total, 3 * 4096);
	/* An add after a read is seen by the next read. */
	assert_int_equal(range_set_add(&s, 4096, 4096), 0);
	range_set_normalize(&s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.total, 4 * 4096);
	/* Appending at the top of the address space does not wrap. */
	range_set_clear(&s);
	assert_int_equal(range_set_add(&s, UINT64_MAX - 8191, 4096), 0);
	assert_int_equal(range_set_add(&s, UINT64_MAX - 4095, 4096), 0);
	range_set_normalize(&s);
	assert_true(s.total >= 8191);
	range_set_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pfns_merge_adjacent_and_duplicates),
		cmocka_unit_test(test_pfns_empty_and_single),
		cmocka_unit_test(test_pfns_extremes),
		cmocka_unit_test(test_pfns_all_same),
		cmocka_unit_test(test_pfns_reverse_contiguous),
		cmocka_unit_test(test_merge_overlap_contained_empty),
		cmocka_unit_test(test_merge_wrapping_is_clamped),
		cmocka_unit_test(test_merge_all_empty),
		cmocka_unit_test(test_total_saturates),
		cmocka_unit_test(test_set_grows_merges_and_caps),
		cmocka_unit_test(test_set_normalize_tracks_adds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
