// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hostmem.c - host memory figures for the budget: MemAvailable (what the
 * host can still give without reclaiming hard) and memory PSI (how much
 * time tasks stall on memory, "some" and "full" over 10 s).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hostmem.h"

static int meminfo_kb(const char *text, const char *field, uint64_t *bytes)
{
	const char *p = text;
	size_t n = strlen(field);
	uint64_t kb;

	while ((p = strstr(p, field))) {
		if ((p == text || p[-1] == '\n') && p[n] == ':' &&
		    sscanf(p + n + 1, "%" SCNu64 " kB", &kb) == 1 && kb < (1ULL << 40)) {
			*bytes = kb * 1024;
			return 0;
		}
		p += n;
	}
	return -EINVAL;
}

int hostmem_parse_meminfo(const char *text, struct host_mem *h)
{
	int a = meminfo_kb(text, "MemTotal", &h->total);
	int b = meminfo_kb(text, "MemAvailable", &h->avail);

	return a ? a : b;
}

/* "some avg10=1.23 avg60=... total=..." */
static int psi_line(const char *text, const char *kind, double *avg10)
{
	const char *p = strstr(text, kind);
	double v;

	if (!p || (p != text && p[-1] != '\n') || sscanf(p + strlen(kind), " avg10=%lf", &v) != 1 ||
	    !isfinite(v) || v < 0 || v > 100)
		return -EINVAL;
	*avg10 = v;
	return 0;
}

int hostmem_parse_psi(const char *text, struct host_mem *h)
{
	int ret = psi_line(text, "some", &h->some_avg10);

	if (!ret && psi_line(text, "full", &h->full_avg10))
		h->full_avg10 = 0;	/* older kernels have no "full" line */
	h->psi = !ret;
	return ret;
}

static int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	return 0;
}

int hostmem_read(struct host_mem *h)
{
	char buf[8192];
	int ret;

	ret = read_text("/proc/meminfo", buf, sizeof(buf));
	if (!ret)
		ret = hostmem_parse_meminfo(buf, h);
	h->psi = false;
	if (!read_text("/proc/pressure/memory", buf, sizeof(buf)))
		hostmem_parse_psi(buf, h);
	return ret;
}
