// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * conex-marker datapath: two tc-BPF programs on the guest's interface,
 * attached through tcx links by the daemon.
 *
 *   egress   stamps every TCP payload packet of the guest (RFC 7837 CDO for
 *            IPv6, the ID encoding of docs/wire.md for IPv4) with the
 *            signals the connection's RFC 7786 gauges call for
 *            (conex/gauge.h); sets CWR on the segments of classic-ECN
 *            connections (cx_gauge_wants_cwr); lowers the MSS option of
 *            outgoing IPv6 SYNs by 8.
 *   ingress  feeds the gauges from the peer's ACKs (cumulative ACK, SACK,
 *            DSACK, ECE, or AccECN's ACE and ECEB) and lowers the MSS
 *            option of incoming IPv6 SYNs by 8, so both ends leave room
 *            for the CDO header.
 *
 * Which ECN feedback a connection uses is read from its SYN-ACK, in
 * whichever direction it passes.
 *
 * Per connection state lives in a hash map under a bpf_spin_lock (the
 * egress and ingress of one connection may run on different CPUs). The
 * kernel refuses bpf_spin_lock in an LRU hash (EOPNOTSUPP, measured on
 * 6.18), so the table is a plain hash: a full table is counted and the
 * packet leaves with X only; the daemon removes idle connections.
 *
 * Both programs return TCX_NEXT: they never drop, they only rewrite.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "marker.h"

#define TCX_NEXT	(-1)

#define L3_OFF		ETH_HLEN
#define IPPROTO_TCP_	6
#define NH_DSTOPTS	60
#define NH_HOPOPTS	0

#define TH_FIN		0x01
#define TH_SYN		0x02
#define TH_RST		0x04
#define TH_ACK		0x10
#define TH_ECE		0x40
#define TH_CWR		0x80

#define IP_DF		0x4000
#define IP_MF		0x2000
#define IP_OFFMASK	0x1fff

#define TCPOPT_EOL	0
#define TCPOPT_NOP	1
#define TCPOPT_MSS	2
#define TCPOPT_SACK	5
#define TCPOPT_ACCECN0	172	/* RFC 9768 §3.2.3: EE0B, ECEB, EE1B */
#define TCPOPT_ACCECN1	174	/* EE1B, ECEB, EE0B */
#define TCP_OPT_MAX	40
#define OPT_BUF		64	/* power of two: indices are masked with OPT_BUF - 1 */

/* Below this the peer's MSS is left alone (IPv6 minimum MTU 1280 - 60). */
#define MSS_CLAMP_MIN	1220

/*
 * Kernel quirk (measured, Linux 6.18): a forwarding IPv6 router validates
 * a GSO packet's segment size as 40 + tcp_hdrlen() + gso_size with the
 * transport header still pointing just past the fixed header, i.e. at our
 * Destination Options header, so "tcp_hdrlen" is read from the high nibble
 * of the TCP sequence number: anything from 0 to 60 bytes. Segments that
 * really fit were refused with Packet Too Big (Ip6InTooBigErrors at the
 * first hop) whenever that nibble was large, and the flow collapsed. Room
 * for the worst case: gso_size <= MTU - 40 - 60.
 */
#define V6_GSO_WORST_HDRS	(40 + 60)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cxm_cfg);
} cxm_cfg_map SEC(".maps");

/* max_entries is set by the daemon from the configuration before load. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct cxm_flow_key);
	__type(value, struct cxm_flow);
} cxm_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cxm_counters);
} cxm_counters_map SEC(".maps");

/* The parts of a TCP segment both directions need. */
struct seg {
	__u32 l4_off;
	__u32 tcp_hlen;
	__u32 payload;
	__u32 seq;
	__u32 ack;
	__u8 flags;
	__u8 ace;	/* AE, CWR, ECE as a 3-bit number (RFC 9768 §3.2.2) */
	__u8 family;
};

