/*
 * IPv6 fixed header (RFC 8200 §3) and extension-header chain (RFC 8200 §4).
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version| Traffic Class |           Flow Label                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Payload Length        |  Next Header  |   Hop Limit   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 Source Address (16 octets)                    |
 * |               Destination Address (16 octets)                 |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Extension headers walked, with their length rule:
 *   Hop-by-Hop (0), Routing (43), Destination Options (60):
 *       | Next Header | Hdr Ext Len | ...   (Hdr Ext Len + 1) * 8 octets
 *   Fragment (44):
 *       | Next Header |   Reserved  | Offset (13) |Res|M| Identification |
 *                                               8 octets (RFC 8200 §4.5)
 *   AH (51):
 *       | Next Header | Payload Len | ...   (Payload Len + 2) * 4 octets
 *                                               (RFC 4302 §2.2)
 * ESP (50) is where a walk must stop: what follows is encrypted.
 *
 * Options (RFC 8200 §4.2), in Hop-by-Hop and Destination Options headers:
 *   Pad1:  | 0x00 |
 *   other: | Type | Opt Data Len | Opt Data (Opt Data Len octets) |
 */
#include <errno.h>
#include <netinet/in.h>

#include <conex/byteorder.h>
#include <conex/ipv6.h>

#include "internal.h"

int cx_ipv6_decode(const uint8_t *p, size_t len, struct cx_ipv6 *out)
{
	uint32_t w;

	if (!p || !out)
		return -EINVAL;
	if (len < CX_IPV6_HDR_BYTES)
		return -ENODATA;
	w = cx_get_be32(p);
	if (w >> 28 != 6)
		return -EBADMSG;
	out->tclass = (uint8_t)(w >> 20);
	out->dscp = out->tclass >> 2;
	out->ecn = out->tclass & 0x03;
	out->flow_label = w & 0xfffff;
	out->payload_len = cx_get_be16(p + 4);
	out->next_hdr = p[6];
	out->hop_limit = p[7];
	memcpy(out->saddr, p + 8, 16);
	memcpy(out->daddr, p + 24, 16);
	return CX_IPV6_HDR_BYTES;
}

bool cx_ipv6_is_multicast(const struct cx_ipv6 *ip)
{
	return ip->daddr[0] == 0xff;
}

void cx_ipv6_opt_iter_init(struct cx_ipv6_opt_iter *it, const uint8_t *hdr,
			   size_t hdr_len)
{
	it->hdr = hdr;
	it->hdr_len = hdr_len;
	it->off = 2;	/* past Next Header and Hdr Ext Len */
	it->n_opts = 0;
}

/*
 * Padding rules. RFC 8200 §4.2 alignment (xn + y, n <= 8) never needs more
 * than 7 octets of padding in a row, so a longer run, in Pad1s, PadNs or a
 * mix, serves no purpose but a covert channel or a parser stress (RFC 4942
 * §2.1.9.5; RFC 8504 §5.3 lets a node limit consecutive padding). Linux
 * applies the same 7-octet limit. PadN data must be zero (RFC 8200 §4.2
 * defines it as zero-valued octets; RFC 4942 §2.1.9.5 asks receivers to check).
 */
int cx_ipv6_opt_next(struct cx_ipv6_opt_iter *it, struct cx_ipv6_opt *out)
{
	size_t pad_bytes = 0;
	unsigned int turn;

	if (!it || !out || !it->hdr)
		return -EINVAL;
	if (it->hdr_len < 8 || it->hdr_len % 8 || it->off < 2)
		return -EINVAL;

	/*
	 * Each turn consumes at least one octet of padding or returns, and
	 * padding fails past CX_IPV6_MAX_PAD_BYTES in a row.
	 */
	for (turn = 0; turn <= CX_IPV6_MAX_PAD_BYTES; turn++) {
		size_t off = it->off, olen, i;
		uint8_t type;

		if (off >= it->hdr_len)
			return 0;
		type = it->hdr[off];
		if (type == CX_IPV6_OPT_PAD1) {
			if (++pad_bytes > CX_IPV6_MAX_PAD_BYTES)
				return -EBADMSG;
			it->off = off + 1;
			continue;
		}
		if (2 > it->hdr_len - off)
			return -EBADMSG;
		olen = it->hdr[off + 1];
		if (olen > it->hdr_len - off - 2)
			return -EBADMSG;
		if (type == CX_IPV6_OPT_PADN) {
			pad_bytes += 2 + olen;
			if (pad_bytes > CX_IPV6_MAX_PAD_BYTES)
				return -EBADMSG;
			for (i = 0; i < olen; i++)
				if (it->hdr[off + 2 + i] != 0)
					return -EBADMSG;
			it->off = off + 2 + olen;
			continue;
		}
		if (it->n_opts >= CX_IPV6_MAX_OPTS)
			return -E2BIG;
		it->n_opts++;
		out->type = type;
		out->data_len = (uint8_t)olen;
		out->off = off;
		it->off = off + 2 + olen;
		return 1;
	}
	return -EBADMSG;
}

