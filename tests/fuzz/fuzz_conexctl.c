/*
 * libFuzzer harness for conexctl's reply parser and printers: the first
 * byte picks the item kinds (bit 0 "tenant", bit 1 "flow", bit 2 "peer"),
 * the rest is a daemon's text reply, in a heap buffer of exactly its size.
 * Invariants: a refusal is -ENODATA exactly when the reply does not end in
 * a newline, else -EBADMSG; every word lies inside the buffer, is not empty
 * and is printable ASCII without spaces; items are of a kind asked for and
 * top-level keys are not; no key twice in a scope; the reply written back
 * with single spaces is no longer and parses to the same; a number the
 * getters accept prints back as the same text; the JSON of the pairs
 * decodes back to them; the table's columns line up with their widths.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "print.h"
#include "reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const all_kinds[] = { "tenant", "flow", "peer" };

static void check_word(const char *buf, size_t len, const char *w)
{
	size_t i, n;

	if (w < buf || w >= buf + len)
		__builtin_trap();
	n = strnlen(w, (size_t)(buf + len - w));
	if (n == 0 || n == (size_t)(buf + len - w))
		__builtin_trap();
	for (i = 0; i < n; i++)
		if (w[i] <= ' ' || w[i] > '~')
			__builtin_trap();
}

static bool is_kind(const char *w, const char *const *kinds)
{
	for (; *kinds; kinds++)
		if (strcmp(w, *kinds) == 0)
			return true;
	return false;
}

static void check_kvs(const char *buf, size_t len, const struct cxctl_kv *kv,
		      unsigned int n)
{
	unsigned int i, j;

	if (n > CXCTL_KV_MAX)
		__builtin_trap();
	for (i = 0; i < n; i++) {
		check_word(buf, len, kv[i].key);
		check_word(buf, len, kv[i].val);
		for (j = 0; j < i; j++)
			if (strcmp(kv[i].key, kv[j].key) == 0)
				__builtin_trap();
		if (cxctl_kv_get(kv, n, kv[i].key) != kv[i].val)
			__builtin_trap();
	}
}

/* A number the getters take is written back by printf as the same text. */
static void check_numbers(const struct cxctl_kv *kv, unsigned int n)
{
	char s[32];
	unsigned int i;
	uint64_t u;
	int64_t v;
	int ret;

	for (i = 0; i < n; i++) {
		ret = cxctl_kv_u64(kv, n, kv[i].key, &u);
		if (ret == 0) {
			snprintf(s, sizeof(s), "%llu", (unsigned long long)u);
			if (strcmp(s, kv[i].val) != 0)
				__builtin_trap();
		} else if (ret != -EBADMSG) {
			__builtin_trap();
		}
		ret = cxctl_kv_i64(kv, n, kv[i].key, &v);
		if (ret == 0) {
			snprintf(s, sizeof(s), "%lld", (long long)v);
			if (strcmp(s, kv[i].val) != 0)
				__builtin_trap();
		} else if (ret != -EBADMSG) {
			__builtin_trap();
		}
	}
}

/*
 * A JSON string (RFC 8259 §7) at *p, decoded and compared with want; no
 * raw control character inside. Returns the byte after the closing quote.
 */
static const char *check_json_str(const char *p, const char *want)
{
	unsigned int c, k;

	if (*p++ != '"')
		__builtin_trap();
	for (; *p != '"'; want++) {
		if (*p == '\0' || (unsigned char)*p < 0x20)
			__builtin_trap();
		if (*p == '\\') {
			p++;
			if (*p == '"' || *p == '\\') {
				c = (unsigned char)*p++;
			} else if (*p == 'u') {
				c = 0;
				for (k = 1; k <= 4; k++) {
					if (p[k] >= '0' && p[k] <= '9')
						c = c * 16 + (unsigned int)(p[k] - '0');
					else if (p[k] >= 'a' && p[k] <= 'f')
						c = c * 16 + (unsigned int)(p[k] - 'a' + 10);
					else
						__builtin_trap();
				}
				p += 5;
			} else {
				__builtin_trap();
			}
		} else {
			c = (unsigned char)*p++;
		}
		if ((unsigned char)*want != c || c == 0)
			__builtin_trap();
	}
	if (*want != '\0')
		__builtin_trap();
	return p + 1;
}

