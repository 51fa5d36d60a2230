#include "cxtest.h"

#include <errno.h>

#include <conex/byteorder.h>
#include <conex/csum.h>
#include <conex/udp.h>

#define ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))

/* From scapy: 198.18.0.1 -> 198.18.1.2, UDP 1234 -> 4789, "abcde". */
static const uint8_t v4_src[4] = { 0xc6, 0x12, 0x00, 0x01 };
static const uint8_t v4_dst[4] = { 0xc6, 0x12, 0x01, 0x02 };
static const uint8_t v4_dgram[] = {
	0x04, 0xd2, 0x12, 0xb5, 0x00, 0x0d, 0x31, 0x5e,
	0x61, 0x62, 0x63, 0x64, 0x65,
};
/* From scapy: 2001:2::1 -> 2001:2::2, UDP 5000 -> 4789, 13 bytes. */
static const uint8_t v6_src[16] = { 0x20, 0x01, 0x00, 0x02, [15] = 0x01 };
static const uint8_t v6_dst[16] = { 0x20, 0x01, 0x00, 0x02, [15] = 0x02 };
static const uint8_t v6_dgram[] = {
	0x13, 0x88, 0x12, 0xb5, 0x00, 0x15, 0x2d, 0x9c, 0x08, 0x00, 0x00,
	0x00, 0x00, 0x10, 0x20, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
};
/* Header only: Length 8, no data, checksum 0 (none, IPv4). */
static const uint8_t empty_dgram[] = {
	0xff, 0xff, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00,
};

static const struct {
	const uint8_t *p;
	size_t len;
	struct cx_udp want;
} vecs[] = {
	{ v4_dgram, sizeof(v4_dgram), { 1234, 4789, 13, 0x315e } },
	{ v6_dgram, sizeof(v6_dgram), { 5000, 4789, 21, 0x2d9c } },
	{ empty_dgram, sizeof(empty_dgram), { 65535, 53, 8, 0 } },
};

static void assert_udp_equal(const struct cx_udp *a, const struct cx_udp *b)
{
	assert_int_equal(a->sport, b->sport);
	assert_int_equal(a->dport, b->dport);
	assert_int_equal(a->len, b->len);
	assert_int_equal(a->csum, b->csum);
}

static void test_decode(void **state)
{
	struct cx_udp u;
	uint8_t *q;
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_N(vecs); i++) {
		q = cxt_dup(vecs[i].p, vecs[i].len);
		assert_int_equal(cx_udp_decode(q, vecs[i].len, &u),
				 CX_UDP_HLEN);
		assert_udp_equal(&u, &vecs[i].want);
		free(q);
		for (n = 0; n < vecs[i].len; n++) {
			q = cxt_dup(vecs[i].p, n);
			/* Strict: the whole datagram must be there. */
			assert_int_equal(cx_udp_decode(q, n, &u), -ENODATA);
			/* Header-only: valid once the 8 bytes are there. */
			if (n < CX_UDP_HLEN) {
				assert_int_equal(cx_udp_decode_hdr(q, n, &u),
						 -ENODATA);
			} else {
				assert_int_equal(cx_udp_decode_hdr(q, n, &u),
						 CX_UDP_HLEN);
				assert_udp_equal(&u, &vecs[i].want);
			}
			free(q);
		}
	}
}

static void test_decode_padding_and_malformed(void **state)
{
	struct cx_udp u, keep = { 1, 2, 3, 4 };
	uint8_t b[32];
	uint16_t ulen;

	(void)state;
	/* Link-layer padding after Length is not part of the datagram. */
	memset(b, 0xee, sizeof(b));
	memcpy(b, v4_dgram, sizeof(v4_dgram));
	assert_int_equal(cx_udp_decode(b, sizeof(b), &u), CX_UDP_HLEN);
	assert_int_equal(u.len, 13);
	for (ulen = 0; ulen < CX_UDP_HLEN; ulen++) {
		cx_put_be16(b + 4, ulen);
		u = keep;
		assert_int_equal(cx_udp_decode(b, sizeof(b), &u), -EBADMSG);
		assert_int_equal(cx_udp_decode_hdr(b, sizeof(b), &u),
				 -EBADMSG);
		assert_udp_equal(&u, &keep);
	}
}

static void test_encode_roundtrip(void **state)
{
	uint8_t b[CX_UDP_HLEN], *q;
	struct cx_udp u, bad = { 1, 2, 7, 0 };
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_N(vecs); i++) {
		assert_int_equal(cx_udp_encode(b, sizeof(b), &vecs[i].want),
				 CX_UDP_HLEN);
		assert_memory_equal(b, vecs[i].p, CX_UDP_HLEN);
		assert_int_equal(cx_udp_decode_hdr(b, sizeof(b), &u),
				 CX_UDP_HLEN);
		assert_udp_equal(&u, &vecs[i].want);
		for (n = 0; n < CX_UDP_HLEN; n++) {
			q = cxt_dup(b, n);
			assert_int_equal(cx_udp_encode(q, n, &vecs[i].want),
					 -ENOSPC);
			free(q);
		}
	}
	assert_int_equal(cx_udp_encode(b, sizeof(b), &bad), -EINVAL);
}

static void test_csum(void **state)
{
	uint8_t b[32];
	uint32_t ph;
	size_t i;

	(void)state;
	memcpy(b, v4_dgram, sizeof(v4_dgram));
	cx_put_be16(b + 6, 0);
	ph = cx_csum_pseudo4(v4_src, v4_dst, 17, sizeof(v4_dgram));
	assert_int_equal(cx_udp_csum(ph, b, sizeof(v4_dgram)), 0x315e);

	memcpy(b, v6_dgram, sizeof(v6_dgram));
	cx_put_be16(b + 6, 0);
	ph = cx_csum_pseudo6(v6_src, v6_dst, 17, sizeof(v6_dgram));
	assert_int_equal(cx_udp_csum(ph, b, sizeof(v6_dgram)), 0x2d9c);

	/*
	 * A datagram whose checksum computes to 0 is sent as 0xffff
	 * (RFC 768); the receive check accepts it. Choose the last data
	 * word so the total sums to 0xffff.
	 */
	memcpy(b, v4_dgram, 12);
	cx_put_be16(b + 4, 12);
	cx_put_be16(b + 6, 0);
	cx_put_be16(b + 10, 0);
	ph = cx_csum_pseudo4(v4_src, v4_dst, 17, 12);
	cx_put_be16(b + 10, (uint16_t)(0xffff - cx_csum_partial(b, 12, ph)));
	assert_int_equal(cx_csum_finish(cx_csum_partial(b, 12, ph)), 0);
	assert_int_equal(cx_udp_csum(ph, b, 12), 0xffff);
	cx_put_be16(b + 6, 0xffff);
	assert_true(cx_csum_ok(ph, b, 12));

	/* Otherwise the value is the plain Internet checksum. */
	for (i = 0; i < 256; i++) {
		b[8] = (uint8_t)i;
		cx_put_be16(b + 6, 0);
		cx_put_be16(b + 6, cx_udp_csum(ph, b, 12));
		assert_true(cx_csum_ok(ph, b, 12));
		assert_int_not_equal(cx_get_be16(b + 6), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_decode_padding_and_malformed),
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test(test_csum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
