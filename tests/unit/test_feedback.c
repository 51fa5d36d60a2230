#include "cxtest.h"

#include <errno.h>

#include <sodium.h>

#include <conex/byteorder.h>
#include <conex/feedback.h>

static const uint8_t key_kat[CX_FB_KEY_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

static const struct cx_fb_entry ent_kat[] = {
	{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 1, 10 },
	  1000000, 12345, 0 },
	{ { 0x20, 0x01, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5 },
	  0x1122334455667788ULL, 0x0102030405060708ULL, 1500 },
};

static const struct cx_fb_msg msg_kat = {
	.reporter_id = 0xc6120001,
	.sender_id = 0xc6120002,
	.epoch_ns = 0x0123456789abcdefULL,
	.seq = 7,
	.interval_ms = 10,
	.n_entries = 2,
	.entries = ent_kat,
};

/*
 * msg_kat under key_kat. The tag was computed independently of libsodium,
 * over the first 114 octets, by Python's hmac module (hmac.new(key, body,
 * hashlib.sha256)) and cross-checked with `openssl dgst -sha256 -mac HMAC
 * -macopt hexkey:000102...1f`: both gave dfe21827...35705c5e.
 */
static const uint8_t wire_kat[] = {
	0x01, 0x01, 0x00, 0x00, 0xc6, 0x12, 0x00, 0x01,
	0xc6, 0x12, 0x00, 0x02, 0x01, 0x23, 0x45, 0x67,
	0x89, 0xab, 0xcd, 0xef, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x0a,
	0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xc6, 0x12,
	0x01, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f,
	0x42, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x30, 0x39, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x20, 0x01, 0x00, 0x02, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x05, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
	0x77, 0x88, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
	0x07, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x05, 0xdc, 0xdf, 0xe2, 0x18, 0x27, 0x8a, 0x2d,
	0x6f, 0xc5, 0x4f, 0x96, 0x9b, 0x77, 0x12, 0xac,
	0x89, 0x3f, 0x16, 0xad, 0xb8, 0xdd, 0x61, 0x87,
	0xc5, 0xfc, 0x78, 0xcf, 0x2a, 0x92, 0x35, 0x70,
	0x5c, 0x5e,
};

/* Guest i's address: ::ffff:198.18.(i >> 8).(i & 0xff). */
static void guest_addr(uint8_t a[CX_FB_ADDR_LEN], unsigned int i)
{
	memset(a, 0, CX_FB_ADDR_LEN);
	a[10] = 0xff;
	a[11] = 0xff;
	a[12] = 198;
	a[13] = 18;
	a[14] = (uint8_t)(i >> 8);
	a[15] = (uint8_t)i;
}

/* A message of n entries whose counters depend on n and the index. */
static void make_msg(struct cx_fb_msg *m, struct cx_fb_entry *e, uint16_t n)
{
	uint16_t i;

	for (i = 0; i < n; i++) {
		guest_addr(e[i].guest, i);
		e[i].bytes = 1000000ULL * (i + 1) + n;
		e[i].ce_bytes = 1000ULL * i;
		e[i].lost_bytes = i % 3 ? 0 : 1500ULL * i;
	}
	memset(m, 0, sizeof(*m));
	m->reporter_id = 0xc6120003;
	m->sender_id = 0xc6120004;
	m->epoch_ns = 1700000000000000000ULL;
	m->seq = 1000 + n;
	m->interval_ms = 5;
	m->n_entries = n;
	m->entries = e;
}

static void assert_msg_equal(const struct cx_fb_msg *a,
			     const struct cx_fb_msg *b)
{
	uint16_t i;

	assert_int_equal(a->reporter_id, b->reporter_id);
	assert_int_equal(a->sender_id, b->sender_id);
	assert_true(a->epoch_ns == b->epoch_ns);
	assert_true(a->seq == b->seq);
	assert_int_equal(a->interval_ms, b->interval_ms);
	assert_int_equal(a->n_entries, b->n_entries);
	for (i = 0; i < a->n_entries; i++) {
		assert_memory_equal(a->entries[i].guest, b->entries[i].guest,
				    CX_FB_ADDR_LEN);
		assert_true(a->entries[i].bytes == b->entries[i].bytes);
		assert_true(a->entries[i].ce_bytes == b->entries[i].ce_bytes);
		assert_true(a->entries[i].lost_bytes ==
			    b->entries[i].lost_bytes);
	}
}

