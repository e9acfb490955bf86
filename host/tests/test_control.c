// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_control.c - the QMP control socket: command semantics through
 * control_execute(), then the socket itself with a forked hostile client
 * (no capabilities, malformed JSON, split and batched commands, oversize
 * input, vanishing clients, many clients, events).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "../src/balloon.h"
#include "../src/control.h"
#include "../src/loop.h"
#include "../src/vdev.h"

#define MIB (1ULL << 20)

static struct balloon *mk(const char *name, uint64_t ram)
{
	struct balloon_opts o;
	struct balloon *b;

	balloon_opts_default(&o);
	snprintf(o.name, sizeof(o.name), "%s", name);
	o.ram_size = ram;
	b = balloon_new(&o, NULL);
	assert_non_null(b);
	return b;
}

/* Run a command, return the parsed reply (caller puts it). */
static json_object *exec(const char *cmd)
{
	char *s = control_execute(cmd);
	json_object *o;

	assert_non_null(s);
	o = json_tokener_parse(s);
	assert_non_null(o);
	free(s);
	return o;
}

static const char *err_class(json_object *o)
{
	json_object *e, *c;

	if (!json_object_object_get_ex(o, "error", &e) ||
	    !json_object_object_get_ex(e, "class", &c))
		return NULL;
	return json_object_get_string(c);
}

static void expect_error(const char *cmd, const char *cls)
{
	json_object *o = exec(cmd);

	assert_non_null(err_class(o));
	if (cls)
		assert_string_equal(err_class(o), cls);
	json_object_put(o);
}

static json_object *expect_return(const char *cmd)
{
	json_object *o = exec(cmd), *r;

	if (err_class(o))
		fail_msg("%s -> %s", cmd, json_object_to_json_string(o));
	assert_true(json_object_object_get_ex(o, "return", &r));
	json_object_get(r);
	json_object_put(o);
	return r;
}

static int64_t get_i64(json_object *o, const char *k)
{
	json_object *v;

	assert_true(json_object_object_get_ex(o, k, &v));
	return json_object_get_int64(v);
}

static void test_no_guest(void **state)
{
	expect_error("{\"execute\":\"query-balloon\"}", "DeviceNotActive");
	expect_error("{\"execute\":\"balloon\",\"arguments\":{\"value\":1}}",
		     "DeviceNotActive");
}

static void test_balloon_and_query(void **state)
{
	struct balloon *b = mk("vm", 512 * MIB);
	struct balloon_info i;
	json_object *r;

	r = expect_return("{\"execute\":\"query-balloon\"}");
	assert_int_equal(get_i64(r, "actual"), 512 * MIB);
	json_object_put(r);
	r = expect_return("{\"execute\":\"balloon\",\"arguments\":{\"value\":268435456}}");
	json_object_put(r);
	balloon_get_info(b, &i);
	assert_int_equal(i.target, 256 * MIB);
	assert_int_equal(i.num_pages, 65536);
	/* Hostile values. */
	expect_error("{\"execute\":\"balloon\",\"arguments\":{\"value\":0}}", "GenericError");
	expect_error("{\"execute\":\"balloon\",\"arguments\":{\"value\":-4096}}", "GenericError");
	expect_error("{\"execute\":\"balloon\",\"arguments\":{\"value\":\"1G\"}}", "GenericError");
	expect_error("{\"execute\":\"balloon\",\"arguments\":{}}", "GenericError");
	expect_error("{\"execute\":\"balloon\",\"arguments\":[1]}", "GenericError");
	expect_error("{\"execute\":\"balloon\",\"arguments\":{\"value\":1,\"guest\":7}}",
		     "GenericError");
	balloon_get_info(b, &i);
	assert_int_equal(i.target, 256 * MIB);	/* unchanged by refusals */
	balloon_free(b);
}

static void test_protocol_errors_and_id(void **state)
{
	json_object *o, *id;

	expect_error("{\"execute\":\"no-such-command\"}", "CommandNotFound");
	expect_error("{\"exec\":\"query-balloon\"}", "GenericError");
	expect_error("[1,2,3]", "GenericError");
	expect_error("{\"execute\":42}", "GenericError");
	expect_error("{\"execute\":\"qmp_capabilities\"}", "CommandNotFound");
	expect_error("{\"execute\":", "GenericError");
	o = exec("{\"execute\":\"query-commands\",\"id\":{\"n\":5}}");
	assert_true(json_object_object_get_ex(o, "id", &id));
	assert_int_equal(get_i64(id, "n"), 5);
	json_object_put(o);
}

