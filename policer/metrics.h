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

/* Start serving if configured (pl->metrics stays NULL if not). 0, or -1 logged. */
int pol_metrics_start(struct policer *pl, uint64_t now_ns);

/* From the loop: re-format and publish when the page is due. */
void pol_metrics_tick(struct policer *pl, uint64_t now_ns);

/* Stop serving; accepts a policer without metrics. */
void pol_metrics_stop(struct policer *pl);

/* The exposition text into buf: its length, -ENOSPC or -EINVAL (prom.h). */
int pol_metrics_format(const struct policer *pl, uint64_t now_ns, char *buf,
		       size_t len);

#endif
