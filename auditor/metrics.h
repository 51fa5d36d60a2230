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

/* Start serving if configured (a->metrics stays NULL if not). 0, or -1 logged. */
int aud_metrics_start(struct auditor *a, uint64_t now_ns);

/* From the loop: re-format and publish when the page is due. */
void aud_metrics_tick(struct auditor *a, uint64_t now_ns);

/* Stop serving; accepts an auditor without metrics. */
void aud_metrics_stop(struct auditor *a);

/* The exposition text into buf: its length, -ENOSPC or -EINVAL (prom.h). */
int aud_metrics_format(const struct auditor *a, uint64_t now_ns, char *buf,
		       size_t len);

#endif
