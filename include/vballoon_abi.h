/* SPDX-License-Identifier: (GPL-2.0 OR BSD-3-Clause) */
/*
 * vballoon_abi.h - wire format shared by vballoond (host) and vballoon.ko
 * (guest): the standard virtio balloon layout plus vballoon's experimental
 * extensions.
 *
 * Everything on the wire is little-endian.  This header must compile both in
 * the kernel (__KERNEL__) and in userspace, so it only uses the linux/types.h
 * fixed-width types.
 *
 * EXTENSIONS ARE EXPERIMENTAL.  They use device-specific feature bits the
 * virtio spec (1.3) leaves unassigned; they are not registered with the
 * virtio TC.  The first continuous-pages proposal used bit 5: bit 5 is
 * VIRTIO_BALLOON_F_PAGE_REPORTING in the spec, so we must not.
 * See docs/abi.md for the protocol and the fallback rules.
 */
#ifndef VBALLOON_ABI_H
#define VBALLOON_ABI_H

#include <linux/types.h>

/* Standard feature bits (virtio spec, "Traditional Memory Balloon Device"). */
#define VB_F_MUST_TELL_HOST	0
#define VB_F_STATS_VQ		1
#define VB_F_DEFLATE_ON_OOM	2
#define VB_F_FREE_PAGE_HINT	3
#define VB_F_PAGE_POISON	4
#define VB_F_PAGE_REPORTING	5

/*
 * Experimental (vballoon) feature bits.
 *
 * VB_F_PAGE_RANGES: inflate and deflate buffers carry struct vb_range
 *	entries instead of le32 PFNs.  Same queues, same acknowledgement
 *	rules (MUST_TELL_HOST applies unchanged).
 * VB_F_CONT_PAGES: the device publishes a preferred allocation order in
 *	vb_config_ext.pages_order; the driver inflates blocks of that order
 *	(falling back to lower orders).  Requires VB_F_PAGE_RANGES: a driver
 *	must not accept CONT_PAGES without PAGE_RANGES, and a device seeing
 *	that combination fails FEATURES_OK.
 */
#define VB_F_PAGE_RANGES	20
#define VB_F_CONT_PAGES		21

/* Page size unit of every PFN on the wire, whatever the guest page size. */
#define VB_PFN_SHIFT		12

/* Reserved free page hint command ids. */
#define VB_CMD_ID_STOP		0
#define VB_CMD_ID_DONE		1

/* Standard config space: 16 bytes. */
struct vb_config {
	__le32 num_pages;	/* device -> driver: target balloon size, pages */
	__le32 actual;		/* driver -> device: current balloon size */
	__le32 free_page_hint_cmd_id;	/* device -> driver */
	__le32 poison_val;	/* driver -> device, with PAGE_POISON */
};

/* Extended config space, present after vb_config when CONT_PAGES/RANGES. */
struct vb_config_ext {
	struct vb_config std;
	__le32 pages_order;	/* device -> driver: preferred inflate order */
	__le32 max_range_pages;	/* device -> driver: largest npages accepted, 0 = no limit */
};

/*
 * One entry of an inflate/deflate buffer with VB_F_PAGE_RANGES:
 * pages [pfn, pfn + npages) in VB_PFN_SHIFT units.  npages == 0 is invalid.
 */
struct vb_range {
	__le64 pfn;
	__le32 npages;
	__le32 reserved;	/* must be 0 */
};

/* Stats queue entry (packed on the wire: 10 bytes). */
struct vb_stat {
	__le16 tag;
	__le64 val;
} __attribute__((packed));

/* Stat tags: 0-9 from the spec, 10-15 added by Linux 6.12. */
#define VB_S_SWAP_IN		0
#define VB_S_SWAP_OUT		1
#define VB_S_MAJFLT		2
#define VB_S_MINFLT		3
#define VB_S_MEMFREE		4
#define VB_S_MEMTOT		5
#define VB_S_AVAIL		6
#define VB_S_CACHES		7
#define VB_S_HTLB_PGALLOC	8
#define VB_S_HTLB_PGFAIL	9
#define VB_S_OOM_KILL		10
#define VB_S_ALLOC_STALL	11
#define VB_S_ASYNC_SCAN		12
#define VB_S_DIRECT_SCAN	13
#define VB_S_ASYNC_RECLAIM	14
#define VB_S_DIRECT_RECLAIM	15
#define VB_S_NR			16

/* Queue roles in spec order; indexes on the wire are dense (see docs/abi.md). */
enum vb_queue_role {
	VB_Q_INFLATE,
	VB_Q_DEFLATE,
	VB_Q_STATS,
	VB_Q_FREE_PAGE,
	VB_Q_REPORTING,
	VB_Q_NR_ROLES
};

#endif /* VBALLOON_ABI_H */
