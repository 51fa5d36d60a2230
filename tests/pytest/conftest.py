"""Shared fixtures for the namespace tests: root check, the testbed library,
the ECN queue tool, and testbeds that are torn down even when a test fails.

Run as root with Debian's interpreter:  /usr/bin/python3 -m pytest tests/pytest
"""

import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "testbed"))

import cxtb  # noqa: E402


def _missing_tools(*tools):
	return [t for t in tools if shutil.which(t) is None]


@pytest.fixture(scope="session")
def netns_ok():
	"""Skip (with the reason) where namespaces cannot be made."""
	if os.geteuid() != 0:
		pytest.skip("needs root: creates network namespaces")
	missing = _missing_tools("ip", "tc", "sysctl", "ss")
	if missing:
		pytest.skip(f"missing tools: {' '.join(missing)}")
	if not os.path.isdir("/proc/sys/net/ipv6"):
		pytest.skip("kernel without IPv6")
	return True


@pytest.fixture(scope="session")
def ecnq_tool(netns_ok):
	"""Build cx-ecnq (make decides whether anything is stale) or skip."""
	if _missing_tools("make", "clang", "bpftool"):
		pytest.skip("cannot build the ECN queue: needs make, clang, bpftool")
	target = os.path.relpath(cxtb.ecnq_tool(), REPO)
	if os.environ.get("CX_ECNQ"):
		path = os.environ["CX_ECNQ"]
	else:
		cp = subprocess.run(["make", "-s", "-j2", target], cwd=REPO, text=True,
				    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
		if cp.returncode != 0:
			pytest.skip(f"cannot build {target}:\n{cp.stdout[-2000:]}")
		path = os.path.join(REPO, target)
	if not os.access(path, os.X_OK):
		pytest.skip(f"{path} missing")
	return path


@pytest.fixture(scope="session")
def iperf3_ok(netns_ok):
	if _missing_tools("iperf3"):
		pytest.skip("iperf3 not installed")
	return True


@pytest.fixture
def make_testbed(netns_ok, request):
	"""Factory: make_testbed(hosts=2, guests=1, ...) -> an up Testbed,
	torn down by a finalizer whatever the test does."""
	made = []

	def finish():
		errs = []
		for tb in reversed(made):
			try:
				tb.down()
			except Exception as e:	# keep tearing the others down
				errs.append(f"{tb.run_id}: {e}")
		if errs:
			raise RuntimeError("teardown: " + "; ".join(errs))

	request.addfinalizer(finish)

	def make(**kw):
		tb = cxtb.Testbed(**kw)
		made.append(tb)
		tb.up()
		return tb

	return make


def leftovers(run_id):
	"""Namespaces, record and namespace processes a run left behind."""
	from cxtb import state
	nss = state.our_netns(run_id)
	return {
		"namespaces": nss,
		"record": state.read_record(run_id) is not None,
		"pids": sorted(state.netns_pids(nss)),
	}


def counter_delta(before, after, *names):
	return {n: after.get(n, 0) - before.get(n, 0) for n in names}
