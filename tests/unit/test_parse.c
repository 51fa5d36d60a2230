#include "cxtest.h"

#include <errno.h>
#include <stdio.h>

#include <conex/parse.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

typedef int (*parse_fn)(const char *s, uint64_t *out);
typedef int (*format_fn)(uint64_t v, char *buf, size_t len);

struct vec {
	const char *s;
	int ret;
	uint64_t v;
};

/* Heap copy of the first n characters plus a NUL, exactly n + 1 bytes, so
 * that ASan catches any read past the terminator. */
static char *dup_prefix(const char *s, size_t n)
{
	char *p = (char *)cxt_dup(s, n + 1);

	p[n] = '\0';
	return p;
}

static int parse_u64_full(const char *s, uint64_t *out)
{
	return cx_parse_u64(s, 0, UINT64_MAX, out);
}

/*
 * Runs each vector, then every proper prefix of it: a prefix must either
 * fail with one of the two documented errors or parse to a value that the
 * matching formatter prints and the parser reads back identically.
 */
static void run_vectors(const struct vec *vecs, size_t n, parse_fn parse,
			format_fn format)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		size_t slen = strlen(vecs[i].s);
		uint64_t out = 0xa5a5a5a5a5a5a5a5ULL;
		char *p = dup_prefix(vecs[i].s, slen);
		int ret = parse(p, &out);

		if (ret != vecs[i].ret)
			fail_msg("\"%s\": got %d, want %d", vecs[i].s, ret,
				 vecs[i].ret);
		if (ret == 0 && out != vecs[i].v)
			fail_msg("\"%s\": got %llu, want %llu", vecs[i].s,
				 (unsigned long long)out,
				 (unsigned long long)vecs[i].v);
		if (ret < 0)
			assert_true(out == 0xa5a5a5a5a5a5a5a5ULL);
		free(p);

		for (k = 0; k < slen; k++) {
			uint64_t v = 0, v2 = 0;
			char buf[CX_FORMAT_MAX];

			p = dup_prefix(vecs[i].s, k);
			ret = parse(p, &v);
			assert_true(ret == 0 || ret == -EINVAL || ret == -ERANGE);
			if (ret == 0 && format) {
				assert_true(format(v, buf, sizeof(buf)) > 0);
				assert_int_equal(parse(buf, &v2), 0);
				assert_true(v == v2);
			}
			free(p);
		}
	}
}

static void test_u64(void **state)
{
	static const struct vec vecs[] = {
		{ "0", 0, 0 },
		{ "7", 0, 7 },
		{ "1500", 0, 1500 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "0x5dc", 0, 1500 },
		{ "0X5DC", 0, 1500 },
		{ "0x0", 0, 0 },
		{ "0x00ff", 0, 255 },
		{ "0xffffffffffffffff", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "99999999999999999999999", -ERANGE, 0 },
		{ "0x10000000000000000", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ " 1", -EINVAL, 0 },
		{ "1 ", -EINVAL, 0 },
		{ "1\n", -EINVAL, 0 },
		{ "+1", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "01", -EINVAL, 0 },
		{ "00", -EINVAL, 0 },
		{ "0x", -EINVAL, 0 },
		{ "0xg", -EINVAL, 0 },
		{ "0x-1", -EINVAL, 0 },
		{ "1.0", -EINVAL, 0 },
		{ "1e3", -EINVAL, 0 },
		{ "12a", -EINVAL, 0 },
		{ "1k", -EINVAL, 0 },
		{ "0b101", -EINVAL, 0 },
		{ "99999999999999999999999x", -EINVAL, 0 },
		{ "1111111111111111111111111111111111111111111111111111111111111111",
		  -EINVAL, 0 },
	};

	(void)state;
	run_vectors(vecs, ARRAY_SIZE(vecs), parse_u64_full, NULL);
}

static void test_u64_range(void **state)
{
	uint64_t v = 42;

	(void)state;
	assert_int_equal(cx_parse_u64("10", 10, 20, &v), 0);
	assert_true(v == 10);
	assert_int_equal(cx_parse_u64("20", 10, 20, &v), 0);
	assert_true(v == 20);
	assert_int_equal(cx_parse_u64("9", 10, 20, &v), -ERANGE);
	assert_int_equal(cx_parse_u64("21", 10, 20, &v), -ERANGE);
	assert_int_equal(cx_parse_u64("0x15", 10, 20, &v), -ERANGE);
	assert_true(v == 20);
	assert_int_equal(cx_parse_u64("65535", 0, UINT16_MAX, &v), 0);
	assert_int_equal(cx_parse_u64("65536", 0, UINT16_MAX, &v), -ERANGE);
	assert_int_equal(cx_parse_u64("1", 2, 1, &v), -EINVAL);
	assert_int_equal(cx_parse_u64(NULL, 0, 1, &v), -EINVAL);
	assert_int_equal(cx_parse_u64("1", 0, 1, NULL), -EINVAL);
}

