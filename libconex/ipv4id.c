/* IPv4 ID-reuse codec for ConEx signals (docs/wire.md §3). */
#include <errno.h>

#include <conex/byteorder.h>
#include <conex/csum.h>
#include <conex/ipv4id.h>

#include "internal.h"

#define OFF_TOTLEN	2
#define OFF_ID		4
#define OFF_FRAG	6
#define OFF_CSUM	10

static int is_atomic(uint16_t frag)
{
	return (frag & CX_IPV4ID_DF) && !(frag & CX_IPV4ID_MF) &&
	       !(frag & CX_IPV4ID_OFF_MASK);
}

int cx_ipv4id_decode(const uint8_t *hdr, size_t len, struct cx_ipv4id *out)
{
	uint16_t frag, total_len;
	int hlen;

	hlen = cx_raw_ipv4_hlen(hdr, len);
	if (hlen < 0)
		return hlen;
	total_len = cx_get_be16(hdr + OFF_TOTLEN);
	if (total_len < hlen)
		return -EBADMSG;
	frag = cx_get_be16(hdr + OFF_FRAG);

	out->total_len = total_len;
	out->bits = 0;
	if (!(frag & CX_IPV4ID_RF))
		out->state = CX_IPV4ID_NOT_CONEX;
	else if (!is_atomic(frag))
		out->state = CX_IPV4ID_ANOMALY;
	else {
		out->state = CX_IPV4ID_CONEX;
		out->bits = (uint8_t)((cx_get_be16(hdr + OFF_ID) &
				       CX_IPV4ID_SIG_MASK) >>
				      CX_IPV4ID_SIG_SHIFT);
	}
	return out->state;
}

int cx_ipv4id_apply(uint8_t *hdr, size_t len, uint8_t bits, uint16_t *delta)
{
	uint32_t old_word, new_word;
	uint16_t frag, d;
	int hlen;

	if (bits & CX_SIG_RES)
		return -EINVAL;
	hlen = cx_raw_ipv4_hlen(hdr, len);
	if (hlen < 0)
		return hlen;
	if (cx_get_be16(hdr + OFF_TOTLEN) < hlen)
		return -EBADMSG;
	frag = cx_get_be16(hdr + OFF_FRAG);
	if (frag & (CX_IPV4ID_MF | CX_IPV4ID_OFF_MASK))
		return -EINVAL;

	/* ID and flags/offset are adjacent: one aligned 32-bit change. */
	old_word = cx_get_be32(hdr + OFF_ID);
	new_word = (uint32_t)bits << (16 + CX_IPV4ID_SIG_SHIFT) |
		   CX_IPV4ID_FRAG_WORD;
	d = cx_csum_delta32(old_word, new_word);
	cx_put_be32(hdr + OFF_ID, new_word);
	cx_put_be16(hdr + OFF_CSUM,
		    cx_csum_apply(cx_get_be16(hdr + OFF_CSUM), d));
	if (delta)
		*delta = d;
	return 0;
}

uint32_t cx_ipv4id_flag_bytes(const struct cx_ipv4id *id, uint8_t flag)
{
	if (flag != CX_SIG_X && flag != CX_SIG_L && flag != CX_SIG_E &&
	    flag != CX_SIG_C)
		return 0;
	if (id->state != CX_IPV4ID_CONEX || !(id->bits & CX_SIG_X))
		return 0;
	return (id->bits & flag) ? id->total_len : 0;
}
