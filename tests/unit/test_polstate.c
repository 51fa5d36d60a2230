/*
 * conex-policer's enforcement state across restarts (policer/state.c): a
 * tenant in debt is in debt after a restart, brought up to date by the
 * time the policer was away; bad, stale and foreign files restore nothing
 * they should not.
 */
#include "cxtest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policer.h"

#define S	(1000ULL * 1000 * 1000)
#define T0	(100 * S)		/* monotonic */
#define R0	(1700000000ULL * S)	/* realtime */

static char path[64];

static void setup_pl(struct policer *pl, const char *names[], unsigned int n)
{
	unsigned int i;

	memset(pl, 0, sizeof(*pl));
	pol_config_init(&pl->cfg);
	pl->cfg.n_tenants = n;
	for (i = 0; i < n; i++) {
		snprintf(pl->cfg.tenants[i].name, POL_NAME_MAX, "%s", names[i]);
		cx_police_cfg_default(&pl->cfg.tenants[i].police);
		/* 8 Mbit/s: 1 MB/s; burst 1 MB. */
		pl->cfg.tenants[i].police.allowance_bps = 8000000;
		pl->cfg.tenants[i].police.burst_bytes = 1000000;
		assert_int_equal(cx_police_init(&pl->tenants[i].pol,
						&pl->cfg.tenants[i].police,
						CX_POLICE_LOCAL, T0), 0);
	}
}

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/cx-polstate-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	char tmp[80];

	(void)state;
	unlink(path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	return 0;
}

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_roundtrip(void **state)
{
	static const char *names[] = { "ta", "tb" };
	static const char *names2[] = { "tb", "ta", "tc" };
	struct policer *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	unsigned int n;
	struct stat st;

	(void)state;
	setup_pl(a, names, 2);
	cx_police_drain(&a->tenants[0].pol, 1500000, T0);	/* ta: -500 kB */
	a->tenants[0].forgive_bytes = 3000;
	assert_int_equal(pol_state_save(a, path, R0, T0), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* Back 0.2 s later, tenants in another order and one new. */
	setup_pl(b, names2, 3);
	assert_int_equal(pol_state_load(b, path, R0 + S / 5, 50 * S, &n), 0);
	assert_int_equal(n, 2);
	/* ta: -500 kB + 0.2 s at 1 MB/s; p rose while over, at most 0.2 s of ramp. */
	assert_true(cx_police_level_bytes(&b->tenants[1].pol, 50 * S) == -300000);
	assert_true(cx_police_is_over(&b->tenants[1].pol, 50 * S));
	assert_true(b->tenants[1].forgive_bytes == 3000);
	/* tb was full, tc is new: full. */
	assert_true(cx_police_level_bytes(&b->tenants[0].pol, 50 * S) == 1000000);
	assert_true(cx_police_level_bytes(&b->tenants[2].pol, 50 * S) == 1000000);
	/* A gap long enough refills it. */
	setup_pl(b, names2, 3);
	assert_int_equal(pol_state_load(b, path, R0 + 10 * S, 50 * S, &n), 0);
	assert_true(cx_police_level_bytes(&b->tenants[1].pol, 50 * S) == 1000000);
	free(a);
	free(b);
}

static void test_refused(void **state)
{
	static const char *names[] = { "ta" };
	struct policer *b = calloc(1, sizeof(*b));
	unsigned int n;

	(void)state;
	setup_pl(b, names, 1);
	/* No file: nothing, no error. */
	unlink(path);
	assert_int_equal(pol_state_load(b, path, R0, T0, &n), 0);
	assert_int_equal(n, 0);
	/* "" keeps nothing. */
	assert_int_equal(pol_state_save(b, "", R0, T0), 0);
	assert_int_equal(pol_state_load(b, "", R0, T0, &n), 0);
	/* Wrong magic, stale, from the future: nothing restored. */
	write_file("conex-policer-state 2\ntime_ns 1\ntenant ta -5 0 0 0\n");
	assert_int_equal(pol_state_load(b, path, R0, T0, &n), -EBADMSG);
	assert_int_equal(n, 0);
	write_file("conex-policer-state 1\ntime_ns 1\ntenant ta -5 0 0 0\n");
	assert_int_equal(pol_state_load(b, path, R0, T0, &n), -ESTALE);
	assert_int_equal(n, 0);
	write_file("conex-policer-state 1\ntime_ns 99999999999999999999\n");
	assert_int_equal(pol_state_load(b, path, R0, T0, &n), -EBADMSG);
	/* A malformed line is refused; the good ones stand. */
	write_file("conex-policer-state 1\ntime_ns 1700000000000000000\n"
		   "tenant ta -5 0 0 0\ntenant ta x 0 0 0\ntenant zz 1 1 1 1\n"
		   "tenant ta 1 2 3000000 0\n");
	assert_int_equal(pol_state_load(b, path, R0, T0, &n), -EBADMSG);
	assert_int_equal(n, 1);
	assert_true(cx_police_level_bytes(&b->tenants[0].pol, T0) == -5);
	/* Not a regular file (a FIFO would block the start): refused. */
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(pol_state_load(b, path, R0, T0, &n), -EINVAL);
	unlink(path);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
