// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vb-workload - guest memory workload with a verifiable pattern.
 *
 *   vb-workload alloc|fill|frag|verify [options]
 *
 * alloc   take N MiB (anonymous memory is touched, a hold file is written
 *         with zeroes) and hold it
 * fill    alloc + write the pattern + verify it
 * frag    fill + free every other 4 KiB page (same as fill --punch-holes),
 *         the fragmentation the continuous-pages
 *         proposal describes
 * verify  check an existing hold file (needs --hold-file; give the same
 *         --seed and --punch-holes as when it was written)
 * churn   fill (anonymous memory), then churn --churn-mib more in a ring of
 *         slots: map a slot, write it, verify and unmap the oldest, so freed
 *         memory is reused all the time; after each turn of the ring, one
 *         pass verifies every pattern page and every live slot and prints
 *         "pass N begin" / "pass N end: ..." (a migration test wants a full
 *         pass that ran on its destination); runs until --passes or killed
 *
 * Every 8-byte word holds a value derived from (seed, page index, word
 * index) and is never zero, so a page that comes back zeroed, stale or at
 * the wrong place is detected.  Punched pages must read back as zero.
 *
 * --hold-file PATH keeps the memory in a (tmpfs) file through write/pread and
 * frees pages with fallocate(PUNCH_HOLE): in UML, user page faults cost a
 * ptrace round trip each, file I/O runs in the kernel and is fast.
 *
 * Exit: 0 ok, 1 corruption found (first bad offset reported), 2 usage or
 * allocation error.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE		4096UL
#define WORDS		(PAGE / sizeof(uint64_t))
#define CHUNK_PAGES	256UL		/* 1 MiB of I/O per syscall */
#define MAX_MIB		(1UL << 20)

enum exit_code { EXIT_OK = 0, EXIT_CORRUPT = 1, EXIT_USAGE = 2 };
enum cmd { CMD_ALLOC, CMD_FILL, CMD_FRAG, CMD_VERIFY, CMD_CHURN };

#define CHURN_SLOTS	8

