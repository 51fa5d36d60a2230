// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cx-nfq-accept: the NFQUEUE ceiling. Binds one or more queues and accepts
 * every packet as cheaply as userspace can, so that the benchmarks can say how
 * much of a daemon's cost is its own logic and how much is the round trip
 * through NFQUEUE itself (DESIGN.md, "Performance method").
 *
 * What keeps it cheap, each measured in DESIGN.md or needed to stay honest:
 *  - copy mode with a 128-byte range: headers only, the payload stays put;
 *  - NFQA_CFG_F_GSO: without it the kernel segments GSO packets before
 *    queueing them and a TCP flow drops from ~10 Gb/s to ~1 Gb/s;
 *  - NFQA_CFG_F_FAIL_OPEN: a full queue accepts instead of dropping, so an
 *    overloaded ceiling shows up as bypassed packets (counted), not as loss;
 *  - recvmmsg(): netlink hands out one skb per recvmsg(), so one syscall
 *    per packet is the floor unless several are read at once;
 *  - NFQNL_MSG_VERDICT_BATCH: one verdict covers every id up to the given
 *    one, sent when --batch packets are pending or the socket is drained.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include <conex/parse.h>

#define PROG			"cx-nfq-accept"
#define NFQA_QUEUES_MAX		16
#define NFQA_COPY_RANGE_BYTES	128
#define NFQA_QUEUE_MAXLEN	16384
#define NFQA_RCVBUF_BYTES	(32 * 1024 * 1024)
#define NFQA_BATCH_DEFAULT	64
#define NFQA_BATCH_MAX		4096
/*
 * A packet message is nlmsghdr + nfgenmsg + about ten attributes + at most
 * NFQA_COPY_RANGE_BYTES of payload: well under 1 KiB. A larger one arrives
 * with MSG_TRUNC and is counted, never parsed.
 */
#define NFQA_RX_MSG_BYTES	2048
#define NFQA_RX_VLEN		64
/* Config acks: bounded wait, packets that arrive meanwhile are handled. */
#define NFQA_ACK_TURNS_MAX	4096
#define NFQA_ACK_TIMEOUT_MS	1000
#define NFQA_DRAIN_TURNS_MAX	64

struct nfqa_queue {
	uint16_t	num;
	uint32_t	last_id;	/* highest id received, not yet verdicted */
	uint32_t	pending;	/* packets covered by the next batch verdict */
};

struct nfqa_stats {
	uint64_t	packets;
	uint64_t	bytes;		/* original lengths (GSO packets whole) */
	uint64_t	verdict_msgs;	/* NFQNL_MSG_VERDICT_BATCH messages */
	uint64_t	verdict_sends;	/* sendto() calls carrying them */
	uint64_t	rx_calls;	/* recvmmsg() calls that returned data */
	uint64_t	enobufs;	/* socket overruns reported by recv */
	uint64_t	truncated;	/* messages larger than NFQA_RX_MSG_BYTES */
	uint64_t	nl_errors;	/* NLMSG_ERROR replies to verdicts */
	uint64_t	unknown;	/* messages for queues not bound here */
	uint64_t	queue_dropped;	/* from nfnetlink_queue, read on exit */
	uint64_t	user_dropped;
	uint64_t	fail_open;	/* unicast failures, see nfqa_proc_read() */
};

struct nfqa_config {
	uint16_t	queue_first;
	uint16_t	queue_count;
	uint32_t	batch;
	bool		stats;
};

