"""One allowance per tenant across hosts (issue 5): the policers of two
hosts share tenant "shared" through a real redis-server (the token bank),
from the installed layout.

Testbed: 3 hosts x 2 guests. The tenant's guests are g1 on h1 and g1 on h2
(ConEx markers); their flows go to h3's guests through a 100 Mbit/s ECN
bottleneck on the fabric port towards h3. redis-server runs in the fabric
namespace on 198.19.1.1 (its port towards h1), off the bottleneck.

The tenant's congestion rate is what both policers let through in marked
bytes (their charged_marks_bytes counters), measured over a window after a
warm-up that spends the buckets' initial tokens.
"""
import subprocess
import threading
import time

import pytest

import cxtb
from conftest import install_root_or_skip, running_testbed, stop_running
from cxtb import bulk
from cxtb import marker as cxm
from cxtb import policer as cxp

RATE_BPS = 100_000_000
ALLOWANCE = "4mbit"
ALLOWANCE_BPS = 4_000_000
# A small burst: each bucket, local and in the bank, starts full, and the
# window must not be dominated by what was saved up before it.
TENANT = f"{ALLOWANCE} burst 50k"
WARMUP_S = 3
WINDOW_S = 8
TOL = 0.10		# issue 5: within the allowance +- 10 % over the trial
REDIS_ADDR = "198.19.1.1"
REDIS_PORT = 6390


@pytest.fixture(scope="module")
def root(netns_ok):
	return install_root_or_skip(progs=("conex-policer",), tools=("redis-server",),
				    show_path=False,
				    notes={"redis-server": "scripts/setup installs it"})


@pytest.fixture(scope="module")
def bed(root, ecnq_tool):
	with running_testbed(hosts=3, guests=2, cc="cubic", ecn=1,
			     bottleneck=(3, RATE_BPS)) as tb:
		ms = [cxm.start_marker(tb.guest(h, 1)) for h in (1, 2)]
		yield tb
		for m in ms:
			m.stop()


