"""Hostile local users against the daemons' control sockets, /metrics and
reload (security review findings 7, 8, 11 and 12).

- Silent clients (root, and nobody) on a control socket do not hold up
  another request; conexctl gives up on a server that never answers, with
  a clear error, instead of hanging.
- A squatter: nobody on the daemon's old abstract name no longer keeps the
  policer from starting or answers for it; a socket in /run/conex that
  a process other than root listens on is not trusted by conexctl (exit 1,
  nothing sent to it), and a daemon starting replaces it.
- Slow-loris on /metrics: connections that send a byte every 4 s are
  dropped 2 s after their accept (or sooner, to make room), an honest
  scrape is answered at once meanwhile, and the page counts them.
- A FIFO in the configuration's place: SIGHUP's reload refuses it (logged
  and counted), the daemon answers stats on, and SIGTERM stops it at once.

Testbed: 2 hosts x 1 guest. The policer runs in h1 (tenant ta, guest g1),
the auditor in h2; h2 has no daemon in the tests of the fake servers.
"""
import json
import os
import signal
import subprocess
import textwrap
import time

import pytest

from conftest import install_root_or_skip, run_installed, running_testbed, stop_running
from cxtb import auditor as cxa
from cxtb import policer as cxp

NOBODY = 65534
METRICS_PORT = 9466
# The server's wait for a request is 200 ms, and a request never waits
# behind a silent client: this leaves room for a loaded machine.
ANSWER_S = 0.5

# The path of a daemon's control socket here (conexctl(8), FILES), in
# every script below.
PATH = ('import os\n'
	'def ctl_path(name):\n'
	'\treturn f"/run/conex/{name}.net{os.stat(\'/proc/self/ns/net\').st_ino}"\n')


@pytest.fixture(scope="module")
def root(netns_ok):
	return install_root_or_skip(
		progs=("conexctl", "conex-policer", "conex-auditor"),
		tools=("iptables", "ip6tables", "nft", "setpriv"), show_path=False)


@pytest.fixture(scope="module")
def bed(root):
	with running_testbed(hosts=2, guests=1) as tb:
		yield tb


def ctl(node, root, *args, user=None):
	return run_installed(node, root, "conexctl", *args, user=user)


def as_nobody(argv):
	return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] + argv


def python(script, *args):
	return ["/usr/bin/python3", "-c", PATH + textwrap.dedent(script)] + [str(a) for a in args]


def stop_proc(proc):
	if proc.poll() is None:
		proc.kill()
	proc.wait(timeout=10)


def policer_conf(bed, extra=()):
	return cxp.config(bed, 1, {"ta": "1mbit"}, {1: "ta"}, extra=list(extra))


@pytest.fixture
def policer(bed):
	p = cxp.start_policer(bed.host(1), config_text=policer_conf(bed))
	yield p
	stop_running(p)
	cxp.run_policer(bed.host(1), ["--cleanup"])
	if os.path.exists(p.conf):
		os.unlink(p.conf)


# Connects to NAME's socket (the abstract name if there is no file: the
# daemons before the fix) and stays silent: prints "connected" or
# "refused ERRNO", then sleeps.
SILENT_ONE = """
	import socket, sys, time
	path = ctl_path(sys.argv[1])
	s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
	try:
		s.connect(path if os.path.exists(path) else "\\0" + sys.argv[1])
		print("connected", flush=True)
	except OSError as e:
		print("refused", e.errno, flush=True)
	time.sleep(30)
	"""

# N silent root clients, then three requests timed, with more silent
# clients between them: {"ask": [seconds...], "replies": [...]}.
SILENT_MANY = """
	import json, socket, sys, time
	name, n = sys.argv[1], int(sys.argv[2])
	path = ctl_path(name)
	addr = path if os.path.exists(path) else "\\0" + name
	silent = []

	def hush(k):
		for _ in range(k):
			s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
			s.connect(addr)
			silent.append(s)

	out = {"ask": [], "replies": []}
	hush(n)
	for _ in range(3):
		time.sleep(0.05)
		t0 = time.monotonic()
		s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
		s.settimeout(5)
		try:
			s.connect(addr)
			s.send(b"status text")
			out["replies"].append(s.recv(65536).decode()[:40])
		except OSError as e:
			out["replies"].append(f"error {e}")
		out["ask"].append(time.monotonic() - t0)
		hush(n // 2)
	print(json.dumps(out))
	"""


