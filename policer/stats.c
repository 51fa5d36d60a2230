/*
 * `conex-policer stats`: the daemon's counters and one record per tenant
 * (allowance, tokens, marked bytes per flag, feedback CE, drops by
 * reason), as "key value" lines and "tenant NAME key value..." lines, or
 * as one JSON object with a "tenants" array. Names are stable: tests,
 * scripts and conexctl read them.
 */
#include <errno.h>
#include <string.h>

#include "bank.h"
#include "common/out.h"
#include "policer.h"
#include "common/nfacct.h"
#include "net.h"

static const char *mode_name(int mode)
{
	switch (mode) {
	case CX_POLICE_LOCAL:
		return "local";
	case CX_POLICE_BANK:
		return "bank";
	default:
		return "share";
	}
}

static void tenant(struct cxd_out *o, const struct policer *pl, unsigned int i,
		   uint64_t now_ns)
{
	const struct pol_tenant_rt *t = &pl->tenants[i];
	const struct cx_police_cfg *pc = &pl->cfg.tenants[i].police;
	const struct cx_police_counters *c = &t->pol.c;

	cxd_out_item_begin(o, "tenant", pl->cfg.tenants[i].name);
	if (o->json)
		cxd_out_str(o, "name", pl->cfg.tenants[i].name);
	cxd_out_u64(o, "allowance_bps", pc->allowance_bps);
	cxd_out_u64(o, "burst_bytes", pc->burst_bytes);
	cxd_out_u64(o, "peak_bps", t->pol.peak.rate_bps);
	cxd_out_i64(o, "tokens_bytes", cx_police_level_bytes(&t->pol, now_ns));
	cxd_out_i64(o, "peak_tokens_bytes", cx_police_peak_level_bytes(&t->pol, now_ns));
	cxd_out_u64(o, "drop_ppm", cx_police_drop_ppm(&t->pol, now_ns));
	cxd_out_u64(o, "over", cx_police_is_over(&t->pol, now_ns));
	cxd_out_u64(o, "over_ms", c->over_ns / 1000000ULL);
	cxd_out_u64(o, "packets", t->packets);
	cxd_out_u64(o, "bytes", t->bytes);
	cxd_out_u64(o, "conex_packets", t->conex_packets);
	cxd_out_u64(o, "conex_bytes", t->conex_bytes);
	cxd_out_u64(o, "l_bytes", t->l_bytes);
	cxd_out_u64(o, "e_bytes", t->e_bytes);
	cxd_out_u64(o, "c_bytes", t->c_bytes);
	cxd_out_u64(o, "charged_marks_bytes", c->charged_bytes);
	cxd_out_u64(o, "charged_bytes", c->charged_bytes + c->feedback_bytes);
	cxd_out_u64(o, "forgiven_l_bytes", t->forgiven_bytes);
	cxd_out_u64(o, "xonly_other_packets", t->xonly_other_packets);
	cxd_out_u64(o, "tunnel_packets", t->tunnel_packets);
	cxd_out_u64(o, "tunnel_bytes", t->tunnel_bytes);
	cxd_out_u64(o, "feedback_bytes", t->feedback_bytes);
	cxd_out_u64(o, "feedback_ce_bytes", t->feedback_ce_bytes);
	cxd_out_u64(o, "feedback_lost_bytes", t->feedback_lost_bytes);
	cxd_out_u64(o, "drained_feedback_bytes", c->feedback_bytes);
	cxd_out_u64(o, "drops_police", t->drops[POL_DROP_POLICE]);
	cxd_out_u64(o, "dropped_bytes_police", t->dropped_bytes[POL_DROP_POLICE]);
	cxd_out_u64(o, "drops_spoof", t->drops[POL_DROP_SPOOF]);
	cxd_out_u64(o, "dropped_bytes_spoof", t->dropped_bytes[POL_DROP_SPOOF]);
	cxd_out_u64(o, "drops_unreadable", t->drops[POL_DROP_UNREADABLE]);
	cxd_out_u64(o, "dropped_bytes_unreadable", t->dropped_bytes[POL_DROP_UNREADABLE]);
	cxd_out_u64(o, "drops_protected", t->drops[POL_DROP_PROTECTED]);
	cxd_out_u64(o, "dropped_bytes_protected", t->dropped_bytes[POL_DROP_PROTECTED]);
	cxd_out_u64(o, "debt_capped_bytes", c->debt_capped_bytes);
	cxd_out_u64(o, "granted_bytes", c->granted_bytes);
	cxd_out_u64(o, "bank_grants", t->bank_grants);
	cxd_out_u64(o, "bank_errors", t->bank_errors);
	cxd_out_u64(o, "bank_backoffs", t->bank_backoffs);
	cxd_out_str(o, "bucket_mode", mode_name(t->pol.mode));
	cxd_out_item_end(o);
}

