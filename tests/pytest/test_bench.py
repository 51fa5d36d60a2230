"""Functional test of bench/run and cx-nfq-accept: one short run of each
configuration, the output format, and that the accept-all program really
received the packets its NFQUEUE rules sent it. No timing threshold: the
figures of a one-second run are not results.
"""

import csv
import glob
import json
import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN = os.path.join(REPO, "bench", "run")
NFQ = os.path.join(REPO, "build", "bench", "cx-nfq-accept")
MICRO = os.path.join(REPO, "build", "bench", "cx-micro")


def build(target="build/bench/cx-nfq-accept"):
	cp = subprocess.run(["make", "-C", REPO, target],
			    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
	assert cp.returncode == 0, cp.stdout


def need_root_testbed():
	if os.geteuid() != 0:
		pytest.skip("SKIP: needs root (network namespaces, iptables)")
	for tool in ("iperf3", "iptables", "ip6tables", "ss"):
		if shutil.which(tool) is None:
			pytest.skip(f"SKIP: {tool} not installed")
	if not os.path.exists(os.path.join(REPO, "testbed", "cxtb", "__init__.py")):
		pytest.skip("SKIP: testbed/cxtb not present")


def quick(tmp_path, *extra):
	out = tmp_path / "out"
	cp = subprocess.run([RUN, "--quick", "--out", str(out)] + list(extra),
			    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
			    timeout=300)
	assert cp.returncode == 0, cp.stderr
	dirs = glob.glob(str(out / "*-quick"))
	assert len(dirs) == 1, dirs
	with open(os.path.join(dirs[0], "results.json")) as f:
		res = json.load(f)
	return cp, dirs[0], res


def check_nfq_rows(rows):
	nfq = [r for r in rows if r["config"] == "nfq-accept"]
	assert nfq
	for r in nfq:
		# The program saw packets, never more than the rules queued, and
		# every verdict went through.
		assert r["nfq_packets"] > 0, r
		assert r["nfq_rule_packets"] >= r["nfq_packets"], r
		assert r["nfq_verdict_batches"] > 0, r
		assert r["nfq_nl_errors"] == 0, r
		assert r["nfq_truncated"] == 0, r
		assert r["nfq_unknown"] == 0, r
		assert 0 < r["nfq_seen_pct"] <= 100, r


def test_default_configs(tmp_path):
	need_root_testbed()
	build()
	cp, d, res = quick(tmp_path)

	assert res["quick"] is True and res["runs"] == 1
	assert res["configs"] == ["bare", "nfq-accept"]
	assert res["hooks"] == ["h1:FORWARD"]
	for k in ("date", "command", "kernel", "machine"):
		assert res["env"][k], k

	rows = res["rows"]
	cells = {(r["family"], r["workload"], r["config"]) for r in rows}
	assert cells == {(f, w, c) for f in (4, 6) for w in ("tcp", "udp")
			 for c in ("bare", "nfq-accept")}
	for r in rows:
		if r["workload"] == "tcp":
			assert r["gbps"] > 0 and r["sender_cpu_pct"] >= 0, r
		else:
			assert r["rx_pps"] > 0 and 0 <= r["loss_pct"] <= 100, r
	check_nfq_rows(rows)
	# A bare row carries no NFQUEUE counters: the rules really were removed.
	assert not any(k.startswith("nfq_") for r in rows if r["config"] == "bare"
		       for k in r)

	heads = {(e["family"], e["workload"], e["metric"]): e for e in res["summary"]}
	for fam in (4, 6):
		for wl, metric in (("tcp", "gbps"), ("udp", "rx_pps")):
			e = heads[(fam, wl, metric)]
			want = e["median"]["nfq-accept"] / e["median"]["bare"]
			assert e["ratio"]["nfq-accept/bare"] == pytest.approx(want)

	table = cp.stdout.splitlines()
	assert table[0].split()[:5] == ["family", "workload", "metric", "bare", "nfq-accept"]
	assert "nfq-accept/bare" in table[0].split()
	assert any(l.split()[:3] == ["ipv6", "udp", "rx_pps"] for l in table)

	with open(os.path.join(d, "runs.csv")) as f:
		assert len(list(csv.DictReader(f))) == len(rows)
	with open(os.path.join(d, "summary.csv")) as f:
		kinds = {r["kind"] for r in csv.DictReader(f)}
	assert kinds == {"median", "ratio"}


def test_several_hooks_and_queues(tmp_path):
	"""Two queues on h1 (one program, --queue 0-1) and one on h2."""
	need_root_testbed()
	build()
	hooks = "h1:FORWARD,h1:POSTROUTING,h2:FORWARD"
	_, _, res = quick(tmp_path, "--hooks", hooks, "--workloads", "tcp",
			  "--families", "4")
	assert res["hooks"] == hooks.split(",")
	rows = [r for r in res["rows"] if r["config"] == "nfq-accept"]
	assert len(rows) == 1
	check_nfq_rows(rows)
	# One program per host, each saw its share.
	assert rows[0]["nfq_packets_h1"] > 0 and rows[0]["nfq_packets_h2"] > 0, rows[0]
	assert rows[0]["nfq_packets_h1"] + rows[0]["nfq_packets_h2"] == \
		rows[0]["nfq_packets"], rows[0]


@pytest.mark.parametrize("args", [
	["--runs", "2"],
	["--runs", "x"],
	["--hooks", "h3:FORWARD"],
	["--hooks", "h1:forward"],
	["--hooks", "h1:FORWARD,h1:FORWARD"],
	["--configs", "bare,nope"],
	["--families", "5"],
	["--udp-len", "8"],
	["--udp-rate", "1x"],
])
def test_runner_rejects(args):
	cp = subprocess.run([RUN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
			    text=True, timeout=30)
	assert cp.returncode == 2, (args, cp.stderr)
	assert "error" in cp.stderr


def test_runner_help():
	cp = subprocess.run([RUN, "--help"], stdout=subprocess.PIPE, text=True, timeout=30)
	assert cp.returncode == 0
	assert "nfq-accept" in cp.stdout and "--configs" in cp.stdout


@pytest.mark.parametrize("args", [
	["--batch", "0"], ["--batch", "4097"], ["--batch", "1x"], ["--batch", "-1"],
	["--queue", "70000"], ["--queue", "5-4"], ["--queue", "0-16"],
	["--queue", "1-"], ["--queue", ""], ["extra"], ["--nope"],
])
def test_nfq_accept_rejects(args):
	build()
	cp = subprocess.run([NFQ] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
			    text=True, timeout=10)
	assert cp.returncode == 1, (args, cp.stderr)
	assert cp.stderr.startswith("cx-nfq-accept: ") or "Usage" in cp.stderr


def test_nfq_accept_help():
	build()
	cp = subprocess.run([NFQ, "--help"], stdout=subprocess.PIPE, text=True, timeout=10)
	assert cp.returncode == 0 and "--queue" in cp.stdout


def test_micro_format():
	"""Every operation runs and prints one well-formed line; no timing check."""
	build("build/bench/cx-micro")
	cp = subprocess.run([MICRO, "--iters", "1000", "--reps", "3"], stdout=subprocess.PIPE,
			    stderr=subprocess.PIPE, text=True, timeout=60)
	assert cp.returncode == 0, cp.stderr
	lines = [l.split() for l in cp.stdout.splitlines()]
	names = [l[0] for l in lines]
	assert names == ["cdo_find", "ipv4id_decode", "csum_update16", "flow_key_hash",
			 "flowtable_hit", "flowtable_miss"]
	for l in lines:
		assert len(l) == 4 and l[3] == "1000", l
		assert 0 < float(l[2]) <= float(l[1]), l
	for bad in (["--iters", "0"], ["--reps", "102"], ["--op", "nope"], ["x"]):
		cp = subprocess.run([MICRO] + bad, stdout=subprocess.PIPE,
				    stderr=subprocess.PIPE, text=True, timeout=10)
		assert cp.returncode == 1, bad
