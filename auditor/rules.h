/*
 * The auditor's iptables/ip6tables rules (mangle table; NFQUEUE exists only
 * through xtables here, docs/design.md §5.1):
 *
 *   FORWARD -o <guest if> -j CONEX-AUDIT        one per guest interface
 *   CONEX-AUDIT -j NFQUEUE --queue-num N [--queue-bypass]
 *   INPUT -p udp --dport <vxlan> -j CONEX-AUDIT-TUN      if peers are set
 *   CONEX-AUDIT-TUN -s <peer> -j NFQUEUE --queue-num N [--queue-bypass]
 *
 * --queue-bypass only when fail-open: without it, packets to a queue with
 * no listener are dropped, which is what fail-closed means.
 */
#ifndef AUD_RULES_H
#define AUD_RULES_H

#include <stddef.h>

#include "config.h"

#define AUD_CHAIN	"CONEX-AUDIT"
/* nfacct object counting what the rules queue (common/nfacct.h). */
#define AUD_NFACCT	"conex-auditor"
#define AUD_CHAIN_TUN	"CONEX-AUDIT-TUN"

/*
 * Remove every trace of the chains, whatever configuration made them (a
 * crashed instance may have had other guests): jumps first, then the
 * chains. Idempotent. Returns 0, or -1 with err set.
 */
int aud_rules_remove(char *err, size_t errlen);

/* Install the rules for c, after removing stale ones. -1 with err set. */
int aud_rules_install(const struct aud_config *c, char *err, size_t errlen);

#endif