def test_silent_clients(bed, root, policer):
	"""Finding 7: silent clients, nobody's and root's, more of them than
	the server keeps, do not hold up a request."""
	h = bed.host(1)
	nobody = h.popen(as_nobody(python(SILENT_ONE, "conex-policer")),
			 stdout=subprocess.PIPE, text=True)
	try:
		said = nobody.stdout.readline().split()
		# Only root may enter /run/conex: nobody cannot even connect.
		assert said[:1] == ["refused"], said
		cp = h.run(python(SILENT_MANY, "conex-policer", 12), check=False, timeout=60)
		assert cp.returncode == 0, cp.stderr
		out = json.loads(cp.stdout)
		assert all(r and not r.startswith("error") for r in out["replies"]), out
		assert max(out["ask"]) < ANSWER_S, out
		t0 = time.monotonic()
		cp = ctl(h, root, "status")
		assert cp.returncode == 0 and "conex-policer: running" in cp.stdout, cp.stderr
		assert time.monotonic() - t0 < 5, "conexctl status took too long"
	finally:
		stop_proc(nobody)
	assert policer.proc.poll() is None
	st = json.loads(ctl(h, root, "-j", "status").stdout)["policer"]
	assert st["running"] is True


# A root server on NAME's socket that accepts and never answers; prints
# its path, removes it when killed (SIGTERM).
FAKE_SILENT = """
	import signal, socket, sys, time
	path = ctl_path(sys.argv[1])
	os.makedirs("/run/conex", mode=0o700, exist_ok=True)
	s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
	s.bind(path)
	s.listen(8)
	signal.signal(signal.SIGTERM, lambda *a: (os.unlink(path), sys.exit(0)))
	print(path, flush=True)
	held = []
	while True:
		c, _ = s.accept()
		held.append(c)
	"""


def test_conexctl_silent_server(bed, root):
	"""Finding 7, the client side: conexctl against a server that never
	answers stops after its timeout with a clear error."""
	h = bed.host(2)
	fake = h.popen(python(FAKE_SILENT, "conex-policer"), stdout=subprocess.PIPE, text=True)
	try:
		path = fake.stdout.readline().strip()
		assert path.startswith("/run/conex/conex-policer.net"), path
		for args in (("tenants",), ("set-allowance", "ta", "2mbit"), ("status",)):
			t0 = time.monotonic()
			cp = ctl(h, root, *args)
			took = time.monotonic() - t0
			assert cp.returncode == 1, (args, cp.returncode, cp.stdout, cp.stderr)
			assert "conexctl: conex-policer: no reply within 5 s" in cp.stderr, cp.stderr
			assert 4.5 < took < 10, (args, took)
		# The daemon's own client says the same.
		cp = cxp.run_policer(h, ["stats"])
		assert cp.returncode == 1 and "no reply within 5 s" in cp.stderr, cp.stderr
	finally:
		if fake.poll() is None:
			fake.send_signal(signal.SIGTERM)
			try:
				fake.wait(timeout=5)
			except subprocess.TimeoutExpired:
				pass
		stop_proc(fake)
	assert not os.path.exists(path)


# nobody on the abstract name the daemons used before, answering "ok" to
# anything, and trying for the socket file too.
SQUAT_ABSTRACT = """
	import socket, sys
	name = sys.argv[1]
	s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
	s.bind("\\0" + name)
	s.listen(8)
	t = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
	try:
		t.bind(ctl_path(name))
		print("file-bound", flush=True)
	except OSError as e:
		print("file-refused", e.errno, flush=True)
	while True:
		c, _ = s.accept()
		if c.recv(4096):
			print("got", flush=True)
			c.send(b"ok\\n")
		c.close()
	"""

# Bound by root, listened on by nobody (a socket root handed over, say):
# answers "ok" to anything and says "got" for each request.
SQUAT_FILE = """
	import socket, sys
	path = ctl_path(sys.argv[1])
	os.makedirs("/run/conex", mode=0o700, exist_ok=True)
	s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
	s.bind(path)
	os.setgroups([])
	os.setresgid(65534, 65534, 65534)
	os.setresuid(65534, 65534, 65534)
	s.listen(8)
	print(path, flush=True)
	while True:
		c, _ = s.accept()
		if c.recv(4096):
			print("got", flush=True)
			c.send(b"ok\\n")
		c.close()
	"""


