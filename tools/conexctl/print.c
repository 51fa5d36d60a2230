/* Tables and JSON (see print.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "print.h"

#define ROWS_START	16

int cxctl_table_init(struct cxctl_table *t, unsigned int ncols,
		     const char *const *heads)
{
	unsigned int i;

	if (ncols == 0 || ncols > CXCTL_COLS_MAX)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	for (i = 0; i < ncols; i++) {
		t->right[i] = heads[i][0] == '>';
		t->head[i] = heads[i] + t->right[i];
	}
	return 0;
}

int cxctl_table_row(struct cxctl_table *t, const char *const *cells)
{
	unsigned int i, cap;
	char **c;

	if (t->nrows == t->cap) {
		cap = t->cap ? 2 * t->cap : ROWS_START;
		c = realloc(t->cells, (size_t)cap * t->ncols * sizeof(*c));
		if (c == NULL)
			return -ENOMEM;
		t->cells = c;
		t->cap = cap;
	}
	c = &t->cells[(size_t)t->nrows * t->ncols];
	for (i = 0; i < t->ncols; i++) {
		c[i] = strdup(cells[i] ? cells[i] : "-");
		if (c[i] == NULL) {
			while (i > 0)
				free(c[--i]);
			return -ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

static void cell(FILE *f, const char *s, size_t w, bool right, bool last)
{
	if (right)
		fprintf(f, "%*s", (int)w, s);
	else if (last)
		fputs(s, f);
	else
		fprintf(f, "%-*s", (int)w, s);
	if (!last)
		fputs("  ", f);
}

void cxctl_table_print(const struct cxctl_table *t, FILE *f)
{
	size_t w[CXCTL_COLS_MAX], n;
	unsigned int r, i;

	for (i = 0; i < t->ncols; i++)
		w[i] = strlen(t->head[i]);
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			n = strlen(t->cells[(size_t)r * t->ncols + i]);
			if (n > w[i])
				w[i] = n;
		}
	}
	for (i = 0; i < t->ncols; i++)
		cell(f, t->head[i], w[i], t->right[i], i + 1 == t->ncols);
	fputc('\n', f);
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++)
			cell(f, t->cells[(size_t)r * t->ncols + i], w[i],
			     t->right[i], i + 1 == t->ncols);
		fputc('\n', f);
	}
}

void cxctl_table_fini(struct cxctl_table *t)
{
	size_t i;

	for (i = 0; t->cells && i < (size_t)t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

void cxctl_json_str(FILE *f, const char *s)
{
	const unsigned char *c;

	fputc('"', f);
	for (c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if (*c < 0x20)
			fprintf(f, "\\u%04x", *c);
		else
			fputc(*c, f);
	}
	fputc('"', f);
}

/* RFC 8259 §6 integers: -?(0|[1-9][0-9]*). */
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

void cxctl_json_value(FILE *f, const char *v)
{
	if (json_int(v))
		fputs(v, f);
	else
		cxctl_json_str(f, v);
}

void cxctl_json_kvs(FILE *f, const struct cxctl_kv *kv, unsigned int n,
		    bool lead)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (lead || i > 0)
			fputc(',', f);
		cxctl_json_str(f, kv[i].key);
		fputc(':', f);
		cxctl_json_value(f, kv[i].val);
	}
}
