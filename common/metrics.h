/*
 * A Prometheus scrape endpoint: GET /metrics over HTTP (libmicrohttpd, its
 * own thread), serving the last page the daemon published.
 *
 * The daemon's loop stays single-threaded (STYLE.md, "Daemons"): it
 * formats its counters itself, at one instant of its own loop, and hands
 * the text over with cxd_metrics_publish(). The HTTP thread never reads
 * the daemon's state; the only lock is the page's, held by either side
 * just for a copy, so the datapath never waits on a slow client.
 */
#ifndef CXD_METRICS_H
#define CXD_METRICS_H

#include <stddef.h>

#include "hostport.h"

#define CXD_METRICS_PATH	"/metrics"

struct cxd_metrics;

/*
 * Listen on hp and serve pages of up to page_max bytes. Until the first
 * cxd_metrics_publish(), scrapes get 503. NULL with err set
 * ("ADDRESS:PORT: reason").
 */
struct cxd_metrics *cxd_metrics_new(const struct cxd_hostport *hp,
				    size_t page_max, char *err, size_t errlen);

/* Stops the thread, closes the socket. Accepts NULL. */
void cxd_metrics_free(struct cxd_metrics *m);

/* Replace the page (copied). 0, or -ENOSPC if longer than page_max. */
int cxd_metrics_publish(struct cxd_metrics *m, const char *text, size_t len);

/* The address it listens on, as given to cxd_metrics_new(). */
const struct cxd_hostport *cxd_metrics_addr(const struct cxd_metrics *m);

#endif
