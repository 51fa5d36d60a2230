"""Shared fixtures for the namespace tests: root check, the testbed library,
the ECN queue tool, the installed layout, and testbeds that are torn down
even when a test fails.

Run as root with Debian's interpreter:  /usr/bin/python3 -m pytest tests/pytest
"""

import contextlib
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "testbed"))

import cxtb  # noqa: E402
from cxtb import daemon  # noqa: E402


def _missing_tools(*tools):
	return [t for t in tools if shutil.which(t) is None]


def _note(notes, name):
	return f" ({notes[name]})" if notes and name in notes else ""


def skip_unless_tools(*tools, notes=None):
	"""Skip with "SKIP: <tool> not installed" for the first tool not on PATH;
	notes maps a tool to a hint added in parentheses."""
	for tool in tools:
		if shutil.which(tool) is None:
			pytest.skip(f"SKIP: {tool} not installed{_note(notes, tool)}")


def install_root_or_skip(progs=(), tools=(), what="cannot build and install",
			 show_path=True, notes=None):
	"""The installed layout (cxtb.daemon.install_root(): make all install,
	once per session) for a module's root fixture, or a skip naming what is
	missing: the build ("SKIP: <what>: <make's error>"), one of progs in
	usr/sbin ("SKIP: <its path, or its name without show_path> not installed
	by make install"), one of tools on PATH. notes maps a prog or a tool to
	a hint added in parentheses."""
	try:
		root = daemon.install_root()
	except (daemon.DaemonError, subprocess.TimeoutExpired) as e:
		pytest.skip(f"SKIP: {what}: {e}")
	for prog in progs:
		path = daemon.installed_bin(prog, root)
		if not os.access(path, os.X_OK):
			shown = path if show_path else prog
			pytest.skip(f"SKIP: {shown} not installed by make install"
				    f"{_note(notes, prog)}")
	skip_unless_tools(*tools, notes=notes)
	return root


def run_installed(node, root, prog, *args, user=None):
	"""The installed prog with args, run to completion in node (exit status
	not checked); as uid and gid user, without supplementary groups, if
	user is given."""
	argv = [daemon.installed_bin(prog, root)] + [str(a) for a in args]
	if user is not None:
		argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + argv
	return node.run(argv, check=False, timeout=15)


def stop_running(*daemons):
	"""Stop (SIGTERM, exit status 0 required) those of daemons, cxtb Daemon
	objects, that still run, in the order given."""
	for d in daemons:
		if d.proc.poll() is None:
			d.stop()


@contextlib.contextmanager
def running_testbed(bottleneck=None, **kw):
	"""cxtb.Testbed(**kw), up for the with block and torn down when it is
	left, however (a module-scoped bed fixture yields from inside it).
	bottleneck=(host, rate_bps) shapes the fabric's port towards host."""
	tb = cxtb.Testbed(**kw)
	try:
		tb.up()
		if bottleneck is not None:
			tb.bottleneck(*bottleneck)
		yield tb
	finally:
		tb.down()


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
