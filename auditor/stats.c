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

struct out {
	char *buf;
	size_t len;
	size_t used;
	int json;
	int n;		/* values written at this level (JSON commas) */
	int full;
};

static void put(struct out *o, const char *fmt, ...) CX_PRINTF(2, 3);

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->used) {
		o->full = 1;
		return;
	}
	o->used += (size_t)n;
}

static void kv(struct out *o, const char *key, uint64_t v)
{
	if (o->json)
		put(o, "%s\"%s\":%" PRIu64, o->n++ ? "," : "", key, v);
	else
		put(o, "%s %" PRIu64 "\n", key, v);
}

static void audit_counters(struct out *o, const struct cx_audit_counters *c)
{
	/* Verdicts. */
	kv(o, "packets", c->packets);
	kv(o, "bytes", c->bytes);
	kv(o, "passed", c->passed);
	kv(o, "dropped", c->dropped);
	kv(o, "dropped_bytes", c->dropped_bytes);
	kv(o, "flow_drops", c->flow_drops);
	kv(o, "agg_drops", c->agg_drops);
	/* Classification and declared bytes. */
	kv(o, "not_conex", c->not_conex);
	kv(o, "conex_not_marked", c->conex_not_marked);
	kv(o, "conex_marked", c->conex_marked);
	kv(o, "l_bytes", c->l_bytes);
	kv(o, "e_bytes", c->e_bytes);
	kv(o, "c_bytes", c->c_bytes);
	/* Observed congestion. */
	kv(o, "ce_packets", c->ce_packets);
	kv(o, "ce_bytes", c->ce_bytes);
	kv(o, "ce_marked", c->ce_marked);
	kv(o, "flow_loss_bytes", c->flow_loss_bytes);
	kv(o, "agg_loss_bytes", c->agg_loss_bytes);
	kv(o, "self_drop_refills", c->self_drop_refills);
	kv(o, "holes_capped", c->holes_capped);
	kv(o, "seq_jumps", c->seq_jumps);
	kv(o, "reorder_bytes", c->reorder_bytes);
	/* Anomalies. */
	kv(o, "x0_with_flags", c->x0_with_flags);
	kv(o, "reserved_set", c->reserved_set);
	kv(o, "mcast_cdo", c->mcast_cdo);
	kv(o, "non_first_frag", c->non_first_frag);
	kv(o, "rf_non_atomic", c->rf_non_atomic);
	kv(o, "not_conex_in_flow", c->not_conex_in_flow);
	/* Where audited, flows, sanctions. */
	kv(o, "flow_packets", c->flow_packets);
	kv(o, "agg_packets", c->agg_packets);
	kv(o, "flows_created", c->flows_created);
	kv(o, "flows_ended", c->flows_ended);
	kv(o, "flows_evicted", c->flows_evicted);
	kv(o, "flows_live", c->flows_live);
	kv(o, "table_full", c->table_full);
	kv(o, "source_full", c->source_full);
	kv(o, "end_pinned", c->end_pinned);
	kv(o, "sanction_starts", c->sanction_starts);
	kv(o, "sanction_ends", c->sanction_ends);
	kv(o, "agg_sanction_starts", c->agg_sanction_starts);
	kv(o, "agg_sanction_ends", c->agg_sanction_ends);
	kv(o, "debt_to_source", c->debt_to_source);
	kv(o, "debt_to_source_bytes", c->debt_to_source_bytes);
	kv(o, "debt_inherited", c->debt_inherited);
	kv(o, "debt_inherited_bytes", c->debt_inherited_bytes);
	kv(o, "sources_live", c->sources_live);
}