class Redis:
	"""A private redis-server in the fabric namespace."""

	def __init__(self, tb):
		self.tb = tb
		self.proc = None

	def start(self):
		self.proc = self.tb.fabric.popen(
			["redis-server", "--bind", REDIS_ADDR, "--port", str(REDIS_PORT),
			 "--save", "", "--appendonly", "no", "--protected-mode", "no",
			 "--daemonize", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
		cxtb.wait_listening(self.tb.fabric, REDIS_PORT)

	def stop(self):
		if self.proc and self.proc.poll() is None:
			self.proc.kill()
			self.proc.wait()


@pytest.fixture
def redis(bed):
	r = Redis(bed)
	r.start()
	yield r
	r.stop()


@pytest.fixture
def policers(bed):
	started = []

	def start(bank=True):
		extra = [f"redis redis://{REDIS_ADDR}:{REDIS_PORT}", "bank_share 50%"] if bank else []
		ps = []
		for h in (1, 2):
			ps.append(cxp.start_policer(bed.host(h), config_text=cxp.config(
				bed, h, {"shared": TENANT, "other": "1gbit"},
				{1: "shared", 2: "other"}, extra=extra)))
		started.extend(ps)
		return ps

	yield start
	stop_running(*started)
	for h in (1, 2):
		assert cxp.leftovers(bed.host(h)) == []


def load(bed, spread, seconds):
	"""The tenant's flows: 4 from h1g1 to h3g1, or 2 from each of h1g1 and
	h2g1 (to h3g1 and h3g2). Runs in threads; returns them and the results."""
	res, ts = {}, []
	plan = [(1, 1, 2, 5401), (2, 2, 2, 5402)] if spread else [(1, 1, 4, 5401)]

	def go(h, dst, flows, port):
		res[h] = bulk.transfer(bed.guest(h, 1), bed.guest(3, dst), bed.guest(3, dst).ip4,
				       seconds=seconds, flows=flows, port=port)
	for h, dst, flows, port in plan:
		ts.append(threading.Thread(target=go, args=(h, dst, flows, port)))
	for t in ts:
		t.start()
	return ts, res


def marked(ps):
	return sum(p.tenant("shared")["charged_marks_bytes"] for p in ps)


def congestion_rate(bed, ps, spread):
	"""The tenant's congestion bit-rate over the window, both hosts."""
	ts, res = load(bed, spread, WARMUP_S + WINDOW_S + 1)
	time.sleep(WARMUP_S)
	m0, t0 = marked(ps), time.monotonic()
	time.sleep(WINDOW_S)
	m1, t1 = marked(ps), time.monotonic()
	for t in ts:
		t.join()
	return 8 * (m1 - m0) / (t1 - t0), res


@pytest.mark.parametrize("spread", [False, True], ids=["one-host", "two-hosts"])
def test_one_allowance_across_hosts(bed, redis, policers, spread):
	ps = policers(bank=True)
	deadline = time.monotonic() + 5
	while time.monotonic() < deadline and not all(p.stats()["bank_up"] for p in ps):
		time.sleep(0.1)
	assert all(p.stats()["bank_up"] for p in ps), [p.stats() for p in ps]
	rate, res = congestion_rate(bed, ps, spread)
	info = {"rate_bps": rate, "goodput": {h: r["bits_per_second"] for h, r in res.items()},
		"tenants": [p.tenant("shared") for p in ps]}
	print(f"bank, {'two hosts' if spread else 'one host'}: congestion "
	      f"{rate / 1e6:.2f} Mb/s for an allowance of {ALLOWANCE_BPS / 1e6:.2f}")
	assert (1 - TOL) * ALLOWANCE_BPS <= rate <= (1 + TOL) * ALLOWANCE_BPS, info
	# Tokens came from the bank (h2's idle bucket, in the one-host case,
	# never needed any).
	busy = info["tenants"] if spread else info["tenants"][:1]
	assert all(t["bank_grants"] > 0 and t["charged_marks_bytes"] > 0 for t in busy), info


def test_without_bank_each_host_has_its_own(bed, policers):
	"""The contrast: local buckets give a tenant spread over two hosts
	twice its allowance."""
	ps = policers(bank=False)
	rate, _ = congestion_rate(bed, ps, True)
	print(f"local buckets, two hosts: congestion {rate / 1e6:.2f} Mb/s")
	assert rate > 1.3 * ALLOWANCE_BPS, rate


def test_redis_lost_and_back(bed, redis, policers):
	ps = policers(bank=True)
	deadline = time.monotonic() + 5
	while time.monotonic() < deadline and not all(p.stats()["bank_up"] for p in ps):
		time.sleep(0.1)
	ts, res = load(bed, True, 12)
	time.sleep(3)
	redis.stop()
	time.sleep(2)
	down = [p.stats() for p in ps]
	m_down0 = marked(ps)
	time.sleep(2)
	m_down1 = marked(ps)
	redis.start()
	deadline = time.monotonic() + 8
	while time.monotonic() < deadline and not all(p.stats()["bank_up"] for p in ps):
		time.sleep(0.2)
	up = [p.stats() for p in ps]
	for t in ts:
		t.join()
	info = {"down": [{k: s[k] for k in ("bank_up", "bank_fallbacks", "bucket_mode")}
			 for s in down],
		"up": [{k: s[k] for k in ("bank_up", "bank_fallbacks", "bucket_mode")}
		       for s in up],
		"goodput": {h: r["bits_per_second"] for h, r in res.items()}}
	# Lost: each host falls back to its static share and says so.
	assert all(s["bank_up"] == 0 and s["bucket_mode"] == "share" and
		   s["bank_fallbacks"] >= 1 for s in down), info
	# Nothing blocked: traffic kept flowing and being policed meanwhile.
	assert m_down1 > m_down0, info
	assert all(r["bits_per_second"] > 1e6 for r in res.values()), info
	# Back: the shared bank again.
	assert all(s["bank_up"] == 1 and s["bucket_mode"] == "bank" for s in up), info
	for p in ps:
		assert p.proc.poll() is None
		log = p.stderr()
		assert "token bank: lost" in log, log[-2000:]
