/*
 * conex-auditor.conf: one `key value...` entry per line, `#` starts a
 * comment, blank lines ignored. `guest` and `peer` may repeat; every other
 * key may appear once (the format and its limits: conex/conf.h, read by
 * common/conffile.c). Unknown keys, missing or extra values, junk numbers
 * and unreadable key files are errors reported as file:line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <conex/parse.h>

#include "common/conffile.h"
#include "config.h"

#define TOKENS_MAX	6
#define STR(x)		#x
#define XSTR(x)		STR(x)

void aud_config_init(struct aud_config *c)
{
	memset(c, 0, sizeof(*c));
	c->queue = 0;
	/* Fail-open: the auditor protects others from cheats; it must not
	 * become a single point of failure for honest tenants (conex-auditor(8)). */
	c->fail_open = true;
	c->host_id = 0;
	c->vxlan_port = 4789;
	snprintf(c->tun_dev, sizeof(c->tun_dev), "cxtun0");
	c->feedback_interval_ns = AUD_FB_INTERVAL_DEFAULT_NS;
	snprintf(c->state_file, sizeof(c->state_file), "%s", AUD_STATE_FILE_DEFAULT);
	cx_audit_cfg_default(&c->audit);
}

static int set_guest(struct aud_config *c, int argc, char **argv, char *err,
		     size_t errlen)
{
	struct aud_guest *g;
	unsigned int i;

	if (argc != 3) {
		snprintf(err, errlen, "guest: expected 'guest IFNAME TENANT'");
		return -1;
	}
	if (!cxd_conf_name_ok(argv[1], IF_NAMESIZE)) {
		snprintf(err, errlen, "guest: bad interface name '%s'", argv[1]);
		return -1;
	}
	if (!cxd_conf_name_ok(argv[2], AUD_TENANT_MAX)) {
		snprintf(err, errlen, "guest: bad tenant name '%s' (1..%d of "
			 "[A-Za-z0-9._-@])", argv[2], AUD_TENANT_MAX - 1);
		return -1;
	}
	for (i = 0; i < c->n_guests; i++) {
		if (strcmp(c->guests[i].ifname, argv[1]) == 0) {
			snprintf(err, errlen, "guest: interface '%s' given twice", argv[1]);
			return -1;
		}
	}
	if (c->n_guests >= AUD_GUESTS_MAX) {
		snprintf(err, errlen, "guest: more than %d guests", AUD_GUESTS_MAX);
		return -1;
	}
	g = &c->guests[c->n_guests++];
	snprintf(g->ifname, sizeof(g->ifname), "%s", argv[1]);
	snprintf(g->tenant, sizeof(g->tenant), "%s", argv[2]);
	return 0;
}

static int set_peer(struct aud_config *c, int argc, char **argv, char *err,
		    size_t errlen)
{
	struct aud_peer p;
	uint64_t v;
	unsigned int i;

	if (argc != 5) {
		snprintf(err, errlen, "peer: expected 'peer HOST_ID ADDRESS PORT KEY'");
		return -1;
	}
	memset(&p, 0, sizeof(p));
	if (cx_parse_u64(argv[1], 1, UINT32_MAX, &v) < 0) {
		snprintf(err, errlen, "peer: host id '%s' is not a number in 1..%u",
			 argv[1], UINT32_MAX);
		return -1;
	}
	p.host_id = (uint32_t)v;
	p.family = cxd_conf_addr(argv[2], p.addr);
	if (p.family < 0) {
		snprintf(err, errlen, "peer: '%s' is not an IPv4 or IPv6 address",
			 argv[2]);
		return -1;
	}
	if (cx_parse_u64(argv[3], 1, UINT16_MAX, &v) < 0) {
		snprintf(err, errlen, "peer: port '%s' is not a number in 1..65535",
			 argv[3]);
		return -1;
	}
	p.port = (uint16_t)v;
	if (cxd_conf_key("peer", argv[4], p.key, err, errlen) < 0)
		return -1;
	for (i = 0; i < c->n_peers; i++) {
		const struct aud_peer *q = &c->peers[i];

		if (q->host_id == p.host_id) {
			snprintf(err, errlen, "peer: host id %u given twice", p.host_id);
			return -1;
		}
		if (q->family == p.family && memcmp(q->addr, p.addr, 16) == 0) {
			snprintf(err, errlen, "peer: address %s given twice", argv[2]);
			return -1;
		}
	}
	if (c->n_peers >= AUD_PEERS_MAX) {
		snprintf(err, errlen, "peer: more than %d peers", AUD_PEERS_MAX);
		return -1;
	}
	c->peers[c->n_peers++] = p;
	return 0;
}

