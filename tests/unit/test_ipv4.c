#include "cxtest.h"

#include <errno.h>

#include <conex/ipv4.h>



/* 198.18.0.1 -> 198.18.0.2, TCP, RF+DF (the ConEx ID encoding), ECT(0). */
static const uint8_t v4_plain[] = {
	0x45, 0x02, 0x00, 0x28, 0x12, 0x34, 0xc0, 0x00,
	0x40, 0x06, 0xab, 0xcd, 0xc6, 0x12, 0x00, 0x01,
	0xc6, 0x12, 0x00, 0x02,
	0x30, 0x39, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01,
	0x00, 0x00, 0x00, 0x00, 0x50, 0x10, 0x01, 0x00,
	0x00, 0x00, 0x00, 0x00,
};

/* IHL 6 (NOP NOP NOP EOL), EF + ECT(1), MF, offset 5 (40 octets), UDP. */
static const uint8_t v4_opts_frag[] = {
	0x46, 0xb9, 0x00, 0x1c, 0x00, 0x01, 0x20, 0x05,
	0x01, 0x11, 0x00, 0x00, 0xc6, 0x13, 0xff, 0xfe,
	0xef, 0xff, 0xff, 0xfa, 0x01, 0x01, 0x01, 0x00,
	0xde, 0xad, 0xbe, 0xef,
};

/* 60-octet header (IHL 15) with a datagram padded past Total Length. */
static const uint8_t v4_max_ihl_padded[] = {
	0x4f, 0x00, 0x00, 0x3c, 0xff, 0xff, 0x40, 0x00,
	0x01, 0x3a, 0x00, 0x00, 0xc6, 0x12, 0x00, 0x01,
	0xe0, 0x00, 0x00, 0x01,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
	0, 0, 0, 0, 0, 0,	/* Ethernet padding: not part of the datagram */
};

struct v4_valid {
	const char *name;
	const uint8_t *p;
	size_t len;
	struct cx_ipv4 want;
	bool atomic, fragment, multicast;
};

static const struct v4_valid valid[] = {
	{ "plain", v4_plain, sizeof(v4_plain),
	  { .ihl_bytes = 20, .tos = 0x02, .dscp = 0, .ecn = 2, .tot_len = 40,
	    .id = 0x1234, .flags = CX_IPV4_F_RF | CX_IPV4_F_DF,
	    .frag_off_bytes = 0, .ttl = 64, .protocol = 6, .checksum = 0xabcd,
	    .saddr = 0xc6120001U, .daddr = 0xc6120002U },
	  true, false, false },
	{ "opts_frag", v4_opts_frag, sizeof(v4_opts_frag),
	  { .ihl_bytes = 24, .tos = 0xb9, .dscp = 46, .ecn = 1, .tot_len = 28,
	    .id = 1, .flags = CX_IPV4_F_MF, .frag_off_bytes = 40, .ttl = 1,
	    .protocol = 17, .checksum = 0, .saddr = 0xc613fffeU,
	    .daddr = 0xeffffffaU },
	  false, true, true },
	{ "max_ihl_padded", v4_max_ihl_padded, sizeof(v4_max_ihl_padded),
	  { .ihl_bytes = 60, .tos = 0, .dscp = 0, .ecn = 0, .tot_len = 60,
	    .id = 0xffff, .flags = CX_IPV4_F_DF, .frag_off_bytes = 0, .ttl = 1,
	    .protocol = 58, .checksum = 0, .saddr = 0xc6120001U,
	    .daddr = 0xe0000001U },
	  true, false, true },
};

static void assert_ipv4_equal(const struct cx_ipv4 *a, const struct cx_ipv4 *b)
{
	assert_int_equal(a->ihl_bytes, b->ihl_bytes);
	assert_int_equal(a->tos, b->tos);
	assert_int_equal(a->dscp, b->dscp);
	assert_int_equal(a->ecn, b->ecn);
	assert_int_equal(a->tot_len, b->tot_len);
	assert_int_equal(a->id, b->id);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->frag_off_bytes, b->frag_off_bytes);
	assert_int_equal(a->ttl, b->ttl);
	assert_int_equal(a->protocol, b->protocol);
	assert_int_equal(a->checksum, b->checksum);
	assert_int_equal(a->saddr, b->saddr);
	assert_int_equal(a->daddr, b->daddr);
}

static void test_valid(void **state)
{
	size_t i, n;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(valid); i++) {
		const struct v4_valid *v = &valid[i];
		struct cx_ipv4 ip;
		uint8_t *q;

		q = cxt_dup(v->p, v->len);
		expect_ret(v->name, cx_ipv4_decode(q, v->len, &ip), v->want.ihl_bytes);
		assert_ipv4_equal(&ip, &v->want);
		assert_int_equal(cx_ipv4_is_atomic(&ip), v->atomic);
		assert_int_equal(cx_ipv4_is_fragment(&ip), v->fragment);
		assert_int_equal(cx_ipv4_is_multicast(&ip), v->multicast);
		memset(&ip, 0, sizeof(ip));
		expect_ret(v->name, cx_ipv4_decode_hdr(q, v->len, &ip), v->want.ihl_bytes);
		assert_ipv4_equal(&ip, &v->want);
		free(q);

		/*
		 * Every prefix: the whole-datagram decoder wants tot_len, the
		 * header decoder only the header (a header-only copy is valid).
		 */
		for (n = 0; n < v->len; n++) {
			int ret;

			q = cxt_dup(v->p, n);
			ret = cx_ipv4_decode(q, n, &ip);
			if (n >= v->want.tot_len) {
				expect_ret(v->name, ret, v->want.ihl_bytes);
				assert_ipv4_equal(&ip, &v->want);
			} else {
				expect_ret(v->name, ret, -ENODATA);
			}
			memset(&ip, 0, sizeof(ip));
			ret = cx_ipv4_decode_hdr(q, n, &ip);
			if (n >= v->want.ihl_bytes) {
				expect_ret(v->name, ret, v->want.ihl_bytes);
				assert_ipv4_equal(&ip, &v->want);
			} else {
				expect_ret(v->name, ret, -ENODATA);
			}
			free(q);
		}
	}
}

