/*
 * common/prom.c (Prometheus text exposition 0.0.4) and common/hostport.c
 * (the `metrics ADDRESS:PORT` value). Output buffers are heap blocks of
 * exactly the size under test, so a write past them is an ASan error.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "cxtest.h"

#include "common/hostport.h"
#include "common/prom.h"

static char *dup_str(const char *s)
{
	return (char *)cxt_dup(s, strlen(s) + 1);
}

static const struct {
	const char *in;
	const char *label;	/* as a label value */
	const char *help;	/* as HELP text */
} escapes[] = {
	{ "", "", "" },
	{ "a", "a", "a" },
	{ "tenant-a.1@x", "tenant-a.1@x", "tenant-a.1@x" },
	{ "say \"hi\"", "say \\\"hi\\\"", "say \"hi\"" },
	{ "back\\slash", "back\\\\slash", "back\\\\slash" },
	{ "two\nlines", "two\\nlines", "two\\nlines" },
	{ "\\\"\n", "\\\\\\\"\\n", "\\\\\"\\n" },
	{ "tab\tstays", "tab\tstays", "tab\tstays" },
	{ "\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9" },
};

static void check_escape(const char *in, bool quote, const char *want)
{
	size_t need = strlen(want) + 1, n;
	char *s = dup_str(in), *out;

	/* Exactly enough room, then every smaller buffer. */
	for (n = need; ; n--) {
		out = malloc(n ? n : 1);
		assert_non_null(out);
		if (n == need) {
			expect_ret(in, cxd_prom_escape(s, quote, out, n),
				   (int)strlen(want));
			assert_string_equal(out, want);
		} else {
			expect_ret(in, cxd_prom_escape(s, quote, out, n), -ENOSPC);
			/* Still a string, within the buffer. */
			if (n > 0)
				assert_true(strlen(out) < n);
		}
		free(out);
		if (n == 0)
			break;
	}
	free(s);
}

static void test_escape(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(escapes); i++) {
		check_escape(escapes[i].in, true, escapes[i].label);
		check_escape(escapes[i].in, false, escapes[i].help);
	}
}

static void test_names(void **state)
{
	static const struct {
		const char *s;
		bool metric, label;
	} v[] = {
		{ "conex_policer_tenant_bytes_total", true, true },
		{ "a", true, true },
		{ "_x", true, true },
		{ "job:rate5m", true, false },
		{ ":x", true, false },
		{ "__name__", true, false },	/* reserved for labels only */
		{ "X9", true, true },
		{ "", false, false },
		{ "9x", false, false },
		{ "a-b", false, false },
		{ "a b", false, false },
		{ "a.b", false, false },
		{ "t\xc3\xa9", false, false },
	};
	char longest[CXD_PROM_NAME_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(v); i++) {
		char *s = dup_str(v[i].s);

		if (cxd_prom_metric_name_ok(s) != v[i].metric)
			fail_msg("metric name '%s': want %d", v[i].s, v[i].metric);
		if (cxd_prom_label_name_ok(s) != v[i].label)
			fail_msg("label name '%s': want %d", v[i].s, v[i].label);
		free(s);
	}
	/* The family buffer's limit: NAME_MAX - 1 characters fit, NAME_MAX not. */
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	assert_false(cxd_prom_metric_name_ok(longest));
	longest[sizeof(longest) - 2] = '\0';
	assert_true(cxd_prom_metric_name_ok(longest));
	assert_false(cxd_prom_metric_name_ok(NULL));
}

/* The page every length test below writes. */
static void write_page(struct cxd_prom *p)
{
	const struct cxd_prom_label a[] = {
		{ "tenant", "a" }, { "host", "7" },
	};
	const struct cxd_prom_label odd[] = {
		{ "tenant", "q\"u\\o\nte" }, { "flag", "L" },
	};

	cxd_prom_family(p, "conex_x_bytes_total", CXD_PROM_COUNTER,
			"Bytes sent.\nSecond line \\ here.");
	cxd_prom_u64(p, "conex_x_bytes_total", a, 2, 18446744073709551615ULL);
	cxd_prom_u64(p, "conex_x_bytes_total", odd, 2, 0);
	cxd_prom_family(p, "conex_x_tokens_bytes", CXD_PROM_GAUGE, "Level.");
	cxd_prom_i64(p, "conex_x_tokens_bytes", NULL, 0, -1500);
	cxd_prom_i64(p, "conex_x_tokens_bytes", a, 1, INT64_MIN);
	cxd_prom_family(p, "conex_x_drop_probability", CXD_PROM_GAUGE, "Ratio.");
	cxd_prom_f64(p, "conex_x_drop_probability", a, 1, 0.25);
	cxd_prom_f64(p, "conex_x_drop_probability", a, 1, 0.1);
	cxd_prom_f64(p, "conex_x_drop_probability", a, 1, 1e-6);
	cxd_prom_f64(p, "conex_x_drop_probability", a, 1, 1.0 / 3.0);
	cxd_prom_f64(p, "conex_x_drop_probability", a, 1, NAN);
	cxd_prom_f64(p, "conex_x_drop_probability", a, 1, INFINITY);
	cxd_prom_f64(p, "conex_x_drop_probability", a, 1, -INFINITY);
}

