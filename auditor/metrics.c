/*
 * conex-auditor's metric families (see metrics.h), named by the
 * Prometheus conventions as conex-policer's are: counters end in _total
 * with their unit before it, gauges carry their unit and no _total. Every
 * series has host="ID" when host_id is set; the audit's counters are for
 * all guests together (the audit keys flows, not tenants), so per-tenant
 * series exist only as conex_auditor_guest_info, for joins.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "auditor.h"
#include "common/metrics.h"
#include "common/prom.h"
#include "metrics.h"
#include "common/nfacct.h"
#include "rules.h"

/* 64 peers of 7 families and the global families fit in a tenth of it. */
#define PAGE_MAX_BYTES		(256 * 1024)
#define HOST_STRLEN		11	/* a uint32_t in decimal, NUL */

struct fam {
	const char *name;
	const char *help;
	size_t off;		/* into struct cx_audit_counters */
};

/* A family of one sample per (label value, counter) row. */
struct split {
	const char *label;
	const char *value;
	size_t off;
};

static uint64_t at(const void *base, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)base + off, sizeof(v));
	return v;
}

#define C(f)	offsetof(struct cx_audit_counters, f)

static const struct fam counters[] = {
	{ "conex_auditor_packets_total", "Packets audited.", C(packets) },
	{ "conex_auditor_bytes_total", "Bytes audited.", C(bytes) },
	{ "conex_auditor_passed_packets_total", "Audited packets passed.", C(passed) },
	{ "conex_auditor_dropped_bytes_total", "Bytes of packets dropped by sanctions.",
	  C(dropped_bytes) },
	{ "conex_auditor_ce_packets_total", "Packets arriving CE-marked.", C(ce_packets) },
	{ "conex_auditor_ce_bytes_total", "Bytes arriving CE-marked.", C(ce_bytes) },
	{ "conex_auditor_ce_and_marked_packets_total",
	  "Packets both CE and ConEx-marked (both counted).", C(ce_marked) },
	{ "conex_auditor_reordered_bytes_total",
	  "Hole fills judged reordering, not loss.", C(reorder_bytes) },
	{ "conex_auditor_self_drop_refills_total",
	  "Refills not counted as loss: the audit's own drops.", C(self_drop_refills) },
	{ "conex_auditor_flows_created_total", "Audited flows created.", C(flows_created) },
	{ "conex_auditor_flows_ended_total", "Audited flows that ended (FIN or RST).",
	  C(flows_ended) },
	{ "conex_auditor_flows_evicted_total", "Audited flows evicted to make room.",
	  C(flows_evicted) },
	{ "conex_auditor_flows_aged_total",
	  "Of the evicted flows, those in debt but idle (their debt went to their source).",
	  C(flows_aged) },
	{ "conex_auditor_flow_table_full_total",
	  "Flows not given state: flow table full (audited in the aggregate).",
	  C(table_full) },
	{ "conex_auditor_source_flows_full_total",
	  "Flows not given state: their source holds its share of the flow table.",
	  C(source_flows_full) },
	{ "conex_auditor_source_overflow_packets_total",
	  "Packets of sources refused a record (source table full of debtors), "
	  "audited in the shared overflow account.", C(source_overflow) },
	{ "conex_auditor_debt_to_source_total",
	  "Flows that went leaving debt with their source.", C(debt_to_source) },
	{ "conex_auditor_debt_to_source_bytes_total",
	  "Bytes of debt flows left with their source.", C(debt_to_source_bytes) },
	{ "conex_auditor_debt_inherited_total",
	  "New flows of a source in debt (they share its sanction).",
	  C(debt_inherited) },
	{ "conex_auditor_debt_inherited_bytes_total",
	  "Their sources' debt when they started.", C(debt_inherited_bytes) },
	{ "conex_auditor_debt_capped_bytes_total",
	  "Source debt beyond the cap, forgotten.", C(debt_capped_bytes) },
};

static const struct fam gauges[] = {
	{ "conex_auditor_flows", "Audited flows held now.", C(flows_live) },
	{ "conex_auditor_sources", "Source accounts held now.", C(sources_live) },
};

