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
 * Accept one client and read its request. Returns the client fd with
 * *json set, or -errno (-EBADMSG: unknown request).
 */
int cxd_ctl_accept(int lfd, bool *json);

/*
 * Accept one client and read its request into req (NUL-terminated, at
 * most reqlen - 1 bytes), the peer's uid into *uid (SO_PEERCRED: abstract
 * sockets have no file mode, so commands that change state check it).
 * Returns the client fd, or -errno.
 */
int cxd_ctl_accept_req(int lfd, char *req, size_t reqlen, uid_t *uid);

/* Send reply (one message) to a client from cxd_ctl_accept() and close it. */
void cxd_ctl_reply(int cfd, const char *reply, size_t len);

/*
 * Client: ask the daemon on name for stats; the reply lands in buf,
 * NUL-terminated, so it may be len - 1 bytes long. Returns its length,
 * -ENOENT if no daemon holds name here, -ENOSPC if len is 0, -EINVAL for
 * a bad name, -errno otherwise.
 */
int cxd_ctl_request(const char *name, bool json, char *buf, size_t len);

/* The same with any request (shorter than CXD_CTL_REQ_MAX; else -E2BIG). */
int cxd_ctl_call(const char *name, const char *req, char *buf, size_t len);

#endif
