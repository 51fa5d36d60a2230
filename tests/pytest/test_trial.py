"""The trial runner behind the README's main command (testbed/trial).

Runs each scenario once, short, and checks what an operator gets: exit 0
when the scenario showed what it should, a table, CSV, PNG and report.md in
the results directory; and clear errors for bad input.
"""
import csv
import os
import subprocess

import pytest

from conftest import REPO

TRIAL = os.path.join(REPO, "testbed", "trial")


def run(*args, **kw):
	return subprocess.run(["/usr/bin/python3", TRIAL, *args], capture_output=True,
			      text=True, timeout=kw.get("timeout", 120))


@pytest.mark.parametrize("scenario", ["smoke", "flows", "isolation"])
def test_scenario_writes_results(scenario, tmp_path, netns_ok, ecnq_tool, iperf3_ok):
	out = tmp_path / "res"
	# the reduced isolation scenario: none and conex only (the README's
	# main command runs every mode)
	extra = ["--modes", "none,conex"] if scenario == "isolation" else []
	cp = run(scenario, "--seconds", "3", "--out", str(out), *extra, timeout=240)
	assert cp.returncode == 0, cp.stdout + cp.stderr
	assert "FAIL" not in cp.stdout
	assert f"{scenario}: " in cp.stdout and "results:" in cp.stdout
	rows = list(csv.DictReader(open(out / f"{scenario}.csv")))
	assert rows
	if scenario == "smoke":
		assert {r["flow"] for r in rows} == {"IPv4 ECN", "IPv4 Not-ECT", "IPv6 ECN",
						     "IPv6 Not-ECT"}
		for r in rows:
			if r["ecn"] == "1":
				assert int(r["receiver_ce_pkts"]) > 0, r
			else:
				assert int(r["queue_dropped"]) > 0 and int(r["queue_marked"]) == 0, r
	elif scenario == "isolation":
		assert {(r["mode"], r["tenant"]) for r in rows} == {
			("none", "a"), ("none", "b"), ("conex", "a"), ("conex", "b")}
		for mode in ("none", "conex"):
			shares = [float(r["share_pct"]) for r in rows if r["mode"] == mode]
			assert abs(sum(shares) - 100) < 0.5, rows
		conex = [r for r in rows if r["mode"] == "conex"]
		assert all(float(r["congestion_mbps"]) > 0 for r in conex), conex
		assert any(int(r["policer_drops"]) > 0 for r in conex), conex
		assert all(int(r["sanctions"]) == 0 for r in conex), conex
		# direction and rough size: b's share falls from most of the link
		# to about half, a's rises with it
		b = {r["mode"]: float(r["share_pct"]) for r in rows if r["tenant"] == "b"}
		assert b["none"] >= 70 and 40 <= b["conex"] <= 60, rows
		assert (out / "isolation-buckets.png").stat().st_size > 1000
		bk = list(csv.DictReader(open(out / "isolation-buckets.csv")))
		assert {r["tenant"] for r in bk} == {"a", "b"} and all(
			r["mode"] == "conex" for r in bk), bk[:3]
	else:
		assert abs(sum(float(r["share_pct"]) for r in rows) - 100) < 0.5
	assert (out / f"{scenario}.png").stat().st_size > 1000
	report = (out / "report.md").read_text()
	assert f"## {scenario}" in report and "**FAIL**" not in report
	# the progress lines went to stderr, with the testbed's life cycle
	assert "testbed" in cp.stderr and "down" in cp.stderr


def test_table1_reduced(tmp_path, netns_ok, ecnq_tool, iperf3_ok):
	"""Table 1 scenario B under none and conex: with conex the four
	tenants' shares come out near equal whatever their flow counts."""
	out = tmp_path / "res"
	cp = run("table1", "--variants", "B", "--modes", "none,conex", "--seconds", "3",
		 "--out", str(out), timeout=240)
	assert cp.returncode == 0, cp.stdout + cp.stderr
	rows = list(csv.DictReader(open(out / "table1.csv")))
	assert {(r["mode"], r["tenant"]) for r in rows} == {
		(m, t) for m in ("none", "conex") for t in "abcd"}
	jain = {r["mode"]: float(r["jain"]) for r in rows}
	assert jain["conex"] >= 0.95 and jain["none"] < jain["conex"], rows
	a = {r["mode"]: float(r["share_pct"]) for r in rows if r["tenant"] == "a"}
	assert a["conex"] < a["none"], rows
	assert all(r["draft_mbps"] == "25.0" for r in rows), rows


def test_list_and_help():
	cp = run("--list")
	assert cp.returncode == 0 and "smoke" in cp.stdout and "flows" in cp.stdout
	assert "isolation" in cp.stdout
	cp = run("--help")
	assert cp.returncode == 0 and "Scenarios" in cp.stdout


@pytest.mark.parametrize("args,msg", [
	(["nosuch"], "unknown scenario nosuch"),
	(["--rate", "fast"], "--rate"),
	(["--seconds", "0"], "--seconds"),
	(["--modes", "none,bogus"], "unknown mode bogus"),
	(["--allowance", "lots"], "--allowance"),
])
def test_bad_input(args, msg):
	cp = run(*args)
	assert cp.returncode == 2, cp.stderr
	assert msg in cp.stderr
