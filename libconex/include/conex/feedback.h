/*
 * Tunnel feedback messages: the tunnel egress (the auditor's host, the
 * "reporter") tells the tunnel ingress (the "sender", whose policer drains
 * its legacy tenants' buckets) how many bytes of each source guest came out
 * of the tunnel, and how many of those had met congestion: outer header CE
 * on arrival, counted before RFC 6040 decapsulation (RFC 7713 §5.5 "ECN
 * tunnel loss audit", draft-briscoe-conex-data-centre §5, docs/wire.md §7).
 *
 * Wire format [project], version 1, big-endian, one UDP datagram:
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  Version = 1  |   Type = 1    |           Flags = 0           |  0
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                       Reporter host id                        |  4
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                        Sender host id                         |  8
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                                                               | 12
 *  +                        Epoch (ns, 64)                         +
 *  |                                                               |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                                                               | 20
 *  +                      Sequence number (64)                     +
 *  |                                                               |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                         Interval (ms)                         | 28
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |          Entry count          |                               | 32
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 *  ~            Entry count entries of 40 octets (below)           ~
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  ~     HMAC-SHA-256 tag (32 octets) over every octet before it   ~
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 *  Entry, offsets from its start:
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  ~   Source guest address (16 octets; IPv4 as ::ffff:a.b.c.d)    ~  0
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  +                    Cumulative bytes (64)                      + 16
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  +                   Cumulative CE bytes (64)                    + 24
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  +                  Cumulative lost bytes (64)                   + 32
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Epoch: the reporter's start time in ns; it identifies one incarnation of
 * the reporter, whose counters all start at 0 and whose sequence numbers
 * start at 0 and strictly increase. It must grow across restarts, reboots
 * included: take it from CLOCK_REALTIME, not CLOCK_MONOTONIC. Bytes are
 * inner IP bytes received from that guest through the tunnel in this epoch;
 * CE bytes are those of them whose outer header arrived CE, so never more
 * than bytes; lost bytes are losses the reporter detected (0 where it
 * cannot). Counters are cumulative, so a lost message loses nothing: the
 * next one carries the totals. A reporter with more guests behind one
 * sender than CX_FB_ENTRIES_MAX splits them over several messages, each
 * with its own sequence number; a guest appears at most once per message.
 *
 * Integrity (RFC 2104 HMAC with SHA-256, the full 32-octet tag), keyed per
 * host pair or per cluster from config. The decoder checks only the length
 * framing (version, entry count, total length) before verifying the tag in
 * constant time, and trusts no other field before that.
 *
 * Uses libsodium (link with -lsodium). The program calls sodium_init() once
 * at start-up; this module keeps no state and never calls it itself.
 */
#ifndef CONEX_FEEDBACK_H
#define CONEX_FEEDBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	CX_FB_VERSION = 1,
	CX_FB_TYPE_CE_REPORT = 1,
	CX_FB_HDR_LEN = 34,
	CX_FB_ENTRY_LEN = 40,
	CX_FB_TAG_LEN = 32,		/* crypto_auth_hmacsha256_BYTES */
	CX_FB_KEY_LEN = 32,		/* crypto_auth_hmacsha256_KEYBYTES */
	CX_FB_ADDR_LEN = 16,
	/*
	 * A message must fit one datagram of CX_FB_DGRAM_MAX octets (UDP
	 * payload; with IPv6 and UDP headers 1448, well under a 1500 MTU):
	 * (1400 - 34 - 32) / 40 = 33 entries, 1386 octets.
	 */
	CX_FB_DGRAM_MAX = 1400,
	CX_FB_ENTRIES_MAX = (CX_FB_DGRAM_MAX - CX_FB_HDR_LEN - CX_FB_TAG_LEN) /
			    CX_FB_ENTRY_LEN,
	CX_FB_GUESTS_MAX = 4096,	/* per peer; the table is searched linearly */
};

/* Octets of a message with n entries. */
#define CX_FB_MSG_LEN(n) \
	((size_t)CX_FB_HDR_LEN + (size_t)(n) * CX_FB_ENTRY_LEN + CX_FB_TAG_LEN)