struct nfqa_ctx {
	struct nfqa_config	cfg;
	struct mnl_socket	*nl;
	unsigned int		portid;
	uint32_t		seq;
	struct nfqa_queue	queues[NFQA_QUEUES_MAX];
	uint32_t		pending_total;
	/* Set when an NLMSG_ERROR for seq_wait arrives; ack_err is its errno. */
	uint32_t		seq_wait;
	bool			acked;
	int			ack_err;
	struct nfqa_stats	st;
	struct mnl_nlmsg_batch	*tx;
	alignas(8) char		txbuf[NFQA_QUEUES_MAX * 64];
	struct mmsghdr		rx_hdr[NFQA_RX_VLEN];
	struct iovec		rx_iov[NFQA_RX_VLEN];
	struct sockaddr_nl	rx_addr[NFQA_RX_VLEN];
	alignas(8) char		rx_buf[NFQA_RX_VLEN][NFQA_RX_MSG_BYTES];
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static struct nfqa_queue *nfqa_queue_find(struct nfqa_ctx *ctx, uint16_t num)
{
	if (num < ctx->cfg.queue_first ||
	    num - ctx->cfg.queue_first >= ctx->cfg.queue_count)
		return NULL;
	return &ctx->queues[num - ctx->cfg.queue_first];
}

/*
 * One NFQNL_MSG_VERDICT_BATCH per queue with pending packets, all in one
 * sendto(). The kernel applies the verdict to every queued entry whose id is
 * <= the one given (nfqnl_recv_verdict_batch()); ids grow monotonically per
 * queue, so last_id covers exactly the packets read so far.
 */
static int nfqa_flush(struct nfqa_ctx *ctx)
{
	uint16_t i;
	size_t len;

	if (ctx->pending_total == 0)
		return 0;
	mnl_nlmsg_batch_reset(ctx->tx);
	for (i = 0; i < ctx->cfg.queue_count; i++) {
		struct nfqa_queue *q = &ctx->queues[i];
		struct nlmsghdr *nlh;

		if (q->pending == 0)
			continue;
		nlh = nfq_nlmsg_put(mnl_nlmsg_batch_current(ctx->tx),
				    NFQNL_MSG_VERDICT_BATCH, q->num);
		nfq_nlmsg_verdict_put(nlh, (int)q->last_id, NF_ACCEPT);
		mnl_nlmsg_batch_next(ctx->tx);
		q->pending = 0;
		ctx->st.verdict_msgs++;
	}
	ctx->pending_total = 0;
	len = mnl_nlmsg_batch_size(ctx->tx);
	if (mnl_socket_sendto(ctx->nl, mnl_nlmsg_batch_head(ctx->tx), len) < 0)
		return -errno;
	ctx->st.verdict_sends++;
	return 0;
}

static void nfqa_packet(struct nfqa_ctx *ctx, const struct nlmsghdr *nlh)
{
	struct nlattr *attr[NFQA_MAX + 1] = { NULL };
	const struct nfqnl_msg_packet_hdr *ph;
	const struct nfgenmsg *nfg;
	struct nfqa_queue *q;
	uint32_t id;

	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*nfg))
		return;
	nfg = mnl_nlmsg_get_payload(nlh);
	q = nfqa_queue_find(ctx, ntohs(nfg->res_id));
	if (q == NULL || nfq_nlmsg_parse(nlh, attr) < 0 ||
	    attr[NFQA_PACKET_HDR] == NULL ||
	    mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(*ph)) {
		ctx->st.unknown++;
		return;
	}
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	id = ntohl(ph->packet_id);

	ctx->st.packets++;
	/* NFQA_CAP_LEN is only present when the copy was cut short. */
	if (attr[NFQA_CAP_LEN] != NULL)
		ctx->st.bytes += ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN]));
	else if (attr[NFQA_PAYLOAD] != NULL)
		ctx->st.bytes += mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);

	q->last_id = id;
	q->pending++;
	ctx->pending_total++;
}

static void nfqa_dispatch(struct nfqa_ctx *ctx, const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;
	int left = (int)len;

	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e))
				continue;
			if (ctx->seq_wait != 0 && nlh->nlmsg_seq == ctx->seq_wait) {
				ctx->acked = true;
				ctx->ack_err = -e->error;
			} else if (e->error != 0) {
				ctx->st.nl_errors++;
			}
			continue;
		}
		if (NFNL_SUBSYS_ID(nlh->nlmsg_type) == NFNL_SUBSYS_QUEUE &&
		    NFNL_MSG_TYPE(nlh->nlmsg_type) == NFQNL_MSG_PACKET)
			nfqa_packet(ctx, nlh);
	}
}

/*
 * Reads whatever is queued on the socket, up to NFQA_RX_VLEN messages.
 * Returns the number of messages, 0 when the socket is empty, or -errno.
 */
