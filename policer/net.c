/*
 * conex-policer's kernel plumbing (net.h): the NFQUEUE hook and the VXLAN
 * fallback for legacy guests, made by iptables, ip, bridge and nft run as
 * child processes (iptables with -w: wait for the xtables lock rather than
 * fail when another tool holds it), as auditor/rules.c does.
 *
 * Outer ECN of the encapsulation. RFC 6040 §4.1 normal mode copies the
 * inner ECN field outward, CE included. Observed on Linux 6.18: a VXLAN
 * device with `tos inherit` copies Not-ECT, ECT(0) and ECT(1), but turns
 * an inner CE into an outer ECT(0) (INET_ECN_encapsulate(), the RFC 3168
 * full-functionality behaviour). The fallback also needs an ECN-capable
 * outer header for Not-ECT inner packets, so that the fabric marks rather
 * than drops them (RFC 7713 §5.5, draft-briscoe-conex-data-centre §5).
 * Both are fixed by nft payload rewriting in postrouting, on packets to
 * the VXLAN port from the local underlay address:
 *
 *   outer Not-ECT (so inner Not-ECT)      -> outer ECT(0)
 *   inner IPv4 or IPv6 CE                 -> outer CE
 *
 * The inner header sits at a fixed offset behind the outer UDP header:
 *
 *   UDP (8) | VXLAN (8) | Ethernet (14: ethertype at 12) | inner IP
 *   so ethertype at transport offset 28 (bit 224), inner IP at 30 (bit
 *   240): IPv4 ECN = bits 6-7 of octet 1 (bit 254), IPv6 ECN = bits
 *   10-11 (bit 250).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/run.h"
#include "common/nfacct.h"
#include "net.h"

#define OUT_BYTES	1024
#define LIST_BYTES	(64 * 1024)
#define JUMPS_MAX	1024	/* jumps deleted per tool, a hard cap */
#define RULES_MAX	64	/* policy rules deleted per family, a hard cap */
#define HOST_ID_MAX	0xffffffU	/* three octets of the device MAC */
#define VNI_MAX		0xffffffU	/* RFC 7348 §5: 24-bit VNI */
#define TUN_MTU		1500
#define TUN_TTL		"64"
#define NFT_SCRIPT_BYTES	2048
/* 64 guest names and 2 x (64 peers + 64 protect prefixes + local) */
#define NFT_PROTECT_BYTES	(24 * 1024)

static const char *const xt_tools[] = { "iptables", "ip6tables" };
static const char *const ip_fams[] = { "-4", "-6" };

/* An argv whose strings are copies: execvp() wants them writable. */
static void args_xt(struct cxd_args *a, unsigned int t)
{
	cxd_args_init(a, xt_tools[t], "-w", "-t", "mangle", NULL);
}

/* "cmd args...: exit N: first line of output" into err. */
static void cmd_error(const struct cxd_args *a, int status, char *out, char *err,
		      size_t errlen)
{
	size_t used = 0;
	int i, w;

	if (errlen == 0)
		return;
	err[0] = '\0';
	for (i = 0; i < a->n && used < errlen; i++) {
		w = snprintf(err + used, errlen - used, "%s%s", i ? " " : "",
			     a->argv[i]);
		if (w < 0)
			return;
		used += (size_t)w;
	}
	if (used >= errlen)
		return;
	out[strcspn(out, "\n")] = '\0';
	if (status < 0)
		snprintf(err + used, errlen - used, ": %s", strerror(-status));
	else if (status == 127)
		snprintf(err + used, errlen - used, ": cannot run it");
	else
		snprintf(err + used, errlen - used, ": exit %d: %s", status, out);
}

/*
 * Run a with its output in out. 0 on success; on failure -E2BIG (argv
 * overflow), -ENOENT (tool not found), -EIO (non-zero exit) or the -errno
 * of fork/pipe, with err set unless err is NULL.
 */
static int exec_out(const struct cxd_args *a, char *out, size_t outlen, char *err,
		    size_t errlen)
{
	int status;

	if (a->overflow) {
		if (err != NULL)
			snprintf(err, errlen, "%s: argument list too long", a->argv[0]);
		return -E2BIG;
	}
	status = cxd_run(a->argv, out, outlen);
	if (status == 0)
		return 0;
	if (err != NULL)
		cmd_error(a, status, out, err, errlen);
	if (status < 0)
		return status;
	return status == 127 ? -ENOENT : -EIO;
}

static int exec_args(const struct cxd_args *a, char *err, size_t errlen)
{
	char out[OUT_BYTES];

	return exec_out(a, out, sizeof(out), err, errlen);
}