static void test_rate(void **state)
{
	static const struct vec vecs[] = {
		{ "40kbit", 0, 40000 },
		{ "10mbit", 0, 10000000 },
		{ "1gbit", 0, 1000000000 },
		{ "400gbit", 0, 400000000000ULL },
		{ "2tbit", 0, 2000000000000ULL },
		{ "100mbps", 0, 800000000 },
		{ "1bps", 0, 8 },
		{ "3kbps", 0, 24000 },
		{ "1gbps", 0, 8000000000ULL },
		{ "2tbps", 0, 16000000000000ULL },
		{ "1kibit", 0, 1024 },
		{ "1mibit", 0, 1048576 },
		{ "1gibit", 0, 1073741824 },
		{ "1tibit", 0, 1099511627776ULL },
		{ "1kibps", 0, 8192 },
		{ "1tibps", 0, 8796093022208ULL },
		{ "1500", 0, 1500 },
		{ "1500bit", 0, 1500 },
		{ "0", 0, 0 },
		{ "0kbit", 0, 0 },
		{ "40KBIT", 0, 40000 },
		{ "10MbIt", 0, 10000000 },
		{ "100MBPS", 0, 800000000 },
		{ "1.5mbit", 0, 1500000 },
		{ "0.5kbit", 0, 500 },
		{ "0.125bps", 0, 1 },
		{ "2.25gbit", 0, 2250000000ULL },
		{ "1.000000000000000000000000kbit", 0, 1000 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551615bit", 0, UINT64_MAX },
		{ "2097151tibps", 0, UINT64_MAX - 8796093022207ULL },
		{ "2097152tibps", -ERANGE, 0 },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "18446744073709551615kbit", -ERANGE, 0 },
		{ "18446744073709551.616kbit", -ERANGE, 0 },
		{ "18446744073709551.615kbit", 0, UINT64_MAX },
		{ "1.5bit", -EINVAL, 0 },
		{ "1.0001kbit", -EINVAL, 0 },
		{ "0.0000000000000000001tbit", -EINVAL, 0 },
		{ "0.1bps", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "kbit", -EINVAL, 0 },
		{ ".5kbit", -EINVAL, 0 },
		{ "5.kbit", -EINVAL, 0 },
		{ "5..0kbit", -EINVAL, 0 },
		{ "1 kbit", -EINVAL, 0 },
		{ " 1kbit", -EINVAL, 0 },
		{ "1kbit ", -EINVAL, 0 },
		{ "1kbits", -EINVAL, 0 },
		{ "1k", -EINVAL, 0 },
		{ "1kb", -EINVAL, 0 },
		{ "-1kbit", -EINVAL, 0 },
		{ "+1kbit", -EINVAL, 0 },
		{ "0x10kbit", -EINVAL, 0 },
		{ "010kbit", -EINVAL, 0 },
		{ "1e3bit", -EINVAL, 0 },
		{ "1kbit\n", -EINVAL, 0 },
	};

	(void)state;
	run_vectors(vecs, ARRAY_SIZE(vecs), cx_parse_rate,
		    cx_format_rate);
}

static void test_size(void **state)
{
	static const struct vec vecs[] = {
		{ "1500", 0, 1500 },
		{ "1500b", 0, 1500 },
		{ "64k", 0, 65536 },
		{ "64kb", 0, 65536 },
		{ "64KiB", 0, 65536 },
		{ "1kib", 0, 1024 },
		{ "1m", 0, 1048576 },
		{ "1mb", 0, 1048576 },
		{ "2g", 0, 2147483648ULL },
		{ "1t", 0, 1099511627776ULL },
		{ "1.5k", 0, 1536 },
		{ "0.5m", 0, 524288 },
		{ "0", 0, 0 },
		{ "16777215t", 0, 16777215ULL << 40 },
		{ "16777216t", -ERANGE, 0 },
		{ "0.5b", -EINVAL, 0 },
		{ "0.0001k", -EINVAL, 0 },
		{ "1kbit", -EINVAL, 0 },
		{ "1kbps", -EINVAL, 0 },
		{ "1 k", -EINVAL, 0 },
		{ "k", -EINVAL, 0 },
		{ "-64k", -EINVAL, 0 },
		{ "064k", -EINVAL, 0 },
		{ "64kk", -EINVAL, 0 },
	};

	(void)state;
	run_vectors(vecs, ARRAY_SIZE(vecs), cx_parse_size,
		    cx_format_size);
}