static int nfqa_receive(struct nfqa_ctx *ctx)
{
	int fd = mnl_socket_get_fd(ctx->nl);
	int i, n;

	for (i = 0; i < NFQA_RX_VLEN; i++) {
		ctx->rx_hdr[i].msg_hdr.msg_namelen = sizeof(ctx->rx_addr[i]);
		ctx->rx_hdr[i].msg_hdr.msg_flags = 0;
	}
	n = recvmmsg(fd, ctx->rx_hdr, NFQA_RX_VLEN, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == ENOBUFS) {
			ctx->st.enobufs++;
			return 0;
		}
		return -errno;
	}
	ctx->st.rx_calls++;
	for (i = 0; i < n; i++) {
		const struct msghdr *mh = &ctx->rx_hdr[i].msg_hdr;

		/* Only the kernel (port id 0) may hand us packets. */
		if (ctx->rx_addr[i].nl_pid != 0)
			continue;
		if (mh->msg_flags & MSG_TRUNC) {
			ctx->st.truncated++;
			continue;
		}
		nfqa_dispatch(ctx, ctx->rx_buf[i], ctx->rx_hdr[i].msg_len);
	}
	return n;
}

static void nfqa_rx_init(struct nfqa_ctx *ctx)
{
	int i;

	for (i = 0; i < NFQA_RX_VLEN; i++) {
		ctx->rx_iov[i].iov_base = ctx->rx_buf[i];
		ctx->rx_iov[i].iov_len = sizeof(ctx->rx_buf[i]);
		ctx->rx_hdr[i].msg_hdr.msg_iov = &ctx->rx_iov[i];
		ctx->rx_hdr[i].msg_hdr.msg_iovlen = 1;
		ctx->rx_hdr[i].msg_hdr.msg_name = &ctx->rx_addr[i];
	}
}

/*
 * Sends one config message with NLM_F_ACK and waits for its ack, handling
 * (and verdicting) packets of already-bound queues that arrive meanwhile.
 */
static int nfqa_config_send(struct nfqa_ctx *ctx, struct nlmsghdr *nlh)
{
	struct pollfd pfd = { .fd = mnl_socket_get_fd(ctx->nl), .events = POLLIN };
	int turn, ret;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++ctx->seq;
	ctx->seq_wait = nlh->nlmsg_seq;
	ctx->acked = false;
	if (mnl_socket_sendto(ctx->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (turn = 0; turn < NFQA_ACK_TURNS_MAX && !ctx->acked; turn++) {
		ret = nfqa_receive(ctx);
		if (ret < 0)
			return ret;
		if (ret > 0)
			continue;
		ret = nfqa_flush(ctx);
		if (ret < 0)
			return ret;
		ret = poll(&pfd, 1, NFQA_ACK_TIMEOUT_MS);
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret == 0)
			break;
	}
	ctx->seq_wait = 0;
	if (!ctx->acked)
		return -ETIMEDOUT;
	return -ctx->ack_err;
}

static int nfqa_bind(struct nfqa_ctx *ctx, uint16_t num)
{
	char buf[256];
	struct nlmsghdr *nlh;
	uint32_t flags = NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, NFQA_COPY_RANGE_BYTES);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, NFQA_QUEUE_MAXLEN);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(flags));
	return nfqa_config_send(ctx, nlh);
}

static int nfqa_unbind(struct nfqa_ctx *ctx, uint16_t num)
{
	char buf[128];
	struct nlmsghdr *nlh;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
	return nfqa_config_send(ctx, nlh);
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
static int nfqa_proc_read(struct nfqa_ctx *ctx)
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
		if (num > UINT16_MAX || nfqa_queue_find(ctx, (uint16_t)num) == NULL ||
		    portid != ctx->portid)
			continue;
		ctx->st.queue_dropped += qdrop;
		ctx->st.user_dropped += udrop;
		idsum += idseq;
		found++;
	}
	fclose(f);
	if (found == 0)
		return -ENOENT;
	if (idsum > ctx->st.packets + ctx->st.user_dropped)
		ctx->st.fail_open = idsum - ctx->st.packets - ctx->st.user_dropped;
	return 0;
}

