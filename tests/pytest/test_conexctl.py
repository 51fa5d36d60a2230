"""conexctl against running daemons (issue 7): every subcommand, tables
and -j JSON, set-allowance keeping the bucket, reload of both daemons
(conexctl reload and SIGHUP) with a bad file refused and the old
configuration serving on, the auditor's flow state kept across a reload,
and the errors: daemon not running, unknown tenant, bad rate, non-root
caller, malformed request sent raw to a control socket.

Testbed: 2 hosts x 1 guest; the policer runs in h1 (tenant ta, guest g1),
the auditor in h2 (guest g1, tenant ra) with h1 as its feedback peer.
"""
import json
import subprocess
import textwrap
import time

import pytest

from conftest import install_root_or_skip, run_installed, running_testbed, stop_running
from cxtb import auditor as cxa
from cxtb import marker as cxm
from cxtb import policer as cxp

KEY = "6b" * 32
PORT = 5399


@pytest.fixture(scope="module")
def root(netns_ok):
	return install_root_or_skip(
		progs=("conexctl", "conex-policer", "conex-auditor", "conex-marker"),
		tools=("iptables", "ip6tables", "nft", "setpriv"), show_path=False)


@pytest.fixture(scope="module")
def bed(root):
	with running_testbed(hosts=2, guests=1) as tb:
		yield tb


def ctl(node, root, *args, user=None):
	return run_installed(node, root, "conexctl", *args, user=user)


def ctl_json(node, root, *args):
	cp = ctl(node, root, "-j", *args)
	assert cp.returncode == 0, (args, cp.stderr)
	return json.loads(cp.stdout)


# A daemon's control socket: /run/conex/NAME.netINODE (conexctl(8), FILES).
RAW = textwrap.dedent("""\
	import os, socket, sys
	s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
	s.settimeout(3)
	s.connect(f"/run/conex/{sys.argv[1]}.net{os.stat('/proc/self/ns/net').st_ino}")
	s.send(bytes.fromhex(sys.argv[2]))
	sys.stdout.write(s.recv(65536).decode(errors="replace"))
	""")


def sighup_until(d, text, done, timeout_s=5):
	"""Write text as d's configuration file, SIGHUP d and poll until done()
	or timeout_s (the daemon serves a SIGHUP on its next loop turn)."""
	with open(d.conf, "w") as f:
		f.write(text)
	d.proc.send_signal(1)
	deadline = time.monotonic() + timeout_s
	while time.monotonic() < deadline and not done():
		time.sleep(0.1)


def raw_request(node, name, payload):
	cp = node.run(["/usr/bin/python3", "-c", RAW, name, payload.hex()], check=False)
	assert cp.returncode == 0, cp.stderr
	return cp.stdout


@pytest.fixture
def policer(bed):
	conf = cxp.config(bed, 1, {"ta": "1mbit"}, {1: "ta"})
	p = cxp.start_policer(bed.host(1), config_text=conf)
	yield p
	stop_running(p)
	cxp.run_policer(bed.host(1), ["--cleanup"])


AUD_CONF = f"guest g1 ra\nhost_id 2\npeer 1 {{ip}} 4790 {KEY}\n"


@pytest.fixture
def auditor(bed):
	a = cxa.start_auditor(bed.host(2), config_text=AUD_CONF.format(ip=bed.host(1).ip4))
	yield a
	stop_running(a)
	cxa.run_auditor(bed.host(2), ["--cleanup"])


