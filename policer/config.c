/*
 * conex-policer configuration file (conex-policer.conf(5)): `key value...`
 * lines, split by conex/conf.h, checked strictly; every error names the
 * key and the offending value, and the loader prefixes file:line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <conex/conf.h>
#include <conex/parse.h>

#include "common/conffile.h"
#include "config.h"

void pol_config_init(struct pol_config *c)
{
	memset(c, 0, sizeof(*c));
	c->queue = POL_QUEUE_DEFAULT;
	c->fail_open = true;
	c->feedback_port = POL_FEEDBACK_PORT_DEFAULT;
	c->vxlan_port = POL_VXLAN_PORT_DEFAULT;
	c->vni = POL_VNI_DEFAULT;
	snprintf(c->state_file, sizeof(c->state_file), "%s", POL_STATE_FILE_DEFAULT);
	snprintf(c->tun_dev, sizeof(c->tun_dev), "%s", POL_TUN_DEV_DEFAULT);
	c->table = POL_TABLE_DEFAULT;
	c->mark = POL_MARK_DEFAULT;
	c->mark_mask = UINT32_MAX;
	c->bank_share_ppm = POL_BANK_SHARE_DEFAULT_PPM;
	snprintf(c->bank_prefix, sizeof(c->bank_prefix), "%s",
		 POL_BANK_PREFIX_DEFAULT);
}

int pol_config_tenant(const struct pol_config *c, const char *name)
{
	unsigned int i;

	for (i = 0; i < c->n_tenants; i++)
		if (strcmp(c->tenants[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool pol_prefix_match(const struct pol_prefix *px, int family, const uint8_t *a)
{
	unsigned int full = px->len / 8, rest = px->len % 8;

	if (px->family != family || memcmp(px->addr, a, full) != 0)
		return false;
	return !rest || ((px->addr[full] ^ a[full]) & (0xff00 >> rest)) == 0;
}

bool pol_config_remote(const struct pol_config *c, int family, const uint8_t *a)
{
	unsigned int i;

	for (i = 0; i < c->n_remotes; i++)
		if (pol_prefix_match(&c->remotes[i].prefix, family, a))
			return true;
	return false;
}

int pol_config_bank_addr(const struct pol_config *c, int *family, uint8_t *addr)
{
	static const char pfx[] = "redis://";
	char host[INET6_ADDRSTRLEN];
	const char *h, *end;
	size_t n;

	if (strncmp(c->redis_url, pfx, sizeof(pfx) - 1) != 0)
		return -1;
	h = c->redis_url + sizeof(pfx) - 1;
	if (h[0] == '[') {
		h++;
		end = strchr(h, ']');
		if (end == NULL)
			return -1;
	} else {
		end = h + strcspn(h, ":/");
	}
	n = (size_t)(end - h);
	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, host, addr) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, host, addr) == 1)
		*family = AF_INET6;
	else
		return -1;
	return 0;
}

bool pol_config_protected(const struct pol_config *c, int family,
			  const uint8_t *a)
{
	size_t alen = family == AF_INET ? 4 : 16;
	uint8_t bank[16];
	unsigned int i;
	int bf;

	if (c->local_family == family && memcmp(c->local_addr, a, alen) == 0)
		return true;
	for (i = 0; i < c->n_peers; i++)
		if (c->peers[i].family == family &&
		    memcmp(c->peers[i].addr, a, alen) == 0)
			return true;
	for (i = 0; i < c->n_protect; i++)
		if (pol_prefix_match(&c->protect[i], family, a))
			return true;
	return pol_config_bank_addr(c, &bf, bank) == 0 && bf == family &&
	       memcmp(bank, a, alen) == 0;
}

bool pol_config_tunnel(const struct pol_config *c)
{
	return c->local_family != 0 && c->n_remotes > 0;
}

static int set_u64(const char *key, const char *v, uint64_t min, uint64_t max,
		   uint64_t *out, char *err, size_t errlen)
{
	if (cx_parse_u64(v, min, max, out) < 0) {
		snprintf(err, errlen, "%s: '%s' is not a number in %llu..%llu",
			 key, v, (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	return 0;
}

/*
 * tunnel_mark VALUE[/MASK]: the bits of the packet mark the tunnel owns
 * (MASK, all 32 by default) and their value, as iptables' MARK and ip
 * rule's fwmark write them, so that other users of other bits (a
 * firewall, kube-proxy) keep theirs. VALUE must be non-zero and within
 * MASK: an all-zero value would select every unmarked packet.
 */
