/* TCP header view and option walker. */
#include <errno.h>
#include <string.h>

#include <conex/byteorder.h>
#include <conex/tcp.h>

#include "internal.h"

#define LEN_MSS		4
#define LEN_WSCALE	3
#define LEN_SACK_OK	2
#define LEN_TS		10
#define LEN_SACK_BLOCK	8

static int sack_decode(const uint8_t *p, uint8_t olen, struct cx_tcp_opts *o)
{
	unsigned int i, n;

	if ((olen - 2) % LEN_SACK_BLOCK)
		return -EBADMSG;
	n = (olen - 2U) / LEN_SACK_BLOCK;
	if (n < 1 || n > CX_TCP_SACK_MAX)
		return -EBADMSG;
	for (i = 0; i < n; i++) {
		o->sack[i].left = cx_get_be32(p + 2 + i * LEN_SACK_BLOCK);
		o->sack[i].right = cx_get_be32(p + 6 + i * LEN_SACK_BLOCK);
	}
	for (; i < CX_TCP_SACK_MAX; i++)
		o->sack[i].left = o->sack[i].right = 0;
	o->sack_n = (uint8_t)n;
	o->present |= CX_TCP_OPT_F_SACK;
	return 0;
}

/* One option of kind p[0] and length olen (already known to fit). */
static int opt_decode(const uint8_t *p, uint8_t olen, struct cx_tcp_opts *o)
{
	switch (p[0]) {
	case CX_TCP_OPT_MSS:
		if (olen != LEN_MSS)
			return -EBADMSG;
		o->mss = cx_get_be16(p + 2);
		o->present |= CX_TCP_OPT_F_MSS;
		return 0;
	case CX_TCP_OPT_WSCALE:
		if (olen != LEN_WSCALE)
			return -EBADMSG;
		o->wscale = p[2];
		o->present |= CX_TCP_OPT_F_WSCALE;
		return 0;
	case CX_TCP_OPT_SACK_OK:
		if (olen != LEN_SACK_OK)
			return -EBADMSG;
		o->present |= CX_TCP_OPT_F_SACK_OK;
		return 0;
	case CX_TCP_OPT_SACK:
		return sack_decode(p, olen, o);
	case CX_TCP_OPT_TS:
		if (olen != LEN_TS)
			return -EBADMSG;
		o->tsval = cx_get_be32(p + 2);
		o->tsecr = cx_get_be32(p + 6);
		o->present |= CX_TCP_OPT_F_TS;
		return 0;
	default:
		if (o->unknown_n < UINT8_MAX)
			o->unknown_n++;
		return 0;
	}
}

/*
 * Walks len (<= 40) option bytes. Each turn consumes at least one byte, so
 * the cap of 40 turns is never the limit for a well-formed call; it bounds
 * the loop independently of that reasoning.
 */
static int opts_decode(const uint8_t *p, size_t len, struct cx_tcp_opts *o)
{
	size_t off = 0;
	unsigned int n;
	uint8_t olen;
	int ret;

	memset(o, 0, sizeof(*o));
	for (n = 0; n < CX_TCP_OPT_MAX_BYTES; n++) {
		if (off >= len || p[off] == CX_TCP_OPT_EOL)
			return 0;
		if (p[off] == CX_TCP_OPT_NOP) {
			off++;
			continue;
		}
		/* Room for the length byte, length sane, length fits. */
		if (len - off < 2)
			return -EBADMSG;
		olen = p[off + 1];
		if (olen < 2)
			return -EBADMSG;
		if (olen > len - off)
			return -EBADMSG;
		ret = opt_decode(p + off, olen, o);
		if (ret < 0)
			return ret;
		off += olen;
	}
	return off >= len ? 0 : -EBADMSG;
}

int cx_tcp_decode(const uint8_t *p, size_t len, struct cx_tcp *out)
{
	struct cx_tcp t;
	size_t hlen;
	int ret;

	if (len < CX_TCP_HLEN_MIN)
		return -ENODATA;
	hlen = (size_t)(p[12] >> 4) * 4;
	if (hlen < CX_TCP_HLEN_MIN)
		return -EBADMSG;
	if (hlen > len)
		return -ENODATA;

	t.sport = cx_get_be16(p);
	t.dport = cx_get_be16(p + 2);
	t.seq = cx_get_be32(p + 4);
	t.ack = cx_get_be32(p + 8);
	t.hlen = (uint16_t)hlen;
	t.flags = cx_get_be16(p + 12) & CX_TCP_F_ALL;
	t.rsvd = (p[12] >> 1) & 0x07;
	t.window = cx_get_be16(p + 14);
	t.csum = cx_get_be16(p + 16);
	t.urg = cx_get_be16(p + 18);
	ret = opts_decode(p + CX_TCP_HLEN_MIN, hlen - CX_TCP_HLEN_MIN, &t.opt);
	if (ret < 0)
		return ret;
	*out = t;
	return (int)hlen;
}

