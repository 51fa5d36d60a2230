/*
 * RFC 7786 sender gauges for the guest marker: one TCP connection's view of
 * what it must declare, in bytes.
 *
 *   LEG  loss echo gauge      retransmitted bytes not yet re-echoed as L
 *   CEG  congestion echo gauge  ECN-fed-back bytes not yet re-echoed as E
 *   CSC  credit state counter   credit the sender believes the audit holds
 *
 * Everything here is header-inline on a plain struct of integers, with no
 * loops, no libc and one guarded unsigned 64-bit division (BPF_DIV), so
 * that the same code is unit-tested in
 * userspace and compiled into the marker's tc-BPF program (which #includes
 * this file; the caller holds the flow's lock). Sequence numbers are the
 * connection's 32-bit TCP sequence space and compare modulo 2^32 (RFC 9293
 * §3.4). Gauges never go negative: decreases floor at 0, which is the
 * RFC 7786 §5.5 reset of a negative gauge done at once rather than one RTT
 * later (the marker never sees its own audit, so a deficit would only ever
 * be carried, never repaid). Increases saturate at CX_GAUGE_MAX_BYTES.
 *
 * Caller sequence per connection: cx_gauge_init() on the first packet seen
 * (a SYN, or the first payload packet of a connection that predates the
 * marker), cx_gauge_send() per outgoing payload packet (a GSO packet is one
 * call for its whole payload), cx_gauge_ack() per incoming ACK,
 * cx_gauge_ce_count() where a connection provides exact CE counts.
 */
#ifndef CONEX_GAUGE_H
#define CONEX_GAUGE_H

#include <stdbool.h>
#include <stdint.h>

#include <conex/signal.h>

#if defined(__bpf__)
#define CX_GAUGE_INLINE static inline __attribute__((always_inline))
#else
#define CX_GAUGE_INLINE static inline
#endif

/* Far above any real gauge (a TB of undeclared congestion), far below 2^64. */
#define CX_GAUGE_MAX_BYTES	(1ULL << 40)

/* A SACK block or ACK advance larger than this is not believed. */
#define CX_GAUGE_MAX_SPAN_BYTES	(1U << 30)

/*
 * The window over which the share of sent bytes that carried C is
 * measured, for re-adding the credit of lost packets: once it holds this
 * many bytes, it and its C count are halved (a decaying window of about
 * 1-2 MB: many packets, well under a second of a 100 Mb/s flow).
 */
#define CX_GAUGE_WIN_BYTES	(1U << 20)

/*
 * Classic ECN: where the last segments that carried CWR began (every
 * payload packet does, cx_gauge_wants_cwr), newest last. Sixteen GSO
 * packets reach back over a flight at the RTTs and rates seen here; an
 * ACK further back than that falls back to counting all it delivered.
 */
#define CX_GAUGE_CWR_RING	16

/*
 * Test-only declaration policies for the auditor's tests (issue 4). Never
 * use them outside a testbed: each one under-declares congestion.
 */
enum cx_gauge_cheat {
	CX_GAUGE_HONEST = 0,
	CX_GAUGE_NOMARK,	/* X only: never L, E or C */
	CX_GAUGE_HALF,		/* LEG and CEG grow by half the congestion; L/E only on whole packets */
	CX_GAUGE_CREDITONLY,	/* only the initial credit, never L, E or later C */
	CX_GAUGE_MARKALL,	/* L, E and C on every packet: buys no way out */
	CX_GAUGE_CHEAT_MAX = CX_GAUGE_MARKALL,
};

/*
 * Credit policy (RFC 7786 §5.3). At flow start the audit holds nothing, so
 * the first init_credit_pkts payload segments carry C (default 5: half of
 * Linux's initial window of 10, the RFC's "half of the initial window").
 * Then, while in slow start (until the first congestion event), every
 * credit_every_pkts-th segment carries C (0: never) and C is also set
 * whenever CSC falls below half the flight, slow start's allowance. After
 * slow start, C is set on every packet while flight > CSC.
 */
struct cx_gauge_cfg {
	uint32_t init_credit_pkts;
	uint32_t credit_every_pkts;
	uint32_t cheat;			/* enum cx_gauge_cheat */
};

#define CX_GAUGE_INIT_CREDIT_PKTS	5
#define CX_GAUGE_CREDIT_EVERY_PKTS	4
#define CX_GAUGE_CFG_PKTS_MAX		1024

