/* ECN codepoints in IPv4/IPv6 headers and RFC 6040 tunnel rules. */
#include <errno.h>

#include <conex/byteorder.h>
#include <conex/csum.h>
#include <conex/ecn.h>

#include "internal.h"

#define IPV6_HLEN 40
#define IPV6_ECN_SHIFT 4

static int ecn_valid(unsigned int ecn)
{
	return ecn <= CX_ECN_CE;
}

int cx_ecn_get_ipv4(const uint8_t *hdr, size_t len)
{
	int ret;

	ret = cx_raw_ipv4_hlen(hdr, len);
	if (ret < 0)
		return ret;
	return hdr[1] & CX_ECN_MASK;
}

int cx_ecn_set_ipv4(uint8_t *hdr, size_t len, enum cx_ecn ecn)
{
	uint16_t old_word, new_word, hc;
	int ret;

	if (!ecn_valid(ecn))
		return -EINVAL;
	ret = cx_raw_ipv4_hlen(hdr, len);
	if (ret < 0)
		return ret;
	/* TOS shares the first 16-bit word of the header with version/IHL. */
	old_word = cx_get_be16(hdr);
	new_word = (uint16_t)((old_word & ~CX_ECN_MASK) | ecn);
	hc = cx_get_be16(hdr + 10);
	cx_put_be16(hdr, new_word);
	cx_put_be16(hdr + 10, cx_csum_update16(hc, old_word, new_word));
	return old_word & CX_ECN_MASK;
}

static int ipv6_check(const uint8_t *hdr, size_t len)
{
	if (len < IPV6_HLEN)
		return -ENODATA;
	if (hdr[0] >> 4 != 6)
		return -EBADMSG;
	return 0;
}

int cx_ecn_get_ipv6(const uint8_t *hdr, size_t len)
{
	int ret;

	ret = ipv6_check(hdr, len);
	if (ret < 0)
		return ret;
	return (hdr[1] >> IPV6_ECN_SHIFT) & CX_ECN_MASK;
}

int cx_ecn_set_ipv6(uint8_t *hdr, size_t len, enum cx_ecn ecn)
{
	int old, ret;

	if (!ecn_valid(ecn))
		return -EINVAL;
	ret = ipv6_check(hdr, len);
	if (ret < 0)
		return ret;
	old = (hdr[1] >> IPV6_ECN_SHIFT) & CX_ECN_MASK;
	hdr[1] = (uint8_t)((hdr[1] & ~(CX_ECN_MASK << IPV6_ECN_SHIFT)) |
			   (unsigned int)ecn << IPV6_ECN_SHIFT);
	return old;
}

int cx_ecn_encap(enum cx_ecn inner, enum cx_ecn_encap_mode mode)
{
	if (!ecn_valid(inner))
		return -EINVAL;
	switch (mode) {
	case CX_ECN_ENCAP_NORMAL:
		return inner;
	case CX_ECN_ENCAP_COMPAT:
		return CX_ECN_NOT_ECT;
	case CX_ECN_ENCAP_FALLBACK:
		return inner == CX_ECN_NOT_ECT ? CX_ECN_ECT0 : (int)inner;
	}
	return -EINVAL;
}

/*
 * RFC 6040 §4.2 decapsulation table, indexed [inner][outer] by codepoint
 * value (so the columns run Not-ECT, ECT(1), ECT(0), CE). DROP marks the
 * one cell where the packet must be dropped: Not-ECT inner, CE outer.
 */
#define DROP (-1)
static const int8_t decap_table[4][4] = {
	[CX_ECN_NOT_ECT] = { CX_ECN_NOT_ECT, CX_ECN_NOT_ECT, CX_ECN_NOT_ECT,
			     DROP },
	[CX_ECN_ECT1] = { CX_ECN_ECT1, CX_ECN_ECT1, CX_ECN_ECT1, CX_ECN_CE },
	[CX_ECN_ECT0] = { CX_ECN_ECT0, CX_ECN_ECT1, CX_ECN_ECT0, CX_ECN_CE },
	[CX_ECN_CE] = { CX_ECN_CE, CX_ECN_CE, CX_ECN_CE, CX_ECN_CE },
};

int cx_ecn_decap(enum cx_ecn inner, enum cx_ecn outer, enum cx_ecn *out)
{
	int8_t v;

	if (!ecn_valid(inner) || !ecn_valid(outer))
		return -EINVAL;
	v = decap_table[inner][outer];
	if (v == DROP)
		return CX_ECN_DECAP_DROP;
	*out = (enum cx_ecn)v;
	return CX_ECN_DECAP_FORWARD;
}
