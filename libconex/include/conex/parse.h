/*
 * Strict parsers for configuration values: plain unsigned integers, rates,
 * sizes and durations, and formatters that print a value so that it parses
 * back to exactly the same number.
 *
 * Every parser takes the whole NUL-terminated string and either accepts all
 * of it or fails: no whitespace (leading, trailing or inside), no sign, no
 * empty string, no trailing junk. Units are case-insensitive. The output is
 * written only on success.
 *
 *   -EINVAL  junk: empty, sign, space, unknown unit, bad digit, a fraction
 *            that does not come out as a whole number of the base unit
 *   -ERANGE  syntactically fine but overflows uint64_t or lies outside
 *            [min, max]
 *
 * Numbers in rates, sizes and durations are decimal, with an optional
 * fraction ("1.5mbit", "0.25ms"), and must come out as a whole number of
 * the base unit (bit/s, byte, ns): "1.5bit" is rejected. The integer part is
 * "0" or starts with a non-zero digit ("010" is rejected rather than guessed
 * to be octal, as strtoul(s, NULL, 0) would).
 */
#ifndef CONEX_PARSE_H
#define CONEX_PARSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Unsigned integer: decimal ("1500") or hexadecimal with a 0x/0X prefix
 * ("0x5dc"). Accepted only if min <= value <= max.
 */
int cx_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Rate in bit/s, units as in tc(8):
 *   bare number, "bit"               bit/s
 *   "kbit" "mbit" "gbit" "tbit"      10^3 .. 10^12 bit/s
 *   "kibit" "mibit" "gibit" "tibit"  2^10 .. 2^40 bit/s
 *   "bps"                            BYTES per second (8 bit/s)
 *   "kbps" "mbps" "gbps" "tbps"      10^3 .. 10^12 bytes/s
 *   "kibps" "mibps" "gibps" "tibps"  2^10 .. 2^40 bytes/s
 * Note that "mbps" is megaBYTES per second, as in tc, not megabits.
 */
int cx_parse_rate(const char *s, uint64_t *rate_bps);

/*
 * Size in bytes, units as in tc(8) sizes, binary multipliers:
 *   bare number, "b"            bytes
 *   "k" "kb" "kib"              2^10 bytes
 *   "m" "mb" "mib"              2^20 bytes
 *   "g" "gb" "gib"              2^30 bytes
 *   "t" "tb" "tib"              2^40 bytes
 * tc's bit-sized units ("kbit" as a size) are not accepted.
 */
int cx_parse_size(const char *s, uint64_t *bytes);

/*
 * Duration in nanoseconds: "ns", "us", "ms", "s", "min", "h". A unit is
 * required: tc reads a bare number as microseconds, which is too easy to
 * get wrong. "m" is rejected as ambiguous (minute or milli).
 */
int cx_parse_duration(const char *s, uint64_t *ns);

/*
 * Formatters: write the value with the largest unit that divides it
 * exactly ("40kbit", "64k", "250us"), so that the matching parser returns
 * the same value. Return the string length (without the NUL), or -ENOSPC
 * if buf (of size len) is too small, in which case buf holds "" if len > 0.
 * Rates use the decimal bit units, sizes the binary byte units ("1500b"),
 * durations ns/us/ms/s.
 */
int cx_format_rate(uint64_t rate_bps, char *buf, size_t len);
int cx_format_size(uint64_t bytes, char *buf, size_t len);
int cx_format_duration(uint64_t ns, char *buf, size_t len);

/* Large enough for any formatted value: 20 digits, a unit and the NUL. */
#define CX_FORMAT_MAX 32

#endif