enum {
	CX_GAUGE_F_SLOW_START = 1U << 0,	/* no congestion event yet */
	CX_GAUGE_F_RTX = 1U << 1,		/* last_rtx_seq is valid */
	CX_GAUGE_F_ECN = 1U << 2,		/* classic ECN negotiated (RFC 3168) */
	CX_GAUGE_F_ACCECN = 1U << 3,		/* AccECN negotiated (RFC 9768) */
	CX_GAUGE_F_ACE_SYNC = 1U << 4,		/* ace holds a counter value */
};

/*
 * The ECN feedback a connection negotiated, from the ACE field (AE, CWR,
 * ECE as a 3-bit number, AE the high bit) of its SYN-ACK (RFC 9768 §3.1.2,
 * Table 2): 0b001 classic ECN; 0b010, 0b011, 0b100, 0b110 AccECN (the
 * value echoes the SYN's IP-ECN field); anything else no ECN.
 */
enum cx_gauge_ecn {
	CX_GAUGE_ECN_NONE = 0,
	CX_GAUGE_ECN_CLASSIC,
	CX_GAUGE_ECN_ACCECN,
};

/* AccECN counters' initial values (RFC 9768 §3.2.1) and widths. */
#define CX_GAUGE_ACE_INIT	5U
#define CX_GAUGE_ACE_MASK	7U
#define CX_GAUGE_ECEB_MASK	0xffffffU
#define CX_GAUGE_ECEB_HALF	0x800000U

struct cx_gauge {
	uint32_t snd_una;	/* highest cumulative ACK seen */
	uint32_t snd_max;	/* highest sequence sent, plus one */
	uint32_t sack_high;	/* end of the highest SACK block, >= snd_una */
	uint32_t sacked_bytes;	/* estimate of bytes SACKed above snd_una */
	uint32_t smss_bytes;	/* sender MSS, for dup-ACK ECE and exact counts */
	uint32_t last_rtx_seq;	/* start of the last retransmission */
	uint32_t pkts_sent;	/* payload segments sent, saturating */
	uint32_t credit_countdown;	/* segments to the next slow-start C */
	uint32_t flags;		/* CX_GAUGE_F_* */
	uint32_t debt_until;	/* leg_debt_bytes lapses once snd_una passes this */
	uint64_t leg_debt_bytes;	/* spurious L already sent (DSACK), to offset */
	uint64_t leg_bytes;
	uint64_t ceg_bytes;
	uint64_t leg_prepaid_bytes;	/* L sent beyond LEG, absorbs its next increases */
	uint64_t ceg_prepaid_bytes;	/* likewise for E and CEG */
	uint64_t csc_bytes;
	uint32_t win_bytes;	/* the decaying window: payload bytes sent */
	uint32_t win_c_bytes;	/* and those that carried C */
	uint32_t win_l_bytes;	/* L */
	uint32_t win_e_bytes;	/* E */
	uint64_t readd_c_bytes;	/* credit re-added for lost packets, cumulative */
	uint64_t readd_le_bytes;	/* L and E re-added for lost packets, cumulative */
	uint32_t ace;		/* AccECN: last ACE counter value, 0..7 */
	uint32_t eceb;		/* AccECN: CE payload bytes fed back, mod 2^24 */
	uint64_t ce_fed_bytes;	/* AccECN: CE bytes taken into CEG, cumulative */
	uint32_t cwr_seq[CX_GAUGE_CWR_RING];	/* classic: CWR segments' starts */
	uint32_t cwr_n;		/* how many were recorded, saturating */
};

/* What cx_gauge_ack() took from one ACK's SACK option (RFC 2018 §3). */
struct cx_gauge_sack {
	uint32_t nblocks;	/* blocks present, 0..2 are used */
	uint32_t start[2];	/* left edge: first sequence in the block */
	uint32_t end[2];	/* right edge: first sequence after it */
};

CX_GAUGE_INLINE bool cx_gauge_seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

CX_GAUGE_INLINE bool cx_gauge_seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(b - a) < 0;
}

CX_GAUGE_INLINE uint64_t cx_gauge_add(uint64_t gauge, uint64_t bytes)
{
	if (bytes > CX_GAUGE_MAX_BYTES - gauge)
		return CX_GAUGE_MAX_BYTES;
	return gauge + bytes;
}

CX_GAUGE_INLINE uint64_t cx_gauge_sub(uint64_t gauge, uint64_t bytes)
{
	return bytes > gauge ? 0 : gauge - bytes;
}