struct v4_bad {
	const char *name;
	uint8_t b0;		/* version/IHL octet */
	uint16_t tot_len;
	size_t len;
	int want, want_hdr;	/* cx_ipv4_decode, cx_ipv4_decode_hdr */
};

static const struct v4_bad bad[] = {
	{ "version 6", 0x65, 40, 40, -EBADMSG, -EBADMSG },
	{ "version 0", 0x05, 40, 40, -EBADMSG, -EBADMSG },
	{ "ihl 0", 0x40, 40, 40, -EBADMSG, -EBADMSG },
	{ "ihl 4", 0x44, 40, 40, -EBADMSG, -EBADMSG },
	{ "ihl 15 past buffer", 0x4f, 40, 40, -ENODATA, -ENODATA },
	{ "ihl 11 past buffer by 4", 0x4b, 40, 40, -ENODATA, -ENODATA },
	{ "tot_len below header", 0x45, 19, 40, -EBADMSG, -EBADMSG },
	{ "tot_len 0", 0x45, 0, 40, -EBADMSG, -EBADMSG },
	{ "tot_len below options", 0x46, 20, 40, -EBADMSG, -EBADMSG },
	{ "tot_len past buffer", 0x45, 41, 40, -ENODATA, 20 },
	{ "tot_len max, header-only copy", 0x45, 0xffff, 40, -ENODATA, 20 },
	{ "short buffer", 0x45, 40, 19, -ENODATA, -ENODATA },
};

static void test_malformed(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(bad); i++) {
		const struct v4_bad *v = &bad[i];
		struct cx_ipv4 ip;
		uint8_t buf[40];
		uint8_t *q;

		memcpy(buf, v4_plain, sizeof(buf));
		buf[0] = v->b0;
		buf[2] = (uint8_t)(v->tot_len >> 8);
		buf[3] = (uint8_t)v->tot_len;
		q = cxt_dup(buf, v->len);
		expect_ret(v->name, cx_ipv4_decode(q, v->len, &ip), v->want);
		expect_ret(v->name, cx_ipv4_decode_hdr(q, v->len, &ip), v->want_hdr);
		free(q);
	}
}

static void test_null(void **state)
{
	struct cx_ipv4 ip;

	(void)state;
	assert_int_equal(cx_ipv4_decode(NULL, 40, &ip), -EINVAL);
	assert_int_equal(cx_ipv4_decode(v4_plain, sizeof(v4_plain), NULL), -EINVAL);
	assert_int_equal(cx_ipv4_decode_hdr(NULL, 40, &ip), -EINVAL);
}

/* RFC 6864 §4 atomicity and fragment tests over the flag/offset space. */
static void test_frag_predicates(void **state)
{
	static const struct {
		uint16_t word;		/* flags/offset word */
		bool atomic, fragment;
	} t[] = {
		{ 0x4000, true, false },	/* DF */
		{ 0xc000, true, false },	/* RF DF: ConEx-encoded */
		{ 0x0000, false, false },	/* may be fragmented later */
		{ 0x8000, false, false },	/* RF alone: not atomic */
		{ 0x6000, false, true },	/* DF MF */
		{ 0x2000, false, true },	/* MF, first fragment */
		{ 0x4001, false, true },	/* DF with offset 8 */
		{ 0x1fff, false, true },	/* last fragment, max offset */
	};
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(t); i++) {
		uint8_t buf[40];
		struct cx_ipv4 ip;

		memcpy(buf, v4_plain, sizeof(buf));
		buf[6] = (uint8_t)(t[i].word >> 8);
		buf[7] = (uint8_t)t[i].word;
		assert_int_equal(cx_ipv4_decode(buf, sizeof(buf), &ip), 20);
		assert_int_equal(ip.frag_off_bytes, (t[i].word & 0x1fff) * 8);
		assert_int_equal(cx_ipv4_is_atomic(&ip), t[i].atomic);
		assert_int_equal(cx_ipv4_is_fragment(&ip), t[i].fragment);
	}
}

static void test_multicast(void **state)
{
	static const struct {
		uint32_t daddr;
		bool mcast;
	} t[] = {
		{ 0xe0000000U, true }, { 0xe0000001U, true },
		{ 0xefffffffU, true }, { 0xdfffffffU, false },
		{ 0xf0000000U, false }, { 0xc6120002U, false },
		{ 0xffffffffU, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(t); i++) {
		struct cx_ipv4 ip = { .daddr = t[i].daddr };

		assert_int_equal(cx_ipv4_is_multicast(&ip), t[i].mcast);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_frag_predicates),
		cmocka_unit_test(test_multicast),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
