/* Tunnel feedback messages (layout in <conex/feedback.h>). */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include <conex/byteorder.h>
#include <conex/feedback.h>

/* Header field offsets. */
enum {
	FB_OFF_VERSION = 0,
	FB_OFF_TYPE = 1,
	FB_OFF_FLAGS = 2,
	FB_OFF_REPORTER = 4,
	FB_OFF_SENDER = 8,
	FB_OFF_EPOCH = 12,
	FB_OFF_SEQ = 20,
	FB_OFF_INTERVAL = 28,
	FB_OFF_COUNT = 32,
};

/* Entry field offsets, from the entry's start. */
enum {
	FB_E_GUEST = 0,
	FB_E_BYTES = 16,
	FB_E_CE = 24,
	FB_E_LOST = 32,
};

_Static_assert(FB_OFF_COUNT + 2 == CX_FB_HDR_LEN, "header layout");
_Static_assert(FB_E_LOST + 8 == CX_FB_ENTRY_LEN, "entry layout");
_Static_assert(CX_FB_TAG_LEN == crypto_auth_hmacsha256_BYTES, "tag size");
_Static_assert(CX_FB_KEY_LEN == crypto_auth_hmacsha256_KEYBYTES, "key size");
_Static_assert(CX_FB_ENTRIES_MAX == 33, "entries per datagram");
_Static_assert(CX_FB_MSG_MAX <= CX_FB_DGRAM_MAX, "message fits a datagram");
_Static_assert(CX_FB_MSG_LEN(CX_FB_ENTRIES_MAX + 1) > CX_FB_DGRAM_MAX,
	       "entry cap is the largest that fits");
_Static_assert(CX_FB_ENTRIES_MAX <= UINT16_MAX, "count field");

/*
 * The invariants every message satisfies, whoever built it: CE bytes are a
 * subset of bytes, and a guest appears at most once (otherwise its deltas
 * would be ambiguous). O(n^2) over at most CX_FB_ENTRIES_MAX entries.
 */
static bool fb_entries_valid(const struct cx_fb_entry *e, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (e[i].ce_bytes > e[i].bytes)
			return false;
		for (j = 0; j < i; j++)
			if (!memcmp(e[i].guest, e[j].guest, CX_FB_ADDR_LEN))
				return false;
	}
	return true;
}

int cx_fb_encode(const struct cx_fb_msg *m, const uint8_t key[CX_FB_KEY_LEN],
		 uint8_t *out, size_t cap)
{
	const struct cx_fb_entry *e;
	size_t len, i;
	uint8_t *q;

	if (!m || !key || !out || m->n_entries > CX_FB_ENTRIES_MAX ||
	    (m->n_entries && !m->entries))
		return -EINVAL;
	if (!fb_entries_valid(m->entries, m->n_entries))
		return -EINVAL;
	len = CX_FB_MSG_LEN(m->n_entries);
	if (len > cap)
		return -ENOSPC;

	out[FB_OFF_VERSION] = CX_FB_VERSION;
	out[FB_OFF_TYPE] = CX_FB_TYPE_CE_REPORT;
	cx_put_be16(out + FB_OFF_FLAGS, 0);
	cx_put_be32(out + FB_OFF_REPORTER, m->reporter_id);
	cx_put_be32(out + FB_OFF_SENDER, m->sender_id);
	cx_put_be64(out + FB_OFF_EPOCH, m->epoch_ns);
	cx_put_be64(out + FB_OFF_SEQ, m->seq);
	cx_put_be32(out + FB_OFF_INTERVAL, m->interval_ms);
	cx_put_be16(out + FB_OFF_COUNT, m->n_entries);
	for (i = 0; i < m->n_entries; i++) {
		e = &m->entries[i];
		q = out + CX_FB_HDR_LEN + i * CX_FB_ENTRY_LEN;
		memcpy(q + FB_E_GUEST, e->guest, CX_FB_ADDR_LEN);
		cx_put_be64(q + FB_E_BYTES, e->bytes);
		cx_put_be64(q + FB_E_CE, e->ce_bytes);
		cx_put_be64(q + FB_E_LOST, e->lost_bytes);
	}
	crypto_auth_hmacsha256(out + len - CX_FB_TAG_LEN, out,
			       len - CX_FB_TAG_LEN, key);
	return (int)len;
}