/* Re-sign a (possibly edited) message of len octets in place. */
static void resign(uint8_t *p, size_t len, const uint8_t *key)
{
	crypto_auth_hmacsha256(p + len - CX_FB_TAG_LEN, p, len - CX_FB_TAG_LEN,
			       key);
}

static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(CX_FB_ENTRIES_MAX, 33);
	assert_int_equal(CX_FB_MSG_LEN(0), 66);
	assert_int_equal(CX_FB_MSG_MAX, 1386);
	assert_true(CX_FB_MSG_MAX <= 1400);
	assert_true(CX_FB_MSG_LEN(CX_FB_ENTRIES_MAX + 1) > 1400);
	assert_int_equal(sizeof(wire_kat), CX_FB_MSG_LEN(2));
}

static void test_known_answer(void **state)
{
	struct cx_fb_entry e[CX_FB_ENTRIES_MAX];
	uint8_t out[CX_FB_MSG_MAX];
	struct cx_fb_msg m;
	uint32_t rep, snd;

	(void)state;
	assert_int_equal(cx_fb_encode(&msg_kat, key_kat, out, sizeof(out)),
			 sizeof(wire_kat));
	assert_memory_equal(out, wire_kat, sizeof(wire_kat));
	assert_int_equal(cx_fb_decode(wire_kat, sizeof(wire_kat), key_kat, &m,
				      e, CX_ARRAY_SIZE(e)), 0);
	assert_msg_equal(&m, &msg_kat);
	assert_ptr_equal(m.entries, e);
	assert_int_equal(cx_fb_peek_hosts(wire_kat, sizeof(wire_kat), &rep,
					  &snd), 0);
	assert_int_equal(rep, 0xc6120001);
	assert_int_equal(snd, 0xc6120002);
}

/* 0, 1 and the most entries: decode(encode(m)) == m, re-encoding is exact. */
static void test_roundtrip(void **state)
{
	static const uint16_t ns[] = { 0, 1, 2, CX_FB_ENTRIES_MAX };
	struct cx_fb_entry in[CX_FB_ENTRIES_MAX], got[CX_FB_ENTRIES_MAX];
	uint8_t a[CX_FB_MSG_MAX + 8], b[CX_FB_MSG_MAX], *q;
	struct cx_fb_msg m, r;
	size_t i, len;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(ns); i++) {
		make_msg(&m, in, ns[i]);
		len = CX_FB_MSG_LEN(ns[i]);
		memset(a, 0xee, sizeof(a));
		assert_int_equal(cx_fb_encode(&m, key_kat, a, sizeof(a)), len);
		assert_int_equal(a[len], 0xee);
		assert_int_equal(cx_fb_decode(a, len, key_kat, &r, got,
					      CX_ARRAY_SIZE(got)), 0);
		assert_msg_equal(&r, &m);
		assert_int_equal(cx_fb_encode(&r, key_kat, b, sizeof(b)), len);
		assert_memory_equal(a, b, len);
		/* Exact-size buffers: no write past cap. */
		q = cxt_dup(a, len);
		assert_int_equal(cx_fb_encode(&m, key_kat, q, len), len);
		assert_memory_equal(q, a, len);
		free(q);
		q = cxt_dup(a, len - 1);
		assert_int_equal(cx_fb_encode(&m, key_kat, q, len - 1),
				 -ENOSPC);
		free(q);
		/* Storage for fewer entries than the message holds. */
		if (ns[i])
			assert_int_equal(cx_fb_decode(a, len, key_kat, &r, got,
						      ns[i] - 1U), -ENOSPC);
	}
}

