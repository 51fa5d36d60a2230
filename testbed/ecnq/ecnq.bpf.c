// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ECN-marking virtual queue for a testbed fabric port, on clsact egress.
 *
 * The kernel here has no RED, CoDel or PIE, so the fabric's AQM is this: a
 * virtual queue that every packet joins and that drains at the port's
 * configured rate. It runs before the HTB qdisc of the same port, and with
 * the same rate it tracks HTB's real backlog. When the virtual backlog is
 * above mark_bytes, ECT(0)/ECT(1) packets are marked CE and Not-ECT packets
 * are dropped (RFC 3168 §5: mark instead of drop for ECN-capable traffic);
 * above limit_bytes everything is dropped, emulating a finite buffer.
 * Packets that pass join the virtual queue; dropped ones do not.
 *
 * The shaper behind it has a token bucket (HTB's burst): after an idle spell
 * it sends up to burst bytes ahead of its rate, so the level this program
 * keeps is backlog + burst, floored at 0 (a full bucket), and both
 * thresholds are compared against level - burst.
 *
 * Wire length of a GSO packet: skb->len counts one set of headers, the wire
 * carries one per segment, so add (gso_segs - 1) * header length, as the
 * qdisc layer does for HTB (qdisc_pkt_len_init). Only TCP and UDP headers
 * are parsed for that; IPv6 extension headers on GSO packets are not.
 *
 * Marks and drops are also counted per IP source (map ecnq_src, see ecnq.h):
 * for VXLAN the inner packet's source, since the outer one is the host.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "ecnq.h"

#define ECN_MASK	0x03
#define ECN_NOT_ECT	0x00
#define ECN_ECT1	0x01
#define ECN_ECT0	0x02
#define ECN_CE		0x03

#define IPV4_CSUM_OFF	(ETH_HLEN + 10)
#define IPPROTO_TCP_	6
#define IPPROTO_UDP_	17

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cx_ecnq_state);
} ecnq_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CX_ECNQ_SRC_MAX);
	__type(key, struct cx_ecnq_src_key);
	__type(value, struct cx_ecnq_src);
} ecnq_src SEC(".maps");

enum verdict { V_PASS, V_MARK, V_DROP };

/*
 * The source a mark or drop is counted under, and the bytes in front of
 * that source's IP packet on the wire (Ethernet; for VXLAN also the outer
 * IP, UDP, VXLAN and inner Ethernet headers). hdr holds the outer IP
 * header as read (20 bytes for IPv4, 40 for IPv6). An inner packet that
 * cannot be read is counted under the outer source.
 */
static __always_inline void src_of(struct __sk_buff *skb, const __u8 *hdr, int is_v4,
				   __u8 l4proto, __u32 l4_off, struct cx_ecnq_src_key *key,
				   __u32 *overhead)
{
	__be16 port, type;
	__u32 inner = l4_off + 8 + 8 + ETH_HLEN;

	__builtin_memset(key, 0, sizeof(*key));
	if (is_v4) {
		key->addr[10] = 0xff;
		key->addr[11] = 0xff;
		__builtin_memcpy(&key->addr[12], &hdr[12], 4);
	} else {
		__builtin_memcpy(key->addr, &hdr[8], 16);
	}
	*overhead = ETH_HLEN;
	if (l4proto != IPPROTO_UDP_)
		return;
	if (bpf_skb_load_bytes(skb, l4_off + 2, &port, 2) < 0 ||
	    port != bpf_htons(CX_ECNQ_VXLAN_PORT))
		return;
	/* UDP (8), VXLAN (8), then the inner Ethernet header's type. */
	if (bpf_skb_load_bytes(skb, inner - 2, &type, 2) < 0)
		return;
	if (type == bpf_htons(ETH_P_IP)) {
		__u8 a[4];

		if (bpf_skb_load_bytes(skb, inner + 12, a, 4) < 0)
			return;
		__builtin_memset(key, 0, sizeof(*key));
		key->addr[10] = 0xff;
		key->addr[11] = 0xff;
		__builtin_memcpy(&key->addr[12], a, 4);
	} else if (type == bpf_htons(ETH_P_IPV6)) {
		__u8 a[16];

		if (bpf_skb_load_bytes(skb, inner + 8, a, 16) < 0)
			return;
		__builtin_memcpy(key->addr, a, 16);
	} else {
		return;
	}
	*overhead = inner;
}

