/*
 * Flow keys. Zeroing the whole key before filling it makes padding and the
 * unused bytes of IPv4 addresses deterministic, which memcmp equality and
 * the byte-wise hash rely on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <conex/byteorder.h>
#include <conex/flow.h>

static void put_v4_mapped(uint8_t dst[16], uint32_t addr)
{
	memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	cx_put_be32(dst + 12, addr);
}

void cx_flow_key_v4(struct cx_flow_key *k, uint32_t saddr, uint32_t daddr,
		    uint16_t sport, uint16_t dport, uint8_t proto)
{
	memset(k, 0, sizeof(*k));
	put_v4_mapped(k->saddr, saddr);
	put_v4_mapped(k->daddr, daddr);
	k->sport = sport;
	k->dport = dport;
	k->proto = proto;
	k->family = CX_FLOW_IPV4;
}

void cx_flow_key_v6(struct cx_flow_key *k, const uint8_t saddr[16],
		    const uint8_t daddr[16], uint16_t sport, uint16_t dport,
		    uint8_t proto)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->saddr, saddr, 16);
	memcpy(k->daddr, daddr, 16);
	k->sport = sport;
	k->dport = dport;
	k->proto = proto;
	k->family = CX_FLOW_IPV6;
}

void cx_flow_key_reverse(struct cx_flow_key *out,
			 const struct cx_flow_key *k)
{
	struct cx_flow_key r = *k;

	memcpy(r.saddr, k->daddr, 16);
	memcpy(r.daddr, k->saddr, 16);
	r.sport = k->dport;
	r.dport = k->sport;
	*out = r;
}

bool cx_flow_key_equal(const struct cx_flow_key *a,
		       const struct cx_flow_key *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

uint64_t cx_flow_key_hash(const struct cx_flow_key *k,
			  const struct cx_siphash_key *sk)
{
	return cx_siphash(sk, k, sizeof(*k));
}

static const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case 1:
		return "icmp";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 58:
		return "icmpv6";
	default:
		return NULL;
	}
}

int cx_flow_key_format(const struct cx_flow_key *k, char *buf, size_t len)
{
	char sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN], pr[16];
	const char *name = proto_name(k->proto);
	const char *lb = "", *rb = "";
	int n;

	if (!buf && len)
		return -EINVAL;
	if (k->family == CX_FLOW_IPV4) {
		if (!inet_ntop(AF_INET, k->saddr + 12, sa, sizeof(sa)) ||
		    !inet_ntop(AF_INET, k->daddr + 12, da, sizeof(da)))
			return -EINVAL;
	} else if (k->family == CX_FLOW_IPV6) {
		if (!inet_ntop(AF_INET6, k->saddr, sa, sizeof(sa)) ||
		    !inet_ntop(AF_INET6, k->daddr, da, sizeof(da)))
			return -EINVAL;
		lb = "[";
		rb = "]";
	} else {
		return -EINVAL;
	}
	if (name)
		snprintf(pr, sizeof(pr), "%s", name);
	else
		snprintf(pr, sizeof(pr), "proto %u", k->proto);
	if (!len)
		return -ENOSPC;
	n = snprintf(buf, len, "%s %s%s%s:%u > %s%s%s:%u", pr, lb, sa, rb,
		     k->sport, lb, da, rb, k->dport);
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return -ENOSPC;
	}
	return n;
}
