/*
 * What `conex-marker stats` shows: the datapath's counters and a walk of
 * the flow table, formatted as text or as one JSON object.
 */
#ifndef CXM_STATS_H
#define CXM_STATS_H

#include <stdbool.h>
#include <stddef.h>

#include "datapath.h"

/* The daemon's own events and state, kept in main.c's context. */
struct cxm_daemon_counters {
	uint64_t reloads;		/* configurations applied by a reload */
	uint64_t reload_errors;		/* reloads refused, old configuration kept */
	bool accecn;			/* cx_accecn registered and the default */
};

struct cxm_stats {
	struct cxm_counters c;
	struct cxm_flow_sums f;
	struct cxm_daemon_counters d;
};

/* Datapath counters and a flow-table walk, plus a copy of d. */
int cxm_stats_collect(const struct cxm_dp *dp, const struct cxm_daemon_counters *d,
		      uint64_t now_ns, struct cxm_stats *out);

/* Returns the length written (NUL not counted) or -ENOSPC. */
int cxm_stats_format(const struct cxm_stats *s, const char *ifname, bool json,
		     char *buf, size_t len);

#endif
