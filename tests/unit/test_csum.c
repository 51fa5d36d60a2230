#include "cxtest.h"

#include <errno.h>

#include <conex/byteorder.h>
#include <conex/csum.h>

#define ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Reference packets built with scapy (198.18.0.0/15, 2001:2::/48), their
 * checksums as scapy computed them.
 */
/* IPv4 + TCP SYN with MSS, SACK-permitted, timestamps, NOP, wscale. */
static const uint8_t v4_tcp[] = {
	0x45, 0x02, 0x00, 0x3c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x9b, 0x5e,
	0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x01, 0x02, 0x9c, 0x40, 0x14, 0x51,
	0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0,
	0xc6, 0xe9, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a,
	0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
};
/* IPv4 with a Router Alert option (IHL 6) + UDP with 5 bytes of data. */
static const uint8_t v4_udp[] = {
	0x46, 0x00, 0x00, 0x25, 0xbe, 0xef, 0x00, 0x00, 0x40, 0x11, 0x99, 0xac,
	0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x01, 0x02, 0x94, 0x04, 0x00, 0x00,
	0x04, 0xd2, 0x12, 0xb5, 0x00, 0x0d, 0x31, 0x5e, 0x61, 0x62, 0x63, 0x64,
	0x65,
};
/* IPv6 + TCP (timestamps, two SACK blocks) with 3 bytes of data. */
static const uint8_t v6_tcp[] = {
	0x6b, 0x91, 0x23, 0x45, 0x00, 0x37, 0x06, 0x40, 0x20, 0x01, 0x00, 0x02,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x20, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x02, 0x00, 0x50, 0x80, 0xe8, 0x00, 0x00, 0x03, 0xe8,
	0x00, 0x00, 0x07, 0xd0, 0xd0, 0x58, 0x01, 0xf5, 0x18, 0x90, 0x00, 0x00,
	0x01, 0x01, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
	0x01, 0x01, 0x05, 0x12, 0x00, 0x00, 0x0b, 0xb8, 0x00, 0x00, 0x0f, 0xa0,
	0x00, 0x00, 0x13, 0x88, 0x00, 0x00, 0x17, 0x70, 0x78, 0x79, 0x7a,
};
/* IPv6 + UDP to 4789 carrying 13 bytes. */
static const uint8_t v6_udp[] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x15, 0x11, 0x40, 0x20, 0x01, 0x00, 0x02,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x20, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x02, 0x13, 0x88, 0x12, 0xb5, 0x00, 0x15, 0x2d, 0x9c,
	0x08, 0x00, 0x00, 0x00, 0x00, 0x10, 0x20, 0x00, 0x68, 0x65, 0x6c, 0x6c,
	0x6f,
};

/* Deterministic PRNG (xorshift32) so failures reproduce. */
static uint32_t rng_next(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

static void test_rfc1071_example(void **state)
{
	/* RFC 1071 §3: these eight bytes sum to 0xddf2. */
	static const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03,
				     0xf4, 0xf5, 0xf6, 0xf7 };
	uint8_t *q;
	size_t i;

	(void)state;
	q = cxt_dup(b, sizeof(b));
	assert_int_equal(cx_csum_partial(q, sizeof(b), 0), 0xddf2);
	assert_int_equal(cx_csum(q, sizeof(b)), 0x220d);
	/* Any even split gives the same sum (RFC 1071 §2 (A)). */
	for (i = 0; i <= sizeof(b); i += 2)
		assert_int_equal(cx_csum_partial(q + i, sizeof(b) - i,
						 cx_csum_partial(q, i, 0)),
				 0xddf2);
	free(q);
}

