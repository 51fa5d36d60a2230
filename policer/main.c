/*
 * conex-policer: per-tenant congestion policing on the sending hypervisor
 * (RFC 7713 §5.4.3, docs/wire.md §4), the VXLAN fallback for Not-ConEx
 * traffic with feedback from the far auditors (docs/wire.md §7), and one
 * allowance per tenant across hosts through a Redis token bank.
 * Options, setup, loop, reload and teardown; the decisions are
 * conex/police.h, the I/O common/nfq.c, net.c, feedback.c and bank.c.
 *
 *   conex-policer [--config FILE] [--foreground] [--debug]
 *   conex-policer --cleanup
 *   conex-policer stats [--json]
 *   conex-policer set-allowance TENANT RATE
 *   conex-policer reload
 *
 * Exit status: 0 ok, 1 runtime error, 2 usage or configuration error.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>


#include <conex/log.h>
#include <conex/parse.h>

#include "bank.h"
#include "common/conffile.h"
#include "common/ctl.h"
#include "common/daemon.h"
#include "common/metrics.h"
#include "common/opts.h"
#include "common/sig.h"
#include "metrics.h"
#include "net.h"
#include "policer.h"

#define EXIT_USAGE		2
#define TICK_MS			1000
#define BANK_TICK_MS		10	/* token requests and bank timers */
#define RESOLVE_EVERY_NS	(5ULL * 1000000000ULL)
#define SPOOF_LOG_BURST		5
#define SPOOF_LOG_INTERVAL_NS	(10ULL * 1000000000ULL)
/* Control socket conex-policer: one policer per network namespace. */
#define CTL_NAME		"conex-policer"
#define CTL_MSG_MAX		(64 * 1024)
#define RX_TURNS_MAX		64

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t reload_signal;

static const char usage_text[] =
	"usage: conex-policer [--config FILE] [--foreground] [--debug]\n"
	"       conex-policer --cleanup\n"
	"       conex-policer stats [--json]\n"
	"       conex-policer set-allowance TENANT RATE\n"
	"       conex-policer reload\n"
	"\n"
	"Sender-side ConEx congestion policer. Queues the traffic of the\n"
	"configured guest interfaces (NFQUEUE, iptables chain " POL_NET_CHAIN "),\n"
	"drains each tenant's congestion token bucket by the ConEx-marked bytes\n"
	"its guests send, steers their Not-ConEx traffic into a VXLAN tunnel\n"
	"whose far end feeds congestion back, and drops a tenant's packets\n"
	"with a rising probability while its bucket is empty. With `redis` in\n"
	"the configuration, every host shares each tenant's one allowance.\n"
	"SIGTERM or SIGINT removes the hooks and exits 0; SIGHUP reloads.\n"
	"\n"
	"  --config FILE   configuration file (default " POL_CONFIG_DEFAULT ")\n"
	"  --cleanup       remove hooks, routes and devices left by a crashed\n"
	"                  instance, then exit\n"
	"  --foreground    log to stderr instead of syslog\n"
	"  --debug         log debug messages too\n"
	"  --help          this text\n"
	"\n"
	"stats: print the running policer's counters and tenants (--json: one\n"
	"  JSON object).\n"
	"set-allowance TENANT RATE: change a tenant's allowance now, keeping its\n"
	"  bucket (until the next reload or restart reads the file again).\n"
	"reload: re-read the configuration file (as SIGHUP does); a file with an\n"
	"  error is refused whole and the running configuration stays.\n"
	"\n"
	"Exit status: 0 ok, 1 runtime error, 2 usage or configuration error.\n"
	"See conex-policer(8) and conex-policer.conf(5).\n";

uint64_t pol_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_signal = 1;
	else
		stop_signal = sig;
}