static int set_u32(const char *key, const char *v, uint32_t min, uint32_t max,
		   uint32_t *out, char *err, size_t errlen)
{
	uint64_t x;

	if (cx_parse_u64(v, min, max, &x) < 0) {
		snprintf(err, errlen, "%s: '%s' is not a number in %u..%u", key, v,
			 min, max);
		return -1;
	}
	*out = (uint32_t)x;
	return 0;
}

/*
 * The audit module's parameters (conex/audit.h). Returns 0, -1 with err
 * set for a bad value, or -1 with err empty for a key that is not one.
 * Ranges are the module's own (cx_audit_cfg_check, run by
 * aud_config_check); here only the syntax and the type's width.
 */
static int set_audit(struct cx_audit_cfg *a, const char *key, const char *v,
		     char *err, size_t errlen)
{
	static const struct {
		const char *key;
		size_t off;
		int kind;	/* 0: count, 1: size (uint32), 2: size (uint64), 3: duration */
	} keys[] = {
		{ "source_table_size", offsetof(struct cx_audit_cfg, source_capacity), 0 },
		{ "loss_sketch_buckets", offsetof(struct cx_audit_cfg, sketch_buckets), 0 },
		{ "evict_scan", offsetof(struct cx_audit_cfg, evict_scan), 0 },
		{ "hole_cap", offsetof(struct cx_audit_cfg, hole_cap_bytes), 1 },
		{ "sanction_scale", offsetof(struct cx_audit_cfg, sanction_scale_bytes), 1 },
		{ "slack", offsetof(struct cx_audit_cfg, slack_bytes), 2 },
		{ "reecho_allowance", offsetof(struct cx_audit_cfg, reecho_allowance_ns), 3 },
		{ "reorder_window", offsetof(struct cx_audit_cfg, reorder_window_ns), 3 },
		{ "debtor_idle", offsetof(struct cx_audit_cfg, idle_ns), 3 },
	};
	unsigned int i;
	uint64_t x;
	uint32_t u;
	int ret;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(key, keys[i].key) != 0)
			continue;
		switch (keys[i].kind) {
		case 0:
			ret = cx_parse_u64(v, 0, UINT32_MAX, &x);
			break;
		case 3:
			ret = cx_parse_duration(v, &x);
			break;
		default:
			ret = cx_parse_size(v, &x);
			if (ret == 0 && keys[i].kind == 1 && x > UINT32_MAX)
				ret = -ERANGE;
			break;
		}
		if (ret < 0) {
			snprintf(err, errlen, "%s: bad %s '%s'", key,
				 keys[i].kind == 0 ? "number" :
				 keys[i].kind == 3 ? "duration" : "size", v);
			return -1;
		}
		if (keys[i].kind <= 1) {
			u = (uint32_t)x;
			memcpy((char *)a + keys[i].off, &u, sizeof(u));
		} else {
			memcpy((char *)a + keys[i].off, &x, sizeof(x));
		}
		return 0;
	}
	err[0] = '\0';
	return -1;
}

int aud_config_set(struct aud_config *c, int argc, char **argv, char *err,
		   size_t errlen)
{
	const char *key = argv[0];
	uint32_t u;
	uint64_t ns;

	if (strcmp(key, "guest") == 0)
		return set_guest(c, argc, argv, err, errlen);
	if (strcmp(key, "peer") == 0)
		return set_peer(c, argc, argv, err, errlen);
	if (argc != 2) {
		snprintf(err, errlen, "%s: expected exactly one value", key);
		return -1;
	}
	if (strcmp(key, "queue") == 0) {
		if (set_u32(key, argv[1], 0, UINT16_MAX, &u, err, errlen) < 0)
			return -1;
		c->queue = (uint16_t)u;
		return 0;
	}
	if (strcmp(key, "tunnel_dev") == 0) {
		if (!cxd_conf_name_ok(argv[1], IF_NAMESIZE)) {
			snprintf(err, errlen, "tunnel_dev: bad interface name '%s'",
				 argv[1]);
			return -1;
		}
		snprintf(c->tun_dev, sizeof(c->tun_dev), "%s", argv[1]);
		return 0;
	}
	if (strcmp(key, "vxlan_port") == 0) {
		if (set_u32(key, argv[1], 1, UINT16_MAX, &u, err, errlen) < 0)
			return -1;
		c->vxlan_port = (uint16_t)u;
		return 0;
	}
	if (strcmp(key, "failure_policy") == 0) {
		if (strcmp(argv[1], "fail-open") == 0) {
			c->fail_open = true;
		} else if (strcmp(argv[1], "fail-closed") == 0) {
			c->fail_open = false;
		} else {
			snprintf(err, errlen, "failure_policy: expected fail-open or "
				 "fail-closed, got '%s'", argv[1]);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "flow_table_size") == 0)
		return set_u32(key, argv[1], AUD_FLOWS_MIN, AUD_FLOWS_MAX,
			       &c->audit.flow_capacity, err, errlen);
	if (strcmp(key, "host_id") == 0)
		return set_u32(key, argv[1], 1, UINT32_MAX, &c->host_id, err, errlen);
	if (strcmp(key, "state_file") == 0) {
		if (strcmp(argv[1], "none") == 0) {
			c->state_file[0] = '\0';
		} else if (argv[1][0] != '/' ||
			   strlen(argv[1]) >= sizeof(c->state_file) - 8) {
			snprintf(err, errlen, "state_file: expected an absolute path "
				 "(under %d bytes) or none, got '%s'",
				 (int)sizeof(c->state_file) - 8, argv[1]);
			return -1;
		} else {
			snprintf(c->state_file, sizeof(c->state_file), "%s", argv[1]);
		}
		return 0;
	}
	if (strcmp(key, "metrics") == 0) {
		if (cxd_hostport_parse(argv[1], &c->metrics) < 0) {
			snprintf(err, errlen, "metrics: '%s' is not ADDRESS:PORT "
				 "(e.g. 127.0.0.1:9464 or [::1]:9464)", argv[1]);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "feedback_interval") == 0) {
		if (cx_parse_duration(argv[1], &ns) < 0 ||
		    ns < AUD_FB_INTERVAL_MIN_NS || ns > AUD_FB_INTERVAL_MAX_NS) {
			snprintf(err, errlen, "feedback_interval: '%s' is not a "
				 "duration in 1ms..60s", argv[1]);
			return -1;
		}
		c->feedback_interval_ns = ns;
		return 0;
	}
	if (set_audit(&c->audit, key, argv[1], err, errlen) == 0)
		return 0;
	if (err[0] == '\0')
		snprintf(err, errlen, "unknown key '%s'", key);
	return -1;
}

