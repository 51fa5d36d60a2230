/*
 * IPv6 ConEx Destination Option (RFC 7837 §3).
 *
 * The option (act = 00: skip if unknown; chg = 0: immutable, covered by AH):
 *
 *  0                   1                   2
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Type = 0x1E  |  Length = 1   |X|L|E|C| res=0 |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The minimal Destination Options header carrying it, CDO first as RFC 7837
 * §3 asks, then one PadN (RFC 8200 §4.2) to the 8-octet boundary:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Next Header  | Hdr Ext Len=0 |  Type = 0x1E  |  Length = 1   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |X|L|E|C| res=0 | PadN = 0x01   |  Length = 1   |      0x00     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Where it goes (RFC 8200 §4.1 order, RFC 7837 §3 "before Routing, AH,
 * ESP"): IPv6 | [Hop-by-Hop] | CDO header | [Routing] ... | upper layer.
 */
#include <errno.h>
#include <netinet/in.h>

#include <conex/byteorder.h>
#include <conex/cdo.h>
#include <conex/ipv6.h>
#include <conex/signal.h>

#include "internal.h"

int cx_cdo_decode(const uint8_t *opt, size_t len, uint8_t *bits)
{
	if (!opt || !bits)
		return -EINVAL;
	if (len < 1)
		return -ENODATA;
	if (opt[0] != CX_CDO_TYPE)
		return -ENOENT;
	if (len < 2)
		return -ENODATA;
	/* RFC 7837 §4, §10: 0x1E is shared; any other length is someone else's. */
	if (opt[1] != CX_CDO_DATA_LEN)
		return -ENOENT;
	if (len < CX_CDO_OPT_BYTES)
		return -ENODATA;
	*bits = opt[2];
	return CX_CDO_OPT_BYTES;
}

int cx_cdo_encode(uint8_t *opt, size_t len, uint8_t bits)
{
	if (!opt || (bits & CX_SIG_RES))
		return -EINVAL;
	if (len < CX_CDO_OPT_BYTES)
		return -ENOSPC;
	opt[0] = CX_CDO_TYPE;
	opt[1] = CX_CDO_DATA_LEN;
	opt[2] = bits;
	return CX_CDO_OPT_BYTES;
}

int cx_cdo_hdr_encode(uint8_t *hdr, size_t len, uint8_t next_hdr, uint8_t bits)
{
	int ret;

	if (!hdr || (bits & CX_SIG_RES))
		return -EINVAL;
	if (len < CX_CDO_HDR_BYTES)
		return -ENOSPC;
	hdr[0] = next_hdr;
	hdr[1] = 0;
	ret = cx_cdo_encode(hdr + 2, len - 2, bits);
	if (ret < 0)
		return ret;
	hdr[5] = CX_IPV6_OPT_PADN;
	hdr[6] = 1;
	hdr[7] = 0;
	return CX_CDO_HDR_BYTES;
}

int cx_cdo_hdr_decode(const uint8_t *hdr, size_t len, uint8_t *next_hdr,
		      uint8_t *bits)
{
	struct cx_ipv6_opt_iter it;
	struct cx_ipv6_opt opt;
	unsigned int i, n_cdo = 0;
	uint8_t b = 0;
	int ret;

	if (!hdr || !next_hdr || !bits)
		return -EINVAL;
	if (len < CX_CDO_HDR_BYTES)
		return -ENODATA;
	if (hdr[1] != 0)
		return -ENOENT;
	cx_ipv6_opt_iter_init(&it, hdr, CX_CDO_HDR_BYTES);
	/* Six octets of options hold at most three; the iterator caps anyway. */
	for (i = 0; i <= CX_IPV6_MAX_OPTS; i++) {
		ret = cx_ipv6_opt_next(&it, &opt);
		if (ret < 0)
			return ret;
		if (ret == 0)
			break;
		if (n_cdo || cx_cdo_decode(hdr + opt.off, 2 + (size_t)opt.data_len,
					   &b) != CX_CDO_OPT_BYTES)
			return -ENOENT;
		n_cdo++;
	}
	if (!n_cdo)
		return -ENOENT;
	*next_hdr = hdr[0];
	*bits = b;
	return CX_CDO_HDR_BYTES;
}

