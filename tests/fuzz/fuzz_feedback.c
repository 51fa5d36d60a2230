/*
 * Feedback messages under a fixed key. The first octet picks a mode:
 *
 *  0  cx_fb_decode on the remaining bytes. Errors are the documented ones
 *     (-ENODATA exactly when shorter than the header or the count implies);
 *     whatever decodes re-encodes to the same bytes.
 *  1  the remaining bytes signed with the key, then decoded: reaches the
 *     checks behind the tag. Same invariants.
 *  2  a message built from the input is encoded, input-chosen bits are
 *     flipped, and the result must not decode.
 *  3  a run of messages built from the input (few guests, epochs and
 *     sequence numbers, counters that mostly grow) is fed to one peer.
 *     A refused message changes no state; an accepted one charges, per
 *     guest and epoch, deltas that sum to its latest totals less the
 *     baseline taken at first sight (0 unless the peer joined late).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include <conex/byteorder.h>
#include <conex/feedback.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[CX_FB_KEY_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

enum {
	PEER_GUESTS = 8,	/* distinct guests in mode 3 */
	PEER_CAP = 6,		/* table smaller than that: fills up */
	PEER_STEPS = 64,
};

struct rd {
	const uint8_t *p;
	size_t len, off;
};

/* Input bytes in order; zeros once it runs out. */
static uint8_t rd_u8(struct rd *r)
{
	return r->off < r->len ? r->p[r->off++] : 0;
}

static uint64_t rd_u64(struct rd *r)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | rd_u8(r);
	return v;
}

static void guest_addr(uint8_t a[CX_FB_ADDR_LEN], unsigned int i)
{
	memset(a, 0, CX_FB_ADDR_LEN);
	a[10] = 0xff;
	a[11] = 0xff;
	a[12] = 198;
	a[13] = 18;
	a[15] = (uint8_t)i;
}

static void check_decoded(const uint8_t *p, size_t len)
{
	struct cx_fb_entry e[CX_FB_ENTRIES_MAX];
	uint8_t out[CX_FB_MSG_MAX];
	uint32_t rep, snd;
	struct cx_fb_msg m;
	size_t need;
	int ret;

	ret = cx_fb_decode(p, len, key, &m, e, CX_FB_ENTRIES_MAX);
	if (len < CX_FB_HDR_LEN) {
		if (ret != -ENODATA)
			__builtin_trap();
		return;
	}
	if (p[0] != CX_FB_VERSION) {
		if (ret != -EPROTONOSUPPORT)
			__builtin_trap();
		return;
	}
	if (cx_get_be16(p + 32) > CX_FB_ENTRIES_MAX) {
		if (ret != -EBADMSG)
			__builtin_trap();
		return;
	}
	need = CX_FB_MSG_LEN(cx_get_be16(p + 32));
	if ((ret == -ENODATA) != (need > len))
		__builtin_trap();
	if (ret < 0) {
		if (ret != -ENODATA && ret != -EBADMSG && ret != -EACCES)
			__builtin_trap();
		return;
	}
	if (ret != 0 || need != len || m.entries != e ||
	    m.n_entries > CX_FB_ENTRIES_MAX)
		__builtin_trap();
	if (cx_fb_encode(&m, key, out, sizeof(out)) != (int)len ||
	    memcmp(out, p, len))
		__builtin_trap();
	if (cx_fb_peek_hosts(p, len, &rep, &snd) != 0 ||
	    rep != m.reporter_id || snd != m.sender_id)
		__builtin_trap();
}

/* Mode 1: sign whatever the input says, so the authenticated checks run. */
static void fuzz_signed(const uint8_t *p, size_t len)
{
	uint8_t buf[CX_FB_MSG_MAX + 1];

	if (len > sizeof(buf) - CX_FB_TAG_LEN)
		len = sizeof(buf) - CX_FB_TAG_LEN;
	memcpy(buf, p, len);
	crypto_auth_hmacsha256(buf + len, buf, len, key);
	check_decoded(buf, len + CX_FB_TAG_LEN);
}

