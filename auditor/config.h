/*
 * conex-auditor configuration: one struct, every default in
 * aud_config_init(), a strict `key value...` file parser
 * (conex-auditor.conf(5)). Nothing here touches the system.
 */
#ifndef AUD_CONFIG_H
#define AUD_CONFIG_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <conex/audit.h>

#include "common/hostport.h"

#define AUD_CONFIG_DEFAULT	"/etc/conex/auditor.conf"
#define AUD_GUESTS_MAX		64
#define AUD_PEERS_MAX		64
#define AUD_TENANT_MAX		32	/* bytes, NUL included */
#define AUD_KEY_BYTES		32
#define AUD_FLOWS_MIN		64
#define AUD_FLOWS_MAX		(1U << 22)
/*
 * 20 ms: the sender's policer drains a tunnelled tenant in lumps of one
 * interval; with 100 ms the legacy shares of tests/pytest/test_policer.py
 * swung between 0.36 and 0.59 from run to run, with 20 ms 0.47 to 0.55.
 * 50 messages a second per peer host is nothing.
 */
#define AUD_FB_INTERVAL_DEFAULT_NS	(20ULL * 1000000ULL)
#define AUD_STATE_FILE_DEFAULT	"/var/lib/conex/auditor.state"
#define AUD_PATH_MAX		256
#define AUD_FB_INTERVAL_MIN_NS		(1ULL * 1000000ULL)
#define AUD_FB_INTERVAL_MAX_NS		(60ULL * 1000000000ULL)

struct aud_guest {
	char ifname[IF_NAMESIZE];
	char tenant[AUD_TENANT_MAX];
};

struct aud_peer {
	uint32_t host_id;
	int family;			/* AF_INET or AF_INET6 */
	uint8_t addr[16];		/* network order; IPv4 in the first 4 */
	uint16_t port;			/* the peer policer's feedback port */
	uint8_t key[AUD_KEY_BYTES];
};

struct aud_config {
	struct aud_guest guests[AUD_GUESTS_MAX];
	unsigned int n_guests;
	uint16_t queue;
	bool fail_open;			/* see conex-auditor.8, FAILURE POLICY */
	uint32_t host_id;
	struct aud_peer peers[AUD_PEERS_MAX];
	unsigned int n_peers;
	uint16_t vxlan_port;
	char tun_dev[IF_NAMESIZE];	/* the policer's tunnel device */
	uint64_t feedback_interval_ns;
	struct cx_audit_cfg audit;		/* the audit module's parameters */
	struct cxd_hostport metrics;	/* family 0: no /metrics endpoint */
	char state_file[AUD_PATH_MAX];	/* "": sources' debts not kept */
};

void aud_config_init(struct aud_config *c);

/*
 * Parse path into c. On error writes "file:line: message" into err and
 * returns -1; 0 on success. The caller checks aud_config_check() after.
 */
int aud_config_load(struct aud_config *c, const char *path, char *err,
		    size_t errlen);

/*
 * One line's tokens (argv[0] is the key). Returns 0, or -1 with err set
 * (no file:line prefix). Used by the loader and for command-line overrides.
 */
int aud_config_set(struct aud_config *c, int argc, char **argv, char *err,
		   size_t errlen);

/* Whole-config rules (at least one guest, ...); -1 with err set. */
int aud_config_check(const struct aud_config *c, char *err, size_t errlen);

const char *aud_config_tenant(const struct aud_config *c, const char *ifname);

/*
 * Reload: what differs between the running a and the new b that only a
 * restart can apply (a phrase for the error message), or NULL.
 */
const char *aud_config_restart_needed(const struct aud_config *a,
				      const struct aud_config *b);

#endif