/*
 * A packet marks whole: L or E on a packet whose payload exceeds the
 * gauge declares the rest in advance (a GSO packet of 40 segments carries
 * its mark on every one). That excess is kept and absorbs the gauge's next
 * increases, so over a flow the declared bytes follow the congestion
 * rather than the packet sizes. It is at most one packet's payload: it
 * grows only while the gauge is positive, and the gauge grows only once
 * it is used up.
 */
CX_GAUGE_INLINE void cx_gauge__spend(uint64_t *gauge, uint64_t *prepaid,
				     uint32_t payload_bytes)
{
	if (payload_bytes > *gauge) {
		*prepaid = cx_gauge_add(*prepaid, payload_bytes - *gauge);
		*gauge = 0;
	} else {
		*gauge -= payload_bytes;
	}
}

CX_GAUGE_INLINE uint64_t cx_gauge__earn(uint64_t gauge, uint64_t *prepaid,
					uint64_t bytes)
{
	uint64_t p = bytes < *prepaid ? bytes : *prepaid;

	*prepaid -= p;
	return cx_gauge_add(gauge, bytes - p);
}

CX_GAUGE_INLINE void cx_gauge_cfg_default(struct cx_gauge_cfg *cfg)
{
	cfg->init_credit_pkts = CX_GAUGE_INIT_CREDIT_PKTS;
	cfg->credit_every_pkts = CX_GAUGE_CREDIT_EVERY_PKTS;
	cfg->cheat = CX_GAUGE_HONEST;
}

/* 0, or -EINVAL (22, spelled out: BPF programs have no errno.h). */
CX_GAUGE_INLINE int cx_gauge_cfg_check(const struct cx_gauge_cfg *cfg)
{
	if (cfg->init_credit_pkts > CX_GAUGE_CFG_PKTS_MAX ||
	    cfg->credit_every_pkts > CX_GAUGE_CFG_PKTS_MAX ||
	    cfg->cheat > CX_GAUGE_CHEAT_MAX)
		return -22;
	return 0;
}

/* snd_next: the first sequence the connection will send (ISN + 1 after a SYN). */
CX_GAUGE_INLINE void cx_gauge_init(struct cx_gauge *g,
				   const struct cx_gauge_cfg *cfg,
				   uint32_t snd_next, uint32_t smss_bytes)
{
	g->snd_una = snd_next;
	g->snd_max = snd_next;
	g->sack_high = snd_next;
	g->sacked_bytes = 0;
	g->smss_bytes = smss_bytes;
	g->last_rtx_seq = 0;
	g->pkts_sent = 0;
	g->credit_countdown = cfg->credit_every_pkts;
	g->flags = CX_GAUGE_F_SLOW_START;
	g->debt_until = snd_next;
	g->leg_debt_bytes = 0;
	g->leg_bytes = 0;
	g->ceg_bytes = 0;
	g->leg_prepaid_bytes = 0;
	g->ceg_prepaid_bytes = 0;
	g->csc_bytes = 0;
	g->win_bytes = 0;
	g->win_c_bytes = 0;
	g->win_l_bytes = 0;
	g->win_e_bytes = 0;
	g->readd_c_bytes = 0;
	g->readd_le_bytes = 0;
	g->ace = CX_GAUGE_ACE_INIT;
	g->eceb = 0;
	g->ce_fed_bytes = 0;
	g->cwr_n = 0;
}

/*
 * Where the segment holding sequence ack - 1 began, among the recorded
 * CWR starts: the greatest start before ack. 0 with *start set, or -1 if
 * the record does not reach back that far.
 */
CX_GAUGE_INLINE int cx_gauge__cwr_start(const struct cx_gauge *g, uint32_t ack,
					uint32_t *start)
{
	uint32_t i, n = g->cwr_n < CX_GAUGE_CWR_RING ? g->cwr_n : CX_GAUGE_CWR_RING;
	int found = -1;

#if defined(__bpf__)
#pragma unroll
#endif
	for (i = 0; i < CX_GAUGE_CWR_RING; i++) {
		uint32_t s = g->cwr_seq[i];

		if (i >= n || !cx_gauge_seq_before(s, ack))
			continue;
		if (found < 0 || cx_gauge_seq_after(s, *start)) {
			*start = s;
			found = 0;
		}
	}
	return found;
}

