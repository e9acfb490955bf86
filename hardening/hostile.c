// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hostile.c - vb-hostile hostile SOCKET [--qmp PATH --guest NAME]
 *                                       [--case NAME] [--list] [--table] [-v]
 *
 * Runs every hostile case (or one) on fresh connections.  Each case
 * declares the outcome it expects (the table below); one that shows any
 * other fails.  With --qmp the daemon's own account is checked too: a case
 * that must break the device finds it marked broken, every other case ends
 * with it not broken, and the daemon's refused counter grew by exactly the
 * ring requests the case had refused.  After each case the daemon must
 * answer a new frontend.  At the end the parts of the RAM file outside the
 * shared region (a "kernel image" below, a tail above) must have kept
 * their content and their blocks.  Prints per case
 *	case NAME: expected OUTCOME, observed OUTCOME
 * and a summary; exit 0 only if every case showed its expected outcome.
 * --table prints the Markdown tables of docs/hardening.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostile.h"
#include "qmp_query.h"
#include "vb-hostile.h"

struct fe hf;
int wrong_fd;
int verbose;
const char *qmp_path, *qmp_guest;
static unsigned refused_requests;	/* ring requests refused in this case */

/* Guest RAM of the hostile guest: room for rings, buffers and pages. */
#define HOSTILE_RAM	(16ULL << 20)

const char *const outcome_name[O_NR] = {
	[O_ERROR_REPLY] = "error-reply", [O_DISCONNECT] = "disconnect",
	[O_REQ_REFUSED] = "request-refused", [O_BROKEN] = "broken",
	[O_IGNORED] = "ignored", [O_SURVIVED] = "survived", [O_SERVING] = "serving",
	[O_ACCEPTED] = "ACCEPTED", [O_FAILED] = "FAILED",
};

/* What an expected outcome means, for the documentation table. */
static const char *const outcome_meaning[O_NR] = {
	[O_ERROR_REPLY] = "every input gets a well-formed failure reply (a non-zero status, "
			  "or an empty GET_CONFIG reply); the connection stays",
	[O_DISCONNECT] = "the daemon closes the connection",
	[O_REQ_REFUSED] = "every ring request is used (acknowledged) with none of its pages "
			  "discarded, the refused counter grows by one per request; the "
			  "device stays usable",
	[O_BROKEN] = "the device is marked broken (QMP `broken`): it ignores the rings "
		     "until the frontend re-initialises; the connection stays",
	[O_IGNORED] = "nothing is answered (nothing was asked); the connection goes on in "
		      "step and serves the next request",
	[O_SURVIVED] = "the frontend vanishes; the daemon frees what it held",
};

struct hcase {
	const char *name;
	enum outcome (*fn)(void);
	enum outcome expect;
	const char *inputs;
};

