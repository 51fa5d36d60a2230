/*
 * ConEx congestion policer (see police.h for the model and its numbers).
 *
 * Each bucket (main, peak) is a struct cx_tb of twice its depth D
 * holding level + D: the cx_tb's floor 0 is the debt bound -D, its cap
 * the depth D, and cx_tb's exact refill (1/8e9 byte units) carries across
 * the debt range with no separate debt counter to repay. A bucket is
 * empty while its level is <= 0 in whole bytes, i.e. while the cx_tb
 * holds fewer than D + 1 whole bytes. Without debt the peak bucket would
 * be empty only for the instant after each drain (it earns a byte within
 * a microsecond at 10 Mbit/s), and spending above the peak rate would
 * never keep the tenant over.
 *
 * p is kept as p_ns in 0..ramp_ns (p = p_ns / ramp_ns) and is integrated
 * exactly between calls: from the state at last_ns, the tenant stays over
 * until both buckets have refilled past empty (cx_tb_time_until, exact),
 * or until now_ns if sooner, and p rises by that time and falls by the
 * rest. Nothing else changes the over state between calls, so the result
 * does not depend on how often the caller calls: many short steps and one
 * long step give the same p. Rising and falling both saturate, and
 * min(R, min(R, x + a) + b) == min(R, x + a + b) for a, b >= 0 (likewise
 * for the floor), which is what makes the split exact.
 *
 * Every mutating call first brings main, peak and p up to now_ns
 * (catch_up), so the three share last_ns. A clock that steps back gives no
 * time and re-anchors all three at the new reading, as cx_tb does.
 */
#include <errno.h>
#include <string.h>

#include <conex/police.h>

#include "internal.h"

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

void cx_police_cfg_default(struct cx_police_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->allowance_bps = CX_POLICE_ALLOWANCE_DEFAULT_BPS;
	cfg->burst_bytes = CX_POLICE_BURST_DEFAULT_BYTES;
	cfg->peak_bps = 0;
	cfg->peak_burst_bytes = 0;
	cfg->ramp_ns = CX_POLICE_RAMP_DEFAULT_NS;
	cfg->share_ppm = CX_POLICE_SHARE_DEFAULT_PPM;
}

int cx_police_cfg_check(const struct cx_police_cfg *cfg)
{
	if (cfg->allowance_bps == 0 ||
	    cfg->allowance_bps > CX_POLICE_ALLOWANCE_MAX_BPS)
		return -EINVAL;
	if (cfg->burst_bytes < CX_POLICE_BURST_MIN_BYTES ||
	    cfg->burst_bytes > CX_POLICE_BURST_MAX_BYTES)
		return -EINVAL;
	/* A peak below the allowance would forbid spending the allowance. */
	if (cfg->peak_bps != 0 &&
	    (cfg->peak_bps < cfg->allowance_bps ||
	     cfg->peak_bps > CX_POLICE_PEAK_MAX_BPS))
		return -EINVAL;
	if (cfg->peak_burst_bytes != 0 &&
	    (cfg->peak_burst_bytes < CX_POLICE_BURST_MIN_BYTES ||
	     cfg->peak_burst_bytes > CX_POLICE_BURST_MAX_BYTES))
		return -EINVAL;
	if (cfg->ramp_ns < CX_POLICE_RAMP_MIN_NS ||
	    cfg->ramp_ns > CX_POLICE_RAMP_MAX_NS)
		return -EINVAL;
	if (cfg->share_ppm == 0 || cfg->share_ppm > CX_POLICE_PPM)
		return -EINVAL;
	return 0;
}

static uint64_t peak_rate_of(const struct cx_police_cfg *cfg)
{
	if (cfg->peak_bps)
		return cfg->peak_bps;
	return cfg->allowance_bps * CX_POLICE_PEAK_FACTOR;
}

static uint64_t peak_burst_of(const struct cx_police_cfg *cfg)
{
	uint64_t b = cfg->burst_bytes / CX_POLICE_PEAK_BURST_DIVISOR;

	if (cfg->peak_burst_bytes)
		return cfg->peak_burst_bytes;
	return CX_MAX(b, CX_POLICE_BURST_MIN_BYTES);
}

/*
 * Main refill rate in a mode. The share is rounded up so that a tiny
 * allowance times a tiny share still refills (no lock-out); bounded by
 * cfg_check, allowance * share_ppm <= 1e18.
 */
static uint64_t main_rate_of(const struct cx_police_cfg *cfg, uint32_t mode)
{
	uint64_t x;

	switch (mode) {
	case CX_POLICE_BANK:
		return 0;
	case CX_POLICE_SHARE:
		x = cfg->allowance_bps * cfg->share_ppm;
		return x / CX_POLICE_PPM + (x % CX_POLICE_PPM ? 1 : 0);
	default:
		return cfg->allowance_bps;
	}
}

