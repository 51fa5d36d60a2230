"""A hostile tenant, end to end (issue "No escape"): each test runs one
attack from a guest on the project's two-host testbed and asserts that it
gains nothing (what it sends is dropped or charged, never passed free),
that the attack is counted where an operator looks (the daemons' stats),
and that an honest packet of the same shape still gets through, so that
each check can fail.

Testbed: 2 hosts x 2 guests, underlay MTU 1600. Tenant ta is guest 1 of
h1, tb guest 2; the policer runs in h1 (and in h2 as the tunnel's far
end), the auditor in h2.
"""
import os
import signal
import textwrap
import time

import pytest

from conftest import install_root_or_skip, running_testbed, stop_running
from cxtb import auditor as cxa
from cxtb import bulk
from cxtb import marker as cxm
from cxtb import policer as cxp

KEY = "6b" * 32
VNI = 4242		# the policer's default (conex-policer.conf(5))
VXLAN_PORT = 4789
N = 5


@pytest.fixture(scope="module")
def root(netns_ok):
	return install_root_or_skip(
		progs=("conex-policer", "conex-auditor"),
		tools=("tcpdump", "iptables", "ip6tables", "nft"))


@pytest.fixture(scope="module")
def bed(root):
	with running_testbed(hosts=2, guests=2, cc="cubic", ecn=1,
			     underlay_mtu=1600) as tb:
		yield tb


@pytest.fixture
def stack(bed):
	"""start(policer=True, auditor=True, tunnel=True): h1's policer (ta,
	tb), h2's policer (the tunnel's far end) and h2's auditor. Everything
	is stopped and cleaned up afterwards."""
	started = []

	def start(policer=True, auditor=True, tunnel=True):
		p1 = a2 = None
		if policer:
			p1 = cxp.start_policer(bed.host(1), config_text=cxp.config(
				bed, 1, {"ta": "1mbit", "tb": "1mbit"}, {1: "ta", 2: "tb"},
				tunnel=tunnel, key=KEY))
			started.append(p1)
		if tunnel:
			started.append(cxp.start_policer(bed.host(2), config_text=cxp.config(
				bed, 2, {"ra": "1gbit", "rb": "1gbit"}, {1: "ra", 2: "rb"},
				tunnel=True, key=KEY)))
		if auditor:
			a2 = cxa.start_auditor(bed.host(2), config_text=(
				"guest g1 ra\nguest g2 rb\n"
				f"host_id 2\npeer 1 {bed.host(1).ip4} 4790 {KEY}\n"))
			started.append(a2)
		return p1, a2

	yield start
	stop_running(*reversed(started))
	for h in (1, 2):
		cxp.run_policer(bed.host(h), ["--cleanup"])
		assert cxp.leftovers(bed.host(h)) == []
		cxa.run_auditor(bed.host(h), ["--cleanup"])


def received(bed, node, dev, send, bpf):
	"""Packets matching the tcpdump filter bpf on node's dev while send()
	runs."""
	path = f"/tmp/cx-hostile-{bed.run_id}-{node.name}.pcap"
	cap = cxm.capture(node, dev, path)
	try:
		send()
		time.sleep(1.0)
	finally:
		cap.stop()
	got = node.run(["tcpdump", "-n", "-r", path, bpf], check=False)
	os.unlink(path)
	return [l for l in got.stdout.splitlines() if l.strip()]


def scapy(node, script, *args):
	cp = node.run(["/usr/bin/python3", "-c", textwrap.dedent(script)] +
		      [str(a) for a in args], check=False, timeout=60)
	assert cp.returncode == 0, cp.stderr


# Attack 1: IPv6 extension chains longer than the daemons read.
EXT_CHAIN = """\
	import sys
	from scapy.all import (IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop, PadN,
			       UDP, Raw, send, conf)
	conf.verb = 0
	src, dst, n, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
	if kind == "long":	# one 128-octet Destination Options header
		ext = IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\\0" * 124)])
	elif kind == "many":	# nine Destination Options headers
		ext = IPv6ExtHdrDestOpt()
		for _ in range(8):
			ext = ext / IPv6ExtHdrDestOpt()
	else:			# an honest packet of the same flow
		ext = None
	for i in range(n):
		p = IPv6(src=src, dst=dst)
		if ext is not None:
			p = p / ext
		send(p / UDP(sport=41000, dport=41001) / Raw(b"x" * 200))
	"""


