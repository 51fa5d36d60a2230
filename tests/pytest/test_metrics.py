"""End-to-end tests of the Prometheus endpoints (issue 7): `metrics
ADDRESS:PORT` in conex-policer and conex-auditor, scraped by a real
Prometheus (Debian's package) from inside the testbed.

Testbed: 2 hosts x 1 guest, no bottleneck. The policer runs in h1 with
tenant a (guest 1), the auditor in h2 for its guest; a bulk transfer goes
h1g1 -> h2g1 through both. Prometheus runs in h1's namespace on its
loopback, scraping the policer there every second; the test asks its HTTP
API until tenant a's byte counter has moved. The auditor's page (in h2,
whose loopback Prometheus cannot reach) is fetched directly and checked
with promtool, as the policer's is.

Ports are per namespace (each has its own loopback), so fixed ones are safe.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
import urllib.parse

import pytest

from conftest import install_root_or_skip, running_testbed, stop_running
from cxtb import auditor as cxa
from cxtb import bulk
from cxtb import policer as cxp

POL_PORT = 9464
AUD_PORT = 9465
PROM_PORT = 9090
SCRAPE_DEADLINE_S = 40
PROM_READY_S = 30

# GET in a namespace: prints {"status", "type", "body"} as JSON, or
# {"error"} if no connection was made. urllib raises on 4xx/5xx: the
# error object carries the status and headers all the same.
_FETCH = textwrap.dedent("""
	import json, sys, urllib.request, urllib.error
	req = urllib.request.Request(sys.argv[1], method=sys.argv[2])
	try:
		with urllib.request.urlopen(req, timeout=5) as r:
			out = {"status": r.status, "type": r.headers.get("Content-Type"),
			       "allow": r.headers.get("Allow"), "body": r.read().decode()}
	except urllib.error.HTTPError as e:
		out = {"status": e.code, "type": e.headers.get("Content-Type"),
		       "allow": e.headers.get("Allow"), "body": e.read().decode()}
	except OSError as e:
		out = {"error": str(e)}
	print(json.dumps(out))
""")


def fetch(node, url, method="GET"):
	cp = node.run(["/usr/bin/python3", "-c", _FETCH, url, method], timeout=20)
	return json.loads(cp.stdout)


# promtool's lint prefers bytes to bits; allowances are contracted in
# bit/s (conex-policer.conf(5)), so the brief's names keep bits_per_second.
BITS_OK = 'use base unit "bytes" instead of "bits"'


def promtool_check(text):
	"""promtool's lint of an exposition page: (ok, what it said other than
	the bits lint). It exits 3 for lint problems, 1 for a page it cannot
	parse, and names each problem on a line of its own."""
	cp = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
			    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
	said = [l for l in cp.stdout.splitlines() if l.strip() and
		not (l.endswith(BITS_OK) and "_bits_per_second " in l)]
	return cp.returncode in (0, 3) and not said, "\n".join(said)


def samples(text):
	"""{(name, frozenset of label pairs): value} from an exposition page
	this project writes (no escaped quotes or commas in its label values)."""
	out = {}
	for line in text.splitlines():
		if not line or line.startswith("#"):
			continue
		head, value = line.rsplit(" ", 1)
		labels = frozenset()
		if "{" in head:
			name, rest = head.split("{", 1)
			pairs = [p.split("=", 1) for p in rest.rstrip("}").split(",")]
			labels = frozenset((k, v.strip('"')) for k, v in pairs)
		else:
			name = head
		out[(name, labels)] = float(value)
	return out


@pytest.fixture(scope="module")
def root(netns_ok):
	return install_root_or_skip(progs=("conex-policer", "conex-auditor"),
				    tools=("iptables", "ip6tables", "nft"))


@pytest.fixture(scope="module")
def bed(root):
	with running_testbed(hosts=2, guests=1, cc="cubic", ecn=1) as tb:
		yield tb


def policer_conf(bed, extra=()):
	return cxp.config(bed, 1, {"a": "10mbit"}, {1: "a"},
			  extra=["host_id 1"] + list(extra))


@pytest.fixture
def daemons(bed):
	"""The policer in h1 and the auditor in h2, both with metrics."""
	p = cxp.start_policer(bed.host(1), config_text=policer_conf(
		bed, [f"metrics 127.0.0.1:{POL_PORT}"]))
	try:
		a = cxa.start_auditor(bed.host(2), config_text=(
			f"guest g1 a\nhost_id 2\nmetrics 127.0.0.1:{AUD_PORT}\n"))
	except Exception:
		p.stop()
		raise
	yield p, a
	stop_running(a, p)
	cxp.run_policer(bed.host(1), ["--cleanup"])
	cxa.run_auditor(bed.host(2), ["--cleanup"])


@pytest.fixture
def prometheus(bed):
	"""A real Prometheus in h1's namespace scraping the policer every
	second; SKIP (never pass) where the package is not installed."""
	if shutil.which("prometheus") is None:
		pytest.skip("SKIP: prometheus not installed (Debian package "
			    "`prometheus`, in scripts/setup)")
	tmp = tempfile.mkdtemp(prefix="cx-prom-")
	conf = os.path.join(tmp, "prometheus.yml")
	with open(conf, "w") as f:
		f.write(textwrap.dedent(f"""\
			global:
			  scrape_interval: 1s
			  scrape_timeout: 1s
			  evaluation_interval: 1s
			scrape_configs:
			  - job_name: conex-policer
			    static_configs:
			      - targets: ["127.0.0.1:{POL_PORT}"]
			"""))
	h1 = bed.host(1)
	log = open(os.path.join(tmp, "prometheus.log"), "w")
	proc = h1.popen(["prometheus", f"--config.file={conf}",
			 f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
			 f"--web.listen-address=127.0.0.1:{PROM_PORT}",
			 "--storage.tsdb.retention.time=1h"],
			stdout=log, stderr=subprocess.STDOUT)
	try:
		deadline = time.monotonic() + PROM_READY_S
		while True:
			if proc.poll() is not None:
				log.flush()
				with open(log.name) as f:
					pytest.fail(f"prometheus exited {proc.returncode}:\n"
						    f"{f.read()[-2000:]}")
			r = fetch(h1, f"http://127.0.0.1:{PROM_PORT}/-/ready")
			if r.get("status") == 200:
				break
			assert time.monotonic() < deadline, f"prometheus not ready: {r}"
			time.sleep(0.5)
		yield proc
	finally:
		if proc.poll() is None:
			proc.send_signal(signal.SIGTERM)
			try:
				proc.wait(timeout=15)
			except subprocess.TimeoutExpired:
				proc.kill()
				proc.wait()
		log.close()
		shutil.rmtree(tmp, ignore_errors=True)


def query(node, expr):
	"""Prometheus instant query: the vector's [(labels, value)]."""
	url = (f"http://127.0.0.1:{PROM_PORT}/api/v1/query?"
	       + urllib.parse.urlencode({"query": expr}))
	r = fetch(node, url)
	assert r.get("status") == 200, r
	body = json.loads(r["body"])
	assert body["status"] == "success", body
	return [(s["metric"], float(s["value"][1])) for s in body["data"]["result"]]


