/*
 * `conex-auditor stats`: every counter, as "key value" lines or as one flat
 * JSON object (plus a "peers" array). Names are stable: tests and scripts
 * read them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>

#include <conex/flow.h>

#include "auditor.h"
#include "common/out.h"
#include "common/nfacct.h"
#include "rules.h"

static void audit_counters(struct cxd_out *o, const struct cx_audit_counters *c)
{
	/* Verdicts. */
	cxd_out_u64(o, "packets", c->packets);
	cxd_out_u64(o, "bytes", c->bytes);
	cxd_out_u64(o, "passed", c->passed);
	cxd_out_u64(o, "dropped", c->dropped);
	cxd_out_u64(o, "dropped_bytes", c->dropped_bytes);
	cxd_out_u64(o, "flow_drops", c->flow_drops);
	cxd_out_u64(o, "agg_drops", c->agg_drops);
	cxd_out_u64(o, "source_drops", c->source_drops);
	/* Classification and declared bytes. */
	cxd_out_u64(o, "not_conex", c->not_conex);
	cxd_out_u64(o, "conex_not_marked", c->conex_not_marked);
	cxd_out_u64(o, "conex_marked", c->conex_marked);
	cxd_out_u64(o, "l_bytes", c->l_bytes);
	cxd_out_u64(o, "e_bytes", c->e_bytes);
	cxd_out_u64(o, "c_bytes", c->c_bytes);
	/* Observed congestion. */
	cxd_out_u64(o, "ce_packets", c->ce_packets);
	cxd_out_u64(o, "ce_bytes", c->ce_bytes);
	cxd_out_u64(o, "ce_marked", c->ce_marked);
	cxd_out_u64(o, "flow_loss_bytes", c->flow_loss_bytes);
	cxd_out_u64(o, "agg_loss_bytes", c->agg_loss_bytes);
	cxd_out_u64(o, "self_drop_refills", c->self_drop_refills);
	cxd_out_u64(o, "holes_capped", c->holes_capped);
	cxd_out_u64(o, "seq_jumps", c->seq_jumps);
	cxd_out_u64(o, "reorder_bytes", c->reorder_bytes);
	/* Anomalies. */
	cxd_out_u64(o, "x0_with_flags", c->x0_with_flags);
	cxd_out_u64(o, "reserved_set", c->reserved_set);
	cxd_out_u64(o, "mcast_cdo", c->mcast_cdo);
	cxd_out_u64(o, "non_first_frag", c->non_first_frag);
	cxd_out_u64(o, "rf_non_atomic", c->rf_non_atomic);
	cxd_out_u64(o, "not_conex_in_flow", c->not_conex_in_flow);
	/* Where audited, flows, sanctions. */
	cxd_out_u64(o, "flow_packets", c->flow_packets);
	cxd_out_u64(o, "agg_packets", c->agg_packets);
	cxd_out_u64(o, "flows_created", c->flows_created);
	cxd_out_u64(o, "flows_ended", c->flows_ended);
	cxd_out_u64(o, "flows_evicted", c->flows_evicted);
	cxd_out_u64(o, "flows_aged", c->flows_aged);
	cxd_out_u64(o, "flows_live", c->flows_live);
	cxd_out_u64(o, "table_full", c->table_full);
	cxd_out_u64(o, "source_flows_full", c->source_flows_full);
	cxd_out_u64(o, "sanction_starts", c->sanction_starts);
	cxd_out_u64(o, "sanction_ends", c->sanction_ends);
	/* Sources: each its account; the overflow for those without a record. */
	cxd_out_u64(o, "sources_live", c->sources_live);
	cxd_out_u64(o, "source_overflow", c->source_overflow);
	cxd_out_u64(o, "source_sanctions", c->source_sanctions);
	cxd_out_u64(o, "source_sanction_ends", c->source_sanction_ends);
	cxd_out_u64(o, "overflow_sanctions", c->overflow_sanctions);
	cxd_out_u64(o, "overflow_sanction_ends", c->overflow_sanction_ends);
	cxd_out_u64(o, "agg_sanction_starts", c->agg_sanction_starts);
	cxd_out_u64(o, "agg_sanction_ends", c->agg_sanction_ends);
	cxd_out_u64(o, "debt_to_source", c->debt_to_source);
	cxd_out_u64(o, "debt_to_source_bytes", c->debt_to_source_bytes);
	cxd_out_u64(o, "debt_inherited", c->debt_inherited);
	cxd_out_u64(o, "debt_inherited_bytes", c->debt_inherited_bytes);
	cxd_out_u64(o, "debt_capped_bytes", c->debt_capped_bytes);
}

