"""Configuration reload of conex-marker (issue 7): SIGHUP, `conex-marker
reload` and `conexctl reload` in a guest of the testbed, run from the
installed layout.

A marker on h1g1's eth0 with a configuration file; TCP transfers h1g1 ->
h2g1 (iperf3: each leaves its connections in the flow table until
flow_idle, 120 s, so the table is not empty between transfers). Checked:
a run-time key takes effect at once (cheat none -> nomark: X keeps growing,
L, E and C stop; ipv4 off: IPv4 unstamped) while every tracked connection
and its gauge sums survive the reload; a file with an error is refused
whole with file:line and the old configuration keeps marking; a change of
interface or flow_table_size is refused ("restart conex-marker to change
..."); non-root is refused; reloads and refusals are counted and logged.
"""
import json
import os
import signal
import time

import pytest

import cxtb
from conftest import install_root_or_skip, run_installed, running_testbed
from cxtb import daemon
from cxtb import marker as cxm

SECONDS = 2
MARKS = ("pkts_l", "bytes_l", "pkts_e", "bytes_e", "pkts_c", "bytes_c")
GAUGES = ("flows", "leg_bytes", "ceg_bytes", "csc_bytes")
NOBODY = 65534


@pytest.fixture(scope="module")
def root(netns_ok):
	return install_root_or_skip(progs=("conex-marker", "conexctl"), tools=("setpriv",),
				    what="conex-marker cannot be built and installed",
				    show_path=False)


@pytest.fixture(scope="module")
def bed(root, iperf3_ok):
	with running_testbed(hosts=2, guests=1, cc="cubic", ecn=1) as tb:
		yield tb


def conf_text(**keys):
	"""A marker configuration: interface eth0 and these keys, in this order."""
	lines = ["# test_marker_reload", "interface eth0"]
	lines += [f"{k} {v}" for k, v in keys.items()]
	return "\n".join(lines) + "\n"


def write(path, text):
	# Replaced whole (rename), as an editor or a config manager does.
	tmp = f"{path}.new"
	with open(tmp, "w") as f:
		f.write(text)
	os.replace(tmp, path)


def transfer(bed, fam=4):
	snd, rcv = bed.guest(1, 1), bed.guest(2, 1)
	cxtb.iperf3(snd, rcv, rcv.ip4 if fam == 4 else rcv.ip6, seconds=SECONDS)


def delta(before, after, keys):
	return {k: after[k] - before[k] for k in keys}


def wait_stat(m, key, want, timeout_s=5.0):
	"""Poll stats until key == want (a SIGHUP is served by the next loop turn)."""
	deadline = time.monotonic() + timeout_s
	while True:
		st = m.stats()
		if st[key] == want or time.monotonic() > deadline:
			return st
		time.sleep(0.1)


def client(g, root, *args, user=None):
	return run_installed(g, root, "conex-marker", *args, user=user)


def conexctl(g, root, *args):
	return run_installed(g, root, "conexctl", *args)