/* Run arg0... quietly; true if it exited 0. For probes and sweeps. */
static bool try_cmd(const char *arg0, ...)
{
	struct cxd_args a;
	char out[OUT_BYTES];
	const char *s;
	va_list ap;

	cxd_args_init(&a, arg0, NULL);
	va_start(ap, arg0);
	while ((s = va_arg(ap, const char *)) != NULL)
		cxd_args_add(&a, s);
	va_end(ap);
	return exec_out(&a, out, sizeof(out), NULL, 0) == 0;
}

/* A sweep goes on after an error; the first one is what it reports. */
static void keep_first(int *first, int ret, const char *msg, char *err,
		       size_t errlen)
{
	if (ret >= 0 || *first < 0)
		return;
	*first = ret;
	snprintf(err, errlen, "%s", msg);
}

/* --- names ----------------------------------------------------------------- */

/* fe80::<id>: the device's link-local address, a next hop for the peers. */
static void ll_addr(uint32_t id, char *buf, size_t len)
{
	uint8_t a[16] = { 0xfe, 0x80 };

	a[12] = (uint8_t)(id >> 24);
	a[13] = (uint8_t)(id >> 16);
	a[14] = (uint8_t)(id >> 8);
	a[15] = (uint8_t)id;
	inet_ntop(AF_INET6, a, buf, (socklen_t)len);
}

/* 02:43:58:<id>: locally administered, unicast ("CX"), one per host. */
static void dev_mac(uint32_t id, char *buf, size_t len)
{
	snprintf(buf, len, "02:43:58:%02x:%02x:%02x", (id >> 16) & 0xffU,
		 (id >> 8) & 0xffU, id & 0xffU);
}

static void prefix_str(const struct pol_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family, p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
}

/* --- checks ----------------------------------------------------------------- */

