/*
 * What a tenant's ConEx-Marked packets cost: each byte of congestion once.
 *
 * An honest RFC 7786 sender declares every congestion event twice: as
 * re-echo (L for loss, E for ECN) and, as the event consumes the credit
 * the audit holds, as new credit (C) that replaces it. Summing L + E + C
 * charges it twice. Charging only re-echo makes credit free (and credit
 * creates audit state); charging only credit makes re-echo free.
 *
 * Rule: per tenant and per window of window_ns, the charge is
 * max(sum of C bytes, sum of L + E bytes) passed in the window. It is
 * charged packet by packet as the increase of that maximum, so the
 * bucket follows the tenant at once and a window's charge never goes
 * back. An honest flow's C tracks its L + E (credit is topped up as
 * congestion consumes it), so it pays its congestion-volume once, plus
 * the credit its flows need at start. A sender gains nothing by leaving
 * one kind out: the maximum is at least either sum, and the audit
 * sanctions the missing kind (negative credit, or re-echo short of the
 * congestion it sees). A sender that splits the kinds over windows pays
 * both.
 *
 * Header-inline on a plain struct of integers (as conex/gauge.h), so the
 * same rule can run in userspace, in tests and in a BPF program.
 */
#ifndef CONEX_CHARGE_H
#define CONEX_CHARGE_H

#include <stdint.h>

#if defined(__bpf__)
#define CX_CHARGE_INLINE static inline __attribute__((always_inline))
#else
#define CX_CHARGE_INLINE static inline
#endif

/*
 * One second: many congestion events and round trips at data-centre RTTs
 * (0.1-10 ms), so the credit that replaces an event's re-echo, sent as
 * the flight regrows after the reduction, lands in the same window.
 */
#define CX_CHARGE_WINDOW_NS	(1000ULL * 1000 * 1000)

/* Window sums saturate here, far above a second of any real link. */
#define CX_CHARGE_MAX_BYTES	(1ULL << 62)

struct cx_charge {
	uint64_t start_ns;	/* the current window began here */
	uint64_t credit_bytes;	/* C bytes passed in the window */
	uint64_t reecho_bytes;	/* L + E bytes passed in the window */
	uint64_t forgiven_bytes;	/* of the L, re-echoes of the enforcer's own drops */
	uint64_t charged_bytes;	/* charged in the window so far */
};

CX_CHARGE_INLINE void cx_charge_init(struct cx_charge *w, uint64_t now_ns)
{
	w->start_ns = now_ns;
	w->credit_bytes = 0;
	w->reecho_bytes = 0;
	w->forgiven_bytes = 0;
	w->charged_bytes = 0;
}

CX_CHARGE_INLINE uint64_t cx_charge__max(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

CX_CHARGE_INLINE uint64_t cx_charge__add(uint64_t sum, uint64_t bytes)
{
	if (bytes > CX_CHARGE_MAX_BYTES - sum)
		return CX_CHARGE_MAX_BYTES;
	return sum + bytes;
}

/*
 * A passed packet's declarations: reecho_bytes counted once per L and E
 * flag, credit_bytes once for C; forgiven_bytes (at most reecho_bytes) of
 * its L re-echo a loss the enforcer itself caused by dropping a packet.
 * Such a loss congested nobody, yet an honest sender declares it twice
 * like any other (L, and the C that replaces the credit it consumed), so
 * it comes off the window's maximum once. Returns the bytes to charge
 * now: the window's max(C, L+E) less its forgiven bytes, less what the
 * window was charged already (never negative: a charge is not taken
 * back). A clock that steps back starts a new window.
 */
CX_CHARGE_INLINE uint64_t cx_charge_add(struct cx_charge *w,
					uint64_t reecho_bytes,
					uint64_t credit_bytes,
					uint64_t forgiven_bytes,
					uint64_t window_ns, uint64_t now_ns)
{
	uint64_t target, charge;

	if (now_ns < w->start_ns || now_ns - w->start_ns >= window_ns)
		cx_charge_init(w, now_ns);
	if (forgiven_bytes > reecho_bytes)
		forgiven_bytes = reecho_bytes;
	w->credit_bytes = cx_charge__add(w->credit_bytes, credit_bytes);
	w->reecho_bytes = cx_charge__add(w->reecho_bytes, reecho_bytes);
	w->forgiven_bytes = cx_charge__add(w->forgiven_bytes, forgiven_bytes);
	target = cx_charge__max(w->credit_bytes, w->reecho_bytes);
	target = target > w->forgiven_bytes ? target - w->forgiven_bytes : 0;
	charge = target > w->charged_bytes ? target - w->charged_bytes : 0;
	w->charged_bytes += charge;
	return charge;
}

#endif
