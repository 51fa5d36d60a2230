/*
 * The per-packet path: FORWARD packets to a guest go through the audit,
 * INPUT packets (VXLAN from peers) to the tunnel counters, which never
 * drop. No allocation and no unbounded work; sanction logs are
 * rate-limited.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/rtnetlink.h>

#include <conex/flow.h>

#include "auditor.h"
#include "common/pkt.h"

/* xorshift64* (Vigna): the audit's drop lottery needs speed, not secrecy. */
static uint32_t next_rand(struct auditor *a)
{
	uint64_t x = a->rand_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	a->rand_state = x;
	return (uint32_t)((x * 0x2545f4914f6cdd1dULL) >> 32);
}

void aud_dp_resolve(struct auditor *a)
{
	unsigned int i;

	for (i = 0; i < a->cfg.n_guests; i++)
		a->guest_ifindex[i] = if_nametoindex(a->cfg.guests[i].ifname);
	a->tun_ifindex = if_nametoindex(a->cfg.tun_dev);
}

static const struct aud_guest *guest_of(const struct auditor *a, uint32_t ifindex)
{
	unsigned int i;

	for (i = 0; i < a->cfg.n_guests; i++)
		if (ifindex != 0 && a->guest_ifindex[i] == ifindex)
			return &a->cfg.guests[i];
	return NULL;
}

/* One route, its attributes and a request: far less than a page. */
#define ROUTE_MSG_BYTES	8192

static int route_attr(const struct nlattr *attr, void *data)
{
	uint32_t *oif = data;

	if (mnl_attr_get_type(attr) == RTA_OIF &&
	    mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		*oif = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int route_msg(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct rtmsg), route_attr, data);
}

/*
 * One RTM_GETROUTE for addr: the kernel's own answer to "where would a
 * packet to the flow's destination go", so a flow's guest is the one its
 * packets were queued to (the audit keeps no interface per flow). Not on
 * the packet path: for "flows" replies only.
 */
const struct aud_guest *aud_dp_guest_of_addr(const struct auditor *a,
					     struct mnl_socket *nl, int family,
					     const uint8_t *addr)
{
	char buf[ROUTE_MSG_BYTES];
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	uint32_t oif = 0, seq = 1;
	size_t alen = family == AF_INET ? 4 : 16;
	ssize_t n;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)family;
	rtm->rtm_dst_len = (unsigned char)(alen * 8);
	mnl_attr_put(nlh, RTA_DST, alen, addr);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return NULL;
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n <= 0 || mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl),
				 route_msg, &oif) < 0)
		return NULL;
	return guest_of(a, oif);
}