/* A client command: one request, the reply printed. */
static int client(const char *req, bool quiet_ok)
{
	static char buf[CTL_MSG_MAX];
	const struct cxd_ctl_client c = {
		"conex-policer", CTL_NAME,
		"no policer running in this network namespace", buf, sizeof(buf),
	};

	return cxd_ctl_ask(&c, req, NULL, quiet_ok ? CXD_CTL_F_QUIET_OK : 0);
}

static int cmd_client(int argc, char **argv)
{
	char req[CXD_CTL_REQ_MAX];
	uint64_t rate;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(argv[0], "stats") == 0) {
		if (argc == 1)
			return client("stats text", false);
		if (argc == 2 && (strcmp(argv[1], "--json") == 0 ||
				  strcmp(argv[1], "-j") == 0))
			return client("stats json", false);
	} else if (strcmp(argv[0], "set-allowance") == 0 && argc == 3) {
		if (cx_parse_rate(argv[2], &rate) < 0) {
			fprintf(stderr, "conex-policer: set-allowance: bad rate '%s' "
				"(e.g. 2mbit)\n", argv[2]);
			return EXIT_USAGE;
		}
		if (!cxd_conf_name_ok(argv[1], POL_NAME_MAX)) {
			fprintf(stderr, "conex-policer: set-allowance: bad tenant "
				"name '%s'\n", argv[1]);
			return EXIT_USAGE;
		}
		snprintf(req, sizeof(req), "set-allowance %s %llu", argv[1],
			 (unsigned long long)rate);
		return client(req, true);
	} else if (strcmp(argv[0], "reload") == 0 && argc == 1) {
		return client("reload", true);
	}
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}

static int load_config(struct pol_config *cfg, const char *path, char *err,
		       size_t errlen)
{
	pol_config_init(cfg);
	return pol_config_load(cfg, path, err, errlen);
}

/* Tenants' police parameters as the buckets use them. */
static void tenant_cfg(const struct pol_config *c, unsigned int i,
		       struct cx_police_cfg *pc)
{
	*pc = c->tenants[i].police;
	pc->share_ppm = c->bank_share_ppm;
}

int pol_apply(struct policer *pl, const struct pol_config *next,
	      uint64_t now_ns)
{
	static struct pol_tenant_rt old[POL_TENANTS_MAX];
	struct cx_police_cfg pc;
	unsigned int i;
	int j;

	memcpy(old, pl->tenants, sizeof(old));
	memset(pl->tenants, 0, sizeof(pl->tenants));
	for (i = 0; i < next->n_tenants; i++) {
		tenant_cfg(next, i, &pc);
		j = pol_config_tenant(&pl->cfg, next->tenants[i].name);
		if (j >= 0) {
			pl->tenants[i] = old[j];
			pl->tenants[i].bank_pending = false;
			cx_police_set_cfg(&pl->tenants[i].pol, &pc, now_ns);
		} else {
			cx_police_init(&pl->tenants[i].pol, &pc, pl->mode, now_ns);
		}
	}
	pl->cfg = *next;
	pol_dp_resolve(pl);
	return 0;
}

/* What a reload cannot change without a restart; NULL if nothing. */
static const char *restart_needed(const struct pol_config *a,
				  const struct pol_config *b)
{
	if (a->queue != b->queue || a->fail_open != b->fail_open)
		return "queue or failure_policy";
	if (a->host_id != b->host_id || a->local_family != b->local_family ||
	    memcmp(a->local_addr, b->local_addr, 16) != 0 ||
	    a->feedback_port != b->feedback_port || a->vxlan_port != b->vxlan_port ||
	    a->vni != b->vni || strcmp(a->tun_dev, b->tun_dev) != 0 ||
	    a->table != b->table || a->mark != b->mark || a->mark_mask != b->mark_mask)
		return "host_id, local or tunnel parameters";
	if (a->n_peers != b->n_peers ||
	    memcmp(a->peers, b->peers, a->n_peers * sizeof(a->peers[0])) != 0 ||
	    a->n_remotes != b->n_remotes ||
	    memcmp(a->remotes, b->remotes, a->n_remotes * sizeof(a->remotes[0])) != 0)
		return "peers or remotes";
	if (strcmp(a->redis_url, b->redis_url) != 0)
		return "redis";
	/* The endpoint keeps serving on its first address until a restart. */
	if (memcmp(&a->metrics, &b->metrics, sizeof(a->metrics)) != 0)
		return "metrics";
	return NULL;
}

