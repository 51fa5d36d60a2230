/*
 * conex-auditor's verdict per packet (auditor/datapath.c) on arbitrary
 * bytes, a fuzzed hook, input and output interface and clock, through the
 * real parser (common/pkt.c), audit (libconex/audit.c) and tunnel
 * counting (auditor/tunnel.c).
 * Input: one byte of setup (bit 0: peers configured; bits 1..2: audit
 * table sizes), then records of 6 bytes and a packet: control (bits 0..1
 * hook, 2..4 input interface, 5..7 output interface), time step in us (2
 * bytes), extra packet length beyond the copy (2 bytes), copy length,
 * then that many bytes.
 * Invariants, trapped after every packet:
 * - the verdict is NF_ACCEPT or NF_DROP, and no mark is ever set;
 * - a packet is exactly one of: another hook (accepted), tunnel traffic
 *   (INPUT: counted by the tunnel), decapsulated by the tunnel device
 *   (accepted unaudited), unreadable (dropped), or audited; the daemon's
 *   counters and the audit's add up to the calls;
 * - INPUT: dropped exactly when the tunnel refuses it (not from a peer,
 *   or malformed); a packet not from a configured peer is never
 *   accepted as tunnel traffic, and one counted is counted on the peer
 *   its outer source names; not VXLAN passes to the host's stack;
 * - FORWARD: a packet the parser cannot read (as cxd_pkt_parse says of
 *   the same bytes) is dropped, never passed, and the audit never sees
 *   it; one it can read is audited exactly once, dropped exactly when
 *   the audit dropped it; an output interface that is no guest's is
 *   counted as such;
 * - the audit's own counters add up (as fuzz_audit checks), and sanction
 *   logs never outnumber sanctions started.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <conex/byteorder.h>
#include <conex/log.h>

#include "auditor.h"
#include "common/pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { REC = 6, RECORDS_MAX = 256, N_PEERS = 2 };

#define T0_NS		(1000ULL * 1000 * 1000 * 1000)
#define TUN_IFINDEX	50U

static uint64_t clock_ns;

uint64_t aud_now_ns(void)
{
	return clock_ns;
}

static void quiet(int level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	(void)arg;
}

/* Guests g1 (ifindex 11), g2 (12); g3's interface is absent (0). */
static const uint32_t guest_ifindex[] = { 11, 12, 0 };
/* Interface choices: the guests, the tunnel device, none, unknown. */
static const uint32_t ifaces[] = { 11, 12, TUN_IFINDEX, 0, 99, 11, 12, 0 };

static void peer(struct aud_config *c, uint32_t id, int family, const char *a)
{
	struct aud_peer *p = &c->peers[c->n_peers++];

	memset(p, 0, sizeof(*p));
	p->host_id = id;
	p->family = family;
	p->port = 4790;
	memset(p->key, (int)id, sizeof(p->key));
	if (inet_pton(family, a, p->addr) != 1)
		__builtin_trap();
}

static struct aud_tun_peer peers[N_PEERS];

static void setup(struct auditor *a, uint8_t ctl)
{
	static const struct cx_siphash_key sk = { 0x3333, 0x4444 };
	static const uint32_t flows[] = { 1, 4, 16, 64 };
	struct aud_config *c = &a->cfg;
	unsigned int i;

	memset(a, 0, sizeof(*a));
	c->n_guests = 3;
	for (i = 0; i < c->n_guests; i++) {
		c->guests[i].ifname[0] = 'g';
		c->guests[i].ifname[1] = (char)('1' + i);
		c->guests[i].tenant[0] = (char)('a' + i);
		a->guest_ifindex[i] = guest_ifindex[i];
	}
	c->vxlan_port = 4789;
	c->host_id = 2;
	c->feedback_interval_ns = 20 * 1000 * 1000;
	if (ctl & 1) {
		peer(c, 1, AF_INET, "198.19.1.1");
		peer(c, 3, AF_INET6, "2001:db8:19::1");
	}
	cx_audit_cfg_default(&c->audit);
	c->audit.flow_capacity = flows[(ctl >> 1) & 3];
	c->audit.source_capacity = 1 + ((ctl >> 1) & 3);
	c->audit.sketch_buckets = 16;
	c->audit.sanction_scale_bytes = 8 * 1024;
	a->tun_ifindex = TUN_IFINDEX;
	a->audit = cx_audit_new(&c->audit, &sk);
	if (a->audit == NULL)
		__builtin_trap();
	/* The tunnel as aud_tun_init() leaves it, without its sockets. */
	a->tun.fd4 = a->tun.fd6 = -1;
	a->tun.host_id = c->host_id;
	a->tun.vxlan_port = c->vxlan_port;
	a->tun.interval_ns = c->feedback_interval_ns;
	a->tun.next_send_ns = T0_NS + a->tun.interval_ns;
	memset(peers, 0, sizeof(peers));
	for (i = 0; i < c->n_peers; i++)
		peers[i].cfg = &c->peers[i];
	a->tun.peers = peers;
	a->tun.n_peers = c->n_peers;
	a->rand_state = 0x9e3779b97f4a7c15ULL;
	if (cx_log_ratelimit_init(&a->sanction_rl, 5, 10ULL * 1000 * 1000 * 1000,
				  T0_NS) < 0)
		__builtin_trap();
}

