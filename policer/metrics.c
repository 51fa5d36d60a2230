/*
 * conex-policer's metric families (see metrics.h). Names follow the
 * Prometheus conventions: a counter ends in _total with its unit before
 * it (_bytes_total, _packets_total), a gauge carries its unit and no
 * _total, ratios are 0..1. Every per-tenant series has tenant="NAME" and,
 * when host_id is set, host="ID".
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bank.h"
#include "common/metrics.h"
#include "common/prom.h"
#include "metrics.h"
#include "policer.h"
#include "common/nfacct.h"
#include "net.h"

/*
 * About 200 bytes per sample line with the longest names and labels;
 * formatting 64 tenants (once a second) takes tens of microseconds.
 */
#define PAGE_MAX_BYTES		(512 * 1024)
#define HOST_STRLEN		11	/* a uint32_t in decimal, NUL */

/* Where a per-tenant family's value comes from. */
enum tenant_value {
	TV_ALLOWANCE,		/* configured, bits per second */
	TV_BURST,		/* configured, bytes */
	TV_PEAK_RATE,		/* of the bucket, bits per second */
	TV_TOKENS,		/* bucket level now, bytes, may be negative */
	TV_PEAK_TOKENS,		/* peak-rate bucket level now, bytes */
	TV_DROP_P,		/* 0..1 */
	TV_OVER,		/* 0 or 1 */
	TV_OVER_S,		/* seconds */
	TV_RT,			/* uint64_t at off in struct pol_tenant_rt */
	TV_BUCKET,		/* uint64_t at off in struct cx_police_counters */
};

#define RT(f)		TV_RT, offsetof(struct pol_tenant_rt, f)
#define BUCKET(f)	TV_BUCKET, offsetof(struct cx_police_counters, f)

/* The families of one sample per tenant, in the page's order. */
static const struct tenant_family {
	const char *name;
	enum cxd_prom_type type;
	const char *help;
	enum tenant_value value;
	size_t off;
} tenant_families[] = {
	{ "conex_policer_tenant_allowance_bits_per_second", CXD_PROM_GAUGE,
	  "Congestion allowance: congested bits per second the tenant may cause.",
	  TV_ALLOWANCE, 0 },
	{ "conex_policer_tenant_burst_bytes", CXD_PROM_GAUGE,
	  "Depth of the tenant's congestion bucket.", TV_BURST, 0 },
	{ "conex_policer_tenant_peak_bits_per_second", CXD_PROM_GAUGE,
	  "Peak congestion rate the tenant may reach.", TV_PEAK_RATE, 0 },
	{ "conex_policer_tenant_tokens_bytes", CXD_PROM_GAUGE,
	  "Level of the tenant's congestion bucket (negative: in debt).",
	  TV_TOKENS, 0 },
	{ "conex_policer_tenant_peak_tokens_bytes", CXD_PROM_GAUGE,
	  "Level of the tenant's peak-rate bucket.", TV_PEAK_TOKENS, 0 },
	{ "conex_policer_tenant_drop_probability", CXD_PROM_GAUGE,
	  "Probability (0..1) that the tenant's next packet is dropped.",
	  TV_DROP_P, 0 },
	{ "conex_policer_tenant_over", CXD_PROM_GAUGE,
	  "1 while the tenant's bucket is empty (being sanctioned), else 0.",
	  TV_OVER, 0 },
	{ "conex_policer_tenant_over_seconds_total", CXD_PROM_COUNTER,
	  "Time the tenant's bucket has spent empty.", TV_OVER_S, 0 },
	{ "conex_policer_tenant_packets_total", CXD_PROM_COUNTER,
	  "Packets from the tenant's guests seen by the policer.", RT(packets) },
	{ "conex_policer_tenant_bytes_total", CXD_PROM_COUNTER,
	  "Bytes from the tenant's guests seen by the policer.", RT(bytes) },
	{ "conex_policer_tenant_conex_packets_total", CXD_PROM_COUNTER,
	  "ConEx-capable packets (X set), forwarded directly.", RT(conex_packets) },
	{ "conex_policer_tenant_conex_bytes_total", CXD_PROM_COUNTER,
	  "Bytes of ConEx-capable packets.", RT(conex_bytes) },
	{ "conex_policer_tenant_forgiven_bytes_total", CXD_PROM_COUNTER,
	  "L-marked bytes not charged: re-echoes of the policer's own drops.",
	  RT(forgiven_bytes) },
	{ "conex_policer_tenant_tunnel_packets_total", CXD_PROM_COUNTER,
	  "Not-ConEx packets steered into the VXLAN fallback.", RT(tunnel_packets) },
	{ "conex_policer_tenant_tunnel_bytes_total", CXD_PROM_COUNTER,
	  "Bytes of Not-ConEx packets steered into the VXLAN fallback.",
	  RT(tunnel_bytes) },
	{ "conex_policer_tenant_feedback_bytes_total", CXD_PROM_COUNTER,
	  "Tunnelled bytes reported by the far auditors.", RT(feedback_bytes) },
	{ "conex_policer_tenant_feedback_ce_bytes_total", CXD_PROM_COUNTER,
	  "Tunnelled bytes the far auditors saw CE-marked.", RT(feedback_ce_bytes) },
	{ "conex_policer_tenant_feedback_lost_bytes_total", CXD_PROM_COUNTER,
	  "Tunnelled bytes the far auditors counted as lost.",
	  RT(feedback_lost_bytes) },
	{ "conex_policer_tenant_bank_grants_total", CXD_PROM_COUNTER,
	  "Token grants from the Redis bank for the tenant.", RT(bank_grants) },
	{ "conex_policer_tenant_bank_errors_total", CXD_PROM_COUNTER,
	  "Failed token requests to the Redis bank for the tenant.",
	  RT(bank_errors) },
	{ "conex_policer_tenant_bank_backoffs_total", CXD_PROM_COUNTER,
	  "Errors of the tenant's own at the bank (its key corrupt, an error "
	  "reply): each backs its requests off and runs it on bank_share.",
	  RT(bank_backoffs) },
	{ "conex_policer_tenant_charged_bytes_total", CXD_PROM_COUNTER,
	  "Bytes drained from the bucket for passed packets' ConEx marks: per "
	  "window, the larger of their credit and their re-echo.",
	  BUCKET(charged_bytes) },
	{ "conex_policer_tenant_feedback_drained_bytes_total", CXD_PROM_COUNTER,
	  "Congested bytes from tunnel feedback drained from the bucket.",
	  BUCKET(feedback_bytes) },
	{ "conex_policer_tenant_debt_capped_bytes_total", CXD_PROM_COUNTER,
	  "Bytes drained beyond the debt bound (-burst) and forgotten.",
	  BUCKET(debt_capped_bytes) },
	{ "conex_policer_tenant_granted_bytes_total", CXD_PROM_COUNTER,
	  "Tokens granted to the bucket by the bank.", BUCKET(granted_bytes) },
};