static const char page[] =
	"# HELP conex_x_bytes_total Bytes sent.\\nSecond line \\\\ here.\n"
	"# TYPE conex_x_bytes_total counter\n"
	"conex_x_bytes_total{tenant=\"a\",host=\"7\"} 18446744073709551615\n"
	"conex_x_bytes_total{tenant=\"q\\\"u\\\\o\\nte\",flag=\"L\"} 0\n"
	"# HELP conex_x_tokens_bytes Level.\n"
	"# TYPE conex_x_tokens_bytes gauge\n"
	"conex_x_tokens_bytes -1500\n"
	"conex_x_tokens_bytes{tenant=\"a\"} -9223372036854775808\n"
	"# HELP conex_x_drop_probability Ratio.\n"
	"# TYPE conex_x_drop_probability gauge\n"
	"conex_x_drop_probability{tenant=\"a\"} 0.25\n"
	"conex_x_drop_probability{tenant=\"a\"} 0.1\n"
	"conex_x_drop_probability{tenant=\"a\"} 1e-06\n"
	"conex_x_drop_probability{tenant=\"a\"} 0.33333333333333331\n"
	"conex_x_drop_probability{tenant=\"a\"} NaN\n"
	"conex_x_drop_probability{tenant=\"a\"} +Inf\n"
	"conex_x_drop_probability{tenant=\"a\"} -Inf\n";

static void test_page(void **state)
{
	struct cxd_prom p;
	size_t n;
	char *buf;

	(void)state;
	/* Room for the NUL: exactly fits; any less does not, cleanly. */
	for (n = sizeof(page); ; n--) {
		buf = malloc(n ? n : 1);
		assert_non_null(buf);
		cxd_prom_init(&p, buf, n);
		write_page(&p);
		if (n == sizeof(page)) {
			expect_ret("page", cxd_prom_end(&p), (int)sizeof(page) - 1);
			assert_string_equal(buf, page);
		} else {
			expect_ret("short page", cxd_prom_end(&p), -ENOSPC);
			/* What was written is a prefix of the page. */
			if (n > 0) {
				assert_true(strlen(buf) < n);
				assert_memory_equal(buf, page, strlen(buf));
			}
		}
		free(buf);
		if (n == 0)
			break;
	}
}

static void test_misuse(void **state)
{
	const struct cxd_prom_label bad[] = { { "__reserved", "x" } };
	const struct cxd_prom_label dash[] = { { "a-b", "x" } };
	const struct cxd_prom_label nullv[] = { { "a", NULL } };
	struct cxd_prom_label many[CXD_PROM_LABELS_MAX + 1];
	struct cxd_prom p;
	char buf[512];
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(many); i++)
		many[i] = (struct cxd_prom_label){ "l", "v" };

	/* A sample before any family. */
	cxd_prom_init(&p, buf, sizeof(buf));
	cxd_prom_u64(&p, "x_total", NULL, 0, 1);
	expect_ret("no family", cxd_prom_end(&p), -EINVAL);

	/* A sample of another family: the format wants them grouped. */
	cxd_prom_init(&p, buf, sizeof(buf));
	cxd_prom_family(&p, "x_total", CXD_PROM_COUNTER, "x");
	cxd_prom_u64(&p, "y_total", NULL, 0, 1);
	expect_ret("other family", cxd_prom_end(&p), -EINVAL);

	cxd_prom_init(&p, buf, sizeof(buf));
	cxd_prom_family(&p, "9x", CXD_PROM_GAUGE, "x");
	expect_ret("bad metric name", cxd_prom_end(&p), -EINVAL);

	cxd_prom_init(&p, buf, sizeof(buf));
	cxd_prom_family(&p, "x", (enum cxd_prom_type)7, "x");
	expect_ret("bad type", cxd_prom_end(&p), -EINVAL);

	cxd_prom_init(&p, buf, sizeof(buf));
	cxd_prom_family(&p, "x", CXD_PROM_GAUGE, "x");
	cxd_prom_u64(&p, "x", bad, 1, 1);
	expect_ret("reserved label", cxd_prom_end(&p), -EINVAL);

	cxd_prom_init(&p, buf, sizeof(buf));
	cxd_prom_family(&p, "x", CXD_PROM_GAUGE, "x");
	cxd_prom_u64(&p, "x", dash, 1, 1);
	expect_ret("bad label", cxd_prom_end(&p), -EINVAL);

	cxd_prom_init(&p, buf, sizeof(buf));
	cxd_prom_family(&p, "x", CXD_PROM_GAUGE, "x");
	cxd_prom_u64(&p, "x", nullv, 1, 1);
	expect_ret("NULL value", cxd_prom_end(&p), -EINVAL);

	cxd_prom_init(&p, buf, sizeof(buf));
	cxd_prom_family(&p, "x", CXD_PROM_GAUGE, "x");
	cxd_prom_u64(&p, "x", NULL, 1, 1);
	expect_ret("NULL labels", cxd_prom_end(&p), -EINVAL);

	cxd_prom_init(&p, buf, sizeof(buf));
	cxd_prom_family(&p, "x", CXD_PROM_GAUGE, "x");
	cxd_prom_u64(&p, "x", many, CXD_PROM_LABELS_MAX, 1);
	assert_true(cxd_prom_end(&p) > 0);
	cxd_prom_u64(&p, "x", many, CXD_PROM_LABELS_MAX + 1, 1);
	expect_ret("too many labels", cxd_prom_end(&p), -EINVAL);

	/* The first error sticks: later good calls write nothing. */
	cxd_prom_init(&p, buf, sizeof(buf));
	cxd_prom_u64(&p, "x", NULL, 0, 1);
	cxd_prom_family(&p, "x", CXD_PROM_GAUGE, "x");
	cxd_prom_u64(&p, "x", NULL, 0, 1);
	expect_ret("sticky", cxd_prom_end(&p), -EINVAL);
	assert_string_equal(buf, "");

	cxd_prom_init(&p, buf, 0);
	expect_ret("no buffer", cxd_prom_end(&p), -ENOSPC);
}

