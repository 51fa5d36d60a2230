/*
 * Random packet sequences through a small audit. Input: byte 0 = flow
 * capacity - 1 (mod 8), byte 1 = source capacity - 1 (mod 4), byte 2 =
 * log2 sketch buckets (mod 4), byte 3 = flows per source (mod 4, 0: the
 * default) and debt cap (bit 2: 20000 bytes, else the default); then 8
 * bytes per packet: key id (mod 32: ids 0..15 IPv4 from 4 sources, bits
 * 0..1; ids 16..31 IPv6 from 4 addresses in 2 /64s, bit 1), signal octet,
 * flags (2 bytes: bit 9 TS, bit 10 not TCP), sequence step (signed, 2
 * bytes, x 64), payload (x 64), time step (x 1 ms).
 * Invariants, trapped on violation:
 * - the verdict is PASS or DROP, a drop always has a sanction reason and
 *   a shortfall, a ConEx-Marked packet is never dropped, and a TCP packet
 *   without payload never by a source's sanction;
 * - counters add up: classes and audit places sum to packets, passes and
 *   drops to packets, flow, source and aggregate drops to drops, source
 *   and overflow sanctions to aggregate sanctions, live flows to created -
 *   ended - evicted and never above capacity, nor live sources;
 * - a flow in debt is never evicted: after each packet every earlier
 *   debtor is still present unless that very packet ended it;
 * - outstanding holes never exceed the cap;
 * - partition: no source's account changes on another source's packet
 *   (balance, debt, sanction, dropped bytes), except the shared overflow
 *   account; a record another source's packet removes was one that owed
 *   no more than the slack and had no flow in debt;
 * - the packet's source owes at most the debt cap, and is under sanction
 *   exactly when it owes more than the slack (the overflow's state
 *   follows its own packets);
 * - a FIN or RST alone (a flow created and ended by the same packet)
 *   never adds to its source's debt, and a flow that ends leaves no more
 *   debt than it had before the packet.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <conex/audit.h>
#include <conex/signal.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { NKEYS = 32, REC = 8, HDR = 4, MAXFLOWS = 8, MAXSRC = 8 };

#define SLACK	CX_AUDIT_SLACK_DEFAULT
#define SCALE	(16 * 1024)

static struct cx_flow_key key_of(uint32_t id)
{
	static const uint8_t d6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 9,
					0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t s6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
			   0, 0, 0, 0, 0, 0, 0, 0 };
	struct cx_flow_key k;

	if (id < 16) {
		cx_flow_key_v4(&k, 0xc6120000 | (id & 3), 0xc6130001,
			       (uint16_t)(1000 + id), 80, 6);
		return k;
	}
	s6[7] = (uint8_t)((id >> 1) & 1);	/* the /64 */
	s6[15] = (uint8_t)(1 + (id & 1));	/* an address in it */
	cx_flow_key_v6(&k, s6, d6, (uint16_t)(1000 + id), 80, 6);
	return k;
}

/* The account key of a source address, as the audit forms it. */
static void acct_addr(const struct cx_flow_key *k, uint8_t out[16])
{
	memset(out, 0, 16);
	memcpy(out, k->saddr, k->family == CX_FLOW_IPV6 ? 8 : 16);
}

static bool marked(const struct cx_audit_pkt *p)
{
	return (p->flags & CX_AUDIT_P_CONEX) &&
	       !(p->flags & (CX_AUDIT_P_MCAST_CDO | CX_AUDIT_P_FRAG |
			     CX_AUDIT_P_RF_NONATOMIC)) &&
	       cx_sig_classify(p->sig) == CX_CONEX_MARKED;
}