struct workload {
	enum cmd cmd;
	unsigned long mib;
	unsigned long pages;
	uint64_t seed;
	const char *hold_file;
	const char *hold_until;
	const char *ready;
	bool punch;
	bool patterned;		/* the pattern was written (not plain alloc) */
	bool remove;
	double interval;
	unsigned long rate;	/* MiB/s of hold-file writes, 0 = unpaced */
	unsigned long churn_mib;
	unsigned long passes;	/* churn: stop after this many (0 = never) */
	int fd;
	uint64_t *mem;
	uint64_t *buf;		/* CHUNK_PAGES pages of I/O buffer */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void msg(const char *fmt, ...)
{
	va_list ap;

	fputs("vb-workload: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* splitmix64 finaliser: cheap and mixes every input bit into the output. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* One mix per page, then a cheap per-word step; bit 0 set => never zero. */
static void page_pattern(uint64_t seed, uint64_t page, uint64_t *out)
{
	uint64_t base = mix(seed * 0x100000001b3ULL ^ page);
	unsigned long w;

	for (w = 0; w < WORDS; w++)
		out[w] = (base + w * 0x9e3779b97f4a7c15ULL) | 1;
}

static bool page_punched(const struct workload *wl, unsigned long page)
{
	return wl->punch && (page & 1);
}

/* Only the first few bad pages are printed: the count says the rest. */
static int report_bad(const struct workload *wl, unsigned long page,
		      const uint64_t *got, const uint64_t *want)
{
	static unsigned int reported;
	unsigned long w;

	if (reported++ >= 3)
		return -1;

	for (w = 0; w < WORDS; w++)
		if (got[w] != want[w])
			break;
	if (w == WORDS)
		w = 0;
	msg("CORRUPTION at offset 0x%lx (page %lu word %lu): expected 0x%016" PRIx64
	    ", got 0x%016" PRIx64 "%s", page * PAGE + w * 8, page, w, want[w],
	    got[w], page_punched(wl, page) ? " (punched page)" : "");
	return -1;
}

/* Check one page; returns 0 if it holds what it should. */
static int check_page_seed(const struct workload *wl, uint64_t seed,
			   unsigned long page, const uint64_t *got)
{
	uint64_t want[WORDS];

	if (page_punched(wl, page) || !wl->patterned)
		memset(want, 0, sizeof(want));
	else
		page_pattern(seed, page, want);
	if (memcmp(got, want, PAGE) == 0)
		return 0;
	return report_bad(wl, page, got, want);
}

static int check_page(const struct workload *wl, unsigned long page,
		      const uint64_t *got)
{
	return check_page_seed(wl, wl->seed, page, got);
}

/* ---- anonymous memory ---- */

static int mem_alloc(struct workload *wl)
{
	unsigned long p;

	wl->mem = mmap(NULL, wl->pages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (wl->mem == MAP_FAILED) {
		msg("mmap %lu MiB: %s", wl->mib, strerror(errno));
		return -1;
	}
	for (p = 0; p < wl->pages; p++) {
		if (wl->patterned)
			page_pattern(wl->seed, p, wl->mem + p * WORDS);
		else
			wl->mem[p * WORDS] = 0;	/* fault it in */
	}
	return 0;
}

static int mem_punch(struct workload *wl)
{
	unsigned long p;

	for (p = 1; p < wl->pages; p += 2)
		if (madvise(wl->mem + p * WORDS, PAGE, MADV_DONTNEED)) {
			msg("madvise: %s", strerror(errno));
			return -1;
		}
	return 0;
}

static unsigned long mem_verify(const struct workload *wl)
{
	unsigned long p, bad = 0;

	for (p = 0; p < wl->pages; p++)
		if (check_page(wl, p, wl->mem + p * WORDS))
			bad++;
	return bad;
}

/* ---- hold file ---- */

static int file_open(struct workload *wl, bool create)
{
	int flags = create ? O_RDWR | O_CREAT | O_TRUNC : O_RDONLY;

	wl->fd = open(wl->hold_file, flags | O_CLOEXEC, 0600);
	if (wl->fd < 0) {
		msg("open %s: %s", wl->hold_file, strerror(errno));
		return -1;
	}
	wl->buf = malloc(CHUNK_PAGES * PAGE);
	if (!wl->buf) {
		msg("out of memory for the I/O buffer");
		return -1;
	}
	return 0;
}

/* --rate: a workload that grows at a given speed, as a real one does,
 * instead of all at once (a balloon policy reacting to it is timed). */
static void pace(const struct workload *wl, unsigned long pages_done, double start)
{
	double due;

	if (!wl->rate)
		return;
	due = start + (double)pages_done * PAGE / (1 << 20) / wl->rate - now();
	if (due > 0)
		usleep((useconds_t)(due * 1e6));
}

static int file_write(struct workload *wl)
{
	unsigned long p, n, i;
	double start = now();

	for (p = 0; p < wl->pages; p += n) {
		pace(wl, p, start);
		n = wl->pages - p < CHUNK_PAGES ? wl->pages - p : CHUNK_PAGES;
		for (i = 0; i < n; i++) {
			if (wl->patterned)
				page_pattern(wl->seed, p + i, wl->buf + i * WORDS);
			else
				memset(wl->buf + i * WORDS, 0, PAGE);
		}
		if (pwrite(wl->fd, wl->buf, n * PAGE, p * PAGE) != (ssize_t)(n * PAGE)) {
			msg("write %s at page %lu: %s", wl->hold_file, p,
			    errno ? strerror(errno) : "short write (no space?)");
			return -1;
		}
	}
	return 0;
}

static int file_punch(struct workload *wl)
{
	unsigned long p;

	for (p = 1; p < wl->pages; p += 2)
		if (fallocate(wl->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      p * PAGE, PAGE)) {
			msg("fallocate(PUNCH_HOLE): %s", strerror(errno));
			return -1;
		}
	return 0;
}

static unsigned long file_verify(struct workload *wl)
{
	unsigned long p, n, i, bad = 0;
	ssize_t r;

	for (p = 0; p < wl->pages; p += n) {
		n = wl->pages - p < CHUNK_PAGES ? wl->pages - p : CHUNK_PAGES;
		r = pread(wl->fd, wl->buf, n * PAGE, p * PAGE);
		if (r != (ssize_t)(n * PAGE)) {
			msg("read %s at page %lu: %s", wl->hold_file, p,
			    r < 0 ? strerror(errno) : "file too short");
			return bad + wl->pages - p;
		}
		for (i = 0; i < n; i++)
			if (check_page(wl, p + i, wl->buf + i * WORDS))
				bad++;
	}
	return bad;
}

/* ---- driver ---- */

static unsigned long verify(struct workload *wl)
{
	return wl->hold_file ? file_verify(wl) : mem_verify(wl);
}

/*
 * Existence by readdir, not stat: UML's hostfs keeps negative dentries, so a
 * stat of a file the host creates later may never see it.
 */
static bool file_exists(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) + 1 : 1,
		 slash ? path : ".");
	d = opendir(dir);
	if (!d)
		return access(path, F_OK) == 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, base) == 0) {
			found = true;
			break;
		}
	closedir(d);
	return found;
}

