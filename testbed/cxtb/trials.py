"""Isolation modes, workloads and the allowance rule for the trial runner
(testbed/trial) and the policer's isolation tests.

A trial puts tenants on one testbed: tenant k (a, b, c, ...) is guest k of
host 1 sending to guest k of host 2 (a tenant may have several guests, see
Stack), through the fabric's ECN bottleneck on the port towards host 2.
The same topology and workload run under each isolation mode:

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

One allowance, one currency. The policer charges a tenant its
congestion-volume, whatever its kind: max(C, L+E) bytes of its ConEx marks
per second (conex/charge.h), plus the CE bytes the tunnel's feedback
reports. So every tenant gets the same allowance, from one rule
(calibrate()): what a fair share of the bottleneck costs at full load. On
the trial's own testbed, before its contests, one long-running cubic TCP
flow per tenant runs over the ECN path (classic ECN, IPv4) with no
isolation for the policed window's length; the fabric queue's
congestion-volume rate over that window (CE-marked plus dropped bytes per
second, summed over the flows' sources from cx-ecnq's per-source
counters, in IP bytes as the policer counts them) divided by the number of
tenants is every tenant's allowance. The first CAL_WARMUP_S seconds of the
flows (slow start) are not measured: the rule prices a share at full load.
Scenarios about unequal weights may scale it (allowance_from's weight);
nothing else changes it, and it is never adjusted on a contest's outcome.

Per tenant and contest, contest() also measures what the policer charged
(charged_bytes) and what the fabric saw of that tenant (the CE-marked and
dropped bytes of its guests' sources, inner sources for the tunnel), over
the same window: with one currency the two should match.
"""
import ipaddress
import json
import os
import subprocess
import tempfile
import threading
import time

from cxtb import auditor as cxa
from cxtb import bulk
from cxtb import flood
from cxtb import marker as cxm
from cxtb import onoff
from cxtb import policer as cxp
from cxtb.testbed import Testbed
from cxtb.traffic import wait_listening
from cxtb.units import parse_rate

MODES = ("none", "static", "conex", "tunnel", "mixed")
TENANTS = "abcdefgh"
# Guest kinds in a policed mode: the marker with classic ECN, with AccECN,
# or with a Not-ECT (lossy) path; no marker (legacy: through the tunnel);
# or the marker with a cheat policy (conex-marker.conf(5), `cheat`).
MARKED_KINDS = ("conex", "accecn", "lossy")
KEY = "5a" * 32
BASE_PORT = 5301
SAMPLE_S = 0.5
# The policer's drops by reason (its tenant stats): contest() rows.
DROP_REASONS = ("police", "spoof", "unreadable", "protected")
# Calibration: the flows' first seconds (slow start) are not measured.
CAL_WARMUP_S = 2.0
# The bottleneck is on the fabric's port towards this host.
RX_HOST = 2


def tenant_names(n):
	if not 1 <= n <= len(TENANTS):
		raise ValueError(f"1..{len(TENANTS)} tenants: {n}")
	return list(TENANTS[:n])


def testbed(n_guests, cc="cubic", ecn=1):
	"""Two hosts with n_guests guests each, MTU room for the VXLAN tunnel."""
	return Testbed(hosts=2, guests=n_guests, cc=cc, ecn=ecn, underlay_mtu=1600)


def jain(xs):
	xs = [x for x in xs]
	if not xs or not any(xs):
		return 0.0
	return sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs))


# --- what the fabric saw, per source --------------------------------------------

def src_counters(ecnq_stats):
	"""cx-ecnq's per-source counters: {ip_address: {ce_bytes, ...}}."""
	return {ipaddress.ip_address(s["addr"]): s for s in ecnq_stats.get("sources", [])}


def sources(tb, guests, host=1):
	"""The IPv4 and IPv6 addresses of guests (indices) of host."""
	out = set()
	for g in guests:
		n = tb.guest(host, g)
		out |= {ipaddress.ip_address(n.ip4), ipaddress.ip_address(n.ip6)}
	return out


def seen(e0, e1, addrs):
	"""CE-marked and dropped bytes (IP bytes) of addrs' packets at the
	fabric between two cx-ecnq snapshots: {ce_bytes, dropped_bytes}."""
	c0, c1 = src_counters(e0), src_counters(e1)
	out = {"ce_bytes": 0, "dropped_bytes": 0}
	for a in addrs:
		for k in out:
			out[k] += c1.get(a, {}).get(k, 0) - c0.get(a, {}).get(k, 0)
	return out


