/*
 * conex-policer's verdict per packet (policer/datapath.c) on arbitrary
 * bytes, a fuzzed interface, kernel mark guess, hook and clock.
 * Input: one byte of setup (bit 0: tunnel configured), then records of
 * 6 bytes and a packet: control, time step in us (2 bytes), extra packet
 * length beyond the copy (2 bytes), copy length, then that many bytes.
 * Invariants, trapped after every packet:
 * - the verdict is NF_ACCEPT or NF_DROP;
 * - a packet is exactly one of: another hook, unknown interface, or one
 *   packet of the interface's tenant; no other tenant changes at all;
 * - a parse error (as cxd_pkt_parse says of the same bytes) of a guest's
 *   packet is dropped and counted as unreadable on its tenant, by the
 *   queued length, bucket untouched: never passed;
 * - a packet to the underlay or a protected prefix is dropped, bucket
 *   untouched;
 * - a drop reaches a tenant and increments exactly one drop counter, by
 *   the packet's bytes, and sets no mark; a police drop is one the
 *   tenant's cx_police counted, a spoof drop never consults it;
 * - a mark is set only with a tunnel, only to 0 or the tunnel mark within
 *   the mask (the other bits kept), only when it changes the kernel's
 *   guess, only for a destination in a `remote` prefix, and each counts
 *   one mark fix; only such packets are tunnelled;
 * - a passed packet is ConEx, tunnelled or neither, never both; ConEx and
 *   flag counters move by the packet's bytes or not at all;
 * - each tenant's packets counter equals the calls that reached it; its
 *   bucket stays within [-burst, burst].
 */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <conex/byteorder.h>
#include <conex/log.h>
#include <conex/police.h>

#include "common/pkt.h"
#include "policer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { REC = 6, RECORDS_MAX = 256, N_TENANTS = 3 };

#define MARK		0x51U
#define OTHER_MARK	0x77U
#define T0_NS		(1000ULL * 1000 * 1000 * 1000)

static uint64_t clock_ns;

uint64_t pol_now_ns(void)
{
	return clock_ns;
}

static void quiet(int level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	(void)arg;
}

static void prefix(struct pol_prefix *px, int family, const char *a,
		   uint8_t len)
{
	memset(px, 0, sizeof(*px));
	px->family = family;
	px->len = len;
	if (inet_pton(family, a, px->addr) != 1)
		__builtin_trap();
}

static void guest(struct pol_config *c, const char *ifname, unsigned int tenant,
		  const char *a4, uint8_t len4, const char *a6)
{
	struct pol_guest *g = &c->guests[c->n_guests++];

	memcpy(g->ifname, ifname, strlen(ifname) + 1);
	g->tenant = tenant;
	prefix(&g->addrs[g->n_addrs++], AF_INET, a4, len4);
	if (a6)
		prefix(&g->addrs[g->n_addrs++], AF_INET6, a6, 128);
}

/*
 * Three tenants: t0 with two guests, t1, and t2 with a small bucket
 * (80 kbit/s, 3000 bytes, 1 ms ramp) that fuzzed marks empty quickly.
 * Guest 3's interface is absent (index 0).
 */
static const uint32_t ifindex[] = { 11, 12, 21, 0, 31 };

