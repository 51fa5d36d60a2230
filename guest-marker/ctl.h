/*
 * Control socket: the abstract unix socket @conex-marker.<ifname>. Binding
 * it is also the single-instance lock: abstract names live per network
 * namespace and vanish with the process, so a crashed marker leaves no
 * stale lock behind.
 */
#ifndef CXM_CTL_H
#define CXM_CTL_H

#include <stdbool.h>
#include <stddef.h>

#define CXM_CTL_MSG_MAX	4096

/* Returns a listening fd, -EADDRINUSE if another marker holds ifname, -errno. */
int cxm_ctl_listen(const char *ifname);

/*
 * Accept one client and read its request ("stats json" or "stats text").
 * Returns the client fd with *json set, or -errno (-EBADMSG: unknown request).
 */
int cxm_ctl_accept(int lfd, bool *json);

/* Send reply to a client from cxm_ctl_accept() and close it. */
void cxm_ctl_reply(int cfd, const char *reply, size_t len);

/*
 * Client side: ask the marker on ifname for stats; the reply lands in buf
 * (NUL-terminated). Returns its length, -ENOENT if no marker runs there,
 * -errno otherwise.
 */
int cxm_ctl_request(const char *ifname, bool json, char *buf, size_t len);

#endif
