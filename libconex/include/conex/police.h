/*
 * ConEx congestion policer (RFC 7713 §5.4.3, RFC 6789 §3.1; docs/wire.md §4):
 * the per-tenant decision of conex-policer. Pure: one caller-owned struct
 * per tenant, no allocation, time (a monotonic clock, ns) and randomness
 * come in as arguments, so equal inputs give equal verdicts.
 *
 * Two buckets, in bytes of congestion:
 *
 *   main  fill rate: the allowance (mode LOCAL), allowance * share_ppm / 1e6
 *         (SHARE) or nothing (BANK: tokens only from cx_police_grant);
 *         depth burst_bytes; may go into debt down to -burst_bytes.
 *   peak  fill rate peak_bps, depth peak_burst_bytes, debt down to
 *         -peak_burst_bytes: bounds how fast a saved-up main bucket may
 *         be spent.
 *
 * Both are drained by the charge of each passed packet: its re-echo (L, E)
 * and credit (C) bytes, counted once per flag (RFC 7837 §4), through the
 * once-only rule of conex/charge.h (the larger of a window's credit and
 * re-echo).
 * The main bucket is also drained by tunnel feedback (CE counted at the
 * far end, docs/wire.md §7), which arrives in lumps; the peak bucket is not,
 * because a lump's size reflects the feedback period, not how fast the
 * tenant spends.
 *
 * A tenant is "over" while either level is <= 0 (whole bytes). Its drop
 * probability p (0..1, reported in ppm) rises at 1/ramp_ns per ns while
 * over and falls at the same slope while not, floored at 0 and capped at
 * 1. So p is a continuous, piecewise-linear function of time (between
 * two calls 1 us apart it moves by at most 1e9 / ramp_ns ppm), it never
 * leaves 0 while the tenant stays within its allowance, and there is no
 * cliff when the bucket refills: p runs down over at most ramp_ns. The p
 * that drops is the smaller of that ramp and a cap from the debt: 0 with
 * no debt, rising linearly to 1 at a debt of half the bucket's depth
 * (main or peak, whichever allows more). So a tenant that responds and
 * pays its debt down sees p fall with it at once, rather than meeting a
 * wall of drops for as long as the debt takes to refill (TCP timeouts,
 * credit re-sent for whole flights: a lock-out in all but name); an
 * unresponsive one still meets the p it needs, at a debt of that fraction
 * of half the depth. An unmarked packet is dropped with that probability,
 * a ConEx-Marked one (any L, E or C) with p^2: RFC 7837 §8 drops
 * unmarked packets first, and a dropped packet's declarations never reach
 * the audit downstream, which would find the honest flow short by them.
 * Marking more buys no way out: marked bytes drain the bucket, so a
 * tenant that marks everything runs into debt at its full rate, and p and
 * p^2 reach 1.
 * Against an unresponsive tenant spending R > allowance, p (p^2 if it
 * marks every packet) hunts around 1 - allowance / R rather than settling (a standard deviation of 0.1 to
 * 0.25 in test_police's simulations), because p integrates time over and
 * the level integrates p; what passes still averages the allowance. A
 * damping term would have to follow the level, which moves in steps of a
 * packet's marks or a feedback lump, and p would no longer be continuous.
 *
 * Drops do not drain. A dropped packet congests nobody downstream, and
 * the audit never sees its marks, so the sender's gauges re-declare them
 * on a later packet (RFC 7786; docs/wire.md §5), which is charged then;
 * charging the dropped copy as well would count them twice and would hold
 * an unresponsive tenant below its allowance instead of at it.
 *
 * Debt. A drain beyond empty is remembered down to -burst_bytes and the
 * rest is forgotten (counted in debt_capped_bytes); the peak bucket
 * likewise down to -peak_burst_bytes (10 ms of peak rate with the
 * defaults). So in LOCAL mode a lump of feedback, however large, leaves
 * the tenant over for at most (burst_bytes + 1) * 8 / allowance_bps
 * seconds after the last drain (1 s with the defaults), and p is 0 again
 * at most ramp_ns after that: no lock-out. In SHARE mode the same at the
 * shared rate; in BANK mode recovery is as fast as the bank grants.
 */
#ifndef CONEX_POLICE_H
#define CONEX_POLICE_H

#include <stdbool.h>
#include <stdint.h>

#include <conex/charge.h>
#include <conex/tb.h>

