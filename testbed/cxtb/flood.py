#!/usr/bin/python3
"""A hostile tenant's floods for the trial's hostile scenario: paced raw
packets built with scapy, and a UDP sink that counts what arrives of
them, so that "what the attacker got" is measured at the receiver.

Kinds (the attacks of tests/pytest/test_hostile.py and docs/security.md):

  extchain  IPv6 UDP with one 128-octet Destination Options header, past
            what the policer reads: it must drop them (drops_unreadable).
  xonly     IPv4 UDP, ECT(0), ConEx-encoded with X only (docs/wire.md §3:
            RF=1, DF=1, ID 0x8000: "ConEx-capable, no congestion"), a new
            source port every 8 packets: declares nothing, so the policer
            charges nothing and the auditor must catch it.
  vxlan     the guest's own VXLAN (UDP 4789, VNI 4242) to a host's underlay
            address, inner source another tenant's guest: the policer must
            drop it (drops_protected).

As a library (from the testbed):

	res = flood.run(snd, sink_node, "xonly", dst, port, seconds, "200M")
	res["bits_per_second"], res["sent_pkts"]

As a program, run by run() in the two namespaces:

	flood.py sink ADDR PORT SECONDS    prints "listening", then one JSON line
	flood.py send KIND SRC DST PORT SECONDS RATE_BPS [INNER_SRC INNER_DST]
"""
import json
import os
import socket
import subprocess
import sys
import time

PAYLOAD = 1000
VXLAN_PORT = 4789
VNI = 4242		# the policer's default (conex-policer.conf(5))
XONLY_ID = 0x8000	# X=1, L=E=C=0 (docs/wire.md §3.2)
ROTATE = 8		# packets per source port (xonly)
BATCH = 16


def _family(addr):
	return socket.AF_INET6 if ":" in addr else socket.AF_INET


def sink(addr, port, seconds):
	"""Count UDP payload bytes to addr:port for seconds (from the start)."""
	s = socket.socket(_family(addr), socket.SOCK_DGRAM)
	s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
	s.bind((addr, port))
	s.settimeout(0.1)
	print("listening", flush=True)
	end = time.monotonic() + seconds
	got = pkts = 0
	while time.monotonic() < end:
		try:
			got += len(s.recv(65536))
			pkts += 1
		except socket.timeout:
			pass
	print(json.dumps({"bytes": got, "packets": pkts, "seconds": seconds,
			  "bits_per_second": 8 * got / seconds}), flush=True)


def packets(kind, src, dst, port, inner_src=None, inner_dst=None):
	"""The flood's packets as bytes (full IP packets), and how to vary
	them: (template, sport_offset or None)."""
	from scapy.all import (IP, IPv6, IPv6ExtHdrDestOpt, PadN, UDP, VXLAN, Ether,
			       Raw)
	data = Raw(b"h" * PAYLOAD)
	if kind == "extchain":
		p = (IPv6(src=src, dst=dst) /
		     IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 124)]) /
		     UDP(sport=41000, dport=port) / data)
		return bytes(p), None
	if kind == "xonly":
		# RF ("evil") + DF, ID 0x8000, ECT(0); UDP checksum 0 (none,
		# allowed over IPv4) so that the source port can be rewritten
		p = IP(src=src, dst=dst, tos=0x02, flags="evil+DF", id=XONLY_ID) / \
			UDP(sport=20000, dport=port, chksum=0) / data
		return bytes(p), 20
	if kind == "vxlan":
		p = (IP(src=src, dst=dst) / UDP(sport=42000, dport=VXLAN_PORT) /
		     VXLAN(vni=VNI) / Ether() /
		     IP(src=inner_src, dst=inner_dst) / UDP(sport=42001, dport=port) / data)
		return bytes(p), None
	raise ValueError(f"unknown flood kind {kind!r}")


def send(kind, src, dst, port, seconds, rate_bps, inner_src=None, inner_dst=None):
	"""Send kind's packets at rate_bps (IP bytes) for seconds; returns
	{sent_pkts, sent_bytes, errors}."""
	pkt, sport_at = packets(kind, src, dst, port, inner_src, inner_dst)
	fam = socket.AF_INET6 if kind == "extchain" else socket.AF_INET
	# IPPROTO_RAW: the header is ours (IPv4: the kernel fills in the
	# checksum and total length, keeps a non-zero ID and the flags)
	s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW)
	s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
	gap = 8 * len(pkt) / rate_bps
	buf = bytearray(pkt)
	sent = errors = n = 0
	t0 = time.monotonic()
	end = t0 + seconds
	while True:
		now = time.monotonic()
		if now >= end:
			break
		due = t0 + n * gap
		if due > now:
			time.sleep(min(due - now, end - now))
			continue
		for _ in range(BATCH):
			if sport_at is not None and n % ROTATE == 0:
				sp = 20000 + (n // ROTATE) % 40000
				buf[sport_at:sport_at + 2] = sp.to_bytes(2, "big")
			try:
				s.sendto(buf, (dst, 0))
				sent += 1
			except OSError:
				errors += 1
			n += 1
	return {"sent_pkts": sent, "sent_bytes": sent * len(pkt), "errors": errors,
		"packet_bytes": len(pkt)}


def run(snd, sink_node, kind, src, dst, port, seconds, rate_bps, sink_addr,
	inner_src=None, inner_dst=None):
	"""Flood from node snd, count at sink_node (UDP sink_addr:port) over
	the same seconds (+1 for the last packets); returns the sink's result
	(bits_per_second: UDP payload the receiver got) with the sender's
	counts. Never waits longer than seconds + 40."""
	me = os.path.abspath(__file__)
	rcv = sink_node.popen(["/usr/bin/python3", me, "sink", sink_addr, str(port),
			       str(seconds + 1)],
			      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
	try:
		line = rcv.stdout.readline()
		if line.strip() != "listening":
			raise RuntimeError(f"flood sink did not start: {rcv.stderr.read()[-500:]}")
		cmd = ["/usr/bin/python3", me, "send", kind, src, dst, str(port), str(seconds),
		       str(int(rate_bps))] + ([inner_src, inner_dst] if inner_src else [])
		cp = snd.run(cmd, check=False, timeout=seconds + 30)
		if cp.returncode != 0:
			raise RuntimeError(f"flood sender failed: {cp.stderr[-500:]}")
		out, err = rcv.communicate(timeout=seconds + 40)
		if rcv.returncode != 0 or not out.strip():
			raise RuntimeError(f"flood sink failed: {err[-500:]}")
		res = json.loads(out.strip().splitlines()[-1])
		# the goodput is over the flood's seconds, as the other loads'
		res["bits_per_second"] = 8 * res["bytes"] / seconds
		res.update(json.loads(cp.stdout.strip().splitlines()[-1]))
		return res
	finally:
		if rcv.poll() is None:
			rcv.kill()
			rcv.wait()


def main(argv):
	if len(argv) >= 4 and argv[0] == "sink":
		sink(argv[1], int(argv[2]), float(argv[3]))
		return 0
	if len(argv) in (7, 9) and argv[0] == "send":
		kind, src, dst, port, seconds, rate = argv[1:7]
		inner = argv[7:9] if len(argv) == 9 else [None, None]
		print(json.dumps(send(kind, src, dst, int(port), float(seconds), float(rate),
				      *inner)), flush=True)
		return 0
	print(__doc__, file=sys.stderr)
	return 2


if __name__ == "__main__":
	sys.exit(main(sys.argv[1:]))