CX_GAUGE_INLINE int cx_gauge_synack_ecn(uint32_t ace)
{
	switch (ace & CX_GAUGE_ACE_MASK) {
	case 1:
		return CX_GAUGE_ECN_CLASSIC;
	case 2:
	case 3:
	case 4:
	case 6:
		return CX_GAUGE_ECN_ACCECN;
	default:
		return CX_GAUGE_ECN_NONE;
	}
}

/*
 * The feedback the connection negotiated, from its SYN-ACK's ACE field
 * (whichever end sent it). Call after cx_gauge_init(): AccECN counters
 * start at their initial values.
 */
CX_GAUGE_INLINE void cx_gauge_set_ecn(struct cx_gauge *g, int ecn)
{
	g->flags &= ~(uint32_t)(CX_GAUGE_F_ECN | CX_GAUGE_F_ACCECN |
				CX_GAUGE_F_ACE_SYNC);
	if (ecn == CX_GAUGE_ECN_CLASSIC)
		g->flags |= CX_GAUGE_F_ECN;
	else if (ecn == CX_GAUGE_ECN_ACCECN)
		g->flags |= CX_GAUGE_F_ACCECN;
	g->ace = CX_GAUGE_ACE_INIT;
	g->eceb = 0;
}

/*
 * Whether an outgoing payload segment should carry CWR. On a classic-ECN
 * connection every one does: the receiver echoes ECE from a CE mark until
 * it sees CWR (RFC 3168 §6.1.3), which the sender's TCP sends once per
 * round trip, so ECE covers about a round trip of data per mark and the
 * conservative rule (CEG += DeliveredData per ECE ACK) declares several
 * times the CE bytes. With CWR on every segment the receiver stops echoing
 * at the next segment, and ECE covers about the data that was marked.
 * Never on AccECN connections, where CWR is a bit of the ACE counter.
 */
CX_GAUGE_INLINE bool cx_gauge_wants_cwr(const struct cx_gauge *g)
{
	return (g->flags & CX_GAUGE_F_ECN) != 0;
}

/*
 * A congestion event of bytes (RFC 7786 §5.3): it consumes that much of
 * the credit the audit holds and ends slow start. The cheats declare less.
 */
CX_GAUGE_INLINE uint64_t cx_gauge__declared(const struct cx_gauge_cfg *cfg,
					    uint64_t bytes)
{
	if (cfg->cheat == CX_GAUGE_HALF)
		return bytes >> 1;
	if (cfg->cheat == CX_GAUGE_CREDITONLY || cfg->cheat == CX_GAUGE_NOMARK)
		return 0;
	return bytes;
}

CX_GAUGE_INLINE void cx_gauge__congested(struct cx_gauge *g, uint64_t bytes)
{
	g->csc_bytes = cx_gauge_sub(g->csc_bytes, bytes);
	g->flags &= ~(uint32_t)CX_GAUGE_F_SLOW_START;
}

/* Whether this packet carries C, before its payload is added to CSC. */
CX_GAUGE_INLINE bool cx_gauge__credit(struct cx_gauge *g,
				      const struct cx_gauge_cfg *cfg,
				      uint32_t segs, uint64_t flight_bytes)
{
	bool c = false;

	if (g->pkts_sent < cfg->init_credit_pkts)
		c = true;
	if (cfg->cheat == CX_GAUGE_CREDITONLY)
		return c;
	if (g->flags & CX_GAUGE_F_SLOW_START) {
		if (cfg->credit_every_pkts) {
			if (g->credit_countdown <= segs) {
				c = true;
				g->credit_countdown = cfg->credit_every_pkts;
			} else {
				g->credit_countdown -= segs;
			}
		}
		if (g->csc_bytes < flight_bytes >> 1)
			c = true;
	} else if (g->csc_bytes < flight_bytes) {
		c = true;
	}
	return c;
}

/* The share of bytes that carried a flag: bytes * win_x / win (0 if empty). */
CX_GAUGE_INLINE uint64_t cx_gauge__share(const struct cx_gauge *g,
					 uint32_t win_x_bytes, uint64_t bytes)
{
	if (g->win_bytes == 0)
		return 0;
	return bytes * win_x_bytes / g->win_bytes;
}

CX_GAUGE_INLINE uint64_t cx_gauge__c_share(const struct cx_gauge *g,
					   uint64_t bytes)
{
	return cx_gauge__share(g, g->win_c_bytes, bytes);
}

