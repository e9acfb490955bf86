// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vb-hostile - a vhost-user peer for testing vballoond (and a guest driver)
 * against hostile and well-behaved partners.  Guest RAM is a memfd, as
 * UML's RAM file.
 *
 *   vb-hostile good SOCKET [--mib N] [--until FILE] [--status FILE]
 *	a well-behaved balloon guest (good.c)
 *   vb-hostile hostile SOCKET [--qmp PATH --guest NAME] [--case NAME] [-v]
 *   vb-hostile hostile --list | --table
 *	the hostile cases, each checked against its expected outcome
 *	(hostile.c; the table is docs/hardening.md's)
 *   vb-hostile noack SOCKET [--pages N] [--ack K] [--status FILE]
 *	a balloon backend that stops acknowledging (noack.c)
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "vb-hostile.h"
#include "vu_frontend.h"

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "hostile") && !strncmp(argv[2], "--", 2))
		return run_hostile(1, argv + 2);	/* --list, --table: no socket */
	if (argc < 3) {
		fprintf(stderr, "usage: vb-hostile good|hostile|noack SOCKET [options]\n");
		return 2;
	}
	sock_path = argv[2];
	if (!strcmp(argv[1], "good"))
		return run_good(argc - 3, argv + 3);
	if (!strcmp(argv[1], "hostile"))
		return run_hostile(argc - 3, argv + 3);
	if (!strcmp(argv[1], "noack"))
		return run_noack(argc - 3, argv + 3);
	fprintf(stderr, "vb-hostile: unknown mode %s\n", argv[1]);
	return 2;
}
