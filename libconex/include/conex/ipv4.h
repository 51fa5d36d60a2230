/*
 * IPv4 header view (RFC 791). Host-order output; addresses are uint32_t in
 * host order (0xC6120001 is 198.18.0.1), so prefix tests are plain masks.
 */
#ifndef CONEX_IPV4_H
#define CONEX_IPV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	CX_IPV4_HDR_MIN_BYTES = 20,
	CX_IPV4_HDR_MAX_BYTES = 60,
};

/* The three flag bits of RFC 791 §3.1, in their on-wire order. */
enum {
	CX_IPV4_F_MF = 1U << 0,
	CX_IPV4_F_DF = 1U << 1,
	CX_IPV4_F_RF = 1U << 2,	/* reserved; the ConEx ID encoding's "new semantics" bit */
};

struct cx_ipv4 {
	uint8_t ihl_bytes;	/* header length incl. options, 20..60 */
	uint8_t tos;		/* whole TOS octet: dscp << 2 | ecn */
	uint8_t dscp;
	uint8_t ecn;		/* RFC 3168 §5 codepoint, 0..3 */
	uint16_t tot_len;	/* Total Length field, octets */
	uint16_t id;
	uint8_t flags;		/* CX_IPV4_F_* */
	uint16_t frag_off_bytes;	/* Fragment Offset field * 8 */
	uint8_t ttl;
	uint8_t protocol;
	uint16_t checksum;	/* as received, not verified */
	uint32_t saddr;
	uint32_t daddr;
};

/*
 * Decode a complete datagram: needs tot_len <= len. A buffer longer than
 * tot_len is accepted (Ethernet minimum-frame padding); the datagram ends at
 * tot_len. Returns ihl_bytes, or -ENODATA (buffer shorter than the header or
 * than tot_len), -EBADMSG (version != 4, ihl < 5, tot_len < header), -EINVAL.
 */
int cx_ipv4_decode(const uint8_t *p, size_t len, struct cx_ipv4 *out);

/*
 * Decode the header only: needs ihl_bytes <= len and nothing more, for
 * header-only copies (NFQUEUE copy range) that are shorter than tot_len. The
 * caller compares tot_len with what it holds. Same returns as above.
 */
int cx_ipv4_decode_hdr(const uint8_t *p, size_t len, struct cx_ipv4 *out);

/* RFC 6864 §4: DF=1, MF=0, offset 0. Its ID carries no reassembly meaning. */
bool cx_ipv4_is_atomic(const struct cx_ipv4 *ip);

/* MF=1 or offset != 0: this datagram is one piece of a larger one. */
bool cx_ipv4_is_fragment(const struct cx_ipv4 *ip);

/* Destination in 224.0.0.0/4 (RFC 5771). */
bool cx_ipv4_is_multicast(const struct cx_ipv4 *ip);

#endif
