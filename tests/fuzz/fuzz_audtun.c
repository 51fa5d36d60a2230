/*
 * conex-auditor's tunnel egress counting (auditor/tunnel.c): what comes
 * in from peer hosts' VXLAN tunnels, counted per peer and per inner source
 * guest, the feedback ticks that report it, and reloads that change the
 * peers.
 * Input: one byte of setup (bit 0: an IPv4 peer, bit 1: an IPv6 peer,
 * bit 2: a second IPv4 peer; bit 3: VXLAN port 8472), then records of 6
 * bytes and a payload: op (bits 0..1: 0, 1 a raw packet, 2 synthesised
 * VXLAN packets, 3 a feedback tick or a reload), an argument byte, time
 * step in ms (1 byte), extra packet length beyond the copy (2 bytes),
 * copy length, then that many bytes. A synthesised burst is argument + 1
 * IPv4-in-VXLAN packets from peer (payload[0] % 3) with inner sources
 * 10.(payload[1]).k/256.k%256 counting from payload[2..3], outer ECN
 * payload[4] & 3: enough to fill a peer's guest table.
 * Invariants, trapped after every operation:
 * - aud_tun_packet() returns one of its documented codes (0, -EPERM,
 *   -ENOENT, -ENODATA, -EBADMSG), and exactly the counter that code names
 *   moves: a packet counted is counted on the one peer its outer source
 *   names, by at most its length, CE bytes only with outer CE;
 * - per peer, its bytes (and CE bytes) are the sum of its guests' plus
 *   those of packets its full guest table could not hold; its guest table
 *   never exceeds AUD_TUN_GUESTS_MAX, holds each inner source once, and
 *   turns a guest away only when full;
 * - the stats add up: every packet is not VXLAN, malformed, from no
 *   peer, or one peer's;
 * - a tick sends each peer with guests one message per CX_FB_ENTRIES_MAX
 *   of them when due (sent or failed, its sequence number grows by each),
 *   and nothing before; the poll timeout never points past the due time;
 * - a reload keeps the counters and sequence numbers of the peers that
 *   stay (by host id) and starts new ones at zero.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <conex/byteorder.h>
#include <conex/ecn.h>
#include <conex/log.h>

#include "tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { REC = 6, OPS_MAX = 512, N_CFG_PEERS = 3, PKT_MAX = 255 + 64 };

#define T0_NS		(1000ULL * 1000 * 1000 * 1000)
#define NS_PER_MS	(1000ULL * 1000)

static void quiet(int level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	(void)arg;
}

static const struct {
	uint32_t id;
	int family;
	const char *addr;
} cand[N_CFG_PEERS] = {
	{ 1, AF_INET, "198.19.1.1" },
	{ 3, AF_INET6, "2001:db8:19::1" },
	{ 4, AF_INET, "198.19.1.4" },
};

/* The peers the bits of sel name, in candidate order. */
static void config(struct aud_config *c, uint8_t sel, uint16_t port)
{
	unsigned int i;

	memset(c, 0, sizeof(*c));
	c->host_id = 2;
	c->vxlan_port = port;
	c->feedback_interval_ns = 20 * NS_PER_MS;
	for (i = 0; i < N_CFG_PEERS; i++) {
		struct aud_peer *p;

		if (!(sel & (1U << i)))
			continue;
		p = &c->peers[c->n_peers++];
		p->host_id = cand[i].id;
		p->family = cand[i].family;
		p->port = 4790;
		memset(p->key, (int)cand[i].id, sizeof(p->key));
		if (inet_pton(p->family, cand[i].addr, p->addr) != 1)
			__builtin_trap();
	}
}

/* The harness's own account of what each peer's full table turned away. */
struct shadow {
	uint64_t full_bytes;
	uint64_t full_ce_bytes;
};

static struct aud_config cfgs[2];	/* the live one and the next */
static struct aud_tun t;
static struct shadow sh[N_CFG_PEERS];
static int null_fd = -1;

static uint64_t d64(uint64_t after, uint64_t before)
{
	if (after < before)
		__builtin_trap();
	return after - before;
}