static uint64_t d64(uint64_t after, uint64_t before)
{
	if (after < before)
		__builtin_trap();
	return after - before;
}

static bool is_guest(uint32_t ifindex)
{
	unsigned int i;

	for (i = 0; i < sizeof(guest_ifindex) / sizeof(guest_ifindex[0]); i++)
		if (ifindex != 0 && guest_ifindex[i] == ifindex)
			return true;
	return false;
}

/* What one call may change. */
struct snap {
	struct aud_dp_stats st;
	struct aud_tun_stats tun;
	struct aud_tun_peer peers[N_PEERS];
	struct cx_audit_counters c;
};

static void take(const struct auditor *a, struct snap *s)
{
	s->st = a->st;
	s->tun = a->tun.st;
	memcpy(s->peers, peers, sizeof(s->peers));
	cx_audit_counters(a->audit, &s->c);
}

static void check_audit(const struct cx_audit_counters *c)
{
	if (c->passed + c->dropped != c->packets ||
	    c->not_conex + c->conex_not_marked + c->conex_marked != c->packets ||
	    c->flow_packets + c->agg_packets != c->packets ||
	    c->flow_drops + c->source_drops + c->agg_drops != c->dropped ||
	    c->flows_created - c->flows_ended - c->flows_evicted != c->flows_live)
		__builtin_trap();
}

/* The peer whose counters moved, if one did: it is the outer source's. */
static void check_peer(const struct auditor *a, const struct snap *o,
		       const struct cxd_nfq_pkt *p, bool counted)
{
	unsigned int i, moved = 0;

	for (i = 0; i < a->tun.n_peers; i++) {
		const struct aud_tun_peer *n = &peers[i], *b = &o->peers[i];
		const struct aud_peer *c = n->cfg;
		uint64_t bytes = d64(n->bytes, b->bytes);

		if (n->packets == b->packets) {
			if (bytes || n->ce_bytes != b->ce_bytes ||
			    n->n_guests != b->n_guests)
				__builtin_trap();
			continue;
		}
		moved++;
		if (d64(n->packets, b->packets) != 1 || bytes > p->pkt_len ||
		    d64(n->ce_bytes, b->ce_bytes) > bytes ||
		    n->n_guests > AUD_TUN_GUESTS_MAX)
			__builtin_trap();
		if (c->family == AF_INET ?
		    p->cap_len < 20 || p->data[0] >> 4 != 4 ||
		    memcmp(p->data + 12, c->addr, 4) != 0 :
		    p->cap_len < 40 || p->data[0] >> 4 != 6 ||
		    memcmp(p->data + 8, c->addr, 16) != 0)
			__builtin_trap();
	}
	if (moved != (counted ? 1U : 0U))
		__builtin_trap();
}

