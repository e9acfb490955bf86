// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * log.c - one line per event on stderr, with a wall-clock timestamp.
 *
 * Anything a guest or frontend can trigger goes through vb_log_rl() so a
 * hostile peer cannot flood the log (or slow the daemon down writing it).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"

#define RL_BURST	10
#define RL_INTERVAL_MS	5000

static enum vb_log_level log_level = VB_LOG_INFO;
static const char *log_ident = "vballoond";

static const char *const level_tag[] = {
	[VB_LOG_ERR] = "error",
	[VB_LOG_WARN] = "warn",
	[VB_LOG_INFO] = "info",
	[VB_LOG_DEBUG] = "debug",
};

void vb_log_set_ident(const char *ident)
{
	log_ident = ident;
}

void vb_log_set_level(enum vb_log_level level)
{
	if (level > VB_LOG_DEBUG)
		level = VB_LOG_DEBUG;
	log_level = level;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* format(printf, 2, 0): fmt is checked at vb_log()'s callers. */
static __attribute__((format(printf, 2, 0)))
void log_line(enum vb_log_level level, const char *fmt, va_list ap)
{
	char msg[1024], stamp[32];
	struct timeval tv;
	struct tm tm;
	size_t n;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One line per event: callers need not add '\n'. */
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	/* A single fprintf keeps the line whole when stderr is shared. */
	fprintf(stderr, "%s.%03ld %s %s: %s\n", stamp,
		(long)(tv.tv_usec / 1000), log_ident, level_tag[level], msg);
}

void vb_log(enum vb_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	log_line(level, fmt, ap);
	va_end(ap);
}

static void rl_report(struct vb_ratelimit *rl, enum vb_log_level level)
{
	if (rl->suppressed)
		vb_log(level, "(%u similar messages suppressed)", rl->suppressed);
	rl->suppressed = 0;
}

void vb_log_rl(struct vb_ratelimit *rl, enum vb_log_level level, const char *fmt, ...)
{
	uint64_t now = mono_ms();
	va_list ap;

	if (level > log_level)
		return;
	if (!rl->window_start_ms || now - rl->window_start_ms >= RL_INTERVAL_MS) {
		rl_report(rl, level);
		rl->window_start_ms = now;
		rl->printed = 0;
	}
	if (rl->printed >= RL_BURST) {
		rl->suppressed++;
		return;
	}
	rl->printed++;
	va_start(ap, fmt);
	log_line(level, fmt, ap);
	va_end(ap);
}