/* Families of one sample per tenant and drop reason (POL_DROP_*). */
static const struct {
	const char *name;
	const char *help;
	size_t off;		/* of a uint64_t[POL_DROP_COUNT] in pol_tenant_rt */
} drop_families[] = {
	{ "conex_policer_tenant_dropped_packets_total",
	  "Packets of the tenant dropped, by reason (police: empty bucket; "
	  "spoof: source address not the guest's; unreadable: not parsable; "
	  "protected: to the underlay or a protected prefix).",
	  offsetof(struct pol_tenant_rt, drops) },
	{ "conex_policer_tenant_dropped_bytes_total",
	  "Bytes of the tenant dropped, by reason.",
	  offsetof(struct pol_tenant_rt, dropped_bytes) },
};

static uint64_t at(const void *base, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)base + off, sizeof(v));
	return v;
}

/* The labels of tenant i: tenant, host if known, and room for one more. */
static size_t tenant_labels(const struct policer *pl, unsigned int i,
			    const char *host, struct cxd_prom_label lv[3])
{
	size_t n = 0;

	lv[n++] = (struct cxd_prom_label){ "tenant", pl->cfg.tenants[i].name };
	if (host[0] != '\0')
		lv[n++] = (struct cxd_prom_label){ "host", host };
	return n;
}

