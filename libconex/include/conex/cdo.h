/*
 * IPv6 ConEx Destination Option, CDO (RFC 7837): codec for the option, the
 * minimal 8-octet Destination Options header that carries it, insertion and
 * removal of that header in a packet, and a finder over a header chain.
 * Signal bits are CX_SIG_* from <conex/signal.h>.
 */
#ifndef CONEX_CDO_H
#define CONEX_CDO_H

#include <stddef.h>
#include <stdint.h>

enum {
	CX_CDO_TYPE = 0x1e,	/* RFC 4727 experimental, shared: Length must be 1 */
	CX_CDO_DATA_LEN = 1,
	CX_CDO_OPT_BYTES = 3,	/* Type, Length, data octet */
	CX_CDO_HDR_BYTES = 8,	/* the minimal Destination Options header */
};

/*
 * cx_cdo_find() notes, for callers' counters. With -ENOENT: why a packet
 * that parsed has no usable CDO. With 0: CX_CDO_F_LATE, the CDO sits after
 * a Routing header or AH, where RFC 7837 §3 says it should not be.
 */
enum {
	CX_CDO_F_MULTICAST = 1U << 0,	/* CDO ignored: multicast destination (RFC 7837 §4) */
	CX_CDO_F_FRAG_LATER = 1U << 1,	/* non-first fragment: Not-ConEx [project] */
	CX_CDO_F_LATE = 1U << 2,
};

struct cx_cdo_hit {
	uint8_t bits;		/* data octet as received, reserved bits included */
	uint32_t data_off;	/* of the data octet, from the IPv6 header */
	uint32_t hdr_off;	/* of the Destination Options header holding it */
	uint32_t flags;		/* CX_CDO_F_* */
};

/*
 * One option TLV at opt. Returns 3 with *bits set, -ENOENT if it is not a
 * CDO (Type != 0x1E, or Length != 1: another 0x1E experiment), -ENODATA if
 * len is too short to tell, -EINVAL on NULL.
 */
int cx_cdo_decode(const uint8_t *opt, size_t len, uint8_t *bits);

/* Write the 3-octet option. Returns 3, -ENOSPC, or -EINVAL if reserved bits are set. */
int cx_cdo_encode(uint8_t *opt, size_t len, uint8_t bits);

/* Write the 8-octet header NH | 0 | CDO | PadN(1). Returns 8, -ENOSPC, -EINVAL. */
int cx_cdo_hdr_encode(uint8_t *hdr, size_t len, uint8_t next_hdr, uint8_t bits);

/*
 * Recognise a CDO-only header: Hdr Ext Len 0 and, besides padding, exactly
 * one option, a CDO. Returns 8 with *next_hdr and *bits set, -ENOENT if the
 * header holds anything else, -EBADMSG on malformed options, -ENODATA.
 */
int cx_cdo_hdr_decode(const uint8_t *hdr, size_t len, uint8_t *next_hdr,
		      uint8_t *bits);

/*
 * Find the first CDO in any Destination Options header of the chain.
 * Returns 0 with *out filled; -ENOENT if none (out->flags says whether one
 * was ignored: multicast, non-first fragment); walker errors otherwise.
 */
int cx_cdo_find(const uint8_t *ip6, size_t len, struct cx_cdo_hit *out);

/*
 * Insert a CDO-only header right after the fixed header, or after the
 * Hop-by-Hop header if any: before any Routing header, AH, ESP or upper
 * layer (RFC 7837 §3). The packet must be whole (40 + Payload Length <= len;
 * octets past that, link padding, are dropped) and cap is the buffer size.
 * Returns the new length, or
 *   -EEXIST    a Destination Options header is already at that place: the
 *              policy is not to merge into it (use cx_cdo_set() if it holds
 *              a CDO);
 *   -EINVAL    reserved bits set, multicast destination (RFC 7837 §4), a
 *              fragment, or AH (its ICV covers the option, RFC 4302 §3.3.3.1);
 *   -ENOSPC    cap < new length;
 *   -EMSGSIZE  Payload Length would pass 65535;
 *   walker errors (-ENODATA also if the packet is not whole).
 */
int cx_cdo_insert(uint8_t *ip6, size_t len, size_t cap, uint8_t bits);

/*
 * Remove the CDO-only header from where cx_cdo_insert() puts it. Returns
 * the new length (40 + new Payload Length), -ENOENT if no CDO-only header is
 * there, walker errors.
 */
int cx_cdo_remove(uint8_t *ip6, size_t len);

/*
 * Overwrite the data octet of the CDO cx_cdo_find() sees. Returns its
 * offset, -EINVAL if reserved bits are set, or cx_cdo_find()'s errors.
 */
int cx_cdo_set(uint8_t *ip6, size_t len, uint8_t bits);

/*
 * RFC 7837 §4 counting: a packet with X and any of L/E/C counts
 * 40 + Payload Length octets once per flag set. Returns the sum over
 * flags, 0 if not ConEx-Marked.
 */
uint32_t cx_cdo_marked_bytes(uint8_t bits, uint16_t payload_len);

#endif