static void test_guest_addressing(void **state)
{
	struct balloon *a = mk("alpha", 256 * MIB), *b = mk("beta", 1024 * MIB);
	json_object *r;

	expect_error("{\"execute\":\"query-balloon\"}", "GenericError");
	r = expect_return("{\"execute\":\"query-balloon\",\"arguments\":{\"guest\":\"beta\"}}");
	assert_int_equal(get_i64(r, "actual"), 1024 * MIB);
	json_object_put(r);
	expect_error("{\"execute\":\"query-balloon\",\"arguments\":{\"guest\":\"gamma\"}}",
		     "DeviceNotFound");
	r = expect_return("{\"execute\":\"x-vb-list\"}");
	assert_int_equal(json_object_array_length(r), 2);
	json_object_put(r);
	r = expect_return("{\"execute\":\"x-vb-query\"}");
	assert_int_equal(json_object_array_length(r), 2);
	json_object_put(r);
	r = expect_return("{\"execute\":\"x-vb-query\",\"arguments\":{\"guest\":\"alpha\"}}");
	assert_int_equal(get_i64(r, "ram-size"), 256 * MIB);
	assert_int_equal(get_i64(r, "refused"), 0);
	/* No driver yet: no transfer mode, no guest memory to measure. */
	assert_string_equal(json_object_get_string(
		json_object_object_get(r, "transfer")), "none");
	assert_false(json_object_object_get_ex(r, "ram-thp-bytes", NULL));
	assert_true(json_object_object_get_ex(r, "ram-allocated", NULL));
	json_object_put(r);
	balloon_free(a);
	balloon_free(b);
}

static void test_qom_stats(void **state)
{
	struct balloon *b = mk("vm", 512 * MIB);
	json_object *r;

	expect_error("{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/vm\","
		     "\"property\":\"guest-stats\"}}", "GenericError");	/* no stats yet */
	expect_error("{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/x\","
		     "\"property\":\"guest-stats\"}}", "DeviceNotFound");
	expect_error("{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"vm\","
		     "\"property\":\"colour\"}}", "GenericError");
	expect_error("{\"execute\":\"qom-get\",\"arguments\":{\"property\":\"guest-stats\"}}",
		     "GenericError");
	r = expect_return("{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"vm\","
			  "\"property\":\"guest-stats-polling-interval\",\"value\":7}}");
	json_object_put(r);
	r = expect_return("{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/vm\","
			  "\"property\":\"guest-stats-polling-interval\"}}");
	assert_int_equal(json_object_get_int64(r), 7);
	json_object_put(r);
	expect_error("{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"vm\","
		     "\"property\":\"guest-stats-polling-interval\",\"value\":-1}}", "GenericError");
	expect_error("{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"vm\","
		     "\"property\":\"guest-stats-polling-interval\",\"value\":99999999999}}",
		     "GenericError");
	expect_error("{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"vm\","
		     "\"property\":\"guest-stats\",\"value\":1}}", "GenericError");
	/* Hints and stats requests need a live, negotiated device. */
	expect_error("{\"execute\":\"x-vb-hint-start\"}", "GenericError");
	expect_error("{\"execute\":\"x-vb-stats-request\"}", NULL);
	balloon_free(b);
}

/* ---- over the socket ------------------------------------------------------ */

static char sock_path[108];

static int client_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return fd;
}

/* Read one line (with a 5 s receive timeout: a missing reply is a failure). */
static int read_line(int fd, char *buf, size_t cap)
{
	struct timeval tv = { .tv_sec = 5 };
	size_t n = 0;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, 1);

		if (r <= 0)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return n;
}

static int say(int fd, const char *s)
{
	return write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
}

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "client: %s failed (line %d)\n", \
						#cond, __LINE__); _exit(1); } } while (0)

/* Next non-event line. */
static int reply(int fd, char *buf, size_t cap)
{
	do {
		if (read_line(fd, buf, cap) < 0)
			return -1;
	} while (strstr(buf, "\"event\""));
	return 0;
}