static void check_tables(void)
{
	struct aud_tun_stats *s = &t.st;
	uint64_t sum = 0, gb, gce;
	unsigned int i;
	uint32_t j;

	for (i = 0; i < t.n_peers; i++) {
		const struct aud_tun_peer *p = &t.peers[i];

		if (p->n_guests > AUD_TUN_GUESTS_MAX ||
		    (p->guests_full && p->n_guests != AUD_TUN_GUESTS_MAX) ||
		    p->ce_bytes > p->bytes)
			__builtin_trap();
		gb = sh[i].full_bytes;
		gce = sh[i].full_ce_bytes;
		for (j = 0; j < p->n_guests; j++) {
			gb += p->guests[j].bytes;
			gce += p->guests[j].ce_bytes;
		}
		if (gb != p->bytes || gce != p->ce_bytes)
			__builtin_trap();
		sum += p->packets;
	}
	/* Reloads drop the peers that go: at most the packets seen. */
	if (s->not_vxlan + s->malformed + s->unknown_peer + sum > s->packets)
		__builtin_trap();
}

/* The outer source and ECN, as the packet's first bytes say. */
static bool outer_of(const uint8_t *q, size_t len, int *family,
		     uint8_t addr[16], uint8_t *ecn)
{
	memset(addr, 0, 16);
	if (len >= 20 && q[0] >> 4 == 4) {
		*family = AF_INET;
		memcpy(addr, q + 12, 4);
		*ecn = q[1] & 3;
		return true;
	}
	if (len >= 40 && q[0] >> 4 == 6) {
		*family = AF_INET6;
		memcpy(addr, q + 8, 16);
		*ecn = (uint8_t)((cx_get_be16(q) >> 4) & 3);
		return true;
	}
	return false;
}

/* A peer's counters, without its guest table. */
struct pcount {
	uint64_t packets, bytes, ce_bytes, guests_full;
	uint32_t n_guests;
};

static void packet(const uint8_t *q, size_t cap, uint32_t pkt_len)
{
	struct aud_tun_stats o = t.st;
	struct pcount before[N_CFG_PEERS];
	unsigned int i, moved = 0;
	uint8_t addr[16], ecn = 0;
	int ret, family = 0;
	uint32_t k;

	for (i = 0; i < t.n_peers; i++)
		before[i] = (struct pcount){ t.peers[i].packets, t.peers[i].bytes,
					     t.peers[i].ce_bytes,
					     t.peers[i].guests_full,
					     t.peers[i].n_guests };
	ret = aud_tun_packet(&t, q, cap, pkt_len);
	if (d64(t.st.packets, o.packets) != 1)
		__builtin_trap();
	if (d64(t.st.not_vxlan, o.not_vxlan) != (ret == -ENOENT) ||
	    d64(t.st.malformed, o.malformed) !=
	    (ret == -ENODATA || ret == -EBADMSG) ||
	    d64(t.st.unknown_peer, o.unknown_peer) != (ret == -EPERM))
		__builtin_trap();
	if (ret != 0 && ret != -ENOENT && ret != -ENODATA && ret != -EBADMSG &&
	    ret != -EPERM)
		__builtin_trap();
	for (i = 0; i < t.n_peers; i++) {
		struct aud_tun_peer *p = &t.peers[i];
		struct pcount *b = &before[i];
		uint64_t bytes = d64(p->bytes, b->bytes);
		uint64_t ce = d64(p->ce_bytes, b->ce_bytes);

		if (p->packets == b->packets) {
			if (bytes || ce || p->guests_full != b->guests_full ||
			    p->n_guests != b->n_guests)
				__builtin_trap();
			continue;
		}
		moved++;
		if (d64(p->packets, b->packets) != 1 || bytes > pkt_len ||
		    !outer_of(q, cap, &family, addr, &ecn) ||
		    family != p->cfg->family ||
		    memcmp(addr, p->cfg->addr, family == AF_INET ? 4 : 16) ||
		    (ce && (ecn != CX_ECN_CE || ce != bytes)) ||
		    (!ce && bytes && ecn == CX_ECN_CE) ||
		    d64(p->n_guests, b->n_guests) > 1)
			__builtin_trap();
		if (p->guests_full != b->guests_full) {
			if (d64(p->guests_full, b->guests_full) != 1 ||
			    b->n_guests != AUD_TUN_GUESTS_MAX)
				__builtin_trap();
			sh[i].full_bytes += bytes;
			sh[i].full_ce_bytes += ce;
		}
		/* A new guest is one the table did not hold. */
		for (k = 0; p->n_guests > b->n_guests && k < b->n_guests; k++)
			if (memcmp(p->guests[k].addr, p->guests[b->n_guests].addr,
				   CX_FB_ADDR_LEN) == 0)
				__builtin_trap();
	}
	if (moved != (ret == 0 ? 1U : 0U))
		__builtin_trap();
}

