// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hostile_rings.c - hostile cases in guest memory: requests naming pages
 * outside RAM, descriptors outside RAM or in loops, absurd ring indexes,
 * RAM taken away under live rings, request and kick floods.  An input that
 * must break the device runs on a fresh device of its own, so each one is
 * seen to break it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hostile.h"

#define PFN(off)	((off) >> VB_PFN_SHIFT)

static struct virtq_desc *ring_desc(unsigned q)
{
	return (struct virtq_desc *)(hf.file + RING(q));
}

static struct virtq_avail *ring_avail(unsigned q)
{
	return (struct virtq_avail *)(hf.file + RING_AVAIL(q));
}

/* Inflate a buffer of PFNs: a request naming any PFN outside RAM must be
 * refused whole, none of its pages discarded. */
static enum outcome pfn_attack(enum outcome o, const char *what, const uint32_t *pfns,
			       unsigned n)
{
	memcpy(hf.file + BUF_GPA, pfns, n * sizeof(*pfns));
	post(&hf, Q_INFLATE, fe_gpa(&hf, BUF_GPA), n * sizeof(*pfns), 0);
	kick(&hf, Q_INFLATE);
	return must_use(o, what, Q_INFLATE);
}

enum outcome c_pfns_outside(void)
{
	uint64_t first = PFN(RAM_GPA), end = PFN(RAM_GPA + hf.ram_size);
	uint64_t keep = DATA_GPA + 10 * PAGE;	/* in RAM, listed with bad PFNs */
	uint32_t below[] = { first - 1, PFN(keep) };		/* the "kernel image" */
	uint32_t above[] = { end, end + 1, end + 255 };	/* the unshared tail */
	uint32_t huge[] = { 0xffffffff, 0x80000000 };
	uint32_t zero[] = { 0 };
	enum outcome o = O_REQ_REFUSED;

	if (hostile_up())
		return O_FAILED;
	o = pfn_attack(o, "PFN in the image", below, ARRAY_SIZE(below));
	o = pfn_attack(o, "PFNs past the end", above, ARRAY_SIZE(above));
	o = pfn_attack(o, "PFN 2^32-1", huge, ARRAY_SIZE(huge));
	o = pfn_attack(o, "PFN 0", zero, ARRAY_SIZE(zero));
	return page_kept(keep) ? o : O_FAILED;
}

/* VB_F_PAGE_RANGES: ranges crossing RAM's edges, wrapping, empty, reserved
 * bits set; each request also names a good range that must stay. */
enum outcome c_ranges_outside(void)
{
	uint64_t first = PFN(RAM_GPA), end = PFN(RAM_GPA + hf.ram_size);
	uint64_t keep = DATA_GPA + 20 * PAGE;
	static const char *const what[] = {
		"crosses the end", "starts in the image", "pfn + npages wraps",
		"pfn 2^52", "npages 0", "reserved bits", "npages 2^32-1",
	};
	struct vb_range bad[] = {
		{ end - 1, 2, 0 }, { first - 1, 2, 0 }, { ~0ULL - 1, 0x80000000u, 0 },
		{ 1ULL << 52, 1, 0 }, { first + 40, 0, 0 }, { first + 40, 1, 7 },
		{ first, 0xffffffffu, 0 },
	};
	struct vb_range *buf = (struct vb_range *)(hf.file + BUF_GPA);
	enum outcome o = O_REQ_REFUSED;
	unsigned i, q;

	if (fe_up(&hf, FE_FEATURES | BIT(VB_F_PAGE_RANGES)))
		return O_FAILED;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		q = i & 1 ? Q_DEFLATE : Q_INFLATE;
		buf[0] = (struct vb_range){ PFN(keep), 1, 0 };
		buf[1] = bad[i];
		post(&hf, q, BUF_GPA, 2 * sizeof(*buf), 0);
		kick(&hf, q);
		o = must_use(o, what[i], q);
	}
	return page_kept(keep) ? o : O_FAILED;
}

/* Reported blocks outside RAM or straddling its end. */
enum outcome c_reporting_outside(void)
{
	uint64_t end = RAM_GPA + hf.ram_size;
	const struct { const char *what; uint64_t gpa, len; } bad[] = {
		{ "straddles the end", end - PAGE, 4 * PAGE },
		{ "in the image", 0, 64 * PAGE },
		{ "in the tail", end + TAIL / 2, PAGE },
	};
	enum outcome o = O_BROKEN;
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (reconnect() ||
		    fe_up(&hf, FE_FEATURES | BIT(VB_F_PAGE_REPORTING)))
			return O_FAILED;
		post(&hf, Q_REPORTING, bad[i].gpa, bad[i].len, VIRTQ_DESC_F_WRITE);
		kick(&hf, Q_REPORTING);
		o = tally(o, O_BROKEN, bad[i].what, broken_probe());
	}
	return o;
}

