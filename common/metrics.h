/*
 * A Prometheus scrape endpoint: GET /metrics over HTTP/1.1 in its own
 * thread, serving the last page the daemon published.
 *
 * The daemon's loop stays single-threaded (docs/design.md §4.1): it
 * formats its counters itself, at one instant of its own loop, and hands
 * the text over with cxd_metrics_publish(). The HTTP thread never reads
 * the daemon's state; the only lock is the page's, held by either side
 * just for a copy, so the datapath never waits on a slow client.
 *
 * The thread never waits on a client either: non-blocking sockets in one
 * poll loop, at most CXD_METRICS_CONNS_MAX connections, and deadlines
 * counted from the accept (CXD_METRICS_REQUEST_MS for the request,
 * CXD_METRICS_REPLY_MS for the whole reply), so clients that send a byte
 * now and then cannot keep a scrape out.
 */
#ifndef CXD_METRICS_H
#define CXD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "hostport.h"

#define CXD_METRICS_PATH	"/metrics"
#define CXD_METRICS_CONNS_MAX	16
#define CXD_METRICS_REQUEST_MS	2000
#define CXD_METRICS_REPLY_MS	10000

struct cxd_metrics;

struct cxd_metrics_stats {
	uint64_t accepted;	/* connections accepted */
	uint64_t refused;	/* closed unserved to make room: the table was full */
	uint64_t timed_out;	/* request or reply not done by its deadline */
};

/*
 * Listen on hp and serve pages of up to page_max bytes. Until the first
 * cxd_metrics_publish(), scrapes get 503. NULL with err set
 * ("ADDRESS:PORT: reason").
 */
struct cxd_metrics *cxd_metrics_new(const struct cxd_hostport *hp,
				    size_t page_max, char *err, size_t errlen);

/* Stops the thread, closes the sockets. Accepts NULL. */
void cxd_metrics_free(struct cxd_metrics *m);

/* Replace the page (copied). 0, or -ENOSPC if longer than page_max. */
int cxd_metrics_publish(struct cxd_metrics *m, const char *text, size_t len);

/* The address it listens on, as given to cxd_metrics_new(). */
const struct cxd_hostport *cxd_metrics_addr(const struct cxd_metrics *m);

/* The connection counters so far. */
void cxd_metrics_get_stats(struct cxd_metrics *m, struct cxd_metrics_stats *st);

/*
 * A daemon's endpoint with its page: the server above plus the refresh
 * from the daemon's loop. format(arg, now_ns, buf, len) writes the whole
 * exposition text into buf and returns its length or -errno (prom.h);
 * it runs on the loop's thread only.
 */
struct cxd_metrics_feed;

/*
 * Serve on hp if configured (family 0: not, *out stays NULL). The first
 * page is formatted at once, before the first scrape can arrive. 0, or -1
 * after logging why (nothing is left to stop).
 */
int cxd_metrics_start(struct cxd_metrics_feed **out,
		      const struct cxd_hostport *hp, size_t page_max,
		      int (*format)(const void *arg, uint64_t now_ns,
				    char *buf, size_t len),
		      const void *arg, uint64_t now_ns);

/*
 * From the loop: re-format and publish when the page is due (once a
 * second). A page that fails leaves the last good one served and is
 * logged once. Accepts NULL.
 */
void cxd_metrics_tick(struct cxd_metrics_feed *f, uint64_t now_ns);

/* The server's counters, for the page itself; zeros for NULL. */
void cxd_metrics_feed_stats(const struct cxd_metrics_feed *f,
			    struct cxd_metrics_stats *st);

/* Stop serving and free f. Accepts NULL. */
void cxd_metrics_stop(struct cxd_metrics_feed *f);

#endif
