/*
 * conex-policer's metric families (see metrics.h). Names follow the
 * Prometheus conventions: a counter ends in _total with its unit before
 * it (_bytes_total, _packets_total), a gauge carries its unit and no
 * _total, ratios are 0..1. Every per-tenant series has tenant="NAME" and,
 * when host_id is set, host="ID".
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <conex/log.h>

#include "bank.h"
#include "common/metrics.h"
#include "common/prom.h"
#include "metrics.h"
#include "policer.h"

/*
 * Once a second: Prometheus scrapes every 15 s by default, 1 s at the
 * finest that is useful; formatting 64 tenants takes tens of microseconds.
 */
#define REFRESH_NS		1000000000ULL
/* About 200 bytes per sample line with the longest names and labels. */
#define PAGE_MAX_BYTES		(512 * 1024)
#define HOST_STRLEN		11	/* a uint32_t in decimal, NUL */

struct pol_metrics {
	struct cxd_metrics *srv;
	char *page;
	uint64_t next_ns;
	bool warned;		/* a page did not fit or failed: said once */
};

/* Counters kept in struct pol_tenant_rt, one family each. */
static const struct {
	const char *name;
	const char *help;
	size_t off;
} tenant_counters[] = {
	{ "conex_policer_tenant_packets_total",
	  "Packets from the tenant's guests seen by the policer.",
	  offsetof(struct pol_tenant_rt, packets) },
	{ "conex_policer_tenant_bytes_total",
	  "Bytes from the tenant's guests seen by the policer.",
	  offsetof(struct pol_tenant_rt, bytes) },
	{ "conex_policer_tenant_conex_packets_total",
	  "ConEx-capable packets (X set), forwarded directly.",
	  offsetof(struct pol_tenant_rt, conex_packets) },
	{ "conex_policer_tenant_conex_bytes_total",
	  "Bytes of ConEx-capable packets.",
	  offsetof(struct pol_tenant_rt, conex_bytes) },
	{ "conex_policer_tenant_forgiven_bytes_total",
	  "L-marked bytes not charged: re-echoes of the policer's own drops.",
	  offsetof(struct pol_tenant_rt, forgiven_bytes) },
	{ "conex_policer_tenant_tunnel_packets_total",
	  "Not-ConEx packets steered into the VXLAN fallback.",
	  offsetof(struct pol_tenant_rt, tunnel_packets) },
	{ "conex_policer_tenant_tunnel_bytes_total",
	  "Bytes of Not-ConEx packets steered into the VXLAN fallback.",
	  offsetof(struct pol_tenant_rt, tunnel_bytes) },
	{ "conex_policer_tenant_feedback_bytes_total",
	  "Tunnelled bytes reported by the far auditors.",
	  offsetof(struct pol_tenant_rt, feedback_bytes) },
	{ "conex_policer_tenant_feedback_ce_bytes_total",
	  "Tunnelled bytes the far auditors saw CE-marked.",
	  offsetof(struct pol_tenant_rt, feedback_ce_bytes) },
	{ "conex_policer_tenant_feedback_lost_bytes_total",
	  "Tunnelled bytes the far auditors counted as lost.",
	  offsetof(struct pol_tenant_rt, feedback_lost_bytes) },
	{ "conex_policer_tenant_bank_grants_total",
	  "Token grants from the Redis bank for the tenant.",
	  offsetof(struct pol_tenant_rt, bank_grants) },
	{ "conex_policer_tenant_bank_errors_total",
	  "Failed token requests to the Redis bank for the tenant.",
	  offsetof(struct pol_tenant_rt, bank_errors) },
};

