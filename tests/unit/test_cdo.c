#include "cxtest.h"

#include <errno.h>
#include <netinet/in.h>

#include <conex/cdo.h>
#include <conex/signal.h>



#define TCP20 "\x30\x39\x00\x50\x00\x00\x00\x01\x00\x00\x00\x00" \
	"\x50\x10\x01\x00\x00\x00\x00\x00"
#define DATA "payload!"
#define S(x) x, sizeof(x) - 1
#define RH24 "\x02\x04\x01\x00\x00\x00\x00" \
	"\x20\x01\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02"

enum { DST_UNICAST, DST_MCAST };

/* Fixed header 2001:2::1 -> 2001:2::2 (or ff02::1), Payload Length = rest_len. */
static size_t mk6(uint8_t *buf, uint8_t nh, const char *rest, size_t rest_len,
		  int dst)
{
	static const uint8_t src[16] = { 0x20, 0x01, 0x00, 0x02, [15] = 1 };
	static const uint8_t ucast[16] = { 0x20, 0x01, 0x00, 0x02, [15] = 2 };
	static const uint8_t mcast[16] = { 0xff, 0x02, [15] = 1 };

	buf[0] = 0x60;
	buf[1] = 0x20;	/* ECT(0) */
	buf[2] = 0x00;
	buf[3] = 0x01;
	buf[4] = (uint8_t)(rest_len >> 8);
	buf[5] = (uint8_t)rest_len;
	buf[6] = nh;
	buf[7] = 64;
	memcpy(buf + 8, src, 16);
	memcpy(buf + 24, dst == DST_MCAST ? mcast : ucast, 16);
	memcpy(buf + 40, rest, rest_len);
	return 40 + rest_len;
}

/* --- the option and the 8-octet header --- */

static void test_decode_vectors(void **state)
{
	static const struct {
		const char *name;
		const char *p;
		size_t len;
		int want;
		uint8_t bits;
	} t[] = {
		{ "x", S("\x1e\x01\x80"), 3, 0x80 },
		{ "xlec+res", S("\x1e\x01\xff"), 3, 0xff },
		{ "zero", S("\x1e\x01\x00"), 3, 0x00 },
		{ "trailing octets", S("\x1e\x01\x90\x01\x01\x00"), 3, 0x90 },
		{ "length 0", S("\x1e\x00"), -ENOENT, 0 },
		{ "length 2", S("\x1e\x02\x90\x00"), -ENOENT, 0 },
		{ "length 255", S("\x1e\xff"), -ENOENT, 0 },
		{ "other type", S("\x1f\x01\x90"), -ENOENT, 0 },
		{ "padn", S("\x01\x01\x00"), -ENOENT, 0 },
		{ "empty", S(""), -ENODATA, 0 },
	};
	size_t i, n;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(t); i++) {
		uint8_t bits = 0x5a, *q;

		q = cxt_dup(t[i].p, t[i].len);
		expect_ret(t[i].name, cx_cdo_decode(q, t[i].len, &bits), t[i].want);
		if (t[i].want >= 0)
			assert_int_equal(bits, t[i].bits);
		free(q);
		if (t[i].want < 0)
			continue;
		for (n = 0; n < CX_CDO_OPT_BYTES; n++) {
			q = cxt_dup(t[i].p, n);
			expect_ret(t[i].name, cx_cdo_decode(q, n, &bits), -ENODATA);
			free(q);
		}
	}
	assert_int_equal(cx_cdo_decode(NULL, 3, &(uint8_t){ 0 }), -EINVAL);
}

