/* Parsing a daemon's text reply (see reply.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <conex/parse.h>

#include "reply.h"

#define WORDS_MAX	(2 * CXCTL_KV_MAX + 2)

static bool is_kind(const char *w, const char *const *kinds)
{
	for (; kinds && *kinds; kinds++)
		if (strcmp(w, *kinds) == 0)
			return true;
	return false;
}

/*
 * The daemons write keys and numbers, and names from a safe alphabet
 * (config paths pass policer/stats.c's plain()). Anything else would reach
 * the operator's terminal as is from a table, or make the JSON output
 * invalid (RFC 8259 §8.1: UTF-8), so it is refused rather than printed.
 */
static bool is_reply_byte(char c)
{
	return c == '\n' || (c >= ' ' && c <= '~');
}

static bool has_key(const struct cxctl_kv *kv, unsigned int n, const char *key)
{
	return cxctl_kv_get(kv, n, key) != NULL;
}

static int line(char *s, const char *const *kinds, struct cxctl_reply *r)
{
	char *w[WORDS_MAX], *save = NULL, *tok;
	struct cxctl_item *it;
	unsigned int n = 0, i;

	for (tok = strtok_r(s, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (n == WORDS_MAX)
			return -EBADMSG;
		w[n++] = tok;
	}
	if (n == 0)
		return 0;
	if (is_kind(w[0], kinds)) {
		/* KIND NAME and pairs: an even count of at least two. */
		if (n < 2 || n % 2 != 0 || r->n_items == CXCTL_ITEMS_MAX)
			return -EBADMSG;
		it = &r->items[r->n_items];
		it->kind = w[0];
		it->name = w[1];
		it->n = 0;
		for (i = 2; i < n; i += 2) {
			/* A key twice: which one a reader takes is a guess. */
			if (has_key(it->kv, it->n, w[i]))
				return -EBADMSG;
			it->kv[it->n].key = w[i];
			it->kv[it->n++].val = w[i + 1];
		}
		r->n_items++;
		return 0;
	}
	if (n != 2 || r->n == CXCTL_KV_MAX || has_key(r->kv, r->n, w[0]))
		return -EBADMSG;
	r->kv[r->n].key = w[0];
	r->kv[r->n++].val = w[1];
	return 0;
}

int cxctl_reply_parse_len(char *buf, size_t len, const char *const *kinds,
			  struct cxctl_reply *r)
{
	size_t off, i;
	char *nl;
	int ret;

	r->n = 0;
	r->n_items = 0;
	/* Every line ends in a newline: a reply cut short does not. */
	if (len == 0 || buf[len - 1] != '\n')
		return -ENODATA;
	for (i = 0; i < len; i++)
		if (!is_reply_byte(buf[i]))
			return -EBADMSG;
	/* Bounded by len: each turn consumes at least the newline. */
	for (off = 0; off < len; off = (size_t)(nl - buf) + 1) {
		nl = memchr(buf + off, '\n', len - off);
		*nl = '\0';
		ret = line(buf + off, kinds, r);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int cxctl_reply_parse(char *buf, const char *const *kinds, struct cxctl_reply *r)
{
	return cxctl_reply_parse_len(buf, strlen(buf), kinds, r);
}

const char *cxctl_kv_get(const struct cxctl_kv *kv, unsigned int n,
			 const char *key)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return kv[i].val;
	return NULL;
}

/*
 * Decimal digits as PRIu64 writes them. cx_parse_u64() also takes "0x"
 * hex, which no daemon writes and which JSON (RFC 8259 §6) has no form for.
 */
static int decimal_u64(const char *v, uint64_t max, uint64_t *out)
{
	if (v[0] == '0' && v[1] != '\0')
		return -EBADMSG;
	return cx_parse_u64(v, 0, max, out) < 0 ? -EBADMSG : 0;
}

int cxctl_kv_u64(const struct cxctl_kv *kv, unsigned int n, const char *key,
		 uint64_t *out)
{
	const char *v = cxctl_kv_get(kv, n, key);

	if (v == NULL)
		return -ENOENT;
	return decimal_u64(v, UINT64_MAX, out);
}

int cxctl_kv_i64(const struct cxctl_kv *kv, unsigned int n, const char *key,
		 int64_t *out)
{
	const char *v = cxctl_kv_get(kv, n, key);
	uint64_t u;

	if (v == NULL)
		return -ENOENT;
	if (v[0] == '-') {
		/* PRId64 never writes "-0". */
		if (v[1] == '0' || decimal_u64(v + 1, (uint64_t)INT64_MAX + 1, &u) < 0)
			return -EBADMSG;
		*out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
		return 0;
	}
	if (decimal_u64(v, INT64_MAX, &u) < 0)
		return -EBADMSG;
	*out = (int64_t)u;
	return 0;
}