/* Every proper prefix of a valid message is truncated, with no over-read. */
static void test_truncated(void **state)
{
	static const uint16_t ns[] = { 0, 1, CX_FB_ENTRIES_MAX };
	struct cx_fb_entry in[CX_FB_ENTRIES_MAX], got[CX_FB_ENTRIES_MAX];
	uint8_t a[CX_FB_MSG_MAX], *q;
	uint32_t rep, snd;
	struct cx_fb_msg m, r;
	size_t i, n, len;

	(void)state;
	for (i = 0; i <= CX_ARRAY_SIZE(ns); i++) {
		if (i < CX_ARRAY_SIZE(ns)) {
			make_msg(&m, in, ns[i]);
			len = (size_t)cx_fb_encode(&m, key_kat, a, sizeof(a));
		} else {
			memcpy(a, wire_kat, sizeof(wire_kat));
			len = sizeof(wire_kat);
		}
		for (n = 0; n < len; n++) {
			q = cxt_dup(a, n);
			if (cx_fb_decode(q, n, key_kat, &r, got,
					 CX_ARRAY_SIZE(got)) != -ENODATA)
				fail_msg("vector %zu: prefix %zu not -ENODATA",
					 i, n);
			rep = snd = 0;
			if (n < CX_FB_HDR_LEN) {
				assert_int_equal(cx_fb_peek_hosts(q, n, &rep,
								  &snd),
						 -ENODATA);
			} else {
				assert_int_equal(cx_fb_peek_hosts(q, n, &rep,
								  &snd), 0);
				assert_int_equal(rep, cx_get_be32(a + 4));
				assert_int_equal(snd, cx_get_be32(a + 8));
			}
			free(q);
		}
	}
}

/*
 * Every single-bit flip of a valid message is refused. Outside the framing
 * (version, entry count) the only possible answer is a bad tag.
 */
static void test_bit_flips(void **state)
{
	static const uint16_t ns[] = { 0, 2, CX_FB_ENTRIES_MAX };
	struct cx_fb_entry in[CX_FB_ENTRIES_MAX], got[CX_FB_ENTRIES_MAX];
	uint8_t a[CX_FB_MSG_MAX];
	struct cx_fb_msg m, r;
	size_t i, bit, len;
	int ret;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(ns); i++) {
		make_msg(&m, in, ns[i]);
		len = (size_t)cx_fb_encode(&m, key_kat, a, sizeof(a));
		for (bit = 0; bit < len * 8; bit++) {
			a[bit / 8] ^= (uint8_t)(1U << (bit % 8));
			ret = cx_fb_decode(a, len, key_kat, &r, got,
					   CX_ARRAY_SIZE(got));
			a[bit / 8] ^= (uint8_t)(1U << (bit % 8));
			if (bit / 8 == 0) {
				expect_ret("version flip", ret,
					   -EPROTONOSUPPORT);
			} else if (bit / 8 == 32 || bit / 8 == 33) {
				/* Count above the cap, past len, or short of it. */
				if (ret != -EBADMSG && ret != -ENODATA)
					fail_msg("count bit %zu: %d", bit, ret);
			} else if (ret != -EACCES) {
				fail_msg("n=%u bit %zu: %d, want -EACCES",
					 ns[i], bit, ret);
			}
		}
		assert_int_equal(cx_fb_decode(a, len, key_kat, &r, got,
					      CX_ARRAY_SIZE(got)), 0);
	}
}

static void test_wrong_key(void **state)
{
	struct cx_fb_entry got[CX_FB_ENTRIES_MAX];
	uint8_t k[CX_FB_KEY_LEN];
	struct cx_fb_msg r;
	size_t bit;

	(void)state;
	memset(k, 0, sizeof(k));
	assert_int_equal(cx_fb_decode(wire_kat, sizeof(wire_kat), k, &r, got,
				      CX_ARRAY_SIZE(got)), -EACCES);
	for (bit = 0; bit < CX_FB_KEY_LEN * 8; bit += 7) {
		memcpy(k, key_kat, sizeof(k));
		k[bit / 8] ^= (uint8_t)(1U << (bit % 8));
		assert_int_equal(cx_fb_decode(wire_kat, sizeof(wire_kat), k,
					      &r, got, CX_ARRAY_SIZE(got)),
				 -EACCES);
	}
}