struct opts {
	__u32 mss_off;		/* of the MSS value, from the TCP header; 0 if none */
	__u16 mss;
	__u8 has_eceb;
	__u32 eceb;		/* AccECN option's ECEB field, 24 bits */
	struct cx_gauge_sack sack;
};

static __always_inline __u32 get_be32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

static __always_inline __u16 get_be16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

/* State of the option walk, shared with the bpf_loop() callback. */
struct opt_walk {
	__u8 buf[OPT_BUF];
	__u32 optlen;
	__u32 i;
	struct opts o;
};

static __always_inline __u32 buf_be32(const __u8 *buf, __u32 p)
{
	return (__u32)buf[p & (OPT_BUF - 1)] << 24 |
	       (__u32)buf[(p + 1) & (OPT_BUF - 1)] << 16 |
	       (__u32)buf[(p + 2) & (OPT_BUF - 1)] << 8 |
	       buf[(p + 3) & (OPT_BUF - 1)];
}

/* One option TLV per call; 1 stops the walk. */
static long opt_step(__u32 index, void *ctx)
{
	struct opt_walk *w = ctx;
	__u32 i = w->i, len, nblocks;
	__u8 kind;

	(void)index;
	if (i >= w->optlen || i >= TCP_OPT_MAX)
		return 1;
	kind = w->buf[i & (OPT_BUF - 1)];
	if (kind == TCPOPT_EOL)
		return 1;
	if (kind == TCPOPT_NOP) {
		w->i = i + 1;
		return 0;
	}
	/* Room for the length octet before reading it, then a sane length. */
	if (i + 1 >= w->optlen)
		return 1;
	len = w->buf[(i + 1) & (OPT_BUF - 1)];
	if (len < 2 || len > w->optlen - i)
		return 1;
	if (kind == TCPOPT_MSS && len == 4) {
		w->o.mss_off = 20 + i + 2;
		w->o.mss = (__u16)(w->buf[(i + 2) & (OPT_BUF - 1)] << 8 |
				   w->buf[(i + 3) & (OPT_BUF - 1)]);
	} else if (kind == TCPOPT_SACK && len >= 10 && (len - 2) % 8 == 0) {
		/* RFC 2018 §3: blocks of two 32-bit edges; the first two matter. */
		nblocks = (len - 2) / 8;
		w->o.sack.nblocks = nblocks;
		w->o.sack.start[0] = buf_be32(w->buf, i + 2);
		w->o.sack.end[0] = buf_be32(w->buf, i + 6);
		if (nblocks > 1) {
			w->o.sack.start[1] = buf_be32(w->buf, i + 10);
			w->o.sack.end[1] = buf_be32(w->buf, i + 14);
		}
	} else if ((kind == TCPOPT_ACCECN0 || kind == TCPOPT_ACCECN1) &&
		   len >= 8) {
		/* ECEB is the second 24-bit field in both orders. */
		w->o.has_eceb = 1;
		w->o.eceb = buf_be32(w->buf, i + 4) & CX_GAUGE_ECEB_MASK;
	}
	w->i = i + len;
	return 0;
}

/*
 * Walk the TCP options (RFC 9293 §3.1) for MSS, the first two SACK
 * blocks and AccECN's ECEB. At most 40 option bytes and each TLV takes at least one: 40
 * steps. bpf_loop() keeps the verifier from unrolling the walk (unrolled,
 * it passed the 1M-instruction limit).
 */
static __always_inline int parse_opts(struct __sk_buff *skb, const struct seg *s,
				      struct opts *o)
{
	struct opt_walk w;

	__builtin_memset(&w, 0, sizeof(w));
	w.optlen = s->tcp_hlen - 20;
	if (w.optlen == 0 || w.optlen > TCP_OPT_MAX)
		return 0;
	if (bpf_skb_load_bytes(skb, s->l4_off + 20, w.buf, w.optlen) < 0)
		return -1;
	if (bpf_loop(TCP_OPT_MAX, opt_step, &w, 0) < 0)
		return -1;
	*o = w.o;
	return 0;
}

