/* Internet checksum, pseudo-header sums and RFC 1624 incremental update. */
#include <errno.h>

#include <conex/byteorder.h>
#include <conex/csum.h>

#include "internal.h"

/*
 * A 64-bit accumulator cannot overflow before 2^48 words have been added,
 * far beyond any packet, so carries are folded once at the end
 * (RFC 1071 §2 (B) "deferred carries").
 */
static uint16_t fold64(uint64_t acc)
{
	acc = (acc & 0xffffffffU) + (acc >> 32);
	acc = (acc & 0xffffffffU) + (acc >> 32);
	return cx_csum_fold((uint32_t)acc);
}

uint32_t cx_csum_partial(const uint8_t *p, size_t len, uint32_t sum)
{
	uint64_t acc = sum;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		acc += cx_get_be16(p + i);
	if (len & 1)
		acc += (uint32_t)p[len - 1] << 8;
	return fold64(acc);
}

uint16_t cx_csum(const uint8_t *p, size_t len)
{
	return cx_csum_finish(cx_csum_partial(p, len, 0));
}

int cx_csum_ipv4_compute(const uint8_t *hdr, size_t len)
{
	uint32_t sum;
	int hlen;

	hlen = cx_raw_ipv4_hlen(hdr, len);
	if (hlen < 0)
		return hlen;
	/* Bytes 10-11 are the checksum field itself, summed as zero. */
	sum = cx_csum_partial(hdr, 10, 0);
	sum = cx_csum_partial(hdr + 12, (size_t)hlen - 12, sum);
	return cx_csum_finish(sum);
}

int cx_csum_ipv4_verify(const uint8_t *hdr, size_t len)
{
	int hlen;

	hlen = cx_raw_ipv4_hlen(hdr, len);
	if (hlen < 0)
		return hlen;
	return cx_csum_ok(0, hdr, (size_t)hlen) ? 0 : -EBADMSG;
}

uint32_t cx_csum_pseudo4(const uint8_t saddr[4], const uint8_t daddr[4],
			 uint8_t proto, uint16_t l4_bytes)
{
	uint64_t acc;

	acc = (uint64_t)cx_get_be16(saddr) + cx_get_be16(saddr + 2) +
	      cx_get_be16(daddr) + cx_get_be16(daddr + 2) + proto + l4_bytes;
	return fold64(acc);
}

uint32_t cx_csum_pseudo6(const uint8_t saddr[16], const uint8_t daddr[16],
			 uint8_t next_hdr, uint32_t l4_bytes)
{
	uint32_t sum;

	sum = cx_csum_partial(saddr, 16, 0);
	sum = cx_csum_partial(daddr, 16, sum);
	/* 32-bit length, three zero octets, then the next header value. */
	return fold64((uint64_t)sum + (l4_bytes >> 16) + (l4_bytes & 0xffff) +
		      next_hdr);
}

bool cx_csum_ok(uint32_t pseudo, const uint8_t *p, size_t len)
{
	return cx_csum_partial(p, len, pseudo) == 0xffff;
}

uint16_t cx_csum_delta16(uint16_t old_val, uint16_t new_val)
{
	return cx_csum_fold((uint32_t)(uint16_t)~old_val + new_val);
}

uint16_t cx_csum_delta32(uint32_t old_val, uint32_t new_val)
{
	uint32_t sum;

	sum = cx_csum_delta16((uint16_t)(old_val >> 16),
			      (uint16_t)(new_val >> 16));
	sum += cx_csum_delta16((uint16_t)old_val, (uint16_t)new_val);
	return cx_csum_fold(sum);
}

uint16_t cx_csum_apply(uint16_t hc, uint16_t delta)
{
	return cx_csum_finish((uint32_t)(uint16_t)~hc + delta);
}

uint16_t cx_csum_update16(uint16_t hc, uint16_t old_val, uint16_t new_val)
{
	return cx_csum_apply(hc, cx_csum_delta16(old_val, new_val));
}

uint16_t cx_csum_update32(uint16_t hc, uint32_t old_val, uint32_t new_val)
{
	return cx_csum_apply(hc, cx_csum_delta32(old_val, new_val));
}
