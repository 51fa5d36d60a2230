/*
 * conex-auditor: the receiver-side ConEx audit (RFC 7713 §3.2, §5.5;
 * docs/wire.md §4) and tunnel-egress feedback (docs/wire.md §7). Options, setup,
 * loop and teardown; the decisions are conex/audit.h, the I/O common/nfq.c,
 * rules.c, tunnel.c and common/ctl.c.
 *
 *   conex-auditor [--config FILE] [--foreground] [--debug]
 *   conex-auditor --cleanup
 *   conex-auditor stats [--json]
 *   conex-auditor reload
 *
 * Exit status: 0 ok, 1 runtime error, 2 usage or configuration error.
 */
#include <errno.h>
#include <getopt.h>
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

#include "auditor.h"
#include "common/ctl.h"
#include "common/daemon.h"
#include "common/metrics.h"
#include "common/opts.h"
#include "common/sig.h"
#include "metrics.h"
#include "rules.h"

#define EXIT_USAGE		2
#define TICK_MS			1000
#define RESOLVE_EVERY_NS	(5ULL * 1000000000ULL)
#define SANCTION_LOG_BURST	10
#define SANCTION_LOG_INTERVAL_NS	(1000000000ULL)
/* Control socket conex-auditor: one auditor per network namespace. */
#define CTL_NAME		"conex-auditor"
#define CTL_MSG_MAX		(64 * 1024)
/* Turns of reading before the loop looks at timers and the control socket. */
#define RX_TURNS_MAX		64

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t reload_signal;

static const char usage_text[] =
	"usage: conex-auditor [--config FILE] [--foreground] [--debug]\n"
	"       conex-auditor --cleanup\n"
	"       conex-auditor stats [--json]\n"
	"       conex-auditor reload\n"
	"\n"
	"Receiver-side ConEx auditor. Queues forwarded traffic to the configured\n"
	"guest interfaces (NFQUEUE, iptables chain " AUD_CHAIN "), audits declared\n"
	"against observed congestion per flow and drops packets of flows that\n"
	"under-declare. Counts outer CE of VXLAN traffic from configured peers and\n"
	"sends them authenticated feedback. SIGTERM or SIGINT removes the rules\n"
	"and exits 0; SIGHUP reloads.\n"
	"\n"
	"  --config FILE   configuration file (default " AUD_CONFIG_DEFAULT ")\n"
	"  --cleanup       remove rules left by a crashed instance, then exit\n"
	"  --foreground    log to stderr instead of syslog\n"
	"  --debug         log debug messages too\n"
	"  --help          this text\n"
	"\n"
	"stats: print the running auditor's counters (--json: one JSON object).\n"
	"reload: re-read the configuration file (as SIGHUP does): guests, peers\n"
	"  and feedback_interval change, flow state stays; a file with an error,\n"
	"  or a change that needs a restart, is refused whole.\n"
	"conexctl(8) shows status and the top flows.\n"
	"\n"
	"Exit status: 0 ok, 1 runtime error, 2 usage or configuration error.\n"
	"See conex-auditor(8) and conex-auditor.conf(5).\n";

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_signal = 1;
	else
		stop_signal = sig;
}

/* The running auditor's control socket, for the commands below. */
static int ask(const char *req, const char *what, unsigned int flags)
{
	static char buf[CTL_MSG_MAX];
	const struct cxd_ctl_client c = {
		"conex-auditor", CTL_NAME,
		"no auditor running in this network namespace", buf, sizeof(buf),
	};

	return cxd_ctl_ask(&c, req, what, flags);
}

/* `conex-auditor reload`: the running auditor re-reads its file. */
static int cmd_reload(int argc, char **argv)
{
	if (argc != 1) {
		fprintf(stderr, "conex-auditor: reload: unexpected argument '%s'\n",
			argv[1]);
		return EXIT_USAGE;
	}
	return ask("reload", "reload", CXD_CTL_F_QUIET_OK | CXD_CTL_F_OK_ONLY);
}

static int cmd_stats(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	int ch, ret;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = true;
			break;
		default:
			return cxd_opts_help(ch, usage_text);
		}
	}
	ret = cxd_opts_done(argc, argv, "conex-auditor", "stats", NULL);
	if (ret >= 0)
		return ret;
	/* Any reply goes to stdout with exit 0, an "error: " one too. */
	return ask(json ? "stats json" : "stats text", "stats", 0);
}

