/*
 * VXLAN tunnel egress counting and feedback. Packets are counted before
 * the VXLAN device decapsulates them (the NFQUEUE rule sits in INPUT, the
 * device's UDP socket comes after), because RFC 6040 decapsulation turns
 * outer CE over a Not-ECT inner packet into a drop and over an ECT inner
 * packet into inner CE: counting later would miss the first.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <conex/byteorder.h>
#include <conex/ecn.h>
#include <conex/ipv4.h>
#include <conex/ipv6.h>
#include <conex/log.h>
#include <conex/udp.h>
#include <conex/vxlan.h>

#include "tunnel.h"

#define ETH_HLEN_BYTES		14
#define ETHERTYPE_IPV4		0x0800
#define ETHERTYPE_IPV6		0x86dd
#define NS_PER_MS		1000000ULL

int aud_tun_init(struct aud_tun *t, const struct aud_config *c,
		 uint64_t epoch_ns, uint64_t now_ns)
{
	unsigned int i;

	memset(t, 0, sizeof(*t));
	t->fd4 = -1;
	t->fd6 = -1;
	t->host_id = c->host_id;
	t->vxlan_port = c->vxlan_port;
	t->epoch_ns = epoch_ns;
	t->interval_ns = c->feedback_interval_ns;
	t->next_send_ns = now_ns + t->interval_ns;
	if (c->n_peers == 0)
		return 0;
	t->peers = calloc(c->n_peers, sizeof(*t->peers));
	if (t->peers == NULL)
		return -ENOMEM;
	t->n_peers = c->n_peers;
	for (i = 0; i < c->n_peers; i++) {
		int *fd = c->peers[i].family == AF_INET ? &t->fd4 : &t->fd6;

		t->peers[i].cfg = &c->peers[i];
		if (*fd >= 0)
			continue;
		*fd = socket(c->peers[i].family, SOCK_DGRAM | SOCK_NONBLOCK |
			     SOCK_CLOEXEC, 0);
		if (*fd < 0)
			return -errno;
	}
	return 0;
}

void aud_tun_fini(struct aud_tun *t)
{
	if (t->fd4 >= 0)
		close(t->fd4);
	if (t->fd6 >= 0)
		close(t->fd6);
	t->fd4 = t->fd6 = -1;
	free(t->peers);
	t->peers = NULL;
	t->n_peers = 0;
}

static struct aud_tun_peer *peer_find(struct aud_tun *t, int family,
				      const uint8_t *addr)
{
	size_t alen = family == AF_INET ? 4 : 16;
	unsigned int i;

	for (i = 0; i < t->n_peers; i++) {
		const struct aud_peer *c = t->peers[i].cfg;

		if (c->family == family && memcmp(c->addr, addr, alen) == 0)
			return &t->peers[i];
	}
	return NULL;
}

/*
 * The guest slot for addr, created on first sight; NULL when the table is
 * full. Linear: a sending host has tens of guests, and a packet's guest is
 * usually the previous packet's.
 */
static struct aud_tun_guest *guest_find(struct aud_tun_peer *p,
					const uint8_t addr[CX_FB_ADDR_LEN])
{
	uint32_t i;

	for (i = 0; i < p->n_guests; i++)
		if (memcmp(p->guests[i].addr, addr, CX_FB_ADDR_LEN) == 0)
			return &p->guests[i];
	if (p->n_guests >= AUD_TUN_GUESTS_MAX)
		return NULL;
	memcpy(p->guests[p->n_guests].addr, addr, CX_FB_ADDR_LEN);
	return &p->guests[p->n_guests++];
}

/* Outer header: family, source, ECN, and where the UDP header starts. */
static int outer_decode(const uint8_t *p, size_t len, int *family,
			uint8_t saddr[16], uint8_t *ecn, size_t *udp_off)
{
	struct cx_ipv6_chain ch;
	struct cx_ipv4 ip4;
	int ret;

	if (len < 1)
		return -ENODATA;
	if (p[0] >> 4 == 4) {
		ret = cx_ipv4_decode_hdr(p, len, &ip4);
		if (ret < 0)
			return ret;
		/* A non-first fragment has no UDP header to read. */
		if (ip4.protocol != IPPROTO_UDP || ip4.frag_off_bytes != 0)
			return -ENOENT;
		*family = AF_INET;
		cx_put_be32(saddr, ip4.saddr);
		*ecn = ip4.ecn;
		*udp_off = (size_t)ret;
		return 0;
	}
	ret = cx_ipv6_walk(p, len, &ch);
	if (ret < 0)	/* a chain past the walk's limits is malformed here */
		return ret == -E2BIG ? -EBADMSG : ret;
	if (ch.upper_proto != IPPROTO_UDP)
		return -ENOENT;
	*family = AF_INET6;
	memcpy(saddr, ch.hdr.saddr, 16);
	*ecn = ch.hdr.ecn;
	*udp_off = ch.upper_off;
	return 0;
}

