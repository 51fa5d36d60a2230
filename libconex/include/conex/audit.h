/*
 * ConEx audit (RFC 7713 §3.2, §5.5; docs/wire.md §4): the receiver-side
 * decision whether a sender declares at least the congestion it is seen to
 * cause. Pure: the caller parses each packet (cx_cdo_find, cx_ipv4id_decode,
 * cx_tcp_decode), fills a struct cx_audit_pkt and acts on the verdict; time
 * and randomness come in with the packet, so equal inputs give equal
 * verdicts.
 *
 * Per flow (created only by a ConEx-Marked packet, RFC 7713 §5.5), in
 * bytes, counting each packet's ip_bytes (docs/wire.md §2, §3):
 *
 *   credit_bal  = sum(C) - observed            checked at once
 *   reecho_bal  = sum(L) + sum(E) - settled    checked with an allowance
 *   observed    = CE bytes + loss bytes (sequence holes later filled)
 *   settled     = observed congestion older than reecho_allowance_ns,
 *                 for a flow in its sending time: a silence counts for
 *                 one slot (allowance / 7) at most
 *   shortfall   = max(-credit_bal, -(reecho_bal + cover)) - slack_bytes,
 *                 if > 0, where cover = min(max(credit_bal, 0),
 *                 2 * slack_bytes): unspent credit covers up to two more
 *                 slacks of re-echo; in a flow's first second,
 *                 -credit_bal - slack_bytes
 *
 * Per source, so that what one sender does cannot drain another: a
 * source is the packet's source address, an IPv6 one by its /64 (a guest
 * owns at least a /64 and could rotate addresses within it), an IPv4 one
 * whole (guests share IPv4 prefixes; a guest owning a /28 holds 16
 * sources, a bound its prefix sets). Its account, in bytes of credit:
 *
 *   balance   = own + sum over its flows of min(credit_bal, 2 * slack)
 *   own       = sum(C) - CE - loss of its packets without flow state,
 *               + what its flows left: an evicted flow its reported
 *               credit, an ended one its debt (never more than before its
 *               FIN/RST), + bytes its sanction dropped (write-offs; a
 *               flow's own sanction writes nothing off)
 *   debt      = max(-balance, 0), at most debt_cap (slack + 2 * scale):
 *               beyond it debt is forgotten
 *   shortfall = debt - slack_bytes, if > 0: one slack per source
 *
 * Credit, because it is declared ahead and re-sent when lost, so an
 * honest source's balance stays >= 0 however many flows it runs, while
 * debt left on flows it abandons (or never marks) adds up. X-only and
 * Not-ConEx packets declare nothing: their congestion is their source's
 * debt like any other, and they are what its sanction drops. Each byte
 * it drops writes a byte of the debt off: undeclared congestion
 * costs an equal loss (what a drop-tail queue takes), never more, so
 * debt forged in a source's name (spoofed while its policer is down)
 * costs that source at most the cap once.
 *
 * Sanction: each packet that is not ConEx-Marked is dropped with
 * probability min(1, max(flow shortfall, source shortfall) /
 * sanction_scale_bytes); a source's sanction spares TCP packets without
 * payload (SYN, ACK, FIN, RST), so that a source in debt can still end
 * its flows. One source holds at most source_flows_max flows;
 * beyond, or with the flow table full, its packets are audited in its
 * own balance. A source that finds no record (the source table full of
 * debtors) is audited in the shared overflow account, counted.
 *
 * Memory is taken once by cx_audit_new(); the per-packet path allocates
 * nothing and is O(1): at most four hash lookups, and loops bounded by
 * CX_AUDIT_RING_SLOTS and the tables' eviction scans.
 */
#ifndef CONEX_AUDIT_H
#define CONEX_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <conex/flow.h>
#include <conex/siphash.h>

/* Time slots of observed congestion awaiting re-echo, per flow. */
#define CX_AUDIT_RING_SLOTS		8