# --- the allowance rule ---------------------------------------------------------

def allowance_from(congestion_bytes, seconds, n_tenants, weight=1.0):
	"""The rule: every tenant's allowance (bit/s) is the bottleneck's
	congestion-volume rate at full load (congestion_bytes over seconds)
	divided by the number of tenants; weight scales it for scenarios about
	unequal weights (1 otherwise)."""
	if seconds <= 0 or n_tenants < 1 or weight <= 0:
		raise ValueError(f"need seconds > 0, n_tenants >= 1, weight > 0: "
				 f"{seconds}, {n_tenants}, {weight}")
	return max(1, round(8 * congestion_bytes / seconds / n_tenants * weight))


def calibrate(tb, senders, seconds, warmup_s=CAL_WARMUP_S, port=BASE_PORT):
	"""The calibration contest of the allowance rule (module docstring) on
	testbed tb, under mode none: one cubic TCP flow, classic ECN, IPv4,
	from each guest in senders (host 1 guest indices, one per tenant) to
	the guest of the same index on host 2, all at once. They run
	warmup_s + seconds (+1); the fabric's per-source counters are read
	after warmup_s and seconds later. The guests' congestion control and
	ECN are set for the contest and given back after it.

	Returns a dict: n_tenants, seconds (measured window), ce_bytes,
	dropped_bytes (IP bytes of the senders' packets), congestion_bps (their
	sum as a rate), allowance_bps (allowance_from), goodput_bps (what the
	receivers got over the window), and port_marked_bytes /
	port_dropped_bytes (the port's own wire-byte counters, for reference).
	"""
	senders = list(senders)
	if not senders:
		raise ValueError("calibrate needs at least one sender")
	nodes = [n for g in senders for n in (tb.guest(1, g), tb.guest(RX_HOST, g))]
	saved = [(n, tb.tcp_settings(n)) for n in nodes]
	res, errs = {}, {}
	run_s = warmup_s + seconds + 1

	def go(g, p):
		snd, rcv = tb.guest(1, g), tb.guest(RX_HOST, g)
		try:
			res[g] = bulk.transfer(snd, rcv, rcv.ip4, seconds=run_s, flows=1, port=p)
		except Exception as e:
			errs[g] = e
	try:
		for n in nodes:
			tb.set_tcp(n, cc="cubic", ecn=1)
		ths = [threading.Thread(target=go, args=(g, port + k))
		       for k, g in enumerate(senders)]
		for th in ths:
			th.start()
		time.sleep(warmup_s)
		n0 = {g: tb.guest(RX_HOST, g).nstat() for g in senders}
		e0, t0 = tb.ecnq_stats(RX_HOST), time.monotonic()
		time.sleep(seconds)
		e1, t1 = tb.ecnq_stats(RX_HOST), time.monotonic()
		n1 = {g: tb.guest(RX_HOST, g).nstat() for g in senders}
		for th in ths:
			th.join()
	finally:
		for n, st in saved:
			tb.set_tcp(n, cc=st["cc"], ecn=st["ecn"])
	if errs:
		g, e = next(iter(errs.items()))
		raise RuntimeError(f"calibration flow from guest {g} failed: {e}")
	window = t1 - t0
	got = seen(e0, e1, sources(tb, senders))
	vol = got["ce_bytes"] + got["dropped_bytes"]
	rx = sum(n1[g].get("IpExtInOctets", 0) - n0[g].get("IpExtInOctets", 0)
		 for g in senders)
	return {"n_tenants": len(senders), "seconds": round(window, 2),
		"ce_bytes": got["ce_bytes"], "dropped_bytes": got["dropped_bytes"],
		"congestion_bps": 8 * vol / window,
		"allowance_bps": allowance_from(vol, window, len(senders)),
		"goodput_bps": 8 * rx / window,
		"port_marked_bytes": e1["marked_bytes"] - e0["marked_bytes"],
		"port_dropped_bytes": e1["dropped_bytes"] - e0["dropped_bytes"]}


def describe_calibration(cal):
	"""One line for reports: the measurement and the resulting allowance."""
	return (f"{cal['n_tenants']} cubic flows (one per tenant, classic ECN, IPv4, "
		f"no isolation) over {cal['seconds']} s after {CAL_WARMUP_S:g} s of warm-up: "
		f"CE {cal['ce_bytes']} B + dropped {cal['dropped_bytes']} B = "
		f"{cal['congestion_bps'] / 1e6:.2f} Mbit/s of congestion-volume at "
		f"{cal['goodput_bps'] / 1e6:.1f} Mbit/s goodput; allowance "
		f"{cal['congestion_bps'] / 1e6:.2f} / {cal['n_tenants']} = "
		f"{cal['allowance_bps'] / 1e6:.3f} Mbit/s per tenant")


