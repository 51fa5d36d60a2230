"""conex-dump, the project's ConEx capture decoder, against captures whose
content is known exactly: cx-wirepcap's frames (built by libconex, what each
carries printed alongside) and conversations crafted with scapy
(retransmissions, CE, ECE ACKs, pure ACKs, multicast, the reserved flag on a
fragment) written here in every link type and byte order conex-dump reads,
whole and cut to a snap length.
"""
import json
import os
import struct
import subprocess

import pytest

from conftest import REPO

DUMP = os.path.join(REPO, "build", "tools", "conex-dump", "conex-dump")
WIREPCAP = os.path.join(REPO, "build", "tests", "wire", "cx-wirepcap")

X, L, E, C = 0x80, 0x40, 0x20, 0x10
FLAGS = {"x": X, "l": L, "e": E, "c": C}

LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_SLL, LINKTYPE_SLL2 = 1, 101, 113, 276


@pytest.fixture(scope="module")
def built():
	cp = subprocess.run(["make", "-s", "-C", REPO, "build/tools/conex-dump/conex-dump",
			     "build/tests/wire/cx-wirepcap"],
			    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
	assert cp.returncode == 0, cp.stdout
	return DUMP


def dump(path, *args):
	cp = subprocess.run([DUMP, "--json", *args, str(path)], capture_output=True,
			    text=True, timeout=60)
	assert cp.returncode == 0, cp.stderr
	return json.loads(cp.stdout)


def flow(res, sport, dport=None, family=None):
	got = [f for f in res["flows"] if f["sport"] == sport
	       and (dport is None or f["dport"] == dport)
	       and (family is None or f["family"] == family)]
	assert len(got) == 1, (sport, dport, res["flows"])
	return got[0]


# --- cx-wirepcap: libconex-built frames, one flow each ----------------------

def test_wirepcap_frames(built, tmp_path):
	pcap = tmp_path / "wire.pcap"
	out = subprocess.run([WIREPCAP, str(pcap)], check=True, capture_output=True,
			     text=True).stdout
	res = dump(pcap)
	lines = [l.split() for l in out.splitlines()]
	assert res["linktype"] == LINKTYPE_RAW
	assert res["totals"]["packets"] == len(lines) >= 20
	assert res["totals"]["malformed"] == res["totals"]["truncated"] == 0
	for frame, fam, bits, sport, plen, hbh in lines:
		bits, fam, plen = int(bits, 16), int(fam), int(plen)
		# TCP header 32 (timestamps); IPv6 adds the 8-byte CDO header and
		# the 8-byte Hop-by-Hop header when present.
		ip = 20 + 32 + plen if fam == 4 else 40 + 8 + 8 * int(hbh) + 32 + plen
		f = flow(res, int(sport))
		assert f["family"] == fam
		assert f["packets"] == f["payload_packets"] == 1
		assert f["payload_bytes"] == plen
		assert f["payload_packets_x"] == 1 and f["payload_packets_no_x"] == 0
		for name, mask in FLAGS.items():
			want = ip if bits & mask else 0
			assert f[f"bytes_{name}"] == want, (frame, name, f)
			assert f[f"pkts_{name}"] == (1 if want else 0), (frame, name)
			assert f[f"payload_bytes_{name}"] == (plen if want else 0)
		assert f["c_first_pkt"] == bool(bits & C)
		assert f["bytes_c_first_n"] == (ip if bits & C else 0)


# --- scapy conversations ----------------------------------------------------

scapy = pytest.importorskip("scapy.all")

A4, B4 = "198.18.1.11", "198.18.2.11"
A6, B6 = "2001:2:0:1::11", "2001:2:0:2::11"
SPORT, DPORT = 40000, 5201
ISS, IRS = 0xFFFFF000, 7000	# the sender's sequence space wraps mid-flow
MSS = 1400
SEG = 1000


def ip_of(fam, src, dst, ecn=0, sig=None, frag_flags=None):
	"""IP header; sig = ConEx bits (None: no CDO / no encoding)."""
	if fam == 4:
		if sig is None:
			return scapy.IP(src=src, dst=dst, tos=ecn, flags=frag_flags or "DF", id=0x1234)
		return scapy.IP(src=src, dst=dst, tos=ecn, flags=frag_flags or "evil+DF",
				id=(sig << 8) | 0x005)
	ip = scapy.IPv6(src=src, dst=dst, tc=ecn)
	if sig is None:
		return ip
	return ip / scapy.IPv6ExtHdrDestOpt(options=[
		scapy.HBHOptUnknown(otype=0x1E, optdata=bytes([sig])),
		scapy.PadN(optdata=b"\x00")])


def conversation(fam):
	"""(packets, expected counters of the A->B direction and of totals)."""
	a, b = (A4, B4) if fam == 4 else (A6, B6)
	pkts = []
	exp = {"x": [0, 0], "l": [0, 0], "e": [0, 0], "c": [0, 0]}

	def data(seq_off, sig, ecn=2, n=SEG):
		p = ip_of(fam, a, b, ecn, sig) / scapy.TCP(
			sport=SPORT, dport=DPORT, flags="A", seq=(ISS + 1 + seq_off) % 2**32,
			ack=IRS + 1) / (b"d" * n)
		pkts.append(p)
		size = len(p)
		if sig is not None and sig & X:
			for k, m in FLAGS.items():
				if sig & m:
					exp[k][0] += 1
					exp[k][1] += size
		return size

	def ack(acked, ece=False, sig=None):
		p = ip_of(fam, b, a, 0, sig) / scapy.TCP(
			sport=DPORT, dport=SPORT, flags="AE" if ece else "A", seq=IRS + 1,
			ack=(ISS + 1 + acked) % 2**32)
		pkts.append(p)

	pkts.append(ip_of(fam, a, b) / scapy.TCP(sport=SPORT, dport=DPORT, flags="SEC",
						  seq=ISS, options=[("MSS", 1460)]))
	pkts.append(ip_of(fam, b, a) / scapy.TCP(sport=DPORT, dport=SPORT, flags="SAE",
						  seq=IRS, ack=ISS + 1, options=[("MSS", MSS)]))
	pkts.append(ip_of(fam, a, b) / scapy.TCP(sport=SPORT, dport=DPORT, flags="A",
						  seq=ISS + 1, ack=IRS + 1))
	first = data(0, X | C)
	data(1 * SEG, X | C)
	ce_size = data(2 * SEG, X, ecn=3)		# CE-marked at the bottleneck
	data(3 * SEG, X)
	ack(2 * SEG)					# no ECE
	ack(3 * SEG, ece=True)				# ECE, 1000 newly acked
	ack(3 * SEG, ece=True)				# duplicate ECE ACK: + one SMSS
	data(5 * SEG, X | E)				# seg 4 lost before the capture
	data(4 * SEG, X | L)				# its retransmission fills the hole
	data(1 * SEG, X | L, n=SEG // 2)		# part of seg 1 again
	ack(6 * SEG, ece=True, sig=X)			# ECE, 3000 newly acked; pure ACK with X
	ack(6 * SEG, sig=0)				# pure ACK with a CDO/encoding, X=0
	data(6 * SEG, None, ecn=3)			# no marking at all, CE
	# Non-TCP: unicast UDP marked, multicast UDP marked.
	mc = "224.0.0.1" if fam == 4 else "ff02::1"
	pkts.append(ip_of(fam, a, b, 0, X) / scapy.UDP(sport=5000, dport=5001) / (b"u" * 20))
	pkts.append(ip_of(fam, a, mc, 0, X | E) / scapy.UDP(sport=5000, dport=5001) / b"m")
	want = {
		"packets": 2 + 8,		# A->B: SYN, ACK, 8 data packets
		"payload_packets": 8,
		"payload_bytes": 7 * SEG + SEG // 2,
		"payload_packets_x": 7,
		"payload_packets_no_x": 1,
		"c_first_pkt": True,
		"pkts_c_first_n": 2,		# --first-n 3: two of the first three had C
		"retx_packets": 2,
		"retx_bytes": SEG + SEG // 2,
		"ce_packets": 2,
		"ce_payload_packets": 2,
		"ce_payload_bytes": 2 * SEG,
		"pure_acks": 1,
		"pure_acks_marking": 0,
		"syn_mss": 1460,
	}
	for k, (n, size) in exp.items():
		want[f"pkts_{k}"] = n
		want[f"bytes_{k}"] = size
	want["bytes_c_first_n"] = 2 * first
	want["ce_ip_bytes"] = ce_size + len(pkts[-3])
	rev = {"ece_acks": 3, "ece_acked_bytes": SEG + 3 * SEG, "ece_dup_acks": 1,
	       "smss": MSS, "classic_e_bound_bytes": SEG + 3 * SEG + MSS}
	rev_dir = {"pure_acks": 5, "pure_acks_marking": 2, "pure_acks_x": 1}
	return pkts, want, rev, rev_dir


def rf_anomaly(fam):
	"""RF=1 on a first fragment (MF=1): not ConEx, an anomaly (docs/wire.md §3.3)."""
	if fam != 4:
		return []
	return [scapy.IP(src=A4, dst=B4, flags="evil+MF", id=(X | L) << 8) /
		scapy.TCP(sport=41000, dport=DPORT, flags="A") / (b"f" * 100)]


def link(p, linktype):
	raw = bytes(p)
	eth_type = 0x0800 if raw[0] >> 4 == 4 else 0x86DD
	if linktype == LINKTYPE_RAW:
		return raw
	if linktype == LINKTYPE_ETHERNET:
		return (b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01" +
			struct.pack("!H", eth_type) + raw)
	if linktype == LINKTYPE_SLL:
		return struct.pack("!HHH8sH", 0, 1, 6, b"\x02\0\0\0\0\x01\0\0", eth_type) + raw
	if linktype == LINKTYPE_SLL2:
		return struct.pack("!HHIHBB8s", eth_type, 0, 2, 1, 0, 6,
				   b"\x02\0\0\0\0\x01\0\0") + raw
	raise ValueError(linktype)


def write_pcap(path, pkts, linktype, endian="<", nsec=False, snaplen=65535):
	magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
	with open(path, "wb") as f:
		f.write(struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))
		for i, p in enumerate(pkts):
			frame = link(p, linktype)
			cap = frame[:snaplen]
			f.write(struct.pack(endian + "IIII", 1700000000 + i, i, len(cap), len(frame)))
			f.write(cap)


def check_conversation(res, fam, want, rev, rev_dir):
	f = flow(res, SPORT, DPORT, fam)
	for k, v in want.items():
		assert f[k] == v, (fam, k, f[k], v)
	for k, v in rev.items():
		assert f["reverse"][k] == v, (fam, k, f["reverse"])
	r = flow(res, DPORT, SPORT, fam)
	for k, v in rev_dir.items():
		assert r[k] == v, (fam, k, r)
	assert r["packets"] == 6 and r["payload_packets"] == 0


CASES = [
	(LINKTYPE_RAW, "<", False, 65535),
	(LINKTYPE_ETHERNET, ">", False, 65535),
	(LINKTYPE_ETHERNET, "<", True, 200),
	(LINKTYPE_SLL, ">", True, 65535),
	(LINKTYPE_SLL, "<", False, 120),
	(LINKTYPE_SLL2, "<", False, 65535),
	(LINKTYPE_RAW, ">", False, 96),
]


@pytest.mark.parametrize("linktype,endian,nsec,snaplen", CASES)
def test_conversation(built, tmp_path, linktype, endian, nsec, snaplen):
	pkts, expected = [], {}
	for fam in (4, 6):
		p, want, rev, rev_dir = conversation(fam)
		expected[fam] = (want, rev, rev_dir)
		pkts += p + rf_anomaly(fam)
	path = tmp_path / "conv.pcap"
	write_pcap(path, pkts, linktype, endian, nsec, snaplen)
	res = dump(path, "--first-n", "3")
	assert res["linktype"] == linktype and not res["file_truncated"]
	t = res["totals"]
	assert t["packets"] == len(pkts)
	assert t["truncated"] == t["malformed"] == t["non_ip"] == t["untracked"] == 0, t
	assert t["non_tcp"] == 4 and t["non_tcp_marking"] == 4, t
	assert t["multicast_marking"] == 2, t
	assert t["rf_anomaly"] == 1 and t["fragments"] == 1, t
	assert t["ipv4"] + t["ipv6"] == len(pkts)
	for fam, (want, rev, rev_dir) in expected.items():
		check_conversation(res, fam, want, rev, rev_dir)


def test_snaplen_cuts_into_tcp_header(built, tmp_path):
	"""A snap length shorter than IP + TCP headers: truncated, never guessed."""
	pkts, _, _, _ = conversation(6)
	path = tmp_path / "short.pcap"
	write_pcap(path, pkts[:3], LINKTYPE_RAW, snaplen=60)	# 40 + 20: no room for options
	res = dump(path)
	# SYN and SYN-ACK carry an MSS option (24-byte TCP header), the ACK does not.
	assert res["totals"]["truncated"] == 2 and res["totals"]["tcp"] == 1


def test_table_output(built, tmp_path):
	pkts, _, _, _ = conversation(4)
	path = tmp_path / "t.pcap"
	write_pcap(path, pkts, LINKTYPE_RAW)
	cp = subprocess.run([DUMP, str(path)], capture_output=True, text=True, check=True)
	assert f"tcp {A4}:{SPORT} > {B4}:{DPORT}" in cp.stdout
	assert "multicast marked 1" in cp.stdout


def test_cut_short_file(built, tmp_path):
	pkts, want, rev, rev_dir = conversation(4)
	path = tmp_path / "cut.pcap"
	write_pcap(path, pkts, LINKTYPE_RAW)
	data = path.read_bytes()
	path.write_bytes(data[:-5])
	cp = subprocess.run([DUMP, "--json", str(path)], capture_output=True, text=True)
	assert cp.returncode == 0, cp.stderr
	assert "cut short" in cp.stderr
	res = json.loads(cp.stdout)
	assert res["file_truncated"] and res["totals"]["packets"] == len(pkts) - 1


@pytest.mark.parametrize("args,rc,msg", [
	([], 2, "no capture file"),
	(["--bogus", "x.pcap"], 2, "unknown option '--bogus'"),
	(["--first-n", "0", "x.pcap"], 2, "--first-n '0'"),
	(["--max-flows", "12x", "x.pcap"], 2, "--max-flows '12x'"),
	(["a.pcap", "b.pcap"], 2, "more than one"),
	(["/nonexistent/cx.pcap"], 1, "No such file"),
])
def test_cli_errors(built, args, rc, msg):
	cp = subprocess.run([DUMP] + args, capture_output=True, text=True)
	assert cp.returncode == rc, cp.stderr
	assert msg in cp.stderr


def test_not_pcap(built, tmp_path):
	ng = tmp_path / "x.pcapng"
	ng.write_bytes(b"\x0a\x0d\x0d\x0a" + b"\x1c\x00\x00\x00\x4d\x3c\x2b\x1a" + b"\0" * 16)
	cp = subprocess.run([DUMP, str(ng)], capture_output=True, text=True)
	assert cp.returncode == 1 and "not a classic pcap" in cp.stderr
	lt = tmp_path / "x.pcap"
	lt.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 105))
	cp = subprocess.run([DUMP, str(lt)], capture_output=True, text=True)
	assert cp.returncode == 1 and "link type 105" in cp.stderr
	cp = subprocess.run([DUMP, "--help"], capture_output=True, text=True)
	assert cp.returncode == 0 and "usage: conex-dump" in cp.stdout
