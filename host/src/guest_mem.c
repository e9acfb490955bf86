// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * guest_mem.c - the one translator from guest addresses to host memory and
 * RAM-file offsets.  Every range a guest or frontend names is checked here
 * before anything reads, writes or discards it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "guest_mem.h"
#include "log.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

static long page_size(void)
{
	static long ps;

	if (!ps)
		ps = sysconf(_SC_PAGESIZE);
	return ps;
}

/* [a, a + alen) and [b, b + blen) intersect; lengths are > 0, no wrap. */
static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int region_check(const struct guest_region *r)
{
	struct stat st;

	if (!r->size)
		return -EINVAL;
	if (r->gpa + r->size < r->gpa || r->uaddr + r->size < r->uaddr ||
	    r->mmap_offset + r->size < r->mmap_offset)
		return -EINVAL;
	if (r->size > SIZE_MAX || r->mmap_offset > (uint64_t)INT64_MAX - r->size)
		return -EINVAL;
	if (r->fd < 0 || fstat(r->fd, &st) < 0)
		return -EBADF;
	/* Touching a mapping beyond EOF raises SIGBUS in the daemon: only a
	 * regular file (tmpfs, memfd, hugetlbfs) that covers the region. */
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size < r->mmap_offset + r->size)
		return -EINVAL;
	return 0;
}

static int table_check(const struct guest_region *in, unsigned n)
{
	unsigned i, j;
	int rc;

	if (!n || n > GUEST_MEM_MAX_REGIONS)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		rc = region_check(&in[i]);
		if (rc)
			return rc;
		for (j = 0; j < i; j++) {
			if (ranges_overlap(in[i].gpa, in[i].size, in[j].gpa, in[j].size) ||
			    ranges_overlap(in[i].uaddr, in[i].size, in[j].uaddr, in[j].size))
				return -EINVAL;
		}
	}
	return 0;
}

/*
 * SIGBUS guard.  A hostile frontend can shrink its RAM file after we mapped
 * it; touching the mapping beyond the new EOF raises SIGBUS.  The handler
 * looks the address up among live guest mappings, maps an anonymous page
 * over the faulting one (the access is retried and sees zeros) and flags
 * the table; any other SIGBUS is re-raised with the default action.
 */
#define GUARD_MAX 512

struct guard {
	uintptr_t start, end;
	struct guest_mem *m;
};

static struct guard guards[GUARD_MAX];
static unsigned nguards;

