/*
 * conex-marker configuration: one struct, every default in
 * cxm_config_init(), a strict `key value` file parser (conex-marker.conf(5)).
 */
#ifndef CXM_CONFIG_H
#define CXM_CONFIG_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <conex/gauge.h>

#define CXM_CONFIG_DEFAULT	"/etc/conex/marker.conf"
#define CXM_FLOWS_MIN		64
#define CXM_FLOWS_MAX		(1U << 20)
#define CXM_FLOWS_DEFAULT	16384
#define CXM_IDLE_DEFAULT_NS	(120ULL * 1000000000ULL)
#define CXM_IDLE_MIN_NS		1000000000ULL
#define CXM_IDLE_MAX_NS		(86400ULL * 1000000000ULL)

struct cxm_config {
	char ifname[IF_NAMESIZE];
	bool ipv4;
	bool ipv6;
	bool mss_clamp;
	bool accecn;			/* cx_accecn as the namespace's default CC */
	uint32_t flows_max;		/* flow table entries */
	uint64_t flow_idle_ns;		/* idle connections are forgotten after this */
	struct cx_gauge_cfg gauge;	/* credit rule and (test-only) cheat */
};

void cxm_config_init(struct cxm_config *c);

/*
 * Parse path into c (keys not in the file keep their value). On error
 * writes "file:line: message" into err and returns -1; 0 on success.
 */
int cxm_config_load(struct cxm_config *c, const char *path, char *err,
		    size_t errlen);

/* Parse one "key value" pair; -1 with err set (no file:line prefix). */
int cxm_config_set(struct cxm_config *c, const char *key, const char *value,
		   char *err, size_t errlen);

const char *cxm_cheat_name(uint32_t cheat);

#endif