static const struct {
	const char *in;
	int family;
	uint8_t addr[16];
	uint16_t port;
} hp_ok[] = {
	{ "127.0.0.1:9464", AF_INET, { 127, 0, 0, 1 }, 9464 },
	{ "0.0.0.0:1", AF_INET, { 0 }, 1 },
	{ "198.18.0.1:65535", AF_INET, { 198, 18, 0, 1 }, 65535 },
	{ "[::1]:9464", AF_INET6, { [15] = 1 }, 9464 },
	{ "[::]:80", AF_INET6, { 0 }, 80 },
	{ "[2001:2::1]:9100", AF_INET6, { 0x20, 0x01, 0, 2, [15] = 1 }, 9100 },
};

static const char *const hp_bad[] = {
	"", ":", "127.0.0.1", "127.0.0.1:", ":9464", "127.0.0.1:0",
	"127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:94x", "127.0.0.1: 9464",
	"127.0.0.1:9464 ", "localhost:9464", "256.0.0.1:1", "::1:9464",
	"[::1]", "[::1]:", "[::1]9464", "[127.0.0.1]:9464", "[]:1", "[::1:1",
	"1.2.3.4:5:6", "[::1]:1:2",
	"[0000:0000:0000:0000:0000:0000:0000:0000:0000]:1",
};

static void test_hostport(void **state)
{
	char text[CXD_HOSTPORT_STRLEN], *s;
	struct sockaddr_storage ss;
	struct cxd_hostport hp, back;
	size_t i, n;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(hp_ok); i++) {
		s = dup_str(hp_ok[i].in);
		expect_ret(hp_ok[i].in, cxd_hostport_parse(s, &hp), 0);
		assert_int_equal(hp.family, hp_ok[i].family);
		assert_memory_equal(hp.addr, hp_ok[i].addr, 16);
		assert_int_equal(hp.port, hp_ok[i].port);
		free(s);
		/* Round trip: the canonical forms above format as written. */
		expect_ret(hp_ok[i].in, cxd_hostport_format(&hp, text, sizeof(text)),
			   (int)strlen(hp_ok[i].in));
		assert_string_equal(text, hp_ok[i].in);
		expect_ret(hp_ok[i].in, cxd_hostport_format(&hp, text, strlen(hp_ok[i].in)),
			   -ENOSPC);
		if (hp.family == AF_INET)
			expect_ret(hp_ok[i].in, cxd_hostport_sockaddr(&hp, &ss),
				   (int)sizeof(struct sockaddr_in));
		else
			expect_ret(hp_ok[i].in, cxd_hostport_sockaddr(&hp, &ss),
				   (int)sizeof(struct sockaddr_in6));
		assert_int_equal(ss.ss_family, hp.family);
		/* Every prefix: refused, or valid and round-trips itself. */
		for (n = 0; n < strlen(hp_ok[i].in); n++) {
			s = (char *)cxt_dup(hp_ok[i].in, n + 1);
			s[n] = '\0';
			if (cxd_hostport_parse(s, &back) == 0) {
				assert_int_equal(back.family, hp.family);
				assert_true(back.port < hp.port);
				cxd_hostport_format(&back, text, sizeof(text));
				assert_string_equal(text, s);
			} else {
				assert_int_equal(back.family, 0);
			}
			free(s);
		}
	}
	for (i = 0; i < CX_ARRAY_SIZE(hp_bad); i++) {
		s = dup_str(hp_bad[i]);
		memset(&hp, 0xa5, sizeof(hp));
		expect_ret(hp_bad[i], cxd_hostport_parse(s, &hp), -EINVAL);
		assert_int_equal(hp.family, 0);
		free(s);
	}
	expect_ret("NULL", cxd_hostport_parse(NULL, &hp), -EINVAL);
	memset(&hp, 0, sizeof(hp));
	expect_ret("none", cxd_hostport_format(&hp, text, sizeof(text)), -EINVAL);
	expect_ret("none", cxd_hostport_sockaddr(&hp, &ss), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_hostport),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
