/*
 * VXLAN header view (RFC 7348 §5), carried in UDP to port 4789.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |R|R|R|R|I|R|R|R|            Reserved                           |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                VXLAN Network Identifier (VNI) |   Reserved    |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
#ifndef CONEX_VXLAN_H
#define CONEX_VXLAN_H

#include <stddef.h>
#include <stdint.h>

#define CX_VXLAN_PORT		4789	/* IANA UDP port, RFC 7348 §5 */
#define CX_VXLAN_HLEN		8
#define CX_VXLAN_F_I		0x08	/* VNI valid; must be 1 */
#define CX_VXLAN_VNI_MAX	0xffffffU

struct cx_vxlan {
	uint32_t vni;		/* 24 bits */
	uint8_t flags;		/* whole flags octet as received */
	uint32_t rsvd1;		/* 24 bits after the flags, as received */
	uint8_t rsvd2;		/* octet after the VNI, as received */
};

/*
 * Decodes the 8-byte header; the inner Ethernet frame starts at the
 * returned offset. Reserved bits are ignored (RFC 7348 §5) but reported.
 * Returns CX_VXLAN_HLEN; -ENODATA if truncated; -EBADMSG if the I flag is
 * clear.
 */
int cx_vxlan_decode(const uint8_t *p, size_t len, struct cx_vxlan *out);

/*
 * Writes a header with the I flag, v->vni, and every reserved bit 0
 * (RFC 7348 §5: reserved fields are set to zero on transmission; v's flags
 * and reserved fields are not used). Returns CX_VXLAN_HLEN; -ENOSPC if
 * len < 8; -EINVAL if the VNI does not fit in 24 bits.
 */
int cx_vxlan_encode(uint8_t *p, size_t len, const struct cx_vxlan *v);

#endif