/*
 * Lost credit is re-added (docs/wire.md §5.6: lost marked packets may be
 * re-added to their gauge). A packet lost before the audit (a full
 * queue, a policer) takes its C with it: the audit counts the loss against
 * the flow's credit but never saw that credit, while CSC still counts it,
 * so the flow would run short of credit, the one balance the audit checks
 * at once. Which packets were lost is unknown, only how many bytes are
 * resent, so CSC gives up the C share of the recently sent bytes, and the
 * credit policy sends it again. A DSACK gives it back (the packet was not
 * lost). Lost L and E likewise: the audit counts the congestion they
 * re-echoed but never sees them, and with E as exact as the feedback
 * allows (AccECN; classic ECN back to the CWR start) there is no surplus
 * to cover them. A policer in front drops marked packets too (RFC 7837
 * §8: with p^2 against p for unmarked ones), so this share, taken as if
 * drops were blind to marks, over- rather than under-declares.
 */
CX_GAUGE_INLINE void cx_gauge__readd_credit(struct cx_gauge *g,
					    const struct cx_gauge_cfg *cfg,
					    uint32_t rtx_bytes)
{
	uint64_t c, l, e;

	if (cfg->cheat != CX_GAUGE_HONEST)
		return;
	c = cx_gauge__c_share(g, rtx_bytes);
	g->csc_bytes = cx_gauge_sub(g->csc_bytes, c);
	g->readd_c_bytes = cx_gauge_add(g->readd_c_bytes, c);
	l = cx_gauge__share(g, g->win_l_bytes, rtx_bytes);
	e = cx_gauge__share(g, g->win_e_bytes, rtx_bytes);
	g->leg_bytes = cx_gauge__earn(g->leg_bytes, &g->leg_prepaid_bytes, l);
	g->ceg_bytes = cx_gauge__earn(g->ceg_bytes, &g->ceg_prepaid_bytes, e);
	g->readd_le_bytes = cx_gauge_add(g->readd_le_bytes, l + e);
}

/* Count a sent packet into the window, halving the window when full. */
CX_GAUGE_INLINE void cx_gauge__window(struct cx_gauge *g, uint8_t bits,
				      uint32_t payload_bytes)
{
	if (g->win_bytes >= CX_GAUGE_WIN_BYTES) {
		g->win_bytes >>= 1;
		g->win_c_bytes >>= 1;
		g->win_l_bytes >>= 1;
		g->win_e_bytes >>= 1;
	}
	g->win_bytes += payload_bytes;
	if (bits & CX_SIG_C)
		g->win_c_bytes += payload_bytes;
	if (bits & CX_SIG_L)
		g->win_l_bytes += payload_bytes;
	if (bits & CX_SIG_E)
		g->win_e_bytes += payload_bytes;
}

/*
 * One outgoing payload packet: seq, payload_bytes (> 0) and the number of
 * segments it becomes (1 unless GSO). Bytes below snd_max are a
 * retransmission: they feed LEG (RFC 7786 §5.2), are a congestion event,
 * and take back the credit the lost packets probably carried.
 * Bytes below snd_una were already acknowledged (an ACK the marker saw
 * before the sender did): not a loss. A second retransmission of the same
 * sequence means losses continue and the audit may have lost its state, so
 * CSC is zeroed and credit is sent again for the whole flight (§5.3).
 * Returns the signal octet for the packet: CX_SIG_X, plus L while LEG > 0,
 * E while CEG > 0 (both if both; never deferred, §5.4), C per the credit
 * policy; each gauge drops by the payload of the packet that carries it
 * (what that leaves below zero is kept as prepaid, cx_gauge__spend).
 */
