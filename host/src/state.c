// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * state.c - per-guest state that outlives the daemon (state.h).
 *
 * The file is text, one "key value" per line, so an operator can read it:
 *
 *	vballoond-state 1
 *	guest NAME
 *	ram-size BYTES
 *	target BYTES|none
 *	connected 0|1
 *	actual-pages N
 *	features 0xHEX
 *	check 0xHEX		FNV-1a 64 of every line above
 *
 * The check catches a torn or edited file; the rename makes a write all or
 * nothing (a kill -9 mid-write leaves the old file).  A file that fails any
 * check (header, guest name, check sum, a value out of range) is refused
 * and left in place for the operator; the next write replaces it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "guests.h"
#include "loop.h"
#include "state.h"

#define STATE_MAGIC		"vballoond-state 1"
#define STATE_MAX_BYTES		1024
/* How often the files are brought up to date: a write happens only when
 * something changed; 200 ms bounds how stale a file is after a kill -9. */
#define STATE_PERIOD_MS		200
/* Nothing larger is guest RAM (64 TiB): a bigger value is not ours. */
#define STATE_MAX_RAM		(64ULL << 40)

static char state_dir[PATH_MAX - 64];

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= (unsigned char)*p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

int state_format(const char *name, const struct balloon_saved *s, char *buf, size_t len)
{
	char target[32];
	int n, m;

	if (s->target_set)
		snprintf(target, sizeof(target), "%" PRIu64, s->target);
	else
		strcpy(target, "none");
	n = snprintf(buf, len, STATE_MAGIC "\nguest %s\nram-size %" PRIu64
		     "\ntarget %s\nconnected %d\nactual-pages %u\nfeatures %#" PRIx64 "\n",
		     name, s->ram_size, target, s->connected, s->actual_pages, s->features);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	m = snprintf(buf + n, len - n, "check %#" PRIx64 "\n", fnv1a(buf, n));
	if (m < 0 || (size_t)(n + m) >= len)
		return -ENOSPC;
	return n + m;
}

/* "KEY VALUE\n" at *p: the value, NUL-terminated in place; *p moves on. */
static char *take_line(char **p, const char *key)
{
	size_t k = strlen(key);
	char *v, *nl;

	if (strncmp(*p, key, k) || (*p)[k] != ' ')
		return NULL;
	v = *p + k + 1;
	nl = strchr(v, '\n');
	if (!nl)
		return NULL;
	*nl = '\0';
	*p = nl + 1;
	return v;
}

static int take_u64(char **p, const char *key, uint64_t max, uint64_t *out)
{
	char *v = take_line(p, key), *end;
	unsigned long long x;

	if (!v || !*v || *v == '-')
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno || *end || x > max)
		return -EINVAL;
	*out = x;
	return 0;
}

static int parse_body(const char *name, char *p, struct balloon_saved *s, const char **why)
{
	uint64_t conn, pages;
	char *v;

	*why = "not a vballoond state file";
	if (strncmp(p, STATE_MAGIC "\n", sizeof(STATE_MAGIC)))
		return -EINVAL;
	p += sizeof(STATE_MAGIC);
	*why = "the file belongs to another guest";
	v = take_line(&p, "guest");
	if (!v || strcmp(v, name))
		return -EINVAL;
	*why = "a value is missing or out of range";
	if (take_u64(&p, "ram-size", STATE_MAX_RAM, &s->ram_size))
		return -EINVAL;
	v = take_line(&p, "target");
	if (!v)
		return -EINVAL;
	s->target_set = strcmp(v, "none") != 0;
	if (s->target_set) {
		char *end;

		errno = 0;
		s->target = strtoull(v, &end, 10);
		if (errno || *end || !*v || !s->target || s->target > STATE_MAX_RAM)
			return -EINVAL;
	}
	if (take_u64(&p, "connected", 1, &conn) ||
	    take_u64(&p, "actual-pages", UINT32_MAX, &pages) ||
	    take_u64(&p, "features", UINT64_MAX, &s->features))
		return -EINVAL;
	s->connected = conn;
	s->actual_pages = pages;
	if (s->ram_size && (uint64_t)s->actual_pages << 12 > s->ram_size)
		return -EINVAL;
	return 0;
}