static void nfq_counters(struct cxd_out *o, const struct cxd_nfq_stats *s)
{
	uint64_t queued = cxd_nfacct_queued(AUD_NFACCT);

	cxd_out_u64(o, "nfq_packets", s->packets);
	cxd_out_u64(o, "nfq_queued", queued);
	cxd_out_u64(o, "nfq_bypassed", cxd_nfacct_bypassed(queued, s->packets));
	cxd_out_u64(o, "nfq_bytes", s->bytes);
	cxd_out_u64(o, "nfq_accepted", s->accepted);
	cxd_out_u64(o, "nfq_dropped", s->dropped);
	cxd_out_u64(o, "nfq_verdict_msgs", s->verdict_msgs);
	cxd_out_u64(o, "nfq_verdict_sends", s->verdict_sends);
	cxd_out_u64(o, "nfq_enobufs", s->enobufs);
	cxd_out_u64(o, "nfq_truncated", s->truncated);
	cxd_out_u64(o, "nfq_malformed", s->malformed);
	cxd_out_u64(o, "nfq_nl_errors", s->nl_errors);
}

static void peers(struct cxd_out *o, const struct aud_tun *t)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned int i;

	if (o->json)
		cxd_out_put(o, ",\"peers\":[");
	for (i = 0; i < t->n_peers; i++) {
		const struct aud_tun_peer *p = &t->peers[i];

		inet_ntop(p->cfg->family, p->cfg->addr, addr, sizeof(addr));
		if (o->json)
			cxd_out_put(o, "%s{\"host_id\":%" PRIu32 ",\"address\":\"%s\","
			    "\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ","
			    "\"ce_bytes\":%" PRIu64 ",\"guests\":%" PRIu32 ","
			    "\"guests_full\":%" PRIu64 ",\"feedback_sent\":%" PRIu64
			    ",\"feedback_errors\":%" PRIu64 ",\"seq\":%" PRIu64 "}",
			    i ? "," : "", p->cfg->host_id, addr, p->packets,
			    p->bytes, p->ce_bytes, p->n_guests, p->guests_full,
			    p->fb_sent, p->fb_errors, p->seq);
		else
			cxd_out_put(o, "peer %" PRIu32 " %s packets %" PRIu64 " bytes %"
			    PRIu64 " ce_bytes %" PRIu64 " guests %" PRIu32
			    " guests_full %" PRIu64 " feedback_sent %" PRIu64
			    " feedback_errors %" PRIu64 "\n", p->cfg->host_id,
			    addr, p->packets, p->bytes, p->ce_bytes, p->n_guests,
			    p->guests_full, p->fb_sent, p->fb_errors);
	}
	if (o->json)
		cxd_out_put(o, "]");
}

int aud_stats_format(const struct auditor *a, uint64_t now_ns, int json,
		     char *buf, size_t len)
{
	struct cxd_out o;
	struct cx_audit_counters c;
	uint64_t fb_sent = 0, fb_errors = 0;
	unsigned int i;

	cxd_out_init(&o, buf, len, json);
	cx_audit_counters(a->audit, &c);
	for (i = 0; i < a->tun.n_peers; i++) {
		fb_sent += a->tun.peers[i].fb_sent;
		fb_errors += a->tun.peers[i].fb_errors;
	}
	if (json)
		cxd_out_put(&o, "{");
	cxd_out_u64(&o, "uptime_ms", (now_ns - a->start_mono_ns) / 1000000ULL);
	cxd_out_u64(&o, "queue", a->cfg.queue);
	cxd_out_u64(&o, "fail_open", a->cfg.fail_open);
	cxd_out_u64(&o, "guests", a->cfg.n_guests);
	audit_counters(&o, &c);
	cxd_out_u64(&o, "audited", a->st.audited);
	cxd_out_u64(&o, "parse_errors", a->st.parse_errors);
	cxd_out_u64(&o, "tcp_malformed", a->st.tcp_malformed);
	cxd_out_u64(&o, "other_hook", a->st.other_hook);
	cxd_out_u64(&o, "unknown_outdev", a->st.unknown_outdev);
	cxd_out_u64(&o, "tunnel_inner", a->st.tunnel_inner);
	cxd_out_u64(&o, "sanction_logs", a->st.sanction_logs);
	cxd_out_u64(&o, "state_saves", a->st.state_saves);
	cxd_out_u64(&o, "state_errors", a->st.state_errors);
	{
		struct cx_audit_source_info si;
		uint64_t debt = 0, n = 0;
		uint32_t cursor = 0;

		/* What a restart must not forgive: the sources in debt. */
		while (cx_audit_source_next(a->audit, &cursor, &si) == 0)
			if (si.debt_bytes) {
				n++;
				debt += si.debt_bytes;
			}
		cxd_out_u64(&o, "sources_in_debt", n);
		cxd_out_u64(&o, "sources_debt_bytes", debt);
	}
	nfq_counters(&o, &a->nfq->st);
	cxd_out_u64(&o, "tunnel_packets", a->tun.st.packets);
	cxd_out_u64(&o, "tunnel_unknown_peer", a->tun.st.unknown_peer);
	cxd_out_u64(&o, "tunnel_not_vxlan", a->tun.st.not_vxlan);
	cxd_out_u64(&o, "tunnel_malformed", a->tun.st.malformed);
	cxd_out_u64(&o, "tunnel_refused", a->st.tunnel_refused);
	cxd_out_u64(&o, "feedback_sent", fb_sent);
	cxd_out_u64(&o, "feedback_errors", fb_errors);
	peers(&o, &a->tun);
	if (json)
		cxd_out_put(&o, "}\n");
	if (o.full)
		return -ENOSPC;
	return (int)o.used;
}