static const struct {
	const char *name;
	const char *help;
	struct split rows[6];
	size_t n;
} splits[] = {
	{ "conex_auditor_dropped_packets_total",
	  "Packets dropped by a sanction, by whose: the flow's own, its source's "
	  "(source), or of a packet without flow state (aggregate).",
	  { { "reason", "flow", C(flow_drops) },
	    { "reason", "source", C(source_drops) },
	    { "reason", "aggregate", C(agg_drops) } }, 3 },
	/* RFC 7713 §2.1: Not-ConEx, ConEx-Not-Marked, ConEx-Marked. */
	{ "conex_auditor_classified_packets_total",
	  "Audited packets by ConEx class; the classes sum to all packets.",
	  { { "class", "not_conex", C(not_conex) },
	    { "class", "conex_not_marked", C(conex_not_marked) },
	    { "class", "conex_marked", C(conex_marked) } }, 3 },
	/* RFC 7837 §4: each flag counts the bytes of a marked packet. */
	{ "conex_auditor_declared_bytes_total",
	  "ConEx-declared bytes, once per flag (L, E, C).",
	  { { "flag", "L", C(l_bytes) }, { "flag", "E", C(e_bytes) },
	    { "flag", "C", C(c_bytes) } }, 3 },
	{ "conex_auditor_loss_bytes_total",
	  "Bytes seen lost (sequence holes), by where audited.",
	  { { "scope", "flow", C(flow_loss_bytes) },
	    { "scope", "aggregate", C(agg_loss_bytes) } }, 2 },
	{ "conex_auditor_audited_packets_total",
	  "Packets by where audited: per flow, or without flow state in their "
	  "source's account (aggregate).",
	  { { "scope", "flow", C(flow_packets) },
	    { "scope", "aggregate", C(agg_packets) } }, 2 },
	{ "conex_auditor_sanctions_started_total",
	  "Sanctions started, of a flow, of a source's account or of the "
	  "overflow account.",
	  { { "scope", "flow", C(sanction_starts) },
	    { "scope", "source", C(source_sanctions) },
	    { "scope", "overflow", C(overflow_sanctions) } }, 3 },
	{ "conex_auditor_sanctions_ended_total",
	  "Sanctions ended, of a flow, of a source's account or of the "
	  "overflow account.",
	  { { "scope", "flow", C(sanction_ends) },
	    { "scope", "source", C(source_sanction_ends) },
	    { "scope", "overflow", C(overflow_sanction_ends) } }, 3 },
	{ "conex_auditor_anomalies_total",
	  "Packets with something odd about their ConEx or sequence fields, by reason.",
	  { { "reason", "x0_with_flags", C(x0_with_flags) },
	    { "reason", "reserved_set", C(reserved_set) },
	    { "reason", "multicast_cdo", C(mcast_cdo) },
	    { "reason", "non_first_fragment", C(non_first_frag) },
	    { "reason", "rf_non_atomic", C(rf_non_atomic) },
	    { "reason", "not_conex_in_flow", C(not_conex_in_flow) } }, 6 },
	{ "conex_auditor_sequence_anomalies_total",
	  "Sequence events the audit ignored or bounded, by reason.",
	  { { "reason", "seq_jump", C(seq_jumps) },
	    { "reason", "hole_capped", C(holes_capped) } }, 2 },
};

#undef C

static size_t host_label(struct cxd_prom_label *lv, const char *host)
{
	if (host[0] == '\0')
		return 0;
	lv[0] = (struct cxd_prom_label){ "host", host };
	return 1;
}

static void one(struct cxd_prom *p, const char *name, enum cxd_prom_type type,
		const char *help, const char *host, uint64_t v)
{
	struct cxd_prom_label lv[1];

	cxd_prom_family(p, name, type, help);
	cxd_prom_u64(p, name, lv, host_label(lv, host), v);
}

static void by(struct cxd_prom *p, const char *name, const char *help,
	       const char *host, const char *label, const char *const *values,
	       const uint64_t *v, size_t n)
{
	struct cxd_prom_label lv[2];
	size_t i, k;

	cxd_prom_family(p, name, CXD_PROM_COUNTER, help);
	for (i = 0; i < n; i++) {
		k = host_label(lv, host);
		lv[k++] = (struct cxd_prom_label){ label, values[i] };
		cxd_prom_u64(p, name, lv, k, v[i]);
	}
}

static void audit(struct cxd_prom *p, const struct cx_audit_counters *c,
		  const char *host)
{
	struct cxd_prom_label lv[2];
	size_t i, j, k;

	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		one(p, counters[i].name, CXD_PROM_COUNTER, counters[i].help, host,
		    at(c, counters[i].off));
	for (i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++)
		one(p, gauges[i].name, CXD_PROM_GAUGE, gauges[i].help, host,
		    at(c, gauges[i].off));
	for (i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
		cxd_prom_family(p, splits[i].name, CXD_PROM_COUNTER, splits[i].help);
		for (j = 0; j < splits[i].n; j++) {
			k = host_label(lv, host);
			lv[k++] = (struct cxd_prom_label){ splits[i].rows[j].label,
							   splits[i].rows[j].value };
			cxd_prom_u64(p, splits[i].name, lv, k,
				     at(c, splits[i].rows[j].off));
		}
	}
}

