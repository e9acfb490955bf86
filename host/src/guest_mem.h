/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * guest_mem.h - guest RAM as the frontend shared it (SET_MEM_TABLE), and the
 * ONE translator from guest addresses to host pointers / file offsets.
 *
 * Every guest-supplied address or length that reaches memory or a syscall
 * goes through here.  Functions that take (gpa, len) refuse the whole request
 * (-EFAULT) unless every byte lies inside guest RAM; nothing outside guest RAM
 * is ever read, written or discarded.
 */
#ifndef VB_GUEST_MEM_H
#define VB_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 8

struct guest_region {
	uint64_t gpa;		/* guest physical start */
	uint64_t size;
	uint64_t uaddr;		/* frontend user address (ring addresses use it) */
	uint64_t mmap_offset;	/* offset of gpa in fd */
	int fd;
	uint8_t *host;		/* mapping of [mmap_offset, mmap_offset + size) */
	void *map_base;		/* what mmap returned, for munmap */
	size_t map_len;
};

struct guest_mem {
	unsigned nregions;	/* sorted by gpa, non-overlapping */
	struct guest_region r[GUEST_MEM_MAX_REGIONS];
	/* Set from the SIGBUS handler when an access hit a page the frontend
	 * took away (RAM file truncated under us): the page was replaced by
	 * an anonymous zero page so the daemon survives; the transport marks
	 * the device broken.  volatile sig_atomic_t in spirit. */
	volatile int faulted;
};

/* Replace the table with the frontend's regions (gpa, size, uaddr,
 * mmap_offset, fd filled in; host/map_base/map_len ignored).  Refuses zero
 * sizes, wrap-around, overlaps (in gpa or uaddr), fds that are not regular
 * files large enough for the region.  Maps each fd MAP_SHARED and sorts by
 * gpa.  Takes ownership of the fds on every path (kept in m on success,
 * closed on failure).  0 or -errno; on failure m is left empty. */
int guest_mem_set_table(struct guest_mem *m, const struct guest_region *in, unsigned n);

/* Translate gpa; returns a host pointer and sets *len to the usable
 * contiguous length (<= requested *len, > 0), or NULL if gpa is not RAM. */
void *guest_mem_gpa_to_hva(const struct guest_mem *m, uint64_t gpa, uint64_t *len);
/* Same for frontend user addresses (vring addresses). */
void *guest_mem_uva_to_hva(const struct guest_mem *m, uint64_t uva, uint64_t *len);

bool guest_mem_valid(const struct guest_mem *m, uint64_t gpa, uint64_t len);
/* Copy in/out, looping across regions.  0 or -EFAULT. */
int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, size_t len);
int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src, size_t len);

/* Return [gpa, gpa+len) to the host: fallocate(PUNCH_HOLE|KEEP_SIZE) on the
 * backing fd (MADV_REMOVE fallback), looping across regions.  Callers pass
 * merged ranges.  0, -EFAULT (outside RAM: nothing is discarded), or -errno. */
int guest_mem_discard(struct guest_mem *m, uint64_t gpa, uint64_t len);

/* One region's mapping in the daemon, for code that inspects the RAM
 * file's backing (balloon_thp.c) without reaching into guest_region. */
struct guest_mapping {
	int fd;			/* the RAM file */
	uint8_t *base;		/* our mapping, page aligned ... */
	size_t len;
	uint64_t file_off;	/* ... of the file from this offset */
};
/* Region i (gpa order) as mapped: 0, or -ENOENT past the last region. */
int guest_mem_mapping(const struct guest_mem *m, unsigned i, struct guest_mapping *map);

/* Highest gpa + size over all regions (guest RAM size when it starts at 0). */
uint64_t guest_mem_end(const struct guest_mem *m);
/* Sum of the region sizes: the guest RAM the frontend shares.  In UML the
 * first region starts above the kernel image (not shared), so this, not
 * guest_mem_end(), is the guest's RAM size. */
uint64_t guest_mem_size(const struct guest_mem *m);
/* Bytes allocated in the backing files (st_blocks * 512, each fd once). */
uint64_t guest_mem_allocated(const struct guest_mem *m);
/* Page order of the backing's huge pages (9 for 2 MiB on huge=always tmpfs
 * or hugetlbfs), 0 for plain 4 KiB backing. */
int guest_mem_huge_order(const struct guest_mem *m);
/* Whether shmem_enabled's POLICY line gives a tmpfs file huge pages; internal:
 * the file is on the kernel's own shmem mount (memfd).  For tests. */
bool guest_mem_shmem_policy_huge(const char *policy, bool internal);

/* Unmap and close everything; m becomes empty. */
void guest_mem_clear(struct guest_mem *m);

#endif /* VB_GUEST_MEM_H */
