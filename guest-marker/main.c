/*
 * conex-marker: the guest-side ConEx marker (RFC 7786 sender, RFC 7837 CDO,
 * docs/wire.md §3 IPv4 encoding). Options, setup, loop and teardown; the
 * datapath is datapath.c and marker.bpf.c, the decisions conex/gauge.h.
 *
 *   conex-marker [--config FILE] [--dev IFACE] [--foreground] [--debug]
 *   conex-marker stats [--dev IFACE] [--config FILE] [--json]
 *   conex-marker reload [--dev IFACE] [--config FILE]
 *
 * Exit status: 0 ok, 1 runtime error, 2 usage or configuration error.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <conex/log.h>
#include <conex/parse.h>

#include "common/ctl.h"
#include "common/opts.h"
#include "common/sig.h"
#include "accecn.h"
#include "config.h"
#include "datapath.h"
#include "stats.h"

#define EXIT_USAGE	2
#define TICK_MS		1000
#define REAP_EVERY_NS	(5ULL * 1000000000ULL)
/* Control socket conex-marker.<ifname>: one marker per interface and namespace. */
#define CTL_PREFIX	"conex-marker."
#define CTL_NAME_MAX	(sizeof(CTL_PREFIX) + IF_NAMESIZE)
#define CTL_MSG_MAX	4096

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t reload_signal;

struct marker_ctx {
	struct cxm_config cfg;
	struct cxm_dp dp;
	struct cxm_accecn accecn;	/* `accecn yes`: cx_accecn registered */
	struct cxd_ctl *ctl;		/* control socket (common/ctl.h) */
	uint64_t next_reap_ns;
	const char *conf_path;		/* --config, or NULL for the default */
	const char *dev;		/* --dev, or NULL */
	struct cxm_daemon_counters dc;
};

static const char usage_text[] =
	"usage: conex-marker [--config FILE] [--dev IFACE] [--foreground] [--debug]\n"
	"       conex-marker stats [--dev IFACE] [--config FILE] [--json]\n"
	"       conex-marker reload [--dev IFACE] [--config FILE]\n"
	"\n"
	"Guest-side ConEx marker. Attaches tc-BPF programs (tcx links) to IFACE:\n"
	"every outgoing TCP payload packet is stamped ConEx-capable (X), and with\n"
	"L, E or C as the connection's RFC 7786 gauges require (retransmissions,\n"
	"ECN-Echo feedback, credit). IPv6 packets get the RFC 7837 Destination\n"
	"Option; IPv4 packets the ID-field encoding of atomic packets. Stays in\n"
	"the foreground; SIGTERM or SIGINT detaches and exits 0, SIGHUP reloads.\n"
	"If the marker dies, the kernel detaches its programs and traffic flows\n"
	"unmarked. With 'accecn yes' it also registers the cx_accecn congestion\n"
	"control (CUBIC negotiating AccECN, RFC 9768) and makes it the network\n"
	"namespace's default until it exits.\n"
	"\n"
	"  --config FILE   configuration file (default " CXM_CONFIG_DEFAULT ",\n"
	"                  built-in defaults if that does not exist)\n"
	"  --dev IFACE     interface to mark on (overrides 'interface')\n"
	"  --foreground    log to stderr instead of syslog\n"
	"  --debug         log debug messages too\n"
	"  --help          this text\n"
	"\n"
	"stats: print the running marker's counters (packets and bytes marked per\n"
	"  flag, flows tracked, gauge sums, skipped packets by reason); --json\n"
	"  prints one JSON object.\n"
	"reload: make the running marker re-read its configuration file (as\n"
	"  SIGHUP does), keeping its connections; a file with an error, or a\n"
	"  changed interface or flow_table_size, is refused whole and the\n"
	"  running configuration stays.\n"
	"stats and reload find the marker by its interface: --dev, else the\n"
	"  'interface' of --config FILE (default " CXM_CONFIG_DEFAULT ").\n"
	"  The control socket is root-only.\n"
	"\n"
	"Exit status: 0 ok, 1 runtime error, 2 usage or configuration error.\n"
	"See conex-marker(8) and conex-marker.conf(5).\n";

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_signal = 1;
	else
		stop_signal = sig;
}

static uint64_t now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The file a load reads: --config, else the default if it exists, else none. */
static const char *config_file(const char *path)
{
	if (path)
		return path;
	return access(CXM_CONFIG_DEFAULT, F_OK) == 0 ? CXM_CONFIG_DEFAULT : NULL;
}