static const struct hcase cases[] = {
	{ "short-header", c_short_header, O_SURVIVED,
	  "4 of 12 header bytes, then hang-up" },
	{ "oversize-payload", c_oversize, O_DISCONNECT,
	  "header size 1 MiB (SET_OWNER), 1 GiB (SET_MEM_TABLE), junk behind; each on its own "
	  "connection" },
	{ "unknown-requests", c_unknown_requests, O_ERROR_REPLY,
	  "requests 0, 19, 20, 33, 35, 63, 64, 200, 0x7fff, 2^32-1 with NEED_REPLY" },
	{ "bad-flags", c_bad_flags, O_DISCONNECT,
	  "version 2; a \"reply\" sent to the backend; undefined flag bit 0x40 (with and "
	  "without REPLY); each on its own connection" },
	{ "wrong-sizes", c_wrong_sizes, O_ERROR_REPLY,
	  "u64 messages of 4 and 3 bytes, 20-byte vring address (then a header longer than "
	  "its payload, left hanging)" },
	{ "unsupported-features", c_bad_features, O_ERROR_REPLY, "all 64 feature bits" },
	{ "bad-mem-tables", c_mem_tables, O_ERROR_REPLY,
	  "no fd, 0, 9 and 200 regions, 2 regions 1 fd, overlap, size 0, region beyond the "
	  "file, 64 GiB, offset 2^40, gpa wrap, pipe fd, eventfd, 1-byte regular file" },
	{ "wrong-fd-counts", c_wrong_fd_counts, O_ERROR_REPLY,
	  "on a live device: 8 fds on SET_OWNER, 12 on the backend channel, 40 on a kick "
	  "(more than the daemon's control buffer: truncated), kick without fd, call with "
	  "NOFD and an fd" },
	{ "bad-vrings", c_bad_vrings, O_ERROR_REPLY,
	  "queue 200, num 0/3/100/65535/2^20, base 70000; ring below RAM, past RAM, "
	  "unaligned, straddling the end, wrapping 2^64, queue 99 (refused by the address "
	  "or by the kick that would make it live); kick on queue 77, call without fd, call "
	  "word with reserved bits, backend channel without fd" },
	{ "bad-config", c_config, O_ERROR_REPLY,
	  "GET_CONFIG of 1000 bytes in a 16-byte payload, GET_CONFIG and SET_CONFIG at "
	  "offset 2^32-16" },
	{ "pfns-outside-ram", c_pfns_outside, O_REQ_REFUSED,
	  "inflates naming PFNs in the unshared image, past the end, 2^32-1, 0; a good PFN "
	  "in the same request stays" },
	{ "ranges-outside-ram", c_ranges_outside, O_REQ_REFUSED,
	  "with VB_F_PAGE_RANGES: ranges crossing the end, starting in the image, pfn + "
	  "npages wrapping, pfn 2^52, npages 0, reserved bits, npages 2^32-1; each beside a "
	  "good range that stays" },
	{ "reporting-outside-ram", c_reporting_outside, O_BROKEN,
	  "with PAGE_REPORTING: reported blocks straddling the end, in the image, in the "
	  "tail; each on a fresh device; nothing discarded" },
	{ "offset-region", c_offset_region, O_REQ_REFUSED,
	  "guest address 1 GiB, user address 1 TiB, file offset 1 MiB (QEMU-like): a valid "
	  "inflate punches its own page; a PFN that is RAM only if misread as a file "
	  "offset is refused with its request" },
	{ "descriptors-outside-ram", c_desc_outside, O_BROKEN,
	  "buffers past RAM, in the image, straddling the end, zero length; each on a fresh "
	  "device" },
	{ "descriptor-loop", c_desc_loop, O_BROKEN,
	  "a 64-descriptor chain in a circle; INDIRECT without the feature; each on a fresh "
	  "device" },
	{ "absurd-indexes", c_absurd_indexes, O_BROKEN,
	  "avail head 60000; avail idx 40000; each on a fresh device" },
	{ "zero-length-reinit", c_zero_length_reinit, O_BROKEN,
	  "a zero-length buffer (broken); table and rings sent again as UML's module reload "
	  "does (a valid inflate must then be served); a writable descriptor before a "
	  "readable one (broken again)" },
	{ "ram-truncated", c_truncate_ram, O_BROKEN,
	  "the frontend truncates its RAM file under live rings: keeping the rings but not "
	  "the posted PFN array, then keeping nothing (SIGBUS guard)" },
	{ "flood-messages", c_flood_messages, O_IGNORED,
	  "20 000 invalid SET_VRING_CALL without NEED_REPLY back to back (logged at 10 "
	  "lines per 5 s per site), then a GET_FEATURES" },
	{ "flood-unread-replies", c_flood_unread_replies, O_DISCONNECT,
	  "up to 200 000 GET_FEATURES and 10 000 unknown NEED_REPLY requests, no reply ever "
	  "read: the daemon never blocks on one frontend" },
	{ "flood-bad-requests", c_flood_bad_requests, O_REQ_REFUSED,
	  "5 000 inflates of PFN 2^32-1, each kicked" },
	{ "flood-kicks", c_flood_kicks, O_IGNORED,
	  "100 000 kicks with nothing posted, then a valid inflate" },
	{ "disconnect-mid-message", c_disconnect_mid_message, O_SURVIVED,
	  "half a SET_MEM_TABLE with its fd, then hang-up" },
	{ "disconnect-in-flight", c_disconnect_in_flight, O_SURVIVED,
	  "hang-up with a 256-PFN inflate posted" },
	{ "reconnect-storm", c_reconnect_storm, O_SURVIVED, "200 connect/close" },
};
#define NCASES ARRAY_SIZE(cases)

