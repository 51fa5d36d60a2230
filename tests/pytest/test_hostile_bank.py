"""A hostile tenant against the Redis token bank (issue "No escape", attack
6): a guest that reaches the bank and rewrites another tenant's key.

Testbed: 2 hosts x 2 guests, a 100 Mbit/s ECN bottleneck on the fabric's
port towards h2. The policer runs in h1: tenant ta is guest 1, tb guest 2,
each with a ConEx marker; their flows go to h2's guests. redis-server runs
in the fabric namespace on 198.19.1.1 (its port towards h1), which h1's
guests can reach through h1 unless the policer keeps them off it
(`protect`), with a password for the default user (the operator's, used
here to play the attacker who got in anyway) and an ACL user for the
policers limited to the bank's keys and the script's commands, as
conex-policer.conf(5) recommends.

What is checked: a client without the password (a guest, as an attacker
would be) can neither read nor write any key; with `protect` it cannot
even connect; a key of ta made corrupt (what the attack did) costs ta its
bank grants only, at a bounded rate of errors (backed off, not 75 645 in
8 s), with ta policed at its static share (bank_share) meanwhile and back
in the bank once the key is gone, while tb's grants, errors and congestion
rate do not change; the counters and the log say so; a wrong or missing
password is refused, counted and logged, and a password file others can
read is refused at start.
"""
import json
import os
import subprocess
import threading
import time

import pytest

import cxtb
from conftest import install_root_or_skip, running_testbed, stop_running
from cxtb import bulk
from cxtb import marker as cxm
from cxtb import policer as cxp

RATE_BPS = 100_000_000
ALLOWANCE_BPS = 4_000_000
TENANTS = {"ta": "4mbit burst 50k", "tb": "4mbit burst 50k"}
GUESTS = {1: "ta", 2: "tb"}
FLOWS = 3
WARMUP_S = 3
WINDOW_S = 6
SETTLE_S = 2
REDIS_ADDR = "198.19.1.1"
REDIS_PORT = 6391
ADMIN_PASS = "admin-7c1e0f"		# the default user's (requirepass)
BANK_USER = "conex-policer"
BANK_PASS = "bank-94d2aa51"
# The ACL of conex-policer.conf(5): the bank's keys, the script's commands.
BANK_ACL = ["~conex:bank:*", "resetchannels", "-@all", "+eval", "+evalsha",
	    "+script|load", "+time", "+type", "+hlen", "+hmget", "+hset", "+pexpire"]

# A RESP client for the attacker: each command's first reply line, or how
# the connection failed.
RAW_CLIENT = r"""
import json, socket, sys
addr, port, cmds = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
try:
	s = socket.create_connection((addr, port), timeout=2)
except OSError as e:
	print(json.dumps({"connect": type(e).__name__}))
	sys.exit(0)
f = s.makefile("rb")
out = []
for c in cmds:
	msg = "*%d\r\n" % len(c) + "".join("$%d\r\n%s\r\n" % (len(a.encode()), a) for a in c)
	s.sendall(msg.encode())
	line = f.readline().decode(errors="replace").rstrip("\r\n")
	out.append(line)
	if not line.startswith("-"):
		break		# an answer: the test fails on it; stop reading
print(json.dumps({"replies": out}))
"""


@pytest.fixture(scope="module")
def root(netns_ok):
	return install_root_or_skip(progs=("conex-policer",),
				    tools=("redis-server", "redis-cli"), show_path=False,
				    notes={"redis-server": "scripts/setup installs it",
					   "redis-cli": "scripts/setup installs it"})


@pytest.fixture(scope="module")
def bed(root, ecnq_tool):
	with running_testbed(hosts=2, guests=2, cc="cubic", ecn=1,
			     bottleneck=(2, RATE_BPS)) as tb:
		ms = [cxm.start_marker(tb.guest(1, g)) for g in (1, 2)]
		yield tb
		for m in ms:
			m.stop()


