"""Wire check against independent parsers (issue 2, item 6).

cx-wirepcap builds ConEx-marked TCP packets with libconex (CDO inserted by
cx_cdo_insert, IPv4 ID encoding by cx_ipv4id_apply) and writes a pcap; tshark
(and scapy, as a second opinion) must decode every frame as intended: the
Destination Options header with option type 0x1e, length 1 and our data
octet, a valid TCP header behind it with a good checksum, the IPv4 reserved
flag, DF and the signal nibble of the ID, and nothing flagged malformed.
"""
import os
import shutil
import subprocess

import pytest

from conftest import REPO

WIREPCAP = os.path.join(REPO, "build", "tests", "wire", "cx-wirepcap")

FIELDS = [
    "frame.number", "ipv6.dstopts.nxt", "ipv6.opt.type", "ipv6.opt.length",
    "ipv6.opt.experimental", "tcp.srcport", "tcp.len", "tcp.checksum.status",
    "ip.flags.rb", "ip.flags.df", "ip.flags.mf", "ip.frag_offset", "ip.id",
    "ip.checksum.status", "_ws.malformed", "_ws.expert.severity",
]
# tshark's expert severities; "error" is 8388608 (PI_ERROR).
PI_ERROR = 0x00800000


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed (scripts/setup installs it)")
    subprocess.run(["make", "-s", "-C", REPO, "build/tests/wire/cx-wirepcap"],
                   check=True)
    pcap = tmp_path_factory.mktemp("wire") / "conex.pcap"
    out = subprocess.run([WIREPCAP, str(pcap)], check=True,
                         capture_output=True, text=True).stdout
    expected = {}
    for line in out.splitlines():
        frame, fam, bits, sport, plen, hbh = line.split()
        expected[int(frame)] = dict(fam=int(fam), bits=int(bits, 16),
                                    sport=int(sport), plen=int(plen),
                                    hbh=int(hbh))
    cmd = ["tshark", "-n", "-r", str(pcap), "-o", "tcp.check_checksum:TRUE",
           "-o", "ip.check_checksum:TRUE", "-T", "fields", "-E", "separator=|"]
    for f in FIELDS:
        cmd += ["-e", f]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    decoded = {}
    for line in res.stdout.splitlines():
        row = dict(zip(FIELDS, line.split("|")))
        decoded[int(row["frame.number"])] = row
    return pcap, expected, decoded


def test_every_frame_decoded(capture):
    _, expected, decoded = capture
    assert len(expected) >= 20
    assert sorted(decoded) == sorted(expected)


def test_nothing_malformed(capture):
    _, _, decoded = capture
    for n, row in decoded.items():
        assert row["_ws.malformed"] == "", f"frame {n} malformed"
        sev = [int(s) for s in row["_ws.expert.severity"].split(",") if s]
        assert all(s < PI_ERROR for s in sev), f"frame {n}: expert error {sev}"


def test_tcp_after_the_options(capture):
    _, expected, decoded = capture
    for n, exp in expected.items():
        row = decoded[n]
        assert int(row["tcp.srcport"]) == exp["sport"], f"frame {n}"
        assert int(row["tcp.len"]) == exp["plen"], f"frame {n}"
        assert row["tcp.checksum.status"] == "1", f"frame {n}: TCP checksum"


def test_ipv6_cdo(capture):
    _, expected, decoded = capture
    v6 = {n: e for n, e in expected.items() if e["fam"] == 6}
    assert len(v6) >= 10 and any(e["hbh"] for e in v6.values())
    for n, exp in v6.items():
        row = decoded[n]
        types = [int(t, 16) for t in row["ipv6.opt.type"].split(",")]
        lens = [int(x) for x in row["ipv6.opt.length"].split(",")]
        # With a Hop-by-Hop header first, its PadN is option 0 of the
        # packet; the Destination Options header's options follow.
        first = 1 if exp["hbh"] else 0
        assert types[first] == 0x1E, f"frame {n}: {types}"
        assert lens[first] == 1, f"frame {n}: {lens}"
        assert types[first + 1] == 0x01, f"frame {n}: PadN after the CDO"
        assert int(row["ipv6.dstopts.nxt"]) == 6, f"frame {n}"
        assert int(row["ipv6.opt.experimental"], 16) == exp["bits"], f"frame {n}"


def test_ipv4_id_encoding(capture):
    _, expected, decoded = capture
    v4 = {n: e for n, e in expected.items() if e["fam"] == 4}
    assert len(v4) >= 10
    low_bits_seen = set()
    for n, exp in v4.items():
        row = decoded[n]
        assert row["ip.flags.rb"] in ("1", "True"), f"frame {n}: RF"
        assert row["ip.flags.df"] in ("1", "True"), f"frame {n}: DF"
        assert row["ip.flags.mf"] in ("0", "False"), f"frame {n}: MF"
        assert int(row["ip.frag_offset"]) == 0, f"frame {n}"
        ident = int(row["ip.id"], 16)
        assert ident >> 12 == exp["bits"] >> 4, f"frame {n}: id {ident:#x}"
        low_bits_seen.add(ident & 0x0FFF)
        assert row["ip.checksum.status"] == "1", f"frame {n}: IPv4 checksum"
    # Both the encoder's own value (0) and a TSO-style ID+i were on the wire.
    assert {0, 0x0FFF} <= low_bits_seen


def test_scapy_agrees(capture):
    """A second, independent parser: scapy's IPv6 and TCP dissectors."""
    scapy_all = pytest.importorskip("scapy.all")
    pcap, expected, _ = capture
    pkts = scapy_all.rdpcap(str(pcap))
    assert len(pkts) == len(expected)
    for n, pkt in enumerate(pkts, start=1):
        exp = expected[n]
        raw = bytes(pkt)
        ip = (scapy_all.IPv6 if exp["fam"] == 6 else scapy_all.IP)(raw)
        tcp = ip[scapy_all.TCP]
        assert tcp.sport == exp["sport"]
        assert len(tcp.payload) == exp["plen"]
        sent = tcp.chksum
        tcp.chksum = None
        assert scapy_all.TCP(bytes(tcp)).chksum == sent, f"frame {n}"
        if exp["fam"] == 6:
            dst = ip[scapy_all.IPv6ExtHdrDestOpt]
            assert dst.nh == 6 and len(dst) - len(dst.payload) == 8
            opt = dst.options[0]
            assert opt.otype == 0x1E and opt.optlen == 1
            assert opt.optdata == bytes([exp["bits"]])
        else:
            assert ip.flags.evil and ip.flags.DF and not ip.flags.MF
            assert ip.id >> 12 == exp["bits"] >> 4