static void sigbus_handler(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr, ps = (uintptr_t)page_size();
	unsigned i;

	for (i = 0; i < nguards; i++) {
		if (a < guards[i].start || a >= guards[i].end)
			continue;
		if (mmap((void *)(a & ~(ps - 1)), ps, PROT_READ | PROT_WRITE,
			 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
			break;
		guards[i].m->faulted = 1;
		return;
	}
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

static void guard_add(struct guest_mem *m, const struct guest_region *r)
{
	struct sigaction sa = { .sa_sigaction = sigbus_handler,
				.sa_flags = SA_SIGINFO | SA_NODEFER };

	/* (Re)installed with each table: cheap, and wins over a handler a
	 * test framework set in the meantime. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	if (nguards == GUARD_MAX) {
		vb_warn("guest memory: SIGBUS guard table full");
		return;
	}
	guards[nguards].start = (uintptr_t)r->map_base;
	guards[nguards].end = (uintptr_t)r->map_base + r->map_len;
	guards[nguards].m = m;
	nguards++;
}

static void guard_del(const struct guest_region *r)
{
	unsigned i;

	for (i = 0; i < nguards; i++) {
		if (guards[i].start == (uintptr_t)r->map_base) {
			guards[i] = guards[--nguards];
			return;
		}
	}
}

static int region_map(struct guest_region *r)
{
	uint64_t off = r->mmap_offset & ~((uint64_t)page_size() - 1);
	uint64_t skew = r->mmap_offset - off;
	void *p;

	/* mmap wants a page-aligned offset; map from the page below and
	 * point host at the region's first byte. */
	r->map_len = r->size + skew;
	p = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, off);
	if (p == MAP_FAILED) {
		r->map_base = NULL;
		r->host = NULL;
		return -errno;
	}
	r->map_base = p;
	r->host = (uint8_t *)p + skew;
	return 0;
}

static int region_cmp(const void *a, const void *b)
{
	const struct guest_region *ra = a, *rb = b;

	return ra->gpa < rb->gpa ? -1 : ra->gpa > rb->gpa;
}

int guest_mem_set_table(struct guest_mem *m, const struct guest_region *in, unsigned n)
{
	unsigned i;
	int rc;

	guest_mem_clear(m);
	rc = table_check(in, n);
	if (rc)
		goto err_close;
	for (i = 0; i < n; i++) {
		m->r[i] = in[i];
		m->r[i].host = NULL;
		m->r[i].map_base = NULL;
		m->r[i].map_len = 0;
		m->nregions = i + 1;
		rc = region_map(&m->r[i]);
		if (!rc)
			guard_add(m, &m->r[i]);
		if (rc) {
			/* m->r[i].fd is closed by clear, the rest below. */
			guest_mem_clear(m);
			for (i++; i < n; i++)
				close(in[i].fd);
			return rc;
		}
	}
	qsort(m->r, m->nregions, sizeof(m->r[0]), region_cmp);
	return 0;

err_close:
	for (i = 0; i < n; i++)
		if (in[i].fd >= 0)
			close(in[i].fd);
	return rc;
}

void guest_mem_clear(struct guest_mem *m)
{
	unsigned i;

	for (i = 0; i < m->nregions && i < GUEST_MEM_MAX_REGIONS; i++) {
		struct guest_region *r = &m->r[i];

		if (r->map_base) {
			guard_del(r);
			munmap(r->map_base, r->map_len);
		}
		if (r->fd >= 0)
			close(r->fd);
	}
	memset(m, 0, sizeof(*m));
}

static const struct guest_region *find_gpa(const struct guest_mem *m, uint64_t gpa)
{
	unsigned i;

	for (i = 0; i < m->nregions; i++) {
		const struct guest_region *r = &m->r[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

static const struct guest_region *find_uva(const struct guest_mem *m, uint64_t uva)
{
	unsigned i;

	for (i = 0; i < m->nregions; i++) {
		const struct guest_region *r = &m->r[i];

		if (uva >= r->uaddr && uva - r->uaddr < r->size)
			return r;
	}
	return NULL;
}

static void *clip(const struct guest_region *r, uint64_t off, uint64_t *len)
{
	uint64_t left = r->size - off;

	if (!r->host || !*len)
		return NULL;
	if (*len > left)
		*len = left;
	return r->host + off;
}

void *guest_mem_gpa_to_hva(const struct guest_mem *m, uint64_t gpa, uint64_t *len)
{
	const struct guest_region *r = find_gpa(m, gpa);

	return r ? clip(r, gpa - r->gpa, len) : NULL;
}

void *guest_mem_uva_to_hva(const struct guest_mem *m, uint64_t uva, uint64_t *len)
{
	const struct guest_region *r = find_uva(m, uva);

	return r ? clip(r, uva - r->uaddr, len) : NULL;
}

bool guest_mem_valid(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	const struct guest_region *r;

	if (!m)
		return false;
	if (gpa + len < gpa)
		return false;
	if (!len)
		return find_gpa(m, gpa) != NULL;
	/* Adjacent regions may together hold one range. */
	while (len) {
		uint64_t chunk;

		r = find_gpa(m, gpa);
		if (!r)
			return false;
		chunk = r->size - (gpa - r->gpa);
		if (chunk >= len)
			return true;
		gpa += chunk;
		len -= chunk;
	}
	return true;
}

static int copy_guest(const struct guest_mem *m, uint64_t gpa, void *buf,
		      size_t len, bool to_guest)
{
	uint8_t *p = buf;

	if (!guest_mem_valid(m, gpa, len))
		return -EFAULT;
	while (len) {
		uint64_t n = len;
		uint8_t *h = guest_mem_gpa_to_hva(m, gpa, &n);

		if (!h)
			return -EFAULT;
		if (to_guest)
			memcpy(h, p, n);
		else
			memcpy(p, h, n);
		p += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, size_t len)
{
	return copy_guest(m, gpa, dst, len, false);
}

int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src, size_t len)
{
	return copy_guest(m, gpa, (void *)src, len, true);
}

/* madvise needs whole host pages: round inward (a partial page stays). */
static int discard_madvise(uint8_t *h, uint64_t len)
{
	uintptr_t ps = page_size();
	uintptr_t start = ((uintptr_t)h + ps - 1) & ~(ps - 1);
	uintptr_t end = ((uintptr_t)h + len) & ~(ps - 1);

	if (end <= start)
		return 0;
	if (madvise((void *)start, end - start, MADV_REMOVE) == 0)
		return 0;
	/* Private anonymous memory (unit tests): dropping it is the discard. */
	if (errno == EINVAL &&
	    madvise((void *)start, end - start, MADV_DONTNEED) == 0)
		return 0;
	return -errno;
}

static int discard_one(const struct guest_region *r, uint64_t gpa, uint64_t len)
{
	uint64_t off = gpa - r->gpa;

	if (r->fd >= 0) {
		if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      r->mmap_offset + off, len) == 0)
			return 0;
		if (errno != EOPNOTSUPP)
			return -errno;
	}
	if (!r->host)
		return -EOPNOTSUPP;
	return discard_madvise(r->host + off, len);
}

int guest_mem_discard(struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	int rc;

	/* All or nothing: a range that leaves RAM anywhere is refused whole. */
	if (!len || !guest_mem_valid(m, gpa, len))
		return -EFAULT;
	while (len) {
		const struct guest_region *r = find_gpa(m, gpa);
		uint64_t n = r->size - (gpa - r->gpa);

		if (n > len)
			n = len;
		rc = discard_one(r, gpa, n);
		if (rc)
			return rc;
		gpa += n;
		len -= n;
	}
	return 0;
}

int guest_mem_mapping(const struct guest_mem *m, unsigned i, struct guest_mapping *map)
{
	const struct guest_region *r = &m->r[i];

	if (i >= m->nregions)
		return -ENOENT;
	map->fd = r->fd;
	map->base = r->map_base;
	map->len = r->map_len;
	/* region_map() mapped from the page below mmap_offset. */
	map->file_off = r->mmap_offset - (uint64_t)(r->host - (uint8_t *)r->map_base);
	return 0;
}

uint64_t guest_mem_end(const struct guest_mem *m)
{
	uint64_t end = 0;
	unsigned i;

	for (i = 0; i < m->nregions; i++)
		if (m->r[i].gpa + m->r[i].size > end)
			end = m->r[i].gpa + m->r[i].size;
	return end;
}

uint64_t guest_mem_size(const struct guest_mem *m)
{
	uint64_t total = 0;
	unsigned i;

	for (i = 0; i < m->nregions; i++)
		total += m->r[i].size;
	return total;
}

uint64_t guest_mem_allocated(const struct guest_mem *m)
{
	struct stat seen[GUEST_MEM_MAX_REGIONS];
	unsigned i, j, nseen = 0;
	uint64_t total = 0;

	for (i = 0; i < m->nregions; i++) {
		struct stat st;

		if (m->r[i].fd < 0 || fstat(m->r[i].fd, &st) < 0)
			continue;
		for (j = 0; j < nseen; j++)
			if (seen[j].st_dev == st.st_dev && seen[j].st_ino == st.st_ino)
				break;
		if (j < nseen)
			continue;
		seen[nseen++] = st;
		total += (uint64_t)st.st_blocks * 512;
	}
	return total;
}

static int pmd_order(void)
{
	unsigned long long sz = 0;
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r");
	int order = 0;

	if (f) {
		if (fscanf(f, "%llu", &sz) != 1)
			sz = 0;
		fclose(f);
	}
	if (!sz)
		return 9;
	while ((4096ULL << order) < sz && order < 20)
		order++;
	return order;
}

static int fd_mnt_id(int fd)
{
	char path[64], line[256];
	int id = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "mnt_id: %d", &id) == 1)
			break;
	fclose(f);
	return id;
}

/*
 * tmpfs hands out huge pages for the file when its mount says huge=always
 * or within_size (the RAM file is sized once, so "within" is all of it).
 * Returns 1 or 0, or -1 when the mount is not in our mountinfo: the
 * kernel's internal shmem mount, which memfds and shared anonymous memory
 * live on.
 */
static int tmpfs_mount_huge(int fd)
{
	char line[4096];
	int id = fd_mnt_id(fd), mid;
	int huge = -1;
	FILE *f;

	if (id < 0)
		return 0;
	f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%d", &mid) != 1 || mid != id)
			continue;
		huge = strstr(line, "huge=always") || strstr(line, "huge=within_size");
		break;
	}
	fclose(f);
	return huge;
}