int aud_status_format(const struct auditor *a, uint64_t now_ns, int json,
		      char *buf, size_t len)
{
	struct cx_audit_counters c;
	uint64_t fb_sent = 0;
	struct cxd_out o;
	unsigned int i;

	cx_audit_counters(a->audit, &c);
	for (i = 0; i < a->tun.n_peers; i++)
		fb_sent += a->tun.peers[i].fb_sent;
	cxd_out_init(&o, buf, len, json);
	cxd_out_status_begin(&o, "conex-auditor",
			     (now_ns - a->start_mono_ns) / 1000000ULL,
			     a->config_path ? a->config_path : "-", a->cfg.queue,
			     a->cfg.fail_open);
	cxd_out_u64(&o, "guests_n", a->cfg.n_guests);
	cxd_out_u64(&o, "peers_n", a->cfg.n_peers);
	cxd_out_u64(&o, "flow_capacity", a->cfg.audit.flow_capacity);
	cxd_out_u64(&o, "flows_live", c.flows_live);
	cxd_out_u64(&o, "packets", c.packets);
	cxd_out_u64(&o, "bytes", c.bytes);
	cxd_out_u64(&o, "dropped", c.dropped);
	cxd_out_u64(&o, "dropped_bytes", c.dropped_bytes);
	cxd_out_u64(&o, "sanction_starts", c.sanction_starts);
	cxd_out_u64(&o, "feedback_sent", fb_sent);
	cxd_out_u64(&o, "reloads", a->reloads);
	cxd_out_u64(&o, "reload_errors", a->reload_errors);
	return cxd_out_end(&o);
}

/* Order of "flows": larger shortfall first, then more dropped bytes. */
static int flow_cmp(const struct cx_audit_flow_info *x,
		    const struct cx_audit_flow_info *y)
{
	if (x->shortfall_bytes != y->shortfall_bytes)
		return x->shortfall_bytes < y->shortfall_bytes ? -1 : 1;
	if (x->dropped_bytes != y->dropped_bytes)
		return x->dropped_bytes < y->dropped_bytes ? -1 : 1;
	return 0;
}

static int flow_cmp_desc(const void *x, const void *y)
{
	return flow_cmp(y, x);
}

