/*
 * IPv6 fixed header view and extension-header chain walker (RFC 8200).
 * Offsets are from the first octet of the IPv6 header; protocol numbers are
 * the IANA ones from <netinet/in.h> (IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, ...).
 */
#ifndef CONEX_IPV6_H
#define CONEX_IPV6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	CX_IPV6_HDR_BYTES = 40,
	/*
	 * Hard limits (RFC 8504 §5.3 lets a node set them and drop what
	 * exceeds them). A walk over them fails with -E2BIG.
	 */
	CX_IPV6_MAX_EXT = 8,		/* extension headers per chain */
	CX_IPV6_MAX_OPTS = 16,		/* non-padding options per options header */
	CX_IPV6_MAX_PAD_BYTES = 7,	/* consecutive padding octets, see ipv6.c */
};

/* Option types with a meaning to the walker (RFC 8200 §4.2). */
enum {
	CX_IPV6_OPT_PAD1 = 0x00,
	CX_IPV6_OPT_PADN = 0x01,
};

struct cx_ipv6 {
	uint8_t tclass;		/* Traffic Class: dscp << 2 | ecn */
	uint8_t dscp;
	uint8_t ecn;		/* RFC 3168 §5 codepoint, 0..3 */
	uint32_t flow_label;	/* 20 bits */
	uint16_t payload_len;	/* Payload Length field, octets after the fixed header */
	uint8_t next_hdr;
	uint8_t hop_limit;
	uint8_t saddr[16];
	uint8_t daddr[16];
};

struct cx_ipv6_ext {
	uint8_t type;		/* IPPROTO_HOPOPTS, _ROUTING, _FRAGMENT, _DSTOPTS, _AH */
	uint32_t off;		/* from the start of the IPv6 header */
	uint16_t len_bytes;	/* whole extension header, octets */
};

enum {
	CX_IPV6_F_FRAG = 1U << 0,		/* a Fragment header was seen */
	CX_IPV6_F_FRAG_LATER = 1U << 1,	/* ... with offset != 0: not the first fragment */
};

struct cx_ipv6_chain {
	struct cx_ipv6 hdr;
	struct cx_ipv6_ext ext[CX_IPV6_MAX_EXT];
	unsigned int n_ext;
	/*
	 * Where the walk stopped: TCP, UDP, ICMPv6, No Next Header, ESP (its
	 * contents are encrypted) or anything else not walked. For a non-first
	 * fragment the walk stops after the Fragment header with upper_proto =
	 * IPPROTO_FRAGMENT, because what follows is the middle of a payload, not
	 * a header; frag_next_hdr then holds the Fragment header's Next Header.
	 */
	uint8_t upper_proto;
	uint32_t upper_off;
	uint32_t flags;		/* CX_IPV6_F_* */
	uint8_t frag_next_hdr;
	uint16_t frag_off_bytes;	/* Fragment Offset * 8 */
	bool frag_more;		/* M flag */
	/*
	 * First Destination Options header not preceded by a Routing header,
	 * AH or ESP: where the CDO belongs (RFC 7837 §3). 0 if none (offset 0
	 * is the fixed header, never an extension header).
	 */
	uint32_t dst1_off;
};

/*
 * Decode the 40-octet fixed header. Returns 40, or -ENODATA (len < 40),
 * -EBADMSG (version != 6), -EINVAL.
 */
int cx_ipv6_decode(const uint8_t *p, size_t len, struct cx_ipv6 *out);

/*
 * Decode the fixed header and walk the extension headers up to the upper
 * layer. Only the headers must be in the buffer, so header-only copies
 * work; the packet ends at 40 + Payload Length and a longer buffer is fine.
 * Returns upper_off, or
 *   -ENODATA  a header runs past len (but not past the packet's end);
 *   -EBADMSG  bad version, a header runs past 40 + Payload Length,
 *             hop-by-hop not first, malformed options (RFC 8200 §4.2),
 *             AH length below its fixed part or not a multiple of 8,
 *             a second Fragment header;
 *   -E2BIG    more than CX_IPV6_MAX_EXT headers or CX_IPV6_MAX_OPTS options;
 *   -EINVAL   NULL argument.
 * Jumbograms (RFC 2675, Payload Length 0 + Jumbo option) are not accepted:
 * their hop-by-hop header runs past the zero payload (-EBADMSG).
 */
int cx_ipv6_walk(const uint8_t *p, size_t len, struct cx_ipv6_chain *out);

/* Destination in ff00::/8 (RFC 4291 §2.7). */
bool cx_ipv6_is_multicast(const struct cx_ipv6 *ip);

/*
 * Iterator over the options of one Hop-by-Hop or Destination Options
 * header. hdr points at the header's Next Header octet and hdr_len is the
 * whole header, (Hdr Ext Len + 1) * 8 octets, already known to be in the
 * buffer. Padding is checked and skipped, never returned.
 */
struct cx_ipv6_opt_iter {
	const uint8_t *hdr;
	size_t hdr_len;
	size_t off;
	unsigned int n_opts;
};

struct cx_ipv6_opt {
	uint8_t type;
	uint8_t data_len;	/* Opt Data Len, octets */
	size_t off;		/* of the Option Type octet, from hdr */
};

void cx_ipv6_opt_iter_init(struct cx_ipv6_opt_iter *it, const uint8_t *hdr,
			   size_t hdr_len);

/*
 * Returns 1 with *out filled, 0 at the end of the header, -EBADMSG if an
 * option overruns the header or the padding rules are broken, -E2BIG after
 * CX_IPV6_MAX_OPTS options, -EINVAL if hdr_len is not a positive multiple
 * of 8. Option data is at it->hdr + out->off + 2.
 */
int cx_ipv6_opt_next(struct cx_ipv6_opt_iter *it, struct cx_ipv6_opt *out);

#endif