static void nfq_counters(struct out *o, const struct cxd_nfq_stats *s)
{
	kv(o, "nfq_packets", s->packets);
	kv(o, "nfq_bytes", s->bytes);
	kv(o, "nfq_accepted", s->accepted);
	kv(o, "nfq_dropped", s->dropped);
	kv(o, "nfq_verdict_msgs", s->verdict_msgs);
	kv(o, "nfq_verdict_sends", s->verdict_sends);
	kv(o, "nfq_enobufs", s->enobufs);
	kv(o, "nfq_truncated", s->truncated);
	kv(o, "nfq_malformed", s->malformed);
	kv(o, "nfq_nl_errors", s->nl_errors);
}

static void peers(struct out *o, const struct aud_tun *t)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned int i;

	if (o->json)
		put(o, ",\"peers\":[");
	for (i = 0; i < t->n_peers; i++) {
		const struct aud_tun_peer *p = &t->peers[i];

		inet_ntop(p->cfg->family, p->cfg->addr, addr, sizeof(addr));
		if (o->json)
			put(o, "%s{\"host_id\":%" PRIu32 ",\"address\":\"%s\","
			    "\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ","
			    "\"ce_bytes\":%" PRIu64 ",\"guests\":%" PRIu32 ","
			    "\"guests_full\":%" PRIu64 ",\"feedback_sent\":%" PRIu64
			    ",\"feedback_errors\":%" PRIu64 ",\"seq\":%" PRIu64 "}",
			    i ? "," : "", p->cfg->host_id, addr, p->packets,
			    p->bytes, p->ce_bytes, p->n_guests, p->guests_full,
			    p->fb_sent, p->fb_errors, p->seq);
		else
			put(o, "peer %" PRIu32 " %s packets %" PRIu64 " bytes %"
			    PRIu64 " ce_bytes %" PRIu64 " guests %" PRIu32
			    " guests_full %" PRIu64 " feedback_sent %" PRIu64
			    " feedback_errors %" PRIu64 "\n", p->cfg->host_id,
			    addr, p->packets, p->bytes, p->ce_bytes, p->n_guests,
			    p->guests_full, p->fb_sent, p->fb_errors);
	}
	if (o->json)
		put(o, "]");
}

int aud_stats_format(const struct auditor *a, uint64_t now_ns, int json,
		     char *buf, size_t len)
{
	struct out o = { .buf = buf, .len = len, .json = json };
	struct cx_audit_counters c;
	uint64_t fb_sent = 0, fb_errors = 0;
	unsigned int i;

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	cx_audit_counters(a->audit, &c);
	for (i = 0; i < a->tun.n_peers; i++) {
		fb_sent += a->tun.peers[i].fb_sent;
		fb_errors += a->tun.peers[i].fb_errors;
	}
	if (json)
		put(&o, "{");
	kv(&o, "uptime_ms", (now_ns - a->start_mono_ns) / 1000000ULL);
	kv(&o, "queue", a->cfg.queue);
	kv(&o, "fail_open", a->cfg.fail_open);
	kv(&o, "guests", a->cfg.n_guests);
	audit_counters(&o, &c);
	kv(&o, "audited", a->st.audited);
	kv(&o, "parse_errors", a->st.parse_errors);
	kv(&o, "tcp_malformed", a->st.tcp_malformed);
	kv(&o, "other_hook", a->st.other_hook);
	kv(&o, "unknown_outdev", a->st.unknown_outdev);
	kv(&o, "tunnel_inner", a->st.tunnel_inner);
	kv(&o, "sanction_logs", a->st.sanction_logs);
	nfq_counters(&o, &a->nfq->st);
	kv(&o, "tunnel_packets", a->tun.st.packets);
	kv(&o, "tunnel_unknown_peer", a->tun.st.unknown_peer);
	kv(&o, "tunnel_not_vxlan", a->tun.st.not_vxlan);
	kv(&o, "tunnel_malformed", a->tun.st.malformed);
	kv(&o, "feedback_sent", fb_sent);
	kv(&o, "feedback_errors", fb_errors);
	peers(&o, &a->tun);
	if (json)
		put(&o, "}\n");
	if (o.full)
		return -ENOSPC;
	return (int)o.used;
}
