/*
 * conex-marker.conf: one `key value` pair per line, `#` starts a comment,
 * blank lines ignored (the format and its limits: conex/conf.h, read by
 * common/conffile.c). Unknown keys, repeated keys, missing or extra values
 * and junk numbers are errors reported as file:line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <conex/parse.h>

#include "common/conffile.h"
#include "config.h"

static const char *const cheat_names[] = {
	[CX_GAUGE_HONEST] = "none",
	[CX_GAUGE_NOMARK] = "nomark",
	[CX_GAUGE_HALF] = "half",
	[CX_GAUGE_CREDITONLY] = "creditonly",
	[CX_GAUGE_MARKALL] = "markall",
};

void cxm_config_init(struct cxm_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->ifname, sizeof(c->ifname), "%s", "eth0");
	c->ipv4 = true;
	c->ipv6 = true;
	c->mss_clamp = true;
	c->flows_max = CXM_FLOWS_DEFAULT;
	c->flow_idle_ns = CXM_IDLE_DEFAULT_NS;
	cx_gauge_cfg_default(&c->gauge);
}

const char *cxm_cheat_name(uint32_t cheat)
{
	if (cheat > CX_GAUGE_CHEAT_MAX)
		return "?";
	return cheat_names[cheat];
}

static int parse_bool(const char *v, bool *out)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "true") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(v, "off") == 0 || strcmp(v, "no") == 0 || strcmp(v, "false") == 0) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static int parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t x;
	int ret = cx_parse_u64(v, min, max, &x);

	if (ret == 0)
		*out = (uint32_t)x;
	return ret;
}

int cxm_config_set(struct cxm_config *c, const char *key, const char *value,
		   char *err, size_t errlen)
{
	uint64_t ns;
	uint32_t i;
	int ret;

	if (strcmp(key, "interface") == 0) {
		/* Names also go into JSON and socket names: a safe alphabet. */
		if (value[0] == '\0' || strlen(value) >= IF_NAMESIZE ||
		    value[strspn(value, "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")] != '\0') {
			snprintf(err, errlen, "interface: bad name '%s'", value);
			return -1;
		}
		snprintf(c->ifname, sizeof(c->ifname), "%s", value);
		return 0;
	}
	if (strcmp(key, "ipv4") == 0 || strcmp(key, "ipv6") == 0 ||
	    strcmp(key, "mss_clamp") == 0) {
		bool *b = key[0] == 'm' ? &c->mss_clamp :
			  key[3] == '4' ? &c->ipv4 : &c->ipv6;

		if (parse_bool(value, b) < 0) {
			snprintf(err, errlen, "%s: expected on or off, got '%s'",
				 key, value);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "accecn") == 0) {
		if (parse_bool(value, &c->accecn) < 0) {
			snprintf(err, errlen, "accecn: expected yes or no, got '%s'",
				 value);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "flow_table_size") == 0) {
		ret = parse_u32(value, CXM_FLOWS_MIN, CXM_FLOWS_MAX, &c->flows_max);
		if (ret < 0) {
			snprintf(err, errlen, "flow_table_size: '%s' is not a number in %u..%u",
				 value, CXM_FLOWS_MIN, CXM_FLOWS_MAX);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "flow_idle") == 0) {
		ret = cx_parse_duration(value, &ns);
		if (ret < 0 || ns < CXM_IDLE_MIN_NS || ns > CXM_IDLE_MAX_NS) {
			snprintf(err, errlen, "flow_idle: '%s' is not a duration in 1s..24h",
				 value);
			return -1;
		}
		c->flow_idle_ns = ns;
		return 0;
	}
	if (strcmp(key, "initial_credit_packets") == 0 ||
	    strcmp(key, "slow_start_credit_every") == 0) {
		uint32_t *p = key[0] == 'i' ? &c->gauge.init_credit_pkts :
			      &c->gauge.credit_every_pkts;

		ret = parse_u32(value, 0, CX_GAUGE_CFG_PKTS_MAX, p);
		if (ret < 0) {
			snprintf(err, errlen, "%s: '%s' is not a number in 0..%u",
				 key, value, CX_GAUGE_CFG_PKTS_MAX);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "cheat") == 0) {
		for (i = 0; i <= CX_GAUGE_CHEAT_MAX; i++) {
			if (strcmp(value, cheat_names[i]) == 0) {
				c->gauge.cheat = i;
				return 0;
			}
		}
		snprintf(err, errlen,
			 "cheat: expected none, nomark, half, creditonly or markall, got '%s'",
			 value);
		return -1;
	}
	snprintf(err, errlen, "unknown key '%s'", key);
	return -1;
}

static int set_line(void *arg, int argc, char **argv, char *err, size_t errlen)
{
	(void)argc;	/* always 2: spec.tokens_min and tokens_max */
	return cxm_config_set(arg, argv[0], argv[1], err, errlen);
}

int cxm_config_load(struct cxm_config *c, const char *path, char *err,
		    size_t errlen)
{
	static const struct cxd_conf_spec spec = {
		.tokens_min = 2,
		.tokens_max = 2,
		.tokens_msg = "expected 'key value'",
		.repeatable = NULL,
		.set = set_line,
	};

	return cxd_conf_load(path, &spec, c, err, errlen);
}
