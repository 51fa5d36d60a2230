/*
 * A daemon's text reply (common/out.h): "key value" lines, and item lines
 * "KIND NAME key value ..." (a tenant, a flow, a peer). Parsed in place:
 * the strings point into the caller's buffer, which is cut into words.
 */
#ifndef CXCTL_REPLY_H
#define CXCTL_REPLY_H

#include <stddef.h>
#include <stdint.h>

#define CXCTL_KV_MAX		64	/* per line or at the top level */
#define CXCTL_ITEMS_MAX		1024	/* a flows reply holds at most 1000 */

struct cxctl_kv {
	const char *key;
	const char *val;
};

struct cxctl_item {
	const char *kind;
	const char *name;
	struct cxctl_kv kv[CXCTL_KV_MAX];
	unsigned int n;
};

struct cxctl_reply {
	struct cxctl_kv kv[CXCTL_KV_MAX];
	unsigned int n;
	struct cxctl_item items[CXCTL_ITEMS_MAX];
	unsigned int n_items;
};

/*
 * Parse buf (NUL-terminated, modified). Item lines are those whose first
 * word is one of kinds (a NULL-terminated list). Returns 0, or -EBADMSG
 * for anything else (a line of one word, an odd count of words, a key
 * without a value, too many lines or values).
 */
int cxctl_reply_parse(char *buf, const char *const *kinds, struct cxctl_reply *r);

/* The value of key among kv[0..n), or NULL. */
const char *cxctl_kv_get(const struct cxctl_kv *kv, unsigned int n,
			 const char *key);

/* The same, as a number: 0 with *out set, -ENOENT absent, -EBADMSG not one. */
int cxctl_kv_u64(const struct cxctl_kv *kv, unsigned int n, const char *key,
		 uint64_t *out);
int cxctl_kv_i64(const struct cxctl_kv *kv, unsigned int n, const char *key,
		 int64_t *out);

#endif