CX_GAUGE_INLINE uint8_t cx_gauge_send(struct cx_gauge *g,
				      const struct cx_gauge_cfg *cfg,
				      uint32_t seq, uint32_t payload_bytes,
				      uint32_t segs)
{
	uint32_t end = seq + payload_bytes, from, rtx_bytes = 0;
	uint64_t flight_bytes, declared, paid;
	uint8_t bits = CX_SIG_X;

	if (payload_bytes == 0 || payload_bytes > CX_GAUGE_MAX_SPAN_BYTES)
		return 0;
	if (segs == 0)
		segs = 1;

	if (cx_gauge_seq_before(seq, g->snd_max)) {
		from = cx_gauge_seq_before(seq, g->snd_una) ? g->snd_una : seq;
		if (cx_gauge_seq_before(from, end))
			rtx_bytes = (cx_gauge_seq_before(end, g->snd_max) ?
				     end : g->snd_max) - from;
	}
	if (rtx_bytes) {
		if ((g->flags & CX_GAUGE_F_RTX) && g->last_rtx_seq == seq)
			g->csc_bytes = 0;
		g->last_rtx_seq = seq;
		g->flags |= CX_GAUGE_F_RTX;
		declared = cx_gauge__declared(cfg, rtx_bytes);
		paid = declared < g->leg_debt_bytes ? declared : g->leg_debt_bytes;
		g->leg_debt_bytes -= paid;
		g->leg_bytes = cx_gauge__earn(g->leg_bytes, &g->leg_prepaid_bytes,
					      declared - paid);
		cx_gauge__congested(g, rtx_bytes);
		cx_gauge__readd_credit(g, cfg, rtx_bytes);
	}
	if (cx_gauge_seq_after(end, g->snd_max))
		g->snd_max = end;
	if (cx_gauge_wants_cwr(g)) {
		g->cwr_seq[g->cwr_n % CX_GAUGE_CWR_RING] = seq;
		if (g->cwr_n < UINT32_MAX)
			g->cwr_n++;
	}
	flight_bytes = g->snd_max - g->snd_una;

	if (cfg->cheat == CX_GAUGE_NOMARK)
		return bits;
	if (cfg->cheat == CX_GAUGE_MARKALL)
		return CX_SIG_X | CX_SIG_LEC;
	/*
	 * The half cheat marks only while a gauge holds a whole packet: an
	 * honest gauge rounds a part-packet up (§5.4), which would turn half
	 * of every single loss back into all of it.
	 */
	if (g->leg_bytes && (cfg->cheat != CX_GAUGE_HALF ||
			     g->leg_bytes >= payload_bytes)) {
		bits |= CX_SIG_L;
		cx_gauge__spend(&g->leg_bytes, &g->leg_prepaid_bytes, payload_bytes);
	}
	if (g->ceg_bytes && (cfg->cheat != CX_GAUGE_HALF ||
			     g->ceg_bytes >= payload_bytes)) {
		bits |= CX_SIG_E;
		cx_gauge__spend(&g->ceg_bytes, &g->ceg_prepaid_bytes, payload_bytes);
	}
	if (cx_gauge__credit(g, cfg, segs, flight_bytes)) {
		bits |= CX_SIG_C;
		g->csc_bytes = cx_gauge_add(g->csc_bytes, payload_bytes);
	}
	if (segs > UINT32_MAX - g->pkts_sent)
		g->pkts_sent = UINT32_MAX;
	else
		g->pkts_sent += segs;
	cx_gauge__window(g, bits, payload_bytes);
	return bits;
}

/*
 * DSACK (RFC 2883 §4): the first block lies at or below the cumulative ACK,
 * or inside the second block.
 */
CX_GAUGE_INLINE bool cx_gauge_sack_is_dsack(uint32_t ack,
					    const struct cx_gauge_sack *sack)
{
	uint32_t s = sack->start[0], e = sack->end[0];

	if (sack->nblocks == 0 || !cx_gauge_seq_after(e, s))
		return false;
	if (!cx_gauge_seq_after(e, ack))
		return true;
	return sack->nblocks > 1 &&
	       cx_gauge_seq_after(sack->end[1], sack->start[1]) &&
	       !cx_gauge_seq_before(s, sack->start[1]) &&
	       !cx_gauge_seq_after(e, sack->end[1]);
}

/*
 * One incoming ACK (not a SYN: a SYN-ACK's ECE negotiates ECN, RFC 3168
 * §6.1.1). Returns DeliveredData (RFC 7786 §5.2, after RFC 6937): bytes
 * newly acknowledged plus the change in SACKed bytes.
 *
 * SACK accounting without a scoreboard: sack_high is the highest SACKed
 * edge, sacked_bytes the bytes SACKed between snd_una and it. A first block
 * reaching past sack_high adds the part above it; a cumulative ACK removes
 * what it covers (all of it once the ACK reaches sack_high, else at most
 * the ACK's advance). Bytes that a partial ACK covers and that were counted
 * as SACKed are thus not counted twice; the cost is that a filled hole
 * (a retransmission, sent Not-ECT per RFC 3168 §6.1.5, so never CE) may go
 * uncounted.
 *
 * DSACK (RFC 2883 §4): a first block below the cumulative ACK, or inside
 * the second block, reports a duplicate: the retransmission was spurious,
 * so LEG drops by its size (RFC 7786 §5.2), into debt if need be.
 *
 * ECE on an ACK of a connection whose negotiation the marker did not see
 * (count unknown): CEG += DeliveredData, RFC 7786's conservative rule; a
 * duplicate ACK (nothing delivered) counts one SMSS. On a classic-ECN
 * connection the marker sets CWR on every packet (cx_gauge_wants_cwr),
 * so the receiver's ECE covers only what arrived since the start of the
 * packet holding ack - 1: DeliveredData, but no further back than that
 * start (while the record of CWR starts reaches it). Ignored on AccECN
 * connections (cx_gauge_accecn reads their counters).
 */