/* Count a mark or drop of segs wire packets, wire bytes, under its source. */
static __always_inline void count_src(struct __sk_buff *skb, struct cx_ecnq_state *st,
				      const __u8 *hdr, int is_v4, __u8 l4proto,
				      __u32 l4_off, __u32 segs, __u64 wire, int drop)
{
	struct cx_ecnq_src_key key;
	struct cx_ecnq_src *c, zero = {};
	__u32 overhead;
	__u64 bytes;

	src_of(skb, hdr, is_v4, l4proto, l4_off, &key, &overhead);
	bytes = wire > (__u64)segs * overhead ? wire - (__u64)segs * overhead : 0;
	c = bpf_map_lookup_elem(&ecnq_src, &key);
	if (!c) {
		/* Two CPUs may race to create it: BPF_NOEXIST lets one win. */
		bpf_map_update_elem(&ecnq_src, &key, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&ecnq_src, &key);
	}
	if (!c) {
		bpf_spin_lock(&st->lock);
		st->src_untracked += segs;
		bpf_spin_unlock(&st->lock);
		return;
	}
	if (drop) {
		__sync_fetch_and_add(&c->dropped_pkts, segs);
		__sync_fetch_and_add(&c->dropped_bytes, bytes);
	} else {
		__sync_fetch_and_add(&c->ce_pkts, segs);
		__sync_fetch_and_add(&c->ce_bytes, bytes);
	}
}

