// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * balloon_thp.c - how much of the guest's RAM file is backed by PMD-size
 * huge pages right now: the host THP state that continuous-page inflation
 * (VB_F_CONT_PAGES) exists to keep.
 *
 * Linux has no per-file "huge pages" counter: ShmemHugePages in
 * /proc/meminfo is host-wide, and a process's smaps only shows what that
 * process maps.  So we look at our own mapping of the RAM (guest_mem's, the
 * one the SIGBUS guard protects), after making it map what the file holds:
 *
 *  1. SEEK_DATA/SEEK_HOLE and mincore() tell which 2 MiB chunks (aligned in
 *     the file) are wholly resident, without faulting anything in: only
 *     those can be one PMD-size folio.
 *  2. One read of the first byte of such a chunk faults it in: a huge folio
 *     gets mapped by one PMD (the mapping is PMD-aligned against the file,
 *     which shmem's get_unmapped_area guarantees on a huge mount; checked),
 *     a chunk of small pages by a few PTEs.  A read fault on a resident page
 *     never allocates, so the measurement does not undo the balloon.
 *  3. /proc/self/smaps ShmemPmdMapped + FilePmdMapped of that mapping is then
 *     exactly the huge-backed part of the file.
 *  4. MADV_DONTNEED drops the mappings again (for a MAP_SHARED file it only
 *     zaps our page tables): the daemon's RSS and later hole punches stay as
 *     cheap as before.
 *
 * Cost: a few lseek per data extent, one mincore and at most one fault per
 * 2 MiB, one smaps read (9 ms per GiB here); run on demand (x-vb-query),
 * never on a guest-driven path.
 * hugetlbfs is huge by construction: its allocated bytes are the answer.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* SEEK_DATA, SEEK_HOLE */
#endif
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "balloon_priv.h"

#define THP_CHUNK	(2ULL << 20)		/* PMD size on x86-64 */
#define THP_BATCH	(64ULL << 20)		/* mincore vector: 16 KiB */

/* VMA header lines start with a lowercase hex address, fields with a
 * capitalised name ("Rss:", "ShmemPmdMapped:"). */
static bool smaps_header(const char *line, uintptr_t *a, uintptr_t *b)
{
	return (isdigit((unsigned char)line[0]) ||
		(line[0] >= 'a' && line[0] <= 'f')) &&
	       sscanf(line, "%" SCNxPTR "-%" SCNxPTR, a, b) == 2;
}

/* Sum ShmemPmdMapped + FilePmdMapped of the VMAs inside [start, end). */
static int smaps_pmd_bytes(uintptr_t start, uintptr_t end, uint64_t *bytes)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	bool in = false, cont = false;
	uint64_t kb = 0, v;
	char line[512];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		bool tail = cont;
		uintptr_t a, b;

		/* A header longer than the buffer (a long path) arrives in
		 * pieces; a piece of a path must not pass for a header. */
		cont = !strchr(line, '\n');
		if (tail)
			continue;
		if (smaps_header(line, &a, &b)) {
			in = a >= start && b <= end;
			continue;
		}
		if (in && (sscanf(line, "ShmemPmdMapped: %" SCNu64, &v) == 1 ||
			   sscanf(line, "FilePmdMapped: %" SCNu64, &v) == 1))
			kb += v;
	}
	fclose(f);
	*bytes = kb << 10;
	return 0;
}

/* Fault in the first byte of every 2 MiB block of [p, p + len) that can
 * be one huge page: wholly resident (the whole-range fallback). */
static void touch_resident_chunks(uint8_t *p, uint64_t len)
{
	const uint64_t per = THP_CHUNK >> VB_PFN_SHIFT;
	unsigned char *vec = malloc(THP_BATCH >> VB_PFN_SHIFT);
	uint64_t off, n, c, i;

	for (off = 0; vec && off < len; off += THP_BATCH) {
		n = len - off < THP_BATCH ? len - off : THP_BATCH;
		if (mincore(p + off, n, vec) < 0)
			break;
		for (c = 0; c < n / THP_CHUNK; c++) {
			for (i = 0; i < per && (vec[c * per + i] & 1); i++)
				;
			if (i == per)
				(void)*(volatile uint8_t *)(p + off + c * THP_CHUNK);
		}
	}
	free(vec);
}

