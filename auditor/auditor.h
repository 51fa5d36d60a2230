/*
 * The daemon's one context, passed explicitly (docs/design.md §4.1).
 */
#ifndef AUD_AUDITOR_H
#define AUD_AUDITOR_H

#include <stdint.h>

#include <conex/audit.h>
#include <conex/log.h>

#include "config.h"
#include "common/nfq.h"
#include "tunnel.h"

struct cxd_ctl;
struct cxd_metrics_feed;

struct aud_dp_stats {
	uint64_t audited;		/* packets given to the audit */
	uint64_t parse_errors;		/* headers unreadable: dropped */
	uint64_t tunnel_refused;	/* VXLAN not from a peer, or malformed: dropped */
	uint64_t tcp_malformed;		/* audited by ports only */
	uint64_t other_hook;		/* neither FORWARD nor INPUT: accepted */
	uint64_t unknown_outdev;	/* FORWARD to no configured guest */
	uint64_t tunnel_inner;		/* decapsulated by the tunnel device: not audited */
	uint64_t sanction_logs;		/* sanction start events */
	uint64_t state_saves;
	uint64_t state_errors;		/* the state file could not be written */
};

struct auditor {
	struct aud_config cfg;
	unsigned int guest_ifindex[AUD_GUESTS_MAX];	/* 0: not resolved */
	unsigned int tun_ifindex;	/* cfg.tun_dev's, 0: absent */
	struct cx_audit *audit;
	struct cxd_nfq *nfq;
	struct aud_tun tun;
	struct aud_dp_stats st;
	uint64_t state_next_ns;		/* next save of cfg.state_file */
	bool state_warned;
	struct cx_log_ratelimit sanction_rl;
	uint64_t rand_state;		/* xorshift64*, seeded from getrandom */
	uint64_t start_mono_ns;
	struct cxd_ctl *ctl;		/* control socket (common/ctl.h) */
	struct cxd_metrics_feed *metrics;	/* NULL without `metrics` (metrics.c) */
	const char *config_path;	/* re-read by reload */
	uint64_t reloads;
	uint64_t reload_errors;
};

/* CLOCK_MONOTONIC (main.c; tests link their own). */
uint64_t aud_now_ns(void);

/* The NFQUEUE callback (datapath.c). */
unsigned int aud_dp_packet(void *arg, const struct cxd_nfq_pkt *p,
			   struct cxd_nfq_mark *mark);

/* Map guest interfaces to ifindexes (they may appear after start). */
void aud_dp_resolve(struct auditor *a);

/* "stats" output (stats.c): every counter. Returns length or -ENOSPC. */
int aud_stats_format(const struct auditor *a, uint64_t now_ns, int json,
		     char *buf, size_t len);

/* "status" output (stats.c): version, uptime, config, a summary. */
int aud_status_format(const struct auditor *a, uint64_t now_ns, int json,
		      char *buf, size_t len);

#define AUD_FLOWS_TOP_MAX	1000

/*
 * "flows N" output (stats.c): the n (1..AUD_FLOWS_TOP_MAX) audited flows
 * with the largest shortfall, then dropped bytes, as many as fit in len
 * ("truncated 1" when fewer than asked for did). Returns the length,
 * -EINVAL for a bad n, -ENOMEM, or -ENOSPC if not even the frame fits.
 */
int aud_flows_format(struct auditor *a, unsigned int n, int json, char *buf,
		     size_t len);

/*
 * The guest whose interface the kernel routes addr (family AF_INET or
 * AF_INET6, network order) to now, for labelling a flow with its tenant;
 * NULL if none. nl is a NETLINK_ROUTE socket (datapath.c).
 */
struct mnl_socket;
const struct aud_guest *aud_dp_guest_of_addr(const struct auditor *a,
					     struct mnl_socket *nl, int family,
					     const uint8_t *addr);

/*
 * state.c: the sources' debts across restarts, in cfg.state_file (""
 * keeps nothing); see the file's head for the format and rules.
 */
#define AUD_STATE_MAX_AGE_NS	(24ULL * 3600 * 1000 * 1000 * 1000)
#define AUD_STATE_SAVE_NS	(5ULL * 1000 * 1000 * 1000)
int aud_state_save(struct cx_audit *audit, const char *path, uint64_t real_ns);
int aud_state_load(struct cx_audit *audit, const char *path, uint64_t real_ns,
		   uint64_t now_ns, unsigned int *restored);
void aud_state_start(struct auditor *a, uint64_t now_ns);
void aud_state_tick(struct auditor *a, uint64_t now_ns, bool now);

#endif