/*
 * Defaults, all set by cx_audit_cfg_default().
 *
 * reecho_allowance_ns: re-echo lags the congestion it reports by about one
 * RTT (RFC 7713 §5.5). On the testbed a 64 KiB queue at 100 Mbit/s adds
 * about 5 ms, so 20 ms covers a few RTTs plus the marker's one-packet
 * deferral; congestion is settled between 1x and 8/7x this age, for a
 * flow of its sending time (see bal_advance in audit.c: a flow stalled in
 * a retransmission timeout has no packet to carry its re-echo).
 *
 * slack_bytes: eight full-size packets: the rounding between the marker's
 * payload-byte gauges and the audit's ip_bytes, a stray reordering
 * mistaken for a loss, and the E and L of the few packets a congestion
 * episode drops before the audit (an honest marker re-sends lost credit,
 * not lost re-echo: on the testbed, an overloaded queue that dropped 3 000
 * packets in 15 s left one honest flow 6.3 KB short of re-echo while its
 * credit stood at +13 KB). Granted once per flow and once per source:
 * the source's check sums its flows.
 *
 * sanction_scale_bytes: shortfall at which every unmarked packet is
 * dropped; one 64 KiB window, so a flow that keeps under-declaring for
 * about a window's worth of congestion loses everything it sends.
 *
 * hole_cap_bytes: outstanding sequence holes per flow (and per sketch
 * bucket) are capped at 16 windows of 64 KiB, so a forged sequence jump
 * cannot manufacture more than that in apparent loss.
 *
 * reorder_window_ns: a hole filled by a packet sent no later than the one
 * that opened it (TSval not after, RFC 7323 §3) within this time is
 * reordering, not loss. On the testbed one reordering event moved 26
 * packets behind a later one, filled 3.3 ms after (serialised at the
 * 100 Mbit/s bottleneck); 64 KiB there takes 5.2 ms, so 10 ms covers a
 * window's worth. 0 counts every fill as loss.
 *
 * idle_ns: a flow in debt is pinned (never evicted) so that a cheat cannot
 * crowd it out; after a minute without a packet it was abandoned, and may
 * make room, its debt staying with its source. A source record in debt
 * (or with a flow in debt) is pinned the same way. Otherwise a sender
 * that opens flows and leaves them sanctioned would fill the tables for
 * good.
 *
 * source_capacity: every packet's source has an account, so as many as
 * flows by default (a million flows from 65536 sources churned a 4096
 * record table at twice the cost per packet).
 *
 * source_flows_max (0: flow_capacity / 32, at least 64 or the table):
 * flows one source may hold, so that a sender opening new 5-tuples fast
 * cannot take the flow table from everyone else.
 *
 * debt_cap_bytes (0: slack + 2 * sanction_scale_bytes): a source's debt
 * beyond it is forgotten. At the cap every unmarked packet of the source
 * is dropped, so a cheat still under-declaring gains nothing by it; it
 * bounds what debt forged in the source's name can cost.
 */
#define CX_AUDIT_FLOWS_DEFAULT		65536
#define CX_AUDIT_SOURCES_DEFAULT	65536
#define CX_AUDIT_SKETCH_DEFAULT		4096
#define CX_AUDIT_SLACK_DEFAULT		(8 * 1500)
#define CX_AUDIT_ALLOWANCE_DEFAULT_NS	(20ULL * 1000 * 1000)
#define CX_AUDIT_SCALE_DEFAULT		(64 * 1024)
#define CX_AUDIT_HOLE_CAP_DEFAULT	(16 * 64 * 1024)
#define CX_AUDIT_REORDER_DEFAULT_NS	(10ULL * 1000 * 1000)
#define CX_AUDIT_IDLE_DEFAULT_NS	(60ULL * 1000 * 1000 * 1000)

/* Validation bounds (cx_audit_cfg_check). */
#define CX_AUDIT_SKETCH_MAX		(1U << 20)
#define CX_AUDIT_SLACK_MAX		(1ULL << 32)
#define CX_AUDIT_ALLOWANCE_MIN_NS	(CX_AUDIT_RING_SLOTS - 1)
#define CX_AUDIT_ALLOWANCE_MAX_NS	(60ULL * 1000 * 1000 * 1000)
#define CX_AUDIT_SCALE_MAX		UINT32_MAX
#define CX_AUDIT_HOLE_CAP_MAX		(1U << 30)
#define CX_AUDIT_REORDER_MAX_NS		(1000ULL * 1000 * 1000)
#define CX_AUDIT_IDLE_MAX_NS		(24ULL * 3600 * 1000 * 1000 * 1000)

