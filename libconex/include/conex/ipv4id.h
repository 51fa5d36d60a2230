/*
 * ConEx signals in the ID field of atomic IPv4 packets (docs/wire.md §3; after
 * draft-briscoe-intarea-ipv4-id-reuse and RFC 6864 §4).
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |X|L|E|C|   12 low bits: 0      |R|D|M|     Fragment Offset     |
 *  |       | (ignored on receipt)  |F|F|F|            = 0          |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   bytes 4-5 of the IPv4 header     bytes 6-7: 0xC000 when encoded
 *
 * RF=1 says the ID carries ConEx; it is only valid on an atomic packet
 * (DF=1, MF=0, offset 0), whose ID every device must ignore (RFC 6864 §4).
 * The 12 low bits are ignored because TSO/GSO writes ID+i into segment i;
 * up to 4095 segments cannot carry into X/L/E/C.
 */
#ifndef CONEX_IPV4ID_H
#define CONEX_IPV4ID_H

#include <stddef.h>
#include <stdint.h>

#include <conex/signal.h>

#define CX_IPV4ID_RF		0x8000U	/* reserved flag: ID carries ConEx */
#define CX_IPV4ID_DF		0x4000U
#define CX_IPV4ID_MF		0x2000U
#define CX_IPV4ID_OFF_MASK	0x1fffU
#define CX_IPV4ID_FRAG_WORD	(CX_IPV4ID_RF | CX_IPV4ID_DF)	/* 0xC000 */
#define CX_IPV4ID_SIG_SHIFT	8	/* CX_SIG_* octet <-> ID bits 15..8 */
#define CX_IPV4ID_SIG_MASK	0xf000U	/* X L E C in the ID */

/* Result of cx_ipv4id_decode(). */
enum cx_ipv4id_state {
	CX_IPV4ID_NOT_CONEX = 0,	/* RF=0: the ID is an ordinary ID */
	CX_IPV4ID_CONEX,		/* RF=1 on an atomic packet */
	/*
	 * RF=1 on a packet that is not atomic: invalid. It counts as
	 * Not-ConEx (bits are 0) and the caller counts the anomaly.
	 */
	CX_IPV4ID_ANOMALY,
};

struct cx_ipv4id {
	uint8_t bits;		/* CX_SIG_X/L/E/C; 0 unless state CONEX */
	uint8_t state;		/* enum cx_ipv4id_state */
	uint16_t total_len;	/* IPv4 Total Length, bytes */
};

/*
 * Decodes the ConEx signals of a raw IPv4 header. Only the header needs to
 * be present (a header-only copy is fine); Total Length is checked against
 * IHL but not against len. Returns the state (>= 0, also stored in out);
 * -ENODATA if the header is truncated; -EBADMSG if version != 4, IHL < 5 or
 * Total Length < IHL*4.
 */
int cx_ipv4id_decode(const uint8_t *hdr, size_t len, struct cx_ipv4id *out);

/*
 * Marks a raw IPv4 header: ID = bits << 8 (low 12 bits 0) and flags/offset
 * = 0xC000, setting DF if it was clear, with the header checksum updated
 * incrementally (RFC 1624 eqn. 3). If delta is not NULL it receives the
 * checksum delta (see cx_csum_apply()) so another copy of the header, or a
 * tc-BPF/nft rewrite, can be fixed the same way.
 * Returns 0; -EINVAL if bits has reserved bits set, or if the packet may be
 * a fragment (MF set or offset != 0): setting DF would not make it atomic;
 * -ENODATA, -EBADMSG as cx_ipv4id_decode().
 */
int cx_ipv4id_apply(uint8_t *hdr, size_t len, uint8_t bits, uint16_t *delta);

/*
 * Bytes this packet adds to the counter of one signal (CX_SIG_X, _L, _E or
 * _C): its Total Length if it decoded as CONEX with that bit set, else 0.
 * A packet with several of L/E/C counts once in each (docs/wire.md §3). A flag
 * that is not exactly one signal bit counts 0.
 */
uint32_t cx_ipv4id_flag_bytes(const struct cx_ipv4id *id, uint8_t flag);

#endif
