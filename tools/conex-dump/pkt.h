/*
 * One captured IP packet reduced to what conex-dump counts: family, ECN,
 * ConEx signals as a ConEx node reads them (docs/wire.md §2, §3), and the TCP
 * header. Only headers are needed: lengths come from the IP headers, so
 * snaplen-truncated captures decode fully. Pure: no I/O, no allocation.
 */
#ifndef CXD_PKT_H
#define CXD_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <conex/flow.h>
#include <conex/tcp.h>

#include "pcap.h"

/* Index of a signal in cxd_pkt.flag_bytes. */
enum { CXD_FLAG_X, CXD_FLAG_L, CXD_FLAG_E, CXD_FLAG_C, CXD_FLAGS };

enum {
	CXD_PKT_F_MARKING = 1U << 0,	/* a CDO, or RF=1 on an atomic IPv4 packet */
	CXD_PKT_F_MULTICAST = 1U << 1,
	CXD_PKT_F_RF_ANOMALY = 1U << 2,	/* RF=1 on a non-atomic IPv4 packet */
	CXD_PKT_F_FRAGMENT = 1U << 3,	/* any fragment: no L4 counted */
	CXD_PKT_F_TCP = 1U << 4,	/* tcp and payload_bytes are valid */
};

struct cxd_pkt {
	uint8_t family;		/* 4 or 6 */
	uint8_t proto;		/* IPv4 protocol / IPv6 upper-layer Next Header */
	uint8_t ecn;		/* RFC 3168 codepoint */
	uint8_t sig;		/* CX_SIG_* as counted: 0 if ignored (multicast) */
	uint32_t flags;		/* CXD_PKT_F_* */
	uint32_t ip_bytes;	/* IPv4 Total Length; IPv6 40 + Payload Length */
	/*
	 * Bytes this packet adds to each signal's counter: ip_bytes for X if
	 * X is set, and for each of L/E/C set alongside X (once per flag,
	 * RFC 7837 §4, docs/wire.md §3). Zero otherwise.
	 */
	uint32_t flag_bytes[CXD_FLAGS];
	struct cx_flow_key key;	/* valid unless CXD_PKT_F_FRAGMENT */
	struct cx_tcp tcp;
	uint32_t payload_bytes;	/* TCP payload, from the IP lengths */
};

/*
 * Decode the packet whose L3 header starts at p (len octets captured).
 * Returns 0 with *out filled; -ENOENT if l3 is not IP; -ENODATA if a
 * header conex-dump needs was not captured; -EBADMSG if a header is
 * malformed (libconex's decoders decide) or a TCP header runs past the
 * IP packet; -E2BIG for an IPv6 chain past libconex's caps; -EINVAL.
 */
int cxd_pkt_decode(enum cxd_l3 l3, const uint8_t *p, size_t len,
		   struct cxd_pkt *out);

#endif
