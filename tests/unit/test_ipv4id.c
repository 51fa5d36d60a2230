#include "cxtest.h"

#include <errno.h>

#include <conex/byteorder.h>
#include <conex/csum.h>
#include <conex/ipv4id.h>

#define ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))

/* IPv4 header from scapy: ID 0x1234, DF, Total Length 60, csum 0x9b5e. */
static const uint8_t v4_hdr[20] = {
	0x45, 0x02, 0x00, 0x3c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x9b, 0x5e,
	0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x01, 0x02,
};

/* v4_hdr with the given ID and flags/offset word, checksum recomputed. */
static void make_hdr(uint8_t *h, uint16_t id, uint16_t frag)
{
	memcpy(h, v4_hdr, sizeof(v4_hdr));
	cx_put_be16(h + 4, id);
	cx_put_be16(h + 6, frag);
	cx_put_be16(h + 10, (uint16_t)cx_csum_ipv4_compute(h, 20));
}

static void test_decode_table(void **state)
{
	static const struct {
		uint16_t id, frag;
		int state;
		uint8_t bits;
	} v[] = {
		{ 0x1234, 0x4000, CX_IPV4ID_NOT_CONEX, 0 },	/* DF only */
		{ 0x0000, 0x0000, CX_IPV4ID_NOT_CONEX, 0 },
		{ 0xf000, 0x2000, CX_IPV4ID_NOT_CONEX, 0 },	/* MF, RF=0 */
		{ 0xf000, 0x4000, CX_IPV4ID_NOT_CONEX, 0 },	/* an ID */
		{ 0x8000, 0xc000, CX_IPV4ID_CONEX, CX_SIG_X },
		{ 0xf000, 0xc000, CX_IPV4ID_CONEX, CX_SIG_X | CX_SIG_LEC },
		{ 0xc000, 0xc000, CX_IPV4ID_CONEX, CX_SIG_X | CX_SIG_L },
		{ 0xa000, 0xc000, CX_IPV4ID_CONEX, CX_SIG_X | CX_SIG_E },
		{ 0x9000, 0xc000, CX_IPV4ID_CONEX, CX_SIG_X | CX_SIG_C },
		{ 0x0000, 0xc000, CX_IPV4ID_CONEX, 0 },
		{ 0x4000, 0xc000, CX_IPV4ID_CONEX, CX_SIG_L },	/* X=0 */
		/* The 12 low bits are ignored (TSO/GSO writes ID+i). */
		{ 0x8fff, 0xc000, CX_IPV4ID_CONEX, CX_SIG_X },
		{ 0xd123, 0xc000, CX_IPV4ID_CONEX, CX_SIG_X | CX_SIG_L |
						   CX_SIG_C },
		/* RF=1 on a packet that is not atomic. */
		{ 0xf000, 0x8000, CX_IPV4ID_ANOMALY, 0 },	/* DF=0 */
		{ 0xf000, 0xe000, CX_IPV4ID_ANOMALY, 0 },	/* MF=1 */
		{ 0xf000, 0xc001, CX_IPV4ID_ANOMALY, 0 },	/* offset 1 */
		{ 0xf000, 0xdfff, CX_IPV4ID_ANOMALY, 0 },
		{ 0xf000, 0xa000, CX_IPV4ID_ANOMALY, 0 },
	};
	struct cx_ipv4id d;
	uint8_t h[20], *q;
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_N(v); i++) {
		make_hdr(h, v[i].id, v[i].frag);
		q = cxt_dup(h, sizeof(h));
		memset(&d, 0xa5, sizeof(d));
		assert_int_equal(cx_ipv4id_decode(q, 20, &d), v[i].state);
		assert_int_equal(d.state, v[i].state);
		assert_int_equal(d.bits, v[i].bits);
		assert_int_equal(d.total_len, 60);
		free(q);
		for (n = 0; n < sizeof(h); n++) {
			q = cxt_dup(h, n);
			assert_int_equal(cx_ipv4id_decode(q, n, &d), -ENODATA);
			free(q);
		}
	}
}

