// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cx-nfq-accept: the NFQUEUE ceiling. Binds one or more queues and accepts
 * every packet, so that the benchmarks can say how much of a daemon's cost
 * is its own logic and how much is the round trip through NFQUEUE itself
 * (docs/design.md §7, "Performance method"). The plumbing is common/nfq.c, the
 * daemons' own: same copy range, flags, receive and verdict batching, so
 * the ratio daemon / ceiling isolates the daemon's per-packet decision.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/netfilter.h>

#include <conex/parse.h>

#include "common/nfq.h"

#define PROG			"cx-nfq-accept"

struct nfqa_config {
	struct cxd_nfq_config	nfq;
	bool			stats;
};

/* What only the kernel knows, read from /proc on exit. */
struct nfqa_kstats {
	uint64_t	queue_dropped;
	uint64_t	user_dropped;
	uint64_t	fail_open;	/* unicast failures, see nfqa_proc_read() */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static unsigned int nfqa_accept(void *arg, const struct cxd_nfq_pkt *p,
				struct cxd_nfq_mark *mark)
{
	(void)arg;
	(void)p;
	(void)mark;
	return NF_ACCEPT;
}

/*
 * /proc/net/netfilter/nfnetlink_queue (per network namespace), one line per
 * queue: num portid queue_total copy_mode copy_range queue_dropped
 * user_dropped id_sequence 1. A packet takes an id just before the kernel
 * hands it to the socket (__nfqnl_enqueue_packet()); if that fails it is
 * either dropped (user_dropped) or, with F_FAIL_OPEN, accepted unseen. So
 * fail_open = id_sequence - received - user_dropped. Packets failing open
 * because the queue is full take no id and are invisible here: compare
 * "packets" with the iptables rule counters to see them.
 */
static int nfqa_proc_read(const struct cxd_nfq *q, struct nfqa_kstats *ks)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "re");
	unsigned int num, portid, total, mode, range, qdrop, udrop, idseq, one;
	uint64_t idsum = 0;
	int lines = 0, found = 0;

	if (f == NULL)
		return -errno;
	while (lines++ < 65536 &&
	       fscanf(f, "%u %u %u %u %u %u %u %u %u", &num, &portid, &total,
		      &mode, &range, &qdrop, &udrop, &idseq, &one) == 9) {
		if (num < q->cfg.queue_first ||
		    num - q->cfg.queue_first >= q->cfg.queue_count ||
		    portid != q->portid)
			continue;
		ks->queue_dropped += qdrop;
		ks->user_dropped += udrop;
		idsum += idseq;
		found++;
	}
	fclose(f);
	if (found == 0)
		return -ENOENT;
	if (idsum > q->st.packets + ks->user_dropped)
		ks->fail_open = idsum - q->st.packets - ks->user_dropped;
	return 0;
}

static void nfqa_stats_print(const struct cxd_nfq *q, const struct nfqa_kstats *ks)
{
	const struct cxd_nfq_stats *s = &q->st;

	/* One "key value" per line: the bench runner parses this. */
	printf("queues %u-%u\n", q->cfg.queue_first,
	       q->cfg.queue_first + q->cfg.queue_count - 1U);
	printf("packets %" PRIu64 "\n", s->packets);
	printf("bytes %" PRIu64 "\n", s->bytes);
	printf("verdict_batches %" PRIu64 "\n", s->verdict_batches);
	printf("verdict_msgs %" PRIu64 "\n", s->verdict_msgs);
	printf("verdict_sends %" PRIu64 "\n", s->verdict_sends);
	printf("rx_calls %" PRIu64 "\n", s->rx_calls);
	printf("enobufs %" PRIu64 "\n", s->enobufs);
	printf("truncated %" PRIu64 "\n", s->truncated);
	printf("malformed %" PRIu64 "\n", s->malformed);
	printf("nl_errors %" PRIu64 "\n", s->nl_errors);
	printf("unknown %" PRIu64 "\n", s->unknown);
	printf("queue_dropped %" PRIu64 "\n", ks->queue_dropped);
	printf("user_dropped %" PRIu64 "\n", ks->user_dropped);
	printf("fail_open %" PRIu64 "\n", ks->fail_open);
	fflush(stdout);
}

/*
 * Runs until SIGINT/SIGTERM, in the auditor's loop shape. The signals stay
 * blocked except inside ppoll(), so a signal arriving between the flag test
 * and the sleep is not lost; a busy queue that never sleeps is checked with
 * sigpending() once per turn.
 */
