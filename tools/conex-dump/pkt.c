/*
 * Packet reduction for conex-dump. What counts as a ConEx signal is
 * libconex's decision (cx_cdo_find, cx_ipv4id_decode), so the tool reads
 * the wire exactly as the auditor and policer do.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <conex/cdo.h>
#include <conex/ipv4.h>
#include <conex/ipv4id.h>
#include <conex/ipv6.h>
#include <conex/signal.h>

#include "pkt.h"

static const uint8_t flag_sig[CXD_FLAGS] = {
	[CXD_FLAG_X] = CX_SIG_X,
	[CXD_FLAG_L] = CX_SIG_L,
	[CXD_FLAG_E] = CX_SIG_E,
	[CXD_FLAG_C] = CX_SIG_C,
};

/* TCP header at p + off, in a packet that ends at ip_end. */
static int tcp_at(const uint8_t *p, size_t len, size_t off, size_t ip_end,
		  struct cxd_pkt *out)
{
	int hlen;

	if (off > len)
		return -ENODATA;
	hlen = cx_tcp_decode(p + off, len - off, &out->tcp);
	if (hlen < 0)
		return hlen;
	if ((size_t)hlen > ip_end - off)
		return -EBADMSG;
	out->payload_bytes = (uint32_t)(ip_end - off - (size_t)hlen);
	out->flags |= CXD_PKT_F_TCP;
	return 0;
}

static int decode4(const uint8_t *p, size_t len, struct cxd_pkt *out)
{
	struct cx_ipv4 ip;
	struct cx_ipv4id id;
	uint16_t sport = 0, dport = 0;
	int ihl, ret, i;

	ihl = cx_ipv4_decode_hdr(p, len, &ip);
	if (ihl < 0)
		return ihl;
	ret = cx_ipv4id_decode(p, len, &id);
	if (ret < 0)
		return ret;
	out->family = 4;
	out->proto = ip.protocol;
	out->ecn = ip.ecn;
	out->ip_bytes = ip.tot_len;
	if (cx_ipv4_is_multicast(&ip))
		out->flags |= CXD_PKT_F_MULTICAST;
	if (id.state == CX_IPV4ID_ANOMALY)
		out->flags |= CXD_PKT_F_RF_ANOMALY;
	if (id.state == CX_IPV4ID_CONEX) {
		out->flags |= CXD_PKT_F_MARKING;
		/* As RFC 7837 §4 says for the CDO: multicast counts as unmarked. */
		if (!(out->flags & CXD_PKT_F_MULTICAST)) {
			out->sig = id.bits;
			for (i = 0; i < CXD_FLAGS; i++)
				out->flag_bytes[i] = cx_ipv4id_flag_bytes(&id, flag_sig[i]);
		}
	}
	if (cx_ipv4_is_fragment(&ip)) {
		out->flags |= CXD_PKT_F_FRAGMENT;
		return 0;
	}
	if (ip.protocol == IPPROTO_TCP) {
		ret = tcp_at(p, len, (size_t)ihl, ip.tot_len, out);
		if (ret < 0)
			return ret;
		sport = out->tcp.sport;
		dport = out->tcp.dport;
	}
	cx_flow_key_v4(&out->key, ip.saddr, ip.daddr, sport, dport, ip.protocol);
	return 0;
}

static int decode6(const uint8_t *p, size_t len, struct cxd_pkt *out)
{
	struct cx_ipv6_chain c;
	struct cx_cdo_hit hit;
	uint16_t sport = 0, dport = 0;
	int ret, i;

	ret = cx_ipv6_walk(p, len, &c);
	if (ret < 0)
		return ret;
	out->family = 6;
	out->proto = c.upper_proto;
	out->ecn = c.hdr.ecn;
	out->ip_bytes = CX_IPV6_HDR_BYTES + (uint32_t)c.hdr.payload_len;
	if (cx_ipv6_is_multicast(&c.hdr))
		out->flags |= CXD_PKT_F_MULTICAST;
	ret = cx_cdo_find(p, len, &hit);
	if (ret == 0) {
		out->flags |= CXD_PKT_F_MARKING;
		out->sig = hit.bits & (uint8_t)~CX_SIG_RES;
		/* X=0: L/E/C are ignored and nothing counts (RFC 7837 §4). */
		for (i = 0; i < CXD_FLAGS && (hit.bits & CX_SIG_X); i++)
			if (hit.bits & flag_sig[i])
				out->flag_bytes[i] = out->ip_bytes;
	} else if (ret == -ENOENT) {
		if (hit.flags & CX_CDO_F_MULTICAST)
			out->flags |= CXD_PKT_F_MARKING;
	} else {
		return ret;
	}
	if (c.flags & CX_IPV6_F_FRAG) {
		out->flags |= CXD_PKT_F_FRAGMENT;
		return 0;
	}
	if (c.upper_proto == IPPROTO_TCP) {
		ret = tcp_at(p, len, c.upper_off, out->ip_bytes, out);
		if (ret < 0)
			return ret;
		sport = out->tcp.sport;
		dport = out->tcp.dport;
	}
	cx_flow_key_v6(&out->key, c.hdr.saddr, c.hdr.daddr, sport, dport,
		       c.upper_proto);
	return 0;
}

int cxd_pkt_decode(enum cxd_l3 l3, const uint8_t *p, size_t len,
		   struct cxd_pkt *out)
{
	if (!p || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	switch (l3) {
	case CXD_L3_IPV4:
		return decode4(p, len, out);
	case CXD_L3_IPV6:
		return decode6(p, len, out);
	default:
		return -ENOENT;
	}
}
