/*
 * conex-marker.conf: one `key value` pair per line, `#` starts a comment,
 * blank lines ignored. Unknown keys, repeated keys, missing or extra
 * values and junk numbers are errors reported as file:line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <conex/parse.h>

#include "config.h"

#define LINE_MAX_BYTES	512
#define LINES_MAX	10000

static const char *const cheat_names[] = {
	[CX_GAUGE_HONEST] = "none",
	[CX_GAUGE_NOMARK] = "nomark",
	[CX_GAUGE_HALF] = "half",
	[CX_GAUGE_CREDITONLY] = "creditonly",
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
			 "cheat: expected none, nomark, half or creditonly, got '%s'",
			 value);
		return -1;
	}
	snprintf(err, errlen, "unknown key '%s'", key);
	return -1;
}

/* Split a line in place into key and value; 0 blank, 1 pair, -1 junk. */
static int split_line(char *line, char **key, char **value)
{
	char *p, *end;

	p = strchr(line, '#');
	if (p)
		*p = '\0';
	end = line + strlen(line);
	while (end > line && (end[-1] == ' ' || end[-1] == '\t' ||
			      end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	p = line + strspn(line, " \t");
	if (*p == '\0')
		return 0;
	*key = p;
	p += strcspn(p, " \t");
	if (*p == '\0')
		return -1;
	*p++ = '\0';
	p += strspn(p, " \t");
	if (*p == '\0' || p[strcspn(p, " \t")] != '\0')
		return -1;
	*value = p;
	return 1;
}

int cxm_config_load(struct cxm_config *c, const char *path, char *err,
		    size_t errlen)
{
	char line[LINE_MAX_BYTES], msg[256], seen[16][32];
	char *key, *value;
	unsigned int lineno = 0, nseen = 0, i;
	FILE *f;
	int ret = -1, r;

	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (++lineno > LINES_MAX) {
			snprintf(err, errlen, "%s:%u: too many lines", path, lineno);
			goto out_close;
		}
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line longer than %d bytes",
				 path, lineno, LINE_MAX_BYTES - 2);
			goto out_close;
		}
		r = split_line(line, &key, &value);
		if (r == 0)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s:%u: expected 'key value'", path, lineno);
			goto out_close;
		}
		for (i = 0; i < nseen; i++) {
			if (strcmp(seen[i], key) == 0) {
				snprintf(err, errlen, "%s:%u: '%s' given twice",
					 path, lineno, key);
				goto out_close;
			}
		}
		if (cxm_config_set(c, key, value, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, msg);
			goto out_close;
		}
		/* Every known key is shorter than 32 bytes and there are < 16. */
		if (nseen < 16)
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", key);
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto out_close;
	}
	ret = 0;
out_close:
	fclose(f);
	return ret;
}