static int parse_mark(const char *v, uint32_t *mark, uint32_t *mask, char *err,
		      size_t errlen)
{
	char num[24];
	const char *slash = strchr(v, '/');
	uint64_t x = 0, m = UINT32_MAX;
	size_t n = slash ? (size_t)(slash - v) : strlen(v);
	bool ok = n < sizeof(num);

	if (ok) {
		memcpy(num, v, n);
		num[n] = '\0';
		ok = cx_parse_u64(num, 1, UINT32_MAX, &x) == 0 &&
		     (!slash || cx_parse_u64(slash + 1, 1, UINT32_MAX, &m) == 0);
	}
	if (!ok) {
		snprintf(err, errlen, "tunnel_mark: '%s' is not VALUE[/MASK], each "
			 "a number in 1..4294967295", v);
		return -1;
	}
	if (x & ~m) {
		snprintf(err, errlen, "tunnel_mark: '%s': the value has bits outside "
			 "the mask", v);
		return -1;
	}
	*mark = (uint32_t)x;
	*mask = (uint32_t)m;
	return 0;
}

/* ADDR or ADDR/LEN; a bare address is a host prefix. Host bits must be 0. */
static int parse_prefix(const char *key, const char *v, struct pol_prefix *p,
			char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(v, '/');
	uint64_t len;
	unsigned int bits, i;

	memset(p, 0, sizeof(*p));
	if (strlen(v) >= sizeof(buf))
		goto bad;
	snprintf(buf, sizeof(buf), "%s", v);
	if (slash)
		buf[slash - v] = '\0';
	p->family = cxd_conf_addr(buf, p->addr);
	if (p->family < 0)
		goto bad;
	bits = p->family == AF_INET ? 32 : 128;
	p->len = (uint8_t)bits;
	if (slash) {
		if (cx_parse_u64(slash + 1, 0, bits, &len) < 0)
			goto bad;
		p->len = (uint8_t)len;
	}
	for (i = p->len; i < bits; i++) {
		if (p->addr[i / 8] & (0x80 >> (i % 8))) {
			snprintf(err, errlen, "%s: '%s' has host bits set", key, v);
			return -1;
		}
	}
	return 0;
bad:
	snprintf(err, errlen, "%s: '%s' is not an IPv4 or IPv6 address or prefix",
		 key, v);
	return -1;
}

