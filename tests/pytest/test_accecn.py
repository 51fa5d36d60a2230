"""AccECN (RFC 9768) for guests through conex-marker's `accecn yes`
(conex-marker.conf(5)), run from the installed layout in the testbed.

Linux 6.18 negotiates AccECN only for a socket whose congestion control has
TCP_CONG_NEEDS_ACCECN (net.ipv4.tcp_ecn stops at 2). With `accecn yes` the
marker registers cx_accecn (guest-marker/accecn.bpf.c: the kernel's CUBIC
through kfuncs, flags NEEDS_ECN | NEEDS_ACCECN | NON_RESTRICTED) through a
struct_ops link and makes it its namespace's default until it exits.

h1g1 (the marker, accecn yes) sends to h2g1 through the 100 Mbit/s ECN
bottleneck on sw's port to h2. The registration is kernel-wide, so h2g1 joins
with tb.set_ecn(h2g1, "accecn") and its listener answers with AccECN. h2's g1
is captured and decoded by tshark: the SYN asks for AccECN (AE, CWR and ECE
set), the SYN-ACK's ACE reflects the SYN's IP-ECN field (RFC 9768 Table 2),
the receiver's ACKs carry TCP option 174 (AccECN1: EE1B, ECEB, EE0B) whose
ECEB is the CE payload bytes it received and whose ACE is (CE packets + 5)
mod 8. After the marker stops, the namespace's default congestion control
is what it was and the struct_ops is gone. `accecn no` (the default)
changes nothing.
"""
import json
import os
import re
import subprocess
import time

import pytest

import cxtb
from conftest import install_root_or_skip, running_testbed
from cxtb import marker as cxm

RATE_BPS = 100_000_000
SECONDS = 4
ACC = cxtb.ACCECN_CC
# RFC 9768 Table 2: the SYN-ACK's ACE (AE CWR ECE) for the SYN's IP-ECN field.
SYNACK_ACE = {0: 0b010, 1: 0b011, 2: 0b100, 3: 0b110}
ACE_INIT = 5		# the ACE field's initial value (RFC 9768 §3.2.2.1)
COUNTER_MOD = 1 << 24	# AccECN option byte counters are 24 bits
GONE_TIMEOUT_S = 5.0	# the kernel frees a struct_ops map after an RCU grace period


@pytest.fixture(scope="module")
def root(netns_ok):
	return install_root_or_skip(progs=("conex-marker",),
				    tools=("tcpdump", "tshark", "bpftool"),
				    what="conex-marker cannot be built and installed",
				    notes={"conex-marker": "guest-marker/build.mk missing?"})


@pytest.fixture(scope="module")
def accecn_kernel(root):
	"""Skip where the kernel cannot run cx_accecn: before Linux 6.18 (no
	TCP_CONG_NEEDS_ACCECN), or without CUBIC built in (its functions are
	the kfuncs cx_accecn calls). Skip too if cx_accecn is registered
	already: one marker per kernel may hold it."""
	m = re.match(r"(\d+)\.(\d+)", os.uname().release)
	if not m or (int(m.group(1)), int(m.group(2))) < (6, 18):
		pytest.skip(f"SKIP: kernel {os.uname().release}: AccECN congestion "
			    f"controls need Linux 6.18")
	with open("/proc/kallsyms") as f:
		if not any(l.split()[2:3] == ["cubictcp_init"] for l in f):
			pytest.skip("SKIP: kernel without CUBIC built in (cubictcp_init)")
	if cxtb.accecn_registered():
		pytest.skip(f"SKIP: {ACC} is registered already (a conex-marker with "
			    f"accecn yes runs on this machine)")
	return True


@pytest.fixture(scope="module")
def bed(root, ecnq_tool, iperf3_ok):
	with running_testbed(hosts=2, guests=1, cc="cubic", ecn=1,
			     bottleneck=(2, RATE_BPS)) as tb:
		yield tb


@pytest.fixture
def pair(bed):
	"""(sender h1g1, receiver h2g1); their TCP settings are checked and
	given back after the test."""
	snd, rcv = bed.guest(1, 1), bed.guest(2, 1)
	before = {n.name: bed.tcp_settings(n) for n in (snd, rcv)}
	yield snd, rcv
	for n in (snd, rcv):
		if bed.tcp_settings(n) != before[n.name]:
			bed.set_tcp(n, **before[n.name])