/*
 * Edits of the known-answer message. With resign, the edit is signed
 * again, so what is checked is the decoder's judgement of authentic
 * content, not the tag.
 */
static const struct {
	const char *name;
	size_t off;		/* octet to set */
	uint8_t val;
	size_t len_delta;	/* octets appended (0 or 1) */
	bool resign;
	int want;
} edits[] = {
	{ "version 0", 0, 0, 0, true, -EPROTONOSUPPORT },
	{ "version 2", 0, 2, 0, true, -EPROTONOSUPPORT },
	{ "type 0", 1, 0, 0, true, -EBADMSG },
	{ "type 2", 1, 2, 0, true, -EBADMSG },
	{ "flags high", 2, 0x80, 0, true, -EBADMSG },
	{ "flags low", 3, 0x01, 0, true, -EBADMSG },
	{ "count 34", 33, 34, 0, false, -EBADMSG },
	{ "count 0xff02", 32, 0xff, 0, false, -EBADMSG },
	{ "count 3", 33, 3, 0, false, -ENODATA },
	{ "count 1", 33, 1, 0, false, -EBADMSG },	/* trailing octets */
	{ "trailing octet", 0, 1, 1, false, -EBADMSG },
	/* Entry 0 (octet 34): CE bytes 0x100003039 > bytes 1000000. */
	{ "ce above bytes", 61, 0x01, 0, true, -EBADMSG },
	/* Entry 1's guest made equal to entry 0's. */
	{ "guest twice", 74, 0x00, 0, true, -EBADMSG },
	/* Authentic values the format allows. */
	{ "epoch", 12, 0xff, 0, true, 0 },
	{ "seq", 27, 0x00, 0, true, 0 },
	{ "interval", 28, 0xff, 0, true, 0 },
	{ "guest", 48, 0xff, 0, true, 0 },
	{ "bytes", 57, 0x00, 0, true, 0 },
	{ "lost", 106, 0xff, 0, true, 0 },
};

static void test_edits(void **state)
{
	struct cx_fb_entry got[CX_FB_ENTRIES_MAX];
	uint8_t a[sizeof(wire_kat) + 1], *q;
	struct cx_fb_msg r;
	size_t i, len;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(edits); i++) {
		memcpy(a, wire_kat, sizeof(wire_kat));
		a[sizeof(wire_kat)] = 0;
		len = sizeof(wire_kat) + edits[i].len_delta;
		a[edits[i].off] = edits[i].val;
		if (!strcmp(edits[i].name, "guest twice"))
			memcpy(a + 74, wire_kat + 34, CX_FB_ADDR_LEN);
		if (edits[i].resign)
			resign(a, len, key_kat);
		q = cxt_dup(a, len);
		expect_ret(edits[i].name,
			   cx_fb_decode(q, len, key_kat, &r, got,
					CX_ARRAY_SIZE(got)), edits[i].want);
		free(q);
	}
}

