#include "cxtest.h"

#include <errno.h>

#include <conex/byteorder.h>
#include <conex/tcp.h>

#define ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))

/* From scapy: SYN, MSS 1460, SACK-permitted, timestamps, NOP, wscale 7. */
static const uint8_t syn[] = {
	0x9c, 0x40, 0x14, 0x51, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00,
	0xa0, 0x02, 0xfa, 0xf0, 0xc6, 0xe9, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
	0x04, 0x02, 0x08, 0x0a, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x03, 0x03, 0x07,
};
/* From scapy: PSH ACK ECE, NOP NOP TS, NOP NOP SACK x2, data "xyz". */
static const uint8_t ack_sack[] = {
	0x00, 0x50, 0x80, 0xe8, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x07, 0xd0,
	0xd0, 0x58, 0x01, 0xf5, 0x18, 0x90, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x01, 0x01, 0x05, 0x12,
	0x00, 0x00, 0x0b, 0xb8, 0x00, 0x00, 0x0f, 0xa0, 0x00, 0x00, 0x13, 0x88,
	0x00, 0x00, 0x17, 0x70, 0x78, 0x79, 0x7a,
};
/*
 * Every flag including AE, reserved bits 101, urgent pointer, an unknown
 * option (kind 253, RFC 4727 experimental) skipped by length, then EOL
 * followed by non-zero bytes that must be ignored.
 */
