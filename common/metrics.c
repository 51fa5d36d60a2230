/*
 * The /metrics endpoint (see metrics.h). Requests: GET or HEAD (RFC 9110
 * §9.1: a general-purpose server supports both) of /metrics gets the page;
 * another path 404; another method 405 with Allow (RFC 9110 §15.5.6).
 * One request per connection ("Connection: close", RFC 9112 §9.6): a
 * scraper opens one connection a scrape, and no idle connection holds a
 * slot.
 *
 * Each connection goes HEAD (reading the request, until the empty line),
 * REPLY (writing the status, headers and body), LINGER (the reply sent and
 * our side shut: what the client still sends is read and dropped, so that
 * closing does not reset the connection under a reply it has not read
 * yet, RFC 9112 §9.6). When the table is full, a new connection takes the
 * place of one that has finished, else of the one reading its request the
 * longest: a scraper sends its request at once and is answered in
 * milliseconds, a client that dribbles its request loses its place.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <conex/log.h>

#include "metrics.h"
#include "prom.h"

#define LISTEN_BACKLOG		16
#define HEAD_MAX		4096	/* request line and headers */
#define HDR_MAX			256	/* our status line and headers */
#define LINGER_NS		(1000ULL * NS_PER_MS)
#define NS_PER_MS		1000000ULL
/*
 * Pages are re-formatted once a second: Prometheus scrapes every 15 s by
 * default, 1 s at the finest that is useful.
 */
#define REFRESH_NS		1000000000ULL

/* A published page, shared by the replies that send it (HTTP thread only). */
struct page {
	unsigned int refs;
	size_t len;
	char text[];
};

enum conn_state {
	C_FREE,
	C_HEAD,
	C_REPLY,
	C_LINGER,
};

struct conn {
	int fd;
	enum conn_state state;
	uint64_t accept_ns;
	uint64_t linger_end_ns;
	size_t head_len;
	char head[HEAD_MAX];
	char hdr[HDR_MAX];
	size_t hdr_len;
	const char *body;	/* into page, or a static text */
	size_t body_len;
	struct page *page;	/* held while the body is sent */
	size_t sent;		/* of hdr, then of body */
};

struct cxd_metrics {
	pthread_t thread;
	int lfd;
	int stop[2];			/* a pipe: the thread ends when it reads */
	struct cxd_hostport addr;
	pthread_mutex_t lock;		/* guards text..st */
	char *text;
	size_t text_len;
	size_t page_max;
	uint64_t gen;			/* of text, bumped by each publish */
	bool published;
	struct cxd_metrics_stats st;
	/* The HTTP thread's own. */
	struct page *cur;		/* text as of cur_gen, or NULL */
	uint64_t cur_gen;
	struct conn conns[CXD_METRICS_CONNS_MAX];
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

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void count(struct cxd_metrics *m, uint64_t *counter)
{
	pthread_mutex_lock(&m->lock);
	(*counter)++;
	pthread_mutex_unlock(&m->lock);
}

static void page_put(struct page *p)
{
	if (p != NULL && --p->refs == 0)
		free(p);
}

/*
 * The page as last published, shared; NULL if none yet. Out of memory, the
 * copy made before (one second older, say) is served, if there is one.
 */
static struct page *page_get(struct cxd_metrics *m, bool *published)
{
	struct page *p;