/*
 * Lower an IPv6 SYN's MSS option by the CDO header's 8 bytes, so that
 * segments sized to it still fit the path MTU once marked. The helper
 * leaves a CHECKSUM_PARTIAL checksum alone (the stack completes it later)
 * and fixes a complete one.
 */
static __always_inline void clamp_mss(struct __sk_buff *skb, const struct seg *s,
				      struct opts *o, __u32 mtu_bytes,
				      struct cxm_counters *cnt)
{
	__u16 old_be, new_be, ceiling;
	__u32 off;

	if (!o->mss_off || o->mss < MSS_CLAMP_MIN + CXM_CDO_HDR_BYTES)
		return;
	off = s->l4_off + o->mss_off;
	old_be = bpf_htons(o->mss);
	o->mss -= CXM_CDO_HDR_BYTES;
	ceiling = mtu_bytes > V6_GSO_WORST_HDRS + MSS_CLAMP_MIN ?
		  (__u16)(mtu_bytes - V6_GSO_WORST_HDRS) : MSS_CLAMP_MIN;
	if (o->mss > ceiling)
		o->mss = ceiling;
	new_be = bpf_htons(o->mss);
	if (bpf_skb_store_bytes(skb, off, &new_be, 2, 0) < 0)
		return;
	if (bpf_l4_csum_replace(skb, s->l4_off + 16, old_be, new_be, 2) < 0)
		return;
	if (cnt)
		cnt->mss_clamped++;
}

static __always_inline int load_tcp(struct __sk_buff *skb, struct seg *s,
				    __u32 l3_payload)
{
	__u8 th[20];

	if (bpf_skb_load_bytes(skb, s->l4_off, th, sizeof(th)) < 0)
		return -1;
	s->tcp_hlen = (th[12] >> 4) * 4;
	if (s->tcp_hlen < 20 || s->tcp_hlen > l3_payload)
		return -1;
	s->payload = l3_payload - s->tcp_hlen;
	s->seq = get_be32(th + 4);
	s->ack = get_be32(th + 8);
	s->flags = th[13];
	s->ace = (__u8)((th[12] & 0x01) << 2 | th[13] >> 6);
	return 0;
}

/* Key from the guest's point of view; dir_out: the guest is the source. */
static __always_inline void make_key(struct cxm_flow_key *k, const __u8 *saddr,
				     const __u8 *daddr, __u32 alen,
				     __u16 sport_be, __u16 dport_be, int dir_out)
{
	__builtin_memset(k, 0, sizeof(*k));
	if (alen == 4) {
		__builtin_memcpy(k->laddr, dir_out ? saddr : daddr, 4);
		__builtin_memcpy(k->raddr, dir_out ? daddr : saddr, 4);
		k->family = 4;
	} else {
		__builtin_memcpy(k->laddr, dir_out ? saddr : daddr, 16);
		__builtin_memcpy(k->raddr, dir_out ? daddr : saddr, 16);
		k->family = 6;
	}
	k->lport = dir_out ? sport_be : dport_be;
	k->rport = dir_out ? dport_be : sport_be;
}

static __always_inline struct cxm_flow *flow_get(const struct cxm_flow_key *k,
						 const struct cxm_cfg *cfg,
						 __u32 snd_next, __u32 smss,
						 struct cxm_counters *cnt)
{
	struct cxm_flow *f, nf;
	long err;

	f = bpf_map_lookup_elem(&cxm_flows, k);
	if (f)
		return f;
	__builtin_memset(&nf, 0, sizeof(nf));
	cx_gauge_init(&nf.g, &cfg->gauge, snd_next, smss);
	nf.last_ns = bpf_ktime_get_ns();
	err = bpf_map_update_elem(&cxm_flows, k, &nf, BPF_NOEXIST);
	if (err == 0)
		cnt->flows_created++;
	else if (err == -7)	/* E2BIG: table full */
		cnt->flows_full++;
	return bpf_map_lookup_elem(&cxm_flows, k);
}

