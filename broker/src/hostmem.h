/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hostmem.h - the host's own memory state: /proc/meminfo and PSI. */
#ifndef VB_BROKER_HOSTMEM_H
#define VB_BROKER_HOSTMEM_H

#include <stdbool.h>
#include <stdint.h>

struct host_mem {
	uint64_t total, avail;		/* bytes; 0 = unknown */
	bool psi;			/* /proc/pressure/memory was read */
	double some_avg10, full_avg10;	/* percent */
};

/* Parsers of the files' text (NUL-terminated); -EINVAL if a field is
 * missing or out of range, h unchanged for it. */
int hostmem_parse_meminfo(const char *text, struct host_mem *h);
int hostmem_parse_psi(const char *text, struct host_mem *h);
/* Reads both files (PSI is optional: kernels without CONFIG_PSI). */
int hostmem_read(struct host_mem *h);

#endif /* VB_BROKER_HOSTMEM_H */
