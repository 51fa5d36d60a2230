"""End-to-end verification of conex-marker (issue 3), run from the installed
layout (cxtb.marker.install_root()) in the testbed.

A ConEx guest h1g1 (marker on eth0) sends to h2g1 through a 100 Mbit/s
bottleneck on sw's port to h2, (a) ECN (tcp_ecn=1 at both ends: the ECN queue
marks CE) and (b) lossy (tcp_ecn=0: the same queue drops Not-ECT packets),
IPv4 and IPv6. Host h2's g1 is captured (packets about to enter the
receiving guest, both directions) and decoded by tshark and by conex-dump.

With classic ECN the marker sets CWR on every packet, so E is to stay
within 1.5 x the CE bytes the receiver saw (plus the slack below).

Slack: ConEx re-echo lags the congestion it reports by about one RTT, and a
capture ends mid-flight, so each L/E comparison allows one window: at most
SLACK_BYTES (64 KiB, more than the cwnd a 100 Mbit/s flow holds here) plus
10 % of the compared quantity (header overhead and gauge rounding: the
marker subtracts payload, counters add whole IP packets).
"""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

import cxtb
from conftest import REPO, counter_delta, install_root_or_skip, running_testbed
from cxtb import marker as cxm

DUMP = os.path.join(REPO, "build", "tools", "conex-dump", "conex-dump")
RATE_BPS = 100_000_000
SECONDS = 4
SLACK_BYTES = 64 * 1024
GOODPUT_MIN = 0.90


def slack(v):
	return SLACK_BYTES + v // 10


@pytest.fixture(scope="module")
def root(netns_ok):
	return install_root_or_skip(progs=("conex-marker",),
				    tools=("tcpdump", "tshark", "bpftool"),
				    what="conex-marker cannot be built and installed",
				    notes={"conex-marker": "guest-marker/build.mk missing?"})


@pytest.fixture(scope="module")
def bed(root, ecnq_tool, iperf3_ok):
	with running_testbed(hosts=2, guests=1, cc="cubic", ecn=1,
			     bottleneck=(2, RATE_BPS)) as tb:
		yield tb


def bpf_on(node, dev="eth0"):
	"""Programs attached to dev (tc, tcx, xdp) in node, as bpftool lists them."""
	cp = node.run(["bpftool", "-j", "net", "show", "dev", dev])
	left = []
	for ent in json.loads(cp.stdout or "[]"):
		for kind, progs in ent.items():
			if progs:
				left += [f"{kind}:{p.get('name', p.get('id'))}" for p in progs]
	for d in ("ingress", "egress"):
		out = node.run(["tc", "filter", "show", "dev", dev, d], check=False).stdout
		if out.strip():
			left.append(f"tc {d}: {out.strip()}")
	return left


def conex_dump(path):
	cp = subprocess.run([DUMP, "--json", str(path)], capture_output=True, text=True,
			    timeout=120)
	assert cp.returncode == 0, cp.stderr
	return json.loads(cp.stdout)


def data_flow(res, src):
	flows = [f for f in res["flows"] if f["src"] == src]
	assert flows, res["flows"]
	return max(flows, key=lambda f: f["payload_bytes"])


def tshark_rows(path, fam, src, sport):
	fields = ["frame.number", "tcp.len", "_ws.malformed"]
	if fam == 6:
		fields += ["ipv6.dstopts.nxt", "ipv6.opt.type", "ipv6.opt.length"]
		filt = f"ipv6.src == {src} && tcp.srcport == {sport}"
	else:
		fields += ["ip.flags.rb", "ip.flags.df", "ip.id"]
		filt = f"ip.src == {src} && tcp.srcport == {sport}"
	cmd = ["tshark", "-n", "-r", str(path), "-Y", filt, "-T", "fields", "-E",
	       "separator=|"]
	for f in fields:
		cmd += ["-e", f]
	out = subprocess.run(cmd, capture_output=True, text=True, check=True,
			     timeout=300).stdout
	return [dict(zip(fields, l.split("|"))) for l in out.splitlines()]


def tshark_malformed(path):
	out = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "_ws.malformed"],
			     capture_output=True, text=True, check=True, timeout=300).stdout
	return out.strip()


RX_BAD = ("TcpInCsumErrors", "Icmp6OutParmProblems", "Ip6InHdrErrors")
TOO_BIG = ("Ip6InTooBigErrors", "Icmp6InPktTooBigs")