def struct_ops_names():
	"""Names of the struct_ops maps on this kernel (bpftool, global)."""
	cp = subprocess.run(["bpftool", "-j", "struct_ops", "list"], capture_output=True,
			    text=True, check=True, timeout=30)
	return [e.get("name") for e in json.loads(cp.stdout or "[]")]


def wait_gone(timeout_s=GONE_TIMEOUT_S):
	"""Until cx_accecn is neither registered nor a struct_ops map; True if so."""
	deadline = time.monotonic() + timeout_s
	while True:
		if not cxtb.accecn_registered() and ACC not in struct_ops_names():
			return True
		if time.monotonic() > deadline:
			return False
		time.sleep(0.1)


def cc_of(bed, node):
	return bed.tcp_settings(node)["cc"]


def stop_marker(m):
	"""SIGTERM (exit 0 required); its temporary configuration removed.
	Returns its stderr."""
	try:
		return m.stop()
	finally:
		if m.accecn is not None and os.path.exists(m.conf):
			os.unlink(m.conf)


FIELDS = ["frame.number", "tcp.srcport", "tcp.dstport", "tcp.seq", "tcp.ack",
	  "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset",
	  "tcp.flags.ae", "tcp.flags.cwr", "tcp.flags.ece", "tcp.flags.ace", "tcp.len",
	  "tcp.option_kind", "tcp.options.acc_ecn.eceb", "ip.dsfield.ecn",
	  "ipv6.tclass.ecn", "_ws.malformed"]


def flag(v):
	return v in ("1", "True")


def number(v):
	"""A tshark number field: decimal, or hex with 0x; empty is 0."""
	if not v:
		return 0
	return int(v, 16) if v.startswith("0x") else int(v)


def packets(path, fam, src):
	"""Every TCP packet from src in the capture, decoded by tshark."""
	filt = f"{'ip' if fam == 4 else 'ipv6'}.src == {src} && tcp"
	cmd = ["tshark", "-n", "-r", str(path), "-Y", filt, "-T", "fields",
	       "-E", "separator=|", "-E", "occurrence=a"]
	for f in FIELDS:
		cmd += ["-e", f]
	out = subprocess.run(cmd, capture_output=True, text=True, check=True,
			     timeout=300).stdout
	rows = []
	for line in out.splitlines():
		r = dict(zip(FIELDS, line.split("|")))
		ecn = r["ip.dsfield.ecn"] if fam == 4 else r["ipv6.tclass.ecn"]
		rows.append({
			"n": int(r["frame.number"]), "sport": int(r["tcp.srcport"]),
			"dport": int(r["tcp.dstport"]), "seq": number(r["tcp.seq"]),
			"acked": number(r["tcp.ack"]), "syn": flag(r["tcp.flags.syn"]),
			"ack": flag(r["tcp.flags.ack"]), "fin": flag(r["tcp.flags.fin"]),
			"rst": flag(r["tcp.flags.reset"]),
			# tshark 4.0 shows AE, CWR and ECE as one ACE field
			# once it has seen AccECN negotiated, else each flag.
			"ace": number(r["tcp.flags.ace"]) if r["tcp.flags.ace"] else
			       4 * flag(r["tcp.flags.ae"]) + 2 * flag(r["tcp.flags.cwr"])
			       + flag(r["tcp.flags.ece"]),
			"len": int(r["tcp.len"] or 0),
			"opts": [int(k) for k in r["tcp.option_kind"].split(",") if k],
			"eceb": int(r["tcp.options.acc_ecn.eceb"]) if r["tcp.options.acc_ecn.eceb"]
				else None,
			"ecn": number(ecn),
			"malformed": r["_ws.malformed"],
		})
	return rows


def data_conn(sent):
	"""The sender's port with the most payload (iperf3's data connection)."""
	by_port = {}
	for p in sent:
		by_port[p["sport"]] = by_port.get(p["sport"], 0) + p["len"]
	assert by_port, "no TCP packets from the sender in the capture"
	return max(by_port, key=by_port.get)