/* Tenant i's sample of family f. */
static void tenant_sample(struct cxd_prom *p, const struct tenant_family *f,
			  const struct policer *pl, unsigned int i,
			  uint64_t now_ns, const struct cxd_prom_label *lv,
			  size_t n)
{
	const struct cx_police_cfg *pc = &pl->cfg.tenants[i].police;
	const struct cx_police *pol = &pl->tenants[i].pol;

	switch (f->value) {
	case TV_ALLOWANCE:
		cxd_prom_u64(p, f->name, lv, n, pc->allowance_bps);
		break;
	case TV_BURST:
		cxd_prom_u64(p, f->name, lv, n, pc->burst_bytes);
		break;
	case TV_PEAK_RATE:
		cxd_prom_u64(p, f->name, lv, n, pol->peak.rate_bps);
		break;
	case TV_TOKENS:
		cxd_prom_i64(p, f->name, lv, n, cx_police_level_bytes(pol, now_ns));
		break;
	case TV_PEAK_TOKENS:
		cxd_prom_i64(p, f->name, lv, n, cx_police_peak_level_bytes(pol, now_ns));
		break;
	case TV_DROP_P:
		cxd_prom_f64(p, f->name, lv, n, cx_police_drop_ppm(pol, now_ns) / 1e6);
		break;
	case TV_OVER:
		cxd_prom_u64(p, f->name, lv, n, cx_police_is_over(pol, now_ns));
		break;
	case TV_OVER_S:
		cxd_prom_f64(p, f->name, lv, n, pol->c.over_ns / 1e9);
		break;
	case TV_RT:
		cxd_prom_u64(p, f->name, lv, n, at(&pl->tenants[i], f->off));
		break;
	case TV_BUCKET:
		cxd_prom_u64(p, f->name, lv, n, at(&pol->c, f->off));
		break;
	}
}

static void tenants(struct cxd_prom *p, const struct policer *pl,
		    uint64_t now_ns, const char *host)
{
	static const char *const drop_reason[POL_DROP_COUNT] = {
		[POL_DROP_POLICE] = "police",
		[POL_DROP_SPOOF] = "spoof",
		[POL_DROP_UNREADABLE] = "unreadable",
		[POL_DROP_PROTECTED] = "protected",
	};
	static const char *const flags[3] = { "L", "E", "C" };
	struct cxd_prom_label lv[3];
	const struct tenant_family *f;
	const struct pol_tenant_rt *t;
	const char *name;
	unsigned int i, k, r;
	size_t n;

	for (k = 0; k < sizeof(tenant_families) / sizeof(tenant_families[0]); k++) {
		f = &tenant_families[k];
		cxd_prom_family(p, f->name, f->type, f->help);
		for (i = 0; i < pl->cfg.n_tenants; i++) {
			n = tenant_labels(pl, i, host, lv);
			tenant_sample(p, f, pl, i, now_ns, lv, n);
		}
	}
	/* RFC 7837 §4: L, E and C each count the bytes of a marked packet. */
	name = "conex_policer_tenant_marked_bytes_total";
	cxd_prom_family(p, name, CXD_PROM_COUNTER,
			"ConEx-marked bytes sent by the tenant, once per flag (L, E, C).");
	for (i = 0; i < pl->cfg.n_tenants; i++) {
		t = &pl->tenants[i];
		const uint64_t v[3] = { t->l_bytes, t->e_bytes, t->c_bytes };

		for (k = 0; k < 3; k++) {
			n = tenant_labels(pl, i, host, lv);
			lv[n++] = (struct cxd_prom_label){ "flag", flags[k] };
			cxd_prom_u64(p, name, lv, n, v[k]);
		}
	}
	for (k = 0; k < sizeof(drop_families) / sizeof(drop_families[0]); k++) {
		name = drop_families[k].name;
		cxd_prom_family(p, name, CXD_PROM_COUNTER, drop_families[k].help);
		for (i = 0; i < pl->cfg.n_tenants; i++)
			for (r = 0; r < POL_DROP_COUNT; r++) {
				n = tenant_labels(pl, i, host, lv);
				lv[n++] = (struct cxd_prom_label){ "reason", drop_reason[r] };
				cxd_prom_u64(p, name, lv, n,
					     at(&pl->tenants[i], drop_families[k].off +
						r * sizeof(uint64_t)));
			}
	}
}

/* A family of one sample, labelled with host only. */
static void one(struct cxd_prom *p, const char *name, enum cxd_prom_type type,
		const char *help, const char *host, uint64_t v)
{
	const struct cxd_prom_label lv[1] = { { "host", host } };

	cxd_prom_family(p, name, type, help);
	cxd_prom_u64(p, name, lv, host[0] ? 1 : 0, v);
}

/* A family of one sample per reason. */
static void by_reason(struct cxd_prom *p, const char *name, const char *help,
		      const char *host, const char *const *reasons,
		      const uint64_t *v, size_t n)
{
	struct cxd_prom_label lv[2];
	size_t i, k;

	cxd_prom_family(p, name, CXD_PROM_COUNTER, help);
	for (i = 0; i < n; i++) {
		k = 0;
		if (host[0])
			lv[k++] = (struct cxd_prom_label){ "host", host };
		lv[k++] = (struct cxd_prom_label){ "reason", reasons[i] };
		cxd_prom_u64(p, name, lv, k, v[i]);
	}
}

