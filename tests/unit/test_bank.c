/*
 * Token bank client (policer/bank.c) against a real redis-server started
 * per test on a unix socket in a private directory. Without
 * /usr/bin/redis-server the server tests say SKIP; the URL parser and the
 * argument checks need no server.
 */
#include "cxtest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include <conex/log.h>

#include "bank.h"

#ifndef REDIS_BIN
#define REDIS_BIN	"/usr/bin/redis-server"
#endif
#define MS		1000000ULL
#define TENANTS		4
#define START_WAIT_MS	5000
#define BYTES_PER_S(rate_bps) ((rate_bps) / 8)

struct fix {
	char	dir[32];
	char	sock[64];
	char	url[80];
	pid_t	pid;
	int	down_logs;
	int	up_logs;
};

/* One client as the daemon would hold it, with what its callbacks saw. */
struct cli {
	struct cxp_bank		*bank;
	unsigned int		done[TENANTS];
	int			status[TENANTS];
	uint64_t		granted[TENANTS];
	uint64_t		level[TENANTS];
	uint64_t		done_ns[TENANTS];
	unsigned int		ups;
	unsigned int		downs;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void log_sink(int level, const char *msg, void *arg)
{
	struct fix *f = arg;

	if (level == CX_LOG_WARNING && strstr(msg, "down") != NULL)
		f->down_logs++;
	if (level == CX_LOG_INFO && strstr(msg, " up") != NULL)
		f->up_logs++;
}

static bool sock_ready(const char *path)
{
	struct sockaddr_un sun;
	int fd, ret;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ret = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return ret == 0;
}

static void redis_start(struct fix *f)
{
	unsigned int i;
	pid_t pid;
	int fd;

	unlink(f->sock);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(REDIS_BIN, REDIS_BIN, "--port", "0", "--unixsocket",
		      f->sock, "--save", "", "--appendonly", "no",
		      "--daemonize", "no", "--dir", f->dir, (char *)NULL);
		_exit(127);
	}
	f->pid = pid;
	for (i = 0; i < START_WAIT_MS / 10; i++) {
		if (sock_ready(f->sock))
			return;
		sleep_ms(10);
	}
	fail_msg("redis-server did not open %s within %d ms", f->sock,
		 START_WAIT_MS);
}

static void redis_stop(struct fix *f)
{
	if (f->pid <= 0)
		return;
	kill(f->pid, SIGCONT);
	kill(f->pid, SIGKILL);
	waitpid(f->pid, NULL, 0);
	f->pid = 0;
}

static int setup(void **state)
{
	struct fix *f;

	if (access(REDIS_BIN, X_OK) != 0) {
		printf("SKIP: redis-server not installed\n");
		*state = NULL;
		return 0;
	}
	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/cxbank.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/r.sock", f->dir);
	snprintf(f->url, sizeof(f->url), "unix:%s", f->sock);
	redis_start(f);
	cx_log_init("test_bank", true, CX_LOG_INFO);
	cx_log_set_sink(log_sink, f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	if (f == NULL)
		return 0;
	cx_log_set_sink(NULL, NULL);
	redis_stop(f);
	unlink(f->sock);
	rmdir(f->dir);
	free(f);
	return 0;
}

#define NEED_REDIS(state) do {						\
	if (*(state) == NULL)						\
		skip();							\
} while (0)

static void on_grant(void *arg, uint32_t idx, int status, uint64_t granted,
		     uint64_t level)
{
	struct cli *c = arg;

	assert_true(idx < TENANTS);
	c->done[idx]++;
	c->status[idx] = status;
	c->granted[idx] = granted;
	c->level[idx] = level;
	c->done_ns[idx] = mono_ns();
}

static void on_state(void *arg, enum cxp_bank_state st)
{
	struct cli *c = arg;

	if (st == CXP_BANK_UP)
		c->ups++;
	else
		c->downs++;
}

static void cli_open(struct cli *c, const char *url, uint64_t timeout_ns,
		     uint64_t backoff_min_ns, uint64_t backoff_max_ns)
{
	struct cxp_bank_opts o;

	memset(c, 0, sizeof(*c));
	cxp_bank_opts_default(&o);
	o.tenants = TENANTS;
	o.timeout_ns = timeout_ns;
	o.backoff_min_ns = backoff_min_ns;
	o.backoff_max_ns = backoff_max_ns;
	o.on_grant = on_grant;
	o.on_state = on_state;
	o.arg = c;
	c->bank = cxp_bank_new(url, &o);
	assert_non_null(c->bank);
}

/* One turn of a daemon's loop over n clients, sleeping at most max_ms. */
static void pump(struct cli **cs, size_t n, int max_ms)
{
	struct pollfd pfd[4];
	uint64_t now = mono_ns(), next;
	int timeout = max_ms;
	size_t i;

	assert_true(n <= CX_ARRAY_SIZE(pfd));
	for (i = 0; i < n; i++) {
		pfd[i].fd = cxp_bank_fd(cs[i]->bank);
		pfd[i].events = cxp_bank_events(cs[i]->bank);
		pfd[i].revents = 0;
		next = cxp_bank_next_ns(cs[i]->bank);
		if (next <= now)
			timeout = 0;
		else if (next - now < (uint64_t)timeout * MS)
			timeout = (int)((next - now + MS - 1) / MS);
	}
	assert_true(poll(pfd, n, timeout) >= 0);
	now = mono_ns();
	for (i = 0; i < n; i++) {
		cxp_bank_io(cs[i]->bank, pfd[i].revents, now);
		cxp_bank_tick(cs[i]->bank, now);
	}
}

