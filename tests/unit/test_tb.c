#include "cxtest.h"

#include <errno.h>

#include <conex/tb.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define NS_PER_S 1000000000ULL
#define YEAR_NS (365ULL * 24 * 3600 * NS_PER_S)

/* Empty a full bucket at time t. */
static void empty(struct cx_tb *tb, uint64_t t)
{
	assert_true(cx_tb_take(tb, tb->burst_bytes, t));
	assert_int_equal(cx_tb_level(tb, t), 0);
}

/* From empty, the n-th byte arrives after exactly ceil(n * 8e9 / rate) ns. */
static void test_exact_refill(void **state)
{
	static const struct {
		uint64_t rate_bps;
		uint64_t ns_per_byte;	/* 8e9 / rate, exact here */
	} vecs[] = {
		{ 1, 8 * NS_PER_S },
		{ 8, NS_PER_S },
		{ 40000, 200000 },
		{ 1000000, 8000 },
		{ 10000000000ULL, 0 },	/* 0.8 ns per byte */
		{ 400000000000ULL, 0 },	/* 0.02 ns per byte */
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(vecs); i++) {
		struct cx_tb tb;
		uint64_t t0 = 1000, d;

		assert_int_equal(cx_tb_init(&tb, vecs[i].rate_bps, 100000, t0),
				 0);
		empty(&tb, t0);
		d = vecs[i].ns_per_byte;
		if (d) {
			assert_int_equal(cx_tb_level(&tb, t0 + d - 1), 0);
			assert_int_equal(cx_tb_level(&tb, t0 + d), 1);
			assert_int_equal(cx_tb_level(&tb, t0 + 7 * d), 7);
			assert_true(cx_tb_time_until(&tb, 3, t0) == 3 * d);
			assert_true(cx_tb_time_until(&tb, 3, t0 + d) == 2 * d);
		}
		/* 1 ms: rate / 8000 bytes, truncated to whole bytes. */
		assert_true(cx_tb_level(&tb, t0 + 1000000) ==
			    (vecs[i].rate_bps / 8000 > 100000 ?
			     100000 : vecs[i].rate_bps / 8000));
	}
}

/* Many small steps give exactly what one big step gives: no truncation. */
static void test_no_truncation_loss(void **state)
{
	struct cx_tb a, b;
	uint64_t t = 0;
	int i;

	(void)state;
	assert_int_equal(cx_tb_init(&a, 40000, 1500, 0), 0);
	assert_int_equal(cx_tb_init(&b, 40000, 1500, 0), 0);
	empty(&a, 0);
	empty(&b, 0);
	for (i = 0; i < 1000; i++) {
		t += 12345;	/* not a multiple of 200 us */
		assert_false(cx_tb_take(&a, 1000, t));
	}
	/* b refills once over the whole span. */
	cx_tb_add(&b, 0, t);
	assert_true(a.tokens == b.tokens);
	assert_true(cx_tb_level(&a, t) == 12345ULL * 1000 / 200000);
	assert_true(cx_tb_time_until(&a, 62, t) ==
		    cx_tb_time_until(&b, 62, t));
}

static void test_overflow_corners(void **state)
{
	static const uint64_t rates[] = { 1, 40000, 400000000000ULL,
					  UINT64_MAX };
	static const uint64_t idle[] = { 1, NS_PER_S, 100 * YEAR_NS,
					 UINT64_MAX - 1 };
	size_t i, j;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(rates); i++) {
		for (j = 0; j < ARRAY_SIZE(idle); j++) {
			struct cx_tb tb;
			uint64_t lvl;

			assert_int_equal(cx_tb_init(&tb, rates[i],
						    CX_TB_BURST_MAX, 1), 0);
			empty(&tb, 1);
			lvl = cx_tb_level(&tb, 1 + idle[j]);
			assert_true(lvl <= CX_TB_BURST_MAX);
			if (idle[j] >= 100 * YEAR_NS && rates[i] >= 40000)
				assert_true(lvl == CX_TB_BURST_MAX);
			if (rates[i] == 1 && idle[j] == NS_PER_S)
				assert_true(lvl == 0);
			assert_true(cx_tb_take(&tb, lvl, 1 + idle[j]));
		}
	}
	{
		struct cx_tb tb;

		assert_int_equal(cx_tb_init(&tb, 1, CX_TB_BURST_MAX + 1, 0),
				 -EINVAL);
		assert_int_equal(cx_tb_init(&tb, 1, 1500, 0), 0);
		assert_false(cx_tb_take(&tb, UINT64_MAX, 1));
		assert_false(cx_tb_take(&tb, CX_TB_BURST_MAX + 1, 1));
		assert_true(cx_tb_time_until(&tb, UINT64_MAX, 1) == UINT64_MAX);
		assert_true(cx_tb_level(&tb, UINT64_MAX) == 1500);
		cx_tb_add(&tb, UINT64_MAX, UINT64_MAX);
		assert_true(cx_tb_level(&tb, UINT64_MAX) == 1500);
	}
}

