/*
 * conex-auditor's Prometheus endpoint (`metrics ADDRESS:PORT`): the
 * counters of `conex-auditor stats` as metric families, refreshed by the
 * main loop and served by common/metrics.c's thread. The names are listed
 * in conex-auditor(8), METRICS.
 */
#ifndef AUD_METRICS_H
#define AUD_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct auditor;

/*
 * Start serving if configured (a->metrics stays NULL if not); the loop
 * refreshes the page with cxd_metrics_tick() and teardown ends it with
 * cxd_metrics_stop() (common/metrics.h). 0, or -1 logged.
 */
int aud_metrics_start(struct auditor *a, uint64_t now_ns);

/* The exposition text into buf: its length, -ENOSPC or -EINVAL (prom.h). */
int aud_metrics_format(const struct auditor *a, uint64_t now_ns, char *buf,
		       size_t len);

#endif