static void test_args(void **state)
{
	struct cx_fb_entry got[CX_FB_ENTRIES_MAX], dup[2];
	uint8_t a[CX_FB_MSG_MAX];
	uint32_t rep, snd;
	struct cx_fb_msg m, r;

	(void)state;
	m = msg_kat;
	assert_int_equal(cx_fb_encode(NULL, key_kat, a, sizeof(a)), -EINVAL);
	assert_int_equal(cx_fb_encode(&m, NULL, a, sizeof(a)), -EINVAL);
	assert_int_equal(cx_fb_encode(&m, key_kat, NULL, sizeof(a)), -EINVAL);
	m.entries = NULL;
	assert_int_equal(cx_fb_encode(&m, key_kat, a, sizeof(a)), -EINVAL);
	m = msg_kat;
	m.n_entries = CX_FB_ENTRIES_MAX + 1;
	assert_int_equal(cx_fb_encode(&m, key_kat, a, sizeof(a)), -EINVAL);
	/* What the decoder refuses, the encoder does not write. */
	memcpy(dup, ent_kat, sizeof(dup));
	dup[1].ce_bytes = dup[1].bytes + 1;
	m = msg_kat;
	m.entries = dup;
	assert_int_equal(cx_fb_encode(&m, key_kat, a, sizeof(a)), -EINVAL);
	memcpy(dup, ent_kat, sizeof(dup));
	memcpy(dup[1].guest, dup[0].guest, CX_FB_ADDR_LEN);
	assert_int_equal(cx_fb_encode(&m, key_kat, a, sizeof(a)), -EINVAL);

	assert_int_equal(cx_fb_decode(NULL, 10, key_kat, &r, got, 1), -EINVAL);
	assert_int_equal(cx_fb_decode(NULL, 0, key_kat, &r, got, 1), -ENODATA);
	assert_int_equal(cx_fb_decode(wire_kat, sizeof(wire_kat), NULL, &r,
				      got, 1), -EINVAL);
	assert_int_equal(cx_fb_decode(wire_kat, sizeof(wire_kat), key_kat,
				      NULL, got, 1), -EINVAL);
	assert_int_equal(cx_fb_decode(wire_kat, sizeof(wire_kat), key_kat, &r,
				      NULL, 2), -EINVAL);
	assert_int_equal(cx_fb_peek_hosts(NULL, 0, &rep, &snd), -EINVAL);
	assert_int_equal(cx_fb_peek_hosts(wire_kat, sizeof(wire_kat), NULL,
					  &snd), -EINVAL);
	memcpy(a, wire_kat, sizeof(wire_kat));
	a[0] = 2;
	assert_int_equal(cx_fb_peek_hosts(a, sizeof(wire_kat), &rep, &snd),
			 -EPROTONOSUPPORT);
}

