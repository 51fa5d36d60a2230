#include "cxtest.h"

#include <errno.h>

#include <conex/byteorder.h>
#include <conex/csum.h>
#include <conex/ecn.h>

#define ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))

/* IPv4 header from scapy: TOS 0x02 (ECT(0)), checksum 0x9b5e. */
static const uint8_t v4_hdr[20] = {
	0x45, 0x02, 0x00, 0x3c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x9b, 0x5e,
	0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x01, 0x02,
};
/* IPv6 header from scapy: Traffic Class 0xb9 (ECT(1)), flow 0x12345. */
static const uint8_t v6_hdr[40] = {
	0x6b, 0x91, 0x23, 0x45, 0x00, 0x37, 0x06, 0x40, 0x20, 0x01, 0x00, 0x02,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x20, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x02,
};

static void test_ipv4_get_set(void **state)
{
	static const struct {
		enum cx_ecn ecn;
		uint16_t csum;		/* full recompute, from scapy */
	} v[] = {
		{ CX_ECN_NOT_ECT, 0x9b60 },
		{ CX_ECN_ECT1, 0x9b5f },
		{ CX_ECN_ECT0, 0x9b5e },
		{ CX_ECN_CE, 0x9b5d },
	};
	uint8_t h[20];
	size_t i, j;

	(void)state;
	for (i = 0; i < ARRAY_N(v); i++) {
		memcpy(h, v4_hdr, sizeof(h));
		assert_int_equal(cx_ecn_get_ipv4(h, sizeof(h)), CX_ECN_ECT0);
		assert_int_equal(cx_ecn_set_ipv4(h, sizeof(h), v[i].ecn),
				 CX_ECN_ECT0);
		assert_int_equal(cx_ecn_get_ipv4(h, sizeof(h)), v[i].ecn);
		assert_int_equal(cx_get_be16(h + 10), v[i].csum);
		assert_int_equal(cx_csum_ipv4_verify(h, sizeof(h)), 0);
		/* Only the ECN bits and the checksum changed. */
		for (j = 0; j < sizeof(h); j++)
			if (j != 1 && j != 10 && j != 11)
				assert_int_equal(h[j], v4_hdr[j]);
		assert_int_equal(h[1] & 0xfc, v4_hdr[1] & 0xfc);
		/* Every transition from this codepoint to every other. */
		for (j = 0; j < ARRAY_N(v); j++) {
			assert_int_equal(cx_ecn_set_ipv4(h, 20, v[j].ecn),
					 j ? v[j - 1].ecn : v[i].ecn);
			assert_int_equal(cx_get_be16(h + 10), v[j].csum);
		}
	}
}

static void test_ipv4_errors(void **state)
{
	uint8_t h[24], *q;
	size_t n;

	(void)state;
	for (n = 0; n < sizeof(v4_hdr); n++) {
		q = cxt_dup(v4_hdr, n);
		assert_int_equal(cx_ecn_get_ipv4(q, n), -ENODATA);
		assert_int_equal(cx_ecn_set_ipv4(q, n, CX_ECN_CE), -ENODATA);
		free(q);
	}
	memcpy(h, v4_hdr, sizeof(v4_hdr));
	assert_int_equal(cx_ecn_set_ipv4(h, 20, (enum cx_ecn)4), -EINVAL);
	assert_memory_equal(h, v4_hdr, 20);
	h[0] = 0x46;	/* IHL 6, only 20 bytes given */
	assert_int_equal(cx_ecn_set_ipv4(h, 20, CX_ECN_CE), -ENODATA);
	h[0] = 0x44;
	assert_int_equal(cx_ecn_get_ipv4(h, 20), -EBADMSG);
	h[0] = 0x65;
	assert_int_equal(cx_ecn_set_ipv4(h, 20, CX_ECN_CE), -EBADMSG);
	assert_int_equal(h[1], v4_hdr[1]);
}

static void test_ipv6_get_set(void **state)
{
	static const enum cx_ecn cps[] = { CX_ECN_NOT_ECT, CX_ECN_ECT1,
					   CX_ECN_ECT0, CX_ECN_CE };
	uint8_t h[40], *q;
	size_t i, n;
	int prev = CX_ECN_ECT1;

	(void)state;
	memcpy(h, v6_hdr, sizeof(h));
	assert_int_equal(cx_ecn_get_ipv6(h, sizeof(h)), CX_ECN_ECT1);
	for (i = 0; i < ARRAY_N(cps); i++) {
		assert_int_equal(cx_ecn_set_ipv6(h, sizeof(h), cps[i]), prev);
		assert_int_equal(cx_ecn_get_ipv6(h, sizeof(h)), cps[i]);
		/* Traffic Class = 0xb8 | ecn; version, DSCP, flow untouched. */
		assert_int_equal(((h[0] & 0x0f) << 4) | h[1] >> 4,
				 0xb8 | cps[i]);
		assert_int_equal(h[0], v6_hdr[0]);
		assert_int_equal(h[1] & 0xcf, v6_hdr[1] & 0xcf);
		assert_memory_equal(h + 2, v6_hdr + 2, sizeof(h) - 2);
		prev = cps[i];
	}
	for (n = 0; n < sizeof(v6_hdr); n++) {
		q = cxt_dup(v6_hdr, n);
		assert_int_equal(cx_ecn_get_ipv6(q, n), -ENODATA);
		assert_int_equal(cx_ecn_set_ipv6(q, n, CX_ECN_CE), -ENODATA);
		free(q);
	}
	assert_int_equal(cx_ecn_set_ipv6(h, sizeof(h), (enum cx_ecn)7),
			 -EINVAL);
	h[0] = 0x4b;
	assert_int_equal(cx_ecn_get_ipv6(h, sizeof(h)), -EBADMSG);
	assert_int_equal(cx_ecn_set_ipv6(h, sizeof(h), CX_ECN_CE), -EBADMSG);
}

