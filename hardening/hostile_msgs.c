// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hostile_msgs.c - hostile cases at the vhost-user message level: framing,
 * sizes, fds, memory tables, vring setup, config, floods and hang-ups.
 * Every input of a case must show the case's expected outcome (hostile.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostile.h"

/* A header flag bit no vhost-user version defines. */
#define UNDEFINED_FLAG	0x40

static uint32_t table_size(unsigned nregions)
{
	return 8 + nregions * sizeof(struct vu_mem_region);
}

/* The daemon must hang up on what was just sent. */
static enum outcome hang_up_or_failed(void)
{
	return peer_closed(hf.sock, REPLY_TIMEOUT_MS) ? O_DISCONNECT : O_FAILED;
}

enum outcome c_short_header(void)
{
	uint32_t h = VU_GET_FEATURES;

	if (send(hf.sock, &h, 4, MSG_NOSIGNAL) != 4)
		return O_DISCONNECT;
	return O_SURVIVED;	/* then we vanish mid-header */
}

/* Payloads longer than any request, with junk behind the header: the
 * daemon must hang up rather than allocate or wait for them. */
enum outcome c_oversize(void)
{
	static const struct { uint32_t req, size; } big[] = {
		{ VU_SET_OWNER, 1u << 20 }, { VU_SET_MEM_TABLE, 1u << 30 },
	};
	enum outcome o = O_DISCONNECT;
	char junk[4096], what[48];
	unsigned i;

	memset(junk, 0x41, sizeof(junk));
	for (i = 0; i < ARRAY_SIZE(big); i++) {
		if (i && reconnect())
			return O_FAILED;
		send_raw(hf.sock, big[i].req, VU_FLAG_VERSION | VU_FLAG_NEED_REPLY, big[i].size,
			 junk, sizeof(junk), NULL, 0);
		snprintf(what, sizeof(what), "request %u of %u bytes", big[i].req, big[i].size);
		o = tally(o, O_DISCONNECT, what, hang_up_or_failed());
	}
	return o;
}

enum outcome c_unknown_requests(void)
{
	static const uint32_t reqs[] = { 0, 19, 20, 33, 35, 63, 64, 200, 0x7fff, 0xffffffff };
	enum outcome o = O_ERROR_REPLY;
	char what[32];
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(reqs); i++) {
		snprintf(what, sizeof(what), "request %u", reqs[i]);
		o = must_refuse(o, what, ack(hf.sock, reqs[i], NULL, 0, NULL, 0));
	}
	return o;
}

/* Framing the daemon cannot trust, each on its own connection: version 2,
 * a "reply" sent to the backend, a flag bit no version defines. */
enum outcome c_bad_flags(void)
{
	static const uint32_t flags[] = {
		2, VU_REPLY_FLAGS, VU_REPLY_FLAGS | UNDEFINED_FLAG, VU_FLAG_VERSION | UNDEFINED_FLAG,
	};
	enum outcome o = O_DISCONNECT;
	char what[32];
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		if (i && reconnect())
			return O_FAILED;
		send_raw(hf.sock, VU_GET_FEATURES, flags[i], 0, NULL, 0, NULL, 0);
		snprintf(what, sizeof(what), "flags %#x", flags[i]);
		o = tally(o, O_DISCONNECT, what, hang_up_or_failed());
	}
	return o;
}

enum outcome c_wrong_sizes(void)
{
	uint8_t junk[64] = { 0 };
	enum outcome o;

	o = must_refuse(O_ERROR_REPLY, "SET_FEATURES of 4 bytes",
			ack(hf.sock, VU_SET_FEATURES, junk, 4, NULL, 0));
	o = must_refuse(o, "SET_VRING_NUM of 3 bytes",
			ack(hf.sock, VU_SET_VRING_NUM, junk, 3, NULL, 0));
	o = must_refuse(o, "SET_VRING_ADDR of 20 bytes",
			ack(hf.sock, VU_SET_VRING_ADDR, junk, 20, NULL, 0));
	/* header says 64, 8 arrive, then silence: must not wedge the daemon */
	send_raw(hf.sock, VU_SET_FEATURES, VU_FLAG_VERSION, 64, junk, 8, NULL, 0);
	return o;
}

enum outcome c_bad_features(void)
{
	uint64_t v = ~0ULL;