/* Min-heap of the n best so far: h[0] is the one to replace. */
static void heap_down(struct cx_audit_flow_info *h, unsigned int n,
		      unsigned int i)
{
	struct cx_audit_flow_info t;
	unsigned int l, m;

	for (;;) {
		l = 2 * i + 1;
		if (l >= n)
			return;
		m = l + 1 < n && flow_cmp(&h[l + 1], &h[l]) < 0 ? l + 1 : l;
		if (flow_cmp(&h[m], &h[i]) >= 0)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void heap_up(struct cx_audit_flow_info *h, unsigned int i)
{
	struct cx_audit_flow_info t;
	unsigned int p;

	while (i > 0) {
		p = (i - 1) / 2;
		if (flow_cmp(&h[i], &h[p]) >= 0)
			return;
		t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

static const char *proto_name(uint8_t proto, char *buf, size_t len)
{
	switch (proto) {
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 1:
		return "icmp";
	case 58:
		return "ipv6-icmp";
	case 132:
		return "sctp";
	default:
		snprintf(buf, len, "%u", proto);
		return buf;
	}
}

/* "198.18.0.1:5001" or "[2001:2::1]:5001". */
static void endpoint(const struct cx_flow_key *k, const uint8_t *addr,
		     uint16_t port, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	int v4 = k->family == CX_FLOW_IPV4;

	/* IPv4 keys hold ::ffff:a.b.c.d (conex/flow.h): bytes 12..15. */
	if (inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? addr + 12 : addr, ip,
		      sizeof(ip)) == NULL)
		snprintf(ip, sizeof(ip), "?");
	snprintf(buf, len, "%s%s%s:%u", v4 ? "" : "[", ip, v4 ? "" : "]", port);
}

static void flow_item(struct cxd_out *o, const struct auditor *a,
		      struct mnl_socket *nl, unsigned int rank,
		      const struct cx_audit_flow_info *f)
{
	char key[CX_FLOW_KEY_FORMAT_MAX], src[64], dst[64], num[16], pn[8];
	const struct aud_guest *g = NULL;
	int v4 = f->key.family == CX_FLOW_IPV4;

	snprintf(num, sizeof(num), "%u", rank);
	endpoint(&f->key, f->key.saddr, f->key.sport, src, sizeof(src));
	endpoint(&f->key, f->key.daddr, f->key.dport, dst, sizeof(dst));
	if (nl != NULL)
		g = aud_dp_guest_of_addr(a, nl, v4 ? AF_INET : AF_INET6,
					 v4 ? f->key.daddr + 12 : f->key.daddr);
	cxd_out_item_begin(o, "flow", num);
	if (o->json) {
		cxd_out_u64(o, "rank", rank);
		if (cx_flow_key_format(&f->key, key, sizeof(key)) < 0)
			snprintf(key, sizeof(key), "?");
		cxd_out_str(o, "key", key);
	}
	cxd_out_str(o, "proto", proto_name(f->key.proto, pn, sizeof(pn)));
	cxd_out_str(o, "src", src);
	cxd_out_str(o, "dst", dst);
	cxd_out_str(o, "tenant", g ? g->tenant : "-");
	cxd_out_str(o, "guest", g ? g->ifname : "-");
	cxd_out_i64(o, "credit_bal_bytes", f->credit_bal_bytes);
	cxd_out_i64(o, "reecho_bal_bytes", f->reecho_bal_bytes);
	cxd_out_u64(o, "pending_bytes", f->pending_bytes);
	cxd_out_u64(o, "shortfall_bytes", f->shortfall_bytes);
	cxd_out_u64(o, "debt_bytes", f->debt_bytes);
	cxd_out_u64(o, "dropped_bytes", f->dropped_bytes);
	cxd_out_u64(o, "sanction", !!(f->flags & CX_AUDIT_F_SANCTION));
	cxd_out_item_end(o);
}

/* Room kept for what follows the list: "],"shown":N,"truncated":1}\n". */
#define FLOWS_TAIL_BYTES	64

int aud_flows_format(struct auditor *a, unsigned int n, int json, char *buf,
		     size_t len)
{
	struct cx_audit_flow_info *h, f;
	struct cx_audit_counters c;
	struct cxd_out o, saved;
	struct mnl_socket *nl;
	uint64_t seen = 0;
	uint32_t cursor = 0;
	unsigned int i, k = 0, shown = 0;
	int truncated = 0, ret;

	if (n < 1 || n > AUD_FLOWS_TOP_MAX)
		return -EINVAL;
	if (len <= FLOWS_TAIL_BYTES)
		return -ENOSPC;
	h = calloc(n, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	/* The loop is bounded by the table: each record is visited once. */
	while (cx_audit_flow_next(a->audit, &cursor, &f) == 0) {
		seen++;
		if (k < n) {
			h[k] = f;
			heap_up(h, k++);
		} else if (flow_cmp(&f, &h[0]) > 0) {
			h[0] = f;
			heap_down(h, k, 0);
		}
	}
	qsort(h, k, sizeof(*h), flow_cmp_desc);
	/* Without routes the flows are listed all the same, tenant "-". */
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (nl != NULL && mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		nl = NULL;
	}
	cx_audit_counters(a->audit, &c);
	cxd_out_init(&o, buf, len - FLOWS_TAIL_BYTES, json);
	cxd_out_begin(&o);
	cxd_out_u64(&o, "flows_live", c.flows_live);
	cxd_out_u64(&o, "flows_seen", seen);
	cxd_out_u64(&o, "requested", n);
	cxd_out_list_begin(&o, "flows");
	for (i = 0; i < k && !o.full; i++) {
		saved = o;
		flow_item(&o, a, nl, i + 1, &h[i]);
		if (o.full) {
			/* Whole items only: drop the one that did not fit. */
			o = saved;
			o.buf[o.used] = '\0';
			truncated = 1;
			break;
		}
		shown++;
	}
	if (nl != NULL)
		mnl_socket_close(nl);
	free(h);
	o.len = len;
	cxd_out_list_end(&o);
	cxd_out_u64(&o, "shown", shown);
	cxd_out_u64(&o, "truncated", (uint64_t)truncated);
	ret = cxd_out_end(&o);
	return ret;
}
