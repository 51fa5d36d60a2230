/*
 * Counters for a control-socket reply, written either as text ("key value"
 * lines; list items one per line as "KIND NAME key value ...") or as one
 * JSON object with arrays of objects. Writes into a caller's buffer and
 * remembers overflow instead of failing each call; check full at the end.
 */
#ifndef CXD_OUT_H
#define CXD_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <conex/log.h>

#define CXD_OUT_DEPTH_MAX	4

struct cxd_out {
	char *buf;
	size_t len;
	size_t used;
	bool json;
	bool full;
	unsigned int depth;
	unsigned int n[CXD_OUT_DEPTH_MAX];	/* values written per level */
};

void cxd_out_init(struct cxd_out *o, char *buf, size_t len, bool json);

/* Raw text (JSON or not: the caller's format). */
void cxd_out_put(struct cxd_out *o, const char *fmt, ...) CX_PRINTF(2, 3);

void cxd_out_u64(struct cxd_out *o, const char *key, uint64_t v);
void cxd_out_i64(struct cxd_out *o, const char *key, int64_t v);
/* v must not need JSON escaping (names from config are a safe alphabet). */
void cxd_out_str(struct cxd_out *o, const char *key, const char *v);

/*
 * A configuration path or other free text as cxd_out_str() can write it:
 * s itself, or "(unprintable)" if JSON or the text format ("key value",
 * one word) could not carry it unescaped.
 */
const char *cxd_out_plain(const char *s);

/*
 * The head of every daemon's `status` reply (conexctl status): begins the
 * object, then daemon, version, pid, uptime_ms, config (plain), queue and
 * fail_open.
 */
void cxd_out_status_begin(struct cxd_out *o, const char *daemon,
			  uint64_t uptime_ms, const char *config_path,
			  unsigned int queue, bool fail_open);

/* The top-level object: { ... } in JSON, nothing in text. */
void cxd_out_begin(struct cxd_out *o);
/* Closes it; returns the length, or -ENOSPC if anything did not fit. */
int cxd_out_end(struct cxd_out *o);

/* A list of objects named key: "key":[ ... ] in JSON, nothing in text. */
void cxd_out_list_begin(struct cxd_out *o, const char *key);
void cxd_out_list_end(struct cxd_out *o);
/* One item; text: a line starting "kind name". */
void cxd_out_item_begin(struct cxd_out *o, const char *kind, const char *name);
void cxd_out_item_end(struct cxd_out *o);

#endif
