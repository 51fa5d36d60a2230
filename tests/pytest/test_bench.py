"""Functional test of bench/run and cx-nfq-accept: one short run of each
configuration, the output format, and that the accept-all program really
received the packets its NFQUEUE rules sent it. No timing threshold: the
figures of a one-second run are not results.
"""

import csv
import glob
import importlib.machinery
import importlib.util
import json
import os
import subprocess

import pytest

from conftest import REPO, skip_unless_tools

RUN = os.path.join(REPO, "bench", "run")
NFQ = os.path.join(REPO, "build", "bench", "cx-nfq-accept")
MICRO = os.path.join(REPO, "build", "bench", "cx-micro")
MICRO_AUDIT = os.path.join(REPO, "build", "bench", "cx-micro-audit")


def build(target="build/bench/cx-nfq-accept"):
	cp = subprocess.run(["make", "-C", REPO, target],
			    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
	assert cp.returncode == 0, cp.stdout


def need_root_testbed():
	if os.geteuid() != 0:
		pytest.skip("SKIP: needs root (network namespaces, iptables)")
	skip_unless_tools("iperf3", "iptables", "ip6tables", "ss")
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


def load_runner():
	"""bench/run as a module (it has no .py suffix), for its pure functions."""
	loader = importlib.machinery.SourceFileLoader("bench_run", RUN)
	spec = importlib.util.spec_from_loader("bench_run", loader)
	mod = importlib.util.module_from_spec(spec)
	loader.exec_module(mod)
	return mod


def test_parse_hooks():
	run = load_runner()
	cases = [
		("h1:FORWARD", [("h1", "FORWARD", None, None)], "h1:FORWARD"),
		("h2:FORWARD:g1", [("h2", "FORWARD", "-o", "g1")], "h2:FORWARD:g1"),
		("h2:FORWARD:-o g1", [("h2", "FORWARD", "-o", "g1")], "h2:FORWARD:g1"),
		("h1:PREROUTING:-i g1", [("h1", "PREROUTING", "-i", "g1")],
		 "h1:PREROUTING:-i g1"),
		("h1:PREROUTING:-i=g1", [("h1", "PREROUTING", "-i", "g1")],
		 "h1:PREROUTING:-i g1"),
		("sw:FORWARD:-ip1", [("sw", "FORWARD", "-i", "p1")], "sw:FORWARD:-i p1"),
	]
	for text, want, name in cases:
		got = run.parse_hooks(text, 2)
		assert got == want, text
		assert run.hook_name(got[0]) == name, text
		# The canonical name parses back to the same hook.
		assert run.parse_hooks(run.hook_name(got[0]), 2) == want, text
	for bad in ("h1:POSTROUTING:-i g1", "h1:PREROUTING:-o g1", "h1:INPUT:g1",
		    "h1:PREROUTING:-x g1", "h1:PREROUTING:-i ",
		    "h1:PREROUTING:-i g1,h1:PREROUTING:-i g2", "h3:PREROUTING:-i g1"):
		with pytest.raises(ValueError):
			run.parse_hooks(bad, 2)
	# The ceilings' defaults are the daemons' own hooks.
	assert run.hook_name(run.POLICER_HOOK) == "h1:PREROUTING:-i g1"
	assert run.hook_name(run.AUDITOR_HOOK) == "h2:FORWARD:g1"


def test_vxlan_bare_mirrors_policer_names():
	"""vxlan-bare's MAC and link-local next hop follow policer/net.c."""
	run = load_runner()
	assert run.tun_mac(1) == "02:43:58:00:00:01"
	assert run.tun_mac(0x123456) == "02:43:58:12:34:56"
	assert run.tun_ll(2) == "fe80::2"
	assert run.tun_ll(0x12345) == "fe80::1:2345"


def test_ratio_bases():
	"""x/vxlan-bare only for the configurations that name it as a base."""
	run = load_runner()
	opts = run.parse_args(["--configs", "bare,vxlan-bare,policer-tunnel",
			       "--workloads", "tcp", "--families", "4"])
	assert opts.underlay_mtu == 1600
	rows = [{"run": r, "family": 4, "workload": "tcp", "config": c, "gbps": g}
		for r in (1, 2, 3)
		for c, g in (("bare", 40.0 + r), ("vxlan-bare", 30.0 + r),
			     ("policer-tunnel", 20.0 + r))]
	ent = [e for e in run.summarise(rows, opts) if e["metric"] == "gbps"][0]
	assert ent["median"] == {"bare": 42.0, "vxlan-bare": 32.0, "policer-tunnel": 22.0}
	assert ent["ratio"] == pytest.approx({"vxlan-bare/bare": 32 / 42,
					      "policer-tunnel/bare": 22 / 42,
					      "policer-tunnel/vxlan-bare": 22 / 32})


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
	["--hooks", "h1:POSTROUTING:-i g1"],
	["--configs", "bare,nfq-accept,policer", "--hooks", "h1:FORWARD"],
	["--configs", "nfq-accept,policer", "--hooks", "h1:PREROUTING:-i g2"],
	["--configs", "auditor,policer,nfq-accept"],
	["--configs", "bare,vxlan-bare", "--underlay-mtu", "1500"],
	["--underlay-mtu", "1000"],
])
def test_runner_rejects(args):
	cp = subprocess.run([RUN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
			    text=True, timeout=30)
	assert cp.returncode == 2, (args, cp.stderr)
	assert "error" in cp.stderr


def test_policer_quick(tmp_path):
	"""policer against nfq-accept on its own hook, with the marker: both
	saw the guest's packets, nothing was policed or taken for spoofed."""
	need_root_testbed()
	build()
	_, _, res = quick(tmp_path, "--configs", "nfq-accept,policer", "--workloads", "tcp",
			  "--families", "4")
	assert res["hooks"] == ["h1:PREROUTING:-i g1"]
	assert res["underlay_mtu"] == 1600
	check_nfq_rows(res["rows"])
	pol = [r for r in res["rows"] if r["config"] == "policer"]
	assert len(pol) == 1
	r = pol[0]
	assert r["gbps"] > 0, r
	assert r["policer_nfq_packets"] > 0 and 0 < r["policer_seen_pct"] <= 100, r
	# The marker made the flow ConEx, and the huge allowance dropped nothing.
	assert r["policer_tenant_conex_packets"] > 0, r
	assert r["policer_tenant_drops_police"] == 0 and r["policer_tenant_drops_spoof"] == 0, r
	assert r["policer_parse_errors"] == 0 and r["policer_nfq_nl_errors"] == 0, r
	ent = [e for e in res["summary"] if e["metric"] == "gbps"][0]
	assert "policer/nfq-accept" in ent["ratio"]


def test_tunnel_quick(tmp_path):
	"""Both tunnel configurations really carried the flow through cxtun0,
	both ways (data from h1, ACKs from h2)."""
	need_root_testbed()
	build()
	_, _, res = quick(tmp_path, "--configs", "vxlan-bare,policer-tunnel", "--workloads",
			  "tcp", "--families", "6")
	assert res["underlay_mtu"] == 1600
	rows = {r["config"]: r for r in res["rows"]}
	assert set(rows) == {"vxlan-bare", "policer-tunnel"}
	for r in rows.values():
		assert r["gbps"] > 0, r
		assert r["tun_h1_tx_packets"] > 0 and r["tun_h2_tx_packets"] > 0, r
		assert r["tun_h1_rx_packets"] > 0 and r["tun_h2_rx_packets"] > 0, r
	r = rows["policer-tunnel"]
	for h in (1, 2):
		assert r[f"policer_h{h}_tenant_tunnel_packets"] > 0, r
		assert r[f"policer_h{h}_tenant_drops_police"] == 0, r
	ent = [e for e in res["summary"] if e["metric"] == "gbps"][0]
	assert "policer-tunnel/vxlan-bare" in ent["ratio"]


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


def test_micro_audit_format():
	"""Both operations print one well-formed line; --mem reports the table
	it was asked for, every flow live and the classification adding up."""
	build("build/bench/cx-micro-audit")
	cp = subprocess.run([MICRO_AUDIT, "--flows", "1000", "--iters", "1000", "--reps", "3",
			     "--mem"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
			    text=True, timeout=60)
	assert cp.returncode == 0, cp.stderr
	lines = [l.split() for l in cp.stdout.splitlines()]
	assert [l[0] for l in lines[:2]] == ["audit", "build"]
	for l in lines[:2]:
		assert len(l) == 4 and l[3] == "1000", l
		assert 0 < float(l[2]) <= float(l[1]), l
	kv = {l[0]: int(l[1]) for l in lines[2:]}
	assert kv["flows_live"] == 1000 and kv["table_full"] == 0, kv
	# Set-up sends one packet per flow, then 2 operations x 3 reps, but
	# only "audit" calls the audit: 1000 + 3 x 1000 packets.
	assert kv["packets"] == 4000, kv
	assert kv["conex_marked"] + kv["conex_not_marked"] + kv["not_conex"] == kv["packets"], kv
	assert kv["mem_total_bytes"] >= 1000 * kv["mem_per_flow_bytes"] > 0, kv
	for key in ("sanction_starts", "holes_capped", "reorder_bytes", "flow_loss_bytes"):
		assert key in kv, key
	for bad in (["--flows", "0"], ["--reps", "102"], ["--op", "nope"], ["x"]):
		cp = subprocess.run([MICRO_AUDIT] + bad, stdout=subprocess.PIPE,
				    stderr=subprocess.PIPE, text=True, timeout=10)
		assert cp.returncode == 1, bad