/*
 * Guest address, user address and file offset all differ (QEMU-like; UML
 * has them equal): a valid inflate must punch its own page of the file,
 * and a PFN that is RAM only when misread as a file offset must be refused
 * with its request.  check_outside() catches a ring or hole misplaced.
 */
enum outcome c_offset_region(void)
{
	uint64_t page = DATA_GPA + 30 * PAGE, keep = DATA_GPA + 31 * PAGE, i;
	uint32_t misread[2];

	hf.gpa = 0x40000000;
	hf.uva = 0x10000000000ULL;
	if (hostile_up() || inflate_one(page, REPLY_TIMEOUT_MS))
		return O_FAILED;
	for (i = 0; i < PAGE; i++)
		if (hf.file[page + i]) {
			printf("  inflated page at file offset %#llx not discarded\n",
			       (unsigned long long)page);
			return O_FAILED;
		}
	misread[0] = PFN(fe_gpa(&hf, keep));
	misread[1] = PFN(keep);
	return page_kept(keep) ? pfn_attack(O_REQ_REFUSED, "PFN misread as file offset",
					    misread, 2) : O_FAILED;
}

/* Post one buffer on a fresh device: it must break it. */
static enum outcome bad_buffer(enum outcome o, const char *what, unsigned q, uint64_t gpa,
			       uint32_t len)
{
	if (reconnect() || hostile_up())
		return O_FAILED;
	post(&hf, q, gpa, len, 0);
	kick(&hf, q);
	return tally(o, O_BROKEN, what, broken_probe());
}

enum outcome c_desc_outside(void)
{
	uint64_t end = RAM_GPA + hf.ram_size;
	enum outcome o = O_BROKEN;

	o = bad_buffer(o, "buffer past RAM", Q_INFLATE, end, 64);
	o = bad_buffer(o, "buffer in the image", Q_DEFLATE, 0, PAGE);
	o = bad_buffer(o, "buffer straddling the end", Q_INFLATE, end - 8, 64);
	return bad_buffer(o, "zero-length buffer", Q_INFLATE, BUF_GPA, 0);
}

/* Make head 0 of q available (its descriptors written by the caller). */
static void expose_head0(unsigned q, uint16_t idx)
{
	ring_avail(q)->ring[0] = 0;
	__atomic_store_n(&ring_avail(q)->idx, idx, __ATOMIC_RELEASE);
	kick(&hf, q);
}

enum outcome c_desc_loop(void)
{
	struct virtq_desc *d;
	enum outcome o = O_BROKEN;
	unsigned i;

	if (reconnect() || hostile_up())
		return O_FAILED;
	d = ring_desc(Q_INFLATE);
	for (i = 0; i < QSIZE; i++)	/* every descriptor chains to the next, wrapping */
		d[i] = (struct virtq_desc){ BUF_GPA, 4, VIRTQ_DESC_F_NEXT, (i + 1) % QSIZE };
	expose_head0(Q_INFLATE, 1);
	o = tally(o, O_BROKEN, "descriptor loop", broken_probe());
	if (reconnect() || hostile_up())
		return O_FAILED;
	/* indirect descriptors (not negotiated) */
	ring_desc(Q_DEFLATE)[0] = (struct virtq_desc){ BUF_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0 };
	expose_head0(Q_DEFLATE, 1);
	return tally(o, O_BROKEN, "INDIRECT without the feature", broken_probe());
}

enum outcome c_absurd_indexes(void)
{
	enum outcome o = O_BROKEN;

	if (reconnect() || hostile_up())
		return O_FAILED;
	ring_avail(Q_INFLATE)->ring[0] = 60000;	/* head beyond the table */
	__atomic_store_n(&ring_avail(Q_INFLATE)->idx, 1, __ATOMIC_RELEASE);
	kick(&hf, Q_INFLATE);
	o = tally(o, O_BROKEN, "avail head 60000", broken_probe());
	if (reconnect() || hostile_up())
		return O_FAILED;
	/* idx far beyond num */
	__atomic_store_n(&ring_avail(Q_DEFLATE)->idx, 40000, __ATOMIC_RELEASE);
	kick(&hf, Q_DEFLATE);
	return tally(o, O_BROKEN, "avail idx 40000", broken_probe());
}

