"""Strict rate and size parsers, with the units of tc(8) and libconex's parse.h.

Whole-string match or ValueError: no sign, no spaces, no trailing junk, and a
fraction must come out as a whole number of the base unit.
"""

import re
from fractions import Fraction

_NUM = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9]+)?([a-zA-Z]*)$")

_RATE_UNITS = {
	"": 1, "bit": 1,
	"kbit": 10**3, "mbit": 10**6, "gbit": 10**9, "tbit": 10**12,
	"kibit": 2**10, "mibit": 2**20, "gibit": 2**30, "tibit": 2**40,
	"bps": 8,
	"kbps": 8 * 10**3, "mbps": 8 * 10**6, "gbps": 8 * 10**9, "tbps": 8 * 10**12,
	"kibps": 8 * 2**10, "mibps": 8 * 2**20, "gibps": 8 * 2**30, "tibps": 8 * 2**40,
}

_SIZE_UNITS = {
	"": 1, "b": 1,
	"k": 2**10, "kb": 2**10, "kib": 2**10,
	"m": 2**20, "mb": 2**20, "mib": 2**20,
	"g": 2**30, "gb": 2**30, "gib": 2**30,
	"t": 2**40, "tb": 2**40, "tib": 2**40,
}

_U64_MAX = 2**64 - 1


def _parse(s, units, what):
	if isinstance(s, int) and not isinstance(s, bool):
		if s < 0 or s > _U64_MAX:
			raise ValueError(f"{what} out of range: {s}")
		return s
	if not isinstance(s, str):
		raise ValueError(f"bad {what}: {s!r}")
	m = _NUM.match(s)
	if not m:
		raise ValueError(f"bad {what}: {s!r}")
	unit = m.group(3).lower()
	if unit not in units:
		raise ValueError(f"bad {what} unit in {s!r}")
	val = Fraction(m.group(1) + (m.group(2) or "")) * units[unit]
	if val.denominator != 1:
		raise ValueError(f"{what} {s!r} is not a whole number of the base unit")
	if val > _U64_MAX:
		raise ValueError(f"{what} out of range: {s!r}")
	return int(val)


def parse_rate(s):
	"""'100mbit' -> 100000000 (bit/s). 'mbps' is megaBYTES/s, as in tc."""
	return _parse(s, _RATE_UNITS, "rate")


def parse_size(s):
	"""'30k' -> 30720 (bytes, binary multipliers as in tc)."""
	return _parse(s, _SIZE_UNITS, "size")


def format_rate(rate_bps):
	for unit, mult in (("tbit", 10**12), ("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3)):
		if rate_bps and rate_bps % mult == 0:
			return f"{rate_bps // mult}{unit}"
	return f"{rate_bps}bit"