/* The ECN feedback a SYN-ACK agreed on, counted once per connection. */
static __always_inline void count_ecn(struct cxm_counters *cnt, int ecn)
{
	if (ecn == CX_GAUGE_ECN_CLASSIC)
		cnt->flows_ecn++;
	else if (ecn == CX_GAUGE_ECN_ACCECN)
		cnt->flows_accecn++;
}

/*
 * Start the gauges afresh on a SYN: a reused 5-tuple is a new connection.
 * The guest's own SYN-ACK (it is the server) says which ECN feedback the
 * connection uses.
 */
static __always_inline void flow_syn(const struct cxm_flow_key *k,
				     const struct cxm_cfg *cfg,
				     const struct seg *s, __u32 smss,
				     struct cxm_counters *cnt)
{
	struct cxm_flow *f = flow_get(k, cfg, s->seq + 1, smss, cnt);
	int ecn = CX_GAUGE_ECN_NONE;

	if (!f)
		return;
	if (s->flags & TH_ACK)
		ecn = cx_gauge_synack_ecn(s->ace);
	bpf_spin_lock(&f->lock);
	cx_gauge_init(&f->g, &cfg->gauge, s->seq + 1, smss);
	cx_gauge_set_ecn(&f->g, ecn);
	bpf_spin_unlock(&f->lock);
	f->last_ns = bpf_ktime_get_ns();
	count_ecn(cnt, ecn);
}

/*
 * Run the gauges for one payload packet. Returns the signal octet (X
 * alone when the flow table is full); *cwr: whether the segment should
 * carry CWR.
 */
static __always_inline __u8 flow_send(const struct cxm_flow_key *k,
				      const struct cxm_cfg *cfg,
				      struct __sk_buff *skb, const struct seg *s,
				      __u32 smss, __u32 segs, int *cwr,
				      struct cxm_counters *cnt)
{
	struct cxm_flow *f;
	__u64 readd;
	__u8 bits;
	int rtx;

	*cwr = 0;
	f = flow_get(k, cfg, s->seq, smss, cnt);
	if (!f)
		return CX_SIG_X;
	bpf_spin_lock(&f->lock);
	*cwr = cx_gauge_wants_cwr(&f->g);
	if (skb->gso_size)
		f->g.smss_bytes = skb->gso_size;
	rtx = cx_gauge_seq_before(s->seq, f->g.snd_max);
	readd = f->g.readd_c_bytes;
	bits = cx_gauge_send(&f->g, &cfg->gauge, s->seq, s->payload, segs);
	readd = f->g.readd_c_bytes - readd;
	bpf_spin_unlock(&f->lock);
	f->last_ns = bpf_ktime_get_ns();
	if (rtx) {
		cnt->rtx_pkts += segs;
		cnt->rtx_bytes += s->payload;
		cnt->credit_readd_bytes += readd;
	}
	return bits;
}

/*
 * CWR on a classic-ECN connection's segment (cx_gauge_wants_cwr). A GSO
 * packet's CWR stays on its first segment only (the kernel clears it on
 * the rest), so the receiver's ECE may run on to the next GSO packet:
 * still far shorter than a round trip.
 */
static __always_inline void set_cwr(struct __sk_buff *skb, const struct seg *s,
				    struct cxm_counters *cnt)
{
	__u16 old_be, new_be;
	__u8 w[2];

	if (s->flags & TH_CWR)
		return;
	if (bpf_skb_load_bytes(skb, s->l4_off + 12, w, 2) < 0)
		return;
	__builtin_memcpy(&old_be, w, 2);
	w[1] |= TH_CWR;
	__builtin_memcpy(&new_be, w, 2);
	if (bpf_skb_store_bytes(skb, s->l4_off + 12, w, 2, 0) < 0)
		return;
	if (bpf_l4_csum_replace(skb, s->l4_off + 16, old_be, new_be, 2) < 0)
		return;
	cnt->cwr_set++;
}