int cx_fb_peek_hosts(const uint8_t *p, size_t len, uint32_t *reporter_id,
		     uint32_t *sender_id)
{
	if (!p || !reporter_id || !sender_id)
		return -EINVAL;
	if (len < CX_FB_HDR_LEN)
		return -ENODATA;
	if (p[FB_OFF_VERSION] != CX_FB_VERSION)
		return -EPROTONOSUPPORT;
	*reporter_id = cx_get_be32(p + FB_OFF_REPORTER);
	*sender_id = cx_get_be32(p + FB_OFF_SENDER);
	return 0;
}

int cx_fb_decode(const uint8_t *p, size_t len, const uint8_t key[CX_FB_KEY_LEN],
		 struct cx_fb_msg *m, struct cx_fb_entry *entries,
		 size_t max_entries)
{
	uint8_t tag[CX_FB_TAG_LEN];
	const uint8_t *q;
	size_t n, need, i;

	if ((!p && len) || !key || !m || (!entries && max_entries))
		return -EINVAL;
	if (len < CX_FB_HDR_LEN)
		return -ENODATA;
	/* Framing only, all unauthenticated: it says where the tag is. */
	if (p[FB_OFF_VERSION] != CX_FB_VERSION)
		return -EPROTONOSUPPORT;
	n = cx_get_be16(p + FB_OFF_COUNT);
	if (n > CX_FB_ENTRIES_MAX)
		return -EBADMSG;
	need = CX_FB_MSG_LEN(n);
	if (need > len)
		return -ENODATA;
	if (need < len)
		return -EBADMSG;

	crypto_auth_hmacsha256(tag, p, need - CX_FB_TAG_LEN, key);
	if (crypto_verify_32(tag, p + need - CX_FB_TAG_LEN) != 0)
		return -EACCES;

	/* Authentic from here on; what remains is the reporter's own error. */
	if (p[FB_OFF_TYPE] != CX_FB_TYPE_CE_REPORT ||
	    cx_get_be16(p + FB_OFF_FLAGS) != 0)
		return -EBADMSG;
	if (n > max_entries)
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		q = p + CX_FB_HDR_LEN + i * CX_FB_ENTRY_LEN;
		memcpy(entries[i].guest, q + FB_E_GUEST, CX_FB_ADDR_LEN);
		entries[i].bytes = cx_get_be64(q + FB_E_BYTES);
		entries[i].ce_bytes = cx_get_be64(q + FB_E_CE);
		entries[i].lost_bytes = cx_get_be64(q + FB_E_LOST);
	}
	if (!fb_entries_valid(entries, n))
		return -EBADMSG;

	m->reporter_id = cx_get_be32(p + FB_OFF_REPORTER);
	m->sender_id = cx_get_be32(p + FB_OFF_SENDER);
	m->epoch_ns = cx_get_be64(p + FB_OFF_EPOCH);
	m->seq = cx_get_be64(p + FB_OFF_SEQ);
	m->interval_ms = cx_get_be32(p + FB_OFF_INTERVAL);
	m->n_entries = (uint16_t)n;
	m->entries = entries;
	return 0;
}

enum cx_fb_event cx_fb_decode_event(int ret)
{
	switch (ret) {
	case -ENODATA:
		return CX_FB_EV_TRUNCATED;
	case -EBADMSG:
		return CX_FB_EV_MALFORMED;
	case -EPROTONOSUPPORT:
		return CX_FB_EV_BAD_VERSION;
	case -EACCES:
		return CX_FB_EV_BAD_TAG;
	default:
		return CX_FB_EV_LOCAL;
	}
}

int cx_fb_peer_init(struct cx_fb_peer *peer, uint32_t reporter_id,
		    uint32_t sender_id, struct cx_fb_guest *guests,
		    uint32_t cap_guests)
{
	if (!peer || !guests || !cap_guests || cap_guests > CX_FB_GUESTS_MAX)
		return -EINVAL;
	memset(peer, 0, sizeof(*peer));
	peer->reporter_id = reporter_id;
	peer->sender_id = sender_id;
	peer->guests = guests;
	peer->cap_guests = cap_guests;
	return 0;
}

