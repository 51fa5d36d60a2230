/*
 * The daemon's one context, passed explicitly (STYLE.md, "Daemons").
 */
#ifndef AUD_AUDITOR_H
#define AUD_AUDITOR_H

#include <stdint.h>

#include <conex/audit.h>
#include <conex/log.h>

#include "config.h"
#include "common/nfq.h"
#include "tunnel.h"

struct aud_dp_stats {
	uint64_t audited;		/* packets given to the audit */
	uint64_t parse_errors;		/* not audited: headers unreadable */
	uint64_t tcp_malformed;		/* audited by ports only */
	uint64_t other_hook;		/* neither FORWARD nor INPUT: accepted */
	uint64_t unknown_outdev;	/* FORWARD to no configured guest */
	uint64_t tunnel_inner;		/* decapsulated by the tunnel device: not audited */
	uint64_t sanction_logs;		/* sanction start events */
};

struct auditor {
	struct aud_config cfg;
	unsigned int guest_ifindex[AUD_GUESTS_MAX];	/* 0: not resolved */
	unsigned int tun_ifindex;	/* cfg.tun_dev's, 0: absent */
	struct cx_audit *audit;
	struct cxd_nfq *nfq;
	struct aud_tun tun;
	struct aud_dp_stats st;
	struct cx_log_ratelimit sanction_rl;
	uint64_t rand_state;		/* xorshift64*, seeded from getrandom */
	uint64_t start_mono_ns;
	int ctl_fd;
};

uint64_t aud_now_ns(void);

/* The NFQUEUE callback (datapath.c). */
unsigned int aud_dp_packet(void *arg, const struct cxd_nfq_pkt *p,
			   struct cxd_nfq_mark *mark);

/* Map guest interfaces to ifindexes (they may appear after start). */
void aud_dp_resolve(struct auditor *a);

/* "stats" output (stats.c): every counter. Returns length or -ENOSPC. */
int aud_stats_format(const struct auditor *a, uint64_t now_ns, int json,
		     char *buf, size_t len);

#endif
