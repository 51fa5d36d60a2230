/*
 * Token bank client (policer/bank.c) against a real redis-server started
 * per test on a unix socket in a private directory (with a password or an
 * ACL user for the AUTH tests). Without /usr/bin/redis-server the server
 * tests say SKIP; the URL parser, the argument checks and the fake-server
 * tests (replies Redis would not give, AUTH framing, an error storm) need
 * no server.
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
#define EXTRA_MAX	24
#define LOG_KEEP	4096

/* The password and ACL user of the AUTH tests' servers. */
#define PASS		"s3cret-Pass"
#define ACL_USER	"conex-policer"
#define ACL_PASS	"acl-Pass-2"

struct fix {
	char	dir[32];
	char	sock[64];
	char	url[80];
	pid_t	pid;
	const char *extra[EXTRA_MAX];	/* more redis-server arguments */
	int	down_logs;
	int	up_logs;
	int	warnings;
	char	log[LOG_KEEP];		/* the last warnings, one a line */
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
	size_t n, m = strlen(msg);

	if (level == CX_LOG_WARNING && strstr(msg, "down") != NULL)
		f->down_logs++;
	if (level == CX_LOG_INFO && strstr(msg, " up") != NULL)
		f->up_logs++;
	if (level > CX_LOG_INFO)
		return;
	if (level == CX_LOG_WARNING)
		f->warnings++;
	/* The recent lines: start again when full. */
	n = strlen(f->log);
	if (m + 2 > sizeof(f->log))
		return;
	if (n + m + 2 > sizeof(f->log)) {
		f->log[0] = '\0';
		n = 0;
	}
	memcpy(f->log + n, msg, m);
	f->log[n + m] = '\n';
	f->log[n + m + 1] = '\0';
}

