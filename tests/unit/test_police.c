/*
 * ConEx congestion policer (conex/police.h): cfg bounds, exact ramp and
 * decay of p, debt bound, fill modes, reconfiguration, clock steps, and
 * long simulated tenants (within the allowance, unresponsive above it,
 * legacy with lumpy feedback, a burst spender against the peak bucket)
 * under a deterministic PRNG.
 */
#include <errno.h>
#include <stdbool.h>

#include "cxtest.h"

#include <conex/police.h>

#define US	1000ULL
#define MS	(1000ULL * 1000)
#define S	(1000ULL * 1000 * 1000)
#define T0	(5 * S)

/* Base tenant: 1 Mbit/s, 125000 B burst, peak 10 Mbit/s / 12500 B, 100 ms ramp. */
enum { A_BPS = 1000000, BURST = 125000, PEAK_BURST = 12500 };


/*
 * A packet carrying marked_bytes of marks, as re-echo up to two flags'
 * worth and the rest as credit: with no credit in the window, the charge
 * is the re-echo itself (conex/charge.h).
 */
static int pkt_marked(struct cx_police *p, uint64_t marked_bytes,
		      uint32_t size, uint32_t rand, uint64_t now_ns)
{
	uint64_t re = marked_bytes < 2ULL * size ? marked_bytes : 2ULL * size;

	return cx_police_packet(p, re, marked_bytes - re, 0, size, rand, now_ns);
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: deterministic, good enough for test traffic. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static uint32_t rng32(uint64_t *s)
{
	return (uint32_t)(rng_next(s) >> 32);
}

static void base_cfg(struct cx_police_cfg *cfg)
{
	cx_police_cfg_default(cfg);
	cfg->allowance_bps = A_BPS;
	cfg->burst_bytes = BURST;
}

static void init_base(struct cx_police *p, int mode)
{
	struct cx_police_cfg cfg;

	base_cfg(&cfg);
	assert_int_equal(cx_police_init(p, &cfg, mode, T0), 0);
}

static void test_cfg_check(void **state)
{
	static const struct {
		const char *name;
		int field;	/* 0 allowance, 1 burst, 2 peak, 3 peak burst, 4 ramp, 5 share */
		uint64_t value;
		int want;
	} vecs[] = {
		{ "allowance 0", 0, 0, -EINVAL },
		{ "allowance 1", 0, 1, 0 },
		{ "allowance max", 0, CX_POLICE_ALLOWANCE_MAX_BPS, 0 },
		{ "allowance max+1", 0, CX_POLICE_ALLOWANCE_MAX_BPS + 1, -EINVAL },
		{ "burst min-1", 1, CX_POLICE_BURST_MIN_BYTES - 1, -EINVAL },
		{ "burst min", 1, CX_POLICE_BURST_MIN_BYTES, 0 },
		{ "burst max", 1, CX_POLICE_BURST_MAX_BYTES, 0 },
		{ "burst max+1", 1, CX_POLICE_BURST_MAX_BYTES + 1, -EINVAL },
		{ "peak 0 (derived)", 2, 0, 0 },
		{ "peak below allowance", 2, CX_POLICE_ALLOWANCE_DEFAULT_BPS - 1, -EINVAL },
		{ "peak = allowance", 2, CX_POLICE_ALLOWANCE_DEFAULT_BPS, 0 },
		{ "peak max", 2, CX_POLICE_PEAK_MAX_BPS, 0 },
		{ "peak max+1", 2, CX_POLICE_PEAK_MAX_BPS + 1, -EINVAL },
		{ "peak burst 0 (derived)", 3, 0, 0 },
		{ "peak burst min-1", 3, CX_POLICE_BURST_MIN_BYTES - 1, -EINVAL },
		{ "peak burst max+1", 3, CX_POLICE_BURST_MAX_BYTES + 1, -EINVAL },
		{ "ramp 0", 4, 0, -EINVAL },
		{ "ramp min-1", 4, CX_POLICE_RAMP_MIN_NS - 1, -EINVAL },
		{ "ramp min", 4, CX_POLICE_RAMP_MIN_NS, 0 },
		{ "ramp max", 4, CX_POLICE_RAMP_MAX_NS, 0 },
		{ "ramp max+1", 4, CX_POLICE_RAMP_MAX_NS + 1, -EINVAL },
		{ "share 0", 5, 0, -EINVAL },
		{ "share 1", 5, 1, 0 },
		{ "share 1e6", 5, CX_POLICE_PPM, 0 },
		{ "share 1e6+1", 5, CX_POLICE_PPM + 1, -EINVAL },
	};
	struct cx_police_cfg cfg;
	struct cx_police p, q;
	size_t i;

	(void)state;
	cx_police_cfg_default(&cfg);
	expect_ret("default", cx_police_cfg_check(&cfg), 0);
	for (i = 0; i < CX_ARRAY_SIZE(vecs); i++) {
		cx_police_cfg_default(&cfg);
		switch (vecs[i].field) {
		case 0: cfg.allowance_bps = vecs[i].value; break;
		case 1: cfg.burst_bytes = vecs[i].value; break;
		case 2: cfg.peak_bps = vecs[i].value; break;
		case 3: cfg.peak_burst_bytes = vecs[i].value; break;
		case 4: cfg.ramp_ns = vecs[i].value; break;
		default: cfg.share_ppm = (uint32_t)vecs[i].value; break;
		}
		expect_ret(vecs[i].name, cx_police_cfg_check(&cfg),
			   vecs[i].want);
		/* init and set_cfg agree with the check, and a refusal changes nothing. */
		memset(&p, 0xa5, sizeof(p));
		memcpy(&q, &p, sizeof(p));
		expect_ret(vecs[i].name, cx_police_init(&p, &cfg, 0, T0),
			   vecs[i].want);
		if (vecs[i].want) {
			assert_memory_equal(&p, &q, sizeof(p));
			init_base(&p, CX_POLICE_LOCAL);
			memcpy(&q, &p, sizeof(p));
			expect_ret(vecs[i].name,
				   cx_police_set_cfg(&p, &cfg, T0 + S),
				   -EINVAL);
			assert_memory_equal(&p, &q, sizeof(p));
		}
	}
	/* Bad modes. */
	base_cfg(&cfg);
	assert_int_equal(cx_police_init(&p, &cfg, -1, T0), -EINVAL);
	assert_int_equal(cx_police_init(&p, &cfg, CX_POLICE_MODE_MAX + 1, T0),
			 -EINVAL);
	init_base(&p, CX_POLICE_LOCAL);
	assert_int_equal(cx_police_set_mode(&p, CX_POLICE_MODE_MAX + 1, T0),
			 -EINVAL);
	assert_int_equal(p.mode, CX_POLICE_LOCAL);
}

/* Derived peak: 10 x allowance, burst / 10 but at least one packet. */
static void test_cfg_derived(void **state)
{
	static const struct {
		uint64_t allowance_bps, burst_bytes, peak_bps, peak_burst_bytes;
		uint64_t want_peak_bps, want_peak_burst_bytes;
	} vecs[] = {
		{ 1000000, 125000, 0, 0, 10000000, 12500 },
		{ 1000000, 125000, 3000000, 0, 3000000, 12500 },
		{ 1000000, 125000, 0, 40000, 10000000, 40000 },
		{ 1000000, 1500, 0, 0, 10000000, 1500 },
		{ CX_POLICE_ALLOWANCE_MAX_BPS, CX_POLICE_BURST_MAX_BYTES, 0, 0,
		  CX_POLICE_PEAK_MAX_BPS, CX_POLICE_BURST_MAX_BYTES / 10 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(vecs); i++) {
		struct cx_police_cfg cfg;
		struct cx_police p;

		cx_police_cfg_default(&cfg);
		cfg.allowance_bps = vecs[i].allowance_bps;
		cfg.burst_bytes = vecs[i].burst_bytes;
		cfg.peak_bps = vecs[i].peak_bps;
		cfg.peak_burst_bytes = vecs[i].peak_burst_bytes;
		assert_int_equal(cx_police_init(&p, &cfg, CX_POLICE_LOCAL, T0),
				 0);
		assert_true(p.peak.rate_bps == vecs[i].want_peak_bps);
		assert_true(p.peak.burst_bytes ==
			    2 * vecs[i].want_peak_burst_bytes);
		assert_true(cx_police_level_bytes(&p, T0) ==
			    (int64_t)vecs[i].burst_bytes);
		assert_true(cx_police_peak_level_bytes(&p, T0) ==
			    (int64_t)vecs[i].want_peak_burst_bytes);
		assert_false(cx_police_is_over(&p, T0));
		assert_int_equal(cx_police_drop_ppm(&p, T0), 0);
	}
}

/*
 * In BANK mode (no refill), half the depth in debt (so the debt allows
 * any p), p climbs exactly t / ramp. Sampled every microsecond with a
 * packet: monotonic, within 1e9 / ramp ppm of the previous sample, exact
 * at every sample, never above 1e6. A grant that halves the debt caps p
 * at half; one that leaves tokens ends the sanction.
 */
static void test_ramp_and_decay(void **state)
{
	const uint64_t ramp = CX_POLICE_RAMP_DEFAULT_NS;
	const uint32_t eps = (uint32_t)(1000 * US * CX_POLICE_PPM / ramp / US);
	struct cx_police p;
	uint64_t t, t1, rng = 7, drops_before;
	uint32_t prev = 0, ppm;

	(void)state;
	init_base(&p, CX_POLICE_BANK);
	cx_police_drain(&p, BURST + BURST / 2, T0);
	assert_true(cx_police_level_bytes(&p, T0) == -(int64_t)(BURST / 2));
	assert_true(cx_police_is_over(&p, T0));
	for (t = 0; t <= ramp + 20 * MS; t += US) {
		ppm = cx_police_drop_ppm(&p, T0 + t);
		assert_true(ppm == (t >= ramp ? CX_POLICE_PPM :
				    t * CX_POLICE_PPM / ramp));
		assert_true(ppm >= prev && ppm - prev <= eps);
		assert_true(ppm <= CX_POLICE_PPM);
		assert_int_equal(pkt_marked(&p, 0, 1500, rng32(&rng),
						  T0 + t) >= 0, 1);
		prev = ppm;
	}
	assert_true(p.c.over_ns == ramp + 20 * MS);
	/* At p = 1 every packet is dropped, whatever rand. */
	drops_before = p.c.drops;
	assert_int_equal(pkt_marked(&p, 1500, 1500, UINT32_MAX, T0 + t),
			 CX_POLICE_DROP);
	assert_true(p.c.drops == drops_before + 1);

	t1 = T0 + t;
	assert_true(cx_police_grant(&p, BURST / 4, t1) == 0);
	assert_int_equal(cx_police_drop_ppm(&p, t1), CX_POLICE_PPM / 2);
	assert_true(cx_police_grant(&p, BURST / 2, t1) == 0);
	assert_false(cx_police_is_over(&p, t1));
	for (t = 0; t <= ramp + 20 * MS; t += US) {
		ppm = cx_police_drop_ppm(&p, t1 + t);
		assert_int_equal(ppm, 0);
		pkt_marked(&p, 0, 1500, rng32(&rng), t1 + t);
		prev = ppm;
	}
	assert_int_equal(prev, 0);
	/* Counters add up. */
	assert_true(p.c.drops <= p.c.packets);
	assert_true(p.c.dropped_bytes == p.c.drops * 1500);
	assert_true(p.c.bytes == p.c.packets * 1500);
}

/*
 * LOCAL, a lump 1000 bytes past empty: over exactly until the refill
 * brings the level to 1 byte (1001 B at 1 Mbit/s = 8.008 ms). p is the
 * smaller of the ramp (rising 10 ppm per us) and the debt's cap (1000 B of
 * a half depth, falling 2 ppm per us as the refill pays it): it rises,
 * turns, and is 0 when the debt is paid, never stepping more than one
 * byte of debt (16 ppm) per microsecond. No cliff, no lock-out.
 */
static void test_refill_ends_over(void **state)
{
	const uint64_t cross = 8008 * US;
	struct cx_police p;
	uint64_t t;
	uint32_t prev = 0, ppm, peak = 0;

	(void)state;
	init_base(&p, CX_POLICE_LOCAL);
	cx_police_drain(&p, BURST + 1000, T0);
	assert_true(cx_police_level_bytes(&p, T0) == -1000);
	assert_true(cx_police_is_over(&p, T0 + cross - 1));
	assert_false(cx_police_is_over(&p, T0 + cross));
	assert_int_equal(cx_police_drop_ppm(&p, T0 + cross), 0);
	assert_int_equal(cx_police_drop_ppm(&p, T0 + 2 * cross), 0);
	for (t = 0; t <= 3 * cross; t += US) {
		ppm = cx_police_drop_ppm(&p, T0 + t);
		/* The debt moves in whole bytes: 16 ppm each. */
		assert_true(ppm <= prev + 16 && prev <= ppm + 16);
		/* Never above what the debt at that moment allows. */
		assert_true(ppm <= (uint32_t)((uint64_t)1000 * CX_POLICE_PPM /
					      (BURST / 2)));
		if (ppm > peak)
			peak = ppm;
		prev = ppm;
		/* An unmarked packet every 100 us changes nothing. */
		if (t % (100 * US) == 0)
			pkt_marked(&p, 0, 100, UINT32_MAX, T0 + t);
	}
	assert_true(peak > 0);
	assert_int_equal(prev, 0);
	assert_true(p.c.over_ns == cross);
}

/* Verdict threshold: rand < ppm * 2^32 / 1e6 drops, at exact p values. */
static void test_verdict_threshold(void **state)
{
	static const uint32_t ppms[] = { 1, 10, 250000, 500000, 999990,
					 CX_POLICE_PPM };
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(ppms); i++) {
		/* ramp 100 ms: p_ns = ppm * 100 gives exactly ppm. */
		uint64_t t = T0 + (uint64_t)ppms[i] * 100;
		uint64_t thr = ((uint64_t)ppms[i] << 32) / CX_POLICE_PPM;
		struct cx_police p;
		uint64_t q, dropped;
		int64_t level;

		init_base(&p, CX_POLICE_BANK);
		cx_police_drain(&p, BURST + BURST / 2, T0);
		assert_int_equal(cx_police_drop_ppm(&p, t), ppms[i]);
		level = cx_police_level_bytes(&p, t);
		if (((uint64_t)ppms[i] << 32) % CX_POLICE_PPM == 0)
			thr--;
		/* thr: the largest rand that drops an unmarked packet. */
		assert_int_equal(pkt_marked(&p, 0, 1500, (uint32_t)thr, t),
				 CX_POLICE_DROP);
		if (thr < UINT32_MAX)
			assert_int_equal(pkt_marked(&p, 0, 1500,
							  (uint32_t)thr + 1, t),
					 CX_POLICE_PASS);
		/* A ConEx-Marked packet is dropped with p^2 (RFC 7837 §8). */
		q = (uint64_t)ppms[i] * ppms[i] / CX_POLICE_PPM;
		thr = (q << 32) / CX_POLICE_PPM;
		if (q && (q << 32) % CX_POLICE_PPM == 0)
			thr--;
		dropped = 0;
		if (q) {
			assert_int_equal(pkt_marked(&p, 3000, 1500,
							  (uint32_t)thr, t),
					 CX_POLICE_DROP);
			dropped = 3000;
		}
		if (!q || thr < UINT32_MAX)
			assert_int_equal(pkt_marked(&p, 3000, 1500,
							  q ? (uint32_t)thr + 1 : 0, t),
					 CX_POLICE_PASS);
		/* The drop drained nothing; only the passed marks did. */
		assert_true(p.c.dropped_marked_bytes == dropped);
		assert_true(p.c.charged_bytes ==
			    (!q || thr < UINT32_MAX ? 3000U : 0U));
		assert_true(cx_police_level_bytes(&p, t) ==
			    level - (int64_t)p.c.charged_bytes);
	}
}

static void test_never_dropped_without_empty(void **state)
{
	struct cx_police p;
	uint32_t r;

	(void)state;
	init_base(&p, CX_POLICE_LOCAL);
	/* Down to 1 byte: not over, so p stays exactly 0 whatever rand. */
	cx_police_drain(&p, BURST - 1, T0);
	for (r = 0; r < 64; r++)
		assert_int_equal(pkt_marked(&p, 0, 1500, r, T0 + r),
				 CX_POLICE_PASS);
	assert_int_equal(cx_police_drop_ppm(&p, T0 + S), 0);
	assert_true(p.c.over_ns == 0);
	/* Beyond two flags' re-echo or one credit is refused, nothing counted. */
	assert_int_equal(cx_police_packet(&p, 3001, 0, 0, 1500, 0, T0 + S), -EINVAL);
	assert_int_equal(cx_police_packet(&p, 0, 1501, 0, 1500, 0, T0 + S), -EINVAL);
	assert_int_equal(cx_police_packet(&p, 1, 0, 0, 0, 0, T0 + S), -EINVAL);
	assert_int_equal(cx_police_packet(&p, 0, 1, 0, 0, 0, T0 + S), -EINVAL);
	assert_int_equal(cx_police_packet(&p, 1000, 0, 1001, 1500, 0, T0 + S), -EINVAL);
	assert_true(p.c.packets == 64);
	assert_int_equal(cx_police_packet(&p, 3000, 1500, 0, 1500, 0, T0 + S),
			 CX_POLICE_PASS);
}

/*
 * A tenant within its allowance: 0.9 x in total, half marked packets
 * (random sizes, 0 to 3 flags, jittered gaps) and half tunnel feedback in
 * 100 ms lumps, for 60 s. Never over, never a drop.
 */
static void test_within_allowance(void **state)
{
	static const struct {
		uint64_t allowance_bps;
		uint32_t pct;
		int mode;
	} vecs[] = {
		{ 10000000, 90, CX_POLICE_LOCAL },
		{ 1000000, 90, CX_POLICE_LOCAL },
		{ 10000000, 70, CX_POLICE_SHARE },	/* share 80 % */
	};
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(vecs); i++) {
		const uint64_t end = T0 + 60 * S;
		const uint64_t half_bps = vecs[i].allowance_bps * vecs[i].pct / 200;
		struct cx_police_cfg cfg;
		struct cx_police p;
		uint64_t t = T0, next_fb = T0 + 100 * MS, rng = 42 + i;

		cx_police_cfg_default(&cfg);
		cfg.allowance_bps = vecs[i].allowance_bps;
		cfg.burst_bytes = vecs[i].allowance_bps / 8;
		cfg.share_ppm = 800000;
		assert_int_equal(cx_police_init(&p, &cfg, vecs[i].mode, T0), 0);
		while (t < end) {
			uint32_t size = 64 + rng32(&rng) % 1437;
			uint32_t flags = rng32(&rng) % 4;
			uint64_t marked = (uint64_t)size * flags;

			assert_int_equal(pkt_marked(&p, marked, size,
							  rng32(&rng), t),
					 CX_POLICE_PASS);
			/* Mean gap: marked * 8e9 / rate (uniform 0..2x). */
			t += marked * 8 * S / half_bps * (rng32(&rng) % 2001) /
			     1000;
			while (next_fb <= t) {
				cx_police_drain(&p, half_bps / 80, next_fb);
				next_fb += 100 * MS;
			}
		}
		assert_true(p.c.drops == 0);
		assert_true(p.c.over_ns == 0);
		assert_int_equal(cx_police_drop_ppm(&p, t), 0);
		assert_true(cx_police_level_bytes(&p, t) > 0);
	}
}

