/* SPDX-License-Identifier: GPL-2.0-or-later */
/* log.h - one line per event; rate-limited for anything a guest can trigger. */
#ifndef VB_LOG_H
#define VB_LOG_H

#include <stdint.h>

enum vb_log_level { VB_LOG_ERR, VB_LOG_WARN, VB_LOG_INFO, VB_LOG_DEBUG };

/* Per-call-site budget: at most `burst` lines per `interval_ms`, then one
 * "N messages suppressed" line when the window reopens. */
struct vb_ratelimit {
	uint64_t window_start_ms;
	unsigned printed;
	unsigned suppressed;
};

void vb_log_set_level(enum vb_log_level level);
/* The program name on each line (default "vballoond"). */
void vb_log_set_ident(const char *ident);
void vb_log(enum vb_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Rate-limited variant: 10 lines per 5 s per call site. */
void vb_log_rl(struct vb_ratelimit *rl, enum vb_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define vb_err(...)	vb_log(VB_LOG_ERR, __VA_ARGS__)
#define vb_warn(...)	vb_log(VB_LOG_WARN, __VA_ARGS__)
#define vb_info(...)	vb_log(VB_LOG_INFO, __VA_ARGS__)
#define vb_dbg(...)	vb_log(VB_LOG_DEBUG, __VA_ARGS__)
/* Guest-triggerable warning: a static budget per call site. */
#define vb_guest_warn(...) do {					\
		static struct vb_ratelimit _rl;				\
		vb_log_rl(&_rl, VB_LOG_WARN, __VA_ARGS__);		\
	} while (0)
/* State changes a guest or frontend can cause at will (features, connects,
 * reloads): informational, with the same per-call-site budget. */
#define vb_guest_info(...) do {					\
		static struct vb_ratelimit _rl;				\
		vb_log_rl(&_rl, VB_LOG_INFO, __VA_ARGS__);		\
	} while (0)

#endif /* VB_LOG_H */
