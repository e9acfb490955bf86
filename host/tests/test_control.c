// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_control.c - the control plane: the guest registry, command semantics
 * and QEMU's error classes through control_execute(), the wire text byte for
 * byte, then the socket itself with a forked client sending raw bytes
 * (framing, malformed JSON, invalid UTF-8, oversize texts, unknown members,
 * vanishing and many clients, events, a second daemon on the same path).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
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

#include "balloon.h"
#include "control.h"
#include "guests.h"
#include "loop.h"
#include "qmp_commands.h"
#include "qmp_events.h"
#include "qmp_json.h"
#include "unix_listen.h"
#include "vdev.h"

#define MIB (1ULL << 20)

/* A registered guest; attached: as if its frontend were connected. */
static struct balloon *mk(const char *name, uint64_t ram, bool attached)
{
	struct balloon_opts o;
	struct balloon *b;

	balloon_opts_default(&o);
	snprintf(o.name, sizeof(o.name), "%s", name);
	o.ram_size = ram;
	b = balloon_new(&o, NULL);
	assert_non_null(b);
	assert_int_equal(guests_add(b), 0);
	balloon_vdev(b)->connected = attached;
	return b;
}

static void rm(struct balloon *b)
{
	guests_remove(b);
	balloon_free(b);
}

/* The reply's wire text (caller frees). */
static char *exec_text(const char *cmd)
{
	char *s = control_execute(cmd);

	assert_non_null(s);
	return s;
}

/* Run a command, return the parsed reply (caller puts it). */
static json_object *exec(const char *cmd)
{
	char *s = exec_text(cmd);
	json_object *o = json_tokener_parse(s);

	assert_non_null(o);
	free(s);
	return o;
}

static const char *err_member(json_object *o, const char *k)
{
	json_object *e, *c;

	if (!json_object_object_get_ex(o, "error", &e) ||
	    !json_object_object_get_ex(e, k, &c))
		return NULL;
	return json_object_get_string(c);
}

/* cls NULL: any error; desc NULL: any text. */
static void expect_error(const char *cmd, const char *cls, const char *desc)
{
	json_object *o = exec(cmd);

	if (!err_member(o, "class"))
		fail_msg("%s -> %s", cmd, json_object_to_json_string(o));
	if (cls)
		assert_string_equal(err_member(o, "class"), cls);
	if (desc)
		assert_string_equal(err_member(o, "desc"), desc);
	json_object_put(o);
}

static json_object *expect_return(const char *cmd)
{
	json_object *o = exec(cmd), *r;

	if (err_member(o, "class"))
		fail_msg("%s -> %s", cmd, json_object_to_json_string(o));
	assert_true(json_object_object_get_ex(o, "return", &r));
	json_object_get(r);
	json_object_put(o);
	return r;
}

static void expect_text(const char *cmd, const char *want)
{
	char *s = exec_text(cmd);

	assert_string_equal(s, want);
	free(s);
}

static int64_t get_i64(json_object *o, const char *k)
{
	json_object *v;

	assert_true(json_object_object_get_ex(o, k, &v));
	return json_object_get_int64(v);
}

/* ---- registry ----------------------------------------------------------- */

static void test_registry(void **state)
{
	struct balloon *a = mk("vm-a", 0, false), *b = mk("vm-b", 0, false), *dup;
	struct balloon_opts o;

	balloon_opts_default(&o);
	strcpy(o.name, "vm-a");
	dup = balloon_new(&o, NULL);
	assert_int_equal(guests_add(dup), -EEXIST);
	o.name[0] = '\0';
	assert_int_equal(guests_add(dup), -EEXIST);	/* still named vm-a */
	balloon_free(dup);
	assert_ptr_equal(guests_find("vm-b"), b);
	assert_ptr_equal(guests_next(NULL), a);	/* registration order */
	assert_ptr_equal(guests_next(a), b);
	assert_null(guests_next(b));
	assert_int_equal(guests_count(), 2);
	rm(a);
	assert_ptr_equal(guests_next(NULL), b);
	rm(b);
	assert_null(guests_next(NULL));
	assert_int_equal(guests_count(), 0);
}

/* ---- commands ----------------------------------------------------------- */

