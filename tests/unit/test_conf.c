/*
 * conex/conf.h: table-driven vectors, each a text and the lines the
 * iterator must yield from it (tokens joined by '|'), ending in 0 or an
 * error. Every vector is also walked at every shorter length: the lines
 * that end inside the prefix must come out exactly as from the whole text,
 * and the cut last line must still be tokenized cleanly (ASan checks that
 * nothing past the prefix is read).
 */
#include "cxtest.h"

#include <errno.h>
#include <stdio.h>

#include <conex/conf.h>

#define RESULTS_MAX	8

struct result {
	int ret;
	unsigned int lineno;
	const char *tokens;		/* joined by '|'; NULL unless ret > 0 */
};

struct vector {
	const char *name;
	const char *text;
	size_t len;			/* for texts with a NUL in them; else 0 */
	unsigned int tokens_max;
	struct result want[RESULTS_MAX];	/* up to and including 0 or an error */
};

#define NUL_TEXT(s)	s, sizeof(s) - 1

static const struct vector vectors[] = {
	{ "empty", "", 0, 6, { { 0, 0, NULL } } },
	{ "one pair", "interface eth0\n", 0, 2,
	  { { 2, 1, "interface|eth0" }, { 0, 1, NULL } } },
	{ "no final newline", "queue 3", 0, 6, { { 2, 1, "queue|3" }, { 0, 1, NULL } } },
	{ "blank and comment lines counted", "\n# c\n  \t\nhost_id 7\n", 0, 6,
	  { { 2, 4, "host_id|7" }, { 0, 4, NULL } } },
	{ "whitespace runs and CRLF", " \tguest\t g1  tenant-a \r\npeer 1\r\n", 0, 6,
	  { { 3, 1, "guest|g1|tenant-a" }, { 2, 2, "peer|1" }, { 0, 2, NULL } } },
	{ "comment ends a token", "key val#ue more\nx#\n#only\n", 0, 6,
	  { { 2, 1, "key|val" }, { 1, 2, "x" }, { 0, 3, NULL } } },
	{ "single token", "lonely\n", 0, 2, { { 1, 1, "lonely" }, { 0, 1, NULL } } },
	{ "carriage return separates", "a\rb\n", 0, 2, { { 2, 1, "a|b" }, { 0, 1, NULL } } },
	{ "vertical tab is not a separator", "a\vb c\n", 0, 2,
	  { { 2, 1, "a\vb|c" }, { 0, 1, NULL } } },
	{ "exactly tokens_max", "peer 1 198.18.0.1 4789 /k x\n", 0, 6,
	  { { 6, 1, "peer|1|198.18.0.1|4789|/k|x" }, { 0, 1, NULL } } },
	{ "one token too many", "ok 1\nguest a b c d e f\nnever 2\n", 0, 6,
	  { { 2, 1, "ok|1" }, { -ENOSPC, 2, NULL } } },
	{ "key value only", "a b c\n", 0, 2, { { -ENOSPC, 1, NULL } } },
	{ "extra words in a comment are fine", "a b # c d e\n", 0, 2,
	  { { 2, 1, "a|b" }, { 0, 1, NULL } } },
	{ "NUL byte", NUL_TEXT("a b\nc\0d\n"), 2,
	  { { 2, 1, "a|b" }, { -EBADMSG, 2, NULL } } },
	{ "NUL byte in a comment", NUL_TEXT("# \0\n"), 2, { { -EBADMSG, 1, NULL } } },
	{ "tokens_max 1", "a\nb c\n", 0, 1, { { 1, 1, "a" }, { -ENOSPC, 2, NULL } } },
};

static size_t vector_len(const struct vector *v)
{
	return v->len ? v->len : strlen(v->text);
}

static void join(const struct cx_conf_line *line, char *out, size_t outlen)
{
	size_t off = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < line->argc; i++) {
		int n = snprintf(out + off, outlen - off, "%s%s", i ? "|" : "",
				 line->argv[i]);

		assert_true(n >= 0 && (size_t)n < outlen - off);
		off += (size_t)n;
	}
	assert_null(line->argv[line->argc]);
}

/* What every yielded line satisfies, whatever the text. */
static void check_line(const struct cx_conf_line *line, int ret,
		       unsigned int tokens_max)
{
	int i;

	assert_true(ret <= (int)tokens_max);
	assert_int_equal(line->argc, ret);
	for (i = 0; i < ret; i++) {
		const char *t = line->argv[i];

		assert_true(t >= line->buf && t < line->buf + sizeof(line->buf));
		assert_true(t[0] != '\0');
		assert_null(strpbrk(t, " \t\r\n#"));
	}
}