static bool same_interfaces(const struct pol_config *a, const struct pol_config *b)
{
	unsigned int i;

	if (a->n_guests != b->n_guests)
		return false;
	for (i = 0; i < a->n_guests; i++)
		if (strcmp(a->guests[i].ifname, b->guests[i].ifname) != 0)
			return false;
	return true;
}

/*
 * Re-read the file. Anything wrong (syntax, a change that needs a restart,
 * hooks that cannot be installed) leaves the running configuration as it
 * was. Returns 0, or -1 with err set.
 */
static int reload(struct policer *pl, const char *path, char *err, size_t errlen)
{
	static struct pol_config next;
	const char *what;
	char msg[512];

	if (load_config(&next, path, err, errlen) < 0)
		goto fail;
	what = restart_needed(&pl->cfg, &next);
	if (what != NULL) {
		snprintf(err, errlen, "%s: %s changed: restart conex-policer to "
			 "apply", path, what);
		goto fail;
	}
	if (!same_interfaces(&pl->cfg, &next) &&
	    pol_net_guests(&pl->cfg, &next, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "hooks for the new guests: %.400s", msg);
		goto fail;
	}
	pol_apply(pl, &next, pol_now_ns());
	pl->st.reloads++;
	cx_log_info("configuration reloaded from %s: %u tenants, %u guests",
		    path, pl->cfg.n_tenants, pl->cfg.n_guests);
	return 0;
fail:
	pl->st.reload_errors++;
	cx_log_warnx("reload refused, configuration unchanged: %s", err);
	return -1;
}

static int set_allowance(struct policer *pl, const char *tenant,
			 const char *rate, char *reply, size_t len)
{
	struct cx_police_cfg pc;
	char a[CX_FORMAT_MAX], b[CX_FORMAT_MAX];
	uint64_t bps;
	int i;

	i = pol_config_tenant(&pl->cfg, tenant);
	if (i < 0)
		return snprintf(reply, len, "error: unknown tenant '%s'\n", tenant);
	if (cx_parse_u64(rate, 1, UINT64_MAX, &bps) < 0)
		return snprintf(reply, len, "error: usage: set-allowance TENANT RATE\n");
	pc = pl->cfg.tenants[i].police;
	pc.allowance_bps = bps;
	if (cx_police_cfg_check(&pc) < 0) {
		cx_format_rate(bps, a, sizeof(a));
		return snprintf(reply, len, "error: allowance %s out of range for "
				"tenant %s (burst and peak must fit it: see "
				"conex-policer.conf(5))\n", a, tenant);
	}
	cx_format_rate(pl->cfg.tenants[i].police.allowance_bps, a, sizeof(a));
	cx_format_rate(bps, b, sizeof(b));
	pl->cfg.tenants[i].police = pc;
	tenant_cfg(&pl->cfg, (unsigned int)i, &pc);
	cx_police_set_cfg(&pl->tenants[i].pol, &pc, pol_now_ns());
	pl->st.allowance_changes++;
	cx_log_info("tenant %s: allowance %s -> %s", tenant, a, b);
	return snprintf(reply, len, "ok\n");
}

/* What the control requests work on: the policer and its file. */
struct ctl_ctx {
	struct policer *pl;
	const char *path;
};

/*
 * The control requests: "stats|status json|text", "set-allowance TENANT
 * BPS", "reload".
 */
static int ctl_stats(void *arg, int argc, char **argv, char *buf, size_t len)
{
	const struct ctl_ctx *c = arg;

	(void)argc;
	return pol_stats_format(c->pl, pol_now_ns(), argv[1][0] == 'j', buf, len);
}

