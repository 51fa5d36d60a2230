/*
 * conex/conf.h against a reference written the way the daemons split lines
 * before the module existed (strchr for '#', strspn/strcspn on a
 * NUL-terminated copy of each line). The first byte picks tokens_max, the
 * rest is the text. Invariants:
 * - every line the iterator yields is the reference's next non-blank line,
 *   same number, same tokens, and each token is non-empty, within
 *   line->buf and free of separators;
 * - an error is the reference's error on the same line, and it sticks;
 * - the end comes exactly where the reference's text ends.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <conex/conf.h>

#define SEPS	" \t\r"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ref {
	const char *text;
	size_t len, off;
	unsigned int lineno, tokens_max;
	char line[CX_CONF_LINE_MAX + 1];
	char *tok[CX_CONF_TOKENS_MAX];
};

/* The next non-blank line's token count, 0 at the end, or an error. */
static int ref_next(struct ref *r)
{
	const char *p, *nl;
	char *s;
	size_t n;
	int k;

	while (r->off < r->len) {
		if (++r->lineno > CX_CONF_LINES_MAX)
			return -EFBIG;
		p = r->text + r->off;
		nl = memchr(p, '\n', r->len - r->off);
		n = nl ? (size_t)(nl - p) : r->len - r->off;
		if (n > CX_CONF_LINE_MAX)
			return -E2BIG;
		r->off += n + (nl ? 1 : 0);
		memcpy(r->line, p, n);
		r->line[n] = '\0';
		if (strlen(r->line) != n)
			return -EBADMSG;
		s = strchr(r->line, '#');
		if (s)
			*s = '\0';
		s = r->line;
		for (k = 0;; k++) {
			s += strspn(s, SEPS);
			if (*s == '\0')
				break;
			if ((unsigned int)k == r->tokens_max)
				return -ENOSPC;
			r->tok[k] = s;
			s += strcspn(s, SEPS);
			if (*s != '\0')
				*s++ = '\0';
		}
		if (k > 0)
			return k;
	}
	return 0;
}

static void check_tokens(const struct cx_conf_line *line, const struct ref *r,
			 int n)
{
	int i;

	if (line->argc != n || line->argv[n] != NULL)
		__builtin_trap();
	for (i = 0; i < n; i++) {
		const char *t = line->argv[i];

		if (t < line->buf || t >= line->buf + sizeof(line->buf))
			__builtin_trap();
		if (t[0] == '\0' || strpbrk(t, SEPS "#\n") != NULL)
			__builtin_trap();
		if (strcmp(t, r->tok[i]) != 0)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_conf_line line;
	struct ref r;
	struct cx_conf c;
	int got, want;

	if (size < 1)
		return 0;
	memset(&r, 0, sizeof(r));
	r.tokens_max = 1 + data[0] % CX_CONF_TOKENS_MAX;
	r.text = (const char *)data + 1;
	r.len = size - 1;
	if (cx_conf_init(&c, r.text, r.len, r.tokens_max) != 0)
		__builtin_trap();
	/* Bounded: each turn yields a line, and there are at most LINES_MAX. */
	for (;;) {
		got = cx_conf_next(&c, &line);
		want = ref_next(&r);
		if (got != want || line.lineno != r.lineno)
			__builtin_trap();
		if (got <= 0)
			break;
		check_tokens(&line, &r, got);
	}
	if (cx_conf_next(&c, &line) != got || line.lineno != r.lineno)
		__builtin_trap();
	return 0;
}