def test_squatter(bed, root):
	"""Finding 8: a squatter neither keeps the policer from starting nor
	answers for it; conexctl does not trust a socket nobody serves."""
	h = bed.host(1)
	procs, started = [], []
	path = None
	try:
		squat = h.popen(as_nobody(python(SQUAT_ABSTRACT, "conex-policer")),
				stdout=subprocess.PIPE, text=True)
		procs.append(squat)
		said = squat.stdout.readline().split()
		assert said[:1] == ["file-refused"], said
		# The abstract name is not the daemon's any more: it starts, and
		# set-allowance reaches it, not the squatter.
		p = cxp.start_policer(h, config_text=policer_conf(bed))
		started.append(p)
		cp = ctl(h, root, "set-allowance", "ta", "3mbit")
		assert cp.returncode == 0, cp.stderr
		assert p.tenant("ta")["allowance_bps"] == 3_000_000
		p.stop()
		cxp.run_policer(h, ["--cleanup"])
		stop_proc(squat)
		assert "got" not in squat.stdout.read()

		# A socket file that nobody listens on: not trusted, nothing sent.
		plant = h.popen(python(SQUAT_FILE, "conex-policer"), stdout=subprocess.PIPE,
				text=True)
		procs.append(plant)
		path = plant.stdout.readline().strip()
		assert path.startswith("/run/conex/conex-policer.net"), path
		for args in (("set-allowance", "ta", "3mbit"), ("tenants",), ("reload",)):
			cp = ctl(h, root, *args)
			assert cp.returncode == 1, (args, cp.stdout, cp.stderr)
			assert ("conexctl: conex-policer: refusing to trust the control "
				"socket: its server is not root") in cp.stderr, (args, cp.stderr)
			assert "ok" not in cp.stdout and "allowance" not in cp.stdout, cp.stdout
		cp = ctl(h, root, "status")
		assert cp.returncode == 1 and "refusing to trust" in cp.stderr, cp.stderr
		cp = cxp.run_policer(h, ["set-allowance", "ta", "3mbit"])
		assert cp.returncode == 1 and "refusing to trust" in cp.stderr, cp.stderr
		# A policer starting takes the name over, and says whose it was.
		p = cxp.start_policer(h, config_text=policer_conf(bed))
		started.append(p)
		assert "not root: replaced" in p.stderr(), p.stderr()
		cp = ctl(h, root, "set-allowance", "ta", "2mbit")
		assert cp.returncode == 0, cp.stderr
		assert p.tenant("ta")["allowance_bps"] == 2_000_000
		p.stop()
		cxp.run_policer(h, ["--cleanup"])
		stop_proc(plant)
		assert "got" not in plant.stdout.read()
		assert not os.path.exists(path)
	finally:
		for pr in procs:
			stop_proc(pr)
		stop_running(*started)
		for p in started:
			if os.path.exists(p.conf):
				os.unlink(p.conf)
		cxp.run_policer(h, ["--cleanup"])
		if path and os.path.exists(path) and not any(
				p.proc.poll() is None for p in started):
			os.unlink(path)


# N connections that send their request a byte every 4 s; honest scrapes
# at 0.5 s and 4.5 s. Prints {"scrapes": [...], "closed": K}: K of the slow
# connections the server had closed by the end.
SLOW = """
	import json, socket, sys, threading, time, urllib.request
	port, n = int(sys.argv[1]), int(sys.argv[2])
	req = b"GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
	t_start = time.monotonic()
	conns = []
	for _ in range(n):
		c = socket.create_connection(("127.0.0.1", port), timeout=5)
		c.send(req[:1])
		conns.append(c)

	def drip():
		for i in (1, 2):
			time.sleep(4)
			for c in conns:
				try:
					c.send(req[i:i + 1])
				except OSError:
					pass

	threading.Thread(target=drip, daemon=True).start()

	def scrape():
		t0 = time.monotonic()
		try:
			with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
						    timeout=5) as r:
				body = r.read().decode()
				return {"status": r.status, "s": time.monotonic() - t0,
					"page": "conex_policer_uptime_seconds" in body}
		except OSError as e:
			return {"error": str(e), "s": time.monotonic() - t0}

	out = []
	for at in (0.5, 4.5):
		time.sleep(max(0, t_start + at - time.monotonic()))
		out.append(scrape())
	closed = 0
	for c in conns:
		c.settimeout(0.2)
		try:
			closed += c.recv(1) == b""
		except OSError as e:
			closed += not isinstance(e, socket.timeout)
	print(json.dumps({"scrapes": out, "closed": closed}))
	"""


