/*
 * Flow keys: the 5-tuple of an IPv4 or IPv6 packet in one fixed layout, so
 * that keys compare with memcmp and hash as plain bytes.
 *
 * Invariants of a key built by the constructors: an IPv4 address sits in
 * bytes 12..15 of its 16-byte field in the IPv4-mapped form ::ffff:a.b.c.d
 * (RFC 4291 §2.5.5.2), and every byte not set from the packet (padding) is
 * zero. Keys made any other way must also zero the whole struct first.
 */
#ifndef CONEX_FLOW_H
#define CONEX_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <conex/siphash.h>

enum {
	CX_FLOW_IPV4 = 4,
	CX_FLOW_IPV6 = 6,
};

struct cx_flow_key {
	uint8_t saddr[16];	/* network byte order */
	uint8_t daddr[16];
	uint16_t sport;		/* host order; 0 for port-less protocols */
	uint16_t dport;
	uint8_t proto;		/* IP protocol / IPv6 upper-layer Next Header */
	uint8_t family;		/* CX_FLOW_IPV4 or CX_FLOW_IPV6 */
	uint8_t pad[2];		/* always zero */
};

_Static_assert(sizeof(struct cx_flow_key) == 40,
	       "cx_flow_key must have no implicit padding");

/* Addresses in host order, as cx_ipv4 holds them (0xC6120001 = 198.18.0.1). */
void cx_flow_key_v4(struct cx_flow_key *k, uint32_t saddr, uint32_t daddr,
		    uint16_t sport, uint16_t dport, uint8_t proto);

/* Addresses as the 16 bytes of the header, network byte order. */
void cx_flow_key_v6(struct cx_flow_key *k, const uint8_t saddr[16],
		    const uint8_t daddr[16], uint16_t sport, uint16_t dport,
		    uint8_t proto);

/* The same flow seen in the other direction (addresses and ports swapped). */
void cx_flow_key_reverse(struct cx_flow_key *out,
			 const struct cx_flow_key *k);

bool cx_flow_key_equal(const struct cx_flow_key *a,
		       const struct cx_flow_key *b);

/* SipHash-2-4 of the 40 key bytes under a secret key. */
uint64_t cx_flow_key_hash(const struct cx_flow_key *k,
			  const struct cx_siphash_key *sk);

/*
 * Formats "tcp 198.18.0.1:5001 > 198.18.0.2:80" or
 * "udp [2001:2::1]:53 > [2001:2::2]:5353"; unknown protocols print as
 * "proto 132". Returns the length (without the NUL), -ENOSPC if buf (of
 * size len) is too small (buf then holds "" if len > 0), -EINVAL for an
 * unknown family.
 */
int cx_flow_key_format(const struct cx_flow_key *k, char *buf, size_t len);

/* Enough for any key: two bracketed IPv6 addresses, ports, protocol. */
#define CX_FLOW_KEY_FORMAT_MAX 112

#endif