static void test_odd_and_unaligned(void **state)
{
	static const struct {
		uint8_t b[5];
		size_t len;
		uint32_t start;
		uint32_t sum;
	} v[] = {
		{ { 0 }, 0, 0, 0 },
		{ { 0x01 }, 1, 0, 0x0100 },
		{ { 0xab, 0xcd, 0xef }, 3, 0, 0xabcd + 0xef00 - 0xffff },
		{ { 0xff, 0xff }, 2, 0, 0xffff },
		{ { 0xff, 0xff, 0x00, 0x01 }, 4, 0, 0x0001 },
		{ { 0x12, 0x34 }, 2, 0xffffffffU, 0x1234 },
		{ { 0x80 }, 1, 0x00018000U, 0x0002 },
	};
	uint8_t buf[16];
	uint8_t *q;
	size_t i, shift;

	(void)state;
	for (i = 0; i < ARRAY_N(v); i++) {
		q = cxt_dup(v[i].b, v[i].len);
		assert_int_equal(cx_csum_partial(q, v[i].len, v[i].start),
				 v[i].sum);
		free(q);
		/* The same bytes at every alignment. */
		for (shift = 1; shift < 8; shift++) {
			memcpy(buf + shift, v[i].b, v[i].len);
			assert_int_equal(cx_csum_partial(buf + shift, v[i].len,
							 v[i].start),
					 v[i].sum);
		}
	}
}

static void test_ipv4_header(void **state)
{
	static const struct {
		const uint8_t *p;
		size_t hlen;
		uint16_t csum;
	} v[] = {
		{ v4_tcp, 20, 0x9b5e },
		{ v4_udp, 24, 0x99ac },
	};
	uint8_t *q;
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_N(v); i++) {
		q = cxt_dup(v[i].p, v[i].hlen);
		assert_int_equal(cx_csum_ipv4_compute(q, v[i].hlen), v[i].csum);
		assert_int_equal(cx_csum_ipv4_verify(q, v[i].hlen), 0);
		q[8]--;		/* TTL */
		assert_int_equal(cx_csum_ipv4_verify(q, v[i].hlen), -EBADMSG);
		free(q);
		for (n = 0; n < v[i].hlen; n++) {
			q = cxt_dup(v[i].p, n);
			assert_int_equal(cx_csum_ipv4_compute(q, n), -ENODATA);
			assert_int_equal(cx_csum_ipv4_verify(q, n), -ENODATA);
			free(q);
		}
	}
}

static void test_ipv4_header_malformed(void **state)
{
	uint8_t h[20];

	(void)state;
	memcpy(h, v4_tcp, sizeof(h));
	h[0] = 0x65;
	assert_int_equal(cx_csum_ipv4_compute(h, sizeof(h)), -EBADMSG);
	assert_int_equal(cx_csum_ipv4_verify(h, sizeof(h)), -EBADMSG);
	h[0] = 0x44;
	assert_int_equal(cx_csum_ipv4_compute(h, sizeof(h)), -EBADMSG);
	h[0] = 0x40;
	assert_int_equal(cx_csum_ipv4_verify(h, sizeof(h)), -EBADMSG);
	h[0] = 0x46;	/* IHL 6 but only 20 bytes */
	assert_int_equal(cx_csum_ipv4_compute(h, sizeof(h)), -ENODATA);
}

/* The pseudo-header sums against a buffer laid out as the RFCs draw it. */
static void test_pseudo_layout(void **state)
{
	static const uint8_t s4[4] = { 198, 18, 0, 1 };
	static const uint8_t d4[4] = { 198, 19, 255, 254 };
	static const uint32_t lens[] = { 0, 8, 0x15, 0xffff, 0x10000,
					 0x12345678, 0xffffffffU };
	uint8_t s6[16], d6[16], ph[40];
	size_t i;

	(void)state;
	for (i = 0; i < 16; i++) {
		s6[i] = (uint8_t)(0x20 + i * 7);
		d6[i] = (uint8_t)(0xf0 - i * 11);
	}
	for (i = 0; i < ARRAY_N(lens); i++) {
		/* RFC 9293 §3.1: src, dst, zero, PTCL, TCP length. */
		memcpy(ph, s4, 4);
		memcpy(ph + 4, d4, 4);
		ph[8] = 0;
		ph[9] = 17;
		cx_put_be16(ph + 10, (uint16_t)lens[i]);
		assert_int_equal(cx_csum_pseudo4(s4, d4, 17, (uint16_t)lens[i]),
				 cx_csum_partial(ph, 12, 0));
		/* RFC 8200 §8.1: src, dst, 32-bit length, 3 zeros, NH. */
		memcpy(ph, s6, 16);
		memcpy(ph + 16, d6, 16);
		cx_put_be32(ph + 32, lens[i]);
		ph[36] = ph[37] = ph[38] = 0;
		ph[39] = 6;
		assert_int_equal(cx_csum_pseudo6(s6, d6, 6, lens[i]),
				 cx_csum_partial(ph, 40, 0));
	}
}