static int ctl_status(void *arg, int argc, char **argv, char *buf, size_t len)
{
	const struct ctl_ctx *c = arg;

	(void)argc;
	return pol_status_format(c->pl, pol_now_ns(), argv[1][0] == 'j', c->path,
				 buf, len);
}

static int ctl_set_allowance(void *arg, int argc, char **argv, char *buf,
			     size_t len)
{
	const struct ctl_ctx *c = arg;

	(void)argc;
	return set_allowance(c->pl, argv[1], argv[2], buf, len);
}

static int ctl_reload(void *arg, int argc, char **argv, char *buf, size_t len)
{
	const struct ctl_ctx *c = arg;
	char err[512];

	(void)argc;
	(void)argv;
	if (reload(c->pl, c->path, err, sizeof(err)) < 0)
		return snprintf(buf, len, "error: %s\n", err);
	return snprintf(buf, len, "ok\n");
}

/* Tenants' allowances and traffic: root only (common/ctl.c). */
static const struct cxd_ctl_cmd ctl_cmds[] = {
	{ "stats", 1, 1, true, ctl_stats },
	{ "status", 1, 1, true, ctl_status },
	{ "set-allowance", 2, 2, false, ctl_set_allowance },
	{ "reload", 0, 0, false, ctl_reload },
};

static void serve_ctl(struct policer *pl, const char *path,
		      const struct pollfd *pfd)
{
	static char buf[CTL_MSG_MAX];
	struct ctl_ctx c = { pl, path };

	cxd_ctl_serve(pl->ctl, pfd, pol_now_ns(), ctl_cmds,
		      sizeof(ctl_cmds) / sizeof(ctl_cmds[0]), &c, buf, sizeof(buf));
}

/* The loop's poll slots. */
enum {
	PFD_NFQ,
	PFD_FB,
	PFD_BANK,
	PFD_CTL,
	PFD_N = PFD_CTL + CXD_CTL_POLLFDS,
};

/*
 * Single-threaded loop. SIGINT/SIGTERM/SIGHUP stay blocked except inside
 * ppoll(), so none is lost between the flag test and the sleep.
 */
static int run(struct policer *pl, const char *path, const sigset_t *waitmask)
{
	struct pollfd pfd[PFD_N];
	uint64_t now_ns, next_resolve_ns = 0;
	struct timespec ts;
	char err[512];
	int turn, ret, ms;

	while (!stop_signal) {
		for (turn = 0; turn < RX_TURNS_MAX; turn++) {
			ret = cxd_nfq_receive(pl->nfq);
			if (ret < 0) {
				cx_log_warnx("nfqueue receive: %s", strerror(-ret));
				return EXIT_FAILURE;
			}
			if (ret == 0)
				break;
		}
		ret = cxd_nfq_flush(pl->nfq);
		if (ret < 0) {
			cx_log_warnx("nfqueue verdict: %s", strerror(-ret));
			return EXIT_FAILURE;
		}
		now_ns = pol_now_ns();
		pol_fb_receive(pl, now_ns);
		pol_bank_tick(pl, now_ns);
		pol_state_tick(pl, now_ns, false);
		cxd_metrics_tick(pl->metrics, now_ns);
		if (now_ns >= next_resolve_ns) {
			pol_dp_resolve(pl);
			next_resolve_ns = now_ns + RESOLVE_EVERY_NS;
		}
		if (reload_signal) {
			reload_signal = 0;
			(void)reload(pl, path, err, sizeof(err));
		}
		cxd_sig_poll(waitmask);
		if (stop_signal)
			break;
		pfd[PFD_NFQ] = (struct pollfd){ .fd = cxd_nfq_fd(pl->nfq), .events = POLLIN };
		pfd[PFD_FB] = (struct pollfd){ .fd = pl->fb_fd, .events = POLLIN };
		pfd[PFD_BANK] = (struct pollfd){
			.fd = pl->bank ? cxp_bank_fd(pl->bank) : -1,
			.events = pl->bank ? cxp_bank_events(pl->bank) : 0,
		};
		cxd_ctl_pollfds(pl->ctl, &pfd[PFD_CTL]);
		ms = turn == RX_TURNS_MAX ? 0 : pl->bank ? BANK_TICK_MS : TICK_MS;
		ms = cxd_ctl_timeout_ms(pl->ctl, pol_now_ns(), ms);
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (long)(ms % 1000) * 1000000L;
		ret = ppoll(pfd, PFD_N, &ts, waitmask);
		if (ret < 0 && errno != EINTR) {
			cx_log_warn("ppoll");
			return EXIT_FAILURE;
		}
		/* Every turn: it also drops clients whose request is late. */
		serve_ctl(pl, path, &pfd[PFD_CTL]);
		if (ret <= 0)
			continue;
		if (pfd[PFD_FB].revents & POLLIN)
			pol_fb_receive(pl, pol_now_ns());
		if (pl->bank && pfd[PFD_BANK].revents)
			cxp_bank_io(pl->bank, pfd[PFD_BANK].revents, pol_now_ns());
	}
	cx_log_info("signal %d: removing hooks and unbinding", (int)stop_signal);
	pol_state_tick(pl, pol_now_ns(), true);
	return 0;
}