#define CX_FB_MSG_MAX CX_FB_MSG_LEN(CX_FB_ENTRIES_MAX)

struct cx_fb_entry {
	uint8_t guest[CX_FB_ADDR_LEN];	/* network order; IPv4 as ::ffff:a.b.c.d */
	uint64_t bytes;			/* cumulative in the epoch */
	uint64_t ce_bytes;		/* <= bytes */
	uint64_t lost_bytes;
};

/*
 * One message. Version, type and flags are not carried: the encoder writes
 * the only values this version defines and the decoder accepts no other.
 * Entries are caller-owned.
 */
struct cx_fb_msg {
	uint32_t reporter_id;	/* tunnel egress: the auditor's host */
	uint32_t sender_id;	/* tunnel ingress: the policer's host */
	uint64_t epoch_ns;
	uint64_t seq;
	uint32_t interval_ms;	/* the reporter's send interval, informative */
	uint16_t n_entries;	/* <= CX_FB_ENTRIES_MAX */
	const struct cx_fb_entry *entries;
};

/*
 * Writes m to out, tag included. Returns the length, CX_FB_MSG_LEN(
 * m->n_entries); -ENOSPC if cap is smaller; -EINVAL on NULL arguments, more
 * than CX_FB_ENTRIES_MAX entries, an entry with ce_bytes > bytes, or a
 * guest listed twice (each is also what the decoder refuses).
 */
int cx_fb_encode(const struct cx_fb_msg *m, const uint8_t key[CX_FB_KEY_LEN],
		 uint8_t *out, size_t cap);

/*
 * Verifies and decodes the message in p[0..len), which must be the whole
 * datagram. On success returns 0 with *m filled and m->entries pointing at
 * entries. Checks, in order, and returns:
 *   -ENODATA          len shorter than the header;
 *   -EPROTONOSUPPORT  version other than 1 (its framing is unknown);
 *   -EBADMSG          entry count above CX_FB_ENTRIES_MAX;
 *   -ENODATA          len shorter than CX_FB_MSG_LEN(entry count);
 *   -EBADMSG          octets after the tag;
 *   -EACCES           the tag does not verify under key: forged, damaged,
 *                     or the wrong key;
 *   -EBADMSG          (authentic but malformed) type other than 1, flags
 *                     not 0, an entry with CE bytes above bytes, a guest
 *                     listed twice;
 *   -ENOSPC           more entries than max_entries (never, if entries
 *                     holds CX_FB_ENTRIES_MAX);
 *   -EINVAL           NULL arguments.
 * entries may be written to even when the call fails.
 */
int cx_fb_decode(const uint8_t *p, size_t len, const uint8_t key[CX_FB_KEY_LEN],
		 struct cx_fb_msg *m, struct cx_fb_entry *entries,
		 size_t max_entries);

/*
 * Reads the reporter and sender host ids so that a receiver can choose the
 * key (and the peer) by reporter id before calling cx_fb_decode().
 * UNAUTHENTICATED: anyone can write any id here; act on nothing but the
 * choice of key until cx_fb_decode() has succeeded. Returns 0, -ENODATA if
 * len < CX_FB_HDR_LEN, -EPROTONOSUPPORT, -EINVAL on NULL arguments.
 */
int cx_fb_peek_hosts(const uint8_t *p, size_t len, uint32_t *reporter_id,
		     uint32_t *sender_id);

/* Outcomes a receiver counts; one slot each in struct cx_fb_stats. */
enum cx_fb_event {
	CX_FB_EV_ACCEPTED,	/* cx_fb_peer_accept() >= 0 */
	CX_FB_EV_REPLAYED,	/* cx_fb_peer_accept() -EALREADY */
	CX_FB_EV_REGRESSED,	/* cx_fb_peer_accept() -EBADMSG */
	CX_FB_EV_TABLE_FULL,	/* per entry skipped: guest table full */
	CX_FB_EV_TRUNCATED,	/* cx_fb_decode() -ENODATA */
	CX_FB_EV_MALFORMED,	/* cx_fb_decode() -EBADMSG */
	CX_FB_EV_BAD_VERSION,	/* cx_fb_decode() -EPROTONOSUPPORT */
	CX_FB_EV_BAD_TAG,	/* cx_fb_decode() -EACCES */
	CX_FB_EV_UNKNOWN_HOST,	/* the caller's: no key or peer for the ids */
	CX_FB_EV_LOCAL,		/* the caller's own error: -EINVAL, -ENOSPC */
	CX_FB_EV_COUNT,
};

