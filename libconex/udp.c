/* UDP header view. */
#include <errno.h>

#include <conex/byteorder.h>
#include <conex/csum.h>
#include <conex/udp.h>

int cx_udp_decode_hdr(const uint8_t *p, size_t len, struct cx_udp *out)
{
	uint16_t ulen;

	if (len < CX_UDP_HLEN)
		return -ENODATA;
	ulen = cx_get_be16(p + 4);
	if (ulen < CX_UDP_HLEN)
		return -EBADMSG;
	out->sport = cx_get_be16(p);
	out->dport = cx_get_be16(p + 2);
	out->len = ulen;
	out->csum = cx_get_be16(p + 6);
	return CX_UDP_HLEN;
}

int cx_udp_decode(const uint8_t *p, size_t len, struct cx_udp *out)
{
	struct cx_udp u;
	int ret;

	ret = cx_udp_decode_hdr(p, len, &u);
	if (ret < 0)
		return ret;
	if (u.len > len)
		return -ENODATA;
	*out = u;
	return ret;
}

int cx_udp_encode(uint8_t *p, size_t len, const struct cx_udp *u)
{
	if (u->len < CX_UDP_HLEN)
		return -EINVAL;
	if (len < CX_UDP_HLEN)
		return -ENOSPC;
	cx_put_be16(p, u->sport);
	cx_put_be16(p + 2, u->dport);
	cx_put_be16(p + 4, u->len);
	cx_put_be16(p + 6, u->csum);
	return CX_UDP_HLEN;
}

uint16_t cx_udp_csum(uint32_t pseudo, const uint8_t *dgram, size_t dgram_len)
{
	uint16_t c = cx_csum_finish(cx_csum_partial(dgram, dgram_len, pseudo));

	return c ? c : 0xffff;
}
