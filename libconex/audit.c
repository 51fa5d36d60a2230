/*
 * ConEx audit decisions (RFC 7713 §3.2, §5.5; see audit.h for the
 * balances). The project's rules, each with its reason:
 *
 * Counting (RFC 7837 §4, docs/wire.md §2, §3). A ConEx-Marked packet declares
 * its ip_bytes once per flag set. X=0 makes L/E/C meaningless (counted as
 * an anomaly, the packet is Not-ConEx); reserved bits are ignored
 * (counted). A CDO to a multicast destination, a non-first fragment and
 * RF=1 on a non-atomic IPv4 packet are Not-ConEx (counted). A packet both
 * CE and ConEx-Marked is counted both ways: the CE is congestion seen
 * here, the marks declare earlier congestion; netting them out on the
 * packet would let a sender cancel its own marks ("cancelled signals",
 * RFC 7713 §5.5).
 *
 * Where a packet is audited. Per-flow state is created only by a
 * ConEx-Marked packet (RFC 7713 §5.5), so a flood of unmarked packets
 * cannot consume it. X-only packets of a flow with state are audited in
 * it. Not-ConEx packets are never part of a flow's balances, even inside
 * a ConEx flow (RFC 7713 §5.5 "ignore Not-ConEx packets"): they, and
 * everything else without flow state, are audited in their source's own
 * balance, where their CE and losses are still observed and sanctioned.
 * So declaring nothing on some packets of a ConEx flow moves their
 * congestion to its source rather than hiding it. A FIN or RST ends the
 * flow whatever its encoding, because the marker sends X=0 on packets
 * without payload.
 *
 * Observed congestion = CE bytes + loss bytes. Loss is a sequence hole
 * (a packet above the highest sequence seen, rcv_max) that is later
 * filled: only the filled part counts, so a hole that never fills (the
 * sender gave up, or the packet went another way) costs nothing, and a
 * hole counts when the audit sees the retransmission, the moment the
 * honest marker declares it with L. Outstanding holes are capped
 * (hole_cap_bytes) so a forged jump cannot create unbounded debt. Bytes
 * the audit itself dropped become a hole too, tagged as self_dropped, and
 * are consumed first when a refill arrives: a sanction must not turn into
 * "loss" the sender owes again.
 *
 * Checks. Credit is consumed at once by observed congestion (RFC 7713
 * §5.5: credit is declared in advance). Re-echo lags by about an RTT, so
 * observed congestion sits in a ring of CX_AUDIT_RING_SLOTS time slots and
 * is only charged to the re-echo balance once older than the allowance,
 * counted in the flow's sending time (bal_advance). In a flow's first
 * second only credit is checked (flow_shortfall). Excess declarations are
 * kept (credit does not expire; over-declared E from classic ECN stays on
 * the flow's side).
 *
 * Sanction (RFC 7713 §5.5: proportionate, never an amplifier). Drop
 * probability min(1, shortfall / sanction_scale_bytes), drawn with the
 * caller's random value, the shortfall being the larger of the flow's
 * and its source's. ConEx-Marked packets are never dropped: each
 * declares at least its own size, so a sender cannot gain by marking to
 * avoid the sanction, its declarations pay the debt down, and RFC 7837 §8
 * drops ConEx-Marked packets last. Declarations and CE of a dropped packet
 * still count: the upstream policer has charged them, and the congestion
 * happened.
 *
 * Sources. Everything shared is partitioned by source, so that no sender
 * can drain another's: each has an account (audit.h) of the credit of its
 * packets without flow state and of its flows, each flow's capped at the
 * re-echo cover (one flow's unspent credit covers at most two slacks of
 * its siblings' debt, and was paid for). The slack is granted once per
 * source: 5-tuples that each stay under the flow slack still add up.
 * Only credit is summed: declared ahead and re-sent when lost, an honest
 * source holds it >= 0 however many flows it runs (and the policer
 * charges max(C, L + E): a sender paying C has paid), while re-echo lags
 * and is lost with dropped packets, which each flow's own slack and cover
 * absorb. A source's sanction writes a byte of debt off per byte it drops,
 * as the old single aggregate did: a Not-ConEx sender cannot declare,
 * X-only traffic chose not to, and a source whose debt was forged
 * (spoofed while its policer fails open) must not pay more than the
 * forger sent; the cap bounds that to one short sanction. A flow's own
 * sanction writes nothing off: a flow can declare, and its debt stays
 * whole in its source, so that a new 5-tuple starts under all of it.
 *
 * Without flow state, losses come from a sketch: sketch_buckets cells
 * keyed by SipHash of the 5-tuple, each holding one flow's sequence state
 * and a tag of its owner; a different owner resets the cell, so
 * collisions lose detection but never invent loss.
 *
 * Whitewashing and exhaustion. A flow owing anything (credit or re-echo
 * balance below zero) is pinned: the flow table's policy never evicts it
 * until it has been idle for idle_ns. A flow that goes leaves its credit
 * with its source: evicted, all of it (so that no source's balance moves
 * on another's packet); ended by FIN/RST, its debt only, and at most what
 * it owed before that packet (a FIN alone, forged or not, moves nothing).
 * A restart under a new 5-tuple therefore starts under its source's debt.
 * A source with a flow in debt, or beyond its slack, is pinned in the
 * source table the same way. One source holds at most source_flows_max
 * flows, so a sender minting 5-tuples cannot take the flow table (and the
 * per-flow audit) from the others; past it, or with the flow table full
 * of pinned flows, its packets are audited in its own balance. A source
 * with no record (the source table full of pinned ones: only a sender
 * owning that many addresses, or spoofing) is audited in one shared
 * overflow account, counted: exhausting state moves a cheat into a
 * coarser audit, never out of audit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <conex/audit.h>
#include <conex/flowtable.h>
#include <conex/signal.h>

#include "internal.h"

/* Balances saturate far beyond any real congestion (4 PB), far below 2^63. */
#define BAL_MAX ((int64_t)1 << 52)
/* Sequence lengths beyond this are not believed: half the space is 2^31. */
#define SEQ_LEN_MAX (1U << 30)
#define SEQ_LIN_HALF (1U << 31)

struct bal {
	int64_t credit;		/* sum(C) - observed */
	int64_t reecho;		/* sum(L + E) - settled */
	uint64_t epoch;		/* slot number (now_ns / slot_ns) last advanced to */
	uint32_t last;		/* flows: the real slot number of the last packet */
	uint32_t slot[CX_AUDIT_RING_SLOTS];	/* observed, not yet settled */
};

/*
 * Sequence state of one flow. tag != 0 says rcv_max is valid; in the
 * sketch it also names the owner.
 *
 * Holes are kept as ranges, so that only a retransmission that lands in
 * a hole counts as loss: a duplicate of data that did arrive (a spurious
 * retransmission, e.g. go-back-N after an RTO, which an honest marker
 * takes back from L on DSACK, RFC 7786 §3.1) fills nothing even while
 * another hole is outstanding. A range is [start, start + span) holding
 * bytes <= span missing bytes, self of them dropped by the audit itself.
 * Ranges are sorted by start, below rcv_max, disjoint. With more holes than
 * SEQ_HOLES, the two nearest ranges merge: the merged range is no longer
 * exact (bytes < span), so a duplicate of the data between them may then
 * count as loss, but never more than the bytes the range holds, so the
 * error is bounded by real holes. Invariants: hole_bytes = sum of bytes
 * <= cap, self <= bytes <= span for each range.
 *
 * Reordering is not loss. A packet overtaken by a later one (the testbed's
 * two CPUs reorder GSO bursts; so do multipath fabrics) fills its hole
 * without any retransmission; a retransmission is sent after the packet
 * that opened the hole, at least a loss-detection time later. So a fill
 * whose TSval (RFC 7323 §3) is not after the opener's, arriving within
 * reorder_window_ns of the hole, is counted as reordering. A sender that
 * forges old TSvals on retransmissions could hide losses that way only by
 * retransmitting within the window; without timestamps every fill counts.
 */
