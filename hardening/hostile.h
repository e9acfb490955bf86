/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hostile.h - what the hostile cases share: the outcomes a case can show,
 * the hostile guest, and the helpers that turn the daemon's answer to one
 * input into an outcome.  Each case declares the outcome it expects
 * (hostile.c's table); the runner fails a case whose observed outcome
 * differs, and prints the table docs/hardening.md carries (test 302
 * checks the two are the same).
 */
#ifndef VB_HOSTILE_CASES_H
#define VB_HOSTILE_CASES_H

#include <stdbool.h>
#include <stdint.h>

#include "vu_frontend.h"

enum outcome {
	O_ERROR_REPLY,	/* every input answered with a failure status; connection kept */
	O_DISCONNECT,	/* the daemon hung up */
	O_REQ_REFUSED,	/* every ring request used, its pages untouched; connection kept */
	O_BROKEN,	/* device marked broken: it uses no buffer; connection kept */
	O_IGNORED,	/* nothing to answer: the connection goes on in step */
	O_SURVIVED,	/* the frontend vanished; the daemon serves the next one */
	O_SERVING,	/* the device still uses valid buffers */
	O_ACCEPTED,	/* an input that must be refused was accepted */
	O_FAILED,	/* no answer in time, a malformed answer, or the tool failed */
	O_NR
};

extern const char *const outcome_name[O_NR];
extern struct fe hf;		/* the hostile guest */
extern int wrong_fd;		/* a 1-byte regular file: no socket, eventfd or RAM */
extern int verbose;
extern const char *qmp_path, *qmp_guest;	/* the daemon's control socket */

/* Tally one input that must show want into the case's outcome so far, o:
 * the first input that shows something else decides the case; its name is
 * printed then (always with -v). */
enum outcome tally(enum outcome o, enum outcome want, const char *what, enum outcome got);
/* A NEED_REPLY input (st from ack()) that must get an error status. */
enum outcome must_refuse(enum outcome o, const char *what, long st);
/* A ring request on q that must be used without effect. */
enum outcome must_use(enum outcome o, const char *what, unsigned q);
/* After an input that must break the device: O_BROKEN once the daemon
 * reports it broken (QMP x-vb-query) with the connection kept. */
enum outcome broken_probe(void);
/* The end of a case that must not break the device: o, or what shows
 * otherwise (the daemon hung up, or reports the device broken). */
enum outcome not_broken(enum outcome o);
/* A fresh connection: the next input meets a parser in its initial state. */
int reconnect(void);
int hostile_up(void);
/* A valid inflate of the page at file offset off: 0 once used. */
int inflate_one(uint64_t off, int timeout_ms);
bool page_kept(uint64_t off);

/* Message-level cases (hostile_msgs.c). */
enum outcome c_short_header(void);
enum outcome c_oversize(void);
enum outcome c_unknown_requests(void);
enum outcome c_bad_flags(void);
enum outcome c_wrong_sizes(void);
enum outcome c_bad_features(void);
enum outcome c_mem_tables(void);
enum outcome c_wrong_fd_counts(void);
enum outcome c_bad_vrings(void);
enum outcome c_config(void);
enum outcome c_flood_messages(void);
enum outcome c_flood_unread_replies(void);
enum outcome c_disconnect_mid_message(void);
enum outcome c_reconnect_storm(void);

/* Ring-level cases (hostile_rings.c). */
enum outcome c_pfns_outside(void);
enum outcome c_ranges_outside(void);
enum outcome c_reporting_outside(void);
enum outcome c_offset_region(void);
enum outcome c_desc_outside(void);
enum outcome c_desc_loop(void);
enum outcome c_absurd_indexes(void);
enum outcome c_zero_length_reinit(void);
enum outcome c_truncate_ram(void);
enum outcome c_flood_bad_requests(void);
enum outcome c_flood_kicks(void);
enum outcome c_disconnect_in_flight(void);

#endif /* VB_HOSTILE_CASES_H */
