/*
 * A daemon's `key value...` configuration file: read whole (at most
 * CX_CONF_TEXT_MAX bytes), split by conex/conf.h, each line handed to the
 * daemon's own setter. The rules every daemon shares live here: the
 * limits of conex/conf.h, a key at most once unless it is listed as
 * repeatable, and every error reported as "file:line: message".
 */
#ifndef CXD_CONFFILE_H
#define CXD_CONFFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cxd_conf_spec {
	unsigned int tokens_min;	/* per line, the key included; >= 1 */
	unsigned int tokens_max;	/* <= CX_CONF_TOKENS_MAX */
	const char *tokens_msg;		/* the error for a count outside min..max */
	const char *const *repeatable;	/* keys allowed more than once, NULL-terminated */
	/* One line: 0, or -1 with err set (no file:line prefix). */
	int (*set)(void *arg, int argc, char **argv, char *err, size_t errlen);
};

/*
 * Read path and feed its lines to spec->set(arg, ...) in order, stopping
 * at the first error. Returns 0, or -1 with err set.
 */
int cxd_conf_load(const char *path, const struct cxd_conf_spec *spec,
		  void *arg, char *err, size_t errlen);

/* Names end up in log lines, JSON and iptables argv: a safe alphabet. */
#define CXD_CONF_NAME_ALPHABET	"abcdefghijklmnopqrstuvwxyz" \
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@"
#define CXD_CONF_KEY_BYTES	32

/* v is 1..max-1 characters of CXD_CONF_NAME_ALPHABET. */
bool cxd_conf_name_ok(const char *v, size_t max);

/*
 * A shared key: 64 hex digits, or the absolute path of a file holding
 * them that only its owner may read. 0, or -1 with err set ("WHAT: ...").
 */
int cxd_conf_key(const char *what, const char *v,
		 uint8_t key[CXD_CONF_KEY_BYTES], char *err, size_t errlen);

/* An IPv4 or IPv6 address into addr (IPv4 in the first 4 octets, the rest
 * zero): AF_INET, AF_INET6, or -EINVAL. */
int cxd_conf_addr(const char *v, uint8_t addr[16]);

#endif
