/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qmp_info.h - a balloon device's state as QMP values: QEMU's guest-stats
 * object and the x-vb-* info objects (field list in docs/qmp.md).
 */
#ifndef VB_QMP_INFO_H
#define VB_QMP_INFO_H

#include <json-c/json.h>

#include "balloon.h"

/* QEMU's guest-stats: {"stats": {...}, "last-update": SECONDS}. */
json_object *qmp_info_stats(struct balloon *b);
/* x-vb-query: every field. */
json_object *qmp_info_full(struct balloon *b);
/* x-vb-list: name, connected, broken, ram-size, actual. */
json_object *qmp_info_brief(struct balloon *b);
/* x-vb-hint-*: state, cmd-id, hinted-bytes. */
json_object *qmp_info_hint(struct balloon *b);
/* x-vb-hint-ranges: [{"start", "length"}, ...]. */
json_object *qmp_info_hint_ranges(struct balloon *b);

#endif /* VB_QMP_INFO_H */