static void test_l4_known(void **state)
{
	static const struct {
		const uint8_t *pkt;
		size_t pkt_len;
		int v6;
		uint8_t proto;
		size_t l3_len;
		uint16_t csum;
		size_t csum_off;	/* within the L4 header */
	} v[] = {
		{ v4_tcp, sizeof(v4_tcp), 0, 6, 20, 0xc6e9, 16 },
		{ v4_udp, sizeof(v4_udp), 0, 17, 24, 0x315e, 6 },
		{ v6_tcp, sizeof(v6_tcp), 1, 6, 40, 0x1890, 16 },
		{ v6_udp, sizeof(v6_udp), 1, 17, 40, 0x2d9c, 6 },
	};
	uint32_t ph;
	uint8_t *q;
	size_t i, l4_len;

	(void)state;
	for (i = 0; i < ARRAY_N(v); i++) {
		l4_len = v[i].pkt_len - v[i].l3_len;
		if (v[i].v6)
			ph = cx_csum_pseudo6(v[i].pkt + 8, v[i].pkt + 24,
					     v[i].proto, (uint32_t)l4_len);
		else
			ph = cx_csum_pseudo4(v[i].pkt + 12, v[i].pkt + 16,
					     v[i].proto, (uint16_t)l4_len);
		q = cxt_dup(v[i].pkt + v[i].l3_len, l4_len);
		assert_true(cx_csum_ok(ph, q, l4_len));
		assert_int_equal(cx_get_be16(q + v[i].csum_off), v[i].csum);
		cx_put_be16(q + v[i].csum_off, 0);
		assert_int_equal(cx_csum_finish(cx_csum_partial(q, l4_len, ph)),
				 v[i].csum);
		cx_put_be16(q + v[i].csum_off, v[i].csum ^ 1);
		assert_false(cx_csum_ok(ph, q, l4_len));
		free(q);
	}
}

/*
 * RFC 1624 §3: the other header words sum to 0xcd7a and m = 0x5555
 * becomes m' = 0x3285. Recomputing gives 0x0000; eqn. 3 must agree (eqn. 2
 * would give 0xffff).
 */
static void test_rfc1624_example(void **state)
{
	uint8_t h[6];
	uint16_t hc, full;

	(void)state;
	cx_put_be16(h, 0xcd7a);
	cx_put_be16(h + 2, 0x5555);
	cx_put_be16(h + 4, 0);
	hc = cx_csum(h, sizeof(h));
	assert_int_equal(hc, 0xdd2f);
	cx_put_be16(h + 2, 0x3285);
	full = cx_csum(h, sizeof(h));
	assert_int_equal(full, 0x0000);
	assert_int_equal(cx_csum_update16(hc, 0x5555, 0x3285), 0x0000);
	/* And back again. */
	assert_int_equal(cx_csum_update16(0x0000, 0x3285, 0x5555), 0xdd2f);
}

static uint16_t pick16(uint32_t *s)
{
	uint32_t r = rng_next(s);

	/* One in four values is a ones' complement zero: 0x0000 or 0xffff. */
	switch (r & 7) {
	case 0:
		return 0x0000;
	case 1:
		return 0xffff;
	default:
		return (uint16_t)(r >> 16);
	}
}

