/* The host daemons' shared command line (see opts.h). */
#include <getopt.h>
#include <stdio.h>

#include "opts.h"

int cxd_opts_parse(int argc, char **argv, const char *prog,
		   const char *usage, struct cxd_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "cleanup", no_argument, NULL, 'C' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:CfDh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'C':
			o->cleanup = true;
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'D':
			o->debug = true;
			break;
		default:
			return cxd_opts_help(ch, usage);
		}
	}
	return cxd_opts_done(argc, argv, prog, NULL, usage);
}

int cxd_opts_help(int ch, const char *usage)
{
	if (ch == 'h') {
		fputs(usage, stdout);
		return 0;
	}
	fputs(usage, stderr);
	return CXD_EXIT_USAGE;
}

int cxd_opts_done(int argc, char **argv, const char *prog, const char *cmd,
		  const char *usage)
{
	if (optind == argc)
		return -1;
	fprintf(stderr, "%s: %s%sunexpected argument '%s'\n", prog,
		cmd ? cmd : "", cmd ? ": " : "", argv[optind]);
	if (usage)
		fputs(usage, stderr);
	return CXD_EXIT_USAGE;
}
