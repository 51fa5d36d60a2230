// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cx-micro-audit: nanoseconds per packet of cx_audit_packet() with a full
 * flow table (1,000,000 flows by default), the per-packet decision of
 * conex-auditor without the NFQUEUE round trip.
 *
 * Set-up (untimed) creates every flow with one ConEx-Marked packet (flows
 * are created only by those, RFC 7713 §5.5), in a table sized to exactly
 * the flow count. The timed loop then sends packets to flows drawn
 * uniformly at random, so nearly every lookup misses the CPU caches as it
 * would with that many live flows, in a mix close to what the marker
 * emits for TCP bulk transfers (docs/wire.md §5): mostly X-only, some E (loss
 * and CE re-echo) and C (credit), a few CE, a few packets of flows that
 * are not ConEx at all. Sequence numbers advance per flow, so loss
 * detection sees in-order data. Virtual time advances 1 us per packet.
 * Every packet carries a TCP timestamp (RFC 7323 §3: Linux sends one on
 * every segment by default), TSval the virtual time in milliseconds plus
 * a per-flow offset, so the audit sees the input its reordering check
 * reads.
 *
 * "build" runs the same loop without the audit call: the cost of making
 * the input (the packet parser's stand-in), to subtract. bench/callgrind
 * --prog cx-micro-audit gives instructions per packet.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <conex/audit.h>
#include <conex/flow.h>
#include <conex/parse.h>
#include <conex/signal.h>
#include <conex/siphash.h>

#define PROG			"cx-micro-audit"
#define MA_REPS_MAX		101
#define MA_ITERS_MAX		UINT64_C(1000000000)
#define MA_FLOWS_DEFAULT	1000000U
#define MA_FLOWS_MAX		(1U << 24)	/* CX_FLOWTABLE_CAPACITY_MAX */
#define MA_MSS_BYTES		1448U
#define MA_IP_BYTES		(MA_MSS_BYTES + 20U + 32U)	/* IPv4 + TCP with timestamps */
#define MA_TICK_NS		1000U
#define MA_TS_TICK_NS		1000000U	/* TSval clock: 1 ms, as Linux's */
/* Out of 1024 packets: the mix described above. */
#define MA_MIX_E		40U
#define MA_MIX_C		40U
#define MA_MIX_CE		10U
#define MA_MIX_NOT_CONEX	20U

struct ma_ctx {
	struct cx_audit		*audit;
	struct cx_audit_cfg	cfg;
	uint32_t		flows;
	uint32_t		*next_seq;	/* per flow */
	uint64_t		rng;		/* xorshift64* state */
	uint64_t		now_ns;
};

struct ma_op {
	const char	*name;
	const char	*what;
	bool		audit;
};

static const struct ma_op ma_ops[] = {
	{ "audit", "cx_audit_packet, random flow of a full table, marker's mix", true },
	{ "build", "the same loop without cx_audit_packet (input cost)", false },
};

#define MA_NOPS (sizeof(ma_ops) / sizeof(ma_ops[0]))

/* xorshift64* (Vigna), as the auditor draws its drop lottery. */
static uint64_t ma_rand(struct ma_ctx *ctx)
{
	uint64_t x = ctx->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	ctx->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Flow n: 198.18.0.0/16 -> 198.19.0.0/16 (RFC 2544 space), distinct per n. */
static void ma_flow_key(struct cx_flow_key *k, uint32_t n)
{
	cx_flow_key_v4(k, 0xc6120000U | (n & 0xffffU),
		       0xc6130000U | ((n >> 16) & 0xffffU),
		       (uint16_t)(1024U + (n % 60000U)), 5201, 6);
}

/*
 * One data packet of flow n; mix picks its signal (0..1023). Returns the
 * flow's packet as the auditor's parser would fill it.
 */
static void ma_packet(struct ma_ctx *ctx, uint32_t n, uint32_t mix,
		      struct cx_audit_pkt *p)
{
	memset(p, 0, sizeof(*p));
	ma_flow_key(&p->key, n);
	memcpy(p->src, p->key.saddr, sizeof(p->src));
	p->now_ns = ctx->now_ns;
	p->ip_bytes = MA_IP_BYTES;
	p->seq = ctx->next_seq[n];
	p->payload_bytes = MA_MSS_BYTES;
	p->flags = CX_AUDIT_P_TCP | CX_AUDIT_P_TS;
	/* Linux randomises each connection's TSval offset; any per-flow one will do. */
	p->tsval = (uint32_t)(ctx->now_ns / MA_TS_TICK_NS) + n * 2654435761U;
	ctx->next_seq[n] += MA_MSS_BYTES;
	if (mix < MA_MIX_NOT_CONEX)
		return;
	p->flags |= CX_AUDIT_P_CONEX;
	p->sig = CX_SIG_X;
	mix -= MA_MIX_NOT_CONEX;
	if (mix < MA_MIX_E)
		p->sig |= CX_SIG_E;
	else if (mix < MA_MIX_E + MA_MIX_C)
		p->sig |= CX_SIG_C;
	else if (mix < MA_MIX_E + MA_MIX_C + MA_MIX_CE)
		p->flags |= CX_AUDIT_P_CE;
}

static uint64_t ma_run(struct ma_ctx *ctx, bool audit, uint64_t iters)
{
	struct cx_audit_result res;
	struct cx_audit_pkt p;
	uint64_t i, r, acc = 0;

	for (i = 0; i < iters; i++) {
		r = ma_rand(ctx);
		ctx->now_ns += MA_TICK_NS;
		/* Multiply-shift: uniform over flows without a division. */
		ma_packet(ctx, (uint32_t)(((r >> 32) * ctx->flows) >> 32),
			  (uint32_t)(r & 1023U), &p);
		p.rand = (uint32_t)(r >> 10);
		if (audit) {
			acc += (uint64_t)cx_audit_packet(ctx->audit, &p, &res);
			acc += res.events;
		} else {
			acc += p.seq + p.sig + p.key.sport;
		}
	}
	return acc;
}

static int ma_init(struct ma_ctx *ctx, uint32_t flows)
{
	static const uint8_t skey[CX_SIPHASH_KEY_BYTES] = {
		15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
	};
	struct cx_siphash_key sk;
	struct cx_audit_result res;
	struct cx_audit_pkt p;
	struct cx_audit_counters c;
	uint32_t n;
	int ret;

	cx_siphash_key_init(&sk, skey);
	cx_audit_cfg_default(&ctx->cfg);
	ctx->cfg.flow_capacity = flows;
	ctx->flows = flows;
	ctx->rng = 0x9e3779b97f4a7c15ULL;
	ctx->now_ns = 1000000000ULL;
	ctx->next_seq = calloc(flows, sizeof(*ctx->next_seq));
	if (ctx->next_seq == NULL)
		return -ENOMEM;
	ctx->audit = cx_audit_new(&ctx->cfg, &sk);
	if (ctx->audit == NULL)
		return -errno;
	for (n = 0; n < flows; n++) {
		ctx->next_seq[n] = (uint32_t)ma_rand(ctx);
		/* Mix value just past the not-ConEx share: X|E, ConEx-Marked. */
		ma_packet(ctx, n, MA_MIX_NOT_CONEX, &p);
		ret = cx_audit_packet(ctx->audit, &p, &res);
		if (ret < 0)
			return ret;
		ctx->now_ns += MA_TICK_NS;
	}
	cx_audit_counters(ctx->audit, &c);
	if (c.flows_live != flows)
		return -ENOSPC;
	return 0;
}

static void ma_fini(struct ma_ctx *ctx)
{
	cx_audit_free(ctx->audit);
	free(ctx->next_seq);
}

static uint64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void usage(FILE *out)
{
	size_t i;

	fprintf(out,
		"Usage: " PROG " [--op NAME] [--flows N] [--iters N] [--reps N] [--mem]\n"
		"\n"
		"Fills a cx_audit with --flows flows, then times each operation\n"
		"--reps times over --iters packets and prints \"op median_ns min_ns\n"
		"iters\" per operation (ns per packet).\n"
		"\n"
		"  -o, --op NAME   only this operation (default: all)\n"
		"  -f, --flows N   live flows, table sized to N, 1..%u (default %u)\n"
		"  -i, --iters N   packets per repetition, 1..%" PRIu64 " (default 2000000)\n"
		"  -r, --reps N    repetitions, 1..%d (default 7)\n"
		"  -m, --mem       also print memory and the audit's counters\n"
		"  -h, --help      this text\n"
		"\nOperations:\n",
		MA_FLOWS_MAX, MA_FLOWS_DEFAULT, MA_ITERS_MAX, MA_REPS_MAX);
	for (i = 0; i < MA_NOPS; i++)
		fprintf(out, "  %-15s %s\n", ma_ops[i].name, ma_ops[i].what);
}

static void ma_mem_print(const struct ma_ctx *ctx)
{
	struct cx_audit_counters c;

	cx_audit_counters(ctx->audit, &c);
	printf("mem_per_flow_bytes %zu\n", cx_audit_mem_per_flow(&ctx->cfg));
	printf("mem_total_bytes %zu\n", cx_audit_mem_size(&ctx->cfg));
	printf("flows_live %" PRIu64 "\n", c.flows_live);
	printf("packets %" PRIu64 "\n", c.packets);
	printf("conex_marked %" PRIu64 "\n", c.conex_marked);
	printf("conex_not_marked %" PRIu64 "\n", c.conex_not_marked);
	printf("not_conex %" PRIu64 "\n", c.not_conex);
	printf("dropped %" PRIu64 "\n", c.dropped);
	printf("flows_evicted %" PRIu64 "\n", c.flows_evicted);
	printf("table_full %" PRIu64 "\n", c.table_full);
	printf("sanction_starts %" PRIu64 "\n", c.sanction_starts);
	printf("agg_sanction_starts %" PRIu64 "\n", c.agg_sanction_starts);
	printf("holes_capped %" PRIu64 "\n", c.holes_capped);
	printf("reorder_bytes %" PRIu64 "\n", c.reorder_bytes);
	printf("flow_loss_bytes %" PRIu64 "\n", c.flow_loss_bytes);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "op", required_argument, NULL, 'o' },
		{ "flows", required_argument, NULL, 'f' },
		{ "iters", required_argument, NULL, 'i' },
		{ "reps", required_argument, NULL, 'r' },
		{ "mem", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t iters = 2000000, reps = 7, flows = MA_FLOWS_DEFAULT;
	const char *only = NULL;
	double ns[MA_REPS_MAX];
	struct ma_ctx ctx = { 0 };
	volatile uint64_t sink = 0;
	size_t i, matched = 0;
	bool mem = false;
	unsigned long r;
	int c, ret, status = 1;

	while ((c = getopt_long(argc, argv, "o:f:i:r:mh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			only = optarg;
			break;
		case 'f':
			if (cx_parse_u64(optarg, 1, MA_FLOWS_MAX, &flows) < 0) {
				fprintf(stderr, PROG ": bad --flows '%s' (1..%u)\n",
					optarg, MA_FLOWS_MAX);
				return 1;
			}
			break;
		case 'i':
			if (cx_parse_u64(optarg, 1, MA_ITERS_MAX, &iters) < 0) {
				fprintf(stderr, PROG ": bad --iters '%s' (1..%" PRIu64 ")\n",
					optarg, MA_ITERS_MAX);
				return 1;
			}
			break;
		case 'r':
			if (cx_parse_u64(optarg, 1, MA_REPS_MAX, &reps) < 0) {
				fprintf(stderr, PROG ": bad --reps '%s' (1..%d)\n",
					optarg, MA_REPS_MAX);
				return 1;
			}
			break;
		case 'm':
			mem = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		return 1;
	}
	for (i = 0; only != NULL && i < MA_NOPS; i++)
		matched += strcmp(only, ma_ops[i].name) == 0;
	if (only != NULL && matched == 0) {
		fprintf(stderr, PROG ": unknown --op '%s' (see --help)\n", only);
		return 1;
	}

	ret = ma_init(&ctx, (uint32_t)flows);
	if (ret < 0) {
		fprintf(stderr, PROG ": setup of %" PRIu64 " flows: %s\n", flows,
			strerror(-ret));
		goto err_fini;
	}
	for (i = 0; i < MA_NOPS; i++) {
		const struct ma_op *op = &ma_ops[i];

		if (only != NULL && strcmp(only, op->name) != 0)
			continue;
		for (r = 0; r < reps; r++) {
			uint64_t t0 = clock_ns();

			sink += ma_run(&ctx, op->audit, iters);
			ns[r] = (double)(clock_ns() - t0) / (double)iters;
		}
		qsort(ns, reps, sizeof(ns[0]), cmp_double);
		printf("%-15s %8.2f %8.2f %" PRIu64 "\n", op->name, ns[reps / 2], ns[0],
		       iters);
	}
	/* The results are folded into sink so the calls cannot be dropped. */
	(void)sink;
	if (mem)
		ma_mem_print(&ctx);
	status = 0;
err_fini:
	ma_fini(&ctx);
	return status;
}