int aud_config_check(const struct aud_config *c, char *err, size_t errlen)
{
	if (c->n_guests == 0) {
		snprintf(err, errlen, "no 'guest IFNAME TENANT': nothing to audit");
		return -1;
	}
	if (cx_audit_cfg_check(&c->audit) < 0) {
		snprintf(err, errlen, "audit parameters out of range (see "
			 "conex-auditor.conf(5): flow_table_size, source_table_size, "
			 "loss_sketch_buckets a power of two <= %u, slack, hole_cap, "
			 "sanction_scale, reecho_allowance, reorder_window <= 1s, debtor_idle <= 24h)",
			 CX_AUDIT_SKETCH_MAX);
		return -1;
	}
	if (c->n_peers > 0 && c->host_id == 0) {
		snprintf(err, errlen, "peers given but no host_id: feedback "
			 "messages need this host's id");
		return -1;
	}
	return 0;
}

const char *aud_config_tenant(const struct aud_config *c, const char *ifname)
{
	unsigned int i;

	for (i = 0; i < c->n_guests; i++)
		if (strcmp(c->guests[i].ifname, ifname) == 0)
			return c->guests[i].tenant;
	return NULL;
}

static int set_line(void *arg, int argc, char **argv, char *err, size_t errlen)
{
	return aud_config_set(arg, argc, argv, err, errlen);
}

int aud_config_load(struct aud_config *c, const char *path, char *err,
		    size_t errlen)
{
	static const char *const repeatable[] = { "guest", "peer", NULL };
	static const struct cxd_conf_spec spec = {
		.tokens_min = 1,
		.tokens_max = TOKENS_MAX,
		.tokens_msg = "more than " XSTR(TOKENS_MAX) " words",
		.repeatable = repeatable,
		.set = set_line,
	};

	return cxd_conf_load(path, &spec, c, err, errlen);
}

/*
 * The audit tables are sized and keyed once (cx_audit_new) and libconex
 * has no way to change a live audit's parameters, so every audit key needs
 * a restart; so do the queue binding, the tunnel's identity and port. What
 * a reload may change: guests, peers (addresses, ports, keys) and the
 * feedback interval.
 */
const char *aud_config_restart_needed(const struct aud_config *a,
				      const struct aud_config *b)
{
	if (a->queue != b->queue || a->fail_open != b->fail_open)
		return "queue or failure_policy";
	if (a->host_id != b->host_id || a->vxlan_port != b->vxlan_port ||
	    strcmp(a->tun_dev, b->tun_dev) != 0)
		return "host_id, vxlan_port or tunnel_dev";
	/* The endpoint keeps serving on its first address until a restart. */
	if (memcmp(&a->metrics, &b->metrics, sizeof(a->metrics)) != 0)
		return "metrics";
	if (memcmp(&a->audit, &b->audit, sizeof(a->audit)) != 0)
		return "an audit parameter (flow_table_size, source_table_size, "
		       "loss_sketch_buckets, evict_scan, hole_cap, sanction_scale, "
		       "slack, reecho_allowance, reorder_window or debtor_idle)";
	return NULL;
}