	return must_refuse(O_ERROR_REPLY, "SET_FEATURES ~0",
			   ack(hf.sock, VU_SET_FEATURES, &v, 8, NULL, 0));
}

/* Send a memory table of n regions (nr given) in size bytes (0: just them). */
static long mem_table(uint32_t n, const struct vu_mem_region *r, unsigned nr,
		      const int *fds, unsigned nfds, uint32_t size)
{
	struct vu_mem_table t = { .nregions = n };

	memcpy(t.r, r, nr * sizeof(*r));
	return ack(hf.sock, VU_SET_MEM_TABLE, &t, size ? size : table_size(nr ? nr : 1),
		   fds, nfds);
}

enum outcome c_mem_tables(void)
{
	uint64_t S = hf.ram_size;
	struct vu_mem_region ok = { RAM_GPA, S, RAM_GPA, RAM_GPA };
	struct vu_mem_region r2[2] = { ok, { RAM_GPA + 4096, S, RAM_GPA + S * 2, RAM_GPA } };
	int fds[9], pipefd[2], efd = eventfd(0, EFD_CLOEXEC), i;
	enum outcome o = O_ERROR_REPLY;

	if (pipe2(pipefd, O_CLOEXEC))
		return O_FAILED;
	for (i = 0; i < 9; i++)
		fds[i] = hf.memfd;
#define TRY(w, st) (o = must_refuse(o, "mem table " w, (st)))
	TRY("no fd", mem_table(1, &ok, 1, NULL, 0, 0));
	TRY("zero regions", mem_table(0, &ok, 1, fds, 1, 0));
	TRY("nine regions", mem_table(9, &ok, 1, fds, 1, table_size(VU_MAX_REGIONS)));
	TRY("200 regions", mem_table(200, &ok, 1, NULL, 0, table_size(VU_MAX_REGIONS)));
	TRY("2 regions 1 fd", mem_table(2, r2, 2, fds, 1, 0));
	TRY("overlap", mem_table(2, r2, 2, fds, 2, 0));
	TRY("size 0", mem_table(1, &(struct vu_mem_region){ RAM_GPA, 0, RAM_GPA, 0 }, 1, fds, 1, 0));
	TRY("beyond file", mem_table(1, &(struct vu_mem_region){ RAM_GPA, S * 4, RAM_GPA, RAM_GPA }, 1, fds, 1, 0));
	TRY("64 GiB", mem_table(1, &(struct vu_mem_region){ RAM_GPA, 64ULL << 30, RAM_GPA, 0 }, 1, fds, 1, 0));
	TRY("offset beyond file", mem_table(1, &(struct vu_mem_region){ RAM_GPA, S, RAM_GPA, 1ULL << 40 }, 1, fds, 1, 0));
	TRY("gpa wraps", mem_table(1, &(struct vu_mem_region){ ~0ULL - 4095, S, RAM_GPA, RAM_GPA }, 1, fds, 1, 0));
	TRY("pipe fd", mem_table(1, &ok, 1, &pipefd[0], 1, 0));
	TRY("eventfd", mem_table(1, &ok, 1, &efd, 1, 0));
	TRY("small regular file", mem_table(1, &ok, 1, &wrong_fd, 1, 0));
#undef TRY
	close(pipefd[0]);
	close(pipefd[1]);
	close(efd);
	return o;
}

/*
 * Descriptor counts a message does not take, on a live device: fds on
 * SET_OWNER, 12 for the backend channel, 40 (more than the daemon's control
 * buffer holds: truncated), a kick without its fd, NOFD with an fd.
 */
enum outcome c_wrong_fd_counts(void)
{
	uint64_t q0 = 0, q3_nofd = VU_VRING_NOFD | 3;
	enum outcome o = O_ERROR_REPLY;
	int fds[40], i;

	for (i = 0; i < 40; i++)
		fds[i] = hf.memfd;
	if (hostile_up())
		return O_FAILED;
	o = must_refuse(o, "SET_OWNER with 8 fds",
			ack(hf.sock, VU_SET_OWNER, NULL, 0, fds, 8));
	o = must_refuse(o, "backend channel with 12 fds",
			ack(hf.sock, VU_SET_BACKEND_REQ_FD, NULL, 0, fds, 12));
	o = must_refuse(o, "kick with 40 fds",
			ack(hf.sock, VU_SET_VRING_KICK, &q0, 8, fds, 40));
	o = must_refuse(o, "kick without fd",
			ack(hf.sock, VU_SET_VRING_KICK, &q0, 8, NULL, 0));
	o = must_refuse(o, "call with NOFD and an fd",
			ack(hf.sock, VU_SET_VRING_CALL, &q3_nofd, 8, fds, 1));
	return o;
}