#define SEQ_HOLES 4

struct hole {
	uint32_t start;
	uint32_t span;
	uint32_t bytes;
	uint32_t self;
	uint32_t tsval;		/* of the packet that opened it, if HOLE_TS */
	uint32_t born;		/* when it opened (TICK_SHIFT units) | HOLE_TS */
};

#define HOLE_TS		1U	/* tsval valid */
/* Flow idle times in units of 2^30 ns (about 1.07 s); wraps after 146 years. */
#define IDLE_SHIFT	30
/*
 * Hole ages in units of 2^20 ns (about 1.05 ms), kept in the upper 31
 * bits of born: wraps after 26 days, far beyond any hole's life.
 */
#define TICK_SHIFT	20

struct seqtrack {
	uint32_t rcv_max;
	uint32_t tag;
	uint32_t hole_bytes;
	uint32_t n;		/* ranges in use */
	struct hole h[SEQ_HOLES];
};

struct flow {
	struct bal bal;
	struct seqtrack seq;
	uint32_t flags;		/* CX_AUDIT_F_* */
	uint32_t seen;		/* last packet, in IDLE_SHIFT units */
	uint32_t born;		/* first packet, in TICK_SHIFT units (wraps: 52 days) */
	uint32_t acct;		/* generation of the account it reports to; 0: none */
	int64_t reported;	/* its credit as counted there (flow_credit) */
	uint64_t dropped_bytes;
};

/*
 * A source's account (audit.h): balance = own + flows. A record is made
 * on a source's first packet and named by a generation number, so that a
 * flow that reported to an earlier record of its source (since evicted)
 * knows to report afresh: flows == the sum of reported over the flows
 * whose acct is gen. Generations wrap after 2^32 records; a flow idle
 * through all of them could then count twice, for its credit only.
 */
struct account {
	int64_t own;
	int64_t flows;
	uint64_t dropped_bytes;
	uint32_t gen;
	uint32_t nflows;	/* flows reporting here */
	uint32_t in_debt;	/* of them, with reported < 0 */
	uint32_t flags;		/* CX_AUDIT_F_SANCTION */
	uint32_t seen;		/* last packet, in IDLE_SHIFT units */
};

#define OVERFLOW_GEN	1U	/* the overflow account's; records get >= 2 */
/*
 * A flow's credit counts for its source down to -2^38 (256 GB, far past
 * any cap): 2^24 flows then sum well inside int64_t.
 */
#define REPORT_MIN	(-((int64_t)1 << 38))
/* Default source_flows_max: this share of the flow table, at least 64. */
#define SOURCE_FLOWS_SHARE	32
#define SOURCE_FLOWS_MIN	64
/* Default debt_cap_bytes: the slack and this many sanction scales. */
#define DEBT_CAP_SCALES		2

struct cx_audit {
	struct cx_audit_cfg cfg;
	struct cx_siphash_key sketch_key;
	uint64_t slot_ns;
	int64_t cover_bytes;		/* a flow's credit counts up to this */
	int64_t debt_cap_bytes;
	uint32_t flows_per_source;
	uint32_t next_gen;
	uint32_t sanctioned;		/* accounts under sanction now */
	struct cx_flowtable *flows;
	struct cx_flowtable *sources;
	struct seqtrack *sketch;
	struct account overflow;
	struct cx_audit_counters c;
	const struct cx_audit_pkt *pkt;	/* the packet in progress, */
	struct account *ac;		/* its source's account once needed, */
	struct cx_audit_result *res;	/* its result */
	uint32_t now_units;		/* its time, in IDLE_SHIFT units */
	uint32_t now_ticks;		/* and in TICK_SHIFT units */
};

void cx_audit_cfg_default(struct cx_audit_cfg *cfg)
{
	*cfg = (struct cx_audit_cfg){
		.flow_capacity = CX_AUDIT_FLOWS_DEFAULT,
		.source_capacity = CX_AUDIT_SOURCES_DEFAULT,
		.sketch_buckets = CX_AUDIT_SKETCH_DEFAULT,
		.evict_scan = 0,
		.hole_cap_bytes = CX_AUDIT_HOLE_CAP_DEFAULT,
		.sanction_scale_bytes = CX_AUDIT_SCALE_DEFAULT,
		.slack_bytes = CX_AUDIT_SLACK_DEFAULT,
		.reecho_allowance_ns = CX_AUDIT_ALLOWANCE_DEFAULT_NS,
		.reorder_window_ns = CX_AUDIT_REORDER_DEFAULT_NS,
		.idle_ns = CX_AUDIT_IDLE_DEFAULT_NS,
		.source_flows_max = 0,
		.debt_cap_bytes = 0,
	};
}

int cx_audit_cfg_check(const struct cx_audit_cfg *cfg)
{
	if (!cfg)
		return -EINVAL;
	if (cfg->flow_capacity < 1 ||
	    cfg->flow_capacity > CX_FLOWTABLE_CAPACITY_MAX ||
	    cfg->source_capacity < 1 ||
	    cfg->source_capacity > CX_FLOWTABLE_CAPACITY_MAX ||
	    cfg->source_flows_max > CX_FLOWTABLE_CAPACITY_MAX)
		return -EINVAL;
	if (cfg->sketch_buckets < 1 || cfg->sketch_buckets > CX_AUDIT_SKETCH_MAX ||
	    (cfg->sketch_buckets & (cfg->sketch_buckets - 1)))
		return -EINVAL;
	if (cfg->evict_scan > CX_FLOWTABLE_CAPACITY_MAX)
		return -EINVAL;
	if (cfg->hole_cap_bytes < 1 || cfg->hole_cap_bytes > CX_AUDIT_HOLE_CAP_MAX)
		return -EINVAL;
	if (cfg->sanction_scale_bytes < 1)
		return -EINVAL;
	if (cfg->slack_bytes > CX_AUDIT_SLACK_MAX)
		return -EINVAL;
	if (cfg->reorder_window_ns > CX_AUDIT_REORDER_MAX_NS ||
	    cfg->idle_ns > CX_AUDIT_IDLE_MAX_NS)
		return -EINVAL;
	if (cfg->reecho_allowance_ns < CX_AUDIT_ALLOWANCE_MIN_NS ||
	    cfg->reecho_allowance_ns > CX_AUDIT_ALLOWANCE_MAX_NS)
		return -EINVAL;
	return 0;
}

size_t cx_audit_mem_size(const struct cx_audit_cfg *cfg)
{
	size_t f, s;

	if (cx_audit_cfg_check(cfg) < 0)
		return 0;
	f = cx_flowtable_mem_size(cfg->flow_capacity, sizeof(struct flow));
	s = cx_flowtable_mem_size(cfg->source_capacity, sizeof(struct account));
	if (!f || !s)
		return 0;
	return sizeof(struct cx_audit) + f + s +
	       (size_t)cfg->sketch_buckets * sizeof(struct seqtrack);
}

size_t cx_audit_mem_per_flow(const struct cx_audit_cfg *cfg)
{
	size_t f;

	if (cx_audit_cfg_check(cfg) < 0)
		return 0;
	f = cx_flowtable_mem_size(cfg->flow_capacity, sizeof(struct flow));
	return (f + cfg->flow_capacity - 1) / cfg->flow_capacity;
}

static int64_t bal_add(int64_t v, uint64_t bytes)
{
	if (bytes > (uint64_t)(BAL_MAX - v))
		return BAL_MAX;
	return v + (int64_t)bytes;
}