/* Inner source guest as a feedback address, and the inner IP offset. */
static int inner_decode(const uint8_t *p, size_t len, size_t off,
			uint8_t guest[CX_FB_ADDR_LEN])
{
	uint16_t etype;

	if (ETH_HLEN_BYTES > len - off)
		return -ENODATA;
	etype = cx_get_be16(p + off + 12);
	off += ETH_HLEN_BYTES;
	memset(guest, 0, CX_FB_ADDR_LEN);
	if (etype == ETHERTYPE_IPV4) {
		/* Version/IHL .. source address: 16 bytes. */
		if (16 > len - off)
			return -ENODATA;
		if (p[off] >> 4 != 4)
			return -EBADMSG;
		guest[10] = 0xff;
		guest[11] = 0xff;
		memcpy(guest + 12, p + off + 12, 4);
		return (int)off;
	}
	if (etype == ETHERTYPE_IPV6) {
		if (24 > len - off)
			return -ENODATA;
		if (p[off] >> 4 != 6)
			return -EBADMSG;
		memcpy(guest, p + off + 8, 16);
		return (int)off;
	}
	/* ARP and the like: no guest IP traffic to report. */
	return -ENOENT;
}

int aud_tun_packet(struct aud_tun *t, const uint8_t *p, size_t cap_len,
		   uint32_t pkt_len)
{
	uint8_t saddr[16] = { 0 }, guest[CX_FB_ADDR_LEN], ecn = 0;
	struct aud_tun_peer *peer;
	struct aud_tun_guest *g;
	struct cx_vxlan vx;
	struct cx_udp udp;
	size_t off = 0;
	uint64_t bytes;
	int family = 0, ret;

	t->st.packets++;
	ret = outer_decode(p, cap_len, &family, saddr, &ecn, &off);
	if (ret == 0)
		ret = cx_udp_decode_hdr(p + off, cap_len - off, &udp);
	if (ret >= 0 && udp.dport != t->vxlan_port)
		ret = -ENOENT;
	if (ret >= 0) {
		off += CX_UDP_HLEN;
		ret = cx_vxlan_decode(p + off, cap_len - off, &vx);
	}
	if (ret >= 0)
		ret = inner_decode(p, cap_len, off + CX_VXLAN_HLEN, guest);
	if (ret < 0) {
		if (ret == -ENOENT)
			t->st.not_vxlan++;
		else
			t->st.malformed++;
		return ret;
	}
	off = (size_t)ret;
	peer = peer_find(t, family, saddr);
	if (peer == NULL) {
		t->st.unknown_peer++;
		return -EPERM;
	}
	/*
	 * Inner IP bytes: the packet less its outer headers. A GRO-merged
	 * packet (same outer ECN throughout: GRO does not merge across a TOS
	 * change) counts its inner headers once, a small under-count.
	 */
	bytes = pkt_len > off ? pkt_len - off : 0;
	peer->packets++;
	peer->bytes += bytes;
	if (ecn == CX_ECN_CE)
		peer->ce_bytes += bytes;
	g = guest_find(peer, guest);
	if (g == NULL) {
		peer->guests_full++;
		return 0;
	}
	g->bytes += bytes;
	if (ecn == CX_ECN_CE)
		g->ce_bytes += bytes;
	return 0;
}

static int send_to_peer(struct aud_tun *t, struct aud_tun_peer *p,
			const uint8_t *msg, size_t len)
{
	const struct aud_peer *c = p->cfg;
	struct sockaddr_in6 sin6;
	struct sockaddr_in sin;

	if (c->family == AF_INET) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(c->port);
		memcpy(&sin.sin_addr, c->addr, 4);
		return sendto(t->fd4, msg, len, 0, (struct sockaddr *)&sin,
			      sizeof(sin)) < 0 ? -errno : 0;
	}
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(c->port);
	memcpy(&sin6.sin6_addr, c->addr, 16);
	return sendto(t->fd6, msg, len, 0, (struct sockaddr *)&sin6,
		      sizeof(sin6)) < 0 ? -errno : 0;
}