def run_flow(tb, fam, ecn, with_marker, tmp_path, tag):
	snd, rcv = tb.guest(1, 1), tb.guest(2, 1)
	tb.set_tcp(snd, ecn=ecn)
	tb.set_tcp(rcv, ecn=ecn)
	nodes = [snd, tb.host(1), tb.fabric, tb.host(2), rcv]
	before = {n.name: n.nstat() for n in nodes}
	m = cxm.start_marker(snd) if with_marker else None
	pcap = tmp_path / f"{tag}.pcap"
	cap = cxm.capture(tb.host(2), "g1", pcap)
	try:
		res = cxtb.iperf3(snd, rcv, rcv.ip4 if fam == 4 else rcv.ip6, seconds=SECONDS)
		time.sleep(0.2)
	finally:
		cap.stop()
	st = None
	if m is not None:
		st = m.stats()
		m.stop()
		assert bpf_on(snd) == [], "programs left after SIGTERM"
	after = {n.name: n.nstat() for n in nodes}
	delta = {n.name: counter_delta(before[n.name], after[n.name], *(RX_BAD + TOO_BIG))
		 for n in nodes}
	return {"goodput_bps": res["end"]["sum_received"]["bits_per_second"],
		"retrans": res["end"]["sum_sent"]["retransmits"], "pcap": pcap,
		"stats": st, "delta": delta}


@pytest.mark.parametrize("ecn", [1, 0], ids=["ecn", "lossy"])
@pytest.mark.parametrize("fam", [4, 6])
def test_marked_flow(bed, tmp_path, fam, ecn):
	snd, rcv = bed.guest(1, 1), bed.guest(2, 1)
	src = snd.ip4 if fam == 4 else snd.ip6
	bare = run_flow(bed, fam, ecn, False, tmp_path, "bare")
	r = run_flow(bed, fam, ecn, True, tmp_path, "marked")
	ctx = {k: r[k] for k in ("goodput_bps", "retrans", "stats", "delta")}

	# The receiving guest's kernel accepted every marked packet.
	for name in RX_BAD:
		assert r["delta"][rcv.name][name] == 0, (name, ctx)
	for n in (snd.name, "h1", "sw", "h2"):
		for name in TOO_BIG:
			assert r["delta"][n][name] == 0, (n, name, ctx)
	assert r["goodput_bps"] >= GOODPUT_MIN * bare["goodput_bps"], \
		(r["goodput_bps"], bare["goodput_bps"])

	res = conex_dump(r["pcap"])
	assert res["totals"]["malformed"] == res["totals"]["truncated"] == 0, res["totals"]
	f = data_flow(res, src)
	rev = f["reverse"]
	info = {k: f[k] for k in ("payload_packets", "payload_packets_no_x", "bytes_l",
				  "bytes_e", "payload_bytes_e", "bytes_c", "retx_bytes",
				  "retx_fill_bytes", "retx_dup_bytes",
				  "ce_ip_bytes", "c_first_pkt", "pkts_c_first_n")}
	info["reverse"] = rev
	info["marker"] = r["stats"]
	assert f["payload_packets"] > 1000, info
	# X on every payload packet (retransmissions too), none without.
	assert f["payload_packets_no_x"] == 0, info
	assert f["payload_packets_x"] == f["payload_packets"], info
	# Credit at flow start (RFC 7786 §5.3).
	assert f["c_first_pkt"] and f["pkts_c_first_n"] >= 1, info
	assert f["pure_acks_x"] == 0, info
	if ecn:
		assert f["ce_packets"] > 0, ("the bottleneck marked nothing", info)
		assert f["bytes_e"] >= f["ce_ip_bytes"] - slack(f["ce_ip_bytes"]), info
		assert rev["ece_acks"] > 0, info
		# Classic ECN with CWR on every packet: ECE covers what arrived
		# since the packet's start, not a round trip per mark (4-5 x
		# with RFC 7786's conservative rule). Measured 1.28-1.40 x: a
		# CE segment inside a GSO burst keeps ECE on to the next burst
		# (docs/accounting.md); 1.5 x says the bound is that, not 4 x.
		assert f["bytes_e"] <= 1.5 * f["ce_ip_bytes"] + SLACK_BYTES, info
		assert r["stats"]["flows_ecn"] >= 1 and r["stats"]["cwr_set"] > 0, info
	else:
		assert f["retx_fill_bytes"] > 0, ("the bottleneck dropped nothing", info)
		# L must cover what was lost (retransmissions filling holes the
		# capture saw). Spurious retransmissions (data the capture already
		# had; more of them on a loaded machine) are reported by DSACK and
		# taken back out of the loss gauge (RFC 7786 §3.1): not counted.
		assert f["bytes_l"] >= f["retx_fill_bytes"] - slack(f["retx_fill_bytes"]), info
		assert f["ce_packets"] == 0 and f["bytes_e"] <= slack(0), info

	# tshark agrees: every payload packet carries the encoding with X.
	rows = [row for row in tshark_rows(r["pcap"], fam, src, f["sport"]) if int(row["tcp.len"] or 0) > 0]
	assert len(rows) == f["payload_packets"], (len(rows), info)
	for row in rows:
		assert row["_ws.malformed"] == "", row
		if fam == 6:
			types = [int(t, 16) for t in row["ipv6.opt.type"].split(",") if t]
			lens = [int(x) for x in row["ipv6.opt.length"].split(",") if x]
			assert types and types[0] == 0x1E and lens[0] == 1, row
			assert row["ipv6.dstopts.nxt"] == "6", row
		else:
			assert row["ip.flags.rb"] in ("1", "True"), row
			assert row["ip.flags.df"] in ("1", "True"), row
			assert int(row["ip.id"], 16) & 0x8000, row
	assert tshark_malformed(r["pcap"]) == ""