static int64_t bal_sub(int64_t v, uint64_t bytes)
{
	if (bytes > (uint64_t)(v + BAL_MAX))
		return -BAL_MAX;
	return v - (int64_t)bytes;
}

static void bal_init(struct bal *b, uint64_t epoch)
{
	memset(b, 0, sizeof(*b));
	b->epoch = epoch;
	b->last = (uint32_t)epoch;
}

/*
 * Settle the slots that fell out of the window. Bytes observed in slot k
 * settle when the epoch reaches k + RING_SLOTS: at an age of at least
 * (RING_SLOTS - 1) * slot_ns >= allowance, at most RING_SLOTS * slot_ns.
 * A clock that goes backwards settles nothing.
 *
 * active (flows): the epoch is the flow's active time, in which a silence
 * counts for one slot at most. Re-echo can only ride on the flow's later
 * packets (RFC 7786: the next packet carries the mark), and a flow that
 * stalls (a retransmission timeout after a policer's drops: 200 ms and
 * more without a packet) could not declare within any wall-clock
 * allowance however honest; counted this way, its congestion settles
 * after the allowance of time in which it was sending. A sender that
 * spaces its packets on purpose gets no more than RING_SLOTS - 1 packets
 * of grace: each packet still advances the clock by a slot.
 */
static void bal_advance(struct bal *b, uint64_t epoch, bool active)
{
	uint64_t n, i;
	uint32_t gap = (uint32_t)epoch - b->last;

	if (active) {
		if ((int32_t)gap <= 0)
			return;
		b->last = (uint32_t)epoch;
		n = gap > 1 ? 1 : gap;
	} else {
		if (epoch <= b->epoch)
			return;
		n = epoch - b->epoch;
	}
	for (i = 1; i <= CX_MIN(n, (uint64_t)CX_AUDIT_RING_SLOTS); i++) {
		uint32_t *s = &b->slot[(b->epoch + i) % CX_AUDIT_RING_SLOTS];

		b->reecho = bal_sub(b->reecho, *s);
		*s = 0;
	}
	b->epoch += n;
}

static void bal_observe(struct bal *b, uint64_t bytes)
{
	uint32_t *s = &b->slot[b->epoch % CX_AUDIT_RING_SLOTS];
	uint64_t room = UINT32_MAX - *s;

	b->credit = bal_sub(b->credit, bytes);
	/* A slot that would overflow settles its excess at once (early,
	 * so against the sender, but only past 4 GB in one slot). */
	if (bytes > room) {
		b->reecho = bal_sub(b->reecho, bytes - room);
		bytes = room;
	}
	*s += (uint32_t)bytes;
}

static void bal_declare(struct bal *b, uint8_t sig, uint32_t ip_bytes)
{
	if (sig & CX_SIG_C)
		b->credit = bal_add(b->credit, ip_bytes);
	if (sig & CX_SIG_L)
		b->reecho = bal_add(b->reecho, ip_bytes);
	if (sig & CX_SIG_E)
		b->reecho = bal_add(b->reecho, ip_bytes);
}

static uint64_t bal_pending(const struct bal *b)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < CX_AUDIT_RING_SLOTS; i++)
		sum += b->slot[i];
	return sum;
}

static uint64_t over_slack(const struct cx_audit *a, uint64_t debt)
{
	return debt > a->cfg.slack_bytes ? debt - a->cfg.slack_bytes : 0;
}

/*
 * Re-echo owed beyond the slack may be covered by unspent credit, up to
 * COVER_SLACKS slacks. Declarations lost with packets dropped upstream (a
 * full queue, a policer) leave an honest flow short of re-echo while its
 * credit, which the marker re-sends when lost, stands in surplus: on the
 * testbed, flows of policed 13-15-flow trials were 14-25 kB short of
 * re-echo with 47-67 kB of credit. Bounded, because credit is not a
 * substitute for re-echo: classic ECN makes an honest marker's credit
 * over-declare, so unbounded cover would let a flow that declares half its
 * re-echo hide behind that surplus for ever. A flow that under-declares
 * re-echo gains the cover once; credit owed has no cover.
 */
#define COVER_SLACKS 2

static uint64_t shortfall(const struct cx_audit *a, const struct bal *b)
{
	int64_t cover = CX_MIN(CX_MAX(b->credit, (int64_t)0),
			       (int64_t)(COVER_SLACKS * a->cfg.slack_bytes));
	int64_t worst = CX_MIN(b->credit, bal_add(b->reecho, (uint64_t)cover));

	return over_slack(a, worst < 0 ? (uint64_t)-worst : 0);
}

/*
 * At flow start only credit is checked; the re-echo check begins once the
 * flow is FLOW_STARTUP_NS old. In slow start the sender doubles its window
 * each RTT, so when the queue fills, up to half a window is marked (or
 * lost) within one RTT, and the E for it rides on the fewer packets of
 * the next RTTs, after the window is halved; on a busy host, processes
 * starting up stall senders for tens of milliseconds more. RFC 7786 has
 * slow start send credit for half the flight for exactly this (docs/wire.md
 * §5.5), and credit is checked at once, so the start is not unaudited. On
 * the testbed, honest flows fell 7-25 KB short of re-echo in their first
 * second or two while credit was still covering them, at any allowance
 * up to 50 ms. Nothing is forgiven: the deficit stays in the re-echo
 * balance and is due in full when the check begins; and a flow that ends
 * young passes its re-echo debt to its source (bal_debt), where the next
 * flow inherits it against its credit, so restarting flows to stay young
 * is caught by the credit check.
 */
#define FLOW_STARTUP_NS		(1000ULL * 1000 * 1000)
#define FLOW_STARTUP_TICKS	((uint32_t)(FLOW_STARTUP_NS >> TICK_SHIFT))

static uint64_t flow_shortfall(const struct cx_audit *a, const struct flow *f)
{
	const struct bal *b = &f->bal;

	if (a->now_ticks - f->born >= FLOW_STARTUP_TICKS)
		return shortfall(a, b);
	return over_slack(a, b->credit < 0 ? (uint64_t)-b->credit : 0);
}

/*
 * Drop with probability min(1, shortfall / scale): rnd is uniform over
 * 2^32 values, and shortfall < scale < 2^32 keeps shortfall << 32 in range.
 */
static bool sanction_hit(uint64_t shortfall_bytes, uint32_t scale_bytes,
			 uint32_t rnd)
{
	if (!shortfall_bytes)
		return false;
	if (shortfall_bytes >= scale_bytes)
		return true;
	return rnd < (shortfall_bytes << 32) / scale_bytes;
}

static bool seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(b - a) < 0;
}

/* Sequence space a packet occupies: payload, plus one each for SYN and FIN. */
static uint32_t seq_len(const struct cx_audit_pkt *p)
{
	if (!(p->flags & CX_AUDIT_P_TCP) || p->payload_bytes > SEQ_LEN_MAX)
		return 0;
	return p->payload_bytes + !!(p->flags & CX_AUDIT_P_SYN) +
	       !!(p->flags & CX_AUDIT_P_FIN);
}

/* Merge ranges i and i + 1 (sorted, disjoint). */
static void hole_merge(struct seqtrack *s, uint32_t i)
{
	struct hole *lo = &s->h[i], *hi = &s->h[i + 1];

	lo->span = hi->start + hi->span - lo->start;
	lo->bytes += hi->bytes;
	lo->self += hi->self;
	lo->born &= hi->born | ~HOLE_TS;
	memmove(hi, hi + 1, (s->n - i - 2) * sizeof(*hi));
	s->n--;
}