static void check_counters(struct cx_audit *a, uint32_t cap, uint32_t scap)
{
	struct cx_audit_counters c;

	cx_audit_counters(a, &c);
	if (c.passed + c.dropped != c.packets ||
	    c.not_conex + c.conex_not_marked + c.conex_marked != c.packets ||
	    c.flow_packets + c.agg_packets != c.packets ||
	    c.flow_drops + c.source_drops + c.agg_drops != c.dropped ||
	    c.source_sanctions + c.overflow_sanctions != c.agg_sanction_starts ||
	    c.source_sanction_ends + c.overflow_sanction_ends !=
	    c.agg_sanction_ends ||
	    c.agg_sanction_ends > c.agg_sanction_starts ||
	    c.sanction_ends > c.sanction_starts ||
	    c.flows_created - c.flows_ended - c.flows_evicted != c.flows_live ||
	    c.flows_live > cap || c.sources_live > scap ||
	    c.dropped_bytes > c.bytes)
		__builtin_trap();
}

struct srcs {
	uint32_t n;
	struct cx_audit_source_info s[MAXSRC];
};

/* Every record, without marking any referenced (iteration). */
static void snap_sources(struct cx_audit *a, struct srcs *out)
{
	uint32_t cursor = 0;

	out->n = 0;
	while (out->n < MAXSRC &&
	       cx_audit_source_next(a, &cursor, &out->s[out->n]) == 0)
		out->n++;
}

static const struct cx_audit_source_info *
find_src(const struct srcs *ss, const uint8_t addr[16], uint8_t family)
{
	uint32_t i;

	for (i = 0; i < ss->n; i++)
		if (ss->s[i].family == family &&
		    memcmp(ss->s[i].addr, addr, 16) == 0)
			return &ss->s[i];
	return NULL;
}