CX_GAUGE_INLINE uint32_t cx_gauge_ack(struct cx_gauge *g,
				      const struct cx_gauge_cfg *cfg,
				      uint32_t ack, bool ece,
				      const struct cx_gauge_sack *sack)
{
	uint32_t adv = 0, removed = 0, added = 0, s, e, span, cwr_start = 0;
	uint64_t delivered, ece_bytes;

	if (cx_gauge_seq_after(ack, g->snd_una)) {
		adv = ack - g->snd_una;
		if (adv > CX_GAUGE_MAX_SPAN_BYTES)
			adv = 0;
	}
	if (adv) {
		g->snd_una = ack;
		if (cx_gauge_seq_after(ack, g->snd_max))
			g->snd_max = ack;
		if (!cx_gauge_seq_before(ack, g->sack_high)) {
			removed = g->sacked_bytes;
			g->sack_high = ack;
		} else {
			removed = adv < g->sacked_bytes ? adv : g->sacked_bytes;
		}
		g->sacked_bytes -= removed;
		if (!cx_gauge_seq_before(ack, g->debt_until))
			g->leg_debt_bytes = 0;
	}

	if (sack && sack->nblocks > 0) {
		s = sack->start[0];
		e = sack->end[0];
		span = e - s;
		if (!cx_gauge_seq_after(e, s) || span > CX_GAUGE_MAX_SPAN_BYTES) {
			/* empty or absurd block: ignored */
		} else if (cx_gauge_sack_is_dsack(ack, sack)) {
			/*
			 * The L for it normally left with the retransmission
			 * itself, so what LEG cannot absorb becomes a debt
			 * that later losses pay off: the negative gauge of
			 * RFC 7786 §5.5. It lapses once everything in flight
			 * now is acknowledged (about one RTT).
			 */
			/* not lost after all: its credit and E did arrive */
			if (cfg->cheat == CX_GAUGE_HONEST) {
				g->csc_bytes = cx_gauge_add(g->csc_bytes,
							    cx_gauge__c_share(g, span));
				g->ceg_bytes = cx_gauge_sub(g->ceg_bytes,
							    cx_gauge__share(g, g->win_e_bytes,
									    span));
			}
			if (g->leg_bytes >= span) {
				g->leg_bytes -= span;
			} else {
				g->leg_debt_bytes = cx_gauge_add(g->leg_debt_bytes,
								 span - g->leg_bytes);
				g->leg_bytes = 0;
				g->debt_until = g->snd_max;
			}
		} else if (cx_gauge_seq_after(e, g->sack_high) &&
			   !cx_gauge_seq_after(e, g->snd_max)) {
			if (cx_gauge_seq_after(s, g->sack_high))
				added = span;
			else
				added = e - g->sack_high;
			g->sack_high = e;
			g->sacked_bytes += added;
			if (g->sacked_bytes > CX_GAUGE_MAX_SPAN_BYTES)
				g->sacked_bytes = CX_GAUGE_MAX_SPAN_BYTES;
		}
	}

	delivered = (uint64_t)adv - removed + added;
	/* On AccECN connections ECE is a bit of the ACE counter, not a signal. */
	if (ece && !(g->flags & CX_GAUGE_F_ACCECN)) {
		ece_bytes = delivered ? delivered : g->smss_bytes;
		/*
		 * With CWR on every packet the receiver's ECE reports CE in
		 * what it got since the last CWR: the packet holding ack - 1,
		 * from its start. Count no further back than that.
		 */
		if ((g->flags & CX_GAUGE_F_ECN) && delivered &&
		    cx_gauge__cwr_start(g, ack, &cwr_start) == 0 &&
		    ece_bytes > ack - cwr_start)
			ece_bytes = ack - cwr_start;
		g->ceg_bytes = cx_gauge__earn(g->ceg_bytes, &g->ceg_prepaid_bytes,
					      cx_gauge__declared(cfg, ece_bytes));
		cx_gauge__congested(g, ece_bytes);
	}
	return (uint32_t)delivered;
}