struct cx_audit_cfg {
	uint32_t flow_capacity;		/* per-flow records */
	uint32_t source_capacity;	/* per-source accounts */
	uint32_t sketch_buckets;	/* loss sketch without flow state, a power of two */
	uint32_t evict_scan;		/* flow-table CLOCK scan; 0: table default */
	uint32_t hole_cap_bytes;
	uint32_t sanction_scale_bytes;
	uint64_t slack_bytes;
	uint64_t reecho_allowance_ns;
	uint64_t reorder_window_ns;
	uint64_t idle_ns;		/* a flow in debt idle this long may be evicted; 0: never */
	uint32_t source_flows_max;	/* flows per source; 0: default */
	uint32_t debt_cap_bytes;	/* a source's debt; 0: default */
};

/* What the caller found in the packet (struct cx_audit_pkt.flags). */
enum {
	CX_AUDIT_P_CONEX = 1U << 0,	/* a ConEx encoding: CDO, or RF=1 on atomic IPv4 */
	CX_AUDIT_P_MCAST_CDO = 1U << 1,	/* CDO to a multicast destination */
	CX_AUDIT_P_FRAG = 1U << 2,	/* non-first fragment */
	CX_AUDIT_P_RF_NONATOMIC = 1U << 3,	/* IPv4 RF=1 but DF=0, MF=1 or offset != 0 */
	CX_AUDIT_P_CE = 1U << 4,	/* ECN field CE */
	CX_AUDIT_P_TCP = 1U << 5,	/* seq and payload_bytes are valid */
	CX_AUDIT_P_SYN = 1U << 6,
	CX_AUDIT_P_FIN = 1U << 7,
	CX_AUDIT_P_RST = 1U << 8,
	CX_AUDIT_P_TS = 1U << 9,	/* tsval is valid (TCP Timestamps option) */
};

struct cx_audit_pkt {
	struct cx_flow_key key;
	uint8_t src[16];	/* its source's address: key.saddr (flows use it) */
	uint64_t now_ns;	/* monotonic */
	uint32_t ip_bytes;	/* IPv6 40 + Payload Length, IPv4 Total Length; GSO: sum */
	uint32_t seq;		/* TCP sequence number of the first payload byte */
	uint32_t payload_bytes;	/* TCP payload, 0 for a pure ACK */
	uint32_t rand;		/* uniform random value drawn by the caller */
	uint32_t tsval;		/* TCP TSval (RFC 7323 §3), with CX_AUDIT_P_TS */
	uint16_t flags;		/* CX_AUDIT_P_* */
	uint8_t sig;		/* CX_SIG_* as decoded, reserved bits included */
};

enum cx_audit_verdict {
	CX_AUDIT_PASS = 0,
	CX_AUDIT_DROP = 1,
};

/*
 * Why: struct cx_audit_result.reason. "Aggregate" is what has no flow
 * state: a source's own balance, or the overflow account's.
 */
enum cx_audit_reason {
	CX_AUDIT_R_FLOW = 0,		/* passed, audited in its flow */
	CX_AUDIT_R_AGG,			/* passed, audited without flow state */
	CX_AUDIT_R_FLOW_SANCTION,	/* dropped: flow under sanction */
	CX_AUDIT_R_AGG_SANCTION,	/* dropped, no flow state: source under sanction */
	CX_AUDIT_R_SOURCE_SANCTION,	/* dropped, a flow's: its source under sanction */
};

/* What happened on this packet (struct cx_audit_result.events). */
enum {
	CX_AUDIT_E_FLOW_NEW = 1U << 0,
	CX_AUDIT_E_FLOW_END = 1U << 1,		/* FIN/RST: state released */
	CX_AUDIT_E_FLOW_EVICTED = 1U << 2,	/* another flow made room */
	CX_AUDIT_E_SANCTION_START = 1U << 3,	/* of the packet's flow */
	CX_AUDIT_E_SANCTION_END = 1U << 4,
	CX_AUDIT_E_AGG_SANCTION_START = 1U << 5,	/* of the packet's source (or overflow) */
	CX_AUDIT_E_AGG_SANCTION_END = 1U << 6,
	CX_AUDIT_E_DEBT_TO_SOURCE = 1U << 7,	/* a flow left debt with its source */
	CX_AUDIT_E_DEBT_INHERITED = 1U << 8,	/* new flow of a source in debt */
	CX_AUDIT_E_TABLE_FULL = 1U << 9,	/* no flow state: all pinned */
	CX_AUDIT_E_OVERFLOW = 1U << 10,		/* no source record: the overflow account */
	CX_AUDIT_E_SOURCE_FLOWS_FULL = 1U << 11,	/* no flow state: source at its share */
	CX_AUDIT_E_HOLE_CAPPED = 1U << 12,
	CX_AUDIT_E_ANOMALY = 1U << 13,		/* one of the anomaly counters moved */
	CX_AUDIT_E_DEBT_CAPPED = 1U << 14,	/* source debt beyond the cap forgotten */
};

