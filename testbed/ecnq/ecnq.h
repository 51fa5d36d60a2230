/*
 * The testbed's ECN-marking queue: the map value shared by the tc-BPF
 * program (ecnq.bpf.c) and its loader (cx-ecnq.c).
 *
 * One array map of one entry per attached device: each attach loads its own
 * copy of the program and map, so the state is per fabric port.
 */
#ifndef CX_ECNQ_H
#define CX_ECNQ_H

#include <linux/bpf.h>
#include <linux/types.h>

#define CX_ECNQ_NS_PER_S	1000000000ULL

/*
 * Bounds that keep the virtual-queue arithmetic inside 64 bits: the backlog
 * is kept in byte-nanoseconds (bytes x 10^9, so that draining by
 * elapsed_ns * bytes_per_s loses no remainder), elapsed time is capped at
 * one second per packet, and 10^9 * 12.5e9 B/s < 2^64.
 */
#define CX_ECNQ_MAX_DRAIN_BYTES_PER_S	12500000000ULL	/* 100 Gbit/s */
#define CX_ECNQ_MAX_LIMIT_BYTES		(1ULL << 30)
#define CX_ECNQ_MAX_BURST_BYTES		(1ULL << 30)
#define CX_ECNQ_MAX_ELAPSED_NS		CX_ECNQ_NS_PER_S

/* Where the loader attaches on clsact egress; stats/detach look it up here. */
#define CX_ECNQ_TC_HANDLE	0xce
#define CX_ECNQ_TC_PRIO		1

enum {
	/* The loader created the clsact qdisc, so detach removes it again. */
	CX_ECNQ_F_OWN_CLSACT = 1U << 0,
};

/*
 * Counters count wire packets: a GSO packet of n segments counts n, so they
 * compare directly with the receiver's IpExtIn*Pkts / Ip6In*Pkts, which the
 * kernel also counts per segment. Byte counters use the same wire length the
 * virtual queue uses (below).
 */
struct cx_ecnq_state {
	struct bpf_spin_lock lock;
	__u32 flags;			/* CX_ECNQ_F_* */

	/* Configuration, written by the loader before the filter is attached. */
	__u64 rate_bps;			/* HTB rate the queue models (for display) */
	__u64 drain_bytes_per_s;	/* virtual queue service rate */
	__u64 mark_bytes;		/* backlog above which ECT is marked CE */
	__u64 limit_bytes;		/* backlog above which everything is dropped */
	__u64 burst_bytes;		/* the shaper's burst (HTB burst), see below */

	/*
	 * Virtual queue. level_bns = backlog + burst, floored at 0: a shaper
	 * with a token bucket of depth burst (HTB) sends up to burst bytes
	 * ahead of its rate after an idle spell, so its real backlog is the
	 * virtual one minus the tokens it holds. Without this the queue
	 * "saw" a backlog of up to the burst (625 KB at 1 Gbit/s with a 5 ms
	 * burst) while HTB's real queue was empty, and marked 99 % of packets.
	 */
	__u64 level_bns;		/* (backlog + burst) bytes x 10^9 */
	__u64 last_ns;			/* bpf_ktime_get_ns() of the last update */
	__u64 max_backlog_bytes;	/* largest backlog seen (level - burst) */

	/* Counters. */
	__u64 skbs;			/* packets as the stack sees them (GSO = 1) */
	__u64 pkts;			/* wire packets, IP or not */
	__u64 bytes;
	__u64 in_not_ect;		/* ECN codepoint on arrival, IP only */
	__u64 in_ect1;
	__u64 in_ect0;
	__u64 in_ce;			/* already CE on arrival (passed, not re-marked) */
	__u64 marked;			/* ECT turned into CE */
	__u64 marked_bytes;
	__u64 dropped;			/* every drop: Not-ECT above mark, any above limit */
	__u64 dropped_bytes;
	__u64 dropped_limit;		/* the part of dropped that hit the hard limit */
	__u64 non_ip;			/* passed untouched (ARP and such) */
	/*
	 * Marks and drops (wire packets) that no per-source entry counts:
	 * the per-source map was full when their source first appeared.
	 */
	__u64 src_untracked;
};

/*
 * Per-source counters (map ecnq_src), so that a fabric port can say whose
 * congestion it was: the key is the IP source of the tenant's packet, an
 * IPv4 address as IPv4-mapped IPv6 (::ffff:a.b.c.d). For VXLAN (outer UDP
 * to CX_ECNQ_VXLAN_PORT) it is the inner packet's source: the outer one is
 * the sending host. Bytes are the bytes of that IP packet (the inner one
 * for VXLAN), per wire segment, so they compare with what a policer counts
 * of the same packets; packets are wire packets as above. Only marks and
 * drops of IP packets create an entry.
 */
#define CX_ECNQ_SRC_MAX		4096
#define CX_ECNQ_VXLAN_PORT	4789

struct cx_ecnq_src_key {
	__u8 addr[16];
};

struct cx_ecnq_src {
	__u64 ce_pkts;			/* ECT turned into CE here */
	__u64 ce_bytes;
	__u64 dropped_pkts;		/* every drop, as dropped above */
	__u64 dropped_bytes;
};

#endif