def transfer(bed, snd, rcv, fam, path, seconds):
	cap = cxm.capture(bed.host(2), "g1", path)
	try:
		res = cxtb.iperf3(snd, rcv, rcv.ip4 if fam == 4 else rcv.ip6, seconds=seconds)
		time.sleep(0.2)
	finally:
		cap.stop()
	return res


def handshake(bed, snd, rcv, fam, path):
	"""The data connection's SYN (from snd) and SYN-ACK (from rcv)."""
	src, dst = (snd.ip4, rcv.ip4) if fam == 4 else (snd.ip6, rcv.ip6)
	sent, back = packets(path, fam, src), packets(path, fam, dst)
	port = data_conn(sent)
	syn = [p for p in sent if p["sport"] == port and p["syn"] and not p["ack"]]
	synack = [p for p in back if p["dport"] == port and p["syn"] and p["ack"]]
	assert syn and synack, (port, sent[:4], back[:4])
	return port, syn[0], synack[0], sent, back


@pytest.mark.parametrize("fam", [4, 6])
def test_accecn_negotiated(bed, accecn_kernel, pair, tmp_path, fam):
	snd, rcv = pair
	cc_before = cc_of(bed, snd)
	assert cc_before != ACC and ACC not in struct_ops_names()
	m = cxm.start_marker(snd, accecn=True)
	joined = None
	try:
		# The marker's namespace defaults to cx_accecn; registered kernel-wide.
		assert cc_of(bed, snd) == ACC
		assert cxtb.accecn_registered() and ACC in struct_ops_names()
		st = m.stats()
		assert st["accecn"] is True, st
		joined = bed.set_ecn(rcv, "accecn")
		assert cc_of(bed, rcv) == ACC
		pcap = tmp_path / f"accecn{fam}.pcap"
		res = transfer(bed, snd, rcv, fam, pcap, SECONDS)
		st = m.stats()
	finally:
		# The receiver first: its default holds the struct_ops too.
		if joined is not None:
			bed.set_tcp(rcv, cc=joined["cc"])
		log = stop_marker(m)

	# The marker said what it did, and undid it.
	assert f"congestion control {ACC} registered" in log, log
	assert f"net.ipv4.tcp_congestion_control {ACC} -> {cc_before} restored" in log, log
	assert cc_of(bed, snd) == cc_before
	assert wait_gone(), (struct_ops_names(), "struct_ops left after the marker stopped")

	src = snd.ip4 if fam == 4 else snd.ip6
	port, syn, synack, sent, back = handshake(bed, snd, rcv, fam, pcap)
	assert all(p["malformed"] == "" for p in sent + back)
	# SYN: AE, CWR and ECE set (RFC 9768 §3.1.1).
	assert syn["ace"] == 0b111, syn
	# SYN-ACK: an AccECN ACE, the one that reflects the SYN's IP-ECN field.
	assert synack["ace"] == SYNACK_ACE[syn["ecn"]], (syn, synack)

	data = [p for p in sent if p["sport"] == port and p["len"] > 0]
	ce = [p for p in sent if p["sport"] == port and not p["syn"] and p["ecn"] == 3]
	ce_bytes = sum(p["len"] for p in ce)
	info = {"goodput_bps": res["end"]["sum_received"]["bits_per_second"],
		"data_pkts": len(data), "ce_pkts": len(ce), "ce_bytes": ce_bytes,
		"data_ecn": sorted({p["ecn"] for p in data}), "syn_ecn": syn["ecn"],
		"synack_ace": synack["ace"], "marker": {k: st[k] for k in
		("pkts_x", "bytes_x", "pkts_e", "bytes_e", "acks", "ece_acks",
		 "accecn_acks", "eceb_opts", "accecn_ce_bytes")}}
	print(f"\nIPv{fam} AccECN:", info)
	assert len(data) > 1000, info
	# cx_accecn sets ECT on every data packet; the bottleneck marked some CE.
	assert all(p["ecn"] != 0 for p in data), info
	assert ce, ("the bottleneck marked nothing", info)

	# The receiver's ACKs: option 174 (AccECN1, EE1B ECEB EE0B), and on the
	# last one ECEB = the CE payload bytes it received, ACE = (CE packets +
	# 5) mod 8. "Received" = up to the ACK's acknowledgment number (nothing
	# is lost at an ECN bottleneck, so data arrives in order): what was
	# captured after it, or after iperf3's server closed (answered by
	# RST, which carries no ACE), had not been counted.
	acks = [p for p in back if p["dport"] == port and not p["syn"] and not p["rst"]]
	with_opt = [p for p in acks if 174 in p["opts"]]
	info.update(acks=len(acks), acks_opt174=len(with_opt))
	assert with_opt and len(with_opt) >= len(acks) // 2, info
	assert not any(172 in p["opts"] for p in acks), info

	def ce_upto(ack):
		return [p for p in ce if p["seq"] + p["len"] <= ack["acked"]]

	last = max(with_opt, key=lambda p: p["n"])
	final = max(acks, key=lambda p: p["n"])
	info.update(last_eceb=last["eceb"], final_ace=final["ace"],
		    ce_bytes_acked=sum(p["len"] for p in ce_upto(last)),
		    ce_pkts_acked=len(ce_upto(final)))
	print(f"IPv{fam} AccECN feedback:", info)
	assert last["eceb"] == info["ce_bytes_acked"] % COUNTER_MOD, info
	assert final["ace"] == (info["ce_pkts_acked"] + ACE_INIT) % 8, info

	# What the marker declared: E from ECEB, the receiver's CE bytes. ECE
	# is a bit of ACE on these connections and is never read as
	# ECN-Echo (read that way, E came out over 100 x the CE bytes). The
	# marker's E counts whole packets (headers too) and its last marks
	# may trail the capture's end by a round trip: 10 % and one window.
	mk = info["marker"]
	# IP + TCP (timestamps) headers; IPv6 with the 8-byte ConEx option.
	ce_ip_bytes = ce_bytes + len(ce) * (20 + 32 if fam == 4 else 40 + 8 + 32)
	assert mk["ece_acks"] == 0 and mk["accecn_acks"] > 0, info
	assert abs(mk["accecn_ce_bytes"] - info["ce_bytes_acked"]) <= \
		0.1 * info["ce_bytes_acked"], info
	assert 0.9 * ce_ip_bytes - 65536 <= mk["bytes_e"] <= 1.1 * ce_ip_bytes + 65536, \
		(ce_ip_bytes, info)


