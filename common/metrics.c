/*
 * The /metrics endpoint (see metrics.h). Requests: GET or HEAD (RFC 9110
 * §9.1: a general-purpose server supports both) of /metrics gets the page;
 * another path 404; another method 405 with Allow (RFC 9110 §15.5.6).
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include <conex/log.h>

#include "metrics.h"
#include "prom.h"

/* Prometheus scrapes one connection at a time; a few more for humans. */
#define CONN_LIMIT		8
#define CONN_TIMEOUT_S		10
#define LISTEN_BACKLOG		16
/*
 * Pages are re-formatted once a second: Prometheus scrapes every 15 s by
 * default, 1 s at the finest that is useful.
 */
#define REFRESH_NS		1000000000ULL

struct cxd_metrics {
	struct MHD_Daemon *mhd;
	struct cxd_hostport addr;
	pthread_mutex_t lock;		/* guards page, page_len, published */
	char *page;
	size_t page_len;
	size_t page_max;
	bool published;
};

struct cxd_metrics_feed {
	struct cxd_metrics *srv;
	char *page;
	size_t page_max;
	int (*format)(const void *arg, uint64_t now_ns, char *buf, size_t len);
	const void *arg;
	uint64_t next_ns;
	bool warned;		/* a page did not fit or failed: said once */
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status,
			     const char *body, size_t len, bool copy,
			     const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
					    copy ? MHD_RESPMEM_MUST_COPY :
					    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
	    (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
	     MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	static const char not_found[] = "not found: try " CXD_METRICS_PATH "\n";
	static const char not_allowed[] = "method not allowed: GET or HEAD\n";
	static const char not_ready[] = "no metrics yet\n";
	static const char text[] = "text/plain; charset=utf-8";
	struct cxd_metrics *m = cls;
	enum MHD_Result ret;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	/* Any body is left unread: the reply does not depend on it. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed,
			     sizeof(not_allowed) - 1, false, text);
	if (strcmp(url, CXD_METRICS_PATH) != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, not_found,
			     sizeof(not_found) - 1, false, text);
	pthread_mutex_lock(&m->lock);
	if (m->published)
		ret = reply(conn, MHD_HTTP_OK, m->page, m->page_len, true,
			    CXD_PROM_CONTENT_TYPE);
	else
		ret = reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, not_ready,
			    sizeof(not_ready) - 1, false, text);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

/* Our own socket, so that a bind error has its errno for the log. */
static int listen_on(const struct cxd_hostport *hp)
{
	struct sockaddr_storage ss;
	int fd, one = 1, salen, err;

	salen = cxd_hostport_sockaddr(hp, &ss);
	if (salen < 0)
		return salen;
	fd = socket(hp->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A restart must not wait for TIME_WAIT of the last scrape. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto err_close;
	/* [::]:PORT means IPv6 only; IPv4 is configured separately. */
	if (hp->family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto err_close;
	if (bind(fd, (const struct sockaddr *)&ss, (socklen_t)salen) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0)
		goto err_close;
	return fd;
err_close:
	err = errno;
	close(fd);
	return -err;
}

struct cxd_metrics *cxd_metrics_new(const struct cxd_hostport *hp,
				    size_t page_max, char *err, size_t errlen)
{
	char where[CXD_HOSTPORT_STRLEN];
	struct cxd_metrics *m;
	int fd;

	if (cxd_hostport_format(hp, where, sizeof(where)) < 0 || page_max == 0) {
		snprintf(err, errlen, "metrics: no address");
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		goto err_nomem;
	m->page = malloc(page_max);
	if (m->page == NULL)
		goto err_free;
	m->page_max = page_max;
	m->addr = *hp;
	if (pthread_mutex_init(&m->lock, NULL) != 0)
		goto err_free_page;
	fd = listen_on(hp);
	if (fd < 0) {
		snprintf(err, errlen, "metrics %s: %s", where, strerror(-fd));
		goto err_mutex;
	}
	/*
	 * The thread inherits the caller's signal mask: start it after the
	 * daemon has blocked its signals, so they reach the main loop only.
	 */
	m->mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL,
				  on_request, m,
				  MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONN_LIMIT,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONN_TIMEOUT_S,
				  MHD_OPTION_END);
	if (m->mhd == NULL) {
		close(fd);
		snprintf(err, errlen, "metrics %s: cannot start the HTTP server", where);
		goto err_mutex;
	}
	return m;
err_mutex:
	pthread_mutex_destroy(&m->lock);
err_free_page:
	free(m->page);
err_free:
	free(m);
	return NULL;
err_nomem:
	snprintf(err, errlen, "metrics %s: %s", where, strerror(ENOMEM));
	return NULL;
}

void cxd_metrics_free(struct cxd_metrics *m)
{
	if (m == NULL)
		return;
	/* Joins the thread and closes the listening socket. */
	MHD_stop_daemon(m->mhd);
	pthread_mutex_destroy(&m->lock);
	free(m->page);
	free(m);
}

int cxd_metrics_publish(struct cxd_metrics *m, const char *text, size_t len)
{
	if (len > m->page_max)
		return -ENOSPC;
	pthread_mutex_lock(&m->lock);
	memcpy(m->page, text, len);
	m->page_len = len;
	m->published = true;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

const struct cxd_hostport *cxd_metrics_addr(const struct cxd_metrics *m)
{
	return &m->addr;
}

int cxd_metrics_start(struct cxd_metrics_feed **out,
		      const struct cxd_hostport *hp, size_t page_max,
		      int (*format)(const void *arg, uint64_t now_ns,
				    char *buf, size_t len),
		      const void *arg, uint64_t now_ns)
{
	struct cxd_metrics_feed *f;
	char err[256];

	if (hp->family == 0)
		return 0;
	f = calloc(1, sizeof(*f));
	if (f == NULL || (f->page = malloc(page_max)) == NULL) {
		free(f);
		cx_log_warnx("metrics: out of memory");
		return -1;
	}
	f->srv = cxd_metrics_new(hp, page_max, err, sizeof(err));
	if (f->srv == NULL) {
		cx_log_warnx("%s", err);
		free(f->page);
		free(f);
		return -1;
	}
	f->page_max = page_max;
	f->format = format;
	f->arg = arg;
	*out = f;
	cxd_metrics_tick(f, now_ns);
	cxd_hostport_format(hp, err, sizeof(err));
	cx_log_info("metrics on http://%s" CXD_METRICS_PATH, err);
	return 0;
}

void cxd_metrics_tick(struct cxd_metrics_feed *f, uint64_t now_ns)
{
	int n;

	if (f == NULL || now_ns < f->next_ns)
		return;
	f->next_ns = now_ns + REFRESH_NS;
	n = f->format(f->arg, now_ns, f->page, f->page_max);
	if (n >= 0)
		n = cxd_metrics_publish(f->srv, f->page, (size_t)n);
	/* The last good page stays served. */
	if (n < 0 && !f->warned) {
		cx_log_warnx("metrics: page not refreshed: %s", strerror(-n));
		f->warned = true;
	}
}

void cxd_metrics_stop(struct cxd_metrics_feed *f)
{
	if (f == NULL)
		return;
	cxd_metrics_free(f->srv);
	free(f->page);
	free(f);
}