/* A valid message from the input; guests base+i mod n_guests, distinct. */
static void build_msg(struct rd *r, struct cx_fb_msg *m, struct cx_fb_entry *e,
		      unsigned int max_n, unsigned int n_guests)
{
	unsigned int i, n, base;

	memset(m, 0, sizeof(*m));
	m->reporter_id = (uint32_t)rd_u64(r);
	m->sender_id = (uint32_t)rd_u64(r);
	m->epoch_ns = rd_u64(r);
	m->seq = rd_u64(r);
	m->interval_ms = (uint32_t)rd_u64(r);
	n = rd_u8(r) % (max_n + 1);
	base = rd_u8(r);
	for (i = 0; i < n; i++) {
		guest_addr(e[i].guest, (base + i) % n_guests);
		e[i].bytes = rd_u64(r);
		e[i].ce_bytes = rd_u64(r);
		if (e[i].ce_bytes > e[i].bytes)
			e[i].ce_bytes %= e[i].bytes + 1;
		e[i].lost_bytes = rd_u64(r);
	}
	m->n_entries = (uint16_t)n;
	m->entries = e;
}

/* Mode 2: no bit flip survives the tag. */
static void fuzz_flips(struct rd *r)
{
	struct cx_fb_entry e[CX_FB_ENTRIES_MAX], got[CX_FB_ENTRIES_MAX];
	uint8_t a[CX_FB_MSG_MAX], b[CX_FB_MSG_MAX];
	struct cx_fb_msg m, out;
	unsigned int i, n_flips;
	size_t len, bit;
	int ret;

	build_msg(r, &m, e, CX_FB_ENTRIES_MAX, 64);
	ret = cx_fb_encode(&m, key, a, sizeof(a));
	if (ret != (int)CX_FB_MSG_LEN(m.n_entries))
		__builtin_trap();
	len = (size_t)ret;
	if (cx_fb_decode(a, len, key, &out, got, CX_FB_ENTRIES_MAX) != 0)
		__builtin_trap();
	memcpy(b, a, len);
	n_flips = 1 + rd_u8(r) % 8;
	for (i = 0; i < n_flips; i++) {
		bit = ((size_t)rd_u8(r) << 8 | rd_u8(r)) % (len * 8);
		b[bit / 8] ^= (uint8_t)(1U << (bit % 8));
	}
	if (!memcmp(a, b, len))
		return;
	if (cx_fb_decode(b, len, key, &out, got, CX_FB_ENTRIES_MAX) >= 0)
		__builtin_trap();
}

struct shadow {
	uint64_t epoch_ns;
	bool seen[PEER_GUESTS];
	uint64_t base[PEER_GUESTS][3];	/* totals at first sight, if late */
	uint64_t sum[PEER_GUESTS][3];	/* deltas charged this epoch */
};

