/* Prometheus text exposition (see prom.h). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <conex/log.h>

#include "prom.h"

void cxd_prom_init(struct cxd_prom *p, char *buf, size_t len)
{
	memset(p, 0, sizeof(*p));
	p->buf = buf;
	p->len = len;
	if (len == 0)
		p->err = -ENOSPC;
	else
		buf[0] = '\0';
}

static void fail(struct cxd_prom *p, int err)
{
	if (p->err == 0)
		p->err = err;
}

static CX_PRINTF(2, 3) void put(struct cxd_prom *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(p->buf + p->used, p->len - p->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= p->len - p->used) {
		p->buf[p->used] = '\0';
		fail(p, -ENOSPC);
		return;
	}
	p->used += (size_t)n;
}

static bool name_ok(const char *s, bool colon)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (i >= CXD_PROM_NAME_MAX - 1)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || (colon && c == ':')))
			return false;
	}
	return true;
}

bool cxd_prom_metric_name_ok(const char *s)
{
	return name_ok(s, true);
}

/* Names starting "__" are reserved for Prometheus's own labels. */
bool cxd_prom_label_name_ok(const char *s)
{
	return name_ok(s, false) && strncmp(s, "__", 2) != 0;
}

int cxd_prom_escape(const char *s, bool quote, char *out, size_t outlen)
{
	size_t i, o = 0;
	const char *e;
	char one[2];

	if (outlen == 0)
		return -ENOSPC;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '\\')
			e = "\\\\";
		else if (s[i] == '\n')
			e = "\\n";
		else if (quote && s[i] == '"')
			e = "\\\"";
		else {
			one[0] = s[i];
			one[1] = '\0';
			e = one;
		}
		if (strlen(e) > outlen - 1 - o) {
			out[o] = '\0';
			return -ENOSPC;
		}
		memcpy(out + o, e, strlen(e));
		o += strlen(e);
	}
	out[o] = '\0';
	return (int)o;
}

void cxd_prom_family(struct cxd_prom *p, const char *name,
		     enum cxd_prom_type type, const char *help)
{
	size_t start = p->used;
	int n;

	if (p->err)
		return;
	if (!cxd_prom_metric_name_ok(name) ||
	    (type != CXD_PROM_COUNTER && type != CXD_PROM_GAUGE)) {
		fail(p, -EINVAL);
		return;
	}
	snprintf(p->family, sizeof(p->family), "%s", name);
	put(p, "# HELP %s ", name);
	if (p->err)
		return;
	n = cxd_prom_escape(help, false, p->buf + p->used, p->len - p->used);
	if (n < 0) {
		p->buf[start] = '\0';
		fail(p, n);
		return;
	}
	p->used += (size_t)n;
	put(p, "\n# TYPE %s %s\n", name,
	    type == CXD_PROM_COUNTER ? "counter" : "gauge");
}

/* name{labels} and the space before the value. */
static void head(struct cxd_prom *p, const char *name,
		 const struct cxd_prom_label *labels, size_t n_labels)
{
	size_t i;
	int n;

	if (p->err)
		return;
	if (p->family[0] == '\0' || strcmp(name, p->family) != 0 ||
	    n_labels > CXD_PROM_LABELS_MAX || (n_labels > 0 && labels == NULL)) {
		fail(p, -EINVAL);
		return;
	}
	for (i = 0; i < n_labels; i++) {
		if (!cxd_prom_label_name_ok(labels[i].name) ||
		    labels[i].value == NULL) {
			fail(p, -EINVAL);
			return;
		}
	}
	put(p, "%s", name);
	for (i = 0; i < n_labels && !p->err; i++) {
		put(p, "%s%s=\"", i ? "," : "{", labels[i].name);
		if (p->err)
			return;
		n = cxd_prom_escape(labels[i].value, true, p->buf + p->used,
				    p->len - p->used);
		if (n < 0) {
			fail(p, n);
			return;
		}
		p->used += (size_t)n;
		put(p, "\"");
	}
	put(p, n_labels ? "} " : " ");
}

void cxd_prom_u64(struct cxd_prom *p, const char *name,
		  const struct cxd_prom_label *labels, size_t n_labels,
		  uint64_t v)
{
	head(p, name, labels, n_labels);
	put(p, "%" PRIu64 "\n", v);
}

void cxd_prom_i64(struct cxd_prom *p, const char *name,
		  const struct cxd_prom_label *labels, size_t n_labels,
		  int64_t v)
{
	head(p, name, labels, n_labels);
	put(p, "%" PRId64 "\n", v);
}

/*
 * 15 significant digits when they read back as v (0.25, not
 * 0.25000000000000000), else 17, which always do (IEEE 754 binary64).
 */
static const char *shortest(double v, char *buf, size_t len)
{
	snprintf(buf, len, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, len, "%.17g", v);
	return buf;
}

/* The format's spellings of the non-finite values are +Inf, -Inf, NaN. */
void cxd_prom_f64(struct cxd_prom *p, const char *name,
		  const struct cxd_prom_label *labels, size_t n_labels,
		  double v)
{
	char num[32];

	head(p, name, labels, n_labels);
	if (isnan(v))
		put(p, "NaN\n");
	else if (isinf(v))
		put(p, "%sInf\n", v > 0 ? "+" : "-");
	else
		put(p, "%s\n", shortest(v, num, sizeof(num)));
}

int cxd_prom_end(const struct cxd_prom *p)
{
	if (p->err)
		return p->err;
	return (int)p->used;
}