static void test_decode_event(void **state)
{
	static const struct {
		int ret;
		enum cx_fb_event ev;
	} vecs[] = {
		{ -ENODATA, CX_FB_EV_TRUNCATED },
		{ -EBADMSG, CX_FB_EV_MALFORMED },
		{ -EPROTONOSUPPORT, CX_FB_EV_BAD_VERSION },
		{ -EACCES, CX_FB_EV_BAD_TAG },
		{ -EINVAL, CX_FB_EV_LOCAL },
		{ -ENOSPC, CX_FB_EV_LOCAL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(vecs); i++)
		assert_int_equal(cx_fb_decode_event(vecs[i].ret), vecs[i].ev);
}

/*
 * Receiver scenarios, table-driven. Each step is one message from reporter
 * 1 about sender 2, sent through encode and decode, then accepted; deltas
 * are checked against want. Guests are numbered; counters are cumulative
 * (bytes, ce, lost).
 */
#define STEP_ENTRIES 3

struct step_entry {
	unsigned int guest;
	uint64_t bytes, ce, lost;
};

struct step {
	uint64_t epoch_ns, seq;
	unsigned int n;
	struct step_entry e[STEP_ENTRIES];
	int want;		/* accept's return */
	struct step_entry d[STEP_ENTRIES];	/* want deltas, want of them */
};

static const struct {
	const char *name;
	uint32_t cap_guests;
	unsigned int n_steps;
	struct step s[6];
	uint64_t want_ev[CX_FB_EV_COUNT];
} scenarios[] = {
	{ "lost message loses nothing", 8, 4, {
		{ 100, 0, 2, { { 1, 1000, 10, 0 }, { 2, 500, 0, 0 } },
		  2, { { 1, 1000, 10, 0 }, { 2, 500, 0, 0 } } },
		{ 100, 1, 2, { { 1, 3000, 50, 0 }, { 2, 900, 0, 100 } },
		  2, { { 1, 2000, 40, 0 }, { 2, 400, 0, 100 } } },
		/* seq 2 (1: 4000/60) lost on the way: seq 3 carries it. */
		{ 100, 3, 2, { { 1, 9000, 300, 0 }, { 2, 900, 0, 100 } },
		  2, { { 1, 6000, 250, 0 }, { 2, 0, 0, 0 } } },
		/* A guest first seen later in the epoch: from zero. */
		{ 100, 4, 2, { { 1, 9500, 300, 0 }, { 3, 77, 7, 0 } },
		  2, { { 1, 500, 0, 0 }, { 3, 77, 7, 0 } } },
	  }, { [CX_FB_EV_ACCEPTED] = 4 } },
	{ "replays and reordering", 8, 6, {
		{ 100, 5, 1, { { 1, 1000, 10, 0 } },
		  1, { { 1, 0, 0, 0 } } },	/* joined late: baseline */
		{ 100, 6, 1, { { 1, 1500, 20, 0 } },
		  1, { { 1, 500, 10, 0 } } },
		{ 100, 6, 1, { { 1, 1500, 20, 0 } }, -EALREADY, { { 0 } } },
		{ 100, 4, 1, { { 1, 900, 5, 0 } }, -EALREADY, { { 0 } } },
		{ 99, 50, 1, { { 1, 9000, 50, 0 } }, -EALREADY, { { 0 } } },
		{ 100, 8, 1, { { 1, 1600, 20, 0 } },
		  1, { { 1, 100, 0, 0 } } },
	  }, { [CX_FB_EV_ACCEPTED] = 3, [CX_FB_EV_REPLAYED] = 3 } },
	{ "new epoch starts from zero", 8, 4, {
		{ 100, 0, 2, { { 1, 5000, 100, 0 }, { 2, 700, 70, 0 } },
		  2, { { 1, 5000, 100, 0 }, { 2, 700, 70, 0 } } },
		/* Reporter restarted; its seq 0 lost: still from zero. */
		{ 200, 1, 1, { { 1, 300, 30, 0 } },
		  1, { { 1, 300, 30, 0 } } },
		/* Guest 2's old totals are forgotten with the old epoch. */
		{ 200, 2, 2, { { 1, 400, 30, 0 }, { 2, 50, 0, 0 } },
		  2, { { 1, 100, 0, 0 }, { 2, 50, 0, 0 } } },
		{ 100, 9, 1, { { 1, 9000, 100, 0 } }, -EALREADY, { { 0 } } },
	  }, { [CX_FB_EV_ACCEPTED] = 3, [CX_FB_EV_REPLAYED] = 1 } },
	{ "regressions refused, state kept", 8, 6, {
		{ 100, 0, 2, { { 1, 1000, 100, 10 }, { 2, 500, 0, 0 } },
		  2, { { 1, 1000, 100, 10 }, { 2, 500, 0, 0 } } },
		{ 100, 1, 2, { { 1, 999, 100, 10 }, { 2, 600, 0, 0 } },
		  -EBADMSG, { { 0 } } },
		{ 100, 2, 1, { { 1, 1000, 99, 10 } }, -EBADMSG, { { 0 } } },
		{ 100, 3, 1, { { 1, 1000, 100, 9 } }, -EBADMSG, { { 0 } } },
		/* CE grew by 60 while bytes grew by 50. */
		{ 100, 4, 1, { { 1, 1050, 160, 10 } }, -EBADMSG, { { 0 } } },
		{ 100, 5, 2, { { 2, 650, 0, 0 }, { 1, 1200, 150, 10 } },
		  2, { { 2, 150, 0, 0 }, { 1, 200, 50, 0 } } },
	  }, { [CX_FB_EV_ACCEPTED] = 2, [CX_FB_EV_REGRESSED] = 4 } },
	{ "table full", 2, 3, {
		{ 100, 0, 3, { { 1, 10, 1, 0 }, { 2, 20, 2, 0 },
			       { 3, 30, 3, 0 } },
		  2, { { 1, 10, 1, 0 }, { 2, 20, 2, 0 } } },
		{ 100, 1, 3, { { 3, 40, 4, 0 }, { 2, 25, 2, 0 },
			       { 1, 11, 1, 0 } },
		  2, { { 2, 5, 0, 0 }, { 1, 1, 0, 0 } } },
		/* A new epoch frees the table. */
		{ 101, 0, 1, { { 3, 5, 0, 0 } }, 1, { { 3, 5, 0, 0 } } },
	  }, { [CX_FB_EV_ACCEPTED] = 3, [CX_FB_EV_TABLE_FULL] = 2 } },
	{ "late join then new epoch", 8, 3, {
		{ 100, 7, 1, { { 1, 8000, 800, 0 } },
		  1, { { 1, 0, 0, 0 } } },
		{ 100, 8, 2, { { 1, 8100, 800, 0 }, { 2, 40, 4, 0 } },
		  2, { { 1, 100, 0, 0 }, { 2, 0, 0, 0 } } },
		{ 300, 3, 2, { { 2, 40, 4, 0 }, { 1, 10, 0, 0 } },
		  2, { { 2, 40, 4, 0 }, { 1, 10, 0, 0 } } },
	  }, { [CX_FB_EV_ACCEPTED] = 3 } },
};

static void test_peer_scenarios(void **state)
{
	struct cx_fb_entry in[STEP_ENTRIES], got[CX_FB_ENTRIES_MAX];
	struct cx_fb_delta d[CX_FB_ENTRIES_MAX];
	struct cx_fb_guest table[8];
	uint8_t wire[CX_FB_MSG_MAX];
	struct cx_fb_peer peer;
	const struct step *s;
	struct cx_fb_msg m, r;
	uint8_t addr[CX_FB_ADDR_LEN];
	size_t i, j, k;
	int len;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(scenarios); i++) {
		assert_int_equal(cx_fb_peer_init(&peer, 1, 2, table,
						 scenarios[i].cap_guests), 0);
		for (j = 0; j < scenarios[i].n_steps; j++) {
			s = &scenarios[i].s[j];
			for (k = 0; k < s->n; k++) {
				guest_addr(in[k].guest, s->e[k].guest);
				in[k].bytes = s->e[k].bytes;
				in[k].ce_bytes = s->e[k].ce;
				in[k].lost_bytes = s->e[k].lost;
			}
			m = (struct cx_fb_msg){ .reporter_id = 1,
						.sender_id = 2,
						.epoch_ns = s->epoch_ns,
						.seq = s->seq,
						.interval_ms = 10,
						.n_entries = (uint16_t)s->n,
						.entries = in };
			len = cx_fb_encode(&m, key_kat, wire, sizeof(wire));
			assert_true(len > 0);
			assert_int_equal(cx_fb_decode(wire, (size_t)len,
						      key_kat, &r, got,
						      CX_ARRAY_SIZE(got)), 0);
			memset(d, 0xa5, sizeof(d));
			if (cx_fb_peer_accept(&peer, &r, d,
					      CX_ARRAY_SIZE(d)) != s->want)
				fail_msg("%s step %zu: want %d",
					 scenarios[i].name, j, s->want);
			for (k = 0; s->want > 0 && k < (size_t)s->want; k++) {
				guest_addr(addr, s->d[k].guest);
				assert_memory_equal(d[k].guest, addr,
						    CX_FB_ADDR_LEN);
				if (d[k].bytes != s->d[k].bytes ||
				    d[k].ce_bytes != s->d[k].ce ||
				    d[k].lost_bytes != s->d[k].lost)
					fail_msg("%s step %zu delta %zu",
						 scenarios[i].name, j, k);
			}
		}
		for (k = 0; k < CX_FB_EV_COUNT; k++)
			if (peer.stats.n[k] != scenarios[i].want_ev[k])
				fail_msg("%s: event %zu counted %llu",
					 scenarios[i].name, k,
					 (unsigned long long)peer.stats.n[k]);
	}
}

