/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vballoon_compat.h - every kernel-version difference vballoon.ko cares
 * about, in one place.  The driver itself is written against the 6.1 API;
 * this header maps older and newer kernels onto it.
 *
 * Covered:
 *  - balloon compaction header rename (linux/balloon_compaction.h ->
 *    linux/balloon.h in the 2026 series that also hides balloon_mops);
 *  - migratepage success value (MIGRATEPAGE_SUCCESS removed in 6.16);
 *  - shrinker API (6.0 added a name to register_shrinker(), 6.7 replaced
 *    embedded shrinkers by shrinker_alloc()/shrinker_register());
 *  - virtio_find_vqs() (6.11 takes struct virtqueue_info);
 *  - virtio_reset_device() (5.17);
 *  - page reporting capacity (a public constant only since 5.14);
 *  - the highest buddy order (MAX_ORDER inclusive since 6.4, MAX_PAGE_ORDER
 *    since 6.8).
 */
#ifndef VBALLOON_COMPAT_H
#define VBALLOON_COMPAT_H

#include <linux/version.h>
#include <linux/shrinker.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>

/*
 * Kbuild passes the kernel's major.minor as VB_KVER (a KERNEL_VERSION()
 * value) and whether the old balloon header exists, so this header needs
 * no preprocessor tricks of its own.
 */
#ifndef VB_KVER
#error "build vballoon through its Kbuild file"
#endif

#ifdef VB_HAVE_BALLOON_H
#include <linux/balloon.h>
#else
#include <linux/balloon_compaction.h>
#endif

#ifdef CONFIG_PAGE_REPORTING
#include <linux/page_reporting.h>
#endif

#ifndef PAGE_REPORTING_CAPACITY
#define PAGE_REPORTING_CAPACITY	32
#endif

#ifdef MIGRATEPAGE_SUCCESS
#define VB_MIGRATE_OK	MIGRATEPAGE_SUCCESS
#else
#define VB_MIGRATE_OK	0
#endif

#if KERNEL_VERSION(5, 17, 0) > VB_KVER
#define virtio_reset_device(vdev)	((vdev)->config->reset(vdev))
#endif

/*
 * Shrinker: the driver keeps a pointer and calls these three helpers; the
 * callbacks find the driver state through shrinker->private_data (6.7+) or
 * through vb_shrinker_owner() on older kernels, where the shrinker is
 * embedded in struct vb_shrinker_box.
 */
typedef unsigned long (*vb_shrink_fn)(struct shrinker *s,
				      struct shrink_control *sc);

#if KERNEL_VERSION(6, 7, 0) <= VB_KVER
static inline struct shrinker *vb_shrinker_create(void *owner,
						  vb_shrink_fn count,
						  vb_shrink_fn scan,
						  const char *name)
{
	struct shrinker *s = shrinker_alloc(0, "%s", name);

	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->private_data = owner;
	shrinker_register(s);
	return s;
}

static inline void vb_shrinker_destroy(struct shrinker *s)
{
	shrinker_free(s);
}

static inline void *vb_shrinker_owner(struct shrinker *s)
{
	return s->private_data;
}
#else
struct vb_shrinker_box {
	struct shrinker shrinker;
	void *owner;
};

static inline struct shrinker *vb_shrinker_create(void *owner,
						  vb_shrink_fn count,
						  vb_shrink_fn scan,
						  const char *name)
{
	struct vb_shrinker_box *box = kzalloc(sizeof(*box), GFP_KERNEL);
	int err;

	if (!box)
		return NULL;
	box->owner = owner;
	box->shrinker.count_objects = count;
	box->shrinker.scan_objects = scan;
	box->shrinker.seeks = DEFAULT_SEEKS;
#if KERNEL_VERSION(6, 0, 0) <= VB_KVER
	err = register_shrinker(&box->shrinker, "%s", name);
#else
	err = register_shrinker(&box->shrinker);
#endif
	if (err) {
		kfree(box);
		return NULL;
	}
	return &box->shrinker;
}

static inline void vb_shrinker_destroy(struct shrinker *s)
{
	struct vb_shrinker_box *box = container_of(s, struct vb_shrinker_box,
						   shrinker);

	unregister_shrinker(s);
	kfree(box);
}

static inline void *vb_shrinker_owner(struct shrinker *s)
{
	return container_of(s, struct vb_shrinker_box, shrinker)->owner;
}
#endif

/* Find @n queues; arrays are dense (one entry per present queue). */
static inline int vb_find_vqs(struct virtio_device *vdev, unsigned int n,
			      struct virtqueue *vqs[],
			      vq_callback_t *callbacks[], const char *names[])
{
#if KERNEL_VERSION(6, 11, 0) <= VB_KVER
	struct virtqueue_info info[8] = {};
	unsigned int i;

	if (n > ARRAY_SIZE(info))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		info[i].name = names[i];
		info[i].callback = callbacks[i];
	}
	return virtio_find_vqs(vdev, n, vqs, info, NULL);
#else
	return virtio_find_vqs(vdev, n, vqs, callbacks, names, NULL);
#endif
}

/* Highest order the buddy allocator hands out (MAX_ORDER became inclusive in 6.4). */
#if defined(MAX_PAGE_ORDER)
#define VB_TOP_ORDER	MAX_PAGE_ORDER
#elif KERNEL_VERSION(6, 4, 0) <= VB_KVER
#define VB_TOP_ORDER	MAX_ORDER
#else
#define VB_TOP_ORDER	(MAX_ORDER - 1)
#endif

/* Zeroed or poisoned freed pages: what the device must give back. */
static inline bool vb_free_pages_initialised(void)
{
#ifdef CONFIG_PAGE_POISONING
	if (page_poisoning_enabled_static())
		return true;
#endif
	return want_init_on_free();
}

static inline u32 vb_poison_val(void)
{
	u32 val = 0;

	/* init_on_free zeroes pages; page poisoning writes PAGE_POISON. */
	if (!want_init_on_free())
		memset(&val, PAGE_POISON, sizeof(val));
	return val;
}

#endif /* VBALLOON_COMPAT_H */