static const uint8_t all_flags[] = {
	0xff, 0xfe, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x01,
	0x7b, 0xff, 0x00, 0x00, 0xbe, 0xef, 0x12, 0x34, 0xfd, 0x04, 0xab, 0xcd,
	0x00, 0x99, 0x99, 0x99,
};
/* Duplicate MSS (last wins), 3 SACK blocks, no data. */
static const uint8_t dup_sack3[] = {
	0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xf0, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x04, 0x05, 0xb4, 0x02, 0x04, 0x02, 0x18,
	0x05, 0x1a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
	0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04,
	0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x06,
	0x01, 0x01, 0x00, 0x00, 0x00, 0x00,
};
/* 4 SACK blocks, the most that fit (RFC 2018 §3). */
static const uint8_t sack4[] = {
	0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xf0, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x01, 0x05, 0x22, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
	0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04,
	0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x06,
	0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x08,
	0x01, 0x01, 0x01, 0x01,
};
/* No options at all. */
static const uint8_t bare[] = {
	0x30, 0x39, 0xd4, 0x31, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x00,
	0x50, 0xc2, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static const struct {
	const uint8_t *p;
	size_t len;
	struct cx_tcp want;
} vecs[] = {
	{ syn, sizeof(syn), {
		.sport = 40000, .dport = 5201, .seq = 0x01020304, .ack = 0,
		.hlen = 40, .flags = CX_TCP_F_SYN, .window = 64240,
		.csum = 0xc6e9, .opt = {
			.present = CX_TCP_OPT_F_MSS | CX_TCP_OPT_F_SACK_OK |
				   CX_TCP_OPT_F_TS | CX_TCP_OPT_F_WSCALE,
			.mss = 1460, .wscale = 7, .tsval = 0x11223344,
		},
	} },
	{ ack_sack, sizeof(ack_sack), {
		.sport = 80, .dport = 33000, .seq = 1000, .ack = 2000,
		.hlen = 52,
		.flags = CX_TCP_F_PSH | CX_TCP_F_ACK | CX_TCP_F_ECE,
		.window = 501, .csum = 0x1890, .opt = {
			.present = CX_TCP_OPT_F_TS | CX_TCP_OPT_F_SACK,
			.tsval = 1, .tsecr = 2, .sack_n = 2,
			.sack = { { 3000, 4000 }, { 5000, 6000 } },
		},
	} },
	{ all_flags, sizeof(all_flags), {
		.sport = 65534, .dport = 1, .seq = 0xffffffffU,
		.ack = 0x80000001U, .hlen = 28, .flags = CX_TCP_F_ALL,
		.rsvd = 5, .window = 0, .csum = 0xbeef, .urg = 0x1234,
		.opt = { .unknown_n = 1 },
	} },
	{ dup_sack3, sizeof(dup_sack3), {
		.sport = 1, .dport = 2, .hlen = 60, .flags = CX_TCP_F_ACK,
		.opt = {
			.present = CX_TCP_OPT_F_MSS | CX_TCP_OPT_F_SACK,
			.mss = 536, .sack_n = 3,
			.sack = { { 1, 2 }, { 3, 4 }, { 5, 6 } },
		},
	} },
	{ sack4, sizeof(sack4), {
		.sport = 1, .dport = 2, .hlen = 60, .flags = CX_TCP_F_ACK,
		.opt = {
			.present = CX_TCP_OPT_F_SACK, .sack_n = 4,
			.sack = { { 1, 2 }, { 3, 4 }, { 5, 6 }, { 7, 8 } },
		},
	} },
	{ bare, sizeof(bare), {
		.sport = 12345, .dport = 54321, .seq = 0xdeadbeefU,
		.hlen = 20, .flags = CX_TCP_F_ECE | CX_TCP_F_CWR |
				     CX_TCP_F_SYN,
		.window = 4096,
	} },
};

static void assert_opts_equal(const struct cx_tcp_opts *a,
			      const struct cx_tcp_opts *b, int unknown)
{
	unsigned int i;

	assert_int_equal(a->present, b->present);
	assert_int_equal(a->mss, b->mss);
	assert_int_equal(a->wscale, b->wscale);
	assert_int_equal(a->sack_n, b->sack_n);
	for (i = 0; i < a->sack_n; i++) {
		assert_int_equal(a->sack[i].left, b->sack[i].left);
		assert_int_equal(a->sack[i].right, b->sack[i].right);
	}
	assert_int_equal(a->tsval, b->tsval);
	assert_int_equal(a->tsecr, b->tsecr);
	if (unknown)
		assert_int_equal(a->unknown_n, b->unknown_n);
}

static void assert_tcp_equal(const struct cx_tcp *a, const struct cx_tcp *b,
			     int unknown)
{
	assert_int_equal(a->sport, b->sport);
	assert_int_equal(a->dport, b->dport);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->ack, b->ack);
	assert_int_equal(a->hlen, b->hlen);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->rsvd, b->rsvd);
	assert_int_equal(a->window, b->window);
	assert_int_equal(a->csum, b->csum);
	assert_int_equal(a->urg, b->urg);
	assert_opts_equal(&a->opt, &b->opt, unknown);
}

static void test_decode(void **state)
{
	struct cx_tcp t;
	uint8_t *q;
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_N(vecs); i++) {
		for (n = 0; n <= vecs[i].len; n++) {
			q = cxt_dup(vecs[i].p, n);
			memset(&t, 0xa5, sizeof(t));
			if (n < vecs[i].want.hlen) {
				assert_int_equal(cx_tcp_decode(q, n, &t),
						 -ENODATA);
			} else {
				/* Any prefix holding the header is valid. */
				assert_int_equal(cx_tcp_decode(q, n, &t),
						 vecs[i].want.hlen);
				assert_tcp_equal(&t, &vecs[i].want, 1);
			}
			free(q);
		}
	}
}

