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
	cp = run(scenario, "--seconds", "3", "--out", str(out), timeout=240)
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
	else:
		assert abs(sum(float(r["share_pct"]) for r in rows) - 100) < 0.5
	assert (out / f"{scenario}.png").stat().st_size > 1000
	report = (out / "report.md").read_text()
	assert f"## {scenario}" in report and "**FAIL**" not in report
	# the progress lines went to stderr, with the testbed's life cycle
	assert "testbed" in cp.stderr and "down" in cp.stderr


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
])
def test_bad_input(args, msg):
	cp = run(*args)
	assert cp.returncode == 2, cp.stderr
	assert msg in cp.stderr
