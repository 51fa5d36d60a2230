/*
 * Packet parsing for the audit. Byte counts follow docs/wire.md §2.4 and §3.5:
 * ip_bytes is the whole IP packet (IPv6 40 + Payload Length, IPv4 Total
 * Length). It comes from the queued length, not the header: for a GSO
 * packet (NFQUEUE F_GSO) it is the sum over its segments, which is what
 * the audit counts, and the header's length field may not say so (IPv6
 * BIG TCP writes 0).
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <conex/byteorder.h>
#include <conex/cdo.h>
#include <conex/ecn.h>
#include <conex/flow.h>
#include <conex/ipv4.h>
#include <conex/ipv4id.h>
#include <conex/ipv6.h>
#include <conex/signal.h>
#include <conex/tcp.h>
#include <conex/udp.h>

#include "pkt.h"

/* Ports and TCP fields from the transport header at off, if present. */
static int parse_l4(const uint8_t *p, size_t cap_len, size_t off,
		    uint8_t proto, uint32_t ip_bytes, uint16_t *sport,
		    uint16_t *dport, struct cx_audit_pkt *out)
{
	struct cx_tcp tcp;
	struct cx_udp udp;
	int ret;

	*sport = *dport = 0;
	if (off > cap_len)
		return -ENODATA;
	if (proto == IPPROTO_TCP) {
		ret = cx_tcp_decode(p + off, cap_len - off, &tcp);
		/*
		 * Malformed options: the receiver's stack may still take the
		 * segment, so it is audited by its ports, without sequence
		 * tracking, rather than let through unaudited.
		 */
		if (ret == -EBADMSG && cap_len - off >= 4) {
			*sport = cx_get_be16(p + off);
			*dport = cx_get_be16(p + off + 2);
			return 1;
		}
		if (ret < 0)
			return ret;
		*sport = tcp.sport;
		*dport = tcp.dport;
		out->flags |= CX_AUDIT_P_TCP;
		out->seq = tcp.seq;
		if ((size_t)ip_bytes > off + (size_t)tcp.hlen)
			out->payload_bytes = ip_bytes - (uint32_t)(off + tcp.hlen);
		if (tcp.flags & CX_TCP_F_SYN)
			out->flags |= CX_AUDIT_P_SYN;
		if (tcp.flags & CX_TCP_F_FIN)
			out->flags |= CX_AUDIT_P_FIN;
		if (tcp.flags & CX_TCP_F_RST)
			out->flags |= CX_AUDIT_P_RST;
		if (tcp.opt.present & CX_TCP_OPT_F_TS) {
			out->flags |= CX_AUDIT_P_TS;
			out->tsval = tcp.opt.tsval;
		}
		return 0;
	}
	if (proto == IPPROTO_UDP) {
		ret = cx_udp_decode_hdr(p + off, cap_len - off, &udp);
		if (ret < 0)
			return ret;
		*sport = udp.sport;
		*dport = udp.dport;
	}
	return 0;
}

static int parse_v4(const uint8_t *p, size_t cap_len, uint32_t pkt_len,
		    struct cx_audit_pkt *out)
{
	struct cx_ipv4id id;
	struct cx_ipv4 ip;
	uint16_t sport = 0, dport = 0;
	int ret;

	ret = cx_ipv4_decode_hdr(p, cap_len, &ip);
	if (ret < 0)
		return ret;
	ret = cx_ipv4id_decode(p, cap_len, &id);
	if (ret < 0)
		return ret;
	if (ip.ecn == CX_ECN_CE)
		out->flags |= CX_AUDIT_P_CE;
	if (id.state == CX_IPV4ID_CONEX) {
		/*
		 * RFC 7837 §4's multicast rule, applied to the IPv4 encoding
		 * too [project]: treated as if it carried no ConEx signal.
		 */
		if (cx_ipv4_is_multicast(&ip)) {
			out->flags |= CX_AUDIT_P_MCAST_CDO;
		} else {
			out->flags |= CX_AUDIT_P_CONEX;
			out->sig = id.bits;
		}
	} else if (id.state == CX_IPV4ID_ANOMALY) {
		out->flags |= CX_AUDIT_P_RF_NONATOMIC;
	}
	out->ip_bytes = pkt_len;
	ret = 0;
	/* A non-first fragment holds no transport header (docs/wire.md §2.5). */
	if (ip.frag_off_bytes != 0) {
		out->flags |= CX_AUDIT_P_FRAG;
	} else {
		ret = parse_l4(p, cap_len, (size_t)ip.ihl_bytes, ip.protocol,
			       pkt_len, &sport, &dport, out);
		if (ret < 0)
			return ret;
	}
	cx_flow_key_v4(&out->key, ip.saddr, ip.daddr, sport, dport, ip.protocol);
	memcpy(out->src, out->key.saddr, sizeof(out->src));
	return ret;
}

static int parse_v6(const uint8_t *p, size_t cap_len, uint32_t pkt_len,
		    struct cx_audit_pkt *out)
{
	struct cx_ipv6_chain ch;
	struct cx_cdo_hit hit;
	uint16_t sport = 0, dport = 0;
	uint8_t proto;
	int ret;

	ret = cx_ipv6_walk(p, cap_len, &ch);
	if (ret < 0)
		return ret == -E2BIG ? -EBADMSG : ret;
	if (ch.hdr.ecn == CX_ECN_CE)
		out->flags |= CX_AUDIT_P_CE;
	memset(&hit, 0, sizeof(hit));
	ret = cx_cdo_find(p, cap_len, &hit);
	if (ret == 0) {
		out->flags |= CX_AUDIT_P_CONEX;
		out->sig = hit.bits;
	} else if (ret == -ENOENT) {
		/* Found but ignored (RFC 7837 §4; docs/wire.md §2.5 [project]). */
		if (hit.flags & CX_CDO_F_MULTICAST)
			out->flags |= CX_AUDIT_P_MCAST_CDO;
		if (hit.flags & CX_CDO_F_FRAG_LATER)
			out->flags |= CX_AUDIT_P_FRAG;
	} else {
		return ret == -E2BIG ? -EBADMSG : ret;
	}
	if (ch.flags & CX_IPV6_F_FRAG_LATER)
		out->flags |= CX_AUDIT_P_FRAG;
	out->ip_bytes = pkt_len;
	proto = ch.upper_proto;
	ret = 0;
	if (ch.flags & CX_IPV6_F_FRAG_LATER) {
		proto = ch.frag_next_hdr;
	} else {
		ret = parse_l4(p, cap_len, ch.upper_off, proto, pkt_len, &sport,
			       &dport, out);
		if (ret < 0)
			return ret;
	}
	cx_flow_key_v6(&out->key, ch.hdr.saddr, ch.hdr.daddr, sport, dport, proto);
	memcpy(out->src, out->key.saddr, sizeof(out->src));
	return ret;
}

int cxd_pkt_parse(const uint8_t *p, size_t cap_len, uint32_t pkt_len,
		  struct cx_audit_pkt *out)
{
	memset(out, 0, sizeof(*out));
	if (cap_len < 1)
		return -ENODATA;
	if (pkt_len < cap_len)
		pkt_len = (uint32_t)cap_len;
	switch (p[0] >> 4) {
	case 4:
		return parse_v4(p, cap_len, pkt_len, out);
	case 6:
		return parse_v6(p, cap_len, pkt_len, out);
	default:
		return -EPROTONOSUPPORT;
	}
}