enum outcome tally(enum outcome o, enum outcome want, const char *what, enum outcome got)
{
	if (verbose || (o == want && got != want))
		printf("  %s: %s%s\n", what, outcome_name[got], got != want ? " (deciding)" : "");
	return o == want ? got : o;
}

static enum outcome answer_of(long st)
{
	if (st > 0)
		return O_ERROR_REPLY;
	if (st == 0)
		return O_ACCEPTED;
	if (st == -EPIPE || st == -ECONNRESET)
		return O_DISCONNECT;
	return O_FAILED;	/* silence or a malformed reply: UML would hang or fail */
}

enum outcome must_refuse(enum outcome o, const char *what, long st)
{
	return tally(o, O_ERROR_REPLY, what, answer_of(st));
}

enum outcome must_use(enum outcome o, const char *what, unsigned q)
{
	int rc = wait_used(&hf, q, REPLY_TIMEOUT_MS);
	enum outcome got = O_REQ_REFUSED;

	if (rc == -EPIPE || peer_closed(hf.sock, 0))
		got = O_DISCONNECT;
	else if (rc)
		got = O_BROKEN;		/* it stopped using buffers */
	refused_requests++;
	return tally(o, O_REQ_REFUSED, what, got);
}

static int query(struct guest_state *st)
{
	if (qmp_guest_state(qmp_path, qmp_guest, st)) {
		printf("  no x-vb-query answer for guest %s on %s\n", qmp_guest, qmp_path);
		return -1;
	}
	return 0;
}

enum outcome broken_probe(void)
{
	uint64_t t0 = now_ms();
	struct guest_state st;

	if (!qmp_path) {	/* unconfirmed: only the connection is seen */
		usleep(200000);
		return peer_closed(hf.sock, 0) ? O_DISCONNECT : O_BROKEN;
	}
	do {
		if (peer_closed(hf.sock, 0))
			return O_DISCONNECT;
		if (query(&st))
			return O_FAILED;
		if (st.broken)
			return O_BROKEN;
		usleep(50000);
	} while (now_ms() - t0 < REPLY_TIMEOUT_MS);
	return O_SERVING;
}

enum outcome not_broken(enum outcome o)
{
	struct guest_state st;

	if (hf.sock >= 0 && peer_closed(hf.sock, 0))
		return tally(o, o, "connection at the end", O_DISCONNECT);
	if (!qmp_path || hf.sock < 0)
		return o;
	if (query(&st))
		return O_FAILED;
	return tally(o, o, "device at the end", st.broken ? O_BROKEN : o);
}

int reconnect(void)
{
	fe_close(&hf);
	return fe_connect(&hf);
}

int hostile_up(void)
{
	return fe_up(&hf, FE_FEATURES);
}

int inflate_one(uint64_t off, int timeout_ms)
{
	*(uint32_t *)(hf.file + BUF_GPA) = fe_gpa(&hf, off) >> VB_PFN_SHIFT;
	post(&hf, Q_INFLATE, fe_gpa(&hf, BUF_GPA), 4, 0);
	kick(&hf, Q_INFLATE);
	return wait_used(&hf, Q_INFLATE, timeout_ms);
}

bool page_kept(uint64_t off)
{
	if (hf.file[off] == pattern(off))
		return true;
	printf("  page %#llx of a refused request was discarded\n", (unsigned long long)off);
	return false;
}

/* Bytes outside the shared region must keep their pattern and blocks. */
static int check_outside(void)
{
	uint64_t off, end = RAM_GPA + hf.ram_size;
	struct stat st;
	unsigned bad = 0;

	for (off = 0; off < hf.file_size; off += PAGE) {
		uint64_t i;

		if (off >= RAM_GPA && off < end)
			continue;
		for (i = 0; i < PAGE; i++)
			if (hf.file[off + i] != pattern(off)) {
				if (!bad++)
					printf("outside RAM changed at file offset %#llx\n",
					       (unsigned long long)(off + i));
				break;
			}
	}
	if (fstat(hf.memfd, &st))
		return -1;
	/* everything outside RAM is allocated: at least that many blocks */
	if ((uint64_t)st.st_blocks * 512 < RAM_GPA + TAIL) {
		printf("RAM file holds %llu bytes, less than the %llu outside RAM\n",
		       (unsigned long long)st.st_blocks * 512,
		       (unsigned long long)(RAM_GPA + TAIL));
		bad++;
	}
	return bad ? -1 : 0;
}

