"""Traffic helpers: one iperf3 transfer between two nodes."""

import json
import subprocess
import time


def wait_listening(node, port, proto="tcp", timeout_s=5.0):
	"""Until something listens on port in node's namespace."""
	flag = "-Hltn" if proto == "tcp" else "-Hlun"
	deadline = time.monotonic() + timeout_s
	while time.monotonic() < deadline:
		cp = node.run(["ss", flag, f"sport = :{port}"], check=False)
		if cp.returncode == 0 and cp.stdout.strip():
			return
		time.sleep(0.02)
	raise TimeoutError(f"[{node.name}] nothing listens on {proto} port {port}")


def iperf3(client, server, addr, seconds=5, port=5201, args=(), timeout_s=None):
	"""Run `iperf3 -c addr` on client against a one-shot server on server.

	Returns iperf3's JSON result (a dict); raises on failure. The server is
	started with popen, so the testbed's down() also kills it if we fail.
	"""
	srv = server.popen(["iperf3", "-s", "-1", "-p", str(port)],
			   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
	try:
		wait_listening(server, port)
		cp = client.run(["iperf3", "-c", addr, "-p", str(port), "-t", str(seconds), "-J"]
				+ list(args), check=False,
				timeout=timeout_s or seconds + 20)
		try:
			res = json.loads(cp.stdout)
		except ValueError:
			raise RuntimeError(f"iperf3 -c {addr}: no JSON: {cp.stderr.strip()}") from None
		if cp.returncode != 0 or "error" in res:
			raise RuntimeError(f"iperf3 -c {addr}: {res.get('error', cp.stderr.strip())}")
		srv.wait(timeout=10)
		return res
	finally:
		if srv.poll() is None:
			srv.kill()
			srv.wait()
