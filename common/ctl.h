/*
 * Control socket of a conex daemon: an abstract unix socket (@NAME, e.g.
 * "conex-marker.eth0", "conex-auditor"). Binding it is also the
 * single-instance lock: abstract names live per network namespace and
 * vanish with the process, so a crashed daemon leaves no stale lock.
 *
 * SOCK_SEQPACKET: one request ("stats json" or "stats text"), one reply,
 * message boundaries kept.
 */
#ifndef CXD_CTL_H
#define CXD_CTL_H

#include <stdbool.h>
#include <stddef.h>

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

/* Send reply (one message) to a client from cxd_ctl_accept() and close it. */
void cxd_ctl_reply(int cfd, const char *reply, size_t len);

/*
 * Client: ask the daemon on name for stats; the reply lands in buf,
 * NUL-terminated, so it may be len - 1 bytes long. Returns its length,
 * -ENOENT if no daemon holds name here, -ENOSPC if len is 0, -EINVAL for
 * a bad name, -errno otherwise.
 */
int cxd_ctl_request(const char *name, bool json, char *buf, size_t len);

#endif
