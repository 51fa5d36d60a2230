/*
 * The host daemons' shared command line:
 *   PROG [--config FILE] [--foreground] [--debug] | --cleanup | --help
 */
#ifndef CXD_OPTS_H
#define CXD_OPTS_H

#include <stdbool.h>

#define CXD_EXIT_USAGE	2

struct cxd_opts {
	const char *config;	/* the default until --config */
	bool foreground;
	bool debug;
	bool cleanup;
};

/*
 * Parse argv into o (o->config preset to the default). Returns -1 to go
 * on, or the exit status to return at once: 0 after --help (usage on
 * stdout), CXD_EXIT_USAGE after a bad option or argument (usage on
 * stderr, prefixed with "PROG: ..." for a stray argument).
 */
int cxd_opts_parse(int argc, char **argv, const char *prog,
		   const char *usage, struct cxd_opts *o);

#endif
