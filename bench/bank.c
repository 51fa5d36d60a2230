// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cx-bank-bench: what the token bank client (policer/bank.c) costs.
 *
 * Grants per second one client gets from one redis-server, one request at
 * a time and pipelined (depth tenants, each asking again as soon as it is
 * answered), and the latency the bank adds to a refill (request to grant
 * callback: median and p99). Side by side in each run, the baseline is a
 * blocking hiredis PING round trip to the same server: the least any
 * request can cost there.
 *
 * Without --url it starts a private redis-server on a unix socket in a
 * temporary directory and stops it at the end. Not run by CI.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include <conex/log.h>
#include <conex/parse.h>

#include "bank.h"

#define PROG		"cx-bank-bench"
#define REDIS_BIN	"/usr/bin/redis-server"
#define MS		1000000ULL
#define RUNS_MAX	101
#define REQS_MAX	10000000ULL
/* The bucket never runs dry, so every grant is the full want. */
#define BB_RATE_BPS	CXP_BANK_RATE_MAX_BPS
#define BB_BURST_BYTES	CXP_BANK_BURST_MAX_BYTES
#define BB_WANT_BYTES	1500

struct bb_ctx {
	struct cxp_bank	*bank;
	uint32_t	depth;		/* tenants asking at once */
	uint64_t	target;		/* grants wanted */
	uint64_t	issued;
	uint64_t	done;
	uint64_t	failed;
	uint64_t	*lat_ns;	/* target entries */
	uint64_t	*sent_ns;	/* per tenant */
	char		(*names)[32];	/* per tenant */
};

struct bb_result {
	double		per_s;
	double		med_us;
	double		p99_us;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void lat_summary(uint64_t *lat, uint64_t n, struct bb_result *r)
{
	qsort(lat, n, sizeof(*lat), cmp_u64);
	r->med_us = (double)lat[n / 2] / 1e3;
	r->p99_us = (double)lat[(n * 99) / 100] / 1e3;
}

static int bb_issue(struct bb_ctx *c, uint32_t idx, uint64_t now_ns)
{
	int ret;

	c->sent_ns[idx] = now_ns;
	ret = cxp_bank_request(c->bank, idx, c->names[idx], BB_RATE_BPS,
			       BB_BURST_BYTES, BB_WANT_BYTES, now_ns);
	if (ret == 0)
		c->issued++;
	return ret;
}

static void bb_on_grant(void *arg, uint32_t idx, int status, uint64_t granted,
			uint64_t level)
{
	struct bb_ctx *c = arg;
	uint64_t now = mono_ns();

	(void)level;
	if (status != 0 || granted != BB_WANT_BYTES) {
		c->failed++;
		return;
	}
	c->lat_ns[c->done++] = now - c->sent_ns[idx];
	if (c->issued < c->target)
		bb_issue(c, idx, now);
}

/* The daemon's loop, reduced to the bank: until every grant is in. */
static int bb_loop(struct bb_ctx *c, uint64_t limit_ns)
{
	struct pollfd pfd;
	uint64_t now;

	while (c->done < c->target && c->failed == 0) {
		now = mono_ns();
		if (now > limit_ns)
			return -ETIMEDOUT;
		pfd.fd = cxp_bank_fd(c->bank);
		pfd.events = cxp_bank_events(c->bank);
		pfd.revents = 0;
		if (poll(&pfd, 1, 10) < 0 && errno != EINTR)
			return -errno;
		now = mono_ns();
		cxp_bank_io(c->bank, pfd.revents, now);
		cxp_bank_tick(c->bank, now);
		if (cxp_bank_state(c->bank) != CXP_BANK_UP)
			return -ENOTCONN;
	}
	return c->failed ? -EIO : 0;
}

/*
 * depth 1: one request at a time (the next is asked from the grant
 * callback). depth > 1: that many tenants in flight on one connection.
 */
static int bb_bank(struct bb_ctx *c, uint32_t depth, uint64_t n,
		   struct bb_result *r)
{
	uint64_t t0, t1;
	uint32_t i;
	int ret;

	c->depth = depth;
	c->target = n;
	c->issued = c->done = c->failed = 0;
	t0 = mono_ns();
	for (i = 0; i < depth && c->issued < n; i++)
		if (bb_issue(c, i, t0) < 0)
			return -EIO;
	ret = bb_loop(c, t0 + 60000 * MS);
	if (ret < 0)
		return ret;
	t1 = mono_ns();
	r->per_s = (double)n * 1e9 / (double)(t1 - t0);
	lat_summary(c->lat_ns, n, r);
	return 0;
}

static int bb_ping(redisContext *rc, uint64_t *lat, uint64_t n,
		   struct bb_result *r)
{
	uint64_t i, t0, t;
	redisReply *rep;

