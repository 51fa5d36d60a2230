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
#include <string.h>

#include "auditor.h"
#include "common/out.h"

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
	cxd_out_u64(o, "source_full", c->source_full);
	cxd_out_u64(o, "end_pinned", c->end_pinned);
	cxd_out_u64(o, "sanction_starts", c->sanction_starts);
	cxd_out_u64(o, "sanction_ends", c->sanction_ends);
	cxd_out_u64(o, "agg_sanction_starts", c->agg_sanction_starts);
	cxd_out_u64(o, "agg_sanction_ends", c->agg_sanction_ends);
	cxd_out_u64(o, "debt_to_source", c->debt_to_source);
	cxd_out_u64(o, "debt_to_source_bytes", c->debt_to_source_bytes);
	cxd_out_u64(o, "debt_inherited", c->debt_inherited);
	cxd_out_u64(o, "debt_inherited_bytes", c->debt_inherited_bytes);
	cxd_out_u64(o, "sources_live", c->sources_live);
}

static void nfq_counters(struct cxd_out *o, const struct cxd_nfq_stats *s)
{
	cxd_out_u64(o, "nfq_packets", s->packets);
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
	nfq_counters(&o, &a->nfq->st);
	cxd_out_u64(&o, "tunnel_packets", a->tun.st.packets);
	cxd_out_u64(&o, "tunnel_unknown_peer", a->tun.st.unknown_peer);
	cxd_out_u64(&o, "tunnel_not_vxlan", a->tun.st.not_vxlan);
	cxd_out_u64(&o, "tunnel_malformed", a->tun.st.malformed);
	cxd_out_u64(&o, "feedback_sent", fb_sent);
	cxd_out_u64(&o, "feedback_errors", fb_errors);
	peers(&o, &a->tun);
	if (json)
		cxd_out_put(&o, "}\n");
	if (o.full)
		return -ENOSPC;
	return (int)o.used;
}