/* Mode 3: one peer, a run of messages. */
static void fuzz_peer(struct rd *r)
{
	struct cx_fb_guest table[PEER_CAP], table_before[PEER_CAP];
	struct cx_fb_entry e[PEER_GUESTS];
	struct cx_fb_delta d[CX_FB_ENTRIES_MAX];
	uint64_t last[PEER_GUESTS][3];
	struct cx_fb_peer peer, before;
	struct shadow sh;
	struct cx_fb_msg m;
	unsigned int step, i, n, base, g, k;
	uint64_t acc = 0, v;
	uint8_t op;
	int ret;

	memset(&sh, 0, sizeof(sh));
	memset(last, 0, sizeof(last));
	if (cx_fb_peer_init(&peer, 1, 2, table, PEER_CAP) != 0)
		__builtin_trap();
	for (step = 0; step < PEER_STEPS && r->off < r->len; step++) {
		op = rd_u8(r);
		m = (struct cx_fb_msg){ .reporter_id = 1, .sender_id = 2 };
		m.epoch_ns = 100 + op % 3;
		m.seq = rd_u8(r) % 16;
		n = rd_u8(r) % (PEER_GUESTS + 1);
		base = rd_u8(r);
		for (i = 0; i < n; i++) {
			g = (base + i) % PEER_GUESTS;
			guest_addr(e[i].guest, g);
			/* Mostly growth from the last sent; sometimes anything. */
			if (op & 0x80) {
				e[i].bytes = rd_u8(r);
				e[i].ce_bytes = rd_u8(r) % (e[i].bytes + 1);
				e[i].lost_bytes = rd_u8(r);
			} else {
				v = rd_u8(r);
				e[i].bytes = last[g][0] + v;
				e[i].ce_bytes = last[g][1] + rd_u8(r) % (v + 1);
				e[i].lost_bytes = last[g][2] + rd_u8(r) % 4;
			}
			last[g][0] = e[i].bytes;
			last[g][1] = e[i].ce_bytes;
			last[g][2] = e[i].lost_bytes;
		}
		m.n_entries = (uint16_t)n;
		m.entries = e;

		before = peer;
		memcpy(table_before, table, sizeof(table));
		ret = cx_fb_peer_accept(&peer, &m, d, CX_FB_ENTRIES_MAX);
		if (ret < 0) {
			if (ret != -EALREADY && ret != -EBADMSG)
				__builtin_trap();
			if (peer.have_epoch != before.have_epoch ||
			    peer.epoch_ns != before.epoch_ns ||
			    peer.seq != before.seq ||
			    peer.late_join != before.late_join ||
			    peer.n_guests != before.n_guests ||
			    memcmp(table, table_before, sizeof(table)))
				__builtin_trap();
			continue;
		}
		acc++;
		if ((unsigned int)ret > n || peer.n_guests > PEER_CAP ||
		    peer.epoch_ns != m.epoch_ns || peer.seq != m.seq ||
		    (before.have_epoch && (m.epoch_ns < before.epoch_ns ||
		     (m.epoch_ns == before.epoch_ns && m.seq <= before.seq))))
			__builtin_trap();
		if (!before.have_epoch || m.epoch_ns != sh.epoch_ns) {
			memset(&sh, 0, sizeof(sh));
			sh.epoch_ns = m.epoch_ns;
		}
		for (i = 0; i < (unsigned int)ret; i++) {
			g = d[i].guest[15];
			if (g >= PEER_GUESTS || d[i].ce_bytes > d[i].bytes)
				__builtin_trap();
			for (k = 0; k < n; k++)
				if (!memcmp(e[k].guest, d[i].guest,
					    CX_FB_ADDR_LEN))
					break;
			/* Deltas never exceed totals (sums alone wrap). */
			if (k == n || d[i].bytes > e[k].bytes ||
			    d[i].ce_bytes > e[k].ce_bytes ||
			    d[i].lost_bytes > e[k].lost_bytes)
				__builtin_trap();
			if (!sh.seen[g] && peer.late_join) {
				if (d[i].bytes || d[i].ce_bytes ||
				    d[i].lost_bytes)
					__builtin_trap();
				sh.base[g][0] = e[k].bytes - d[i].bytes;
				sh.base[g][1] = e[k].ce_bytes - d[i].ce_bytes;
				sh.base[g][2] = e[k].lost_bytes -
						d[i].lost_bytes;
			}
			sh.seen[g] = true;
			sh.sum[g][0] += d[i].bytes;
			sh.sum[g][1] += d[i].ce_bytes;
			sh.sum[g][2] += d[i].lost_bytes;
			if (sh.sum[g][0] + sh.base[g][0] != e[k].bytes ||
			    sh.sum[g][1] + sh.base[g][1] != e[k].ce_bytes ||
			    sh.sum[g][2] + sh.base[g][2] != e[k].lost_bytes)
				__builtin_trap();
		}
	}
	if (peer.stats.n[CX_FB_EV_ACCEPTED] != acc)
		__builtin_trap();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		__builtin_trap();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd r;

	if (size < 1)
		return 0;
	r = (struct rd){ .p = data + 1, .len = size - 1 };
	switch (data[0] % 4) {
	case 0:
		check_decoded(data + 1, size - 1);
		break;
	case 1:
		fuzz_signed(data + 1, size - 1);
		break;
	case 2:
		fuzz_flips(&r);
		break;
	default:
		fuzz_peer(&r);
		break;
	}
	return 0;
}