/* Whether the iptables rules (guest interfaces, peer addresses) differ. */
static bool rules_differ(const struct aud_config *a, const struct aud_config *b)
{
	unsigned int i;

	if (a->n_guests != b->n_guests || a->n_peers != b->n_peers)
		return true;
	for (i = 0; i < a->n_guests; i++)
		if (strcmp(a->guests[i].ifname, b->guests[i].ifname) != 0)
			return true;
	for (i = 0; i < a->n_peers; i++)
		if (a->peers[i].family != b->peers[i].family ||
		    memcmp(a->peers[i].addr, b->peers[i].addr, 16) != 0)
			return true;
	return false;
}

/*
 * Re-read the file, as the policer does. The audit tables are not
 * touched, so flows keep their balances; anything wrong (syntax, a
 * change that needs a restart, rules that cannot be installed) leaves the
 * running configuration as it was. Returns 0, or -1 with err set.
 */
static int reload(struct auditor *a, char *err, size_t errlen)
{
	static struct aud_config next;
	struct aud_tun_peer *peers = NULL;
	const char *what;
	char msg[512];
	int ret;

	aud_config_init(&next);
	if (aud_config_load(&next, a->config_path, err, errlen) < 0)
		goto fail;
	if (aud_config_check(&next, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "%s: %.300s", a->config_path, msg);
		goto fail;
	}
	what = aud_config_restart_needed(&a->cfg, &next);
	if (what != NULL) {
		snprintf(err, errlen, "%s: %s changed: restart conex-auditor to "
			 "apply", a->config_path, what);
		goto fail;
	}
	ret = aud_tun_reconfig_prepare(&a->tun, &next, &peers);
	if (ret < 0) {
		snprintf(err, errlen, "feedback peers: %s", strerror(-ret));
		goto fail;
	}
	if (rules_differ(&a->cfg, &next) &&
	    aud_rules_install(&next, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "rules for the new guests or peers: %.400s", msg);
		free(peers);
		/* Put the old rules back; their failure is logged. */
		if (aud_rules_install(&a->cfg, msg, sizeof(msg)) < 0)
			cx_log_warnx("restoring the previous rules: %s", msg);
		goto fail;
	}
	a->cfg = next;
	aud_tun_reconfig_commit(&a->tun, peers, &a->cfg, aud_now_ns());
	aud_dp_resolve(a);
	a->reloads++;
	cx_log_info("configuration reloaded from %s: %u guests, %u peers, "
		    "feedback every %llu ms", a->config_path, a->cfg.n_guests,
		    a->cfg.n_peers,
		    (unsigned long long)(a->cfg.feedback_interval_ns / 1000000ULL));
	return 0;
fail:
	a->reload_errors++;
	cx_log_warnx("reload refused, configuration unchanged: %s", err);
	return -1;
}

/* The control requests: "stats|status json|text", "flows N [json|text]", "reload". */
static int ctl_stats(void *ctx, int argc, char **argv, char *buf, size_t len)
{
	(void)argc;
	return aud_stats_format(ctx, aud_now_ns(), argv[1][0] == 'j', buf, len);
}

static int ctl_status(void *ctx, int argc, char **argv, char *buf, size_t len)
{
	(void)argc;
	return aud_status_format(ctx, aud_now_ns(), argv[1][0] == 'j', buf, len);
}

/* N in 1..AUD_FLOWS_TOP_MAX. */
static int ctl_flows(void *ctx, int argc, char **argv, char *buf, size_t len)
{
	uint64_t n;
	int json = 1;

	if (argc == 3 && strcmp(argv[2], "text") == 0)
		json = 0;
	else if (argc == 3 && strcmp(argv[2], "json") != 0)
		return snprintf(buf, len, "error: usage: flows N [json|text]\n");
	if (cx_parse_u64(argv[1], 1, AUD_FLOWS_TOP_MAX, &n) < 0)
		return snprintf(buf, len, "error: usage: flows: N must be a number "
				"in 1..%u\n", AUD_FLOWS_TOP_MAX);
	return aud_flows_format(ctx, (unsigned int)n, json, buf, len);
}

static int ctl_reload(void *ctx, int argc, char **argv, char *buf, size_t len)
{
	char err[512];

	(void)argc;
	(void)argv;
	if (reload(ctx, err, sizeof(err)) < 0)
		return snprintf(buf, len, "error: %s\n", err);
	return snprintf(buf, len, "ok\n");
}

/* Flows name tenants' peers and traffic: root only (common/ctl.c). */
static const struct cxd_ctl_cmd ctl_cmds[] = {
	{ "stats", 1, 1, true, ctl_stats },
	{ "status", 1, 1, true, ctl_status },
	{ "flows", 1, 2, false, ctl_flows },
	{ "reload", 0, 0, false, ctl_reload },
};