def test_usage_and_not_running(bed, root):
	h = bed.host(1)
	cp = ctl(h, root, "--help")
	assert cp.returncode == 0
	lines = cp.stdout.splitlines()
	for cmd in ("status", "tenants", "flows [-n N]", "set-allowance TENANT RATE",
		    "reload [--daemon policer|auditor]"):
		assert cmd in lines, cp.stdout
	for args, msg in ((("frobnicate",), "unknown command 'frobnicate'"),
			  (("set-allowance", "ta", "fast"), "bad rate 'fast'"),
			  (("set-allowance", "ta"), "expected"),
			  (("flows", "-n", "0"), "1..1000"),
			  (("reload", "--daemon", "marker"), "policer or auditor"),
			  ((), "usage")):
		cp = ctl(h, root, *args)
		assert cp.returncode == 2 and msg in cp.stderr, (args, cp.returncode, cp.stderr)
	# Nothing runs here: status says so (exit 0), the others fail clearly.
	cp = ctl(h, root, "status")
	assert cp.returncode == 0, cp.stderr
	assert "conex-policer: not running" in cp.stdout
	assert "conex-auditor: not running" in cp.stdout
	st = ctl_json(h, root, "status")
	assert st["policer"] == {"running": False} and st["auditor"] == {"running": False}
	for args, prog in ((("tenants",), "conex-policer"), (("flows",), "conex-auditor"),
			   (("set-allowance", "ta", "1mbit"), "conex-policer"),
			   (("reload", "--daemon", "auditor"), "conex-auditor")):
		cp = ctl(h, root, *args)
		assert cp.returncode == 1, (args, cp.stderr)
		assert f"{prog} is not running in this network namespace" in cp.stderr, cp.stderr
	cp = ctl(h, root, "reload")
	assert cp.returncode == 1 and "neither" in cp.stderr, cp.stderr


def test_policer(bed, root, policer):
	h = bed.host(1)
	p = policer
	cp = ctl(h, root, "status")
	assert cp.returncode == 0, cp.stderr
	assert "conex-policer: running" in cp.stdout and p.conf in cp.stdout, cp.stdout
	assert "conex-auditor: not running" in cp.stdout
	st = ctl_json(h, root, "status")
	assert st["policer"]["running"] is True and st["policer"]["config"] == p.conf
	assert st["policer"]["pid"] == p.proc.pid and st["policer"]["tenants_n"] == 1
	assert st["auditor"]["running"] is False

	cp = ctl(h, root, "tenants")
	assert cp.returncode == 0, cp.stderr
	head, row = cp.stdout.splitlines()[:2]
	assert head.split()[:4] == ["TENANT", "ALLOWANCE", "TOKENS", "DROP"], cp.stdout
	assert row.split()[:2] == ["ta", "1mbit"], cp.stdout
	tj = ctl_json(h, root, "tenants")["tenants"]
	assert [t["name"] for t in tj] == ["ta"] and tj[0]["allowance_bps"] == 1_000_000
	for k in ("tokens_bytes", "drop_ppm", "l_bytes", "e_bytes", "c_bytes",
		  "feedback_ce_bytes", "drops_police", "drops_spoof"):
		assert k in tj[0], k

	# set-allowance: the rate changes, the bucket does not start over.
	before = p.tenant("ta")
	t0 = time.monotonic()
	cp = ctl(h, root, "set-allowance", "ta", "3mbit")
	assert cp.returncode == 0 and "3" in cp.stdout, cp.stderr
	after = p.tenant("ta")
	dt = time.monotonic() - t0
	assert after["allowance_bps"] == 3_000_000
	assert after["charged_marks_bytes"] == before["charged_marks_bytes"]
	assert after["tokens_bytes"] <= before["tokens_bytes"] + 3_000_000 / 8 * (dt + 0.5)
	assert p.stats()["allowance_changes"] == 1
	for args, rc, msg in ((("set-allowance", "nobody", "1mbit"), 1, "unknown tenant 'nobody'"),
			      (("set-allowance", "ta", "-1"), 2, "bad rate"),
			      (("set-allowance", "ta", "99999999999999999999bit"), 2, "bad rate")):
		cp = ctl(h, root, *args)
		assert cp.returncode == rc and msg in cp.stderr, (args, cp.returncode, cp.stderr)
	assert p.tenant("ta")["allowance_bps"] == 3_000_000

	# Non-root: refused, nothing changed.
	for args in (("tenants",), ("set-allowance", "ta", "5mbit"), ("reload",)):
		cp = ctl(h, root, *args, user=65534)
		assert cp.returncode == 1 and "permission denied" in cp.stderr, (args, cp.stderr)
	assert p.tenant("ta")["allowance_bps"] == 3_000_000
	assert p.stats()["reloads"] == 0

	# Malformed requests sent raw: an error reply, the daemon serves on.
	for payload in (b"{\"cmd\": \"stats\"}", b"set-allowance ta", b"\xff\xfe\x00",
			b"status yaml", b"x" * 255):
		assert raw_request(h, "conex-policer", payload).startswith("error: "), payload
	assert p.proc.poll() is None
	assert ctl_json(h, root, "status")["policer"]["running"] is True

	# reload: the file's allowance applies (set-allowance lasts until then).
	conf = open(p.conf).read()
	with open(p.conf, "w") as f:
		f.write(conf.replace("tenant ta 1mbit", "tenant ta 2mbit"))
	cp = ctl(h, root, "reload", "--daemon", "policer")
	assert cp.returncode == 0 and "conex-policer: configuration reloaded" in cp.stdout, cp.stderr
	assert p.tenant("ta")["allowance_bps"] == 2_000_000
	assert p.tenant("ta")["charged_marks_bytes"] == before["charged_marks_bytes"]
	# A broken file: refused with file:line, the old configuration serves on.
	with open(p.conf, "w") as f:
		f.write(conf.replace("tenant ta 1mbit", "tenant ta 4mbit\nbogus 1"))
	cp = ctl(h, root, "reload")
	assert cp.returncode == 1 and f"{p.conf}:" in cp.stderr and "bogus" in cp.stderr, cp.stderr
	assert p.tenant("ta")["allowance_bps"] == 2_000_000
	st = ctl_json(h, root, "status")["policer"]
	assert st["reloads"] == 1 and st["reload_errors"] == 1
	# SIGHUP does the same.
	sighup_until(p, conf.replace("tenant ta 1mbit", "tenant ta 4mbit"),
		     lambda: p.tenant("ta")["allowance_bps"] == 4_000_000)
	assert p.tenant("ta")["allowance_bps"] == 4_000_000