/*
 * Defaults (cx_police_cfg_default).
 *
 * allowance: 1 Mbit/s of congestion. On the testbed's 100 Mbit/s
 * bottleneck a tenant's TCP flows see well under 1 % marking, so this
 * lets a tenant fill the link alone and only binds on one that keeps a
 * shared queue congested.
 *
 * burst: one second of the allowance. It absorbs a 100 ms feedback lump
 * at ten times the allowance, and the credit (C) a few hundred new flows
 * declare at start (docs/wire.md §5.5: half an initial window each).
 *
 * peak_bps 0: ten times the allowance. peak_burst_bytes 0: a tenth of
 * the burst, at least CX_POLICE_BURST_MIN_BYTES. The peak bucket acts
 * through the same ramp as the main one: spending faster than the peak
 * rate for longer than peak_burst / (spend - peak) empties it and starts
 * the sanction while the main bucket still holds tokens, so a saved-up
 * bucket is spent at about the peak rate (0.9 * burst in about 90 ms with
 * these defaults), not in one instant.
 *
 * ramp: 100 ms from p = 0 to p = 1. A DC path's RTT is 0.1 to 1 ms, the
 * testbed's a few ms with a standing queue. A TCP tenant that responds to
 * drops reacts within one RTT, when p is still 1e9 / ramp_ns ppm per
 * microsecond of overspend, i.e. about 1 % after 1 ms: one drop per
 * window of a hundred packets, which halves it, so p stays at a few
 * percent. An unresponsive tenant is past 50 % within about 50 ms, so its
 * overspend is bounded to roughly half a ramp of excess. It also spans a
 * feedback period (about 100 ms), so one lump that empties the bucket
 * and is earned back before the next one raises p only a little.
 *
 * share: the whole allowance. When the bank is lost each host falls back
 * to LOCAL-like policing: a tenant spread over n hosts may then spend up
 * to n allowances, but one concentrated on this host is not starved; the
 * daemon lowers the share when it knows the spread.
 */
#define CX_POLICE_ALLOWANCE_DEFAULT_BPS	1000000ULL
#define CX_POLICE_BURST_DEFAULT_BYTES	(CX_POLICE_ALLOWANCE_DEFAULT_BPS / 8)
#define CX_POLICE_PEAK_FACTOR		10
#define CX_POLICE_PEAK_BURST_DIVISOR	10
#define CX_POLICE_RAMP_DEFAULT_NS	(100ULL * 1000 * 1000)
#define CX_POLICE_SHARE_DEFAULT_PPM	1000000U

/*
 * Validation bounds (cx_police_cfg_check). A zero allowance, share or
 * ramp is rejected: the no-lock-out bound above needs a refill and a
 * finite slope. A burst below one full-size packet would be emptied by
 * every marked packet. 2 * burst must fit a struct cx_tb (the main bucket
 * holds the debt range too). Rates up to 1 Tbit/s of congestion (10 for
 * the peak) keep allowance * share_ppm within 64 bits.
 */
#define CX_POLICE_ALLOWANCE_MAX_BPS	1000000000000ULL
#define CX_POLICE_PEAK_MAX_BPS		(CX_POLICE_PEAK_FACTOR * CX_POLICE_ALLOWANCE_MAX_BPS)
#define CX_POLICE_BURST_MIN_BYTES	1500ULL
#define CX_POLICE_BURST_MAX_BYTES	(1ULL << 30)
#define CX_POLICE_RAMP_MIN_NS		(1000ULL * 1000)
#define CX_POLICE_RAMP_MAX_NS		(60ULL * 1000 * 1000 * 1000)
#define CX_POLICE_PPM			1000000U

struct cx_police_cfg {
	uint64_t allowance_bps;		/* congestion allowance, bit/s */
	uint64_t burst_bytes;		/* main depth, and the debt bound */
	uint64_t peak_bps;		/* 0: CX_POLICE_PEAK_FACTOR * allowance */
	uint64_t peak_burst_bytes;	/* 0: burst / 10, >= CX_POLICE_BURST_MIN_BYTES */
	uint64_t ramp_ns;		/* time for p to go from 0 to 1 while over */
	uint32_t share_ppm;		/* SHARE mode's fraction of the allowance */
};

/* Where the main bucket's tokens come from; switchable at run time. */
enum cx_police_mode {
	CX_POLICE_LOCAL = 0,	/* refills at the allowance (no token bank) */
	CX_POLICE_BANK,		/* no refill; tokens only from cx_police_grant */
	CX_POLICE_SHARE,	/* refills at allowance * share_ppm / 1e6 (bank lost) */
	CX_POLICE_MODE_MAX = CX_POLICE_SHARE,
};

enum cx_police_verdict {
	CX_POLICE_PASS = 0,
	CX_POLICE_DROP = 1,
};

/* Byte counters saturate at UINT64_MAX. */
struct cx_police_counters {
	uint64_t packets;
	uint64_t bytes;
	uint64_t drops;
	uint64_t dropped_bytes;
	uint64_t reecho_bytes;		/* L + E declared by passed packets */
	uint64_t credit_bytes;		/* C declared by passed packets */
	uint64_t charged_bytes;		/* drained for them (conex/charge.h) */
	uint64_t dropped_marked_bytes;	/* L + E + C of dropped packets, not drained */
	uint64_t feedback_bytes;	/* drained by cx_police_drain */
	uint64_t debt_capped_bytes;	/* drained beyond -burst, forgotten */
	uint64_t granted_bytes;		/* received by cx_police_grant */
	uint64_t grant_excess_bytes;	/* of those, beyond the depth (dropped) */
	uint64_t over_ns;		/* time spent over */
};

