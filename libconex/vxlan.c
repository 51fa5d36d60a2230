/* VXLAN header view (RFC 7348). */
#include <errno.h>

#include <conex/byteorder.h>
#include <conex/vxlan.h>

int cx_vxlan_decode(const uint8_t *p, size_t len, struct cx_vxlan *out)
{
	uint32_t w0, w1;

	if (len < CX_VXLAN_HLEN)
		return -ENODATA;
	w0 = cx_get_be32(p);
	w1 = cx_get_be32(p + 4);
	if (!(p[0] & CX_VXLAN_F_I))
		return -EBADMSG;
	out->flags = (uint8_t)(w0 >> 24);
	out->rsvd1 = w0 & 0xffffffU;
	out->vni = w1 >> 8;
	out->rsvd2 = (uint8_t)w1;
	return CX_VXLAN_HLEN;
}

int cx_vxlan_encode(uint8_t *p, size_t len, const struct cx_vxlan *v)
{
	if (v->vni > CX_VXLAN_VNI_MAX)
		return -EINVAL;
	if (len < CX_VXLAN_HLEN)
		return -ENOSPC;
	cx_put_be32(p, (uint32_t)CX_VXLAN_F_I << 24);
	cx_put_be32(p + 4, v->vni << 8);
	return CX_VXLAN_HLEN;
}