def test_pure_acks_and_non_tcp_unmarked(bed, tmp_path):
	"""The marked guest receiving (its pure ACKs), and sending UDP and ICMP."""
	snd, rcv = bed.guest(1, 1), bed.guest(2, 1)
	for n in (snd, rcv):
		bed.set_tcp(n, ecn=1)
	m = cxm.start_marker(snd)
	pcap = tmp_path / "acks.pcap"
	cap = cxm.capture(bed.host(2), "g1", pcap)
	try:
		for addr in (rcv.ip4, rcv.ip6):
			cxtb.iperf3(snd, rcv, addr, seconds=1, args=["-R"])
			cxtb.iperf3(snd, rcv, addr, seconds=1, args=["-u", "-b", "5M"])
		assert all(v is not None for v in snd.ping([rcv.ip4, rcv.ip6], count=3).values())
		time.sleep(0.2)
	finally:
		cap.stop()
	m.stop()
	res = conex_dump(pcap)
	t = res["totals"]
	assert t["non_tcp"] > 100 and t["non_tcp_marking"] == 0, t
	assert t["multicast_marking"] == 0 and t["rf_anomaly"] == 0, t
	mine = [f for f in res["flows"] if f["src"] in (snd.ip4, snd.ip6)]
	acks = sum(f["pure_acks"] for f in mine)
	assert acks > 500, mine
	for f in mine:
		assert f["pure_acks_x"] == 0, f
		assert f["pure_acks_marking"] == 0, f


def test_kill_mid_flow_fails_open(bed):
	snd, rcv = bed.guest(1, 1), bed.guest(2, 1)
	for n in (snd, rcv):
		bed.set_tcp(n, ecn=1)
	m = cxm.start_marker(snd)
	# -J on the server too: iperf3 3.12 returns server_output_json only then.
	srv = rcv.popen(["iperf3", "-s", "-1", "-J", "-p", "5202"], stdout=subprocess.DEVNULL,
			stderr=subprocess.DEVNULL)
	cxtb.wait_listening(rcv, 5202)
	cli = snd.popen(["iperf3", "-c", rcv.ip4, "-p", "5202", "-t", "6", "-J",
			 "--get-server-output"], stdout=subprocess.PIPE,
			stderr=subprocess.PIPE, text=True)
	time.sleep(2)
	m.kill()
	out, err = cli.communicate(timeout=30)
	srv.wait(timeout=10)
	assert cli.returncode == 0, err
	res = json.loads(out)
	ivals = res["server_output_json"]["intervals"]
	# Whole seconds after the kill (the last interval may be a short tail).
	late = [iv["sum"]["bits_per_second"] for iv in ivals
		if iv["sum"]["start"] >= 3 and iv["sum"]["seconds"] >= 0.9]
	assert len(late) >= 2, ivals
	assert min(late) > 0.5 * RATE_BPS, late
	assert bpf_on(snd) == [], "programs left after SIGKILL"
	m2 = cxm.start_marker(snd)
	assert m2.stats()["pkts_x"] >= 0
	m2.stop()
	assert bpf_on(snd) == []


def test_cli_errors(bed, tmp_path):
	g = bed.guest(1, 1)
	cp = cxm.run_marker(g, ["--bogus"])
	assert cp.returncode == 2 and "--bogus" in cp.stderr, cp.stderr
	conf = tmp_path / "bad.conf"
	conf.write_text("interface eth0\nflow_table_size lots\n")
	cp = cxm.run_marker(g, ["--config", conf, "--foreground"])
	assert cp.returncode == 2 and f"{conf}:2" in cp.stderr and "lots" in cp.stderr, \
		cp.stderr
	cp = cxm.run_marker(g, ["--dev", "nosuch0", "--foreground"])
	assert cp.returncode != 0 and "nosuch0" in cp.stderr, cp.stderr
	assert bpf_on(g) == []
	m = cxm.start_marker(g)
	try:
		cp = cxm.run_marker(g, ["--config", m.conf, "--dev", "eth0", "--foreground"])
		assert cp.returncode != 0 and cp.stderr.strip(), cp.stderr
		assert m.proc.poll() is None, "the first instance died"
	finally:
		m.stop()
	assert bpf_on(g) == []


