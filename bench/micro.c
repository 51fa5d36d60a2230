// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cx-micro: nanoseconds per call of libconex's per-packet functions.
 *
 * Wall-clock ns move with the machine; bench/callgrind runs this program
 * under valgrind --tool=callgrind at two iteration counts and reports the
 * difference in instructions per call, which does not.
 *
 * Each operation works on inputs prepared before the clock starts and
 * folds every result into a checksum, so the calls cannot be dropped;
 * inputs vary per iteration where the real path would vary them.
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

#include <conex/byteorder.h>
#include <conex/cdo.h>
#include <conex/csum.h>
#include <conex/flow.h>
#include <conex/flowtable.h>
#include <conex/parse.h>
#include <conex/ipv4id.h>
#include <conex/signal.h>
#include <conex/siphash.h>

#define PROG			"cx-micro"
#define MICRO_REPS_MAX		101
#define MICRO_ITERS_MAX		UINT64_C(1000000000)
/* Flow table: half full, the load a sized-at-start-up table runs at. */
#define MICRO_FT_CAPACITY	65536U
#define MICRO_FT_FLOWS		32768U
#define MICRO_FT_VALUE_BYTES	64U

struct micro_ctx {
	uint8_t			ip6[40 + 8 + 20];	/* IPv6 + CDO header + TCP */
	uint8_t			ip4[20];
	struct cx_siphash_key	sk;
	struct cx_flowtable	*ft;
	struct cx_flow_key	*keys;			/* MICRO_FT_FLOWS */
	struct cx_flow_key	*absent;		/* MICRO_FT_FLOWS, not inserted */
};

struct micro_op {
	const char	*name;
	const char	*what;
	uint64_t	(*run)(struct micro_ctx *ctx, uint64_t iters);
};

static uint64_t op_cdo_find(struct micro_ctx *ctx, uint64_t iters)
{
	struct cx_cdo_hit hit;
	uint64_t i, acc = 0;

	for (i = 0; i < iters; i++) {
		if (cx_cdo_find(ctx->ip6, sizeof(ctx->ip6), &hit) == 0)
			acc += hit.bits + hit.data_off;
	}
	return acc;
}

static uint64_t op_ipv4id_decode(struct micro_ctx *ctx, uint64_t iters)
{
	struct cx_ipv4id id;
	uint64_t i, acc = 0;

	for (i = 0; i < iters; i++) {
		if (cx_ipv4id_decode(ctx->ip4, sizeof(ctx->ip4), &id) >= 0)
			acc += id.bits + id.total_len;
	}
	return acc;
}

static uint64_t op_csum_update16(struct micro_ctx *ctx, uint64_t iters)
{
	uint16_t hc = 0x1c46;
	uint64_t i;

	(void)ctx;
	for (i = 0; i < iters; i++)
		hc = cx_csum_update16(hc, (uint16_t)i, (uint16_t)(i ^ 0xc000));
	return hc;
}

static uint64_t op_flow_key_hash(struct micro_ctx *ctx, uint64_t iters)
{
	uint64_t i, acc = 0;

	for (i = 0; i < iters; i++)
		acc ^= cx_flow_key_hash(&ctx->keys[i % MICRO_FT_FLOWS], &ctx->sk);
	return acc;
}

static uint64_t op_flowtable_hit(struct micro_ctx *ctx, uint64_t iters)
{
	uint64_t i, acc = 0;
	void *v;

	for (i = 0; i < iters; i++) {
		if (cx_flowtable_lookup(ctx->ft, &ctx->keys[i % MICRO_FT_FLOWS],
					&v) == 0)
			acc += *(const uint8_t *)v;
	}
	return acc;
}

static uint64_t op_flowtable_miss(struct micro_ctx *ctx, uint64_t iters)
{
	uint64_t i, acc = 0;
	void *v;

	for (i = 0; i < iters; i++)
		acc += (uint64_t)-cx_flowtable_lookup(ctx->ft,
				&ctx->absent[i % MICRO_FT_FLOWS], &v);
	return acc;
}