static void nfqa_stats_print(const struct nfqa_ctx *ctx)
{
	const struct nfqa_stats *s = &ctx->st;

	/* One "key value" per line: the bench runner parses this. */
	printf("queues %u-%u\n", ctx->cfg.queue_first,
	       ctx->cfg.queue_first + ctx->cfg.queue_count - 1U);
	printf("packets %" PRIu64 "\n", s->packets);
	printf("bytes %" PRIu64 "\n", s->bytes);
	printf("verdict_batches %" PRIu64 "\n", s->verdict_msgs);
	printf("verdict_sends %" PRIu64 "\n", s->verdict_sends);
	printf("rx_calls %" PRIu64 "\n", s->rx_calls);
	printf("enobufs %" PRIu64 "\n", s->enobufs);
	printf("truncated %" PRIu64 "\n", s->truncated);
	printf("nl_errors %" PRIu64 "\n", s->nl_errors);
	printf("unknown %" PRIu64 "\n", s->unknown);
	printf("queue_dropped %" PRIu64 "\n", s->queue_dropped);
	printf("user_dropped %" PRIu64 "\n", s->user_dropped);
	printf("fail_open %" PRIu64 "\n", s->fail_open);
	fflush(stdout);
}

/*
 * Runs until SIGINT/SIGTERM. The signals stay blocked except inside ppoll(),
 * so a signal arriving between the flag test and the sleep is not lost; a busy
 * queue that never sleeps is checked with sigpending() once per turn.
 */
