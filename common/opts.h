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

/*
 * The cases every getopt_long() loop of the daemons shares: for 'h',
 * usage on stdout and 0; for any other (an unknown option, a missing
 * argument), usage on stderr and CXD_EXIT_USAGE. Returns the exit status.
 */
int cxd_opts_help(int ch, const char *usage);

/*
 * After the options: -1 to go on if none is left, else "PROG: CMD:
 * unexpected argument 'X'" ("PROG: unexpected..." if cmd is NULL) on
 * stderr, then usage unless NULL, and CXD_EXIT_USAGE.
 */
int cxd_opts_done(int argc, char **argv, const char *prog, const char *cmd,
		  const char *usage);

#endif
