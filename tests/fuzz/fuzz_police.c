/*
 * Random operation sequences through one tenant's policer
 * (conex/police.h). Input: 12 bytes of configuration (allowance, burst,
 * peak, peak burst, ramp, share, mode, start time; some combinations are
 * invalid and must be refused), then 8 bytes per operation: op and time
 * scale, time step (2 bytes), value (4 bytes), random byte.
 * Invariants, trapped on violation after every operation:
 * - 0 <= p <= 1e6 ppm, p_ns <= ramp_ns; levels within [-depth, depth];
 * - a verdict is exactly what the drop probability read just before
 *   predicts for the packet's rand, and a refused packet counts nothing;
 * - counters add up: drops <= packets, dropped bytes <= bytes, passed
 *   plus dropped marks equal the marks offered, feedback and grants equal
 *   what was fed in; time over never exceeds the time that passed, and
 *   with no time over there is no p and no drop;
 * - a grant raises the level by exactly what fits and returns the rest;
 * - mode switches keep level and p; set_cfg keeps p and the clamped
 *   level, or refuses and changes nothing; want_bytes follows its rule;
 * - the const queries agree with the state after catching up.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <conex/police.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { HDR = 12, REC = 8 };

struct model {
	uint64_t marked;	/* marks offered in accepted packets */
	uint64_t feedback;
	uint64_t granted;
	uint64_t forward_ns;	/* sum of forward clock steps */
};

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

