/*
 * libFuzzer harness for the IPv4 header view. Besides not crashing, the two
 * decoders must agree with each other and with their documented bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <conex/ipv4.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const struct cx_ipv4 *a, const struct cx_ipv4 *b)
{
	return a->ihl_bytes == b->ihl_bytes && a->tos == b->tos &&
	       a->dscp == b->dscp && a->ecn == b->ecn &&
	       a->tot_len == b->tot_len && a->id == b->id &&
	       a->flags == b->flags && a->frag_off_bytes == b->frag_off_bytes &&
	       a->ttl == b->ttl && a->protocol == b->protocol &&
	       a->checksum == b->checksum && a->saddr == b->saddr &&
	       a->daddr == b->daddr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_ipv4 whole, hdr, pre;
	int rw, rh, rp;

	rw = cx_ipv4_decode(data, size, &whole);
	rh = cx_ipv4_decode_hdr(data, size, &hdr);

	if (rh >= 0) {
		if (rh != hdr.ihl_bytes || hdr.ihl_bytes < 20 ||
		    hdr.ihl_bytes > 60 || hdr.ihl_bytes % 4 ||
		    (size_t)hdr.ihl_bytes > size || hdr.tot_len < hdr.ihl_bytes ||
		    (hdr.dscp << 2 | hdr.ecn) != hdr.tos || hdr.flags > 7 ||
		    hdr.frag_off_bytes % 8)
			__builtin_trap();
		if (cx_ipv4_is_atomic(&hdr) && cx_ipv4_is_fragment(&hdr))
			__builtin_trap();
		/* The whole-datagram decoder differs only in wanting tot_len. */
		if ((rw >= 0) != (hdr.tot_len <= size))
			__builtin_trap();
		if (rw >= 0 && (rw != rh || !same(&whole, &hdr)))
			__builtin_trap();
		/* A header-only copy decodes the same. */
		rp = cx_ipv4_decode_hdr(data, hdr.ihl_bytes, &pre);
		if (rp != rh || !same(&pre, &hdr))
			__builtin_trap();
	} else if (rw != rh) {
		/* Every header check comes before the tot_len one. */
		__builtin_trap();
	}
	return 0;
}