/* Index of guest in the table, or -1. At most cap_guests steps. */
static int fb_peer_find(const struct cx_fb_peer *peer, const uint8_t *guest)
{
	uint32_t i;

	for (i = 0; i < peer->n_guests && i < peer->cap_guests; i++)
		if (!memcmp(peer->guests[i].guest, guest, CX_FB_ADDR_LEN))
			return (int)i;
	return -1;
}

int cx_fb_peer_accept(struct cx_fb_peer *peer, const struct cx_fb_msg *m,
		      struct cx_fb_delta *out, size_t max)
{
	int idx[CX_FB_ENTRIES_MAX];
	const struct cx_fb_entry *e;
	const struct cx_fb_guest *g;
	struct cx_fb_guest *w;
	struct cx_fb_delta *d;
	bool new_epoch, late;
	size_t i, n_out = 0;

	if (!peer || !m || m->n_entries > CX_FB_ENTRIES_MAX ||
	    (m->n_entries && (!m->entries || !out)) || max < m->n_entries)
		return -EINVAL;
	if (m->reporter_id != peer->reporter_id ||
	    m->sender_id != peer->sender_id ||
	    !fb_entries_valid(m->entries, m->n_entries))
		return -EINVAL;

	if (peer->have_epoch &&
	    (m->epoch_ns < peer->epoch_ns ||
	     (m->epoch_ns == peer->epoch_ns && m->seq <= peer->seq))) {
		peer->stats.n[CX_FB_EV_REPLAYED]++;
		return -EALREADY;
	}
	new_epoch = !peer->have_epoch || m->epoch_ns != peer->epoch_ns;
	/*
	 * With history, a new epoch is charged from 0: none of it can have
	 * been charged yet. Without (a restarted receiver), only seq 0
	 * proves that.
	 */
	late = new_epoch ? !peer->have_epoch && m->seq != 0 : peer->late_join;

	/* Check everything before changing anything. */
	for (i = 0; i < m->n_entries; i++) {
		e = &m->entries[i];
		idx[i] = new_epoch ? -1 : fb_peer_find(peer, e->guest);
		if (idx[i] < 0)
			continue;
		g = &peer->guests[idx[i]];
		if (e->bytes < g->bytes || e->ce_bytes < g->ce_bytes ||
		    e->lost_bytes < g->lost_bytes ||
		    e->ce_bytes - g->ce_bytes > e->bytes - g->bytes) {
			peer->stats.n[CX_FB_EV_REGRESSED]++;
			return -EBADMSG;
		}
	}

	if (new_epoch) {
		peer->n_guests = 0;
		peer->have_epoch = true;
		peer->epoch_ns = m->epoch_ns;
	}
	peer->late_join = late;
	peer->seq = m->seq;
	for (i = 0; i < m->n_entries; i++) {
		e = &m->entries[i];
		d = &out[n_out];
		if (idx[i] >= 0) {
			w = &peer->guests[idx[i]];
			d->bytes = e->bytes - w->bytes;
			d->ce_bytes = e->ce_bytes - w->ce_bytes;
			d->lost_bytes = e->lost_bytes - w->lost_bytes;
		} else if (peer->n_guests < peer->cap_guests) {
			w = &peer->guests[peer->n_guests++];
			memcpy(w->guest, e->guest, CX_FB_ADDR_LEN);
			d->bytes = late ? 0 : e->bytes;
			d->ce_bytes = late ? 0 : e->ce_bytes;
			d->lost_bytes = late ? 0 : e->lost_bytes;
		} else {
			peer->stats.n[CX_FB_EV_TABLE_FULL]++;
			continue;
		}
		w->bytes = e->bytes;
		w->ce_bytes = e->ce_bytes;
		w->lost_bytes = e->lost_bytes;
		memcpy(d->guest, e->guest, CX_FB_ADDR_LEN);
		n_out++;
	}
	peer->stats.n[CX_FB_EV_ACCEPTED]++;
	return (int)n_out;
}
