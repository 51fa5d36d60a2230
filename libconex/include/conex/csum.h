/*
 * Internet checksum (RFC 1071), pseudo-header sums for TCP/UDP over IPv4
 * (RFC 9293 §3.1, RFC 768) and IPv6 (RFC 8200 §8.1), and incremental update
 * (RFC 1624).
 *
 * A "sum" is a partial ones' complement sum kept in a uint32_t. Every
 * function returning one folds it to 16 bits (0..0xffff), so sums can be
 * added together without overflow. cx_csum_finish() turns a sum into the
 * value carried on the wire.
 */
#ifndef CONEX_CSUM_H
#define CONEX_CSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* End-around carry: fold a sum to 16 bits, not complemented. */
static inline uint16_t cx_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The checksum field value for a sum: its ones' complement. */
static inline uint16_t cx_csum_finish(uint32_t sum)
{
	return (uint16_t)~cx_csum_fold(sum);
}

/*
 * Adds len bytes at p to sum, as big-endian 16-bit words; an odd final byte
 * is padded with a zero octet (RFC 1071 §4.1). The data must start at an
 * even offset of the checksummed region; p itself need not be aligned.
 */
uint32_t cx_csum_partial(const uint8_t *p, size_t len, uint32_t sum);

/* Checksum field value over a buffer: cx_csum_finish(cx_csum_partial()). */
uint16_t cx_csum(const uint8_t *p, size_t len);

/*
 * IPv4 header checksum (RFC 791 §3.1) over the IHL*4 bytes at hdr, treating
 * the checksum field as zero. Returns the field value (>= 0), -ENODATA if
 * the header is truncated, -EBADMSG if version != 4 or IHL < 5.
 */
int cx_csum_ipv4_compute(const uint8_t *hdr, size_t len);

/*
 * 0 if the stored IPv4 header checksum is right, -EBADMSG if it is wrong or
 * the header is malformed, -ENODATA if it is truncated.
 */
int cx_csum_ipv4_verify(const uint8_t *hdr, size_t len);

/* Pseudo-header sum for IPv4 (RFC 9293 §3.1): src, dst, 0, proto, length. */
uint32_t cx_csum_pseudo4(const uint8_t saddr[4], const uint8_t daddr[4],
			 uint8_t proto, uint16_t l4_bytes);

/*
 * Pseudo-header sum for IPv6 (RFC 8200 §8.1). l4_bytes is the upper-layer
 * packet length (header + data of TCP/UDP), not the IPv6 Payload Length,
 * which also counts extension headers. next_hdr is the upper-layer
 * protocol, not the Next Header field of the fixed header.
 */
uint32_t cx_csum_pseudo6(const uint8_t saddr[16], const uint8_t daddr[16],
			 uint8_t next_hdr, uint32_t l4_bytes);

/*
 * True if len bytes at p, including their checksum field, sum with the
 * pseudo-header sum to all ones (RFC 1071 §1 receive check).
 */
bool cx_csum_ok(uint32_t pseudo, const uint8_t *p, size_t len);

/*
 * RFC 1624 incremental update. A delta is the folded ones' complement sum
 * ~m + m' of every changed 16-bit word; deltas for several changes add up
 * (fold again after adding). cx_csum_apply() computes eqn. 3,
 * HC' = ~(~HC + ~m + m'), which unlike eqn. 2 never yields 0x0000 where a
 * full recomputation yields 0xffff for a non-zero header (RFC 1624 §3, §5).
 */
uint16_t cx_csum_delta16(uint16_t old_val, uint16_t new_val);
uint16_t cx_csum_delta32(uint32_t old_val, uint32_t new_val);
uint16_t cx_csum_apply(uint16_t hc, uint16_t delta);

/* The two common cases: one 16-bit or one 32-bit (aligned) field changed. */
uint16_t cx_csum_update16(uint16_t hc, uint16_t old_val, uint16_t new_val);
uint16_t cx_csum_update32(uint16_t hc, uint32_t old_val, uint32_t new_val);

#endif