/* tenant NAME ALLOWANCE [burst SIZE] [peak RATE] [peak_burst SIZE] [ramp DURATION] */
static int set_tenant(struct pol_config *c, int argc, char **argv, char *err,
		      size_t errlen)
{
	struct pol_tenant t;
	uint64_t x;
	int i, ret;

	if (argc < 3 || argc % 2 == 0) {
		snprintf(err, errlen, "tenant: expected 'tenant NAME ALLOWANCE "
			 "[burst SIZE] [peak RATE] [peak_burst SIZE] [ramp DURATION]'");
		return -1;
	}
	memset(&t, 0, sizeof(t));
	if (!cxd_conf_name_ok(argv[1], POL_NAME_MAX)) {
		snprintf(err, errlen, "tenant: bad name '%s' (1..%d of "
			 "[A-Za-z0-9._-@])", argv[1], POL_NAME_MAX - 1);
		return -1;
	}
	if (pol_config_tenant(c, argv[1]) >= 0) {
		snprintf(err, errlen, "tenant: '%s' given twice", argv[1]);
		return -1;
	}
	snprintf(t.name, sizeof(t.name), "%s", argv[1]);
	cx_police_cfg_default(&t.police);
	if (cx_parse_rate(argv[2], &t.police.allowance_bps) < 0) {
		snprintf(err, errlen, "tenant %s: bad allowance '%s' (a rate: "
			 "e.g. 2mbit)", argv[1], argv[2]);
		return -1;
	}
	/* The default burst follows the allowance: one second of it. */
	t.police.burst_bytes = t.police.allowance_bps / 8;
	/*
	 * p follows the debt almost at once (see conex/police.h): a slow
	 * ramp lets a burst of marks through while p climbs, and what
	 * overflows the debt bound is forgotten, so the tenant gets more
	 * than its allowance (measured: 42 % more with a 100 ms ramp and a
	 * 50 KB burst). A few data-centre RTTs.
	 */
	t.police.ramp_ns = POL_RAMP_DEFAULT_NS;
	/* Within the bucket's limits: above 8.6 Gbit/s, 1 GiB. */
	if (t.police.burst_bytes < CX_POLICE_BURST_MIN_BYTES)
		t.police.burst_bytes = CX_POLICE_BURST_MIN_BYTES;
	if (t.police.burst_bytes > CX_POLICE_BURST_MAX_BYTES)
		t.police.burst_bytes = CX_POLICE_BURST_MAX_BYTES;
	for (i = 3; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (strcmp(k, "burst") == 0)
			ret = cx_parse_size(v, &t.police.burst_bytes);
		else if (strcmp(k, "peak") == 0)
			ret = cx_parse_rate(v, &t.police.peak_bps);
		else if (strcmp(k, "peak_burst") == 0)
			ret = cx_parse_size(v, &t.police.peak_burst_bytes);
		else if (strcmp(k, "ramp") == 0)
			ret = cx_parse_duration(v, &x) < 0 ? -EINVAL :
			      (t.police.ramp_ns = x, 0);
		else {
			snprintf(err, errlen, "tenant %s: unknown option '%s' "
				 "(burst, peak, peak_burst, ramp)", argv[1], k);
			return -1;
		}
		if (ret < 0) {
			snprintf(err, errlen, "tenant %s: bad %s '%s'", argv[1], k, v);
			return -1;
		}
	}
	if (cx_police_cfg_check(&t.police) < 0) {
		snprintf(err, errlen, "tenant %s: allowance, burst, peak or ramp "
			 "out of range (see conex-policer.conf(5))", argv[1]);
		return -1;
	}
	if (c->n_tenants >= POL_TENANTS_MAX) {
		snprintf(err, errlen, "tenant: more than %d tenants", POL_TENANTS_MAX);
		return -1;
	}
	c->tenants[c->n_tenants++] = t;
	return 0;
}

/* guest IFNAME TENANT ADDR[/LEN]... */
static int set_guest(struct pol_config *c, int argc, char **argv, char *err,
		     size_t errlen)
{
	struct pol_guest g;
	unsigned int i;
	int t;

	if (argc < 4) {
		snprintf(err, errlen, "guest: expected 'guest IFNAME TENANT "
			 "ADDRESS...' (the guest's own addresses)");
		return -1;
	}
	memset(&g, 0, sizeof(g));
	if (!cxd_conf_name_ok(argv[1], IF_NAMESIZE)) {
		snprintf(err, errlen, "guest: bad interface name '%s'", argv[1]);
		return -1;
	}
	for (i = 0; i < c->n_guests; i++) {
		if (strcmp(c->guests[i].ifname, argv[1]) == 0) {
			snprintf(err, errlen, "guest: interface '%s' given twice",
				 argv[1]);
			return -1;
		}
	}
	t = pol_config_tenant(c, argv[2]);
	if (t < 0) {
		snprintf(err, errlen, "guest %s: unknown tenant '%s' (a 'tenant' "
			 "line must come first)", argv[1], argv[2]);
		return -1;
	}
	snprintf(g.ifname, sizeof(g.ifname), "%s", argv[1]);
	g.tenant = (unsigned int)t;
	if (argc - 3 > POL_GUEST_ADDRS_MAX) {
		snprintf(err, errlen, "guest %s: more than %d addresses", argv[1],
			 POL_GUEST_ADDRS_MAX);
		return -1;
	}
	for (i = 3; i < (unsigned int)argc; i++)
		if (parse_prefix("guest", argv[i], &g.addrs[g.n_addrs++], err,
				 errlen) < 0)
			return -1;
	if (c->n_guests >= POL_GUESTS_MAX) {
		snprintf(err, errlen, "guest: more than %d guests", POL_GUESTS_MAX);
		return -1;
	}
	c->guests[c->n_guests++] = g;
	return 0;
}

