/*
 * Configuration files (see conffile.h). Reading stops at CX_CONF_TEXT_MAX
 * bytes: a longer file breaks the line-count or line-length limit anyway,
 * so no file the limits accept is refused for its size.
 *
 * A reload reads the file on the daemon's packet loop: only a regular
 * file is read, opened without waiting (a FIFO or a device in its place
 * would block the loop, and SIGTERM with it, until someone writes).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <conex/conf.h>

#include "conffile.h"

#define READ_CHUNK_BYTES	4096

/* The whole file into a heap buffer; 0 with *textp and *lenp, or -1 with err set. */
static int read_text(const char *path, char **textp, size_t *lenp, char *err,
		     size_t errlen)
{
	size_t len = 0, cap = 0;
	char *text = NULL, *bigger;
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto err_free;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto err_free;
	}
	if (st.st_size > (off_t)CX_CONF_TEXT_MAX) {
		snprintf(err, errlen, "%s: longer than %zu bytes", path,
			 CX_CONF_TEXT_MAX);
		goto err_free;
	}
	/* Each turn reads at least one byte or ends: at most TEXT_MAX + 1 turns. */
	for (;;) {
		if (len > CX_CONF_TEXT_MAX) {
			snprintf(err, errlen, "%s: longer than %zu bytes", path,
				 CX_CONF_TEXT_MAX);
			goto err_free;
		}
		if (len == cap) {
			cap = cap ? 2 * cap : READ_CHUNK_BYTES;
			if (cap > CX_CONF_TEXT_MAX + 1)
				cap = CX_CONF_TEXT_MAX + 1;
			bigger = realloc(text, cap);
			if (bigger == NULL) {
				snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
				goto err_free;
			}
			text = bigger;
		}
		n = read(fd, text + len, cap - len);
		if (n < 0) {
			snprintf(err, errlen, "%s: read error", path);
			goto err_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	*textp = text;
	*lenp = len;
	return 0;
err_free:
	free(text);
	close(fd);
	return -1;
}

static bool repeatable(const struct cxd_conf_spec *spec, const char *key)
{
	const char *const *k;

	for (k = spec->repeatable; k && *k; k++)
		if (strcmp(*k, key) == 0)
			return true;
	return false;
}

int cxd_conf_load(const char *path, const struct cxd_conf_spec *spec,
		  void *arg, char *err, size_t errlen)
{
	struct cx_conf_seen seen;
	struct cx_conf_line line;
	struct cx_conf it;
	char msg[256], *text;
	size_t len;
	int n, ret = -1;

	if (read_text(path, &text, &len, err, errlen) < 0)
		return -1;
	if (cx_conf_init(&it, text, len, spec->tokens_max) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(EINVAL));
		goto out_free;
	}
	cx_conf_seen_init(&seen);
	while ((n = cx_conf_next(&it, &line)) > 0) {
		if ((unsigned int)n < spec->tokens_min)
			break;
		/*
		 * Only -EEXIST is an error here: a key the table cannot hold
		 * is longer than any key of ours, and the setter rejects it.
		 */
		if (!repeatable(spec, line.argv[0]) &&
		    cx_conf_seen_add(&seen, line.argv[0]) == -EEXIST) {
			snprintf(err, errlen, "%s:%u: '%s' given twice", path,
				 line.lineno, line.argv[0]);
			goto out_free;
		}
		msg[0] = '\0';
		if (spec->set(arg, n, line.argv, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s:%u: %s", path, line.lineno, msg);
			goto out_free;
		}
	}
	switch (n) {
	case 0:
		ret = 0;
		break;
	case -EFBIG:
		snprintf(err, errlen, "%s:%u: too many lines", path, line.lineno);
		break;
	case -E2BIG:
		snprintf(err, errlen, "%s:%u: line longer than %d bytes", path,
			 line.lineno, CX_CONF_LINE_MAX);
		break;
	case -EBADMSG:
		snprintf(err, errlen, "%s:%u: NUL byte", path, line.lineno);
		break;
	default:
		/* -ENOSPC, or a count under tokens_min (the loop's break). */
		snprintf(err, errlen, "%s:%u: %s", path, line.lineno,
			 spec->tokens_msg);
		break;
	}
out_free:
	free(text);
	return ret;
}

#define KEYFILE_MAX_BYTES	128

bool cxd_conf_name_ok(const char *v, size_t max)
{
	return v[0] != '\0' && strlen(v) < max &&
	       v[strspn(v, CXD_CONF_NAME_ALPHABET)] == '\0';
}

static int hex_nibble(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Exactly 64 hex digits, nothing else. */
static int parse_key_hex(const char *s, size_t len,
			 uint8_t key[CXD_CONF_KEY_BYTES])
{
	size_t i;

	if (len != 2 * CXD_CONF_KEY_BYTES)
		return -EINVAL;
	for (i = 0; i < CXD_CONF_KEY_BYTES; i++) {
		int hi = hex_nibble(s[2 * i]), lo = hex_nibble(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/*
 * A key file holds the 64 hex digits and at most one trailing newline. It
 * must not be readable by group or others: it is a shared secret.
 */
static int read_key_file(const char *what, const char *path,
			 uint8_t key[CXD_CONF_KEY_BYTES], char *err,
			 size_t errlen)
{
	char buf[KEYFILE_MAX_BYTES];
	struct stat st;
	ssize_t n;
	size_t len;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, errlen, "%s: key file %s: %s", what, path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: key file %s: not a regular file",
			 what, path);
		goto out_close;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s: key file %s: accessible by group or "
			 "others (mode %03o), want 0600 or 0400", what, path,
			 (unsigned int)(st.st_mode & 0777));
		goto out_close;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		snprintf(err, errlen, "%s: key file %s: %s", what, path,
			 strerror(errno));
		goto out_close;
	}
	len = (size_t)n;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (parse_key_hex(buf, len, key) < 0) {
		snprintf(err, errlen, "%s: key file %s: expected 64 hex digits",
			 what, path);
		goto out_close;
	}
	ret = 0;
out_close:
	close(fd);
	return ret;
}

int cxd_conf_key(const char *what, const char *v,
		 uint8_t key[CXD_CONF_KEY_BYTES], char *err, size_t errlen)
{
	if (v[0] == '/')
		return read_key_file(what, v, key, err, errlen);
	if (parse_key_hex(v, strlen(v), key) < 0) {
		snprintf(err, errlen, "%s: key must be 64 hex digits or an "
			 "absolute key file path", what);
		return -1;
	}
	return 0;
}

int cxd_conf_addr(const char *v, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, v, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, v, addr) == 1)
		return AF_INET6;
	return -EINVAL;
}