static int check_tunnel(const struct pol_config *c, char *err, size_t errlen)
{
	unsigned int i, j, bits;
	const struct pol_prefix *p;

	if (c->local_family != AF_INET && c->local_family != AF_INET6) {
		snprintf(err, errlen, "tunnel: local address family %d", c->local_family);
		return -EINVAL;
	}
	if (c->tun_dev[0] == '\0' || c->vxlan_port == 0 || c->vni > VNI_MAX ||
	    c->mark == 0 || c->table == 0 || (c->table >= 253 && c->table <= 255)) {
		snprintf(err, errlen, "tunnel: need a device name, a VXLAN port, a "
			 "VNI below 2^24, a non-zero mark and a table other than "
			 "0 and 253-255 (the kernel's)");
		return -EINVAL;
	}
	if (c->host_id == 0 || c->host_id > HOST_ID_MAX) {
		snprintf(err, errlen, "tunnel: host id %u not in 1..%u (it makes "
			 "the device MAC)", c->host_id, HOST_ID_MAX);
		return -EINVAL;
	}
	for (i = 0; i < c->n_peers; i++) {
		if (c->peers[i].family != c->local_family) {
			snprintf(err, errlen, "tunnel: peer %u is not in the local "
				 "address family (one VXLAN device, one family)",
				 c->peers[i].host_id);
			return -EINVAL;
		}
		if (c->peers[i].host_id == 0 || c->peers[i].host_id > HOST_ID_MAX ||
		    c->peers[i].host_id == c->host_id) {
			snprintf(err, errlen, "tunnel: peer host id %u not in 1..%u "
				 "or equal to ours", c->peers[i].host_id, HOST_ID_MAX);
			return -EINVAL;
		}
	}
	for (i = 0; i < c->n_remotes; i++) {
		p = &c->remotes[i].prefix;
		bits = p->family == AF_INET ? 32 : 128;
		if ((p->family != AF_INET && p->family != AF_INET6) ||
		    p->len > bits || c->remotes[i].peer >= c->n_peers) {
			snprintf(err, errlen, "tunnel: remote %u: bad prefix or peer", i);
			return -EINVAL;
		}
		/*
		 * The outer packet keeps the guest's fwmark (the VXLAN device
		 * looks its route up with skb->mark), so a remote prefix that
		 * covered an underlay address would route the tunnel into
		 * itself.
		 */
		for (j = 0; j < c->n_peers; j++)
			if (pol_prefix_match(p, c->peers[j].family, c->peers[j].addr))
				break;
		if (j < c->n_peers || pol_prefix_match(p, c->local_family, c->local_addr)) {
			char s[INET6_ADDRSTRLEN + 8];

			prefix_str(p, s, sizeof(s));
			snprintf(err, errlen, "tunnel: remote %s covers an underlay "
				 "address: the tunnel would route into itself", s);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_config(const struct pol_config *c, char *err, size_t errlen)
{
	unsigned int i;

	if (c->n_guests > POL_GUESTS_MAX || c->n_peers > POL_PEERS_MAX ||
	    c->n_remotes > POL_REMOTES_MAX) {
		snprintf(err, errlen, "configuration counts out of range");
		return -EINVAL;
	}
	for (i = 0; i < c->n_guests; i++) {
		if (c->guests[i].ifname[0] == '\0' ||
		    memchr(c->guests[i].ifname, '\0', IF_NAMESIZE) == NULL) {
			snprintf(err, errlen, "guest %u: no interface name", i);
			return -EINVAL;
		}
	}
	if (memchr(c->tun_dev, '\0', IF_NAMESIZE) == NULL) {
		snprintf(err, errlen, "tunnel device name not terminated");
		return -EINVAL;
	}
	return pol_config_tunnel(c) ? check_tunnel(c, err, errlen) : 0;
}

/* --- the NFQUEUE hook --------------------------------------------------------- */

/* `-A` (append) or `-D` (delete) the jump of guest interface ifname. */
static int guest_jump(unsigned int t, const char *op, const char *ifname,
		      char *err, size_t errlen)
{
	struct cxd_args a;

	args_xt(&a, t);
	cxd_args_add(&a, op);
	cxd_args_add(&a, "PREROUTING");
	cxd_args_add(&a, "-i");
	cxd_args_add(&a, ifname);
	cxd_args_add(&a, "-j");
	cxd_args_add(&a, POL_NET_CHAIN);
	return exec_args(&a, err, errlen);
}

static int install_hook(const struct pol_config *c, unsigned int t, char *err,
			size_t errlen)
{
	char qnum[8];
	struct cxd_args a;
	unsigned int i;
	int ret;

	snprintf(qnum, sizeof(qnum), "%u", c->queue);
	args_xt(&a, t);
	cxd_args_add(&a, "-N");
	cxd_args_add(&a, POL_NET_CHAIN);
	ret = exec_args(&a, err, errlen);
	if (ret < 0)
		return ret;
	/*
	 * With a tunnel, the kernel marks every packet that does not carry
	 * ConEx in its usual place (POL_NET_CONEX_U32) for the tunnel before
	 * it is queued, and the daemon corrects the odd case. So a packet
	 * that fails open (no daemon, or a full queue) still goes through
	 * the tunnel and the far auditor's count, and the common verdict is
	 * a plain accept, which batches.
	 */
	if (pol_config_tunnel(c)) {
		char mark[32];

		/* Only the tunnel's bits: other users of the mark keep theirs. */
		snprintf(mark, sizeof(mark), "0x%x/0x%x", c->mark, c->mark_mask);
		args_xt(&a, t);
		cxd_args_add(&a, "-A");
		cxd_args_add(&a, POL_NET_CHAIN);
		cxd_args_add(&a, "-m");
		cxd_args_add(&a, "u32");
		cxd_args_add(&a, "!");
		cxd_args_add(&a, "--u32");
		cxd_args_add(&a, t == 0 ? POL_NET_CONEX_U32_V4 : POL_NET_CONEX_U32_V6);
		cxd_args_add(&a, "-j");
		cxd_args_add(&a, "MARK");
		cxd_args_add(&a, "--set-mark");
		cxd_args_add(&a, mark);
		ret = exec_args(&a, err, errlen);
		if (ret < 0)
			return ret;
	}
	/*
	 * Without --queue-bypass a queue with no listener drops: fail-closed.
	 * The nfacct match counts what is queued: the kernel counts nothing
	 * it passes under fail-open, so the daemon reports the difference.
	 */
	ret = cxd_nfacct_ensure(POL_NET_NFACCT);
	if (ret < 0) {
		snprintf(err, errlen, "nfacct %s: %s", POL_NET_NFACCT, strerror(-ret));
		return ret;
	}
	args_xt(&a, t);
	cxd_args_add(&a, "-A");
	cxd_args_add(&a, POL_NET_CHAIN);
	cxd_args_add(&a, "-m");
	cxd_args_add(&a, "nfacct");
	cxd_args_add(&a, "--nfacct-name");
	cxd_args_add(&a, POL_NET_NFACCT);
	cxd_args_add(&a, "-j");
	cxd_args_add(&a, "NFQUEUE");
	cxd_args_add(&a, "--queue-num");
	cxd_args_add(&a, qnum);
	if (c->fail_open)
		cxd_args_add(&a, "--queue-bypass");
	ret = exec_args(&a, err, errlen);
	if (ret < 0)
		return ret;
	/*
	 * Jumps last, so the chain is complete before traffic enters it;
	 * appended, so marking rules an operator put first still run (an
	 * NFQUEUE verdict ends the chain).
	 */
	for (i = 0; i < c->n_guests; i++) {
		ret = guest_jump(t, "-A", c->guests[i].ifname, err, errlen);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * Delete every rule of PREROUTING that jumps to our chain, as `-S` lists
 * it ("-A PREROUTING -i g1 -j CONEX-POLICE"): each line becomes a -D.
 * Returns how many, or -errno with err set.
 */
static int remove_jumps(unsigned int t, char *err, size_t errlen)
{
	static const char want[] = " -j " POL_NET_CHAIN;
	char *out, *line, *next, *tok, *save;
	struct cxd_args a;
	int ret, deleted = 0;

	out = malloc(LIST_BYTES);
	if (out == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	args_xt(&a, t);
	cxd_args_add(&a, "-S");
	cxd_args_add(&a, "PREROUTING");
	ret = exec_out(&a, out, LIST_BYTES, err, errlen);
	if (ret < 0)
		goto out_free;
	for (line = out; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		/* Exact target: CONEX-POLICE must not match CONEX-POLICE-X. */
		tok = strstr(line, want);
		if (strncmp(line, "-A ", 3) != 0 || tok == NULL ||
		    (tok[sizeof(want) - 1] != '\0' && tok[sizeof(want) - 1] != ' '))
			continue;
		if (deleted >= JUMPS_MAX) {
			snprintf(err, errlen, "%s: more than %d jumps to %s",
				 xt_tools[t], JUMPS_MAX, POL_NET_CHAIN);
			ret = -E2BIG;
			goto out_free;
		}
		args_xt(&a, t);
		for (tok = strtok_r(line, " ", &save); tok != NULL;
		     tok = strtok_r(NULL, " ", &save))
			cxd_args_add(&a, strcmp(tok, "-A") == 0 ? "-D" : tok);
		ret = exec_args(&a, err, errlen);
		if (ret < 0)
			goto out_free;
		deleted++;
	}
	ret = deleted;
out_free:
	free(out);
	return ret;
}

static int remove_hook(unsigned int t, char *err, size_t errlen)
{
	struct cxd_args a;
	int n, ret;

	n = remove_jumps(t, err, errlen);
	if (n < 0)
		return n;
	/* A failing flush means no chain: also the stale-rule sweep. */
	if (!try_cmd(xt_tools[t], "-w", "-t", "mangle", "-F", POL_NET_CHAIN, NULL))
		return n;
	args_xt(&a, t);
	cxd_args_add(&a, "-X");
	cxd_args_add(&a, POL_NET_CHAIN);
	ret = exec_args(&a, err, errlen);
	return ret < 0 ? ret : n + 1;
}

/* --- the tunnel --------------------------------------------------------------- */

/*
 * rp_filter off: decapsulated packets come in on the device with sources
 * the host routes via the underlay. The kernel uses max(all, dev), so
 * where all is strict (1) only loose (2) on the device gets them through.
 */
static int set_rp_filter(const char *dev, char *err, size_t errlen)
{
	char path[96], all = '0';
	const char *val;
	int fd, ret = 0;

	fd = open("/proc/sys/net/ipv4/conf/all/rp_filter", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &all, 1) != 1)
			all = '0';
		close(fd);
	}
	val = all == '1' ? "2" : "0";
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter", dev);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, 1) != 1) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

static int install_peers(const struct pol_config *c, char *err, size_t errlen)
{
	char mac[18], ll[INET6_ADDRSTRLEN], addr[INET6_ADDRSTRLEN];
	const struct pol_peer *p;
	struct cxd_args a;
	unsigned int i;
	int ret;

	for (i = 0; i < c->n_peers; i++) {
		p = &c->peers[i];
		dev_mac(p->host_id, mac, sizeof(mac));
		ll_addr(p->host_id, ll, sizeof(ll));
		inet_ntop(p->family, p->addr, addr, sizeof(addr));
		cxd_args_init(&a, "bridge", "fdb", "append", mac, "dev", c->tun_dev,
			  "dst", addr, NULL);
		ret = exec_args(&a, err, errlen);
		if (ret < 0)
			return ret;
		cxd_args_init(&a, "ip", "-6", "neigh", "replace", ll, "lladdr", mac,
			  "dev", c->tun_dev, "nud", "permanent", NULL);
		ret = exec_args(&a, err, errlen);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* IPv4 prefixes get an IPv6 next hop (RFC 5549 style, Linux >= 5.2). */
static int install_routes(const struct pol_config *c, char *err, size_t errlen)
{
	char pfx[INET6_ADDRSTRLEN + 8], ll[INET6_ADDRSTRLEN], table[16];
	const struct pol_remote *r;
	struct cxd_args a;
	unsigned int i;
	int ret;

	snprintf(table, sizeof(table), "%u", c->table);
	for (i = 0; i < c->n_remotes; i++) {
		r = &c->remotes[i];
		prefix_str(&r->prefix, pfx, sizeof(pfx));
		ll_addr(c->peers[r->peer].host_id, ll, sizeof(ll));
		cxd_args_init(&a, "ip", r->prefix.family == AF_INET ? "-4" : "-6",
			  "route", "replace", pfx, "via", NULL);
		if (r->prefix.family == AF_INET)
			cxd_args_add(&a, "inet6");
		cxd_args_add(&a, ll);
		cxd_args_add(&a, "dev");
		cxd_args_add(&a, c->tun_dev);
		cxd_args_add(&a, "table");
		cxd_args_add(&a, table);
		ret = exec_args(&a, err, errlen);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * pol_net_install() sweeps our rules away first, so adding here never
 * duplicates one: installing twice leaves what installing once does.
 */
static int install_rules(const struct pol_config *c, char *err, size_t errlen)
{
	char sel[32], table[16], pref[16];
	struct cxd_args a;
	unsigned int f;
	int ret;

	snprintf(sel, sizeof(sel), "0x%x/0x%x", c->mark, c->mark_mask);
	snprintf(table, sizeof(table), "%u", c->table);
	snprintf(pref, sizeof(pref), "%u", POL_NET_RULE_PREF);
	for (f = 0; f < 2; f++) {
		cxd_args_init(&a, "ip", ip_fams[f], "rule", "add", "fwmark", sel,
			  "lookup", table, "pref", pref, NULL);
		ret = exec_args(&a, err, errlen);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* One nft batch: the table appears whole or not at all. */
static int install_nft(const struct pol_config *c, char *err, size_t errlen)
{
	static const char t[] = "inet " POL_NET_NFT_TABLE " postrouting";
	char script[NFT_SCRIPT_BYTES], local[INET6_ADDRSTRLEN], m[160];
	const char *ip = c->local_family == AF_INET ? "ip" : "ip6";
	struct cxd_args a;
	int w;

	inet_ntop(c->local_family, c->local_addr, local, sizeof(local));
	snprintf(m, sizeof(m), "%s saddr %s udp dport %u", ip, local, c->vxlan_port);
	w = snprintf(script, sizeof(script),
		     "add table inet %s\n"
		     "add chain %s { type filter hook postrouting priority mangle; "
		     "policy accept; }\n"
		     "add rule %s %s %s ecn not-ect %s ecn set ect0\n"
		     "add rule %s %s @th,224,16 0x0800 @th,254,2 3 %s ecn set ce\n"
		     "add rule %s %s @th,224,16 0x86dd @th,250,2 3 %s ecn set ce\n",
		     POL_NET_NFT_TABLE, t, t, m, ip, ip, t, m, ip, t, m, ip);
	if (w < 0 || (size_t)w >= sizeof(script)) {
		snprintf(err, errlen, "nft script too long");
		return -E2BIG;
	}
	cxd_args_init(&a, "nft", script, NULL);
	return exec_args(&a, err, errlen);
}

/* Appends to *w: -E2BIG once the script is full. */
static int put(char *script, size_t len, size_t *w, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int put(char *script, size_t len, size_t *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*w >= len)
		return -E2BIG;
	va_start(ap, fmt);
	n = vsnprintf(script + *w, len - *w, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *w)
		return -E2BIG;
	*w += (size_t)n;
	return 0;
}

/*
 * Is a inside a protect prefix other than p (for a prefix p: a larger one,
 * or an equal one listed before it)? nft refuses overlapping elements in
 * one set, so such an element is left out: the other covers it.
 */
static bool in_protect(const struct pol_config *c, int family, const uint8_t *a,
		       const struct pol_prefix *p)
{
	unsigned int i;

	for (i = 0; i < c->n_protect; i++) {
		const struct pol_prefix *q = &c->protect[i];

		if (q == p || q->family != family || !pol_prefix_match(q, family, a))
			continue;
		if (p == NULL || q->len < p->len || (q->len == p->len && q < p))
			return true;
	}
	return false;
}

/* Adds address a unless a protect prefix or an earlier address has it. */
static int put_addr(const struct pol_config *c, int family, const uint8_t *a,
		    uint8_t seen[][16], unsigned int *n, char *script, size_t len,
		    size_t *w)
{
	size_t alen = family == AF_INET ? 4 : 16;
	char addr[INET6_ADDRSTRLEN];
	unsigned int i;

	if (in_protect(c, family, a, NULL))
		return 0;
	for (i = 0; i < *n; i++)
		if (memcmp(seen[i], a, alen) == 0)
			return 0;
	memcpy(seen[(*n)++], a, alen);
	inet_ntop(family, a, addr, sizeof(addr));
	return put(script, len, w, "%s%s", *n > 1 ? ", " : "{ ", addr);
}

/* "{ a, b/24, ... }" of the protected destinations of one family; 0 if none. */
static int put_protected(const struct pol_config *c, int family, char *script,
			 size_t len, size_t *w)
{
	uint8_t seen[POL_PEERS_MAX + 2][16], bank[16];
	char addr[INET6_ADDRSTRLEN];
	unsigned int i, n = 0, np = 0;
	int ret = 0, bf;

	if (c->local_family == family)
		ret |= put_addr(c, family, c->local_addr, seen, &n, script, len, w);
	for (i = 0; i < c->n_peers; i++)
		if (c->peers[i].family == family)
			ret |= put_addr(c, family, c->peers[i].addr, seen, &n, script,
					len, w);
	if (pol_config_bank_addr(c, &bf, bank) == 0 && bf == family)
		ret |= put_addr(c, family, bank, seen, &n, script, len, w);
	for (i = 0; i < c->n_protect; i++) {
		if (c->protect[i].family != family ||
		    in_protect(c, family, c->protect[i].addr, &c->protect[i]))
			continue;
		inet_ntop(family, c->protect[i].addr, addr, sizeof(addr));
		ret |= put(script, len, w, "%s%s/%u", n + np++ ? ", " : "{ ", addr,
			   c->protect[i].len);
	}
	if (n + np)
		ret |= put(script, len, w, " }");
	return ret < 0 ? -E2BIG : (int)(n + np);
}

/*
 * The protected destinations (pol_config_protected) also dropped in the
 * kernel, in the forward and input hooks: under fail-open a dead or
 * stalled policer's queue passes packets on to the next hook, and these
 * rules still hold there. While the policer runs it drops (and counts)
 * such packets first, so the counters here count only what got past it.
 * Replaced whole (delete, then add) at start and when the guests change.
 */
static int install_protect(const struct pol_config *c, char *err, size_t errlen)
{
	static const char *const hooks[] = { "forward", "input" };
	static const int fams[] = { AF_INET, AF_INET6 };
	char script[NFT_PROTECT_BYTES];
	struct cxd_args a;
	size_t w = 0, mark;
	unsigned int h, f, i;
	int ret = 0, n;

	if (try_cmd("nft", "list", "table", "inet", POL_NET_NFT_PROTECT, NULL))
		ret |= put(script, sizeof(script), &w, "delete table inet %s\n",
			   POL_NET_NFT_PROTECT);
	if (c->n_guests == 0) {
		/* No guest, nothing to keep out (an empty set is no syntax). */
		if (w == 0)
			return 0;
		cxd_args_init(&a, "nft", script, NULL);
		return exec_args(&a, err, errlen);
	}
	ret |= put(script, sizeof(script), &w, "add table inet %s\n",
		   POL_NET_NFT_PROTECT);
	for (h = 0; h < 2; h++) {
		ret |= put(script, sizeof(script), &w,
			   "add chain inet %s %s { type filter hook %s priority filter; "
			   "policy accept; }\n", POL_NET_NFT_PROTECT, hooks[h], hooks[h]);
		for (f = 0; f < 2; f++) {
			mark = w;
			ret |= put(script, sizeof(script), &w,
				   "add rule inet %s %s iifname { ", POL_NET_NFT_PROTECT,
				   hooks[h]);
			for (i = 0; i < c->n_guests; i++)
				ret |= put(script, sizeof(script), &w, "%s\"%s\"",
					   i ? ", " : "", c->guests[i].ifname);
			ret |= put(script, sizeof(script), &w, " } %s daddr ",
				   fams[f] == AF_INET ? "ip" : "ip6");
			n = put_protected(c, fams[f], script, sizeof(script), &w);
			if (n < 0)
				ret = n;
			if (n == 0) {
				w = mark;	/* nothing of this family */
				script[w] = '\0';
				continue;
			}
			ret |= put(script, sizeof(script), &w, " counter drop\n");
		}
	}
	if (ret < 0) {
		snprintf(err, errlen, "nft protect script too long");
		return -E2BIG;
	}
	cxd_args_init(&a, "nft", script, NULL);
	return exec_args(&a, err, errlen);
}

static int install_tunnel(const struct pol_config *c, char *err, size_t errlen)
{
	char vni[16], port[8], local[INET6_ADDRSTRLEN], mac[18], mtu[8];
	char ll[INET6_ADDRSTRLEN], ll_pfx[INET6_ADDRSTRLEN + 4];
	struct cxd_args a;
	int ret;

	snprintf(vni, sizeof(vni), "%u", c->vni);
	snprintf(port, sizeof(port), "%u", c->vxlan_port);
	snprintf(mtu, sizeof(mtu), "%u", TUN_MTU);
	inet_ntop(c->local_family, c->local_addr, local, sizeof(local));
	dev_mac(c->host_id, mac, sizeof(mac));
	/*
	 * No lower device: the kernel routes the outer packet. nolearning:
	 * the FDB holds exactly the configured peers. tos inherit: ECN (and
	 * DSCP) copied outward, see the top of this file.
	 */
	cxd_args_init(&a, "ip", "link", "add", c->tun_dev, "address", mac, "mtu", mtu,
		  "type", "vxlan", "id", vni, "local", local, "dstport", port,
		  "nolearning", "ttl", TUN_TTL, "tos", "inherit", NULL);
	ret = exec_args(&a, err, errlen);
	if (ret < 0)
		return ret;
	/* Only the address given below: no EUI-64 one from the MAC. */
	cxd_args_init(&a, "ip", "link", "set", "dev", c->tun_dev, "addrgenmode", "none",
		  NULL);
	ret = exec_args(&a, err, errlen);
	if (ret < 0)
		return ret;
	ret = set_rp_filter(c->tun_dev, err, errlen);
	if (ret < 0)
		return ret;
	cxd_args_init(&a, "ip", "link", "set", "dev", c->tun_dev, "up", NULL);
	ret = exec_args(&a, err, errlen);
	if (ret < 0)
		return ret;
	ll_addr(c->host_id, ll, sizeof(ll));
	snprintf(ll_pfx, sizeof(ll_pfx), "%s/64", ll);
	cxd_args_init(&a, "ip", "-6", "addr", "add", ll_pfx, "dev", c->tun_dev, "nodad",
		  NULL);
	ret = exec_args(&a, err, errlen);
	if (ret < 0)
		return ret;
	ret = install_peers(c, err, errlen);
	if (ret == 0)
		ret = install_routes(c, err, errlen);
	if (ret == 0)
		ret = install_rules(c, err, errlen);
	if (ret == 0)
		ret = install_nft(c, err, errlen);
	return ret;
}

/* --- removal ------------------------------------------------------------------ */

/*
 * Remove, in the reverse order of install: the nft table, the policy rules
 * (those of mark/table, or with any_rule every rule at our preference),
 * table `table`, the device, then the hook. Returns how many objects went,
 * or the first error (err set) after trying them all.
 */
static int cleanup(const char *dev, uint32_t table, uint32_t mark, uint32_t mask,
		   bool any_rule, char *err, size_t errlen)
{
	char tbl[16], sel[32], pref[16], out[OUT_BYTES], msg[OUT_BYTES] = "";
	struct cxd_args a;
	unsigned int f, t, k;
	int n = 0, first = 0, ret;

	if (try_cmd("nft", "list", "table", "inet", POL_NET_NFT_TABLE, NULL)) {
		cxd_args_init(&a, "nft", "delete", "table", "inet", POL_NET_NFT_TABLE, NULL);
		ret = exec_args(&a, msg, sizeof(msg));
		keep_first(&first, ret, msg, err, errlen);
		n += ret == 0;
	}
	if (try_cmd("nft", "list", "table", "inet", POL_NET_NFT_PROTECT, NULL)) {
		cxd_args_init(&a, "nft", "delete", "table", "inet", POL_NET_NFT_PROTECT,
			      NULL);
		ret = exec_args(&a, msg, sizeof(msg));
		keep_first(&first, ret, msg, err, errlen);
		n += ret == 0;
	}
	snprintf(tbl, sizeof(tbl), "%u", table);
	snprintf(sel, sizeof(sel), "0x%x/0x%x", mark, mask);
	snprintf(pref, sizeof(pref), "%u", POL_NET_RULE_PREF);
	for (f = 0; f < 2; f++) {
		/* A failing delete means none is left. */
		for (k = 0; k < RULES_MAX; k++) {
			if (any_rule ? !try_cmd("ip", ip_fams[f], "rule", "del", "pref",
						pref, NULL)
				     : !try_cmd("ip", ip_fams[f], "rule", "del", "fwmark",
						sel, "lookup", tbl, "pref", pref, NULL))
				break;
			n++;
		}
		if (table == 0)
			continue;
		/* Listing a table the kernel never had fails: nothing to flush. */
		cxd_args_init(&a, "ip", ip_fams[f], "route", "show", "table", tbl, NULL);
		if (exec_out(&a, out, sizeof(out), NULL, 0) < 0 || out[0] == '\0')
			continue;
		cxd_args_init(&a, "ip", ip_fams[f], "route", "flush", "table", tbl, NULL);
		ret = exec_args(&a, msg, sizeof(msg));
		keep_first(&first, ret, msg, err, errlen);
		n += ret == 0;
	}
	if (dev[0] != '\0' && if_nametoindex(dev) != 0) {
		cxd_args_init(&a, "ip", "link", "del", "dev", dev, NULL);
		ret = exec_args(&a, msg, sizeof(msg));
		keep_first(&first, ret, msg, err, errlen);
		n += ret == 0;
	}
	for (t = 0; t < 2; t++) {
		ret = remove_hook(t, msg, sizeof(msg));
		keep_first(&first, ret, msg, err, errlen);
		if (ret > 0)
			n += ret;
	}
	/* After the rules that use it. */
	ret = cxd_nfacct_remove(POL_NET_NFACCT);
	if (ret < 0)
		snprintf(msg, sizeof(msg), "nfacct %s: %s", POL_NET_NFACCT,
			 strerror(-ret));
	keep_first(&first, ret, msg, err, errlen);
	return first < 0 ? first : n;
}

int pol_net_cleanup(const struct pol_config *c, char *err, size_t errlen)
{
	if (memchr(c->tun_dev, '\0', IF_NAMESIZE) == NULL) {
		snprintf(err, errlen, "tunnel device name not terminated");
		return -EINVAL;
	}
	return cleanup(c->tun_dev, c->table, c->mark, c->mark_mask, false, err, errlen);
}

int pol_net_cleanup_all(char *err, size_t errlen)
{
	return cleanup(POL_TUN_DEV_DEFAULT, POL_TABLE_DEFAULT, POL_MARK_DEFAULT,
		       UINT32_MAX, true, err, errlen);
}

int pol_net_install(const struct pol_config *c, char *err, size_t errlen)
{
	char tmp[OUT_BYTES];
	unsigned int t;
	int ret;

	ret = check_config(c, err, errlen);
	if (ret < 0)
		return ret;
	ret = pol_net_cleanup(c, err, errlen);
	if (ret < 0)
		return ret;
	for (t = 0; t < 2 && ret >= 0; t++)
		ret = install_hook(c, t, err, errlen);
	if (ret >= 0)
		ret = install_protect(c, err, errlen);
	if (ret >= 0 && pol_config_tunnel(c))
		ret = install_tunnel(c, err, errlen);
	if (ret < 0) {
		/* Nothing half-applied stays behind. */
		(void)pol_net_cleanup(c, tmp, sizeof(tmp));
		return ret;
	}
	return 0;
}

static bool has_guest(const struct pol_config *c, const char *ifname)
{
	unsigned int i;

	for (i = 0; i < c->n_guests; i++)
		if (strcmp(c->guests[i].ifname, ifname) == 0)
			return true;
	return false;
}

/* The jumps of the guests of c that are not guests of other. */
static int jumps_not_in(const struct pol_config *c, const struct pol_config *other,
			const char *op, char *err, size_t errlen)
{
	unsigned int t, i;
	int ret;

	for (t = 0; t < 2; t++)
		for (i = 0; i < c->n_guests; i++) {
			if (has_guest(other, c->guests[i].ifname))
				continue;
			ret = guest_jump(t, op, c->guests[i].ifname, err, errlen);
			if (ret < 0)
				return ret;
		}
	return 0;
}

int pol_net_guests(const struct pol_config *old, const struct pol_config *next,
		   char *err, size_t errlen)
{
	char tmp[OUT_BYTES];
	unsigned int t, i;
	int ret;

	ret = jumps_not_in(next, old, "-A", err, errlen);
	if (ret >= 0)
		ret = jumps_not_in(old, next, "-D", err, errlen);
	if (ret >= 0)
		ret = install_protect(next, err, errlen);
	if (ret >= 0)
		return 0;
	(void)install_protect(old, tmp, sizeof(tmp));
	/* Back to old's jumps exactly; a failure here is old news in err. */
	for (t = 0; t < 2; t++) {
		(void)remove_jumps(t, tmp, sizeof(tmp));
		for (i = 0; i < old->n_guests; i++)
			(void)guest_jump(t, "-A", old->guests[i].ifname, tmp, sizeof(tmp));
	}
	return ret;
}