static int nfqa_loop(struct nfqa_ctx *ctx, const sigset_t *waitmask)
{
	struct pollfd pfd = { .fd = mnl_socket_get_fd(ctx->nl), .events = POLLIN };
	sigset_t pend;
	int ret;

	while (stop_signal == 0) {
		ret = nfqa_receive(ctx);
		if (ret < 0)
			return ret;
		if (ret > 0) {
			if (ctx->pending_total >= ctx->cfg.batch) {
				ret = nfqa_flush(ctx);
				if (ret < 0)
					return ret;
			}
			if (sigpending(&pend) == 0 &&
			    (sigismember(&pend, SIGINT) == 1 ||
			     sigismember(&pend, SIGTERM) == 1))
				ppoll(&pfd, 1, &(struct timespec){ 0, 0 }, waitmask);
			continue;
		}
		/* Socket drained: never hold a packet while idle. */
		ret = nfqa_flush(ctx);
		if (ret < 0)
			return ret;
		if (ppoll(&pfd, 1, NULL, waitmask) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

static int nfqa_socket_open(struct nfqa_ctx *ctx)
{
	int fd, one = 1, rcvbuf = NFQA_RCVBUF_BYTES;

	ctx->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (ctx->nl == NULL)
		return -errno;
	if (mnl_socket_bind(ctx->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	ctx->portid = mnl_socket_get_portid(ctx->nl);
	fd = mnl_socket_get_fd(ctx->nl);
	/*
	 * FORCE ignores net.core.rmem_max (4 MiB here) and needs CAP_NET_ADMIN;
	 * SOL_SOCKET, as mnl_socket_setsockopt() sets SOL_NETLINK options only.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
		       sizeof(rcvbuf)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
		return -errno;
	/*
	 * With a full receive buffer the kernel fails the packet open (or drops
	 * it, counted in user_dropped); an ENOBUFS error on recv would tell us
	 * nothing more and costs a syscall.
	 */
	if (mnl_socket_setsockopt(ctx->nl, NETLINK_NO_ENOBUFS, &one,
				  sizeof(one)) < 0)
		return -errno;
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: " PROG " [--queue N|N-M] [--batch N] [--stats]\n"
		"\n"
		"Accepts every packet sent to NFQUEUE queue N (or queues N..M,\n"
		"at most %d), copying headers only (%d bytes), with F_GSO and\n"
		"F_FAIL_OPEN, and batch verdicts. Runs until SIGINT or SIGTERM.\n"
		"\n"
		"  -q, --queue N|N-M  queue number or range (default 0)\n"
		"  -b, --batch N      verdict after at most N packets, 1..%d\n"
		"                     (default %d; also whenever the socket is empty)\n"
		"  -s, --stats        print counters to stdout on exit\n"
		"  -h, --help         this text\n",
		NFQA_QUEUES_MAX, NFQA_COPY_RANGE_BYTES, NFQA_BATCH_MAX,
		NFQA_BATCH_DEFAULT);
}

static int parse_queues(const char *arg, struct nfqa_config *cfg)
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
	if (last - first >= NFQA_QUEUES_MAX)
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
		{ "stats", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "q:b:sh", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			if (parse_queues(optarg, cfg) < 0) {
				fprintf(stderr, PROG ": bad --queue '%s' (N or N-M, "
					"0..65535, at most %d queues)\n",
					optarg, NFQA_QUEUES_MAX);
				return -EINVAL;
			}
			break;
		case 'b':
			if (cx_parse_u64(optarg, 1, NFQA_BATCH_MAX, &v) < 0) {
				fprintf(stderr, PROG ": bad --batch '%s' (1..%d)\n",
					optarg, NFQA_BATCH_MAX);
				return -EINVAL;
			}
			cfg->batch = (uint32_t)v;
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
	const struct nfqa_config defaults = {
		.queue_first = 0,
		.queue_count = 1,
		.batch = NFQA_BATCH_DEFAULT,
		.stats = false,
	};
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, waitmask;
	struct nfqa_ctx *ctx;
	uint16_t i, bound = 0;
	int turn, ret, status = 1;

	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	ctx->cfg = defaults;
	if (parse_args(argc, argv, &ctx->cfg) < 0)
		goto err_free_ctx;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	nfqa_rx_init(ctx);
	ctx->tx = mnl_nlmsg_batch_start(ctx->txbuf, sizeof(ctx->txbuf));
	if (ctx->tx == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		goto err_free_ctx;
	}
	ret = nfqa_socket_open(ctx);
	if (ret < 0) {
		fprintf(stderr, PROG ": netlink socket: %s\n", strerror(-ret));
		goto err_close_sock;
	}
	for (i = 0; i < ctx->cfg.queue_count; i++) {
		ctx->queues[i].num = ctx->cfg.queue_first + i;
		ret = nfqa_bind(ctx, ctx->queues[i].num);
		if (ret < 0) {
			fprintf(stderr, PROG ": bind queue %u: %s\n",
				ctx->queues[i].num, strerror(-ret));
			goto err_unbind;
		}
		bound++;
	}

	ret = nfqa_loop(ctx, &waitmask);
	if (ret < 0)
		fprintf(stderr, PROG ": %s\n", strerror(-ret));
	else
		status = 0;
	/*
	 * Read what is already on the socket, so that those packets get their
	 * verdict and are not counted as failed open; bounded, as traffic may
	 * still be flowing.
	 */
	for (turn = 0; turn < NFQA_DRAIN_TURNS_MAX; turn++)
		if (nfqa_receive(ctx) <= 0)
			break;
	ret = nfqa_flush(ctx);
	if (ret < 0) {
		fprintf(stderr, PROG ": final verdict: %s\n", strerror(-ret));
		status = 1;
	}
	/* Kernel counters vanish with the binding: read them first. */
	if (ctx->cfg.stats) {
		ret = nfqa_proc_read(ctx);
		if (ret < 0)
			fprintf(stderr, PROG ": nfnetlink_queue stats: %s\n",
				strerror(-ret));
	}

err_unbind:
	while (bound > 0) {
		bound--;
		ret = nfqa_unbind(ctx, ctx->queues[bound].num);
		if (ret < 0) {
			fprintf(stderr, PROG ": unbind queue %u: %s\n",
				ctx->queues[bound].num, strerror(-ret));
			status = 1;
		}
	}
	if (ctx->cfg.stats && status == 0)
		nfqa_stats_print(ctx);
err_close_sock:
	if (ctx->nl != NULL)
		mnl_socket_close(ctx->nl);
	if (ctx->tx != NULL)
		mnl_nlmsg_batch_stop(ctx->tx);
err_free_ctx:
	free(ctx);
	return status;
}