SEC("tc")
int cx_ecnq(struct __sk_buff *skb)
{
	struct cx_ecnq_state *st;
	__u32 key = 0;
	__u8 hdr[40];
	__u8 ecn = ECN_NOT_ECT, l4proto = 0;
	__u32 l3_off = ETH_HLEN, l4_off = 0, hdr_len = 0, segs;
	__u64 wire, wire_bns, now_ns, elapsed_ns, drain_bns, burst_bns, level, rate;
	int is_ip = 0, is_v4 = 0;
	enum verdict v = V_PASS;

	st = bpf_map_lookup_elem(&ecnq_state, &key);
	if (!st)
		return TC_ACT_OK;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_load_bytes(skb, l3_off, hdr, 20) < 0)
			goto pass_uncounted;
		/* RFC 791: IHL in 32-bit words, at least 5. */
		if ((hdr[0] >> 4) != 4 || (hdr[0] & 0x0f) < 5)
			goto pass_uncounted;
		ecn = hdr[1] & ECN_MASK;
		l4proto = hdr[9];
		l4_off = l3_off + (hdr[0] & 0x0f) * 4;
		is_ip = is_v4 = 1;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		if (bpf_skb_load_bytes(skb, l3_off, hdr, 40) < 0)
			goto pass_uncounted;
		if ((hdr[0] >> 4) != 6)
			goto pass_uncounted;
		/* RFC 8200 §7: Traffic Class straddles bytes 0 and 1. */
		ecn = (hdr[1] >> 4) & ECN_MASK;
		l4proto = hdr[6];
		l4_off = l3_off + 40;
		is_ip = 1;
	}

	segs = skb->gso_segs > 1 ? skb->gso_segs : 1;
	if (segs > 1 && is_ip) {
		hdr_len = l4_off;
		if (l4proto == IPPROTO_TCP_) {
			__u8 doff;

			if (bpf_skb_load_bytes(skb, l4_off + 12, &doff, 1) < 0)
				goto pass_uncounted;
			hdr_len += (doff >> 4) * 4;
		} else if (l4proto == IPPROTO_UDP_) {
			hdr_len += 8;
		}
	}
	wire = skb->len + (__u64)(segs - 1) * hdr_len;
	wire_bns = wire * CX_ECNQ_NS_PER_S;
	now_ns = bpf_ktime_get_ns();

	bpf_spin_lock(&st->lock);
	rate = st->drain_bytes_per_s;
	if (rate > CX_ECNQ_MAX_DRAIN_BYTES_PER_S)
		rate = CX_ECNQ_MAX_DRAIN_BYTES_PER_S;
	elapsed_ns = now_ns > st->last_ns ? now_ns - st->last_ns : 0;
	if (elapsed_ns > CX_ECNQ_MAX_ELAPSED_NS)
		elapsed_ns = CX_ECNQ_MAX_ELAPSED_NS;
	drain_bns = elapsed_ns * rate;
	burst_bns = st->burst_bytes * CX_ECNQ_NS_PER_S;
	level = st->level_bns > drain_bns ? st->level_bns - drain_bns : 0;
	st->last_ns = now_ns;

	if (rate == 0) {
		/* Not configured yet: a queue that never drains would drop all. */
		v = V_PASS;
	} else if (level + wire_bns > (st->limit_bytes + st->burst_bytes) * CX_ECNQ_NS_PER_S) {
		v = V_DROP;
		st->dropped_limit += segs;
	} else if (is_ip && level > (st->mark_bytes + st->burst_bytes) * CX_ECNQ_NS_PER_S) {
		if (ecn == ECN_ECT0 || ecn == ECN_ECT1)
			v = V_MARK;
		else if (ecn == ECN_NOT_ECT)
			v = V_DROP;
	}

	if (v != V_DROP) {
		level += wire_bns;
		if (level > burst_bns &&
		    (level - burst_bns) / CX_ECNQ_NS_PER_S > st->max_backlog_bytes)
			st->max_backlog_bytes = (level - burst_bns) / CX_ECNQ_NS_PER_S;
	}
	st->level_bns = level;

	st->skbs++;
	st->pkts += segs;
	st->bytes += wire;
	if (!is_ip)
		st->non_ip += segs;
	else if (ecn == ECN_NOT_ECT)
		st->in_not_ect += segs;
	else if (ecn == ECN_ECT1)
		st->in_ect1 += segs;
	else if (ecn == ECN_ECT0)
		st->in_ect0 += segs;
	else
		st->in_ce += segs;
	if (v == V_MARK) {
		st->marked += segs;
		st->marked_bytes += wire;
	} else if (v == V_DROP) {
		st->dropped += segs;
		st->dropped_bytes += wire;
	}
	bpf_spin_unlock(&st->lock);

	if (v != V_PASS && is_ip)
		count_src(skb, st, hdr, is_v4, l4proto, l4_off, segs, wire, v == V_DROP);
	if (v == V_DROP)
		return TC_ACT_SHOT;
	if (v != V_MARK)
		return TC_ACT_OK;

	/*
	 * Set CE in place. GSO segments copy this header, so every segment
	 * of the packet leaves marked, which is what the counters assume.
	 */
	if (is_v4) {
		__u8 tos = hdr[1] | ECN_CE;
		__be16 old_w, new_w;

		/* RFC 1624: the checksum moves with the 16-bit word holding TOS. */
		old_w = bpf_htons((__u16)hdr[0] << 8 | hdr[1]);
		new_w = bpf_htons((__u16)hdr[0] << 8 | tos);
		if (bpf_l3_csum_replace(skb, IPV4_CSUM_OFF, old_w, new_w, 2) < 0)
			return TC_ACT_OK;
		if (bpf_skb_store_bytes(skb, l3_off + 1, &tos, 1, 0) < 0)
			return TC_ACT_SHOT;	/* checksum already changed */
	} else {
		__u8 b1 = hdr[1] | (ECN_CE << 4);

		bpf_skb_store_bytes(skb, l3_off + 1, &b1, 1, 0);
	}
	return TC_ACT_OK;

pass_uncounted:
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
