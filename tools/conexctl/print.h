/*
 * conexctl's output: aligned tables for people (as `wg show` and `tc -s`
 * print), JSON for programs. Both go to a stdio stream.
 */
#ifndef CXCTL_PRINT_H
#define CXCTL_PRINT_H

#include <stdbool.h>
#include <stdio.h>

#include "reply.h"

#define CXCTL_COLS_MAX	12

struct cxctl_table {
	unsigned int ncols;
	unsigned int nrows;
	unsigned int cap;
	const char *head[CXCTL_COLS_MAX];
	bool right[CXCTL_COLS_MAX];	/* numbers align right */
	char **cells;			/* nrows * ncols copies */
};

/* heads: ncols titles; a title starting with '>' is right-aligned (not shown). */
int cxctl_table_init(struct cxctl_table *t, unsigned int ncols,
		     const char *const *heads);
/* One row of ncols strings (copied). 0 or -ENOMEM. */
int cxctl_table_row(struct cxctl_table *t, const char *const *cells);
void cxctl_table_print(const struct cxctl_table *t, FILE *f);
void cxctl_table_fini(struct cxctl_table *t);

/* A JSON string, escaped (RFC 8259 §7). */
void cxctl_json_str(FILE *f, const char *s);
/* A reply's value: a JSON number if it is an integer, else a string. */
void cxctl_json_value(FILE *f, const char *v);
/* "key":value pairs, comma-separated, each preceded by a comma if lead. */
void cxctl_json_kvs(FILE *f, const struct cxctl_kv *kv, unsigned int n,
		    bool lead);

#endif