def test_accecn_off_by_default(bed, pair, tmp_path):
	"""The installed configuration (accecn no): nothing registered, the
	namespace's default untouched, classic ECN on the wire."""
	snd, rcv = pair
	cc_before = cc_of(bed, snd)
	names_before = struct_ops_names()
	m = cxm.start_marker(snd)
	try:
		st = m.stats()
		assert st["accecn"] is False, st
		assert cc_of(bed, snd) == cc_before
		assert not cxtb.accecn_registered() and ACC not in struct_ops_names()
		pcap = tmp_path / "classic.pcap"
		transfer(bed, snd, rcv, 4, pcap, 1)
	finally:
		log = m.stop()
	assert ACC not in log, log
	assert cc_of(bed, snd) == cc_before and struct_ops_names() == names_before
	_, syn, synack, _, _ = handshake(bed, snd, rcv, 4, pcap)
	assert syn["ace"] == 0b011 and synack["ace"] == 0b001, (syn, synack)


def test_accecn_no_and_restart_only(bed, root, pair):
	"""`accecn no` written out: the same as the default. Turning it on is
	refused by a reload (it is set at start): restart needed."""
	snd, _ = pair
	cc_before = cc_of(bed, snd)
	m = cxm.start_marker(snd, accecn=False)
	try:
		assert m.stats()["accecn"] is False
		assert cc_of(bed, snd) == cc_before and not cxtb.accecn_registered()
		with open(m.conf) as f:
			text = f.read()
		assert re.search(r"^accecn no$", text, re.M), text
		with open(m.conf, "w") as f:
			f.write(cxm.with_accecn(text, True))
		cp = cxm.run_marker(snd, ["reload", "--dev", "eth0"], root=root)
		assert cp.returncode == 1, cp
		assert f"{m.conf}: accecn no -> yes: restart conex-marker to change accecn" \
		       in cp.stderr, cp.stderr
		st = m.stats()
		assert st["accecn"] is False and st["reload_errors"] == 1, st
		assert cc_of(bed, snd) == cc_before and not cxtb.accecn_registered()
	finally:
		stop_marker(m)
	assert cc_of(bed, snd) == cc_before