static int touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		msg("create %s: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

static int hold(struct workload *wl)
{
	unsigned long rounds = 0, bad;

	msg("holding %lu MiB until %s exists", wl->mib, wl->hold_until);
	while (!file_exists(wl->hold_until)) {
		bad = verify(wl);
		rounds++;
		if (bad) {
			msg("%lu bad pages after %lu re-verifications", bad, rounds);
			return EXIT_CORRUPT;
		}
		usleep((useconds_t)(wl->interval * 1e6));
	}
	msg("released after %lu re-verifications", rounds);
	return EXIT_OK;
}

/* ---- churn: memory freed and reused all the time, every page verified ---- */

struct churn {
	uint64_t *slot[CHURN_SLOTS];
	uint64_t slot_seed[CHURN_SLOTS];
	unsigned long slot_pages;
	uint64_t next;			/* slots written so far */
	unsigned long long verified;	/* pages, cumulative */
	unsigned long long bad;
};

/* Each slot generation has its own seed: a page left from an older slot at
 * the same place is caught. */
static uint64_t churn_seed(const struct workload *wl, uint64_t gen)
{
	return mix(wl->seed ^ (gen + 1) * 0xd6e8feb86659fd93ULL);
}

static unsigned long region_verify(struct workload *wl, uint64_t seed,
				   const uint64_t *mem, unsigned long pages)
{
	unsigned long p, bad = 0;

	for (p = 0; p < pages; p++)
		if (check_page_seed(wl, seed, p, mem + p * WORDS))
			bad++;
	return bad;
}

/* Map the next slot and write it before unmapping the oldest (verified
 * first): the guest needs fresh pages while the freed ones come back. */
static int churn_step(struct workload *wl, struct churn *c)
{
	unsigned int i = c->next % CHURN_SLOTS;
	uint64_t seed = churn_seed(wl, c->next);
	uint64_t *m;
	unsigned long p;

	m = mmap(NULL, c->slot_pages * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		msg("churn: mmap: %s", strerror(errno));
		return -1;
	}
	for (p = 0; p < c->slot_pages; p++)
		page_pattern(seed, p, m + p * WORDS);
	if (c->slot[i]) {
		c->bad += region_verify(wl, c->slot_seed[i], c->slot[i],
					c->slot_pages);
		c->verified += c->slot_pages;
		munmap(c->slot[i], c->slot_pages * PAGE);
	}
	c->slot[i] = m;
	c->slot_seed[i] = seed;
	c->next++;
	return 0;
}

/* Every pattern page and every live slot. */
static void churn_pass(struct workload *wl, struct churn *c, unsigned long n)
{
	unsigned long long bad = 0, pages = wl->pages;
	unsigned int i;

	msg("pass %lu begin", n);
	bad += mem_verify(wl);
	if (bad)
		msg("pattern: %llu bad pages", bad);
	for (i = 0; i < CHURN_SLOTS; i++) {
		unsigned long b;

		if (!c->slot[i])
			continue;
		b = region_verify(wl, c->slot_seed[i], c->slot[i],
				  c->slot_pages);
		if (b)
			msg("churn slot %u: %lu bad pages", i, b);
		bad += b;
		pages += c->slot_pages;
	}
	c->verified += pages;
	c->bad += bad;
	msg("pass %lu end: verified %llu bad %llu; total verified %llu bad %llu",
	    n, pages, bad, c->verified, c->bad);
}

static int churn(struct workload *wl)
{
	struct churn c = { .slot_pages = wl->churn_mib * (1024 * 1024 / PAGE) /
					 CHURN_SLOTS };
	unsigned long n;
	unsigned int i;

	msg("churn: %lu MiB pattern, %lu MiB churned in %d slots", wl->mib,
	    wl->churn_mib, CHURN_SLOTS);
	for (n = 1; !wl->passes || n <= wl->passes; n++) {
		for (i = 0; i < CHURN_SLOTS; i++)
			if (churn_step(wl, &c))
				return EXIT_USAGE;
		churn_pass(wl, &c, n);
		if (c.bad)
			return EXIT_CORRUPT;
	}
	return EXIT_OK;
}

static int run(struct workload *wl)
{
	double t0 = now();
	unsigned long bad;
	int rc;

	wl->patterned = wl->cmd != CMD_ALLOC;
	if (wl->cmd == CMD_VERIFY) {
		if (file_open(wl, false))
			return EXIT_USAGE;
	} else if (wl->hold_file) {
		if (file_open(wl, true) || file_write(wl))
			return EXIT_USAGE;
	} else if (mem_alloc(wl)) {
		return EXIT_USAGE;
	}
	if (wl->cmd != CMD_VERIFY && wl->punch &&
	    (wl->hold_file ? file_punch(wl) : mem_punch(wl)))
		return EXIT_USAGE;
	bad = verify(wl);
	if (bad) {
		msg("%s %lu MiB: %lu bad pages", wl->cmd == CMD_VERIFY ? "verify" : "fill",
		    wl->mib, bad);
		return EXIT_CORRUPT;
	}
	if (wl->cmd == CMD_CHURN)
		return churn(wl);
	msg("%s %lu MiB%s%s ok in %.2f s", wl->cmd == CMD_ALLOC ? "alloc" :
	    wl->cmd == CMD_VERIFY ? "verify" : "fill+verify", wl->mib,
	    wl->punch ? ", every other page punched" : "",
	    wl->hold_file ? " (hold file)" : "", now() - t0);
	if (wl->ready && touch(wl->ready))
		return EXIT_USAGE;
	rc = wl->hold_until ? hold(wl) : EXIT_OK;
	if (rc == EXIT_OK && wl->hold_until) {
		bad = verify(wl);
		if (bad) {
			msg("final verify: %lu bad pages", bad);
			rc = EXIT_CORRUPT;
		}
	}
	if (wl->hold_file && wl->remove)
		unlink(wl->hold_file);
	return rc;
}

static void usage(FILE *f)
{
	fputs("usage: vb-workload alloc|fill|frag|verify|churn --mib N [options]\n"
	      "  --mib N            size in MiB (1..1048576)\n"
	      "  --seed S           pattern seed (default 1)\n"
	      "  --hold-file PATH   keep memory in this (tmpfs) file, not anonymous memory\n"
	      "  --punch-holes      free every other 4 KiB page (frag implies it)\n"
	      "  --ready FILE       create FILE once memory is filled and verified\n"
	      "  --hold-until FILE  hold (re-verifying) until FILE exists, then verify\n"
	      "  --interval SEC     re-verification period while holding (default 1)\n"
	      "  --rate MIBPS       write the hold file at most this fast (default: unpaced)\n"
	      "  --remove           delete the hold file at exit (default: keep)\n"
	      "  --churn-mib M      churn: memory cycled through the slots (default 64)\n"
	      "  --passes P         churn: stop after P verification passes (default: never)\n"
	      "exit: 0 ok, 1 corruption, 2 usage/allocation error\n", f);
}

static int parse_cmd(const char *s, enum cmd *cmd)
{
	static const char *const names[] = { "alloc", "fill", "frag", "verify",
					     "churn" };
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*cmd = i;
			return 0;
		}
	return -1;
}