static void test_no_guest(void **state)
{
	expect_error("{\"execute\":\"query-balloon\"}", "DeviceNotActive",
		     "No balloon device has been activated");
	expect_error("{\"execute\":\"balloon\",\"arguments\":{\"value\":1}}",
		     "DeviceNotActive", NULL);
}

/* A guest not attached says so plainly; a target set meanwhile is kept. */
static void test_absent_guest(void **state)
{
	struct balloon *b = mk("vm", 512 * MIB, false), *n = mk("noram", 0, false);
	struct balloon_info i;

	expect_error("{\"execute\":\"query-balloon\",\"arguments\":{\"guest\":\"vm\"}}",
		     "DeviceNotActive", "Guest 'vm' is not connected");
	json_object_put(expect_return("{\"execute\":\"balloon\",\"arguments\":"
				      "{\"value\":268435456,\"guest\":\"vm\"}}"));
	balloon_get_info(b, &i);
	assert_int_equal(i.target, 256 * MIB);
	assert_int_equal(i.num_pages, 65536);
	/* No RAM size known yet: accepted all the same, applied later. */
	json_object_put(expect_return("{\"execute\":\"balloon\",\"arguments\":"
				      "{\"value\":268435456,\"guest\":\"noram\"}}"));
	balloon_get_info(n, &i);
	assert_int_equal(i.target, 256 * MIB);
	assert_int_equal(i.num_pages, 0);
	balloon_vdev(n)->connected = true;	/* attached, no driver yet */
	expect_error("{\"execute\":\"query-balloon\",\"arguments\":{\"guest\":\"noram\"}}",
		     "DeviceNotActive", "Guest 'noram' has not started its balloon driver");
	rm(b);
	rm(n);
}

static void test_balloon_and_query(void **state)
{
	struct balloon *b = mk("vm", 512 * MIB, true);
	struct balloon_info i;
	json_object *r;

	r = expect_return("{\"execute\":\"query-balloon\"}");
	assert_int_equal(get_i64(r, "actual"), 512 * MIB);
	json_object_put(r);
	json_object_put(expect_return("{\"execute\":\"balloon\",\"arguments\":{\"value\":268435456}}"));
	balloon_get_info(b, &i);
	assert_int_equal(i.target, 256 * MIB);
	assert_int_equal(i.num_pages, 65536);
	/* Hostile values, with QEMU 7.2's texts. */
	expect_error("{\"execute\":\"balloon\",\"arguments\":{\"value\":0}}", "GenericError",
		     "Parameter 'target' expects a size");
	expect_error("{\"execute\":\"balloon\",\"arguments\":{\"value\":-4096}}", "GenericError",
		     "Parameter 'target' expects a size");
	expect_error("{\"execute\":\"balloon\",\"arguments\":{\"value\":9223372036854775808}}",
		     "GenericError", "Invalid parameter type for 'value', expected: integer");
	expect_error("{\"execute\":\"balloon\",\"arguments\":{\"value\":18446744073709551616}}",
		     "GenericError", "Invalid parameter type for 'value', expected: integer");
	expect_error("{\"execute\":\"balloon\",\"arguments\":{\"value\":1.5}}", "GenericError",
		     "Invalid parameter type for 'value', expected: integer");
	expect_error("{\"execute\":\"balloon\",\"arguments\":{\"value\":\"1G\"}}", "GenericError",
		     "Invalid parameter type for 'value', expected: integer");
	expect_error("{\"execute\":\"balloon\",\"arguments\":{}}", "GenericError",
		     "Parameter 'value' is missing");
	expect_error("{\"execute\":\"balloon\",\"arguments\":{\"value\":1,\"foo\":1}}",
		     "GenericError", "Parameter 'foo' is unexpected");
	expect_error("{\"execute\":\"balloon\",\"arguments\":{\"value\":1,\"guest\":7}}",
		     "GenericError", "Invalid parameter type for 'guest', expected: string");
	expect_error("{\"execute\":\"query-balloon\",\"arguments\":{\"x\":1}}",
		     "GenericError", "Parameter 'x' is unexpected");
	balloon_get_info(b, &i);
	assert_int_equal(i.target, 256 * MIB);	/* unchanged by refusals */
	json_object_put(expect_return("{\"execute\":\"balloon\",\"arguments\":{\"value\":9223372036854775807}}"));
	balloon_get_info(b, &i);
	assert_int_equal(i.num_pages, 0);	/* above RAM: no balloon */
	rm(b);
}

