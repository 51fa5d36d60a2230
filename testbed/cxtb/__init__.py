"""cxtb: the ConEx testbed, hosts and guests in network namespaces with an ECN fabric.

	from cxtb import Testbed
	with Testbed(hosts=2, guests=1) as tb:
		tb.guest(1, 1).run(["ping", "-c1", tb.guest(2, 1).ip4])
"""

from .testbed import ACCECN_CC, ECN_MODES, Node, Testbed, accecn_registered, ecnq_tool
from .state import reap
from .units import parse_rate, parse_size, format_rate

__all__ = ["ACCECN_CC", "ECN_MODES", "Node", "Testbed", "accecn_registered",
	   "ecnq_tool", "reap", "parse_rate", "parse_size", "format_rate"]
from .traffic import iperf3, wait_listening  # noqa: E402

__all__ += ["iperf3", "wait_listening"]
from . import marker  # noqa: E402,F401
