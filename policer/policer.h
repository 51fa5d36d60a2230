/*
 * conex-policer's state, shared by its parts: main.c (options, loop,
 * reload), datapath.c (the NFQUEUE verdict per packet), feedback.c (the
 * auditors' feedback messages), bankglue.c (the Redis token bank) and
 * stats.c (the control socket's replies).
 */
#ifndef POL_POLICER_H
#define POL_POLICER_H

#include <stdbool.h>
#include <stdint.h>

#include <conex/feedback.h>
#include <conex/log.h>
#include <conex/police.h>

#include "common/nfq.h"
#include "config.h"

struct cxp_bank;
struct cxd_ctl;
struct cxd_metrics_feed;

/* Why a packet was dropped (per tenant). */
enum pol_drop {
	POL_DROP_POLICE,	/* the tenant's bucket is empty: cx_police said so */
	POL_DROP_SPOOF,		/* source address not the guest's own */
	POL_DROP_UNREADABLE,	/* not parsable: neither charged nor passed */
	POL_DROP_PROTECTED,	/* to the underlay or a 'protect' prefix */
	POL_DROP_COUNT,
};

/* A tenant at run time: its bucket and what it sent. */
struct pol_tenant_rt {
	struct cx_police pol;
	uint64_t packets;
	uint64_t bytes;
	uint64_t conex_packets;		/* ConEx (X set): forwarded directly */
	uint64_t conex_bytes;
	uint64_t l_bytes;		/* ConEx-marked bytes, once per flag */
	uint64_t e_bytes;
	uint64_t c_bytes;
	uint64_t tunnel_packets;	/* Not-ConEx: steered into the tunnel */
	uint64_t tunnel_bytes;
	uint64_t feedback_bytes;	/* reported by auditors through the tunnel */
	uint64_t feedback_ce_bytes;
	uint64_t feedback_lost_bytes;
	uint64_t forgive_bytes;		/* dropped here, not yet re-echoed as L */
	uint64_t forgiven_bytes;	/* L not charged: re-echo of our own drops */
	uint64_t xonly_other_packets;	/* X alone on non-TCP: taken as Not-ConEx */
	uint64_t drops[POL_DROP_COUNT];
	uint64_t dropped_bytes[POL_DROP_COUNT];
	bool bank_pending;		/* a token request is out */
	uint64_t bank_grants;
	uint64_t bank_errors;
	uint64_t bank_backoffs;		/* errors of its own: backed off, on bank_share */
};

/* Counters of the daemon itself. */
struct pol_stats {
	uint64_t unknown_indev;		/* queued from an interface not configured */
	uint64_t parse_errors;		/* not readable as IP (dropped if a guest's) */
	uint64_t other_hook;
	uint64_t mark_fixes;		/* the kernel's tunnel guess corrected */
	uint64_t fb_datagrams;
	uint64_t fb_wrong_source;	/* not from the peer's underlay address */
	uint64_t fb_unknown_guest;	/* authentic, for a guest not configured */
	uint64_t fb_errors;		/* recv errors */
	uint64_t bank_fallbacks;	/* times the bank was lost */
	uint64_t reloads;
	uint64_t reload_errors;
	uint64_t allowance_changes;
	uint64_t state_saves;
	uint64_t state_errors;		/* the state file could not be written */
};

/* Feedback from one peer: cx_fb_peer state and the guests it reported. */
struct pol_fb_peer {
	struct cx_fb_peer fb;
	struct cx_fb_guest guests[CX_FB_ENTRIES_MAX * 4];
};

struct policer {
	struct pol_config cfg;
	struct pol_tenant_rt tenants[POL_TENANTS_MAX];
	uint32_t guest_ifindex[POL_GUESTS_MAX];
	struct cxd_nfq *nfq;
	struct cxd_ctl *ctl;		/* control socket (common/ctl.h) */
	int fb_fd;			/* -1 without a tunnel */
	struct pol_fb_peer *fb_peers;	/* cfg.n_peers of them */
	struct cx_fb_stats fb_stats;
	struct cxp_bank *bank;		/* NULL without `redis` */
	struct cxd_metrics_feed *metrics;	/* NULL without `metrics` (metrics.c) */
	int mode;			/* CX_POLICE_LOCAL, _BANK or _SHARE */
	uint64_t rand_state;
	uint64_t start_mono_ns;
	struct pol_stats st;
	uint64_t state_next_ns;		/* next save of cfg.state_file */
	bool state_warned;
	struct cx_log_ratelimit spoof_rl;
};

uint64_t pol_now_ns(void);

/*
 * state.c: the tenants' levels, p and forgiveness across restarts, in
 * cfg.state_file ("" keeps nothing). real_ns: CLOCK_REALTIME, now_ns the
 * policer's monotonic clock. save: 0 or -errno. load: 0 (nothing there
 * counts as 0), -ESTALE (older than POL_STATE_MAX_AGE_NS or from the
 * future), -EBADMSG (malformed; lines before it stand) or -errno; the
 * tenants restored in *restored.
 */
#define POL_STATE_MAX_AGE_NS	(24ULL * 3600 * 1000 * 1000 * 1000)
#define POL_STATE_SAVE_NS	(5ULL * 1000 * 1000 * 1000)
int pol_state_save(const struct policer *pl, const char *path,
		   uint64_t real_ns, uint64_t now_ns);
int pol_state_load(struct policer *pl, const char *path, uint64_t real_ns,
		   uint64_t now_ns, unsigned int *restored);
/* At start: load cfg.state_file and say what came of it. */
void pol_state_start(struct policer *pl, uint64_t now_ns);
/* Every POL_STATE_SAVE_NS, or at once with now (at exit): save it. */
void pol_state_tick(struct policer *pl, uint64_t now_ns, bool now);

/* datapath.c */
unsigned int pol_dp_packet(void *arg, const struct cxd_nfq_pkt *p,
			   struct cxd_nfq_mark *mark);
void pol_dp_resolve(struct policer *pl);

/* feedback.c */
int pol_fb_open(struct policer *pl);
void pol_fb_close(struct policer *pl);
void pol_fb_receive(struct policer *pl, uint64_t now_ns);

/* bankglue.c */
int pol_bank_open(struct policer *pl, uint64_t now_ns);
void pol_bank_close(struct policer *pl);
void pol_bank_tick(struct policer *pl, uint64_t now_ns);

/* stats.c */
int pol_stats_format(const struct policer *pl, uint64_t now_ns, bool json,
		     char *buf, size_t len);
/* "status": version, uptime, configuration file, a counter summary. */
int pol_status_format(const struct policer *pl, uint64_t now_ns, bool json,
		      const char *config_path, char *buf, size_t len);

/*
 * Apply a new configuration's tenants and guests to the running state:
 * buckets of tenants that stay keep their level (cx_police_set_cfg), new
 * ones start full. The caller has checked that the tunnel, queue and
 * hooks are unchanged. Returns 0.
 */
int pol_apply(struct policer *pl, const struct pol_config *next,
	      uint64_t now_ns);

#endif