static void test_take_commit_on_success(void **state)
{
	struct cx_tb tb;

	(void)state;
	assert_int_equal(cx_tb_init(&tb, 8000, 1000, 0), 0);	/* 1 B/ms */
	assert_true(cx_tb_take(&tb, 600, 0));
	assert_false(cx_tb_take(&tb, 401, 0));
	assert_int_equal(cx_tb_level(&tb, 0), 400);
	assert_true(cx_tb_try(&tb, 400, 0));
	assert_int_equal(cx_tb_level(&tb, 0), 400);
	assert_false(cx_tb_try(&tb, 401, 0));
	assert_true(cx_tb_try(&tb, 401, 1000000));
	assert_true(cx_tb_take(&tb, 401, 1000000));
	assert_int_equal(cx_tb_level(&tb, 1000000), 0);
	assert_true(cx_tb_take(&tb, 0, 1000000));
}

static void test_drain_add(void **state)
{
	struct cx_tb tb;

	(void)state;
	assert_int_equal(cx_tb_init(&tb, 8000, 1000, 0), 0);
	assert_true(cx_tb_drain(&tb, 300, 0) == 0);
	assert_int_equal(cx_tb_level(&tb, 0), 700);
	assert_true(cx_tb_drain(&tb, 1000, 0) == 300);
	assert_int_equal(cx_tb_level(&tb, 0), 0);
	/* Half a byte present: a 2-byte drain falls short by 2 (rounded up). */
	assert_true(cx_tb_drain(&tb, 2, 500000) == 2);
	assert_true(tb.tokens == 0);
	assert_true(cx_tb_drain(&tb, UINT64_MAX, 500000) == UINT64_MAX);
	cx_tb_add(&tb, 250, 500000);
	assert_int_equal(cx_tb_level(&tb, 500000), 250);
	cx_tb_add(&tb, 5000, 500000);
	assert_int_equal(cx_tb_level(&tb, 500000), 1000);
}

static void test_set_rate_keeps_level(void **state)
{
	struct cx_tb tb;

	(void)state;
	assert_int_equal(cx_tb_init(&tb, 8000, 10000, 0), 0);
	empty(&tb, 0);
	/* 5 ms at 1 B/ms, then 5 ms at 10 B/ms. */
	cx_tb_set_rate(&tb, 80000, 5000000);
	assert_int_equal(cx_tb_level(&tb, 5000000), 5);
	assert_int_equal(cx_tb_level(&tb, 10000000), 55);
	cx_tb_set_rate(&tb, 0, 10000000);
	assert_int_equal(cx_tb_level(&tb, 20 * NS_PER_S), 55);
	assert_true(cx_tb_time_until(&tb, 56, 20 * NS_PER_S) == UINT64_MAX);
	assert_true(cx_tb_time_until(&tb, 55, 20 * NS_PER_S) == 0);
}

static void test_clock_backwards(void **state)
{
	struct cx_tb tb;
	uint64_t t = 10 * NS_PER_S;

	(void)state;
	assert_int_equal(cx_tb_init(&tb, 8000, 1000, t), 0);
	empty(&tb, t);
	/* A step back gives nothing and does not wrap into a huge refill. */
	assert_int_equal(cx_tb_level(&tb, t - 1), 0);
	assert_false(cx_tb_take(&tb, 1, 1));
	assert_int_equal(cx_tb_level(&tb, 1), 0);
	/* Refill resumes from the new reading, not from the old one. */
	assert_int_equal(cx_tb_level(&tb, 1 + 3000000), 3);
	assert_true(cx_tb_take(&tb, 3, 1 + 3000000));
	assert_int_equal(cx_tb_level(&tb, 1 + 3000000), 0);
}