/*
 * A zero-length buffer breaks the device; the frontend then sends the table
 * and rings again, as UML does on a module reload: that must be accepted
 * and the device must serve again.  Then a writable descriptor before a
 * readable one, which a driver-to-device request never carries.
 */
enum outcome c_zero_length_reinit(void)
{
	struct virtq_desc order[2] = {
		{ BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0 }, { BUF_GPA + 8, 8, 0, 0 },
	};
	enum outcome o = bad_buffer(O_BROKEN, "zero-length buffer", Q_INFLATE, BUF_GPA, 0);

	if (fe_mem_table(&hf) || fe_rings(&hf, FE_FEATURES) ||
	    inflate_one(DATA_GPA, REPLY_TIMEOUT_MS)) {
		printf("  no service after a re-initialisation of a broken device\n");
		return O_FAILED;
	}
	post_chain(&hf, Q_INFLATE, order, 2);
	kick(&hf, Q_INFLATE);
	return tally(o, O_BROKEN, "writable before readable", broken_probe());
}

/* The frontend takes its RAM away under a live ring, truncating the file
 * to keep bytes: on a separate memfd, so the canary file stays whole.  The
 * broken device is not probed with a request: that RAM is gone. */
static enum outcome truncate_under(uint64_t keep)
{
	int saved_fd = hf.memfd;
	uint8_t *saved_file = hf.file, *m;
	enum outcome o = O_FAILED;

	hf.memfd = memfd_create("vb-hostile-shrinking", MFD_CLOEXEC);
	if (hf.memfd < 0 || ftruncate(hf.memfd, hf.file_size))
		goto out;
	m = mmap(NULL, hf.file_size, PROT_READ | PROT_WRITE, MAP_SHARED, hf.memfd, 0);
	if (m == MAP_FAILED)
		goto out;
	hf.file = m;
	if (reconnect() || hostile_up())
		goto unmap;
	*(uint32_t *)(hf.file + BUF_GPA) = PFN(DATA_GPA);
	post(&hf, Q_INFLATE, BUF_GPA, 4, 0);
	if (ftruncate(hf.memfd, keep))
		goto unmap;
	/* the kicks make the daemon touch what is gone */
	kick(&hf, Q_INFLATE);
	kick(&hf, Q_DEFLATE);
	o = broken_probe();
unmap:
	munmap(m, hf.file_size);
out:
	if (hf.memfd >= 0)
		close(hf.memfd);
	hf.memfd = saved_fd;
	hf.file = saved_file;
	return o;
}

/* Once keeping the rings but not the posted PFN array (the daemon faults
 * reading the request), once keeping nothing (it faults reading a ring). */
enum outcome c_truncate_ram(void)
{
	enum outcome o = tally(O_BROKEN, O_BROKEN, "PFN array truncated",
			       truncate_under(BUF_GPA));

	return tally(o, O_BROKEN, "everything truncated", truncate_under(0));
}

/* 5000 bad inflate requests, each posted and kicked. */
enum outcome c_flood_bad_requests(void)
{
	enum outcome o = O_REQ_REFUSED;
	unsigned i;

	if (hostile_up())
		return O_FAILED;
	for (i = 0; i < 5000 && o == O_REQ_REFUSED; i++) {
		*(uint32_t *)(hf.file + BUF_GPA) = 0xffffffff;
		post(&hf, Q_INFLATE, BUF_GPA, 4, 0);
		kick(&hf, Q_INFLATE);
		o = must_use(o, "inflate of PFN 2^32-1", Q_INFLATE);
	}
	return o;
}

/* 100 000 kicks with nothing posted (pointless, not wrong): the queue must
 * still serve a valid request after them. */
enum outcome c_flood_kicks(void)
{
	unsigned i;

	if (hostile_up())
		return O_FAILED;
	for (i = 0; i < 100000; i++)
		kick(&hf, Q_INFLATE);
	return inflate_one(DATA_GPA, REPLY_TIMEOUT_MS) ? O_FAILED : O_IGNORED;
}

enum outcome c_disconnect_in_flight(void)
{
	uint32_t *arr = (uint32_t *)(hf.file + BUF_GPA);
	unsigned i;

	if (hostile_up())
		return O_FAILED;
	for (i = 0; i < 256; i++)
		arr[i] = PFN(DATA_GPA) + i;
	post(&hf, Q_INFLATE, BUF_GPA, 256 * sizeof(*arr), 0);
	kick(&hf, Q_INFLATE);
	return O_SURVIVED;	/* close before the acknowledgement */
}