def page_counters(node, port):
	cp = node.run(["/usr/bin/python3", "-c", textwrap.dedent("""
		import sys, urllib.request
		with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
			sys.stdout.write(r.read().decode())
		"""), f"http://127.0.0.1:{port}/metrics"], timeout=20)
	out = {}
	for line in cp.stdout.splitlines():
		if line.startswith("conex_policer_metrics_"):
			name, value = line.rsplit(" ", 1)
			out[name.split("{")[0]] = float(value)
	return out


@pytest.mark.parametrize("n_slow", [12, 24])
def test_slowloris_metrics(bed, root, n_slow):
	"""Finding 11: with 12 (and 24, more than the 16 the server keeps)
	connections dribbling their requests, scrapes are answered at once;
	the slow ones are dropped and counted."""
	h = bed.host(1)
	p = cxp.start_policer(h, config_text=policer_conf(
		bed, [f"metrics 127.0.0.1:{METRICS_PORT}"]))
	try:
		cp = h.run(python(SLOW, METRICS_PORT, n_slow), check=False, timeout=60)
		assert cp.returncode == 0, cp.stderr
		out = json.loads(cp.stdout)
		for s in out["scrapes"]:
			assert s.get("status") == 200 and s["page"], out
			assert s["s"] < 1.0, out
		assert out["closed"] == n_slow, out
		time.sleep(1.5)		# a refresh of the page
		c = page_counters(h, METRICS_PORT)
		refused = c["conex_policer_metrics_refused_connections_total"]
		timed_out = c["conex_policer_metrics_timed_out_connections_total"]
		assert c["conex_policer_metrics_connections_total"] >= n_slow + 2, c
		assert refused + timed_out == n_slow, c
		if n_slow <= 16:
			assert refused == 0, c
		else:
			assert refused >= n_slow - 16, c
		assert p.proc.poll() is None
	finally:
		stop_running(p)
		cxp.run_policer(h, ["--cleanup"])
		os.unlink(p.conf)


def wait_for(pred, timeout_s=5):
	deadline = time.monotonic() + timeout_s
	while time.monotonic() < deadline:
		if pred():
			return True
		time.sleep(0.1)
	return pred()


@pytest.mark.parametrize("which", ["policer", "auditor"])
def test_reload_fifo(bed, root, which):
	"""Finding 12: a FIFO in the configuration's place: the reload is
	refused and counted, stats answer, SIGTERM stops the daemon at once."""
	if which == "policer":
		h = bed.host(1)
		d = cxp.start_policer(h, config_text=policer_conf(bed))
	else:
		h = bed.host(2)
		d = cxa.start_auditor(h, config_text="guest g1 ra\n")
	try:
		os.unlink(d.conf)
		os.mkfifo(d.conf, 0o600)
		d.proc.send_signal(signal.SIGHUP)
		status = lambda: json.loads(ctl(h, root, "-j", "status").stdout)[which]
		assert wait_for(lambda: status()["reload_errors"] == 1), status()
		assert status()["reloads"] == 0
		assert wait_for(lambda: "not a regular file" in d.stderr()), d.stderr()
		assert f"reload refused, configuration unchanged: {d.conf}: not a regular file" \
			in d.stderr()
		# conexctl reload says so too.
		cp = ctl(h, root, "reload", "--daemon", which)
		assert cp.returncode == 1 and "not a regular file" in cp.stderr, cp.stderr
		t0 = time.monotonic()
		d.stop()
		assert time.monotonic() - t0 < 3
	finally:
		stop_running(d)
		if which == "policer":
			cxp.run_policer(h, ["--cleanup"])
		else:
			cxa.run_auditor(h, ["--cleanup"])
		if os.path.exists(d.conf):
			os.unlink(d.conf)
