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
		it = &r->items[r->n_items++];
		it->kind = w[0];
		it->name = w[1];
		it->n = 0;
		for (i = 2; i < n; i += 2) {
			it->kv[it->n].key = w[i];
			it->kv[it->n++].val = w[i + 1];
		}
		return 0;
	}
	if (n != 2 || r->n == CXCTL_KV_MAX)
		return -EBADMSG;
	r->kv[r->n].key = w[0];
	r->kv[r->n++].val = w[1];
	return 0;
}

int cxctl_reply_parse(char *buf, const char *const *kinds, struct cxctl_reply *r)
{
	char *s = buf, *nl;
	int ret;

	r->n = 0;
	r->n_items = 0;
	/* Every line ends in a newline: a reply cut short does not. */
	if (*buf == '\0' || buf[strlen(buf) - 1] != '\n')
		return -EBADMSG;
	while (*s) {
		nl = strchr(s, '\n');
		*nl = '\0';
		if (strchr(s, '\t') || strchr(s, '\r'))
			return -EBADMSG;
		ret = line(s, kinds, r);
		if (ret < 0)
			return ret;
		s = nl + 1;
	}
	return 0;
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

int cxctl_kv_u64(const struct cxctl_kv *kv, unsigned int n, const char *key,
		 uint64_t *out)
{
	const char *v = cxctl_kv_get(kv, n, key);

	if (v == NULL)
		return -ENOENT;
	return cx_parse_u64(v, 0, UINT64_MAX, out) < 0 ? -EBADMSG : 0;
}

int cxctl_kv_i64(const struct cxctl_kv *kv, unsigned int n, const char *key,
		 int64_t *out)
{
	const char *v = cxctl_kv_get(kv, n, key);
	uint64_t u;

	if (v == NULL)
		return -ENOENT;
	if (v[0] == '-') {
		if (cx_parse_u64(v + 1, 0, (uint64_t)INT64_MAX + 1, &u) < 0)
			return -EBADMSG;
		*out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
		return 0;
	}
	if (cx_parse_u64(v, 0, INT64_MAX, &u) < 0)
		return -EBADMSG;
	*out = (int64_t)u;
	return 0;
}