static unsigned int count_newlines(const char *p, size_t n)
{
	unsigned int k = 0;
	size_t i;

	for (i = 0; i < n; i++)
		k += p[i] == '\n';
	return k;
}

static void expect_result(const struct vector *v, const struct result *w,
			  const struct cx_conf_line *line, int ret)
{
	char got[CX_CONF_LINE_MAX + CX_CONF_TOKENS_MAX + 1];

	expect_ret(v->name, ret, w->ret);
	if (line->lineno != w->lineno)
		fail_msg("%s: result on line %u, want line %u", v->name,
			 line->lineno, w->lineno);
	if (ret <= 0)
		return;
	join(line, got, sizeof(got));
	if (strcmp(got, w->tokens) != 0)
		fail_msg("%s: line %u: '%s', want '%s'", v->name, line->lineno,
			 got, w->tokens);
}

static void test_vectors(void **state)
{
	struct cx_conf_line line;
	struct cx_conf c;
	size_t i, k;
	int ret;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(vectors); i++) {
		const struct vector *v = &vectors[i];
		char *text = (char *)cxt_dup(v->text, vector_len(v));

		expect_ret(v->name, cx_conf_init(&c, text, vector_len(v), v->tokens_max), 0);
		for (k = 0; k < RESULTS_MAX; k++) {
			ret = cx_conf_next(&c, &line);
			if (ret > 0)
				check_line(&line, ret, v->tokens_max);
			expect_result(v, &v->want[k], &line, ret);
			if (ret <= 0)
				break;
		}
		assert_true(k < RESULTS_MAX);
		/* The end and every error stay put. */
		expect_result(v, &v->want[k], &line, cx_conf_next(&c, &line));
		free(text);
	}
}

/*
 * Every prefix: lines that end (with '\n') inside it give exactly the
 * whole text's results; the cut line may give anything well-formed, and
 * after it comes 0 or an error.
 */
static void test_prefixes(void **state)
{
	struct cx_conf_line line;
	struct cx_conf c;
	unsigned int whole;
	size_t i, n, k;
	int ret;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(vectors); i++) {
		const struct vector *v = &vectors[i];

		for (n = 0; n < vector_len(v); n++) {
			char *text = (char *)cxt_dup(v->text, n);

			whole = count_newlines(v->text, n);
			assert_int_equal(cx_conf_init(&c, text, n, v->tokens_max), 0);
			for (k = 0; k < RESULTS_MAX; k++) {
				ret = cx_conf_next(&c, &line);
				if (ret > 0)
					check_line(&line, ret, v->tokens_max);
				if (ret == 0 || line.lineno > whole)
					break;
				expect_result(v, &v->want[k], &line, ret);
				if (ret < 0)
					break;
			}
			assert_true(k < RESULTS_MAX);
			/* No result of a whole line was left out. */
			if (ret >= 0)
				assert_true(v->want[k].ret == 0 || v->want[k].lineno > whole);
			/* The cut line is the last: then the end, or its error again. */
			if (ret > 0)
				ret = cx_conf_next(&c, &line);
			assert_true(ret <= 0);
			assert_int_equal(cx_conf_next(&c, &line), ret);
			free(text);
		}
	}
}

