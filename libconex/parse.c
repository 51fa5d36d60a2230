/*
 * Strict parsers for configuration values. A value is scanned in full
 * (digits, optional fraction, unit) before any arithmetic, so junk is
 * reported as -EINVAL even when its digits would also overflow; overflow
 * of a syntactically valid value is -ERANGE.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <conex/parse.h>

#include "internal.h"

/* Longer strings are junk: 20 integer digits, '.', 18 fraction digits and a
 * unit fit well within this. Also bounds every scanning loop below. */
#define PARSE_MAX_LEN 63

/* Fraction digits kept; further digits must be zeros. The largest unit
 * multiplier (2^43 for "tibps") is below 10^13, so no fraction needing more
 * than 18 digits can come out as a whole number of the base unit unless it
 * has trailing zeros. 10^18 fits uint64_t. */
#define FRAC_MAX_DIGITS 18

struct unit {
	const char *name;
	uint64_t mult;
};

#define K10 1000ULL
#define K2  1024ULL

static const struct unit rate_units[] = {
	{ "",      1 },
	{ "bit",   1 },
	{ "kbit",  K10 },
	{ "mbit",  K10 * K10 },
	{ "gbit",  K10 * K10 * K10 },
	{ "tbit",  K10 * K10 * K10 * K10 },
	{ "kibit", K2 },
	{ "mibit", K2 * K2 },
	{ "gibit", K2 * K2 * K2 },
	{ "tibit", K2 * K2 * K2 * K2 },
	/* tc(8): "bps" is bytes per second. */
	{ "bps",   8 },
	{ "kbps",  8 * K10 },
	{ "mbps",  8 * K10 * K10 },
	{ "gbps",  8 * K10 * K10 * K10 },
	{ "tbps",  8 * K10 * K10 * K10 * K10 },
	{ "kibps", 8 * K2 },
	{ "mibps", 8 * K2 * K2 },
	{ "gibps", 8 * K2 * K2 * K2 },
	{ "tibps", 8 * K2 * K2 * K2 * K2 },
};

static const struct unit size_units[] = {
	{ "",    1 },
	{ "b",   1 },
	{ "k",   K2 },
	{ "kb",  K2 },
	{ "kib", K2 },
	{ "m",   K2 * K2 },
	{ "mb",  K2 * K2 },
	{ "mib", K2 * K2 },
	{ "g",   K2 * K2 * K2 },
	{ "gb",  K2 * K2 * K2 },
	{ "gib", K2 * K2 * K2 },
	{ "t",   K2 * K2 * K2 * K2 },
	{ "tb",  K2 * K2 * K2 * K2 },
	{ "tib", K2 * K2 * K2 * K2 },
};

static const struct unit duration_units[] = {
	{ "ns",  1 },
	{ "us",  K10 },
	{ "ms",  K10 * K10 },
	{ "s",   K10 * K10 * K10 },
	{ "min", 60 * K10 * K10 * K10 },
	{ "h",   3600 * K10 * K10 * K10 },
};

/* Formatter units, largest first; the last entry divides everything. */
static const struct unit rate_fmt[] = {
	{ "tbit", K10 * K10 * K10 * K10 },
	{ "gbit", K10 * K10 * K10 },
	{ "mbit", K10 * K10 },
	{ "kbit", K10 },
	{ "bit",  1 },
};

static const struct unit size_fmt[] = {
	{ "t", K2 * K2 * K2 * K2 },
	{ "g", K2 * K2 * K2 },
	{ "m", K2 * K2 },
	{ "k", K2 },
	{ "b", 1 },
};

static const struct unit duration_fmt[] = {
	{ "s",  K10 * K10 * K10 },
	{ "ms", K10 * K10 },
	{ "us", K10 },
	{ "ns", 1 },
};

/* A scanned decimal: ip + frac / 10^frac_digits, with trailing zeros of
 * the fraction dropped. */
struct decimal {
	uint64_t ip;
	bool ip_overflow;
	uint64_t frac;
	unsigned int frac_digits;
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool unit_equal(const char *s, const char *name)
{
	size_t i;

	for (i = 0; i <= PARSE_MAX_LEN; i++) {
		if (ascii_lower(s[i]) != name[i])
			return false;
		if (name[i] == '\0')
			return true;
	}
	return false;
}

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static uint64_t pow10_u64(unsigned int n)
{
	uint64_t v = 1;

	while (n--)
		v *= 10;
	return v;
}

/* Scans "digits[.digits]" at s; *endp is set past it. */
static int scan_decimal(const char *s, const char **endp, struct decimal *d)
{
	const char *p = s;

	memset(d, 0, sizeof(*d));
	if (!is_digit(*p))
		return -EINVAL;
	if (p[0] == '0' && is_digit(p[1]))
		return -EINVAL;
	for (; is_digit(*p); p++) {
		uint64_t dig = (uint64_t)(*p - '0');

		if (d->ip > (UINT64_MAX - dig) / 10)
			d->ip_overflow = true;
		else
			d->ip = d->ip * 10 + dig;
	}
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return -EINVAL;
		for (; is_digit(*p); p++) {
			if (d->frac_digits < FRAC_MAX_DIGITS) {
				d->frac = d->frac * 10 + (uint64_t)(*p - '0');
				d->frac_digits++;
			} else if (*p != '0') {
				/* Too fine to be a whole base unit. */
				return -EINVAL;
			}
		}
		while (d->frac_digits && d->frac % 10 == 0) {
			d->frac /= 10;
			d->frac_digits--;
		}
	}
	*endp = p;
	return 0;
}