static void test_request_errors_and_id(void **state)
{
	json_object *o, *id;

	expect_error("{\"execute\":\"no-such-command\"}", "CommandNotFound",
		     "The command no-such-command has not been found");
	expect_error("{\"exec\":\"query-balloon\"}", "GenericError",
		     "QMP input member 'exec' is unexpected");
	expect_error("{\"id\":1}", "GenericError", "QMP input lacks member 'execute'");
	expect_error("[1,2,3]", "GenericError", "QMP input must be a JSON object");
	expect_error("7", "GenericError", "QMP input must be a JSON object");
	expect_error("null", "GenericError", "QMP input must be a JSON object");
	expect_error("{\"execute\":42}", "GenericError",
		     "QMP input member 'execute' must be a string");
	expect_error("{\"execute\":\"query-version\",\"arguments\":[]}", "GenericError",
		     "QMP input member 'arguments' must be an object");
	expect_error("{\"execute\":\"query-version\",\"control\":{}}", "GenericError",
		     "QMP input member 'control' is unexpected");
	expect_error("{\"execute\":\"qmp_capabilities\"}", "CommandNotFound",
		     "Capabilities negotiation is already complete, command ignored");
	expect_error("{\"execute\":", "GenericError", NULL);
	expect_error("{\"execute\":\"query-version\"} x", "GenericError", NULL);
	expect_error("{'execute':'query-version'}", "GenericError", NULL);	/* strict JSON */
	o = exec("{\"execute\":\"query-commands\",\"id\":{\"n\":5}}");
	assert_true(json_object_object_get_ex(o, "id", &id));
	assert_int_equal(get_i64(id, "n"), 5);
	json_object_put(o);
	/* QEMU echoes an id even when it is null, or the request is refused. */
	expect_text("{\"execute\":\"query-status\",\"id\":null}",
		    "{\"return\": {\"status\": \"running\", \"singlestep\": false, "
		    "\"running\": true}, \"id\": null}\r\n");
	expect_text("{\"id\":\"x\",\"execute\":\"nope\"}",
		    "{\"id\": \"x\", \"error\": {\"class\": \"CommandNotFound\", "
		    "\"desc\": \"The command nope has not been found\"}}\r\n");
}

/* QEMU's text: ", " and ": ", CRLF, '/' as is, non-ASCII as \uXXXX. */
static void test_wire_text(void **state)
{
	struct balloon *b = mk("balloon0", 512 * MIB, true);

	expect_text("{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"/machine/peripheral/balloon0\","
		    "\"property\":\"guest-stats-polling-interval\",\"value\":2}}",
		    "{\"return\": {}}\r\n");
	expect_text("{\"execute\":\"query-balloon\",\"id\":{\"a\":[1,\"/x\"]}}",
		    "{\"return\": {\"actual\": 536870912}, \"id\": {\"a\": [1, \"/x\"]}}\r\n");
	expect_text("{\"execute\":\"query-balloon\",\"id\":\"\xc3\xa9\xf0\x9f\x98\x80\\u0001\"}",
		    "{\"return\": {\"actual\": 536870912}, "
		    "\"id\": \"\\u00E9\\uD83D\\uDE00\\u0001\"}\r\n");
	expect_text("{\"execute\":\"query-version\"}",
		    "{\"return\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
		    "\"package\": \"vballoond\"}}\r\n");
	/* Invalid UTF-8 is refused, never executed or echoed. */
	expect_error("{\"execute\":\"query-balloon\",\"id\":\"\xff\"}", "GenericError",
		     "JSON parse error, invalid UTF-8 sequence");
	expect_error("{\"execute\":\"query-balloon\",\"id\":\"\xc0\xaf\"}", "GenericError", NULL);
	expect_error("{\"execute\":\"query-balloon\",\"id\":\"\xed\xa0\x80\"}", "GenericError", NULL);
	assert_true(qmp_utf8_valid("\xf4\x8f\xbf\xbf", 4));
	assert_false(qmp_utf8_valid("\xf4\x90\x80\x80", 4));	/* > U+10FFFF */
	assert_false(qmp_utf8_valid("\xe2\x82", 2));		/* truncated */
	rm(b);
}