/*
 * Unresponsive senders above the allowance: their dropped packets are
 * not drained, and the drained rate settles at the allowance. Measured
 * over 10 s..40 s, within 10 %.
 */
static void test_unresponsive_converges(void **state)
{
	static const struct {
		uint64_t allowance_bps;
		uint32_t times;		/* marked rate / allowance */
		uint32_t flags;		/* re-echo flags per packet, 1..2 */
	} vecs[] = {
		{ 1000000, 2, 1 },
		{ 1000000, 4, 2 },
		{ 10000000, 2, 2 },
		{ 10000000, 8, 1 },
		{ 100000000, 2, 1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(vecs); i++) {
		const uint64_t rate = vecs[i].allowance_bps * vecs[i].times;
		const uint64_t marked = 1500ULL * vecs[i].flags;
		const uint64_t gap = marked * 8 * S / rate;
		struct cx_police_cfg cfg;
		struct cx_police p;
		uint64_t t, rng = 1000 + i, m0 = 0, d0 = 0, n0 = 0, want, got;
		uint64_t ppm_sum = 0, ideal = CX_POLICE_PPM -
					      CX_POLICE_PPM / vecs[i].times;

		cx_police_cfg_default(&cfg);
		cfg.allowance_bps = vecs[i].allowance_bps;
		cfg.burst_bytes = vecs[i].allowance_bps / 8;
		assert_int_equal(cx_police_init(&p, &cfg, CX_POLICE_LOCAL, T0),
				 0);
		for (t = T0; t < T0 + 40 * S; t += gap) {
			if (t >= T0 + 10 * S && !m0) {
				m0 = p.c.charged_bytes;
				d0 = p.c.drops;
				n0 = p.c.packets;
			}
			if (m0) {
				/* every packet is marked: dropped with p^2 */
				uint64_t q = cx_police_drop_ppm(&p, t);

				ppm_sum += q * q / CX_POLICE_PPM;
			}
			pkt_marked(&p, marked, 1500, rng32(&rng), t);
		}
		got = p.c.charged_bytes - m0;
		want = vecs[i].allowance_bps / 8 * 30;
		if (got < want * 9 / 10 || got > want * 11 / 10)
			fail_msg("vec %zu: drained %llu B in 30 s, want %llu",
				 i, (unsigned long long)got,
				 (unsigned long long)want);
		/*
		 * p^2 hunts around 1 - 1/times; its mean, and the drop rate,
		 * sit there.
		 */
		n0 = p.c.packets - n0;
		d0 = p.c.drops - d0;
		if (ppm_sum / n0 + 50000 < ideal || ppm_sum / n0 > ideal + 50000 ||
		    d0 * CX_POLICE_PPM / n0 + 50000 < ideal ||
		    d0 * CX_POLICE_PPM / n0 > ideal + 50000)
			fail_msg("vec %zu: mean p %llu ppm, drops %llu/%llu, "
				 "want about %llu ppm", i,
				 (unsigned long long)(ppm_sum / n0),
				 (unsigned long long)d0,
				 (unsigned long long)n0,
				 (unsigned long long)ideal);
		assert_true(p.c.drops <= p.c.packets);
		assert_true(p.c.dropped_marked_bytes == p.c.drops * marked);
	}
}

/*
 * A legacy tenant (no marks) whose CE comes back as feedback lumps every
 * 100 ms, at twice the allowance if nothing were dropped: the fed-back
 * congestion of what passes settles at the allowance within 10 %.
 */
static void test_feedback_converges(void **state)
{
	struct cx_police p;
	const uint64_t send_bps = 100000000;	/* 1 % CE -> 2 x 1 Mbit/s: 2 % */
	const uint64_t gap = 1500 * 8 * S / send_bps;
	uint64_t t, rng = 99, ce = 0, next_fb = T0 + 100 * MS, f0 = 0, got;
	const uint64_t want = A_BPS / 8 * 30;

	(void)state;
	init_base(&p, CX_POLICE_LOCAL);
	for (t = T0; t < T0 + 40 * S; t += gap) {
		if (pkt_marked(&p, 0, 1500, rng32(&rng), t) ==
		    CX_POLICE_PASS)
			ce += 30;	/* 2 % of 1500 B */
		if (t >= next_fb) {
			cx_police_drain(&p, ce, t);
			ce = 0;
			next_fb += 100 * MS;
			if (t >= T0 + 10 * S && !f0)
				f0 = p.c.feedback_bytes;
		}
	}
	got = p.c.feedback_bytes - f0;
	if (got < want * 9 / 10 || got > want * 11 / 10)
		fail_msg("feedback %llu B in 30 s, want %llu",
			 (unsigned long long)got, (unsigned long long)want);
}

/*
 * A saved-up bucket spent at 4 x the peak rate: the peak bucket starts
 * the sanction while the main bucket is still far from empty, and the
 * drained rate settles near the peak rate instead of the spend rate.
 */
static void test_peak_limits_spend(void **state)
{
	struct cx_police_cfg cfg;
	struct cx_police p;
	const uint64_t gap = 1500 * 8 * S / 40000000;	/* 40 Mbit/s marked */
	uint64_t t, rng = 5, m0 = 0, got, want;
	bool over_early = false;

	(void)state;
	base_cfg(&cfg);
	cfg.burst_bytes = 100 * (A_BPS / 8);	/* 12.5 MB: 100 s saved */
	assert_int_equal(cx_police_init(&p, &cfg, CX_POLICE_LOCAL, T0), 0);
	for (t = T0; t < T0 + 3 * S; t += gap) {
		if (t >= T0 + 1 * S && !m0)
			m0 = p.c.charged_bytes;
		if (cx_police_is_over(&p, t) && cx_police_level_bytes(&p, t) > 0)
			over_early = true;
		pkt_marked(&p, 1500, 1500, rng32(&rng), t);
	}
	assert_true(over_early);
	assert_true(cx_police_level_bytes(&p, t) > 0);
	got = p.c.charged_bytes - m0;
	want = 2 * 10000000 / 8;	/* peak 10 Mbit/s, plus 1 Mbit/s refill unused */
	if (got < want * 9 / 10 || got > want * 11 / 10)
		fail_msg("drained %llu B in 2 s, want about %llu",
			 (unsigned long long)got, (unsigned long long)want);

	/* Spending at half the peak rate for 100 ms never trips it. */
	init_base(&p, CX_POLICE_LOCAL);
	for (t = T0; t < T0 + 100 * MS; t += 1500 * 8 * S / 5000000)
		assert_int_equal(pkt_marked(&p, 1500, 1500, 0, t),
				 CX_POLICE_PASS);
	assert_true(p.c.over_ns == 0);
}

/* Debt stops at -burst; the rest is forgotten and recovery is bounded. */
static void test_debt_bound(void **state)
{
	/* (burst + 1) B at 1 Mbit/s. */
	const uint64_t recover = (uint64_t)(BURST + 1) * 8 * S / A_BPS;
	struct cx_police p;

	(void)state;
	init_base(&p, CX_POLICE_LOCAL);
	cx_police_drain(&p, 10ULL * BURST, T0);
	assert_true(cx_police_level_bytes(&p, T0) == -BURST);
	assert_true(p.c.debt_capped_bytes == 8ULL * BURST);
	assert_true(p.c.feedback_bytes == 10ULL * BURST);
	cx_police_drain(&p, UINT64_MAX, T0);
	assert_true(cx_police_level_bytes(&p, T0) == -BURST);
	assert_true(p.c.feedback_bytes == UINT64_MAX);
	assert_true(cx_police_is_over(&p, T0 + recover - 1));
	assert_false(cx_police_is_over(&p, T0 + recover));
	/* p = 1 while the debt is at least half the depth, then it falls
	 * with the debt, and is 0 once the level is back above 0. */
	assert_int_equal(cx_police_drop_ppm(&p, T0 + recover / 4), CX_POLICE_PPM);
	assert_true(cx_police_drop_ppm(&p, T0 + recover * 3 / 4) < CX_POLICE_PPM / 2 + 10);
	assert_true(cx_police_drop_ppm(&p, T0 + recover * 3 / 4) > CX_POLICE_PPM / 2 - 10);
	assert_int_equal(cx_police_drop_ppm(&p, T0 + recover), 0);
	/* Full again after 2 * burst: never above burst. */
	assert_true(cx_police_level_bytes(&p, T0 + 100 * S) == BURST);
	pkt_marked(&p, 0, 100, 0, T0 + 100 * S);
	assert_true(p.c.over_ns == recover);
}

static void test_modes(void **state)
{
	static const struct {
		int mode;
		uint32_t share_ppm;
		uint64_t gain_per_s;	/* bytes the main bucket earns per second */
	} vecs[] = {
		{ CX_POLICE_LOCAL, 250000, 125000 },
		{ CX_POLICE_BANK, 250000, 0 },
		{ CX_POLICE_SHARE, 250000, 31250 },
		{ CX_POLICE_SHARE, 1000000, 125000 },
		{ CX_POLICE_SHARE, 1, 1 },	/* 1 bit/s rounded up: 1 B per 8 s */
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(vecs); i++) {
		for (j = 0; j < CX_ARRAY_SIZE(vecs); j++) {
			struct cx_police_cfg cfg;
			struct cx_police p;
			uint64_t t = T0 + 7 * MS;
			int64_t before;
			uint32_t ppm;

			base_cfg(&cfg);
			cfg.share_ppm = vecs[j].share_ppm;
			assert_int_equal(cx_police_init(&p, &cfg, vecs[i].mode,
							T0), 0);
			/* In debt and over for 7 ms at the switch. */
			cx_police_drain(&p, BURST + 50000, T0);
			before = cx_police_level_bytes(&p, t);
			ppm = cx_police_drop_ppm(&p, t);
			assert_int_equal(ppm, 70000);
			assert_int_equal(cx_police_set_mode(&p, vecs[j].mode, t),
					 0);
			assert_true(cx_police_level_bytes(&p, t) == before);
			assert_int_equal(cx_police_drop_ppm(&p, t), ppm);
			if (vecs[j].share_ppm == 1)
				assert_true(cx_police_level_bytes(&p, t + 8 * S) ==
					    before + 1);
			else
				assert_true(cx_police_level_bytes(&p, t + S) ==
					    before + (int64_t)vecs[j].gain_per_s);
		}
	}
}

static void test_bank(void **state)
{
	struct cx_police p;
	uint64_t want;

	(void)state;
	init_base(&p, CX_POLICE_BANK);
	assert_true(cx_police_want_bytes(&p, T0) == 0);
	/* Level exactly at low water: enough. */
	cx_police_drain(&p, BURST / 2, T0);
	assert_true(cx_police_want_bytes(&p, T0) == 0);
	cx_police_drain(&p, 1, T0);
	assert_true(cx_police_want_bytes(&p, T0) == BURST / 2 + 1);
	/* No self-refill, however long. */
	assert_true(cx_police_level_bytes(&p, T0 + 1000 * S) == BURST / 2 - 1);
	/* Into debt: asks for the debt too. */
	cx_police_drain(&p, BURST, T0 + S);
	want = cx_police_want_bytes(&p, T0 + S);
	assert_true(want == BURST + BURST / 2 + 1);
	assert_true(cx_police_grant(&p, want, T0 + S) == 0);
	assert_true(cx_police_level_bytes(&p, T0 + S) == BURST);
	assert_true(cx_police_want_bytes(&p, T0 + S) == 0);
	/* A grant beyond the depth returns the excess. */
	cx_police_drain(&p, 1000, T0 + S);
	assert_true(cx_police_grant(&p, 5000, T0 + S) == 4000);
	assert_true(p.c.grant_excess_bytes == 4000);
	assert_true(p.c.granted_bytes == want + 5000);
	assert_true(cx_police_level_bytes(&p, T0 + S) == BURST);
	assert_true(cx_police_grant(&p, UINT64_MAX, T0 + S) == UINT64_MAX);
	/* Other modes never ask, even empty. */
	cx_police_drain(&p, 2 * BURST, T0 + S);
	assert_true(cx_police_want_bytes(&p, T0 + S) > 0);
	assert_int_equal(cx_police_set_mode(&p, CX_POLICE_LOCAL, T0 + S), 0);
	assert_true(cx_police_want_bytes(&p, T0 + S) == 0);
	assert_int_equal(cx_police_set_mode(&p, CX_POLICE_SHARE, T0 + S), 0);
	assert_true(cx_police_want_bytes(&p, T0 + S) == 0);
	/* Grants count in any mode. */
	assert_true(cx_police_grant(&p, 1000, T0 + S) == 0);
	assert_true(cx_police_level_bytes(&p, T0 + S) == -BURST + 1000);
}

static void test_set_cfg(void **state)
{
	static const struct {
		int64_t level;		/* before */
		uint64_t new_burst;
		int64_t want;
	} vecs[] = {
		{ 100000, 50000, 50000 },
		{ -100000, 50000, -50000 },
		{ 30000, 50000, 30000 },
		{ -30000, 50000, -30000 },
		{ 100000, 200000, 100000 },
		{ -125000, 1000000, -125000 },
		{ 125000, 125000, 125000 },
		{ 0, 1500, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(vecs); i++) {
		struct cx_police_cfg cfg;
		struct cx_police p;
		uint64_t t = T0 + MS;

		init_base(&p, CX_POLICE_BANK);
		cx_police_drain(&p, (uint64_t)(BURST - vecs[i].level), T0);
		assert_true(cx_police_level_bytes(&p, t) == vecs[i].level);
		base_cfg(&cfg);
		cfg.burst_bytes = vecs[i].new_burst;
		cfg.peak_burst_bytes = 5000;
		assert_int_equal(cx_police_set_cfg(&p, &cfg, t), 0);
		assert_true(cx_police_level_bytes(&p, t) == vecs[i].want);
		assert_true(cx_police_peak_level_bytes(&p, t) == 5000);
		assert_int_equal(p.mode, CX_POLICE_BANK);
		/* The kept level is a real one: BANK still does not refill. */
		assert_true(cx_police_level_bytes(&p, t + S) == vecs[i].want);
	}
	/* p is kept across a new ramp, then moves at the new slope. */
	{
		struct cx_police_cfg cfg;
		struct cx_police p;
		uint64_t t = T0 + 12345600;	/* 123456 ppm at 100 ms */

		init_base(&p, CX_POLICE_LOCAL);
		cx_police_drain(&p, 2 * BURST, T0);
		assert_int_equal(cx_police_drop_ppm(&p, t), 123456);
		base_cfg(&cfg);
		cfg.ramp_ns = 10 * MS;
		cfg.allowance_bps = 2 * A_BPS;
		assert_int_equal(cx_police_set_cfg(&p, &cfg, t), 0);
		assert_int_equal(cx_police_drop_ppm(&p, t), 123456);
		assert_int_equal(cx_police_drop_ppm(&p, t + US), 123556);
		cfg.ramp_ns = CX_POLICE_RAMP_MAX_NS;
		assert_int_equal(cx_police_set_cfg(&p, &cfg, t + US), 0);
		assert_int_equal(cx_police_drop_ppm(&p, t + US), 123556);
		/* New allowance refills at 2 Mbit/s: 250 B per ms. */
		assert_true(cx_police_level_bytes(&p, t + US + MS) ==
			    cx_police_level_bytes(&p, t + US) + 250);
	}
}

/*
 * A clock that steps back: no tokens, no p change, no over time; from
 * the new reading on, time counts again.
 */
static void test_clock_backwards(void **state)
{
	struct cx_police p;
	int64_t level;
	uint64_t over;
	uint32_t ppm;

	(void)state;
	init_base(&p, CX_POLICE_BANK);
	cx_police_drain(&p, BURST + BURST / 2, T0);
	pkt_marked(&p, 0, 100, UINT32_MAX, T0 + 20 * MS);
	ppm = cx_police_drop_ppm(&p, T0 + 20 * MS);
	assert_int_equal(ppm, 200000);
	level = cx_police_level_bytes(&p, T0 + 20 * MS);
	over = p.c.over_ns;
	assert_int_equal(cx_police_drop_ppm(&p, T0), ppm);
	assert_true(cx_police_level_bytes(&p, T0) == level);
	pkt_marked(&p, 0, 100, UINT32_MAX, T0 + 5 * MS);
	assert_int_equal(cx_police_drop_ppm(&p, T0 + 5 * MS), ppm);
	assert_true(p.c.over_ns == over);
	assert_int_equal(cx_police_drop_ppm(&p, T0 + 6 * MS), ppm + 10000);
	cx_police_drain(&p, 0, 0);
	assert_int_equal(cx_police_drop_ppm(&p, 0), ppm);
	assert_int_equal(cx_police_set_mode(&p, CX_POLICE_LOCAL, 0), 0);
	/* LOCAL from the re-anchor at 0: 125 B per ms. */
	assert_true(cx_police_level_bytes(&p, MS) == level + 125);
	assert_true(p.c.over_ns == over);
}

/*
 * Calling more often changes nothing: two policers fed the same events,
 * one of them also woken (grant 0) at random times in between, agree
 * exactly on p, level, over time and every verdict.
 */
static void test_call_rate_invariant(void **state)
{
	struct cx_police a, b;
	uint64_t t = T0, rng = 3;
	int i;

	(void)state;
	init_base(&a, CX_POLICE_LOCAL);
	init_base(&b, CX_POLICE_LOCAL);
	for (i = 0; i < 200000; i++) {
		uint64_t step = rng_next(&rng) % (400 * US);
		uint32_t r = rng32(&rng), op = r % 16;

		if (rng32(&rng) % 4 == 0)
			cx_police_grant(&b, 0, t + rng_next(&rng) % (step + 1));
		t += step;
		if (op == 0) {
			cx_police_drain(&a, r % 20000, t);
			cx_police_drain(&b, r % 20000, t);
		} else {
			uint32_t size = 64 + r % 1437;

			assert_int_equal(pkt_marked(&a, size * (op % 4),
							  size, r, t),
					 pkt_marked(&b, size * (op % 4),
							  size, r, t));
		}
		assert_true(a.p_ns == b.p_ns);
		assert_true(cx_police_level_bytes(&a, t) ==
			    cx_police_level_bytes(&b, t));
		assert_true(a.c.over_ns == b.c.over_ns);
	}
	/* The mix was over its allowance at times, so this tested something. */
	assert_true(a.c.drops > 0 && a.c.over_ns > 0);
	assert_true(a.c.drops == b.c.drops);
}

/* A restored tenant has the levels and p it was left with, clamped. */
static void test_restore(void **state)
{
	struct cx_police p, q;

	(void)state;
	init_base(&p, CX_POLICE_LOCAL);
	assert_int_equal(cx_police_restore(&p, -(int64_t)BURST / 2, -1, 500000,
					   T0 + S), 0);
	assert_true(cx_police_level_bytes(&p, T0 + S) == -(int64_t)BURST / 2);
	assert_true(cx_police_peak_level_bytes(&p, T0 + S) == -1);
	assert_true(cx_police_is_over(&p, T0 + S));
	/* p is the smaller of the ramp's 0.5 and the debt's cap (1 at half). */
	assert_int_equal(cx_police_drop_ppm(&p, T0 + S), 500000);
	/* Beyond the ranges: clamped to the debt bound and the depth. */
	assert_int_equal(cx_police_restore(&p, INT64_MIN / 2, INT64_MAX / 2, 0,
					   T0 + S), 0);
	assert_true(cx_police_level_bytes(&p, T0 + S) == -(int64_t)BURST);
	assert_true(cx_police_peak_level_bytes(&p, T0 + S) ==
		    (int64_t)(p.peak.burst_bytes / 2));
	/* A bad p changes nothing. */
	q = p;
	assert_int_equal(cx_police_restore(&p, 0, 0, CX_POLICE_PPM + 1, T0 + S),
			 -EINVAL);
	assert_memory_equal(&p, &q, sizeof(p));
	/* It refills from there at the allowance. */
	assert_int_equal(cx_police_restore(&p, 0, 0, 0, T0 + S), 0);
	assert_true(cx_police_level_bytes(&p, T0 + 2 * S) == (int64_t)(A_BPS / 8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restore),
		cmocka_unit_test(test_cfg_check),
		cmocka_unit_test(test_cfg_derived),
		cmocka_unit_test(test_ramp_and_decay),
		cmocka_unit_test(test_refill_ends_over),
		cmocka_unit_test(test_verdict_threshold),
		cmocka_unit_test(test_never_dropped_without_empty),
		cmocka_unit_test(test_within_allowance),
		cmocka_unit_test(test_unresponsive_converges),
		cmocka_unit_test(test_feedback_converges),
		cmocka_unit_test(test_peak_limits_spend),
		cmocka_unit_test(test_debt_bound),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_bank),
		cmocka_unit_test(test_set_cfg),
		cmocka_unit_test(test_clock_backwards),
		cmocka_unit_test(test_call_rate_invariant),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
