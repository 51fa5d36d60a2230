/*
 * Random event sequences through the RFC 7786 gauges (conex/gauge.h).
 * Invariants checked after every step, trapping on violation:
 *   - gauges stay within [0, CX_GAUGE_MAX_BYTES] (no wrap to "negative");
 *   - prepaid L and E stay below one packet, and exist only at a 0 gauge;
 *   - snd_una <= sack_high and snd_una <= snd_max (sequence order);
 *   - a send returns 0 only for an empty or absurd payload, else X set and
 *     no reserved bits; the cheats never emit what they promise not to;
 *   - after slow start, a packet that left without C found CSC >= flight.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <conex/byteorder.h>
#include <conex/gauge.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct cx_gauge *g)
{
	if (g->leg_bytes > CX_GAUGE_MAX_BYTES || g->ceg_bytes > CX_GAUGE_MAX_BYTES ||
	    g->csc_bytes > CX_GAUGE_MAX_BYTES || g->leg_debt_bytes > CX_GAUGE_MAX_BYTES)
		__builtin_trap();
	if (cx_gauge_seq_before(g->sack_high, g->snd_una) ||
	    cx_gauge_seq_before(g->snd_max, g->snd_una))
		__builtin_trap();
	if (g->sacked_bytes > CX_GAUGE_MAX_SPAN_BYTES)
		__builtin_trap();
	/* Prepaid marks: at most one packet, and only once the gauge is 0. */
	if (g->leg_prepaid_bytes > CX_GAUGE_MAX_SPAN_BYTES ||
	    g->ceg_prepaid_bytes > CX_GAUGE_MAX_SPAN_BYTES ||
	    (g->leg_prepaid_bytes && g->leg_bytes) ||
	    (g->ceg_prepaid_bytes && g->ceg_bytes))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_gauge_cfg cfg;
	struct cx_gauge_sack sack;
	struct cx_gauge g;
	uint32_t base, seq, len, segs, n;
	size_t off;
	uint8_t op, bits;
	bool ss;

	if (size < 8)
		return 0;
	cfg.init_credit_pkts = data[0] % 16;
	cfg.credit_every_pkts = data[1] % 8;
	cfg.cheat = data[2] % (CX_GAUGE_CHEAT_MAX + 1);
	base = cx_get_be32(data + 3);
	cx_gauge_init(&g, &cfg, base, 536 + data[7]);
	check(&g);
	/* Events of 12 bytes; offsets are relative to the ISN, so wrap is hit. */
	for (off = 8, n = 0; size - off >= 12 && n < 4096; off += 12, n++) {
		op = data[off] % 5;
		seq = base + (cx_get_be32(data + off + 1) & 0x3ffff);
		len = cx_get_be16(data + off + 5);
		segs = data[off + 7] % 48;
		if (op == 0) {
			ss = g.flags & CX_GAUGE_F_SLOW_START;
			bits = cx_gauge_send(&g, &cfg, seq, len, segs);
			if (len == 0) {
				if (bits != 0)
					__builtin_trap();
			} else {
				if (!(bits & CX_SIG_X) || (bits & CX_SIG_RES))
					__builtin_trap();
				if (cfg.cheat == CX_GAUGE_NOMARK && bits != CX_SIG_X)
					__builtin_trap();
				if (cfg.cheat == CX_GAUGE_CREDITONLY &&
				    (bits & (CX_SIG_L | CX_SIG_E)))
					__builtin_trap();
				if (cfg.cheat == CX_GAUGE_HONEST && !ss &&
				    !(bits & CX_SIG_C) &&
				    g.csc_bytes < (uint32_t)(g.snd_max - g.snd_una))
					__builtin_trap();
			}
		} else if (op == 1) {
			memset(&sack, 0, sizeof(sack));
			sack.nblocks = data[off + 8] % 3;
			sack.start[0] = seq - (data[off + 9] << 4);
			sack.end[0] = sack.start[0] + (data[off + 10] << 6);
			sack.start[1] = sack.start[0] - (data[off + 11] << 3);
			sack.end[1] = sack.end[0] + (data[off + 11] << 5);
			cx_gauge_ack(&g, &cfg, seq, data[off + 8] & 0x80, &sack);
		} else if (op == 2) {
			uint64_t r = cx_gauge_ce_count(&g, &cfg, data[off + 8], len);

			if (r > len)
				__builtin_trap();
		} else if (op == 3) {
			cx_gauge_set_ecn(&g, data[off + 8] % 3);
		} else {
			/* AccECN: ACE, and ECEB when bit 3 of byte 8 says so. */
			uint64_t r, ceg = g.ceg_bytes, pre = g.ceg_prepaid_bytes;
			uint32_t eceb = cx_get_be32(data + off + 8) & CX_GAUGE_ECEB_MASK;
			bool has = data[off + 8] & 0x08;

			r = cx_gauge_accecn(&g, &cfg, data[off + 8], has, eceb, len);
			if (!(g.flags & CX_GAUGE_F_ACCECN) && r)
				__builtin_trap();
			/* Without the option, never more than was delivered. */
			if ((!has && r > len) || r >= CX_GAUGE_ECEB_HALF)
				__builtin_trap();
			/* Honest: all of it into CEG, after paying prepaid E. */
			if (cfg.cheat == CX_GAUGE_HONEST && r &&
			    g.ceg_bytes + (pre - g.ceg_prepaid_bytes) != ceg + r)
				__builtin_trap();
		}
		check(&g);
	}
	return 0;
}
