/*
 * UDP header view (RFC 768).
 *
 *   0      7 8     15 16    23 24    31
 *  +--------+--------+--------+--------+
 *  |   Source Port   |  Destination    |
 *  |                 |      Port       |
 *  +--------+--------+--------+--------+
 *  |     Length      |    Checksum     |
 *  +--------+--------+--------+--------+
 */
#ifndef CONEX_UDP_H
#define CONEX_UDP_H

#include <stddef.h>
#include <stdint.h>

#define CX_UDP_HLEN 8

struct cx_udp {
	uint16_t sport;
	uint16_t dport;
	uint16_t len;		/* Length field: header + data, bytes */
	uint16_t csum;		/* as on the wire; 0 = none (IPv4 only) */
};

/*
 * Decodes a UDP header. The whole datagram must be present: Length must be
 * >= 8 and <= len. Bytes after Length (link-layer padding) are not part of
 * the datagram and are ignored. A caller holding only a header copy (e.g.
 * an NFQUEUE copy range) decodes the first 8 bytes with
 * cx_udp_decode_hdr(), which checks Length >= 8 only.
 * Returns CX_UDP_HLEN; -ENODATA if truncated; -EBADMSG if Length < 8
 * (this includes the IPv6 jumbogram Length 0 of RFC 2675, not supported).
 */
int cx_udp_decode(const uint8_t *p, size_t len, struct cx_udp *out);
int cx_udp_decode_hdr(const uint8_t *p, size_t len, struct cx_udp *out);

/*
 * Writes the 8-byte header. Returns CX_UDP_HLEN; -ENOSPC if len < 8;
 * -EINVAL if u->len < 8.
 */
int cx_udp_encode(uint8_t *p, size_t len, const struct cx_udp *u);

/*
 * Checksum field value for a datagram (header with checksum field 0, plus
 * data; dgram_len = its Length) given its pseudo-header sum
 * (cx_csum_pseudo4/6). A computed 0 is sent as 0xffff: 0 means "no
 * checksum" in IPv4 (RFC 768) and is not allowed in IPv6 (RFC 8200 §8.1).
 */
uint16_t cx_udp_csum(uint32_t pseudo, const uint8_t *dgram, size_t dgram_len);

#endif
