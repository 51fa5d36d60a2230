#include "cxtest.h"

#include <errno.h>
#include <netinet/in.h>

#include <conex/ipv6.h>



#define TCP20 "\x30\x39\x00\x50\x00\x00\x00\x01\x00\x00\x00\x00" \
	"\x50\x10\x01\x00\x00\x00\x00\x00"
#define S(x) x, sizeof(x) - 1

enum { DST_UNICAST, DST_MCAST };

/*
 * A packet: fixed header (2001:2::1 -> 2001:2::2 or ff02::1, Traffic Class
 * 0xb9, flow label 0x12345, Payload Length = rest_len unless pl_fix) then rest.
 */
static size_t mk6(uint8_t *buf, uint8_t ver, uint8_t nh, const char *rest,
		  size_t rest_len, int dst)
{
	static const uint8_t src[16] = { 0x20, 0x01, 0x00, 0x02, [15] = 1 };
	static const uint8_t ucast[16] = { 0x20, 0x01, 0x00, 0x02, [15] = 2 };
	static const uint8_t mcast[16] = { 0xff, 0x02, [15] = 1 };

	buf[0] = (uint8_t)(ver << 4 | 0xb);
	buf[1] = 0x91;
	buf[2] = 0x23;
	buf[3] = 0x45;
	buf[4] = (uint8_t)(rest_len >> 8);
	buf[5] = (uint8_t)rest_len;
	buf[6] = nh;
	buf[7] = 64;
	memcpy(buf + 8, src, 16);
	memcpy(buf + 24, dst == DST_MCAST ? mcast : ucast, 16);
	memcpy(buf + 40, rest, rest_len);
	return 40 + rest_len;
}

struct walk_vec {
	const char *name;
	uint8_t ver, nh;
	const char *rest;
	size_t rest_len;
	int want;		/* upper_off or negative errno */
	uint8_t upper_proto;
	unsigned int n_ext;
	uint32_t flags, dst1_off;
};

#define DST_EMPTY "\x06\x00\x01\x04\x00\x00\x00\x00"
#define DST_NEXT "\x3c\x00\x01\x04\x00\x00\x00\x00"	/* Next Header: 60 */
#define OPT2 "\x3e\x00"					/* unknown, skip, empty */