/* Deterministic xorshift64* so that failures reproduce. */
static uint64_t prng(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/*
 * Against a 128-bit model: level never exceeds burst, without takes it
 * never decreases as time moves forward, and it equals the exact value.
 */
static void test_random_vs_model(void **state)
{
	static const uint64_t rates[] = { 1, 40000, 1000000, 123456789,
					  10000000000ULL, 400000000000ULL };
	uint64_t seed = 7;
	size_t i;
	int k;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(rates); i++) {
		unsigned __int128 m_tokens, cap;
		uint64_t burst = 1 + prng(&seed) % 1000000, t = 0, prev = 0;
		struct cx_tb tb;

		assert_int_equal(cx_tb_init(&tb, rates[i], burst, 0), 0);
		cap = (unsigned __int128)burst * CX_TB_UNITS_PER_BYTE;
		m_tokens = cap;
		for (k = 0; k < 20000; k++) {
			uint64_t r = prng(&seed), dt, n, lvl;
			bool ok;

			dt = r % 4 == 0 ? 0 : prng(&seed) % (2 * NS_PER_S >> (r % 24));
			t += dt;
			m_tokens += (unsigned __int128)dt * rates[i];
			if (m_tokens > cap)
				m_tokens = cap;
			lvl = cx_tb_level(&tb, t);
			assert_true(lvl == (uint64_t)(m_tokens /
						      CX_TB_UNITS_PER_BYTE));
			assert_true(lvl <= burst);
			assert_true(lvl >= prev);
			n = prng(&seed) % (burst / 4 + 2);
			ok = cx_tb_take(&tb, n, t);
			assert_true(ok == ((unsigned __int128)n *
					   CX_TB_UNITS_PER_BYTE <= m_tokens));
			if (ok)
				m_tokens -= (unsigned __int128)n *
					    CX_TB_UNITS_PER_BYTE;
			prev = cx_tb_level(&tb, t);
			if (!ok) {
				uint64_t w = cx_tb_time_until(&tb, n, t);

				assert_true(w > 0);
				if (rates[i] > 1 && w < 10 * NS_PER_S) {
					assert_true(cx_tb_level(&tb, t + w) >= n);
					assert_true(cx_tb_level(&tb, t + w - 1) <
						    n);
				}
			}
		}
	}
}

static void test_dual(void **state)
{
	struct cx_tb_dual d;

	(void)state;
	/* Peak 8 B/ms with a 100-byte burst, average 1 B/ms, 1000 bytes. */
	assert_int_equal(cx_tb_dual_init(&d, 64000, 100, 8000, 1000, 0), 0);
	assert_int_equal(cx_tb_dual_init(&d, 64000, CX_TB_BURST_MAX + 1,
					 8000, 1000, 0), -EINVAL);
	assert_true(cx_tb_dual_take(&d, 100, 0));
	/* The peak bucket is empty: refused, and average not touched. */
	assert_false(cx_tb_dual_take(&d, 1, 0));
	assert_int_equal(cx_tb_level(&d.avg, 0), 900);
	assert_true(cx_tb_dual_time_until(&d, 8, 0) == 1000000);
	assert_true(cx_tb_dual_take(&d, 8, 1000000));
	assert_int_equal(cx_tb_level(&d.avg, 1000000), 893);
	/* Drain the average bucket; now it is the limit. */
	assert_true(cx_tb_take(&d.avg, 893, 1000000));
	assert_false(cx_tb_dual_take(&d, 50, 13500000));
	assert_int_equal(cx_tb_level(&d.peak, 13500000), 100);
	assert_int_equal(cx_tb_level(&d.avg, 13500000), 12);
	assert_true(cx_tb_dual_time_until(&d, 50, 13500000) == 37500000);
	assert_false(cx_tb_dual_take(&d, 50, 50999999));
	assert_true(cx_tb_dual_take(&d, 50, 51000000));
	assert_int_equal(cx_tb_level(&d.peak, 51000000), 50);
	assert_int_equal(cx_tb_level(&d.avg, 51000000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_refill),
		cmocka_unit_test(test_no_truncation_loss),
		cmocka_unit_test(test_overflow_corners),
		cmocka_unit_test(test_take_commit_on_success),
		cmocka_unit_test(test_drain_add),
		cmocka_unit_test(test_set_rate_keeps_level),
		cmocka_unit_test(test_clock_backwards),
		cmocka_unit_test(test_random_vs_model),
		cmocka_unit_test(test_dual),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
