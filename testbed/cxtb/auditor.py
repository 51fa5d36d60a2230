"""Testbed glue for the receiver-side auditor (conex-auditor), from the
INSTALLED layout, as marker.py does for the guest marker:

	from cxtb import auditor
	a = auditor.start_auditor(tb.host(2), config_text="guest g1 tenant-a\\n")
	print(a.stats()["sanction_starts"]); a.stop()

The auditor binds an NFQUEUE and installs iptables rules in the host's
namespace; stop() (SIGTERM) must remove them, kill() (SIGKILL) leaves them,
as a crash would.
"""

from cxtb import daemon
from cxtb.marker import MarkerError, install_root  # noqa: F401 (re-exported)

CHAINS = ("CONEX-AUDIT", "CONEX-AUDIT-TUN")


class AuditorError(MarkerError):
	pass


def auditor_bin(root=None):
	return daemon.installed_bin(Auditor.prog, root)


def auditor_conf(root=None):
	return daemon.installed_conf(Auditor.conf_name, root)


def rules(node):
	"""Lines of iptables/ip6tables -t mangle -S in node naming our chains,
	and the nfacct object the rules count into."""
	out = []
	for tool in ("iptables", "ip6tables"):
		cp = node.run([tool, "-w", "-t", "mangle", "-S"], check=False)
		out += [f"{tool} {l}" for l in cp.stdout.splitlines()
			if any(c in l for c in CHAINS)]
	# The accounting object its queueing rules count into.
	cp = node.run(["nfacct", "list"], check=False)
	# "{ pkts = N, bytes = N } = NAME;": the name, not the counts
	out += [f"nfacct {l.rsplit('= ', 1)[-1]}" for l in cp.stdout.splitlines()
		if "conex-auditor" in l]
	return out


class Auditor(daemon.Daemon):
	"""A conex-auditor running in a host; see start_auditor(). kill()
	(SIGKILL) is a crash: the rules stay behind."""

	prog = "conex-auditor"
	conf_name = "auditor.conf"
	error = AuditorError


def start_auditor(node, config_text=None, extra_args=(), root=None):
	"""Start the installed conex-auditor in node (a host namespace).

	config_text replaces the installed default configuration (written to a
	temporary file). Waits for "conex-auditor: ready on queue N"; raises
	AuditorError with its stderr if it exits first or is not ready in time.
	The process is tracked by the testbed (tb.down() kills it). Unless
	config_text names a state_file, the auditor keeps no sources' debts
	across restarts (state_file none): each test starts clean, and
	auditors in other namespaces never share the default file.
	"""
	if config_text is not None and not any(
			l.split()[:1] == ["state_file"] for l in config_text.splitlines()):
		config_text += "state_file none\n"
	return daemon.start(Auditor, node,
			    lambda l: l.startswith("conex-auditor: ready on queue"),
			    extra_args=extra_args, config_text=config_text, root=root)


def run_auditor(node, args, timeout=30, root=None):
	"""Run the installed conex-auditor with args to completion (CLI checks)."""
	return daemon.run(node, Auditor.prog, args, timeout=timeout, root=root)