def test_install_layout(root, tmp_path):
	dest = tmp_path / "img"
	run = lambda *a: subprocess.run(["make", "-s", "-C", REPO, *a, f"DESTDIR={dest}",
					 "PREFIX=/usr"], capture_output=True, text=True)
	cp = run("install")
	assert cp.returncode == 0, cp.stdout + cp.stderr
	daemons = (("conex-marker", "marker"), ("conex-auditor", "auditor"),
		   ("conex-policer", "policer"))
	want = ["usr/sbin/conex-dump", "usr/share/man/man8/conex-dump.8",
		"usr/sbin/conexctl", "usr/share/man/man8/conexctl.8"]
	for prog, conf in daemons:
		want += [f"usr/sbin/{prog}", f"etc/conex/{conf}.conf",
			 f"lib/systemd/system/{prog}.service",
			 f"usr/share/man/man8/{prog}.8", f"usr/share/man/man5/{prog}.conf.5"]
	for w in want:
		assert (dest / w).exists(), w
	if shutil.which("systemd-analyze"):
		# `verify --root DEST` wants the whole of systemd under DEST
		# (sysinit.target): instead verify a copy whose ExecStart names
		# the binary as installed under DEST. Man pages are checked below.
		for prog, _ in daemons:
			text = (dest / f"lib/systemd/system/{prog}.service").read_text()
			assert f"ExecStart=/usr/sbin/{prog} " in text, text
			probe = tmp_path / f"{prog}.service"
			probe.write_text(text.replace(f"=/usr/sbin/{prog}",
						      f"={dest}/usr/sbin/{prog}"))
			cp = subprocess.run(["systemd-analyze", "verify", "--man=no", str(probe)],
					    capture_output=True, text=True)
			assert cp.returncode == 0, (prog, cp.stderr)
	if shutil.which("man"):
		pages = ["usr/share/man/man8/conex-dump.8"] + \
			[w for w in want if "/man/" in w]
		for page in pages:
			cp = subprocess.run(["man", "--warnings", "-l", str(dest / page)],
					    capture_output=True, text=True,
					    env=dict(os.environ, MANPAGER="cat", MANWIDTH="80"))
			assert cp.returncode == 0 and "NAME" in cp.stdout, page
			assert cp.stderr.strip() == "", (page, cp.stderr)
	cp = run("uninstall")
	assert cp.returncode == 0, cp.stdout + cp.stderr
	for w in want:
		assert not (dest / w).exists(), w
	if not shutil.which("systemd-analyze"):
		pytest.skip("SKIP (after checking the layout): systemd-analyze not installed, "
			    "unit not verified")


def test_ipv4_df_set_when_clear(bed, tmp_path):
	"""A guest that does not set DF (ip_no_pmtu_disc=1): the marker sets DF to
	make its packets atomic before encoding (docs/wire.md §3.6), and counts it."""
	snd, rcv = bed.guest(1, 1), bed.guest(2, 1)
	for n in (snd, rcv):
		bed.set_tcp(n, ecn=1)
	caps = {}
	snd.run(["sysctl", "-qw", "net.ipv4.ip_no_pmtu_disc=1"])
	try:
		for tag in ("bare", "marked"):
			m = cxm.start_marker(snd) if tag == "marked" else None
			caps[tag] = tmp_path / f"df-{tag}.pcap"
			cap = cxm.capture(bed.host(2), "g1", caps[tag])
			try:
				cxtb.iperf3(snd, rcv, rcv.ip4, seconds=2, port=5203)
				time.sleep(0.2)
			finally:
				cap.stop()
			if m is not None:
				st = m.stats()
				m.stop()
	finally:
		snd.run(["sysctl", "-qw", "net.ipv4.ip_no_pmtu_disc=0"])

	# Without the marker the guest really sends DF=0 (else this proves nothing).
	f = data_flow(conex_dump(caps["bare"]), snd.ip4)
	rows = [r for r in tshark_rows(caps["bare"], 4, snd.ip4, f["sport"])
		if int(r["tcp.len"] or 0) > 0]
	assert rows and all(r["ip.flags.df"] in ("0", "False") for r in rows), rows[:3]

	assert st["df_set"] > 0, st
	f = data_flow(conex_dump(caps["marked"]), snd.ip4)
	assert f["payload_packets"] > 100 and f["payload_packets_no_x"] == 0, f
	rows = [r for r in tshark_rows(caps["marked"], 4, snd.ip4, f["sport"])
		if int(r["tcp.len"] or 0) > 0]
	assert len(rows) == f["payload_packets"]
	for r in rows:
		assert r["ip.flags.df"] in ("1", "True") and r["ip.flags.rb"] in ("1", "True"), r