static void check_sources(const struct srcs *before, const struct srcs *after,
			  const struct cx_audit_pkt *p, int64_t cap_bytes,
			  const struct cx_audit_result *res)
{
	const struct cx_audit_source_info *o, *n;
	uint8_t mine[16];
	uint32_t i;

	acct_addr(&p->key, mine);
	for (i = 0; i < before->n; i++) {
		o = &before->s[i];
		if (o->family == p->key.family && memcmp(o->addr, mine, 16) == 0)
			continue;
		n = find_src(after, o->addr, o->family);
		if (!n) {
			/* Made room: owed at most the slack, no flow in debt. */
			if (o->flows_in_debt || o->own_bytes < -(int64_t)SLACK ||
			    (o->flags & CX_AUDIT_F_SANCTION))
				__builtin_trap();
			continue;
		}
		if (n->balance_bytes != o->balance_bytes ||
		    n->debt_bytes != o->debt_bytes || n->flags != o->flags ||
		    n->dropped_bytes != o->dropped_bytes)
			__builtin_trap();
	}
	for (i = 0; i < after->n; i++) {
		n = &after->s[i];
		if (n->family == p->key.family && memcmp(n->addr, mine, 16) == 0) {
			if (n->debt_bytes > (uint64_t)cap_bytes ||
			    !!(n->flags & CX_AUDIT_F_SANCTION) !=
			    (n->debt_bytes > SLACK) ||
			    (res->events & CX_AUDIT_E_OVERFLOW))
				__builtin_trap();
			o = find_src(before, n->addr, n->family);
			/* A FIN or RST alone moves no debt. */
			if (o && (res->events & CX_AUDIT_E_FLOW_NEW) &&
			    (res->events & CX_AUDIT_E_FLOW_END) &&
			    n->debt_bytes > o->debt_bytes)
				__builtin_trap();
			continue;
		}
		if (!find_src(before, n->addr, n->family))
			__builtin_trap();	/* made by another's packet */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cx_siphash_key sk = { 0x1111, 0x2222 };
	struct cx_flow_key debtors[MAXFLOWS];
	uint32_t seq[NKEYS] = { 0 }, cap, scap, ndebt, cursor;
	struct cx_audit_flow_info fi;
	struct cx_audit_cfg cfg;
	struct srcs before, after;
	struct cx_audit *a;
	uint64_t now = 1000000;
	int64_t cap_bytes;
	size_t i, j;

	if (size < HDR)
		return 0;
	cx_audit_cfg_default(&cfg);
	cfg.flow_capacity = cap = 1 + data[0] % MAXFLOWS;
	cfg.source_capacity = scap = 1 + data[1] % 4;
	cfg.sketch_buckets = 1U << (data[2] % 4);
	cfg.source_flows_max = data[3] & 3;
	cfg.debt_cap_bytes = data[3] & 4 ? 20000 : 0;
	cfg.hole_cap_bytes = 64 * 1024;
	cfg.sanction_scale_bytes = SCALE;
	cap_bytes = cfg.debt_cap_bytes ? cfg.debt_cap_bytes : SLACK + 2 * SCALE;
	a = cx_audit_new(&cfg, &sk);
	if (!a)
		__builtin_trap();

	for (i = HDR; i + REC <= size; i += REC) {
		const uint8_t *r = data + i;
		uint32_t id = r[0] % NKEYS;
		struct cx_audit_counters c0, c1;
		struct cx_audit_result res;
		struct cx_audit_pkt p;
		int64_t credit_before = 0;
		int16_t step;
		int ret;

		memset(&p, 0, sizeof(p));
		p.key = key_of(id);
		memcpy(p.src, p.key.saddr, sizeof(p.src));
		ndebt = 0;
		cursor = 0;
		while (cx_audit_flow_next(a, &cursor, &fi) == 0) {
			if (fi.hole_bytes > cfg.hole_cap_bytes)
				__builtin_trap();
			if (fi.debt_bytes)
				debtors[ndebt++] = fi.key;
			if (cx_flow_key_equal(&fi.key, &p.key))
				credit_before = fi.credit_bal_bytes;
		}
		snap_sources(a, &before);
		cx_audit_counters(a, &c0);

		p.sig = r[1];
		p.flags = (uint16_t)(r[2] | (r[3] & 0x03) << 8);
		if (!(r[3] & 0x04))
			p.flags |= CX_AUDIT_P_TCP;
		memcpy(&step, r + 4, sizeof(step));
		seq[id] += (uint32_t)(int32_t)step * 64;
		p.seq = seq[id];
		p.tsval = seq[id] >> 8;
		p.payload_bytes = (uint32_t)r[6] * 64;
		p.ip_bytes = p.payload_bytes + 52;
		now += (uint64_t)(r[7] & 0x0f) * 1000000;
		p.now_ns = now;
		p.rand = (uint32_t)r[7] * 0x01010101U;

		ret = cx_audit_packet(a, &p, &res);
		if (ret == CX_AUDIT_DROP) {
			if ((res.reason != CX_AUDIT_R_FLOW_SANCTION &&
			     res.reason != CX_AUDIT_R_AGG_SANCTION &&
			     res.reason != CX_AUDIT_R_SOURCE_SANCTION) ||
			    !res.shortfall_bytes || marked(&p))
				__builtin_trap();
			if (res.reason != CX_AUDIT_R_FLOW_SANCTION &&
			    (p.flags & CX_AUDIT_P_TCP) && !p.payload_bytes)
				__builtin_trap();
		} else if (ret == CX_AUDIT_PASS) {
			if (res.reason != CX_AUDIT_R_FLOW &&
			    res.reason != CX_AUDIT_R_AGG)
				__builtin_trap();
		} else {
			__builtin_trap();
		}
		for (j = 0; j < ndebt; j++) {
			bool ended = cx_flow_key_equal(&debtors[j], &p.key) &&
				     (res.events & CX_AUDIT_E_FLOW_END);

			if (!ended &&
			    cx_audit_flow_get(a, &debtors[j], &fi) == -ENOENT)
				__builtin_trap();
		}
		check_counters(a, cap, scap);
		snap_sources(a, &after);
		check_sources(&before, &after, &p, cap_bytes, &res);
		/* An ended flow leaves no more than it owed before. */
		cx_audit_counters(a, &c1);
		if ((res.events & CX_AUDIT_E_FLOW_END) &&
		    !(res.events & CX_AUDIT_E_FLOW_EVICTED) &&
		    c1.debt_to_source_bytes - c0.debt_to_source_bytes >
		    (uint64_t)(credit_before < 0 ? -credit_before : 0))
			__builtin_trap();
	}
	cx_audit_free(a);
	return 0;
}
