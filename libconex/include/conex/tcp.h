/*
 * TCP header view (RFC 9293 §3.1) with an option walker.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |          Source Port          |       Destination Port        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                        Sequence Number                        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Acknowledgment Number                      |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  Data |     |A|C|E|U|A|P|R|S|F|                               |
 *  | Offset| Rsv |E|W|C|R|C|S|S|Y|I|            Window             |
 *  |       |     | |R|E|G|K|H|T|N|N|                               |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |           Checksum            |         Urgent Pointer        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Options (0..40 bytes)                      |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * AE is the AccECN flag (formerly NS, RFC 3540, historic).
 */
#ifndef CONEX_TCP_H
#define CONEX_TCP_H

#include <stddef.h>
#include <stdint.h>

#define CX_TCP_HLEN_MIN		20
#define CX_TCP_HLEN_MAX		60
#define CX_TCP_OPT_MAX_BYTES	40
#define CX_TCP_SACK_MAX		4	/* 2 + 8*4 = 34 of 40 option bytes */

enum {
	CX_TCP_F_FIN = 1U << 0,
	CX_TCP_F_SYN = 1U << 1,
	CX_TCP_F_RST = 1U << 2,
	CX_TCP_F_PSH = 1U << 3,
	CX_TCP_F_ACK = 1U << 4,
	CX_TCP_F_URG = 1U << 5,
	CX_TCP_F_ECE = 1U << 6,
	CX_TCP_F_CWR = 1U << 7,
	CX_TCP_F_AE = 1U << 8,
	CX_TCP_F_ALL = 0x1ffU,
};

/* Option kinds (IANA "TCP Option Kind Numbers"). */
enum {
	CX_TCP_OPT_EOL = 0,
	CX_TCP_OPT_NOP = 1,
	CX_TCP_OPT_MSS = 2,		/* RFC 9293 §3.2, length 4 */
	CX_TCP_OPT_WSCALE = 3,		/* RFC 7323 §2.2, length 3 */
	CX_TCP_OPT_SACK_OK = 4,		/* RFC 2018 §2, length 2 */
	CX_TCP_OPT_SACK = 5,		/* RFC 2018 §3, length 2 + 8n */
	CX_TCP_OPT_TS = 8,		/* RFC 7323 §3.2, length 10 */
};

/* Which options were present (struct cx_tcp_opts.present). */
enum {
	CX_TCP_OPT_F_MSS = 1U << 0,
	CX_TCP_OPT_F_WSCALE = 1U << 1,
	CX_TCP_OPT_F_SACK_OK = 1U << 2,
	CX_TCP_OPT_F_SACK = 1U << 3,
	CX_TCP_OPT_F_TS = 1U << 4,
	CX_TCP_OPT_F_ALL = 0x1fU,
};

struct cx_tcp_sack {
	uint32_t left;
	uint32_t right;
};

/*
 * Parsed options. A kind that appears twice keeps its last value. Values
 * are as received: e.g. RFC 7323 §2.3 says a shift count above 14 is used
 * as 14, which is the consumer's decision, not the parser's.
 */
struct cx_tcp_opts {
	uint32_t present;		/* CX_TCP_OPT_F_* */
	uint16_t mss;			/* bytes */
	uint8_t wscale;			/* shift count */
	uint8_t sack_n;			/* 1..4 if CX_TCP_OPT_F_SACK, else 0 */
	struct cx_tcp_sack sack[CX_TCP_SACK_MAX];
	uint32_t tsval;
	uint32_t tsecr;
	uint8_t unknown_n;		/* options of other kinds, skipped */
};

struct cx_tcp {
	uint16_t sport;
	uint16_t dport;
	uint32_t seq;
	uint32_t ack;
	uint16_t hlen;			/* Data Offset * 4, bytes: 20..60 */
	uint16_t flags;			/* CX_TCP_F_* */
	uint8_t rsvd;			/* the 3 reserved bits, as received */
	uint16_t window;
	uint16_t csum;
	uint16_t urg;
	struct cx_tcp_opts opt;
};

/*
 * Decodes a TCP header and its options; the payload starts at the returned
 * offset. Option rules: EOL ends the list; NOP is one byte; every other
 * option has a length >= 2 that fits in the header; MSS, window scale,
 * SACK-permitted, SACK (1..4 blocks) and timestamps must have their
 * defined lengths; other kinds are skipped by length.
 * Returns hlen (>= 20); -ENODATA if the header is truncated; -EBADMSG if
 * Data Offset < 5 or an option is malformed.
 */
int cx_tcp_decode(const uint8_t *p, size_t len, struct cx_tcp *out);

/*
 * Writes a TCP header with the options flagged in t->opt.present (unknown
 * options are not written) and sets Data Offset to fit them. Options are
 * packed in the order MSS, window scale, SACK-permitted, timestamps, SACK,
 * then padded with EOL and zeros to a 4-byte boundary: packing means any
 * set of options a valid header can hold also fits here. t->hlen is not
 * used; t->csum is written as given.
 * Returns the header length (>= 20); -ENOSPC if len is too small; -EINVAL
 * if a field is out of range (flags, rsvd, present, sack_n) or the options
 * exceed 40 bytes.
 */
int cx_tcp_encode(uint8_t *p, size_t len, const struct cx_tcp *t);

#endif