struct cx_audit_result {
	uint32_t reason;	/* enum cx_audit_reason */
	uint32_t events;	/* CX_AUDIT_E_* */
	uint64_t shortfall_bytes;	/* the larger of its flow's and its source's */
};

struct cx_audit_counters {
	uint64_t packets;
	uint64_t bytes;
	uint64_t passed;
	uint64_t dropped;
	uint64_t dropped_bytes;
	uint64_t flow_drops;		/* dropped by a flow's sanction */
	uint64_t agg_drops;		/* without flow state, by their source's */
	uint64_t source_drops;		/* of a flow, by its source's sanction */
	/* Classification (RFC 7713 §2.1); the three sum to packets. */
	uint64_t not_conex;
	uint64_t conex_not_marked;
	uint64_t conex_marked;
	/* Declared bytes, once per flag set (RFC 7837 §4). */
	uint64_t l_bytes;
	uint64_t e_bytes;
	uint64_t c_bytes;
	/* Observed congestion. */
	uint64_t ce_packets;
	uint64_t ce_bytes;
	uint64_t ce_marked;		/* CE and ConEx-Marked: both counted */
	uint64_t flow_loss_bytes;
	uint64_t agg_loss_bytes;
	uint64_t self_drop_refills;	/* refill bytes not counted: the audit's own drops */
	uint64_t holes_capped;
	uint64_t seq_jumps;		/* advance beyond any TCP window: ignored */
	uint64_t reorder_bytes;		/* hole fills judged reordered, not loss */
	/* Anomalies, each also counted in not_conex or as classified. */
	uint64_t x0_with_flags;		/* X=0 with L/E/C: flags ignored */
	uint64_t reserved_set;		/* reserved bits ignored */
	uint64_t mcast_cdo;
	uint64_t non_first_frag;
	uint64_t rf_non_atomic;
	uint64_t not_conex_in_flow;	/* ignored by the flow, audited in its source */
	/* Packets audited where. */
	uint64_t flow_packets;
	uint64_t agg_packets;		/* without flow state */
	/* Flow state. */
	uint64_t flows_created;
	uint64_t flows_ended;
	uint64_t flows_evicted;
	uint64_t flows_aged;		/* of those, in debt but idle (idle_ns) */
	uint64_t flows_live;
	uint64_t table_full;
	uint64_t source_flows_full;	/* new flow refused: its source at source_flows_max */
	uint64_t sanction_starts;
	uint64_t sanction_ends;
	/* Sources. */
	uint64_t sources_live;
	uint64_t source_overflow;	/* packets of sources refused a record (table
					 * full of pinned ones): the overflow account */
	uint64_t source_sanctions;	/* sanctions started of a source's account */
	uint64_t source_sanction_ends;
	uint64_t overflow_sanctions;	/* of the overflow account */
	uint64_t overflow_sanction_ends;
	uint64_t agg_sanction_starts;	/* source_sanctions + overflow_sanctions */
	uint64_t agg_sanction_ends;
	uint64_t debt_to_source;	/* flows that left debt with their source */
	uint64_t debt_to_source_bytes;
	uint64_t debt_inherited;	/* new flows of a source in debt */
	uint64_t debt_inherited_bytes;	/* the source's debt then */
	uint64_t debt_capped_bytes;	/* source debt beyond debt_cap, forgotten */
};

enum {
	CX_AUDIT_F_SEQ = 1U << 0,	/* rcv_max valid */
	CX_AUDIT_F_SANCTION = 1U << 1,
};

