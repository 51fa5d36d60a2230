/*
 * Random packet sequences through a small audit. Input: byte 0 = flow
 * capacity - 1 (mod 8), byte 1 = source capacity - 1 (mod 4), byte 2 =
 * log2 sketch buckets (mod 4); then 8 bytes per packet: key id (low 4
 * bits; the source is bits 0..1), signal octet, flags (2 bytes), sequence
 * step (signed, 2 bytes, x 64), payload (x 64), time step (x 1 ms).
 * Invariants, trapped on violation:
 * - the verdict is PASS or DROP, a drop always has a sanction reason and
 *   a shortfall, and a ConEx-Marked packet is never dropped;
 * - counters add up: classes and audit places sum to packets, passes and
 *   drops to packets, flow and aggregate drops to drops, live flows to
 *   created - ended - evicted and never above capacity;
 * - a flow in debt is never evicted: after each packet every earlier
 *   debtor is still present unless that very packet ended it;
 * - outstanding holes never exceed the cap.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <conex/audit.h>
#include <conex/signal.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { NKEYS = 16, REC = 8, MAXFLOWS = 8 };

static struct cx_flow_key key_of(uint32_t id)
{
	struct cx_flow_key k;

	cx_flow_key_v4(&k, 0xc6120000 | (id & 3), 0xc6130001,
		       (uint16_t)(1000 + id), 80, 6);
	return k;
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
	    c.flow_drops + c.agg_drops != c.dropped ||
	    c.flows_created - c.flows_ended - c.flows_evicted != c.flows_live ||
	    c.flows_live > cap || c.sources_live > scap ||
	    c.dropped_bytes > c.bytes)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cx_siphash_key sk = { 0x1111, 0x2222 };
	struct cx_flow_key debtors[MAXFLOWS];
	uint32_t seq[NKEYS] = { 0 }, cap, scap, ndebt, cursor;
	struct cx_audit_flow_info fi;
	struct cx_audit_cfg cfg;
	struct cx_audit *a;
	uint64_t now = 1000000;
	size_t i, j;

	if (size < 3)
		return 0;
	cx_audit_cfg_default(&cfg);
	cfg.flow_capacity = cap = 1 + data[0] % MAXFLOWS;
	cfg.source_capacity = scap = 1 + data[1] % 4;
	cfg.sketch_buckets = 1U << (data[2] % 4);
	cfg.hole_cap_bytes = 64 * 1024;
	cfg.sanction_scale_bytes = 16 * 1024;
	a = cx_audit_new(&cfg, &sk);
	if (!a)
		__builtin_trap();

	for (i = 3; i + REC <= size; i += REC) {
		const uint8_t *r = data + i;
		uint32_t id = r[0] % NKEYS;
		struct cx_audit_result res;
		struct cx_audit_pkt p;
		int16_t step;
		int ret;

		ndebt = 0;
		cursor = 0;
		while (cx_audit_flow_next(a, &cursor, &fi) == 0) {
			if (fi.hole_bytes > cfg.hole_cap_bytes)
				__builtin_trap();
			if (fi.debt_bytes)
				debtors[ndebt++] = fi.key;
		}

		memset(&p, 0, sizeof(p));
		p.key = key_of(id);
		memcpy(p.src, p.key.saddr, sizeof(p.src));
		p.sig = r[1];
		p.flags = (uint16_t)(r[2] | (r[3] & 0x01) << 8) |
			  CX_AUDIT_P_TCP;
		memcpy(&step, r + 4, sizeof(step));
		seq[id] += (uint32_t)(int32_t)step * 64;
		p.seq = seq[id];
		p.payload_bytes = (uint32_t)r[6] * 64;
		p.ip_bytes = p.payload_bytes + 52;
		now += (uint64_t)(r[7] & 0x0f) * 1000000;
		p.now_ns = now;
		p.rand = (uint32_t)r[7] * 0x01010101U;

		ret = cx_audit_packet(a, &p, &res);
		if (ret == CX_AUDIT_DROP) {
			if ((res.reason != CX_AUDIT_R_FLOW_SANCTION &&
			     res.reason != CX_AUDIT_R_AGG_SANCTION) ||
			    !res.shortfall_bytes || marked(&p))
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
	}
	cx_audit_free(a);
	return 0;
}