static void test_guest_addressing(void **state)
{
	struct balloon *a = mk("alpha", 256 * MIB, true), *b = mk("beta", 1024 * MIB, true);
	json_object *r;

	expect_error("{\"execute\":\"query-balloon\"}", "GenericError", NULL);
	r = expect_return("{\"execute\":\"query-balloon\",\"arguments\":{\"guest\":\"beta\"}}");
	assert_int_equal(get_i64(r, "actual"), 1024 * MIB);
	json_object_put(r);
	expect_error("{\"execute\":\"query-balloon\",\"arguments\":{\"guest\":\"gamma\"}}",
		     "DeviceNotFound", "Device 'gamma' not found");
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
	/* One QOM id per guest. */
	r = expect_return("{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/machine/peripheral\"}}");
	assert_int_equal(json_object_array_length(r), 3);
	assert_string_equal(json_object_get_string(json_object_object_get(
		json_object_array_get_idx(r, 2), "name")), "beta");
	assert_string_equal(json_object_get_string(json_object_object_get(
		json_object_array_get_idx(r, 2), "type")), "child<virtio-balloon-pci>");
	json_object_put(r);
	rm(a);
	rm(b);
}

static void test_qom(void **state)
{
	struct balloon *b = mk("vm", 512 * MIB, true);
	json_object *r, *st, *v;

	/* Before the first report: every stat 2^64-1, last-update 0 (QEMU). */
	r = expect_return("{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/vm\","
			  "\"property\":\"guest-stats\"}}");
	assert_int_equal(get_i64(r, "last-update"), 0);
	assert_true(json_object_object_get_ex(r, "stats", &st));
	assert_true(json_object_object_get_ex(st, "stat-free-memory", &v));
	assert_true(json_object_get_uint64(v) == UINT64_MAX);
	json_object_put(r);
	expect_error("{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/x\","
		     "\"property\":\"guest-stats\"}}", "DeviceNotFound",
		     "Device '/machine/peripheral/x' not found");
	expect_error("{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"vm\","
		     "\"property\":\"colour\"}}", "GenericError",
		     "Property 'virtio-balloon-pci.colour' not found");
	expect_error("{\"execute\":\"qom-get\",\"arguments\":{\"property\":\"guest-stats\"}}",
		     "GenericError", "Parameter 'path' is missing");
	expect_text("{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"vm\",\"property\":\"type\"}}",
		    "{\"return\": \"virtio-balloon-pci\"}\r\n");
	expect_text("{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral\","
		    "\"property\":\"type\"}}", "{\"return\": \"container\"}\r\n");
	expect_text("{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/machine/peripheral/vm\"}}",
		    "{\"return\": [{\"name\": \"type\", \"type\": \"string\"}, "
		    "{\"name\": \"guest-stats-polling-interval\", \"type\": \"int\"}, "
		    "{\"name\": \"guest-stats\", \"type\": \"guest statistics\"}]}\r\n");
	expect_error("{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/nope\"}}",
		     "DeviceNotFound", "Device '/nope' not found");
	json_object_put(expect_return("{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"vm\","
				      "\"property\":\"guest-stats-polling-interval\",\"value\":7}}"));
	expect_text("{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/vm\","
		    "\"property\":\"guest-stats-polling-interval\"}}", "{\"return\": 7}\r\n");
	expect_error("{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"vm\","
		     "\"property\":\"guest-stats-polling-interval\",\"value\":-1}}", "GenericError",
		     "timer value must be greater than zero");
	expect_error("{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"vm\","
		     "\"property\":\"guest-stats-polling-interval\",\"value\":99999999999}}",
		     "GenericError", "timer value is too big");
	expect_error("{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"vm\","
		     "\"property\":\"guest-stats-polling-interval\",\"value\":\"2\"}}", "GenericError",
		     "Invalid parameter type for 'guest-stats-polling-interval', expected: integer");
	expect_error("{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"vm\","
		     "\"property\":\"guest-stats\",\"value\":1}}", "GenericError",
		     "Property 'virtio-balloon-device.guest-stats' is not writable");
	expect_error("{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"vm\","
		     "\"property\":\"guest-stats-polling-interval\"}}", "GenericError",
		     "Parameter 'value' is missing");
	/* Hints and stats requests need a live, negotiated device. */
	expect_error("{\"execute\":\"x-vb-hint-start\"}", "GenericError", NULL);
	expect_error("{\"execute\":\"x-vb-stats-request\"}", NULL, NULL);
	rm(b);
}