static int parse_ulong(const char *s, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return (errno || end == s || *end || *s == '-') ? -1 : 0;
}

static int parse_args(int argc, char **argv, struct workload *wl)
{
	static const struct option opts[] = {
		{ "mib", required_argument, NULL, 'm' },
		{ "seed", required_argument, NULL, 's' },
		{ "hold-file", required_argument, NULL, 'f' },
		{ "punch-holes", no_argument, NULL, 'p' },
		{ "ready", required_argument, NULL, 'r' },
		{ "hold-until", required_argument, NULL, 'u' },
		{ "interval", required_argument, NULL, 'i' },
		{ "rate", required_argument, NULL, 'S' },
		{ "remove", no_argument, NULL, 'R' },
		{ "churn-mib", required_argument, NULL, 'c' },
		{ "passes", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long v;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_ulong(optarg, &v) || v == 0 || v > MAX_MIB) {
				fprintf(stderr, "vb-workload: bad --mib '%s' (1..%lu)\n",
					optarg, MAX_MIB);
				return -1;
			}
			wl->mib = v;
			break;
		case 's':
			if (parse_ulong(optarg, &v)) {
				fprintf(stderr, "vb-workload: bad --seed '%s'\n", optarg);
				return -1;
			}
			wl->seed = v;
			break;
		case 'f': wl->hold_file = optarg; break;
		case 'p': wl->punch = true; break;
		case 'r': wl->ready = optarg; break;
		case 'u': wl->hold_until = optarg; break;
		case 'R': wl->remove = true; break;
		case 'i':
			wl->interval = strtod(optarg, NULL);
			if (wl->interval <= 0 || wl->interval > 3600) {
				fprintf(stderr, "vb-workload: bad --interval '%s'\n", optarg);
				return -1;
			}
			break;
		case 'S':
			if (parse_ulong(optarg, &v) || v > MAX_MIB) {
				fprintf(stderr, "vb-workload: bad --rate '%s'\n", optarg);
				return -1;
			}
			wl->rate = v;
			break;
		case 'c':
			if (parse_ulong(optarg, &v) || v < CHURN_SLOTS || v > MAX_MIB) {
				fprintf(stderr, "vb-workload: bad --churn-mib '%s' (%d..%lu)\n",
					optarg, CHURN_SLOTS, MAX_MIB);
				return -1;
			}
			wl->churn_mib = v;
			break;
		case 'P':
			if (parse_ulong(optarg, &v) || v > ULONG_MAX) {
				fprintf(stderr, "vb-workload: bad --passes '%s'\n", optarg);
				return -1;
			}
			wl->passes = v;
			break;
		case 'h': usage(stdout); exit(EXIT_OK);
		default: return -1;
		}
	}
	if (optind != argc - 1 || parse_cmd(argv[optind], &wl->cmd)) {
		fprintf(stderr, "vb-workload: need exactly one command: alloc, fill, frag, verify or churn\n");
		return -1;
	}
	if (!wl->mib) {
		fprintf(stderr, "vb-workload: --mib N is required\n");
		return -1;
	}
	if (wl->cmd == CMD_VERIFY && !wl->hold_file) {
		fprintf(stderr, "vb-workload: verify needs --hold-file (anonymous memory dies with the process)\n");
		return -1;
	}
	if (wl->cmd == CMD_FRAG)
		wl->punch = true;
	if (wl->cmd == CMD_CHURN && (wl->hold_file || wl->punch || wl->hold_until)) {
		fprintf(stderr, "vb-workload: churn works on anonymous memory only (no --hold-file, --punch-holes, --hold-until)\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct workload wl = { .seed = 1, .interval = 1.0, .fd = -1,
			       .churn_mib = 64 };

	if (parse_args(argc, argv, &wl)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	wl.pages = wl.mib * (1024 * 1024 / PAGE);
	return run(&wl);
}