/*
 * Configuration from file and command line, as at start-up and at every
 * reload: an explicit --config must exist; the default path may be
 * absent (built-in defaults); --dev overrides the file's interface.
 * 0, or -1 with err set.
 */
static int load_config(struct cxm_config *cfg, const char *path, const char *dev,
		       char *err, size_t errlen)
{
	const char *file = config_file(path);
	char msg[400];

	cxm_config_init(cfg);
	if (file && cxm_config_load(cfg, file, err, errlen) < 0)
		return -1;
	if (dev && cxm_config_set(cfg, "interface", dev, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "--dev: %s", msg);
		return -1;
	}
	if (!cfg->ipv4 && !cfg->ipv6) {
		snprintf(err, errlen, "%s: ipv4 and ipv6 both off: nothing to mark",
			 file ? file : "configuration");
		return -1;
	}
	return 0;
}

/* One request to the marker on ifname; the reply printed. */
static int client(const char *ifname, const char *req, bool quiet_ok)
{
	char buf[CTL_MSG_MAX], name[CTL_NAME_MAX], absent[IF_NAMESIZE + 64];
	const struct cxd_ctl_client c = { "conex-marker", name, absent, buf, sizeof(buf) };

	snprintf(name, sizeof(name), "%s%s", CTL_PREFIX, ifname);
	snprintf(absent, sizeof(absent), "no marker running on %s (in this "
		 "network namespace)", ifname);
	return cxd_ctl_ask(&c, req, req, quiet_ok ? CXD_CTL_F_QUIET_OK : 0);
}

/* `stats` and `reload`: argv[0] is the command. */
static int cmd_client(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cxm_config cfg;
	const char *dev = NULL, *path = NULL;
	bool stats = strcmp(argv[0], "stats") == 0, json = false;
	char err[512];
	int ch, ret;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:c:jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dev = optarg;
			break;
		case 'c':
			path = optarg;
			break;
		case 'j':
			if (!stats) {
				fprintf(stderr, "conex-marker: %s: no --json\n", argv[0]);
				return EXIT_USAGE;
			}
			json = true;
			break;
		default:
			return cxd_opts_help(ch, usage_text);
		}
	}
	ret = cxd_opts_done(argc, argv, "conex-marker", argv[0], NULL);
	if (ret >= 0)
		return ret;
	/*
	 * Only the interface is needed, and --dev names it without the file:
	 * a file just edited into an error must not stop a `reload` that the
	 * daemon will refuse with that error itself.
	 */
	if (dev) {
		cxm_config_init(&cfg);
		if (cxm_config_set(&cfg, "interface", dev, err, sizeof(err)) < 0) {
			fprintf(stderr, "conex-marker: --dev: %s\n", err);
			return EXIT_USAGE;
		}
	} else if (load_config(&cfg, path, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "conex-marker: %s (--dev names the interface "
			"without the file)\n", err);
		return EXIT_USAGE;
	}
	if (stats)
		return client(cfg.ifname, json ? "stats json" : "stats text", false);
	return client(cfg.ifname, "reload", true);
}

/* What a reload cannot change without a restart; NULL if nothing. */
static const char *restart_needed(const struct cxm_config *a,
				  const struct cxm_config *b, char *was,
				  char *now, size_t len)
{
	/* The tcx links, the socket name and the map's size are set at start. */
	if (strcmp(a->ifname, b->ifname) != 0) {
		snprintf(was, len, "%s", a->ifname);
		snprintf(now, len, "%s", b->ifname);
		return "interface";
	}
	if (a->flows_max != b->flows_max) {
		snprintf(was, len, "%u", a->flows_max);
		snprintf(now, len, "%u", b->flows_max);
		return "flow_table_size";
	}
	/* The congestion control is registered and made the default at start. */
	if (a->accecn != b->accecn) {
		snprintf(was, len, "%s", a->accecn ? "yes" : "no");
		snprintf(now, len, "%s", b->accecn ? "yes" : "no");
		return "accecn";
	}
	return NULL;
}

struct text {
	char *buf;
	size_t len, used;
};

static void put(struct text *t, const char *fmt, ...) CX_PRINTF(2, 3);

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->used >= t->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->used, t->len - t->used, fmt, ap);
	va_end(ap);
	/* A cut line is still worth logging: keep what fitted. */
	t->used = n < 0 ? t->len : t->used + (size_t)n;
}

static const char *on_off(bool b)
{
	return b ? "on" : "off";
}

