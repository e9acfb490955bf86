// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_broker_input.c - everything the broker reads from outside, hostile:
 * the config file, QMP answers, /proc/meminfo and PSI text.  The claim
 * each test checks: a bad value is refused and counted, and nothing a bad
 * input does can make the law shrink a guest below a valid config's floor.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/answers.h"
#include "../src/config.h"
#include "../src/hostmem.h"
#include "log.h"

#define MIB	LAW_MIB
#define RAM	(512 * MIB)

static struct law_params params_of(const char *text, const char *guest, uint64_t ram,
				   unsigned *errors, bool *paused)
{
	struct broker_config c;
	struct law_params p;
	bool pz;

	config_init(&c);
	*errors = config_parse(&c, text);
	config_params(&c, guest, ram, &p, paused ? paused : &pz);
	return p;
}

static void test_config_defaults(void **st)
{
	unsigned err;
	struct law_params p = params_of("", "g", RAM, &err, NULL);

	assert_int_equal(err, 0);
	assert_int_equal(p.floor, 128 * MIB);
	assert_int_equal(p.ceiling, RAM);
	assert_int_equal(p.headroom, 32 * MIB);
	assert_int_equal(p.min_change, 8 * MIB);
	assert_int_equal(p.shrink_step, 256 * MIB);
	assert_int_equal(p.grow_step, 256 * MIB);
	assert_int_equal(p.weight, 1);
	assert_int_equal(p.max_resizes, 12);
	/* A big guest: floor 1/8. */
	p = params_of("", "g", 8192 * MIB, &err, NULL);
	assert_int_equal(p.floor, 1024 * MIB);
}

static void test_config_values_and_overrides(void **st)
{
	unsigned err;
	bool paused;
	const char *text =
		"# comment\n\n"
		"  floor=25% , headroom=64M , quiet=0.5\n"
		"guest=web,floor=300MiB,ceiling=90%,weight=3,paused=on,reclaim-cache=off\n"
		"budget=6G,interval=0.1,dry-run=yes,metrics=/tmp/m.prom\n";
	struct law_params p = params_of(text, "web", RAM, &err, &paused);

	assert_int_equal(err, 0);
	assert_int_equal(p.floor, 300 * MIB);
	assert_int_equal(p.ceiling, RAM / 1000 * 900);
	assert_int_equal(p.headroom, 64 * MIB);		/* default line */
	assert_int_equal(p.quiet_ms, 500);
	assert_int_equal(p.weight, 3);
	assert_false(p.reclaim_cache);
	assert_true(paused);
	p = params_of(text, "other", RAM, &err, &paused);
	assert_int_equal(p.floor, RAM / 1000 * 250);
	assert_false(paused);
}

static void test_config_globals_and_endpoints(void **st)
{
	struct broker_config c;

	config_init(&c);
	assert_int_equal(config_parse(&c,
		"budget=6G,interval=0.1,dry-run=yes,metrics=/tmp/m.prom,host-psi=2.5\n"
		"qmp=/run/vb.sock\n"
		"qmp=/run/q.sock,name=web,qom-path=/machine/peripheral/b0\n"), 0);
	assert_int_equal(c.budget, 6ULL << 30);
	assert_int_equal(c.interval_ms, 100);
	assert_true(c.host_psi == 2.5);
	assert_true(c.dry_run);
	assert_string_equal(c.metrics, "/tmp/m.prom");
	assert_int_equal(c.nendpoints, 2);
	assert_string_equal(c.endpoints[1].path, "/run/q.sock");
	assert_string_equal(c.endpoints[1].name, "web");
	assert_string_equal(c.endpoints[1].qom_path, "/machine/peripheral/b0");
}

/* Each bad value: one error, and the default stands. */
static void test_config_bad_values_refused(void **st)
{
	static const char *const bad[] = {
		"floor=-5M", "floor=nan", "floor=NaN%", "floor=inf", "floor=1e400",
		"floor=", "floor=12Q", "floor=200%", "floor=0%", "floor=0x100",
		"floor=99999999999T", "ceiling=-1", "headroom=abc", "weight=0",
		"weight=1001", "weight=-3", "weight=2.5", "max-resizes=1",
		"max-resizes=100000", "quiet=-1", "quiet=nan", "quiet=99999",
		"paused=maybe", "nonsense=1", "guest=bad,nope=3", "refault-rate=0",
	};
	struct law_params p, def;
	unsigned i, err;

	def = params_of("", "bad", RAM, &err, NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = params_of(bad[i], "bad", RAM, &err, NULL);
		if (err != 1)
			fail_msg("'%s': %u errors, want 1", bad[i], err);
		assert_memory_equal(&p, &def, sizeof(p));
	}
}