static void log_start(const struct policer *pl)
{
	char rate[CX_FORMAT_MAX], burst[CX_FORMAT_MAX];
	unsigned int i;

	cx_log_info("policing queue %u, %s, %u tenants, %u guests, tunnel %s, "
		    "token bank %s, host id %u", pl->cfg.queue,
		    pl->cfg.fail_open ? "fail-open" : "fail-closed",
		    pl->cfg.n_tenants, pl->cfg.n_guests,
		    pl->fb_fd >= 0 ? pl->cfg.tun_dev : "off",
		    pl->cfg.redis_url[0] ? pl->cfg.redis_url : "off (local buckets)",
		    pl->cfg.host_id);
	for (i = 0; i < pl->cfg.n_tenants; i++) {
		cx_format_rate(pl->cfg.tenants[i].police.allowance_bps, rate, sizeof(rate));
		cx_format_size(pl->cfg.tenants[i].police.burst_bytes, burst, sizeof(burst));
		cx_log_info("tenant %s: allowance %s burst %s", pl->cfg.tenants[i].name,
			    rate, burst);
	}
	for (i = 0; i < pl->cfg.n_guests; i++)
		cx_log_info("guest %s: tenant %s%s", pl->cfg.guests[i].ifname,
			    pl->cfg.tenants[pl->cfg.guests[i].tenant].name,
			    pl->guest_ifindex[i] ? "" : " (interface absent for now)");
}