static void serve_ctl(struct auditor *a, const struct pollfd *pfd)
{
	static char buf[CTL_MSG_MAX];

	cxd_ctl_serve(a->ctl, pfd, aud_now_ns(), ctl_cmds,
		      sizeof(ctl_cmds) / sizeof(ctl_cmds[0]),
		      a, buf, sizeof(buf));
}

/* The loop's poll slots. */
enum {
	PFD_NFQ,
	PFD_CTL,
	PFD_N = PFD_CTL + CXD_CTL_POLLFDS,
};

/*
 * Single-threaded loop. SIGINT/SIGTERM stay blocked except inside ppoll(),
 * so a signal between the flag test and the sleep is not lost; a busy
 * queue that never sleeps checks sigpending() every turn.
 */
static int run(struct auditor *a, const sigset_t *waitmask)
{
	struct pollfd pfd[PFD_N];
	uint64_t now_ns, next_resolve_ns = 0;
	struct timespec ts;
	char err[512];
	int turn, ret, ms;

	while (!stop_signal) {
		for (turn = 0; turn < RX_TURNS_MAX; turn++) {
			ret = cxd_nfq_receive(a->nfq);
			if (ret < 0) {
				cx_log_warnx("nfqueue receive: %s", strerror(-ret));
				return EXIT_FAILURE;
			}
			if (ret == 0)
				break;
		}
		/* Never hold a packet while doing anything else. */
		ret = cxd_nfq_flush(a->nfq);
		if (ret < 0) {
			cx_log_warnx("nfqueue verdict: %s", strerror(-ret));
			return EXIT_FAILURE;
		}
		now_ns = aud_now_ns();
		aud_tun_tick(&a->tun, now_ns);
		aud_state_tick(a, now_ns, false);
		cxd_metrics_tick(a->metrics, now_ns);
		if (now_ns >= next_resolve_ns) {
			aud_dp_resolve(a);
			next_resolve_ns = now_ns + RESOLVE_EVERY_NS;
		}
		if (reload_signal) {
			reload_signal = 0;
			(void)reload(a, err, sizeof(err));
		}
		cxd_sig_poll(waitmask);
		if (stop_signal)
			break;
		ms = turn == RX_TURNS_MAX ? 0 : aud_tun_timeout_ms(&a->tun, now_ns);
		if (ms < 0 || ms > TICK_MS)
			ms = TICK_MS;
		ms = cxd_ctl_timeout_ms(a->ctl, aud_now_ns(), ms);
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (long)(ms % 1000) * 1000000L;
		pfd[PFD_NFQ] = (struct pollfd){ .fd = cxd_nfq_fd(a->nfq), .events = POLLIN };
		cxd_ctl_pollfds(a->ctl, &pfd[PFD_CTL]);
		ret = ppoll(pfd, PFD_N, &ts, waitmask);
		if (ret < 0 && errno != EINTR) {
			cx_log_warn("ppoll");
			return EXIT_FAILURE;
		}
		/* Every turn: it also drops clients whose request is late. */
		serve_ctl(a, &pfd[PFD_CTL]);
	}
	cx_log_info("signal %d: removing rules and unbinding", (int)stop_signal);
	aud_state_tick(a, aud_now_ns(), true);
	return 0;
}

/* Here, not in datapath.c, so that tests give the verdict their own clock. */
uint64_t aud_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int load_config(struct aud_config *cfg, const char *path)
{
	char err[512];

	aud_config_init(cfg);
	if (aud_config_load(cfg, path, err, sizeof(err)) < 0 ||
	    aud_config_check(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "conex-auditor: %s\n", err);
		return EXIT_USAGE;
	}
	return 0;
}

static void log_start(const struct auditor *a)
{
	unsigned int i;

	cx_log_info("auditing queue %u, %s, %u guests, %u flows, %u peers, "
		    "feedback every %llu ms, host id %u", a->cfg.queue,
		    a->cfg.fail_open ? "fail-open" : "fail-closed",
		    a->cfg.n_guests, a->cfg.audit.flow_capacity, a->cfg.n_peers,
		    (unsigned long long)(a->cfg.feedback_interval_ns / 1000000ULL),
		    a->cfg.host_id);
	for (i = 0; i < a->cfg.n_guests; i++)
		cx_log_info("guest %s: tenant %s%s", a->cfg.guests[i].ifname,
			    a->cfg.guests[i].tenant,
			    a->guest_ifindex[i] ? "" : " (interface absent for now)");
}