/*
 * The same, cheaper: SEEK_DATA/SEEK_HOLE walk the page cache by folio (a
 * 1 GiB file of huge pages is 512 steps, where mincore looks up 262144
 * pages), and only blocks wholly inside data are candidates; mincore of
 * their first page then keeps out swapped-out ones (touching those would
 * read them back in).  The fd is our own open file description (through
 * /proc/self/fd), so the frontend's file position does not move.
 * fd_off is the file offset of p.  -errno if the fd cannot be reopened.
 */
static int touch_data_chunks(int fd, uint8_t *p, uint64_t fd_off, uint64_t len)
{
	uint64_t end = fd_off + len, c;
	char path[64];
	off_t d, h;
	int own;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	own = open(path, O_RDONLY | O_CLOEXEC);
	if (own < 0)
		return -errno;
	for (d = fd_off; (uint64_t)d < end; d = h) {
		unsigned char v;

		d = lseek(own, d, SEEK_DATA);
		if (d < 0 || (uint64_t)d >= end)
			break;
		h = lseek(own, d, SEEK_HOLE);
		if (h < 0)
			break;
		if ((uint64_t)h > end)
			h = end;
		for (c = (d + THP_CHUNK - 1) & ~(THP_CHUNK - 1); c + THP_CHUNK <= (uint64_t)h;
		     c += THP_CHUNK)
			if (!mincore(p + (c - fd_off), 1 << VB_PFN_SHIFT, &v) && (v & 1))
				(void)*(volatile uint8_t *)(p + (c - fd_off));
	}
	close(own);
	return 0;
}

/* Huge-backed bytes of one region's mapping; -EOPNOTSUPP when the mapping
 * is not PMD-aligned against the file (no PMD could map a huge page). */
static int region_thp(const struct guest_mapping *mp, uint64_t *bytes)
{
	uint64_t file_off = mp->file_off;		/* of mp->base */
	uintptr_t base = (uintptr_t)mp->base;
	uint64_t head = (THP_CHUNK - file_off % THP_CHUNK) % THP_CHUNK;
	uint64_t len;
	uint8_t *p;
	int ret;

	*bytes = 0;
	/* Too short for one aligned 2 MiB block of the file (QEMU's 640 KiB
	 * below the VGA hole): no huge page to count, and shmem aligns no
	 * mapping shorter than a huge page. */
	if (mp->len < head + THP_CHUNK)
		return 0;
	if ((base - file_off) % THP_CHUNK)
		return -EOPNOTSUPP;
	p = mp->base + head;
	len = (mp->len - head) & ~(THP_CHUNK - 1);
	if (touch_data_chunks(mp->fd, p, file_off + head, len) < 0)
		touch_resident_chunks(p, len);
	ret = smaps_pmd_bytes(base, base + mp->len, bytes);
	/* Shared file mapping: this only zaps our page tables. */
	madvise(p, len, MADV_DONTNEED);
	return ret;
}

static bool fd_hugetlb(int fd)
{
	struct statfs sfs;

	return fstatfs(fd, &sfs) == 0 &&
	       (unsigned long)sfs.f_type == HUGETLBFS_MAGIC;
}

/*
 * Bytes of the shared guest RAM backed by PMD-size huge pages now, summed
 * over the regions.  0 or -errno (-ENODEV: no memory table; -EOPNOTSUPP: a
 * mapping that cannot be measured).
 */
int balloon_ram_thp(struct balloon *b, uint64_t *bytes)
{
	const struct guest_mem *m = b->vdev.mem;
	struct guest_mapping mp;
	uint64_t total = 0, n;
	unsigned i;
	int ret;

	*bytes = 0;
	if (!m || !guest_mem_size(m))
		return -ENODEV;
	for (i = 0; guest_mem_mapping(m, i, &mp) == 0; i++) {
		if (mp.fd < 0 || !mp.base)
			continue;
		if (fd_hugetlb(mp.fd)) {
			/* Every allocated byte is a huge page. */
			total = guest_mem_allocated(m);
			break;
		}
		ret = region_thp(&mp, &n);
		/* shmem aligns a mapping to PMDs whenever its mount may give
		 * huge pages; a misaligned one is on a backing without THP. */
		if (ret == -EOPNOTSUPP && !guest_mem_huge_order(m))
			ret = n = 0;
		if (ret < 0)
			return ret;
		total += n;
	}
	*bytes = total;
	return 0;
}