static void setup(struct policer *pl)
{
	struct pol_config *c = &pl->cfg;
	struct cx_police_cfg pc;
	unsigned int i;

	memset(pl, 0, sizeof(*pl));
	pol_config_init(c);
	for (i = 0; i < N_TENANTS; i++) {
		c->tenants[i].name[0] = (char)('a' + i);
		cx_police_cfg_default(&c->tenants[i].police);
	}
	c->tenants[2].police.allowance_bps = 80000;
	c->tenants[2].police.burst_bytes = 3000;
	c->tenants[2].police.ramp_ns = 1000 * 1000;
	c->n_tenants = N_TENANTS;
	guest(c, "g0", 0, "198.18.1.11", 32, "2001:2:0:1::11");
	guest(c, "g1", 0, "198.18.1.16", 28, NULL);
	guest(c, "g2", 1, "198.18.1.21", 32, "2001:2:0:1::21");
	guest(c, "g3", 1, "198.18.1.99", 32, NULL);
	guest(c, "g4", 2, "198.18.1.31", 32, "2001:2:0:1::31");
	c->host_id = 1;
	c->local_family = AF_INET;
	inet_pton(AF_INET, "198.19.1.1", c->local_addr);
	c->peers[0].host_id = 2;
	c->peers[0].family = AF_INET;
	inet_pton(AF_INET, "198.19.2.2", c->peers[0].addr);
	c->n_peers = 1;
	prefix(&c->remotes[0].prefix, AF_INET, "198.18.2.0", 24);
	prefix(&c->remotes[1].prefix, AF_INET6, "2001:2:0:2::", 64);
	c->n_remotes = 2;
	prefix(&c->protect[0], AF_INET, "198.19.200.0", 24);
	prefix(&c->protect[1], AF_INET6, "2001:2:0:ff::", 64);
	c->n_protect = 2;
	c->mark = MARK;
	for (i = 0; i < c->n_guests; i++)
		pl->guest_ifindex[i] = ifindex[i];
	pl->mode = CX_POLICE_LOCAL;
	for (i = 0; i < N_TENANTS; i++) {
		pc = c->tenants[i].police;
		pc.share_ppm = c->bank_share_ppm;
		if (cx_police_init(&pl->tenants[i].pol, &pc, pl->mode, T0_NS) < 0)
			__builtin_trap();
	}
	pl->fb_fd = -1;
	pl->rand_state = 0x9e3779b97f4a7c15ULL;
	if (cx_log_ratelimit_init(&pl->spoof_rl, 5, 10ULL * 1000 * 1000 * 1000,
				  T0_NS) < 0)
		__builtin_trap();
}

/* Is the parsed destination in a `remote` prefix? */
static bool to_remote(const struct policer *pl, const struct cx_audit_pkt *ap)
{
	if (ap->key.family == CX_FLOW_IPV4)
		return pol_config_remote(&pl->cfg, AF_INET, ap->key.daddr + 12);
	return pol_config_remote(&pl->cfg, AF_INET6, ap->key.daddr);
}

/* The tenant of an interface index as the config says, or -1. */
static int tenant_of(const struct policer *pl, uint32_t indev)
{
	unsigned int i;

	for (i = 0; i < pl->cfg.n_guests; i++)
		if (indev != 0 && pl->guest_ifindex[i] == indev)
			return (int)pl->cfg.guests[i].tenant;
	return -1;
}

/* What a call may change: the daemon's counters and the tenants. */
struct snap {
	struct pol_stats st;
	struct pol_tenant_rt tenants[N_TENANTS];
};

static uint64_t d64(uint64_t after, uint64_t before)
{
	if (after < before)
		__builtin_trap();
	return after - before;
}

static bool protected_dst(const struct policer *pl, const struct cx_audit_pkt *ap)
{
	if (ap->key.family == CX_FLOW_IPV4)
		return pol_config_protected(&pl->cfg, AF_INET, ap->key.daddr + 12);
	return pol_config_protected(&pl->cfg, AF_INET6, ap->key.daddr);
}

