"""Smoke test, end to end: two guests on two hosts through a 100 Mbit/s
bottleneck with the project's ECN queue.

An ECN-capable TCP flow is marked, not dropped, and keeps >= 90 % of the
bottleneck rate; a Not-ECT flow is dropped instead. IPv4 and IPv6.
"""

import time

import pytest

import cxtb
from conftest import counter_delta, running_testbed

RATE_BPS = 100_000_000
SECONDS = 5
GOODPUT_MIN = 0.90

CE = {4: "IpExtInCEPkts", 6: "Ip6InCEPkts"}


@pytest.fixture(scope="module")
def bed(netns_ok, ecnq_tool, iperf3_ok):
	with running_testbed(hosts=2, guests=1, cc="cubic", ecn=1,
			     bottleneck=(2, RATE_BPS)) as tb:
		yield tb


def _flow(tb, fam, ecn):
	snd, rcv = tb.guest(1, 1), tb.guest(2, 1)
	tb.set_tcp(snd, ecn=ecn)
	tb.set_tcp(rcv, ecn=ecn)
	addr = rcv.ip4 if fam == 4 else rcv.ip6
	q0, n0 = tb.ecnq_stats(2), rcv.nstat()
	res = cxtb.iperf3(snd, rcv, addr, seconds=SECONDS)
	time.sleep(0.1)
	q1, n1 = tb.ecnq_stats(2), rcv.nstat()
	q = {k: q1[k] - q0[k] for k in ("marked", "dropped", "dropped_limit", "in_ect0",
					"in_not_ect", "pkts")}
	rx = counter_delta(n0, n1, CE[fam])
	end = res["end"]
	return {
		"goodput_bps": end["sum_received"]["bits_per_second"],
		"retransmits": end["sum_sent"]["retransmits"],
		"rx_ce": rx[CE[fam]],
		"q": q,
	}


@pytest.mark.parametrize("fam", [4, 6])
def test_ecn_flow_is_marked_and_keeps_goodput(bed, fam):
	r = _flow(bed, fam, ecn=1)
	q = r["q"]
	assert q["in_ect0"] > 1000, r
	assert q["marked"] > 0, r
	assert r["rx_ce"] > 0, r
	# the receiver saw what the queue marked (per segment, both sides)
	assert abs(r["rx_ce"] - q["marked"]) <= max(5, q["marked"] // 50), r
	assert q["dropped_limit"] == 0, r
	# A single responsive flow keeps the queue near the threshold: marks
	# are a small minority. (When the virtual queue ignored HTB's burst it
	# marked 90-99 % of the packets of a queue that was really empty.)
	assert q["marked"] < q["in_ect0"] // 5, r
	assert r["goodput_bps"] >= GOODPUT_MIN * RATE_BPS, r


@pytest.mark.parametrize("fam", [4, 6])
def test_not_ect_flow_is_dropped(bed, fam):
	r = _flow(bed, fam, ecn=0)
	q = r["q"]
	assert q["in_not_ect"] > 1000, r
	assert q["dropped"] > 0 and q["marked"] == 0, r
	assert q["dropped"] < q["in_not_ect"] // 5, r
	assert r["retransmits"] > 0, r
	assert r["rx_ce"] == 0, r