/*
 * A new hole [start, start + len) at the old rcv_max, so above every
 * range; self of its bytes are the audit's own drops. Capped so that a
 * burst of forged holes cannot create unbounded apparent loss: the lowest
 * part is kept, where retransmissions come first. Joins the last range if
 * adjacent; with every slot in use, the two nearest ranges (the new one
 * included) merge.
 */
static void hole_add(struct cx_audit *a, struct seqtrack *s, uint32_t start,
		     uint32_t len, uint32_t self, const struct cx_audit_pkt *p)
{
	uint32_t ts = p->flags & CX_AUDIT_P_TS ? HOLE_TS : 0;
	uint32_t room = a->cfg.hole_cap_bytes - s->hole_bytes;
	uint32_t i, best = 0, gap, best_gap = UINT32_MAX;
	struct hole *last;

	if (len > room) {
		len = room;
		self = CX_MIN(self, len);
		a->c.holes_capped++;
		a->res->events |= CX_AUDIT_E_HOLE_CAPPED;
	}
	if (!len)
		return;
	s->hole_bytes += len;
	if (s->n == SEQ_HOLES) {
		for (i = 0; i + 1 < s->n; i++) {
			gap = s->h[i + 1].start - (s->h[i].start + s->h[i].span);
			if (gap < best_gap) {
				best_gap = gap;
				best = i;
			}
		}
	}
	last = s->n ? &s->h[s->n - 1] : NULL;
	if (last && (last->start + last->span == start ||
		     (s->n == SEQ_HOLES &&
		      start - (last->start + last->span) <= best_gap))) {
		last->span = start + len - last->start;
		last->bytes += len;
		last->self += self;
		last->born &= ts | ~HOLE_TS;
		return;
	}
	if (s->n == SEQ_HOLES)
		hole_merge(s, best);
	s->h[s->n++] = (struct hole){ .start = start, .span = len,
				      .bytes = len, .self = self,
				      .tsval = p->tsval,
				      .born = (uint32_t)(p->now_ns >> TICK_SHIFT) << 1 | ts };
}

/* Sent no later than the hole's opener, and soon after it: reordering. */
static bool reordered(const struct cx_audit *a, const struct hole *h,
		      const struct cx_audit_pkt *p, uint32_t now)
{
	uint32_t age = (now - (h->born >> 1)) & (UINT32_MAX >> 1);

	if (!(h->born & HOLE_TS) || !(p->flags & CX_AUDIT_P_TS))
		return false;
	if ((int32_t)(p->tsval - h->tsval) > 0)
		return false;
	return (uint64_t)age << TICK_SHIFT <= a->cfg.reorder_window_ns;
}

static void hole_remove(struct seqtrack *s, uint32_t i)
{
	memmove(&s->h[i], &s->h[i + 1], (s->n - i - 1) * sizeof(s->h[0]));
	s->n--;
}

/*
 * Sequence numbers as distances on a line that ends at rcv_max: lin(x)
 * is in [0, 2^31] for x at most 2^31 below rcv_max, where every range
 * lies (older ones are forgotten, see seq_forget).
 */
static uint32_t lin(const struct seqtrack *s, uint32_t x)
{
	return x - (s->rcv_max - SEQ_LIN_HALF);
}

/*
 * [seq, seq + len) arrived, all of it at or below rcv_max: take it out of
 * the ranges it meets. Returns the loss it reveals: the bytes it filled,
 * less the audit's own drops (taken first: where a merged range's own
 * drops lie is not known) and less reordering.
 */
static uint32_t hole_fill(struct cx_audit *a, struct seqtrack *s,
			  uint32_t seq, uint32_t len,
			  const struct cx_audit_pkt *p)
{
	uint32_t i = 0, loss = 0, qa = lin(s, seq), qb = qa + len;
	uint32_t now = (uint32_t)(p->now_ns >> TICK_SHIFT);

	if (qb < qa || qb > SEQ_LIN_HALF)
		return 0;	/* more than 2^31 behind: no range there */
	while (i < s->n) {
		struct hole *h = &s->h[i];
		uint32_t ha = lin(s, h->start), hb = ha + h->span;
		uint32_t x = CX_MAX(ha, qa), y = CX_MIN(hb, qb);
		uint32_t ov, f, d, before = h->bytes;

		if (x >= y) {
			i++;
			continue;
		}
		ov = y - x;
		f = CX_MIN(ov, h->bytes);
		d = CX_MIN(f, h->self);
		h->self -= d;
		a->c.self_drop_refills += d;
		if (reordered(a, h, p, now)) {
			a->c.reorder_bytes += f - d;
			d = f;
		}
		loss += f - d;
		if (h->bytes == h->span && x > ha && y < hb &&
		    s->n < SEQ_HOLES) {
			/* An exact range split in two, both exact. */
			struct hole hi = *h;

			hi.start = h->start + (y - ha);
			hi.span = hi.bytes = hb - y;
			h->span = h->bytes = x - ha;
			hi.self = h->self > h->span ? h->self - h->span : 0;
			hi.self = CX_MIN(hi.self, hi.bytes);
			h->self = CX_MIN(h->self, h->span);
			memmove(&s->h[i + 2], &s->h[i + 1],
				(s->n - i - 1) * sizeof(*h));
			s->h[i + 1] = hi;
			s->n++;
			s->hole_bytes -= ov;
			i += 2;
			continue;
		}
		h->bytes -= f;
		if (x == ha) {
			h->start += y - ha;
			h->span = hb - y;
		} else if (y == hb) {
			h->span = x - ha;
		}
		h->bytes = CX_MIN(h->bytes, h->span);
		h->self = CX_MIN(h->self, h->bytes);
		s->hole_bytes -= before - h->bytes;
		if (!h->bytes)
			hole_remove(s, i);
		else
			i++;
	}
	return loss;
}

/* Ranges that fell more than 2^30 below rcv_max will not be filled. */
static void seq_forget(struct seqtrack *s)
{
	while (s->n && lin(s, s->h[0].start) < SEQ_LIN_HALF - SEQ_LEN_MAX) {
		s->hole_bytes -= s->h[0].bytes;
		hole_remove(s, 0);
	}
}

/*
 * A packet that passes. Returns the loss bytes it reveals: the part of it
 * below rcv_max that fills holes, except what the audit itself dropped
 * (RFC 9293 §3.4 sequence arithmetic, modulo 2^32). A new tag (first
 * packet, or a new owner of a sketch cell) starts afresh.
 */
static uint32_t seq_pass(struct cx_audit *a, struct seqtrack *s, uint32_t tag,
			 const struct cx_audit_pkt *p)
{
	uint32_t len = seq_len(p), end = p->seq + len, loss = 0;

	if (!len)
		return 0;
	if (s->tag != tag) {
		*s = (struct seqtrack){ .rcv_max = end, .tag = tag };
		return 0;
	}
	if (seq_after(end, s->rcv_max)) {
		if (end - s->rcv_max > SEQ_LEN_MAX) {
			/* Beyond any TCP window (RFC 7323 §2.3: 2^30):
			 * forged; it must not wipe the holes it jumps. */
			a->c.seq_jumps++;
			return 0;
		}
		if (seq_after(p->seq, s->rcv_max))
			hole_add(a, s, s->rcv_max, p->seq - s->rcv_max, 0, p);
		else if (p->seq != s->rcv_max)
			loss = hole_fill(a, s, p->seq, s->rcv_max - p->seq, p);
		s->rcv_max = end;
		seq_forget(s);
	} else {
		loss = hole_fill(a, s, p->seq, len, p);
	}
	return loss;
}

/*
 * A packet the audit drops: what it would have added above rcv_max is a
 * hole now, its own bytes marked self-dropped, so their refill is not
 * loss. A dropped refill changes nothing: that hole stays outstanding.
 */