/* query-commands lists exactly what is served. */
static void test_query_commands(void **state)
{
	json_object *r = expect_return("{\"execute\":\"query-commands\"}"), *o;
	char cmd[160];
	size_t i, n = json_object_array_length(r);

	assert_true(n >= 17);
	for (i = 0; i < n; i++) {
		const char *name = json_object_get_string(
			json_object_object_get(json_object_array_get_idx(r, i), "name"));

		if (!strcmp(name, "qmp_capabilities"))
			continue;	/* refused once negotiated, as in QEMU */
		snprintf(cmd, sizeof(cmd), "{\"execute\":\"%s\"}", name);
		o = exec(cmd);
		if (err_member(o, "class"))
			assert_string_not_equal(err_member(o, "class"), "CommandNotFound");
		json_object_put(o);
	}
	json_object_put(r);
}

/* qmp_capabilities before negotiation: the reply's error text (NULL: it
 * succeeded), and whether it completed the negotiation. */
static void expect_caps(const char *cmd, const char *desc, bool negotiates)
{
	json_object *req = json_tokener_parse(cmd), *rep;
	bool neg = false;

	rep = qmp_dispatch(req, false, &neg);
	if (desc)
		assert_string_equal(err_member(rep, "desc"), desc);
	else
		assert_null(err_member(rep, "class"));
	assert_int_equal(neg, negotiates);
	json_object_put(req);
	json_object_put(rep);
}

static void test_capabilities_arguments(void **state)
{
	/* Only before negotiation; control_execute runs as negotiated. */
	expect_caps("{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"oob\"]}}",
		    "Capability 'oob' not available", false);
	expect_caps("{\"execute\":\"qmp_capabilities\",\"arguments\":{\"foo\":1}}",
		    "Parameter 'foo' is unexpected", false);
	expect_caps("{\"execute\":\"query-status\"}",
		    "Expecting capabilities negotiation with 'qmp_capabilities'", false);
	expect_caps("{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[]}}",
		    NULL, true);
}

/* ---- the listening socket ----------------------------------------------- */

static int connect_nb(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	strcpy(sa.sun_path, path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/*
 * A burst of CTL_MAX_CLIENTS connects queues while the daemon is busy; a
 * live socket is never taken over; a stale one is; a non-socket is left.
 */
static void test_unix_listen(void **state)
{
	char path[64];
	int lfd, fds[CTL_MAX_CLIENTS], i, fd;

	snprintf(path, sizeof(path), "/tmp/vb-test-listen.%d", getpid());
	unlink(path);
	lfd = unix_listen(path, CTL_MAX_CLIENTS);
	assert_true(lfd >= 0);
	for (i = 0; i < CTL_MAX_CLIENTS; i++) {	/* nobody accepts meanwhile */
		fds[i] = connect_nb(path);
		assert_true(fds[i] >= 0);
	}
	assert_int_equal(unix_listen(path, 4), -EADDRINUSE);	/* backlog full */
	for (i = 0; i < CTL_MAX_CLIENTS; i++)
		close(fds[i]);
	assert_int_equal(unix_listen(path, 4), -EADDRINUSE);	/* live */
	close(lfd);
	fd = unix_listen(path, 4);				/* stale: replaced */
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	fd = creat(path, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(unix_listen(path, 4), -EEXIST);	/* not a socket */
	unlink(path);
}

/* ---- over the socket ---------------------------------------------------- */

static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static int client_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return fd;
}

/* Read one CRLF-terminated message, without its CRLF (5 s receive timeout:
 * a missing reply is a failure).  -1 on EOF, timeout, or a bare LF. */
static int read_msg(int fd, char *buf, size_t cap)
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
	if (!n || buf[n - 1] != '\r')
		return -1;
	buf[--n] = '\0';
	return n;
}

static int say(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n <= 0)
			return -1;
		s += n;
		len -= n;
	}
	return 0;
}

