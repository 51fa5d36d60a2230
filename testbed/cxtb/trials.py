"""Isolation modes and workloads for the trial runner (testbed/trial).

A trial puts tenants on one testbed: tenant k (a, b, c, ...) is guest k of
host 1 sending to guest k of host 2, through the fabric's ECN bottleneck on
the port towards host 2. The same topology and workload run under each
isolation mode:

  none    plain TCP sharing: no marker, no policer, no rate limit.
  static  the usual operator answer: per-tenant HTB classes on host 1's
          uplink, each at rate = ceil = bottleneck / number of tenants, so a
          tenant never takes more than its slice even when the others idle.
  conex   conex-marker in every sending guest, conex-policer on host 1
          (one tenant per guest, equal allowances), conex-auditor on host 2
          (audit, and feedback for the tunnel that carries their non-TCP
          traffic); host 2 runs a policer too, as the tunnel's far end.
  tunnel  no marker (legacy guests): every packet goes through the
          policers' VXLAN tunnel, outer ECT(0), and the tenants' buckets are
          drained by the CE the auditor on host 2 feeds back.
  mixed   odd tenants (a, c, e) with the marker, even ones (b, d) without.

Allowances are two flows' worth of congestion, calibrated per kind from
measured per-flow congestion rates (tests/pytest/test_policer.py's
docstring): 11.5 Mbit/s for a tenant whose traffic is ConEx-marked (a cubic
flow's C plus classic ECN's conservative E), 4 Mbit/s for one policed
through the tunnel's CE feedback.
"""
import json
import os
import subprocess
import tempfile
import threading
import time

from cxtb import auditor as cxa
from cxtb import bulk
from cxtb import marker as cxm
from cxtb import onoff
from cxtb import policer as cxp
from cxtb.testbed import Testbed
from cxtb.traffic import wait_listening

MODES = ("none", "static", "conex", "tunnel", "mixed")
TENANTS = "abcdefgh"
CONEX_ALLOWANCE_BPS = 11_500_000
LEGACY_ALLOWANCE_BPS = 4_000_000
KEY = "5a" * 32
BASE_PORT = 5301
SAMPLE_S = 0.5


def tenant_names(n):
	if not 1 <= n <= len(TENANTS):
		raise ValueError(f"1..{len(TENANTS)} tenants: {n}")
	return list(TENANTS[:n])


def testbed(n_tenants, cc="cubic", ecn=1):
	"""Two hosts with a guest per tenant, MTU room for the VXLAN tunnel."""
	return Testbed(hosts=2, guests=n_tenants, cc=cc, ecn=ecn, underlay_mtu=1600)


def jain(xs):
	xs = [x for x in xs]
	if not xs or not any(xs):
		return 0.0
	return sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs))