static void test_encode_roundtrip(void **state)
{
	unsigned int v;

	(void)state;
	for (v = 0; v < 16; v++) {
		uint8_t bits = (uint8_t)(v << 4), got = 0xff, opt[3], hdr[8], nh;
		size_t n;

		assert_int_equal(cx_cdo_encode(opt, sizeof(opt), bits), 3);
		assert_int_equal(cx_cdo_decode(opt, sizeof(opt), &got), 3);
		assert_int_equal(got, bits);

		assert_int_equal(cx_cdo_hdr_encode(hdr, sizeof(hdr), 6, bits), 8);
		assert_memory_equal(hdr, ((uint8_t[]){ 6, 0, 0x1e, 1, bits, 1, 1, 0 }), 8);
		assert_int_equal(cx_cdo_hdr_decode(hdr, sizeof(hdr), &nh, &got), 8);
		assert_int_equal(nh, 6);
		assert_int_equal(got, bits);

		for (n = 0; n < sizeof(hdr); n++) {
			uint8_t *q = cxt_dup(hdr, n);

			assert_int_equal(cx_cdo_hdr_decode(q, n, &nh, &got), -ENODATA);
			assert_int_equal(cx_cdo_hdr_encode(q, n, 6, bits), -ENOSPC);
			if (n < 3)
				assert_int_equal(cx_cdo_encode(q, n, bits), -ENOSPC);
			free(q);
		}
	}
	assert_int_equal(cx_cdo_encode((uint8_t[3]){ 0 }, 3, 0x81), -EINVAL);
	assert_int_equal(cx_cdo_hdr_encode((uint8_t[8]){ 0 }, 8, 6, 0x08), -EINVAL);
	assert_int_equal(cx_cdo_encode(NULL, 3, 0x80), -EINVAL);
}

