/*
 * The Prometheus text exposition format, version 0.0.4: "# HELP" and
 * "# TYPE" once per metric family, then its samples, each
 * `name{label="value",...} value` on one line. Writes into a caller's
 * buffer and remembers the first error instead of failing each call
 * (as common/out.h does); cxd_prom_end() reports it.
 *
 * Names are checked against the format's grammar ([a-zA-Z_:][a-zA-Z0-9_:]*
 * for metrics, [a-zA-Z_][a-zA-Z0-9_]* for labels, "__" prefixes reserved);
 * a sample must belong to the family opened last, so a family's samples
 * stay together as the format requires. Label values are escaped
 * (backslash, double quote, newline); HELP text likewise (backslash,
 * newline).
 */
#ifndef CXD_PROM_H
#define CXD_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CXD_PROM_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"
#define CXD_PROM_NAME_MAX	128	/* metric names, NUL included */
#define CXD_PROM_LABELS_MAX	8	/* per sample */

enum cxd_prom_type {
	CXD_PROM_COUNTER,
	CXD_PROM_GAUGE,
};

struct cxd_prom_label {
	const char *name;
	const char *value;	/* any bytes but NUL: escaped on output */
};

struct cxd_prom {
	char *buf;
	size_t len;
	size_t used;
	int err;				/* first error, 0 if none */
	char family[CXD_PROM_NAME_MAX];	/* open family, "" if none */
};

void cxd_prom_init(struct cxd_prom *p, char *buf, size_t len);

/* Opens a family: name, its type and a one-line help text. */
void cxd_prom_family(struct cxd_prom *p, const char *name,
		     enum cxd_prom_type type, const char *help);

/* One sample of the open family; name must be that family's. */
void cxd_prom_u64(struct cxd_prom *p, const char *name,
		  const struct cxd_prom_label *labels, size_t n_labels,
		  uint64_t v);
void cxd_prom_i64(struct cxd_prom *p, const char *name,
		  const struct cxd_prom_label *labels, size_t n_labels,
		  int64_t v);
void cxd_prom_f64(struct cxd_prom *p, const char *name,
		  const struct cxd_prom_label *labels, size_t n_labels,
		  double v);

/*
 * The length written (the buffer is NUL-terminated), or the first error:
 * -ENOSPC if it did not fit, -EINVAL for a bad name, a sample outside its
 * family or too many labels.
 */
int cxd_prom_end(const struct cxd_prom *p);

bool cxd_prom_metric_name_ok(const char *s);
bool cxd_prom_label_name_ok(const char *s);

/*
 * s escaped as a label value (quote true: \\ \" \n) or as HELP text
 * (quote false: \\ \n) into out, NUL-terminated. Its length, or -ENOSPC.
 */
int cxd_prom_escape(const char *s, bool quote, char *out, size_t outlen);

#endif