/* Exactly CX_CONF_LINE_MAX bytes pass, one more is -E2BIG, with or without '\n'. */
static void test_line_length(void **state)
{
	char big[CX_CONF_LINE_MAX + 3];
	struct cx_conf_line line;
	struct cx_conf c;
	char *text;
	int nl;

	(void)state;
	for (nl = 0; nl <= 1; nl++) {
		memset(big, 'k', sizeof(big));
		big[3] = ' ';
		big[CX_CONF_LINE_MAX] = '\n';
		text = (char *)cxt_dup(big, CX_CONF_LINE_MAX + (size_t)nl);
		assert_int_equal(cx_conf_init(&c, text, CX_CONF_LINE_MAX + (size_t)nl, 2), 0);
		assert_int_equal(cx_conf_next(&c, &line), 2);
		assert_int_equal(strlen(line.argv[1]), CX_CONF_LINE_MAX - 4);
		assert_int_equal(cx_conf_next(&c, &line), 0);
		free(text);

		big[CX_CONF_LINE_MAX] = 'k';
		big[CX_CONF_LINE_MAX + 1] = '\n';
		text = (char *)cxt_dup(big, CX_CONF_LINE_MAX + 1 + (size_t)nl);
		assert_int_equal(cx_conf_init(&c, text, CX_CONF_LINE_MAX + 1 + (size_t)nl, 2), 0);
		assert_int_equal(cx_conf_next(&c, &line), -E2BIG);
		assert_int_equal(line.lineno, 1);
		free(text);
	}
	/* Too long wins over too many tokens: the length is checked first. */
	memset(big, ' ', sizeof(big));
	big[0] = big[2] = big[4] = 'x';
	assert_int_equal(cx_conf_init(&c, big, CX_CONF_LINE_MAX + 1, 2), 0);
	assert_int_equal(cx_conf_next(&c, &line), -E2BIG);
	assert_int_equal(cx_conf_init(&c, big, CX_CONF_LINE_MAX, 2), 0);
	assert_int_equal(cx_conf_next(&c, &line), -ENOSPC);
}

/* CX_CONF_LINES_MAX lines pass; a line after them is -EFBIG on its number. */
static void test_line_count(void **state)
{
	size_t len = (size_t)CX_CONF_LINES_MAX * 2 + 1;
	struct cx_conf_line line;
	struct cx_conf c;
	char *text = malloc(len);
	unsigned int i;

	(void)state;
	assert_non_null(text);
	for (i = 0; i < CX_CONF_LINES_MAX; i++) {
		text[2 * i] = i == CX_CONF_LINES_MAX - 1 ? 'z' : '#';
		text[2 * i + 1] = '\n';
	}
	text[len - 1] = 'y';
	assert_int_equal(cx_conf_init(&c, text, len - 1, 2), 0);
	assert_int_equal(cx_conf_next(&c, &line), 1);
	assert_int_equal(line.lineno, CX_CONF_LINES_MAX);
	assert_int_equal(cx_conf_next(&c, &line), 0);
	/* Even a blank 10001st line is one too many, as fgets() counted it. */
	assert_int_equal(cx_conf_init(&c, text, len, 2), 0);
	assert_int_equal(cx_conf_next(&c, &line), 1);
	assert_int_equal(cx_conf_next(&c, &line), -EFBIG);
	assert_int_equal(line.lineno, CX_CONF_LINES_MAX + 1);
	assert_int_equal(cx_conf_next(&c, &line), -EFBIG);
	free(text);
}

static void test_init(void **state)
{
	struct cx_conf c;

	(void)state;
	assert_int_equal(cx_conf_init(&c, "a", 1, 0), -EINVAL);
	assert_int_equal(cx_conf_init(&c, "a", 1, CX_CONF_TOKENS_MAX + 1), -EINVAL);
	assert_int_equal(cx_conf_init(&c, NULL, 1, 2), -EINVAL);
	assert_int_equal(cx_conf_init(&c, NULL, 0, CX_CONF_TOKENS_MAX), 0);
}

static void test_seen(void **state)
{
	char key[CX_CONF_KEY_MAX + 1];
	struct cx_conf_seen s;
	unsigned int i;

	(void)state;
	cx_conf_seen_init(&s);
	assert_int_equal(cx_conf_seen_add(&s, "queue"), 0);
	assert_int_equal(cx_conf_seen_add(&s, "queue_"), 0);
	assert_int_equal(cx_conf_seen_add(&s, "queue"), -EEXIST);
	assert_int_equal(cx_conf_seen_add(&s, ""), -EINVAL);
	memset(key, 'k', sizeof(key));
	key[CX_CONF_KEY_MAX - 1] = '\0';
	assert_int_equal(cx_conf_seen_add(&s, key), 0);
	assert_int_equal(cx_conf_seen_add(&s, key), -EEXIST);
	key[CX_CONF_KEY_MAX - 1] = 'k';
	key[CX_CONF_KEY_MAX] = '\0';
	assert_int_equal(cx_conf_seen_add(&s, key), -EINVAL);
	for (i = s.n; i < CX_CONF_SEEN_MAX; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		assert_int_equal(cx_conf_seen_add(&s, key), 0);
	}
	assert_int_equal(cx_conf_seen_add(&s, "one-more"), -ENOSPC);
	assert_int_equal(cx_conf_seen_add(&s, "queue"), -EEXIST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_line_length),
		cmocka_unit_test(test_line_count),
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_seen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
