/*
 * conex-marker: the guest-side ConEx marker (RFC 7786 sender, RFC 7837 CDO,
 * CONEX.md §3 IPv4 encoding). Options, setup, loop and teardown; the
 * datapath is datapath.c and marker.bpf.c, the decisions conex/gauge.h.
 *
 *   conex-marker [--config FILE] [--dev IFACE] [--foreground] [--debug]
 *   conex-marker stats [--dev IFACE] [--config FILE] [--json]
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
#include <time.h>
#include <unistd.h>

#include <conex/log.h>
#include <conex/parse.h>

#include "common/ctl.h"
#include "config.h"
#include "datapath.h"
#include "stats.h"

#define EXIT_USAGE	2
#define TICK_MS		1000
#define REAP_EVERY_NS	(5ULL * 1000000000ULL)
/* Control socket @conex-marker.<ifname>: one marker per interface and namespace. */
#define CTL_PREFIX	"conex-marker."
#define CTL_NAME_MAX	(sizeof(CTL_PREFIX) + IF_NAMESIZE)
#define CTL_MSG_MAX	4096

static volatile sig_atomic_t stop_signal;

struct marker_ctx {
	struct cxm_config cfg;
	struct cxm_dp dp;
	int ctl_fd;
	uint64_t next_reap_ns;
};

static const char usage_text[] =
	"usage: conex-marker [--config FILE] [--dev IFACE] [--foreground] [--debug]\n"
	"       conex-marker stats [--dev IFACE] [--config FILE] [--json]\n"
	"\n"
	"Guest-side ConEx marker. Attaches tc-BPF programs (tcx links) to IFACE:\n"
	"every outgoing TCP payload packet is stamped ConEx-capable (X), and with\n"
	"L, E or C as the connection's RFC 7786 gauges require (retransmissions,\n"
	"ECN-Echo feedback, credit). IPv6 packets get the RFC 7837 Destination\n"
	"Option; IPv4 packets the ID-field encoding of atomic packets. Stays in\n"
	"the foreground; SIGTERM or SIGINT detaches and exits 0. If the marker\n"
	"dies, the kernel detaches its programs and traffic flows unmarked.\n"
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
	"\n"
	"Exit status: 0 ok, 1 runtime error, 2 usage or configuration error.\n"
	"See conex-marker(8) and conex-marker.conf(5).\n";

static void on_signal(int sig)
{
	stop_signal = sig;
}

static uint64_t now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Configuration from file and command line. An explicit --config must
 * exist; the default path may be absent. Returns 0 or EXIT_USAGE.
 */
static int load_config(struct cxm_config *cfg, const char *path, const char *dev)
{
	char err[512];

	cxm_config_init(cfg);
	if (path || access(CXM_CONFIG_DEFAULT, F_OK) == 0) {
		if (cxm_config_load(cfg, path ? path : CXM_CONFIG_DEFAULT, err,
				    sizeof(err)) < 0) {
			fprintf(stderr, "conex-marker: %s\n", err);
			return EXIT_USAGE;
		}
	}
	if (dev && cxm_config_set(cfg, "interface", dev, err, sizeof(err)) < 0) {
		fprintf(stderr, "conex-marker: --dev: %s\n", err);
		return EXIT_USAGE;
	}
	return 0;
}

static int cmd_stats(int argc, char **argv)
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
	char buf[CTL_MSG_MAX], name[CTL_NAME_MAX];
	bool json = false;
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
			json = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "conex-marker: stats: unexpected argument '%s'\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	ret = load_config(&cfg, path, dev);
	if (ret)
		return ret;
	snprintf(name, sizeof(name), "%s%s", CTL_PREFIX, cfg.ifname);
	ret = cxd_ctl_request(name, json, buf, sizeof(buf));
	if (ret == -ENOENT) {
		fprintf(stderr, "conex-marker: no marker running on %s "
			"(in this network namespace)\n", cfg.ifname);
		return EXIT_FAILURE;
	}
	if (ret < 0) {
		fprintf(stderr, "conex-marker: stats: %s\n", strerror(-ret));
		return EXIT_FAILURE;
	}
	if (ret == 0) {
		fprintf(stderr, "conex-marker: stats: empty reply\n");
		return EXIT_FAILURE;
	}
	fputs(buf, stdout);
	return 0;
}