/* All of one peer's guests, CX_FB_ENTRIES_MAX per message. */
static void peer_send(struct aud_tun *t, struct aud_tun_peer *p)
{
	struct cx_fb_entry ent[CX_FB_ENTRIES_MAX];
	uint8_t buf[CX_FB_MSG_MAX];
	struct cx_fb_msg m;
	uint32_t first, i, n;
	int len, ret;

	for (first = 0; first < p->n_guests; first += n) {
		n = p->n_guests - first;
		if (n > CX_FB_ENTRIES_MAX)
			n = CX_FB_ENTRIES_MAX;
		memset(ent, 0, sizeof(ent));
		for (i = 0; i < n; i++) {
			const struct aud_tun_guest *g = &p->guests[first + i];

			memcpy(ent[i].guest, g->addr, CX_FB_ADDR_LEN);
			ent[i].bytes = g->bytes;
			ent[i].ce_bytes = g->ce_bytes;
		}
		memset(&m, 0, sizeof(m));
		m.reporter_id = t->host_id;
		m.sender_id = p->cfg->host_id;
		m.epoch_ns = t->epoch_ns;
		m.seq = p->seq++;
		m.interval_ms = (uint32_t)(t->interval_ns / NS_PER_MS);
		m.n_entries = (uint16_t)n;
		m.entries = ent;
		len = cx_fb_encode(&m, p->cfg->key, buf, sizeof(buf));
		ret = len < 0 ? len : send_to_peer(t, p, buf, (size_t)len);
		if (ret < 0) {
			p->fb_errors++;
			continue;
		}
		p->fb_sent++;
	}
}

void aud_tun_tick(struct aud_tun *t, uint64_t now_ns)
{
	unsigned int i;

	if (t->n_peers == 0 || now_ns < t->next_send_ns)
		return;
	/* On schedule, without bursts after a stall. */
	t->next_send_ns += t->interval_ns;
	if (t->next_send_ns <= now_ns)
		t->next_send_ns = now_ns + t->interval_ns;
	for (i = 0; i < t->n_peers; i++)
		if (t->peers[i].n_guests > 0)
			peer_send(t, &t->peers[i]);
}

int aud_tun_timeout_ms(const struct aud_tun *t, uint64_t now_ns)
{
	uint64_t left;

	if (t->n_peers == 0)
		return -1;
	if (now_ns >= t->next_send_ns)
		return 0;
	left = t->next_send_ns - now_ns;
	return (int)((left + NS_PER_MS - 1) / NS_PER_MS);
}

/*
 * Reload, first half: the peer table for next, nothing of t's committed.
 * A peer that stays (same host id) keeps its counters, its guests and
 * above all its sequence number: its policer refuses a sequence that goes
 * back as a replay (conex/feedback.h), whatever the key. A family that had
 * no peer before gets its socket here, so that commit cannot fail.
 */
int aud_tun_reconfig_prepare(struct aud_tun *t, const struct aud_config *next,
			     struct aud_tun_peer **out)
{
	struct aud_tun_peer *peers = NULL;
	unsigned int i, j;
	int *fd;

	*out = NULL;
	if (next->n_peers > AUD_PEERS_MAX)
		return -EINVAL;
	for (i = 0; i < next->n_peers; i++) {
		fd = next->peers[i].family == AF_INET ? &t->fd4 : &t->fd6;
		if (*fd >= 0)
			continue;
		*fd = socket(next->peers[i].family, SOCK_DGRAM | SOCK_NONBLOCK |
			     SOCK_CLOEXEC, 0);
		if (*fd < 0)
			return -errno;
	}
	if (next->n_peers == 0)
		return 0;
	peers = calloc(next->n_peers, sizeof(*peers));
	if (peers == NULL)
		return -ENOMEM;
	for (i = 0; i < next->n_peers; i++) {
		for (j = 0; j < t->n_peers; j++) {
			if (t->peers[j].cfg->host_id == next->peers[i].host_id) {
				peers[i] = t->peers[j];
				break;
			}
		}
		peers[i].cfg = NULL;	/* set by commit, into the live config */
	}
	*out = peers;
	return 0;
}

/*
 * Second half: peers (from prepare, n of them, taken over) point into c,
 * the configuration now live, index for index.
 */
void aud_tun_reconfig_commit(struct aud_tun *t, struct aud_tun_peer *peers,
			     const struct aud_config *c, uint64_t now_ns)
{
	unsigned int i;

	free(t->peers);
	t->peers = peers;
	t->n_peers = c->n_peers;
	for (i = 0; i < c->n_peers; i++)
		t->peers[i].cfg = &c->peers[i];
	/* A shorter interval applies from now, not after one more old one. */
	if (c->feedback_interval_ns < t->interval_ns &&
	    t->next_send_ns > now_ns + c->feedback_interval_ns)
		t->next_send_ns = now_ns + c->feedback_interval_ns;
	t->interval_ns = c->feedback_interval_ns;
}