static void test_config_bad_globals_refused(void **st)
{
	static const char *const bad[] = {
		"budget=-1G", "budget=nan", "interval=0", "interval=0.01",
		"interval=nan", "interval=-1", "dry-run=2", "metrics=", "qmp=",
		"host-psi=101", "host-psi=nan", "host-psi=-1", "host-psi=1e1",
	};
	struct broker_config c, def;
	unsigned i;

	config_init(&def);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_init(&c);
		if (config_parse(&c, bad[i]) != 1)
			fail_msg("'%s' not refused once", bad[i]);
		c.errors = 0;
		assert_memory_equal(&c, &def, sizeof(c));
	}
}

/* Values that parse but make no sense are clamped, never honoured below
 * the hard floor nor above the guest's RAM. */
static void test_config_clamped(void **st)
{
	unsigned err;
	struct law_params p;

	p = params_of("floor=1M", "g", RAM, &err, NULL);
	assert_int_equal(p.floor, LAW_HARD_FLOOR);	/* the 1 MiB target that panics */
	p = params_of("floor=10T,ceiling=20T", "g", RAM, &err, NULL);
	assert_int_equal(p.floor, RAM);
	assert_int_equal(p.ceiling, RAM);
	p = params_of("floor=300M,ceiling=200M", "g", RAM, &err, NULL);
	assert_int_equal(p.ceiling, 300 * MIB);		/* ceiling >= floor */
	p = params_of("headroom=100%", "g", RAM, &err, NULL);
	assert_int_equal(p.headroom, RAM / 2);
	p = params_of("", "g", 32 * MIB, &err, NULL);	/* smaller than the hard floor */
	assert_int_equal(p.floor, 32 * MIB);
	assert_int_equal(p.ceiling, 32 * MIB);
}

static void test_config_long_lines_and_garbage(void **st)
{
	struct broker_config c;
	char *text = malloc(5000);
	unsigned err;

	memset(text, 'x', 4999);
	text[4999] = '\0';
	config_init(&c);
	assert_int_equal(config_parse(&c, text), 1);
	config_init(&c);
	err = config_parse(&c, "\x01\x02=\xff\n,,,\n=,=\nfloor==5\n");
	assert_true(err >= 2);
	free(text);
}

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245 + 12345;
	return rnd_state >> 8;
}

/* Random lines of real keys and hostile values: the invariants the law
 * relies on hold for every outcome. */
static void test_config_random_keeps_invariants(void **st)
{
	static const char *const keys[] = {
		"floor", "ceiling", "headroom", "min-change", "shrink-step", "grow-step",
		"weight", "max-resizes", "quiet", "guest=g,floor", "guest=g,ceiling",
	};
	static const char *const vals[] = {
		"-1", "0", "1", "nan", "1e308", "100%", "0.1%", "64M", "1T", "", "5",
		"18446744073709551615", "-0", "3.5G", "70%",
	};
	char line[200];
	unsigned i, err;
	struct law_params p;

	for (i = 0; i < 5000; i++) {
		snprintf(line, sizeof(line), "%s=%s,%s=%s", keys[rnd() % 11], vals[rnd() % 15],
			 keys[rnd() % 11], vals[rnd() % 15]);
		p = params_of(line, "g", RAM, &err, NULL);
		assert_true(p.floor >= LAW_HARD_FLOOR && p.floor <= p.ceiling && p.ceiling <= RAM);
		assert_true(p.weight >= 1 && p.weight <= 1000);
		assert_true(p.min_change >= MIB && p.shrink_step >= p.min_change);
		assert_true(p.max_resizes >= 2 && p.max_resizes <= LAW_RESIZE_RING);
	}
}

/* ---- QMP answers ---- */

static json_object *J(const char *s)
{
	json_object *o = json_tokener_parse(s);

	assert_non_null(o);
	return o;
}