HOLD = textwrap.dedent("""\
	import socket, sys, time
	addr, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	if mode == "server":
		s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		s.bind((addr, port)); s.listen(1)
		print("listening", flush=True)
		c, _ = s.accept()
		while c.recv(65536):
			pass
	else:
		c = socket.create_connection((addr, port), timeout=5)
		c.sendall(b"x" * 300000)
		print("sent", flush=True)
		time.sleep(60)
	""")


@pytest.fixture
def held_flow(bed):
	"""A TCP connection h1g1 -> h2g1 through a marker that stays open,
	idle, without FIN: a flow whose audit state does not move."""
	snd, rcv = bed.guest(1, 1), bed.guest(2, 1)
	m = cxm.start_marker(snd)
	procs = []
	try:
		srv = rcv.popen(["/usr/bin/python3", "-c", HOLD, rcv.ip4, str(PORT), "server"],
				stdout=subprocess.PIPE, text=True)
		procs.append(srv)
		assert srv.stdout.readline().strip() == "listening"
		cli = snd.popen(["/usr/bin/python3", "-c", HOLD, rcv.ip4, str(PORT), "client"],
				stdout=subprocess.PIPE, text=True)
		procs.append(cli)
		assert cli.stdout.readline().strip() == "sent"
		time.sleep(0.5)
		yield f"{snd.ip4}:" , f"{rcv.ip4}:{PORT}"
	finally:
		for pr in procs:
			pr.kill()
			pr.wait()
		m.stop()


def flow_of(flows, dst):
	for f in flows["flows"]:
		if f["dst"] == dst:
			return f
	raise AssertionError(f"no flow to {dst} in {flows}")


