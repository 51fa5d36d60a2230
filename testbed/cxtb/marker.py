"""Testbed glue for the guest marker (conex-marker) and for captures.

The testbed runs the INSTALLED layout, as a guest image would have it:
`make all install DESTDIR=<repo>/build/root PREFIX=/usr`, then
<root>/usr/sbin/conex-marker --config <root>/etc/conex/marker.conf in a guest.

	from cxtb import marker
	m = marker.start_marker(tb.guest(1, 1))
	cap = marker.capture(tb.host(2), "g1", "/tmp/x.pcap")
	...
	cap.stop(); print(m.stats()); m.stop()
"""

import json
import os
import signal
import subprocess
import tempfile
import threading
import time

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

READY_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
MAKE_TIMEOUT_S = 900

_install_lock = threading.Lock()
_install_root = None
_install_error = None


class MarkerError(RuntimeError):
	pass


def install_root():
	"""Build and install everything into <repo>/build/root once per process.

	Parallel callers wait for the first; a failed build raises MarkerError
	with make's output, for every caller (it is not retried).
	"""
	global _install_root, _install_error
	with _install_lock:
		if _install_root is not None:
			return _install_root
		if _install_error is not None:
			raise MarkerError(_install_error)
		root = os.path.join(_REPO, "build", "root")
		cp = subprocess.run(["make", "-s", "-C", _REPO, "all", "install",
				     f"DESTDIR={root}", "PREFIX=/usr"],
				    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
				    timeout=MAKE_TIMEOUT_S)
		if cp.returncode != 0:
			_install_error = (f"make all install DESTDIR={root} PREFIX=/usr failed "
					  f"(exit {cp.returncode}):\n{cp.stdout[-3000:]}")
			raise MarkerError(_install_error)
		_install_root = root
		return root


def marker_bin(root=None):
	return os.path.join(root or install_root(), "usr", "sbin", "conex-marker")


def marker_conf(root=None):
	return os.path.join(root or install_root(), "etc", "conex", "marker.conf")


class _StderrReader:
	"""Collects a process's stderr in a thread; lets a caller wait for a line."""

	def __init__(self, stream):
		self._lines = []
		self._cond = threading.Condition()
		self._eof = False
		self._t = threading.Thread(target=self._run, args=(stream,), daemon=True)
		self._t.start()

	def _run(self, stream):
		for line in stream:
			with self._cond:
				self._lines.append(line.rstrip("\n"))
				self._cond.notify_all()
		with self._cond:
			self._eof = True
			self._cond.notify_all()

	def wait_for(self, pred, timeout_s):
		"""True once a line satisfies pred; False at EOF or timeout."""
		deadline = time.monotonic() + timeout_s
		with self._cond:
			while True:
				if any(pred(l) for l in self._lines):
					return True
				left = deadline - time.monotonic()
				if self._eof or left <= 0:
					return False
				self._cond.wait(left)

	def text(self, join_s=1.0):
		self._t.join(timeout=join_s)
		with self._cond:
			return "\n".join(self._lines)


class Marker:
	"""A conex-marker running in a guest; see start_marker()."""

	def __init__(self, node, dev, argv, proc, err, conf):
		self.node = node
		self.dev = dev
		self.argv = argv
		self.proc = proc
		self._err = err
		self.conf = conf

	def stderr(self):
		return self._err.text(join_s=0 if self.proc.poll() is None else 2.0)

	def stats(self):
		"""`conex-marker stats --json` in the guest, as a dict."""
		cp = self.node.run([self.argv[0], "stats", "--config", self.conf, "--dev", self.dev,
				    "--json"], check=False, timeout=15)
		if cp.returncode != 0:
			raise MarkerError(f"[{self.node.name}] conex-marker stats exited "
					  f"{cp.returncode}: {cp.stderr.strip()}")
		try:
			return json.loads(cp.stdout)
		except ValueError:
			raise MarkerError(f"conex-marker stats --json: not JSON: "
					  f"{cp.stdout[:500]!r}") from None

	def stop(self):
		"""SIGTERM, wait, and require exit status 0. Returns its stderr."""
		if self.proc.poll() is None:
			self.proc.send_signal(signal.SIGTERM)
		try:
			self.proc.wait(timeout=STOP_TIMEOUT_S)
		except subprocess.TimeoutExpired:
			self.proc.kill()
			self.proc.wait()
			raise MarkerError(f"conex-marker did not exit {STOP_TIMEOUT_S:.0f} s "
					  f"after SIGTERM (killed):\n{self.stderr()}") from None
		text = self.stderr()
		if self.proc.returncode != 0:
			raise MarkerError(f"conex-marker exited {self.proc.returncode} on "
					  f"SIGTERM:\n{text}")
		return text

	def kill(self):
		"""SIGKILL: a crash, nothing cleaned up by the marker itself."""
		if self.proc.poll() is None:
			self.proc.kill()
		self.proc.wait(timeout=STOP_TIMEOUT_S)