static void check(const struct policer *pl, const struct snap *old,
		  const struct cxd_nfq_pkt *p, const struct cxd_nfq_mark *m,
		  unsigned int v, const struct cx_audit_pkt *ap, bool parsed,
		  uint64_t reached[N_TENANTS])
{
	const struct pol_stats *s = &pl->st, *os = &old->st;
	const uint32_t M = pl->cfg.mark_mask;
	const struct pol_tenant_rt *t, *ot;
	uint64_t hook = d64(s->other_hook, os->other_hook);
	uint64_t unk = d64(s->unknown_indev, os->unknown_indev);
	uint64_t perr = d64(s->parse_errors, os->parse_errors);
	uint64_t fixes = d64(s->mark_fixes, os->mark_fixes);
	uint64_t pk, bytes, drops, dbytes, conex, tun, pdrops;
	int ti = tenant_of(pl, p->indev);
	unsigned int i;
	int64_t lvl;

	if (v != NF_ACCEPT && v != NF_DROP)
		__builtin_trap();
	for (i = 0; i < N_TENANTS; i++) {
		if ((int)i == ti)
			continue;
		if (memcmp(&pl->tenants[i], &old->tenants[i],
			   sizeof(pl->tenants[i])) != 0)
			__builtin_trap();
	}
	if (p->hook != NF_INET_PRE_ROUTING) {
		if (hook != 1 || unk || perr || v != NF_ACCEPT || m->set)
			__builtin_trap();
		ti = -1;
	} else if (ti < 0) {
		if (hook || unk != 1 || perr || v != NF_ACCEPT || m->set)
			__builtin_trap();
	} else if (!parsed) {
		t = &pl->tenants[ti];
		ot = &old->tenants[ti];
		reached[ti]++;
		if (hook || unk || perr != 1 || v != NF_DROP || m->set || fixes ||
		    t->packets != reached[ti] ||
		    d64(t->drops[POL_DROP_UNREADABLE],
			ot->drops[POL_DROP_UNREADABLE]) != 1 ||
		    d64(t->dropped_bytes[POL_DROP_UNREADABLE],
			ot->dropped_bytes[POL_DROP_UNREADABLE]) != p->pkt_len ||
		    memcmp(&t->pol, &ot->pol, sizeof(t->pol)) != 0 ||
		    t->conex_packets != ot->conex_packets ||
		    t->tunnel_packets != ot->tunnel_packets)
			__builtin_trap();
		return;
	} else if (hook || unk || perr) {
		__builtin_trap();
	}
	if (ti < 0) {
		if (memcmp(pl->tenants, old->tenants, sizeof(old->tenants)) != 0 ||
		    fixes)
			__builtin_trap();
		return;
	}
	t = &pl->tenants[ti];
	ot = &old->tenants[ti];
	reached[ti]++;
	if (t->packets != reached[ti])
		__builtin_trap();
	pk = d64(t->packets, ot->packets);
	bytes = d64(t->bytes, ot->bytes);
	drops = dbytes = 0;
	for (i = 0; i < POL_DROP_COUNT; i++) {
		drops += d64(t->drops[i], ot->drops[i]);
		dbytes += d64(t->dropped_bytes[i], ot->dropped_bytes[i]);
	}
	if (t->drops[POL_DROP_UNREADABLE] != ot->drops[POL_DROP_UNREADABLE])
		__builtin_trap();
	pdrops = d64(t->pol.c.drops, ot->pol.c.drops);
	conex = d64(t->conex_packets, ot->conex_packets);
	tun = d64(t->tunnel_packets, ot->tunnel_packets);
	if (pk != 1 || bytes == 0 || bytes < p->cap_len)
		__builtin_trap();
	if (v == NF_DROP) {
		if (drops != 1 || dbytes != bytes || m->set || conex || tun ||
		    fixes)
			__builtin_trap();
	} else if (drops || dbytes || conex + tun > 1) {
		__builtin_trap();
	}
	if (pdrops != d64(t->drops[POL_DROP_POLICE], ot->drops[POL_DROP_POLICE]))
		__builtin_trap();
	if ((t->drops[POL_DROP_SPOOF] != ot->drops[POL_DROP_SPOOF] ||
	     t->drops[POL_DROP_PROTECTED] != ot->drops[POL_DROP_PROTECTED]) &&
	    memcmp(&t->pol, &ot->pol, sizeof(t->pol)) != 0)
		__builtin_trap();
	if (t->drops[POL_DROP_PROTECTED] != ot->drops[POL_DROP_PROTECTED] &&
	    !protected_dst(pl, ap))
		__builtin_trap();
	if ((m->set || tun) && !to_remote(pl, ap))
		__builtin_trap();
	if (d64(t->conex_bytes, ot->conex_bytes) != conex * bytes ||
	    d64(t->tunnel_bytes, ot->tunnel_bytes) != tun * bytes)
		__builtin_trap();
	/* Flag counters move with a passed ConEx packet only, by its bytes. */
	if ((d64(t->l_bytes, ot->l_bytes) != 0 &&
	     d64(t->l_bytes, ot->l_bytes) != conex * bytes) ||
	    (d64(t->e_bytes, ot->e_bytes) != 0 &&
	     d64(t->e_bytes, ot->e_bytes) != conex * bytes) ||
	    (d64(t->c_bytes, ot->c_bytes) != 0 &&
	     d64(t->c_bytes, ot->c_bytes) != conex * bytes))
		__builtin_trap();
	if (pl->fb_fd < 0 && (tun || m->set || fixes))
		__builtin_trap();
	if (m->set) {
		if (fixes != 1 || v != NF_ACCEPT)
			__builtin_trap();
		/* Only the mask's bits change, and they flip the guess. */
		if ((m->value & ~M) != (p->mark & ~M) ||
		    ((m->value & M) != 0 && (m->value & M) != MARK) ||
		    ((m->value & M) == MARK) == ((p->mark & M) == MARK))
			__builtin_trap();
	} else if (fixes) {
		__builtin_trap();
	}
	/* A tunnelled packet leaves with the tunnel mark, one way or the other. */
	if (tun && ((m->set ? m->value : p->mark) & M) != MARK)
		__builtin_trap();
	if (conex && m->set && (m->value & M) != 0)
		__builtin_trap();
	lvl = cx_police_level_bytes(&t->pol, clock_ns);
	if (lvl < -(int64_t)t->pol.cfg.burst_bytes ||
	    lvl > (int64_t)t->pol.cfg.burst_bytes)
		__builtin_trap();
	/* Forgiveness grows only while below the burst, one packet at a time. */
	if (t->forgive_bytes >= t->pol.cfg.burst_bytes + (1ULL << 32))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policer base, pl;
	struct snap old;
	static bool ready;
	static const uint8_t hooks[] = {
		NF_INET_LOCAL_OUT, NF_INET_FORWARD, NF_INET_POST_ROUTING,
	};
	/* OTHER_MARK alone, and beside the tunnel's bits under a mask. */
	static const uint32_t guesses[] = { 0, MARK, OTHER_MARK, MARK | 0x100 };
	uint64_t reached[N_TENANTS] = { 0 };
	struct cx_audit_pkt ap;
	struct cxd_nfq_mark m;
	struct cxd_nfq_pkt p;
	size_t off, cap;
	unsigned int n, v;
	uint8_t ctl, *q;
	bool parsed;

	if (!ready) {
		cx_log_set_sink(quiet, NULL);
		setup(&base);
		ready = true;
	}
	if (size < 1)
		return 0;
	pl = base;
	pl.fb_fd = data[0] & 1 ? 100 : -1;
	/* The whole mark (the default), or the tunnel's bits within 0xff. */
	pl.cfg.mark_mask = data[0] & 2 ? 0xffU : UINT32_MAX;
	clock_ns = T0_NS;
	off = 1;
	for (n = 0; n < RECORDS_MAX && REC <= size - off; n++) {
		ctl = data[off];
		clock_ns += (uint64_t)cx_get_be16(data + off + 1) * 1000;
		memset(&p, 0, sizeof(p));
		/* indexes 0..4: the guests (3 absent), 5: none, 6: unknown. */
		p.indev = (ctl & 7) < 5 ? ifindex[ctl & 7] : (ctl & 7) == 5 ? 0 : 99;
		p.mark = guesses[(ctl >> 3) & 3];
		p.hook = (ctl & 0x60) == 0x60 ? hooks[ctl >> 7 ? 2 : 0] :
			 NF_INET_PRE_ROUTING;
		cap = data[off + 5];
		p.pkt_len = (uint32_t)cap + cx_get_be16(data + off + 3);
		off += REC;
		if (cap > size - off)
			cap = size - off;
		/* A copy of exactly cap bytes: ASan sees any over-read. */
		q = malloc(cap ? cap : 1);
		if (q == NULL)
			return 0;
		memcpy(q, data + off, cap);
		off += cap;
		p.data = q;
		p.cap_len = cap;
		parsed = cxd_pkt_parse(q, cap, p.pkt_len, &ap) >= 0;
		old.st = pl.st;
		memcpy(old.tenants, pl.tenants, sizeof(old.tenants));
		m.set = false;
		m.value = 0;
		v = pol_dp_packet(&pl, &p, &m);
		check(&pl, &old, &p, &m, v, &ap, parsed, reached);
		free(q);
	}
	return 0;
}