/* count + 1 IPv4-in-VXLAN packets from a peer, inner sources from base. */
static void burst(const uint8_t *arg, size_t len, unsigned int count)
{
	uint8_t pkt[20 + 8 + 8 + 14 + 20] = { 0 };
	const struct aud_peer *pc;
	uint16_t base;
	unsigned int k;

	if (len < 5 || cfgs[0].n_peers == 0)
		return;
	pc = &cfgs[0].peers[arg[0] % cfgs[0].n_peers];
	if (pc->family != AF_INET)
		return;
	pkt[0] = 0x45;
	pkt[1] = arg[4] & 3;
	cx_put_be16(pkt + 2, sizeof(pkt));
	pkt[8] = 64;
	pkt[9] = 17;
	memcpy(pkt + 12, pc->addr, 4);
	memcpy(pkt + 16, "\xc6\x13\x02\x02", 4);
	cx_put_be16(pkt + 20, 40000);
	cx_put_be16(pkt + 22, t.vxlan_port);
	cx_put_be16(pkt + 24, sizeof(pkt) - 20);
	pkt[28] = 0x08;			/* VXLAN: I flag */
	pkt[36 + 12] = 0x08;		/* inner ethertype IPv4 */
	pkt[36 + 14] = 0x45;
	pkt[36 + 14 + 12] = 10;
	pkt[36 + 14 + 13] = arg[1];
	base = cx_get_be16(arg + 2);
	for (k = 0; k <= count; k++) {
		cx_put_be16(pkt + 36 + 14 + 14, (uint16_t)(base + k));
		packet(pkt, sizeof(pkt), sizeof(pkt) + (arg[4] >> 2));
	}
}

static void tick(uint64_t now)
{
	struct aud_tun_peer before[N_CFG_PEERS];
	bool due = t.n_peers && now >= t.next_send_ns;
	uint64_t next = t.next_send_ns;
	unsigned int i;
	int ms;

	if (t.n_peers)
		memcpy(before, t.peers, t.n_peers * sizeof(before[0]));
	aud_tun_tick(&t, now);
	for (i = 0; i < t.n_peers; i++) {
		const struct aud_tun_peer *p = &t.peers[i], *b = &before[i];
		uint64_t want = due ? (b->n_guests + CX_FB_ENTRIES_MAX - 1) /
				      CX_FB_ENTRIES_MAX : 0;

		if (d64(p->fb_sent + p->fb_errors, b->fb_sent + b->fb_errors) !=
		    want || d64(p->seq, b->seq) != want ||
		    p->packets != b->packets || p->bytes != b->bytes)
			__builtin_trap();
	}
	if (due ? t.next_send_ns <= now : t.next_send_ns != next)
		__builtin_trap();
	/* The next send is ahead; the poll wakes for it, rounded up to a ms. */
	ms = aud_tun_timeout_ms(&t, now);
	if (t.n_peers == 0) {
		if (ms != -1)
			__builtin_trap();
		return;
	}
	if (ms < 0 || t.next_send_ns <= now ||
	    (uint64_t)ms * NS_PER_MS < t.next_send_ns - now ||
	    (uint64_t)ms * NS_PER_MS >= t.next_send_ns - now + NS_PER_MS ||
	    t.next_send_ns - now > t.interval_ns)
		__builtin_trap();
}