/* The run-time keys that differ, "key old -> new" separated by ", ". */
static void describe_changes(const struct cxm_config *a, const struct cxm_config *b,
			     char *buf, size_t len)
{
	struct text t = { buf, len, 0 };
	char x[CX_FORMAT_MAX], y[CX_FORMAT_MAX];
	const char *sep = "";

	buf[0] = '\0';
	if (a->ipv4 != b->ipv4) {
		put(&t, "%sipv4 %s -> %s", sep, on_off(a->ipv4), on_off(b->ipv4));
		sep = ", ";
	}
	if (a->ipv6 != b->ipv6) {
		put(&t, "%sipv6 %s -> %s", sep, on_off(a->ipv6), on_off(b->ipv6));
		sep = ", ";
	}
	if (a->mss_clamp != b->mss_clamp) {
		put(&t, "%smss_clamp %s -> %s", sep, on_off(a->mss_clamp),
		    on_off(b->mss_clamp));
		sep = ", ";
	}
	if (a->flow_idle_ns != b->flow_idle_ns) {
		cx_format_duration(a->flow_idle_ns, x, sizeof(x));
		cx_format_duration(b->flow_idle_ns, y, sizeof(y));
		put(&t, "%sflow_idle %s -> %s", sep, x, y);
		sep = ", ";
	}
	if (a->gauge.init_credit_pkts != b->gauge.init_credit_pkts) {
		put(&t, "%sinitial_credit_packets %u -> %u", sep,
		    a->gauge.init_credit_pkts, b->gauge.init_credit_pkts);
		sep = ", ";
	}
	if (a->gauge.credit_every_pkts != b->gauge.credit_every_pkts) {
		put(&t, "%sslow_start_credit_every %u -> %u", sep,
		    a->gauge.credit_every_pkts, b->gauge.credit_every_pkts);
		sep = ", ";
	}
	if (a->gauge.cheat != b->gauge.cheat)
		put(&t, "%scheat %s -> %s", sep, cxm_cheat_name(a->gauge.cheat),
		    cxm_cheat_name(b->gauge.cheat));
	if (buf[0] == '\0')
		put(&t, "no changes");
}

/*
 * Re-read the file the marker started with (and re-apply --dev). A file
 * with an error, or a change that needs a restart, leaves the running
 * configuration as it was; else the run-time keys go into the programs'
 * config map and the flow table keeps every connection and its gauges.
 * Returns 0, or -1 with err set.
 */
static int reload(struct marker_ctx *ctx, char *err, size_t errlen)
{
	struct cxm_config next;
	const char *file = config_file(ctx->conf_path), *key;
	char was[IF_NAMESIZE + 16], now[IF_NAMESIZE + 16], changes[512];
	int ret;

	if (load_config(&next, ctx->conf_path, ctx->dev, err, errlen) < 0)
		goto fail;
	key = restart_needed(&ctx->cfg, &next, was, now, sizeof(was));
	if (key != NULL) {
		snprintf(err, errlen, "%s: %s %s -> %s: restart conex-marker to "
			 "change %s", file ? file : "built-in defaults", key, was,
			 now, key);
		goto fail;
	}
	ret = cxm_dp_set_cfg(&ctx->dp, &next);
	if (ret < 0) {
		snprintf(err, errlen, "config map: %s", strerror(-ret));
		goto fail;
	}
	describe_changes(&ctx->cfg, &next, changes, sizeof(changes));
	ctx->cfg = next;
	ctx->dc.reloads++;
	cx_log_info("configuration reloaded from %s: %s",
		    file ? file : "built-in defaults", changes);
	if (ctx->cfg.gauge.cheat != CX_GAUGE_HONEST)
		cx_log_warnx("cheat mode '%s': this marker under-declares "
			     "congestion (test use only)",
			     cxm_cheat_name(ctx->cfg.gauge.cheat));
	return 0;
fail:
	ctx->dc.reload_errors++;
	cx_log_warnx("reload refused, configuration unchanged: %s", err);
	return -1;
}

/* The control requests: "stats json|text", "reload"; root only (common/ctl.c). */
static int ctl_stats(void *arg, int argc, char **argv, char *buf, size_t len)
{
	struct marker_ctx *ctx = arg;
	struct cxm_stats st;
	int n;

	(void)argc;
	n = cxm_stats_collect(&ctx->dp, &ctx->dc, now_mono_ns(), &st);
	if (n == 0)
		n = cxm_stats_format(&st, ctx->cfg.ifname, argv[1][0] == 'j', buf, len);
	if (n < 0)
		cx_log_warnx("stats: %s", strerror(-n));
	return n;
}