def wait_query(node, expr, pred, what):
	deadline = time.monotonic() + SCRAPE_DEADLINE_S
	last = None
	while time.monotonic() < deadline:
		last = query(node, expr)
		if last and pred(last[0][1]):
			return last[0][1]
		time.sleep(0.5)
	pytest.fail(f"{what}: {expr} still {last} after {SCRAPE_DEADLINE_S} s")


def test_prometheus_scrapes_policer(bed, daemons, prometheus):
	h1 = bed.host(1)
	expr = 'conex_policer_tenant_bytes_total{tenant="a",host="1"}'
	wait_query(h1, 'up{job="conex-policer"}', lambda v: v == 1, "scrape target up")
	before = wait_query(h1, expr, lambda v: v >= 0, "tenant series present")
	snd, rcv = bed.guest(1, 1), bed.guest(2, 1)
	res = bulk.transfer(snd, rcv, rcv.ip4, seconds=3)
	assert res["bytes"] > 0, res
	after = wait_query(h1, expr, lambda v: v > 0 and v > before,
			   "tenant a's byte counter moved")
	# Once the last refresh is scraped, the policer has counted at least
	# what the receiver got (headers on top).
	wait_query(h1, expr, lambda v: v - before >= res["bytes"],
		   f"tenant a's bytes reach {res['bytes']} (first moved to {after})")
	# Labels and the other per-tenant families made it through as well.
	(labels, _), = query(h1, 'conex_policer_tenant_allowance_bits_per_second')
	assert labels["tenant"] == "a" and labels["host"] == "1", labels
	assert query(h1, 'conex_policer_tenant_allowance_bits_per_second')[0][1] == 10e6
	flags = {m["flag"] for m, _ in query(h1, 'conex_policer_tenant_marked_bytes_total')}
	assert flags == {"L", "E", "C"}
	reasons = {m["reason"] for m, _ in query(h1, 'conex_policer_tenant_dropped_packets_total')}
	assert reasons == {"police", "spoof", "unreadable", "protected"}