/* What the bad vring inputs meet: a valid table, queue 0 sized 16. */
static int vring_setup(void)
{
	struct vu_mem_table t = { .nregions = 1 };
	struct vu_vring_state num = { 0, 16 };

	t.r[0] = (struct vu_mem_region){ RAM_GPA, hf.ram_size, RAM_GPA, RAM_GPA };
	if (ack(hf.sock, VU_SET_MEM_TABLE, &t, table_size(1), &hf.memfd, 1))
		return -1;
	return ack(hf.sock, VU_SET_VRING_NUM, &num, 8, NULL, 0) ? -1 : 0;
}

/* Queue 200; sizes 0, not a power of two, above the maximum; a base
 * beyond 16 bits. */
static enum outcome vring_states(enum outcome o)
{
	static const struct {
		const char *what;
		uint32_t req;
		struct vu_vring_state st;
	} bad[] = {
		{ "queue 200", VU_SET_VRING_NUM, { 200, 16 } },
		{ "num 0", VU_SET_VRING_NUM, { 0, 0 } },
		{ "num 3", VU_SET_VRING_NUM, { 0, 3 } },
		{ "num 100", VU_SET_VRING_NUM, { 0, 100 } },
		{ "num 65535", VU_SET_VRING_NUM, { 0, 65535 } },
		{ "num 2^20", VU_SET_VRING_NUM, { 0, 1u << 20 } },
		{ "base 70000", VU_SET_VRING_BASE, { 0, 70000 } },
	};
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		o = must_refuse(o, bad[i].what,
				ack(hf.sock, bad[i].req, &bad[i].st, 8, NULL, 0));
	return o;
}

/* Addresses no ring of 16 can live at: refused at once, or when the ring
 * would go live (kick); never touched. */
static enum outcome vring_addrs(enum outcome o)
{
	uint64_t S = hf.ram_size, q0 = 0;
	const struct {
		const char *what;
		struct vu_vring_addr a;
	} bad[] = {
		{ "ring below RAM", { 0, 0, 0, 0, 0, ~0ULL } },
		{ "desc past RAM", { 0, 0, RAM_GPA + S, RAM_GPA, RAM_GPA, ~0ULL } },
		{ "unaligned", { 0, 0, RAM_GPA + 3, RING_USED(0), RING_AVAIL(0), ~0ULL } },
		{ "straddles the end", { 0, 0, RAM_GPA + S - 16, RING_USED(0), RING_AVAIL(0), ~0ULL } },
		{ "desc wraps 2^64", { 0, 0, ~0ULL - 100, RING_USED(0), RING_AVAIL(0), ~0ULL } },
		{ "queue 99", { 99, 0, RAM_GPA, RAM_GPA, RAM_GPA, ~0ULL } },
	};
	int efd = eventfd(0, EFD_CLOEXEC);
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		long st = ack(hf.sock, VU_SET_VRING_ADDR, &bad[i].a, sizeof(bad[i].a), NULL, 0);

		if (!st)
			st = ack(hf.sock, VU_SET_VRING_KICK, &q0, 8, &efd, 1);
		o = must_refuse(o, bad[i].what, st);
	}
	close(efd);
	return o;
}

/* Kick and call words: queue 77, reserved bits, a call without its fd;
 * the backend channel without its fd. */
static enum outcome vring_fds(enum outcome o)
{
	uint64_t q77 = 77, q0 = 0, reserved = 0xffff;
	int efd = eventfd(0, EFD_CLOEXEC);

	o = must_refuse(o, "kick on queue 77",
			ack(hf.sock, VU_SET_VRING_KICK, &q77, 8, &efd, 1));
	o = must_refuse(o, "call without fd",
			ack(hf.sock, VU_SET_VRING_CALL, &q0, 8, NULL, 0));
	o = must_refuse(o, "call with reserved bits",
			ack(hf.sock, VU_SET_VRING_CALL, &reserved, 8, NULL, 0));
	o = must_refuse(o, "backend channel without fd",
			ack(hf.sock, VU_SET_BACKEND_REQ_FD, NULL, 0, NULL, 0));
	close(efd);
	return o;
}

