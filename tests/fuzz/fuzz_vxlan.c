/*
 * cx_vxlan_decode on arbitrary bytes. Invariants: errors are -ENODATA or
 * -EBADMSG only; a decoded VNI fits in 24 bits and the fields reproduce the
 * input bytes; encode(decode(x)) decodes to the same VNI with the I flag
 * and every reserved bit 0.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <conex/vxlan.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_vxlan v, r;
	uint8_t b[CX_VXLAN_HLEN];
	int ret;

	ret = cx_vxlan_decode(data, size, &v);
	if (ret < 0) {
		if (ret != -ENODATA && ret != -EBADMSG)
			__builtin_trap();
		if ((ret == -ENODATA) != (size < CX_VXLAN_HLEN))
			__builtin_trap();
		return 0;
	}
	if (ret != CX_VXLAN_HLEN || v.vni > CX_VXLAN_VNI_MAX ||
	    !(v.flags & CX_VXLAN_F_I) || v.flags != data[0] ||
	    v.rsvd1 != ((uint32_t)data[1] << 16 | data[2] << 8 | data[3]) ||
	    v.rsvd2 != data[7])
		__builtin_trap();
	if (cx_vxlan_encode(b, sizeof(b), &v) != CX_VXLAN_HLEN)
		__builtin_trap();
	if (cx_vxlan_decode(b, sizeof(b), &r) != CX_VXLAN_HLEN ||
	    r.vni != v.vni || r.flags != CX_VXLAN_F_I || r.rsvd1 || r.rsvd2 ||
	    b[4] != data[4] || b[5] != data[5] || b[6] != data[6])
		__builtin_trap();
	return 0;
}
