#!/usr/bin/python3
"""Bulk TCP transfer that cannot hang: goodput measured at the receiver
over a fixed window, whatever the sender's fate.

iperf3 waits for its data connection to drain before it reports, so a flow
that a sanction has driven into exponential RTO backoff stalls iperf3
itself. Here the receiver counts what arrives until its deadline and
reports; the sender stops at its own deadline (sends time out after
0.2 s) and may restart its connection every --restart-s seconds under a
new source port (the flow-ID whitewashing of RFC 7713 §5.5).

As a library (from the testbed):

	res = bulk.transfer(snd, rcv, rcv.ip4, seconds=4, restart_s=0.5)
	res["bits_per_second"], res["connections"]

As a program, run by transfer() in the two namespaces:

	bulk.py recv ADDR PORT SECONDS      prints one JSON line at the end
	bulk.py send ADDR PORT SECONDS [RESTART_S [FLOWS]]

FLOWS parallel connections share the sender's process (one thread each);
the receiver reports their total and the bytes of each connection.
"""
import json
import os
import socket
import subprocess
import sys
import threading
import time

CHUNK = 64 * 1024
ACCEPT_WAIT_S = 0.05
SEND_TIMEOUT_S = 0.2
CONNECT_TIMEOUT_S = 1.0


def _family(addr):
	return socket.AF_INET6 if ":" in addr else socket.AF_INET


def recv_main(addr, port, seconds):
	"""Listen, accept any number of connections, count their bytes until
	SECONDS after the first connection, print the result as JSON."""
	ls = socket.socket(_family(addr), socket.SOCK_STREAM)
	ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	ls.bind((addr, port))
	ls.listen(256)
	ls.setblocking(False)
	print("listening", flush=True)
	conns, total, start, first_byte = [], 0, None, None
	per_conn = {}
	import selectors
	sel = selectors.DefaultSelector()
	sel.register(ls, selectors.EVENT_READ)
	hard_end = time.monotonic() + seconds + 30
	while True:
		now = time.monotonic()
		if start is not None and now >= start + seconds:
			break
		if now >= hard_end:
			break
		wait = ACCEPT_WAIT_S if start is None else max(0.0, start + seconds - now)
		for key, _ in sel.select(min(wait, 0.1)):
			if key.fileobj is ls:
				try:
					c, _peer = ls.accept()
				except BlockingIOError:
					continue
				c.setblocking(False)
				sel.register(c, selectors.EVENT_READ)
				conns.append(c)
				if start is None:
					start = time.monotonic()
				continue
			try:
				data = key.fileobj.recv(CHUNK)
			except (BlockingIOError, InterruptedError):
				continue
			except OSError:
				data = b""
			if not data:
				sel.unregister(key.fileobj)
				key.fileobj.close()
				continue
			if first_byte is None:
				first_byte = time.monotonic()
			total += len(data)
			fd = key.fileobj.fileno()
			per_conn[fd] = per_conn.get(fd, 0) + len(data)
	elapsed = (time.monotonic() - start) if start is not None else 0.0
	print(json.dumps({"bytes": total, "seconds": elapsed,
			  "connections": len(conns),
			  "per_connection_bytes": sorted(per_conn.values(), reverse=True),
			  "bits_per_second": 8 * total / elapsed if elapsed > 0 else 0.0}),
	      flush=True)
	os._exit(0)	# no graceful close: the window is over


def send_main(addr, port, seconds, restart_s=0.0, flows=1):
	"""FLOWS threads, each sending as fast as TCP allows for SECONDS; with
	RESTART_S > 0, each closes and reconnects (a new source port) that
	often."""
	end = time.monotonic() + seconds
	threads = [threading.Thread(target=_send_one, args=(addr, port, end, restart_s),
				    daemon=True) for _ in range(max(1, flows))]
	for t in threads:
		t.start()
	for t in threads:
		t.join(max(0.0, end - time.monotonic()) + 2.0)
	return 0


def _send_one(addr, port, end, restart_s):
	buf = b"\x5a" * CHUNK
	while time.monotonic() < end:
		s = socket.socket(_family(addr), socket.SOCK_STREAM)
		s.settimeout(CONNECT_TIMEOUT_S)
		try:
			s.connect((addr, port))
		except OSError:
			s.close()
			time.sleep(0.05)
			continue
		s.settimeout(SEND_TIMEOUT_S)
		until = end if restart_s <= 0 else min(end, time.monotonic() + restart_s)
		while time.monotonic() < until:
			try:
				s.send(buf)
			except socket.timeout:
				continue
			except OSError:
				break
		s.close()


def transfer(client, server, addr, seconds=4, port=5301, restart_s=0.0, flows=1):
	"""Bulk transfer client -> server (nodes of a Testbed) to addr for
	seconds; returns the receiver's result dict (bytes, seconds,
	connections, per_connection_bytes, bits_per_second). Never waits longer
	than seconds + 40."""
	me = os.path.abspath(__file__)
	rcv = server.popen(["/usr/bin/python3", me, "recv", addr, str(port), str(seconds)],
			   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
	try:
		line = rcv.stdout.readline()
		if line.strip() != "listening":
			raise RuntimeError(f"bulk receiver did not start: {rcv.stderr.read()[-500:]}")
		snd = client.popen(["/usr/bin/python3", me, "send", addr, str(port), str(seconds),
				    str(restart_s), str(flows)], stdout=subprocess.DEVNULL,
				   stderr=subprocess.PIPE, text=True)
		try:
			out, err = rcv.communicate(timeout=seconds + 40)
		finally:
			try:
				snd.wait(timeout=5)
			except subprocess.TimeoutExpired:
				snd.kill()
				snd.wait()
		if rcv.returncode != 0 or not out.strip():
			raise RuntimeError(f"bulk receiver failed: {err[-500:]}")
		return json.loads(out.strip().splitlines()[-1])
	finally:
		if rcv.poll() is None:
			rcv.kill()
			rcv.wait()


def main(argv):
	if len(argv) >= 4 and argv[0] == "recv":
		return recv_main(argv[1], int(argv[2]), float(argv[3]))
	if len(argv) >= 4 and argv[0] == "send":
		return send_main(argv[1], int(argv[2]), float(argv[3]),
				 float(argv[4]) if len(argv) > 4 else 0.0,
				 int(argv[5]) if len(argv) > 5 else 1)
	print(__doc__, file=sys.stderr)
	return 2


if __name__ == "__main__":
	sys.exit(main(sys.argv[1:]))