static const struct micro_op micro_ops[] = {
	{ "cdo_find", "cx_cdo_find, IPv6 + CDO-only DestOpts + TCP", op_cdo_find },
	{ "ipv4id_decode", "cx_ipv4id_decode, 20-byte ConEx header", op_ipv4id_decode },
	{ "csum_update16", "cx_csum_update16 (RFC 1624)", op_csum_update16 },
	{ "flow_key_hash", "cx_flow_key_hash (SipHash of 40 bytes)", op_flow_key_hash },
	{ "flowtable_hit", "cx_flowtable_lookup, present, 32768 of 65536", op_flowtable_hit },
	{ "flowtable_miss", "cx_flowtable_lookup, absent, 32768 of 65536", op_flowtable_miss },
};

#define MICRO_NOPS (sizeof(micro_ops) / sizeof(micro_ops[0]))

static void flow_key_nth(struct cx_flow_key *k, uint32_t n, uint16_t dport)
{
	/* 198.18.0.0/15 addresses, distinct per n. */
	cx_flow_key_v4(k, 0xc6120000U | (n & 0xffffU),
		       0xc6130000U | ((n >> 16) & 0xffffU),
		       (uint16_t)(1024 + (n % 60000U)), dport, 6);
}

static int micro_init(struct micro_ctx *ctx)
{
	static const uint8_t skey[CX_SIPHASH_KEY_BYTES] = {
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	};
	uint8_t *p = ctx->ip6;
	uint32_t n;
	void *v;
	int ret;

	/* IPv6: 2001:2::1 -> 2001:2::2, NH 60, Payload Length 8 + 20. */
	memset(p, 0, sizeof(ctx->ip6));
	cx_put_be32(p, 0x60000000U);
	cx_put_be16(p + 4, 28);
	p[6] = 60;
	p[7] = 64;
	cx_put_be32(p + 8, 0x20010002U);
	p[23] = 1;
	cx_put_be32(p + 24, 0x20010002U);
	p[39] = 2;
	ret = cx_cdo_hdr_encode(p + 40, 8, 6, CX_SIG_X | CX_SIG_E);
	if (ret < 0)
		return ret;
	p[40 + 8 + 12] = 5 << 4;	/* TCP data offset */

	/* IPv4: RF|DF with X and E in the ID, Total Length 1500. */
	memset(ctx->ip4, 0, sizeof(ctx->ip4));
	ctx->ip4[0] = 0x45;
	cx_put_be16(ctx->ip4 + 2, 1500);
	cx_put_be16(ctx->ip4 + 4,
		    (uint16_t)((CX_SIG_X | CX_SIG_E) << CX_IPV4ID_SIG_SHIFT));
	cx_put_be16(ctx->ip4 + 6, CX_IPV4ID_FRAG_WORD);
	ctx->ip4[8] = 64;
	ctx->ip4[9] = 6;
	cx_put_be32(ctx->ip4 + 12, 0xc6120001U);
	cx_put_be32(ctx->ip4 + 16, 0xc6130001U);
	ret = cx_csum_ipv4_compute(ctx->ip4, sizeof(ctx->ip4));
	if (ret < 0)
		return ret;
	cx_put_be16(ctx->ip4 + 10, (uint16_t)ret);
	ret = cx_ipv4id_decode(ctx->ip4, sizeof(ctx->ip4),
			       &(struct cx_ipv4id){ 0 });
	if (ret != CX_IPV4ID_CONEX)
		return -EBADMSG;
	ret = cx_cdo_find(ctx->ip6, sizeof(ctx->ip6), &(struct cx_cdo_hit){ 0 });
	if (ret < 0)
		return ret;

	cx_siphash_key_init(&ctx->sk, skey);
	ctx->keys = calloc(MICRO_FT_FLOWS, sizeof(*ctx->keys));
	ctx->absent = calloc(MICRO_FT_FLOWS, sizeof(*ctx->absent));
	ctx->ft = cx_flowtable_new(MICRO_FT_CAPACITY, MICRO_FT_VALUE_BYTES,
				   &ctx->sk);
	if (ctx->keys == NULL || ctx->absent == NULL || ctx->ft == NULL)
		return -ENOMEM;
	for (n = 0; n < MICRO_FT_FLOWS; n++) {
		flow_key_nth(&ctx->keys[n], n, 5201);
		flow_key_nth(&ctx->absent[n], n, 5202);
		ret = cx_flowtable_insert(ctx->ft, &ctx->keys[n], &v);
		if (ret < 0)
			return ret;
		*(uint8_t *)v = (uint8_t)n;
	}
	return 0;
}