static int ctl_reload(void *arg, int argc, char **argv, char *buf, size_t len)
{
	char err[512];

	(void)argc;
	(void)argv;
	if (reload(arg, err, sizeof(err)) < 0)
		return snprintf(buf, len, "error: %s\n", err);
	return snprintf(buf, len, "ok\n");
}

static const struct cxd_ctl_cmd ctl_cmds[] = {
	{ "stats", 1, 1, true, ctl_stats },
	{ "reload", 0, 0, false, ctl_reload },
};

static void serve_ctl(struct marker_ctx *ctx, const struct pollfd *pfd)
{
	char buf[CTL_MSG_MAX];

	cxd_ctl_serve(ctx->ctl, pfd, now_mono_ns(), ctl_cmds,
		      sizeof(ctl_cmds) / sizeof(ctl_cmds[0]), ctx, buf, sizeof(buf));
}

/* `accecn yes`: cx_accecn registered and made the namespace's default. */
static int start_accecn(struct marker_ctx *ctx)
{
	char err[512], notice[256];

	if (cxm_accecn_start(&ctx->accecn, err, sizeof(err), notice,
			     sizeof(notice)) < 0) {
		cx_log_warnx("%s", err);
		return -1;
	}
	if (notice[0] != '\0')
		cx_log_warnx("%s", notice);
	ctx->dc.accecn = true;
	cx_log_info("accecn: congestion control %s registered (CUBIC negotiating "
		    "AccECN); net.ipv4.tcp_congestion_control is %s until "
		    "conex-marker exits, then %s again", CXM_ACCECN_CC,
		    CXM_ACCECN_CC, ctx->accecn.prev_cc);
	return 0;
}

/* 0, or -1 if the namespace's default could not be given back. */
static int stop_accecn(struct marker_ctx *ctx)
{
	int ret;

	if (!ctx->dc.accecn)
		return 0;
	ret = cxm_accecn_stop(&ctx->accecn);
	ctx->dc.accecn = false;
	if (ret == CXM_ACCECN_RESTORED)
		cx_log_info("accecn: net.ipv4.tcp_congestion_control %s -> %s "
			    "restored; %s unregistered", CXM_ACCECN_CC,
			    ctx->accecn.prev_cc, CXM_ACCECN_CC);
	else if (ret == CXM_ACCECN_RESTORED_RENO)
		cx_log_warnx("accecn: net.ipv4.tcp_congestion_control %s refused, "
			     "%s -> reno instead; %s unregistered",
			     ctx->accecn.prev_cc, CXM_ACCECN_CC, CXM_ACCECN_CC);
	else if (ret == 0)
		cx_log_info("accecn: net.ipv4.tcp_congestion_control no longer "
			    "%s, left as it is; %s unregistered", CXM_ACCECN_CC,
			    CXM_ACCECN_CC);
	else
		cx_log_warnx("accecn: restoring net.ipv4.tcp_congestion_control "
			     "%s: %s; %s unregistered", ctx->accecn.prev_cc,
			     strerror(-ret), CXM_ACCECN_CC);
	return ret < 0 ? -1 : 0;
}

static void reap(struct marker_ctx *ctx, uint64_t now_ns)
{
	struct cxm_flow_sums sums;

	if (now_ns < ctx->next_reap_ns)
		return;
	ctx->next_reap_ns = now_ns + REAP_EVERY_NS;
	if (cxm_dp_scan(&ctx->dp, now_ns, ctx->cfg.flow_idle_ns, &sums) == 0 &&
	    sums.reaped)
		cx_log_debug("forgot %llu idle connections, %llu tracked",
			     (unsigned long long)sums.reaped,
			     (unsigned long long)sums.flows);
}

/*
 * SIGINT/SIGTERM/SIGHUP stay blocked except inside ppoll(), so none is
 * lost between the flag tests and the sleep.
 */
