/*
 * conex-policer's Prometheus endpoint (`metrics ADDRESS:PORT`): the
 * counters of `conex-policer stats` as metric families, refreshed by the
 * main loop and served by common/metrics.c's thread. The names are listed
 * in conex-policer(8), METRICS.
 */
#ifndef POL_METRICS_H
#define POL_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct policer;

/*
 * Start serving if configured (pl->metrics stays NULL if not); the loop
 * refreshes the page with cxd_metrics_tick() and teardown ends it with
 * cxd_metrics_stop() (common/metrics.h). 0, or -1 logged.
 */
int pol_metrics_start(struct policer *pl, uint64_t now_ns);

/* The exposition text into buf: its length, -ENOSPC or -EINVAL (prom.h). */
int pol_metrics_format(const struct policer *pl, uint64_t now_ns, char *buf,
		       size_t len);

#endif