/*
 * One tenant. Fields are read-only for callers (counters included); each
 * bucket's cx_tb is twice its depth and holds level + depth, so the
 * cx_tb's floor and cap are the debt bound and the depth.
 */
struct cx_police {
	struct cx_police_cfg cfg;	/* as given (0s unresolved) */
	struct cx_tb main;		/* 2 * burst_bytes, holds level + burst */
	struct cx_tb peak;		/* resolved peak rate, 2 * peak depth */
	uint64_t p_ns;			/* p = p_ns / cfg.ramp_ns, 0..ramp_ns */
	uint64_t last_ns;		/* main, peak and p are up to date here */
	struct cx_charge charge;	/* this window's declarations */
	uint32_t mode;			/* enum cx_police_mode */
	struct cx_police_counters c;
};

void cx_police_cfg_default(struct cx_police_cfg *cfg);

/* 0 if every field is within the bounds above, else -EINVAL. */
int cx_police_cfg_check(const struct cx_police_cfg *cfg);

/*
 * Both buckets start full in every mode: a tenant is not sanctioned
 * before it has congested anyone (in BANK mode the first burst is this
 * host's float). -EINVAL for a bad cfg or mode; *pol is then untouched.
 */
int cx_police_init(struct cx_police *pol, const struct cx_police_cfg *cfg,
		   int mode, uint64_t now_ns);

/*
 * New allowance, burst, peak, ramp or share from now_ns. Keeps the level
 * (whole bytes, clamped to [-burst, burst] of the new cfg), the peak level
 * (clamped to the new peak depth), p (in ppm) and the mode. -EINVAL for a
 * bad cfg, and nothing changes.
 */
int cx_police_set_cfg(struct cx_police *pol, const struct cx_police_cfg *cfg,
		      uint64_t now_ns);

/*
 * A tenant's state as a previous run left it (a restart must not refill
 * every bucket): main and peak levels in whole bytes (clamped to their
 * ranges) and p in ppm, at now_ns. The charge window starts afresh.
 * -EINVAL for a p above CX_POLICE_PPM, and nothing changes.
 */
int cx_police_restore(struct cx_police *pol, int64_t level_bytes,
		      int64_t peak_level_bytes, uint32_t p_ppm, uint64_t now_ns);

/* Switches the fill mode at now_ns; tokens and p are kept. -EINVAL if bad. */
int cx_police_set_mode(struct cx_police *pol, int mode, uint64_t now_ns);

/*
 * One packet of the tenant: pkt_bytes on the wire; reecho_bytes its bytes
 * once per L and E flag (at most 2 * pkt_bytes), credit_bytes once for C
 * (at most pkt_bytes); both 0 for an unmarked packet; forgiven_bytes
 * (at most reecho_bytes) of the L re-echo the policer's own drops
 * (conex/charge.h takes them off the charge). rand: a uniform
 * 32-bit random value. Returns CX_POLICE_PASS or CX_POLICE_DROP; -EINVAL
 * (nothing counted) if a count is too large. A passed packet is charged
 * by cx_charge_add() over CX_CHARGE_WINDOW_NS.
 */
int cx_police_packet(struct cx_police *pol, uint64_t reecho_bytes,
		     uint64_t credit_bytes, uint64_t forgiven_bytes,
		     uint32_t pkt_bytes, uint32_t rand, uint64_t now_ns);

/* Feedback CE bytes from the tunnel egress: drains the main bucket only. */
void cx_police_drain(struct cx_police *pol, uint64_t bytes, uint64_t now_ns);

/*
 * Tokens from the bank, in any mode (a reply may land just after a switch
 * away from BANK). Returns the bytes beyond the depth, which were not
 * kept: the caller may hand them back to the bank.
 */
uint64_t cx_police_grant(struct cx_police *pol, uint64_t bytes,
			 uint64_t now_ns);

/*
 * BANK mode: bytes to request from the bank, burst - level once the level
 * is below burst / 2 (low water), else 0; always 0 in the other modes.
 * A pure function of the level: the caller keeps one request in flight.
 */
uint64_t cx_police_want_bytes(const struct cx_police *pol, uint64_t now_ns);

/* Main bucket level in whole bytes, in [-burst, burst]; < 0 is debt. */
int64_t cx_police_level_bytes(const struct cx_police *pol, uint64_t now_ns);

/* Peak bucket level in whole bytes, in [-peak burst, peak burst]. */
int64_t cx_police_peak_level_bytes(const struct cx_police *pol,
				   uint64_t now_ns);

bool cx_police_is_over(const struct cx_police *pol, uint64_t now_ns);

/* Drop probability at now_ns, 0..CX_POLICE_PPM. */
uint32_t cx_police_drop_ppm(const struct cx_police *pol, uint64_t now_ns);

#endif
