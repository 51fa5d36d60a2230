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
 * Parse the len bytes at buf (modified: every newline becomes a NUL, and
 * so does the space after each word). Item lines are those whose first
 * word is one of kinds (a NULL-terminated list, or NULL for none). Words
 * are separated by runs of spaces (the marker pads its keys). Returns 0,
 * -ENODATA if the reply is empty or its last line has no newline (cut
 * short), or -EBADMSG for anything else: a byte other than printable
 * ASCII, space and newline (a NUL, a tab, an escape sequence), a line of
 * one word or an odd count of words, a key twice in one item or at the
 * top level, too many lines or values.
 */
int cxctl_reply_parse_len(char *buf, size_t len, const char *const *kinds,
			  struct cxctl_reply *r);

/* The same on a NUL-terminated buf (a NUL inside the reply ends it here). */
int cxctl_reply_parse(char *buf, const char *const *kinds, struct cxctl_reply *r);

/* The value of key among kv[0..n), or NULL. */
const char *cxctl_kv_get(const struct cxctl_kv *kv, unsigned int n,
			 const char *key);

/*
 * The same, as a number as the daemons write them (PRIu64, PRId64):
 * decimal, no sign on u64, no "+", no leading zero, no "-0". 0 with *out
 * set, -ENOENT absent, -EBADMSG not such a number or out of range.
 */
int cxctl_kv_u64(const struct cxctl_kv *kv, unsigned int n, const char *key,
		 uint64_t *out);
int cxctl_kv_i64(const struct cxctl_kv *kv, unsigned int n, const char *key,
		 int64_t *out);

#endif
