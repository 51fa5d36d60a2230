/*
 * Configuration-file line tokenizer (see conf.h for the format and the
 * errors). Lines are found with memchr() bounded by what is left of the
 * text; tokens are copied out, so the text itself is never written.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <conex/conf.h>

int cx_conf_init(struct cx_conf *c, const char *text, size_t len,
		 unsigned int tokens_max)
{
	if (tokens_max == 0 || tokens_max > CX_CONF_TOKENS_MAX ||
	    (text == NULL && len > 0))
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->text = text;
	c->len = len;
	c->tokens_max = tokens_max;
	return 0;
}

static bool is_sep(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/*
 * Tokens of p[0..n) (comment already cut off) into line. n <=
 * CX_CONF_LINE_MAX and tokens are separated by at least one byte, so the
 * tokens plus a NUL each take at most n + 1 bytes: buf cannot overflow.
 * Returns the count or -ENOSPC.
 */
static int split(const char *p, size_t n, unsigned int tokens_max,
		 struct cx_conf_line *line)
{
	size_t i = 0, out = 0, start;
	unsigned int argc = 0;

	for (;;) {
		while (i < n && is_sep(p[i]))
			i++;
		if (i == n)
			break;
		if (argc == tokens_max)
			return -ENOSPC;
		start = i;
		while (i < n && !is_sep(p[i]))
			i++;
		line->argv[argc++] = line->buf + out;
		memcpy(line->buf + out, p + start, i - start);
		out += i - start;
		line->buf[out++] = '\0';
	}
	line->argv[argc] = NULL;
	line->argc = (int)argc;
	return (int)argc;
}

static int fail(struct cx_conf *c, struct cx_conf_line *line, int err)
{
	c->err = err;
	line->lineno = c->lineno;
	line->argc = 0;
	line->argv[0] = NULL;
	return err;
}

int cx_conf_next(struct cx_conf *c, struct cx_conf_line *line)
{
	const char *p, *nl, *hash;
	size_t n;
	int ret;

	/* Each turn consumes one line, and there are at most LINES_MAX. */
	for (;;) {
		if (c->err)
			return fail(c, line, c->err);
		if (c->off == c->len) {
			line->lineno = c->lineno;
			line->argc = 0;
			line->argv[0] = NULL;
			return 0;
		}
		c->lineno++;
		if (c->lineno > CX_CONF_LINES_MAX)
			return fail(c, line, -EFBIG);
		p = c->text + c->off;
		nl = memchr(p, '\n', c->len - c->off);
		n = nl ? (size_t)(nl - p) : c->len - c->off;
		if (n > CX_CONF_LINE_MAX)
			return fail(c, line, -E2BIG);
		if (memchr(p, '\0', n))
			return fail(c, line, -EBADMSG);
		c->off += n + (nl != NULL);
		hash = memchr(p, '#', n);
		if (hash)
			n = (size_t)(hash - p);
		line->lineno = c->lineno;
		ret = split(p, n, c->tokens_max, line);
		if (ret < 0)
			return fail(c, line, ret);
		if (ret > 0)
			return ret;
	}
}

void cx_conf_seen_init(struct cx_conf_seen *s)
{
	memset(s, 0, sizeof(*s));
}

int cx_conf_seen_add(struct cx_conf_seen *s, const char *key)
{
	size_t len = strnlen(key, CX_CONF_KEY_MAX);
	unsigned int i;

	if (len == 0 || len == CX_CONF_KEY_MAX)
		return -EINVAL;
	for (i = 0; i < s->n; i++)
		if (strcmp(s->key[i], key) == 0)
			return -EEXIST;
	if (s->n == CX_CONF_SEEN_MAX)
		return -ENOSPC;
	memcpy(s->key[s->n++], key, len + 1);
	return 0;
}