/* Reload to the peers sel names, the feedback interval from arg. */
static void reload(uint8_t sel, uint8_t arg, uint64_t now)
{
	struct aud_tun_peer before[N_CFG_PEERS], *next = NULL;
	struct shadow nsh[N_CFG_PEERS];
	unsigned int i, j, n_before = t.n_peers;
	uint32_t ids[N_CFG_PEERS];

	for (i = 0; i < n_before; i++) {
		before[i] = t.peers[i];
		ids[i] = t.peers[i].cfg->host_id;	/* cfgs[0] is replaced */
	}
	config(&cfgs[1], sel, t.vxlan_port);
	cfgs[1].feedback_interval_ns = (1 + arg % 50) * NS_PER_MS;
	if (aud_tun_reconfig_prepare(&t, &cfgs[1], &next) < 0)
		__builtin_trap();
	if ((next == NULL) != (cfgs[1].n_peers == 0))
		__builtin_trap();
	cfgs[0] = cfgs[1];
	aud_tun_reconfig_commit(&t, next, &cfgs[0], now);
	memset(nsh, 0, sizeof(nsh));
	for (i = 0; i < t.n_peers; i++) {
		const struct aud_tun_peer *p = &t.peers[i];

		if (p->cfg != &cfgs[0].peers[i])
			__builtin_trap();
		for (j = 0; j < n_before; j++)
			if (ids[j] == p->cfg->host_id)
				break;
		if (j < n_before) {
			if (p->packets != before[j].packets ||
			    p->bytes != before[j].bytes ||
			    p->seq != before[j].seq ||
			    p->n_guests != before[j].n_guests)
				__builtin_trap();
			nsh[i] = sh[j];
		} else if (p->packets || p->bytes || p->seq || p->n_guests) {
			__builtin_trap();
		}
	}
	memcpy(sh, nsh, sizeof(sh));
	if (t.interval_ns != cfgs[0].feedback_interval_ns)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t now = T0_NS;
	size_t off, cap;
	unsigned int n;
	uint8_t op, arg, *q;

	cx_log_set_sink(quiet, NULL);
	if (null_fd < 0) {
		/* Feedback "sent" here fails (not a socket): no traffic. */
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null_fd < 0)
			__builtin_trap();
	}
	if (size < 1)
		return 0;
	config(&cfgs[0], data[0] & 7, data[0] & 8 ? 8472 : 4789);
	memset(sh, 0, sizeof(sh));
	memset(&t, 0, sizeof(t));
	t.fd4 = t.fd6 = -1;
	t.host_id = cfgs[0].host_id;
	t.vxlan_port = cfgs[0].vxlan_port;
	t.epoch_ns = 1700000000ULL * 1000 * 1000 * 1000;
	t.interval_ns = cfgs[0].feedback_interval_ns;
	t.next_send_ns = now + t.interval_ns;
	if (cfgs[0].n_peers) {
		t.peers = calloc(cfgs[0].n_peers, sizeof(*t.peers));
		if (t.peers == NULL)
			return 0;
		t.n_peers = cfgs[0].n_peers;
		for (n = 0; n < t.n_peers; n++)
			t.peers[n].cfg = &cfgs[0].peers[n];
	}
	/* As aud_tun_init() leaves them, but not sockets that could send. */
	t.fd4 = t.fd6 = null_fd;
	off = 1;
	for (n = 0; n < OPS_MAX && REC <= size - off; n++) {
		op = data[off];
		arg = data[off + 1];
		now += (uint64_t)data[off + 2] * NS_PER_MS;
		cap = data[off + 5];
		off += REC;
		if (cap > size - off)
			cap = size - off;
		/* A copy of exactly cap bytes: ASan sees any over-read. */
		q = malloc(cap ? cap : 1);
		if (q == NULL)
			break;
		memcpy(q, data + off, cap);
		switch (op & 3) {
		case 0:
		case 1:
			packet(q, cap, (uint32_t)cap +
			       cx_get_be16(data + off - 3));
			break;
		case 2:
			burst(q, cap, arg);
			break;
		default:
			if (op & 4)
				reload((uint8_t)(op >> 3), arg, now);
			else
				tick(now);
			break;
		}
		free(q);
		off += cap;
		check_tables();
	}
	free(t.peers);
	t.peers = NULL;
	return 0;
}