static void test_duration(void **state)
{
	static const struct vec vecs[] = {
		{ "10ms", 0, 10000000 },
		{ "1s", 0, 1000000000 },
		{ "250us", 0, 250000 },
		{ "7ns", 0, 7 },
		{ "5min", 0, 300000000000ULL },
		{ "1h", 0, 3600000000000ULL },
		{ "0.5s", 0, 500000000 },
		{ "1.5us", 0, 1500 },
		{ "0.001ms", 0, 1000 },
		{ "10MS", 0, 10000000 },
		{ "0s", 0, 0 },
		{ "18446744073709551615ns", 0, UINT64_MAX },
		{ "18446744073s", 0, 18446744073000000000ULL },
		{ "18446744074s", -ERANGE, 0 },
		{ "1.5ns", -EINVAL, 0 },
		{ "5m", -EINVAL, 0 },
		{ "10", -EINVAL, 0 },
		{ "1sec", -EINVAL, 0 },
		{ "s", -EINVAL, 0 },
		{ "-1s", -EINVAL, 0 },
		{ "1 s", -EINVAL, 0 },
	};

	(void)state;
	run_vectors(vecs, ARRAY_SIZE(vecs), cx_parse_duration,
		    cx_format_duration);
}

/* Output buffer of exactly n bytes, filled with junk. */
static char *out_buf(size_t n)
{
	char *p = malloc(n ? n : 1);

	assert_non_null(p);
	memset(p, 'x', n ? n : 1);
	return p;
}

struct fmt_vec {
	format_fn format;
	uint64_t v;
	const char *s;
};

static void test_format(void **state)
{
	static const struct fmt_vec vecs[] = {
		{ cx_format_rate, 40000, "40kbit" },
		{ cx_format_rate, 10000000, "10mbit" },
		{ cx_format_rate, 1000000000, "1gbit" },
		{ cx_format_rate, 400000000000ULL, "400gbit" },
		{ cx_format_rate, 3000000000000ULL, "3tbit" },
		{ cx_format_rate, 1500, "1500bit" },
		{ cx_format_rate, 1500000, "1500kbit" },
		{ cx_format_rate, 0, "0bit" },
		{ cx_format_rate, UINT64_MAX, "18446744073709551615bit" },
		{ cx_format_size, 65536, "64k" },
		{ cx_format_size, 1500, "1500b" },
		{ cx_format_size, 1536, "1536b" },
		{ cx_format_size, 1048576, "1m" },
		{ cx_format_size, 1ULL << 30, "1g" },
		{ cx_format_size, 1ULL << 41, "2t" },
		{ cx_format_size, 0, "0b" },
		{ cx_format_duration, 10000000, "10ms" },
		{ cx_format_duration, 250000, "250us" },
		{ cx_format_duration, 1, "1ns" },
		{ cx_format_duration, 300000000000ULL, "300s" },
		{ cx_format_duration, 0, "0ns" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(vecs); i++) {
		size_t slen = strlen(vecs[i].s);
		char *buf = out_buf(slen + 1);

		assert_int_equal(vecs[i].format(vecs[i].v, buf, slen + 1),
				 (int)slen);
		assert_string_equal(buf, vecs[i].s);
		free(buf);

		/* One byte short: -ENOSPC and an empty string. */
		buf = out_buf(slen);
		assert_int_equal(vecs[i].format(vecs[i].v, buf, slen),
				 -ENOSPC);
		assert_int_equal(buf[0], '\0');
		free(buf);
	}
	assert_int_equal(cx_format_rate(1, NULL, 0), -ENOSPC);
	assert_int_equal(cx_format_rate(1, NULL, 8), -EINVAL);
}

/* Deterministic xorshift64* so that failures reproduce. */
static uint64_t prng(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static void test_roundtrip(void **state)
{
	static const struct {
		parse_fn parse;
		format_fn format;
		uint64_t mult[4];
	} kinds[] = {
		{ cx_parse_rate, cx_format_rate, { 1, 1000, 1000000, 8000 } },
		{ cx_parse_size, cx_format_size, { 1, 1024, 1 << 20, 1 << 30 } },
		{ cx_parse_duration, cx_format_duration,
		  { 1, 1000, 1000000, 1000000000 } },
	};
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	size_t i, k;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(kinds); i++) {
		for (k = 0; k < 20000; k++) {
			uint64_t r = prng(&seed);
			uint64_t mult = kinds[i].mult[k % 4];
			uint64_t v = (r >> (r & 63)) / mult * mult, back = 0;
			char buf[CX_FORMAT_MAX];
			int n = kinds[i].format(v, buf, sizeof(buf));

			assert_true(n > 0 && (size_t)n < sizeof(buf));
			assert_int_equal(kinds[i].parse(buf, &back), 0);
			if (back != v)
				fail_msg("%s: %llu != %llu", buf,
					 (unsigned long long)back,
					 (unsigned long long)v);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_u64_range),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