static bool pump_until_state(struct cli *c, enum cxp_bank_state st,
			     uint64_t max_ns)
{
	uint64_t end = mono_ns() + max_ns;

	while (mono_ns() < end) {
		if (cxp_bank_state(c->bank) == st)
			return true;
		pump(&c, 1, 10);
	}
	return cxp_bank_state(c->bank) == st;
}

static bool pump_until_done(struct cli *c, uint32_t idx, unsigned int done,
			    uint64_t max_ns)
{
	uint64_t end = mono_ns() + max_ns;

	while (c->done[idx] < done && mono_ns() < end)
		pump(&c, 1, 10);
	return c->done[idx] >= done;
}

/* Request and wait for the grant; returns the status. */
static int ask(struct cli *c, uint32_t idx, const char *tenant,
	       uint64_t rate_bps, uint64_t burst, uint64_t want)
{
	unsigned int before = c->done[idx];

	assert_int_equal(cxp_bank_request(c->bank, idx, tenant, rate_bps,
					   burst, want, mono_ns()), 0);
	assert_true(pump_until_done(c, idx, before + 1, 2000 * MS));
	return c->status[idx];
}

/* --- URL parser --------------------------------------------------------- */

struct url_vec {
	const char	*s;
	int		ret;
	bool		is_unix;
	const char	*host_or_path;
	uint16_t	port;
};

static const struct url_vec url_vecs[] = {
	{ "redis://198.18.0.1:6380", 0, false, "198.18.0.1", 6380 },
	{ "redis://198.18.0.1", 0, false, "198.18.0.1", 6379 },
	{ "redis://127.0.0.1:1", 0, false, "127.0.0.1", 1 },
	{ "redis://198.18.0.1:65535", 0, false, "198.18.0.1", 65535 },
	{ "redis://[2001:2::1]:7000", 0, false, "2001:2::1", 7000 },
	{ "redis://[::1]", 0, false, "::1", 6379 },
	{ "unix:/run/redis/redis.sock", 0, true, "/run/redis/redis.sock", 0 },
	{ "unix:/x", 0, true, "/x", 0 },
	{ "", -EINVAL, false, NULL, 0 },
	{ "redis://", -EINVAL, false, NULL, 0 },
	{ "redis://:6379", -EINVAL, false, NULL, 0 },
	{ "redis://198.18.0.1:", -EINVAL, false, NULL, 0 },
	{ "redis://198.18.0.1:0", -EINVAL, false, NULL, 0 },
	{ "redis://198.18.0.1:65536", -EINVAL, false, NULL, 0 },
	{ "redis://198.18.0.1:06379", -EINVAL, false, NULL, 0 },
	{ "redis://198.18.0.1:123456", -EINVAL, false, NULL, 0 },
	{ "redis://198.18.0.1:0x10", -EINVAL, false, NULL, 0 },
	{ "redis://198.18.0.1:+80", -EINVAL, false, NULL, 0 },
	{ "redis://198.18.0.1:80 ", -EINVAL, false, NULL, 0 },
	{ "redis://198.18.0.1/", -EINVAL, false, NULL, 0 },
	{ "redis://198.18.0.1:6379/0", -EINVAL, false, NULL, 0 },
	{ "redis://198.18.0.1?x=1", -EINVAL, false, NULL, 0 },
	{ "redis://user:pw@198.18.0.1", -EINVAL, false, NULL, 0 },
	{ "redis://:pw@198.18.0.1", -EINVAL, false, NULL, 0 },
	{ "redis://localhost:6379", -EINVAL, false, NULL, 0 },
	{ "redis://198.18.0", -EINVAL, false, NULL, 0 },
	{ "redis://198.18.0.256", -EINVAL, false, NULL, 0 },
	{ "redis://198.018.0.1", -EINVAL, false, NULL, 0 },
	{ "redis:// 198.18.0.1", -EINVAL, false, NULL, 0 },
	{ "redis://2001:2::1", -EINVAL, false, NULL, 0 },
	{ "redis://[2001:2::1", -EINVAL, false, NULL, 0 },
	{ "redis://[198.18.0.1]", -EINVAL, false, NULL, 0 },
	{ "redis://[]:6379", -EINVAL, false, NULL, 0 },
	{ "redis://[::1]x", -EINVAL, false, NULL, 0 },
	{ "redis://[fe80::1%eth0]", -EINVAL, false, NULL, 0 },
	{ "REDIS://198.18.0.1", -EINVAL, false, NULL, 0 },
	{ "rediss://198.18.0.1", -EINVAL, false, NULL, 0 },
	{ "redis:/198.18.0.1", -EINVAL, false, NULL, 0 },
	{ "tcp://198.18.0.1:6379", -EINVAL, false, NULL, 0 },
	{ "198.18.0.1:6379", -EINVAL, false, NULL, 0 },
	{ "unix:", -EINVAL, false, NULL, 0 },
	{ "unix:relative.sock", -EINVAL, false, NULL, 0 },
	{ "unix://tmp/r.sock", -EINVAL, false, NULL, 0 },
	{ "unix:/" "0123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789"
	  "0123456789012345678901234567", -EINVAL, false, NULL, 0 },
};

