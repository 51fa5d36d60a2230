/*
 * The verdict on one packet leaving a local guest (mangle PREROUTING, so
 * that a mark set here still chooses the route). The tenant is the one of
 * the interface the packet came in on, never its source address
 * (docs/design.md §2.3); a source that is not the guest's own is dropped.
 *
 * ConEx packets (X set, CDO or the IPv4 ID encoding) go straight to the
 * fabric and drain the tenant's bucket by their marked bytes, once per
 * flag (RFC 7837 §4, docs/wire.md §2, §3). Everything else is Not-ConEx:
 * with a tunnel configured it gets the tunnel mark, so that policy
 * routing sends it through the VXLAN fallback (outer ECT(0), RFC 7713
 * §5.5), where the far auditor counts its CE and feeds it back. Either
 * way, while the tenant's bucket is empty its packets are dropped with the
 * policer's probability (conex/police.h); other tenants are untouched.
 * Nothing here allocates, blocks or logs without a rate limit.
 */
#include <errno.h>
#include <linux/netfilter.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include <conex/signal.h>

#include "common/pkt.h"
#include "policer.h"

static uint32_t next_rand(struct policer *pl)
{
	uint64_t x = pl->rand_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	pl->rand_state = x;
	return (uint32_t)((x * 0x2545f4914f6cdd1dULL) >> 32);
}

void pol_dp_resolve(struct policer *pl)
{
	unsigned int i;

	for (i = 0; i < pl->cfg.n_guests; i++)
		pl->guest_ifindex[i] = if_nametoindex(pl->cfg.guests[i].ifname);
}

static const struct pol_guest *guest_of(const struct policer *pl,
					uint32_t ifindex)
{
	unsigned int i;

	for (i = 0; i < pl->cfg.n_guests; i++)
		if (ifindex != 0 && pl->guest_ifindex[i] == ifindex)
			return &pl->cfg.guests[i];
	return NULL;
}

/*
 * The guest's own address, or one that never leaves the link, so that the
 * check cannot break what the host itself answers: IPv6 link-local and
 * unspecified sources (neighbour discovery, DAD) and IPv4 0.0.0.0 (a DHCP
 * client without an address yet; a router never forwards it, RFC 1812
 * §5.3.7).
 */