static void test_hdr_decode_vectors(void **state)
{
	static const struct {
		const char *name;
		const char *p;
		size_t len;
		int want;
		uint8_t bits;
	} t[] = {
		{ "minimal", S("\x11\x00\x1e\x01\xb0\x01\x01\x00"), 8, 0xb0 },
		{ "pad1s", S("\x11\x00\x1e\x01\xb0\x00\x00\x00"), 8, 0xb0 },
		{ "padding first", S("\x11\x00\x01\x01\x00\x1e\x01\xb0"), 8, 0xb0 },
		{ "two cdos", S("\x11\x00\x1e\x01\xb0\x1e\x01\x80"), -ENOENT, 0 },
		{ "other option too", S("\x11\x00\x1e\x01\xb0\x3e\x01\x00"), -ENOENT, 0 },
		{ "only padding", S("\x11\x00\x01\x04\x00\x00\x00\x00"), -ENOENT, 0 },
		{ "non-cdo 0x1e", S("\x11\x00\x1e\x02\xb0\x00\x01\x00"), -ENOENT, 0 },
		{ "longer header", S("\x11\x01\x1e\x01\xb0\x01\x01\x00"
				    "\x01\x06\x00\x00\x00\x00\x00\x00"), -ENOENT, 0 },
		{ "padn nonzero", S("\x11\x00\x1e\x01\xb0\x01\x01\x07"), -EBADMSG, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(t); i++) {
		uint8_t nh = 0, bits = 0, *q;

		q = cxt_dup(t[i].p, t[i].len);
		expect_ret(t[i].name, cx_cdo_hdr_decode(q, t[i].len, &nh, &bits),
			   t[i].want);
		if (t[i].want >= 0) {
			assert_int_equal(nh, IPPROTO_UDP);
			assert_int_equal(bits, t[i].bits);
		}
		free(q);
	}
}

/* --- finding a CDO in a chain --- */

struct find_vec {
	const char *name;
	uint8_t nh;
	const char *rest;
	size_t rest_len;
	int dst;
	int want;
	uint8_t bits;
	uint32_t data_off, flags;
	size_t walk_end;	/* shortest buffer holding every header */
};

static const struct find_vec finds[] = {
	{ "cdo-only header", IPPROTO_DSTOPTS,
	  S("\x06\x00\x1e\x01\x90\x01\x01\x00" TCP20 DATA), DST_UNICAST,
	  0, 0x90, 44, 0, 48 },
	{ "hbh + cdo", IPPROTO_HOPOPTS,
	  S("\x3c\x00\x05\x02\x00\x00\x01\x00"
	    "\x06\x00\x1e\x01\xf0\x01\x01\x00" TCP20), DST_UNICAST,
	  0, 0xf0, 52, 0, 56 },
	{ "reserved bits kept", IPPROTO_DSTOPTS,
	  S("\x06\x00\x1e\x01\x8f\x01\x01\x00" TCP20), DST_UNICAST,
	  0, 0x8f, 44, 0, 48 },
	{ "cdo not first, after non-cdo 0x1e", IPPROTO_DSTOPTS,
	  S("\x06\x01\x1e\x02\xaa\xbb\x1e\x01\xb0\x01\x05\x00\x00\x00\x00\x00"
	    TCP20), DST_UNICAST,
	  0, 0xb0, 48, 0, 56 },
	{ "only non-cdo 0x1e", IPPROTO_DSTOPTS,
	  S("\x06\x00\x1e\x02\xaa\xbb\x01\x00" TCP20), DST_UNICAST,
	  -ENOENT, 0, 0, 0, 48 },
	{ "cdo in hop-by-hop", IPPROTO_HOPOPTS,
	  S("\x06\x00\x1e\x01\x90\x01\x01\x00" TCP20), DST_UNICAST,
	  -ENOENT, 0, 0, 0, 48 },
	{ "no extension headers", IPPROTO_TCP, S(TCP20), DST_UNICAST,
	  -ENOENT, 0, 0, 0, 40 },
	{ "cdo before routing", IPPROTO_DSTOPTS,
	  S("\x2b\x00\x1e\x01\xc0\x01\x01\x00" "\x06" RH24 TCP20), DST_UNICAST,
	  0, 0xc0, 44, 0, 72 },
	{ "cdo after routing", IPPROTO_ROUTING,
	  S("\x3c" RH24 "\x06\x00\x1e\x01\xc0\x01\x01\x00" TCP20), DST_UNICAST,
	  0, 0xc0, 68, CX_CDO_F_LATE, 72 },
	{ "cdo after esp: invisible", IPPROTO_ESP,
	  S("\x00\x00\x01\x00\x00\x00\x00\x01"
	    "\x06\x00\x1e\x01\xc0\x01\x01\x00"), DST_UNICAST,
	  -ENOENT, 0, 0, 0, 40 },
	{ "multicast destination", IPPROTO_DSTOPTS,
	  S("\x06\x00\x1e\x01\x90\x01\x01\x00" TCP20), DST_MCAST,
	  -ENOENT, 0, 0, CX_CDO_F_MULTICAST, 48 },
	{ "multicast, no cdo", IPPROTO_UDP, S("\x00\x35\x00\x35\x00\x08\x00\x00"),
	  DST_MCAST, -ENOENT, 0, 0, 0, 40 },
	{ "first fragment", IPPROTO_DSTOPTS,
	  S("\x2c\x00\x1e\x01\xa0\x01\x01\x00"
	    "\x06\x00\x00\x01\x00\x00\x00\x07" TCP20), DST_UNICAST,
	  0, 0xa0, 44, 0, 56 },
	{ "non-first fragment", IPPROTO_DSTOPTS,
	  S("\x2c\x00\x1e\x01\xa0\x01\x01\x00"
	    "\x06\x00\x05\x00\x00\x00\x00\x07" DATA), DST_UNICAST,
	  -ENOENT, 0, 0, CX_CDO_F_FRAG_LATER, 56 },
	{ "malformed cdo header", IPPROTO_DSTOPTS,
	  S("\x06\x00\x1e\x01\x90\x01\x02\x00" TCP20), DST_UNICAST,
	  -EBADMSG, 0, 0, 0, 0 },
};

static void test_find(void **state)
{
	size_t i, n, len;
	uint8_t buf[256];

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(finds); i++) {
		const struct find_vec *v = &finds[i];
		struct cx_cdo_hit hit;
		uint8_t *q;
		int ret;

		len = mk6(buf, v->nh, v->rest, v->rest_len, v->dst);
		q = cxt_dup(buf, len);
		expect_ret(v->name, cx_cdo_find(q, len, &hit), v->want);
		assert_int_equal(hit.flags, v->flags);
		if (v->want == 0) {
			assert_int_equal(hit.bits, v->bits);
			assert_int_equal(hit.data_off, v->data_off);
			assert_int_equal(q[hit.data_off], v->bits);
			assert_int_equal(cx_sig_classify(hit.bits),
					 cx_sig_classify(v->bits));
		}
		free(q);

		for (n = 0; n < len; n++) {
			q = cxt_dup(buf, n);
			ret = cx_cdo_find(q, n, &hit);
			if (!v->walk_end) {
				/* Malformed: truncated or the same error. */
				if (ret != -ENODATA && ret != v->want)
					fail_msg("%s: prefix %zu gave %d", v->name,
						 n, ret);
			} else if (n >= v->walk_end) {
				/* A header-only copy gives the same answer. */
				expect_ret(v->name, ret, v->want);
				assert_int_equal(hit.flags, v->flags);
				if (ret == 0)
					assert_int_equal(hit.bits, v->bits);
			} else {
				expect_ret(v->name, ret, -ENODATA);
			}
			free(q);
		}
	}
}