# --- isolation modes ------------------------------------------------------------

class Stack:
	"""One isolation mode set up on a testbed for the given tenants.

	layout: {tenant: [guest index, ...]}, the guests (of host 1, each
	sending to the guest of the same index on host 2) a tenant's traffic
	comes from; default one guest each, tenant k on guest k. The policer
	config maps all of a tenant's guests to its one bucket.
	kinds: {tenant: kind or [kind per guest]} overrides the mode's choice
	of which guests run the marker: "conex" (the marker, classic ECN),
	"accecn" (the marker with `accecn yes`, and the receiving guest
	answering with AccECN), "lossy" (the marker, both guests tcp_ecn=0:
	Not-ECT, so the fabric drops instead of marking), "legacy" (no
	marker: through the tunnel), or a cheat policy (the marker with
	`cheat KIND`). Outside the policed modes no marker runs: a lossy guest
	is still Not-ECT there, an AccECN one is classic.
	allowances: every tenant's allowance (bit/s), or {tenant: bit/s};
	required for the policed modes (calibrate() gives the rule's).
	"""

	def __init__(self, tb, mode, tenants, rate_bps, kinds=None, allowances=None,
		     layout=None):
		if mode not in MODES:
			raise ValueError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
		self.tb, self.mode, self.tenants, self.rate_bps = tb, mode, tenants, rate_bps
		self.layout = {t: list((layout or {}).get(t, [i + 1]))
			       for i, t in enumerate(tenants)}
		self.kinds = {}		# {(tenant, guest): kind}
		for i, t in enumerate(tenants):
			if mode == "conex":
				k = "conex"
			elif mode == "mixed":
				k = "conex" if i % 2 == 0 else "legacy"
			else:
				k = "legacy"
			want = (kinds or {}).get(t, k)
			if isinstance(want, str):
				want = [want] * len(self.layout[t])
			if len(want) != len(self.layout[t]):
				raise ValueError(f"tenant {t}: {len(want)} kinds for "
						 f"{len(self.layout[t])} guests")
			for g, kk in zip(self.layout[t], want):
				self.kinds[(t, g)] = kk
		if isinstance(allowances, int):
			allowances = {t: allowances for t in tenants}
		self.allowances = dict(allowances or {})
		if self.policed and set(self.allowances) < set(tenants):
			raise ValueError("a policed stack needs every tenant's allowance "
					 "(trials.calibrate gives the rule's)")
		self.markers, self.daemons = [], []
		self.policer = self.auditor = None
		self.sanction_log = []	# the auditor's sanction lines, after stop()
		self.static_on = False
		self._tcp_saved = []	# (node, settings) to give back, last first

	def guest_index(self, t):
		"""A tenant's first guest."""
		return self.layout[t][0]

	def guests_of(self, t):
		return list(self.layout[t])

	def all_guests(self):
		return [g for t in self.tenants for g in self.layout[t]]

	def kind_label(self, t):
		"""The tenant's kinds, one per guest, joined by '+' when they differ."""
		ks = list(dict.fromkeys(self.kinds[(t, g)] for g in self.layout[t]))
		return "+".join(ks)

	@property
	def policed(self):
		return self.mode in ("conex", "tunnel", "mixed")

	def start(self):
		try:
			if self.mode == "static":
				self._static_up()
			for (t, g), k in self.kinds.items():
				if k == "lossy":
					for n in (self.tb.guest(1, g), self.tb.guest(RX_HOST, g)):
						self._set_tcp(n, ecn=0)
			if self.policed:
				for (t, g), k in self.kinds.items():
					if k == "legacy":
						continue
					snd = self.tb.guest(1, g)
					if k == "accecn":
						self.markers.append(cxm.start_marker(snd, accecn=True))
						rcv = self.tb.guest(RX_HOST, g)
						self._tcp_saved.append((rcv, self.tb.set_ecn(rcv, "accecn")))
						continue
					cfg = None if k in MARKED_KINDS else f"cheat {k}\n"
					self.markers.append(cxm.start_marker(snd, config_text=cfg))
				self._daemons_up()
		except BaseException:
			self.stop()
			raise
		return self

	def _set_tcp(self, node, **kw):
		self._tcp_saved.append((node, self.tb.tcp_settings(node)))
		self.tb.set_tcp(node, **kw)

	def _daemons_up(self):
		tb = self.tb
		tenants = {t: f"{self.allowances[t]}bit" for t in self.tenants}
		guests = {g: t for t in self.tenants for g in self.layout[t]}
		self.policer = cxp.start_policer(tb.host(1), config_text=cxp.config(
			tb, 1, tenants, guests, tunnel=True, key=KEY))
		self.daemons.append(self.policer)
		far = {f"r{t}": "10gbit" for t in self.tenants}
		self.daemons.append(cxp.start_policer(tb.host(RX_HOST), config_text=cxp.config(
			tb, RX_HOST, far, {g: f"r{t}" for g, t in guests.items()}, tunnel=True,
			key=KEY)))
		conf = "".join(f"guest g{g} {t}\n" for g, t in guests.items())
		conf += f"host_id {RX_HOST}\npeer 1 {tb.host(1).ip4} 4790 {KEY}\n"
		self.auditor = cxa.start_auditor(tb.host(RX_HOST), config_text=conf)
		self.daemons.append(self.auditor)

	def _static_up(self):
		"""HTB on host 1's uplink: a class per tenant at bottleneck / n,
		ceil the same, matching all its guests; other traffic (ND, ARP)
		in an unlimited default."""
		h, dev = self.tb.host(1), self.tb.uplink(1)
		share = self.rate_bps // len(self.tenants)
		h.run(["tc", "qdisc", "del", "dev", dev, "root"], check=False)
		h.run(["tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb",
		       "default", "99"])
		self.static_on = True
		h.run(["tc", "class", "add", "dev", dev, "parent", "1:", "classid", "1:99",
		       "htb", "rate", "10gbit"])
		for n, t in enumerate(self.tenants, 1):
			cls = f"1:{10 + n}"
			h.run(["tc", "class", "add", "dev", dev, "parent", "1:", "classid", cls,
			       "htb", "rate", f"{share}bit", "ceil", f"{share}bit"])
			for i in self.layout[t]:
				g = self.tb.guest(1, i)
				h.run(["tc", "filter", "add", "dev", dev, "parent", "1:", "protocol",
				       "ip", "prio", "1", "u32", "match", "ip", "src", f"{g.ip4}/32",
				       "flowid", cls])
				h.run(["tc", "filter", "add", "dev", dev, "parent", "1:", "protocol",
				       "ipv6", "prio", "2", "u32", "match", "ip6", "src",
				       f"{g.ip6}/128", "flowid", cls])

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
		# Settings back first: a guest whose default is cx_accecn holds
		# the AccECN marker's struct_ops (testbed.set_ecn).
		for node, st in reversed(self._tcp_saved):
			try:
				self.tb.set_tcp(node, cc=st["cc"], ecn=st["ecn"])
			except Exception as e:
				errors.append(str(e))
		self._tcp_saved = []
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
	receivers. load: {tenant: spec, or [spec per guest of the tenant]},
	spec ("tcp", flows) | ("udp", rate) | ("onoff", (size_bytes, mean_s))
	(on-off transfers, cxtb/onoff.py; completion times in fct_s) | a
	hostile flood (cxtb/flood.py) ("extchain", rate) | ("xonly", rate) |
	("vxlan", (victim tenant, rate)) (the VXLAN goes to host RX_HOST's
	underlay address, inner source the victim's sending guest, inner
	destination its receiving guest; what arrives there counts as the
	flooding tenant's goodput; sent_pkts says how many were sent); None
	leaves that guest idle. Returns per tenant goodput (b/s, summed over
	its guests), the CE its receivers counted, and, over one window
	(between the same two snapshots): what the policer charged it
	(charged_bps, from charged_bytes: marks plus tunnel feedback) and what
	the fabric saw of it (seen_bps: CE-marked plus dropped bytes of its
	guests' sources, seen_ce_bps and seen_dropped_bps apart); plus the
	policer's bucket samples.
	"""
	tb = stack.tb
	jobs = []	# (tenant, guest, kind, arg)
	for t, spec in load.items():
		specs = spec if isinstance(spec, list) else [spec]
		guests = stack.guests_of(t)
		if len(specs) > len(guests):
			raise ValueError(f"tenant {t}: {len(specs)} loads for {len(guests)} guests")
		jobs += [(t, g, sp[0], sp[1]) for g, sp in zip(guests, specs) if sp]
	res, errs = {}, {}
	before = {g: tb.guest(RX_HOST, g).nstat() for _, g, _, _ in jobs}
	e0, t0 = tb.ecnq_stats(RX_HOST), time.monotonic()
	pol0 = stack.tenant_stats()

	def go(g, kind, arg, port):
		snd, rcv = tb.guest(1, g), tb.guest(RX_HOST, g)
		addr = rcv.ip6 if family == 6 else rcv.ip4
		try:
			if kind == "udp":
				res[g] = udp_flood(snd, rcv, addr, port, seconds, rate=arg)
			elif kind in ("extchain", "xonly"):
				fam = 6 if kind == "extchain" else 4
				src, dst = ((snd.ip6, rcv.ip6) if fam == 6 else
					    (snd.ip4, rcv.ip4))
				res[g] = flood.run(snd, rcv, kind, src, dst, port, seconds,
						   parse_rate(arg), dst)
			elif kind == "vxlan":
				victim, rate = arg
				vg = stack.guest_index(victim)
				vs, vr = tb.guest(1, vg), tb.guest(RX_HOST, vg)
				res[g] = flood.run(snd, vr, kind, snd.ip4, tb.host(RX_HOST).ip4,
						   port, seconds, parse_rate(rate), vr.ip4,
						   inner_src=vs.ip4, inner_dst=vr.ip4)
			elif kind == "onoff":
				r = onoff.run(snd, rcv, addr, port, seconds, arg[0], arg[1],
					      seed=port)
				r["bits_per_second"] = 8 * r["bytes"] / seconds
				res[g] = r
			else:
				res[g] = bulk.transfer(snd, rcv, addr, seconds=seconds, flows=arg,
						       port=port)
		except Exception as e:
			errs[g] = e
	sampler = Sampler(stack) if stack.policer else None
	if sampler:
		sampler.start()
	ths = [threading.Thread(target=go, args=(g, kind, arg, BASE_PORT + n))
	       for n, (_, g, kind, arg) in enumerate(jobs)]
	for th in ths:
		th.start()
	for th in ths:
		th.join()
	samples = sampler.finish() if sampler else []
	if errs:
		g, e = next(iter(errs.items()))
		raise RuntimeError(f"guest {g}'s traffic failed: {e}")
	pol1 = stack.tenant_stats()
	e1, t1 = tb.ecnq_stats(RX_HOST), time.monotonic()
	window = t1 - t0
	out = {}
	for t in load:
		gs = [g for tt, g, _, _ in jobs if tt == t]
		row = {"goodput_bps": 0.0, "rx_ce_pkts": 0, "window_s": window}
		for g in gs:
			after = tb.guest(RX_HOST, g).nstat()
			row["rx_ce_pkts"] += sum(after.get(k, 0) - before[g].get(k, 0)
						 for k in ("IpExtInCEPkts", "Ip6InCEPkts"))
			row["goodput_bps"] += res[g]["bits_per_second"]
			if "sent_pkts" in res[g]:
				row["sent_pkts"] = row.get("sent_pkts", 0) + res[g]["sent_pkts"]
			if "fct_s" in res[g]:
				row.setdefault("fct_s", []).extend(res[g]["fct_s"])
				row["started"] = row.get("started", 0) + res[g]["started"]
				row["completed"] = row.get("completed", 0) + res[g]["completed"]
		# every guest of the tenant, idle or not: its bucket is theirs
		sw = seen(e0, e1, sources(tb, stack.guests_of(t)))
		row.update(seen_ce_bps=8 * sw["ce_bytes"] / window,
			   seen_dropped_bps=8 * sw["dropped_bytes"] / window,
			   seen_bps=8 * (sw["ce_bytes"] + sw["dropped_bytes"]) / window)
		if t in pol1:
			p0, p1 = pol0.get(t, {}), pol1[t]
			charged = p1["charged_bytes"] - p0.get("charged_bytes", 0)
			row.update(charged_bps=8 * charged / window,
				   policer_drops=p1["drops_police"] - p0.get("drops_police", 0),
				   **{f"drops_{r}": p1.get(f"drops_{r}", 0) -
				      p0.get(f"drops_{r}", 0) for r in DROP_REASONS},
				   tokens_bytes=p1["tokens_bytes"])
		out[t] = row
	fabric = {k: e1.get(k, 0) - e0.get(k, 0) for k in ("marked", "dropped")}
	return out, fabric, samples
