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
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return CXD_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		fputs(usage, stderr);
		return CXD_EXIT_USAGE;
	}
	return -1;
}