static bool source_ok(const struct pol_guest *g, const struct cx_audit_pkt *pkt)
{
	static const uint8_t unspec[16];
	const uint8_t *a = pkt->key.saddr;
	int family = AF_INET6;
	unsigned int i;

	if (pkt->key.family == CX_FLOW_IPV4) {
		a += 12;	/* v4-mapped in the flow key */
		family = AF_INET;
		if (memcmp(a, unspec, 4) == 0)
			return true;
	} else if ((a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||
		   memcmp(a, unspec, 16) == 0) {
		return true;
	}
	for (i = 0; i < g->n_addrs; i++)
		if (pol_prefix_match(&g->addrs[i], family, a))
			return true;
	return false;
}

/* Is the destination a guest behind a peer (a `remote` prefix)? */
static bool remote(const struct policer *pl, const struct cx_audit_pkt *pkt)
{
	if (pkt->key.family == CX_FLOW_IPV4)
		return pol_config_remote(&pl->cfg, AF_INET, pkt->key.daddr + 12);
	return pol_config_remote(&pl->cfg, AF_INET6, pkt->key.daddr);
}

/* Guests never reach the underlay, the token bank or management. */
static bool protected_dst(const struct policer *pl, const struct cx_audit_pkt *pkt)
{
	if (pkt->key.family == CX_FLOW_IPV4)
		return pol_config_protected(&pl->cfg, AF_INET, pkt->key.daddr + 12);
	return pol_config_protected(&pl->cfg, AF_INET6, pkt->key.daddr);
}

static unsigned int drop(struct pol_tenant_rt *t, enum pol_drop why,
			 uint32_t bytes)
{
	t->drops[why]++;
	t->dropped_bytes[why] += bytes;
	return NF_DROP;
}

unsigned int pol_dp_packet(void *arg, const struct cxd_nfq_pkt *p,
			   struct cxd_nfq_mark *mark)
{
	struct policer *pl = arg;
	const struct pol_guest *g;
	struct pol_tenant_rt *t;
	struct cx_audit_pkt pkt;
	uint64_t now_ns, reecho = 0, credit = 0, forgive = 0;
	bool conex, want = false;
	int ret;

	if (p->hook != NF_INET_PRE_ROUTING) {
		pl->st.other_hook++;
		return NF_ACCEPT;
	}
	g = guest_of(pl, p->indev);
	if (g == NULL) {
		pl->st.unknown_indev++;
		return NF_ACCEPT;
	}
	t = &pl->tenants[g->tenant];
	ret = cxd_pkt_parse(p->data, p->cap_len, p->pkt_len, &pkt);
	if (ret < 0) {
		/*
		 * What the policer cannot read it can neither charge nor
		 * steer into the tunnel: a guest's packet of that kind would
		 * leave free (an IPv6 extension chain past the walker's
		 * limits or the copy range, say), so it is dropped.
		 */
		pl->st.parse_errors++;
		t->packets++;
		t->bytes += p->pkt_len;
		return drop(t, POL_DROP_UNREADABLE, p->pkt_len);
	}
	t->packets++;
	t->bytes += pkt.ip_bytes;
	if (!source_ok(g, &pkt)) {
		cx_log_rl(&pl->spoof_rl, pol_now_ns(), CX_LOG_NOTICE,
			  "guest %s (tenant %s): dropping packets with a source "
			  "address that is not its own", g->ifname,
			  pl->cfg.tenants[g->tenant].name);
		return drop(t, POL_DROP_SPOOF, pkt.ip_bytes);
	}
	if (protected_dst(pl, &pkt))
		return drop(t, POL_DROP_PROTECTED, pkt.ip_bytes);
	/*
	 * X=0 with flags is Not-ConEx: the flags are meaningless (RFC 7837
	 * §4). So is X alone on anything but TCP: it declares nothing, and
	 * the marker marks only TCP, whose flows the auditor holds to their
	 * declarations; an X-only UDP flood would otherwise pass uncharged
	 * and fill the bottleneck before any audit could act. It goes the
	 * Not-ConEx way, through the tunnel, charged by its CE.
	 */
	conex = (pkt.flags & CX_AUDIT_P_CONEX) && (pkt.sig & CX_SIG_X) &&
		((pkt.flags & CX_AUDIT_P_TCP) || (pkt.sig & CX_SIG_LEC));
	if ((pkt.flags & CX_AUDIT_P_CONEX) && (pkt.sig & CX_SIG_X) && !conex)
		t->xonly_other_packets++;
	if (conex) {
		if (pkt.sig & CX_SIG_L) {
			/*
			 * The retransmission of a packet this policer dropped
			 * re-echoes that drop as L (and the credit it consumed
			 * as C): a loss the network did not cause, already
			 * paid for by the drop. Forgiven, byte for byte, off
			 * the charge (conex/charge.h), so a sanction does not
			 * feed itself; taken from what is owed only if the
			 * packet passes.
			 */
			forgive = t->forgive_bytes < pkt.ip_bytes ?
				  t->forgive_bytes : pkt.ip_bytes;
			reecho += pkt.ip_bytes;
		}
		if (pkt.sig & CX_SIG_E)
			reecho += pkt.ip_bytes;
		if (pkt.sig & CX_SIG_C)
			credit = pkt.ip_bytes;
	}
	now_ns = pol_now_ns();
	if (cx_police_packet(&t->pol, reecho, credit, forgive, pkt.ip_bytes,
			     next_rand(pl), now_ns) == CX_POLICE_DROP) {
		if (pkt.payload_bytes && t->forgive_bytes < t->pol.cfg.burst_bytes)
			t->forgive_bytes += pkt.ip_bytes;
		return drop(t, POL_DROP_POLICE, pkt.ip_bytes);
	}
	t->forgive_bytes -= forgive;
	t->forgiven_bytes += forgive;
	if (conex) {
		t->conex_packets++;
		t->conex_bytes += pkt.ip_bytes;
		if (pkt.sig & CX_SIG_L)
			t->l_bytes += pkt.ip_bytes;
		if (pkt.sig & CX_SIG_E)
			t->e_bytes += pkt.ip_bytes;
		if (pkt.sig & CX_SIG_C)
			t->c_bytes += pkt.ip_bytes;
		goto verdict;
	}
	if (pl->fb_fd >= 0 && remote(pl, &pkt)) {
		t->tunnel_packets++;
		t->tunnel_bytes += pkt.ip_bytes;
		want = true;
	}
verdict:
	/*
	 * The kernel's guess (net.h) stands unless it was wrong for a packet
	 * the tunnel table would route (to a remote guest); elsewhere the
	 * mark finds no route there and is harmless.
	 */
	if (pl->fb_fd >= 0 &&
	    want != ((p->mark & pl->cfg.mark_mask) == pl->cfg.mark) &&
	    (want || remote(pl, &pkt))) {
		/* Only the tunnel's bits: other users of the mark keep theirs. */
		mark->set = true;
		mark->value = (p->mark & ~pl->cfg.mark_mask) | (want ? pl->cfg.mark : 0);
		pl->st.mark_fixes++;
	}
	return NF_ACCEPT;
}
