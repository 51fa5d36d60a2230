"""Running an INSTALLED conex daemon in a testbed namespace, as a guest or
host image would have it: `make all install DESTDIR=<repo>/build/root
PREFIX=/usr`, then <root>/usr/sbin/PROG --config <root>/etc/conex/CONF.

marker.py and auditor.py subclass Daemon with their program's name, its
stats options and its "ready" line:

	a = daemon.start(Auditor, node, lambda l: l.startswith("conex-auditor: ready"))
	print(a.stats()); a.stop()
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


class DaemonError(RuntimeError):
	pass


def install_root():
	"""Build and install everything into <repo>/build/root once per process.

	Parallel callers wait for the first; a failed build raises DaemonError
	with make's output, for every caller (it is not retried).
	"""
	global _install_root, _install_error
	with _install_lock:
		if _install_root is not None:
			return _install_root
		if _install_error is not None:
			raise DaemonError(_install_error)
		root = os.path.join(_REPO, "build", "root")
		cp = subprocess.run(["make", "-s", "-C", _REPO, "all", "install",
				     f"DESTDIR={root}", "PREFIX=/usr"],
				    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
				    timeout=MAKE_TIMEOUT_S)
		if cp.returncode != 0:
			_install_error = (f"make all install DESTDIR={root} PREFIX=/usr failed "
					  f"(exit {cp.returncode}):\n{cp.stdout[-3000:]}")
			raise DaemonError(_install_error)
		_install_root = root
		return root


def installed_bin(prog, root=None):
	return os.path.join(root or install_root(), "usr", "sbin", prog)


def installed_conf(name, root=None):
	return os.path.join(root or install_root(), "etc", "conex", name)


class StderrReader:
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

	def at_eof(self):
		"""True once the stream is closed (the process is exiting)."""
		with self._cond:
			return self._eof

	def text(self, join_s=1.0):
		self._t.join(timeout=join_s)
		with self._cond:
			return "\n".join(self._lines)


def spawn(node, argv, ready):
	"""Start argv in node, stderr collected, and wait READY_TIMEOUT_S for a
	stderr line with ready(line). Returns (proc, err, state), state one of
	"ready", "exited" (before it was ready) or "timeout" (then it has been
	killed); in the last two the process has been reaped.
	"""
	proc = node.popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
			  stderr=subprocess.PIPE, text=True)
	err = StderrReader(proc.stderr)
	if err.wait_for(ready, READY_TIMEOUT_S):
		return proc, err, "ready"
	if err.at_eof():
		# stderr closes as the process exits, a moment before it can be
		# reaped: without this wait, a fast failure read as a timeout.
		try:
			proc.wait(timeout=STOP_TIMEOUT_S)
		except subprocess.TimeoutExpired:
			pass
	state = "exited" if proc.poll() is not None else "timeout"
	if state == "timeout":
		proc.kill()
	proc.wait()
	return proc, err, state


def terminate(proc, text, error, late, failed):
	"""SIGTERM, wait STOP_TIMEOUT_S, and require exit status 0; returns text().

	Raises error(late()) if it does not exit in time (it is then killed),
	error(failed(status, text())) if it exits non-zero.
	"""
	if proc.poll() is None:
		proc.send_signal(signal.SIGTERM)
	try:
		proc.wait(timeout=STOP_TIMEOUT_S)
	except subprocess.TimeoutExpired:
		proc.kill()
		proc.wait()
		raise error(late()) from None
	out = text()
	if proc.returncode != 0:
		raise error(failed(proc.returncode, out))
	return out


class Daemon:
	"""An installed daemon running in a node; made by start().

	Subclasses set prog (the program's name), conf_name (its installed
	configuration under etc/conex), error (the exception they raise) and,
	if `PROG stats` needs more than --json, stats_args().
	"""

	prog = None
	conf_name = None
	error = DaemonError

	def __init__(self, node, argv, proc, err, conf):
		self.node = node
		self.argv = argv
		self.proc = proc
		self._err = err
		self.conf = conf

	def stderr(self):
		return self._err.text(join_s=0 if self.proc.poll() is None else 2.0)

	def stats_args(self):
		return []

	def stats(self):
		"""`PROG stats ... --json` in the node, as a dict."""
		cp = self.node.run([self.argv[0], "stats"] + self.stats_args() + ["--json"],
				   check=False, timeout=15)
		if cp.returncode != 0:
			raise self.error(f"[{self.node.name}] {self.prog} stats exited "
					 f"{cp.returncode}: {cp.stderr.strip()}")
		try:
			return json.loads(cp.stdout)
		except ValueError:
			raise self.error(f"{self.prog} stats --json: not JSON: "
					 f"{cp.stdout[:500]!r}") from None

	def stop(self):
		"""SIGTERM, wait, and require exit status 0. Returns its stderr."""
		return terminate(self.proc, self.stderr, self.error,
				 lambda: f"{self.prog} did not exit {STOP_TIMEOUT_S:.0f} s "
					 f"after SIGTERM (killed):\n{self.stderr()}",
				 lambda rc, text: f"{self.prog} exited {rc} on SIGTERM:\n{text}")

	def kill(self):
		"""SIGKILL: a crash, nothing cleaned up by the daemon itself."""
		if self.proc.poll() is None:
			self.proc.kill()
		self.proc.wait(timeout=STOP_TIMEOUT_S)


def start(cls, node, ready, opts=(), extra_args=(), config_text=None, root=None,
	  **attrs):
	"""Start the installed cls.prog in node and wait until it is ready.

	argv: PROG --config CONF OPTS... --foreground EXTRA_ARGS...; CONF is
	the installed cls.conf_name, or config_text written to a temporary
	file (removed if the start fails; else the caller's, as obj.conf).
	ready(line) tells the daemon's "ready" line on stderr; raises
	cls.error with its stderr if it exits first or is not ready in
	READY_TIMEOUT_S. The process is tracked by the testbed (tb.down()
	kills it). attrs go to cls() after the common arguments.
	"""
	root = root or install_root()
	conf = installed_conf(cls.conf_name, root)
	if config_text is not None:
		fd, conf = tempfile.mkstemp(prefix=f"cx-{cls.conf_name.split('.')[0]}-",
					    suffix=".conf")
		with os.fdopen(fd, "w") as f:
			f.write(config_text)
	argv = [installed_bin(cls.prog, root), "--config", conf] + list(opts) + \
	       ["--foreground"] + [str(a) for a in extra_args]
	proc, err, state = spawn(node, argv, ready)
	if state != "ready" and config_text is not None:
		os.unlink(conf)		# the caller never learns its name
	if state == "timeout":
		raise cls.error(f"[{node.name}] {cls.prog} not ready after "
				f"{READY_TIMEOUT_S:.0f} s:\n{err.text()}")
	if state == "exited":
		raise cls.error(f"[{node.name}] {cls.prog} exited {proc.returncode} "
				f"before ready:\n{err.text()}")
	return cls(node, argv, proc, err, conf, **attrs)


def run(node, prog, args, timeout=30, root=None):
	"""Run the installed prog with args to completion (CLI checks)."""
	return node.run([installed_bin(prog, root)] + [str(a) for a in args], check=False,
			timeout=timeout)
