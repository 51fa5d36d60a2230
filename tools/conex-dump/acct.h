/*
 * Per-direction TCP accounting for conex-dump: what the sender declared
 * (ConEx signals, per flag, docs/wire.md §2-§3) next to what the capture shows
 * happened (retransmissions, CE marks) and what the receiver fed back (ECE
 * ACKs and the bytes they newly acknowledged, the inputs of RFC 7786 §3.2's
 * conservative classic-ECN rule). Pure: time-free, no I/O; the flow table
 * is allocated once by cxd_acct_new().
 */
#ifndef CXD_ACCT_H
#define CXD_ACCT_H

#include <stdbool.h>
#include <stdint.h>

#include <conex/flow.h>
#include <conex/siphash.h>

#include "pkt.h"

/* Sequence holes remembered per direction; beyond that, fills count as duplicates. */
#define CXD_HOLES_MAX 32

/* One direction of a TCP connection, keyed by its 5-tuple as sent. */
struct cxd_dir {
	struct cx_flow_key key;
	uint64_t first_pkt;		/* capture index of its first packet, from 1 */
	uint64_t pkts;
	uint64_t payload_pkts;
	uint64_t payload_bytes;		/* TCP payload */
	uint64_t payload_pkts_x;
	uint64_t payload_pkts_no_x;
	uint64_t sig_pkts[CXD_FLAGS];	/* packets counted per signal, X/L/E/C */
	uint64_t sig_bytes[CXD_FLAGS];	/* their IP bytes, docs/wire.md counting */
	uint64_t sig_payload_bytes[CXD_FLAGS];	/* their TCP payload */
	/* Credit at flow start (RFC 7786 §3.3): the first first_n payload packets. */
	bool c_first_pkt;
	uint32_t first_n_done;
	uint64_t c_first_n_pkts;
	uint64_t c_first_n_bytes;
	/* Payload below the highest sequence already sent: retransmitted (or reordered). */
	uint64_t retx_pkts;
	uint64_t retx_bytes;
	/*
	 * retx_bytes split by what the capture saw before: bytes that fill a
	 * hole (a jump in sequence, i.e. lost upstream of the capture, or
	 * reordered) and bytes the capture already had (spurious
	 * retransmissions, which DSACK reports and RFC 7786 §3.1 lets the
	 * sender take back out of its loss gauge).
	 */
	uint64_t retx_fill_bytes;
	uint64_t retx_dup_bytes;
	uint64_t holes_dropped;		/* hole bytes forgotten for lack of room */
	uint32_t nholes;
	struct { uint32_t start, end; } holes[CXD_HOLES_MAX];
	uint64_t ce_pkts;
	uint64_t ce_ip_bytes;
	uint64_t ce_payload_pkts;
	uint64_t ce_payload_bytes;
	uint64_t pure_acks;
	uint64_t pure_acks_marking;	/* with a CDO or the IPv4 encoding */
	uint64_t pure_acks_x;		/* ... with X set */
	/* As the receiver of the reverse direction's data (RFC 3168 §6.1.3). */
	uint64_t ece_acks;		/* ACKs with ECE, SYNs excluded */
	uint64_t ece_acked_bytes;	/* what those ACKs newly acknowledged */
	uint64_t ece_dup_acks;		/* ECE ACKs that acknowledged nothing new */
	uint32_t max_payload;
	uint16_t syn_mss;		/* MSS option of this side's SYN, 0 if unseen */
	/* Sequence state, RFC 1982 serial arithmetic. */
	bool have_seq;
	bool have_ack;
	uint32_t snd_max;		/* highest sequence sent + 1 */
	uint32_t snd_una;		/* highest ACK sent */
};

struct cxd_totals {
	uint64_t packets;		/* records read */
	uint64_t non_ip;
	uint64_t ipv4;
	uint64_t ipv6;
	uint64_t truncated;		/* a needed header was not captured */
	uint64_t malformed;
	uint64_t fragments;
	uint64_t tcp;
	uint64_t non_tcp;
	uint64_t non_tcp_marking;	/* non-TCP with a CDO or the IPv4 encoding */
	uint64_t multicast_marking;	/* multicast with a CDO or the IPv4 encoding */
	uint64_t rf_anomaly;		/* RF=1 on a non-atomic IPv4 packet (docs/wire.md §3) */
	uint64_t untracked;		/* TCP packets of flows past --max-flows */
};

struct cxd_acct;

/*
 * first_n: payload packets per direction that count as the flow's start.
 * NULL with errno EINVAL or ENOMEM.
 */
struct cxd_acct *cxd_acct_new(uint32_t max_flows, uint32_t first_n,
			      const struct cx_siphash_key *key);
void cxd_acct_free(struct cxd_acct *a);

/* One capture record: its decode result and, if 0, the packet. */
void cxd_acct_packet(struct cxd_acct *a, int decode_ret,
		     const struct cxd_pkt *pk);

const struct cxd_totals *cxd_acct_totals(const struct cxd_acct *a);
uint32_t cxd_acct_first_n(const struct cxd_acct *a);

/*
 * Directions in capture order (by first packet). Returns how many were
 * written to dirs (at most n).
 */
uint32_t cxd_acct_list(struct cxd_acct *a, const struct cxd_dir **dirs,
		       uint32_t n);
uint32_t cxd_acct_count(const struct cxd_acct *a);

/* The reverse direction of k, NULL if never seen. */
const struct cxd_dir *cxd_acct_reverse(struct cxd_acct *a,
				       const struct cx_flow_key *k);

/*
 * Classic conservative bound on the E bytes of direction d (RFC 7786 §3.2:
 * CEG += DeliveredData for every ACK with ECE): the bytes the reverse
 * direction's ECE ACKs newly acknowledged, plus one SMSS per duplicate ECE
 * ACK (its SACK delta is at most one segment). SMSS is the MSS the peer
 * announced in its SYN if seen, else the largest payload d sent.
 */
uint64_t cxd_acct_classic_e_bound(const struct cxd_dir *d,
				  const struct cxd_dir *rev);

#endif
