"""Hosts, guests and an ECN fabric made of network namespaces.

Topology (README.md has the address plan):

    h<i>g<j> eth0 ==veth== g<j> h<i> up0 ==veth== p<i> sw

Every guest has its own routed veth to its host (no bridge: the policer
identifies a tenant by the interface its packets arrive on). A host routes
between its guests and its uplink; sw routes between hosts. No namespace has a
default route: only 198.18.0.0/15 and 2001:2::/48 are routed anywhere.
"""

import atexit
import os
import secrets
import signal
import subprocess
import sys
import threading
import time

from . import counters, state

MAX_HOSTS = 99		# host number is one IPv4 octet and one decimal IPv6 group
MAX_GUESTS = 200	# guest address is 10 + j, one octet
CCS = ("reno", "cubic", "bbr")
# The AccECN congestion control a conex-marker with `accecn yes` registers
# (guest-marker/accecn.bpf.c: CUBIC asking for AccECN, RFC 9768). Linux 6.18
# negotiates AccECN only for sockets whose congestion control asks for it
# (net.ipv4.tcp_ecn stops at 2), so that is how a guest gets it.
ACCECN_CC = "cx_accecn"
# Per-guest ECN: tcp_ecn=0, tcp_ecn=1, or default congestion control cx_accecn.
ECN_MODES = ("none", "classic", "accecn")

UPLINK_IF = "up0"
GUEST_IF = "eth0"

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


_PING = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ping.py")


def ecnq_tool():
	"""Path of cx-ecnq: $CX_ECNQ, else the build tree of this checkout."""
	env = os.environ.get("CX_ECNQ")
	if env:
		return env
	return os.path.join(_REPO, "build", "testbed", "ecnq", "cx-ecnq")


def _argv(cmd):
	if isinstance(cmd, str):
		return ["sh", "-c", cmd]
	return [str(c) for c in cmd]


class Node:
	"""One namespace: a guest, a host (hypervisor) or the fabric."""

	def __init__(self, tb, kind, name, ns, ip4, ip6):
		self._tb = tb
		self.kind = kind	# "fabric", "host" or "guest"
		self.name = name
		self.ns = ns
		self.ip4 = ip4
		self.ip6 = ip6

	def __repr__(self):
		return f"Node({self.name}, ns={self.ns}, ip4={self.ip4}, ip6={self.ip6})"

	def argv(self, cmd):
		return ["ip", "netns", "exec", self.ns] + _argv(cmd)

	def run(self, cmd, check=True, timeout=60, capture=True, input=None):
		kw = {"timeout": timeout, "text": True, "input": input}
		if capture:
			kw["stdout"] = subprocess.PIPE
			kw["stderr"] = subprocess.PIPE
		cp = subprocess.run(self.argv(cmd), check=False, **kw)
		if check and cp.returncode != 0:
			err = (cp.stderr or "").strip()
			raise subprocess.CalledProcessError(
				cp.returncode, cp.args, cp.stdout,
				f"[{self.name}] {err}" if err else cp.stderr)
		return cp

	def popen(self, cmd, **kw):
		"""Start cmd in this namespace; tb.down() kills it if still running."""
		p = subprocess.Popen(self.argv(cmd), **kw)
		self._tb._track(p)
		return p

	def ping(self, addrs, count=1, timeout=1.0):
		"""Echo each address from this node: {addr: rtt_us or None}.

		The image has no iputils; ping.py does ICMP(v6) echo on raw sockets.
		"""
		if isinstance(addrs, str):
			addrs = [addrs]
		cp = self.run([sys.executable if sys.executable else "/usr/bin/python3",
			       _PING, "--count", str(count), "--timeout", str(timeout)]
			      + list(addrs), check=False, timeout=30 + count * timeout * len(addrs))
		out = {a: None for a in addrs}
		for line in cp.stdout.splitlines():
			f = line.split()
			if len(f) == 3 and f[1] == "ok":
				out[f[0]] = int(f[2])
		if cp.returncode not in (0, 1):
			raise RuntimeError(f"[{self.name}] ping: {cp.stderr.strip()}")
		return out

	def nstat(self):
		cp = self.run(counters.shell_command())
		return counters.parse_all(cp.stdout)