static __always_inline void count_marked(struct cxm_counters *cnt, __u8 bits,
					 __u64 segs, __u64 bytes)
{
	cnt->pkts_x += segs;
	cnt->bytes_x += bytes;
	if (bits & CX_SIG_L) {
		cnt->pkts_l += segs;
		cnt->bytes_l += bytes;
	}
	if (bits & CX_SIG_E) {
		cnt->pkts_e += segs;
		cnt->bytes_e += bytes;
	}
	if (bits & CX_SIG_C) {
		cnt->pkts_c += segs;
		cnt->bytes_c += bytes;
	}
}

static __always_inline int egress_v4(struct __sk_buff *skb,
				     const struct cxm_cfg *cfg,
				     struct cxm_counters *cnt)
{
	struct cxm_flow_key k;
	struct seg s = {};
	__u32 ihl, tot_len, frag, old_w, new_w, segs;
	int cwr;
	__u16 ports[2];
	__u64 bytes;
	__u8 ip[20], bits;

	if (bpf_skb_load_bytes(skb, L3_OFF, ip, sizeof(ip)) < 0)
		return TCX_NEXT;
	/* RFC 791: IHL in 32-bit words, at least 5. */
	if ((ip[0] >> 4) != 4 || (ip[0] & 0x0f) < 5 || ip[9] != IPPROTO_TCP_)
		return TCX_NEXT;
	ihl = (ip[0] & 0x0f) * 4;
	tot_len = get_be16(ip + 2);
	if (tot_len < ihl)
		return TCX_NEXT;
	s.l4_off = L3_OFF + ihl;
	if (load_tcp(skb, &s, tot_len - ihl) < 0)
		return TCX_NEXT;
	if (bpf_skb_load_bytes(skb, s.l4_off, ports, 4) < 0)
		return TCX_NEXT;
	make_key(&k, ip + 12, ip + 16, 4, ports[0], ports[1], 1);
	if (s.flags & TH_RST) {
		bpf_map_delete_elem(&cxm_flows, &k);
		return TCX_NEXT;
	}
	if (s.flags & TH_SYN) {
		flow_syn(&k, cfg, &s, CXM_SMSS_V4_DEFAULT, cnt);
		return TCX_NEXT;
	}
	if (s.payload == 0)
		return TCX_NEXT;
	/* RFC 7837 §4 (and docs/wire.md §3 for IPv4): never to multicast/broadcast. */
	if (ip[16] >= 224) {
		cnt->skipped_mcast++;
		return TCX_NEXT;
	}
	frag = get_be16(ip + 6);
	if (frag & (IP_MF | IP_OFFMASK)) {
		cnt->skipped_frag++;
		return TCX_NEXT;
	}

	segs = skb->gso_segs > 1 ? skb->gso_segs : 1;
	bits = flow_send(&k, cfg, skb, &s, CXM_SMSS_V4_DEFAULT, segs, &cwr, cnt);
	if (!bits)
		return TCX_NEXT;
	if (cwr)
		set_cwr(skb, &s, cnt);

	/*
	 * ID = XLEC << 12, flags RF=1 DF=1 MF=0, offset 0 (docs/wire.md §3): the
	 * packet is atomic (RFC 6864 §4), so no device may use the ID. GSO
	 * writes ID+i into segment i; the low 12 bits absorb that.
	 */
	old_w = (__u32)get_be16(ip + 4) << 16 | frag;
	new_w = (__u32)bits << 24 | 0xC000;
	if (!(frag & IP_DF))
		cnt->df_set++;
	old_w = bpf_htonl(old_w);
	new_w = bpf_htonl(new_w);
	if (bpf_skb_store_bytes(skb, L3_OFF + 4, &new_w, 4, 0) < 0)
		return TCX_NEXT;
	bpf_l3_csum_replace(skb, L3_OFF + 10, old_w, new_w, 4);

	bytes = (__u64)s.payload + (__u64)segs * (ihl + s.tcp_hlen);
	cnt->pkts_v4 += segs;
	count_marked(cnt, bits, segs, bytes);
	return TCX_NEXT;
}