/* A source as the audit keys it: an IPv4 address, or an IPv6 /64. */
static void source_format(const struct cx_audit_pkt *pkt, char *buf,
			  size_t len)
{
	uint8_t a6[16] = { 0 };
	int v4 = pkt->key.family == CX_FLOW_IPV4;

	memcpy(a6, pkt->src, v4 ? 16 : 8);
	if (inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? a6 + 12 : a6, buf,
		      (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	else if (!v4)
		strncat(buf, "/64", len - strlen(buf) - 1);
}

static void log_sanction(struct auditor *a, const struct cx_audit_pkt *pkt,
			 const struct cx_audit_result *res,
			 const struct aud_guest *g)
{
	char key[CX_FLOW_KEY_FORMAT_MAX], src[INET6_ADDRSTRLEN + 4];
	struct cx_audit_source_info si;
	struct cx_audit_flow_info fi;

	a->st.sanction_logs++;
	if (cx_flow_key_format(&pkt->key, key, sizeof(key)) < 0)
		strcpy(key, "?");
	if (res->events & CX_AUDIT_E_SANCTION_START) {
		/* which balance is short: credit (checked at once) or re-echo */
		if (cx_audit_flow_get(a->audit, &pkt->key, &fi) < 0)
			memset(&fi, 0, sizeof(fi));
		cx_log_rl(&a->sanction_rl, pkt->now_ns, CX_LOG_NOTICE,
			  "sanction: flow %s tenant %s (%s): under-declared by "
			  "%llu bytes (credit balance %lld, re-echo balance %lld, "
			  "pending %llu)", key, g ? g->tenant : "?",
			  g ? g->ifname : "?",
			  (unsigned long long)res->shortfall_bytes,
			  (long long)fi.credit_bal_bytes,
			  (long long)fi.reecho_bal_bytes,
			  (unsigned long long)fi.pending_bytes);
	}
	if (!(res->events & CX_AUDIT_E_AGG_SANCTION_START))
		return;
	if (res->events & CX_AUDIT_E_OVERFLOW) {
		cx_audit_overflow_info(a->audit, &si);
		cx_log_rl(&a->sanction_rl, pkt->now_ns, CX_LOG_NOTICE,
			  "sanction: overflow account (sources the source table "
			  "had no room for), packet of %s tenant %s (%s): owes "
			  "%llu bytes beyond the slack", key,
			  g ? g->tenant : "?", g ? g->ifname : "?",
			  (unsigned long long)si.shortfall_bytes);
		return;
	}
	if (cx_audit_source_get(a->audit, pkt->src, pkt->key.family, &si) < 0)
		memset(&si, 0, sizeof(si));
	source_format(pkt, src, sizeof(src));
	cx_log_rl(&a->sanction_rl, pkt->now_ns, CX_LOG_NOTICE,
		  "sanction: source %s, to tenant %s (%s): under-declared by "
		  "%llu bytes over all its flows (balance %lld: own %lld, "
		  "flows %lld in %u flows, %u in debt)", src,
		  g ? g->tenant : "?", g ? g->ifname : "?",
		  (unsigned long long)si.shortfall_bytes,
		  (long long)si.balance_bytes, (long long)si.own_bytes,
		  (long long)si.flows_bytes, si.flows, si.flows_in_debt);
}

unsigned int aud_dp_packet(void *arg, const struct cxd_nfq_pkt *p,
			   struct cxd_nfq_mark *mark)
{
	struct auditor *a = arg;
	const struct aud_guest *g;
	struct cx_audit_result res;
	struct cx_audit_pkt pkt;
	int ret;

	(void)mark;	/* the audit passes or drops, it never steers */
	if (p->hook == NF_INET_LOCAL_IN) {
		/*
		 * The VXLAN device would decapsulate anything sent to its port,
		 * and what comes out of it is not audited (below): only a
		 * peer's tunnel, counted for feedback, may go in. Else a guest
		 * that reaches the underlay would pass uncharged and unaudited.
		 */
		ret = aud_tun_packet(&a->tun, p->data, p->cap_len, p->pkt_len);
		if (ret < 0 && ret != -ENOENT) {
			a->st.tunnel_refused++;
			return NF_DROP;
		}
		return NF_ACCEPT;
	}
	if (p->hook != NF_INET_FORWARD) {
		a->st.other_hook++;
		return NF_ACCEPT;
	}
	/*
	 * Legacy traffic out of the tunnel was counted before decapsulation
	 * and is policed by the feedback: auditing it again would sanction
	 * it twice (and it carries no ConEx signal to declare with).
	 */
	if (p->indev != 0 && p->indev == a->tun_ifindex) {
		a->st.tunnel_inner++;
		return NF_ACCEPT;
	}
	g = guest_of(a, p->outdev);
	if (g == NULL)
		a->st.unknown_outdev++;
	ret = cxd_pkt_parse(p->data, p->cap_len, p->pkt_len, &pkt);
	if (ret < 0) {
		/*
		 * What cannot be read cannot be audited: passing it would let
		 * a sender hide its flows behind headers the parser gives up
		 * on (an IPv6 extension chain past its limits, say).
		 */
		a->st.parse_errors++;
		return NF_DROP;
	}
	if (ret == 1)
		a->st.tcp_malformed++;
	pkt.now_ns = aud_now_ns();
	pkt.rand = next_rand(a);
	ret = cx_audit_packet(a->audit, &pkt, &res);
	a->st.audited++;
	if (res.events & (CX_AUDIT_E_SANCTION_START | CX_AUDIT_E_AGG_SANCTION_START))
		log_sanction(a, &pkt, &res, g);
	return ret == CX_AUDIT_DROP ? NF_DROP : NF_ACCEPT;
}