class Testbed:
	"""hosts x guests namespaces plus the fabric; see README.md.

	keep=True: the run outlives this process (the `tb` CLI): no atexit or
	signal teardown, and the record names no creator pid.

	wire_segments=True (default): each host's uplink segments GSO/TSO
	packets itself, as a NIC's TSO does before the wire, so the fabric
	queues, marks and drops wire-size packets. Without it the fabric sees
	64 KB GSO super-packets: the ECN queue then drops or marks up to 45
	segments at once (measured: a Not-ECT cubic flow through 100 Mbit/s kept
	only 20-29 % goodput, against 96 % with segmentation at the uplink).
	Guests keep GSO/TSO on either way. False suits throughput benchmarks
	of the guest-to-host path.

	underlay_mtu (default 1500): MTU of every host uplink and fabric port
	(both ends of the host-to-sw veths); guests keep 1500. 1600 lets a
	full-size guest packet plus 50 bytes of VXLAN cross the fabric whole.
	"""

	def __init__(self, hosts=2, guests=1, run_id=None, cc="cubic", ecn=1, keep=False,
		     wire_segments=True, underlay_mtu=1500):
		if not isinstance(hosts, int) or not 1 <= hosts <= MAX_HOSTS:
			raise ValueError(f"hosts must be 1..{MAX_HOSTS}: {hosts!r}")
		if not isinstance(guests, int) or not 1 <= guests <= MAX_GUESTS:
			raise ValueError(f"guests must be 1..{MAX_GUESTS}: {guests!r}")
		if cc not in CCS:
			raise ValueError(f"cc must be one of {', '.join(CCS)}: {cc!r}")
		if ecn not in (0, 1, 2):
			raise ValueError(f"ecn must be 0, 1 or 2: {ecn!r}")
		if run_id is not None and not state.RUN_ID_RE.match(run_id):
			raise ValueError(f"run_id must be 4-8 lowercase hex digits: {run_id!r}")
		if not isinstance(underlay_mtu, int) or not 1280 <= underlay_mtu <= 9000:
			raise ValueError(f"underlay_mtu must be 1280..9000: {underlay_mtu!r}")
		self.hosts = hosts
		self.guests = guests
		self.cc = cc
		self.ecn = ecn
		self.keep = keep
		self.wire_segments = bool(wire_segments)
		self.underlay_mtu = underlay_mtu
		self.run_id = run_id
		self.is_up = False
		self._pid = os.getpid()
		self._procs = []
		self._lock = threading.Lock()
		self._nodes = {}
		if run_id is not None:
			self._make_nodes()

	# --- names and addresses -------------------------------------------

	def _make_nodes(self):
		rid = self.run_id
		self._nodes = {}
		self.fabric = Node(self, "fabric", "sw", f"cx{rid}sw", None, None)
		for i in range(1, self.hosts + 1):
			self._nodes[(i, 0)] = Node(self, "host", f"h{i}", f"cx{rid}h{i}",
						   f"198.19.{i}.2", f"2001:2:0:{100 + i}::2")
			for j in range(1, self.guests + 1):
				self._nodes[(i, j)] = Node(self, "guest", f"h{i}g{j}", f"cx{rid}h{i}g{j}",
							   f"198.18.{i}.{10 + j}",
							   f"2001:2:0:{i}::{10 + j}")

	def _check(self, i, j=None):
		if not 1 <= i <= self.hosts:
			raise IndexError(f"host {i} not in 1..{self.hosts}")
		if j is not None and not 1 <= j <= self.guests:
			raise IndexError(f"guest {j} not in 1..{self.guests}")

	def host(self, i):
		self._check(i)
		return self._nodes[(i, 0)]

	def guest(self, i, j):
		self._check(i, j)
		return self._nodes[(i, j)]

	def all_guests(self):
		return [self._nodes[(i, j)] for i in range(1, self.hosts + 1)
			for j in range(1, self.guests + 1)]

	def all_nodes(self):
		return [self.fabric] + [self._nodes[k] for k in sorted(self._nodes)]

	def namespaces(self):
		return [n.ns for n in self.all_nodes()]

	def uplink(self, i):
		self._check(i)
		return UPLINK_IF

	def port(self, i):
		self._check(i)
		return f"p{i}"

	def guest_if(self, i, j):
		self._check(i, j)
		return f"g{j}"

	# --- lifecycle -----------------------------------------------------

	def __enter__(self):
		self.up()
		return self

	def __exit__(self, *exc):
		self.down()
		return False

	def _new_id(self):
		for _ in range(64):
			rid = secrets.token_hex(3)
			if state.read_record(rid) is None and not state.our_netns(rid):
				return rid
		raise RuntimeError("no free run id")

	def _record(self):
		return {
			"id": self.run_id,
			"pid": None if self.keep else self._pid,
			"pid_start": None if self.keep else state.proc_start_ticks(self._pid),
			"created": time.time(),
			"hosts": self.hosts,
			"guests": self.guests,
			"cc": self.cc,
			"ecn": self.ecn,
			"namespaces": self.namespaces(),
		}

	def up(self):
		if self.is_up:
			return self
		if os.geteuid() != 0:
			raise PermissionError("the testbed needs root (network namespaces)")
		state.reap()
		if self.run_id is None:
			self.run_id = self._new_id()
		elif state.read_record(self.run_id) is not None or state.our_netns(self.run_id):
			raise FileExistsError(f"testbed {self.run_id} already exists")
		self._make_nodes()
		state.write_record(self._record())
		if not self.keep:
			_register(self)
		try:
			self._build()
		except BaseException:
			self._teardown()
			raise
		self.is_up = True
		return self

	def down(self):
		"""Kill what runs inside, delete the namespaces and the record."""
		if os.getpid() != self._pid:
			return	# a forked child must not tear down its parent's testbed
		if self.run_id is None:
			return
		self._teardown()
		self.is_up = False

	def _teardown(self):
		with self._lock:
			procs, self._procs = self._procs, []
		for p in procs:
			if p.poll() is None:
				p.kill()
		for p in procs:
			try:
				p.wait(timeout=5)
			except subprocess.TimeoutExpired:
				pass
		stuck = state.teardown(self.run_id, self.namespaces())
		_unregister(self)
		if stuck:
			raise RuntimeError(f"processes would not die: {stuck}")

	def _track(self, p):
		with self._lock:
			self._procs = [q for q in self._procs if q.poll() is None]
			self._procs.append(p)

	# --- building ------------------------------------------------------

	def _build(self):
		rid = self.run_id
		allow_cc(self.cc)
		nss = self.namespaces()
		_ip_batch(None, [f"netns add {ns}" for ns in nss])

		# sysctls before any interface exists, so the "default" values
		# (no DAD, no RS, no rp_filter) are what the new interfaces get.
		common = ["net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
			  "net.ipv6.conf.all.router_solicitations=0",
			  "net.ipv6.conf.default.router_solicitations=0",
			  "net.ipv6.conf.all.accept_ra=0", "net.ipv6.conf.default.accept_ra=0",
			  "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"]
		router = ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
			  "net.ipv6.conf.default.forwarding=1"]
		guest = [f"net.ipv4.tcp_congestion_control={self.cc}",
			 f"net.ipv4.tcp_ecn={self.ecn}"]
		jobs = []
		for n in self.all_nodes():
			extra = guest if n.kind == "guest" else router
			jobs.append(n.argv(["sysctl", "-qw"] + common + extra))
		_run_parallel(jobs)

		veths = []
		for i in range(1, self.hosts + 1):
			h = f"cx{rid}h{i}"
			veths.append(f"link add name {UPLINK_IF} netns {h} type veth "
				     f"peer name p{i} netns cx{rid}sw")
			for j in range(1, self.guests + 1):
				veths.append(f"link add name g{j} netns {h} type veth "
					     f"peer name {GUEST_IF} netns cx{rid}h{i}g{j}")
		_ip_batch(None, veths)

		batches = {self.fabric.ns: self._sw_batch()}
		for i in range(1, self.hosts + 1):
			batches[self.host(i).ns] = self._host_batch(i)
			for j in range(1, self.guests + 1):
				batches[self.guest(i, j).ns] = self._guest_batch(i, j)
		_run_parallel([["ip", "-n", ns, "-batch", "-"] for ns in batches],
			      ["".join(c + "\n" for c in b) for b in batches.values()])
		if self.wire_segments:
			_run_parallel([self.host(i).argv(["ethtool", "-K", UPLINK_IF, "tso", "off",
							  "gso", "off"])
				       for i in range(1, self.hosts + 1)])

	def _sw_batch(self):
		cmds = ["link set lo up"]
		for i in range(1, self.hosts + 1):
			p = f"p{i}"
			cmds += [f"link set {p} mtu {self.underlay_mtu} up",
				 f"addr add 198.19.{i}.1/24 dev {p}",
				 f"addr add 2001:2:0:{100 + i}::1/64 dev {p} nodad",
				 f"route add 198.18.{i}.0/24 via 198.19.{i}.2 dev {p}",
				 f"route add 2001:2:0:{i}::/64 via 2001:2:0:{100 + i}::2 dev {p}"]
		return cmds

	def _host_batch(self, i):
		u = UPLINK_IF
		cmds = ["link set lo up", f"link set {u} mtu {self.underlay_mtu} up",
			f"addr add 198.19.{i}.2/24 dev {u}",
			f"addr add 2001:2:0:{100 + i}::2/64 dev {u} nodad",
			f"route add 198.18.0.0/15 via 198.19.{i}.1 dev {u}",
			f"route add 2001:2::/48 via 2001:2:0:{100 + i}::1 dev {u}"]
		for j in range(1, self.guests + 1):
			g = f"g{j}"
			cmds += [f"link set {g} up",
				 f"addr add 198.18.{i}.1/32 dev {g}",
				 f"addr add fe80::1/64 dev {g} nodad",
				 f"route add 198.18.{i}.{10 + j}/32 dev {g} scope link src 198.18.{i}.1",
				 f"route add 2001:2:0:{i}::{10 + j}/128 dev {g}"]
		return cmds

	def _guest_batch(self, i, j):
		e = GUEST_IF
		return ["link set lo up", f"link set {e} up",
			f"addr add 198.18.{i}.{10 + j}/32 dev {e}",
			f"addr add 2001:2:0:{i}::{10 + j}/128 dev {e} nodad",
			f"route add 198.18.{i}.1/32 dev {e} scope link",
			f"route add 198.18.0.0/15 via 198.18.{i}.1 dev {e} src 198.18.{i}.{10 + j}",
			f"route add 2001:2::/48 via fe80::1 dev {e} src 2001:2:0:{i}::{10 + j}"]

	# --- per-guest TCP -------------------------------------------------

	def set_tcp(self, node, cc=None, ecn=None):
		"""node's default congestion control (one of CCS, or ACCECN_CC
		while a marker has it registered) and net.ipv4.tcp_ecn."""
		kv = []
		if cc is not None:
			if cc == ACCECN_CC:
				_need_accecn_cc()
			elif cc not in CCS:
				raise ValueError(f"cc must be one of {', '.join(CCS)} or "
						 f"{ACCECN_CC}: {cc!r}")
			kv.append(f"net.ipv4.tcp_congestion_control={cc}")
		if ecn is not None:
			if ecn not in (0, 1, 2):
				raise ValueError(f"ecn must be 0, 1 or 2: {ecn!r}")
			kv.append(f"net.ipv4.tcp_ecn={ecn}")
		if kv:
			if cc is not None and cc != ACCECN_CC:
				allow_cc(cc)
			node.run(["sysctl", "-qw"] + kv)

	def set_ecn(self, node, mode):
		"""Run node's new TCP connections with ECN mode "none" (tcp_ecn=0),
		"classic" (tcp_ecn=1, RFC 3168) or "accecn" (RFC 9768: default
		congestion control cx_accecn, which both asks for AccECN and
		accepts it on listeners).

		"accecn" needs cx_accecn registered on this kernel: a conex-marker
		started with accecn=True (cxtb.marker.start_marker) in one guest
		registers it for every namespace, and makes its own guest AccECN
		by itself. Any guest may then join with set_ecn(guest, "accecn"),
		e.g. the receiver, so that it answers with AccECN. Give such a
		guest its settings back (set_tcp(node, **returned)) before that
		marker stops: a namespace whose default is cx_accecn holds the
		struct_ops, which would outlive the marker. "none" and "classic"
		give a guest whose default is cx_accecn the testbed's cc back.

		Returns the settings before (tcp_settings(node)).
		"""
		if mode not in ECN_MODES:
			raise ValueError(f"mode must be one of {', '.join(ECN_MODES)}: {mode!r}")
		before = self.tcp_settings(node)
		if mode == "accecn":
			self.set_tcp(node, cc=ACCECN_CC)
		else:
			cc = self.cc if before["cc"] == ACCECN_CC else None
			self.set_tcp(node, cc=cc, ecn=1 if mode == "classic" else 0)
		return before

	def tcp_settings(self, node):
		cp = node.run(["sysctl", "-n", "net.ipv4.tcp_congestion_control",
			       "net.ipv4.tcp_ecn"])
		cc, ecn = cp.stdout.split()
		return {"cc": cc, "ecn": int(ecn)}

	# --- bottleneck and ECN queue ---------------------------------------

	DEFAULT_MARK_BYTES = 64 * 1024
	DEFAULT_LIMIT_BYTES = 512 * 1024

	def bottleneck(self, i, rate_bps, ecnq=True, mark_bytes=None, limit_bytes=None,
		       drain_pct=100):
		"""HTB at rate_bps on sw's port towards host i, a bfifo below it,
		and (ecnq) the ECN-marking virtual queue on the port's clsact egress.

		The bfifo holds twice the ECN queue's limit, so with the ECN queue
		attached the virtual queue decides every drop; without it the bfifo
		is a plain tail-drop buffer of limit_bytes.
		"""
		self._check(i)
		if not isinstance(rate_bps, int) or rate_bps <= 0:
			raise ValueError(f"rate_bps must be a positive int: {rate_bps!r}")
		mark = self.DEFAULT_MARK_BYTES if mark_bytes is None else int(mark_bytes)
		limit = self.DEFAULT_LIMIT_BYTES if limit_bytes is None else int(limit_bytes)
		if mark <= 0 or limit <= mark:
			raise ValueError(f"need 0 < mark_bytes < limit_bytes: {mark}, {limit}")
		p = self.port(i)
		fifo = 2 * limit if ecnq else limit
		# 5 ms of tokens (at least 16 KiB): HTB's default burst is about one
		# packet, so a dequeue delayed by a busy CPU was lost link time
		# (goodput fell to 86 % under load); with a burst HTB catches up.
		# The ECN queue is told the same burst: HTB sends that much ahead of
		# its rate after a lull, so the real backlog is the virtual one minus
		# the burst (else it marked 90-99 % of packets of an empty queue).
		burst = max(16 * 1024, rate_bps // 8 // 200)
		sw = self.fabric
		# A fresh HTB each time: replacing an existing HTB root fails (EOPNOTSUPP).
		sw.run(["tc", "qdisc", "del", "dev", p, "root"], check=False)
		sw.run(["tc", "qdisc", "add", "dev", p, "root", "handle", "1:", "htb",
			"default", "1"])
		sw.run(["tc", "class", "add", "dev", p, "parent", "1:", "classid", "1:1",
			"htb", "rate", f"{rate_bps}bit", "ceil", f"{rate_bps}bit",
			"burst", str(burst), "cburst", str(burst), "quantum", "1514"])
		sw.run(["tc", "qdisc", "add", "dev", p, "parent", "1:1", "handle", "10:",
			"bfifo", "limit", str(fifo)])
		if ecnq:
			sw.run([ecnq_tool(), "attach", "--dev", p, "--rate", f"{rate_bps}bit",
				"--mark-bytes", str(mark), "--limit-bytes", str(limit),
				"--burst-bytes", str(burst), "--drain-pct", str(drain_pct)])
		else:
			self._ecnq_detach(i)

	def clear_bottleneck(self, i):
		self._check(i)
		self._ecnq_detach(i)
		self.fabric.run(["tc", "qdisc", "del", "dev", self.port(i), "root"], check=False)

	def _ecnq_detach(self, i):
		cp = self.fabric.run([ecnq_tool(), "detach", "--dev", self.port(i)], check=False)
		if cp.returncode not in (0, 3):
			raise subprocess.CalledProcessError(cp.returncode, cp.args, cp.stdout,
							    cp.stderr)

	def ecnq_stats(self, i):
		import json
		self._check(i)
		cp = self.fabric.run([ecnq_tool(), "stats", "--dev", self.port(i), "--json"])
		return json.loads(cp.stdout)

	def qdisc_stats(self, i):
		"""tc -s output of the bottleneck port, as text."""
		self._check(i)
		return self.fabric.run(["tc", "-s", "qdisc", "show", "dev", self.port(i)]).stdout

	@classmethod
	def attach(cls, run_id):
		"""A Testbed object for an existing run (e.g. made by `tb up`).

		Its down() removes the run; it never registers exit handlers.
		"""
		rec = state.read_record(run_id)
		if rec is None:
			raise FileNotFoundError(f"no testbed {run_id}")
		tb = cls(hosts=rec["hosts"], guests=rec["guests"], run_id=run_id,
			 cc=rec.get("cc", "cubic"), ecn=rec.get("ecn", 1), keep=True)
		tb.is_up = True
		return tb


# --- helpers ---------------------------------------------------------------

_ALLOWED_CC = "/proc/sys/net/ipv4/tcp_allowed_congestion_control"
_AVAILABLE_CC = "/proc/sys/net/ipv4/tcp_available_congestion_control"


def accecn_registered():
	"""True while cx_accecn is registered on this kernel (by a marker)."""
	with open(_AVAILABLE_CC) as f:
		return ACCECN_CC in f.read().split()


def _need_accecn_cc():
	if not accecn_registered():
		raise RuntimeError(f"{ACCECN_CC} is not registered on this kernel: start "
				   f"a conex-marker with accecn yes first "
				   f"(cxtb.marker.start_marker(node, accecn=True))")


def allow_cc(cc):
	"""Make cc selectable as a namespace's default.

	Outside the initial namespace the kernel lets net.ipv4.tcp_congestion_control
	name only an algorithm listed in tcp_allowed_congestion_control (else
	EPERM; tcp_set_default_congestion_control). That list is global, not per
	namespace: this appends cc to it once, and says so on stderr.
	"""
	with open(_ALLOWED_CC) as f:
		allowed = f.read().split()
	if cc in allowed:
		return
	with open(_ALLOWED_CC, "w") as f:
		f.write(" ".join(allowed + [cc]))
	sys.stderr.write(f"cxtb: added {cc} to net.ipv4.tcp_allowed_congestion_control "
			 f"(global) so that guests may default to it\n")


def _ip_batch(ns, cmds):
	argv = ["ip"] + (["-n", ns] if ns else []) + ["-batch", "-"]
	cp = subprocess.run(argv, input="".join(c + "\n" for c in cmds), text=True,
			    stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
	if cp.returncode != 0:
		raise RuntimeError(f"{' '.join(argv)}: {cp.stderr.strip()}")


def _run_parallel(argvs, inputs=None):
	procs = []
	try:
		for k, a in enumerate(argvs):
			procs.append(subprocess.Popen(a, stdin=subprocess.PIPE if inputs else None,
						      stdout=subprocess.PIPE,
						      stderr=subprocess.PIPE, text=True))
		errs = []
		for k, p in enumerate(procs):
			out, err = p.communicate(inputs[k] if inputs else None, timeout=30)
			if p.returncode != 0:
				errs.append(f"{' '.join(argvs[k])}: {err.strip()}")
		if errs:
			raise RuntimeError("; ".join(errs))
	finally:
		for p in procs:
			if p.poll() is None:
				p.kill()
				p.wait()


# --- process-wide cleanup: atexit and SIGTERM/SIGINT -------------------------

_live = {}
_live_lock = threading.Lock()
_handlers_installed = False
_prev_handlers = {}


def _register(tb):
	global _handlers_installed
	with _live_lock:
		_live[tb.run_id] = tb
		if _handlers_installed:
			return
		_handlers_installed = True
	atexit.register(_cleanup_all)
	if threading.current_thread() is threading.main_thread():
		for sig in (signal.SIGTERM, signal.SIGINT):
			_prev_handlers[sig] = signal.signal(sig, _on_signal)


def _unregister(tb):
	with _live_lock:
		if _live.get(tb.run_id) is tb:
			del _live[tb.run_id]


def _cleanup_all():
	with _live_lock:
		tbs = list(_live.values())
	for tb in tbs:
		try:
			tb.down()
		except Exception:
			pass


def _on_signal(sig, frame):
	_cleanup_all()
	prev = _prev_handlers.get(sig)
	if callable(prev):
		prev(sig, frame)
	elif prev == signal.SIG_IGN:
		return
	else:
		signal.signal(sig, signal.SIG_DFL)
		os.kill(os.getpid(), sig)