static size_t opts_len(const struct cx_tcp_opts *o)
{
	size_t n = 0;

	if (o->present & CX_TCP_OPT_F_MSS)
		n += LEN_MSS;
	if (o->present & CX_TCP_OPT_F_WSCALE)
		n += LEN_WSCALE;
	if (o->present & CX_TCP_OPT_F_SACK_OK)
		n += LEN_SACK_OK;
	if (o->present & CX_TCP_OPT_F_TS)
		n += LEN_TS;
	if (o->present & CX_TCP_OPT_F_SACK)
		n += 2 + (size_t)o->sack_n * LEN_SACK_BLOCK;
	return n;
}

static uint8_t *put_opt_hdr(uint8_t *q, uint8_t kind, uint8_t olen)
{
	q[0] = kind;
	q[1] = olen;
	return q + 2;
}

/* Writes the options into room bytes: opts_len(o) rounded up to 4. */
static void opts_encode(uint8_t *q, size_t room, const struct cx_tcp_opts *o)
{
	uint8_t *start = q;
	unsigned int i;

	if (o->present & CX_TCP_OPT_F_MSS) {
		q = put_opt_hdr(q, CX_TCP_OPT_MSS, LEN_MSS);
		cx_put_be16(q, o->mss);
		q += 2;
	}
	if (o->present & CX_TCP_OPT_F_WSCALE) {
		q = put_opt_hdr(q, CX_TCP_OPT_WSCALE, LEN_WSCALE);
		*q++ = o->wscale;
	}
	if (o->present & CX_TCP_OPT_F_SACK_OK)
		q = put_opt_hdr(q, CX_TCP_OPT_SACK_OK, LEN_SACK_OK);
	if (o->present & CX_TCP_OPT_F_TS) {
		q = put_opt_hdr(q, CX_TCP_OPT_TS, LEN_TS);
		cx_put_be32(q, o->tsval);
		cx_put_be32(q + 4, o->tsecr);
		q += 8;
	}
	if (o->present & CX_TCP_OPT_F_SACK) {
		q = put_opt_hdr(q, CX_TCP_OPT_SACK,
				(uint8_t)(2 + o->sack_n * LEN_SACK_BLOCK));
		for (i = 0; i < o->sack_n; i++) {
			cx_put_be32(q, o->sack[i].left);
			cx_put_be32(q + 4, o->sack[i].right);
			q += LEN_SACK_BLOCK;
		}
	}
	/* RFC 9293 §3.1: the list ends with EOL; padding after it is zero. */
	if ((size_t)(q - start) < room) {
		*q++ = CX_TCP_OPT_EOL;
		memset(q, 0, room - (size_t)(q - start));
	}
}

int cx_tcp_encode(uint8_t *p, size_t len, const struct cx_tcp *t)
{
	const struct cx_tcp_opts *o = &t->opt;
	size_t olen, hlen;

	if (t->flags & ~CX_TCP_F_ALL || t->rsvd > 0x07 ||
	    o->present & ~CX_TCP_OPT_F_ALL)
		return -EINVAL;
	/* A SACK option carries 1..4 blocks (RFC 2018 §3), none without it. */
	if ((o->present & CX_TCP_OPT_F_SACK) ?
	    o->sack_n < 1 || o->sack_n > CX_TCP_SACK_MAX : o->sack_n != 0)
		return -EINVAL;
	olen = opts_len(o);
	if (olen > CX_TCP_OPT_MAX_BYTES)
		return -EINVAL;
	hlen = CX_TCP_HLEN_MIN + (olen + 3) / 4 * 4;
	if (hlen > len)
		return -ENOSPC;

	cx_put_be16(p, t->sport);
	cx_put_be16(p + 2, t->dport);
	cx_put_be32(p + 4, t->seq);
	cx_put_be32(p + 8, t->ack);
	cx_put_be16(p + 12, (uint16_t)(hlen / 4 << 12 |
				       (unsigned int)t->rsvd << 9 | t->flags));
	cx_put_be16(p + 14, t->window);
	cx_put_be16(p + 16, t->csum);
	cx_put_be16(p + 18, t->urg);
	opts_encode(p + CX_TCP_HLEN_MIN, hlen - CX_TCP_HLEN_MIN, o);
	return (int)hlen;
}
