"""ICMP / ICMPv6 echo to a list of addresses, for namespaces without iputils.

	python3 ping.py [--count N] [--timeout SECONDS] ADDR...

Prints "ADDR ok RTT_US" or "ADDR lost" per address; exit status 0 only if
every address answered every echo. Raw sockets, so root (or CAP_NET_RAW).
"""

import argparse
import os
import select
import socket
import struct
import sys
import time

ECHO4, REPLY4 = 8, 0
ECHO6, REPLY6 = 128, 129


def _csum(data):
	if len(data) % 2:
		data += b"\0"
	s = sum(struct.unpack(f"!{len(data) // 2}H", data))
	s = (s >> 16) + (s & 0xFFFF)
	s += s >> 16
	return ~s & 0xFFFF


def echo(addr, ident, seq, timeout_s):
	"""One echo; RTT in microseconds, or None when no reply came in time."""
	v6 = ":" in addr
	if v6:
		s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
	else:
		s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
	with s:
		payload = b"cxtb-ping" + struct.pack("!Q", time.monotonic_ns())
		typ = ECHO6 if v6 else ECHO4
		hdr = struct.pack("!BBHHH", typ, 0, 0, ident, seq)
		# The kernel fills in the ICMPv6 checksum (it needs the pseudo-header).
		ck = 0 if v6 else _csum(hdr + payload)
		pkt = struct.pack("!BBHHH", typ, 0, ck, ident, seq) + payload
		t0 = time.monotonic()
		s.sendto(pkt, (addr, 0))
		deadline = t0 + timeout_s
		while True:
			left = deadline - time.monotonic()
			if left <= 0:
				return None
			r, _, _ = select.select([s], [], [], left)
			if not r:
				return None
			data, src = s.recvfrom(2048)
			if not v6:
				ihl = (data[0] & 0x0F) * 4
				data = data[ihl:]
			if len(data) < 8:
				continue
			rtyp, _, _, rid, rseq = struct.unpack("!BBHHH", data[:8])
			if (rtyp == (REPLY6 if v6 else REPLY4) and rid == ident and rseq == seq
			    and src[0].split("%")[0] == addr):
				return int((time.monotonic() - t0) * 1e6)


def main(argv=None):
	ap = argparse.ArgumentParser(description="ICMP echo to each ADDR")
	ap.add_argument("--count", type=int, default=1)
	ap.add_argument("--timeout", type=float, default=1.0, help="seconds per echo")
	ap.add_argument("addrs", nargs="+")
	a = ap.parse_args(argv)
	ok = True
	ident = os.getpid() & 0xFFFF
	for addr in a.addrs:
		for seq in range(1, a.count + 1):
			rtt = echo(addr, ident, seq, a.timeout)
			if rtt is None:
				print(f"{addr} lost")
				ok = False
			else:
				print(f"{addr} ok {rtt}")
	return 0 if ok else 1


if __name__ == "__main__":
	sys.exit(main())
