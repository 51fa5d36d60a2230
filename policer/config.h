/*
 * conex-policer configuration: one struct, every default in
 * pol_config_init(), a strict `key value...` file parser
 * (conex-policer.conf(5)). Nothing here touches the system.
 */
#ifndef POL_CONFIG_H
#define POL_CONFIG_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <conex/police.h>

#include "common/hostport.h"

#define POL_CONFIG_DEFAULT	"/etc/conex/policer.conf"
#define POL_TENANTS_MAX		64
#define POL_GUESTS_MAX		64
#define POL_GUEST_ADDRS_MAX	8
#define POL_PEERS_MAX		64
#define POL_REMOTES_MAX		256
#define POL_PROTECT_MAX		64
#define POL_NAME_MAX		32	/* tenant names, NUL included */
#define POL_KEY_BYTES		32
#define POL_URL_MAX		256
#define POL_BANK_PREFIX_MAX	33	/* bank_prefix, NUL included */
#define POL_BANK_USER_MAX	65	/* bank_user, NUL included */
#define POL_BANK_PASSWORD_MAX	513	/* bank_password_file's, NUL included */
#define POL_PATH_MAX		256

/* Defaults (pol_config_init). */
#define POL_QUEUE_DEFAULT	1
#define POL_FEEDBACK_PORT_DEFAULT	4790
#define POL_VXLAN_PORT_DEFAULT	4789
#define POL_VNI_DEFAULT		4242
#define POL_STATE_FILE_DEFAULT	"/var/lib/conex/policer.state"
#define POL_TUN_DEV_DEFAULT	"cxtun0"
#define POL_TABLE_DEFAULT	4242	/* policy-routing table of the tunnel */
#define POL_MARK_DEFAULT	0x4358	/* fwmark that steers into the tunnel */
#define POL_BANK_SHARE_DEFAULT_PPM	500000	/* half the allowance while Redis is lost */
#define POL_BANK_PREFIX_DEFAULT	"conex:bank:"	/* = CXP_BANK_KEY_PREFIX */
#define POL_RAMP_DEFAULT_NS	(5ULL * 1000 * 1000)	/* see config.c */

/* An address or prefix, network order; IPv4 in the first 4 octets. */
struct pol_prefix {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t len;		/* prefix length; 32 or 128 for one address */
};

struct pol_tenant {
	char name[POL_NAME_MAX];
	struct cx_police_cfg police;
};

struct pol_guest {
	char ifname[IF_NAMESIZE];
	unsigned int tenant;	/* index into tenants[] */
	struct pol_prefix addrs[POL_GUEST_ADDRS_MAX];	/* its own addresses */
	unsigned int n_addrs;
};

/* A host at the far end of the tunnel, and the sender of its feedback. */
struct pol_peer {
	uint32_t host_id;
	int family;
	uint8_t addr[16];	/* its underlay address */
	uint8_t key[POL_KEY_BYTES];
};

/* Guests behind a peer: Not-ConEx traffic to them goes through the tunnel. */
struct pol_remote {
	struct pol_prefix prefix;
	unsigned int peer;	/* index into peers[] */
};

struct pol_config {
	struct pol_tenant tenants[POL_TENANTS_MAX];
	unsigned int n_tenants;
	struct pol_guest guests[POL_GUESTS_MAX];
	unsigned int n_guests;
	uint16_t queue;
	bool fail_open;
	uint32_t host_id;
	int local_family;	/* 0: no tunnel (no `local`) */
	uint8_t local_addr[16];	/* this host's underlay address */
	uint16_t feedback_port;	/* where this policer receives feedback */
	uint16_t vxlan_port;
	uint32_t vni;
	char tun_dev[IF_NAMESIZE];
	uint32_t table;
	uint32_t mark;		/* the tunnel's bits of the packet mark... */
	uint32_t mark_mask;	/* ...within these; the others are left alone */
	struct pol_peer peers[POL_PEERS_MAX];
	unsigned int n_peers;
	struct pol_remote remotes[POL_REMOTES_MAX];
	unsigned int n_remotes;
	/* Never reachable from a guest (underlay, token bank, management). */
	struct pol_prefix protect[POL_PROTECT_MAX];
	unsigned int n_protect;
	char redis_url[POL_URL_MAX];	/* empty: local buckets */
	uint32_t bank_share_ppm;
	char bank_prefix[POL_BANK_PREFIX_MAX];	/* the bank's keys: prefix + tenant */
	char bank_user[POL_BANK_USER_MAX];	/* "": AUTH as the default user */
	char bank_password_file[POL_PATH_MAX];	/* "": no AUTH */
	char bank_password[POL_BANK_PASSWORD_MAX];	/* its contents */
	struct cxd_hostport metrics;	/* family 0: no /metrics endpoint */
	char state_file[POL_PATH_MAX];	/* "": enforcement state not kept */
};

void pol_config_init(struct pol_config *c);

/*
 * Parse path into c. On error writes "file:line: message" into err and
 * returns -1; 0 on success. pol_config_check() runs at the end.
 */
int pol_config_load(struct pol_config *c, const char *path, char *err,
		    size_t errlen);

/* Whole-config rules; -1 with err set. */
int pol_config_check(const struct pol_config *c, char *err, size_t errlen);

/* Index of the tenant named name, or -1. */
int pol_config_tenant(const struct pol_config *c, const char *name);

/* Does the address a (4 or 16 octets by family) lie in px? */
bool pol_prefix_match(const struct pol_prefix *px, int family, const uint8_t *a);

/*
 * May a guest send to a (4 or 16 octets by family)? Not to this host's or a
 * peer's underlay address (a guest's own VXLAN there would be taken for
 * the tunnel's) nor into a 'protect' prefix.
 */
bool pol_config_protected(const struct pol_config *c, int family,
			  const uint8_t *a);

/*
 * The token bank's address from 'redis redis://ADDRESS[:PORT]' (numeric,
 * as the bank takes it): 0 with *family and addr (16 octets) set, or -1
 * (no bank, or a unix socket). It is protected like the underlay.
 */
int pol_config_bank_addr(const struct pol_config *c, int *family, uint8_t *addr);

/* Does the address a (4 or 16 octets by family) lie in a `remote` prefix? */
bool pol_config_remote(const struct pol_config *c, int family, const uint8_t *a);

/* True if the tunnel is configured (local address and at least one remote). */
bool pol_config_tunnel(const struct pol_config *c);

#endif
