/*
 * Running the system's tools (iptables, ip, bridge, nft) as child
 * processes, for the daemons' hooks: an argv builder whose strings are
 * copies (execvp wants them writable) and a runner that collects the
 * child's output for error messages.
 */
#ifndef CXD_RUN_H
#define CXD_RUN_H

#include <stdbool.h>
#include <stddef.h>

#define CXD_ARGS_MAX		48
#define CXD_ARGS_POOL_BYTES	2560

struct cxd_args {
	char *argv[CXD_ARGS_MAX];
	char pool[CXD_ARGS_POOL_BYTES];
	size_t used;
	int n;
	bool overflow;		/* an argument did not fit: do not run it */
};

/* arg0 and the arguments after it, up to a NULL. */
void cxd_args_init(struct cxd_args *a, const char *arg0, ...);
void cxd_args_add(struct cxd_args *a, const char *s);

/*
 * Run argv; its stdout and stderr land in out (NUL-terminated, truncated
 * to outlen; outlen > 0). Returns the exit status (128 if killed by a
 * signal), or -errno if it could not run.
 */
int cxd_run(char *const argv[], char *out, size_t outlen);

/* Cut s at its first newline, for an error message; returns s. */
const char *cxd_first_line(char *s);

#endif