static bool json_int(const char *v)
{
	const char *c = v + (v[0] == '-');

	if (c[0] == '\0' || (c[0] == '0' && c[1] != '\0'))
		return false;
	for (; *c; c++)
		if (*c < '0' || *c > '9')
			return false;
	return true;
}

static void check_json(const struct cxctl_kv *kv, unsigned int n)
{
	char *out = NULL;
	const char *p;
	size_t len = 0, vlen;
	unsigned int i;
	FILE *f;

	f = open_memstream(&out, &len);
	if (f == NULL)
		return;
	cxctl_json_kvs(f, kv, n, true);
	if (fclose(f) != 0)
		__builtin_trap();
	p = out;
	for (i = 0; i < n; i++) {
		if (*p++ != ',')
			__builtin_trap();
		p = check_json_str(p, kv[i].key);
		if (*p++ != ':')
			__builtin_trap();
		if (json_int(kv[i].val)) {
			vlen = strlen(kv[i].val);
			if (strncmp(p, kv[i].val, vlen) != 0)
				__builtin_trap();
			p += vlen;
		} else {
			p = check_json_str(p, kv[i].val);
		}
	}
	if (*p != '\0' || (size_t)(p - out) != len)
		__builtin_trap();
	free(out);
}

/* The whole input as one JSON string (up to a NUL). */
static void check_json_raw(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *out = NULL;
	const char *p;
	size_t len = 0;
	FILE *f;

	if (s == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	f = open_memstream(&out, &len);
	if (f != NULL) {
		cxctl_json_str(f, s);
		if (fclose(f) != 0)
			__builtin_trap();
		p = check_json_str(out, s);
		if (*p != '\0')
			__builtin_trap();
		free(out);
	}
	free(s);
}

/* One line of a printed table: each cell at its column, padded by spaces. */
static const char *check_row(const char *p, const struct cxctl_table *t,
			     const size_t *w, const char *const *cells)
{
	size_t n, pad, k;
	unsigned int i;

	for (i = 0; i < t->ncols; i++) {
		n = strlen(cells[i]);
		pad = w[i] - n;
		if (t->right[i]) {
			for (k = 0; k < pad; k++)
				if (*p++ != ' ')
					__builtin_trap();
		}
		if (strncmp(p, cells[i], n) != 0)
			__builtin_trap();
		p += n;
		if (i + 1 == t->ncols)
			break;
		if (!t->right[i]) {
			for (k = 0; k < pad; k++)
				if (*p++ != ' ')
					__builtin_trap();
		}
		if (p[0] != ' ' || p[1] != ' ')
			__builtin_trap();
		p += 2;
	}
	if (*p++ != '\n')
		__builtin_trap();
	return p;
}

/* Pairs and items as KEY VALUE ITEM rows; the printout checked row by row. */
static void check_table(const struct cxctl_reply *r)
{
	static const char *const heads[] = { "KEY", ">VALUE", "ITEM" };
	const char *cells[3];
	struct cxctl_table t;
	size_t w[3], len = 0, n;
	char *out = NULL;
	const char *p;
	unsigned int i, j, c, row;
	FILE *f;

	if (cxctl_table_init(&t, 3, heads) < 0)
		__builtin_trap();
	for (i = 0; i < r->n; i++) {
		cells[0] = r->kv[i].key;
		cells[1] = r->kv[i].val;
		cells[2] = NULL;
		if (cxctl_table_row(&t, cells) < 0)
			goto out;
	}
	for (i = 0; i < r->n_items; i++) {
		for (j = 0; j < r->items[i].n; j++) {
			cells[0] = r->items[i].kv[j].key;
			cells[1] = r->items[i].kv[j].val;
			cells[2] = r->items[i].name;
			if (cxctl_table_row(&t, cells) < 0)
				goto out;
		}
	}
	for (c = 0; c < 3; c++) {
		w[c] = strlen(t.head[c]);
		for (row = 0; row < t.nrows; row++) {
			n = strlen(t.cells[row * 3 + c]);
			if (n > w[c])
				w[c] = n;
		}
	}
	f = open_memstream(&out, &len);
	if (f == NULL)
		goto out;
	cxctl_table_print(&t, f);
	if (fclose(f) != 0)
		__builtin_trap();
	p = check_row(out, &t, w, t.head);
	for (row = 0; row < t.nrows; row++)
		p = check_row(p, &t, w, (const char *const *)&t.cells[row * 3]);
	if (*p != '\0' || (size_t)(p - out) != len)
		__builtin_trap();
	free(out);
out:
	cxctl_table_fini(&t);
}

static size_t put(char *b, size_t off, const char *w, char sep)
{
	size_t n = strlen(w);

	memcpy(b + off, w, n);
	b[off + n] = sep;
	return off + n + 1;
}

/* The reply written back with single spaces, pairs first. */
static char *rewrite(const struct cxctl_reply *r, size_t cap, size_t *len)
{
	char *b = malloc(cap ? cap : 1);
	size_t off = 0;
	unsigned int i, j;

	if (b == NULL)
		return NULL;
	for (i = 0; i < r->n; i++) {
		off = put(b, off, r->kv[i].key, ' ');
		off = put(b, off, r->kv[i].val, '\n');
	}
	for (i = 0; i < r->n_items; i++) {
		const struct cxctl_item *it = &r->items[i];

		off = put(b, off, it->kind, ' ');
		off = put(b, off, it->name, it->n ? ' ' : '\n');
		for (j = 0; j < it->n; j++) {
			off = put(b, off, it->kv[j].key, ' ');
			off = put(b, off, it->kv[j].val, j + 1 < it->n ? ' ' : '\n');
		}
	}
	*len = off;
	return b;
}

static void check_same(const struct cxctl_reply *a, const struct cxctl_reply *b)
{
	unsigned int i, j;

	if (a->n != b->n || a->n_items != b->n_items)
		__builtin_trap();
	for (i = 0; i < a->n; i++)
		if (strcmp(a->kv[i].key, b->kv[i].key) != 0 ||
		    strcmp(a->kv[i].val, b->kv[i].val) != 0)
			__builtin_trap();
	for (i = 0; i < a->n_items; i++) {
		const struct cxctl_item *x = &a->items[i], *y = &b->items[i];

		if (strcmp(x->kind, y->kind) != 0 || strcmp(x->name, y->name) != 0 ||
		    x->n != y->n)
			__builtin_trap();
		for (j = 0; j < x->n; j++)
			if (strcmp(x->kv[j].key, y->kv[j].key) != 0 ||
			    strcmp(x->kv[j].val, y->kv[j].val) != 0)
				__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cxctl_reply r, r2;
	const char *kinds[4];
	unsigned int i, nk = 0;
	size_t len, len2;
	char *buf, *b2;
	int ret;

	if (size < 1)
		return 0;
	for (i = 0; i < 3; i++)
		if (data[0] & (1U << i))
			kinds[nk++] = all_kinds[i];
	kinds[nk] = NULL;
	data++;
	len = size - 1;
	check_json_raw(data, len);

	buf = malloc(len ? len : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, len);
	ret = cxctl_reply_parse_len(buf, len, kinds, &r);
	if (ret < 0) {
		if (ret != (len == 0 || data[len - 1] != '\n' ? -ENODATA : -EBADMSG))
			__builtin_trap();
		free(buf);
		return 0;
	}
	if (ret != 0 || len == 0 || r.n_items > CXCTL_ITEMS_MAX)
		__builtin_trap();
	check_kvs(buf, len, r.kv, r.n);
	for (i = 0; i < r.n; i++)
		if (is_kind(r.kv[i].key, kinds))
			__builtin_trap();
	for (i = 0; i < r.n_items; i++) {
		check_word(buf, len, r.items[i].kind);
		check_word(buf, len, r.items[i].name);
		if (!is_kind(r.items[i].kind, kinds))
			__builtin_trap();
		check_kvs(buf, len, r.items[i].kv, r.items[i].n);
		check_numbers(r.items[i].kv, r.items[i].n);
		check_json(r.items[i].kv, r.items[i].n);
	}
	check_numbers(r.kv, r.n);
	check_json(r.kv, r.n);
	check_table(&r);

	b2 = rewrite(&r, len, &len2);
	if (b2 != NULL) {
		if (len2 > len)
			__builtin_trap();
		if (cxctl_reply_parse_len(b2, len2, kinds, &r2) != (len2 ? 0 : -ENODATA))
			__builtin_trap();
		if (len2)
			check_same(&r, &r2);
		free(b2);
	}
	free(buf);
	return 0;
}