int main(int argc, char **argv)
{
	struct cxd_nfq_config nfq_cfg;
	struct cx_siphash_key sk;
	struct auditor *a;
	struct cxd_opts opts = { .config = AUD_CONFIG_DEFAULT };
	sigset_t waitmask;
	char err[512];
	int ch, ret;

	if (argc > 1 && strcmp(argv[1], "stats") == 0)
		return cmd_stats(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "reload") == 0)
		return cmd_reload(argc - 1, argv + 1);
	ret = cxd_opts_parse(argc, argv, "conex-auditor", usage_text, &opts);
	if (ret >= 0)
		return ret;
	if (opts.cleanup) {
		if (aud_rules_remove(err, sizeof(err)) < 0) {
			fprintf(stderr, "conex-auditor: cleanup: %s\n", err);
			return EXIT_FAILURE;
		}
		return 0;
	}

	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		fprintf(stderr, "conex-auditor: out of memory\n");
		return EXIT_FAILURE;
	}
	a->tun.fd4 = a->tun.fd6 = -1;
	a->config_path = opts.config;
	ret = load_config(&a->cfg, opts.config);
	if (ret)
		goto out_free;
	ret = EXIT_FAILURE;
	cx_log_init("conex-auditor", opts.foreground, opts.debug ? CX_LOG_DEBUG : CX_LOG_INFO);

	/* The lock comes first: a second instance must not touch the rules. */
	if (cxd_daemon_start(&a->ctl, "conex-auditor", CTL_NAME, &waitmask,
			     on_signal) < 0)
		goto out_free;
	if (getrandom(&sk, sizeof(sk), 0) != (ssize_t)sizeof(sk) ||
	    getrandom(&a->rand_state, sizeof(a->rand_state), 0) !=
	    (ssize_t)sizeof(a->rand_state)) {
		cx_log_warn("getrandom");
		goto out_close_ctl;
	}
	a->rand_state |= 1;	/* xorshift's one forbidden state is 0 */
	a->start_mono_ns = aud_now_ns();
	cx_log_ratelimit_init(&a->sanction_rl, SANCTION_LOG_BURST,
			      SANCTION_LOG_INTERVAL_NS, a->start_mono_ns);
	a->audit = cx_audit_new(&a->cfg.audit, &sk);
	if (a->audit == NULL) {
		cx_log_warn("audit tables (%zu bytes)",
			    cx_audit_mem_size(&a->cfg.audit));
		goto out_close_ctl;
	}
	/* A restart must not forgive the sources' debts. */
	aud_state_start(a, a->start_mono_ns);
	ret = aud_tun_init(&a->tun, &a->cfg, realtime_ns(), a->start_mono_ns);
	if (ret < 0) {
		errno = -ret;
		cx_log_warn("tunnel feedback sockets");
		ret = EXIT_FAILURE;
		goto out_fini_tun;
	}
	ret = EXIT_FAILURE;
	a->nfq = calloc(1, sizeof(*a->nfq));
	if (a->nfq == NULL) {
		cx_log_warnx("out of memory");
		goto out_fini_tun;
	}
	aud_dp_resolve(a);
	cxd_nfq_config_default(&nfq_cfg);
	nfq_cfg.queue_first = a->cfg.queue;
	nfq_cfg.fail_open = a->cfg.fail_open;
	ch = cxd_nfq_open(a->nfq, &nfq_cfg, aud_dp_packet, a);
	if (ch < 0) {
		cx_log_warnx("bind NFQUEUE %u: %s", a->cfg.queue, strerror(-ch));
		goto out_close_nfq;
	}
	if (aud_metrics_start(a, aud_now_ns()) < 0)
		goto out_close_nfq;
	/* Removes what a crashed instance left, then installs. */
	if (aud_rules_install(&a->cfg, err, sizeof(err)) < 0) {
		cx_log_warnx("rules: %s", err);
		goto out_close_nfq;
	}
	log_start(a);
	/* The line tests and scripts wait for: always on stderr. */
	fprintf(stderr, "conex-auditor: ready on queue %u\n", a->cfg.queue);
	fflush(stderr);

	ret = run(a, &waitmask);

	/* Reverse order: no new packets, then the queue goes. */
	if (aud_rules_remove(err, sizeof(err)) < 0) {
		cx_log_warnx("removing rules: %s", err);
		ret = EXIT_FAILURE;
	}
out_close_nfq:
	cxd_metrics_stop(a->metrics);
	cxd_nfq_close(a->nfq);
	free(a->nfq);
out_fini_tun:
	aud_tun_fini(&a->tun);
	cx_audit_free(a->audit);
out_close_ctl:
	cxd_ctl_free(a->ctl);
out_free:
	free(a);
	return ret;
}
