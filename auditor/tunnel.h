/*
 * Tunnel egress for legacy guests (docs/wire.md §7, RFC 7713 §5.5): VXLAN
 * packets from peer hosts, seen before decapsulation, are counted per
 * sending host and per inner source guest (inner IP bytes, and those whose
 * OUTER ECN is CE); every feedback interval the cumulative counters go to
 * the sending host's policer in authenticated messages (conex/feedback.h).
 */
#ifndef AUD_TUNNEL_H
#define AUD_TUNNEL_H

#include <stddef.h>
#include <stdint.h>

#include <conex/feedback.h>

#include "config.h"

#define AUD_TUN_GUESTS_MAX	256	/* per peer; more are counted, not kept */

struct aud_tun_guest {
	uint8_t addr[CX_FB_ADDR_LEN];	/* IPv4 as ::ffff:a.b.c.d */
	uint64_t bytes;
	uint64_t ce_bytes;
};

struct aud_tun_peer {
	const struct aud_peer *cfg;
	uint64_t packets;
	uint64_t bytes;			/* inner IP bytes, all guests */
	uint64_t ce_bytes;
	uint64_t guests_full;		/* packets of guests the table could not hold */
	uint64_t seq;			/* of the next message */
	uint64_t fb_sent;
	uint64_t fb_errors;
	uint32_t n_guests;
	struct aud_tun_guest guests[AUD_TUN_GUESTS_MAX];
};

struct aud_tun_stats {
	uint64_t packets;		/* handed to aud_tun_packet() */
	uint64_t unknown_peer;		/* outer source not a configured peer */
	uint64_t not_vxlan;		/* other UDP port or protocol */
	uint64_t malformed;		/* truncated or bad headers */
};

struct aud_tun {
	uint32_t host_id;
	uint16_t vxlan_port;
	uint64_t epoch_ns;		/* CLOCK_REALTIME at start, feedback.h */
	uint64_t interval_ns;
	uint64_t next_send_ns;
	int fd4;
	int fd6;
	unsigned int n_peers;
	struct aud_tun_peer *peers;	/* n_peers, allocated at init */
	struct aud_tun_stats st;
};

/* Returns 0 or -errno; aud_tun_fini() undoes a partial init. */
int aud_tun_init(struct aud_tun *t, const struct aud_config *c,
		 uint64_t epoch_ns, uint64_t now_ns);
void aud_tun_fini(struct aud_tun *t);

/*
 * One packet from the outer IP header on: cap_len bytes present, pkt_len
 * the whole packet. Returns 0 when counted, -EPERM when not from a
 * configured peer, -ENOENT when not VXLAN, -ENODATA / -EBADMSG for
 * truncated / malformed headers.
 */
int aud_tun_packet(struct aud_tun *t, const uint8_t *p, size_t cap_len,
		   uint32_t pkt_len);

/* Sends feedback to every peer if the interval has passed. */
void aud_tun_tick(struct aud_tun *t, uint64_t now_ns);

/* Milliseconds until the next send is due (for the poll timeout). */
int aud_tun_timeout_ms(const struct aud_tun *t, uint64_t now_ns);

/*
 * Configuration reload in two steps, so that a failure changes nothing:
 * prepare builds the peer table for next (state of peers that stay kept
 * by host id; *out NULL when next has none) and returns 0 or -errno;
 * commit installs it once next has been copied to c, the live config
 * whose peers[] the table then points into, and takes its feedback
 * interval. A prepared table not committed is freed by the caller.
 * host_id and vxlan_port do not change at run time.
 */
int aud_tun_reconfig_prepare(struct aud_tun *t, const struct aud_config *next,
			     struct aud_tun_peer **out);
void aud_tun_reconfig_commit(struct aud_tun *t, struct aud_tun_peer *peers,
			     const struct aud_config *c, uint64_t now_ns);

#endif