static void test_stats_good(void **st)
{
	json_object *o = J("{\"stats\": {\"stat-swap-in\": 0, \"stat-major-faults\": 301,"
			   "\"stat-minor-faults\": 58123, \"stat-free-memory\": 484392960,"
			   "\"stat-available-memory\": 479412224, \"stat-disk-caches\": 5529600,"
			   "\"stat-oom-kills\": -1, \"stat-alloc-stalls\": -1},"
			   "\"last-update\": 1795456123}");
	struct answer_stats a;

	assert_int_equal(answer_stats(o, RAM, &a), 0);
	assert_int_equal(a.s.free, 484392960);
	assert_int_equal(a.s.avail, 479412224);
	assert_int_equal(a.s.caches, 5529600);
	assert_int_equal(a.s.majflt, 301);
	assert_int_equal(a.s.oom_kills, -1);
	assert_int_equal(a.s.stalls, -1);
	assert_int_equal(a.last_update, 1795456123);
	json_object_put(o);
}

static void test_stats_hostile(void **st)
{
	static const struct { const char *json; int bad; } cases[] = {
		{ "{\"stats\": {\"stat-free-memory\": -5}}", 1 },
		{ "{\"stats\": {\"stat-free-memory\": NaN}}", 1 },
		{ "{\"stats\": {\"stat-free-memory\": 1.5e9}}", 1 },
		{ "{\"stats\": {\"stat-free-memory\": \"100\"}}", 1 },
		{ "{\"stats\": {\"stat-free-memory\": 536870913}}", 1 },	/* > RAM */
		{ "{\"stats\": {\"stat-available-memory\": 99999999999999999999}}", 1 },
		{ "{\"stats\": {\"stat-major-faults\": -2, \"stat-swap-in\": true}}", 2 },
		{ "{\"stats\": {\"stat-free-memory\": null, \"stat-disk-caches\": []}}", 2 },
		{ "{\"stats\": {}, \"last-update\": -7}", 0 },
	};
	struct answer_stats a;
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_object *o = J(cases[i].json);

		if (answer_stats(o, RAM, &a) != cases[i].bad)
			fail_msg("'%s': not %d refused", cases[i].json, cases[i].bad);
		assert_int_equal(a.s.free, -1);
		assert_int_equal(a.s.avail, -1);
		assert_true(a.s.majflt == -1 && a.s.swapin == -1 && a.s.caches == -1);
		assert_int_equal(a.last_update, -1);
		json_object_put(o);
	}
	for (i = 0; i < 4; i++) {
		static const char *const proto[] = { "[]", "{}", "{\"stats\": 5}", "\"x\"" };
		json_object *o = J(proto[i]);

		assert_int_equal(answer_stats(o, RAM, &a), -EPROTO);
		json_object_put(o);
	}
	assert_int_equal(answer_stats(NULL, RAM, &a), -EPROTO);
}

static void test_actual_and_ram(void **st)
{
	static const char *const bad[] = {
		"{\"actual\": 0}", "{\"actual\": -4096}", "{\"actual\": 536870913}",
		"{\"actual\": 1e9}", "{\"actual\": \"1\"}", "{}", "[]",
	};
	uint64_t v;
	unsigned i;
	json_object *o = J("{\"actual\": 268435456}");

	assert_int_equal(answer_actual(o, RAM, &v), 0);
	assert_int_equal(v, 268435456);
	json_object_put(o);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = J(bad[i]);
		if (answer_actual(o, RAM, &v) != -EPROTO)
			fail_msg("'%s' accepted", bad[i]);
		json_object_put(o);
	}
	o = J("{\"base-memory\": 536870912, \"plugged-memory\": 0}");
	assert_int_equal(answer_ram(o, &v), 0);
	assert_int_equal(v, RAM);
	json_object_put(o);
	o = J("{\"base-memory\": -1}");
	assert_int_equal(answer_ram(o, &v), -EPROTO);
	json_object_put(o);
}