	pthread_mutex_lock(&m->lock);
	*published = m->published;
	if (m->published && (m->cur == NULL || m->cur_gen != m->gen)) {
		p = malloc(sizeof(*p) + m->text_len);
		if (p != NULL) {
			p->refs = 1;
			p->len = m->text_len;
			memcpy(p->text, m->text, m->text_len);
			page_put(m->cur);
			m->cur = p;
			m->cur_gen = m->gen;
		}
	}
	p = m->cur;
	pthread_mutex_unlock(&m->lock);
	if (p != NULL)
		p->refs++;
	return p;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	page_put(c->page);
	c->page = NULL;
	c->fd = -1;
	c->state = C_FREE;
}

/* Status line and headers into c->hdr, the body as given; then REPLY. */
static void respond(struct conn *c, unsigned int status, const char *reason,
		    const char *type, const char *body, size_t body_len,
		    bool send_body)
{
	int n;

	n = snprintf(c->hdr, sizeof(c->hdr),
		     "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "%sConnection: close\r\n\r\n", status, reason, type, body_len,
		     status == 405 ? "Allow: GET, HEAD\r\n" : "");
	c->hdr_len = n > 0 && (size_t)n < sizeof(c->hdr) ? (size_t)n : 0;
	c->body = body;
	c->body_len = send_body ? body_len : 0;
	c->sent = 0;
	c->state = C_REPLY;
}

/* The request line of a whole head: the reply it gets. */
static void answer(struct cxd_metrics *m, struct conn *c)
{
	static const char not_found[] = "not found: try " CXD_METRICS_PATH "\n";
	static const char not_allowed[] = "method not allowed: GET or HEAD\n";
	static const char not_ready[] = "no metrics yet\n";
	static const char bad[] = "bad request\n";
	static const char no_mem[] = "out of memory\n";
	static const char text[] = "text/plain; charset=utf-8";
	char *method, *target, *version, *save = NULL, *eol;
	bool head, published;
	struct page *p;

	eol = memchr(c->head, '\n', c->head_len);
	*eol = '\0';
	method = strtok_r(c->head, " \r", &save);
	target = method ? strtok_r(NULL, " \r", &save) : NULL;
	version = target ? strtok_r(NULL, " \r", &save) : NULL;
	if (version == NULL || strncmp(version, "HTTP/1.", 7) != 0 ||
	    strtok_r(NULL, " \r", &save) != NULL) {
		respond(c, 400, "Bad Request", text, bad, sizeof(bad) - 1, true);
		return;
	}
	/* Any body is left unread: the reply does not depend on it. */
	head = strcmp(method, "HEAD") == 0;
	if (!head && strcmp(method, "GET") != 0) {
		respond(c, 405, "Method Not Allowed", text, not_allowed,
			sizeof(not_allowed) - 1, true);
		return;
	}
	target[strcspn(target, "?")] = '\0';
	if (strcmp(target, CXD_METRICS_PATH) != 0) {
		respond(c, 404, "Not Found", text, not_found, sizeof(not_found) - 1,
			!head);
		return;
	}
	p = page_get(m, &published);
	if (!published) {
		respond(c, 503, "Service Unavailable", text, not_ready,
			sizeof(not_ready) - 1, !head);
	} else if (p == NULL) {
		respond(c, 500, "Internal Server Error", text, no_mem,
			sizeof(no_mem) - 1, !head);
	} else {
		c->page = p;
		respond(c, 200, "OK", CXD_PROM_CONTENT_TYPE, p->text, p->len, !head);
	}
}

/* The end of the head: an empty line (CRLF CRLF, or bare LFs). */
static bool head_done(const struct conn *c)
{
	size_t i;

	for (i = 1; i < c->head_len; i++)
		if (c->head[i] == '\n' && (c->head[i - 1] == '\n' ||
		    (i >= 2 && c->head[i - 1] == '\r' && c->head[i - 2] == '\n')))
			return true;
	return false;
}

static void read_head(struct cxd_metrics *m, struct conn *c)
{
	static const char too_big[] = "request header too large\n";
	ssize_t n;

	n = recv(c->fd, c->head + c->head_len, sizeof(c->head) - c->head_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->head_len += (size_t)n;
	if (head_done(c))
		answer(m, c);
	else if (c->head_len == sizeof(c->head))
		respond(c, 431, "Request Header Fields Too Large",
			"text/plain; charset=utf-8", too_big, sizeof(too_big) - 1,
			true);
}

static void write_reply(struct conn *c, uint64_t now_ns)
{
	const char *p;
	size_t left;
	ssize_t n;

	while (c->sent < c->hdr_len + c->body_len) {
		if (c->sent < c->hdr_len) {
			p = c->hdr + c->sent;
			left = c->hdr_len - c->sent;
		} else {
			p = c->body + (c->sent - c->hdr_len);
			left = c->body_len - (c->sent - c->hdr_len);
		}
		n = send(c->fd, p, left, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->sent += (size_t)n;
	}
	page_put(c->page);
	c->page = NULL;
	shutdown(c->fd, SHUT_WR);
	c->state = C_LINGER;
	c->linger_end_ns = now_ns + LINGER_NS;
}

static void drain(struct conn *c)
{
	char scratch[HEAD_MAX];
	ssize_t n;

	n = recv(c->fd, scratch, sizeof(scratch), 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	conn_close(c);	/* the client closed too, or went */
}

static void progress(struct cxd_metrics *m, struct conn *c, uint64_t now_ns)
{
	if (c->state == C_HEAD)
		read_head(m, c);
	if (c->state == C_REPLY)
		write_reply(c, now_ns);
	else if (c->state == C_LINGER)
		drain(c);
}

static uint64_t deadline_ns(const struct conn *c)
{
	switch (c->state) {
	case C_HEAD:
		return c->accept_ns + CXD_METRICS_REQUEST_MS * NS_PER_MS;
	case C_REPLY:
		return c->accept_ns + CXD_METRICS_REPLY_MS * NS_PER_MS;
	default:
		return c->linger_end_ns;
	}
}

static void expire(struct cxd_metrics *m, uint64_t now_ns)
{
	struct conn *c;
	unsigned int i;

	for (i = 0; i < CXD_METRICS_CONNS_MAX; i++) {
		c = &m->conns[i];
		if (c->state == C_FREE || now_ns < deadline_ns(c))
			continue;
		if (c->state != C_LINGER)
			count(m, &m->st.timed_out);
		conn_close(c);
	}
}

/*
 * A slot for a new connection: a free one, else one that has finished,
 * else the one reading its request the longest (closed, counted refused).
 * NULL if every connection is being answered.
 */
static struct conn *slot(struct cxd_metrics *m)
{
	struct conn *c, *oldest = NULL;
	unsigned int i;

	for (i = 0; i < CXD_METRICS_CONNS_MAX; i++) {
		c = &m->conns[i];
		if (c->state == C_FREE)
			return c;
	}
	for (i = 0; i < CXD_METRICS_CONNS_MAX; i++) {
		c = &m->conns[i];
		if (c->state == C_LINGER) {
			conn_close(c);
			return c;
		}
		if (c->state == C_HEAD && (oldest == NULL || c->accept_ns < oldest->accept_ns))
			oldest = c;
	}
	if (oldest != NULL) {
		count(m, &m->st.refused);
		conn_close(oldest);
	}
	return oldest;
}

static void accept_conns(struct cxd_metrics *m, uint64_t now_ns)
{
	struct conn *c;
	unsigned int turn;
	int fd;

	for (turn = 0; turn < CXD_METRICS_CONNS_MAX; turn++) {
		fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;		/* EAGAIN, or a client gone before its accept */
		count(m, &m->st.accepted);
		c = slot(m);
		if (c == NULL) {
			count(m, &m->st.refused);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->state = C_HEAD;
		c->accept_ns = now_ns;
		c->head_len = 0;
		/* A scraper sends its request with the connect: it is there already. */
		progress(m, c, now_ns);
	}
}

static int poll_timeout_ms(const struct cxd_metrics *m, uint64_t now_ns)
{
	uint64_t first = UINT64_MAX, d;
	unsigned int i;

	for (i = 0; i < CXD_METRICS_CONNS_MAX; i++) {
		if (m->conns[i].state == C_FREE)
			continue;
		d = deadline_ns(&m->conns[i]);
		if (d < first)
			first = d;
	}
	if (first == UINT64_MAX)
		return -1;
	if (first <= now_ns)
		return 0;
	return (int)((first - now_ns + NS_PER_MS - 1) / NS_PER_MS);
}

static void *serve(void *arg)
{
	struct pollfd pfd[2 + CXD_METRICS_CONNS_MAX];
	struct cxd_metrics *m = arg;
	uint64_t now_ns;
	unsigned int i;
	struct conn *c;

	for (;;) {
		now_ns = mono_ns();
		expire(m, now_ns);
		pfd[0] = (struct pollfd){ .fd = m->stop[0], .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = m->lfd, .events = POLLIN };
		for (i = 0; i < CXD_METRICS_CONNS_MAX; i++) {
			c = &m->conns[i];
			pfd[2 + i] = (struct pollfd){
				.fd = c->state == C_FREE ? -1 : c->fd,
				.events = c->state == C_REPLY ? POLLOUT : POLLIN,
			};
		}
		if (poll(pfd, 2 + CXD_METRICS_CONNS_MAX, poll_timeout_ms(m, now_ns)) < 0) {
			if (errno == EINTR)
				continue;
			cx_log_warn("metrics: poll");
			break;
		}
		if (pfd[0].revents)
			break;
		now_ns = mono_ns();
		for (i = 0; i < CXD_METRICS_CONNS_MAX; i++) {
			c = &m->conns[i];
			if (c->state != C_FREE && pfd[2 + i].fd == c->fd && pfd[2 + i].revents)
				progress(m, c, now_ns);
		}
		if (pfd[1].revents & POLLIN)
			accept_conns(m, now_ns);
	}
	for (i = 0; i < CXD_METRICS_CONNS_MAX; i++)
		if (m->conns[i].state != C_FREE)
			conn_close(&m->conns[i]);
	return NULL;
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

/* The thread with every signal blocked: they are the daemon's loop's. */
static int start_thread(struct cxd_metrics *m)
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&m->thread, NULL, serve, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -ret;
}

struct cxd_metrics *cxd_metrics_new(const struct cxd_hostport *hp,
				    size_t page_max, char *err, size_t errlen)
{
	char where[CXD_HOSTPORT_STRLEN];
	struct cxd_metrics *m;
	unsigned int i;
	int ret;

	if (cxd_hostport_format(hp, where, sizeof(where)) < 0 || page_max == 0) {
		snprintf(err, errlen, "metrics: no address");
		return NULL;
	}
	ret = -ENOMEM;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		goto err;
	m->text = malloc(page_max);
	if (m->text == NULL)
		goto err_free;
	m->page_max = page_max;
	m->addr = *hp;
	for (i = 0; i < CXD_METRICS_CONNS_MAX; i++)
		m->conns[i].fd = -1;
	ret = -pthread_mutex_init(&m->lock, NULL);
	if (ret < 0)
		goto err_free;
	if (pipe2(m->stop, O_CLOEXEC) < 0) {
		ret = -errno;
		goto err_mutex;
	}
	m->lfd = listen_on(hp);
	if (m->lfd < 0) {
		ret = m->lfd;
		goto err_pipe;
	}
	ret = start_thread(m);
	if (ret < 0)
		goto err_close;
	return m;
err_close:
	close(m->lfd);
err_pipe:
	close(m->stop[0]);
	close(m->stop[1]);
err_mutex:
	pthread_mutex_destroy(&m->lock);
err_free:
	free(m->text);
	free(m);
err:
	snprintf(err, errlen, "metrics %s: %s", where, strerror(-ret));
	return NULL;
}

void cxd_metrics_free(struct cxd_metrics *m)
{
	if (m == NULL)
		return;
	/* The thread's poll wakes on the pipe, closes its connections, ends. */
	if (write(m->stop[1], "", 1) != 1)
		cx_log_warn("metrics: stopping the HTTP thread");
	pthread_join(m->thread, NULL);
	close(m->lfd);
	close(m->stop[0]);
	close(m->stop[1]);
	page_put(m->cur);
	pthread_mutex_destroy(&m->lock);
	free(m->text);
	free(m);
}

int cxd_metrics_publish(struct cxd_metrics *m, const char *text, size_t len)
{
	if (len > m->page_max)
		return -ENOSPC;
	pthread_mutex_lock(&m->lock);
	memcpy(m->text, text, len);
	m->text_len = len;
	m->gen++;
	m->published = true;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

const struct cxd_hostport *cxd_metrics_addr(const struct cxd_metrics *m)
{
	return &m->addr;
}

void cxd_metrics_get_stats(struct cxd_metrics *m, struct cxd_metrics_stats *st)
{
	pthread_mutex_lock(&m->lock);
	*st = m->st;
	pthread_mutex_unlock(&m->lock);
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

void cxd_metrics_feed_stats(const struct cxd_metrics_feed *f,
			    struct cxd_metrics_stats *st)
{
	if (f == NULL) {
		memset(st, 0, sizeof(*st));
		return;
	}
	cxd_metrics_get_stats(f->srv, st);
}

void cxd_metrics_stop(struct cxd_metrics_feed *f)
{
	if (f == NULL)
		return;
	cxd_metrics_free(f->srv);
	free(f->page);
	free(f);
}
