/*
 * ConEx audit decisions (RFC 7713 §3.2, §5.5; see audit.h for the
 * balances). The project's rules, each with its reason:
 *
 * Counting (RFC 7837 §4, CONEX.md §2, §3). A ConEx-Marked packet declares
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
 * everything else without state, form one aggregate, where their CE and
 * losses are still observed and sanctioned. So declaring nothing on some
 * packets of a ConEx flow moves their congestion to the aggregate rather
 * than hiding it. A FIN or RST ends the flow whatever its encoding,
 * because the marker sends X=0 on packets without payload.
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
 * caller's random value. ConEx-Marked packets are never dropped: each
 * declares at least its own size, so a sender cannot gain by marking to
 * avoid the sanction, its declarations pay the debt down, and RFC 7837 §8
 * drops ConEx-Marked packets last. Declarations and CE of a dropped packet
 * still count: the upstream policer has charged them, and the congestion
 * happened.
 *
 * Aggregate (RFC 7837 §8 drop preference: Not-ConEx, X-only first). Its CE
 * and losses are set against whatever declarations land in it (marked
 * packets of flows refused state); Not-ConEx and X-only traffic declares
 * nothing, so congestion it causes puts the aggregate in shortfall.
 * Losses come from a sketch: sketch_buckets cells keyed by SipHash of the
 * 5-tuple, each holding one flow's sequence state and a tag of its owner;
 * a different owner resets the cell, so collisions lose detection but
 * never invent loss. Unlike a flow, the aggregate cannot declare its way
 * back, so each byte its sanction drops writes one byte of its debt off:
 * undeclared congestion is converted into equal loss, which is what a
 * drop-tail queue would have imposed on a legacy sender, so not marking
 * gains nothing, and legacy traffic is not starved for ever.
 *
 * Whitewashing and exhaustion. A flow owing anything (credit or re-echo
 * balance below zero) is pinned: the flow table's policy never evicts it.
 * When a flow ends (FIN/RST) its debt moves to a per-source record, and
 * the source's next new flow starts with that debt against its credit, so
 * a restart under a new 5-tuple pays first. A source record with debt is
 * pinned too. A new flow needs a source record; if the source table is
 * full of debtors, or the flow table full of pinned flows, the packet is
 * audited in the aggregate instead (counted), so exhausting state moves
 * a cheat into the aggregate's audit, never out of audit.
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
	uint64_t dropped_bytes;
	uint64_t reported_bytes;	/* its share of the source's live_bytes */
};

/*
 * debt_bytes: debt of the source's ended flows, taken by its next flow.
 * live_bytes: the sum of the shortfalls of its flows still in the table,
 * which a new flow of the source also starts with (see flow_create).
 */
struct source {
	uint64_t debt_bytes;
	uint64_t live_bytes;
};

struct cx_audit {
	struct cx_audit_cfg cfg;
	struct cx_siphash_key sketch_key;
	uint64_t slot_ns;
	struct cx_flowtable *flows;
	struct cx_flowtable *sources;
	struct seqtrack *sketch;
	struct bal agg;
	uint32_t agg_flags;
	uint64_t agg_dropped_bytes;
	struct cx_audit_counters c;
	struct cx_audit_result *res;	/* of the packet in progress */
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
	};
}

int cx_audit_cfg_check(const struct cx_audit_cfg *cfg)
{
	if (!cfg)
		return -EINVAL;
	if (cfg->flow_capacity < 1 ||
	    cfg->flow_capacity > CX_FLOWTABLE_CAPACITY_MAX ||
	    cfg->source_capacity < 1 ||
	    cfg->source_capacity > CX_FLOWTABLE_CAPACITY_MAX)
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
	s = cx_flowtable_mem_size(cfg->source_capacity, sizeof(struct source));
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

static uint64_t bal_debt(const struct bal *b)
{
	int64_t worst = CX_MIN(b->credit, b->reecho);

	return worst < 0 ? (uint64_t)-worst : 0;
}

static uint64_t sat_add(uint64_t v, uint64_t bytes)
{
	return bytes > UINT64_MAX - v ? UINT64_MAX : v + bytes;
}

/* Source records share the flow table's code: a key with only an address. */
static void source_key(struct cx_flow_key *k, const uint8_t src[16],
		       uint8_t family)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->saddr, src, sizeof(k->saddr));
	k->family = family;
}