def test_reload_runtime_keys(bed, root):
	g = bed.guest(1, 1)
	for n in (g, bed.guest(2, 1)):
		bed.set_tcp(n, ecn=1)
	m = cxm.start_marker(g, config_text=conf_text(flow_table_size=4096,
						       initial_credit_packets=5,
						       cheat="none"))
	conf = m.conf
	try:
		transfer(bed)
		st1 = m.stats()
		assert st1["flows"] >= 1 and st1["pkts_x"] > 0 and st1["pkts_c"] > 0, st1
		assert st1["reloads"] == st1["reload_errors"] == 0, st1

		# SIGHUP: cheat nomark. Connections and gauges survive the reload.
		write(conf, conf_text(flow_table_size=4096, initial_credit_packets=5,
				      cheat="nomark"))
		m.proc.send_signal(signal.SIGHUP)
		st2 = wait_stat(m, "reloads", 1)
		assert st2["reloads"] == 1 and st2["reload_errors"] == 0, st2
		assert {k: st2[k] for k in GAUGES} == {k: st1[k] for k in GAUGES}, (st1, st2)
		assert m.proc.poll() is None
		transfer(bed)
		st3 = m.stats()
		d = delta(st2, st3, ("pkts_x",) + MARKS)
		assert d["pkts_x"] > 1000, d
		assert all(d[k] == 0 for k in MARKS), ("marks under cheat nomark", d)
		assert st3["flows"] > st2["flows"], (st2, st3)

		# `conex-marker reload`: honest again, with more initial credit.
		write(conf, conf_text(flow_table_size=4096, initial_credit_packets=10,
				      cheat="none"))
		cp = client(g, root, "reload", "--dev", "eth0")
		assert cp.returncode == 0 and cp.stdout == "", (cp.stdout, cp.stderr)
		st4 = m.stats()
		assert st4["reloads"] == 2 and st4["flows"] == st3["flows"], st4
		assert {k: st4[k] for k in GAUGES} == {k: st3[k] for k in GAUGES}, (st3, st4)
		transfer(bed)
		st5 = m.stats()
		d = delta(st4, st5, ("pkts_x", "pkts_c"))
		assert d["pkts_x"] > 1000 and d["pkts_c"] >= 10, d
		log = m.stderr()
		assert f"configuration reloaded from {conf}: cheat none -> nomark" in log, log
		assert "initial_credit_packets 5 -> 10, cheat nomark -> none" in log, log

		# A file with an error: refused whole (its cheat nomark too), with
		# file:line; the old configuration keeps marking.
		write(conf, conf_text(cheat="nomark", initial_credit_packets="lots"))
		cp = client(g, root, "reload", "--dev", "eth0")
		assert cp.returncode == 1, cp
		assert f"{conf}:4:" in cp.stderr and "'lots'" in cp.stderr, cp.stderr
		st6 = m.stats()
		assert st6["reloads"] == 2 and st6["reload_errors"] == 1, st6
		transfer(bed)
		st7 = m.stats()
		d = delta(st6, st7, ("pkts_x", "pkts_c"))
		assert d["pkts_x"] > 1000 and d["pkts_c"] >= 10, ("old config not kept", d)
		assert f"reload refused, configuration unchanged: {conf}:4:" in m.stderr()

		# Keys that need a restart: refused by SIGHUP and by the client.
		write(conf, conf_text(flow_table_size=1024))
		m.proc.send_signal(signal.SIGHUP)
		st8 = wait_stat(m, "reload_errors", 2)
		assert st8["reload_errors"] == 2 and st8["reloads"] == 2, st8
		cp = client(g, root, "reload", "--dev", "eth0")
		assert cp.returncode == 1, cp
		assert "flow_table_size 4096 -> 1024: restart conex-marker to change " \
		       "flow_table_size" in cp.stderr, cp.stderr
		assert m.stats()["reload_errors"] == 3

		# Non-root: the whole control socket is refused, nothing changes.
		write(conf, conf_text(flow_table_size=4096, ipv4="off"))
		for args in (("reload", "--dev", "eth0"), ("stats", "--dev", "eth0")):
			cp = client(g, root, *args, user=NOBODY)
			assert cp.returncode == 1 and "permission denied" in cp.stderr, \
				(args, cp.stderr)
		st9 = m.stats()
		assert st9["reloads"] == 2 and st9["reload_errors"] == 3, st9

		# conexctl reload in the guest reaches the marker: ipv4 off applies.
		cp = conexctl(g, root, "reload")
		assert cp.returncode == 0, cp.stderr
		assert "conex-marker.eth0: configuration reloaded" in cp.stdout, cp.stdout
		st10 = m.stats()
		assert st10["reloads"] == 3 and st10["flows"] == st9["flows"], st10
		transfer(bed, fam=4)
		st11 = m.stats()
		assert delta(st10, st11, ("pkts_v4", "pkts_x")) == \
		       {"pkts_v4": 0, "pkts_x": 0}, (st10, st11)
		transfer(bed, fam=6)
		st12 = m.stats()
		assert st12["pkts_v6"] - st11["pkts_v6"] > 1000, (st11, st12)

		# Both families off is refused; conexctl says which daemon failed.
		write(conf, conf_text(flow_table_size=4096, ipv4="off", ipv6="off"))
		cp = conexctl(g, root, "-j", "reload")
		assert cp.returncode == 1, cp
		assert json.loads(cp.stdout) == {"marker.eth0": {"reloaded": False}}, cp.stdout
		assert "conex-marker.eth0:" in cp.stderr and "both off" in cp.stderr, cp.stderr
		assert m.stats()["reload_errors"] == 4
		assert m.proc.poll() is None
	finally:
		m.stop()


def test_reload_interface_change_refused(bed, root):
	"""Without --dev the file names the interface; changing it needs a restart.
	(With --dev, as start_marker runs it, --dev wins at every reload.)"""
	g = bed.guest(1, 1)
	m = daemon.start(cxm.Marker, g, lambda l: l.strip() == "conex-marker: ready on eth0",
			 config_text=conf_text(), dev="eth0")
	try:
		write(m.conf, "interface lo\n")
		cp = client(g, root, "reload", "--dev", "eth0")
		assert cp.returncode == 1, cp
		assert f"{m.conf}: interface eth0 -> lo: restart conex-marker to change " \
		       "interface" in cp.stderr, cp.stderr
		st = m.stats()
		assert st["interface"] == "eth0" and st["reload_errors"] == 1, st
		# A file that no longer exists: refused too, the marker runs on.
		os.unlink(m.conf)
		m.proc.send_signal(signal.SIGHUP)
		st = wait_stat(m, "reload_errors", 2)
		assert st["reload_errors"] == 2 and st["reloads"] == 0, st
		assert m.proc.poll() is None
	finally:
		m.stop()