def test_accecn_config_errors(bed, root, tmp_path):
	g = bed.guest(1, 1)
	for bad in ("maybe", "1 2"):
		conf = tmp_path / "bad.conf"
		conf.write_text(f"interface eth0\naccecn {bad}\n")
		cp = cxm.run_marker(g, ["--config", conf, "--foreground"], root=root)
		assert cp.returncode == 2 and f"{conf}:2" in cp.stderr, cp.stderr
	assert not cxtb.accecn_registered()


def test_accecn_one_per_kernel(bed, accecn_kernel, pair):
	"""A second marker with accecn yes on the same kernel (another guest)
	fails with a clear error and changes nothing; the first runs on."""
	snd, rcv = pair
	rcv_cc = cc_of(bed, rcv)
	m = cxm.start_marker(snd, accecn=True)
	try:
		with pytest.raises(cxm.MarkerError) as e:
			m2 = cxm.start_marker(rcv, accecn=True)
			stop_marker(m2)
		msg = str(e.value)
		assert f"{ACC} is already registered on this kernel" in msg, msg
		assert "exited 1 before ready" in msg, msg
		assert cc_of(bed, rcv) == rcv_cc
		assert m.proc.poll() is None and m.stats()["accecn"] is True
	finally:
		stop_marker(m)
	assert wait_gone()


def test_accecn_kill(bed, accecn_kernel, pair):
	"""SIGKILL: the link goes with the process, so cx_accecn is unregistered
	at once; the namespace's default cannot be given back and still names
	the old ops (which keep working for new connections). The next marker
	with accecn yes says so, and restores cubic when it stops."""
	snd, rcv = pair
	m = cxm.start_marker(snd, accecn=True)
	try:
		assert cc_of(bed, snd) == ACC
	finally:
		m.kill()
		if os.path.exists(m.conf):
			os.unlink(m.conf)
	deadline = time.monotonic() + GONE_TIMEOUT_S
	while cxtb.accecn_registered() and time.monotonic() < deadline:
		time.sleep(0.1)
	assert not cxtb.accecn_registered()
	assert cc_of(bed, snd) == ACC
	# The namespace's reference keeps the old ops working.
	cxtb.iperf3(snd, rcv, rcv.ip4, seconds=1)

	m = cxm.start_marker(snd, accecn=True)
	try:
		assert m.stats()["accecn"] is True
	finally:
		log = stop_marker(m)
	assert f"already was {ACC} (left by a killed conex-marker?)" in log, log
	assert f"{ACC} -> cubic restored" in log, log
	assert cc_of(bed, snd) == "cubic"
	assert wait_gone(), struct_ops_names()


@pytest.mark.parametrize("mode", cxtb.ECN_MODES)
def test_accecn_testbed_ecn_modes(bed, pair, tmp_path, mode, request):
	"""The testbed's three ECN modes for a guest pair, as seen in the
	handshake: none (no ECN flags), classic (RFC 3168: SYN ECE+CWR, SYN-ACK
	ECE) and accecn (marker with accecn yes in the sender, the receiver
	joined with set_ecn)."""
	snd, rcv = pair
	m = None
	if mode == "accecn":
		request.getfixturevalue("accecn_kernel")
		m = cxm.start_marker(snd, accecn=True)
	try:
		if mode != "accecn":
			bed.set_ecn(snd, mode)
		bed.set_ecn(rcv, mode)
		pcap = tmp_path / f"{mode}.pcap"
		transfer(bed, snd, rcv, 4, pcap, 1)
	finally:
		if mode == "accecn":
			bed.set_ecn(rcv, "classic")
		if m is not None:
			stop_marker(m)
	_, syn, synack, _, _ = handshake(bed, snd, rcv, 4, pcap)
	want = {"none": (0b000, 0b000), "classic": (0b011, 0b001),
		"accecn": (0b111, SYNACK_ACE[syn["ecn"]])}[mode]
	assert (syn["ace"], synack["ace"]) == want, (mode, syn, synack)
	if m is not None:
		assert wait_gone()
