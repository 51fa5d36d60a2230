/*
 * IPv4 header view (RFC 791 §3.1).
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version|  IHL  |   DSCP    |ECN|          Total Length         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Identification        |R|D|M|     Fragment Offset     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Time to Live |    Protocol   |         Header Checksum       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       Source Address                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Destination Address                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Options (IHL > 5)                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Options are not interpreted: ConEx does not use them and the header
 * length alone tells where the transport header starts.
 */
#include <errno.h>

#include <conex/byteorder.h>
#include <conex/ipv4.h>

static int ipv4_decode(const uint8_t *p, size_t len, struct cx_ipv4 *out,
		       bool need_whole)
{
	uint16_t frag, tot_len;
	size_t ihl_bytes;

	if (!p || !out)
		return -EINVAL;
	if (len < CX_IPV4_HDR_MIN_BYTES)
		return -ENODATA;
	if (p[0] >> 4 != 4)
		return -EBADMSG;
	/* IHL counts 32-bit words; below 5 there is no room for the fixed part. */
	ihl_bytes = (size_t)(p[0] & 0x0f) * 4;
	if (ihl_bytes < CX_IPV4_HDR_MIN_BYTES)
		return -EBADMSG;
	if (ihl_bytes > len)
		return -ENODATA;

	tot_len = cx_get_be16(p + 2);
	if (tot_len < ihl_bytes)
		return -EBADMSG;
	if (need_whole && tot_len > len)
		return -ENODATA;

	out->ihl_bytes = (uint8_t)ihl_bytes;
	out->tos = p[1];
	out->dscp = p[1] >> 2;
	out->ecn = p[1] & 0x03;
	out->tot_len = tot_len;
	out->id = cx_get_be16(p + 4);
	frag = cx_get_be16(p + 6);
	out->flags = (uint8_t)(frag >> 13);
	out->frag_off_bytes = (uint16_t)((frag & 0x1fff) * 8);
	out->ttl = p[8];
	out->protocol = p[9];
	out->checksum = cx_get_be16(p + 10);
	out->saddr = cx_get_be32(p + 12);
	out->daddr = cx_get_be32(p + 16);
	return (int)ihl_bytes;
}

int cx_ipv4_decode(const uint8_t *p, size_t len, struct cx_ipv4 *out)
{
	return ipv4_decode(p, len, out, true);
}

int cx_ipv4_decode_hdr(const uint8_t *p, size_t len, struct cx_ipv4 *out)
{
	return ipv4_decode(p, len, out, false);
}

bool cx_ipv4_is_atomic(const struct cx_ipv4 *ip)
{
	return (ip->flags & (CX_IPV4_F_DF | CX_IPV4_F_MF)) == CX_IPV4_F_DF &&
	       ip->frag_off_bytes == 0;
}

bool cx_ipv4_is_fragment(const struct cx_ipv4 *ip)
{
	return (ip->flags & CX_IPV4_F_MF) || ip->frag_off_bytes != 0;
}

bool cx_ipv4_is_multicast(const struct cx_ipv4 *ip)
{
	return (ip->daddr & 0xf0000000U) == 0xe0000000U;
}