static __always_inline int egress_v6(struct __sk_buff *skb,
				     const struct cxm_cfg *cfg,
				     struct cxm_counters *cnt)
{
	struct cxm_flow_key k;
	struct seg s = {};
	struct opts o = {};
	__u32 plen, gso, mss, segs;
	int cwr;
	__u64 adj_flags;
	__u16 ports[2], plen_be;
	__u64 bytes;
	__u8 ip6[40], hdr[CXM_CDO_HDR_BYTES], nh, bits;

	if (bpf_skb_load_bytes(skb, L3_OFF, ip6, sizeof(ip6)) < 0)
		return TCX_NEXT;
	if ((ip6[0] >> 4) != 6)
		return TCX_NEXT;
	nh = ip6[6];
	if (nh != IPPROTO_TCP_) {
		/*
		 * The CDO must come first, before Routing/AH/ESP (RFC 7837
		 * §3), and room can only be made right after the fixed
		 * header: packets that already carry extension headers are
		 * left alone (the guest's own TCP sends none).
		 */
		if (nh == NH_HOPOPTS || nh == NH_DSTOPTS || nh == 43 ||
		    nh == 44 || nh == 50 || nh == 51)
			cnt->skipped_exthdr++;
		return TCX_NEXT;
	}
	plen = get_be16(ip6 + 4);
	s.l4_off = L3_OFF + 40;
	if (load_tcp(skb, &s, plen) < 0)
		return TCX_NEXT;
	if (bpf_skb_load_bytes(skb, s.l4_off, ports, 4) < 0)
		return TCX_NEXT;
	make_key(&k, ip6 + 8, ip6 + 24, 16, ports[0], ports[1], 1);

	if (s.flags & TH_RST) {
		bpf_map_delete_elem(&cxm_flows, &k);
		return TCX_NEXT;
	}
	if (s.flags & TH_SYN) {
		if (cfg->flags & CXM_CFG_F_MSS_CLAMP) {
			if (parse_opts(skb, &s, &o) == 0)
				clamp_mss(skb, &s, &o, cfg->mtu_bytes, cnt);
		}
		flow_syn(&k, cfg, &s, CXM_SMSS_V6_DEFAULT, cnt);
		return TCX_NEXT;
	}
	if (s.payload == 0)
		return TCX_NEXT;
	if (ip6[24] == 0xff) {
		cnt->skipped_mcast++;
		return TCX_NEXT;
	}
	/* Payload Length must stay a 16-bit number (no jumbograms here). */
	if (plen > 0xffff - CXM_CDO_HDR_BYTES) {
		cnt->skipped_mtu++;
		return TCX_NEXT;
	}
	gso = skb->gso_size;
	if (gso) {
		/* Too small a gso_size to give up 8 bytes of it (see below). */
		if (gso <= CXM_CDO_HDR_BYTES + 64) {
			cnt->skipped_mtu++;
			return TCX_NEXT;
		}
	} else if (skb->len - L3_OFF + CXM_CDO_HDR_BYTES > cfg->mtu_bytes) {
		/* E.g. a connection opened before the marker clamped its MSS. */
		cnt->skipped_mtu++;
		return TCX_NEXT;
	}

	/*
	 * A connection whose MSS was clamped at its SYN already leaves 8
	 * bytes of room in every segment: keep gso_size (FIXED_GSO). Else
	 * (opened before the marker) let adjust_room take the 8 bytes from
	 * gso_size so each segment keeps its size.
	 */
	adj_flags = 0;
	mss = gso;
	if (gso) {
		if (V6_GSO_WORST_HDRS + gso <= cfg->mtu_bytes)
			adj_flags = BPF_F_ADJ_ROOM_FIXED_GSO;
		else
			mss = gso - CXM_CDO_HDR_BYTES;
		segs = (s.payload + mss - 1) / mss;
	} else {
		segs = 1;
	}
	bits = flow_send(&k, cfg, skb, &s, CXM_SMSS_V6_DEFAULT, segs, &cwr, cnt);
	if (!bits)
		return TCX_NEXT;
	if (cwr)
		set_cwr(skb, &s, cnt);