#define SAY(fd, s) say(fd, s, strlen(s))

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "client: %s failed (line %d)\n", \
						#cond, __LINE__); _exit(1); } } while (0)

/* Next non-event message. */
static int reply(int fd, char *buf, size_t cap)
{
	do {
		if (read_msg(fd, buf, cap) < 0)
			return -1;
	} while (!strncmp(buf, "{\"timestamp\"", 12));
	return 0;
}

#define BIG (CTL_MAX_INPUT + CTL_MAX_INPUT / 4)

/* A command whose id is a string of idlen bytes (text malloc'd). */
static char *big_command(size_t idlen, size_t *len)
{
	static const char head[] = "{\"execute\":\"query-status\",\"id\":\"", tail[] = "\"}";
	char *s = malloc(sizeof(head) + idlen + sizeof(tail));

	CHECK(s);
	memcpy(s, head, sizeof(head) - 1);
	memset(s + sizeof(head) - 1, 'a', idlen);
	memcpy(s + sizeof(head) - 1 + idlen, tail, sizeof(tail));
	*len = strlen(s);
	return s;
}

static void client_framing(int fd, char *m, size_t cap)
{
	CHECK(read_msg(fd, m, cap) > 0);
	CHECK(!strcmp(m, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, "
		      "\"major\": 7}, \"package\": \"vballoond\"}, \"capabilities\": []}}"));
	/* Commands before negotiation are refused, with their id. */
	CHECK(SAY(fd, "{\"execute\":\"query-status\",\"id\":3}\n") == 0);
	CHECK(reply(fd, m, cap) == 0 && !strcmp(m, "{\"id\": 3, \"error\": {\"class\": "
		"\"CommandNotFound\", \"desc\": \"Expecting capabilities negotiation with "
		"'qmp_capabilities'\"}}"));
	CHECK(SAY(fd, "{\"execute\":\"qmp_capabilities\"}") == 0);	/* no newline */
	CHECK(reply(fd, m, cap) == 0 && !strcmp(m, "{\"return\": {}}"));
	/* Malformed JSON: an error, then the connection still works. */
	CHECK(SAY(fd, "{\"execute\": nonsense}\n") == 0);
	CHECK(reply(fd, m, cap) == 0 && strstr(m, "JSON parse error"));
	CHECK(SAY(fd, "garbage\n}{\"execute\":\"query-status\",\"id\":4}") == 0);
	CHECK(reply(fd, m, cap) == 0 && strstr(m, "JSON parse error"));
	CHECK(reply(fd, m, cap) == 0 && strstr(m, "JSON parse error"));
	CHECK(reply(fd, m, cap) == 0 && strstr(m, "\"id\": 4") && strstr(m, "\"return\""));
	/* Two commands in one write, then one split across writes. */
	CHECK(SAY(fd, "{\"execute\":\"query-balloon\",\"id\":1}{\"execute\":\"query-balloon\",\"id\":2}") == 0);
	CHECK(reply(fd, m, cap) == 0 && strstr(m, "\"id\": 1"));
	CHECK(reply(fd, m, cap) == 0 && strstr(m, "\"id\": 2"));
	CHECK(SAY(fd, "{\"execute\":\"query-") == 0);
	usleep(50000);
	CHECK(SAY(fd, "balloon\",\"id\":\"}{\\\"\"}") == 0);	/* braces in a string */
	CHECK(reply(fd, m, cap) == 0 && strstr(m, "\"id\": \"}{\\\"\"") &&
	      strstr(m, "\"actual\": "));
	/* Unknown members, invalid UTF-8, deep nesting: refused, connection kept. */
	CHECK(SAY(fd, "{\"execute\":\"query-status\",\"foo\":1}") == 0);
	CHECK(reply(fd, m, cap) == 0 && strstr(m, "QMP input member 'foo' is unexpected"));
	CHECK(SAY(fd, "{\"execute\":\"query-status\",\"id\":\"\xc3\x28\"}") == 0);
	CHECK(reply(fd, m, cap) == 0 && strstr(m, "invalid UTF-8") && !strstr(m, "\"id\""));
	CHECK(SAY(fd, "{\"execute\":\"query-status\",\"id\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		  "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
		  "]]]]]]]]]]]]]]]]]]]]]]]]]]]}") == 0);
	CHECK(reply(fd, m, cap) == 0 && strstr(m, "JSON parse error"));
}

