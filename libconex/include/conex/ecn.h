/*
 * ECN field helpers (RFC 3168 §5) and the tunnel ECN rules of RFC 6040.
 *
 * IPv4: the ECN field is the two low bits of the TOS octet (byte 1).
 * IPv6: the Traffic Class spans bytes 0-1 of the fixed header,
 *
 *   0                   1
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |Version|  DSCP     |ECN|  Flow  ...
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * so its ECN field is mask 0x30 of byte 1.
 */
#ifndef CONEX_ECN_H
#define CONEX_ECN_H

#include <stddef.h>
#include <stdint.h>

enum cx_ecn {
	CX_ECN_NOT_ECT = 0,
	CX_ECN_ECT1 = 1,
	CX_ECN_ECT0 = 2,
	CX_ECN_CE = 3,
};

#define CX_ECN_MASK 0x03

/*
 * Returns the ECN codepoint (>= 0) of a raw IPv4 header; -ENODATA if
 * truncated, -EBADMSG if version != 4 or IHL < 5.
 */
int cx_ecn_get_ipv4(const uint8_t *hdr, size_t len);

/*
 * Sets the ECN codepoint of a raw IPv4 header and updates its header
 * checksum incrementally (RFC 1624), so a wrong checksum stays wrong.
 * Returns the previous codepoint (>= 0); -EINVAL if ecn is not a codepoint;
 * -ENODATA, -EBADMSG as cx_ecn_get_ipv4().
 */
int cx_ecn_set_ipv4(uint8_t *hdr, size_t len, enum cx_ecn ecn);

/*
 * The same for a raw IPv6 fixed header (40 bytes must be present, version
 * 6). IPv6 has no header checksum; TCP/UDP pseudo-headers do not cover the
 * Traffic Class either.
 */
int cx_ecn_get_ipv6(const uint8_t *hdr, size_t len);
int cx_ecn_set_ipv6(uint8_t *hdr, size_t len, enum cx_ecn ecn);

/*
 * Tunnel ingress modes.
 * NORMAL (RFC 6040 §4.1): the outer field is a copy of the inner.
 * COMPAT (RFC 6040 §4.1, compatibility mode): the outer is Not-ECT.
 * FALLBACK (RFC 7713 §5.5 "ECN tunnel loss audit",
 *   draft-briscoe-conex-data-centre §5): as NORMAL, except that a Not-ECT
 *   inner packet gets an ECT(0) outer header, so ECN switches mark it
 *   instead of dropping it and the egress can count the marks.
 */
enum cx_ecn_encap_mode {
	CX_ECN_ENCAP_NORMAL = 0,
	CX_ECN_ENCAP_COMPAT,
	CX_ECN_ENCAP_FALLBACK,
};

/* Outer codepoint (>= 0) for an inner one; -EINVAL for a bad argument. */
int cx_ecn_encap(enum cx_ecn inner, enum cx_ecn_encap_mode mode);

enum {
	CX_ECN_DECAP_FORWARD = 0,
	CX_ECN_DECAP_DROP = 1,
};

/*
 * Tunnel egress (RFC 6040 §4.2, docs/wire.md §7). Returns CX_ECN_DECAP_FORWARD
 * with *out set to the codepoint of the forwarded inner header, or
 * CX_ECN_DECAP_DROP (Not-ECT inner, CE outer: the mark cannot be
 * propagated, so the packet must be dropped; *out is not written), or
 * -EINVAL if either argument is not a codepoint.
 */
int cx_ecn_decap(enum cx_ecn inner, enum cx_ecn outer, enum cx_ecn *out);

#endif