static void check_url(const char *name, const char *s, int want_ret,
		      const struct url_vec *v)
{
	struct cxp_bank_url u, sentinel;
	int ret;

	memset(&u, 0xa5, sizeof(u));
	sentinel = u;
	ret = cxp_bank_url_parse(s, &u);
	expect_ret(name, ret, want_ret);
	if (ret < 0) {
		assert_memory_equal(&u, &sentinel, sizeof(u));
		return;
	}
	if (v == NULL)
		return;
	assert_int_equal(u.is_unix, v->is_unix);
	if (v->is_unix) {
		assert_string_equal(u.path, v->host_or_path);
	} else {
		assert_string_equal(u.host, v->host_or_path);
		assert_int_equal(u.port, v->port);
	}
}

static void test_url_parse(void **state)
{
	struct cxp_bank_url u, again;
	size_t i, n, len;
	char *p;
	int ret;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(url_vecs); i++)
		check_url(url_vecs[i].s, url_vecs[i].s, url_vecs[i].ret,
			  &url_vecs[i]);
	/* The longest unix path that fits sun_path with its NUL. */
	{
		char s[5 + sizeof(u.path)];

		memcpy(s, "unix:/", 6);
		memset(s + 6, 'a', sizeof(u.path) - 2);
		s[5 + sizeof(u.path) - 1] = '\0';
		assert_int_equal(cxp_bank_url_parse(s, &u), 0);
		assert_int_equal(strlen(u.path), sizeof(u.path) - 1);
	}
	assert_int_equal(cxp_bank_url_parse(NULL, &u), -EINVAL);
	assert_int_equal(cxp_bank_url_parse("unix:/x", NULL), -EINVAL);
	/*
	 * Every prefix of a valid URL, in a heap buffer of exactly its size:
	 * no over-read, and a prefix that parses (the port "637" of "6379",
	 * a shorter path) parses the same way twice.
	 */
	for (i = 0; i < CX_ARRAY_SIZE(url_vecs); i++) {
		if (url_vecs[i].ret != 0)
			continue;
		len = strlen(url_vecs[i].s);
		for (n = 0; n < len; n++) {
			p = (char *)cxt_dup(url_vecs[i].s, n + 1);
			p[n] = '\0';
			memset(&u, 0, sizeof(u));
			ret = cxp_bank_url_parse(p, &u);
			assert_true(ret == 0 || ret == -EINVAL);
			if (ret == 0) {
				memset(&again, 0, sizeof(again));
				assert_int_equal(cxp_bank_url_parse(p, &again),
						 0);
				assert_memory_equal(&u, &again, sizeof(u));
			}
			free(p);
		}
	}
}

/* --- arguments (no server needed: checks come before the state) --------- */

static void test_request_args(void **state)
{
	struct cxp_bank_opts o;
	struct cli c;
	char longname[CXP_BANK_TENANT_MAX + 2];
	uint64_t now = mono_ns();

	(void)state;
	memset(&c, 0, sizeof(c));
	cxp_bank_opts_default(&o);
	o.tenants = TENANTS;
	o.arg = &c;
	/* No callback, a bad URL or bad options: refused. */
	errno = 0;
	assert_null(cxp_bank_new("unix:/nonexistent/r.sock", &o));
	assert_int_equal(errno, EINVAL);
	o.on_grant = on_grant;
	assert_null(cxp_bank_new("redis://localhost", &o));
	o.tenants = 0;
	assert_null(cxp_bank_new("unix:/x", &o));
	o.tenants = CXP_BANK_TENANTS_MAX + 1;
	assert_null(cxp_bank_new("unix:/x", &o));
	o.tenants = TENANTS;
	o.backoff_max_ns = o.backoff_min_ns - 1;
	assert_null(cxp_bank_new("unix:/x", &o));
	o.backoff_max_ns = o.backoff_min_ns;
	o.timeout_ns = 0;
	assert_null(cxp_bank_new("unix:/x", &o));
	o.timeout_ns = 100 * MS;

	c.bank = cxp_bank_new("unix:/nonexistent/r.sock", &o);
	assert_non_null(c.bank);
	assert_int_equal(cxp_bank_state(c.bank), CXP_BANK_DOWN);
	assert_int_equal(cxp_bank_fd(c.bank), -1);
	assert_int_equal(cxp_bank_events(c.bank), 0);

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(cxp_bank_request(c.bank, TENANTS, "t", 8, 1, 1, now),
			 -EINVAL);
	assert_int_equal(cxp_bank_request(c.bank, 0, "", 8, 1, 1, now),
			 -EINVAL);
	assert_int_equal(cxp_bank_request(c.bank, 0, longname, 8, 1, 1, now),
			 -EINVAL);
	longname[CXP_BANK_TENANT_MAX] = '\0';
	assert_int_equal(cxp_bank_request(c.bank, 0, longname, 8, 1, 1, now),
			 -ENOTCONN);
	assert_int_equal(cxp_bank_request(c.bank, 0, "a b", 8, 1, 1, now),
			 -EINVAL);
	assert_int_equal(cxp_bank_request(c.bank, 0, "a\x7f", 8, 1, 1, now),
			 -EINVAL);
	assert_int_equal(cxp_bank_request(c.bank, 0, "t", 0, 1, 1, now),
			 -EINVAL);
	assert_int_equal(cxp_bank_request(c.bank, 0, "t",
					  CXP_BANK_RATE_MAX_BPS + 1, 1, 1,
					  now), -EINVAL);
	assert_int_equal(cxp_bank_request(c.bank, 0, "t", 8,
					  CXP_BANK_BURST_MAX_BYTES + 1, 1,
					  now), -EINVAL);
	assert_int_equal(cxp_bank_request(c.bank, 0, "t", 8, 1,
					  CXP_BANK_BURST_MAX_BYTES + 1, now),
			 -EINVAL);
	/* Valid, but nobody is there. */
	assert_int_equal(cxp_bank_request(c.bank, 0, "t",
					  CXP_BANK_RATE_MAX_BPS,
					  CXP_BANK_BURST_MAX_BYTES,
					  CXP_BANK_BURST_MAX_BYTES, now),
			 -ENOTCONN);
	/* Connecting to a missing socket fails and schedules a retry. */
	assert_true(cxp_bank_tick(c.bank, now) < 0);
	assert_int_equal(cxp_bank_state(c.bank), CXP_BANK_DOWN);
	assert_int_equal(cxp_bank_next_ns(c.bank), now + o.backoff_min_ns);
	assert_int_equal(cxp_bank_tick(c.bank, now + 1), 0);
	cxp_bank_free(c.bank);
	cxp_bank_free(NULL);
}