/*
 * shmem_enabled ("always within_size advise [never] deny force") decides
 * for the internal mount; on a mounted tmpfs only [force] overrides the
 * mount's own option.  [advise] depends on the frontend's madvise(), which
 * we cannot see: not counted.
 */
bool guest_mem_shmem_policy_huge(const char *policy, bool internal)
{
	if (strstr(policy, "[force]"))
		return true;
	return internal && (strstr(policy, "[always]") ||
			    strstr(policy, "[within_size]"));
}

static bool shmem_policy_huge(bool internal)
{
	char buf[256] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return guest_mem_shmem_policy_huge(buf, internal);
}

int guest_mem_huge_order(const struct guest_mem *m)
{
	struct statfs sfs;
	int order = 0;

	if (!m->nregions || m->r[0].fd < 0 || fstatfs(m->r[0].fd, &sfs) < 0)
		return 0;
	if ((unsigned long)sfs.f_type == HUGETLBFS_MAGIC) {
		while ((4096ULL << order) < (unsigned long long)sfs.f_bsize && order < 20)
			order++;
		return order;
	}
	if ((unsigned long)sfs.f_type == TMPFS_MAGIC) {
		int mount = tmpfs_mount_huge(m->r[0].fd);

		if (mount == 1 || shmem_policy_huge(mount < 0))
			return pmd_order();
	}
	return 0;
}