class Stack:
	"""One isolation mode set up on a testbed for the given tenants.

	kinds: {tenant: "conex" | "legacy" | "nomark" | "half" | ...} overrides
	the mode's choice of which guests run the marker (mixed fleets,
	cheating markers); a cheat kind runs the marker with that cheat policy.
	allowances: {tenant: bit/s} overrides the per-kind default.
	"""

	def __init__(self, tb, mode, tenants, rate_bps, kinds=None, allowances=None):
		if mode not in MODES:
			raise ValueError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
		self.tb, self.mode, self.tenants, self.rate_bps = tb, mode, tenants, rate_bps
		self.kinds = {}
		for i, t in enumerate(tenants):
			if mode == "conex":
				k = "conex"
			elif mode == "mixed":
				k = "conex" if i % 2 == 0 else "legacy"
			else:
				k = "legacy"
			self.kinds[t] = (kinds or {}).get(t, k)
		self.allowances = {}
		for t in tenants:
			dflt = LEGACY_ALLOWANCE_BPS if self.kinds[t] == "legacy" else CONEX_ALLOWANCE_BPS
			self.allowances[t] = (allowances or {}).get(t, dflt)
		self.markers, self.daemons = [], []
		self.policer = self.auditor = None
		self.sanction_log = []	# the auditor's sanction lines, after stop()
		self.static_on = False

	def guest_index(self, t):
		return self.tenants.index(t) + 1

	@property
	def policed(self):
		return self.mode in ("conex", "tunnel", "mixed")

	def start(self):
		try:
			if self.mode == "static":
				self._static_up()
			if self.policed:
				for t in self.tenants:
					k = self.kinds[t]
					if k == "legacy":
						continue
					cfg = None if k == "conex" else f"cheat {k}\n"
					self.markers.append(cxm.start_marker(
						self.tb.guest(1, self.guest_index(t)), config_text=cfg))
				self._daemons_up()
		except BaseException:
			self.stop()
			raise
		return self

	def _daemons_up(self):
		tb, idx = self.tb, range(1, len(self.tenants) + 1)
		tenants = {t: f"{self.allowances[t]}bit" for t in self.tenants}
		guests = {i: self.tenants[i - 1] for i in idx}
		self.policer = cxp.start_policer(tb.host(1), config_text=cxp.config(
			tb, 1, tenants, guests, tunnel=True, key=KEY))
		self.daemons.append(self.policer)
		far = {f"r{t}": "10gbit" for t in self.tenants}
		self.daemons.append(cxp.start_policer(tb.host(2), config_text=cxp.config(
			tb, 2, far, {i: f"r{self.tenants[i - 1]}" for i in idx}, tunnel=True,
			key=KEY)))
		conf = "".join(f"guest g{i} {self.tenants[i - 1]}\n" for i in idx)
		conf += f"host_id 2\npeer 1 {tb.host(1).ip4} 4790 {KEY}\n"
		self.auditor = cxa.start_auditor(tb.host(2), config_text=conf)
		self.daemons.append(self.auditor)

	def _static_up(self):
		"""HTB on host 1's uplink: a class per tenant at bottleneck / n,
		ceil the same; other traffic (ND, ARP) in an unlimited default."""
		h, dev = self.tb.host(1), self.tb.uplink(1)
		share = self.rate_bps // len(self.tenants)
		h.run(["tc", "qdisc", "del", "dev", dev, "root"], check=False)
		h.run(["tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb",
		       "default", "99"])
		self.static_on = True
		h.run(["tc", "class", "add", "dev", dev, "parent", "1:", "classid", "1:99",
		       "htb", "rate", "10gbit"])
		for t in self.tenants:
			i = self.guest_index(t)
			g = self.tb.guest(1, i)
			cls = f"1:{10 + i}"
			h.run(["tc", "class", "add", "dev", dev, "parent", "1:", "classid", cls,
			       "htb", "rate", f"{share}bit", "ceil", f"{share}bit"])
			h.run(["tc", "filter", "add", "dev", dev, "parent", "1:", "protocol", "ip",
			       "prio", "1", "u32", "match", "ip", "src", f"{g.ip4}/32",
			       "flowid", cls])
			h.run(["tc", "filter", "add", "dev", dev, "parent", "1:", "protocol",
			       "ipv6", "prio", "2", "u32", "match", "ip6", "src", f"{g.ip6}/128",
			       "flowid", cls])

	def tenant_stats(self):
		"""{tenant: policer counters} ({} without a policer)."""
		if not self.policer:
			return {}
		return {t["name"]: t for t in self.policer.stats()["tenants"]}

	def audit_stats(self):
		return self.auditor.stats() if self.auditor else {}

	def stop(self):
		errors = []
		for d in reversed(self.daemons):
			if d.proc.poll() is None:
				try:
					text = d.stop()
				except Exception as e:	# report, but stop the rest
					errors.append(str(e))
					continue
				if d is self.auditor:
					self.sanction_log = [l for l in text.splitlines()
							     if "sanction:" in l]
		self.daemons, self.policer, self.auditor = [], None, None
		for m in self.markers:
			try:
				m.stop()
			except Exception as e:
				errors.append(str(e))
		self.markers = []
		if self.static_on:
			self.tb.host(1).run(["tc", "qdisc", "del", "dev", self.tb.uplink(1), "root"],
					    check=False)
			self.static_on = False
		if errors:
			raise RuntimeError("; ".join(errors))

	def __enter__(self):
		return self.start()

	def __exit__(self, *exc):
		self.stop()


class Sampler(threading.Thread):
	"""Polls the policer's tenants every SAMPLE_S: (t, tenant, tokens,
	drop ppm), for the bucket-level plot."""

	def __init__(self, stack):
		super().__init__(daemon=True)
		self.stack, self.rows, self.stop_ev = stack, [], threading.Event()

	def run(self):
		t0 = time.monotonic()
		while not self.stop_ev.wait(SAMPLE_S):
			try:
				ts = self.stack.tenant_stats()
			except Exception:
				continue
			now = round(time.monotonic() - t0, 2)
			for name, t in ts.items():
				self.rows.append({"t_s": now, "tenant": name,
						  "tokens_bytes": t["tokens_bytes"],
						  "drop_ppm": t["drop_ppm"]})

	def finish(self):
		self.stop_ev.set()
		self.join(5)
		return self.rows


