/*
 * The once-only charge of ConEx marks (conex/charge.h): honest senders pay
 * their congestion once; leaving a kind out, or splitting the kinds over
 * windows, gains nothing.
 */
#include "cxtest.h"

#include <conex/charge.h>

#define MS	(1000ULL * 1000)
#define W	CX_CHARGE_WINDOW_NS
#define T0	(5ULL * 1000 * MS)

struct step {
	uint64_t dt_ns;		/* before the packet */
	uint64_t reecho, credit;
	uint64_t want;		/* charge returned */
	uint64_t forgiven;	/* of the re-echo, the enforcer's own drops */
};

static void run(const char *name, const struct step *s, size_t n)
{
	struct cx_charge w;
	uint64_t t = T0, got;
	size_t i;

	cx_charge_init(&w, T0);
	for (i = 0; i < n; i++) {
		t += s[i].dt_ns;
		got = cx_charge_add(&w, s[i].reecho, s[i].credit, s[i].forgiven, W, t);
		if (got != s[i].want)
			fail_msg("%s step %zu: charged %llu, want %llu", name, i,
				 (unsigned long long)got,
				 (unsigned long long)s[i].want);
	}
}

static void test_vectors(void **state)
{
	/* An event re-echoed as E and its credit replaced by C: paid once. */
	static const struct step honest[] = {
		{ 0, 1500, 0, 1500, 0 },
		{ MS, 0, 1500, 0, 0 },
		{ MS, 1500, 1500, 1500, 0 },
		{ MS, 0, 1500, 1500, 0 },	/* credit beyond the re-echo costs */
		{ MS, 1500, 0, 0, 0 },	/* and covers the next re-echo */
	};
	/* L+E on one packet counts twice (two flags), C once. */
	static const struct step flags[] = {
		{ 0, 3000, 1500, 3000, 0 },
		{ MS, 0, 1500, 0, 0 },
		{ MS, 0, 1500, 1500, 0 },
	};
	/* A new window charges afresh: splitting kinds over windows pays both. */
	static const struct step split[] = {
		{ 0, 0, 1500, 1500, 0 },
		{ W, 1500, 0, 1500, 0 },
		{ W - 1, 0, 1500, 0, 0 },	/* same window as the re-echo */
		{ 1, 0, 1500, 1500, 0 },	/* exactly one window on: a new one */
	};
	/*
	 * The enforcer's own drop, retransmitted with L (forgiven) and its
	 * consumed credit replaced with C: free. A congestion loss beside it
	 * is paid; more forgiveness than re-echo is capped.
	 */
	static const struct step forgive[] = {
		{ 0, 1500, 0, 0, 1500 },
		{ MS, 0, 1500, 0, 0 },
		{ MS, 1500, 1500, 1500, 0 },
		{ MS, 1500, 0, 0, 3000 },
	};
	/* Forgiveness never takes back what was charged. */
	static const struct step no_refund[] = {
		{ 0, 0, 1500, 1500, 0 },
		{ MS, 1500, 0, 0, 1500 },
		{ MS, 0, 0, 0, 0 },
		{ MS, 0, 1500, 0, 0 },	/* the target is back at what was paid */
		{ MS, 0, 1500, 1500, 0 },
	};
	/* Nothing declared, nothing charged. */
	static const struct step none[] = {
		{ 0, 0, 0, 0, 0 },
		{ W, 0, 0, 0, 0 },
	};

	(void)state;
	run("honest", honest, CX_ARRAY_SIZE(honest));
	run("flags", flags, CX_ARRAY_SIZE(flags));
	run("split", split, CX_ARRAY_SIZE(split));
	run("none", none, CX_ARRAY_SIZE(none));
	run("forgive", forgive, CX_ARRAY_SIZE(forgive));
	run("no_refund", no_refund, CX_ARRAY_SIZE(no_refund));
}

/* A clock that steps back starts a new window there. */
static void test_clock_back(void **state)
{
	struct cx_charge w;

	(void)state;
	cx_charge_init(&w, T0);
	assert_int_equal(cx_charge_add(&w, 1500, 0, 0, W, T0), 1500);
	assert_int_equal(cx_charge_add(&w, 0, 1500, 0, W, T0 - MS), 1500);
	assert_int_equal(cx_charge_add(&w, 1500, 0, 0, W, T0 - MS), 0);
	assert_true(w.start_ns == T0 - MS);
}

/*
 * Declaration patterns over the same congestion (1500 B per event, one
 * event per ms for 10 s). Leaving one kind out pays the same as honest
 * (the audit then finds the missing kind short); marking everything pays
 * double; under-declaring both kinds pays less here and is the audit's to
 * sanction.
 */
static uint64_t total(uint64_t re_per_event, uint64_t c_per_event,
		      uint64_t extra_c_every, uint64_t *events)
{
	struct cx_charge w;
	uint64_t t, sum = 0, n = 0;

	cx_charge_init(&w, T0);
	for (t = T0; t < T0 + 10000 * MS; t += MS, n++) {
		sum += cx_charge_add(&w, re_per_event, c_per_event, 0, W, t);
		if (extra_c_every && n % extra_c_every == 0)
			sum += cx_charge_add(&w, 0, 1500, 0, W, t);
	}
	*events = n;
	return sum;
}

static void test_cheats_gain_nothing(void **state)
{
	uint64_t n, honest, c_only, e_only, everything, half;

	(void)state;
	honest = total(1500, 1500, 0, &n);
	assert_true(honest == 1500 * n);		/* exactly once */
	c_only = total(0, 1500, 0, &n);
	e_only = total(1500, 0, 0, &n);
	everything = total(3000, 1500, 0, &n);	/* L+E+C on every packet */
	half = total(750, 750, 0, &n);
	assert_true(c_only == honest);			/* the audit catches the rest */
	assert_true(e_only == honest);
	assert_true(everything == 2 * honest);
	assert_true(half == honest / 2);		/* the audit sanctions it */
	/* A whitewasher's new flows each declare credit again: it pays more. */
	assert_true(total(1500, 1500, 10, &n) > honest);
}

/* Sums saturate rather than wrap: the charge never runs backwards. */
static void test_saturates(void **state)
{
	struct cx_charge w;

	(void)state;
	cx_charge_init(&w, T0);
	w.reecho_bytes = CX_CHARGE_MAX_BYTES - 10;
	w.charged_bytes = CX_CHARGE_MAX_BYTES - 10;
	assert_true(cx_charge_add(&w, UINT32_MAX, 0, 0, W, T0) == 10);
	assert_true(cx_charge_add(&w, UINT32_MAX, UINT32_MAX, 0, W, T0) == 0);
	assert_true(w.reecho_bytes == CX_CHARGE_MAX_BYTES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_clock_back),
		cmocka_unit_test(test_cheats_gain_nothing),
		cmocka_unit_test(test_saturates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