struct cx_fb_stats {
	uint64_t n[CX_FB_EV_COUNT];
};

/* The slot for a negative cx_fb_decode() result. */
enum cx_fb_event cx_fb_decode_event(int ret);

/* One guest's last accepted cumulative counters. */
struct cx_fb_guest {
	uint8_t guest[CX_FB_ADDR_LEN];
	uint64_t bytes;
	uint64_t ce_bytes;
	uint64_t lost_bytes;
};

/*
 * A receiver's state for one (reporter, sender) pair. The guest table is
 * caller memory given at init; nothing is allocated afterwards. Lookups
 * are linear: capacity is the guests of one sender host (tens to hundreds)
 * and messages come a few per RTT, not per packet.
 */
struct cx_fb_peer {
	uint32_t reporter_id;
	uint32_t sender_id;
	bool have_epoch;	/* a message has been accepted */
	bool late_join;		/* joined this epoch after its first message */
	uint64_t epoch_ns;	/* of the last accepted message */
	uint64_t seq;		/* of the last accepted message */
	struct cx_fb_guest *guests;
	uint32_t n_guests;
	uint32_t cap_guests;
	struct cx_fb_stats stats;	/* what cx_fb_peer_accept() saw */
};

/* Bytes charged for one guest by one accepted message. */
struct cx_fb_delta {
	uint8_t guest[CX_FB_ADDR_LEN];
	uint64_t bytes;
	uint64_t ce_bytes;
	uint64_t lost_bytes;
};

/*
 * Empty state for messages from reporter_id about traffic from sender_id,
 * with room for cap_guests guests in guests[]. -EINVAL on NULL, or
 * cap_guests 0 or above CX_FB_GUESTS_MAX.
 */
int cx_fb_peer_init(struct cx_fb_peer *peer, uint32_t reporter_id,
		    uint32_t sender_id, struct cx_fb_guest *guests,
		    uint32_t cap_guests);

/*
 * Accepts a decoded message and writes, per guest, the bytes since the
 * last accepted message (out must hold m->n_entries; CX_FB_ENTRIES_MAX
 * always does). Returns the number of deltas written, in message order;
 * a guest the full table cannot hold is skipped and counted
 * (CX_FB_EV_TABLE_FULL). Otherwise, with nothing changed:
 *   -EALREADY  a replay or a late, reordered message: epoch older than the
 *              last accepted, or the same epoch and seq not above it;
 *   -EBADMSG   a counter went down within the epoch, or CE bytes grew
 *              more than bytes: a buggy reporter or a signed forgery;
 *   -EINVAL    NULL arguments, out too small, ids not this peer's, or an
 *              entry the encoder would refuse.
 *
 * A newer epoch means the reporter restarted: its counters start again
 * from 0, so the table is cleared and the new totals are charged whole;
 * nothing it had reported before is charged twice, and nothing is lost but
 * what it never reported. A guest first seen in an epoch is charged its
 * totals, except while late_join: a freshly initialised peer (a restarted
 * receiver) cannot tell what its previous incarnation already charged, so
 * unless the first message it sees is its epoch's first (seq 0), that
 * epoch's guests are taken as a baseline and charged 0 at first sight.
 * Replay protection lasts as long as this state: after a receiver restart
 * a recorded older message of the current epoch can be accepted once as
 * the baseline, and the next message then charges again what happened
 * since that old one (persist epoch and seq to close this).
 */
int cx_fb_peer_accept(struct cx_fb_peer *peer, const struct cx_fb_msg *m,
		      struct cx_fb_delta *out, size_t max);

#endif