/*
 * A flow that owes nothing may make room. One in debt is pinned, so that
 * a cheat cannot escape by crowding it out, until it has been idle for
 * idle_ns: then it was abandoned (a sender that opens flows and leaves
 * them sanctioned), and it makes room too, its debt going to its source's
 * record, which the next flow of that source inherits. Only if that record
 * exists: a debt with nowhere to go stays pinned.
 */
static bool flow_idle(const struct cx_audit *a, const struct flow *f)
{
	uint64_t idle = (uint64_t)(a->now_units - f->seen) << IDLE_SHIFT;

	return a->cfg.idle_ns && idle >= a->cfg.idle_ns;
}

static bool flow_can_evict(const struct cx_flow_key *k, const void *value,
			   void *arg)
{
	const struct flow *f = value;
	struct cx_audit *a = arg;
	struct cx_flow_key sk;
	void *v;

	if (!(f->flags & CX_AUDIT_F_SANCTION) && !bal_debt(&f->bal))
		return true;
	if (!flow_idle(a, f))
		return false;
	source_key(&sk, k->saddr, k->family);
	return cx_flowtable_lookup(a->sources, &sk, &v) == 0;
}

static void flow_on_evict(const struct cx_flow_key *k, void *value, void *arg)
{
	struct cx_audit *a = arg;
	struct flow *f = value;
	uint64_t debt = bal_debt(&f->bal);
	struct cx_flow_key sk;
	struct source *src;
	void *v;

	a->c.flows_evicted++;
	a->res->events |= CX_AUDIT_E_FLOW_EVICTED;
	if (!debt && !f->reported_bytes)
		return;
	/* can_evict found the record. */
	source_key(&sk, k->saddr, k->family);
	if (cx_flowtable_lookup(a->sources, &sk, &v) < 0)
		return;
	src = v;
	src->live_bytes -= CX_MIN(src->live_bytes, f->reported_bytes);
	if (debt) {
		src->debt_bytes = sat_add(src->debt_bytes, debt);
		a->c.flows_aged++;
		a->c.debt_to_source++;
		a->c.debt_to_source_bytes += debt;
		a->res->events |= CX_AUDIT_E_DEBT_TO_SOURCE;
	}
}

static bool source_can_evict(const struct cx_flow_key *k, const void *value,
			     void *arg)
{
	(void)k;
	(void)arg;
	const struct source *src = value;

	return !src->debt_bytes && !src->live_bytes;
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
	};
	struct cx_audit *a;
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
	/* An independent key, so sketch cells and table buckets are unrelated. */
	a->sketch_key.k0 = key->k0 ^ 0x736b657463686b30ULL;
	a->sketch_key.k1 = key->k1 ^ 0x6175646974736b31ULL;
	a->flows = cx_flowtable_new(cfg->flow_capacity, sizeof(struct flow), key);
	if (!a->flows)
		goto err_free_audit;
	a->sources = cx_flowtable_new(cfg->source_capacity,
				      sizeof(struct source), key);
	if (!a->sources)
		goto err_free_flows;
	a->sketch = calloc(cfg->sketch_buckets, sizeof(*a->sketch));
	if (!a->sketch)
		goto err_free_sources;
	fpol.arg = a;
	fpol.max_scan = cfg->evict_scan;
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

