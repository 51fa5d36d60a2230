/*
 * cx_tcp_decode on arbitrary bytes. Invariants: errors are -ENODATA or
 * -EBADMSG only; a decoded header lies within the input and its option
 * summary is consistent; encode(decode(x)) fits in no more bytes than x's
 * header, decodes to the same fields, and re-encodes to the same bytes.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <conex/tcp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const struct cx_tcp *a, const struct cx_tcp *b)
{
	unsigned int i;

	if (a->sport != b->sport || a->dport != b->dport ||
	    a->seq != b->seq || a->ack != b->ack || a->flags != b->flags ||
	    a->rsvd != b->rsvd || a->window != b->window ||
	    a->csum != b->csum || a->urg != b->urg)
		return 0;
	if (a->opt.present != b->opt.present || a->opt.mss != b->opt.mss ||
	    a->opt.wscale != b->opt.wscale || a->opt.sack_n != b->opt.sack_n ||
	    a->opt.tsval != b->opt.tsval || a->opt.tsecr != b->opt.tsecr)
		return 0;
	for (i = 0; i < CX_TCP_SACK_MAX; i++)
		if (a->opt.sack[i].left != b->opt.sack[i].left ||
		    a->opt.sack[i].right != b->opt.sack[i].right)
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t b1[CX_TCP_HLEN_MAX], b2[CX_TCP_HLEN_MAX];
	struct cx_tcp t, t1, t2;
	int ret, r1, r2;

	ret = cx_tcp_decode(data, size, &t);
	if (ret < 0) {
		if (ret != -ENODATA && ret != -EBADMSG)
			__builtin_trap();
		return 0;
	}
	if (ret != t.hlen || ret < CX_TCP_HLEN_MIN || ret > CX_TCP_HLEN_MAX ||
	    ret % 4 || (size_t)ret > size)
		__builtin_trap();
	if (t.flags & ~CX_TCP_F_ALL || t.rsvd > 7 ||
	    t.opt.present & ~CX_TCP_OPT_F_ALL ||
	    t.opt.sack_n > CX_TCP_SACK_MAX ||
	    !(t.opt.present & CX_TCP_OPT_F_SACK) != !t.opt.sack_n)
		__builtin_trap();

	/* The header alone decodes the same. */
	if (cx_tcp_decode(data, (size_t)ret, &t1) != ret || !same(&t, &t1))
		__builtin_trap();

	r1 = cx_tcp_encode(b1, sizeof(b1), &t);
	if (r1 < CX_TCP_HLEN_MIN || r1 > ret)
		__builtin_trap();
	if (cx_tcp_decode(b1, (size_t)r1, &t1) != r1 || !same(&t, &t1) ||
	    t1.opt.unknown_n)
		__builtin_trap();
	r2 = cx_tcp_encode(b2, sizeof(b2), &t1);
	if (r2 != r1 || memcmp(b1, b2, (size_t)r1))
		__builtin_trap();
	if (cx_tcp_decode(b2, (size_t)r2, &t2) != r2 || !same(&t1, &t2))
		__builtin_trap();
	return 0;
}