static void check(const struct auditor *a, const struct snap *o,
		  const struct cxd_nfq_pkt *p, const struct cxd_nfq_mark *m,
		  unsigned int v, int parsed, uint64_t calls)
{
	const struct aud_dp_stats *s = &a->st, *os = &o->st;
	const struct aud_tun_stats *t = &a->tun.st, *ot = &o->tun;
	struct snap n;
	uint64_t audited = d64(s->audited, os->audited);
	uint64_t perr = d64(s->parse_errors, os->parse_errors);
	uint64_t refused = d64(s->tunnel_refused, os->tunnel_refused);
	uint64_t hook = d64(s->other_hook, os->other_hook);
	uint64_t inner = d64(s->tunnel_inner, os->tunnel_inner);
	uint64_t unk = d64(s->unknown_outdev, os->unknown_outdev);
	uint64_t tmal = d64(s->tcp_malformed, os->tcp_malformed);
	uint64_t tpk = d64(t->packets, ot->packets);
	uint64_t tunknown = d64(t->unknown_peer, ot->unknown_peer);
	uint64_t tnot = d64(t->not_vxlan, ot->not_vxlan);
	uint64_t tmalformed = d64(t->malformed, ot->malformed);
	uint64_t apk;

	take(a, &n);
	apk = d64(n.c.packets, o->c.packets);
	if (v != NF_ACCEPT && v != NF_DROP)
		__builtin_trap();
	if (m->set)
		__builtin_trap();
	if (audited + perr + hook + inner + tpk != 1)
		__builtin_trap();
	if (s->audited + s->parse_errors + s->other_hook + s->tunnel_inner +
	    t->packets != calls || s->audited != n.c.packets)
		__builtin_trap();
	check_audit(&n.c);
	if (s->sanction_logs > n.c.sanction_starts + n.c.agg_sanction_starts)
		__builtin_trap();
	if (p->hook == NF_INET_LOCAL_IN) {
		bool counted = tunknown + tnot + tmalformed == 0;

		if (tpk != 1 || apk || unk || tmal ||
		    tunknown + tnot + tmalformed > 1)
			__builtin_trap();
		if ((v == NF_DROP) != (refused == 1) ||
		    refused != tunknown + tmalformed)
			__builtin_trap();
		check_peer(a, o, p, counted);
		return;
	}
	if (tpk || refused)
		__builtin_trap();
	check_peer(a, o, p, false);
	if (p->hook != NF_INET_FORWARD) {
		if (hook != 1 || v != NF_ACCEPT || apk || unk)
			__builtin_trap();
		return;
	}
	if (p->indev == TUN_IFINDEX) {
		if (inner != 1 || v != NF_ACCEPT || apk || unk)
			__builtin_trap();
		return;
	}
	if (unk != !is_guest(p->outdev))
		__builtin_trap();
	if (parsed < 0) {
		if (perr != 1 || v != NF_DROP || apk || tmal)
			__builtin_trap();
		return;
	}
	if (audited != 1 || apk != 1 || tmal != (parsed == 1))
		__builtin_trap();
	if ((v == NF_DROP) != (n.c.dropped != o->c.dropped))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t hooks[] = {
		NF_INET_FORWARD, NF_INET_LOCAL_IN, NF_INET_PRE_ROUTING,
		NF_INET_POST_ROUTING,
	};
	static struct auditor a;
	struct cx_audit_pkt ap;
	struct cxd_nfq_mark m;
	struct cxd_nfq_pkt p;
	struct snap old;
	uint64_t calls = 0;
	size_t off, cap;
	unsigned int n, v;
	uint8_t ctl, *q;
	int parsed;

	cx_log_set_sink(quiet, NULL);
	if (size < 1)
		return 0;
	setup(&a, data[0]);
	clock_ns = T0_NS;
	off = 1;
	for (n = 0; n < RECORDS_MAX && REC <= size - off; n++) {
		ctl = data[off];
		clock_ns += (uint64_t)cx_get_be16(data + off + 1) * 1000;
		memset(&p, 0, sizeof(p));
		p.hook = hooks[ctl & 3];
		p.indev = ifaces[(ctl >> 2) & 7];
		p.outdev = ifaces[(ctl >> 5) & 7];
		p.id = n;
		cap = data[off + 5];
		p.pkt_len = (uint32_t)cap + cx_get_be16(data + off + 3);
		off += REC;
		if (cap > size - off)
			cap = size - off;
		/* A copy of exactly cap bytes: ASan sees any over-read. */
		q = malloc(cap ? cap : 1);
		if (q == NULL)
			break;
		memcpy(q, data + off, cap);
		off += cap;
		p.data = q;
		p.cap_len = cap;
		parsed = cxd_pkt_parse(q, cap, p.pkt_len, &ap);
		take(&a, &old);
		m.set = false;
		m.value = 0;
		v = aud_dp_packet(&a, &p, &m);
		calls++;
		check(&a, &old, &p, &m, v, parsed, calls);
		free(q);
	}
	cx_audit_free(a.audit);
	a.audit = NULL;
	return 0;
}