static void client_sizes(int fd, char *m, size_t cap)
{
	size_t len;
	char *s;

	/* A 1 MiB command is answered, its id echoed whole. */
	s = big_command(1 << 20, &len);
	CHECK(say(fd, s, len) == 0);
	free(s);
	CHECK(reply(fd, m, cap) == 0 && strstr(m, "\"running\": true") &&
	      strlen(m) > (1 << 20));
	/* Longer than CTL_MAX_INPUT: an error, skipped to its end unstored,
	 * and the next command is answered. */
	s = big_command(BIG, &len);
	CHECK(say(fd, s, len) == 0);
	free(s);
	CHECK(reply(fd, m, cap) == 0 && strstr(m, "text too long"));
	CHECK(SAY(fd, "{\"execute\":\"query-status\",\"id\":5}") == 0);
	CHECK(reply(fd, m, cap) == 0 && strstr(m, "\"id\": 5"));
}

static void client_main(void)
{
	size_t cap = CTL_MAX_OUTPUT;
	char *m = malloc(cap);
	int fd, i, fds[70];

	CHECK(m);
	fd = client_connect();
	CHECK(fd >= 0);
	client_framing(fd, m, cap);
	client_sizes(fd, m, cap);
	/* The event the parent triggers reaches a negotiated client. */
	do
		CHECK(read_msg(fd, m, cap) > 0);
	while (!strstr(m, "BALLOON_CHANGE"));
	CHECK(!strncmp(m, "{\"timestamp\": {\"seconds\": ", 26) && strstr(m, "\"actual\": "));
	/* Clients vanishing mid-command, and more than the server takes. */
	for (i = 0; i < 70; i++) {
		fds[i] = client_connect();
		CHECK(fds[i] >= 0);
		SAY(fds[i], "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"x-vb-qu");
	}
	for (i = 0; i < 70; i++)
		close(fds[i]);
	close(fd);
	/* And the server still serves a new client. */
	fd = client_connect();
	CHECK(fd >= 0);
	CHECK(read_msg(fd, m, cap) > 0);
	CHECK(SAY(fd, "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"x-vb-list\"}\n") == 0);
	CHECK(reply(fd, m, cap) == 0);
	CHECK(reply(fd, m, cap) == 0 && strstr(m, "\"name\": \"sock-vm\""));
	close(fd);
	free(m);
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

static void test_socket_raw_bytes(void **state)
{
	struct parent p = { 0 };
	struct loop *l = loop_new();
	int burst[CTL_MAX_CLIENTS], i;

	assert_non_null(l);
	signal(SIGPIPE, SIG_IGN);
	snprintf(sock_path, sizeof(sock_path), "/tmp/vb-test-control.%d", getpid());
	p.b = mk("sock-vm", 512 * MIB, true);
	assert_int_equal(control_listen(l, sock_path), 0);
	/* A burst of CTL_MAX_CLIENTS connects while the daemon is busy (the
	 * loop is not running) queues in the listen backlog. */
	for (i = 0; i < CTL_MAX_CLIENTS; i++) {
		burst[i] = connect_nb(sock_path);
		assert_true(burst[i] >= 0);
	}
	for (i = 0; i < CTL_MAX_CLIENTS; i++)
		close(burst[i]);
	qmp_events_start(l);
	/* A second daemon on the same path fails; the socket stays ours. */
	assert_int_equal(unix_listen(sock_path, 4), -EADDRINUSE);
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
	qmp_events_stop();
	control_close();
	assert_int_not_equal(access(sock_path, F_OK), 0);
	rm(p.b);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_no_guest),
		cmocka_unit_test(test_absent_guest),
		cmocka_unit_test(test_balloon_and_query),
		cmocka_unit_test(test_request_errors_and_id),
		cmocka_unit_test(test_wire_text),
		cmocka_unit_test(test_guest_addressing),
		cmocka_unit_test(test_qom),
		cmocka_unit_test(test_query_commands),
		cmocka_unit_test(test_capabilities_arguments),
		cmocka_unit_test(test_unix_listen),
		cmocka_unit_test(test_socket_raw_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