/* peer HOST_ID ADDRESS KEY */
static int set_peer(struct pol_config *c, int argc, char **argv, char *err,
		    size_t errlen)
{
	struct pol_peer p;
	uint64_t v;
	unsigned int i;

	if (argc != 4) {
		snprintf(err, errlen, "peer: expected 'peer HOST_ID ADDRESS KEY'");
		return -1;
	}
	memset(&p, 0, sizeof(p));
	if (set_u64("peer", argv[1], 1, UINT32_MAX, &v, err, errlen) < 0)
		return -1;
	p.host_id = (uint32_t)v;
	p.family = cxd_conf_addr(argv[2], p.addr);
	if (p.family < 0) {
		snprintf(err, errlen, "peer: '%s' is not an IPv4 or IPv6 address",
			 argv[2]);
		return -1;
	}
	if (cxd_conf_key("peer", argv[3], p.key, err, errlen) < 0)
		return -1;
	for (i = 0; i < c->n_peers; i++) {
		if (c->peers[i].host_id == p.host_id) {
			snprintf(err, errlen, "peer: host id %u given twice", p.host_id);
			return -1;
		}
		if (c->peers[i].family == p.family &&
		    memcmp(c->peers[i].addr, p.addr, 16) == 0) {
			snprintf(err, errlen, "peer: address %s given twice", argv[2]);
			return -1;
		}
	}
	if (c->n_peers >= POL_PEERS_MAX) {
		snprintf(err, errlen, "peer: more than %d peers", POL_PEERS_MAX);
		return -1;
	}
	c->peers[c->n_peers++] = p;
	return 0;
}

/* remote PREFIX HOST_ID */
static int set_remote(struct pol_config *c, int argc, char **argv, char *err,
		      size_t errlen)
{
	struct pol_remote r;
	uint64_t v;
	unsigned int i;

	if (argc != 3) {
		snprintf(err, errlen, "remote: expected 'remote PREFIX HOST_ID'");
		return -1;
	}
	memset(&r, 0, sizeof(r));
	if (parse_prefix("remote", argv[1], &r.prefix, err, errlen) < 0)
		return -1;
	if (set_u64("remote", argv[2], 1, UINT32_MAX, &v, err, errlen) < 0)
		return -1;
	for (i = 0; i < c->n_peers; i++)
		if (c->peers[i].host_id == v)
			break;
	if (i == c->n_peers) {
		snprintf(err, errlen, "remote %s: unknown peer host id %s (a "
			 "'peer' line must come first)", argv[1], argv[2]);
		return -1;
	}
	r.peer = i;
	if (c->n_remotes >= POL_REMOTES_MAX) {
		snprintf(err, errlen, "remote: more than %d prefixes", POL_REMOTES_MAX);
		return -1;
	}
	c->remotes[c->n_remotes++] = r;
	return 0;
}

/* protect PREFIX */
static int set_protect(struct pol_config *c, int argc, char **argv, char *err,
		       size_t errlen)
{
	struct pol_prefix px;

	if (argc != 2) {
		snprintf(err, errlen, "protect: expected 'protect PREFIX'");
		return -1;
	}
	if (parse_prefix("protect", argv[1], &px, err, errlen) < 0)
		return -1;
	if (c->n_protect >= POL_PROTECT_MAX) {
		snprintf(err, errlen, "protect: more than %d prefixes", POL_PROTECT_MAX);
		return -1;
	}
	c->protect[c->n_protect++] = px;
	return 0;
}

/*
 * bank_password_file PATH: the token bank's password, the file's one line
 * (a trailing newline is not part of it). A secret: the file must be a
 * regular file of this daemon's user (root) that group and others can
 * neither read nor write, as for the peers' key files.
 */