/* Over any run of accepted messages the deltas sum to the last totals. */
static void test_peer_sum(void **state)
{
	struct cx_fb_entry e[CX_FB_ENTRIES_MAX];
	struct cx_fb_delta d[CX_FB_ENTRIES_MAX];
	struct cx_fb_guest table[CX_FB_ENTRIES_MAX];
	uint64_t sum_b[CX_FB_ENTRIES_MAX] = { 0 }, sum_ce[CX_FB_ENTRIES_MAX] = { 0 };
	struct cx_fb_peer peer;
	struct cx_fb_msg m;
	uint64_t seq;
	size_t k;
	int ret;

	(void)state;
	assert_int_equal(cx_fb_peer_init(&peer, 0xc6120003, 0xc6120004, table,
					 CX_FB_ENTRIES_MAX), 0);
	make_msg(&m, e, CX_FB_ENTRIES_MAX);
	/* The last message, seq 200, gets through. */
	for (seq = 0; seq <= 200; seq++) {
		for (k = 0; k < CX_FB_ENTRIES_MAX; k++) {
			e[k].bytes += 1500 * (k + seq % 7);
			e[k].ce_bytes += seq % 3 ? 0 : 1500 * k;
		}
		m.seq = seq;
		if (seq % 5 == 4)	/* lost in the network */
			continue;
		ret = cx_fb_peer_accept(&peer, &m, d, CX_ARRAY_SIZE(d));
		assert_int_equal(ret, CX_FB_ENTRIES_MAX);
		for (k = 0; k < CX_FB_ENTRIES_MAX; k++) {
			sum_b[k] += d[k].bytes;
			sum_ce[k] += d[k].ce_bytes;
		}
	}
	for (k = 0; k < CX_FB_ENTRIES_MAX; k++) {
		assert_true(sum_b[k] == e[k].bytes);
		assert_true(sum_ce[k] == e[k].ce_bytes);
	}
}