int pol_stats_format(const struct policer *pl, uint64_t now_ns, bool json,
		     char *buf, size_t len)
{
	static const char *const fb_names[CX_FB_EV_COUNT] = {
		[CX_FB_EV_ACCEPTED] = "feedback_accepted",
		[CX_FB_EV_REPLAYED] = "feedback_replayed",
		[CX_FB_EV_REGRESSED] = "feedback_regressed",
		[CX_FB_EV_TABLE_FULL] = "feedback_table_full",
		[CX_FB_EV_TRUNCATED] = "feedback_truncated",
		[CX_FB_EV_MALFORMED] = "feedback_malformed",
		[CX_FB_EV_BAD_VERSION] = "feedback_bad_version",
		[CX_FB_EV_BAD_TAG] = "feedback_bad_tag",
		[CX_FB_EV_UNKNOWN_HOST] = "feedback_unknown_host",
		[CX_FB_EV_LOCAL] = "feedback_local_errors",
	};
	const struct cxd_nfq_stats *q = &pl->nfq->st;
	uint64_t queued;
	struct cxp_bank_stats bs;
	struct cxd_out o;
	unsigned int i;

	cxd_out_init(&o, buf, len, json);
	cxd_out_begin(&o);
	cxd_out_u64(&o, "uptime_ms", (now_ns - pl->start_mono_ns) / 1000000ULL);
	cxd_out_u64(&o, "host_id", pl->cfg.host_id);
	cxd_out_u64(&o, "queue", pl->cfg.queue);
	cxd_out_u64(&o, "fail_open", pl->cfg.fail_open);
	cxd_out_u64(&o, "tunnel", pl->fb_fd >= 0);
	cxd_out_str(&o, "bucket_mode", mode_name(pl->mode));
	cxd_out_u64(&o, "tenants_n", pl->cfg.n_tenants);
	cxd_out_u64(&o, "guests_n", pl->cfg.n_guests);
	cxd_out_u64(&o, "unknown_indev", pl->st.unknown_indev);
	cxd_out_u64(&o, "parse_errors", pl->st.parse_errors);
	cxd_out_u64(&o, "other_hook", pl->st.other_hook);
	cxd_out_u64(&o, "mark_fixes", pl->st.mark_fixes);
	queued = cxd_nfacct_queued(POL_NET_NFACCT);
	cxd_out_u64(&o, "nfq_packets", q->packets);
	cxd_out_u64(&o, "nfq_queued", queued);
	cxd_out_u64(&o, "nfq_bypassed", cxd_nfacct_bypassed(queued, q->packets));
	cxd_out_u64(&o, "nfq_bytes", q->bytes);
	cxd_out_u64(&o, "nfq_accepted", q->accepted);
	cxd_out_u64(&o, "nfq_dropped", q->dropped);
	cxd_out_u64(&o, "nfq_marked", q->marked);
	cxd_out_u64(&o, "nfq_enobufs", q->enobufs);
	cxd_out_u64(&o, "nfq_nl_errors", q->nl_errors);
	cxd_out_u64(&o, "feedback_datagrams", pl->st.fb_datagrams);
	for (i = 0; i < CX_FB_EV_COUNT; i++)
		cxd_out_u64(&o, fb_names[i], pl->fb_stats.n[i]);
	cxd_out_u64(&o, "feedback_wrong_source", pl->st.fb_wrong_source);
	cxd_out_u64(&o, "feedback_unknown_guest", pl->st.fb_unknown_guest);
	cxd_out_u64(&o, "feedback_errors", pl->st.fb_errors);
	memset(&bs, 0, sizeof(bs));
	if (pl->bank)
		cxp_bank_stats(pl->bank, &bs);
	cxd_out_u64(&o, "bank_configured", pl->bank != NULL);
	cxd_out_u64(&o, "bank_up", pl->bank && cxp_bank_state(pl->bank) == CXP_BANK_UP);
	cxd_out_u64(&o, "bank_requests", bs.requests);
	cxd_out_u64(&o, "bank_grants", bs.grants);
	cxd_out_u64(&o, "bank_granted_bytes", bs.granted_bytes);
	cxd_out_u64(&o, "bank_errors", bs.errors);
	cxd_out_u64(&o, "bank_corrupt_keys", bs.corrupt);
	cxd_out_u64(&o, "bank_backoffs", bs.backoffs);
	cxd_out_u64(&o, "bank_auth_failures", bs.auth_failures);
	cxd_out_u64(&o, "bank_timeouts", bs.timeouts);
	cxd_out_u64(&o, "bank_reconnects", bs.reconnects);
	cxd_out_u64(&o, "bank_fallbacks", pl->st.bank_fallbacks);
	cxd_out_u64(&o, "reloads", pl->st.reloads);
	cxd_out_u64(&o, "reload_errors", pl->st.reload_errors);
	cxd_out_u64(&o, "allowance_changes", pl->st.allowance_changes);
	cxd_out_u64(&o, "state_saves", pl->st.state_saves);
	cxd_out_u64(&o, "state_errors", pl->st.state_errors);
	cxd_out_list_begin(&o, "tenants");
	for (i = 0; i < pl->cfg.n_tenants; i++)
		tenant(&o, pl, i, now_ns);
	cxd_out_list_end(&o);
	return cxd_out_end(&o);
}