/* --- replies of a fake server (no redis-server needed) ------------------ */

/*
 * The test plays the server on a unix socket of its own, so it can answer
 * with replies a real Redis would not give.
 */
struct fake {
	char	dir[32];
	char	path[64];
	char	url[80];
	int	lfd;
	int	cfd;
};

static void fake_open(struct fake *fk)
{
	struct sockaddr_un sun;

	snprintf(fk->dir, sizeof(fk->dir), "/tmp/cxbank.XXXXXX");
	assert_non_null(mkdtemp(fk->dir));
	snprintf(fk->path, sizeof(fk->path), "%s/fake.sock", fk->dir);
	snprintf(fk->url, sizeof(fk->url), "unix:%s", fk->path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, fk->path, strlen(fk->path) + 1);
	fk->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fk->lfd >= 0);
	assert_int_equal(bind(fk->lfd, (struct sockaddr *)&sun, sizeof(sun)),
			 0);
	assert_int_equal(listen(fk->lfd, 4), 0);
	fk->cfd = -1;
}

static void fake_close(struct fake *fk)
{
	if (fk->cfd >= 0)
		close(fk->cfd);
	close(fk->lfd);
	unlink(fk->path);
	rmdir(fk->dir);
}

/* Everything the client has written so far (its commands), discarded. */
static size_t fake_drain(struct fake *fk, struct cli *c)
{
	char buf[4096];
	size_t total = 0;
	ssize_t n;
	int i;

	for (i = 0; i < 5; i++)
		pump(&c, 1, 0);
	while ((n = recv(fk->cfd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		total += (size_t)n;
	return total;
}

static void fake_send(struct fake *fk, const char *s, size_t len)
{
	assert_int_equal(send(fk->cfd, s, len, MSG_NOSIGNAL), (ssize_t)len);
}

#define FAKE_SHA "0123456789abcdef0123456789abcdef01234567"

/* Connects c to the fake and answers its SCRIPT LOAD with reply. */
static void fake_connect(struct fake *fk, struct cli *c, const char *reply)
{
	cxp_bank_tick(c->bank, mono_ns());
	if (fk->cfd >= 0)
		close(fk->cfd);
	fk->cfd = accept4(fk->lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(fk->cfd >= 0);
	assert_true(fake_drain(fk, c) > 0);
	fake_send(fk, reply, strlen(reply));
}

struct reply_vec {
	const char	*name;
	const char	*reply;
	int		status;
	uint64_t	granted;
	uint64_t	level;
	bool		drops;		/* the connection is dropped */
};

/* Requests ask for want 100 of burst 1000. */
static const struct reply_vec reply_vecs[] = {
	{ "grant", "*2\r\n:5\r\n:7\r\n", 0, 5, 7, false },
	{ "grant all, full level", "*2\r\n:100\r\n:1000\r\n", 0, 100, 1000,
	  false },
	{ "nothing left", "*2\r\n:0\r\n:0\r\n", 0, 0, 0, false },
	{ "server error", "-ERR boom\r\n", -EIO, 0, 0, false },
	{ "script error", "-ERR user_script:1: oops\r\n", -EIO, 0, 0, false },
	{ "granted above want", "*2\r\n:101\r\n:0\r\n", -EBADMSG, 0, 0,
	  false },
	{ "negative grant", "*2\r\n:-1\r\n:0\r\n", -EBADMSG, 0, 0, false },
	{ "level above burst", "*2\r\n:1\r\n:1001\r\n", -EBADMSG, 0, 0,
	  false },
	{ "negative level", "*2\r\n:1\r\n:-5\r\n", -EBADMSG, 0, 0, false },
	{ "one element", "*1\r\n:1\r\n", -EBADMSG, 0, 0, false },
	{ "three elements", "*3\r\n:1\r\n:1\r\n:1\r\n", -EBADMSG, 0, 0,
	  false },
	{ "string element", "*2\r\n$1\r\n1\r\n:1\r\n", -EBADMSG, 0, 0,
	  false },
	{ "nil element", "*2\r\n:1\r\n$-1\r\n", -EBADMSG, 0, 0, false },
	{ "bare integer", ":5\r\n", -EBADMSG, 0, 0, false },
	{ "status", "+OK\r\n", -EBADMSG, 0, 0, false },
	{ "nil", "$-1\r\n", -EBADMSG, 0, 0, false },
	{ "protocol garbage", "?what\r\n", -ENOTCONN, 0, 0, true },
	{ "two replies for one", "*2\r\n:1\r\n:1\r\n:1\r\n", 0, 1, 1, true },
};

static int fake_setup(void **state)
{
	struct fake *fk = calloc(1, sizeof(*fk));

	assert_non_null(fk);
	fake_open(fk);
	*state = fk;
	return 0;
}

static int fake_teardown(void **state)
{
	cx_log_set_sink(NULL, NULL);
	fake_close(*state);
	free(*state);
	return 0;
}

static void test_fake_replies(void **state)
{
	struct fake *fk = *state;
	const struct reply_vec *v;
	struct cxp_bank_stats st;
	struct fix logs;
	struct cli c;
	size_t i, k, len;

	(void)state;
	memset(&logs, 0, sizeof(logs));
	cx_log_init("test_bank", true, CX_LOG_INFO);
	cx_log_set_sink(log_sink, &logs);
	cli_open(&c, fk->url, 500 * MS, 1 * MS, 1 * MS);
	for (i = 0; i < CX_ARRAY_SIZE(reply_vecs); i++) {
		v = &reply_vecs[i];
		if (cxp_bank_state(c.bank) != CXP_BANK_UP) {
			sleep_ms(2);
			fake_connect(fk, &c, "$40\r\n" FAKE_SHA "\r\n");
			assert_true(pump_until_state(&c, CXP_BANK_UP, 500 * MS));
		}
		assert_int_equal(cxp_bank_request(c.bank, 0, "fake", 8000,
						  1000, 100, mono_ns()), 0);
		assert_true(fake_drain(fk, &c) > 0);
		/*
		 * Byte by byte: no prefix of a reply ends the request (the
		 * reader waits for the rest), the last byte does.
		 */
		len = strlen(v->reply);
		for (k = 0; k + 1 < len; k++) {
			fake_send(fk, v->reply + k, 1);
			pump(&(struct cli *){ &c }, 1, 0);
			if (c.done[0] != i)
				break;
		}
		if (k + 1 == len) {
			fake_send(fk, v->reply + k, 1);
		} else {
			/* Only a reply that breaks the stream ends early;
			 * the rest goes to a socket that may be closed. */
			assert_true(v->drops);
			(void)send(fk->cfd, v->reply + k + 1, len - k - 1,
				   MSG_NOSIGNAL);
		}
		assert_true(pump_until_done(&c, 0, (unsigned int)i + 1,
					    500 * MS));
		expect_ret(v->name, c.status[0], v->status);
		assert_int_equal(c.granted[0], v->granted);
		assert_int_equal(c.level[0], v->level);
		pump(&(struct cli *){ &c }, 1, 0);
		if (v->drops)
			assert_int_equal(cxp_bank_state(c.bank), CXP_BANK_DOWN);
		else
			assert_int_equal(cxp_bank_state(c.bank), CXP_BANK_UP);
	}
	cxp_bank_stats(c.bank, &st);
	assert_int_equal(st.grants, 4);
	assert_int_equal(st.errors, CX_ARRAY_SIZE(reply_vecs) - 4 - 1);
	assert_int_equal(st.lost, 1);

	/* NOSCRIPT makes the client send the script itself, once. */
	if (cxp_bank_state(c.bank) != CXP_BANK_UP) {
		sleep_ms(2);
		fake_connect(fk, &c, "$40\r\n" FAKE_SHA "\r\n");
		assert_true(pump_until_state(&c, CXP_BANK_UP, 500 * MS));
	}
	assert_int_equal(cxp_bank_request(c.bank, 1, "fake", 8000, 1000, 100,
					  mono_ns()), 0);
	fake_drain(fk, &c);
	fake_send(fk, "-NOSCRIPT No matching script.\r\n", 31);
	len = fake_drain(fk, &c);
	assert_true(len > 1000);	/* EVAL carries the script's text */
	fake_send(fk, "-NOSCRIPT again\r\n", 17);
	assert_true(pump_until_done(&c, 1, 1, 500 * MS));
	assert_int_equal(c.status[1], -EIO);
	cxp_bank_stats(c.bank, &st);
	assert_int_equal(st.noscript, 1);

	/* A SCRIPT LOAD answered with anything but a sha is no bank. */
	fake_send(fk, ":1\r\n", 4);	/* unsolicited: dropped */
	assert_true(pump_until_state(&c, CXP_BANK_DOWN, 500 * MS));
	sleep_ms(2);
	fake_connect(fk, &c, "$3\r\nabc\r\n");
	for (k = 0; k < 10; k++)
		pump(&(struct cli *){ &c }, 1, 1);
	assert_int_equal(cxp_bank_state(c.bank), CXP_BANK_DOWN);
	sleep_ms(2);
	fake_connect(fk, &c, "-ERR scripting disabled\r\n");
	for (k = 0; k < 10; k++)
		pump(&(struct cli *){ &c }, 1, 1);
	assert_int_equal(cxp_bank_state(c.bank), CXP_BANK_DOWN);
	sleep_ms(2);
	fake_connect(fk, &c, "$40\r\n" FAKE_SHA "\r\n");
	assert_true(pump_until_state(&c, CXP_BANK_UP, 500 * MS));
	/* Three outages (garbage, an extra reply, the unsolicited one whose
	 * two failed reloads add nothing): one line each way per outage. */
	assert_int_equal(logs.down_logs, 3);
	assert_int_equal(logs.up_logs, 3);
	cxp_bank_free(c.bank);
}

/* --- against redis-server ---------------------------------------------- */

static void test_grant_within_available(void **state)
{
	struct fix *f;
	struct cli c;
	struct cxp_bank_stats st;
	const uint64_t rate = 8000, burst = 10000; /* 1000 B/s */
	uint64_t total;

	NEED_REDIS(state);
	f = *state;
	cli_open(&c, f->url, 500 * MS, 50 * MS, 400 * MS);
	assert_true(pump_until_state(&c, CXP_BANK_UP, 2000 * MS));
	assert_int_equal(c.ups, 1);
	assert_true(cxp_bank_fd(c.bank) >= 0);

	/* A new tenant starts full. */
	assert_int_equal(ask(&c, 0, "grant", rate, burst, 4000), 0);
	assert_int_equal(c.granted[0], 4000);
	assert_int_equal(c.level[0], 6000);
	/* Asking for more than is left gets what is left (plus the few bytes
	 * earned meanwhile at 1 byte/ms), never more than the burst. */
	assert_int_equal(ask(&c, 0, "grant", rate, burst, burst), 0);
	assert_in_range(c.granted[0], 6000, 6000 + 1000);
	assert_int_equal(c.level[0], 0);
	total = 4000 + c.granted[0];
	assert_int_equal(ask(&c, 0, "grant", rate, burst, 0), 0);
	assert_int_equal(c.granted[0], 0);
	/* One outstanding request per tenant. */
	assert_int_equal(cxp_bank_request(c.bank, 1, "grant", rate, burst, 1,
					  mono_ns()), 0);
	assert_int_equal(cxp_bank_request(c.bank, 1, "grant", rate, burst, 1,
					  mono_ns()), -EBUSY);
	assert_true(pump_until_done(&c, 1, 1, 2000 * MS));
	assert_int_equal(c.status[1], 0);
	total += c.granted[1];

	cxp_bank_stats(c.bank, &st);
	assert_int_equal(st.requests, 4);
	assert_int_equal(st.grants, 4);
	assert_int_equal(st.granted_bytes, total);
	assert_int_equal(st.errors + st.timeouts + st.lost + st.noscript, 0);
	assert_int_equal(st.connects, 1);
	assert_int_equal(st.reconnects, 0);
	assert_int_equal(st.state_changes, 1);
	cxp_bank_free(c.bank);
}

/*
 * Two hosts ask greedily for one tenant: what they get together over a
 * span T (the server's time between the first and last grant lies inside
 * the span measured here) stays within rate * T + burst.
 */
static void test_two_clients_share(void **state)
{
	const uint64_t rate = 800000, burst = 20000, want = 5000;
	const uint64_t span_ns = 1500 * MS;
	struct cli a, b, *cs[2] = { &a, &b };
	uint64_t total[2] = { 0, 0 }, seen[2] = { 0, 0 }, t0, t1, bound;
	struct fix *f;
	size_t i;

	NEED_REDIS(state);
	f = *state;
	cli_open(&a, f->url, 500 * MS, 50 * MS, 400 * MS);
	cli_open(&b, f->url, 500 * MS, 50 * MS, 400 * MS);
	assert_true(pump_until_state(&a, CXP_BANK_UP, 2000 * MS));
	assert_true(pump_until_state(&b, CXP_BANK_UP, 2000 * MS));

	t0 = mono_ns();
	for (i = 0; i < 2; i++)
		assert_int_equal(cxp_bank_request(cs[i]->bank, 0, "shared",
						  rate, burst, want, t0), 0);
	for (;;) {
		assert_true(mono_ns() - t0 < span_ns + 5000 * MS);
		pump(cs, 2, 10);
		for (i = 0; i < 2; i++) {
			if (cs[i]->done[0] == seen[i])
				continue;
			seen[i] = cs[i]->done[0];
			assert_int_equal(cs[i]->status[0], 0);
			assert_true(cs[i]->granted[0] <= want);
			total[i] += cs[i]->granted[0];
			if (mono_ns() - t0 < span_ns)
				assert_int_equal(cxp_bank_request(
					cs[i]->bank, 0, "shared", rate, burst,
					want, mono_ns()), 0);
		}
		/* Both idle again once the span is over. */
		if (mono_ns() - t0 >= span_ns && a.done[0] == seen[0] &&
		    b.done[0] == seen[1] &&
		    cxp_bank_next_ns(a.bank) == UINT64_MAX &&
		    cxp_bank_next_ns(b.bank) == UINT64_MAX)
			break;
	}
	t1 = mono_ns();
	/* The server's clock is CLOCK_REALTIME, which NTP may slew by up to
	 * 500 ppm against the monotonic clock here: 2 ms of slack covers it
	 * over the span. */
	bound = BYTES_PER_S(rate) * (t1 - t0 + 2 * MS) / 1000000000ULL +
		burst + 1;
	print_message("two clients: %llu + %llu bytes in %llu ms, bound %llu\n",
		      (unsigned long long)total[0],
		      (unsigned long long)total[1],
		      (unsigned long long)((t1 - t0) / MS),
		      (unsigned long long)bound);
	assert_true(total[0] + total[1] <= bound);
	/* Greedy askers drain it: at least the burst and half the refill. */
	assert_true(total[0] + total[1] >=
		    burst + BYTES_PER_S(rate) * span_ns / 2000000000ULL);
	assert_true(total[0] > 0 && total[1] > 0);
	cxp_bank_free(a.bank);
	cxp_bank_free(b.bank);
}

static void test_tenants_independent(void **state)
{
	const uint64_t rate = 8000, burst = 50000;
	struct fix *f;
	struct cli c;

	NEED_REDIS(state);
	f = *state;
	cli_open(&c, f->url, 500 * MS, 50 * MS, 400 * MS);
	assert_true(pump_until_state(&c, CXP_BANK_UP, 2000 * MS));
	assert_int_equal(ask(&c, 0, "red", rate, burst, burst), 0);
	assert_int_equal(c.granted[0], burst);
	assert_int_equal(ask(&c, 0, "red", rate, burst, burst), 0);
	assert_true(c.granted[0] < 1000);
	/* Another tenant, even on the same slot, has its own full bucket. */
	assert_int_equal(ask(&c, 1, "blue", rate, burst, burst), 0);
	assert_int_equal(c.granted[1], burst);
	assert_int_equal(ask(&c, 0, "green", rate, burst, burst), 0);
	assert_int_equal(c.granted[0], burst);
	cxp_bank_free(c.bank);
}

/*
 * Drains, waits, asks again: the server's elapsed time lies between the
 * end of the first round trip and the start of the second (lo), and the
 * start of the first and the end of the second (hi), so the refill is
 * bounded on both sides by the rate.
 */
static void refill_between(struct cli *c, uint64_t rate, uint64_t burst,
			   unsigned int wait_ms)
{
	uint64_t send1, recv1, send2, recv2, lo, hi;

	send1 = mono_ns();
	assert_int_equal(ask(c, 0, "rated", rate, burst, burst), 0);
	recv1 = c->done_ns[0];
	sleep_ms(wait_ms);
	send2 = mono_ns();
	assert_int_equal(ask(c, 0, "rated", rate, burst, burst), 0);
	recv2 = c->done_ns[0];
	/* Whole microseconds on the server: one more each side; and 0.1 %
	 * for NTP slewing the server's realtime clock (at most 500 ppm). */
	lo = BYTES_PER_S(rate) * ((send2 - recv1) / 1000 - 1) / 1000000;
	hi = BYTES_PER_S(rate) * ((recv2 - send1) / 1000 + 1) / 1000000 + 1;
	lo -= lo / 1000;
	hi += hi / 1000;
	print_message("rate %llu bit/s: refill %llu in [%llu, %llu]\n",
		      (unsigned long long)rate,
		      (unsigned long long)c->granted[0],
		      (unsigned long long)lo, (unsigned long long)hi);
	assert_in_range(c->granted[0], lo > 0 ? lo - 1 : 0, hi);
}

static void test_rate_change(void **state)
{
	const uint64_t burst = 1000000;
	struct fix *f;
	struct cli c;

	NEED_REDIS(state);
	f = *state;
	cli_open(&c, f->url, 500 * MS, 50 * MS, 400 * MS);
	assert_true(pump_until_state(&c, CXP_BANK_UP, 2000 * MS));
	refill_between(&c, 80000, burst, 200);
	refill_between(&c, 800000, burst, 200);
	assert_true(c.granted[0] > 10000);
	refill_between(&c, 8000, burst, 200);
	assert_true(c.granted[0] < 1000);
	cxp_bank_free(c.bank);
}

static void test_noscript(void **state)
{
	struct cxp_bank_stats st;
	redisContext *rc;
	redisReply *r;
	struct fix *f;
	struct cli c;

	NEED_REDIS(state);
	f = *state;
	cli_open(&c, f->url, 500 * MS, 50 * MS, 400 * MS);
	assert_true(pump_until_state(&c, CXP_BANK_UP, 2000 * MS));
	assert_int_equal(ask(&c, 0, "ns", 8000, 10000, 100), 0);
	assert_int_equal(c.granted[0], 100);

	rc = redisConnectUnix(f->sock);
	assert_true(rc != NULL && rc->err == 0);
	r = redisCommand(rc, "SCRIPT FLUSH");
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);

	/* EVALSHA meets NOSCRIPT, EVAL answers and caches the script. */
	assert_int_equal(ask(&c, 0, "ns", 8000, 10000, 100), 0);
	assert_int_equal(c.granted[0], 100);
	cxp_bank_stats(c.bank, &st);
	assert_int_equal(st.noscript, 1);
	assert_int_equal(ask(&c, 0, "ns", 8000, 10000, 100), 0);
	cxp_bank_stats(c.bank, &st);
	assert_int_equal(st.noscript, 1);
	assert_int_equal(st.grants, 3);
	assert_int_equal(st.errors, 0);

	/* The key is namespaced and expires (fill time 10 s < idle TTL). */
	r = redisCommand(rc, "PTTL conex:bank:ns");
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	assert_in_range(r->integer, 3600 * 1000 - 60 * 1000, 3600 * 1000);
	freeReplyObject(r);
	redisFree(rc);
	cxp_bank_free(c.bank);
}

static void test_server_lost(void **state)
{
	const uint64_t timeout_ns = 200 * MS;
	struct cxp_bank_stats st;
	struct pollfd pfd;
	uint64_t t0, t;
	struct fix *f;
	struct cli c;
	int i;

	NEED_REDIS(state);
	f = *state;
	cli_open(&c, f->url, timeout_ns, 50 * MS, 400 * MS);
	assert_true(pump_until_state(&c, CXP_BANK_UP, 2000 * MS));
	assert_int_equal(ask(&c, 0, "lost", 8000, 10000, 100), 0);

	/* Killed: the socket closes, DOWN well within the timeout. */
	redis_stop(f);
	t0 = mono_ns();
	assert_true(pump_until_state(&c, CXP_BANK_DOWN, timeout_ns + 100 * MS));
	print_message("down after kill: %llu ms\n",
		      (unsigned long long)((mono_ns() - t0) / MS));
	assert_int_equal(c.downs, 1);

	/* Requests fail at once while DOWN, and the loop keeps turning
	 * through failed reconnects without logging each one. */
	for (i = 0; i < 20; i++) {
		t = mono_ns();
		assert_int_equal(cxp_bank_request(c.bank, 0, "lost", 8000,
						  10000, 100, t), -ENOTCONN);
		assert_true(mono_ns() - t < 50 * MS);
		/* The loop's own calls, reconnect attempts included, return
		 * at once; poll()'s sleep is not theirs. */
		pfd.fd = cxp_bank_fd(c.bank);
		pfd.events = cxp_bank_events(c.bank);
		pfd.revents = 0;
		assert_true(poll(&pfd, pfd.fd >= 0, 50) >= 0);
		t = mono_ns();
		cxp_bank_io(c.bank, pfd.revents, t);
		cxp_bank_tick(c.bank, t);
		assert_true(mono_ns() - t < 50 * MS);
	}
	cxp_bank_stats(c.bank, &st);
	assert_true(st.reconnects >= 2);
	assert_int_equal(st.rejected, 20);
	assert_int_equal(f->down_logs, 1);

	/* Back: UP within the longest backoff plus a connect. */
	redis_start(f);
	assert_true(pump_until_state(&c, CXP_BANK_UP, 400 * MS + 500 * MS));
	assert_int_equal(c.ups, 2);
	assert_int_equal(f->up_logs, 1);
	assert_int_equal(ask(&c, 0, "lost", 8000, 10000, 100), 0);
	assert_int_equal(c.granted[0], 100);
	cxp_bank_stats(c.bank, &st);
	assert_int_equal(st.state_changes, 3);
	cxp_bank_free(c.bank);
}

/*
 * A server that stops answering (SIGSTOP: the socket stays open) is only
 * noticed by the request timeout: the request ends with -ETIMEDOUT, the
 * bank goes DOWN, and comes back once the server does.
 */
static void test_server_stalled(void **state)
{
	const uint64_t timeout_ns = 200 * MS;
	struct cxp_bank_stats st;
	uint64_t t0, took;
	struct fix *f;
	struct cli c;

	NEED_REDIS(state);
	f = *state;
	cli_open(&c, f->url, timeout_ns, 50 * MS, 400 * MS);
	assert_true(pump_until_state(&c, CXP_BANK_UP, 2000 * MS));

	assert_int_equal(kill(f->pid, SIGSTOP), 0);
	t0 = mono_ns();
	assert_int_equal(cxp_bank_request(c.bank, 0, "stall", 8000, 10000, 100,
					  t0), 0);
	assert_true(pump_until_done(&c, 0, 1, timeout_ns + 200 * MS));
	took = mono_ns() - t0;
	assert_int_equal(c.status[0], -ETIMEDOUT);
	assert_true(took >= timeout_ns && took < timeout_ns + 100 * MS);
	assert_int_equal(cxp_bank_state(c.bank), CXP_BANK_DOWN);
	t0 = mono_ns();
	assert_int_equal(cxp_bank_request(c.bank, 0, "stall", 8000, 10000, 100,
					  t0), -ENOTCONN);
	assert_true(mono_ns() - t0 < 50 * MS);
	cxp_bank_stats(c.bank, &st);
	assert_true(st.timeouts >= 1);
	assert_int_equal(st.lost, 1);

	assert_int_equal(kill(f->pid, SIGCONT), 0);
	assert_true(pump_until_state(&c, CXP_BANK_UP, 2000 * MS));
	assert_int_equal(ask(&c, 0, "stall", 8000, 10000, 100), 0);
	assert_int_equal(c.granted[0], 100);
	assert_int_equal(f->down_logs, 1);
	cxp_bank_free(c.bank);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_request_args),
		cmocka_unit_test_setup_teardown(test_fake_replies, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_grant_within_available,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_clients_share, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tenants_independent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rate_change, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_noscript, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_lost, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_server_stalled, setup,
						teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
