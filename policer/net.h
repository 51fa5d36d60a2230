/*
 * conex-policer's kernel objects on the sending host, made and removed by
 * running iptables, ip, bridge and nft as child processes:
 *
 *   mangle PREROUTING -i <guest if> -j CONEX-POLICE     per guest, v4 and v6
 *   CONEX-POLICE [-m u32 ! --u32 CONEX -j MARK --set-mark M]   with a tunnel
 *   CONEX-POLICE -j NFQUEUE --queue-num Q [--queue-bypass]
 *
 * and, when pol_config_tunnel(c), the fallback for legacy guests
 * (draft-briscoe-conex-data-centre §5, RFC 7713 §5.5):
 *
 *   VXLAN device c->tun_dev, MAC 02:43:58:<host id, 24 bits>, MTU 1500,
 *     address fe80::<host id>/64; per peer a static FDB entry and a
 *     permanent neighbour fe80::<peer id> -> the peer's device MAC
 *   table c->table: each remote prefix via fe80::<peer id> dev c->tun_dev
 *     (IPv4 prefixes via an IPv6 next hop, RFC 5549 style)
 *   ip rule / ip -6 rule: fwmark c->mark lookup c->table pref 4242
 *   nft table inet conex_policer: outer ECN of the encapsulation
 *     (see net.c for what the kernel does and what the rules correct)
 *
 * Every error message names the failing command and the first line of
 * its output.
 */
#ifndef POL_NET_H
#define POL_NET_H

#include <stddef.h>

#include "config.h"

#define POL_NET_CHAIN		"CONEX-POLICE"
/* nfacct object counting what the hook queues (common/nfacct.h). */
#define POL_NET_NFACCT		"conex-policer"
#define POL_NET_NFT_TABLE	"conex_policer"
/* Drops guests' packets to protected addresses whatever the daemon does. */
#define POL_NET_NFT_PROTECT	"conex_protect"
#define POL_NET_RULE_PREF	4242

/*
 * ConEx where the marker puts it, for xt_u32 (the kernel's first guess of
 * which packets go direct; the daemon decides):
 * IPv4: RF, DF set, MF and offset 0, X (ID bit 15) set (docs/wire.md §3);
 * IPv6: a Destination Options header right after the fixed header whose
 * first option is the CDO (type 0x1e, length 1) with X set (RFC 7837).
 */
#define POL_NET_CONEX_U32_V4	"4&0x8000FFFF=0x8000C000"
#define POL_NET_CONEX_U32_V6	"4&0x0000FF00=0x00003C00&&40&0x0000FFFF=0x00001E01&&44&0x80000000=0x80000000"


/*
 * Remove whatever a predecessor left (pol_net_cleanup), then install the
 * objects of c. On failure nothing half-applied stays behind. Returns 0,
 * -EINVAL for a configuration the plumbing cannot express (err says
 * which), -EIO when a command failed, or another -errno when one could not
 * be run; err is set on every failure.
 */
int pol_net_install(const struct pol_config *c, char *err, size_t errlen);

/*
 * A reload whose guests changed: append the jumps of next's new guest
 * interfaces and delete those of old's departed ones, leaving the chain,
 * the other guests' jumps and the tunnel as they are, so that traffic of
 * guests that stay is policed and tunnelled throughout. On failure the
 * jumps are put back as old had them. 0, or -EIO / -errno with err set.
 */
int pol_net_guests(const struct pol_config *old, const struct pol_config *next,
		   char *err, size_t errlen);

/*
 * Remove the objects c names: the CONEX-POLICE jumps and chain (whatever
 * guests they name), the nft table, the policy rules, table c->table and
 * the device. Idempotent; safe when nothing is installed. Returns how
 * many objects it removed, or -EIO / -errno with err set (it goes on
 * removing the rest first).
 */
int pol_net_cleanup(const struct pol_config *c, char *err, size_t errlen);

/*
 * pol_net_cleanup() for `conex-policer --cleanup` without a configuration:
 * the default device, table and mark of config.h, plus every policy rule
 * at POL_NET_RULE_PREF whatever its mark and table.
 */
int pol_net_cleanup_all(char *err, size_t errlen);

#endif