/* Options after a fixed 20-byte header; Data Offset set to fit. */
static void test_decode_malformed(void **state)
{
	static const struct {
		const char *name;
		uint8_t opt[40];
		size_t len;	/* multiple of 4 */
		int ret;
	} v[] = {
		{ "length 0", { 0xfd, 0x00, 0x00, 0x00 }, 4, -EBADMSG },
		{ "length 1", { 0xfd, 0x01, 0x00, 0x00 }, 4, -EBADMSG },
		{ "overrun", { 0x1e, 0x0a, 0x00, 0x00 }, 4, -EBADMSG },
		{ "overrun by one", { 0x01, 0xfd, 0x04, 0x00 }, 4, -EBADMSG },
		{ "no room for length", { 0x01, 0x01, 0x01, 0x22 }, 4,
		  -EBADMSG },
		{ "MSS length 3", { 0x02, 0x03, 0x05, 0x00 }, 4, -EBADMSG },
		{ "MSS length 5", { 0x02, 0x05, 0x05, 0xb4, 0x00, 0, 0, 0 },
		  8, -EBADMSG },
		{ "wscale length 4", { 0x03, 0x04, 0x07, 0x00 }, 4, -EBADMSG },
		{ "SACK-permitted length 3", { 0x04, 0x03, 0x00, 0x00 }, 4,
		  -EBADMSG },
		{ "SACK no blocks", { 0x05, 0x02, 0x00, 0x00 }, 4, -EBADMSG },
		{ "SACK length 11", { 0x05, 0x0b }, 12, -EBADMSG },
		{ "SACK length 9", { 0x05, 0x09 }, 12, -EBADMSG },
		{ "TS length 8", { 0x08, 0x08 }, 8, -EBADMSG },
		{ "TS length 12", { 0x08, 0x0c }, 12, -EBADMSG },
		{ "bad after good", { 0x02, 0x04, 0x05, 0xb4, 0x03, 0x02, 0,
				      0 }, 8, -EBADMSG },
		/* Valid edge cases. */
		{ "all NOP", { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
			       1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
			       1, 1, 1, 1, 1, 1, 1, 1 }, 40, 60 },
		{ "all EOL", { 0 }, 40, 60 },
		{ "garbage after EOL", { 0x00, 0x02, 0x01 }, 4, 24 },
		{ "unknown fills all", { 0xfe, 0x28 }, 40, 60 },
		{ "unknown minimal", { 0xfe, 0x02, 0xfe, 0x02 }, 4, 24 },
	};
	struct cx_tcp t;
	uint8_t b[60], *q;
	size_t i, n;
	int ret;

	(void)state;
	for (i = 0; i < ARRAY_N(v); i++) {
		memcpy(b, bare, sizeof(bare));
		memcpy(b + 20, v[i].opt, v[i].len);
		b[12] = (uint8_t)(((20 + v[i].len) / 4) << 4);
		q = cxt_dup(b, 20 + v[i].len);
		ret = cx_tcp_decode(q, 20 + v[i].len, &t);
		if (ret != v[i].ret)
			print_message("vector \"%s\"\n", v[i].name);
		assert_int_equal(ret, v[i].ret);
		free(q);
		for (n = 0; n < 20 + v[i].len; n++) {
			q = cxt_dup(b, n);
			assert_int_equal(cx_tcp_decode(q, n, &t), -ENODATA);
			free(q);
		}
	}
}

static void test_decode_data_offset(void **state)
{
	struct cx_tcp t, keep;
	uint8_t b[60];
	unsigned int doff;

	(void)state;
	memset(b, 0, sizeof(b));
	memcpy(b, bare, sizeof(bare));
	for (doff = 0; doff < 16; doff++) {
		b[12] = (uint8_t)(doff << 4);
		memset(&t, 0x5a, sizeof(t));
		keep = t;
		if (doff < 5) {
			assert_int_equal(cx_tcp_decode(b, sizeof(b), &t),
					 -EBADMSG);
			assert_memory_equal(&t, &keep, sizeof(t));
		} else {
			assert_int_equal(cx_tcp_decode(b, sizeof(b), &t),
					 (int)doff * 4);
			assert_int_equal(cx_tcp_decode(b, doff * 4 - 1, &t),
					 -ENODATA);
		}
	}
}

