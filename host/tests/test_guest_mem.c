// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_guest_mem.c - the address translator: translation across regions,
 * refusal of anything outside RAM, table validation, and discard that
 * really punches holes in the backing file (memfd = tmpfs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "guest_mem.h"
#include "log.h"

#define MiB (1ULL << 20)

static int memfd(uint64_t size)
{
	int fd = memfd_create("ram", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	return fd;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static uint64_t blocks(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

/* Two adjacent regions, the second at a non-page-aligned file offset. */
static void two_regions(struct guest_mem *m, int *fa, int *fb)
{
	struct guest_region r[2] = {
		/* given out of order: the table sorts by gpa */
		{ .gpa = 0x200000, .size = MiB, .uaddr = 0x7000000, .mmap_offset = 100 },
		{ .gpa = 0x100000, .size = MiB, .uaddr = 0x9000000, .mmap_offset = 0 },
	};

	*fa = memfd(2 * MiB);
	*fb = memfd(MiB);
	r[0].fd = *fa;
	r[1].fd = *fb;
	memset(m, 0, sizeof(*m));
	assert_int_equal(guest_mem_set_table(m, r, 2), 0);
	assert_int_equal(m->nregions, 2);
	assert_int_equal(m->r[0].gpa, 0x100000);
}

static void test_translate_across_regions(void **state)
{
	struct guest_mem m;
	char buf[64], back[64];
	uint64_t len;
	int fa, fb;
	uint8_t *p;

	vb_log_set_level(VB_LOG_ERR);
	two_regions(&m, &fa, &fb);
	/* Usable length stops at the region end. */
	len = 4096;
	p = guest_mem_gpa_to_hva(&m, 0x200000 - 16, &len);
	assert_non_null(p);
	assert_int_equal(len, 16);
	len = 10;
	assert_non_null(guest_mem_gpa_to_hva(&m, 0x100000, &len));
	assert_int_equal(len, 10);
	/* A copy spanning both regions lands in both files. */
	for (int i = 0; i < 64; i++)
		buf[i] = i + 1;
	assert_int_equal(guest_mem_write(&m, 0x200000 - 32, buf, 64), 0);
	assert_int_equal(pread(fb, back, 32, MiB - 32), 32);
	assert_memory_equal(back, buf, 32);
	assert_int_equal(pread(fa, back, 32, 100), 32);	/* mmap_offset 100 */
	assert_memory_equal(back, buf + 32, 32);
	memset(back, 0, sizeof(back));
	assert_int_equal(guest_mem_read(&m, 0x200000 - 32, back, 64), 0);
	assert_memory_equal(back, buf, 64);
	/* User addresses translate to the same bytes. */
	len = 1;
	p = guest_mem_uva_to_hva(&m, 0x7000000, &len);
	assert_non_null(p);
	assert_int_equal(*p, 33);
	assert_int_equal(guest_mem_end(&m), 0x300000);
	assert_int_equal(guest_mem_size(&m), 2 * MiB);
	guest_mem_clear(&m);
	assert_false(fd_open(fa));
	assert_false(fd_open(fb));
}

/* The mapping of a region at file offset 100 starts at file offset 0 and
 * covers the region: what the THP measurement walks. */
static void test_mapping_of_each_region(void **state)
{
	struct guest_mapping mp;
	struct guest_mem m;
	uint64_t len = 1;
	int fa, fb;

	two_regions(&m, &fa, &fb);
	assert_int_equal(guest_mem_mapping(&m, 0, &mp), 0);
	assert_int_equal(mp.fd, fb);
	assert_int_equal(mp.file_off, 0);
	assert_int_equal(mp.len, MiB);
	assert_int_equal(guest_mem_mapping(&m, 1, &mp), 0);
	assert_int_equal(mp.fd, fa);
	assert_int_equal(mp.file_off, 0);
	assert_int_equal(mp.len, MiB + 100);
	assert_ptr_equal(mp.base + 100, guest_mem_gpa_to_hva(&m, 0x200000, &len));
	assert_int_equal(guest_mem_mapping(&m, 2, &mp), -ENOENT);
	guest_mem_clear(&m);
	assert_false(fd_open(fa));
	assert_false(fd_open(fb));
}

static void test_out_of_range(void **state)
{
	struct guest_mem m;
	uint64_t len = 8;
	char b[8];
	int fa, fb;

	two_regions(&m, &fa, &fb);
	assert_true(guest_mem_valid(&m, 0x100000, 2 * MiB));
	assert_false(guest_mem_valid(&m, 0x100000, 2 * MiB + 1));
	assert_false(guest_mem_valid(&m, 0xfffff, 2));
	assert_false(guest_mem_valid(&m, 0, 1));
	assert_false(guest_mem_valid(&m, ~0ULL - 4, 16));	/* wraps */
	assert_false(guest_mem_valid(NULL, 0x100000, 1));
	assert_null(guest_mem_gpa_to_hva(&m, 0x300000, &len));
	assert_null(guest_mem_uva_to_hva(&m, 0x100000, &len));	/* gpa, not uva */
	assert_int_equal(guest_mem_read(&m, 0x300000 - 4, b, 8), -EFAULT);
	assert_int_equal(guest_mem_write(&m, 0x80000, b, 8), -EFAULT);
	guest_mem_clear(&m);
}

static void test_table_refusals(void **state)
{
	struct guest_mem m = { 0 };
	struct guest_region r[2];
	int fd, p[2];

	/* zero size */
	fd = memfd(MiB);
	r[0] = (struct guest_region){ .gpa = 0, .size = 0, .fd = fd };
	assert_int_equal(guest_mem_set_table(&m, r, 1), -EINVAL);
	assert_false(fd_open(fd));		/* closed on failure */
	assert_int_equal(m.nregions, 0);
	/* wrap-around */
	fd = memfd(MiB);
	r[0] = (struct guest_region){ .gpa = ~0ULL - 4095, .size = 8192, .fd = fd };
	assert_int_equal(guest_mem_set_table(&m, r, 1), -EINVAL);
	/* region larger than its file */
	fd = memfd(MiB);
	r[0] = (struct guest_region){ .gpa = 0, .size = MiB, .mmap_offset = 4096, .fd = fd };
	assert_int_equal(guest_mem_set_table(&m, r, 1), -EINVAL);
	/* overlap in gpa, then in uaddr */
	r[0] = (struct guest_region){ .gpa = 0, .size = MiB, .uaddr = 0, .fd = memfd(MiB) };
	r[1] = (struct guest_region){ .gpa = MiB - 4096, .size = MiB, .uaddr = 8 * MiB,
				      .fd = memfd(MiB) };
	assert_int_equal(guest_mem_set_table(&m, r, 2), -EINVAL);
	assert_false(fd_open(r[0].fd));
	assert_false(fd_open(r[1].fd));
	r[0] = (struct guest_region){ .gpa = 0, .size = MiB, .uaddr = 0, .fd = memfd(MiB) };
	r[1] = (struct guest_region){ .gpa = MiB, .size = MiB, .uaddr = 4096, .fd = memfd(MiB) };
	assert_int_equal(guest_mem_set_table(&m, r, 2), -EINVAL);
	/* not a regular file */
	assert_int_equal(pipe(p), 0);
	close(p[1]);
	r[0] = (struct guest_region){ .gpa = 0, .size = 4096, .fd = p[0] };
	assert_int_equal(guest_mem_set_table(&m, r, 1), -EINVAL);
	/* no regions, too many */
	assert_int_equal(guest_mem_set_table(&m, r, 0), -EINVAL);
	assert_int_equal(m.nregions, 0);
}

static void test_discard_punches_holes(void **state)
{
	struct guest_region r = { .gpa = 0x1000000, .size = 8 * MiB, .uaddr = 0 };
	struct guest_mem m = { 0 };
	uint64_t before, after, len = 8 * MiB;
	uint8_t *p;
	int fd;

	fd = memfd(16 * MiB);
	r.fd = fd;
	r.mmap_offset = 4 * MiB;	/* gpa 0x1000000 is file offset 4 MiB */
	assert_int_equal(guest_mem_set_table(&m, &r, 1), 0);
	p = guest_mem_gpa_to_hva(&m, r.gpa, &len);
	assert_non_null(p);
	memset(p, 0x5a, 8 * MiB);
	before = blocks(fd);
	assert_true(before >= 8 * MiB);

	/* Outside RAM, even partly: refused whole, nothing discarded. */
	assert_int_equal(guest_mem_discard(&m, r.gpa + 7 * MiB, 2 * MiB), -EFAULT);
	assert_int_equal(guest_mem_discard(&m, r.gpa - 4096, 8192), -EFAULT);
	assert_int_equal(guest_mem_discard(&m, 0, 4096), -EFAULT);
	assert_int_equal(guest_mem_discard(&m, r.gpa, 0), -EFAULT);
	assert_int_equal(blocks(fd), before);
	assert_int_equal(p[0], 0x5a);
	assert_int_equal(p[8 * MiB - 1], 0x5a);

	/* 2 MiB in the middle: blocks drop by that much, reads give zero,
	 * neighbours keep their data. */
	assert_int_equal(guest_mem_discard(&m, r.gpa + 2 * MiB, 2 * MiB), 0);
	after = blocks(fd);
	assert_true(before - after >= 2 * MiB);
	assert_int_equal(p[2 * MiB], 0);
	assert_int_equal(p[4 * MiB - 1], 0);
	assert_int_equal(p[2 * MiB - 1], 0x5a);
	assert_int_equal(p[4 * MiB], 0x5a);
	{
		uint8_t b;

		/* at the right file offset: mmap_offset + (gpa - region gpa) */
		assert_int_equal(pread(fd, &b, 1, 4 * MiB + 2 * MiB), 1);
		assert_int_equal(b, 0);
		assert_int_equal(pread(fd, &b, 1, 4 * MiB + 2 * MiB - 1), 1);
		assert_int_equal(b, 0x5a);
	}
	/* (reading a hole through a shared mapping allocated pages again) */
	assert_int_equal(guest_mem_allocated(&m), blocks(fd));
	assert_int_equal(guest_mem_huge_order(&m) >= 0, 1);
	guest_mem_clear(&m);
}

/* memfd RAM follows shmem_enabled; a mounted tmpfs only its [force]. */
static void test_shmem_policy(void **state)
{
	const char *never = "always within_size advise [never] deny force";
	const char *always = "[always] within_size advise never deny force";
	const char *within = "always [within_size] advise never deny force";
	const char *advise = "always within_size [advise] never deny force";
	const char *force = "always within_size advise never deny [force]";

	(void)state;
	assert_false(guest_mem_shmem_policy_huge(never, true));
	assert_true(guest_mem_shmem_policy_huge(always, true));
	assert_true(guest_mem_shmem_policy_huge(within, true));
	assert_false(guest_mem_shmem_policy_huge(advise, true));
	assert_true(guest_mem_shmem_policy_huge(force, true));
	assert_false(guest_mem_shmem_policy_huge(always, false));
	assert_false(guest_mem_shmem_policy_huge(within, false));
	assert_true(guest_mem_shmem_policy_huge(force, false));
	assert_false(guest_mem_shmem_policy_huge("", true));
}

static void test_allocated_counts_each_file_once(void **state)
{
	struct guest_mem m = { 0 };
	struct guest_region r[2];
	int fd = memfd(4 * MiB);
	uint8_t *p;
	uint64_t len = 4 * MiB;

	r[0] = (struct guest_region){ .gpa = 0, .size = 2 * MiB, .uaddr = 0, .fd = fd };
	r[1] = (struct guest_region){ .gpa = 2 * MiB, .size = 2 * MiB, .uaddr = 2 * MiB,
				      .mmap_offset = 2 * MiB, .fd = dup(fd) };
	assert_int_equal(guest_mem_set_table(&m, r, 2), 0);
	p = guest_mem_gpa_to_hva(&m, 0, &len);
	memset(p, 1, len);
	len = 2 * MiB;
	p = guest_mem_gpa_to_hva(&m, 2 * MiB, &len);
	memset(p, 1, len);
	assert_int_equal(guest_mem_allocated(&m), blocks(r[0].fd));
	/* A discard across the region boundary covers both. */
	assert_int_equal(guest_mem_discard(&m, MiB, 2 * MiB), 0);
	assert_true(blocks(r[0].fd) <= 2 * MiB);
	guest_mem_clear(&m);
}

static void test_truncated_file_survives(void **state)
{
	struct guest_region r = { .gpa = 0, .size = MiB, .uaddr = 0 };
	struct guest_mem m = { 0 };
	volatile uint8_t *p;
	uint64_t len = MiB;
	uint8_t v;

	r.fd = memfd(MiB);
	assert_int_equal(guest_mem_set_table(&m, &r, 1), 0);
	p = guest_mem_gpa_to_hva(&m, 0, &len);
	p[0] = 1;
	p[MiB - 1] = 2;
	assert_false(m.faulted);
	/* The frontend shrinks its RAM file: the access would SIGBUS. */
	assert_int_equal(ftruncate(m.r[0].fd, 4096), 0);
	v = p[MiB - 1];
	assert_int_equal(v, 0);
	assert_true(m.faulted);
	assert_int_equal(p[0], 1);		/* still the file's page */
	p[MiB - 2] = 7;				/* writes go to the stand-in page */
	assert_int_equal(p[MiB - 2], 7);
	assert_int_equal(guest_mem_read(&m, MiB - 8, &v, 1), 0);
	guest_mem_clear(&m);
	assert_false(m.faulted);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_translate_across_regions),
		cmocka_unit_test(test_mapping_of_each_region),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_table_refusals),
		cmocka_unit_test(test_discard_punches_holes),
		cmocka_unit_test(test_shmem_policy),
		cmocka_unit_test(test_allocated_counts_each_file_once),
		cmocka_unit_test(test_truncated_file_survives),
	};

	vb_log_set_level(VB_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
