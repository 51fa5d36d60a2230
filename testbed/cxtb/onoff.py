#!/usr/bin/python3
"""On-off transfers with completion times, for the trials' Table 2.

A client sends files of SIZE bytes, each on a new TCP connection, starting
them at exponentially distributed intervals of mean MEAN_S (a Poisson
process, seeded) for SECONDS; a transfer is an 8-byte big-endian length and
the data, and the server answers one byte once it has it all. The
completion time is from connect() to that answer, as the application sees
it. One selector loop per side, so thousands of short transfers cost no
threads.

	python3 onoff.py recv ADDR PORT SECONDS
	python3 onoff.py send ADDR PORT SECONDS SIZE MEAN_S SEED

The sender prints JSON: started, completed, fct_s (list), bytes. Transfers
still running GRACE_S after the last start are counted as not completed.
"""
import json
import os
import random
import selectors
import socket
import struct
import subprocess
import sys
import time

CHUNK = 64 * 1024
GRACE_S = 10.0
MAX_OPEN = 512


def _family(addr):
	return socket.AF_INET6 if ":" in addr else socket.AF_INET


def recv_main(addr, port, seconds):
	ls = socket.socket(_family(addr), socket.SOCK_STREAM)
	ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	ls.bind((addr, port))
	ls.listen(1024)
	ls.setblocking(False)
	print("listening", flush=True)
	sel = selectors.DefaultSelector()
	sel.register(ls, selectors.EVENT_READ)
	state = {}	# socket -> [header bytes, remaining]
	end = time.monotonic() + seconds + GRACE_S + 5
	while time.monotonic() < end:
		for key, _ in sel.select(0.2):
			s = key.fileobj
			if s is ls:
				try:
					c, _ = ls.accept()
				except BlockingIOError:
					continue
				c.setblocking(False)
				state[c] = [b"", None]
				sel.register(c, selectors.EVENT_READ)
				continue
			try:
				data = s.recv(CHUNK)
			except (BlockingIOError, InterruptedError):
				continue
			except OSError:
				data = b""
			st = state[s]
			if data:
				if st[1] is None:
					st[0] += data
					if len(st[0]) < 8:
						continue
					st[1] = struct.unpack("!Q", st[0][:8])[0]
					data = st[0][8:]
				st[1] -= len(data)
				if st[1] > 0:
					continue
				try:
					s.send(b"\x01")
				except OSError:
					pass
			# all received and answered, or the peer went away
			sel.unregister(s)
			s.close()
			del state[s]
	os._exit(0)


def send_main(addr, port, seconds, size, mean_s, seed):
	rng = random.Random(seed)
	t0 = time.monotonic()
	starts, t = [], rng.expovariate(1 / mean_s)
	while t < seconds:
		starts.append(t0 + t)
		t += rng.expovariate(1 / mean_s)
	sel = selectors.DefaultSelector()
	payload = b"\x5a" * CHUNK
	header = struct.pack("!Q", size)
	active = {}	# socket -> [start time, bytes left to send (header included)]
	fct, started, done_bytes = [], 0, 0
	end = t0 + seconds + GRACE_S
	while (starts or active) and time.monotonic() < end:
		now = time.monotonic()
		while starts and starts[0] <= now and len(active) < MAX_OPEN:
			starts.pop(0)
			s = socket.socket(_family(addr), socket.SOCK_STREAM)
			s.setblocking(False)
			try:
				s.connect((addr, port))
			except BlockingIOError:
				pass
			except OSError:
				s.close()
				continue
			active[s] = [now, size + 8]
			sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ)
			started += 1
		wait = max(0.0, min(0.05, (starts[0] - now) if starts else 0.05))
		for key, ev in sel.select(wait):
			s = key.fileobj
			st = active[s]
			if ev & selectors.EVENT_WRITE and st[1] > 0:
				sent = size + 8 - st[1]
				buf = (header + payload[:CHUNK - 8])[sent:] if sent < 8 else payload
				try:
					n = s.send(buf[:st[1]])
				except (BlockingIOError, InterruptedError):
					n = 0
				except OSError:
					sel.unregister(s)
					s.close()
					del active[s]
					continue
				st[1] -= n
				if st[1] <= 0:
					sel.modify(s, selectors.EVENT_READ)
				continue
			if ev & selectors.EVENT_READ:
				try:
					b = s.recv(1)
				except (BlockingIOError, InterruptedError):
					continue
				except OSError:
					b = b""
				if b == b"\x01" and st[1] <= 0:
					fct.append(time.monotonic() - st[0])
					done_bytes += size
				sel.unregister(s)
				s.close()
				del active[s]
	for s in list(active):
		s.close()
	print(json.dumps({"started": started, "completed": len(fct), "fct_s": fct,
			  "bytes": done_bytes}), flush=True)
	return 0


def run(client, server, addr, port, seconds, size, mean_s, seed):
	"""One tenant's on-off workload between two testbed nodes; returns the
	sender's result dict."""
	me = os.path.abspath(__file__)
	rcv = server.popen(["/usr/bin/python3", me, "recv", addr, str(port), str(seconds)],
			   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
	try:
		if rcv.stdout.readline().strip() != "listening":
			raise RuntimeError(f"on-off receiver did not start: {rcv.stderr.read()[-500:]}")
		cp = client.run(["/usr/bin/python3", me, "send", addr, str(port), str(seconds),
				 str(size), str(mean_s), str(seed)], check=False,
				timeout=seconds + GRACE_S + 30)
		if cp.returncode != 0 or not cp.stdout.strip():
			raise RuntimeError(f"on-off sender failed: {cp.stderr[-500:]}")
		return json.loads(cp.stdout.strip().splitlines()[-1])
	finally:
		if rcv.poll() is None:
			rcv.kill()
		rcv.wait()


def main(argv):
	if len(argv) == 4 and argv[0] == "recv":
		return recv_main(argv[1], int(argv[2]), float(argv[3]))
	if len(argv) == 7 and argv[0] == "send":
		return send_main(argv[1], int(argv[2]), float(argv[3]), int(argv[4]),
				 float(argv[5]), int(argv[6]))
	print(__doc__, file=sys.stderr)
	return 2


if __name__ == "__main__":
	sys.exit(main(sys.argv[1:]))