int state_parse(const char *name, const char *text, struct balloon_saved *s,
		const char **why)
{
	char buf[STATE_MAX_BYTES], *chk;
	uint64_t want, got;
	size_t body;

	*why = "too long to be a vballoond state file";
	if (strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	*why = "no check line: torn or not ours";
	chk = strstr(buf, "check ");
	if (!chk || (chk != buf && chk[-1] != '\n'))
		return -EINVAL;
	body = chk - buf;
	want = fnv1a(buf, body);
	if (sscanf(chk, "check %" SCNx64, &got) != 1 || got != want) {
		*why = "the check sum does not match: torn or edited";
		return -EINVAL;
	}
	chk[0] = '\0';
	memset(s, 0, sizeof(*s));
	return parse_body(name, buf, s, why);
}

static int state_path(const char *name, const char *suffix, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s.state%s", state_dir, name, suffix);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Read a guest's file, if any, and apply it when it passes every check. */
static void state_load(struct balloon *b)
{
	char path[PATH_MAX], text[STATE_MAX_BYTES + 1];
	struct balloon_saved s;
	const char *why;
	ssize_t n;
	int fd;

	if (state_path(balloon_name(b), "", path, sizeof(path)))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno != ENOENT)
			vb_warn("state: cannot read %s: %s", path, strerror(errno));
		return;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0) {
		vb_warn("state: cannot read %s: %s", path, strerror(errno));
		return;
	}
	text[n] = '\0';
	if (memchr(text, '\0', n) || state_parse(balloon_name(b), text, &s, &why)) {
		vb_warn("state: %s refused (%s); starting without it",
			path, memchr(text, '\0', n) ? "binary data" : why);
		return;
	}
	vb_info("state: %s: target %s, the balloon held %u pages", path,
		s.target_set ? "kept" : "none", s.actual_pages);
	balloon_restore(b, &s);
}

/* All or nothing: write NAME.state.tmp, sync, rename over NAME.state. */
static int state_write(const char *name, const char *text, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int fd, rc = 0;

	if (state_path(name, "", path, sizeof(path)) ||
	    state_path(name, ".tmp", tmp, sizeof(tmp)))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len || fdatasync(fd))
		rc = errno ? -errno : -EIO;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

/* What each guest's file holds now, to write only on a change. */
struct state_seen {
	struct balloon *b;
	char text[STATE_MAX_BYTES];
};

static struct state_seen *seen;
static unsigned nseen;

static void state_sync(struct state_seen *ss)
{
	struct balloon *b = ss->b;
	static struct vb_ratelimit rl;
	struct balloon_saved s;
	char text[STATE_MAX_BYTES];
	int n, rc;

	balloon_save(b, &s);
	n = state_format(balloon_name(b), &s, text, sizeof(text));
	if (n < 0 || !strcmp(text, ss->text))
		return;
	rc = state_write(balloon_name(b), text, n);
	if (rc) {
		vb_log_rl(&rl, VB_LOG_WARN, "state: cannot write %s's state: %s",
			  balloon_name(b), strerror(-rc));
		return;
	}
	strcpy(ss->text, text);
}

static void state_timer(struct loop *l, void *opaque)
{
	unsigned i;

	for (i = 0; i < nseen; i++)
		state_sync(&seen[i]);
}

int state_start(struct loop *l, const char *dir)
{
	struct balloon *b;
	unsigned n = 0;
	int rc;

	if (strlen(dir) >= sizeof(state_dir))
		return -ENAMETOOLONG;
	strcpy(state_dir, dir);
	if (access(dir, W_OK | X_OK))
		return -errno;
	n = guests_count();
	seen = calloc(n ? n : 1, sizeof(*seen));
	if (!seen)
		return -ENOMEM;
	nseen = n;
	for (b = guests_next(NULL), n = 0; b; b = guests_next(b), n++) {
		seen[n].b = b;
		state_load(b);
	}
	state_timer(l, NULL);
	rc = loop_add_timer(l, STATE_PERIOD_MS, true, state_timer, NULL);
	return rc < 0 ? rc : 0;
}