static int run(struct marker_ctx *ctx, const sigset_t *waitmask)
{
	struct pollfd pfd[CXD_CTL_POLLFDS];
	struct timespec tick;
	char err[512];
	int n, ms;

	while (!stop_signal) {
		if (reload_signal) {
			reload_signal = 0;
			(void)reload(ctx, err, sizeof(err));
		}
		cxd_ctl_pollfds(ctx->ctl, pfd);
		ms = cxd_ctl_timeout_ms(ctx->ctl, now_mono_ns(), TICK_MS);
		tick.tv_sec = ms / 1000;
		tick.tv_nsec = (long)(ms % 1000) * 1000000L;
		n = ppoll(pfd, CXD_CTL_POLLFDS, &tick, waitmask);
		if (n < 0 && errno != EINTR) {
			cx_log_warn("ppoll");
			return EXIT_FAILURE;
		}
		if (stop_signal)
			break;
		/* Every turn: it also drops clients whose request is late. */
		serve_ctl(ctx, pfd);
		reap(ctx, now_mono_ns());
	}
	cx_log_info("signal %d: detaching from %s", (int)stop_signal, ctx->cfg.ifname);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dev", required_argument, NULL, 'd' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct marker_ctx ctx;
	sigset_t waitmask;
	char err[512], name[CTL_NAME_MAX], where[IF_NAMESIZE + 8];
	bool foreground = false, debug = false;
	int ch, ret;

	if (argc > 1 && (strcmp(argv[1], "stats") == 0 ||
			 strcmp(argv[1], "reload") == 0))
		return cmd_client(argc - 1, argv + 1);

	memset(&ctx, 0, sizeof(ctx));
	cxm_accecn_init(&ctx.accecn);
	while ((ch = getopt_long(argc, argv, "c:d:fDh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			ctx.conf_path = optarg;
			break;
		case 'd':
			ctx.dev = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'D':
			debug = true;
			break;
		default:
			return cxd_opts_help(ch, usage_text);
		}
	}
	ret = cxd_opts_done(argc, argv, "conex-marker", NULL, usage_text);
	if (ret >= 0)
		return ret;

	if (load_config(&ctx.cfg, ctx.conf_path, ctx.dev, err, sizeof(err)) < 0) {
		fprintf(stderr, "conex-marker: %s\n", err);
		return EXIT_USAGE;
	}
	cx_log_init("conex-marker", foreground, debug ? CX_LOG_DEBUG : CX_LOG_INFO);

	/* The lock comes first: a second instance must not touch the device. */
	snprintf(name, sizeof(name), "%s%s", CTL_PREFIX, ctx.cfg.ifname);
	snprintf(where, sizeof(where), "on %s", ctx.cfg.ifname);
	if (cxd_ctl_take(&ctx.ctl, "conex-marker", where, name) < 0)
		return EXIT_FAILURE;
	if (cxd_sig_init(&waitmask, on_signal, true) < 0) {
		cx_log_warn("sigaction");
		ret = EXIT_FAILURE;
		goto out_close_ctl;
	}
	if (cxm_dp_open(&ctx.dp, &ctx.cfg, err, sizeof(err)) < 0) {
		cx_log_warnx("%s", err);
		ret = EXIT_FAILURE;
		goto out_close_ctl;
	}
	cx_log_info("marking on %s (ifindex %u, mtu %u): ipv4 %s, ipv6 %s, "
		    "mss clamp %s, %u flows, idle %llus, initial credit %u pkts, "
		    "slow-start credit every %u, cheat %s",
		    ctx.cfg.ifname, ctx.dp.ifindex, ctx.dp.mtu_bytes,
		    on_off(ctx.cfg.ipv4), on_off(ctx.cfg.ipv6),
		    on_off(ctx.cfg.mss_clamp), ctx.cfg.flows_max,
		    (unsigned long long)(ctx.cfg.flow_idle_ns / 1000000000ULL),
		    ctx.cfg.gauge.init_credit_pkts, ctx.cfg.gauge.credit_every_pkts,
		    cxm_cheat_name(ctx.cfg.gauge.cheat));
	if (ctx.cfg.gauge.cheat != CX_GAUGE_HONEST)
		cx_log_warnx("cheat mode '%s': this marker under-declares "
			     "congestion (test use only)",
			     cxm_cheat_name(ctx.cfg.gauge.cheat));
	if (ctx.cfg.accecn && start_accecn(&ctx) < 0) {
		ret = EXIT_FAILURE;
		goto out_close_dp;
	}
	/* The line tests and scripts wait for: always on stderr. */
	fprintf(stderr, "conex-marker: ready on %s\n", ctx.cfg.ifname);
	fflush(stderr);

	ctx.next_reap_ns = now_mono_ns() + REAP_EVERY_NS;
	ret = run(&ctx, &waitmask);

	if (stop_accecn(&ctx) < 0)
		ret = EXIT_FAILURE;
out_close_dp:
	cxm_dp_close(&ctx.dp);
out_close_ctl:
	cxd_ctl_free(ctx.ctl);
	return ret;
}