	if (bpf_skb_adjust_room(skb, CXM_CDO_HDR_BYTES, BPF_ADJ_ROOM_NET, adj_flags) < 0) {
		cnt->adjust_failed++;
		return TCX_NEXT;
	}
	/*
	 * NH | Hdr Ext Len 0 | CDO 0x1E 0x01 XLEC0000 | PadN 0x01 0x01 0x00
	 * (RFC 7837 §3, RFC 8200 §4.2). The TCP checksum is unchanged: its
	 * pseudo-header carries the upper-layer length, not Payload Length.
	 */
	hdr[0] = IPPROTO_TCP_;
	hdr[1] = 0;
	hdr[2] = 0x1e;
	hdr[3] = 0x01;
	hdr[4] = bits;
	hdr[5] = 0x01;
	hdr[6] = 0x01;
	hdr[7] = 0x00;
	if (bpf_skb_store_bytes(skb, L3_OFF + 40, hdr, sizeof(hdr), 0) < 0)
		return TCX_NEXT;
	nh = NH_DSTOPTS;
	if (bpf_skb_store_bytes(skb, L3_OFF + 6, &nh, 1, 0) < 0)
		return TCX_NEXT;
	plen_be = bpf_htons((__u16)(plen + CXM_CDO_HDR_BYTES));
	if (bpf_skb_store_bytes(skb, L3_OFF + 4, &plen_be, 2, 0) < 0)
		return TCX_NEXT;

	bytes = (__u64)s.payload +
		(__u64)segs * (40 + CXM_CDO_HDR_BYTES + s.tcp_hlen);
	cnt->pkts_v6 += segs;
	count_marked(cnt, bits, segs, bytes);
	return TCX_NEXT;
}

SEC("tc")
int cxm_egress(struct __sk_buff *skb)
{
	struct cxm_counters *cnt;
	struct cxm_cfg *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&cxm_cfg_map, &zero);
	cnt = bpf_map_lookup_elem(&cxm_counters_map, &zero);
	if (!cfg || !cnt)
		return TCX_NEXT;
	if (skb->protocol == bpf_htons(ETH_P_IP) && (cfg->flags & CXM_CFG_F_IPV4))
		return egress_v4(skb, cfg, cnt);
	if (skb->protocol == bpf_htons(ETH_P_IPV6) && (cfg->flags & CXM_CFG_F_IPV6))
		return egress_v6(skb, cfg, cnt);
	return TCX_NEXT;
}

/* Feedback from one incoming segment of the peer. */
static __always_inline void ingress_tcp(struct __sk_buff *skb,
					const struct cxm_cfg *cfg,
					struct cxm_counters *cnt,
					const struct cxm_flow_key *k,
					struct seg *s)
{
	struct opts o = {};
	struct cxm_flow *f;
	__u32 delivered, accecn;
	int dsack, ecn;
	__u64 ce;

	if (s->flags & TH_RST) {
		bpf_map_delete_elem(&cxm_flows, k);
		return;
	}
	if (s->tcp_hlen > 20 && parse_opts(skb, s, &o) < 0)
		return;
	if (s->flags & TH_SYN) {
		if (s->family == 6 && (cfg->flags & CXM_CFG_F_MSS_CLAMP))
			clamp_mss(skb, s, &o, cfg->mtu_bytes, cnt);
		f = bpf_map_lookup_elem(&cxm_flows, k);
		if (!f)
			return;
		/* The peer's SYN-ACK: the guest is the client. */
		ecn = (s->flags & TH_ACK) ? cx_gauge_synack_ecn(s->ace) : -1;
		bpf_spin_lock(&f->lock);
		if (o.mss)
			f->g.smss_bytes = o.mss;
		if (ecn >= 0)
			cx_gauge_set_ecn(&f->g, ecn);
		bpf_spin_unlock(&f->lock);
		count_ecn(cnt, ecn);
		return;
	}
	if (!(s->flags & TH_ACK))
		return;
	f = bpf_map_lookup_elem(&cxm_flows, k);
	if (!f)
		return;
	bpf_spin_lock(&f->lock);
	dsack = cx_gauge_sack_is_dsack(s->ack, &o.sack);
	accecn = f->g.flags & CX_GAUGE_F_ACCECN;
	delivered = cx_gauge_ack(&f->g, &cfg->gauge, s->ack, s->flags & TH_ECE,
				 &o.sack);
	ce = cx_gauge_accecn(&f->g, &cfg->gauge, s->ace, o.has_eceb, o.eceb,
			     delivered);
	bpf_spin_unlock(&f->lock);
	cnt->acks++;
	if (accecn) {
		cnt->accecn_acks++;
		cnt->eceb_opts += o.has_eceb;
		cnt->accecn_ce_bytes += ce;
	} else if (s->flags & TH_ECE) {
		cnt->ece_acks++;
	}
	if (dsack)
		cnt->dsacks++;
}

