/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vb-hostile.h - the three modes of vb-hostile (one binary, so the tests
 * call one tool): a well-behaved guest (good.c), the hostile cases
 * (hostile.c with hostile_msgs.c and hostile_rings.c) and a backend that
 * stops acknowledging (noack.c).  Each takes the arguments after SOCKET.
 */
#ifndef VB_HOSTILE_H
#define VB_HOSTILE_H

int run_good(int argc, char **argv);
int run_hostile(int argc, char **argv);
int run_noack(int argc, char **argv);

#endif /* VB_HOSTILE_H */