static const struct walk_vec valid[] = {
	{ "tcp", 6, IPPROTO_TCP, S(TCP20), 40, IPPROTO_TCP, 0, 0, 0 },
	{ "udp", 6, IPPROTO_UDP, S("\x00\x35\x00\x35\x00\x08\x00\x00"), 40,
	  IPPROTO_UDP, 0, 0, 0 },
	{ "no next header", 6, IPPROTO_NONE, S(""), 40, IPPROTO_NONE, 0, 0, 0 },
	{ "unknown upper", 6, 253, S("\x01\x02"), 40, 253, 0, 0, 0 },
	{ "hbh tcp", 6, IPPROTO_HOPOPTS,
	  S("\x06\x00\x01\x04\x00\x00\x00\x00" TCP20), 48, IPPROTO_TCP, 1, 0, 0 },
	{ "hbh ra + dst cdo", 6, IPPROTO_HOPOPTS,
	  S("\x3c\x00\x05\x02\x00\x00\x01\x00"
	    "\x06\x00\x1e\x01\x90\x01\x01\x00" TCP20),
	  56, IPPROTO_TCP, 2, 0, 48 },
	{ "routing then dst", 6, IPPROTO_ROUTING,
	  S("\x3c\x02\x04\x01\x00\x00\x00\x00"
	    "\x20\x01\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02"
	    "\x06\x00\x1e\x01\xd0\x01\x01\x00" TCP20),
	  72, IPPROTO_TCP, 2, 0, 0 },
	{ "dst routing dst", 6, IPPROTO_DSTOPTS,
	  S("\x2b\x00\x01\x04\x00\x00\x00\x00"
	    "\x3c\x02\x04\x01\x00\x00\x00\x00"
	    "\x20\x01\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02"
	    DST_EMPTY TCP20),
	  80, IPPROTO_TCP, 3, 0, 40 },
	{ "first fragment", 6, IPPROTO_FRAGMENT,
	  S("\x06\x00\x00\x01\x00\x00\x00\x2a" TCP20), 48, IPPROTO_TCP, 1,
	  CX_IPV6_F_FRAG, 0 },
	{ "fragment then dst", 6, IPPROTO_FRAGMENT,
	  S("\x3c\x00\x00\x00\x00\x00\x00\x2a" DST_EMPTY TCP20), 56,
	  IPPROTO_TCP, 2, CX_IPV6_F_FRAG, 48 },
	{ "later fragment", 6, IPPROTO_DSTOPTS,
	  S("\x2c\x00\x01\x04\x00\x00\x00\x00"
	    "\x06\x00\x00\xb8\x00\x00\x00\x2a" "\x01\x02\x03\x04"),
	  56, IPPROTO_FRAGMENT, 2, CX_IPV6_F_FRAG | CX_IPV6_F_FRAG_LATER, 40 },
	{ "ah", 6, IPPROTO_AH,
	  S("\x06\x04\x00\x00\x00\x00\x01\x00\x00\x00\x00\x01"
	    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" TCP20),
	  64, IPPROTO_TCP, 1, 0, 0 },
	{ "ah then dst", 6, IPPROTO_AH,
	  S("\x3c\x02\x00\x00\x00\x00\x01\x00\x00\x00\x00\x01\x00\x00\x00\x00"
	    DST_EMPTY TCP20),
	  64, IPPROTO_TCP, 2, 0, 0 },
	{ "esp", 6, IPPROTO_ESP,
	  S("\x00\x00\x01\x00\x00\x00\x00\x01\xaa\xbb\xcc\xdd"), 40,
	  IPPROTO_ESP, 0, 0, 0 },
	{ "dst then esp", 6, IPPROTO_DSTOPTS,
	  S("\x32\x00\x01\x04\x00\x00\x00\x00"
	    "\x00\x00\x01\x00\x00\x00\x00\x01"), 48, IPPROTO_ESP, 1, 0, 40 },
	{ "seven pad1", 6, IPPROTO_DSTOPTS,
	  S("\x06\x01\x00\x00\x00\x00\x00\x00\x00\x1e\x01\x80"
	    "\x01\x02\x00\x00" TCP20), 56, IPPROTO_TCP, 1, 0, 40 },
	{ "padn 5 + pad1", 6, IPPROTO_DSTOPTS,
	  S("\x06\x00\x01\x03\x00\x00\x00\x00" TCP20), 48, IPPROTO_TCP, 1, 0, 40 },
	{ "sixteen options", 6, IPPROTO_DSTOPTS,
	  S("\x06\x04" OPT2 OPT2 OPT2 OPT2 OPT2 OPT2 OPT2 OPT2
	    OPT2 OPT2 OPT2 OPT2 OPT2 OPT2 OPT2 OPT2 "\x01\x04\x00\x00\x00\x00"
	    TCP20), 80, IPPROTO_TCP, 1, 0, 40 },
	{ "eight headers", 6, IPPROTO_HOPOPTS,
	  S(DST_NEXT DST_NEXT DST_NEXT DST_NEXT DST_NEXT DST_NEXT DST_NEXT
	    DST_EMPTY TCP20), 104, IPPROTO_TCP, 8, 0, 48 },
	{ "tcp, payload length 0", 6, IPPROTO_TCP, S(""), 40,
	  IPPROTO_TCP, 0, 0, 0 },
};

static const struct walk_vec bad[] = {
	{ "version 4", 4, IPPROTO_TCP, S(TCP20), -EBADMSG, 0, 0, 0, 0 },
	{ "version 0", 0, IPPROTO_TCP, S(TCP20), -EBADMSG, 0, 0, 0, 0 },
	{ "hbh not first", 6, IPPROTO_DSTOPTS,
	  S("\x00\x00\x01\x04\x00\x00\x00\x00" DST_EMPTY TCP20), -EBADMSG,
	  0, 0, 0, 0 },
	{ "header past payload length", 6, IPPROTO_DSTOPTS,
	  S("\x06\x01\x01\x04\x00\x00\x00\x00"), -EBADMSG, 0, 0, 0, 0 },
	{ "fragment past payload length", 6, IPPROTO_FRAGMENT,
	  S("\x06\x00\x00\x00"), -EBADMSG, 0, 0, 0, 0 },
	{ "no room for next header", 6, IPPROTO_ROUTING, S("\x06"), -EBADMSG,
	  0, 0, 0, 0 },
	{ "two fragment headers", 6, IPPROTO_FRAGMENT,
	  S("\x2c\x00\x00\x01\x00\x00\x00\x2a\x06\x00\x00\x01\x00\x00\x00\x2a"
	    TCP20), -EBADMSG, 0, 0, 0, 0 },
	{ "ah too short", 6, IPPROTO_AH,
	  S("\x06\x00\x00\x00\x00\x00\x01\x00" TCP20), -EBADMSG, 0, 0, 0, 0 },
	{ "ah not 8-aligned", 6, IPPROTO_AH,
	  S("\x06\x03\x00\x00\x00\x00\x01\x00\x00\x00\x00\x01\x00\x00\x00\x00"
	    "\x00\x00\x00\x00" TCP20), -EBADMSG, 0, 0, 0, 0 },
	{ "eight pad1", 6, IPPROTO_DSTOPTS,
	  S("\x06\x01\x00\x00\x00\x00\x00\x00\x00\x00\x1e\x01\x80"
	    "\x01\x01\x00" TCP20), -EBADMSG, 0, 0, 0, 0 },
	{ "pad1 then padn over 7", 6, IPPROTO_DSTOPTS,
	  S("\x06\x01\x00\x01\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	    TCP20), -EBADMSG, 0, 0, 0, 0 },
	{ "padn 6 octets of data", 6, IPPROTO_DSTOPTS,
	  S("\x06\x01\x01\x06\x00\x00\x00\x00\x00\x00\x1e\x01\x80\x01\x01\x00"
	    TCP20), -EBADMSG, 0, 0, 0, 0 },
	{ "padn nonzero", 6, IPPROTO_DSTOPTS,
	  S("\x06\x00\x01\x04\x00\x00\x00\x01" TCP20), -EBADMSG, 0, 0, 0, 0 },
	{ "padn overruns header", 6, IPPROTO_DSTOPTS,
	  S("\x06\x00\x01\x05\x00\x00\x00\x00" TCP20), -EBADMSG, 0, 0, 0, 0 },
	{ "option overruns header", 6, IPPROTO_DSTOPTS,
	  S("\x06\x00\x1e\x05\x80\x00\x00\x00" TCP20), -EBADMSG, 0, 0, 0, 0 },
	{ "option overruns hbh", 6, IPPROTO_HOPOPTS,
	  S("\x06\x00\x00\x00\xc2\x04\x00\x01" TCP20), -EBADMSG, 0, 0, 0, 0 },
	{ "option length octet missing", 6, IPPROTO_DSTOPTS,
	  S("\x06\x00\x00\x00\x00\x00\x00\x1e" TCP20), -EBADMSG, 0, 0, 0, 0 },
	{ "seventeen options", 6, IPPROTO_DSTOPTS,
	  S("\x06\x04" OPT2 OPT2 OPT2 OPT2 OPT2 OPT2 OPT2 OPT2
	    OPT2 OPT2 OPT2 OPT2 OPT2 OPT2 OPT2 OPT2 OPT2 "\x01\x02\x00\x00"
	    TCP20), -E2BIG, 0, 0, 0, 0 },
	{ "nine headers", 6, IPPROTO_HOPOPTS,
	  S(DST_NEXT DST_NEXT DST_NEXT DST_NEXT DST_NEXT DST_NEXT DST_NEXT
	    DST_NEXT DST_EMPTY TCP20), -E2BIG, 0, 0, 0, 0 },
};

static void check_chain(const struct walk_vec *v, const struct cx_ipv6_chain *c)
{
	if (c->upper_proto != v->upper_proto || c->upper_off != (uint32_t)v->want ||
	    c->n_ext != v->n_ext || c->flags != v->flags ||
	    c->dst1_off != v->dst1_off)
		fail_msg("%s: upper %u@%u n_ext %u flags %#x dst1 %u", v->name,
			 c->upper_proto, c->upper_off, c->n_ext, c->flags,
			 c->dst1_off);
}

static void test_walk_valid(void **state)
{
	size_t i, n, len;
	uint8_t buf[256];

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(valid); i++) {
		const struct walk_vec *v = &valid[i];
		struct cx_ipv6_chain c;
		uint8_t *q;
		int ret;

		len = mk6(buf, v->ver, v->nh, v->rest, v->rest_len, DST_UNICAST);
		q = cxt_dup(buf, len);
		expect_ret(v->name, cx_ipv6_walk(q, len, &c), v->want);
		check_chain(v, &c);
		free(q);

		/*
		 * Prefixes: the walk needs only the headers (header-only
		 * copies), so it succeeds identically from upper_off on and
		 * reports truncation below.
		 */
		for (n = 0; n < len; n++) {
			q = cxt_dup(buf, n);
			memset(&c, 0, sizeof(c));
			ret = cx_ipv6_walk(q, n, &c);
			if (n >= (size_t)v->want) {
				expect_ret(v->name, ret, v->want);
				check_chain(v, &c);
			} else {
				expect_ret(v->name, ret, -ENODATA);
			}
			free(q);
		}
	}
}

static void test_walk_malformed(void **state)
{
	size_t i, n, len;
	uint8_t buf[256];

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(bad); i++) {
		const struct walk_vec *v = &bad[i];
		struct cx_ipv6_chain c;
		uint8_t *q;

		len = mk6(buf, v->ver, v->nh, v->rest, v->rest_len, DST_UNICAST);
		q = cxt_dup(buf, len);
		expect_ret(v->name, cx_ipv6_walk(q, len, &c), v->want);
		free(q);
		/* No prefix may succeed or over-read. */
		for (n = 0; n < len; n++) {
			q = cxt_dup(buf, n);
			if (cx_ipv6_walk(q, n, &c) >= 0)
				fail_msg("%s: prefix %zu accepted", v->name, n);
			free(q);
		}
	}
}

static void test_walk_details(void **state)
{
	static const char rest[] =
		"\x00\x00\x05\x02\x00\x00\x01\x00"
		"\x2c\x00\x01\x04\x00\x00\x00\x00"
		"\x06\x00\xff\xf9\x12\x34\x56\x78";
	struct cx_ipv6_chain c;
	uint8_t buf[128];
	size_t len;

	(void)state;
	/* Hop-by-Hop whose Next Header is Hop-by-Hop again: not first. */
	len = mk6(buf, 6, IPPROTO_HOPOPTS, rest, sizeof(rest) - 1, DST_UNICAST);
	assert_int_equal(cx_ipv6_walk(buf, len, &c), -EBADMSG);

	buf[40] = IPPROTO_DSTOPTS;
	assert_int_equal(cx_ipv6_walk(buf, len, &c), 64);
	assert_int_equal(c.hdr.tclass, 0xb9);
	assert_int_equal(c.hdr.dscp, 46);
	assert_int_equal(c.hdr.ecn, 1);
	assert_int_equal(c.hdr.flow_label, 0x12345);
	assert_int_equal(c.hdr.payload_len, 24);
	assert_int_equal(c.hdr.next_hdr, IPPROTO_HOPOPTS);
	assert_int_equal(c.hdr.hop_limit, 64);
	assert_int_equal(c.hdr.saddr[15], 1);
	assert_int_equal(c.hdr.daddr[15], 2);
	assert_int_equal(c.n_ext, 3);
	assert_int_equal(c.ext[0].type, IPPROTO_HOPOPTS);
	assert_int_equal(c.ext[0].off, 40);
	assert_int_equal(c.ext[0].len_bytes, 8);
	assert_int_equal(c.ext[1].type, IPPROTO_DSTOPTS);
	assert_int_equal(c.ext[1].off, 48);
	assert_int_equal(c.ext[2].type, IPPROTO_FRAGMENT);
	assert_int_equal(c.ext[2].off, 56);
	assert_int_equal(c.ext[2].len_bytes, 8);
	assert_int_equal(c.frag_off_bytes, 0xfff8);
	assert_true(c.frag_more);
	assert_int_equal(c.frag_next_hdr, IPPROTO_TCP);
	assert_int_equal(c.flags, CX_IPV6_F_FRAG | CX_IPV6_F_FRAG_LATER);
	assert_int_equal(c.upper_proto, IPPROTO_FRAGMENT);
	assert_int_equal(c.dst1_off, 48);

	assert_false(cx_ipv6_is_multicast(&c.hdr));
	len = mk6(buf, 6, IPPROTO_NONE, "", 0, DST_MCAST);
	assert_int_equal(cx_ipv6_walk(buf, len, &c), 40);
	assert_true(cx_ipv6_is_multicast(&c.hdr));

	/* A longer buffer than 40 + Payload Length is fine (link padding). */
	len = mk6(buf, 6, IPPROTO_DSTOPTS, DST_EMPTY "\x00\x00\x00\x00", 12,
		  DST_UNICAST);
	buf[5] = 8;
	assert_int_equal(cx_ipv6_walk(buf, len, &c), 48);
	/* ... but headers must end within it. */
	buf[5] = 4;
	assert_int_equal(cx_ipv6_walk(buf, len, &c), -EBADMSG);

	assert_int_equal(cx_ipv6_walk(NULL, 40, &c), -EINVAL);
	assert_int_equal(cx_ipv6_walk(buf, len, NULL), -EINVAL);
	assert_int_equal(cx_ipv6_decode(buf, 39, &c.hdr), -ENODATA);
	assert_int_equal(cx_ipv6_decode(buf, 40, &c.hdr), 40);
}

/* The iterator on its own: what the CDO finder sees. */
static void test_opt_iter(void **state)
{
	static const uint8_t hdr[] = {
		0x06, 0x02,
		0x00,				/* Pad1 */
		0x1e, 0x02, 0xaa, 0xbb,		/* 0x1E, another experiment */
		0x01, 0x00,			/* PadN, no data */
		0x1e, 0x01, 0x90,		/* CDO */
		0xc2, 0x00,			/* unknown, empty */
		0x01, 0x03, 0x00, 0x00, 0x00,	/* PadN 5 */
		0x05, 0x02, 0x00, 0x00,		/* Router Alert */
		0x00,				/* Pad1 */
	};
	static const struct { uint8_t type, data_len; size_t off; } want[] = {
		{ 0x1e, 2, 3 }, { 0x1e, 1, 9 }, { 0xc2, 0, 12 }, { 0x05, 2, 19 },
	};
	struct cx_ipv6_opt_iter it;
	struct cx_ipv6_opt opt;
	size_t i;

	(void)state;
	cx_ipv6_opt_iter_init(&it, hdr, sizeof(hdr));
	for (i = 0; i < CX_ARRAY_SIZE(want); i++) {
		assert_int_equal(cx_ipv6_opt_next(&it, &opt), 1);
		assert_int_equal(opt.type, want[i].type);
		assert_int_equal(opt.data_len, want[i].data_len);
		assert_int_equal(opt.off, want[i].off);
	}
	assert_int_equal(cx_ipv6_opt_next(&it, &opt), 0);
	assert_int_equal(cx_ipv6_opt_next(&it, &opt), 0);

	cx_ipv6_opt_iter_init(&it, hdr, 12);
	assert_int_equal(cx_ipv6_opt_next(&it, &opt), -EINVAL);
	cx_ipv6_opt_iter_init(&it, hdr, 0);
	assert_int_equal(cx_ipv6_opt_next(&it, &opt), -EINVAL);
	assert_int_equal(cx_ipv6_opt_next(NULL, &opt), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk_valid),
		cmocka_unit_test(test_walk_malformed),
		cmocka_unit_test(test_walk_details),
		cmocka_unit_test(test_opt_iter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