/* Per peer policer host: what came through its tunnel, what we told it. */
static void peers(struct cxd_prom *p, const struct aud_tun *t, const char *host)
{
	static const struct {
		const char *name;
		const char *help;
		size_t off;
		enum cxd_prom_type type;
	} fams[] = {
		{ "conex_auditor_peer_packets_total",
		  "Tunnelled packets from the peer host.",
		  offsetof(struct aud_tun_peer, packets), CXD_PROM_COUNTER },
		{ "conex_auditor_peer_bytes_total",
		  "Inner bytes tunnelled from the peer host.",
		  offsetof(struct aud_tun_peer, bytes), CXD_PROM_COUNTER },
		{ "conex_auditor_peer_ce_bytes_total",
		  "Inner bytes from the peer host whose outer header arrived CE.",
		  offsetof(struct aud_tun_peer, ce_bytes), CXD_PROM_COUNTER },
		{ "conex_auditor_peer_feedback_messages_total",
		  "Feedback messages sent to the peer's policer.",
		  offsetof(struct aud_tun_peer, fb_sent), CXD_PROM_COUNTER },
		{ "conex_auditor_peer_feedback_errors_total",
		  "Feedback messages to the peer that could not be sent.",
		  offsetof(struct aud_tun_peer, fb_errors), CXD_PROM_COUNTER },
		{ "conex_auditor_peer_guests_full_total",
		  "Packets of guests the peer's guest table could not hold.",
		  offsetof(struct aud_tun_peer, guests_full), CXD_PROM_COUNTER },
	};
	char ids[HOST_STRLEN], addr[INET6_ADDRSTRLEN];
	struct cxd_prom_label lv[3];
	const char *name;
	size_t f, k;
	unsigned int i;

	for (f = 0; f <= sizeof(fams) / sizeof(fams[0]); f++) {
		name = f < sizeof(fams) / sizeof(fams[0]) ? fams[f].name :
		       "conex_auditor_peer_guests";
		if (f < sizeof(fams) / sizeof(fams[0]))
			cxd_prom_family(p, name, fams[f].type, fams[f].help);
		else
			cxd_prom_family(p, name, CXD_PROM_GAUGE,
					"Guests of the peer host with feedback state.");
		for (i = 0; i < t->n_peers; i++) {
			const struct aud_tun_peer *pe = &t->peers[i];

			snprintf(ids, sizeof(ids), "%u", pe->cfg->host_id);
			if (inet_ntop(pe->cfg->family, pe->cfg->addr, addr,
				      sizeof(addr)) == NULL)
				addr[0] = '\0';
			k = host_label(lv, host);
			lv[k++] = (struct cxd_prom_label){ "peer", ids };
			lv[k++] = (struct cxd_prom_label){ "address", addr };
			cxd_prom_u64(p, name, lv, k, f < sizeof(fams) / sizeof(fams[0]) ?
				     at(pe, fams[f].off) : pe->n_guests);
		}
	}
}

