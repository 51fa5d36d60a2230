/*
 * ConEx signals (RFC 7713 §2.1) as carried on the wire. The same four bits,
 * in the same order, are used by the IPv6 CDO data octet (RFC 7837 §3) and by
 * the project's IPv4 ID encoding (bits 15..12 of the ID, docs/wire.md §3).
 */
#ifndef CONEX_SIGNAL_H
#define CONEX_SIGNAL_H

#include <stdint.h>

enum {
	CX_SIG_X = 0x80,	/* ConEx-capable */
	CX_SIG_L = 0x40,	/* re-echo loss */
	CX_SIG_E = 0x20,	/* re-echo ECN */
	CX_SIG_C = 0x10,	/* credit */
	CX_SIG_RES = 0x0f,	/* reserved: sent as 0, ignored on receipt */
	CX_SIG_LEC = CX_SIG_L | CX_SIG_E | CX_SIG_C,
};

/*
 * Classification of one packet (RFC 7713 §2.1). Only X=1 packets with at
 * least one of L/E/C are ConEx-Marked; X=0 means L/E/C are ignored.
 */
enum cx_sig_class {
	CX_NOT_CONEX = 0,
	CX_CONEX_NOT_MARKED,	/* X only */
	CX_CONEX_MARKED,	/* X and any of L, E, C */
};

static inline enum cx_sig_class cx_sig_classify(uint8_t bits)
{
	if (!(bits & CX_SIG_X))
		return CX_NOT_CONEX;
	return (bits & CX_SIG_LEC) ? CX_CONEX_MARKED : CX_CONEX_NOT_MARKED;
}

#endif