def test_pages_and_http(bed, daemons):
	"""Both daemons' pages: the format (promtool), the counters the traffic
	moved, the content type, 404 and 405."""
	p, a = daemons
	h1, h2 = bed.host(1), bed.host(2)
	snd, rcv = bed.guest(1, 1), bed.guest(2, 1)
	bulk.transfer(snd, rcv, rcv.ip4, seconds=2)
	time.sleep(2.5)		# two refreshes of the pages (once a second)
	for node, port, prefix in ((h1, POL_PORT, "conex_policer_"),
				   (h2, AUD_PORT, "conex_auditor_")):
		r = fetch(node, f"http://127.0.0.1:{port}/metrics")
		assert r["status"] == 200, r
		assert r["type"].startswith("text/plain; version=0.0.4"), r["type"]
		ok, lint = promtool_check(r["body"])
		assert ok, f"promtool check metrics ({prefix}):\n{lint}"
		s = samples(r["body"])
		assert s and all(n.startswith(prefix) for n, _ in s), list(s)[:5]
		if prefix == "conex_policer_":
			bytes_ = s[("conex_policer_tenant_bytes_total",
				    frozenset({("tenant", "a"), ("host", "1")}))]
			assert bytes_ >= p.tenant("a")["bytes"] * 0.5 > 0
			assert 0 <= s[("conex_policer_tenant_drop_probability",
				       frozenset({("tenant", "a"), ("host", "1")}))] <= 1
		else:
			host = frozenset({("host", "2")})
			assert s[("conex_auditor_packets_total", host)] > 0
			assert s[("conex_auditor_packets_total", host)] <= a.stats()["packets"]
			assert s[("conex_auditor_guest_info", frozenset(
				{("host", "2"), ("guest", "g1"), ("tenant", "a")}))] == 1
		r = fetch(node, f"http://127.0.0.1:{port}/other")
		assert r["status"] == 404, r
		r = fetch(node, f"http://127.0.0.1:{port}/metrics", method="POST")
		assert r["status"] == 405 and r["allow"] == "GET, HEAD", r
		r = fetch(node, f"http://127.0.0.1:{port}/metrics", method="HEAD")
		assert r["status"] == 200 and r["body"] == "", r


def test_serves_across_reload(bed, daemons):
	"""A reload keeps the endpoint; one that moves it is refused whole."""
	p, _ = daemons
	h1 = bed.host(1)
	url = f"http://127.0.0.1:{POL_PORT}/metrics"
	with open(p.conf, "w") as f:
		f.write(policer_conf(bed, [f"metrics 127.0.0.1:{POL_PORT}",
					   "tenant b 2mbit", "guest g9 b 198.18.9.9"]))
	cp = p.command("reload")
	assert cp.returncode == 0, cp.stderr
	deadline = time.monotonic() + 10
	while True:
		r = fetch(h1, url)
		assert r["status"] == 200, r
		if 'tenant="b"' in r["body"]:
			break
		assert time.monotonic() < deadline, r["body"][-2000:]
		time.sleep(0.3)
	with open(p.conf, "w") as f:
		f.write(policer_conf(bed, [f"metrics 127.0.0.1:{POL_PORT + 10}"]))
	cp = p.command("reload")
	assert cp.returncode != 0 and "metrics" in cp.stderr, (cp.returncode, cp.stderr)
	assert fetch(h1, url)["status"] == 200
	assert "error" in fetch(h1, f"http://127.0.0.1:{POL_PORT + 10}/metrics")


BAD = {
	"name": ("localhost:9464", "metrics: 'localhost:9464' is not ADDRESS:PORT"),
	"port": ("127.0.0.1:65536", "metrics: '127.0.0.1:65536' is not ADDRESS:PORT"),
	"no port": ("127.0.0.1", "metrics: '127.0.0.1' is not ADDRESS:PORT"),
	"bare ipv6": ("::1:9464", "metrics: '::1:9464' is not ADDRESS:PORT"),
	"two values": ("127.0.0.1 9464", "metrics: expected"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_metrics_config(bed, root, tmp_path, case):
	value, msg = BAD[case]
	conf = tmp_path / "policer.conf"
	conf.write_text(policer_conf(bed) + f"metrics {value}\n")
	line = len(conf.read_text().splitlines())
	cp = cxp.run_policer(bed.host(1), ["--config", conf, "--foreground"])
	assert cp.returncode == 2, cp.stderr
	assert f"{conf}:{line}: {msg}" in cp.stderr, cp.stderr
	assert cxp.leftovers(bed.host(1)) == []
	conf = tmp_path / "auditor.conf"
	conf.write_text(f"guest g1 a\nmetrics {value}\n")
	cp = cxa.run_auditor(bed.host(2), ["--config", conf, "--foreground"])
	assert cp.returncode == 2, cp.stderr
	assert f"{conf}:2: {msg}" in cp.stderr, cp.stderr


def test_port_in_use(bed, daemons, tmp_path):
	"""A second daemon cannot have the port: a runtime error (exit 1) naming
	the address, before any hook is installed."""
	conf = tmp_path / "auditor.conf"
	conf.write_text(f"guest g1 a\nmetrics 127.0.0.1:{POL_PORT}\n")
	cp = cxa.run_auditor(bed.host(1), ["--config", conf, "--foreground"])
	assert cp.returncode == 1, cp.stderr
	assert f"metrics 127.0.0.1:{POL_PORT}: Address already in use" in cp.stderr, cp.stderr
	assert cxa.rules(bed.host(1)) == []