/*
 * Exact CE feedback (AccECN-style, RFC 7786 §5.2):
 * CEG += min(SMSS * new_ce_pkts, delivered_bytes). Returns the bytes the
 * event accounted.
 */
CX_GAUGE_INLINE uint64_t cx_gauge_ce_count(struct cx_gauge *g,
					   const struct cx_gauge_cfg *cfg,
					   uint32_t new_ce_pkts,
					   uint32_t delivered_bytes)
{
	uint64_t bytes = (uint64_t)g->smss_bytes * new_ce_pkts;

	if (bytes > delivered_bytes)
		bytes = delivered_bytes;
	if (bytes == 0)
		return 0;
	g->ceg_bytes = cx_gauge__earn(g->ceg_bytes, &g->ceg_prepaid_bytes,
				      cx_gauge__declared(cfg, bytes));
	cx_gauge__congested(g, bytes);
	return bytes;
}


/*
 * AccECN feedback on one ACK (RFC 9768 §3.2), after cx_gauge_ack() gave
 * its DeliveredData. ace: the ACK's ACE field; has_eceb and eceb: the
 * ECEB field of an AccECN option (kind 172 or 174), the CE-marked payload
 * bytes the receiver counted, modulo 2^24.
 *
 * With ECEB the byte count is exact: CEG grows by its increase. Without
 * it (no option, or SACK crowded it out) the ACE increase counts CE
 * packets, and CEG grows by min(SMSS * packets, DeliveredData), RFC
 * 7786 §5.2's rule for counts; that estimate is also added to the
 * expected ECEB, so that the next option counts only what it did not
 * cover, and an estimate that ran ahead of the next option is taken back
 * from CEG. The first ACK that acknowledges no data (the end of the
 * handshake, whose ACE echoes the SYN-ACK's IP-ECN field, §3.2.2.1)
 * starts the ACE counter instead of feeding it. Returns the CE bytes
 * taken into CEG (before a cheat policy halves them).
 */
CX_GAUGE_INLINE uint64_t cx_gauge_accecn(struct cx_gauge *g,
					 const struct cx_gauge_cfg *cfg,
					 uint32_t ace, bool has_eceb,
					 uint32_t eceb, uint32_t delivered_bytes)
{
	uint32_t d_pkts, d_bytes;
	uint64_t bytes;

	if (!(g->flags & CX_GAUGE_F_ACCECN))
		return 0;
	ace &= CX_GAUGE_ACE_MASK;
	if (!(g->flags & CX_GAUGE_F_ACE_SYNC)) {
		g->flags |= CX_GAUGE_F_ACE_SYNC;
		if (delivered_bytes == 0 && g->snd_max == g->snd_una) {
			g->ace = CX_GAUGE_ACE_INIT;
			return 0;
		}
	}
	d_pkts = (ace - g->ace) & CX_GAUGE_ACE_MASK;
	g->ace = ace;
	if (has_eceb) {
		d_bytes = (eceb - g->eceb) & CX_GAUGE_ECEB_MASK;
		g->eceb = eceb & CX_GAUGE_ECEB_MASK;
		if (d_bytes >= CX_GAUGE_ECEB_HALF) {
			/* The ACE estimate ran ahead: give back the excess. */
			g->ceg_bytes = cx_gauge_sub(g->ceg_bytes,
						    CX_GAUGE_ECEB_MASK + 1 - d_bytes);
			return 0;
		}
		bytes = d_bytes;
	} else {
		bytes = (uint64_t)g->smss_bytes * d_pkts;
		if (bytes > delivered_bytes)
			bytes = delivered_bytes;
		g->eceb = (g->eceb + (uint32_t)bytes) & CX_GAUGE_ECEB_MASK;
	}
	if (bytes == 0)
		return 0;
	g->ce_fed_bytes = cx_gauge_add(g->ce_fed_bytes, bytes);
	g->ceg_bytes = cx_gauge__earn(g->ceg_bytes, &g->ceg_prepaid_bytes,
				      cx_gauge__declared(cfg, bytes));
	cx_gauge__congested(g, bytes);
	return bytes;
}


#endif