/* --- insert, set, remove --- */

struct ins_vec {
	const char *name;
	uint8_t nh;
	const char *rest;
	size_t rest_len;
	size_t ins_off;		/* where the 8-octet header lands */
	size_t nh_off;		/* the Next Header octet that points at it */
};

static const struct ins_vec inserts[] = {
	{ "tcp", IPPROTO_TCP, S(TCP20 DATA), 40, 6 },
	{ "tcp, no payload", IPPROTO_TCP, S(TCP20), 40, 6 },
	{ "hbh + tcp", IPPROTO_HOPOPTS,
	  S("\x06\x00\x05\x02\x00\x00\x01\x00" TCP20 DATA), 48, 40 },
	{ "hbh 16 + tcp", IPPROTO_HOPOPTS,
	  S("\x06\x01\x05\x02\x00\x00\x3e\x04\x00\x00\x00\x00\x01\x02\x00\x00"
	    TCP20 DATA), 56, 40 },
	{ "routing + tcp", IPPROTO_ROUTING, S("\x06" RH24 TCP20), 40, 6 },
	{ "esp", IPPROTO_ESP, S("\x00\x00\x01\x00\x00\x00\x00\x01" DATA), 40, 6 },
	{ "no next header", IPPROTO_NONE, S(""), 40, 6 },
	{ "dst after routing", IPPROTO_ROUTING,
	  S("\x3c" RH24 "\x06\x00\x01\x04\x00\x00\x00\x00" TCP20), 40, 6 },
};

static void test_insert_roundtrip(void **state)
{
	static const uint8_t bits_seq[] = { 0x80, 0x90, 0xf0, 0x00 };
	size_t i, n, len;
	uint8_t orig[256];

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(inserts); i++) {
		const struct ins_vec *v = &inserts[i];
		struct cx_cdo_hit hit;
		uint8_t *q, want[256];
		size_t b;

		len = mk6(orig, v->nh, v->rest, v->rest_len, DST_UNICAST);

		/* What the result must be, built by hand. */
		memcpy(want, orig, v->ins_off);
		want[v->nh_off] = IPPROTO_DSTOPTS;
		want[5] = (uint8_t)(want[5] + 8);
		memcpy(want + v->ins_off,
		       ((uint8_t[]){ orig[v->nh_off], 0, 0x1e, 1, 0x90, 1, 1, 0 }), 8);
		memcpy(want + v->ins_off + 8, orig + v->ins_off, len - v->ins_off);

		q = cxt_dup(orig, len + 8);
		expect_ret(v->name, cx_cdo_insert(q, len, len + 8, 0x90), (int)len + 8);
		assert_memory_equal(q, want, len + 8);

		/* Inserting twice is refused: the place is taken. */
		expect_ret(v->name, cx_cdo_insert(q, len + 8, len + 8, 0x90), -EEXIST);
		expect_ret(v->name, cx_cdo_find(q, len + 8, &hit), 0);
		assert_int_equal(hit.bits, 0x90);
		assert_int_equal(hit.hdr_off, v->ins_off);
		assert_int_equal(hit.data_off, v->ins_off + 4);
		assert_int_equal(hit.flags, 0);

		for (b = 0; b < sizeof(bits_seq); b++) {
			expect_ret(v->name, cx_cdo_set(q, len + 8, bits_seq[b]),
				   (int)v->ins_off + 4);
			assert_int_equal(cx_cdo_find(q, len + 8, &hit), 0);
			assert_int_equal(hit.bits, bits_seq[b]);
		}
		assert_int_equal(cx_cdo_set(q, len + 8, 0x81), -EINVAL);

		expect_ret(v->name, cx_cdo_remove(q, len + 8), (int)len);
		assert_memory_equal(q, orig, len);
		expect_ret(v->name, cx_cdo_remove(q, len), -ENOENT);
		free(q);

		/* One octet short of room: refused, buffer untouched. */
		q = cxt_dup(orig, len + 7);
		expect_ret(v->name, cx_cdo_insert(q, len, len + 7, 0x90), -ENOSPC);
		assert_memory_equal(q, orig, len);
		free(q);

		/* Link padding past Payload Length is dropped, not moved. */
		q = cxt_dup(orig, len + 8 + 4);
		memset(q + len, 0xee, 4);
		expect_ret(v->name, cx_cdo_insert(q, len + 4, len + 12, 0x90),
			   (int)len + 8);
		assert_memory_equal(q, want, len + 8);
		free(q);

		/* A truncated packet can be neither grown nor shrunk. */
		for (n = 0; n < len; n++) {
			q = cxt_dup(orig, n);
			expect_ret(v->name, cx_cdo_insert(q, n, n + 8, 0x90), -ENODATA);
			expect_ret(v->name, cx_cdo_remove(q, n), -ENODATA);
			assert_memory_equal(q, orig, n);
			free(q);
		}
		for (n = 0; n < len + 8; n++) {
			q = cxt_dup(want, n);
			expect_ret(v->name, cx_cdo_remove(q, n), -ENODATA);
			assert_memory_equal(q, want, n);
			free(q);
		}
	}
}

