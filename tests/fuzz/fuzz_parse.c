/*
 * Every strict parser on the same NUL-terminated input. Invariants:
 * - the only results are success, -EINVAL and -ERANGE;
 * - an accepted string holds only digits, letters and '.';
 * - parsing is case-insensitive: the upper-cased string gives the same
 *   result;
 * - format(parse(s)) parses back to the same value;
 * - cx_parse_u64 agrees with strtoull(s, NULL, 0) whenever it accepts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <conex/parse.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef int (*parse_fn)(const char *s, uint64_t *out);
typedef int (*format_fn)(uint64_t v, char *buf, size_t len);

static const struct {
	parse_fn parse;
	format_fn format;
} kinds[] = {
	{ cx_parse_rate, cx_format_rate },
	{ cx_parse_size, cx_format_size },
	{ cx_parse_duration, cx_format_duration },
};

static void check_accepted_chars(const char *s)
{
	for (; *s; s++) {
		char c = *s;

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c == '.'))
			__builtin_trap();
	}
}

static void check_u64(const char *s, const char *upper)
{
	uint64_t v = 0, v2 = 0;
	unsigned long long ref;
	char *end;
	int ret = cx_parse_u64(s, 0, UINT64_MAX, &v);

	if (ret != 0 && ret != -EINVAL && ret != -ERANGE)
		__builtin_trap();
	if (cx_parse_u64(upper, 0, UINT64_MAX, &v2) != ret)
		__builtin_trap();
	if (ret != 0)
		return;
	if (v2 != v)
		__builtin_trap();
	check_accepted_chars(s);
	errno = 0;
	ref = strtoull(s, &end, 0);
	if (errno || *end != '\0' || ref != v)
		__builtin_trap();
	/* A range that excludes the value must refuse it. */
	if (v < UINT64_MAX && cx_parse_u64(s, v + 1, UINT64_MAX, &v2) != -ERANGE)
		__builtin_trap();
	if (v > 0 && cx_parse_u64(s, 0, v - 1, &v2) != -ERANGE)
		__builtin_trap();
}

static void check_kind(size_t k, const char *s, const char *upper)
{
	uint64_t v = 0, v2 = 0;
	char buf[CX_FORMAT_MAX];
	int ret = kinds[k].parse(s, &v), n;

	if (ret != 0 && ret != -EINVAL && ret != -ERANGE)
		__builtin_trap();
	if (kinds[k].parse(upper, &v2) != ret)
		__builtin_trap();
	if (ret != 0)
		return;
	if (v2 != v)
		__builtin_trap();
	check_accepted_chars(s);
	n = kinds[k].format(v, buf, sizeof(buf));
	if (n <= 0 || (size_t)n >= sizeof(buf) || strlen(buf) != (size_t)n)
		__builtin_trap();
	if (kinds[k].parse(buf, &v2) != 0 || v2 != v)
		__builtin_trap();
	/* One byte short of the needed size must be refused. */
	if (kinds[k].format(v, buf, (size_t)n) != -ENOSPC || buf[0] != '\0')
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *upper;
	size_t i;

	if (size > 256)
		return 0;
	s = malloc(size + 1);
	upper = malloc(size + 1);
	if (!s || !upper)
		__builtin_trap();
	memcpy(s, data, size);
	s[size] = '\0';
	for (i = 0; i <= size; i++)
		upper[i] = (s[i] >= 'a' && s[i] <= 'z') ?
			   (char)(s[i] - 'a' + 'A') : s[i];

	check_u64(s, upper);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		check_kind(i, s, upper);

	free(upper);
	free(s);
	return 0;
}
