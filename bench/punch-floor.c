// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * punch-floor - the host floor of ballooning: how fast can the host give
 * back guest RAM if it is told exactly which ranges to drop?  Allocates a
 * file of the guest's size in DIR (tmpfs, or a huge=always tmpfs), then
 * punches holes over all of it with a given hole size, the way vballoond
 * would for PFN-by-PFN requests (4 KiB), merged requests (64 KiB, 1 MiB),
 * continuous pages (2 MiB) or one range.  No guest, no virtqueue: the
 * difference between this and a balloon run is the cost of the protocol.
 *
 * A balloon host punches a file that is also mapped: UML maps its RAM file
 * MAP_SHARED and the guest touches it through that mapping, so every punch
 * must also zap the page-table entries that map the range.  --mmap fills
 * the file through a MAP_SHARED mapping (the kernel picks a 2 MiB aligned
 * address on a huge=always tmpfs, so 2 MiB pages are mapped with PMDs, as
 * UML's are: see ShmemPmdMapped in its /proc/PID/smaps) and punches with
 * the mapping in place.  Without it, the file is filled with write() and
 * never mapped.
 *
 * usage: punch-floor [--mmap] DIR MIB HOLE [RUNS]
 *   HOLE: 4k, 64k, 1m, 2m or all.  Prints one JSON object per run:
 *   {"hole": "4k", "fill": "write", "bytes": B, "calls": N, "ns": T,
 *    "cpu_ns": C, "allocated_after": A, "pmd_mapped": P}
 *   ns: wall time of the punches; cpu_ns: this thread's CPU time meanwhile
 *   (the punches run in the caller's context: on a shared machine the CPU
 *   time is the floor a busy daemon is compared with).
 *   fill: write or mmap; pmd_mapped: bytes of the mapping mapped by PMDs
 *   before punching (ShmemPmdMapped; 0 for write).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum fill { FILL_WRITE, FILL_MMAP };

static const char *const fill_names[] = { "write", "mmap" };

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int parse_hole(const char *s, uint64_t total, uint64_t *hole)
{
	if (!strcmp(s, "4k"))
		*hole = 4096;
	else if (!strcmp(s, "64k"))
		*hole = 64 << 10;
	else if (!strcmp(s, "1m"))
		*hole = 1 << 20;
	else if (!strcmp(s, "2m"))
		*hole = 2 << 20;
	else if (!strcmp(s, "all"))
		*hole = total;
	else
		return -EINVAL;
	return 0;
}

/* Map the file shared and write every page through it, as a guest touches
 * its RAM.  NULL with errno set on failure. */
static void *populate_mmap(int fd, uint64_t total)
{
	uint8_t *map;
	uint64_t off;

	if (ftruncate(fd, (off_t)total) < 0)
		return NULL;
	map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return NULL;
	for (off = 0; off < total; off += 4096)
		memset(map + off, 0x5a, 4096);
	return map;
}

/* kB of the mapping at addr mapped by PMDs (smaps ShmemPmdMapped). */
static uint64_t pmd_mapped_kb(const void *addr)
{
	char line[512];
	uint64_t kb = 0;
	bool in = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		/* A mapping's header: "lo-hi perms ..."; fields follow it. */
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && sscanf(line, "ShmemPmdMapped: %lu", &lo) == 1)
			kb = lo;
	}
	fclose(f);
	return kb;
}

/* Fill with written data: like guest RAM the guest has touched. */
static int populate(int fd, uint64_t total)
{
	static char buf[1 << 20];
	uint64_t off;

	memset(buf, 0x5a, sizeof(buf));
	for (off = 0; off < total; off += sizeof(buf))
		if (pwrite(fd, buf, sizeof(buf), (off_t)off) != (ssize_t)sizeof(buf))
			return -errno;
	return 0;
}

static int one_run(const char *dir, const char *name, uint64_t total,
		   uint64_t hole, enum fill fill)
{
	char path[4096];
	struct stat st;
	uint64_t off, t0, t1, c0, c1, calls = 0, pmd_kb = 0;
	void *map = NULL;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/punch-floor.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0) {
		perror(path);
		return -1;
	}
	unlink(path);
	if (fill == FILL_WRITE) {
		ret = populate(fd, total);
	} else {
		map = populate_mmap(fd, total);
		if (!map)
			ret = -errno;
		else
			pmd_kb = pmd_mapped_kb(map);
	}
	if (ret < 0) {
		fprintf(stderr, "populate: %s\n", strerror(-ret));
		close(fd);
		return -1;
	}
	c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	t0 = clock_ns(CLOCK_MONOTONIC);
	for (off = 0; off < total; off += hole, calls++) {
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)off, (off_t)hole) < 0) {
			perror("fallocate");
			close(fd);
			return -1;
		}
	}
	t1 = clock_ns(CLOCK_MONOTONIC);
	c1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	if (map)
		munmap(map, total);
	if (fstat(fd, &st) < 0) {
		perror("fstat");
		close(fd);
		return -1;
	}
	printf("{\"hole\": \"%s\", \"fill\": \"%s\", \"bytes\": %llu, \"calls\": %llu, \"ns\": %llu, \"cpu_ns\": %llu, \"allocated_after\": %llu, \"pmd_mapped\": %llu}\n",
	       name, fill_names[fill], (unsigned long long)total,
	       (unsigned long long)calls, (unsigned long long)(t1 - t0),
	       (unsigned long long)(c1 - c0),
	       (unsigned long long)st.st_blocks * 512ull,
	       (unsigned long long)pmd_kb << 10);
	fflush(stdout);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	enum fill fill = FILL_WRITE;
	uint64_t total, hole;
	long mib, runs = 1, i;

	if (argc > 1 && !strcmp(argv[1], "--mmap")) {
		fill = FILL_MMAP;
		argv++, argc--;
	}
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: punch-floor [--mmap] DIR MIB 4k|64k|1m|2m|all [RUNS]\n");
		return 2;
	}
	mib = strtol(argv[2], NULL, 10);
	if (argc == 5)
		runs = strtol(argv[4], NULL, 10);
	if (mib < 2 || mib > (1 << 20) || mib % 2 || runs < 1 || runs > 100) {
		fprintf(stderr, "punch-floor: MIB must be even, 2..1048576; RUNS 1..100\n");
		return 2;
	}
	total = (uint64_t)mib << 20;
	if (parse_hole(argv[3], total, &hole) < 0) {
		fprintf(stderr, "punch-floor: bad hole size '%s'\n", argv[3]);
		return 2;
	}
	for (i = 0; i < runs; i++)
		if (one_run(argv[1], argv[3], total, hole, fill) < 0)
			return 1;
	return 0;
}