/* Aggregate only: a dropped byte writes off a byte of each deficit. */
static void bal_repay(struct bal *b, uint32_t bytes)
{
	if (b->credit < 0)
		b->credit = CX_MIN(bal_add(b->credit, bytes), (int64_t)0);
	if (b->reecho < 0)
		b->reecho = CX_MIN(bal_add(b->reecho, bytes), (int64_t)0);
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
 * slow start send credit for half the flight for exactly this (CONEX.md
 * §5), and credit is checked at once, so the start is not unaudited. On
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

/*
 * A new flow needs its source's record first (to inherit debt now, and
 * to hold debt later). NULL: no state, audit in the aggregate.
 */
static struct flow *flow_create(struct cx_audit *a,
				const struct cx_audit_pkt *p)
{
	struct cx_flow_key sk;
	struct source *src;
	struct flow *f;
	uint64_t debt;
	void *v;
	int sret, ret;

	source_key(&sk, p->src, p->key.family);
	sret = cx_flowtable_insert(a->sources, &sk, &v);
	if (sret == -ENOSPC) {
		a->c.source_full++;
		a->res->events |= CX_AUDIT_E_SOURCE_FULL;
		return NULL;
	}
	src = v;
	ret = cx_flowtable_insert(a->flows, &p->key, &v);
	if (ret == -ENOSPC) {
		a->c.table_full++;
		a->res->events |= CX_AUDIT_E_TABLE_FULL;
		/* A record made just now holds nothing: give it back. */
		if (sret == 0)
			cx_flowtable_delete(a->sources, &sk);
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
	/*
	 * Whitewashing (RFC 7713 §5.5): a new flow starts with its source's
	 * debt, both that of ended flows (moved) and the shortfall of flows
	 * still open (copied: a sender that abandons a sanctioned flow for a
	 * new 5-tuple owes it on the new one; one that keeps both pays on
	 * both, which only a source already under-declaring can incur).
	 */
	debt = sat_add(src->debt_bytes, src->live_bytes);
	if (debt) {
		f->bal.credit = bal_sub(0, debt);
		a->c.debt_inherited++;
		a->c.debt_inherited_bytes += debt;
		a->res->events |= CX_AUDIT_E_DEBT_INHERITED;
		src->debt_bytes = 0;
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

static void agg_sanction_state(struct cx_audit *a, uint64_t short_bytes)
{
	if (short_bytes && !(a->agg_flags & CX_AUDIT_F_SANCTION)) {
		a->agg_flags |= CX_AUDIT_F_SANCTION;
		a->c.agg_sanction_starts++;
		a->res->events |= CX_AUDIT_E_AGG_SANCTION_START;
	} else if (!short_bytes && (a->agg_flags & CX_AUDIT_F_SANCTION)) {
		a->agg_flags &= ~(uint32_t)CX_AUDIT_F_SANCTION;
		a->c.agg_sanction_ends++;
		a->res->events |= CX_AUDIT_E_AGG_SANCTION_END;
	}
}

/*
 * Keep the source's live_bytes equal to the sum of its flows' shortfalls.
 * Only flows that have or had a shortfall pay for the lookup.
 */
static void flow_report(struct cx_audit *a, struct flow *f,
			const struct cx_audit_pkt *p, uint64_t short_bytes)
{
	struct cx_flow_key sk;
	struct source *src;
	void *v;

	if (short_bytes == f->reported_bytes)
		return;
	source_key(&sk, p->src, p->key.family);
	if (cx_flowtable_insert(a->sources, &sk, &v) == -ENOSPC) {
		a->c.source_full++;
		a->res->events |= CX_AUDIT_E_SOURCE_FULL;
		return;
	}
	src = v;
	src->live_bytes -= CX_MIN(src->live_bytes, f->reported_bytes);
	src->live_bytes = sat_add(src->live_bytes, short_bytes);
	f->reported_bytes = short_bytes;
}

/*
 * The verdict is taken on the balances including this packet's
 * declarations and CE; the loss its sequence reveals counts from the next
 * packet on (it only becomes known once the packet is let through).
 */
static int flow_audit(struct cx_audit *a, struct flow *f,
		      const struct cx_audit_pkt *p, enum cx_sig_class cls)
{
	uint64_t short_bytes;
	uint32_t loss;

	a->c.flow_packets++;
	f->seen = a->now_units;
	bal_advance(&f->bal, p->now_ns / a->slot_ns, true);
	if (cls == CX_CONEX_MARKED)
		bal_declare(&f->bal, p->sig, p->ip_bytes);
	if (p->flags & CX_AUDIT_P_CE)
		bal_observe(&f->bal, p->ip_bytes);
	short_bytes = flow_shortfall(a, f);
	if (cls != CX_CONEX_MARKED &&
	    sanction_hit(short_bytes, a->cfg.sanction_scale_bytes, p->rand)) {
		seq_drop(a, &f->seq, 1, p);
		f->dropped_bytes += p->ip_bytes;
		a->c.flow_drops++;
		flow_sanction_state(a, f, short_bytes);
		flow_report(a, f, p, short_bytes);
		a->res->reason = CX_AUDIT_R_FLOW_SANCTION;
		a->res->shortfall_bytes = short_bytes;
		return CX_AUDIT_DROP;
	}
	loss = seq_pass(a, &f->seq, 1, p);
	if (loss) {
		bal_observe(&f->bal, loss);
		a->c.flow_loss_bytes += loss;
	}
	short_bytes = flow_shortfall(a, f);
	flow_sanction_state(a, f, short_bytes);
	flow_report(a, f, p, short_bytes);
	a->res->reason = CX_AUDIT_R_FLOW;
	a->res->shortfall_bytes = short_bytes;
	return CX_AUDIT_PASS;
}

static struct seqtrack *sketch_cell(const struct cx_audit *a,
				    const struct cx_flow_key *k, uint32_t *tag)
{
	uint64_t h = cx_flow_key_hash(k, &a->sketch_key);

	*tag = (uint32_t)(h >> 32) | 1;
	return &a->sketch[h & (a->cfg.sketch_buckets - 1)];
}

static int agg_audit(struct cx_audit *a, const struct cx_audit_pkt *p,
		     enum cx_sig_class cls)
{
	struct seqtrack *cell = NULL;
	uint64_t short_bytes;
	uint32_t tag = 0, loss;

	a->c.agg_packets++;
	if (seq_len(p))
		cell = sketch_cell(a, &p->key, &tag);
	bal_advance(&a->agg, p->now_ns / a->slot_ns, false);
	if (cls == CX_CONEX_MARKED)
		bal_declare(&a->agg, p->sig, p->ip_bytes);
	if (p->flags & CX_AUDIT_P_CE)
		bal_observe(&a->agg, p->ip_bytes);
	short_bytes = shortfall(a, &a->agg);
	if (cls != CX_CONEX_MARKED &&
	    sanction_hit(short_bytes, a->cfg.sanction_scale_bytes, p->rand)) {
		if (cell)
			seq_drop(a, cell, tag, p);
		bal_repay(&a->agg, p->ip_bytes);
		a->agg_dropped_bytes += p->ip_bytes;
		a->c.agg_drops++;
		agg_sanction_state(a, shortfall(a, &a->agg));
		a->res->reason = CX_AUDIT_R_AGG_SANCTION;
		a->res->shortfall_bytes = short_bytes;
		return CX_AUDIT_DROP;
	}
	if (cell) {
		loss = seq_pass(a, cell, tag, p);
		if (loss) {
			bal_observe(&a->agg, loss);
			a->c.agg_loss_bytes += loss;
		}
	}
	short_bytes = shortfall(a, &a->agg);
	agg_sanction_state(a, short_bytes);
	a->res->reason = CX_AUDIT_R_AGG;
	a->res->shortfall_bytes = short_bytes;
	return CX_AUDIT_PASS;
}

/*
 * FIN or RST let through: release the state, its debt to the source. If
 * no source record can hold the debt, the flow stays, pinned, and a
 * later FIN/RST tries again.
 */
static void flow_end(struct cx_audit *a, struct flow *f,
		     const struct cx_audit_pkt *p)
{
	uint64_t debt = bal_debt(&f->bal);
	struct cx_flow_key sk;
	struct source *src;
	void *v;

	if (debt || f->reported_bytes) {
		source_key(&sk, p->src, p->key.family);
		if (cx_flowtable_insert(a->sources, &sk, &v) == -ENOSPC) {
			if (!(f->flags & CX_AUDIT_F_ENDED)) {
				f->flags |= CX_AUDIT_F_ENDED;
				a->c.end_pinned++;
			}
			a->res->events |= CX_AUDIT_E_END_PINNED;
			return;
		}
		src = v;
		src->live_bytes -= CX_MIN(src->live_bytes, f->reported_bytes);
		if (debt) {
			src->debt_bytes = sat_add(src->debt_bytes, debt);
			a->c.debt_to_source++;
			a->c.debt_to_source_bytes += debt;
			a->res->events |= CX_AUDIT_E_DEBT_TO_SOURCE;
		}
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
	void *v;
	int verdict;

	if (!a || !p || !res)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	a->res = res;
	a->c.packets++;
	a->c.bytes += p->ip_bytes;
	a->now_units = (uint32_t)(p->now_ns >> IDLE_SHIFT);
	a->now_ticks = (uint32_t)(p->now_ns >> TICK_SHIFT);
	cls = classify(a, p);
	count_class(a, p, cls);

	if (cx_flowtable_lookup(a->flows, &p->key, &v) == 0)
		f = v;
	else if (cls == CX_CONEX_MARKED)
		f = flow_create(a, p);

	if (f && cls != CX_NOT_CONEX) {
		verdict = flow_audit(a, f, p, cls);
	} else {
		if (f)
			a->c.not_conex_in_flow++;
		verdict = agg_audit(a, p, cls);
	}

	if (verdict == CX_AUDIT_PASS && f &&
	    (p->flags & (CX_AUDIT_P_FIN | CX_AUDIT_P_RST)))
		flow_end(a, f, p);

	if (verdict == CX_AUDIT_DROP) {
		a->c.dropped++;
		a->c.dropped_bytes += p->ip_bytes;
	} else {
		a->c.passed++;
	}
	a->res = NULL;
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

static void info_fill(const struct cx_audit *a, struct cx_audit_flow_info *out,
		      const struct bal *b)
{
	out->credit_bal_bytes = b->credit;
	out->reecho_bal_bytes = b->reecho;
	out->pending_bytes = bal_pending(b);
	out->debt_bytes = bal_debt(b);
	out->shortfall_bytes = shortfall(a, b);
}

void cx_audit_agg_info(const struct cx_audit *a,
		       struct cx_audit_flow_info *out)
{
	memset(out, 0, sizeof(*out));
	info_fill(a, out, &a->agg);
	out->dropped_bytes = a->agg_dropped_bytes;
	out->flags = a->agg_flags;
}

static void flow_info(const struct cx_audit *a, const struct cx_flow_key *k,
		      const struct flow *f, struct cx_audit_flow_info *out)
{
	memset(out, 0, sizeof(*out));
	out->key = *k;
	info_fill(a, out, &f->bal);
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

int cx_audit_source_debt(struct cx_audit *a, const uint8_t src[16],
			 uint8_t family, uint64_t *debt_bytes)
{
	struct cx_flow_key sk;
	void *v;

	source_key(&sk, src, family);
	if (cx_flowtable_lookup(a->sources, &sk, &v) < 0)
		return -ENOENT;
	*debt_bytes = ((const struct source *)v)->debt_bytes;
	return 0;
}
