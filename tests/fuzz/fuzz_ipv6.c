/*
 * libFuzzer harness for the IPv6 extension-header walker and the options
 * iterator. Invariants: the chain tiles [40, upper_off) exactly, stays within
 * the buffer and the packet, respects the caps, and a header-only copy of
 * the input walks identically.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <conex/ipv6.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_opts(const uint8_t *hdr, size_t hdr_len)
{
	struct cx_ipv6_opt_iter it;
	struct cx_ipv6_opt opt;
	unsigned int n = 0;
	int ret;

	cx_ipv6_opt_iter_init(&it, hdr, hdr_len);
	while ((ret = cx_ipv6_opt_next(&it, &opt)) == 1) {
		if (++n > CX_IPV6_MAX_OPTS || opt.off < 2 ||
		    opt.type == CX_IPV6_OPT_PAD1 || opt.type == CX_IPV6_OPT_PADN ||
		    opt.off + 2 + (size_t)opt.data_len > hdr_len)
			__builtin_trap();
	}
	/* The walker already accepted this header. */
	if (ret != 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_ipv6_chain c, c2;
	size_t end, i;
	bool dst_ok = true;
	uint8_t *copy;
	int ret;

	ret = cx_ipv6_walk(data, size, &c);
	if (ret < 0)
		return 0;
	if ((uint32_t)ret != c.upper_off || c.upper_off < 40 || c.upper_off > size ||
	    c.upper_off > 40 + (size_t)c.hdr.payload_len || c.n_ext > CX_IPV6_MAX_EXT)
		__builtin_trap();

	end = 40;
	for (i = 0; i < c.n_ext; i++) {
		const struct cx_ipv6_ext *e = &c.ext[i];

		if (e->off != end || e->len_bytes < 8 || e->len_bytes % 8)
			__builtin_trap();
		if (e->type == IPPROTO_HOPOPTS && i != 0)
			__builtin_trap();
		if (e->type == IPPROTO_HOPOPTS || e->type == IPPROTO_DSTOPTS)
			check_opts(data + e->off, e->len_bytes);
		/* dst1_off: the first Destination Options before Routing/AH. */
		if (e->type == IPPROTO_DSTOPTS && dst_ok) {
			if (c.dst1_off != e->off)
				__builtin_trap();
			dst_ok = false;
		}
		if (e->type == IPPROTO_ROUTING || e->type == IPPROTO_AH)
			dst_ok = false;
		end += e->len_bytes;
	}
	if (end != c.upper_off || (dst_ok && c.dst1_off != 0))
		__builtin_trap();
	if ((c.flags & CX_IPV6_F_FRAG_LATER) &&
	    (!(c.flags & CX_IPV6_F_FRAG) || c.upper_proto != IPPROTO_FRAGMENT))
		__builtin_trap();

	/* Header-only copy: exactly the headers, in a buffer of that size. */
	copy = malloc(c.upper_off);
	if (!copy)
		return 0;
	memcpy(copy, data, c.upper_off);
	ret = cx_ipv6_walk(copy, c.upper_off, &c2);
	if ((uint32_t)ret != c.upper_off || c2.n_ext != c.n_ext ||
	    c2.upper_proto != c.upper_proto || c2.flags != c.flags ||
	    c2.dst1_off != c.dst1_off)
		__builtin_trap();
	/* One octet less is truncated, never a different success. */
	if (c.upper_off > 40 && cx_ipv6_walk(copy, c.upper_off - 1, &c2) != -ENODATA)
		__builtin_trap();
	free(copy);
	return 0;
}