/* A flow's audit state, for export and tests. */
struct cx_audit_flow_info {
	struct cx_flow_key key;
	int64_t credit_bal_bytes;
	int64_t reecho_bal_bytes;
	uint64_t pending_bytes;		/* observed, not yet settled */
	uint64_t shortfall_bytes;	/* the flow's own */
	uint64_t debt_bytes;		/* max(-credit_bal, -reecho_bal, 0) */
	uint64_t dropped_bytes;
	uint32_t hole_bytes;
	uint32_t flags;			/* CX_AUDIT_F_* */
};

/* A source's account (or the overflow's), for export and tests. */
struct cx_audit_source_info {
	uint8_t addr[16];		/* the key: IPv4 as ::ffff:a.b.c.d, IPv6 its /64 */
	uint8_t family;			/* CX_FLOW_IPV4/6; 0 for the overflow */
	int64_t balance_bytes;		/* own + flows: negative is debt */
	int64_t own_bytes;
	int64_t flows_bytes;		/* its flows' credit as counted here */
	uint64_t debt_bytes;
	uint64_t shortfall_bytes;
	uint64_t dropped_bytes;		/* its packets the audit dropped */
	uint32_t flows;			/* flows counting here */
	uint32_t flows_in_debt;
	uint32_t flags;			/* CX_AUDIT_F_SANCTION */
};

struct cx_audit;

void cx_audit_cfg_default(struct cx_audit_cfg *cfg);

/* 0, or -EINVAL if any field is outside its documented range. */
int cx_audit_cfg_check(const struct cx_audit_cfg *cfg);

/*
 * All memory at once. NULL with errno EINVAL (bad config or key) or
 * ENOMEM. The siphash key (secret, from getrandom) spreads flows over the
 * tables and the sketch so a sender cannot aim collisions.
 */
struct cx_audit *cx_audit_new(const struct cx_audit_cfg *cfg,
			      const struct cx_siphash_key *key);
void cx_audit_free(struct cx_audit *a);

/*
 * Bytes cx_audit_new() takes for cfg, and the share of one flow record
 * (flow table bytes / flow_capacity, rounded up); 0 for a bad config.
 */
size_t cx_audit_mem_size(const struct cx_audit_cfg *cfg);
size_t cx_audit_mem_per_flow(const struct cx_audit_cfg *cfg);

/*
 * Audit one packet. Returns CX_AUDIT_PASS or CX_AUDIT_DROP with *res
 * filled, or -EINVAL (NULL argument).
 */
int cx_audit_packet(struct cx_audit *a, const struct cx_audit_pkt *p,
		    struct cx_audit_result *res);

void cx_audit_counters(const struct cx_audit *a, struct cx_audit_counters *out);

/* 0 with *out filled, or -ENOENT. Marks the flow referenced, as a packet does. */
int cx_audit_flow_get(struct cx_audit *a, const struct cx_flow_key *k,
		      struct cx_audit_flow_info *out);

/*
 * Snapshot iteration over flows: *cursor = 0 to start; 0 with *out filled,
 * or -ENOENT at the end. Call between packets, not during.
 */
int cx_audit_flow_next(struct cx_audit *a, uint32_t *cursor,
		       struct cx_audit_flow_info *out);

/*
 * The account of the source of src (an address: IPv6 is keyed by its
 * /64): 0 with *out filled, or -ENOENT (no record). Marks it referenced.
 */
int cx_audit_source_get(struct cx_audit *a, const uint8_t src[16],
			uint8_t family, struct cx_audit_source_info *out);

/* Snapshot iteration over source records, as cx_audit_flow_next. */
int cx_audit_source_next(struct cx_audit *a, uint32_t *cursor,
			 struct cx_audit_source_info *out);

/* The overflow account, shared by sources without a record. */
void cx_audit_overflow_info(const struct cx_audit *a,
			    struct cx_audit_source_info *out);

/* A source's debt: 0 with *debt_bytes set, or -ENOENT (no record). */
int cx_audit_source_debt(struct cx_audit *a, const uint8_t src[16],
			 uint8_t family, uint64_t *debt_bytes);

/*
 * A debt a previous run left a source with (a restart must not forgive
 * it): the source's record, made if need be, owes debt_bytes more, capped
 * like any inherited debt. Call between packets. 0, -ENOSPC (no room in
 * the source table: nothing restored) or -EINVAL.
 */
int cx_audit_source_restore(struct cx_audit *a, const uint8_t src[16],
			    uint8_t family, uint64_t debt_bytes, uint64_t now_ns);

#endif