static void client_main(void)
{
	char line[65536], *big;
	int fd, i, fds[70];

	fd = client_connect();
	CHECK(fd >= 0);
	CHECK(read_line(fd, line, sizeof(line)) > 0 && strstr(line, "\"QMP\""));
	/* Commands before negotiation are refused. */
	CHECK(say(fd, "{\"execute\":\"query-balloon\"}\n") == 0);
	CHECK(reply(fd, line, sizeof(line)) == 0 && strstr(line, "CommandNotFound"));
	CHECK(say(fd, "{\"execute\":\"qmp_capabilities\"}") == 0);	/* no newline */
	CHECK(reply(fd, line, sizeof(line)) == 0 && strstr(line, "\"return\""));
	/* Malformed JSON: an error, then the connection still works. */
	CHECK(say(fd, "{\"execute\": nonsense}\n") == 0);
	CHECK(reply(fd, line, sizeof(line)) == 0 && strstr(line, "GenericError"));
	/* Two commands in one write, then one split across writes. */
	CHECK(say(fd, "{\"execute\":\"query-balloon\",\"id\":1}{\"execute\":\"query-balloon\",\"id\":2}\n") == 0);
	CHECK(reply(fd, line, sizeof(line)) == 0 && strstr(line, "\"id\":1"));
	CHECK(reply(fd, line, sizeof(line)) == 0 && strstr(line, "\"id\":2"));
	CHECK(say(fd, "{\"execute\":\"query-") == 0);
	usleep(50000);
	CHECK(say(fd, "balloon\",\"id\":3}") == 0);
	CHECK(reply(fd, line, sizeof(line)) == 0 && strstr(line, "\"id\":3") &&
	      strstr(line, "\"actual\":"));
	/* The event the parent triggers reaches a negotiated client. */
	do
		CHECK(read_line(fd, line, sizeof(line)) > 0);
	while (!strstr(line, "BALLOON_CHANGE"));
	CHECK(strstr(line, "\"timestamp\"") && strstr(line, "\"actual\":"));
	/* Clients vanishing mid-command, and many at once. */
	for (i = 0; i < 70; i++) {
		fds[i] = client_connect();
		CHECK(fds[i] >= 0);
		say(fds[i], "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"x-vb-qu");
	}
	for (i = 0; i < 70; i++)
		close(fds[i]);
	/* Oversize input: refused and disconnected. */
	big = malloc(200000);
	CHECK(big);
	memset(big, ' ', 200000);
	memcpy(big, "{\"execute\":\"balloon\",\"arguments\":{\"x\":\"", 39);
	send(fd, big, 200000, MSG_NOSIGNAL);
	free(big);
	CHECK(reply(fd, line, sizeof(line)) == 0);
	if (!strstr(line, "too long"))
		fprintf(stderr, "client: got %.200s\n", line);
	CHECK(strstr(line, "too long"));
	CHECK(read_line(fd, line, sizeof(line)) < 0);	/* closed */
	close(fd);
	/* And the server still serves a new client. */
	fd = client_connect();
	CHECK(fd >= 0);
	CHECK(read_line(fd, line, sizeof(line)) > 0);
	CHECK(say(fd, "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"x-vb-list\"}\n") == 0);
	CHECK(reply(fd, line, sizeof(line)) == 0);
	CHECK(reply(fd, line, sizeof(line)) == 0 && strstr(line, "\"name\":\"sock-vm\""));
	close(fd);
	_exit(0);
}

struct parent {
	pid_t child;
	int status;
	struct balloon *b;
	int ticks;
};

static void tick(struct loop *l, void *opaque)
{
	struct parent *p = opaque;
	struct vdev *vd = balloon_vdev(p->b);
	uint32_t actual = htole32(++p->ticks);

	/* Keep changing `actual`: BALLOON_CHANGE events for the client. */
	vd->ops->set_config(vd, 4, &actual, 4);
	if (waitpid(p->child, &p->status, WNOHANG) == p->child) {
		p->child = 0;
		loop_stop(l);
	}
	if (p->ticks > 3000)	/* 30 s: the client hangs */
		loop_stop(l);
}

static void test_socket_hostile_clients(void **state)
{
	struct parent p = { 0 };
	struct loop *l = loop_new();

	assert_non_null(l);
	signal(SIGPIPE, SIG_IGN);
	snprintf(sock_path, sizeof(sock_path), "/tmp/vb-test-control.%d", getpid());
	p.b = mk("sock-vm", 512 * MIB);
	assert_int_equal(control_listen(l, sock_path), 0);
	p.child = fork();
	assert_true(p.child >= 0);
	if (!p.child)
		client_main();
	assert_true(loop_add_timer(l, 10, true, tick, &p) > 0);
	assert_int_equal(loop_run(l), 0);
	if (p.child) {
		kill(p.child, SIGKILL);
		waitpid(p.child, &p.status, 0);
		fail_msg("client did not finish");
	}
	assert_true(WIFEXITED(p.status));
	assert_int_equal(WEXITSTATUS(p.status), 0);
	control_close();
	assert_int_not_equal(access(sock_path, F_OK), 0);
	balloon_free(p.b);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_guest),
		cmocka_unit_test(test_balloon_and_query),
		cmocka_unit_test(test_protocol_errors_and_id),
		cmocka_unit_test(test_guest_addressing),
		cmocka_unit_test(test_qom_stats),
		cmocka_unit_test(test_socket_hostile_clients),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