/* Counters of the tenant's bucket, struct cx_police_counters. */
static const struct {
	const char *name;
	const char *help;
	size_t off;
} bucket_counters[] = {
	{ "conex_policer_tenant_charged_bytes_total",
	  "ConEx-marked bytes drained from the bucket by passed packets.",
	  offsetof(struct cx_police_counters, marked_bytes) },
	{ "conex_policer_tenant_feedback_drained_bytes_total",
	  "Congested bytes from tunnel feedback drained from the bucket.",
	  offsetof(struct cx_police_counters, feedback_bytes) },
	{ "conex_policer_tenant_debt_capped_bytes_total",
	  "Bytes drained beyond the debt bound (-burst) and forgotten.",
	  offsetof(struct cx_police_counters, debt_capped_bytes) },
	{ "conex_policer_tenant_granted_bytes_total",
	  "Tokens granted to the bucket by the bank.",
	  offsetof(struct cx_police_counters, granted_bytes) },
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

static void tenants(struct cxd_prom *p, const struct policer *pl,
		    uint64_t now_ns, const char *host)
{
	static const char *const drop_reason[POL_DROP_COUNT] = {
		[POL_DROP_POLICE] = "police",
		[POL_DROP_SPOOF] = "spoof",
	};
	static const char *const flags[3] = { "L", "E", "C" };
	struct cxd_prom_label lv[3];
	const struct pol_tenant_rt *t;
	const char *name;
	unsigned int i, k;
	size_t n;

	name = "conex_policer_tenant_allowance_bits_per_second";
	cxd_prom_family(p, name, CXD_PROM_GAUGE,
			"Congestion allowance: congested bits per second the tenant may cause.");
	for (i = 0; i < pl->cfg.n_tenants; i++) {
		n = tenant_labels(pl, i, host, lv);
		cxd_prom_u64(p, name, lv, n, pl->cfg.tenants[i].police.allowance_bps);
	}
	name = "conex_policer_tenant_burst_bytes";
	cxd_prom_family(p, name, CXD_PROM_GAUGE, "Depth of the tenant's congestion bucket.");
	for (i = 0; i < pl->cfg.n_tenants; i++) {
		n = tenant_labels(pl, i, host, lv);
		cxd_prom_u64(p, name, lv, n, pl->cfg.tenants[i].police.burst_bytes);
	}
	name = "conex_policer_tenant_peak_bits_per_second";
	cxd_prom_family(p, name, CXD_PROM_GAUGE, "Peak congestion rate the tenant may reach.");
	for (i = 0; i < pl->cfg.n_tenants; i++) {
		n = tenant_labels(pl, i, host, lv);
		cxd_prom_u64(p, name, lv, n, pl->tenants[i].pol.peak.rate_bps);
	}
	name = "conex_policer_tenant_tokens_bytes";
	cxd_prom_family(p, name, CXD_PROM_GAUGE,
			"Level of the tenant's congestion bucket (negative: in debt).");
	for (i = 0; i < pl->cfg.n_tenants; i++) {
		n = tenant_labels(pl, i, host, lv);
		cxd_prom_i64(p, name, lv, n, cx_police_level_bytes(&pl->tenants[i].pol, now_ns));
	}
	name = "conex_policer_tenant_peak_tokens_bytes";
	cxd_prom_family(p, name, CXD_PROM_GAUGE, "Level of the tenant's peak-rate bucket.");
	for (i = 0; i < pl->cfg.n_tenants; i++) {
		n = tenant_labels(pl, i, host, lv);
		cxd_prom_i64(p, name, lv, n,
			     cx_police_peak_level_bytes(&pl->tenants[i].pol, now_ns));
	}
	name = "conex_policer_tenant_drop_probability";
	cxd_prom_family(p, name, CXD_PROM_GAUGE,
			"Probability (0..1) that the tenant's next packet is dropped.");
	for (i = 0; i < pl->cfg.n_tenants; i++) {
		n = tenant_labels(pl, i, host, lv);
		cxd_prom_f64(p, name, lv, n,
			     cx_police_drop_ppm(&pl->tenants[i].pol, now_ns) / 1e6);
	}
	name = "conex_policer_tenant_over";
	cxd_prom_family(p, name, CXD_PROM_GAUGE,
			"1 while the tenant's bucket is empty (being sanctioned), else 0.");
	for (i = 0; i < pl->cfg.n_tenants; i++) {
		n = tenant_labels(pl, i, host, lv);
		cxd_prom_u64(p, name, lv, n, cx_police_is_over(&pl->tenants[i].pol, now_ns));
	}
	name = "conex_policer_tenant_over_seconds_total";
	cxd_prom_family(p, name, CXD_PROM_COUNTER, "Time the tenant's bucket has spent empty.");
	for (i = 0; i < pl->cfg.n_tenants; i++) {
		n = tenant_labels(pl, i, host, lv);
		cxd_prom_f64(p, name, lv, n, pl->tenants[i].pol.c.over_ns / 1e9);
	}
	for (k = 0; k < sizeof(tenant_counters) / sizeof(tenant_counters[0]); k++) {
		cxd_prom_family(p, tenant_counters[k].name, CXD_PROM_COUNTER,
				tenant_counters[k].help);
		for (i = 0; i < pl->cfg.n_tenants; i++) {
			n = tenant_labels(pl, i, host, lv);
			cxd_prom_u64(p, tenant_counters[k].name, lv, n,
				     at(&pl->tenants[i], tenant_counters[k].off));
		}
	}
	for (k = 0; k < sizeof(bucket_counters) / sizeof(bucket_counters[0]); k++) {
		cxd_prom_family(p, bucket_counters[k].name, CXD_PROM_COUNTER,
				bucket_counters[k].help);
		for (i = 0; i < pl->cfg.n_tenants; i++) {
			n = tenant_labels(pl, i, host, lv);
			cxd_prom_u64(p, bucket_counters[k].name, lv, n,
				     at(&pl->tenants[i].pol.c, bucket_counters[k].off));
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
	name = "conex_policer_tenant_dropped_packets_total";
	cxd_prom_family(p, name, CXD_PROM_COUNTER,
			"Packets of the tenant dropped, by reason (police: empty bucket; "
			"spoof: source address not the guest's).");
	for (i = 0; i < pl->cfg.n_tenants; i++)
		for (k = 0; k < POL_DROP_COUNT; k++) {
			n = tenant_labels(pl, i, host, lv);
			lv[n++] = (struct cxd_prom_label){ "reason", drop_reason[k] };
			cxd_prom_u64(p, name, lv, n, pl->tenants[i].drops[k]);
		}
	name = "conex_policer_tenant_dropped_bytes_total";
	cxd_prom_family(p, name, CXD_PROM_COUNTER, "Bytes of the tenant dropped, by reason.");
	for (i = 0; i < pl->cfg.n_tenants; i++)
		for (k = 0; k < POL_DROP_COUNT; k++) {
			n = tenant_labels(pl, i, host, lv);
			lv[n++] = (struct cxd_prom_label){ "reason", drop_reason[k] };
			cxd_prom_u64(p, name, lv, n, pl->tenants[i].dropped_bytes[k]);
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
	static const char *const ignored[] = { "unknown_indev", "parse_error", "other_hook" };
	static const char *const fb_other[] = { "wrong_source", "unknown_guest" };
	static const char *const reload_results[] = { "ok", "error" };
	const struct cxd_nfq_stats *q = &pl->nfq->st;
	char host[HOST_STRLEN] = "";
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
		const uint64_t v[] = { pl->st.unknown_indev, pl->st.parse_errors,
				       pl->st.other_hook };

		by_reason(&p, "conex_policer_ignored_packets_total",
			  "Packets passed unpoliced, by reason.", host, ignored, v, 3);
	}
	one(&p, "conex_policer_mark_fixes_total", CXD_PROM_COUNTER,
	    "Packets whose tunnel fwmark the policer corrected.", host, pl->st.mark_fixes);
	one(&p, "conex_policer_queue_packets_total", CXD_PROM_COUNTER,
	    "Packets received from NFQUEUE.", host, q->packets);
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
	return cxd_prom_end(&p);
}

int pol_metrics_start(struct policer *pl, uint64_t now_ns)
{
	struct pol_metrics *m;
	char err[256];

	if (pl->cfg.metrics.family == 0)
		return 0;
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->page = malloc(PAGE_MAX_BYTES)) == NULL) {
		free(m);
		cx_log_warnx("metrics: out of memory");
		return -1;
	}
	m->srv = cxd_metrics_new(&pl->cfg.metrics, PAGE_MAX_BYTES, err, sizeof(err));
	if (m->srv == NULL) {
		cx_log_warnx("%s", err);
		free(m->page);
		free(m);
		return -1;
	}
	pl->metrics = m;
	/* The first page before the first scrape can arrive. */
	pol_metrics_tick(pl, now_ns);
	cxd_hostport_format(&pl->cfg.metrics, err, sizeof(err));
	cx_log_info("metrics on http://%s" CXD_METRICS_PATH, err);
	return 0;
}

void pol_metrics_tick(struct policer *pl, uint64_t now_ns)
{
	struct pol_metrics *m = pl->metrics;
	int n;

	if (m == NULL || now_ns < m->next_ns)
		return;
	m->next_ns = now_ns + REFRESH_NS;
	n = pol_metrics_format(pl, now_ns, m->page, PAGE_MAX_BYTES);
	if (n >= 0)
		n = cxd_metrics_publish(m->srv, m->page, (size_t)n);
	/* The last good page stays served. */
	if (n < 0 && !m->warned) {
		cx_log_warnx("metrics: page not refreshed: %s", strerror(-n));
		m->warned = true;
	}
}

void pol_metrics_stop(struct policer *pl)
{
	if (pl->metrics == NULL)
		return;
	cxd_metrics_free(pl->metrics->srv);
	free(pl->metrics->page);
	free(pl->metrics);
	pl->metrics = NULL;
}