static int read_bank_password(struct pol_config *c, const char *path,
			      char *err, size_t errlen)
{
	char buf[POL_BANK_PASSWORD_MAX + 2];
	struct stat st;
	ssize_t n;
	size_t len;
	int fd, ret = -1;

	if (path[0] != '/' || strlen(path) >= sizeof(c->bank_password_file)) {
		snprintf(err, errlen, "bank_password_file: '%s' is not an "
			 "absolute path of at most %d bytes", path,
			 POL_PATH_MAX - 1);
		return -1;
	}
	/* O_NONBLOCK: a FIFO put there must not hang the daemon. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "bank_password_file: %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "bank_password_file: %s: not a regular file",
			 path);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "bank_password_file: %s: owned by uid %u, "
			 "not by this daemon's user (uid %u): chown it",
			 path, (unsigned int)st.st_uid, (unsigned int)geteuid());
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "bank_password_file: %s: readable or "
			 "writable by group or others (mode %04o), want 0600 or "
			 "0400: it holds the token bank's password", path,
			 (unsigned int)(st.st_mode & 07777));
		goto out;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		snprintf(err, errlen, "bank_password_file: %s: %s", path,
			 strerror(errno));
		goto out;
	}
	len = (size_t)n;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0 || len > POL_BANK_PASSWORD_MAX - 1) {
		snprintf(err, errlen, "bank_password_file: %s: want one line of "
			 "1..%d bytes", path, POL_BANK_PASSWORD_MAX - 1);
		goto out;
	}
	if (memchr(buf, '\0', len) || memchr(buf, '\n', len) ||
	    memchr(buf, '\r', len)) {
		snprintf(err, errlen, "bank_password_file: %s: want one line "
			 "(no NUL, CR or LF inside the password)", path);
		goto out;
	}
	memcpy(c->bank_password, buf, len);
	c->bank_password[len] = '\0';
	snprintf(c->bank_password_file, sizeof(c->bank_password_file), "%s", path);
	ret = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return ret;
}

/* bank_prefix: 1..32 of [A-Za-z0-9:._/-]. */
static bool bank_prefix_ok(const char *v)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"abcdefghijklmnopqrstuvwxyz0123456789:._/-";
	size_t n = strlen(v);

	return n >= 1 && n < POL_BANK_PREFIX_MAX && strspn(v, alphabet) == n;
}