static void test_decode_tso_segments(void **state)
{
	struct cx_ipv4id d;
	uint8_t h[20];
	unsigned int i;

	(void)state;
	/* Segment i of a GSO burst carries ID base + i, i < 4096. */
	for (i = 0; i < 4096; i++) {
		make_hdr(h, (uint16_t)(0xa000 + i), 0xc000);
		assert_int_equal(cx_ipv4id_decode(h, sizeof(h), &d),
				 CX_IPV4ID_CONEX);
		assert_int_equal(d.bits, CX_SIG_X | CX_SIG_E);
	}
}

static void test_decode_malformed(void **state)
{
	struct cx_ipv4id d;
	uint8_t h[24];

	(void)state;
	make_hdr(h, 0xc000, 0xc000);
	h[0] = 0x65;
	assert_int_equal(cx_ipv4id_decode(h, 20, &d), -EBADMSG);
	h[0] = 0x44;
	assert_int_equal(cx_ipv4id_decode(h, 20, &d), -EBADMSG);
	h[0] = 0x46;
	assert_int_equal(cx_ipv4id_decode(h, 20, &d), -ENODATA);
	memset(h + 20, 0, 4);
	assert_int_equal(cx_ipv4id_decode(h, 24, &d), CX_IPV4ID_CONEX);
	/* Total Length shorter than the header. */
	cx_put_be16(h + 2, 23);
	assert_int_equal(cx_ipv4id_decode(h, 24, &d), -EBADMSG);
	cx_put_be16(h + 2, 24);
	assert_int_equal(cx_ipv4id_decode(h, 24, &d), CX_IPV4ID_CONEX);
	/* A header-only copy of a longer packet decodes. */
	cx_put_be16(h + 2, 1500);
	assert_int_equal(cx_ipv4id_decode(h, 24, &d), CX_IPV4ID_CONEX);
	assert_int_equal(d.total_len, 1500);
}

/* Known answer from scapy: X|L on v4_hdr gives checksum 0x6d91. */
static void test_apply_known(void **state)
{
	static const uint8_t want[20] = {
		0x45, 0x02, 0x00, 0x3c, 0xc0, 0x00, 0xc0, 0x00, 0x40, 0x06,
		0x6d, 0x91, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x01, 0x02,
	};
	uint8_t h[20];
	uint16_t delta;

	(void)state;
	memcpy(h, v4_hdr, sizeof(h));
	assert_int_equal(cx_ipv4id_apply(h, sizeof(h), CX_SIG_X | CX_SIG_L,
					 &delta), 0);
	assert_memory_equal(h, want, sizeof(want));
	assert_int_equal(cx_csum_apply(0x9b5e, delta), 0x6d91);
}

static void test_apply_roundtrip(void **state)
{
	static const uint16_t frags[] = { 0x0000, 0x4000, 0x8000, 0xc000 };
	static const uint16_t ids[] = { 0x0000, 0x1234, 0xffff, 0x8fff };
	struct cx_ipv4id d;
	uint8_t h[20], before[20];
	uint16_t delta, hc;
	unsigned int bits, i, j, k;

	(void)state;
	for (bits = 0; bits < 0x100; bits += 0x10)
		for (i = 0; i < ARRAY_N(frags); i++)
			for (j = 0; j < ARRAY_N(ids); j++) {
				make_hdr(h, ids[j], frags[i]);
				memcpy(before, h, sizeof(h));
				hc = cx_get_be16(h + 10);
				assert_int_equal(cx_ipv4id_apply(h, sizeof(h),
								 (uint8_t)bits,
								 &delta), 0);
				assert_int_equal(cx_get_be16(h + 4),
						 bits << 8);
				assert_int_equal(cx_get_be16(h + 6), 0xc000);
				assert_int_equal(cx_csum_ipv4_verify(h, 20), 0);
				assert_int_equal(cx_get_be16(h + 10),
						 cx_csum_apply(hc, delta));
				for (k = 0; k < sizeof(h); k++)
					if (k < 4 || (k > 7 && k != 10 &&
						      k != 11))
						assert_int_equal(h[k],
								 before[k]);
				assert_int_equal(cx_ipv4id_decode(h, 20, &d),
						 CX_IPV4ID_CONEX);
				assert_int_equal(d.bits, bits);
				/* Applying twice changes nothing more. */
				assert_int_equal(cx_ipv4id_apply(h, 20,
								 (uint8_t)bits,
								 NULL), 0);
				assert_int_equal(cx_csum_ipv4_verify(h, 20), 0);
			}
}