static void seq_drop(struct cx_audit *a, struct seqtrack *s, uint32_t tag,
		     const struct cx_audit_pkt *p)
{
	uint32_t len = seq_len(p), end = p->seq + len, from = s->rcv_max;

	if (!len || s->tag != tag || !seq_after(end, s->rcv_max) ||
	    end - s->rcv_max > SEQ_LEN_MAX)
		return;
	if (seq_after(p->seq, s->rcv_max)) {
		hole_add(a, s, s->rcv_max, p->seq - s->rcv_max, 0, p);
		from = p->seq;
	}
	hole_add(a, s, from, end - from, end - from, p);
	s->rcv_max = end;
	seq_forget(s);
}

/* Returns the RFC 7713 §2.1 class after the anomaly checks. */
static enum cx_sig_class classify(struct cx_audit *a,
				  const struct cx_audit_pkt *p)
{
	bool ignored = false;

	if (p->flags & CX_AUDIT_P_MCAST_CDO) {
		a->c.mcast_cdo++;
		ignored = true;
	}
	if (p->flags & CX_AUDIT_P_FRAG) {
		a->c.non_first_frag++;
		ignored = true;
	}
	if (p->flags & CX_AUDIT_P_RF_NONATOMIC) {
		a->c.rf_non_atomic++;
		ignored = true;
	}
	if (ignored) {
		a->res->events |= CX_AUDIT_E_ANOMALY;
		return CX_NOT_CONEX;
	}
	if (!(p->flags & CX_AUDIT_P_CONEX))
		return CX_NOT_CONEX;
	if (p->sig & CX_SIG_RES) {
		a->c.reserved_set++;
		a->res->events |= CX_AUDIT_E_ANOMALY;
	}
	if (!(p->sig & CX_SIG_X) && (p->sig & CX_SIG_LEC)) {
		a->c.x0_with_flags++;
		a->res->events |= CX_AUDIT_E_ANOMALY;
	}
	return cx_sig_classify(p->sig);
}

static void count_class(struct cx_audit *a, const struct cx_audit_pkt *p,
			enum cx_sig_class cls)
{
	switch (cls) {
	case CX_CONEX_MARKED:
		a->c.conex_marked++;
		if (p->sig & CX_SIG_L)
			a->c.l_bytes += p->ip_bytes;
		if (p->sig & CX_SIG_E)
			a->c.e_bytes += p->ip_bytes;
		if (p->sig & CX_SIG_C)
			a->c.c_bytes += p->ip_bytes;
		if (p->flags & CX_AUDIT_P_CE)
			a->c.ce_marked++;
		break;
	case CX_CONEX_NOT_MARKED:
		a->c.conex_not_marked++;
		break;
	default:
		a->c.not_conex++;
		break;
	}
	if (p->flags & CX_AUDIT_P_CE) {
		a->c.ce_packets++;
		a->c.ce_bytes += p->ip_bytes;
	}
}


static uint64_t bal_debt(const struct bal *b)
{
	int64_t worst = CX_MIN(b->credit, b->reecho);

	return worst < 0 ? (uint64_t)-worst : 0;
}

/*
 * Source records share the flow table's code: a key with only an address,
 * an IPv6 one cut to its /64 (see audit.h).
 */
static void source_key(struct cx_flow_key *k, const uint8_t src[16],
		       uint8_t family)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->saddr, src, family == CX_FLOW_IPV6 ? 8 : sizeof(k->saddr));
	k->family = family;
}

static bool idle(const struct cx_audit *a, uint32_t seen)
{
	uint64_t t = (uint64_t)(a->now_units - seen) << IDLE_SHIFT;

	return a->cfg.idle_ns && t >= a->cfg.idle_ns;
}

/* own + v; |own| <= BAL_MAX and |v| < 2^63 - BAL_MAX, so the sum fits. */
static int64_t own_add(int64_t own, int64_t v)
{
	int64_t r = own + v;

	return CX_MAX(CX_MIN(r, BAL_MAX), -BAL_MAX);
}

/* A flow's credit as its source counts it (audit.h: capped at the cover). */
static int64_t flow_credit(const struct cx_audit *a, const struct flow *f)
{
	return CX_MAX(CX_MIN(f->bal.credit, a->cover_bytes), REPORT_MIN);
}

static int64_t acct_balance(const struct account *ac)
{
	return ac->own + ac->flows;
}

static uint64_t acct_debt(const struct account *ac)
{
	int64_t b = acct_balance(ac);

	return b < 0 ? (uint64_t)-b : 0;
}

/* Take f's credit out of ac, the account it reports to. */
static void acct_detach(struct account *ac, struct flow *f)
{
	ac->flows -= f->reported;
	if (f->reported < 0)
		ac->in_debt--;
	ac->nflows--;
	f->acct = 0;
	f->reported = 0;
}

/*
 * The account f reports to, if it is still there: the overflow, or the
 * record of its source of that generation (k is f's key: a source's flows
 * share its address, see struct cx_audit_pkt.src).
 */
static struct account *flow_account(struct cx_audit *a,
				    const struct cx_flow_key *k,
				    const struct flow *f)
{
	struct cx_flow_key sk;
	void *v;

	if (f->acct == OVERFLOW_GEN)
		return &a->overflow;
	if (!f->acct)
		return NULL;
	source_key(&sk, k->saddr, k->family);
	if (cx_flowtable_lookup(a->sources, &sk, &v) < 0 ||
	    ((struct account *)v)->gen != f->acct)
		return NULL;
	return v;
}

/*
 * Count f's credit v in ac. A flow that reported to another account moves
 * here: out of the overflow if it was there; an evicted record of its
 * source took the old report with it.
 */
static void acct_report(struct cx_audit *a, struct account *ac,
			struct flow *f, int64_t v)
{
	if (f->acct != ac->gen) {
		if (f->acct == OVERFLOW_GEN)
			acct_detach(&a->overflow, f);
		f->acct = ac->gen;
		f->reported = 0;
		ac->nflows++;
	}
	if (f->reported < 0)
		ac->in_debt--;
	if (v < 0)
		ac->in_debt++;
	ac->flows += v - f->reported;
	f->reported = v;
}

/*
 * f goes, leaving keep (its reported credit or less) in its source's own
 * balance: all of it when evicted, so that no source's balance moves on
 * another's packet; its debt only when it ended (flow_end).
 */
static void flow_leave(struct cx_audit *a, struct account *ac, struct flow *f,
		       int64_t keep)
{
	acct_detach(ac, f);
	ac->own = own_add(ac->own, keep);
	if (keep < 0) {
		a->c.debt_to_source++;
		a->c.debt_to_source_bytes += (uint64_t)-keep;
		a->res->events |= CX_AUDIT_E_DEBT_TO_SOURCE;
	}
}

/*
 * A flow that owes nothing may make room. One in debt is pinned, so that
 * a cheat cannot escape by crowding it out, until it has been idle for
 * idle_ns: then it was abandoned (a sender that opens flows and leaves
 * them sanctioned), and it makes room too, its credit staying with its
 * source (flow_on_evict).
 */
static bool flow_can_evict(const struct cx_flow_key *k, const void *value,
			   void *arg)
{
	const struct flow *f = value;

	(void)k;
	if (!(f->flags & CX_AUDIT_F_SANCTION) && !bal_debt(&f->bal))
		return true;
	return idle(arg, f->seen);
}

static void flow_on_evict(const struct cx_flow_key *k, void *value, void *arg)
{
	struct cx_audit *a = arg;
	struct flow *f = value;
	struct account *ac;

	a->c.flows_evicted++;
	a->res->events |= CX_AUDIT_E_FLOW_EVICTED;
	if ((f->flags & CX_AUDIT_F_SANCTION) || bal_debt(&f->bal))
		a->c.flows_aged++;
	ac = flow_account(a, k, f);
	if (ac)
		flow_leave(a, ac, f, f->reported);
}