/* First CDO among one Destination Options header's options, -ENOENT if none. */
static int cdo_in_hdr(const uint8_t *hdr, size_t hdr_len, size_t *opt_off,
		      uint8_t *bits)
{
	struct cx_ipv6_opt_iter it;
	struct cx_ipv6_opt opt;
	unsigned int i;
	int ret;

	cx_ipv6_opt_iter_init(&it, hdr, hdr_len);
	for (i = 0; i <= CX_IPV6_MAX_OPTS; i++) {
		ret = cx_ipv6_opt_next(&it, &opt);
		if (ret < 0)
			return ret;
		if (ret == 0)
			return -ENOENT;
		/* Non-CDO uses of 0x1E (Length != 1) are skipped, not errors. */
		if (cx_cdo_decode(hdr + opt.off, 2 + (size_t)opt.data_len,
				  bits) == CX_CDO_OPT_BYTES) {
			*opt_off = opt.off;
			return 0;
		}
	}
	return -E2BIG;
}

int cx_cdo_find(const uint8_t *ip6, size_t len, struct cx_cdo_hit *out)
{
	struct cx_ipv6_chain c;
	bool late = false;
	unsigned int i;
	size_t opt_off;
	uint8_t bits;
	int ret;

	if (!ip6 || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	ret = cx_ipv6_walk(ip6, len, &c);
	if (ret < 0)
		return ret;
	if (c.flags & CX_IPV6_F_FRAG_LATER) {
		out->flags = CX_CDO_F_FRAG_LATER;
		return -ENOENT;
	}

	/* A CDO only counts in Destination Options: Hop-by-Hop is skipped. */
	for (i = 0; i < c.n_ext; i++) {
		const struct cx_ipv6_ext *e = &c.ext[i];

		if (e->type == IPPROTO_ROUTING || e->type == IPPROTO_AH)
			late = true;
		if (e->type != IPPROTO_DSTOPTS)
			continue;
		ret = cdo_in_hdr(ip6 + e->off, e->len_bytes, &opt_off, &bits);
		if (ret == -ENOENT)
			continue;
		if (ret < 0)
			return ret;
		/* RFC 7837 §4: a CDO to a multicast destination is treated as absent. */
		if (cx_ipv6_is_multicast(&c.hdr)) {
			out->flags = CX_CDO_F_MULTICAST;
			return -ENOENT;
		}
		out->bits = bits;
		out->hdr_off = e->off;
		out->data_off = (uint32_t)(e->off + opt_off + 2);
		out->flags = late ? CX_CDO_F_LATE : 0;
		return 0;
	}
	return -ENOENT;
}

/*
 * Where cx_cdo_insert() puts the header: *ins_off, and the offset of the
 * Next Header octet that points at it, *nh_off.
 */
static void cdo_place(const struct cx_ipv6_chain *c, size_t *ins_off,
		      size_t *nh_off)
{
	if (c->n_ext && c->ext[0].type == IPPROTO_HOPOPTS) {
		*ins_off = c->ext[0].off + (size_t)c->ext[0].len_bytes;
		*nh_off = c->ext[0].off;
	} else {
		*ins_off = CX_IPV6_HDR_BYTES;
		*nh_off = 6;
	}
}

int cx_cdo_insert(uint8_t *ip6, size_t len, size_t cap, uint8_t bits)
{
	struct cx_ipv6_chain c;
	size_t pkt_end, ins_off, nh_off;
	unsigned int i;
	int ret;

	if (!ip6 || cap < len || (bits & CX_SIG_RES))
		return -EINVAL;
	ret = cx_ipv6_walk(ip6, len, &c);
	if (ret < 0)
		return ret;
	pkt_end = CX_IPV6_HDR_BYTES + (size_t)c.hdr.payload_len;
	if (pkt_end > len)
		return -ENODATA;
	if (cx_ipv6_is_multicast(&c.hdr) || (c.flags & CX_IPV6_F_FRAG))
		return -EINVAL;
	for (i = 0; i < c.n_ext; i++)
		if (c.ext[i].type == IPPROTO_AH)
			return -EINVAL;
	/* The result must still be walkable by every ConEx node downstream. */
	if (c.n_ext >= CX_IPV6_MAX_EXT)
		return -E2BIG;
	cdo_place(&c, &ins_off, &nh_off);
	if (ip6[nh_off] == IPPROTO_DSTOPTS)
		return -EEXIST;
	if (c.hdr.payload_len > UINT16_MAX - CX_CDO_HDR_BYTES)
		return -EMSGSIZE;
	if (CX_CDO_HDR_BYTES > cap - pkt_end)
		return -ENOSPC;

	memmove(ip6 + ins_off + CX_CDO_HDR_BYTES, ip6 + ins_off, pkt_end - ins_off);
	ret = cx_cdo_hdr_encode(ip6 + ins_off, CX_CDO_HDR_BYTES, ip6[nh_off], bits);
	if (ret < 0)
		return ret;
	ip6[nh_off] = IPPROTO_DSTOPTS;
	cx_put_be16(ip6 + 4, (uint16_t)(c.hdr.payload_len + CX_CDO_HDR_BYTES));
	return (int)(pkt_end + CX_CDO_HDR_BYTES);
}

int cx_cdo_remove(uint8_t *ip6, size_t len)
{
	struct cx_ipv6_chain c;
	size_t pkt_end, ins_off, nh_off;
	uint8_t next_hdr, bits;
	int ret;

	if (!ip6)
		return -EINVAL;
	ret = cx_ipv6_walk(ip6, len, &c);
	if (ret < 0)
		return ret;
	pkt_end = CX_IPV6_HDR_BYTES + (size_t)c.hdr.payload_len;
	if (pkt_end > len)
		return -ENODATA;
	cdo_place(&c, &ins_off, &nh_off);
	if (ip6[nh_off] != IPPROTO_DSTOPTS)
		return -ENOENT;
	/* The walk checked that this header lies within pkt_end. */
	ret = cx_cdo_hdr_decode(ip6 + ins_off, pkt_end - ins_off, &next_hdr, &bits);
	if (ret < 0)
		return ret;

	memmove(ip6 + ins_off, ip6 + ins_off + CX_CDO_HDR_BYTES,
		pkt_end - ins_off - CX_CDO_HDR_BYTES);
	ip6[nh_off] = next_hdr;
	cx_put_be16(ip6 + 4, (uint16_t)(c.hdr.payload_len - CX_CDO_HDR_BYTES));
	return (int)(pkt_end - CX_CDO_HDR_BYTES);
}

int cx_cdo_set(uint8_t *ip6, size_t len, uint8_t bits)
{
	struct cx_cdo_hit hit;
	int ret;

	if (!ip6 || (bits & CX_SIG_RES))
		return -EINVAL;
	ret = cx_cdo_find(ip6, len, &hit);
	if (ret < 0)
		return ret;
	ip6[hit.data_off] = bits;
	return (int)hit.data_off;
}

uint32_t cx_cdo_marked_bytes(uint8_t bits, uint16_t payload_len)
{
	uint32_t pkt_bytes = CX_IPV6_HDR_BYTES + (uint32_t)payload_len;
	uint32_t n = 0;

	if (cx_sig_classify(bits) != CX_CONEX_MARKED)
		return 0;
	n += !!(bits & CX_SIG_L);
	n += !!(bits & CX_SIG_E);
	n += !!(bits & CX_SIG_C);
	return n * pkt_bytes;
}
