/* Control-socket replies as text or JSON (see out.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "out.h"
#include "version.h"

void cxd_out_init(struct cxd_out *o, char *buf, size_t len, bool json)
{
	memset(o, 0, sizeof(*o));
	o->buf = buf;
	o->len = len;
	o->json = json;
	if (len == 0)
		o->full = true;
	else
		buf[0] = '\0';
}

void cxd_out_put(struct cxd_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->used) {
		o->full = true;
		return;
	}
	o->used += (size_t)n;
}

/* The separator before a value at the current level. */
static const char *sep(struct cxd_out *o)
{
	unsigned int d = o->depth < CXD_OUT_DEPTH_MAX ? o->depth : CXD_OUT_DEPTH_MAX - 1;

	if (o->json)
		return o->n[d]++ ? "," : "";
	o->n[d]++;
	return o->depth > 1 ? " " : "";
}

static const char *eol(const struct cxd_out *o)
{
	return o->depth > 1 ? "" : "\n";
}

void cxd_out_u64(struct cxd_out *o, const char *key, uint64_t v)
{
	const char *s = sep(o);

	if (o->json)
		cxd_out_put(o, "%s\"%s\":%" PRIu64, s, key, v);
	else
		cxd_out_put(o, "%s%s %" PRIu64 "%s", s, key, v, eol(o));
}

void cxd_out_i64(struct cxd_out *o, const char *key, int64_t v)
{
	const char *s = sep(o);

	if (o->json)
		cxd_out_put(o, "%s\"%s\":%" PRId64, s, key, v);
	else
		cxd_out_put(o, "%s%s %" PRId64 "%s", s, key, v, eol(o));
}

void cxd_out_str(struct cxd_out *o, const char *key, const char *v)
{
	const char *s = sep(o);

	if (o->json)
		cxd_out_put(o, "%s\"%s\":\"%s\"", s, key, v);
	else
		cxd_out_put(o, "%s%s %s%s", s, key, v, eol(o));
}

static void down(struct cxd_out *o)
{
	if (o->depth + 1 < CXD_OUT_DEPTH_MAX)
		o->n[o->depth + 1] = 0;
	o->depth++;
}

void cxd_out_begin(struct cxd_out *o)
{
	if (o->json)
		cxd_out_put(o, "{");
	o->n[0] = 0;
}

int cxd_out_end(struct cxd_out *o)
{
	if (o->json)
		cxd_out_put(o, "}\n");
	return o->full ? -ENOSPC : (int)o->used;
}

void cxd_out_list_begin(struct cxd_out *o, const char *key)
{
	const char *s = sep(o);

	if (o->json)
		cxd_out_put(o, "%s\"%s\":[", s, key);
	down(o);
}

void cxd_out_list_end(struct cxd_out *o)
{
	if (o->json)
		cxd_out_put(o, "]");
	o->depth--;
}

void cxd_out_item_begin(struct cxd_out *o, const char *kind, const char *name)
{
	const char *s = sep(o);

	if (o->json)
		cxd_out_put(o, "%s{", s);
	else
		cxd_out_put(o, "%s %s", kind, name);
	down(o);
	/* Text: the values follow the name on the same line. */
	if (!o->json && o->depth < CXD_OUT_DEPTH_MAX)
		o->n[o->depth] = 1;
}

void cxd_out_item_end(struct cxd_out *o)
{
	cxd_out_put(o, o->json ? "}" : "\n");
	o->depth--;
}

const char *cxd_out_plain(const char *s)
{
	const char *c;

	for (c = s; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == '"' || *c == '\\' ||
		    (unsigned char)*c >= 0x7f)
			return "(unprintable)";
	return s;
}

void cxd_out_status_begin(struct cxd_out *o, const char *daemon,
			  uint64_t uptime_ms, const char *config_path,
			  unsigned int queue, bool fail_open)
{
	cxd_out_begin(o);
	cxd_out_str(o, "daemon", daemon);
	cxd_out_str(o, "version", CXD_VERSION);
	cxd_out_u64(o, "pid", (uint64_t)getpid());
	cxd_out_u64(o, "uptime_ms", uptime_ms);
	cxd_out_str(o, "config", cxd_out_plain(config_path));
	cxd_out_u64(o, "queue", queue);
	cxd_out_u64(o, "fail_open", fail_open);
}