/*
 * A source record may make room if it owes no more than the slack and
 * none of its flows owes: losing it forgives at most a slack, and a flow
 * with credit reports it afresh to the source's next record. So only
 * debt pins records, and filling the table with pinned ones (to push new
 * sources into the overflow) takes more than a slack of undeclared
 * congestion per record. A pinned one may go once its source has been
 * idle for idle_ns (a record spoofed into debt must not hold its place
 * for ever).
 */
static bool source_can_evict(const struct cx_flow_key *k, const void *value,
			     void *arg)
{
	const struct account *ac = value;
	const struct cx_audit *a = arg;

	(void)k;
	if (!ac->in_debt && ac->own >= -(int64_t)a->cfg.slack_bytes)
		return true;
	return idle(a, ac->seen);
}

/* One under sanction may go when idle: it is no longer counted. */
static void source_on_evict(const struct cx_flow_key *k, void *value,
			    void *arg)
{
	const struct account *ac = value;
	struct cx_audit *a = arg;

	(void)k;
	if (ac->flags & CX_AUDIT_F_SANCTION)
		a->sanctioned--;
}

struct cx_audit *cx_audit_new(const struct cx_audit_cfg *cfg,
			      const struct cx_siphash_key *key)
{
	struct cx_flowtable_policy fpol = {
		.can_evict = flow_can_evict,
		.on_evict = flow_on_evict,
	};
	struct cx_flowtable_policy spol = {
		.can_evict = source_can_evict,
		.on_evict = source_on_evict,
	};
	struct cx_audit *a;
	uint32_t share;
	int err = EINVAL;

	if (!key || cx_audit_cfg_check(cfg) < 0)
		goto err;
	err = ENOMEM;
	a = calloc(1, sizeof(*a));
	if (!a)
		goto err;
	a->cfg = *cfg;
	/* Settled at an age between allowance and 8/7 of it (see bal_advance). */
	a->slot_ns = (cfg->reecho_allowance_ns + CX_AUDIT_RING_SLOTS - 2) /
		     (CX_AUDIT_RING_SLOTS - 1);
	a->cover_bytes = (int64_t)(COVER_SLACKS * cfg->slack_bytes);
	a->debt_cap_bytes = cfg->debt_cap_bytes ? (int64_t)cfg->debt_cap_bytes :
			    (int64_t)(cfg->slack_bytes + DEBT_CAP_SCALES *
				      (uint64_t)cfg->sanction_scale_bytes);
	share = CX_MAX(cfg->flow_capacity / SOURCE_FLOWS_SHARE,
		       CX_MIN(cfg->flow_capacity, (uint32_t)SOURCE_FLOWS_MIN));
	a->flows_per_source = cfg->source_flows_max ? cfg->source_flows_max :
			      share;
	a->overflow.gen = OVERFLOW_GEN;
	a->next_gen = OVERFLOW_GEN + 1;
	/* An independent key, so sketch cells and table buckets are unrelated. */
	a->sketch_key.k0 = key->k0 ^ 0x736b657463686b30ULL;
	a->sketch_key.k1 = key->k1 ^ 0x6175646974736b31ULL;
	a->flows = cx_flowtable_new(cfg->flow_capacity, sizeof(struct flow), key);
	if (!a->flows)
		goto err_free_audit;
	a->sources = cx_flowtable_new(cfg->source_capacity,
				      sizeof(struct account), key);
	if (!a->sources)
		goto err_free_flows;
	a->sketch = calloc(cfg->sketch_buckets, sizeof(*a->sketch));
	if (!a->sketch)
		goto err_free_sources;
	fpol.arg = a;
	fpol.max_scan = cfg->evict_scan;
	spol.arg = a;
	cx_flowtable_set_policy(a->flows, &fpol);
	cx_flowtable_set_policy(a->sources, &spol);
	return a;

err_free_sources:
	cx_flowtable_free(a->sources);
err_free_flows:
	cx_flowtable_free(a->flows);
err_free_audit:
	free(a);
err:
	errno = err;
	return NULL;
}

void cx_audit_free(struct cx_audit *a)
{
	if (!a)
		return;
	free(a->sketch);
	cx_flowtable_free(a->sources);
	cx_flowtable_free(a->flows);
	free(a);
}

/*
 * The account of p's source: its record, made on its first packet, or
 * the overflow when the source table has no room.
 */
static struct account *acct_get(struct cx_audit *a,
				const struct cx_audit_pkt *p)
{
	struct cx_flow_key sk;
	struct account *ac;
	void *v;
	int ret;

	source_key(&sk, p->src, p->key.family);
	ret = cx_flowtable_insert(a->sources, &sk, &v);
	if (ret == -ENOSPC) {
		ac = &a->overflow;
		a->c.source_overflow++;
		a->res->events |= CX_AUDIT_E_OVERFLOW;
	} else {
		ac = v;
		if (ret == 0) {
			ac->gen = a->next_gen++;
			if (a->next_gen <= OVERFLOW_GEN)
				a->next_gen = OVERFLOW_GEN + 1;
		}
	}
	ac->seen = a->now_units;
	return ac;
}

/* The packet's account, found (or made) once per packet when needed. */
static struct account *pkt_acct(struct cx_audit *a)
{
	if (!a->ac)
		a->ac = acct_get(a, a->pkt);
	return a->ac;
}

static void acct_sanction_state(struct cx_audit *a, struct account *ac,
				uint64_t short_bytes)
{
	bool ovf = ac == &a->overflow;

	if (short_bytes && !(ac->flags & CX_AUDIT_F_SANCTION)) {
		ac->flags |= CX_AUDIT_F_SANCTION;
		a->sanctioned++;
		a->c.agg_sanction_starts++;
		if (ovf)
			a->c.overflow_sanctions++;
		else
			a->c.source_sanctions++;
		a->res->events |= CX_AUDIT_E_AGG_SANCTION_START;
	} else if (!short_bytes && (ac->flags & CX_AUDIT_F_SANCTION)) {
		ac->flags &= ~(uint32_t)CX_AUDIT_F_SANCTION;
		a->sanctioned--;
		a->c.agg_sanction_ends++;
		if (ovf)
			a->c.overflow_sanction_ends++;
		else
			a->c.source_sanction_ends++;
		a->res->events |= CX_AUDIT_E_AGG_SANCTION_END;
	}
}

/*
 * After a change to the packet's account: debt beyond the cap is
 * forgotten, then its sanction state follows. Returns its shortfall.
 */
static uint64_t acct_settle(struct cx_audit *a, struct account *ac)
{
	int64_t b = acct_balance(ac);
	uint64_t short_bytes;

	if (b < -a->debt_cap_bytes) {
		ac->own = own_add(ac->own, -a->debt_cap_bytes - b);
		a->c.debt_capped_bytes += (uint64_t)(-a->debt_cap_bytes - b);
		a->res->events |= CX_AUDIT_E_DEBT_CAPPED;
	}
	short_bytes = over_slack(a, acct_debt(ac));
	acct_sanction_state(a, ac, short_bytes);
	return short_bytes;
}

/*
 * A packet of the source dropped. By the source's sanction, a byte of its
 * debt is written off per byte. By its flow's own, nothing is: that flow
 * can declare, and must (else ending it and starting another would turn
 * the flow's debt into one the source pays off in loss, capped).
 */
static void acct_drop(struct account *ac, uint32_t bytes, bool write_off)
{
	uint64_t debt = acct_debt(ac);

	if (write_off)
		ac->own = own_add(ac->own, (int64_t)CX_MIN(debt, (uint64_t)bytes));
	ac->dropped_bytes += bytes;
}