/* n octets at off: past the packet's end is malformed, past the buffer truncated. */
static int ipv6_need(size_t off, size_t n, size_t pkt_end, size_t len)
{
	if (n > pkt_end - off)
		return -EBADMSG;
	if (n > len - off)
		return -ENODATA;
	return 0;
}

static int ipv6_check_opts(const uint8_t *hdr, size_t hdr_len)
{
	struct cx_ipv6_opt_iter it;
	struct cx_ipv6_opt opt;
	unsigned int i;
	int ret;

	cx_ipv6_opt_iter_init(&it, hdr, hdr_len);
	/* The iterator stops itself after CX_IPV6_MAX_OPTS options. */
	for (i = 0; i <= CX_IPV6_MAX_OPTS; i++) {
		ret = cx_ipv6_opt_next(&it, &opt);
		if (ret <= 0)
			return ret;
	}
	return -E2BIG;
}

static bool ipv6_is_ext(uint8_t nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING ||
	       nh == IPPROTO_FRAGMENT || nh == IPPROTO_DSTOPTS ||
	       nh == IPPROTO_AH;
}

int cx_ipv6_walk(const uint8_t *p, size_t len, struct cx_ipv6_chain *out)
{
	struct cx_ipv6_chain c;
	bool past_rh_ah = false;
	size_t off, pkt_end, hlen;
	unsigned int n;
	uint8_t nh;
	int ret;

	if (!p || !out)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	ret = cx_ipv6_decode(p, len, &c.hdr);
	if (ret < 0)
		return ret;
	pkt_end = CX_IPV6_HDR_BYTES + (size_t)c.hdr.payload_len;
	off = CX_IPV6_HDR_BYTES;
	nh = c.hdr.next_hdr;

	/* Invariant: off <= pkt_end and off <= len. */
	for (n = 0; ipv6_is_ext(nh); n++) {
		if (n == CX_IPV6_MAX_EXT)
			return -E2BIG;
		/* RFC 8200 §4.1: Hop-by-Hop only immediately after the fixed header. */
		if (nh == IPPROTO_HOPOPTS && off != CX_IPV6_HDR_BYTES)
			return -EBADMSG;
		hlen = nh == IPPROTO_FRAGMENT ? 8 : 2;
		ret = ipv6_need(off, hlen, pkt_end, len);
		if (ret < 0)
			return ret;

		switch (nh) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			hlen = ((size_t)p[off + 1] + 1) * 8;
			break;
		case IPPROTO_AH:
			hlen = ((size_t)p[off + 1] + 2) * 4;
			/* RFC 4302 §2.2: 12-octet fixed part; §2.6: 64-bit multiple in IPv6. */
			if (hlen < 12 || hlen % 8)
				return -EBADMSG;
			break;
		case IPPROTO_FRAGMENT:
			/* RFC 8200 §4.1: at most once; nested fragments are an attack. */
			if (c.flags & CX_IPV6_F_FRAG)
				return -EBADMSG;
			break;
		}
		ret = ipv6_need(off, hlen, pkt_end, len);
		if (ret < 0)
			return ret;

		if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_DSTOPTS) {
			ret = ipv6_check_opts(p + off, hlen);
			if (ret < 0)
				return ret;
		}
		if (nh == IPPROTO_DSTOPTS && !past_rh_ah && !c.dst1_off)
			c.dst1_off = (uint32_t)off;
		if (nh == IPPROTO_ROUTING || nh == IPPROTO_AH)
			past_rh_ah = true;

		c.ext[n].type = nh;
		c.ext[n].off = (uint32_t)off;
		c.ext[n].len_bytes = (uint16_t)hlen;
		c.n_ext = n + 1;
		nh = p[off];

		if (c.ext[n].type == IPPROTO_FRAGMENT) {
			uint16_t w = cx_get_be16(p + off + 2);

			c.flags |= CX_IPV6_F_FRAG;
			c.frag_next_hdr = nh;
			c.frag_off_bytes = (uint16_t)(w & 0xfff8);
			c.frag_more = w & 1;
			if (c.frag_off_bytes) {
				c.flags |= CX_IPV6_F_FRAG_LATER;
				nh = IPPROTO_FRAGMENT;
				off += hlen;
				break;
			}
		}
		off += hlen;
	}

	c.upper_proto = nh;
	c.upper_off = (uint32_t)off;
	*out = c;
	return (int)off;
}