def test_auditor(bed, root, auditor, held_flow):
	h = bed.host(2)
	a = auditor
	_, dst = held_flow
	st = ctl_json(h, root, "status")
	assert st["auditor"]["running"] is True and st["auditor"]["config"] == a.conf
	assert st["auditor"]["guests_n"] == 1 and st["auditor"]["flows_live"] >= 1, st
	assert st["policer"]["running"] is False
	cp = ctl(h, root, "status")
	assert "conex-auditor: running" in cp.stdout and "conex-policer: not running" in cp.stdout

	fl = ctl_json(h, root, "flows", "-n", "5")
	assert fl["truncated"] == 0 and fl["shown"] == len(fl["flows"]) >= 1, fl
	f0 = flow_of(fl, dst)
	assert f0["tenant"] == "ra" and f0["proto"] == "tcp" and f0["sanction"] == 0, f0
	for k in ("credit_bal_bytes", "reecho_bal_bytes", "shortfall_bytes", "dropped_bytes"):
		assert isinstance(f0[k], int), k
	shorts = [(f["shortfall_bytes"], f["dropped_bytes"]) for f in fl["flows"]]
	assert shorts == sorted(shorts, reverse=True)
	cp = ctl(h, root, "flows")
	assert cp.returncode == 0, cp.stderr
	assert cp.stdout.splitlines()[0].split()[:2] == ["FLOW", "TENANT"], cp.stdout
	assert dst in cp.stdout and " ra " in cp.stdout, cp.stdout

	# Non-root and raw junk: refused, the auditor runs on.
	cp = ctl(h, root, "flows", user=65534)
	assert cp.returncode == 1 and "permission denied" in cp.stderr, cp.stderr
	# The daemon's own client says so too, on stderr, not as its stats.
	cp = run_installed(h, root, "conex-auditor", "stats", user=65534)
	assert cp.returncode == 1 and "permission denied" in cp.stderr, cp
	assert cp.stdout == "", cp
	for payload in (b"{\"flows\": 5}", b"flows 0", b"flows 1001", b"flows x", b"stats"):
		assert raw_request(h, "conex-auditor", payload).startswith("error: "), payload
	assert a.proc.poll() is None

	# reload: a new tenant name for the guest applies; the flow keeps its state.
	live = a.stats()["flows_live"]
	created = a.stats()["flows_created"]
	conf = open(a.conf).read()
	with open(a.conf, "w") as f:
		f.write(conf.replace("guest g1 ra", "guest g1 rz").replace(
			"host_id 2", "host_id 2\nfeedback_interval 50ms"))
	cp = ctl(h, root, "reload", "--daemon", "auditor")
	assert cp.returncode == 0 and "conex-auditor: configuration reloaded" in cp.stdout, cp.stderr
	f1 = flow_of(ctl_json(h, root, "flows"), dst)
	assert f1["tenant"] == "rz"
	for k in ("credit_bal_bytes", "reecho_bal_bytes", "shortfall_bytes", "dropped_bytes"):
		assert f1[k] == f0[k], (k, f0, f1)
	s = a.stats()
	assert s["flows_live"] == live and s["flows_created"] == created

	# Refused whole: a syntax error (file:line) and a restart-only change.
	good = open(a.conf).read()
	for bad, msg in ((good + "bogus 1\n", f"{a.conf}:"),
			 (good.replace("guest g1 rz", "guest g1 rq\nflow_table_size 128"),
			  "restart conex-auditor")):
		with open(a.conf, "w") as f:
			f.write(bad)
		cp = ctl(h, root, "reload")
		assert cp.returncode == 1 and msg in cp.stderr, cp.stderr
		assert flow_of(ctl_json(h, root, "flows"), dst)["tenant"] == "rz"
	st = ctl_json(h, root, "status")["auditor"]
	assert st["reloads"] == 1 and st["reload_errors"] == 2

	# SIGHUP, and the auditor's own `reload` client.
	sighup_until(a, good.replace("guest g1 rz", "guest g1 ry"),
		     lambda: ctl_json(h, root, "status")["auditor"]["reloads"] >= 2)
	assert flow_of(ctl_json(h, root, "flows"), dst)["tenant"] == "ry"
	with open(a.conf, "w") as f:
		f.write(good)
	cp = cxa.run_auditor(h, ["reload"])
	assert cp.returncode == 0, cp.stderr
	assert ctl_json(h, root, "status")["auditor"]["reloads"] == 3
	assert a.stats()["flows_created"] == created