/*
 * A source's sanction takes data, not control: a TCP packet without
 * payload (SYN, pure ACK, FIN, RST; 52 bytes or so, nothing to take) passes
 * it, so that a source in debt can still end its flows (which leaves
 * their debt with it) and acknowledge the data others send it. A flow's
 * own sanction still applies to them.
 */
static bool source_spares(const struct cx_audit_pkt *p)
{
	return (p->flags & CX_AUDIT_P_TCP) && p->payload_bytes == 0;
}

/*
 * A new flow in the source's record (never the overflow's: an account
 * shared by unknown sources cannot hold anyone's flows), within the
 * source's share of the table. NULL: no state, audit in the account.
 */
static struct flow *flow_create(struct cx_audit *a,
				const struct cx_audit_pkt *p)
{
	struct account *ac = pkt_acct(a);
	struct flow *f;
	uint64_t debt;
	void *v;
	int ret;

	if (ac == &a->overflow)
		return NULL;
	if (ac->nflows >= a->flows_per_source) {
		a->c.source_flows_full++;
		a->res->events |= CX_AUDIT_E_SOURCE_FLOWS_FULL;
		return NULL;
	}
	ret = cx_flowtable_insert(a->flows, &p->key, &v);
	if (ret == -ENOSPC) {
		a->c.table_full++;
		a->res->events |= CX_AUDIT_E_TABLE_FULL;
		return NULL;
	}
	f = v;
	if (ret == -EEXIST)
		return f;
	bal_init(&f->bal, p->now_ns / a->slot_ns);
	f->seen = a->now_units;
	f->born = a->now_ticks;
	a->c.flows_created++;
	a->res->events |= CX_AUDIT_E_FLOW_NEW;
	/* Whitewashing (RFC 7713 §5.5): it shares its source's debt. */
	debt = acct_debt(ac);
	if (debt) {
		a->c.debt_inherited++;
		a->c.debt_inherited_bytes += debt;
		a->res->events |= CX_AUDIT_E_DEBT_INHERITED;
	}
	return f;
}

static void flow_sanction_state(struct cx_audit *a, struct flow *f,
				uint64_t short_bytes)
{
	if (short_bytes && !(f->flags & CX_AUDIT_F_SANCTION)) {
		f->flags |= CX_AUDIT_F_SANCTION;
		a->c.sanction_starts++;
		a->res->events |= CX_AUDIT_E_SANCTION_START;
	} else if (!short_bytes && (f->flags & CX_AUDIT_F_SANCTION)) {
		f->flags &= ~(uint32_t)CX_AUDIT_F_SANCTION;
		a->c.sanction_ends++;
		a->res->events |= CX_AUDIT_E_SANCTION_END;
	}
}

/* The packet's account, with the flow's credit reported to it. */
static struct account *flow_sync(struct cx_audit *a, struct flow *f)
{
	struct account *ac = pkt_acct(a);

	acct_report(a, ac, f, flow_credit(a, f));
	return ac;
}

/*
 * The verdict is taken on the balances including this packet's
 * declarations and CE, against the larger of the flow's and its source's
 * shortfall; the loss its sequence reveals counts from the next packet on
 * (it only becomes known once the packet is let through).
 *
 * Most packets of a flow (X-only or L/E, no CE) move no credit; while no
 * account is under sanction their source's shortfall is then 0, and is
 * not looked up: the audit costs what it did before sources.
 */
static int flow_audit(struct cx_audit *a, struct flow *f,
		      const struct cx_audit_pkt *p, enum cx_sig_class cls)
{
	struct account *ac = NULL;
	uint64_t fs, ss = 0;
	uint32_t loss;
	bool moves = (p->flags & CX_AUDIT_P_CE) ||
		     (cls == CX_CONEX_MARKED && (p->sig & CX_SIG_C));

	a->c.flow_packets++;
	f->seen = a->now_units;
	bal_advance(&f->bal, p->now_ns / a->slot_ns, true);
	if (cls == CX_CONEX_MARKED)
		bal_declare(&f->bal, p->sig, p->ip_bytes);
	if (p->flags & CX_AUDIT_P_CE)
		bal_observe(&f->bal, p->ip_bytes);
	if (moves || a->sanctioned || f->acct <= OVERFLOW_GEN) {
		ac = flow_sync(a, f);
		ss = acct_settle(a, ac);
		if (source_spares(p))
			ss = 0;
	}
	fs = flow_shortfall(a, f);
	if (cls != CX_CONEX_MARKED &&
	    sanction_hit(CX_MAX(fs, ss), a->cfg.sanction_scale_bytes, p->rand)) {
		seq_drop(a, &f->seq, 1, p);
		f->dropped_bytes += p->ip_bytes;
		if (!ac)
			ac = flow_sync(a, f);
		acct_drop(ac, p->ip_bytes, fs < ss);
		if (fs >= ss) {
			a->c.flow_drops++;
			a->res->reason = CX_AUDIT_R_FLOW_SANCTION;
		} else {
			a->c.source_drops++;
			a->res->reason = CX_AUDIT_R_SOURCE_SANCTION;
		}
		flow_sanction_state(a, f, fs);
		acct_settle(a, ac);
		a->res->shortfall_bytes = CX_MAX(fs, ss);
		return CX_AUDIT_DROP;
	}
	loss = seq_pass(a, &f->seq, 1, p);
	if (loss) {
		bal_observe(&f->bal, loss);
		a->c.flow_loss_bytes += loss;
		ac = flow_sync(a, f);
	}
	fs = flow_shortfall(a, f);
	flow_sanction_state(a, f, fs);
	if (ac)
		ss = acct_settle(a, ac);
	a->res->reason = CX_AUDIT_R_FLOW;
	a->res->shortfall_bytes = CX_MAX(fs, ss);
	return CX_AUDIT_PASS;
}

static struct seqtrack *sketch_cell(const struct cx_audit *a,
				    const struct cx_flow_key *k, uint32_t *tag)
{
	uint64_t h = cx_flow_key_hash(k, &a->sketch_key);

	*tag = (uint32_t)(h >> 32) | 1;
	return &a->sketch[h & (a->cfg.sketch_buckets - 1)];
}

/*
 * A packet without flow state, in its source's own balance (or the
 * overflow's): C declared against CE and the losses the sketch finds.
 */
static int acct_audit(struct cx_audit *a, const struct cx_audit_pkt *p,
		      enum cx_sig_class cls)
{
	struct account *ac = pkt_acct(a);
	struct seqtrack *cell = NULL;
	uint64_t short_bytes;
	uint32_t tag = 0, loss;

	a->c.agg_packets++;
	if (seq_len(p))
		cell = sketch_cell(a, &p->key, &tag);
	if (cls == CX_CONEX_MARKED && (p->sig & CX_SIG_C))
		ac->own = own_add(ac->own, p->ip_bytes);
	if (p->flags & CX_AUDIT_P_CE)
		ac->own = own_add(ac->own, -(int64_t)p->ip_bytes);
	short_bytes = acct_settle(a, ac);
	if (cls != CX_CONEX_MARKED && !source_spares(p) &&
	    sanction_hit(short_bytes, a->cfg.sanction_scale_bytes, p->rand)) {
		if (cell)
			seq_drop(a, cell, tag, p);
		acct_drop(ac, p->ip_bytes, true);
		a->c.agg_drops++;
		acct_settle(a, ac);
		a->res->reason = CX_AUDIT_R_AGG_SANCTION;
		a->res->shortfall_bytes = short_bytes;
		return CX_AUDIT_DROP;
	}
	if (cell) {
		loss = seq_pass(a, cell, tag, p);
		if (loss) {
			ac->own = own_add(ac->own, -(int64_t)loss);
			a->c.agg_loss_bytes += loss;
		}
	}
	a->res->reason = CX_AUDIT_R_AGG;
	a->res->shortfall_bytes = acct_settle(a, ac);
	return CX_AUDIT_PASS;
}