static bool mode_ok(int mode)
{
	return mode >= 0 && mode <= CX_POLICE_MODE_MAX;
}

/* Depth of a bucket that holds level + depth in a cx_tb of twice it. */
static uint64_t depth_of(const struct cx_tb *tb)
{
	return tb->burst_bytes / 2;
}

/* In [-depth, depth]: depth <= CX_POLICE_BURST_MAX_BYTES fits an int64_t. */
static int64_t level_of(const struct cx_tb *tb, uint64_t now_ns)
{
	return (int64_t)cx_tb_level(tb, now_ns) - (int64_t)depth_of(tb);
}

static int64_t level_at(const struct cx_police *pol, uint64_t now_ns)
{
	return level_of(&pol->main, now_ns);
}

/* How long the tenant stays over from last_ns, if nothing else happens. */
static uint64_t over_for_ns(const struct cx_police *pol)
{
	uint64_t t_main, t_peak;

	t_main = cx_tb_time_until(&pol->main, depth_of(&pol->main) + 1,
				  pol->last_ns);
	t_peak = cx_tb_time_until(&pol->peak, depth_of(&pol->peak) + 1,
				  pol->last_ns);
	return CX_MAX(t_main, t_peak);
}

/* p_ns and the time spent over, from last_ns to now_ns. */
static uint64_t p_at(const struct cx_police *pol, uint64_t now_ns,
		     uint64_t *over_ns)
{
	uint64_t elapsed, t_over, rest, pn = pol->p_ns;
	uint64_t ramp = pol->cfg.ramp_ns;

	*over_ns = 0;
	if (now_ns <= pol->last_ns)
		return pn;
	elapsed = now_ns - pol->last_ns;
	t_over = CX_MIN(elapsed, over_for_ns(pol));
	rest = elapsed - t_over;
	if (t_over >= ramp - pn)
		pn = ramp;
	else
		pn += t_over;
	pn = rest >= pn ? 0 : pn - rest;
	*over_ns = t_over;
	return pn;
}

static uint32_t ppm_of(uint64_t p_ns, uint64_t ramp_ns)
{
	/* p_ns <= ramp_ns <= 6e10: the product fits. */
	return (uint32_t)(p_ns * CX_POLICE_PPM / ramp_ns);
}

/*
 * The cap on p from the debt: p may reach 1 only once the debt of the
 * main or the peak bucket is half its depth, and falls with the debt as
 * the tenant responds. Without it p, an integral of time over, stays high
 * for as long as the debt takes to refill after a responsive tenant has
 * already backed off, and TCP flows meet a wall of drops (timeouts,
 * credit re-sent for whole flights, more drain): a lock-out in all but
 * name. An unresponsive tenant still meets the p it needs, with a debt
 * of that fraction of half the depth.
 */
static uint32_t debt_ppm_of(const struct cx_tb *tb, uint64_t now_ns)
{
	int64_t level = level_of(tb, now_ns);
	uint64_t half = depth_of(tb) / 2, debt;

	if (level >= 0 || half == 0)
		return 0;
	debt = (uint64_t)-level;
	if (debt >= half)
		return CX_POLICE_PPM;
	return (uint32_t)(debt * CX_POLICE_PPM / half);
}

static uint32_t effective_ppm(const struct cx_police *pol, uint64_t p_ns,
			      uint64_t now_ns)
{
	uint32_t ramp = ppm_of(p_ns, pol->cfg.ramp_ns);
	uint32_t debt = CX_MAX(debt_ppm_of(&pol->main, now_ns),
			       debt_ppm_of(&pol->peak, now_ns));

	return CX_MIN(ramp, debt);
}

/* cx_tb_add of 0 is cx_tb's refill: tokens up to now_ns, re-anchored. */
static void catch_up(struct cx_police *pol, uint64_t now_ns)
{
	uint64_t over_ns, pn = p_at(pol, now_ns, &over_ns);

	cx_tb_add(&pol->main, 0, now_ns);
	cx_tb_add(&pol->peak, 0, now_ns);
	pol->p_ns = pn;
	pol->c.over_ns = sat_add(pol->c.over_ns, over_ns);
	pol->last_ns = now_ns;
}

/*
 * A bucket of depth_bytes at level_bytes (clamped to +-depth) at now_ns.
 * Built full and drained, through cx_tb's interface; the sub-byte
 * fraction of an old bucket is not carried over.
 */