#define N CX_ECN_NOT_ECT
#define E0 CX_ECN_ECT0
#define E1 CX_ECN_ECT1
#define CE CX_ECN_CE
#define DROP (-1)

/* docs/wire.md §7.1 / RFC 6040 §4.2, cell by cell. */
static void test_decap_table(void **state)
{
	static const struct {
		enum cx_ecn inner, outer;
		int out;
	} v[] = {
		{ N, N, N }, { N, E0, N }, { N, E1, N }, { N, CE, DROP },
		{ E0, N, E0 }, { E0, E0, E0 }, { E0, E1, E1 }, { E0, CE, CE },
		{ E1, N, E1 }, { E1, E0, E1 }, { E1, E1, E1 }, { E1, CE, CE },
		{ CE, N, CE }, { CE, E0, CE }, { CE, E1, CE }, { CE, CE, CE },
	};
	enum cx_ecn out;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_N(v); i++) {
		out = (enum cx_ecn)0x55;
		if (v[i].out == DROP) {
			assert_int_equal(cx_ecn_decap(v[i].inner, v[i].outer,
						      &out),
					 CX_ECN_DECAP_DROP);
			assert_int_equal(out, 0x55);
		} else {
			assert_int_equal(cx_ecn_decap(v[i].inner, v[i].outer,
						      &out),
					 CX_ECN_DECAP_FORWARD);
			assert_int_equal(out, v[i].out);
		}
	}
	assert_int_equal(cx_ecn_decap((enum cx_ecn)4, N, &out), -EINVAL);
	assert_int_equal(cx_ecn_decap(N, (enum cx_ecn)4, &out), -EINVAL);
	assert_int_equal(cx_ecn_decap((enum cx_ecn)-1, N, &out), -EINVAL);
}

static void test_encap(void **state)
{
	static const struct {
		enum cx_ecn inner;
		enum cx_ecn_encap_mode mode;
		enum cx_ecn outer;
	} v[] = {
		{ N, CX_ECN_ENCAP_NORMAL, N },
		{ E0, CX_ECN_ENCAP_NORMAL, E0 },
		{ E1, CX_ECN_ENCAP_NORMAL, E1 },
		{ CE, CX_ECN_ENCAP_NORMAL, CE },
		{ N, CX_ECN_ENCAP_COMPAT, N },
		{ E0, CX_ECN_ENCAP_COMPAT, N },
		{ E1, CX_ECN_ENCAP_COMPAT, N },
		{ CE, CX_ECN_ENCAP_COMPAT, N },
		{ N, CX_ECN_ENCAP_FALLBACK, E0 },
		{ E0, CX_ECN_ENCAP_FALLBACK, E0 },
		{ E1, CX_ECN_ENCAP_FALLBACK, E1 },
		{ CE, CX_ECN_ENCAP_FALLBACK, CE },
	};
	enum cx_ecn out;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_N(v); i++) {
		assert_int_equal(cx_ecn_encap(v[i].inner, v[i].mode),
				 v[i].outer);
		/*
		 * Encapsulating then decapsulating with no congestion en
		 * route gives back the inner codepoint, in every mode.
		 */
		assert_int_equal(cx_ecn_decap(v[i].inner, v[i].outer, &out),
				 CX_ECN_DECAP_FORWARD);
		assert_int_equal(out, v[i].inner);
	}
	assert_int_equal(cx_ecn_encap((enum cx_ecn)4, CX_ECN_ENCAP_NORMAL),
			 -EINVAL);
	assert_int_equal(cx_ecn_encap(N, (enum cx_ecn_encap_mode)3), -EINVAL);
}

/*
 * The fallback's purpose: a switch that marks CE on an ECT outer header of
 * a legacy (Not-ECT) inner packet turns into a drop at the egress, which is
 * the loss the legacy transport would have seen (RFC 7713 §5.5).
 */
static void test_fallback_mark_becomes_drop(void **state)
{
	enum cx_ecn out;
	int outer;

	(void)state;
	outer = cx_ecn_encap(N, CX_ECN_ENCAP_FALLBACK);
	assert_int_equal(outer, E0);
	assert_int_equal(cx_ecn_decap(N, (enum cx_ecn)outer, &out),
			 CX_ECN_DECAP_FORWARD);
	assert_int_equal(out, N);
	assert_int_equal(cx_ecn_decap(N, CE, &out), CX_ECN_DECAP_DROP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_get_set),
		cmocka_unit_test(test_ipv4_errors),
		cmocka_unit_test(test_ipv6_get_set),
		cmocka_unit_test(test_decap_table),
		cmocka_unit_test(test_encap),
		cmocka_unit_test(test_fallback_mark_becomes_drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
