"""Testbed glue for the sender-side policer (conex-policer), from the
INSTALLED layout, as auditor.py does for the auditor:

	from cxtb import policer
	p = policer.start_policer(tb.host(1), config_text=policer.config(tb, ...))
	print(p.tenant("tenant-a")["drops_police"]); p.stop()

stop() (SIGTERM) must remove every hook, route and device; kill() (SIGKILL)
leaves them, as a crash would; `conex-policer --cleanup` removes them.
"""

from cxtb import daemon
from cxtb.marker import MarkerError

CHAIN = "CONEX-POLICE"
NFT_TABLE = "conex_policer"
TUN_DEV = "cxtun0"
TABLE = 4242


class PolicerError(MarkerError):
	pass


def policer_bin(root=None):
	return daemon.installed_bin(Policer.prog, root)


class Policer(daemon.Daemon):
	"""A conex-policer running in a host; see start_policer()."""

	prog = "conex-policer"
	conf_name = "policer.conf"
	error = PolicerError

	def tenant(self, name):
		"""One tenant's record from `stats --json`."""
		for t in self.stats()["tenants"]:
			if t["name"] == name:
				return t
		raise PolicerError(f"no tenant {name!r} in conex-policer stats")

	def command(self, *args):
		"""`conex-policer ARGS...` in the node (set-allowance, reload)."""
		return self.node.run([self.argv[0]] + [str(a) for a in args], check=False,
				     timeout=15)


def start_policer(node, config_text=None, extra_args=(), root=None):
	"""Start the installed conex-policer in node (a host namespace); waits
	for "conex-policer: ready on queue N". Unless config_text names a
	state_file, the policer keeps no enforcement state across restarts
	(state_file none): each test starts from full buckets, and policers in
	other namespaces never share the default file."""
	if config_text is not None and not any(
			l.split()[:1] == ["state_file"] for l in config_text.splitlines()):
		config_text += "state_file none\n"
	return daemon.start(Policer, node,
			    lambda l: l.startswith("conex-policer: ready on queue"),
			    extra_args=extra_args, config_text=config_text, root=root)


def run_policer(node, args, timeout=30, root=None):
	"""Run the installed conex-policer with args to completion (CLI checks)."""
	return daemon.run(node, Policer.prog, args, timeout=timeout, root=root)


def leftovers(node):
	"""What of the policer's objects exists in node: iptables lines naming
	the chain, the tunnel device, rules at its preference, routes in its
	table, the nft table. Empty when clean."""
	out = []
	for tool in ("iptables", "ip6tables"):
		cp = node.run([tool, "-w", "-t", "mangle", "-S"], check=False)
		out += [f"{tool} {l}" for l in cp.stdout.splitlines() if CHAIN in l]
	cp = node.run(["ip", "-o", "link", "show", TUN_DEV], check=False)
	if cp.returncode == 0:
		out.append(f"link {TUN_DEV}")
	for fam in ("-4", "-6"):
		cp = node.run(["ip", fam, "rule", "show"], check=False)
		out += [f"rule {fam} {l}" for l in cp.stdout.splitlines() if "4242" in l]
		cp = node.run(["ip", fam, "route", "show", "table", str(TABLE)], check=False)
		out += [f"route {fam} {l}" for l in cp.stdout.splitlines() if l.strip()]
	cp = node.run(["nft", "list", "tables"], check=False)
	out += [f"nft {l}" for l in cp.stdout.splitlines() if NFT_TABLE in l]
	cp = node.run(["nfacct", "list"], check=False)
	# "{ pkts = N, bytes = N } = NAME;": the name, not the counts
	out += [f"nfacct {l.rsplit('= ', 1)[-1]}" for l in cp.stdout.splitlines()
		if "conex-policer" in l]
	return out


def tenant_lines(tenants):
	"""`tenant` lines from {name: allowance or (allowance, extra options)}."""
	lines = []
	for name, spec in tenants.items():
		if isinstance(spec, tuple):
			lines.append(f"tenant {name} {spec[0]} {spec[1]}")
		else:
			lines.append(f"tenant {name} {spec}")
	return lines


def config(tb, host, tenants, guests, tunnel=False, key=None, extra=()):
	"""A policer configuration for host h (1-based) of testbed tb.

	tenants: {name: allowance}; guests: {guest index: tenant name}. With
	tunnel=True: host id h, underlay address of h, every other host a peer
	(sharing key, 64 hex digits) with its guests' prefixes as remotes."""
	lines = tenant_lines(tenants)
	for g, tenant in guests.items():
		gn = tb.guest(host, g)
		lines.append(f"guest g{g} {tenant} {gn.ip4} {gn.ip6}")
	if tunnel:
		h = tb.host(host)
		lines += [f"host_id {host}", f"local {h.ip4}"]
		for other in range(1, tb.hosts + 1):
			if other == host:
				continue
			lines.append(f"peer {other} {tb.host(other).ip4} {key}")
			for g in range(1, tb.guests + 1):
				gn = tb.guest(other, g)
				lines.append(f"remote {gn.ip4}/32 {other}")
				lines.append(f"remote {gn.ip6}/128 {other}")
	return "\n".join(lines + list(extra)) + "\n"