static void test_encode_roundtrip(void **state)
{
	struct cx_tcp t, d;
	uint8_t b[CX_TCP_HLEN_MAX], *q;
	size_t i, n;
	int hlen;

	(void)state;
	for (i = 0; i < ARRAY_N(vecs); i++) {
		memset(b, 0xee, sizeof(b));
		hlen = cx_tcp_encode(b, sizeof(b), &vecs[i].want);
		assert_true(hlen >= CX_TCP_HLEN_MIN);
		assert_int_equal(hlen % 4, 0);
		assert_int_equal(cx_tcp_decode(b, (size_t)hlen, &d), hlen);
		/* Unknown options are not re-encoded. */
		assert_int_equal(d.opt.unknown_n, 0);
		t = vecs[i].want;
		t.hlen = (uint16_t)hlen;
		assert_tcp_equal(&d, &t, 0);
		for (n = 0; n < (size_t)hlen; n++) {
			q = cxt_dup(b, n);
			assert_int_equal(cx_tcp_encode(q, n, &vecs[i].want),
					 -ENOSPC);
			free(q);
		}
	}
	/* The SYN re-encodes to the same length, packed. */
	assert_int_equal(cx_tcp_encode(b, sizeof(b), &vecs[0].want), 40);
}

static void test_encode_limits(void **state)
{
	static const struct {
		uint32_t present;
		uint8_t sack_n;
		int ret;
	} v[] = {
		{ 0, 0, 20 },
		{ CX_TCP_OPT_F_MSS, 0, 24 },
		{ CX_TCP_OPT_F_WSCALE, 0, 24 },
		{ CX_TCP_OPT_F_TS, 0, 32 },
		/* 4 + 3 + 2 + 10 + 18 = 37: fits only because packed. */
		{ CX_TCP_OPT_F_ALL, 2, 60 },
		{ CX_TCP_OPT_F_WSCALE | CX_TCP_OPT_F_TS | CX_TCP_OPT_F_SACK, 3,
		  60 },
		{ CX_TCP_OPT_F_SACK, 4, 56 },
		{ CX_TCP_OPT_F_ALL, 3, -EINVAL },	/* 45 bytes */
		{ CX_TCP_OPT_F_TS | CX_TCP_OPT_F_SACK, 4, -EINVAL },
		{ CX_TCP_OPT_F_SACK, 0, -EINVAL },
		{ CX_TCP_OPT_F_SACK, 5, -EINVAL },
		{ CX_TCP_OPT_F_MSS, 1, -EINVAL },
		{ 1U << 5, 0, -EINVAL },
	};
	struct cx_tcp t = { .sport = 1, .dport = 2 }, d;
	uint8_t b[CX_TCP_HLEN_MAX];
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < ARRAY_N(v); i++) {
		memset(&t.opt, 0, sizeof(t.opt));
		t.opt.present = v[i].present;
		t.opt.sack_n = v[i].sack_n;
		if (t.opt.present & CX_TCP_OPT_F_MSS)
			t.opt.mss = 9000;
		if (t.opt.present & CX_TCP_OPT_F_WSCALE)
			t.opt.wscale = 14;
		if (t.opt.present & CX_TCP_OPT_F_TS)
			t.opt.tsval = 7;
		t.opt.sack[0].left = 100;
		t.opt.sack[0].right = 200;
		ret = cx_tcp_encode(b, sizeof(b), &t);
		assert_int_equal(ret, v[i].ret);
		if (ret < 0)
			continue;
		assert_int_equal(cx_tcp_decode(b, (size_t)ret, &d), ret);
		assert_opts_equal(&d.opt, &t.opt, 1);
	}
	t.opt.present = 0;
	t.opt.sack_n = 0;
	t.flags = 0x200;
	assert_int_equal(cx_tcp_encode(b, sizeof(b), &t), -EINVAL);
	t.flags = 0;
	t.rsvd = 8;
	assert_int_equal(cx_tcp_encode(b, sizeof(b), &t), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_decode_malformed),
		cmocka_unit_test(test_decode_data_offset),
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test(test_encode_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
