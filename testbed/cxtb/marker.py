"""Testbed glue for the guest marker (conex-marker) and for captures.

The testbed runs the INSTALLED layout, as a guest image would have it
(daemon.py): <root>/usr/sbin/conex-marker --config <root>/etc/conex/marker.conf
in a guest.

	from cxtb import marker
	m = marker.start_marker(tb.guest(1, 1))
	cap = marker.capture(tb.host(2), "g1", "/tmp/x.pcap")
	...
	cap.stop(); print(m.stats()); m.stop()

AccECN (RFC 9768): start_marker(node, accecn=True) writes `accecn yes` into
the marker's configuration; the marker then registers the cx_accecn
congestion control (CUBIC asking for AccECN) and makes it node's default
until it stops. The registration is kernel-wide and one marker per kernel
may hold it: other guests answer (or send) with AccECN meanwhile through
tb.set_ecn(guest, "accecn"), see testbed.py.
"""

import re

from cxtb import daemon
from cxtb.daemon import install_root  # noqa: F401 (re-exported: callers use marker.install_root)

# The name callers catch for every daemon's errors, the install's included.
MarkerError = daemon.DaemonError


def marker_bin(root=None):
	return daemon.installed_bin(Marker.prog, root)


def marker_conf(root=None):
	return daemon.installed_conf(Marker.conf_name, root)


class Marker(daemon.Daemon):
	"""A conex-marker running in a guest on dev; see start_marker()."""

	prog = "conex-marker"
	conf_name = "marker.conf"
	error = MarkerError

	def __init__(self, node, argv, proc, err, conf, dev, accecn=None):
		super().__init__(node, argv, proc, err, conf)
		self.dev = dev
		self.accecn = accecn	# the `accecn` start_marker() wrote, or None

	def stats_args(self):
		return ["--config", self.conf, "--dev", self.dev]


_ACCECN_LINE = re.compile(r"^[ \t]*accecn[ \t].*$", re.M)


def with_accecn(config_text, accecn):
	"""config_text with its `accecn` key set to yes (accecn true) or no,
	replacing a line that sets it or appending one."""
	line = f"accecn {'yes' if accecn else 'no'}"
	if _ACCECN_LINE.search(config_text):
		return _ACCECN_LINE.sub(line, config_text, count=1)
	sep = "" if config_text == "" or config_text.endswith("\n") else "\n"
	return f"{config_text}{sep}{line}\n"


def start_marker(node, dev="eth0", extra_args=(), config_text=None, root=None,
		 accecn=None):
	"""Start the installed conex-marker in node (a guest) on dev.

	config_text: a configuration to use instead of the installed default
	(written to a temporary file, m.conf, which the caller may remove
	after m.stop()). accecn True or False: the same configuration
	(config_text, else the installed one) with `accecn yes` or `accecn no`
	(conex-marker.conf(5)), in a temporary file too; None leaves the key
	as the file has it (default no). With accecn True, node's
	net.ipv4.tcp_congestion_control is cx_accecn until the marker stops,
	and another marker with accecn True on this kernel fails to start.
	Waits for "conex-marker: ready on DEV" on stderr; raises MarkerError with
	its stderr if it exits first or does not become ready in
	daemon.READY_TIMEOUT_S. The process is tracked by the testbed (tb.down()
	kills it).
	"""
	ready = f"conex-marker: ready on {dev}"
	if accecn is not None:
		if config_text is None:
			with open(marker_conf(root)) as f:
				config_text = f.read()
		config_text = with_accecn(config_text, accecn)
	return daemon.start(Marker, node, lambda l: l.strip() == ready, opts=["--dev", dev],
			    extra_args=extra_args, config_text=config_text, root=root, dev=dev,
			    accecn=accecn)


def run_marker(node, args, timeout=30, root=None):
	"""Run the installed conex-marker with args to completion (CLI checks)."""
	return daemon.run(node, Marker.prog, args, timeout=timeout, root=root)


class Capture:
	"""A running tcpdump; see capture()."""

	def __init__(self, node, iface, path, proc, err):
		self.node = node
		self.iface = iface
		self.path = path
		self.proc = proc
		self._err = err

	def stop(self):
		"""SIGTERM (tcpdump flushes and closes the file), wait, require exit 0."""
		return daemon.terminate(self.proc, self._err.text, MarkerError,
					lambda: f"tcpdump on {self.iface} ignored SIGTERM",
					lambda rc, text: f"tcpdump -i {self.iface} exited {rc}:\n{text}")


def capture(node, iface, path, snaplen=200, filt=None):
	"""tcpdump -i iface -s snaplen -w path -U in node, both directions.

	Returns once tcpdump says it is listening. -Z root: tcpdump would
	otherwise drop to its own user and could not write into a private
	temporary directory. --immediate-mode: without it packets wait in the
	kernel's capture ring for a block to fill or time out (about a
	second), and those still waiting when the capture is stopped are lost
	(a test that sent 5 packets and stopped 0.5 s later found 3).
	"""
	argv = ["tcpdump", "-i", iface, "-s", str(snaplen), "-w", str(path), "-U", "-n",
		"--immediate-mode", "-Z", "root"]
	if filt:
		argv.append(filt)
	proc, err, state = daemon.spawn(node, argv, lambda l: "listening on" in l)
	if state != "ready":
		raise MarkerError(f"[{node.name}] tcpdump -i {iface} did not start "
				  f"(exit {proc.returncode}):\n{err.text()}")
	return Capture(node, iface, path, proc, err)