int main(int argc, char **argv)
{
	struct cxd_nfq_config nfq_cfg;
	static struct pol_config cfg;
	struct policer *pl;
	struct cxd_opts opts = { .config = POL_CONFIG_DEFAULT };
	sigset_t waitmask;
	char err[1024];
	uint64_t now_ns;
	int ch, ret;

	if (argc > 1 && (strcmp(argv[1], "stats") == 0 ||
			 strcmp(argv[1], "set-allowance") == 0 ||
			 strcmp(argv[1], "reload") == 0))
		return cmd_client(argc - 1, argv + 1);
	ret = cxd_opts_parse(argc, argv, "conex-policer", usage_text, &opts);
	if (ret >= 0)
		return ret;
	if (opts.cleanup) {
		if (pol_net_cleanup_all(err, sizeof(err)) < 0) {
			fprintf(stderr, "conex-policer: cleanup: %s\n", err);
			return EXIT_FAILURE;
		}
		return 0;
	}
	if (load_config(&cfg, opts.config, err, sizeof(err)) < 0) {
		fprintf(stderr, "conex-policer: %s\n", err);
		return EXIT_USAGE;
	}
	pl = calloc(1, sizeof(*pl));
	if (pl == NULL) {
		fprintf(stderr, "conex-policer: out of memory\n");
		return EXIT_FAILURE;
	}
	pl->fb_fd = -1;
	ret = EXIT_FAILURE;
	cx_log_init("conex-policer", opts.foreground, opts.debug ? CX_LOG_DEBUG : CX_LOG_INFO);

	/* The lock comes first: a second instance must not touch the hooks. */
	if (cxd_daemon_start(&pl->ctl, "conex-policer", CTL_NAME, &waitmask,
			     on_signal) < 0)
		goto out_free;
	if (getrandom(&pl->rand_state, sizeof(pl->rand_state), 0) !=
	    (ssize_t)sizeof(pl->rand_state)) {
		cx_log_warn("getrandom");
		goto out_close_ctl;
	}
	pl->rand_state |= 1;	/* xorshift's one forbidden state is 0 */
	now_ns = pl->start_mono_ns = pol_now_ns();
	cx_log_ratelimit_init(&pl->spoof_rl, SPOOF_LOG_BURST, SPOOF_LOG_INTERVAL_NS,
			      now_ns);
	pl->mode = cfg.redis_url[0] ? CX_POLICE_SHARE : CX_POLICE_LOCAL;
	pl->cfg.n_tenants = 0;
	pol_apply(pl, &cfg, now_ns);
	/* A restart must not refill every bucket. */
	pol_state_start(pl, now_ns);
	ret = pol_fb_open(pl);
	if (ret < 0) {
		errno = -ret;
		cx_log_warn("feedback socket (port %u)", pl->cfg.feedback_port);
		ret = EXIT_FAILURE;
		goto out_fb;
	}
	ret = pol_bank_open(pl, now_ns);
	if (ret < 0) {
		errno = -ret;
		cx_log_warn("token bank %s", pl->cfg.redis_url);
		ret = EXIT_FAILURE;
		goto out_fb;
	}
	ret = EXIT_FAILURE;
	pl->nfq = calloc(1, sizeof(*pl->nfq));
	if (pl->nfq == NULL) {
		cx_log_warnx("out of memory");
		goto out_bank;
	}
	cxd_nfq_config_default(&nfq_cfg);
	nfq_cfg.queue_first = pl->cfg.queue;
	nfq_cfg.fail_open = pl->cfg.fail_open;
	ch = cxd_nfq_open(pl->nfq, &nfq_cfg, pol_dp_packet, pl);
	if (ch < 0) {
		cx_log_warnx("bind NFQUEUE %u: %s", pl->cfg.queue, strerror(-ch));
		goto out_close_nfq;
	}
	if (pol_metrics_start(pl, pol_now_ns()) < 0)
		goto out_close_nfq;
	/* Removes what a crashed instance left, then installs. */
	if (pol_net_install(&pl->cfg, err, sizeof(err)) < 0) {
		cx_log_warnx("hooks: %s", err);
		goto out_close_nfq;
	}
	log_start(pl);
	/* The line tests and scripts wait for: always on stderr. */
	fprintf(stderr, "conex-policer: ready on queue %u\n", pl->cfg.queue);
	fflush(stderr);

	ret = run(pl, opts.config, &waitmask);

	/* Reverse order: no new packets, then the queue goes. */
	if (pol_net_cleanup(&pl->cfg, err, sizeof(err)) < 0) {
		cx_log_warnx("removing hooks: %s", err);
		ret = EXIT_FAILURE;
	}
out_close_nfq:
	cxd_metrics_stop(pl->metrics);
	cxd_nfq_close(pl->nfq);
	free(pl->nfq);
out_bank:
	pol_bank_close(pl);
out_fb:
	pol_fb_close(pl);
out_close_ctl:
	cxd_ctl_free(pl->ctl);
out_free:
	free(pl);
	return ret;
}