static void test_apply_refused(void **state)
{
	static const uint16_t frags[] = { 0x2000, 0x6000, 0xe000, 0x0001,
					  0x4001, 0x1fff };
	uint8_t h[20], before[20], *q;
	uint16_t delta = 0x5a5a;
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_N(frags); i++) {
		make_hdr(h, 0x1234, frags[i]);
		memcpy(before, h, sizeof(h));
		assert_int_equal(cx_ipv4id_apply(h, 20, CX_SIG_X, &delta),
				 -EINVAL);
		assert_memory_equal(h, before, sizeof(h));
		assert_int_equal(delta, 0x5a5a);
	}
	make_hdr(h, 0x1234, 0x4000);
	for (n = 1; n <= 0x0f; n++)
		assert_int_equal(cx_ipv4id_apply(h, 20, (uint8_t)(CX_SIG_X | n),
						 NULL), -EINVAL);
	for (n = 0; n < sizeof(h); n++) {
		q = cxt_dup(h, n);
		assert_int_equal(cx_ipv4id_apply(q, n, CX_SIG_X, NULL),
				 -ENODATA);
		free(q);
	}
	cx_put_be16(h + 2, 19);
	assert_int_equal(cx_ipv4id_apply(h, 20, CX_SIG_X, NULL), -EBADMSG);
	h[0] = 0x55;
	assert_int_equal(cx_ipv4id_apply(h, 20, CX_SIG_X, NULL), -EBADMSG);
}

/* RFC 1624 incremental update keeps a wrong checksum wrong. */
static void test_apply_keeps_bad_checksum_bad(void **state)
{
	uint8_t h[20];

	(void)state;
	make_hdr(h, 0x1234, 0x4000);
	h[10] ^= 0x01;
	assert_int_equal(cx_csum_ipv4_verify(h, 20), -EBADMSG);
	assert_int_equal(cx_ipv4id_apply(h, 20, CX_SIG_X | CX_SIG_C, NULL), 0);
	assert_int_equal(cx_csum_ipv4_verify(h, 20), -EBADMSG);
}

static void test_flag_bytes(void **state)
{
	static const struct {
		uint16_t id, frag;
		uint32_t x, l, e, c;
	} v[] = {
		{ 0xd000, 0xc000, 60, 60, 0, 60 },	/* X L C: L and C */
		{ 0xf000, 0xc000, 60, 60, 60, 60 },
		{ 0x8000, 0xc000, 60, 0, 0, 0 },	/* X only */
		{ 0x7000, 0xc000, 0, 0, 0, 0 },		/* X=0: ignore LEC */
		{ 0xf000, 0x8000, 0, 0, 0, 0 },		/* anomaly */
		{ 0xf000, 0x4000, 0, 0, 0, 0 },		/* RF=0 */
	};
	static const uint8_t bad_flags[] = { 0, CX_SIG_L | CX_SIG_C, 0x01,
					     0x0f, 0xff };
	struct cx_ipv4id d;
	uint8_t h[20];
	size_t i, j;

	(void)state;
	for (i = 0; i < ARRAY_N(v); i++) {
		make_hdr(h, v[i].id, v[i].frag);
		assert_true(cx_ipv4id_decode(h, 20, &d) >= 0);
		assert_int_equal(cx_ipv4id_flag_bytes(&d, CX_SIG_X), v[i].x);
		assert_int_equal(cx_ipv4id_flag_bytes(&d, CX_SIG_L), v[i].l);
		assert_int_equal(cx_ipv4id_flag_bytes(&d, CX_SIG_E), v[i].e);
		assert_int_equal(cx_ipv4id_flag_bytes(&d, CX_SIG_C), v[i].c);
		for (j = 0; j < ARRAY_N(bad_flags); j++)
			assert_int_equal(cx_ipv4id_flag_bytes(&d,
							      bad_flags[j]), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_decode_tso_segments),
		cmocka_unit_test(test_decode_malformed),
		cmocka_unit_test(test_apply_known),
		cmocka_unit_test(test_apply_roundtrip),
		cmocka_unit_test(test_apply_refused),
		cmocka_unit_test(test_apply_keeps_bad_checksum_bad),
		cmocka_unit_test(test_flag_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