/*
 * `status` (conexctl status): who is running, with what, and a summary of
 * the counters that say whether it is doing anything.
 */
int pol_status_format(const struct policer *pl, uint64_t now_ns, bool json,
		      const char *config_path, char *buf, size_t len)
{
	uint64_t drops[POL_DROP_COUNT] = { 0 };
	struct cxd_out o;
	unsigned int i, r;

	for (i = 0; i < pl->cfg.n_tenants; i++)
		for (r = 0; r < POL_DROP_COUNT; r++)
			drops[r] += pl->tenants[i].drops[r];
	cxd_out_init(&o, buf, len, json);
	cxd_out_status_begin(&o, "conex-policer",
			     (now_ns - pl->start_mono_ns) / 1000000ULL, config_path,
			     pl->cfg.queue, pl->cfg.fail_open);
	cxd_out_str(&o, "bucket_mode", mode_name(pl->mode));
	cxd_out_u64(&o, "tunnel", pl->fb_fd >= 0);
	cxd_out_u64(&o, "bank_up", pl->bank && cxp_bank_state(pl->bank) == CXP_BANK_UP);
	cxd_out_u64(&o, "tenants_n", pl->cfg.n_tenants);
	cxd_out_u64(&o, "guests_n", pl->cfg.n_guests);
	cxd_out_u64(&o, "nfq_packets", pl->nfq->st.packets);
	cxd_out_u64(&o, "nfq_bypassed",
		    cxd_nfacct_bypassed(cxd_nfacct_queued(POL_NET_NFACCT),
					pl->nfq->st.packets));
	cxd_out_u64(&o, "nfq_bytes", pl->nfq->st.bytes);
	cxd_out_u64(&o, "nfq_dropped", pl->nfq->st.dropped);
	cxd_out_u64(&o, "drops_police", drops[POL_DROP_POLICE]);
	cxd_out_u64(&o, "drops_spoof", drops[POL_DROP_SPOOF]);
	cxd_out_u64(&o, "drops_unreadable", drops[POL_DROP_UNREADABLE]);
	cxd_out_u64(&o, "drops_protected", drops[POL_DROP_PROTECTED]);
	cxd_out_u64(&o, "feedback_accepted", pl->fb_stats.n[CX_FB_EV_ACCEPTED]);
	cxd_out_u64(&o, "reloads", pl->st.reloads);
	cxd_out_u64(&o, "reload_errors", pl->st.reload_errors);
	cxd_out_u64(&o, "allowance_changes", pl->st.allowance_changes);
	return cxd_out_end(&o);
}
