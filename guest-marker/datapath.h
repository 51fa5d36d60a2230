/*
 * The marker's kernel side: load the tc-BPF programs (embedded skeleton),
 * configure them and attach them to the interface through tcx links.
 *
 * A tcx link lives as long as its file descriptor: when the daemon exits,
 * even by SIGKILL, the kernel detaches both programs and frees their maps,
 * so guest traffic flows unmarked (fail-open) and nothing is left behind.
 */
#ifndef CXM_DATAPATH_H
#define CXM_DATAPATH_H

#include <stdint.h>

#include "config.h"
#include "marker.h"

struct marker;	/* the bpftool skeleton */

struct cxm_dp {
	struct marker *skel;
	int egress_fd;		/* tcx link fds; -1 when not attached */
	int ingress_fd;
	unsigned int ifindex;
	uint32_t mtu_bytes;
};

/* Sum over the flow table, taken by cxm_dp_scan(). */
struct cxm_flow_sums {
	uint64_t flows;
	uint64_t leg_bytes;
	uint64_t ceg_bytes;
	uint64_t csc_bytes;
	uint64_t reaped;	/* idle entries removed by this scan */
};

/*
 * Load, configure and attach. On failure writes a message into err,
 * leaves nothing attached and returns a negative errno: -ENODEV no such
 * interface, -EOPNOTSUPP kernel without BTF or tcx, -EPERM privileges.
 */
int cxm_dp_open(struct cxm_dp *dp, const struct cxm_config *c, char *err,
		size_t errlen);

/*
 * Write c's run-time keys (families, MSS clamp, the gauge rule) into the
 * programs' config map; the next packet uses them and every connection
 * keeps its gauges. 0 or -errno.
 */
int cxm_dp_set_cfg(const struct cxm_dp *dp, const struct cxm_config *c);

/* Detach and unload; idempotent, accepts a zeroed dp. */
void cxm_dp_close(struct cxm_dp *dp);

/* Per-CPU counters summed into out. 0 or -errno. */
int cxm_dp_counters(const struct cxm_dp *dp, struct cxm_counters *out);

/*
 * Walk the flow table (at most its capacity, plus a margin for churn),
 * summing gauges; entries idle for longer than idle_ns at now_ns
 * (CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns) are deleted when
 * idle_ns is not 0.
 */
int cxm_dp_scan(const struct cxm_dp *dp, uint64_t now_ns, uint64_t idle_ns,
		struct cxm_flow_sums *out);

#endif
