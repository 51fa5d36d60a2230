/*
 * A daemon's `key value...` configuration file: read whole (at most
 * CX_CONF_TEXT_MAX bytes), split by conex/conf.h, each line handed to the
 * daemon's own setter. The rules every daemon shares live here: the
 * limits of conex/conf.h, a key at most once unless it is listed as
 * repeatable, and every error reported as "file:line: message".
 */
#ifndef CXD_CONFFILE_H
#define CXD_CONFFILE_H

#include <stddef.h>

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

#endif
