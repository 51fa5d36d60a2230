/*
 * libFuzzer harness for the CDO finder, inserter and remover. The input is
 * an IPv6 packet; the last input octet also picks the bits to insert.
 * Invariants: a found CDO is where it says; insert then remove gives back
 * the packet (up to 40 + Payload Length); a removed CDO-only header in the
 * canonical encoding is put back identically by insert.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <conex/cdo.h>
#include <conex/ipv6.h>
#include <conex/signal.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_hit(const uint8_t *p, size_t len, const struct cx_cdo_hit *h)
{
	if (h->data_off < 44 || h->data_off >= len || h->hdr_off + 4 > h->data_off ||
	    p[h->data_off - 2] != CX_CDO_TYPE || p[h->data_off - 1] != 1 ||
	    p[h->data_off] != h->bits || (h->flags & ~(uint32_t)CX_CDO_F_LATE))
		__builtin_trap();
}

static void try_insert(const uint8_t *data, size_t size, uint8_t bits)
{
	struct cx_cdo_hit hit;
	uint8_t *buf;
	int ret, ret2;

	buf = malloc(size + CX_CDO_HDR_BYTES);
	if (!buf)
		return;
	memcpy(buf, data, size);
	ret = cx_cdo_insert(buf, size, size + CX_CDO_HDR_BYTES, bits);
	if (ret < 0) {
		/* Refusals leave the packet alone. */
		if (memcmp(buf, data, size))
			__builtin_trap();
		goto out;
	}
	if ((size_t)ret > size + CX_CDO_HDR_BYTES || ret < 48)
		__builtin_trap();
	if (cx_cdo_find(buf, (size_t)ret, &hit) != 0 || hit.bits != bits || hit.flags)
		__builtin_trap();
	check_hit(buf, (size_t)ret, &hit);
	ret2 = cx_cdo_remove(buf, (size_t)ret);
	if (ret2 != ret - CX_CDO_HDR_BYTES || memcmp(buf, data, (size_t)ret2))
		__builtin_trap();
out:
	free(buf);
}

static bool insertable(const struct cx_ipv6_chain *c)
{
	unsigned int i;

	if (cx_ipv6_is_multicast(&c->hdr) || (c->flags & CX_IPV6_F_FRAG))
		return false;
	for (i = 0; i < c->n_ext; i++)
		if (c->ext[i].type == IPPROTO_AH)
			return false;
	return true;
}

static void try_remove(const uint8_t *data, size_t size)
{
	struct cx_ipv6_chain c;
	uint8_t *buf, want[CX_CDO_HDR_BYTES], nh, bits;
	size_t ins;
	bool hbh;
	int ret;

	buf = malloc(size + CX_CDO_HDR_BYTES);
	if (!buf)
		return;
	memcpy(buf, data, size);
	ret = cx_cdo_remove(buf, size);
	if (ret < 0) {
		if (memcmp(buf, data, size))
			__builtin_trap();
		goto out;
	}
	/* What was removed, and the chain it left, must make sense. */
	if (cx_ipv6_walk(data, size, &c) < 0 || cx_ipv6_walk(buf, (size_t)ret, &c) < 0)
		__builtin_trap();
	hbh = c.n_ext && c.ext[0].type == IPPROTO_HOPOPTS;
	ins = hbh ? 40 + (size_t)c.ext[0].len_bytes : 40;
	if (cx_cdo_hdr_decode(data + ins, size - ins, &nh, &bits) != CX_CDO_HDR_BYTES)
		__builtin_trap();
	/*
	 * Canonical encoding, no reserved bits, and a packet insert accepts
	 * (unicast, unfragmented, no AH, no second Destination Options header
	 * now at the place): insert restores it exactly.
	 */
	if (cx_cdo_hdr_encode(want, sizeof(want), nh, bits) == CX_CDO_HDR_BYTES &&
	    !memcmp(want, data + ins, sizeof(want)) && insertable(&c) &&
	    buf[hbh ? 40 : 6] != IPPROTO_DSTOPTS) {
		if (cx_cdo_insert(buf, (size_t)ret, size + CX_CDO_HDR_BYTES, bits) !=
		    ret + CX_CDO_HDR_BYTES ||
		    memcmp(buf, data, (size_t)ret + CX_CDO_HDR_BYTES))
			__builtin_trap();
	}
out:
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_cdo_hit hit;
	uint8_t bits;
	uint8_t *buf;
	int ret;

	if (size < 1)
		return 0;
	bits = data[size - 1] & (uint8_t)~CX_SIG_RES;

	ret = cx_cdo_find(data, size, &hit);
	if (ret == 0) {
		check_hit(data, size, &hit);
		/* Set then find: the same place, the new bits. */
		buf = malloc(size);
		if (buf) {
			memcpy(buf, data, size);
			if (cx_cdo_set(buf, size, bits) != (int)hit.data_off ||
			    buf[hit.data_off] != bits)
				__builtin_trap();
			buf[hit.data_off] = data[hit.data_off];
			if (memcmp(buf, data, size))
				__builtin_trap();
			free(buf);
		}
	} else if (ret == -ENOENT) {
		if (hit.flags & ~(uint32_t)(CX_CDO_F_MULTICAST | CX_CDO_F_FRAG_LATER))
			__builtin_trap();
	}

	try_insert(data, size, bits);
	try_remove(data, size);
	return 0;
}