static void micro_fini(struct micro_ctx *ctx)
{
	cx_flowtable_free(ctx->ft);
	free(ctx->absent);
	free(ctx->keys);
}

static uint64_t now_ns(void)
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
		"Usage: " PROG " [--op NAME] [--iters N] [--reps N]\n"
		"\n"
		"Times each operation --reps times over --iters calls and prints\n"
		"\"op median_ns min_ns iters\" per operation (ns per call).\n"
		"\n"
		"  -o, --op NAME   only this operation (default: all)\n"
		"  -i, --iters N   calls per repetition, 1..%" PRIu64 " (default 1000000)\n"
		"  -r, --reps N    repetitions, 1..%d (default 7)\n"
		"  -h, --help      this text\n"
		"\nOperations:\n",
		MICRO_ITERS_MAX, MICRO_REPS_MAX);
	for (i = 0; i < MICRO_NOPS; i++)
		fprintf(out, "  %-15s %s\n", micro_ops[i].name, micro_ops[i].what);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "op", required_argument, NULL, 'o' },
		{ "iters", required_argument, NULL, 'i' },
		{ "reps", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t iters = 1000000, reps = 7;
	const char *only = NULL;
	double ns[MICRO_REPS_MAX];
	struct micro_ctx ctx = { 0 };
	volatile uint64_t sink = 0;
	size_t i, matched = 0;
	unsigned long r;
	int c, ret, status = 1;

	while ((c = getopt_long(argc, argv, "o:i:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			only = optarg;
			break;
		case 'i':
			if (cx_parse_u64(optarg, 1, MICRO_ITERS_MAX, &iters) < 0) {
				fprintf(stderr, PROG ": bad --iters '%s' (1..%" PRIu64 ")\n",
					optarg, MICRO_ITERS_MAX);
				return 1;
			}
			break;
		case 'r':
			if (cx_parse_u64(optarg, 1, MICRO_REPS_MAX, &reps) < 0) {
				fprintf(stderr, PROG ": bad --reps '%s' (1..%d)\n",
					optarg, MICRO_REPS_MAX);
				return 1;
			}
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
	for (i = 0; only != NULL && i < MICRO_NOPS; i++)
		matched += strcmp(only, micro_ops[i].name) == 0;
	if (only != NULL && matched == 0) {
		fprintf(stderr, PROG ": unknown --op '%s' (see --help)\n", only);
		return 1;
	}

	ret = micro_init(&ctx);
	if (ret < 0) {
		fprintf(stderr, PROG ": setup: %s\n", strerror(-ret));
		goto err_fini;
	}
	for (i = 0; i < MICRO_NOPS; i++) {
		const struct micro_op *op = &micro_ops[i];

		if (only != NULL && strcmp(only, op->name) != 0)
			continue;
		for (r = 0; r < reps; r++) {
			uint64_t t0 = now_ns();

			sink += op->run(&ctx, iters);
			ns[r] = (double)(now_ns() - t0) / (double)iters;
		}
		qsort(ns, reps, sizeof(ns[0]), cmp_double);
		printf("%-15s %8.2f %8.2f %" PRIu64 "\n", op->name, ns[reps / 2], ns[0],
		       iters);
	}
	status = 0;
err_fini:
	micro_fini(&ctx);
	return status;
}