static void test_insert_refused(void **state)
{
	static const struct {
		const char *name;
		uint8_t nh;
		const char *rest;
		size_t rest_len;
		int dst;
		uint8_t bits;
		int want;
	} t[] = {
		{ "reserved bits", IPPROTO_TCP, S(TCP20), DST_UNICAST, 0x81, -EINVAL },
		{ "multicast", IPPROTO_UDP, S("\x00\x35\x00\x35\x00\x08\x00\x00"),
		  DST_MCAST, 0x80, -EINVAL },
		{ "fragment", IPPROTO_FRAGMENT,
		  S("\x06\x00\x00\x01\x00\x00\x00\x07" TCP20), DST_UNICAST, 0x80,
		  -EINVAL },
		{ "ah", IPPROTO_AH,
		  S("\x06\x02\x00\x00\x00\x00\x01\x00\x00\x00\x00\x01\x00\x00\x00\x00"
		    TCP20), DST_UNICAST, 0x80, -EINVAL },
		{ "foreign dst at the place", IPPROTO_DSTOPTS,
		  S("\x06\x00\x01\x04\x00\x00\x00\x00" TCP20), DST_UNICAST, 0x80,
		  -EEXIST },
		{ "foreign dst after hbh", IPPROTO_HOPOPTS,
		  S("\x3c\x00\x01\x04\x00\x00\x00\x00"
		    "\x06\x00\x01\x04\x00\x00\x00\x00" TCP20), DST_UNICAST, 0x80,
		  -EEXIST },
		{ "eight headers already", IPPROTO_HOPOPTS,
		  S("\x2b\x00\x01\x04\x00\x00\x00\x00"
		    "\x2b\x00\x00\x00\x00\x00\x00\x00" "\x2b\x00\x00\x00\x00\x00\x00\x00"
		    "\x2b\x00\x00\x00\x00\x00\x00\x00" "\x2b\x00\x00\x00\x00\x00\x00\x00"
		    "\x2b\x00\x00\x00\x00\x00\x00\x00" "\x2b\x00\x00\x00\x00\x00\x00\x00"
		    "\x06\x00\x00\x00\x00\x00\x00\x00" TCP20), DST_UNICAST, 0x80,
		  -E2BIG },
		{ "malformed chain", IPPROTO_HOPOPTS,
		  S("\x06\x00\x01\x05\x00\x00\x00\x00" TCP20), DST_UNICAST, 0x80,
		  -EBADMSG },
	};
	size_t i, len;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(t); i++) {
		uint8_t buf[256], orig[256];

		len = mk6(buf, t[i].nh, t[i].rest, t[i].rest_len, t[i].dst);
		memcpy(orig, buf, len);
		expect_ret(t[i].name, cx_cdo_insert(buf, len, sizeof(buf), t[i].bits),
			   t[i].want);
		assert_memory_equal(buf, orig, len);
	}
	assert_int_equal(cx_cdo_insert(NULL, 40, 48, 0x80), -EINVAL);
	{
		uint8_t buf[64];

		len = mk6(buf, IPPROTO_TCP, S(TCP20), DST_UNICAST);
		assert_int_equal(cx_cdo_insert(buf, len, len - 1, 0x80), -EINVAL);
	}
}

