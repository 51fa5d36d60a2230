/*
 * Stats formatting. One table drives both formats, so the JSON keys (the
 * contract the end-to-end tests read) and the text lines cannot drift.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "stats.h"

#define CNT(name) { #name, offsetof(struct cxm_stats, c.name) }
#define SUM(key, name) { key, offsetof(struct cxm_stats, f.name) }
#define DMN(name) { #name, offsetof(struct cxm_stats, d.name) }

static const struct field {
	const char *key;
	size_t off;
} fields[] = {
	CNT(pkts_x), CNT(bytes_x),
	CNT(pkts_l), CNT(bytes_l),
	CNT(pkts_e), CNT(bytes_e),
	CNT(pkts_c), CNT(bytes_c),
	CNT(pkts_v4), CNT(pkts_v6),
	SUM("flows", flows),
	SUM("leg_bytes", leg_bytes),
	SUM("ceg_bytes", ceg_bytes),
	SUM("csc_bytes", csc_bytes),
	CNT(skipped_mtu), CNT(skipped_frag), CNT(skipped_exthdr),
	CNT(skipped_mcast), CNT(df_set), CNT(mss_clamped),
	CNT(flows_full), CNT(flows_created), CNT(adjust_failed),
	CNT(rtx_pkts), CNT(rtx_bytes), CNT(credit_readd_bytes),
	CNT(acks), CNT(ece_acks), CNT(dsacks),
	CNT(flows_ecn), CNT(flows_accecn), CNT(cwr_set),
	CNT(accecn_acks), CNT(eceb_opts), CNT(accecn_ce_bytes),
	DMN(reloads), DMN(reload_errors),
};

int cxm_stats_collect(const struct cxm_dp *dp, const struct cxm_daemon_counters *d,
		      uint64_t now_ns, struct cxm_stats *out)
{
	int ret;

	memset(out, 0, sizeof(*out));
	out->d = *d;
	ret = cxm_dp_counters(dp, &out->c);
	if (ret < 0)
		return ret;
	/* Read-only walk: reaping is the timer's job. */
	return cxm_dp_scan(dp, now_ns, 0, &out->f);
}

struct out {
	char *buf;
	size_t len, used;
	int overflow;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->used) {
		o->overflow = 1;
		return;
	}
	o->used += (size_t)n;
}

int cxm_stats_format(const struct cxm_stats *s, const char *ifname, bool json,
		     char *buf, size_t len)
{
	struct out o = { buf, len, 0, 0 };
	uint64_t v;
	size_t i;

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	if (json)
		put(&o, "{\"interface\": \"%s\", \"accecn\": %s", ifname,
		    s->d.accecn ? "true" : "false");
	else
		put(&o, "interface %s\n%-16s %s\n", ifname, "accecn",
		    s->d.accecn ? "yes" : "no");
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		memcpy(&v, (const char *)s + fields[i].off, sizeof(v));
		if (json)
			put(&o, ", \"%s\": %" PRIu64, fields[i].key, v);
		else
			put(&o, "%-16s %" PRIu64 "\n", fields[i].key, v);
	}
	if (json)
		put(&o, "}\n");
	if (o.overflow) {
		buf[0] = '\0';
		return -ENOSPC;
	}
	return (int)o.used;
}