/*
 * FIN or RST let through: the flow goes, leaving its debt with its
 * source, but never more than it owed before this packet: a FIN alone
 * (forged, say, CE and marked X+L on a new 5-tuple) moves nothing, and
 * the CE of a FIN carrying a whole GSO burst stays the flow's. Unspent
 * credit goes with it.
 */
static void flow_end(struct cx_audit *a, struct flow *f,
		     const struct cx_audit_pkt *p, int64_t before)
{
	struct account *ac = pkt_acct(a), *fa = NULL;

	if (f->acct == ac->gen)
		fa = ac;
	else if (f->acct == OVERFLOW_GEN)
		fa = &a->overflow;
	if (fa) {
		flow_leave(a, fa, f, CX_MIN(CX_MAX(f->reported, before),
					    (int64_t)0));
		if (fa == ac)
			acct_settle(a, ac);
	}
	cx_flowtable_delete(a->flows, &p->key);
	a->c.flows_ended++;
	a->res->events |= CX_AUDIT_E_FLOW_END;
}

int cx_audit_packet(struct cx_audit *a, const struct cx_audit_pkt *p,
		    struct cx_audit_result *res)
{
	enum cx_sig_class cls;
	struct flow *f = NULL;
	int64_t before = 0;
	void *v;
	int verdict;

	if (!a || !p || !res)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	a->res = res;
	a->pkt = p;
	a->ac = NULL;
	a->c.packets++;
	a->c.bytes += p->ip_bytes;
	a->now_units = (uint32_t)(p->now_ns >> IDLE_SHIFT);
	a->now_ticks = (uint32_t)(p->now_ns >> TICK_SHIFT);
	cls = classify(a, p);
	count_class(a, p, cls);

	if (cx_flowtable_lookup(a->flows, &p->key, &v) == 0) {
		f = v;
		before = flow_credit(a, f);
	} else if (cls == CX_CONEX_MARKED) {
		f = flow_create(a, p);
	}

	if (f && cls != CX_NOT_CONEX) {
		verdict = flow_audit(a, f, p, cls);
	} else {
		if (f)
			a->c.not_conex_in_flow++;
		verdict = acct_audit(a, p, cls);
	}

	if (verdict == CX_AUDIT_PASS && f &&
	    (p->flags & (CX_AUDIT_P_FIN | CX_AUDIT_P_RST)))
		flow_end(a, f, p, before);

	if (verdict == CX_AUDIT_DROP) {
		a->c.dropped++;
		a->c.dropped_bytes += p->ip_bytes;
	} else {
		a->c.passed++;
	}
	a->res = NULL;
	a->pkt = NULL;
	a->ac = NULL;
	return verdict;
}

void cx_audit_counters(const struct cx_audit *a, struct cx_audit_counters *out)
{
	struct cx_flowtable_stats st;

	*out = a->c;
	cx_flowtable_stats(a->flows, &st);
	out->flows_live = st.live;
	cx_flowtable_stats(a->sources, &st);
	out->sources_live = st.live;
}

static void flow_info(const struct cx_audit *a, const struct cx_flow_key *k,
		      const struct flow *f, struct cx_audit_flow_info *out)
{
	const struct bal *b = &f->bal;

	memset(out, 0, sizeof(*out));
	out->key = *k;
	out->credit_bal_bytes = b->credit;
	out->reecho_bal_bytes = b->reecho;
	out->pending_bytes = bal_pending(b);
	out->debt_bytes = bal_debt(b);
	out->shortfall_bytes = flow_shortfall(a, f);
	out->dropped_bytes = f->dropped_bytes;
	out->hole_bytes = f->seq.hole_bytes;
	out->flags = f->flags | (f->seq.tag ? CX_AUDIT_F_SEQ : 0);
}

int cx_audit_flow_get(struct cx_audit *a, const struct cx_flow_key *k,
		      struct cx_audit_flow_info *out)
{
	void *v;

	if (cx_flowtable_lookup(a->flows, k, &v) < 0)
		return -ENOENT;
	flow_info(a, k, v, out);
	return 0;
}

int cx_audit_flow_next(struct cx_audit *a, uint32_t *cursor,
		       struct cx_audit_flow_info *out)
{
	const struct cx_flow_key *k;
	void *v;

	if (cx_flowtable_next(a->flows, cursor, &k, &v) < 0)
		return -ENOENT;
	flow_info(a, k, v, out);
	return 0;
}

static void source_info(const struct cx_audit *a, const struct cx_flow_key *k,
			const struct account *ac,
			struct cx_audit_source_info *out)
{
	memset(out, 0, sizeof(*out));
	if (k) {
		memcpy(out->addr, k->saddr, sizeof(out->addr));
		out->family = k->family;
	}
	out->balance_bytes = acct_balance(ac);
	out->own_bytes = ac->own;
	out->flows_bytes = ac->flows;
	out->debt_bytes = acct_debt(ac);
	out->shortfall_bytes = over_slack(a, out->debt_bytes);
	out->dropped_bytes = ac->dropped_bytes;
	out->flows = ac->nflows;
	out->flows_in_debt = ac->in_debt;
	out->flags = ac->flags;
}

int cx_audit_source_get(struct cx_audit *a, const uint8_t src[16],
			uint8_t family, struct cx_audit_source_info *out)
{
	struct cx_flow_key sk;
	void *v;

	source_key(&sk, src, family);
	if (cx_flowtable_lookup(a->sources, &sk, &v) < 0)
		return -ENOENT;
	source_info(a, &sk, v, out);
	return 0;
}

int cx_audit_source_next(struct cx_audit *a, uint32_t *cursor,
			 struct cx_audit_source_info *out)
{
	const struct cx_flow_key *k;
	void *v;

	if (cx_flowtable_next(a->sources, cursor, &k, &v) < 0)
		return -ENOENT;
	source_info(a, k, v, out);
	return 0;
}

void cx_audit_overflow_info(const struct cx_audit *a,
			    struct cx_audit_source_info *out)
{
	source_info(a, NULL, &a->overflow, out);
}

int cx_audit_source_debt(struct cx_audit *a, const uint8_t src[16],
			 uint8_t family, uint64_t *debt_bytes)
{
	struct cx_audit_source_info si;
	int ret;

	ret = cx_audit_source_get(a, src, family, &si);
	if (ret == 0)
		*debt_bytes = si.debt_bytes;
	return ret;
}

int cx_audit_source_restore(struct cx_audit *a, const uint8_t src[16],
			    uint8_t family, uint64_t debt_bytes, uint64_t now_ns)
{
	struct cx_audit_result res;
	struct cx_audit_pkt p;
	struct account *ac;
	int64_t debt;

	if (!a || !src || (family != CX_FLOW_IPV4 && family != CX_FLOW_IPV6) ||
	    a->pkt)
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	memcpy(p.src, src, sizeof(p.src));
	p.key.family = family;
	p.now_ns = now_ns;
	memset(&res, 0, sizeof(res));
	a->res = &res;
	a->pkt = &p;
	a->ac = NULL;
	a->now_units = (uint32_t)(now_ns >> IDLE_SHIFT);
	a->now_ticks = (uint32_t)(now_ns >> TICK_SHIFT);
	ac = acct_get(a, &p);
	a->res = NULL;
	a->pkt = NULL;
	a->ac = NULL;
	if (ac == &a->overflow)
		return -ENOSPC;
	debt = (int64_t)CX_MIN(debt_bytes, (uint64_t)a->debt_cap_bytes);
	ac->own = own_add(ac->own, -debt);
	return 0;
}