	t0 = mono_ns();
	for (i = 0; i < n; i++) {
		t = mono_ns();
		rep = redisCommand(rc, "PING");
		if (rep == NULL)
			return -EIO;
		freeReplyObject(rep);
		lat[i] = mono_ns() - t;
	}
	r->per_s = (double)n * 1e9 / (double)(mono_ns() - t0);
	lat_summary(lat, n, r);
	return 0;
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

static pid_t redis_spawn(const char *dir, const char *sock)
{
	struct timespec ts = { 0, 10 * 1000000L };
	unsigned int i;
	pid_t pid;
	int fd;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(REDIS_BIN, REDIS_BIN, "--port", "0", "--unixsocket", sock,
		      "--save", "", "--appendonly", "no", "--daemonize", "no",
		      "--dir", dir, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		if (sock_ready(sock))
			return pid;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static redisContext *redis_sync(const struct cxp_bank_url *u)
{
	return u->is_unix ? redisConnectUnix(u->path) :
	       redisConnect(u->host, u->port);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [--url URL] [--requests N] [--depth K] [--runs R]\n"
		"  --url URL      redis://ADDR[:PORT] or unix:/PATH (default: a private\n"
		"                 redis-server on a unix socket)\n"
		"  --requests N   grants per measurement (default 20000)\n"
		"  --depth K      tenants in flight when pipelined (default 32, max %u)\n"
		"  --runs R       repetitions; medians are printed (default 3)\n",
		CXP_BANK_TENANTS_MAX);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "requests", required_argument, NULL, 'n' },
		{ "depth", required_argument, NULL, 'd' },
		{ "runs", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const rows[4] = {
		"hiredis PING, blocking (baseline)",
		"bank, one at a time",
		"bank, pipelined",
		"bank, one at a time / PING",
	};
	double per_s[3][RUNS_MAX], med[3][RUNS_MAX], p99[3][RUNS_MAX];
	char dir[32] = "", sock[64], url[80], (*names)[32] = NULL;
	uint64_t n = 20000, depth = 32, runs = 3, *lat = NULL, *sent = NULL;
	struct cxp_bank_opts o;
	struct cxp_bank_url u;
	struct bb_result r;
	struct bb_ctx c;
	const char *url_arg = NULL;
	redisContext *rc = NULL;
	pid_t pid = -1;
	uint64_t i;
	int opt, ret = 1, k;

	while ((opt = getopt_long(argc, argv, "u:n:d:r:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'u':
			url_arg = optarg;
			break;
		case 'n':
			if (cx_parse_u64(optarg, 100, REQS_MAX, &n) < 0) {
				fprintf(stderr, PROG ": --requests: bad value '%s' (100..%llu)\n",
					optarg, (unsigned long long)REQS_MAX);
				return 2;
			}
			break;
		case 'd':
			if (cx_parse_u64(optarg, 2, CXP_BANK_TENANTS_MAX,
					 &depth) < 0) {
				fprintf(stderr, PROG ": --depth: bad value '%s' (2..%u)\n",
					optarg, CXP_BANK_TENANTS_MAX);
				return 2;
			}
			break;
		case 'r':
			if (cx_parse_u64(optarg, 1, RUNS_MAX, &runs) < 0) {
				fprintf(stderr, PROG ": --runs: bad value '%s' (1..%d)\n",
					optarg, RUNS_MAX);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	cx_log_init(PROG, true, CX_LOG_INFO);
	signal(SIGPIPE, SIG_IGN);

	if (url_arg == NULL) {
		snprintf(dir, sizeof(dir), "/tmp/cxbb.XXXXXX");
		if (mkdtemp(dir) == NULL) {
			perror(PROG ": mkdtemp");
			return 1;
		}
		snprintf(sock, sizeof(sock), "%s/r.sock", dir);
		snprintf(url, sizeof(url), "unix:%s", sock);
		url_arg = url;
		pid = redis_spawn(dir, sock);
		if (pid < 0) {
			fprintf(stderr, PROG ": cannot start " REDIS_BIN "\n");
			goto out_rmdir;
		}
	}
	if (cxp_bank_url_parse(url_arg, &u) < 0) {
		fprintf(stderr, PROG ": bad url '%s'\n", url_arg);
		goto out_stop;
	}

	memset(&c, 0, sizeof(c));
	lat = calloc(n, sizeof(*lat));
	sent = calloc(depth, sizeof(*sent));
	names = calloc(depth, sizeof(*names));
	if (lat == NULL || sent == NULL || names == NULL) {
		perror(PROG ": calloc");
		goto out_free;
	}
	for (i = 0; i < depth; i++)
		snprintf(names[i], sizeof(names[i]), "bench%" PRIu64, i);
	c.lat_ns = lat;
	c.sent_ns = sent;
	c.names = names;
	cxp_bank_opts_default(&o);
	o.tenants = (uint32_t)depth;
	o.timeout_ns = 1000 * MS;
	o.on_grant = bb_on_grant;
	o.arg = &c;
	c.bank = cxp_bank_new(url_arg, &o);
	if (c.bank == NULL) {
		perror(PROG ": cxp_bank_new");
		goto out_free;
	}
	rc = redis_sync(&u);
	if (rc == NULL || rc->err) {
		fprintf(stderr, PROG ": connect %s: %s\n", url_arg,
			rc ? rc->errstr : "out of memory");
		goto out_free;
	}
	for (i = 0; i < 500 && cxp_bank_state(c.bank) != CXP_BANK_UP; i++) {
		struct pollfd pfd = { cxp_bank_fd(c.bank),
				      cxp_bank_events(c.bank), 0 };

		poll(&pfd, pfd.fd >= 0 ? 1 : 0, 10);
		cxp_bank_io(c.bank, pfd.revents, mono_ns());
		cxp_bank_tick(c.bank, mono_ns());
	}
	if (cxp_bank_state(c.bank) != CXP_BANK_UP) {
		fprintf(stderr, PROG ": bank %s not up\n", url_arg);
		goto out_free;
	}

	/* Warm-up: the keys exist and the script is cached before timing. */
	if (bb_bank(&c, (uint32_t)depth, n < 1000 ? n : 1000, &r) < 0)
		goto err_run;
	for (i = 0; i < runs; i++) {
		if (bb_ping(rc, lat, n, &r) < 0)
			goto err_run;
		per_s[0][i] = r.per_s, med[0][i] = r.med_us, p99[0][i] = r.p99_us;
		if (bb_bank(&c, 1, n, &r) < 0)
			goto err_run;
		per_s[1][i] = r.per_s, med[1][i] = r.med_us, p99[1][i] = r.p99_us;
		if (bb_bank(&c, (uint32_t)depth, n, &r) < 0)
			goto err_run;
		per_s[2][i] = r.per_s, med[2][i] = r.med_us, p99[2][i] = r.p99_us;
	}
	for (k = 0; k < 3; k++) {
		qsort(per_s[k], runs, sizeof(double), cmp_double);
		qsort(med[k], runs, sizeof(double), cmp_double);
		qsort(p99[k], runs, sizeof(double), cmp_double);
	}
	printf("server %s, %" PRIu64 " requests x %" PRIu64
	       " runs (medians), pipelined depth %" PRIu64 "\n\n",
	       url_arg, n, runs, depth);
	printf("| %-34s | %10s | %10s | %10s |\n", "what", "per s",
	       "median us", "p99 us");
	printf("|%s|%s|%s|%s|\n", "------------------------------------",
	       "-----------:", "-----------:", "-----------:");
	for (k = 0; k < 3; k++)
		printf("| %-34s | %10.0f | %10.1f | %10.1f |\n", rows[k],
		       per_s[k][runs / 2], med[k][runs / 2], p99[k][runs / 2]);
	printf("| %-34s | %10.2f | %10.2f | %10.2f |\n", rows[3],
	       per_s[1][runs / 2] / per_s[0][runs / 2],
	       med[1][runs / 2] / med[0][runs / 2],
	       p99[1][runs / 2] / p99[0][runs / 2]);
	ret = 0;
	goto out_free;
err_run:
	fprintf(stderr, PROG ": run failed (bank %s)\n",
		cxp_bank_state(c.bank) == CXP_BANK_UP ? "up" : "down");
out_free:
	if (rc != NULL)
		redisFree(rc);
	cxp_bank_free(c.bank);
	free(names);
	free(sent);
	free(lat);
out_stop:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		unlink(sock);
	}
out_rmdir:
	if (dir[0] != '\0')
		rmdir(dir);
	return ret;
}
