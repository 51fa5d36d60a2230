/*
 * Control socket of a conex daemon: an abstract unix socket (@NAME, e.g.
 * "conex-marker.eth0", "conex-auditor"). Binding it is also the
 * single-instance lock: abstract names live per network namespace and
 * vanish with the process, so a crashed daemon leaves no stale lock.
 *
 * SOCK_SEQPACKET: one request (a line of words: "stats json", "stats
 * text", or a daemon's own commands), one reply, message boundaries kept.
 */
#ifndef CXD_CTL_H
#define CXD_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Longest request, NUL included. */
#define CXD_CTL_REQ_MAX	256

/*
 * A listening fd (non-blocking); -EADDRINUSE if another process holds
 * name in this network namespace; -EINVAL if name is empty or too long
 * for an address; -errno otherwise.
 */
int cxd_ctl_listen(const char *name);

/*
 * Accept one client and read its request into req (NUL-terminated, at
 * most reqlen - 1 bytes), the peer's uid into *uid (SO_PEERCRED: abstract
 * sockets have no file mode, so commands that change state check it).
 * Returns the client fd, or -errno.
 */
int cxd_ctl_accept_req(int lfd, char *req, size_t reqlen, uid_t *uid);

/* Send reply (one message) to a client from cxd_ctl_accept_req() and close it. */
void cxd_ctl_reply(int cfd, const char *reply, size_t len);

/*
 * Client: send req (shorter than CXD_CTL_REQ_MAX; else -E2BIG) to the
 * daemon on name; the reply lands in buf, NUL-terminated, so it may be
 * len - 1 bytes long. Returns its length, -ENOENT if no daemon holds name
 * here, -ENOSPC if len is 0, -EINVAL for a bad name, -errno otherwise.
 */
int cxd_ctl_call(const char *name, const char *req, char *buf, size_t len);

/* Most words of a request taken, the command's name included. */
#define CXD_CTL_ARGS_MAX	4

/*
 * One entry of a daemon's command table: the request's first word, how
 * many words may follow it, and whether the first of them must be "json"
 * or "text". run() writes the reply into buf (NUL-terminated) and returns
 * its length, or -errno to reply "error: <strerror>".
 */
struct cxd_ctl_cmd {
	const char *name;
	int args_min;
	int args_max;
	bool format;
	int (*run)(void *ctx, int argc, char **argv, char *buf, size_t len);
};

/*
 * Serve one client of the listening lfd: split its request into words
 * (spaces and newlines separate them), refuse a peer that is not root,
 * run the matching command of cmds with ctx, else reply "error: usage:
 * unknown request". The reply is built in buf (len bytes) and a cut one
 * is sent as far as it fits. Accept errors other than EAGAIN are logged
 * at debug level: a client that went away is its own problem.
 */
void cxd_ctl_serve(int lfd, const struct cxd_ctl_cmd *cmds, size_t n_cmds,
		   void *ctx, char *buf, size_t len);

/* The command-line side of a daemon ("conex-policer stats"). */
struct cxd_ctl_client {
	const char *prog;	/* prefixes every message: "conex-policer" */
	const char *name;	/* the daemon's control socket */
	const char *absent;	/* said when no daemon holds name here */
	char *buf;		/* for the reply */
	size_t len;
};

enum {
	CXD_CTL_F_QUIET_OK = 1U << 0,	/* a reply "ok\n" prints nothing */
	CXD_CTL_F_OK_ONLY = 1U << 1,	/* any reply but "ok\n" is a failure */
};

/*
 * Send req and print the reply on stdout. On stderr: "PROG: ABSENT" when
 * no daemon runs here, "PROG: WHAT: reason" ("PROG: reason" if what is
 * NULL) when the exchange fails, "PROG: text" for a reply "error: text"
 * (with CXD_CTL_F_OK_ONLY, for any reply but "ok\n", "error: " dropped).
 * Returns the exit status: 0, EXIT_FAILURE, or CXD_EXIT_USAGE for a reply
 * "error: usage..." (not with OK_ONLY).
 */
int cxd_ctl_ask(const struct cxd_ctl_client *c, const char *req,
		const char *what, unsigned int flags);

#endif