static int nfqa_loop(struct cxd_nfq *q, const sigset_t *waitmask)
{
	struct pollfd pfd = { .fd = cxd_nfq_fd(q), .events = POLLIN };
	sigset_t pend;
	int ret;

	while (stop_signal == 0) {
		ret = cxd_nfq_receive(q);
		if (ret < 0)
			return ret;
		if (ret > 0) {
			if (sigpending(&pend) == 0 &&
			    (sigismember(&pend, SIGINT) == 1 ||
			     sigismember(&pend, SIGTERM) == 1))
				ppoll(&pfd, 1, &(struct timespec){ 0, 0 }, waitmask);
			continue;
		}
		/* Socket drained: never hold a packet while idle. */
		ret = cxd_nfq_flush(q);
		if (ret < 0)
			return ret;
		if (ppoll(&pfd, 1, NULL, waitmask) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: " PROG " [--queue N|N-M] [--batch N] [--copy N] [--stats]\n"
		"\n"
		"Accepts every packet sent to NFQUEUE queue N (or queues N..M,\n"
		"at most %d) through common/nfq.c, the daemons' plumbing: headers\n"
		"only, F_GSO and F_FAIL_OPEN, batch verdicts. Runs until SIGINT or\n"
		"SIGTERM.\n"
		"\n"
		"  -q, --queue N|N-M  queue number or range (default 0)\n"
		"  -b, --batch N      verdict after at most N packets, 1..%d\n"
		"                     (default %d; also whenever the socket is empty)\n"
		"  -c, --copy N       bytes copied per packet, 1..%d (default %d)\n"
		"  -s, --stats        print counters to stdout on exit\n"
		"  -h, --help         this text\n",
		CXD_NFQ_QUEUES_MAX, CXD_NFQ_BATCH_MAX, CXD_NFQ_BATCH_DEFAULT,
		CXD_NFQ_COPY_MAX, CXD_NFQ_COPY_DEFAULT);
}

static int parse_queues(const char *arg, struct cxd_nfq_config *cfg)
{
	char tmp[32];
	char *dash;
	uint64_t first, last;

	if (strlen(arg) >= sizeof(tmp))
		return -EINVAL;
	strcpy(tmp, arg);
	dash = strchr(tmp, '-');
	if (dash != NULL)
		*dash = '\0';
	if (cx_parse_u64(tmp, 0, UINT16_MAX, &first) < 0)
		return -EINVAL;
	last = first;
	if (dash != NULL && cx_parse_u64(dash + 1, first, UINT16_MAX, &last) < 0)
		return -EINVAL;
	if (last - first >= CXD_NFQ_QUEUES_MAX)
		return -EINVAL;
	cfg->queue_first = (uint16_t)first;
	cfg->queue_count = (uint16_t)(last - first + 1);
	return 0;
}

static int parse_args(int argc, char **argv, struct nfqa_config *cfg)
{
	static const struct option opts[] = {
		{ "queue", required_argument, NULL, 'q' },
		{ "batch", required_argument, NULL, 'b' },
		{ "copy", required_argument, NULL, 'c' },
		{ "stats", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "q:b:c:sh", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			if (parse_queues(optarg, &cfg->nfq) < 0) {
				fprintf(stderr, PROG ": bad --queue '%s' (N or N-M, "
					"0..65535, at most %d queues)\n",
					optarg, CXD_NFQ_QUEUES_MAX);
				return -EINVAL;
			}
			break;
		case 'b':
			if (cx_parse_u64(optarg, 1, CXD_NFQ_BATCH_MAX, &v) < 0) {
				fprintf(stderr, PROG ": bad --batch '%s' (1..%d)\n",
					optarg, CXD_NFQ_BATCH_MAX);
				return -EINVAL;
			}
			cfg->nfq.batch = (uint32_t)v;
			break;
		case 'c':
			if (cx_parse_u64(optarg, 1, CXD_NFQ_COPY_MAX, &v) < 0) {
				fprintf(stderr, PROG ": bad --copy '%s' (1..%d)\n",
					optarg, CXD_NFQ_COPY_MAX);
				return -EINVAL;
			}
			cfg->nfq.copy_bytes = (uint32_t)v;
			break;
		case 's':
			cfg->stats = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct nfqa_kstats ks = { 0 };
	struct nfqa_config cfg = { .stats = false };
	sigset_t block, waitmask;
	struct cxd_nfq *q;
	int ret, status = 1;

	cxd_nfq_config_default(&cfg.nfq);
	/* An overloaded ceiling shows as bypassed packets (counted), not loss. */
	cfg.nfq.fail_open = true;
	if (parse_args(argc, argv, &cfg) < 0)
		return 1;
	q = calloc(1, sizeof(*q));
	if (q == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ret = cxd_nfq_open(q, &cfg.nfq, nfqa_accept, NULL);
	if (ret < 0) {
		fprintf(stderr, PROG ": bind queues %u-%u: %s\n",
			cfg.nfq.queue_first,
			cfg.nfq.queue_first + cfg.nfq.queue_count - 1U,
			strerror(-ret));
		goto err_close;
	}
	ret = nfqa_loop(q, &waitmask);
	if (ret < 0)
		fprintf(stderr, PROG ": %s\n", strerror(-ret));
	else
		status = 0;
	/*
	 * What is already on the socket gets its verdict, so those packets are
	 * not counted as failed open.
	 */
	ret = cxd_nfq_drain(q);
	if (ret < 0) {
		fprintf(stderr, PROG ": final verdict: %s\n", strerror(-ret));
		status = 1;
	}
	/* Kernel counters vanish with the binding: read them first. */
	if (cfg.stats) {
		ret = nfqa_proc_read(q, &ks);
		if (ret < 0)
			fprintf(stderr, PROG ": nfnetlink_queue stats: %s\n",
				strerror(-ret));
	}
	if (cfg.stats && status == 0)
		nfqa_stats_print(q, &ks);
err_close:
	cxd_nfq_close(q);
	free(q);
	return status;
}
