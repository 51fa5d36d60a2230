/*
 * Line tokenizer for the daemons' `key value...` configuration files
 * (conex-marker.conf(5), conex-auditor.conf(5)). No I/O: it walks a
 * caller's buffer of len bytes (no NUL terminator needed, never read past
 * len) and copies one line's tokens at a time into a struct cx_conf_line.
 * What the keys mean is the daemon's business.
 *
 * Format: a line ends at '\n' or at the end of the text. '#' starts a
 * comment that runs to the end of the line, wherever it stands (so it also
 * ends a token). Tokens are separated by spaces, tabs and carriage returns,
 * so CRLF files read the same. Lines without tokens are skipped but
 * counted.
 *
 * Errors, each sticky (every later cx_conf_next() returns it again):
 *   -EFBIG    more than CX_CONF_LINES_MAX lines
 *   -E2BIG    a line longer than CX_CONF_LINE_MAX bytes, '\n' not counted
 *   -EBADMSG  a NUL byte inside a line
 *   -ENOSPC   more tokens on a line than the caller allowed
 * checked in that order for each line, so a long line is "too long" rather
 * than "too many tokens".
 */
#ifndef CONEX_CONF_H
#define CONEX_CONF_H

#include <stddef.h>

#define CX_CONF_LINE_MAX	510		/* bytes per line, '\n' not counted */
#define CX_CONF_LINES_MAX	10000
#define CX_CONF_TOKENS_MAX	16		/* most any caller may allow */
/* A text longer than this breaks one of the two limits above. */
#define CX_CONF_TEXT_MAX	((size_t)CX_CONF_LINES_MAX * (CX_CONF_LINE_MAX + 1))

struct cx_conf {
	const char *text;
	size_t len;
	size_t off;			/* where the next line starts */
	unsigned int lineno;		/* of the line read last, 1-based */
	unsigned int tokens_max;
	int err;			/* sticky error, 0 if none yet */
};

/*
 * One line's tokens, argv[0] the key. Each token is NUL-terminated in buf;
 * the tokens and their terminators never need more than the line's length
 * plus one, since tokens are separated by at least one byte.
 */
struct cx_conf_line {
	unsigned int lineno;		/* also set when cx_conf_next() fails */
	int argc;
	char *argv[CX_CONF_TOKENS_MAX + 1];	/* NULL after the last */
	char buf[CX_CONF_LINE_MAX + 1];
};

/*
 * Start at the beginning of text (len bytes; the caller keeps it alive and
 * unchanged while iterating). -EINVAL if tokens_max is 0 or more than
 * CX_CONF_TOKENS_MAX, or text is NULL with len > 0.
 */
int cx_conf_init(struct cx_conf *c, const char *text, size_t len,
		 unsigned int tokens_max);

/*
 * The next line that has tokens: returns its token count (> 0) with line
 * filled in, 0 at the end of the text, or one of the errors above with
 * line->lineno naming the offending line.
 */
int cx_conf_next(struct cx_conf *c, struct cx_conf_line *line);

/*
 * Keys given so far, for the "every key at most once" rule. Keys are
 * copied, so the line they came from may be reused.
 */
#define CX_CONF_SEEN_MAX	32
#define CX_CONF_KEY_MAX		32		/* bytes, NUL included */

struct cx_conf_seen {
	unsigned int n;
	char key[CX_CONF_SEEN_MAX][CX_CONF_KEY_MAX];
};

void cx_conf_seen_init(struct cx_conf_seen *s);

/*
 * Record key. 0 if it is new, -EEXIST if it was recorded before, -ENOSPC
 * if the table is full, -EINVAL if key is empty or does not fit in
 * CX_CONF_KEY_MAX (neither of the last two is recorded).
 */
int cx_conf_seen_add(struct cx_conf_seen *s, const char *key);

#endif
