"""Run records in /run/conex-testbed/<id>.json, the reaper, and teardown.

A record is written before the first namespace is created, so a namespace of
ours without a record is always stale. A record carries the creator's pid and
its start time (field 22 of /proc/<pid>/stat), so a recycled pid is not taken
for a live creator. A record with pid null belongs to nobody (made by `tb up`)
and is removed only by `tb down`.
"""

import json
import os
import re
import signal
import subprocess
import time

STATE_DIR = "/run/conex-testbed"
NETNS_DIR = "/run/netns"

RUN_ID_RE = re.compile(r"^[0-9a-f]{4,8}$")
# cx<id>sw, cx<id>h<i>, cx<id>h<i>g<j>: the only names this project creates.
NS_RE = re.compile(r"^cx([0-9a-f]{4,8})(sw|h[0-9]+|h[0-9]+g[0-9]+)$")


def proc_start_ticks(pid):
	"""Start time of pid in clock ticks since boot, or None if it is gone."""
	try:
		with open(f"/proc/{pid}/stat", "rb") as f:
			data = f.read()
	except OSError:
		return None
	# comm may contain spaces and parentheses: split after the last ')'.
	rest = data[data.rindex(b")") + 2:].split()
	return int(rest[19])


def pid_alive(pid, start_ticks):
	if pid is None:
		return True
	st = proc_start_ticks(pid)
	return st is not None and (start_ticks is None or st == start_ticks)


def record_path(run_id):
	return os.path.join(STATE_DIR, run_id + ".json")


def write_record(rec):
	os.makedirs(STATE_DIR, mode=0o755, exist_ok=True)
	path = record_path(rec["id"])
	tmp = f"{path}.{os.getpid()}.tmp"
	with open(tmp, "w") as f:
		json.dump(rec, f, indent=1, sort_keys=True)
		f.write("\n")
	os.replace(tmp, path)


def read_record(run_id):
	try:
		with open(record_path(run_id)) as f:
			return json.load(f)
	except FileNotFoundError:
		return None


def remove_record(run_id):
	try:
		os.unlink(record_path(run_id))
	except FileNotFoundError:
		pass


def list_records():
	try:
		names = sorted(os.listdir(STATE_DIR))
	except FileNotFoundError:
		return []
	out = []
	for n in names:
		if not n.endswith(".json"):
			continue
		rid = n[:-5]
		if not RUN_ID_RE.match(rid):
			continue
		try:
			rec = read_record(rid)
		except (OSError, ValueError):
			rec = {"id": rid, "pid": None, "namespaces": [], "corrupt": True}
		if rec is not None:
			out.append(rec)
	return out


def list_netns():
	try:
		return sorted(os.listdir(NETNS_DIR))
	except FileNotFoundError:
		return []


def our_netns(run_id=None):
	out = []
	for n in list_netns():
		m = NS_RE.match(n)
		if m and (run_id is None or m.group(1) == run_id):
			out.append(n)
	return out


def _netns_inode(ns):
	try:
		st = os.stat(os.path.join(NETNS_DIR, ns))
	except FileNotFoundError:
		return None
	return (st.st_dev, st.st_ino)


def netns_pids(namespaces):
	"""Pids living in any of namespaces (what `ip netns pids` does, for many)."""
	inodes = {}
	for ns in namespaces:
		ino = _netns_inode(ns)
		if ino is not None:
			inodes[ino] = ns
	if not inodes:
		return {}
	out = {}
	me = os.getpid()
	for d in os.listdir("/proc"):
		if not d.isdigit() or int(d) == me:
			continue
		try:
			st = os.stat(f"/proc/{d}/ns/net")
		except OSError:
			continue
		ns = inodes.get((st.st_dev, st.st_ino))
		if ns is not None:
			out[int(d)] = ns
	return out


def kill_in_netns(namespaces, timeout_s=5.0):
	"""SIGKILL every process in namespaces and wait until none is left.

	Bounded: a process stuck in uninterruptible sleep would otherwise hang
	teardown; it is reported by the caller's leak check instead.
	"""
	deadline = time.monotonic() + timeout_s
	while True:
		pids = netns_pids(namespaces)
		if not pids:
			return []
		for pid in pids:
			try:
				os.kill(pid, signal.SIGKILL)
			except ProcessLookupError:
				pass
		for pid in pids:
			try:
				# Reap our own children so they do not linger as zombies
				# (a zombie has no namespace, but keep the table clean).
				os.waitpid(pid, os.WNOHANG)
			except ChildProcessError:
				pass
		if time.monotonic() > deadline:
			return sorted(pids)
		time.sleep(0.02)


def delete_netns(namespaces):
	present = [n for n in namespaces if os.path.exists(os.path.join(NETNS_DIR, n))]
	if not present:
		return
	batch = "".join(f"netns del {n}\n" for n in present)
	# -force: go on after an error, so one odd namespace does not keep the others.
	subprocess.run(["ip", "-force", "-batch", "-"], input=batch, text=True,
		       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
	left = [n for n in present if os.path.exists(os.path.join(NETNS_DIR, n))]
	if left:
		raise RuntimeError(f"could not delete namespaces: {' '.join(left)}")


def teardown(run_id, namespaces=()):
	"""Kill processes, delete namespaces (recorded or matching), drop the record."""
	names = sorted(set(namespaces) | set(our_netns(run_id)))
	stuck = kill_in_netns(names)
	delete_netns(names)
	remove_record(run_id)
	return stuck


def reap(all_runs=False):
	"""Tear down runs whose creator is dead (with all_runs: every run of ours),
	and namespaces of ours that no record claims. Returns the ids torn down.
	"""
	done = []
	for rec in list_records():
		rid = rec["id"]
		if not all_runs and pid_alive(rec.get("pid"), rec.get("pid_start")):
			continue
		teardown(rid, rec.get("namespaces", []))
		done.append(rid)
	orphans = {}
	for n in our_netns():
		orphans.setdefault(NS_RE.match(n).group(1), []).append(n)
	for rid, names in sorted(orphans.items()):
		# Records are written before namespaces are made and removed after
		# they are gone, so a namespace whose record is absent now is stale.
		if read_record(rid) is not None:
			continue
		teardown(rid, names)
		if rid not in done:
			done.append(rid)
	return done