def udp_flood(snd, rcv, addr, port, seconds, rate="200M"):
	"""Unresponsive UDP (iperf3 -u) at rate; goodput as the receiver got it."""
	srv = rcv.popen(["iperf3", "-s", "-1", "-p", str(port)], stdout=subprocess.DEVNULL,
			stderr=subprocess.DEVNULL)
	try:
		wait_listening(rcv, port)
		fam = ["-6"] if ":" in addr else []
		cp = snd.run(["iperf3", "-c", addr, *fam, "-p", str(port), "-u", "-b", rate,
			      "-l", "1400", "-t", str(seconds), "-J"], check=False,
			     timeout=seconds + 30)
		s = json.loads(cp.stdout)["end"]["sum"]
		return {"bits_per_second": s["bits_per_second"] * (1 - s["lost_percent"] / 100)}
	finally:
		if srv.poll() is None:
			srv.kill()
		srv.wait()


def contest(stack, load, seconds, family=4):
	"""Run every tenant's load together for seconds and measure at the
	receivers. load: {tenant: ("tcp", flows) | ("udp", rate)}. Returns per
	tenant goodput (b/s) and congestion counters, and the policer's bucket
	samples. ("onoff", (size_bytes, mean_s)) runs on-off transfers instead
	(cxtb/onoff.py); their completion times come back in fct_s.
	"""
	tb = stack.tb
	res, errs = {}, {}
	before = {t: tb.guest(2, stack.guest_index(t)).nstat() for t in load}
	pol0 = stack.tenant_stats()
	e0 = tb.ecnq_stats(2)

	def go(t, kind, arg, port):
		i = stack.guest_index(t)
		snd, rcv = tb.guest(1, i), tb.guest(2, i)
		addr = rcv.ip6 if family == 6 else rcv.ip4
		try:
			if kind == "udp":
				res[t] = udp_flood(snd, rcv, addr, port, seconds, rate=arg)
			elif kind == "onoff":
				r = onoff.run(snd, rcv, addr, port, seconds, arg[0], arg[1],
					      seed=port)
				r["bits_per_second"] = 8 * r["bytes"] / seconds
				res[t] = r
			else:
				res[t] = bulk.transfer(snd, rcv, addr, seconds=seconds, flows=arg,
						       port=port)
		except Exception as e:
			errs[t] = e
	sampler = Sampler(stack) if stack.policer else None
	if sampler:
		sampler.start()
	ths = [threading.Thread(target=go, args=(t, kind, arg, BASE_PORT + n))
	       for n, (t, (kind, arg)) in enumerate(load.items())]
	for th in ths:
		th.start()
	for th in ths:
		th.join()
	samples = sampler.finish() if sampler else []
	if errs:
		t, e = next(iter(errs.items()))
		raise RuntimeError(f"tenant {t}'s traffic failed: {e}")
	e1 = tb.ecnq_stats(2)
	pol1 = stack.tenant_stats()
	out = {}
	for t in load:
		after = tb.guest(2, stack.guest_index(t)).nstat()
		ce = sum(after.get(k, 0) - before[t].get(k, 0)
			 for k in ("IpExtInCEPkts", "Ip6InCEPkts"))
		row = {"goodput_bps": res[t]["bits_per_second"], "rx_ce_pkts": ce}
		if "fct_s" in res[t]:
			row.update(fct_s=res[t]["fct_s"], started=res[t]["started"],
				   completed=res[t]["completed"])
		if t in pol1:
			p0, p1 = pol0.get(t, {}), pol1[t]
			drained = sum(p1[k] - p0.get(k, 0)
				      for k in ("charged_marks_bytes", "drained_feedback_bytes"))
			row.update(congestion_bps=8 * drained / seconds,
				   policer_drops=p1["drops_police"] - p0.get("drops_police", 0),
				   tokens_bytes=p1["tokens_bytes"])
		out[t] = row
	fabric = {k: e1.get(k, 0) - e0.get(k, 0) for k in ("marked", "dropped")}
	return out, fabric, samples