class Redis:
	"""A private redis-server in the fabric namespace: a password for the
	default user, an ACL user for the policers."""

	def __init__(self, tb):
		self.tb = tb
		self.proc = None

	def start(self):
		self.proc = self.tb.fabric.popen(
			["redis-server", "--bind", REDIS_ADDR, "--port", str(REDIS_PORT),
			 "--save", "", "--appendonly", "no", "--daemonize", "no",
			 "--requirepass", ADMIN_PASS,
			 "--user", BANK_USER, "on", f">{BANK_PASS}"] + BANK_ACL,
			stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
		cxtb.wait_listening(self.tb.fabric, REDIS_PORT)

	def stop(self):
		if self.proc and self.proc.poll() is None:
			self.proc.kill()
			self.proc.wait()

	def admin(self, *args):
		"""A command as the operator (authenticated): its output."""
		cp = self.tb.fabric.run(["redis-cli", "-h", REDIS_ADDR, "-p", str(REDIS_PORT),
					 "-a", ADMIN_PASS, "--no-auth-warning"] + list(args))
		return cp.stdout.strip()


@pytest.fixture(scope="module")
def redis(bed):
	r = Redis(bed)
	r.start()
	yield r
	r.stop()


def secret_file(tmp_path, name, text, mode=0o600):
	path = str(tmp_path / name)
	fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
	with os.fdopen(fd, "w") as f:
		f.write(text)
	os.chmod(path, mode)		# whatever the umask
	return path


def bank_lines(pwfile, user=BANK_USER):
	lines = [f"redis redis://{REDIS_ADDR}:{REDIS_PORT}", "bank_share 50%"]
	if user:
		lines.append(f"bank_user {user}")
	if pwfile:
		lines.append(f"bank_password_file {pwfile}")
	return lines


@pytest.fixture
def policer(bed, redis, tmp_path):
	"""start(password=BANK_PASS, user=BANK_USER, extra=()): h1's policer
	with the bank; stopped and checked clean afterwards. The keys are
	removed before each test."""
	started = []
	redis.admin("FLUSHALL")

	def start(password=BANK_PASS, user=BANK_USER, extra=(), wait_up=True):
		pwfile = secret_file(tmp_path, "bank.pw", password + "\n") if password else None
		p = cxp.start_policer(bed.host(1), config_text=cxp.config(
			bed, 1, TENANTS, GUESTS,
			extra=bank_lines(pwfile, user if password else None) + list(extra)))
		started.append(p)
		if wait_up:
			deadline = time.monotonic() + 5
			while time.monotonic() < deadline and not p.stats()["bank_up"]:
				time.sleep(0.1)
			assert p.stats()["bank_up"] == 1, p.stderr()[-2000:]
		return p

	yield start
	stop_running(*started)
	assert cxp.leftovers(bed.host(1)) == []


def load(bed, seconds):
	"""FLOWS flows from each of h1's guests to its peer on h2, in threads."""
	res, ts = {}, []

	def go(g):
		res[g] = bulk.transfer(bed.guest(1, g), bed.guest(2, g), bed.guest(2, g).ip4,
				       seconds=seconds, flows=FLOWS, port=5500 + g)
	for g in (1, 2):
		ts.append(threading.Thread(target=go, args=(g,)))
		ts[-1].start()
	return ts, res


def raw(node, cmds):
	"""The attacker's commands from node, without credentials."""
	cp = node.run(["/usr/bin/python3", "-c", RAW_CLIENT, REDIS_ADDR, str(REDIS_PORT),
		       json.dumps(cmds)], timeout=30)
	return json.loads(cp.stdout)


def snapshot(p):
	s = p.stats()
	return s, {t["name"]: t for t in s["tenants"]}


def rate(t0, t1, name, dt):
	"""A tenant's congestion rate (bit/s) between two snapshots."""
	return 8 * (t1[name]["charged_marks_bytes"] - t0[name]["charged_marks_bytes"]) / dt


def wait_grants(p, names, timeout_s=10):
	deadline = time.monotonic() + timeout_s
	while time.monotonic() < deadline:
		if all(p.tenant(n)["bank_grants"] > 0 for n in names):
			return
		time.sleep(0.2)
	raise AssertionError(f"no bank grants for {names}: {p.stats()}")


def test_client_without_password_cannot_touch_keys(bed, redis, policer):
	"""The attack against tenant ta's key from a client that can reach the
	bank (a guest cannot: its address is protected, see below; here a
	process on host h2's underlay): without the password nothing is read
	or written."""
	p = policer()
	ts, _ = load(bed, 6)
	wait_grants(p, ("ta", "tb"), timeout_s=8)
	for t in ts:
		t.join()
	key = "conex:bank:ta"
	assert redis.admin("TYPE", key) == "hash"
	keys_before = redis.admin("DBSIZE")
	cmds = [["HGETALL", key], ["HSET", key, "tok", "0", "us", "9999999999999999"],
		["SET", key, "pwned"], ["DEL", key], ["KEYS", "*"], ["EVAL", "return 1", "0"],
		["SCRIPT", "FLUSH"], ["CONFIG", "SET", "requirepass", ""], ["FLUSHALL"],
		["AUTH", "default", "guess"], ["AUTH", BANK_USER, "guess"], ["AUTH", "guess"],
		["HGETALL", key]]
	out = raw(bed.host(2), cmds)
	print("attacker from h2:", out)
	# Reachable: it is the password, not the routing, that stops it here.
	assert "replies" in out, out
	assert len(out["replies"]) == len(cmds), out
	for c, r in zip(cmds, out["replies"]):
		want = "-WRONGPASS" if c[0] == "AUTH" else "-NOAUTH"
		assert r.startswith(want), (c, r)
	# Nothing changed: the key is the policers', as they wrote it.
	assert redis.admin("TYPE", key) == "hash"
	assert redis.admin("HLEN", key) == "2"
	assert redis.admin("DBSIZE") == keys_before
	s, t = snapshot(p)
	assert s["bank_auth_failures"] == 0 and s["bank_errors"] == 0, s
	assert t["ta"]["bank_errors"] == 0 and t["tb"]["bank_errors"] == 0, t


@pytest.mark.parametrize("extra", [[], [f"protect {REDIS_ADDR}/32"]],
			 ids=["bank-address", "protect-line"])
def test_protect_keeps_guests_off_the_bank(bed, redis, policer, extra):
	"""The network policy of conex-policer.conf(5): the bank's address (from
	'redis', or a 'protect' line) is protected, so a guest's packets to it
	are dropped at the policer (and counted); the policer's own connection
	is not a guest's and stays up."""
	p = policer(extra=extra)
	out = raw(bed.guest(1, 2), [["PING"]])
	print("attacker from h1g2 with protect:", out)
	assert out.get("connect") in ("TimeoutError", "timeout"), out
	t = p.tenant("tb")
	assert t["drops_protected"] > 0, t
	assert p.stats()["bank_up"] == 1


def test_corrupt_key_stays_with_its_tenant(bed, redis, policer):
	"""The attack's effect, by someone who got in anyway (here the
	operator's password): ta's key overwritten with a string. ta loses its
	bank grants only: errors backed off and counted, ta policed at its
	static share meanwhile, back in the bank once the key is removed; tb's
	grants and congestion rate do not change."""
	p = policer()
	ts, res = load(bed, WARMUP_S + 2 * WINDOW_S + SETTLE_S + 12)
	time.sleep(WARMUP_S)
	s0, t0 = snapshot(p)
	m0 = time.monotonic()
	time.sleep(WINDOW_S)
	s1, t1 = snapshot(p)
	m1 = time.monotonic()
	before = {n: rate(t0, t1, n, m1 - m0) for n in ("ta", "tb")}

	assert redis.admin("SET", "conex:bank:ta", "pwned") == "OK"
	time.sleep(SETTLE_S)
	s2, t2 = snapshot(p)
	m2 = time.monotonic()
	time.sleep(WINDOW_S)
	s3, t3 = snapshot(p)
	m3 = time.monotonic()
	during = {n: rate(t2, t3, n, m3 - m2) for n in ("ta", "tb")}
	ta_errors = t3["ta"]["bank_errors"] - t1["ta"]["bank_errors"]

	assert redis.admin("DEL", "conex:bank:ta") == "1"
	deadline = time.monotonic() + 8
	while time.monotonic() < deadline and p.tenant("ta")["bucket_mode"] != "bank":
		time.sleep(0.2)
	s4, t4 = snapshot(p)
	for t in ts:
		t.join()
	info = {"before": before, "during": during, "ta_errors": ta_errors,
		"ta": {k: t3["ta"][k] for k in ("bank_grants", "bank_errors", "bank_backoffs",
						 "bucket_mode")},
		"tb": {k: t3["tb"][k] for k in ("bank_grants", "bank_errors", "bank_backoffs",
						 "bucket_mode")},
		"bank": {k: s3[k] for k in ("bank_up", "bank_errors", "bank_corrupt_keys",
					    "bank_backoffs", "bank_reconnects")},
		"after": t4["ta"]["bucket_mode"],
		"goodput": {g: r["bits_per_second"] for g, r in res.items()}}
	print(f"corrupt key of ta: congestion before ta {before['ta'] / 1e6:.2f} tb "
	      f"{before['tb'] / 1e6:.2f} Mb/s, during ta {during['ta'] / 1e6:.2f} tb "
	      f"{during['tb'] / 1e6:.2f} Mb/s; ta's bank errors {ta_errors} in "
	      f"{m3 - m1:.0f} s")
	# Both shared the bank before.
	for n in ("ta", "tb"):
		assert 0.85 * ALLOWANCE_BPS <= before[n] <= 1.15 * ALLOWANCE_BPS, info
	# ta: errors of its own, counted, backed off (a handful, not a storm),
	# its bucket on bank_share (50 %) rather than starved.
	assert 1 <= ta_errors <= 15, info
	assert t3["ta"]["bank_backoffs"] == t3["ta"]["bank_errors"], info
	assert t3["ta"]["bucket_mode"] == "share", info
	assert 0.35 * ALLOWANCE_BPS <= during["ta"] <= 0.7 * ALLOWANCE_BPS, info
	# tb: untouched.
	assert t3["tb"]["bank_errors"] == 0 and t3["tb"]["bank_backoffs"] == 0, info
	assert t3["tb"]["bucket_mode"] == "bank", info
	assert t3["tb"]["bank_grants"] > t2["tb"]["bank_grants"], info
	assert 0.85 * ALLOWANCE_BPS <= during["tb"] <= 1.15 * ALLOWANCE_BPS, info
	# The bank itself stayed up; the counters an operator reads say why.
	assert s3["bank_up"] == 1 and s3["bank_reconnects"] == s1["bank_reconnects"], info
	assert s3["bank_corrupt_keys"] >= 1 and s3["bank_backoffs"] >= 1, info
	assert s3["bucket_mode"] == "bank", info
	# Back in the bank once the key is gone.
	assert t4["ta"]["bucket_mode"] == "bank", info
	log = p.stderr()
	assert "tenant ta: key conex:bank:ta is corrupt" in log, log[-3000:]
	assert "tenant ta: grants again after" in log, log[-3000:]
	assert "token bank: tenant tb" not in log, log[-3000:]


@pytest.mark.parametrize("password", ["wrong-password", None], ids=["wrong", "missing"])
def test_refused_credentials_counted(bed, redis, policer, password):
	"""A wrong or missing password: the bank never comes up, each refusal is
	counted, logged once with what to check, and retried with backoff;
	the buckets run on their static share."""
	p = policer(password=password, wait_up=False)
	time.sleep(3)
	s = p.stats()
	print("refused:", {k: s[k] for k in ("bank_up", "bank_auth_failures",
					      "bank_reconnects")})
	assert s["bank_up"] == 0 and s["bucket_mode"] == "share", s
	# 100 ms .. 5 s with jitter: at most 7 tries in 3 s.
	assert 1 <= s["bank_auth_failures"] <= 8, s
	assert all(t["bucket_mode"] == "share" for t in s["tenants"]), s
	log = p.stderr()
	hint = "AUTH refused: check bank_user" if password else "wants a password"
	assert log.count(hint) == 1, log[-3000:]
	if password:
		assert "WRONGPASS" in log, log[-3000:]
		assert password not in log
	else:
		assert "NOAUTH" in log, log[-3000:]


def test_password_file_must_be_private(bed, tmp_path):
	"""A password file that group or others may read, or that another user
	owns, is refused at start with a clear error (exit 2); so is an ACL
	user without a password."""
	node = bed.host(1)
	cases = [
		(secret_file(tmp_path, "open.pw", BANK_PASS, 0o644), None,
		 "readable or writable by group or others (mode 0644)"),
		(secret_file(tmp_path, "group.pw", BANK_PASS, 0o640), None,
		 "readable or writable by group or others (mode 0640)"),
		(secret_file(tmp_path, "empty.pw", "\n"), None, "want one line of 1.."),
		(secret_file(tmp_path, "two.pw", "a\nb\n"), None, "want one line"),
		(None, BANK_USER, "an ACL user needs its password"),
	]
	other = secret_file(tmp_path, "other.pw", BANK_PASS)
	os.chown(other, 65534, 65534)
	cases.append((other, None, "owned by uid 65534"))
	for pwfile, user, want in cases:
		conf = str(tmp_path / "policer.conf")
		with open(conf, "w") as f:
			f.write(cxp.config(bed, 1, TENANTS, GUESTS,
					   extra=bank_lines(pwfile, user)))
		cp = cxp.run_policer(node, ["--config", conf, "--foreground"], timeout=15)
		assert cp.returncode == 2, (want, cp.returncode, cp.stderr)
		assert want in cp.stderr and "bank_" in cp.stderr, (want, cp.stderr)
		assert BANK_PASS not in cp.stderr
	assert cxp.leftovers(node) == []