SEC("tc")
int cxm_ingress(struct __sk_buff *skb)
{
	struct cxm_counters *cnt;
	struct cxm_flow_key k;
	struct cxm_cfg *cfg;
	struct seg s = {};
	__u16 ports[2];
	__u32 zero = 0, ihl, tot_len, plen;
	__u8 ip[40], dh[2];

	cfg = bpf_map_lookup_elem(&cxm_cfg_map, &zero);
	cnt = bpf_map_lookup_elem(&cxm_counters_map, &zero);
	if (!cfg || !cnt)
		return TCX_NEXT;

	if (skb->protocol == bpf_htons(ETH_P_IP) && (cfg->flags & CXM_CFG_F_IPV4)) {
		if (bpf_skb_load_bytes(skb, L3_OFF, ip, 20) < 0)
			return TCX_NEXT;
		if ((ip[0] >> 4) != 4 || (ip[0] & 0x0f) < 5 || ip[9] != IPPROTO_TCP_)
			return TCX_NEXT;
		/* Only first fragments carry the TCP header. */
		if (get_be16(ip + 6) & IP_OFFMASK)
			return TCX_NEXT;
		ihl = (ip[0] & 0x0f) * 4;
		tot_len = get_be16(ip + 2);
		if (tot_len < ihl)
			return TCX_NEXT;
		s.l4_off = L3_OFF + ihl;
		s.family = 4;
		if (load_tcp(skb, &s, tot_len - ihl) < 0)
			return TCX_NEXT;
		if (bpf_skb_load_bytes(skb, s.l4_off, ports, 4) < 0)
			return TCX_NEXT;
		make_key(&k, ip + 12, ip + 16, 4, ports[0], ports[1], 0);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6) &&
		   (cfg->flags & CXM_CFG_F_IPV6)) {
		if (bpf_skb_load_bytes(skb, L3_OFF, ip, 40) < 0)
			return TCX_NEXT;
		if ((ip[0] >> 4) != 6)
			return TCX_NEXT;
		plen = get_be16(ip + 4);
		s.l4_off = L3_OFF + 40;
		if (ip[6] == NH_DSTOPTS) {
			/* A marking peer's CDO-only header: step over one. */
			if (bpf_skb_load_bytes(skb, s.l4_off, dh, 2) < 0)
				return TCX_NEXT;
			if (dh[0] != IPPROTO_TCP_ || dh[1] != 0 || plen < 8)
				return TCX_NEXT;
			s.l4_off += 8;
			plen -= 8;
		} else if (ip[6] != IPPROTO_TCP_) {
			return TCX_NEXT;
		}
		s.family = 6;
		if (load_tcp(skb, &s, plen) < 0)
			return TCX_NEXT;
		if (bpf_skb_load_bytes(skb, s.l4_off, ports, 4) < 0)
			return TCX_NEXT;
		make_key(&k, ip + 8, ip + 24, 16, ports[0], ports[1], 0);
	} else {
		return TCX_NEXT;
	}
	ingress_tcp(skb, cfg, cnt, &k, &s);
	return TCX_NEXT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