static void test_peer_args(void **state)
{
	struct cx_fb_entry e[2];
	struct cx_fb_delta d[2];
	struct cx_fb_guest table[4];
	struct cx_fb_peer peer;
	struct cx_fb_msg m;

	(void)state;
	assert_int_equal(cx_fb_peer_init(NULL, 1, 2, table, 4), -EINVAL);
	assert_int_equal(cx_fb_peer_init(&peer, 1, 2, NULL, 4), -EINVAL);
	assert_int_equal(cx_fb_peer_init(&peer, 1, 2, table, 0), -EINVAL);
	assert_int_equal(cx_fb_peer_init(&peer, 1, 2, table,
					 CX_FB_GUESTS_MAX + 1), -EINVAL);
	assert_int_equal(cx_fb_peer_init(&peer, 0xc6120003, 0xc6120004, table,
					 4), 0);
	make_msg(&m, e, 2);
	assert_int_equal(cx_fb_peer_accept(&peer, &m, d, 1), -EINVAL);
	assert_int_equal(cx_fb_peer_accept(&peer, &m, NULL, 2), -EINVAL);
	assert_int_equal(cx_fb_peer_accept(NULL, &m, d, 2), -EINVAL);
	m.reporter_id++;
	assert_int_equal(cx_fb_peer_accept(&peer, &m, d, 2), -EINVAL);
	m.reporter_id--;
	m.sender_id++;
	assert_int_equal(cx_fb_peer_accept(&peer, &m, d, 2), -EINVAL);
	m.sender_id--;
	memcpy(e[1].guest, e[0].guest, CX_FB_ADDR_LEN);
	assert_int_equal(cx_fb_peer_accept(&peer, &m, d, 2), -EINVAL);
	assert_false(peer.have_epoch);
	make_msg(&m, e, 2);
	assert_int_equal(cx_fb_peer_accept(&peer, &m, d, 2), 2);
	/* An empty message advances the sequence and charges nothing. */
	m.n_entries = 0;
	m.seq++;
	assert_int_equal(cx_fb_peer_accept(&peer, &m, NULL, 0), 0);
	assert_int_equal(cx_fb_peer_accept(&peer, &m, NULL, 0), -EALREADY);
}

static int group_setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_edits),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_decode_event),
		cmocka_unit_test(test_peer_scenarios),
		cmocka_unit_test(test_peer_sum),
		cmocka_unit_test(test_peer_args),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