@pytest.mark.parametrize("kind", ["long", "many"])
def test_long_extension_chain_not_passed(bed, stack, kind):
	snd, rcv = bed.guest(1, 1), bed.guest(2, 1)
	p1, a2 = stack(tunnel=False)

	def send(k):
		return lambda: scapy(snd, EXT_CHAIN, snd.ip6, rcv.ip6, N, k)

	honest = received(bed, rcv, "eth0", send("plain"), "udp port 41001")
	assert len(honest) == N, honest
	got = received(bed, rcv, "eth0", send(kind), "udp port 41001")
	assert got == [], got
	ta = p1.tenant("ta")
	assert ta["drops_unreadable"] == N, ta
	assert p1.stats()["parse_errors"] == N


def test_long_extension_chain_refused_by_auditor(bed, stack):
	"""With no policer in front (a host without one, or one that failed
	open), the auditor still does not pass what it cannot read."""
	snd, rcv = bed.guest(1, 1), bed.guest(2, 1)
	_, a2 = stack(policer=False, tunnel=False)
	got = received(bed, rcv, "eth0",
		       lambda: scapy(snd, EXT_CHAIN, snd.ip6, rcv.ip6, N, "long"),
		       "udp port 41001")
	assert got == [], got
	assert a2.stats()["parse_errors"] == N


# Attack 2: a guest's own VXLAN to another host's underlay address, with
# an inner source of another tenant's guest.
VXLAN = """\
	import sys
	from scapy.all import IP, UDP, VXLAN, Ether, Raw, send, conf
	conf.verb = 0
	src, under, inner_src, inner_dst, vni, n = sys.argv[1:7]
	for i in range(int(n)):
		send(IP(src=src, dst=under) / UDP(sport=42000, dport=%d) /
		     VXLAN(vni=int(vni)) / Ether() /
		     IP(src=inner_src, dst=inner_dst) / UDP(sport=42001, dport=42002) /
		     Raw(b"v" * 200))
	""" % VXLAN_PORT


def test_guest_vxlan_to_underlay_dropped(bed, stack):
	snd, victim, dst = bed.guest(1, 1), bed.guest(1, 2), bed.guest(2, 2)
	p1, a2 = stack()

	def send():
		scapy(snd, VXLAN, snd.ip4, bed.host(2).ip4, victim.ip4, dst.ip4, VNI, N)

	got = received(bed, dst, "eth0", send, "udp port 42002")
	assert got == [], got
	ta, tb = p1.tenant("ta"), p1.tenant("tb")
	assert ta["drops_protected"] == N, ta
	assert tb["packets"] == 0, tb


def test_foreign_vxlan_refused_by_auditor(bed, stack):
	"""The same VXLAN with h1's policer absent: h2's auditor takes tunnel
	traffic only from its configured peers, so the inner packet is never
	decapsulated and delivered unaudited."""
	snd, victim, dst = bed.guest(1, 1), bed.guest(1, 2), bed.guest(2, 2)
	_, a2 = stack(policer=False)

	def send():
		scapy(snd, VXLAN, snd.ip4, bed.host(2).ip4, victim.ip4, dst.ip4, VNI, N)

	got = received(bed, dst, "eth0", send, "udp port 42002")
	assert got == [], got
	st = a2.stats()
	assert st["tunnel_refused"] == N and st["tunnel_unknown_peer"] == N, st


# Attack 9: the queue overflows while the daemon stalls, and fail-open
# passes the rest: that must show. A stopped daemon reads nothing, so the
# kernel holds at most the queue's length (16384) and passes the rest.
FLOOD = """\
	import socket, sys
	dst, n = sys.argv[1], int(sys.argv[2])
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	for i in range(n):
		try:
			s.sendto(b"f" * 16, (dst, 43001))
		except OSError:
			pass
	"""
QUEUE_LEN = 16384	# CXD_NFQ_MAXLEN_DEFAULT
FLOOD_N = 40000


def stalled_flood(bed, daemon):
	snd, rcv = bed.guest(1, 1), bed.guest(2, 1)
	daemon.proc.send_signal(signal.SIGSTOP)
	try:
		scapy(snd, FLOOD, rcv.ip4, FLOOD_N)
	finally:
		daemon.proc.send_signal(signal.SIGCONT)
	time.sleep(2.0)	# the queued packets get their verdicts
	return daemon.stats()


@pytest.mark.parametrize("who", ["policer", "auditor"])
def test_queue_overflow_counted(bed, stack, who):
	p1, a2 = stack(policer=who == "policer", auditor=who == "auditor",
		       tunnel=False)
	d = p1 if who == "policer" else a2
	before = d.stats()
	assert before["nfq_bypassed"] == 0, before
	st = stalled_flood(bed, d)
	queued = st["nfq_queued"] - before["nfq_queued"]
	got = st["nfq_packets"] - before["nfq_packets"]
	info = {k: st[k] for k in ("nfq_queued", "nfq_packets", "nfq_bypassed")}
	# Every flood packet hit the rule; at most a queue's worth reached the
	# daemon; the rest is reported as passed without it.
	assert queued >= FLOOD_N, info
	assert got <= QUEUE_LEN + 64, info
	assert st["nfq_bypassed"] == st["nfq_queued"] - st["nfq_packets"], info
	assert st["nfq_bypassed"] >= FLOOD_N - QUEUE_LEN - 64, info