/* Lines of the captured log that contain all of a and b. */
static int log_count(const struct fix *f, const char *a, const char *b)
{
	const char *p = f->log, *nl;
	char line[CX_LOG_MSG_MAX + 1];
	int n = 0;
	size_t len;

	while (*p) {
		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		if (len > CX_LOG_MSG_MAX)
			len = CX_LOG_MSG_MAX;
		memcpy(line, p, len);
		line[len] = '\0';
		if (strstr(line, a) && (b == NULL || strstr(line, b)))
			n++;
		p += nl ? (size_t)(nl - p) + 1 : strlen(p);
	}
	return n;
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
	const char *argv[16 + EXTRA_MAX] = {
		REDIS_BIN, "--port", "0", "--unixsocket", f->sock, "--save",
		"", "--appendonly", "no", "--daemonize", "no", "--dir", f->dir,
	};
	unsigned int i, n = 13;
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
		for (i = 0; i < EXTRA_MAX && f->extra[i] != NULL; i++)
			argv[n++] = f->extra[i];
		argv[n] = NULL;
		{
			char *args[16 + EXTRA_MAX];

			/* execv's prototype wants them writable. */
			memcpy(args, argv, sizeof(args));
			execv(REDIS_BIN, args);
		}
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

/* A server with a password for the default user (requirepass). */
static const char *const extra_pass[] = {
	"--requirepass", PASS, NULL,
};

/*
 * A server whose default user is off and whose one user may do what the
 * policer does, on its own keys only: the ACL conex-policer.conf(5)
 * recommends (scripts' commands are checked against it too).
 */
static const char *const extra_acl[] = {
	"--user", "default", "off", "--user", ACL_USER, "on", ">" ACL_PASS,
	"~conex:bank:*", "resetchannels", "-@all", "+eval", "+evalsha",
	"+script|load", "+time", "+type", "+hlen", "+hmget", "+hset",
	"+pexpire", NULL,
};

static int setup_with(void **state, const char *const *extra)
{
	struct fix *f;
	unsigned int i;

	if (access(REDIS_BIN, X_OK) != 0) {
		printf("SKIP: redis-server not installed\n");
		*state = NULL;
		return 0;
	}
	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	for (i = 0; extra != NULL && extra[i] != NULL; i++) {
		assert_true(i < EXTRA_MAX - 1);
		f->extra[i] = extra[i];
	}
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

static int setup(void **state)
{
	return setup_with(state, NULL);
}

static int setup_pass(void **state)
{
	return setup_with(state, extra_pass);
}

static int setup_acl(void **state)
{
	return setup_with(state, extra_acl);
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

/* Options of a client: prefix, user and password may be NULL. */
struct cli_auth {
	const char	*prefix;
	const char	*user;
	const char	*password;
};

static void cli_open_auth(struct cli *c, const char *url, uint64_t timeout_ns,
			  uint64_t backoff_min_ns, uint64_t backoff_max_ns,
			  const struct cli_auth *a)
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
	if (a != NULL) {
		o.key_prefix = a->prefix;
		o.user = a->user;
		o.password = a->password;
	}
	c->bank = cxp_bank_new(url, &o);
	assert_non_null(c->bank);
}

static void cli_open(struct cli *c, const char *url, uint64_t timeout_ns,
		     uint64_t backoff_min_ns, uint64_t backoff_max_ns)
{
	cli_open_auth(c, url, timeout_ns, backoff_min_ns, backoff_max_ns, NULL);
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

/* Pumps c for ms milliseconds. */
static void pump_for(struct cli *c, unsigned int ms)
{
	uint64_t end = mono_ns() + ms * MS;

	while (mono_ns() < end)
		pump(&c, 1, 5);
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
	/* Prefixes: 1..CXP_BANK_PREFIX_MAX printable bytes, no space. */
	{
		char longpfx[CXP_BANK_PREFIX_MAX + 2];
		static const char *const bad_pfx[] = { "", "a b", "x\n",
						       "\x7f" };
		size_t k;

		for (k = 0; k < CX_ARRAY_SIZE(bad_pfx); k++) {
			o.key_prefix = bad_pfx[k];
			errno = 0;
			assert_null(cxp_bank_new("unix:/x", &o));
			assert_int_equal(errno, EINVAL);
		}
		memset(longpfx, 'p', sizeof(longpfx) - 1);
		longpfx[sizeof(longpfx) - 1] = '\0';
		o.key_prefix = longpfx;
		assert_null(cxp_bank_new("unix:/x", &o));
		longpfx[CXP_BANK_PREFIX_MAX] = '\0';
		c.bank = cxp_bank_new("unix:/x", &o);
		assert_non_null(c.bank);
		cxp_bank_free(c.bank);
		o.key_prefix = NULL;
	}
	/* Credentials: a user needs a password; no CR or LF; bounded. */
	{
		char longpw[CXP_BANK_PASSWORD_MAX + 2];

		o.user = "u";
		assert_null(cxp_bank_new("unix:/x", &o));
		o.password = "";
		assert_null(cxp_bank_new("unix:/x", &o));
		o.password = "pw\r\nFLUSHALL";
		assert_null(cxp_bank_new("unix:/x", &o));
		o.password = "pw";
		o.user = "a user";
		assert_null(cxp_bank_new("unix:/x", &o));
		o.user = "u";
		c.bank = cxp_bank_new("unix:/x", &o);
		assert_non_null(c.bank);
		cxp_bank_free(c.bank);
		memset(longpw, 'w', sizeof(longpw) - 1);
		longpw[sizeof(longpw) - 1] = '\0';
		o.password = longpw;
		assert_null(cxp_bank_new("unix:/x", &o));
		longpw[CXP_BANK_PASSWORD_MAX] = '\0';
		c.bank = cxp_bank_new("unix:/x", &o);
		assert_non_null(c.bank);
		cxp_bank_free(c.bank);
		o.user = NULL;
		o.password = NULL;
	}

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
	/* Connecting to a missing socket fails and schedules a retry, with
	 * jitter: within [min / 2, min]. */
	assert_true(cxp_bank_tick(c.bank, now) < 0);
	assert_int_equal(cxp_bank_state(c.bank), CXP_BANK_DOWN);
	assert_in_range(cxp_bank_next_ns(c.bank), now + o.backoff_min_ns / 2,
			now + o.backoff_min_ns);
	assert_int_equal(cxp_bank_tick(c.bank, now + 1), 0);
	/* No error of its own: a slot's state is zero, and nothing for an
	 * index out of range. */
	{
		struct cxp_bank_tenant bt;

		cxp_bank_tenant(c.bank, 0, "t", &bt);
		assert_int_equal(bt.streak + bt.errors + bt.backoffs, 0);
		cxp_bank_tenant(c.bank, TENANTS, "t", &bt);
		assert_int_equal(bt.streak + bt.errors + bt.backoffs, 0);
	}
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

static void fake_sends(struct fake *fk, const char *s)
{
	fake_send(fk, s, strlen(s));
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
	{ "grant after errors", "*2\r\n:1\r\n:2\r\n", 0, 1, 2, false },
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
	{ "grant after more", "*2\r\n:3\r\n:4\r\n", 0, 3, 4, false },
	{ "corrupt key", "-CXBANK key is a string, not a hash\r\n", -EUCLEAN,
	  0, 0, false },
	{ "permission", "-NOPERM no permissions to access a key\r\n", -EIO,
	  0, 0, false },
	{ "not authenticated", "-NOAUTH Authentication required.\r\n",
	  -ENOTCONN, 0, 0, true },
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
	struct cxp_bank_tenant bt;
	struct fix logs;
	struct cli c;
	size_t i, k, len, n_grants = 0, n_lost = 0, n_corrupt = 0;
	unsigned int streak = 0;

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
		/* The tenant's own error backs its slot off (and only then):
		 * asked again before the retry time, it is refused at once. */
		cxp_bank_tenant(c.bank, 0, "fake", &bt);
		if (v->status == 0)
			streak = 0;
		else if (v->status != -ENOTCONN)
			streak++;
		assert_int_equal(bt.streak, streak);
		if (v->status != 0 && v->status != -ENOTCONN) {
			assert_int_equal(cxp_bank_request(c.bank, 0, "fake",
							  8000, 1000, 100,
							  bt.retry_ns - 1),
					 -EAGAIN);
			sleep_ms(2);
		}
		n_grants += v->status == 0;
		n_lost += v->status == -ENOTCONN;
		n_corrupt += v->status == -EUCLEAN;
	}
	cxp_bank_stats(c.bank, &st);
	assert_int_equal(st.grants, n_grants);
	assert_int_equal(st.errors, CX_ARRAY_SIZE(reply_vecs) - n_grants -
			 n_lost);
	assert_int_equal(st.backoffs, st.errors);
	assert_int_equal(st.corrupt, n_corrupt);
	assert_int_equal(st.lost, n_lost);
	assert_int_equal(st.auth_failures, 1);

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
	/*
	 * A tenant's errors are logged with the server's words, the first
	 * of each run (the runs start at "server error", "granted above
	 * want" and "corrupt key"; NOSCRIPT's is the slot 1's first); a
	 * grant after errors once. A lost connection is not the tenant's.
	 */
	assert_int_equal(log_count(&logs, "tenant fake: the server answered",
				   "ERR boom"), 1);
	assert_int_equal(log_count(&logs, "tenant fake: malformed reply",
				   "(grant 101, level 0)"), 1);
	assert_int_equal(log_count(&logs, "tenant fake: key conex:bank:fake "
				   "is corrupt", "CXBANK key is a string"), 1);
	assert_int_equal(log_count(&logs, "tenant fake: ", "in a row"), 4);
	assert_int_equal(log_count(&logs, "tenant fake: grants again after",
				   NULL), 3);
	assert_int_equal(log_count(&logs, "wants a password", "NOAUTH"), 1);

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
	/* Four outages (NOAUTH, garbage, an extra reply, the unsolicited one
	 * whose two failed reloads add nothing): one line each way per
	 * outage. */
	assert_int_equal(logs.down_logs, 4);
	assert_int_equal(logs.up_logs, 4);
	cxp_bank_free(c.bank);
}

/* Everything the client writes within a few turns of its loop. */
static size_t fake_take(struct fake *fk, struct cli *c, char *buf, size_t cap)
{
	size_t total = 0;
	ssize_t n;
	int i;

	for (i = 0; i < 5; i++)
		pump(&c, 1, 1);
	while (total + 1 < cap &&
	       (n = recv(fk->cfd, buf + total, cap - 1 - total,
			 MSG_DONTWAIT)) > 0)
		total += (size_t)n;
	buf[total] = '\0';
	return total;
}

/* Ticks c into a connection and accepts it. */
static void fake_accept(struct fake *fk, struct cli *c)
{
	cxp_bank_tick(c->bank, mono_ns());
	if (fk->cfd >= 0)
		close(fk->cfd);
	fk->cfd = accept4(fk->lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(fk->cfd >= 0);
}

#define LOAD_CMD "*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n"

/*
 * AUTH is the first command on every connection, before SCRIPT LOAD and
 * any request; a password changed by its owner between connections is
 * the one sent next; a refused AUTH is counted, logged with the server's
 * words, and the connection dropped; the next one presents it again.
 */
static void test_fake_auth(void **state)
{
	static const char first[] = "*3\r\n$4\r\nAUTH\r\n$5\r\nconex\r\n$2\r\n"
				    "pw\r\n" LOAD_CMD;
	static const char second[] = "*3\r\n$4\r\nAUTH\r\n$5\r\nconex\r\n$3\r\n"
				     "pw2\r\n" LOAD_CMD;
	struct fake *fk = *state;
	struct cxp_bank_stats st;
	char password[16] = "pw";
	char buf[8192];
	struct fix logs;
	struct cli c;
	size_t n;

	memset(&logs, 0, sizeof(logs));
	cx_log_init("test_bank", true, CX_LOG_INFO);
	cx_log_set_sink(log_sink, &logs);
	cli_open_auth(&c, fk->url, 500 * MS, 1 * MS, 1 * MS,
		      &(struct cli_auth){ NULL, "conex", password });
	fake_accept(fk, &c);
	n = fake_take(fk, &c, buf, sizeof(buf));
	assert_true(n > sizeof(first));
	assert_memory_equal(buf, first, sizeof(first) - 1);
	/* Nothing can be asked before the server has said yes twice. */
	assert_int_equal(cxp_bank_state(c.bank), CXP_BANK_DOWN);
	assert_int_equal(cxp_bank_request(c.bank, 0, "t", 8000, 1000, 100,
					  mono_ns()), -ENOTCONN);
	fake_sends(fk, "+OK\r\n$40\r\n" FAKE_SHA "\r\n");
	assert_true(pump_until_state(&c, CXP_BANK_UP, 500 * MS));
	assert_int_equal(cxp_bank_request(c.bank, 0, "t", 8000, 1000, 100,
					  mono_ns()), 0);
	n = fake_take(fk, &c, buf, sizeof(buf));
	assert_non_null(strstr(buf, "EVALSHA"));
	assert_null(strstr(buf, "AUTH"));
	fake_sends(fk, "*2\r\n:5\r\n:7\r\n");
	assert_true(pump_until_done(&c, 0, 1, 500 * MS));
	assert_int_equal(c.status[0], 0);

	/* Lost; the owner changes the password; the next connection
	 * presents the new one first, and a refusal drops it. */
	close(fk->cfd);
	fk->cfd = -1;
	assert_true(pump_until_state(&c, CXP_BANK_DOWN, 500 * MS));
	snprintf(password, sizeof(password), "pw2");
	sleep_ms(2);
	fake_accept(fk, &c);
	fake_take(fk, &c, buf, sizeof(buf));
	assert_memory_equal(buf, second, sizeof(second) - 1);
	fake_sends(fk, "-WRONGPASS invalid username-password pair or user is "
		   "disabled.\r\n");
	pump_for(&c, 20);
	assert_int_equal(cxp_bank_state(c.bank), CXP_BANK_DOWN);
	cxp_bank_stats(c.bank, &st);
	assert_int_equal(st.auth_failures, 1);
	assert_int_equal(log_count(&logs, "AUTH refused", "WRONGPASS invalid "
				   "username-password pair"), 1);
	/* The password never reaches the log. */
	assert_null(strstr(logs.log, "pw2"));

	/* Again, and accepted. */
	sleep_ms(2);
	fake_accept(fk, &c);
	fake_take(fk, &c, buf, sizeof(buf));
	assert_memory_equal(buf, second, sizeof(second) - 1);
	fake_sends(fk, "+OK\r\n$40\r\n" FAKE_SHA "\r\n");
	assert_true(pump_until_state(&c, CXP_BANK_UP, 500 * MS));
	assert_int_equal(c.ups, 2);
	cxp_bank_free(c.bank);
}

/*
 * A server that answers every request with an error, to a caller that
 * asks for every tenant at every turn of a fast loop (as a daemon whose
 * packets keep it busy would): each tenant's requests back off, so the
 * requests that reach the server stay bounded (at most one per backoff,
 * the backoff doubling to its cap), the connection is not dropped for a
 * tenant's error, and the log gets one line per tenant.
 */
static void test_error_storm(void **state)
{
	static const char *const names[TENANTS] = { "s0", "s1", "s2", "s3" };
	const uint64_t bmin = 10 * MS, bmax = 80 * MS, span = 1000 * MS;
	struct fake *fk = *state;
	struct cxp_bank_stats st;
	uint64_t t0, attempts = 0, max_req, min_req, cum, b;
	char buf[65536], carry[8] = "", *p;
	unsigned int answered = 0, k;
	struct fix logs;
	struct cli c;
	ssize_t n;
	size_t clen;
	uint32_t i;

	memset(&logs, 0, sizeof(logs));
	cx_log_init("test_bank", true, CX_LOG_INFO);
	cx_log_set_sink(log_sink, &logs);
	cli_open(&c, fk->url, 500 * MS, bmin, bmax);
	fake_connect(fk, &c, "$40\r\n" FAKE_SHA "\r\n");
	assert_true(pump_until_state(&c, CXP_BANK_UP, 500 * MS));
	t0 = mono_ns();
	while (mono_ns() - t0 < span) {
		for (i = 0; i < TENANTS; i++, attempts++)
			(void)cxp_bank_request(c.bank, i, names[i], 8000, 1000,
					       100, mono_ns());
		pump(&(struct cli *){ &c }, 1, 1);
		/* The server: an error for each request read so far. */
		clen = strlen(carry);
		memcpy(buf, carry, clen);
		n = recv(fk->cfd, buf + clen, sizeof(buf) - clen - 1,
			 MSG_DONTWAIT);
		if (n <= 0)
			continue;
		buf[clen + (size_t)n] = '\0';
		for (p = buf; (p = strstr(p, "EVALSHA")) != NULL; p += 7) {
			fake_sends(fk, "-ERR storm\r\n");
			answered++;
		}
		/* A name cut between two reads is counted with the next
		 * (six bytes cannot hold a whole one, nor start another
		 * inside the tail of one). */
		clen = clen + (size_t)n;
		k = clen < 6 ? (unsigned int)clen : 6;
		memcpy(carry, buf + clen - k, k);
		carry[k] = '\0';
	}
	pump_for(&c, 20);
	cxp_bank_stats(c.bank, &st);
	/* Bounds per tenant: waits of at least b/2 with b = 10, 20, 40,
	 * 80, 80... ms; and at most b with the same b. */
	for (cum = 0, b = bmin, max_req = 1; cum + b / 2 <= span; max_req++) {
		cum += b / 2;
		b = b * 2 > bmax ? bmax : b * 2;
	}
	for (cum = 0, b = bmin, min_req = 0; cum + b + 20 * MS <= span;
	     min_req++) {
		cum += b + 20 * MS;	/* a turn of the loop, a round trip */
		b = b * 2 > bmax ? bmax : b * 2;
	}
	print_message("error storm: %llu calls, %llu requests (%u answered) "
		      "in %llu ms; bound %llu..%llu per tenant\n",
		      (unsigned long long)attempts,
		      (unsigned long long)st.requests, answered,
		      (unsigned long long)(span / MS),
		      (unsigned long long)min_req,
		      (unsigned long long)max_req);
	assert_true(attempts > 50 * st.requests);
	assert_true(st.requests <= TENANTS * max_req);
	assert_true(st.requests >= TENANTS * min_req);
	assert_int_equal(st.errors, st.backoffs);
	assert_true(st.errors + TENANTS >= st.requests);
	assert_int_equal(st.connects, 1);
	assert_int_equal(cxp_bank_state(c.bank), CXP_BANK_UP);
	for (i = 0; i < TENANTS; i++) {
		char who[32];

		snprintf(who, sizeof(who), "tenant %s:", names[i]);
		assert_int_equal(log_count(&logs, who, "ERR storm"), 1);
	}
	assert_true(logs.warnings <= TENANTS);
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

/* --- authentication, corrupt keys, prefix (redis-server) --------------- */

static redisReply *cmd_argv(redisContext *rc, int argc,
			    const char *const *argv)
{
	const char *a[8];
	redisReply *r;

	assert_true(argc > 0 && argc <= 8);
	memcpy(a, argv, (size_t)argc * sizeof(a[0]));
	r = redisCommandArgv(rc, argc, a, NULL);

	assert_non_null(r);
	return r;
}

static bool reply_is_error(const redisReply *r, const char *prefix)
{
	return r->type == REDIS_REPLY_ERROR &&
	       strncmp(r->str, prefix, strlen(prefix)) == 0;
}

/*
 * requirepass: a client that presents nothing (as an attacker on the
 * bank's network would) can neither read nor write a tenant's key; the
 * policer's client without a password, or with a wrong one, never comes
 * UP, counts it, says so once and backs off; with the password it works.
 */
static void test_auth_password(void **state)
{
	const char *get[] = { "HGETALL", "conex:bank:auth" };
	const char *set[] = { "HSET", "conex:bank:auth", "tok", "0", "us", "0" };
	const char *del[] = { "DEL", "conex:bank:auth" };
	const char *auth[] = { "AUTH", PASS };
	struct cxp_bank_stats st;
	redisContext *rc;
	redisReply *r;
	struct cli c;
	struct fix *f;
	size_t i;

	NEED_REDIS(state);
	f = *state;
	rc = redisConnectUnix(f->sock);
	assert_true(rc != NULL && rc->err == 0);
	for (i = 0; i < 3; i++) {
		const char **argv = i == 0 ? get : i == 1 ? set : del;

		r = cmd_argv(rc, i == 1 ? 6 : 2, argv);
		assert_true(reply_is_error(r, "NOAUTH"));
		freeReplyObject(r);
	}

	/* No password: SCRIPT LOAD meets NOAUTH. */
	cli_open(&c, f->url, 200 * MS, 20 * MS, 160 * MS);
	pump_for(&c, 1000);
	cxp_bank_stats(c.bank, &st);
	print_message("no password: %llu connects, %llu auth failures in 1 s\n",
		      (unsigned long long)st.connects,
		      (unsigned long long)st.auth_failures);
	assert_int_equal(cxp_bank_state(c.bank), CXP_BANK_DOWN);
	assert_int_equal(c.ups, 0);
	assert_true(st.auth_failures >= 3);
	/* Every try refused but the one perhaps still under way. */
	assert_in_range(st.connects - st.auth_failures, 0, 1);
	/* Backoff 20..160 ms with jitter: at most 16 tries in a second. */
	assert_true(st.connects <= 16);
	assert_int_equal(log_count(f, "wants a password: set "
				   "bank_password_file", "NOAUTH"), 1);
	assert_int_equal(f->down_logs, 1);
	cxp_bank_free(c.bank);

	/* A wrong password. */
	cli_open_auth(&c, f->url, 200 * MS, 20 * MS, 160 * MS,
		      &(struct cli_auth){ NULL, NULL, "not-" PASS });
	pump_for(&c, 500);
	cxp_bank_stats(c.bank, &st);
	assert_int_equal(cxp_bank_state(c.bank), CXP_BANK_DOWN);
	assert_true(st.auth_failures >= 2);
	assert_int_equal(log_count(f, "AUTH refused: check bank_user and "
				   "bank_password_file", "WRONGPASS"), 1);
	assert_null(strstr(f->log, "not-" PASS));
	cxp_bank_free(c.bank);

	/* The right one. */
	cli_open_auth(&c, f->url, 200 * MS, 20 * MS, 160 * MS,
		      &(struct cli_auth){ NULL, NULL, PASS });
	assert_true(pump_until_state(&c, CXP_BANK_UP, 2000 * MS));
	assert_int_equal(ask(&c, 0, "auth", 8000, 10000, 4000), 0);
	assert_int_equal(c.granted[0], 4000);
	cxp_bank_stats(c.bank, &st);
	assert_int_equal(st.auth_failures, 0);
	cxp_bank_free(c.bank);

	/* Only with the password does the key show. */
	r = cmd_argv(rc, 2, get);
	assert_true(reply_is_error(r, "NOAUTH"));
	freeReplyObject(r);
	r = cmd_argv(rc, 2, auth);
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
	r = cmd_argv(rc, 2, get);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_int_equal(r->elements, 4);
	freeReplyObject(r);
	redisFree(rc);
}

/*
 * A Redis 6+ ACL user limited to the bank's keys and the commands of the
 * script (the ACL of conex-policer.conf(5)), the default user off: the
 * client works as that user, a wrong user or the default one is refused,
 * and a prefix outside the user's keys is the tenant's error (NOPERM),
 * backed off, while the connection stays UP.
 */
static void test_auth_acl(void **state)
{
	const char *get[] = { "HGETALL", "conex:bank:acl" };
	struct cxp_bank_stats st;
	redisContext *rc;
	redisReply *r;
	struct fix *f;
	struct cli c;

	NEED_REDIS(state);
	f = *state;
	cli_open_auth(&c, f->url, 200 * MS, 20 * MS, 160 * MS,
		      &(struct cli_auth){ NULL, ACL_USER, ACL_PASS });
	assert_true(pump_until_state(&c, CXP_BANK_UP, 2000 * MS));
	assert_int_equal(ask(&c, 0, "acl", 8000, 10000, 4000), 0);
	assert_int_equal(c.granted[0], 4000);
	assert_int_equal(ask(&c, 0, "acl", 8000, 10000, 4000), 0);
	assert_in_range(c.granted[0], 4000, 4100);
	cxp_bank_free(c.bank);

	cli_open_auth(&c, f->url, 200 * MS, 20 * MS, 160 * MS,
		      &(struct cli_auth){ NULL, "nobody", ACL_PASS });
	pump_for(&c, 300);
	cxp_bank_stats(c.bank, &st);
	assert_int_equal(cxp_bank_state(c.bank), CXP_BANK_DOWN);
	assert_true(st.auth_failures >= 1);
	cxp_bank_free(c.bank);
	cli_open_auth(&c, f->url, 200 * MS, 20 * MS, 160 * MS,
		      &(struct cli_auth){ NULL, NULL, ACL_PASS });
	pump_for(&c, 300);
	cxp_bank_stats(c.bank, &st);
	assert_int_equal(cxp_bank_state(c.bank), CXP_BANK_DOWN);
	assert_true(st.auth_failures >= 1);
	cxp_bank_free(c.bank);

	cli_open_auth(&c, f->url, 200 * MS, 20 * MS, 160 * MS,
		      &(struct cli_auth){ "other:", ACL_USER, ACL_PASS });
	assert_true(pump_until_state(&c, CXP_BANK_UP, 2000 * MS));
	assert_int_equal(ask(&c, 0, "acl", 8000, 10000, 4000), -EIO);
	assert_int_equal(cxp_bank_request(c.bank, 0, "acl", 8000, 10000, 4000,
					  mono_ns()), -EAGAIN);
	cxp_bank_stats(c.bank, &st);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.backoffs, 1);
	assert_int_equal(cxp_bank_state(c.bank), CXP_BANK_UP);
	assert_int_equal(log_count(f, "tenant acl: the server answered",
				   "NOPERM"), 1);
	cxp_bank_free(c.bank);

	/* Without credentials nothing is readable (the default user is
	 * off). */
	rc = redisConnectUnix(f->sock);
	assert_true(rc != NULL && rc->err == 0);
	r = cmd_argv(rc, 2, get);
	assert_true(reply_is_error(r, "NOAUTH"));
	freeReplyObject(r);
	redisFree(rc);
}

/* What a key may hold that no policer writes. */
struct corrupt_vec {
	const char	*name;
	int		argc;
	const char	*argv[8];	/* argv[1] is the key */
};

#define KA "conex:bank:ca"
static const struct corrupt_vec corrupt_vecs[] = {
	{ "a string", 3, { "SET", KA, "junk" } },
	{ "a list", 3, { "RPUSH", KA, "1" } },
	{ "a set", 3, { "SADD", KA, "1" } },
	{ "tok not a number", 6, { "HSET", KA, "tok", "abc", "us", "1" } },
	{ "tok negative", 6, { "HSET", KA, "tok", "-5", "us", "1" } },
	{ "tok fraction", 6, { "HSET", KA, "tok", "1.5", "us", "1" } },
	{ "tok exponent", 6, { "HSET", KA, "tok", "1e9", "us", "1" } },
	{ "tok blank", 6, { "HSET", KA, "tok", " 12", "us", "1" } },
	{ "tok hex", 6, { "HSET", KA, "tok", "0x10", "us", "1" } },
	{ "tok empty", 6, { "HSET", KA, "tok", "", "us", "1" } },
	{ "tok 17 digits", 6, { "HSET", KA, "tok", "12345678901234567",
				"us", "1" } },
	{ "tok absurd", 6, { "HSET", KA, "tok", "8000000000000001",
			     "us", "1" } },
	{ "us negative", 6, { "HSET", KA, "tok", "5", "us", "-1" } },
	{ "us 2^53", 6, { "HSET", KA, "tok", "5", "us",
			  "9007199254740992" } },
	{ "us missing", 4, { "HSET", KA, "tok", "5" } },
	{ "tok missing", 6, { "HSET", KA, "us", "1", "tok2", "5" } },
	{ "an extra field", 8, { "HSET", KA, "tok", "5", "us", "1", "x",
				 "y" } },
};

/*
 * Each corruption of tenant ca's key: its request ends with -EUCLEAN,
 * counted, its slot backs off, the key is left exactly as it was, and
 * tenant cb (another key, asked in the same moment) is granted as
 * always. One log line for the whole run of errors. Once the key is
 * gone, ca starts afresh; a balance above its burst but not absurd is
 * only cut to the burst.
 */
static void test_corrupt_key(void **state)
{
	const char *dump[] = { "DUMP", KA }, *del[] = { "DEL", KA };
	const char *pttl[] = { "PTTL", KA };
	const uint64_t rate = 8000, burst = 10000;
	struct cxp_bank_stats st;
	struct cxp_bank_tenant bt;
	redisReply *r, *before;
	redisContext *rc;
	struct fix *f;
	struct cli c;
	size_t i;
	char tok[32];

	NEED_REDIS(state);
	f = *state;
	rc = redisConnectUnix(f->sock);
	assert_true(rc != NULL && rc->err == 0);
	cli_open(&c, f->url, 500 * MS, 1 * MS, 1 * MS);
	assert_true(pump_until_state(&c, CXP_BANK_UP, 2000 * MS));
	for (i = 0; i < CX_ARRAY_SIZE(corrupt_vecs); i++) {
		const struct corrupt_vec *v = &corrupt_vecs[i];

		freeReplyObject(cmd_argv(rc, 2, del));
		r = cmd_argv(rc, v->argc, v->argv);
		assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
		freeReplyObject(r);
		before = cmd_argv(rc, 2, dump);
		assert_int_equal(before->type, REDIS_REPLY_STRING);
		sleep_ms(2);
		/* Both at once: one tenant's bad key, the other's good one. */
		assert_int_equal(cxp_bank_request(c.bank, 0, "ca", rate, burst,
						  100, mono_ns()), 0);
		assert_int_equal(cxp_bank_request(c.bank, 1, "cb", rate, burst,
						  100, mono_ns()), 0);
		assert_true(pump_until_done(&c, 0, (unsigned int)i + 1,
					    2000 * MS));
		assert_true(pump_until_done(&c, 1, (unsigned int)i + 1,
					    2000 * MS));
		expect_ret(v->name, c.status[0], -EUCLEAN);
		assert_int_equal(c.status[1], 0);
		assert_int_equal(c.granted[1], 100);
		cxp_bank_tenant(c.bank, 0, "ca", &bt);
		assert_int_equal(bt.streak, i + 1);
		cxp_bank_tenant(c.bank, 1, "cb", &bt);
		assert_int_equal(bt.streak, 0);
		/* Left as it was, expiry included. */
		r = cmd_argv(rc, 2, dump);
		assert_int_equal(r->type, REDIS_REPLY_STRING);
		assert_int_equal(r->len, before->len);
		assert_memory_equal(r->str, before->str, r->len);
		freeReplyObject(r);
		freeReplyObject(before);
		r = cmd_argv(rc, 2, pttl);
		assert_int_equal(r->integer, -1);
		freeReplyObject(r);
	}
	cxp_bank_stats(c.bank, &st);
	assert_int_equal(st.corrupt, CX_ARRAY_SIZE(corrupt_vecs));
	assert_int_equal(st.errors, CX_ARRAY_SIZE(corrupt_vecs));
	assert_int_equal(st.backoffs, CX_ARRAY_SIZE(corrupt_vecs));
	assert_int_equal(st.grants, CX_ARRAY_SIZE(corrupt_vecs));
	assert_int_equal(st.connects, 1);
	assert_int_equal(log_count(f, "tenant ca: key conex:bank:ca is "
				   "corrupt", "CXBANK"), 1);
	assert_int_equal(log_count(f, "tenant cb", NULL), 0);

	/* Gone: a fresh, full bucket. */
	freeReplyObject(cmd_argv(rc, 2, del));
	sleep_ms(2);
	assert_int_equal(ask(&c, 0, "ca", rate, burst, burst), 0);
	assert_int_equal(c.granted[0], burst);
	assert_int_equal(log_count(f, "tenant ca: grants again after 17 "
				   "errors", NULL), 1);

	/* Above the burst (a burst lowered since), below absurd: cut. */
	snprintf(tok, sizeof(tok), "%llu",
		 (unsigned long long)((burst + 1000) * 8000000));
	{
		const char *hs[] = { "HSET", KA, "tok", tok, "us", "1" };

		freeReplyObject(cmd_argv(rc, 2, del));
		freeReplyObject(cmd_argv(rc, 6, hs));
	}
	assert_int_equal(ask(&c, 0, "ca", rate, burst, burst), 0);
	assert_int_equal(c.granted[0], burst);
	assert_int_equal(c.level[0], 0);
	redisFree(rc);
	cxp_bank_free(c.bank);
}

/* key_prefix: the keys are the prefix's, and only those. */
static void test_prefix(void **state)
{
	const char *ex[] = { "EXISTS", "cx-test:pfx" };
	const char *ex_default[] = { "EXISTS", "conex:bank:pfx" };
	redisContext *rc;
	redisReply *r;
	struct fix *f;
	struct cli c;

	NEED_REDIS(state);
	f = *state;
	cli_open_auth(&c, f->url, 500 * MS, 50 * MS, 400 * MS,
		      &(struct cli_auth){ "cx-test:", NULL, NULL });
	assert_true(pump_until_state(&c, CXP_BANK_UP, 2000 * MS));
	assert_int_equal(ask(&c, 0, "pfx", 8000, 10000, 100), 0);
	rc = redisConnectUnix(f->sock);
	assert_true(rc != NULL && rc->err == 0);
	r = cmd_argv(rc, 2, ex);
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	r = cmd_argv(rc, 2, ex_default);
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
	redisFree(rc);
	cxp_bank_free(c.bank);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_request_args),
		cmocka_unit_test_setup_teardown(test_fake_replies, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_fake_auth, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_error_storm, fake_setup,
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
		cmocka_unit_test_setup_teardown(test_auth_password, setup_pass,
						teardown),
		cmocka_unit_test_setup_teardown(test_auth_acl, setup_acl,
						teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_key, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_prefix, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
