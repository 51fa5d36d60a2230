"""Kernel SNMP counters of a namespace, named as nstat(8) names them.

/proc/net/snmp and /proc/net/netstat hold pairs of lines ("TcpExt: a b c" then
"TcpExt: 1 2 3"); /proc/net/snmp6 holds "Name value" lines. nstat prefixes
each name with its section without the colon (TcpExtTCPLossProbes, IpExtInCEPkts,
TcpRetransSegs, Ip6InCEPkts), and so do we.
"""

PROC_FILES = ("/proc/net/snmp", "/proc/net/netstat", "/proc/net/snmp6")


def parse_pairs(text):
	out = {}
	pending = None
	for line in text.splitlines():
		if ":" not in line:
			continue
		sect, rest = line.split(":", 1)
		fields = rest.split()
		if pending is not None and pending[0] == sect:
			names = pending[1]
			pending = None
			if len(names) != len(fields):
				raise ValueError(f"counter section {sect}: {len(names)} names, "
						 f"{len(fields)} values")
			for n, v in zip(names, fields):
				out[sect + n] = int(v)
		else:
			pending = (sect, fields)
	return out


def parse_snmp6(text):
	out = {}
	for line in text.splitlines():
		fields = line.split()
		if len(fields) != 2:
			continue
		try:
			out[fields[0]] = int(fields[1])
		except ValueError:
			raise ValueError(f"snmp6: bad line {line!r}") from None
	return out


def parse_all(text):
	"""Parse the concatenation of PROC_FILES, split by the marker lines."""
	pairs, six = [], []
	target = pairs
	for line in text.splitlines():
		if line == "==snmp6==":
			target = six
			continue
		target.append(line)
	out = parse_pairs("\n".join(pairs))
	out.update(parse_snmp6("\n".join(six)))
	return out


def shell_command():
	"""One shell command printing all three files, snmp6 after a marker."""
	return ("cat /proc/net/snmp /proc/net/netstat && echo ==snmp6== && "
		"cat /proc/net/snmp6")