/* Payload Length 65535 - 8 still fits; one more octet does not. */
static void test_insert_max_payload(void **state)
{
	static const size_t pls[] = { 65527, 65528 };
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(pls); i++) {
		size_t len = 40 + pls[i];
		uint8_t *buf = calloc(1, len + 8);

		assert_non_null(buf);
		mk6(buf, IPPROTO_UDP, "", 0, DST_UNICAST);
		buf[4] = (uint8_t)(pls[i] >> 8);
		buf[5] = (uint8_t)pls[i];
		if (i == 0) {
			assert_int_equal(cx_cdo_insert(buf, len, len + 8, 0x80),
					 (int)len + 8);
			assert_int_equal(buf[4] << 8 | buf[5], 65535);
			assert_int_equal(cx_cdo_remove(buf, len + 8), (int)len);
		} else {
			assert_int_equal(cx_cdo_insert(buf, len, len + 8, 0x80),
					 -EMSGSIZE);
		}
		free(buf);
	}
}

static void test_remove_refused(void **state)
{
	static const struct {
		const char *name;
		uint8_t nh;
		const char *rest;
		size_t rest_len;
		int want;
	} t[] = {
		{ "no dst", IPPROTO_TCP, S(TCP20), -ENOENT },
		{ "dst without cdo", IPPROTO_DSTOPTS,
		  S("\x06\x00\x01\x04\x00\x00\x00\x00" TCP20), -ENOENT },
		{ "dst with cdo and more", IPPROTO_DSTOPTS,
		  S("\x06\x00\x1e\x01\x80\x3e\x01\x00" TCP20), -ENOENT },
		/* A lone CDO in 16 octets needs 11 of padding: over the limit. */
		{ "16-octet dst, cdo only", IPPROTO_DSTOPTS,
		  S("\x06\x01\x1e\x01\x80\x01\x01\x00\x01\x06\x00\x00\x00\x00\x00\x00"
		    TCP20), -EBADMSG },
		{ "16-octet dst, cdo and more", IPPROTO_DSTOPTS,
		  S("\x06\x01\x1e\x01\x80\x01\x01\x00\x3e\x04\x00\x00\x00\x00\x01\x00"
		    TCP20), -ENOENT },
		{ "cdo only after routing", IPPROTO_ROUTING,
		  S("\x3c" RH24 "\x06\x00\x1e\x01\x80\x01\x01\x00" TCP20), -ENOENT },
		{ "cdo in hbh", IPPROTO_HOPOPTS,
		  S("\x06\x00\x1e\x01\x80\x01\x01\x00" TCP20), -ENOENT },
	};
	size_t i, len;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(t); i++) {
		uint8_t buf[256], orig[256];

		len = mk6(buf, t[i].nh, t[i].rest, t[i].rest_len, DST_UNICAST);
		memcpy(orig, buf, len);
		expect_ret(t[i].name, cx_cdo_remove(buf, len), t[i].want);
		assert_memory_equal(buf, orig, len);
	}
}

/* RFC 7837 §4: 40 + Payload Length, once per flag, only when X is set. */
static void test_marked_bytes(void **state)
{
	static const struct {
		uint8_t bits;
		uint16_t pl;
		uint32_t want;
	} t[] = {
		{ 0x80, 1000, 0 },
		{ 0x00, 1000, 0 },
		{ 0x70, 1000, 0 },		/* L/E/C without X: ignored */
		{ 0x8f, 1000, 0 },		/* reserved bits do not count */
		{ 0xc0, 1000, 1040 },
		{ 0xa0, 0, 40 },
		{ 0xd0, 1000, 2 * 1040 },
		{ 0xf0, 1460, 3 * 1500 },
		{ 0xff, 65535, 3 * 65575 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(t); i++)
		assert_int_equal(cx_cdo_marked_bytes(t[i].bits, t[i].pl), t[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_vectors),
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test(test_hdr_decode_vectors),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_insert_roundtrip),
		cmocka_unit_test(test_insert_refused),
		cmocka_unit_test(test_insert_max_payload),
		cmocka_unit_test(test_remove_refused),
		cmocka_unit_test(test_marked_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