static int64_t clamp64(int64_t x, int64_t lo, int64_t hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

static void check(const struct cx_police *p, const struct model *m,
		  uint64_t now)
{
	const struct cx_police_counters *c = &p->c;
	int64_t burst = (int64_t)p->cfg.burst_bytes;
	int64_t pdepth = (int64_t)(p->peak.burst_bytes / 2);
	int64_t level = cx_police_level_bytes(p, now);
	int64_t plevel = cx_police_peak_level_bytes(p, now);
	uint32_t ppm = cx_police_drop_ppm(p, now);
	uint64_t want = cx_police_want_bytes(p, now);

	if (ppm > CX_POLICE_PPM || p->p_ns > p->cfg.ramp_ns)
		__builtin_trap();
	if (level < -burst || level > burst || plevel < -pdepth ||
	    plevel > pdepth)
		__builtin_trap();
	if (cx_police_is_over(p, now) != (level <= 0 || plevel <= 0))
		__builtin_trap();
	if (c->drops > c->packets || c->dropped_bytes > c->bytes ||
	    c->reecho_bytes + c->credit_bytes + c->dropped_marked_bytes !=
	    m->marked ||
	    c->charged_bytes > c->reecho_bytes + c->credit_bytes ||
	    c->feedback_bytes != m->feedback ||
	    c->granted_bytes != m->granted ||
	    c->grant_excess_bytes > c->granted_bytes ||
	    c->over_ns > m->forward_ns)
		__builtin_trap();
	if (c->over_ns == 0 && (p->p_ns != 0 || c->drops != 0))
		__builtin_trap();
	if (p->mode != CX_POLICE_BANK) {
		if (want)
			__builtin_trap();
	} else if (want != (level < burst / 2 ? (uint64_t)(burst - level) : 0)) {
		__builtin_trap();
	}
}

static void cfg_from(struct cx_police_cfg *cfg, const uint8_t *d)
{
	cx_police_cfg_default(cfg);
	cfg->allowance_bps =
		((uint64_t)d[0] << 16 | (uint64_t)d[1] << 8 | d[2]) * 1000 + 1;
	cfg->burst_bytes = 1500 + ((uint64_t)d[3] << 8 | d[4]) * 64;
	/* d[5] / 16 x allowance: below 16 the peak is invalid. */
	cfg->peak_bps = d[5] ? cfg->allowance_bps * d[5] / 16 : 0;
	cfg->peak_burst_bytes = (uint64_t)d[6] * 1500;
	cfg->ramp_ns = (uint64_t)d[7] * 1000000;
	cfg->share_ppm = (uint32_t)d[8] * 4000;
}

/* A new cfg: one field of the current one changed from v. */
static void cfg_vary(struct cx_police_cfg *cfg, uint32_t v)
{
	uint64_t x = v >> 3;

	switch (v & 7) {
	case 0: cfg->allowance_bps = x * 1000; break;
	case 1: cfg->burst_bytes = x; break;
	case 2: cfg->peak_bps = x * 10000; break;
	case 3: cfg->peak_burst_bytes = x; break;
	case 4: cfg->ramp_ns = x * 1000; break;
	case 5: cfg->share_ppm = (uint32_t)x; break;
	default: cfg->burst_bytes = x * 4096; cfg->ramp_ns = x * 100000; break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_police_cfg cfg;
	struct cx_police p, q;
	struct model m;
	uint64_t now;
	size_t i;
	int ret;

	if (size < HDR)
		return 0;
	cfg_from(&cfg, data);
	now = ((uint64_t)data[10] << 8 | data[11]) * 1000000;
	ret = cx_police_init(&p, &cfg, data[9] % 4, now);
	if ((cx_police_cfg_check(&cfg) == 0 && data[9] % 4 < 3) != (ret == 0))
		__builtin_trap();
	if (ret)
		return 0;
	memset(&m, 0, sizeof(m));
	check(&p, &m, now);

	for (i = HDR; i + REC <= size; i += REC) {
		const uint8_t *r = data + i;
		uint64_t step = (uint64_t)r[1] << 8 | r[2];
		uint32_t v = (uint32_t)r[3] << 24 | (uint32_t)r[4] << 16 |
			     (uint32_t)r[5] << 8 | r[6];
		uint32_t rnd = (uint32_t)r[7] * 0x01010101U ^ v;
		int64_t level, lo, hi;
		uint32_t ppm;

		/* Time: ns, us or ms steps; bit 7 steps the clock back. */
		step *= (r[0] & 0x30) == 0 ? 1 : (r[0] & 0x30) == 0x10 ? 1000 :
			1000000;
		if (r[0] & 0x80) {
			now -= step < now ? step : now;
		} else {
			now += step;
			m.forward_ns += step;
		}

		switch (r[0] & 7) {
		case 0:
		case 1:
		case 2: {
			uint32_t pkt = v & 0xffff;
			uint64_t re = (uint64_t)pkt * ((v >> 16) % 4);
			uint64_t c = (uint64_t)pkt * ((v >> 18) % 3);
			uint64_t f = re * (rnd & 0xff) / 255;
			uint64_t marked = re + c;

			ppm = cx_police_drop_ppm(&p, now);
			memcpy(&q, &p, sizeof(q));
			ret = cx_police_packet(&p, re, c, f, pkt, rnd, now);
			if (re > 2ULL * pkt || c > pkt) {
				if (ret != -EINVAL ||
				    memcmp(&p.c, &q.c, sizeof(p.c)))
					__builtin_trap();
				break;
			}
			/* ConEx-Marked packets are dropped with p^2 */
			if (marked)
				ppm = (uint32_t)((uint64_t)ppm * ppm / CX_POLICE_PPM);
			if (ret != ((uint64_t)rnd * CX_POLICE_PPM <
				    (uint64_t)ppm << 32 ?
				    CX_POLICE_DROP : CX_POLICE_PASS))
				__builtin_trap();
			if (p.c.packets != q.c.packets + 1)
				__builtin_trap();
			/* A passed packet is charged by the once-only rule. */
			if (ret == CX_POLICE_PASS && marked &&
			    p.c.charged_bytes - q.c.charged_bytes !=
			    cx_charge_add(&q.charge, re, c, f, CX_CHARGE_WINDOW_NS, now))
				__builtin_trap();
			m.marked += marked;
			break;
		}
		case 3: {
			uint64_t b = v == UINT32_MAX ? UINT64_MAX : (uint64_t)v * 16;

			cx_police_drain(&p, b, now);
			m.feedback = sat_add(m.feedback, b);
			break;
		}
		case 4: {
			uint64_t b = (uint64_t)v * 16, excess, fit;

			level = cx_police_level_bytes(&p, now);
			excess = cx_police_grant(&p, b, now);
			fit = p.cfg.burst_bytes - (uint64_t)level;
			if (excess != (b > fit ? b - fit : 0) ||
			    cx_police_level_bytes(&p, now) !=
			    (b > fit ? (int64_t)p.cfg.burst_bytes :
			     level + (int64_t)b))
				__builtin_trap();
			m.granted = sat_add(m.granted, b);
			break;
		}
		case 5: {
			int mode = (int)(v % 4);

			level = cx_police_level_bytes(&p, now);
			ppm = cx_police_drop_ppm(&p, now);
			ret = cx_police_set_mode(&p, mode, now);
			if ((mode <= CX_POLICE_MODE_MAX) != (ret == 0) ||
			    cx_police_level_bytes(&p, now) != level ||
			    cx_police_drop_ppm(&p, now) != ppm ||
			    (ret == 0 && p.mode != (uint32_t)mode))
				__builtin_trap();
			break;
		}
		case 6: {
			struct cx_police_cfg nc = p.cfg;

			cfg_vary(&nc, v);
			level = cx_police_level_bytes(&p, now);
			ppm = cx_police_drop_ppm(&p, now);
			memcpy(&q, &p, sizeof(q));
			ret = cx_police_set_cfg(&p, &nc, now);
			if ((cx_police_cfg_check(&nc) == 0) != (ret == 0))
				__builtin_trap();
			if (ret) {
				if (memcmp(&p, &q, sizeof(p)))
					__builtin_trap();
				break;
			}
			hi = (int64_t)nc.burst_bytes;
			lo = -hi;
			/* p keeps its ramp; the debt's cap on it follows the
			 * new depths, so the reading is kept when they are. */
			if (cx_police_level_bytes(&p, now) !=
			    clamp64(level, lo, hi) || p.mode != q.mode ||
			    (p.main.burst_bytes == q.main.burst_bytes &&
			     p.peak.burst_bytes == q.peak.burst_bytes &&
			     cx_police_level_bytes(&p, now) == level &&
			     cx_police_drop_ppm(&p, now) != ppm))
				__builtin_trap();
			break;
		}
		default:
			/* Catching up (a grant of 0) changes no reading. */
			level = cx_police_level_bytes(&p, now);
			ppm = cx_police_drop_ppm(&p, now);
			if (cx_police_grant(&p, 0, now) != 0 ||
			    cx_police_level_bytes(&p, now) != level ||
			    cx_police_drop_ppm(&p, now) != ppm)
				__builtin_trap();
			break;
		}
		check(&p, &m, now);
	}
	return 0;
}