int pol_metrics_format(const struct policer *pl, uint64_t now_ns, char *buf,
		       size_t len)
{
	static const char *const fb_reasons[CX_FB_EV_COUNT] = {
		[CX_FB_EV_ACCEPTED] = "accepted",
		[CX_FB_EV_REPLAYED] = "replayed",
		[CX_FB_EV_REGRESSED] = "regressed",
		[CX_FB_EV_TABLE_FULL] = "table_full",
		[CX_FB_EV_TRUNCATED] = "truncated",
		[CX_FB_EV_MALFORMED] = "malformed",
		[CX_FB_EV_BAD_VERSION] = "bad_version",
		[CX_FB_EV_BAD_TAG] = "bad_tag",
		[CX_FB_EV_UNKNOWN_HOST] = "unknown_host",
		[CX_FB_EV_LOCAL] = "local_error",
	};
	static const char *const ignored[] = { "unknown_indev", "other_hook" };
	static const char *const fb_other[] = { "wrong_source", "unknown_guest" };
	static const char *const reload_results[] = { "ok", "error" };
	const struct cxd_nfq_stats *q = &pl->nfq->st;
	char host[HOST_STRLEN] = "";
	struct cxd_metrics_stats ms;
	struct cxp_bank_stats bs;
	struct cxd_prom p;

	if (pl->cfg.host_id != 0)
		snprintf(host, sizeof(host), "%u", pl->cfg.host_id);
	memset(&bs, 0, sizeof(bs));
	if (pl->bank)
		cxp_bank_stats(pl->bank, &bs);
	cxd_prom_init(&p, buf, len);
	one(&p, "conex_policer_uptime_seconds", CXD_PROM_GAUGE,
	    "Seconds since the policer started.", host,
	    (now_ns - pl->start_mono_ns) / 1000000000ULL);
	one(&p, "conex_policer_tenants", CXD_PROM_GAUGE, "Tenants configured.",
	    host, pl->cfg.n_tenants);
	one(&p, "conex_policer_guests", CXD_PROM_GAUGE, "Guest interfaces configured.",
	    host, pl->cfg.n_guests);
	tenants(&p, pl, now_ns, host);
	{
		const uint64_t v[] = { pl->st.unknown_indev, pl->st.other_hook };

		by_reason(&p, "conex_policer_ignored_packets_total",
			  "Packets passed unpoliced, by reason.", host, ignored, v, 2);
	}
	one(&p, "conex_policer_mark_fixes_total", CXD_PROM_COUNTER,
	    "Packets whose tunnel fwmark the policer corrected.", host, pl->st.mark_fixes);
	one(&p, "conex_policer_queue_packets_total", CXD_PROM_COUNTER,
	    "Packets received from NFQUEUE.", host, q->packets);
	one(&p, "conex_policer_queue_bypassed_packets_total", CXD_PROM_COUNTER,
	    "Packets the hook queued that the kernel passed without the policer "
	    "(fail-open: queue full or no listener): unpoliced.", host,
	    cxd_nfacct_bypassed(cxd_nfacct_queued(POL_NET_NFACCT), q->packets));
	one(&p, "conex_policer_queue_bytes_total", CXD_PROM_COUNTER,
	    "Bytes received from NFQUEUE.", host, q->bytes);
	one(&p, "conex_policer_queue_accepted_packets_total", CXD_PROM_COUNTER,
	    "NFQUEUE verdicts: accept.", host, q->accepted);
	one(&p, "conex_policer_queue_dropped_packets_total", CXD_PROM_COUNTER,
	    "NFQUEUE verdicts: drop.", host, q->dropped);
	one(&p, "conex_policer_queue_enobufs_total", CXD_PROM_COUNTER,
	    "Times the kernel's queue overflowed (ENOBUFS): packets lost unseen.",
	    host, q->enobufs);
	one(&p, "conex_policer_queue_netlink_errors_total", CXD_PROM_COUNTER,
	    "Netlink errors on the queue socket.", host, q->nl_errors);
	one(&p, "conex_policer_feedback_datagrams_total", CXD_PROM_COUNTER,
	    "Feedback datagrams received from auditors.", host, pl->st.fb_datagrams);
	by_reason(&p, "conex_policer_feedback_messages_total",
		  "Feedback messages and entries by outcome (accepted, or why not).",
		  host, fb_reasons, pl->fb_stats.n, CX_FB_EV_COUNT);
	{
		const uint64_t v[] = { pl->st.fb_wrong_source, pl->st.fb_unknown_guest };

		by_reason(&p, "conex_policer_feedback_ignored_total",
			  "Authentic feedback not applied, by reason.", host, fb_other, v, 2);
	}
	one(&p, "conex_policer_feedback_receive_errors_total", CXD_PROM_COUNTER,
	    "Errors receiving on the feedback socket.", host, pl->st.fb_errors);
	one(&p, "conex_policer_bank_up", CXD_PROM_GAUGE,
	    "1 while the Redis token bank is configured and reachable.", host,
	    pl->bank && cxp_bank_state(pl->bank) == CXP_BANK_UP);
	one(&p, "conex_policer_bank_requests_total", CXD_PROM_COUNTER,
	    "Token requests sent to the bank.", host, bs.requests);
	one(&p, "conex_policer_bank_grants_total", CXD_PROM_COUNTER,
	    "Token grants received from the bank.", host, bs.grants);
	one(&p, "conex_policer_bank_granted_bytes_total", CXD_PROM_COUNTER,
	    "Tokens received from the bank.", host, bs.granted_bytes);
	one(&p, "conex_policer_bank_errors_total", CXD_PROM_COUNTER,
	    "Failed bank requests.", host, bs.errors);
	one(&p, "conex_policer_bank_corrupt_keys_total", CXD_PROM_COUNTER,
	    "Bank requests that found the tenant's key corrupt (left as it is).",
	    host, bs.corrupt);
	one(&p, "conex_policer_bank_backoffs_total", CXD_PROM_COUNTER,
	    "Tenant backoffs started or extended after a failed bank request.",
	    host, bs.backoffs);
	one(&p, "conex_policer_bank_auth_failures_total", CXD_PROM_COUNTER,
	    "Bank connections refused for their credentials.", host,
	    bs.auth_failures);
	one(&p, "conex_policer_bank_timeouts_total", CXD_PROM_COUNTER,
	    "Bank requests that timed out.", host, bs.timeouts);
	one(&p, "conex_policer_bank_reconnects_total", CXD_PROM_COUNTER,
	    "Reconnections to the bank.", host, bs.reconnects);
	one(&p, "conex_policer_bank_fallbacks_total", CXD_PROM_COUNTER,
	    "Times the bank was lost and buckets fell back to a static share.",
	    host, pl->st.bank_fallbacks);
	{
		const uint64_t v[] = { pl->st.reloads, pl->st.reload_errors };
		struct cxd_prom_label lv[2];
		const char *name = "conex_policer_reloads_total";
		size_t i, k;

		cxd_prom_family(&p, name, CXD_PROM_COUNTER,
				"Configuration reloads, by result (ok, error: refused).");
		for (i = 0; i < 2; i++) {
			k = 0;
			if (host[0])
				lv[k++] = (struct cxd_prom_label){ "host", host };
			lv[k++] = (struct cxd_prom_label){ "result", reload_results[i] };
			cxd_prom_u64(&p, name, lv, k, v[i]);
		}
	}
	one(&p, "conex_policer_allowance_changes_total", CXD_PROM_COUNTER,
	    "Allowances changed at run time (set-allowance).", host,
	    pl->st.allowance_changes);
	cxd_metrics_feed_stats(pl->metrics, &ms);
	one(&p, "conex_policer_metrics_connections_total", CXD_PROM_COUNTER,
	    "Connections accepted by this /metrics endpoint.", host, ms.accepted);
	one(&p, "conex_policer_metrics_refused_connections_total", CXD_PROM_COUNTER,
	    "Connections to /metrics closed unserved for want of room (the one "
	    "reading its request the longest goes first).", host, ms.refused);
	one(&p, "conex_policer_metrics_timed_out_connections_total", CXD_PROM_COUNTER,
	    "Connections to /metrics closed at their deadline: the request not "
	    "in 2 s, or the reply not out 10 s, after the accept.", host,
	    ms.timed_out);
	return cxd_prom_end(&p);
}

/* The page as common/metrics.c asks for it. */
static int page(const void *arg, uint64_t now_ns, char *buf, size_t len)
{
	return pol_metrics_format(arg, now_ns, buf, len);
}

int pol_metrics_start(struct policer *pl, uint64_t now_ns)
{
	return cxd_metrics_start(&pl->metrics, &pl->cfg.metrics, PAGE_MAX_BYTES,
				 page, pl, now_ns);
}