static void test_list(void **st)
{
	json_object *o = J("[{\"name\": \"a\", \"connected\": true, \"broken\": false,"
			   "  \"ram-size\": 536870912, \"actual\": 268435456},"
			   " {\"name\": \"b\", \"connected\": false, \"broken\": false, \"ram-size\": 0},"
			   " {\"name\": \"c\\\"} 1\\n\", \"connected\": false, \"broken\": false, \"ram-size\": 0},"
			   " {\"name\": \"d\", \"connected\": true, \"broken\": false,"
			   "  \"ram-size\": 1000, \"actual\": 2000},"
			   " {\"name\": \"e\", \"connected\": 1, \"broken\": false, \"ram-size\": 0},"
			   " 7, null]");
	struct answer_guest g[8];
	unsigned bad;

	assert_int_equal(answer_list(o, g, 8, &bad), 2);
	assert_int_equal(bad, 5);
	assert_string_equal(g[0].name, "a");
	assert_true(g[0].connected);
	assert_int_equal(g[0].actual, 268435456);
	assert_string_equal(g[1].name, "b");
	assert_false(g[1].connected);
	assert_int_equal(answer_list(o, g, 1, &bad), 1);	/* bounded */
	json_object_put(o);
	o = J("{}");
	assert_int_equal(answer_list(o, g, 8, &bad), -EPROTO);
	json_object_put(o);
}

static void test_balloon_child_and_names(void **st)
{
	json_object *o = J("[{\"name\": \"type\", \"type\": \"string\"}, 3,"
			   " {\"name\": \"nic0\", \"type\": \"child<virtio-net-pci>\"},"
			   " {\"name\": \"balloon0\", \"type\": \"child<virtio-balloon-pci>\"}]");
	char name[64];

	assert_int_equal(answer_balloon_child(o, name, sizeof(name)), 0);
	assert_string_equal(name, "balloon0");
	json_object_put(o);
	o = J("[]");
	assert_int_equal(answer_balloon_child(o, name, sizeof(name)), -ENOENT);
	json_object_put(o);
	assert_true(answer_name_ok("vm-1.a_b"));
	assert_false(answer_name_ok(""));
	assert_false(answer_name_ok("a\"b"));
	assert_false(answer_name_ok("a b"));
	assert_false(answer_name_ok("0123456789012345678901234567890123456789012345678901234567890123"));
}

/* ---- host ---- */

static void test_hostmem(void **st)
{
	struct host_mem h = { 0 };

	assert_int_equal(hostmem_parse_meminfo("MemTotal:       24000000 kB\nMemFree: 1 kB\n"
					       "MemAvailable:   20000000 kB\n", &h), 0);
	assert_int_equal(h.total, 24000000ULL * 1024);
	assert_int_equal(h.avail, 20000000ULL * 1024);
	memset(&h, 0, sizeof(h));
	assert_int_equal(hostmem_parse_meminfo("XMemAvailable: 5 kB\nMemTotal: x kB\n", &h), -EINVAL);
	assert_int_equal(h.avail, 0);
	assert_int_equal(hostmem_parse_psi("some avg10=1.50 avg60=0.20 avg300=0.00 total=1\n"
					   "full avg10=0.75 avg60=0.00 avg300=0.00 total=1\n", &h), 0);
	assert_true(h.psi);
	assert_true(h.some_avg10 > 1.49 && h.some_avg10 < 1.51);
	assert_true(h.full_avg10 > 0.74 && h.full_avg10 < 0.76);
	assert_int_equal(hostmem_parse_psi("some avg10=nan avg60=0\n", &h), -EINVAL);
	assert_false(h.psi);
	assert_int_equal(hostmem_parse_psi("some avg10=400\n", &h), -EINVAL);
	assert_int_equal(hostmem_parse_psi("", &h), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_values_and_overrides),
		cmocka_unit_test(test_config_globals_and_endpoints),
		cmocka_unit_test(test_config_bad_values_refused),
		cmocka_unit_test(test_config_bad_globals_refused),
		cmocka_unit_test(test_config_clamped),
		cmocka_unit_test(test_config_long_lines_and_garbage),
		cmocka_unit_test(test_config_random_keeps_invariants),
		cmocka_unit_test(test_stats_good),
		cmocka_unit_test(test_stats_hostile),
		cmocka_unit_test(test_actual_and_ram),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_balloon_child_and_names),
		cmocka_unit_test(test_hostmem),
	};

	vb_log_set_level(VB_LOG_ERR);	/* the refusals are expected */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