int aud_metrics_format(const struct auditor *a, uint64_t now_ns, char *buf,
		       size_t len)
{
	static const char *const dp_reasons[] = {
		"tcp_malformed", "other_hook", "unknown_outdev", "tunnel_inner",
	};
	static const char *const drop_reasons[] = { "unreadable", "tunnel_refused" };
	static const char *const tun_reasons[] = {
		"unknown_peer", "not_vxlan", "malformed",
	};
	static const char *const reload_results[] = { "ok", "error" };
	const struct cxd_nfq_stats *q = &a->nfq->st;
	char host[HOST_STRLEN] = "";
	struct cx_audit_counters c;
	struct cxd_metrics_stats ms;
	struct cxd_prom_label lv[3];
	struct cxd_prom p;
	const char *name;
	unsigned int i;
	size_t k;

	if (a->cfg.host_id != 0)
		snprintf(host, sizeof(host), "%u", a->cfg.host_id);
	cx_audit_counters(a->audit, &c);
	cxd_prom_init(&p, buf, len);
	one(&p, "conex_auditor_uptime_seconds", CXD_PROM_GAUGE,
	    "Seconds since the auditor started.", host,
	    (now_ns - a->start_mono_ns) / 1000000000ULL);
	one(&p, "conex_auditor_guests", CXD_PROM_GAUGE, "Guest interfaces configured.",
	    host, a->cfg.n_guests);
	name = "conex_auditor_guest_info";
	cxd_prom_family(&p, name, CXD_PROM_GAUGE,
			"1 for each configured guest interface, with its tenant.");
	for (i = 0; i < a->cfg.n_guests; i++) {
		k = host_label(lv, host);
		lv[k++] = (struct cxd_prom_label){ "guest", a->cfg.guests[i].ifname };
		lv[k++] = (struct cxd_prom_label){ "tenant", a->cfg.guests[i].tenant };
		cxd_prom_u64(&p, name, lv, k, 1);
	}
	audit(&p, &c, host);
	{
		const uint64_t v[] = { a->st.tcp_malformed, a->st.other_hook,
				       a->st.unknown_outdev, a->st.tunnel_inner };
		const uint64_t d[] = { a->st.parse_errors, a->st.tunnel_refused };

		by(&p, "conex_auditor_unaudited_packets_total",
		   "Packets passed without (full) audit, by reason.", host, "reason",
		   dp_reasons, v, sizeof(v) / sizeof(v[0]));
		by(&p, "conex_auditor_refused_packets_total",
		   "Packets dropped unaudited, by reason (unreadable headers; VXLAN "
		   "not from a configured peer, or malformed).", host, "reason",
		   drop_reasons, d, sizeof(d) / sizeof(d[0]));
	}
	one(&p, "conex_auditor_queue_packets_total", CXD_PROM_COUNTER,
	    "Packets received from NFQUEUE.", host, q->packets);
	one(&p, "conex_auditor_queue_bypassed_packets_total", CXD_PROM_COUNTER,
	    "Packets the rules queued that the kernel passed without the "
	    "auditor (fail-open: queue full or no listener): unaudited.", host,
	    cxd_nfacct_bypassed(cxd_nfacct_queued(AUD_NFACCT), q->packets));
	one(&p, "conex_auditor_queue_bytes_total", CXD_PROM_COUNTER,
	    "Bytes received from NFQUEUE.", host, q->bytes);
	one(&p, "conex_auditor_queue_accepted_packets_total", CXD_PROM_COUNTER,
	    "NFQUEUE verdicts: accept.", host, q->accepted);
	one(&p, "conex_auditor_queue_dropped_packets_total", CXD_PROM_COUNTER,
	    "NFQUEUE verdicts: drop.", host, q->dropped);
	one(&p, "conex_auditor_queue_enobufs_total", CXD_PROM_COUNTER,
	    "Times the kernel's queue overflowed (ENOBUFS): packets lost unseen.",
	    host, q->enobufs);
	one(&p, "conex_auditor_queue_netlink_errors_total", CXD_PROM_COUNTER,
	    "Netlink errors on the queue socket.", host, q->nl_errors);
	one(&p, "conex_auditor_tunnel_packets_total", CXD_PROM_COUNTER,
	    "Packets examined as tunnel traffic from peer hosts.", host,
	    a->tun.st.packets);
	{
		const uint64_t v[] = { a->tun.st.unknown_peer, a->tun.st.not_vxlan,
				       a->tun.st.malformed };

		by(&p, "conex_auditor_tunnel_ignored_packets_total",
		   "Tunnel-hook packets not counted for feedback, by reason.", host,
		   "reason", tun_reasons, v, 3);
	}
	peers(&p, &a->tun, host);
	{
		const uint64_t v[] = { a->reloads, a->reload_errors };

		by(&p, "conex_auditor_reloads_total",
		   "Configuration reloads, by result (ok, error: refused).", host,
		   "result", reload_results, v, 2);
	}
	cxd_metrics_feed_stats(a->metrics, &ms);
	one(&p, "conex_auditor_metrics_connections_total", CXD_PROM_COUNTER,
	    "Connections accepted by this /metrics endpoint.", host, ms.accepted);
	one(&p, "conex_auditor_metrics_refused_connections_total", CXD_PROM_COUNTER,
	    "Connections to /metrics closed unserved for want of room (the one "
	    "reading its request the longest goes first).", host, ms.refused);
	one(&p, "conex_auditor_metrics_timed_out_connections_total", CXD_PROM_COUNTER,
	    "Connections to /metrics closed at their deadline: the request not "
	    "in 2 s, or the reply not out 10 s, after the accept.", host,
	    ms.timed_out);
	return cxd_prom_end(&p);
}

/* The page as common/metrics.c asks for it. */
static int page(const void *arg, uint64_t now_ns, char *buf, size_t len)
{
	return aud_metrics_format(arg, now_ns, buf, len);
}

int aud_metrics_start(struct auditor *a, uint64_t now_ns)
{
	return cxd_metrics_start(&a->metrics, &a->cfg.metrics, PAGE_MAX_BYTES,
				 page, a, now_ns);
}
