/*
 * Control socket of a conex daemon: a unix socket file in CXD_CTL_DIR, a
 * directory only root may enter, named after the daemon and the network
 * namespace: /run/conex/conex-policer.net4026531840 (the inode number of
 * /proc/self/ns/net). No other user can take a daemon's name or reach its
 * socket, and each namespace still has its own socket per daemon, as it
 * had its own abstract name before.
 *
 * Binding it is also the single-instance lock: a second daemon finds the
 * first one answering and stops; a socket file whose daemon died (nothing
 * answers), or one a process other than root listens on, is replaced.
 *
 * SOCK_SEQPACKET: one request (a line of words: "stats json", "stats
 * text", or a daemon's own commands), one reply, message boundaries kept.
 * Both sides check the other's uid (SO_PEERCRED): a client trusts a server
 * that runs as root (or as the client's own user), the server answers
 * root's requests (or its own user's) and refuses anyone else's before
 * reading them.
 */
#ifndef CXD_CTL_H
#define CXD_CTL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CXD_CTL_DIR		"/run/conex"
/* Longest request, NUL included. */
#define CXD_CTL_REQ_MAX		256
/* Server: from accept to the request; a slower client is dropped. */
#define CXD_CTL_REQUEST_MS	200
/* Client: from the request sent to the reply (a reload runs iptables). */
#define CXD_CTL_REPLY_MS	5000
/*
 * Clients accepted whose request has not arrived yet; when all wait, a new
 * one takes the place of the oldest.
 */
#define CXD_CTL_CONNS_MAX	8
/* The pollfd slots cxd_ctl_pollfds() fills: the listener, then the clients. */
#define CXD_CTL_POLLFDS		(1 + CXD_CTL_CONNS_MAX)

/*
 * The socket path of name in this network namespace into buf:
 * CXD_CTL_DIR/NAME.netINODE. Its length, -EINVAL if name is empty or has
 * a '/', -ENAMETOOLONG if the path does not fit buf or an address,
 * -errno if the namespace cannot be told.
 */
int cxd_ctl_path(const char *name, char *buf, size_t len);

/* A daemon's listening socket and the clients it has accepted. */
struct cxd_ctl;

struct cxd_ctl_stats {
	uint64_t served;	/* requests answered */
	uint64_t refused;	/* peers neither root nor the daemon's user */
	uint64_t timed_out;	/* root clients dropped without a request */
};

/*
 * Listen on path (cxd_ctl_path(); its directory is made 0700 if missing,
 * and must be a directory of root's, or of this process's user, that no
 * one else may write: a wider mode without write bits is narrowed to
 * 0700). 0 with *out, -EADDRINUSE if a daemon already answers on path,
 * -ENOTDIR if the directory is not safe, -errno otherwise. A socket file
 * that nothing answers on, or that a process of another user listens on,
 * is replaced (the latter with a warning naming it).
 */
int cxd_ctl_open(struct cxd_ctl **out, const char *path);

/*
 * A daemon's cxd_ctl_open() of name in this network namespace, logging
 * why not: "another PROG is already running WHERE" (where: "here", "on
 * eth0"), or the path and the reason. 0, or -1.
 */
int cxd_ctl_take(struct cxd_ctl **out, const char *prog, const char *where,
		 const char *name);

/*
 * Close every client and the listener; unlink the path if it is still
 * ours. Accepts NULL.
 */
void cxd_ctl_free(struct cxd_ctl *c);

/*
 * The daemon's poll slots for the control socket: fills exactly
 * CXD_CTL_POLLFDS entries of pfd (unused ones with fd -1, revents 0)
 * and returns CXD_CTL_POLLFDS.
 */
unsigned int cxd_ctl_pollfds(const struct cxd_ctl *c, struct pollfd *pfd);

/* ms, or less if a client's deadline comes first (0 if one has passed). */
int cxd_ctl_timeout_ms(const struct cxd_ctl *c, uint64_t now_ns, int ms);

/* Counters since cxd_ctl_open(). */
void cxd_ctl_get_stats(const struct cxd_ctl *c, struct cxd_ctl_stats *st);

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
 * Once per turn of the daemon's loop, after its poll, with the slots
 * cxd_ctl_pollfds() filled (now_ns: CLOCK_MONOTONIC). Never blocks:
 * accepts new clients, refuses at once a peer that is neither root nor
 * the daemon's user (without reading its request), drops a client whose
 * request has not come within CXD_CTL_REQUEST_MS of its accept (or sooner,
 * to make room for a new one when CXD_CTL_CONNS_MAX wait), and serves
 * each request that has: split into words (spaces and newlines separate
 * them), run the matching command of cmds with ctx, else reply "error:
 * usage: unknown request". The reply is built in buf (len bytes) and a
 * cut one is sent as far as it fits. Errors of a client are its own
 * problem: logged at debug level.
 */
void cxd_ctl_serve(struct cxd_ctl *c, const struct pollfd *pfd, uint64_t now_ns,
		   const struct cxd_ctl_cmd *cmds, size_t n_cmds, void *ctx,
		   char *buf, size_t len);

/*
 * Client: send req (shorter than CXD_CTL_REQ_MAX; else -E2BIG) to the
 * daemon on path and wait up to timeout_ms for its reply, which lands in
 * buf, NUL-terminated, so it may be len - 1 bytes long. Returns its
 * length, or: -ENOENT no daemon answers on path, -EACCES the caller may
 * not reach it (not root), -ENOTDIR its directory is not root's own,
 * -EPERM the server is neither root nor the caller's user (not a conex
 * daemon: nothing was sent), -ETIMEDOUT no reply in time, -ENOSPC len is
 * 0, -errno otherwise.
 */
int cxd_ctl_call_path(const char *path, const char *req, char *buf, size_t len,
		      int timeout_ms);

/* cxd_ctl_call_path() for name in this namespace, CXD_CTL_REPLY_MS. */
int cxd_ctl_call(const char *name, const char *req, char *buf, size_t len);

/*
 * What a client reports for the result err of cxd_ctl_call(): a sentence
 * for the errors above that are the control socket's own, else
 * strerror(-err).
 */
const char *cxd_ctl_strerror(int err);

/*
 * The names starting with prefix that have a socket in this namespace
 * (CXD_CTL_DIR; a daemon that died may have left one), each passed to
 * fn(name, arg). Their count, or -errno (-ENOENT: no directory yet).
 */
int cxd_ctl_names(const char *prefix,
		  void (*fn)(const char *name, void *arg), void *arg);

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