enum outcome c_bad_vrings(void)
{
	if (vring_setup())
		return O_FAILED;
	return vring_fds(vring_addrs(vring_states(O_ERROR_REPLY)));
}

/* GET_CONFIG as an ack() status: its refusal is an empty reply. */
static long get_config(uint32_t offset, uint32_t size, uint32_t payload)
{
	struct vu_config c = { .offset = offset, .size = size };
	struct vu_msg r;
	int n;

	if (send_raw(hf.sock, VU_GET_CONFIG, VU_FLAG_VERSION, VU_CONFIG_HDR + payload, &c,
		     VU_CONFIG_HDR + payload, NULL, 0))
		return -EPIPE;
	n = recv_reply(hf.sock, &r, REPLY_TIMEOUT_MS);
	if (n < 0)
		return n;
	if (r.hdr.request != VU_GET_CONFIG)
		return -EPROTO;
	return n ? 0 : 1;
}

enum outcome c_config(void)
{
	struct vu_config c = { .offset = 0xfffffff0, .size = 16 };
	enum outcome o;

	o = must_refuse(O_ERROR_REPLY, "GET_CONFIG of 1000 bytes in 16", get_config(0, 1000, 16));
	o = must_refuse(o, "GET_CONFIG at 2^32-16", get_config(0xfffffff0, 32, 32));
	return must_refuse(o, "SET_CONFIG at 2^32-16",
			   ack(hf.sock, VU_SET_CONFIG, &c, VU_CONFIG_HDR + 16, NULL, 0));
}

enum outcome c_flood_messages(void)
{
	uint64_t v = 999;
	unsigned i;

	/* as fast as the socket takes them */
	for (i = 0; i < 20000; i++)
		if (send_raw(hf.sock, VU_SET_VRING_CALL, VU_FLAG_VERSION, 8, &v, 8, NULL, 0))
			return O_DISCONNECT;
	/* in step: the next reply is GET_FEATURES', not one for the flood */
	if (get_u64(hf.sock, VU_GET_FEATURES, &v))
		return peer_closed(hf.sock, 0) ? O_DISCONNECT : O_FAILED;
	return O_IGNORED;
}

enum outcome c_disconnect_mid_message(void)
{
	struct vu_mem_table t = { .nregions = 1 };

	t.r[0] = (struct vu_mem_region){ RAM_GPA, hf.ram_size, RAM_GPA, RAM_GPA };
	/* header announces the table, half of it arrives with the fd */
	send_raw(hf.sock, VU_SET_MEM_TABLE, VU_FLAG_VERSION | VU_FLAG_NEED_REPLY, table_size(1),
		 &t, 20, &hf.memfd, 1);
	return O_SURVIVED;
}

enum outcome c_reconnect_storm(void)
{
	unsigned i;

	for (i = 0; i < 200; i++) {
		int s = connect_sock();

		if (s >= 0)
			close(s);
	}
	return O_SURVIVED;
}


/* Send header h n times without reading a reply; stop early when the
 * daemon hangs up or has taken nothing for 2 s. */
static void send_unread(const struct vu_hdr *h, unsigned n)
{
	struct pollfd p = { hf.sock, POLLOUT, 0 };

	while (n) {
		if (send(hf.sock, h, sizeof(*h), MSG_NOSIGNAL | MSG_DONTWAIT) == sizeof(*h))
			n--;
		else if (errno != EAGAIN || poll(&p, 1, 2000) <= 0)
			return;
	}
}

/* Requests whose replies are never read: rather than block on a full
 * socket while its other guests wait, the daemon drops this frontend. */
enum outcome c_flood_unread_replies(void)
{
	struct vu_hdr get = { VU_GET_FEATURES, VU_FLAG_VERSION, 0 };
	struct vu_hdr unknown = { 0x4444, VU_FLAG_VERSION | VU_FLAG_NEED_REPLY, 0 };

	send_unread(&get, 200000);
	send_unread(&unknown, 10000);
	return hang_up_or_failed();
}