def start_marker(node, dev="eth0", extra_args=(), config_text=None, root=None):
	"""Start the installed conex-marker in node (a guest) on dev.

	config_text: a configuration to use instead of the installed default
	(written to a temporary file). Waits for "conex-marker: ready on DEV" on
	stderr; raises MarkerError with its stderr if it exits first or does not
	become ready in READY_TIMEOUT_S. The process is tracked by the testbed
	(tb.down() kills it).
	"""
	root = root or install_root()
	conf = marker_conf(root)
	if config_text is not None:
		fd, conf = tempfile.mkstemp(prefix="cx-marker-", suffix=".conf")
		with os.fdopen(fd, "w") as f:
			f.write(config_text)
	argv = [marker_bin(root), "--config", conf, "--dev", dev, "--foreground"] + \
	       [str(a) for a in extra_args]
	proc = node.popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
			  stderr=subprocess.PIPE, text=True)
	err = _StderrReader(proc.stderr)
	ready = f"conex-marker: ready on {dev}"
	if not err.wait_for(lambda l: l.strip() == ready, READY_TIMEOUT_S):
		if proc.poll() is None:
			proc.kill()
			proc.wait()
			raise MarkerError(f"[{node.name}] conex-marker not ready after "
					  f"{READY_TIMEOUT_S:.0f} s:\n{err.text()}")
		proc.wait()
		raise MarkerError(f"[{node.name}] conex-marker exited {proc.returncode} "
				  f"before ready:\n{err.text()}")
	return Marker(node, dev, argv, proc, err, conf)


def run_marker(node, args, timeout=30, root=None):
	"""Run the installed conex-marker with args to completion (CLI checks)."""
	return node.run([marker_bin(root)] + [str(a) for a in args], check=False,
			timeout=timeout)


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
		if self.proc.poll() is None:
			self.proc.send_signal(signal.SIGTERM)
		try:
			self.proc.wait(timeout=STOP_TIMEOUT_S)
		except subprocess.TimeoutExpired:
			self.proc.kill()
			self.proc.wait()
			raise MarkerError(f"tcpdump on {self.iface} ignored SIGTERM") from None
		text = self._err.text()
		if self.proc.returncode != 0:
			raise MarkerError(f"tcpdump -i {self.iface} exited "
					  f"{self.proc.returncode}:\n{text}")
		return text


def capture(node, iface, path, snaplen=200, filt=None):
	"""tcpdump -i iface -s snaplen -w path -U in node, both directions.

	Returns once tcpdump says it is listening. -Z root: tcpdump would
	otherwise drop to its own user and could not write into a private
	temporary directory.
	"""
	argv = ["tcpdump", "-i", iface, "-s", str(snaplen), "-w", str(path), "-U", "-n",
		"-Z", "root"]
	if filt:
		argv.append(filt)
	proc = node.popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
			  stderr=subprocess.PIPE, text=True)
	err = _StderrReader(proc.stderr)
	if not err.wait_for(lambda l: "listening on" in l, READY_TIMEOUT_S):
		if proc.poll() is None:
			proc.kill()
		proc.wait()
		raise MarkerError(f"[{node.name}] tcpdump -i {iface} did not start "
				  f"(exit {proc.returncode}):\n{err.text()}")
	return Capture(node, iface, path, proc, err)