static int bucket_at(struct cx_tb *tb, uint64_t rate_bps, uint64_t depth_bytes,
		     int64_t level_bytes, uint64_t now_ns)
{
	int64_t d = (int64_t)depth_bytes;
	struct cx_tb t;

	if (cx_tb_init(&t, rate_bps, 2 * depth_bytes, now_ns) < 0)
		return -EINVAL;
	level_bytes = CX_MAX(level_bytes, -d);
	level_bytes = CX_MIN(level_bytes, d);
	cx_tb_drain(&t, (uint64_t)(d - level_bytes), now_ns);
	*tb = t;
	return 0;
}

int cx_police_init(struct cx_police *pol, const struct cx_police_cfg *cfg,
		   int mode, uint64_t now_ns)
{
	struct cx_police p;

	if (cx_police_cfg_check(cfg) < 0 || !mode_ok(mode))
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	p.cfg = *cfg;
	p.mode = (uint32_t)mode;
	p.last_ns = now_ns;
	cx_charge_init(&p.charge, now_ns);
	if (bucket_at(&p.main, main_rate_of(cfg, p.mode), cfg->burst_bytes,
		      (int64_t)cfg->burst_bytes, now_ns) < 0 ||
	    bucket_at(&p.peak, peak_rate_of(cfg), peak_burst_of(cfg),
		      (int64_t)peak_burst_of(cfg), now_ns) < 0)
		return -EINVAL;
	*pol = p;
	return 0;
}

int cx_police_set_cfg(struct cx_police *pol, const struct cx_police_cfg *cfg,
		      uint64_t now_ns)
{
	struct cx_police p;
	uint64_t burst = cfg->burst_bytes, peak_burst;
	uint32_t ppm;

	if (cx_police_cfg_check(cfg) < 0)
		return -EINVAL;
	p = *pol;
	catch_up(&p, now_ns);
	peak_burst = peak_burst_of(cfg);

	/* Same depth: keep the exact tokens, fraction included. */
	if (burst == depth_of(&p.main))
		cx_tb_set_rate(&p.main, main_rate_of(cfg, p.mode), now_ns);
	else if (bucket_at(&p.main, main_rate_of(cfg, p.mode), burst,
			   level_of(&p.main, now_ns), now_ns) < 0)
		return -EINVAL;
	if (peak_burst == depth_of(&p.peak))
		cx_tb_set_rate(&p.peak, peak_rate_of(cfg), now_ns);
	else if (bucket_at(&p.peak, peak_rate_of(cfg), peak_burst,
			   level_of(&p.peak, now_ns), now_ns) < 0)
		return -EINVAL;

	/*
	 * Keep p in ppm under a new ramp: the smallest p_ns that reads back
	 * as the same ppm (exact since ramp_ns >= 1e6, and <= ramp_ns).
	 */
	if (cfg->ramp_ns != p.cfg.ramp_ns) {
		ppm = ppm_of(p.p_ns, p.cfg.ramp_ns);
		p.p_ns = ((uint64_t)ppm * cfg->ramp_ns + CX_POLICE_PPM - 1) /
			 CX_POLICE_PPM;
	}
	p.cfg = *cfg;
	*pol = p;
	return 0;
}

int cx_police_restore(struct cx_police *pol, int64_t level_bytes,
		      int64_t peak_level_bytes, uint32_t p_ppm, uint64_t now_ns)
{
	struct cx_police p = *pol;

	if (p_ppm > CX_POLICE_PPM)
		return -EINVAL;
	catch_up(&p, now_ns);
	if (bucket_at(&p.main, main_rate_of(&p.cfg, p.mode), depth_of(&p.main),
		      level_bytes, now_ns) < 0 ||
	    bucket_at(&p.peak, peak_rate_of(&p.cfg), depth_of(&p.peak),
		      peak_level_bytes, now_ns) < 0)
		return -EINVAL;
	/* The smallest p_ns that reads back as p_ppm (as set_cfg does). */
	p.p_ns = ((uint64_t)p_ppm * p.cfg.ramp_ns + CX_POLICE_PPM - 1) /
		 CX_POLICE_PPM;
	cx_charge_init(&p.charge, now_ns);
	*pol = p;
	return 0;
}

int cx_police_set_mode(struct cx_police *pol, int mode, uint64_t now_ns)
{
	if (!mode_ok(mode))
		return -EINVAL;
	catch_up(pol, now_ns);
	pol->mode = (uint32_t)mode;
	cx_tb_set_rate(&pol->main, main_rate_of(&pol->cfg, pol->mode), now_ns);
	return 0;
}

/* Drains the main bucket; what falls beyond the debt bound is forgotten. */
static void drain_main(struct cx_police *pol, uint64_t bytes, uint64_t now_ns)
{
	uint64_t lost = cx_tb_drain(&pol->main, bytes, now_ns);

	pol->c.debt_capped_bytes = sat_add(pol->c.debt_capped_bytes, lost);
}