static bool scalar_key(const char *key)
{
	static const char *const keys[] = {
		"host_id", "queue", "failure_policy", "local", "feedback_port",
		"vxlan_port", "vni", "tunnel_dev", "tunnel_table", "tunnel_mark",
		"redis", "bank_share", "bank_prefix", "bank_user",
		"bank_password_file", "metrics", "state_file",
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

/* One-value keys: 0, -1 with err set, or -2 for a key that is not one. */
static int set_scalar(struct pol_config *c, const char *key, const char *v,
		      char *err, size_t errlen)
{
	uint64_t x;

	if (strcmp(key, "host_id") == 0) {
		if (set_u64(key, v, 1, UINT32_MAX, &x, err, errlen) < 0)
			return -1;
		c->host_id = (uint32_t)x;
	} else if (strcmp(key, "queue") == 0) {
		if (set_u64(key, v, 0, UINT16_MAX, &x, err, errlen) < 0)
			return -1;
		c->queue = (uint16_t)x;
	} else if (strcmp(key, "failure_policy") == 0) {
		if (strcmp(v, "fail-open") == 0) {
			c->fail_open = true;
		} else if (strcmp(v, "fail-closed") == 0) {
			c->fail_open = false;
		} else {
			snprintf(err, errlen, "failure_policy: expected fail-open "
				 "or fail-closed, got '%s'", v);
			return -1;
		}
	} else if (strcmp(key, "local") == 0) {
		c->local_family = cxd_conf_addr(v, c->local_addr);
		if (c->local_family < 0) {
			c->local_family = 0;
			snprintf(err, errlen, "local: '%s' is not an IPv4 or IPv6 "
				 "address", v);
			return -1;
		}
	} else if (strcmp(key, "feedback_port") == 0) {
		if (set_u64(key, v, 1, UINT16_MAX, &x, err, errlen) < 0)
			return -1;
		c->feedback_port = (uint16_t)x;
	} else if (strcmp(key, "vxlan_port") == 0) {
		if (set_u64(key, v, 1, UINT16_MAX, &x, err, errlen) < 0)
			return -1;
		c->vxlan_port = (uint16_t)x;
	} else if (strcmp(key, "vni") == 0) {
		/* RFC 7348 §5: 24 bits. */
		if (set_u64(key, v, 1, (1U << 24) - 1, &x, err, errlen) < 0)
			return -1;
		c->vni = (uint32_t)x;
	} else if (strcmp(key, "tunnel_dev") == 0) {
		if (!cxd_conf_name_ok(v, IF_NAMESIZE)) {
			snprintf(err, errlen, "tunnel_dev: bad interface name '%s'", v);
			return -1;
		}
		snprintf(c->tun_dev, sizeof(c->tun_dev), "%s", v);
	} else if (strcmp(key, "tunnel_table") == 0) {
		/* 253..255 are the kernel's default, main and local tables. */
		if (set_u64(key, v, 1, 252, &x, err, errlen) < 0 &&
		    set_u64(key, v, 256, UINT32_MAX, &x, err, errlen) < 0) {
			snprintf(err, errlen, "tunnel_table: '%s' is not a table "
				 "number (1..252 or 256..4294967295)", v);
			return -1;
		}
		c->table = (uint32_t)x;
	} else if (strcmp(key, "tunnel_mark") == 0) {
		if (parse_mark(v, &c->mark, &c->mark_mask, err, errlen) < 0)
			return -1;
	} else if (strcmp(key, "redis") == 0) {
		if (strlen(v) >= sizeof(c->redis_url)) {
			snprintf(err, errlen, "redis: URL longer than %d bytes",
				 POL_URL_MAX - 1);
			return -1;
		}
		snprintf(c->redis_url, sizeof(c->redis_url), "%s", v);
	} else if (strcmp(key, "bank_share") == 0) {
		/* A percentage of the allowance, 1..100. */
		size_t n = strlen(v);
		char num[8];

		if (n < 2 || n > sizeof(num) || v[n - 1] != '%')
			goto bad_share;
		memcpy(num, v, n - 1);
		num[n - 1] = '\0';
		if (cx_parse_u64(num, 1, 100, &x) < 0)
			goto bad_share;
		c->bank_share_ppm = (uint32_t)x * 10000;
	} else if (strcmp(key, "bank_prefix") == 0) {
		if (!bank_prefix_ok(v)) {
			snprintf(err, errlen, "bank_prefix: bad prefix '%s' (1..%d "
				 "of [A-Za-z0-9:._/-])", v, POL_BANK_PREFIX_MAX - 1);
			return -1;
		}
		snprintf(c->bank_prefix, sizeof(c->bank_prefix), "%s", v);
	} else if (strcmp(key, "bank_user") == 0) {
		if (!cxd_conf_name_ok(v, POL_BANK_USER_MAX)) {
			snprintf(err, errlen, "bank_user: bad user name '%s' (1..%d "
				 "of [A-Za-z0-9._-@])", v, POL_BANK_USER_MAX - 1);
			return -1;
		}
		snprintf(c->bank_user, sizeof(c->bank_user), "%s", v);
	} else if (strcmp(key, "bank_password_file") == 0) {
		if (read_bank_password(c, v, err, errlen) < 0)
			return -1;
	} else if (strcmp(key, "state_file") == 0) {
		if (strcmp(v, "none") == 0) {
			c->state_file[0] = '\0';
		} else if (v[0] != '/' || strlen(v) >= sizeof(c->state_file) - 8) {
			snprintf(err, errlen, "state_file: expected an absolute path "
				 "(under %d bytes) or none, got '%s'",
				 (int)sizeof(c->state_file) - 8, v);
			return -1;
		} else {
			snprintf(c->state_file, sizeof(c->state_file), "%s", v);
		}
	} else if (strcmp(key, "metrics") == 0) {
		if (cxd_hostport_parse(v, &c->metrics) < 0) {
			snprintf(err, errlen, "metrics: '%s' is not ADDRESS:PORT "
				 "(e.g. 127.0.0.1:9464 or [::1]:9464)", v);
			return -1;
		}
	} else {
		return -2;
	}
	return 0;
bad_share:
	snprintf(err, errlen, "bank_share: expected a percentage 1%%..100%%, got '%s'", v);
	return -1;
}

static int set_line(void *arg, int argc, char **argv, char *err, size_t errlen)
{
	struct pol_config *c = arg;
	const char *key = argv[0];
	int ret;

	if (strcmp(key, "tenant") == 0)
		return set_tenant(c, argc, argv, err, errlen);
	if (strcmp(key, "guest") == 0)
		return set_guest(c, argc, argv, err, errlen);
	if (strcmp(key, "peer") == 0)
		return set_peer(c, argc, argv, err, errlen);
	if (strcmp(key, "remote") == 0)
		return set_remote(c, argc, argv, err, errlen);
	if (strcmp(key, "protect") == 0)
		return set_protect(c, argc, argv, err, errlen);
	if (argc == 2) {
		ret = set_scalar(c, key, argv[1], err, errlen);
		if (ret != -2)
			return ret;
	} else if (scalar_key(key)) {
		snprintf(err, errlen, "%s: expected one value", key);
		return -1;
	}
	snprintf(err, errlen, "unknown key '%s' (see conex-policer.conf(5))", key);
	return -1;
}

int pol_config_check(const struct pol_config *c, char *err, size_t errlen)
{
	unsigned int i, j;

	if (c->n_guests == 0) {
		snprintf(err, errlen, "no 'guest IFNAME TENANT ADDRESS...': nothing "
			 "to police");
		return -1;
	}
	if (c->n_remotes > 0 && c->local_family == 0) {
		snprintf(err, errlen, "'remote' prefixes but no 'local' underlay "
			 "address: the tunnel needs one");
		return -1;
	}
	if (c->local_family != 0 && c->host_id == 0) {
		snprintf(err, errlen, "'local' given but no host_id: the tunnel "
			 "and feedback messages need this host's id");
		return -1;
	}
	for (i = 0; i < c->n_peers; i++) {
		if (c->peers[i].host_id == c->host_id) {
			snprintf(err, errlen, "peer %u: that is this host's own id",
				 c->host_id);
			return -1;
		}
		if (c->local_family && c->peers[i].family != c->local_family) {
			snprintf(err, errlen, "peer %u: address family differs from "
				 "'local' (one underlay family per tunnel)",
				 c->peers[i].host_id);
			return -1;
		}
	}
	for (i = 0; i < c->n_tenants; i++) {
		for (j = 0; j < c->n_guests; j++)
			if (c->guests[j].tenant == i)
				break;
		if (j == c->n_guests) {
			snprintf(err, errlen, "tenant %s: no guest belongs to it",
				 c->tenants[i].name);
			return -1;
		}
	}
	if (c->bank_user[0] && !c->bank_password[0]) {
		snprintf(err, errlen, "bank_user '%s' but no bank_password_file: "
			 "an ACL user needs its password", c->bank_user);
		return -1;
	}
	if (!c->redis_url[0] && (c->bank_password[0] || c->bank_user[0] ||
				  strcmp(c->bank_prefix, POL_BANK_PREFIX_DEFAULT))) {
		snprintf(err, errlen, "bank_password_file, bank_user or bank_prefix "
			 "given but no 'redis': there is no token bank");
		return -1;
	}
	if (strcmp(c->tun_dev, "lo") == 0) {
		snprintf(err, errlen, "tunnel_dev: 'lo' is not a tunnel");
		return -1;
	}
	return 0;
}

int pol_config_load(struct pol_config *c, const char *path, char *err,
		    size_t errlen)
{
	static const char *const repeatable[] = {
		"tenant", "guest", "peer", "remote", "protect", NULL,
	};
	static const struct cxd_conf_spec spec = {
		.tokens_min = 1,
		.tokens_max = CX_CONF_TOKENS_MAX,
		.tokens_msg = "too many values on one line",
		.repeatable = repeatable,
		.set = set_line,
	};
	char msg[512];

	if (cxd_conf_load(path, &spec, c, err, errlen) < 0)
		return -1;
	if (pol_config_check(c, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "%s: %s", path, msg);
		return -1;
	}
	return 0;
}