/*
 * value = ip * mult + frac * mult / 10^fd, exactly. With g = gcd(mult,
 * 10^fd) the fractional term is whole iff (10^fd / g) divides frac, and is
 * then (frac / (10^fd / g)) * (mult / g) < mult: no intermediate overflow.
 */
static int scale_decimal(const struct decimal *d, uint64_t mult,
			 uint64_t *out)
{
	uint64_t v, fv = 0;

	if (d->frac_digits) {
		uint64_t scale = pow10_u64(d->frac_digits);
		uint64_t g = gcd_u64(mult, scale);

		if (d->frac % (scale / g))
			return -EINVAL;
		fv = d->frac / (scale / g) * (mult / g);
	}
	if (d->ip_overflow || d->ip > UINT64_MAX / mult)
		return -ERANGE;
	v = d->ip * mult;
	if (fv > UINT64_MAX - v)
		return -ERANGE;
	*out = v + fv;
	return 0;
}

static int parse_with_units(const char *s, const struct unit *units,
			    size_t nunits, uint64_t *out)
{
	struct decimal d;
	const char *unit;
	size_t i;
	int ret;

	if (!s || !out)
		return -EINVAL;
	if (strnlen(s, PARSE_MAX_LEN + 1) > PARSE_MAX_LEN)
		return -EINVAL;
	ret = scan_decimal(s, &unit, &d);
	if (ret < 0)
		return ret;
	for (i = 0; i < nunits; i++) {
		if (unit_equal(unit, units[i].name))
			return scale_decimal(&d, units[i].mult, out);
	}
	return -EINVAL;
}

int cx_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *p;
	uint64_t v = 0;
	bool overflow = false;

	if (!s || !out || min > max)
		return -EINVAL;
	if (strnlen(s, PARSE_MAX_LEN + 1) > PARSE_MAX_LEN)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		p = s + 2;
		if (hex_value(*p) < 0)
			return -EINVAL;
		for (; hex_value(*p) >= 0; p++) {
			if (v > UINT64_MAX >> 4)
				overflow = true;
			else
				v = v << 4 | (uint64_t)hex_value(*p);
		}
	} else {
		p = s;
		if (!is_digit(*p) || (p[0] == '0' && is_digit(p[1])))
			return -EINVAL;
		for (; is_digit(*p); p++) {
			uint64_t dig = (uint64_t)(*p - '0');

			if (v > (UINT64_MAX - dig) / 10)
				overflow = true;
			else
				v = v * 10 + dig;
		}
	}
	if (*p != '\0')
		return -EINVAL;
	if (overflow || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int cx_parse_rate(const char *s, uint64_t *rate_bps)
{
	return parse_with_units(s, rate_units, CX_ARRAY_SIZE(rate_units),
				rate_bps);
}

int cx_parse_size(const char *s, uint64_t *bytes)
{
	return parse_with_units(s, size_units, CX_ARRAY_SIZE(size_units),
				bytes);
}

int cx_parse_duration(const char *s, uint64_t *ns)
{
	return parse_with_units(s, duration_units,
				CX_ARRAY_SIZE(duration_units), ns);
}

static int format_with_units(uint64_t v, const struct unit *units,
			     size_t nunits, char *buf, size_t len)
{
	const struct unit *u = &units[nunits - 1];
	size_t i;
	int n;

	if (!buf && len)
		return -EINVAL;
	for (i = 0; v && i < nunits; i++) {
		if (v % units[i].mult == 0) {
			u = &units[i];
			break;
		}
	}
	if (!len)
		return -ENOSPC;
	n = snprintf(buf, len, "%" PRIu64 "%s", v / u->mult, u->name);
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return -ENOSPC;
	}
	return n;
}

int cx_format_rate(uint64_t rate_bps, char *buf, size_t len)
{
	return format_with_units(rate_bps, rate_fmt, CX_ARRAY_SIZE(rate_fmt),
				 buf, len);
}

int cx_format_size(uint64_t bytes, char *buf, size_t len)
{
	return format_with_units(bytes, size_fmt, CX_ARRAY_SIZE(size_fmt),
				 buf, len);
}

int cx_format_duration(uint64_t ns, char *buf, size_t len)
{
	return format_with_units(ns, duration_fmt,
				 CX_ARRAY_SIZE(duration_fmt), buf, len);
}
