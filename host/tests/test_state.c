// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_state.c - the state file that outlives the daemon: what is written
 * reads back the same, and a torn, edited, foreign or absurd file is
 * refused with a reason (state.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>

#include "state.h"

static const struct balloon_saved sample = {
	.ram_size = 700ULL << 20, .target = 300ULL << 20, .target_set = true,
	.connected = true, .actual_pages = 102400, .features = 0x10030002fULL,
};

static void test_round_trip(void **state)
{
	struct balloon_saved s, none = { .ram_size = 1 << 30 };
	const char *why = NULL;
	char text[1024];

	assert_true(state_format("vm1", &sample, text, sizeof(text)) > 0);
	assert_int_equal(state_parse("vm1", text, &s, &why), 0);
	assert_memory_equal(&s, &sample, sizeof(s));
	/* No target set reads back as none. */
	assert_true(state_format("vm1", &none, text, sizeof(text)) > 0);
	assert_non_null(strstr(text, "target none\n"));
	assert_int_equal(state_parse("vm1", text, &s, &why), 0);
	assert_false(s.target_set);
	assert_int_equal(s.ram_size, 1 << 30);
}

/* Every prefix of a good file (a torn write) is refused. */
static void test_torn(void **state)
{
	struct balloon_saved s;
	const char *why;
	char text[1024], cut[1024];
	int n = state_format("vm1", &sample, text, sizeof(text)), i;

	for (i = 0; i < n - 1; i++) {
		memcpy(cut, text, i);
		cut[i] = '\0';
		assert_int_equal(state_parse("vm1", cut, &s, &why), -EINVAL);
		assert_non_null(why);
	}
}

static void test_refused(void **state)
{
	struct balloon_saved s;
	const char *why;
	char text[1024], *p;

	state_format("vm1", &sample, text, sizeof(text));
	/* Another guest's file. */
	assert_int_equal(state_parse("vm2", text, &s, &why), -EINVAL);
	assert_string_equal(why, "the file belongs to another guest");
	/* An edited value: the check sum catches it. */
	p = strstr(text, "actual-pages 102400");
	p[13] = '9';
	assert_int_equal(state_parse("vm1", text, &s, &why), -EINVAL);
	assert_string_equal(why, "the check sum does not match: torn or edited");
	/* Not ours at all. */
	assert_int_equal(state_parse("vm1", "hello\n", &s, &why), -EINVAL);
	assert_int_equal(state_parse("vm1", "", &s, &why), -EINVAL);
}

/* Well formed and correctly summed, but absurd: still refused. */
static void test_absurd_values(void **state)
{
	struct balloon_saved s, bad = sample;
	const char *why;
	char text[1024];

	bad.actual_pages = (uint32_t)((bad.ram_size >> 12) + 1);	/* more than RAM */
	state_format("vm1", &bad, text, sizeof(text));
	assert_int_equal(state_parse("vm1", text, &s, &why), -EINVAL);
	bad = sample;
	bad.ram_size = 1ULL << 50;					/* 1 PiB */
	state_format("vm1", &bad, text, sizeof(text));
	assert_int_equal(state_parse("vm1", text, &s, &why), -EINVAL);
	/* A name that would need more room than a file has. */
	{
		char name[2000];

		memset(name, 'a', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		assert_int_equal(state_format(name, &sample, text, sizeof(text)), -ENOSPC);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_torn),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_absurd_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
