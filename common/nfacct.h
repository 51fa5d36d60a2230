/*
 * Named netfilter accounting objects (nfnetlink_acct, the xt_nfacct match):
 * the daemons count every packet their NFQUEUE rules send to the queue, so
 * that the packets the kernel passed without the daemon (a full queue or no
 * listener under fail-open: the kernel counts neither) show as the
 * difference to what the daemon received. One netlink socket, synchronous
 * request and answer: microseconds, once a tick.
 */
#ifndef CXD_NFACCT_H
#define CXD_NFACCT_H

#include <stdint.h>

struct mnl_socket;

struct cxd_nfacct {
	struct mnl_socket *nl;
	uint32_t seq;
	uint32_t portid;
};

/* 0, or -errno. */
int cxd_nfacct_open(struct cxd_nfacct *a);
void cxd_nfacct_close(struct cxd_nfacct *a);

/* Creates name with zero counters; -EEXIST if it exists, -errno else. */
int cxd_nfacct_new(struct cxd_nfacct *a, const char *name);

/* Its packet and byte counters: 0, -ENOENT, or -errno. */
int cxd_nfacct_get(struct cxd_nfacct *a, const char *name, uint64_t *pkts,
		   uint64_t *bytes);

/* Removes name: 0, -ENOENT, -EBUSY while a rule uses it, or -errno. */
int cxd_nfacct_del(struct cxd_nfacct *a, const char *name);

/* One-shot forms on a socket of their own (install, cleanup, stats). */
int cxd_nfacct_ensure(const char *name);	/* 0 if it exists or was made */
int cxd_nfacct_remove(const char *name);	/* 0 if gone or never there */
int cxd_nfacct_read(const char *name, uint64_t *pkts);

/*
 * Packets the kernel passed that the daemon never saw: counted by the
 * rules minus received, floored at 0 (a packet still in the queue counts
 * as neither bypassed nor received yet).
 */
static inline uint64_t cxd_nfacct_bypassed(uint64_t counted, uint64_t received)
{
	return counted > received ? counted - received : 0;
}

/* What the rules counted into name (0 if it cannot be read). */
uint64_t cxd_nfacct_queued(const char *name);

#endif
