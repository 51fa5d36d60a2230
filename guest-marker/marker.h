/*
 * conex-marker: the maps shared by the tc-BPF datapath (marker.bpf.c) and
 * the daemon. Fixed-width kernel types only: this header is compiled both
 * for the host and for the BPF target.
 */
#ifndef CXM_MARKER_H
#define CXM_MARKER_H

#include <linux/bpf.h>
#include <linux/types.h>

#include <conex/gauge.h>

/*
 * tcx attach types (Linux 6.6). Debian's uapi headers predate them; the
 * values were read from this kernel's /sys/kernel/btf/vmlinux.
 */
#define CXM_BPF_TCX_INGRESS	46
#define CXM_BPF_TCX_EGRESS	47

/* Sender MSS until the connection shows one (1500 - headers - timestamps). */
#define CXM_SMSS_V4_DEFAULT	1448
#define CXM_SMSS_V6_DEFAULT	1428

/* Bytes the CDO-only Destination Options header adds (RFC 7837 §3). */
#define CXM_CDO_HDR_BYTES	8

enum {
	CXM_CFG_F_IPV4 = 1U << 0,
	CXM_CFG_F_IPV6 = 1U << 1,
	CXM_CFG_F_MSS_CLAMP = 1U << 2,	/* IPv6: lower SYN MSS by 8 both ways */
};

/* The one entry of the config array map, written before attaching. */
struct cxm_cfg {
	__u32 flags;		/* CXM_CFG_F_* */
	__u32 mtu_bytes;	/* device MTU, for the non-GSO IPv6 headroom check */
	struct cx_gauge_cfg gauge;
};

/*
 * A connection as the guest sees it: local = the guest's address and port.
 * IPv4 addresses sit in the first 4 bytes; every other byte is zero.
 */
struct cxm_flow_key {
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport;		/* network byte order */
	__u16 rport;
	__u8 family;		/* 4 or 6 */
	__u8 pad[3];
};

struct cxm_flow {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 last_ns;		/* bpf_ktime_get_ns() of the last packet */
	struct cx_gauge g;
};

/*
 * Per-CPU counters. Packets are wire packets (a GSO packet counts its
 * segments); marked bytes follow RFC 7837 §4 / docs/wire.md §3: per segment,
 * IPv6 40 + Payload Length after insertion, IPv4 Total Length, counted
 * once per flag set.
 */
struct cxm_counters {
	__u64 pkts_x, bytes_x;
	__u64 pkts_l, bytes_l;
	__u64 pkts_e, bytes_e;
	__u64 pkts_c, bytes_c;
	__u64 pkts_v4, pkts_v6;		/* stamped, by family */
	__u64 skipped_mtu;		/* IPv6, would exceed the MTU */
	__u64 skipped_frag;		/* IPv4 MF or offset set */
	__u64 skipped_exthdr;		/* IPv6 with extension headers */
	__u64 skipped_mcast;
	__u64 df_set;			/* IPv4 DF was clear, set to mark */
	__u64 mss_clamped;		/* IPv6 SYN MSS options lowered */
	__u64 flows_full;		/* flow table full: X only */
	__u64 adjust_failed;		/* bpf_skb_adjust_room refused */
	__u64 rtx_pkts, rtx_bytes;	/* retransmissions seen (payload) */
	__u64 credit_readd_bytes;	/* credit of lost packets re-added */
	__u64 acks, ece_acks, dsacks;	/* ingress feedback processed */
	__u64 flows_created;
	__u64 flows_ecn, flows_accecn;	/* negotiated at the SYN-ACK */
	__u64 cwr_set;			/* classic ECN: CWR added to a segment */
	__u64 accecn_acks, eceb_opts;	/* AccECN ACKs, and those with ECEB */
	__u64 accecn_ce_bytes;		/* CE bytes they fed back */
};

#endif