/* A random IPv4-like header of 20..60 bytes with a correct checksum. */
static size_t random_header(uint32_t *s, uint8_t *h)
{
	size_t i, hlen = 20 + 4 * (rng_next(s) % 11);
	uint16_t sum;

	for (i = 0; i < hlen; i += 2)
		cx_put_be16(h + i, pick16(s));
	h[0] = (uint8_t)(0x40 | hlen / 4);
	cx_put_be16(h + 10, 0);
	if (!(rng_next(s) & 3)) {
		/*
		 * Force the stored checksum to 0x0000 (all other words sum to
		 * 0xffff), the corner case of RFC 1624 §3.
		 */
		cx_put_be16(h + 12, 0);
		sum = (uint16_t)cx_csum_partial(h, hlen, 0);
		cx_put_be16(h + 12, (uint16_t)(0xffff - sum));
	}
	cx_put_be16(h + 10, (uint16_t)cx_csum_ipv4_compute(h, hlen));
	return hlen;
}

static void test_incremental_random(void **state)
{
	uint32_t s = 0x2545f491U, old32, new32;
	uint16_t old16, new16, hc, d;
	uint8_t h[60];
	size_t hlen, off, off2;
	unsigned int i, zero_hc = 0;

	(void)state;
	for (i = 0; i < 20000; i++) {
		hlen = random_header(&s, h);
		hc = cx_get_be16(h + 10);
		zero_hc += hc == 0;
		assert_int_equal(cx_csum_ipv4_verify(h, hlen), 0);

		/* One 16-bit word, anywhere but the checksum itself. */
		do
			off = 2 * (rng_next(&s) % (hlen / 2));
		while (off == 10);
		old16 = cx_get_be16(h + off);
		new16 = pick16(&s);
		if (off == 0)	/* keep version and IHL */
			new16 = (uint16_t)((old16 & 0xff00) | (new16 & 0xff));
		cx_put_be16(h + off, new16);
		hc = cx_csum_update16(hc, old16, new16);
		assert_int_equal(hc, cx_csum_ipv4_compute(h, hlen));
		cx_put_be16(h + 10, hc);

		/* One aligned 32-bit field (ID+flags, addresses, options). */
		do
			off = 4 + 2 * (rng_next(&s) % ((hlen - 6) / 2));
		while (off == 8 || off == 10);
		old32 = cx_get_be32(h + off);
		new32 = (uint32_t)pick16(&s) << 16 | pick16(&s);
		cx_put_be32(h + off, new32);
		hc = cx_csum_update32(hc, old32, new32);
		assert_int_equal(hc, cx_csum_ipv4_compute(h, hlen));
		cx_put_be16(h + 10, hc);

		/* Two changes folded into one delta. */
		off = 12;
		off2 = 16;
		old32 = cx_get_be32(h + off);
		new32 = rng_next(&s);
		d = cx_csum_delta32(old32, new32);
		cx_put_be32(h + off, new32);
		old16 = cx_get_be16(h + off2);
		new16 = pick16(&s);
		d = cx_csum_fold((uint32_t)d + cx_csum_delta16(old16, new16));
		cx_put_be16(h + off2, new16);
		hc = cx_csum_apply(hc, d);
		assert_int_equal(hc, cx_csum_ipv4_compute(h, hlen));
	}
	/* The corner case was actually exercised. */
	assert_true(zero_hc > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc1071_example),
		cmocka_unit_test(test_odd_and_unaligned),
		cmocka_unit_test(test_ipv4_header),
		cmocka_unit_test(test_ipv4_header_malformed),
		cmocka_unit_test(test_pseudo_layout),
		cmocka_unit_test(test_l4_known),
		cmocka_unit_test(test_rfc1624_example),
		cmocka_unit_test(test_incremental_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