# Attack 10: a restart refilled every bucket. A tenant that drove itself
# into debt (a marker that marks everything) is still in debt after the
# policer restarts, less what the gap refilled: 80 kbit/s is 10 kB/s, so
# a few seconds cannot refill a 100 kB debt.
def test_restart_keeps_debt(bed, tmp_path):
	snd, rcv = bed.guest(1, 1), bed.guest(2, 1)
	state = tmp_path / "policer.state"
	conf = cxp.config(bed, 1, {"ta": ("80kbit", "burst 100k"), "tb": "1mbit"},
			  {1: "ta", 2: "tb"}) + f"state_file {state}\n"
	p = cxp.start_policer(bed.host(1), config_text=conf)
	try:
		m = cxm.start_marker(snd, config_text="cheat markall\n")
		try:
			bulk.transfer(snd, rcv, rcv.ip4, seconds=1)
		finally:
			m.stop()
		before = p.tenant("ta")
	finally:
		stop_running(p)
	assert before["tokens_bytes"] < -90_000, before
	t0 = time.monotonic()
	p = cxp.start_policer(bed.host(1), config_text=conf)
	try:
		after = p.tenant("ta")
		gap = time.monotonic() - t0 + 1.0
		st = p.stats()
	finally:
		stop_running(p)
	info = {"before": before["tokens_bytes"], "after": after["tokens_bytes"],
		"gap_s": gap, "state_saves": st["state_saves"]}
	assert after["tokens_bytes"] <= before["tokens_bytes"] + 10_000 * gap, info
	assert after["tokens_bytes"] < 0 and after["over"] == 1, info
	assert cxp.leftovers(bed.host(1)) == []


def test_underlay_closed_while_policer_dead(bed, stack):
	"""Killed (SIGKILL: its hooks stay, and fail-open passes the queue),
	the policer still keeps guests off the underlay: the kernel rules of
	table inet conex_protect drop what its verdict no longer can."""
	snd, victim, dst = bed.guest(1, 1), bed.guest(1, 2), bed.guest(2, 2)
	p1, _ = stack(auditor=False)
	p1.kill()
	try:
		def send():
			scapy(snd, VXLAN, snd.ip4, bed.host(2).ip4, victim.ip4, dst.ip4,
			      VNI, N)

		got = received(bed, bed.host(2), "any", send, f"udp port {VXLAN_PORT} "
			       f"and src host {snd.ip4}")
		prot = bed.host(1).run(["nft", "list", "table", "inet",
					"conex_protect"]).stdout
	finally:
		cxp.run_policer(bed.host(1), ["--cleanup"])
	assert got == [], got
	assert f"counter packets {N} " in prot, prot


# Attack 10 at the auditor: a restart forgot every debt. A sender whose
# marker declares nothing (cheat nomark) through an ECN bottleneck runs
# into debt at h2's auditor; the debt is still there after a restart.
def test_auditor_restart_keeps_debt(bed, tmp_path, ecnq_tool):
	snd, rcv = bed.guest(1, 1), bed.guest(2, 1)
	state = tmp_path / "auditor.state"
	conf = ("guest g1 ra\nguest g2 rb\n"
		f"host_id 2\npeer 1 {bed.host(1).ip4} 4790 {KEY}\nstate_file {state}\n")
	bed.bottleneck(2, 100_000_000)
	try:
		a = cxa.start_auditor(bed.host(2), config_text=conf)
		try:
			m = cxm.start_marker(snd, config_text="cheat nomark\n")
			try:
				bulk.transfer(snd, rcv, rcv.ip4, seconds=2)
			finally:
				m.stop()
			before = a.stats()
		finally:
			stop_running(a)
		a = cxa.start_auditor(bed.host(2), config_text=conf)
		try:
			after = a.stats()
		finally:
			log = a.stop()
	finally:
		bed.clear_bottleneck(2)
	info = {k: (before[k], after[k]) for k in ("sources_in_debt", "sources_debt_bytes")}
	assert before["sources_in_debt"] >= 1 and before["sources_debt_bytes"] > 0, info
	assert after["sources_in_debt"] == before["sources_in_debt"], info
	assert after["sources_debt_bytes"] == before["sources_debt_bytes"], info
	assert "source debt(s) restored" in log, log
	assert cxa.rules(bed.host(2)) == []