static void serve_ctl(struct marker_ctx *ctx)
{
	struct cxm_stats st;
	char buf[CTL_MSG_MAX];
	bool json;
	int cfd, n;

	cfd = cxd_ctl_accept(ctx->ctl_fd, &json);
	if (cfd < 0) {
		if (cfd != -EAGAIN && cfd != -EWOULDBLOCK)
			cx_log_debug("control socket: %s", strerror(-cfd));
		return;
	}
	n = cxm_stats_collect(&ctx->dp, now_mono_ns(), &st);
	if (n == 0)
		n = cxm_stats_format(&st, ctx->cfg.ifname, json, buf, sizeof(buf));
	if (n < 0) {
		cx_log_warnx("stats: %s", strerror(-n));
		n = snprintf(buf, sizeof(buf), "error: %s\n", strerror(-n));
	}
	cxd_ctl_reply(cfd, buf, (size_t)n);
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

static int run(struct marker_ctx *ctx)
{
	struct pollfd pfd = { .fd = ctx->ctl_fd, .events = POLLIN };
	int n;

	while (!stop_signal) {
		n = poll(&pfd, 1, TICK_MS);
		if (n < 0 && errno != EINTR) {
			cx_log_warn("poll");
			return EXIT_FAILURE;
		}
		if (stop_signal)
			break;
		if (n > 0 && (pfd.revents & POLLIN))
			serve_ctl(ctx);
		reap(ctx, now_mono_ns());
	}
	cx_log_info("signal %d: detaching from %s", (int)stop_signal, ctx->cfg.ifname);
	return 0;
}

static int install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return -1;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0 || sigaction(SIGHUP, &sa, NULL) < 0)
		return -1;
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
	const char *path = NULL, *dev = NULL;
	char err[512], name[CTL_NAME_MAX];
	bool foreground = false, debug = false;
	int ch, ret;

	if (argc > 1 && strcmp(argv[1], "stats") == 0)
		return cmd_stats(argc - 1, argv + 1);

	while ((ch = getopt_long(argc, argv, "c:d:fDh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			dev = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'D':
			debug = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "conex-marker: unexpected argument '%s'\n", argv[optind]);
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}

	memset(&ctx, 0, sizeof(ctx));
	ctx.ctl_fd = -1;
	ret = load_config(&ctx.cfg, path, dev);
	if (ret)
		return ret;
	if (!ctx.cfg.ipv4 && !ctx.cfg.ipv6) {
		fprintf(stderr, "conex-marker: ipv4 and ipv6 both off: nothing to mark\n");
		return EXIT_USAGE;
	}
	cx_log_init("conex-marker", foreground, debug ? CX_LOG_DEBUG : CX_LOG_INFO);

	/* The lock comes first: a second instance must not touch the device. */
	snprintf(name, sizeof(name), "%s%s", CTL_PREFIX, ctx.cfg.ifname);
	ctx.ctl_fd = cxd_ctl_listen(name);
	if (ctx.ctl_fd == -EADDRINUSE) {
		cx_log_warnx("another conex-marker is already running on %s",
			     ctx.cfg.ifname);
		return EXIT_FAILURE;
	}
	if (ctx.ctl_fd < 0) {
		errno = -ctx.ctl_fd;
		cx_log_warn("control socket");
		return EXIT_FAILURE;
	}
	if (install_signals() < 0) {
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
		    ctx.cfg.ipv4 ? "on" : "off", ctx.cfg.ipv6 ? "on" : "off",
		    ctx.cfg.mss_clamp ? "on" : "off", ctx.cfg.flows_max,
		    (unsigned long long)(ctx.cfg.flow_idle_ns / 1000000000ULL),
		    ctx.cfg.gauge.init_credit_pkts, ctx.cfg.gauge.credit_every_pkts,
		    cxm_cheat_name(ctx.cfg.gauge.cheat));
	if (ctx.cfg.gauge.cheat != CX_GAUGE_HONEST)
		cx_log_warnx("cheat mode '%s': this marker under-declares "
			     "congestion (test use only)",
			     cxm_cheat_name(ctx.cfg.gauge.cheat));
	/* The line tests and scripts wait for: always on stderr. */
	fprintf(stderr, "conex-marker: ready on %s\n", ctx.cfg.ifname);
	fflush(stderr);

	ctx.next_reap_ns = now_mono_ns() + REAP_EVERY_NS;
	ret = run(&ctx);

	cxm_dp_close(&ctx.dp);
out_close_ctl:
	close(ctx.ctl_fd);
	return ret;
}