int cx_police_packet(struct cx_police *pol, uint64_t reecho_bytes,
		     uint64_t credit_bytes, uint64_t forgiven_bytes,
		     uint32_t pkt_bytes, uint32_t rand, uint64_t now_ns)
{
	uint64_t marked_bytes, charge;
	uint32_t ppm;

	/* At most once per L, E and C flag (RFC 7837 §4). */
	if (reecho_bytes > 2 * (uint64_t)pkt_bytes || credit_bytes > pkt_bytes ||
	    forgiven_bytes > reecho_bytes)
		return -EINVAL;
	marked_bytes = reecho_bytes + credit_bytes;
	catch_up(pol, now_ns);
	pol->c.packets++;
	pol->c.bytes = sat_add(pol->c.bytes, pkt_bytes);
	ppm = effective_ppm(pol, pol->p_ns, now_ns);
	/*
	 * ConEx-Marked packets are dropped with p^2, not p (RFC 7837 §8:
	 * unmarked packets go first). A dropped packet's declarations never
	 * reach the audit downstream, and the audit would find its honest
	 * flow short by them. Marking more does not buy a way out: every
	 * marked byte drains the bucket, so a tenant that marks everything
	 * runs into debt at its full rate and p, and p^2, reach 1.
	 */
	if (marked_bytes)
		ppm = (uint32_t)((uint64_t)ppm * ppm / CX_POLICE_PPM);
	/* P(rand < ppm * 2^32 / 1e6) = ppm / 1e6; ppm 0 never, 1e6 always. */
	if (ppm && (uint64_t)rand * CX_POLICE_PPM < (uint64_t)ppm << 32) {
		pol->c.drops++;
		pol->c.dropped_bytes = sat_add(pol->c.dropped_bytes, pkt_bytes);
		pol->c.dropped_marked_bytes =
			sat_add(pol->c.dropped_marked_bytes, marked_bytes);
		return CX_POLICE_DROP;
	}
	if (marked_bytes) {
		charge = cx_charge_add(&pol->charge, reecho_bytes, credit_bytes,
				       forgiven_bytes, CX_CHARGE_WINDOW_NS, now_ns);
		drain_main(pol, charge, now_ns);
		cx_tb_drain(&pol->peak, charge, now_ns);
		pol->c.reecho_bytes = sat_add(pol->c.reecho_bytes, reecho_bytes);
		pol->c.credit_bytes = sat_add(pol->c.credit_bytes, credit_bytes);
		pol->c.charged_bytes = sat_add(pol->c.charged_bytes, charge);
	}
	return CX_POLICE_PASS;
}

void cx_police_drain(struct cx_police *pol, uint64_t bytes, uint64_t now_ns)
{
	catch_up(pol, now_ns);
	drain_main(pol, bytes, now_ns);
	pol->c.feedback_bytes = sat_add(pol->c.feedback_bytes, bytes);
}

uint64_t cx_police_grant(struct cx_police *pol, uint64_t bytes,
			 uint64_t now_ns)
{
	uint64_t room, excess;

	catch_up(pol, now_ns);
	room = pol->main.burst_bytes - cx_tb_level(&pol->main, now_ns);
	excess = bytes > room ? bytes - room : 0;
	cx_tb_add(&pol->main, bytes, now_ns);
	pol->c.granted_bytes = sat_add(pol->c.granted_bytes, bytes);
	pol->c.grant_excess_bytes = sat_add(pol->c.grant_excess_bytes, excess);
	return excess;
}

uint64_t cx_police_want_bytes(const struct cx_police *pol, uint64_t now_ns)
{
	int64_t level, burst = (int64_t)pol->cfg.burst_bytes;

	if (pol->mode != CX_POLICE_BANK)
		return 0;
	level = level_at(pol, now_ns);
	if (level >= burst / 2)
		return 0;
	return (uint64_t)(burst - level);
}

int64_t cx_police_level_bytes(const struct cx_police *pol, uint64_t now_ns)
{
	return level_at(pol, now_ns);
}

int64_t cx_police_peak_level_bytes(const struct cx_police *pol,
				   uint64_t now_ns)
{
	return level_of(&pol->peak, now_ns);
}

bool cx_police_is_over(const struct cx_police *pol, uint64_t now_ns)
{
	return level_of(&pol->main, now_ns) <= 0 ||
	       level_of(&pol->peak, now_ns) <= 0;
}

uint32_t cx_police_drop_ppm(const struct cx_police *pol, uint64_t now_ns)
{
	uint64_t over_ns;

	return effective_ppm(pol, p_at(pol, now_ns, &over_ns), now_ns);
}
