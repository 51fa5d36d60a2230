/*
 * cx_udp_decode / cx_udp_decode_hdr on arbitrary bytes. Invariants: the
 * strict decoder succeeds only where the header-only one does, with the
 * same fields and Length within the input; encode(decode(x)) gives back
 * x's 8 header bytes; a checksum computed with cx_udp_csum passes
 * cx_csum_ok and is never 0.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <conex/byteorder.h>
#include <conex/csum.h>
#include <conex/udp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t saddr[4] = { 198, 18, 0, 1 };
static const uint8_t daddr[4] = { 198, 19, 0, 2 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_udp u, h, r;
	uint8_t b[CX_UDP_HLEN], *copy;
	uint32_t ph;
	uint16_t c;
	int ret, rh;

	ret = cx_udp_decode(data, size, &u);
	rh = cx_udp_decode_hdr(data, size, &h);
	if ((ret != CX_UDP_HLEN && ret != -ENODATA && ret != -EBADMSG) ||
	    (rh != CX_UDP_HLEN && rh != -ENODATA && rh != -EBADMSG))
		__builtin_trap();
	if (rh < 0) {
		if (ret != rh)
			__builtin_trap();
		return 0;
	}
	if (h.len < CX_UDP_HLEN)
		__builtin_trap();
	if (cx_udp_encode(b, sizeof(b), &h) != CX_UDP_HLEN ||
	    memcmp(b, data, CX_UDP_HLEN) ||
	    cx_udp_decode_hdr(b, sizeof(b), &r) != CX_UDP_HLEN ||
	    r.sport != h.sport || r.dport != h.dport || r.len != h.len ||
	    r.csum != h.csum)
		__builtin_trap();
	if (ret < 0) {
		if (ret != -ENODATA || h.len <= size)
			__builtin_trap();
		return 0;
	}
	if (u.len > size || u.sport != h.sport || u.dport != h.dport ||
	    u.len != h.len || u.csum != h.csum)
		__builtin_trap();

	copy = malloc(u.len);
	if (!copy)
		return 0;
	memcpy(copy, data, u.len);
	cx_put_be16(copy + 6, 0);
	ph = cx_csum_pseudo4(saddr, daddr, 17, u.len);
	c = cx_udp_csum(ph, copy, u.len);
	cx_put_be16(copy + 6, c);
	if (!c || !cx_csum_ok(ph, copy, u.len))
		__builtin_trap();
	free(copy);
	return 0;
}
