/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vhost_user_wire.h - the vhost-user wire format as vballoon speaks it:
 * header and flags, request numbers, feature and protocol feature bits,
 * payload layouts.  One header for both sides: vballoond's transport
 * (host/src/vhost_user.c) and the test tools that play the frontend or a
 * fake backend (hardening/).
 *
 * From the vhost-user specification (QEMU docs/interop/vhost-user.rst) as
 * Linux's arch/um/drivers/virtio_uml.c speaks it.  Little-endian hosts only
 * (checked in virtq.c).
 */
#ifndef VB_VHOST_USER_WIRE_H
#define VB_VHOST_USER_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Header flags. */
#define VU_FLAG_VERSION		0x1
#define VU_FLAG_VERSION_MASK	0x3
#define VU_FLAG_REPLY		0x4
#define VU_FLAG_NEED_REPLY	0x8
/* Every reply carries exactly these flags: UML's frontend fails the device
 * (-EPROTO) on anything else. */
#define VU_REPLY_FLAGS		(VU_FLAG_VERSION | VU_FLAG_REPLY)

/* Virtio feature bits the transport owns (bit numbers). */
#define VU_F_PROTOCOL_FEATURES	30
#define VIRTIO_F_VERSION_1	32
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX	29
#define VIRTIO_F_RING_PACKED	34

/* Protocol feature bits (bit numbers). */
#define VU_PF_MQ		0
#define VU_PF_REPLY_ACK		3
#define VU_PF_BACKEND_REQ	5	/* a.k.a. SLAVE_REQ */
#define VU_PF_CONFIG		9
#define VU_PF_INBAND_NOTIFICATIONS 14

enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_SET_BACKEND_REQ_FD = 21,	/* a.k.a. SET_SLAVE_REQ_FD */
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_RESET_DEVICE = 34,
	VU_GET_MAX_MEM_SLOTS = 36,
	VU_REQUEST_MAX = 64,
};

/* Backend -> frontend requests on the backend request channel. */
#define VU_BACKEND_CONFIG_CHANGE_MSG 2

/* SET_VRING_KICK/CALL/ERR payload: queue index and "no fd" bit. */
#define VU_VRING_IDX_MASK	0xffULL
#define VU_VRING_NOFD		0x100ULL

#define VU_MAX_FDS		8
#define VU_MAX_REGIONS		8
#define VU_MAX_CONFIG		256

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;		/* payload bytes following the header */
} __attribute__((packed));

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
} __attribute__((packed));

struct vu_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;
	uint64_t mmap_offset;
} __attribute__((packed));

struct vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_mem_region r[VU_MAX_REGIONS];
} __attribute__((packed));

struct vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t payload[VU_MAX_CONFIG];
} __attribute__((packed));

#define VU_CONFIG_HDR		12
/* Largest payload accepted; a bigger header size breaks framing and
 * disconnects the frontend. */
#define VU_MAX_PAYLOAD		(VU_CONFIG_HDR + VU_MAX_CONFIG)

struct vu_msg {
	struct vu_hdr hdr;
	union {
		uint64_t u64;
		struct vu_vring_state state;
		struct vu_vring_addr addr;
		struct vu_mem_table mem;
		struct vu_config config;
		uint8_t raw[VU_MAX_PAYLOAD];
	} __attribute__((packed));
} __attribute__((packed));

_Static_assert(sizeof(struct vu_hdr) == 12, "vhost-user header");
_Static_assert(sizeof(struct vu_vring_state) == 8, "vring state");
_Static_assert(sizeof(struct vu_vring_addr) == 40, "vring addr");
_Static_assert(sizeof(struct vu_mem_region) == 32, "memory region");
_Static_assert(offsetof(struct vu_msg, u64) == 12, "payload offset");
_Static_assert(offsetof(struct vu_config, payload) == VU_CONFIG_HDR, "config header");

#endif /* VB_VHOST_USER_WIRE_H */