static void print_table(void)
{
	unsigned i;

	printf("| outcome | meaning |\n|---|---|\n");
	for (i = 0; i < O_NR; i++)
		if (outcome_meaning[i])
			printf("| %s | %s |\n", outcome_name[i], outcome_meaning[i]);
	printf("\n| case | inputs | expected |\n|---|---|---|\n");
	for (i = 0; i < NCASES; i++)
		printf("| %s | %s | %s |\n", cases[i].name, cases[i].inputs,
		       outcome_name[cases[i].expect]);
}

/* The daemon's refused counter grew by exactly the requests the case had
 * refused: a request is refused whole, once. */
static enum outcome check_refused(enum outcome o, const struct guest_state *before)
{
	struct guest_state after;

	if (!qmp_path || o != O_REQ_REFUSED)
		return o;
	if (query(&after))
		return O_FAILED;
	if (after.refused - before->refused == refused_requests)
		return o;
	printf("  the daemon counted %llu refused requests, the case made %u\n",
	       (unsigned long long)(after.refused - before->refused), refused_requests);
	return O_FAILED;
}

/* One case on a fresh connection; then the daemon must serve a new one. */
static int run_case(const struct hcase *c)
{
	struct guest_state before = { 0 };
	enum outcome o;

	if (fe_connect(&hf) || (qmp_path && query(&before))) {
		printf("case %s: daemon not answering before the case\n", c->name);
		return -1;
	}
	printf("case %s: start\n", c->name);
	refused_requests = 0;
	o = c->fn();
	if (c->expect != O_BROKEN && c->expect != O_SURVIVED && c->expect != O_DISCONNECT)
		o = not_broken(o);
	o = check_refused(o, &before);
	fe_close(&hf);
	if (fe_connect(&hf)) {
		printf("case %s: %s, then the daemon stopped answering\n", c->name,
		       outcome_name[o]);
		return -1;
	}
	fe_close(&hf);
	printf("case %s: expected %s, observed %s%s\n", c->name, outcome_name[c->expect],
	       outcome_name[o], o == c->expect ? "" : "  <- MISMATCH");
	return o == c->expect ? 0 : 1;
}

static void hostile_args(int argc, char **argv, const char **only)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--case") && i + 1 < argc)
			*only = argv[++i];
		else if (!strcmp(argv[i], "--qmp") && i + 1 < argc)
			qmp_path = argv[++i];
		else if (!strcmp(argv[i], "--guest") && i + 1 < argc)
			qmp_guest = argv[++i];
		else if (!strcmp(argv[i], "-v"))
			verbose = 1;
		else
			die("hostile: unknown option %s", argv[i]);
	}
	if (!!qmp_path != !!qmp_guest)
		die("hostile: --qmp and --guest go together");
}

static void make_wrong_fd(void)
{
	char tmpl[] = "/tmp/vb-hostile.XXXXXX";

	wrong_fd = mkstemp(tmpl);
	if (wrong_fd < 0)
		die("mkstemp: %s", strerror(errno));
	unlink(tmpl);
	if (write(wrong_fd, "x", 1) != 1)
		die("write: %s", strerror(errno));
}

int run_hostile(int argc, char **argv)
{
	const char *only = NULL;
	unsigned i, ran = 0, mismatched = 0;
	int rc;

	if (argc == 1 && !strcmp(argv[0], "--list")) {
		for (i = 0; i < NCASES; i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	if (argc == 1 && !strcmp(argv[0], "--table")) {
		print_table();
		return 0;
	}
	hostile_args(argc, argv, &only);
	make_wrong_fd();
	fe_init(&hf);
	fe_ram(&hf, HOSTILE_RAM);
	for (i = 0; i < NCASES; i++) {
		if (only && strcmp(only, cases[i].name))
			continue;
		rc = run_case(&cases[i]);
		if (rc < 0)
			return 1;
		mismatched += rc;
		ran++;
	}
	if (check_outside()) {
		printf("hostile: memory outside the guest's RAM was touched\n");
		return 1;
	}
	printf("hostile: %u cases, %u as expected, %u not%s; outside RAM intact\n", ran,
	       ran - mismatched, mismatched, qmp_path ? "" : " (device state unchecked: no --qmp)");
	return mismatched || !ran ? 1 : 0;
}
