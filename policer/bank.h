/*
 * Client of the tenant token bank (issue 5, "one allowance per tenant
 * across hosts"). Each tenant has one congestion allowance (rate_bps) and
 * burst (burst_bytes) shared by every host; a Redis server holds its bucket
 * and hands out tokens, which the host credits to its local bucket
 * (cx_tb_add). See bank.c for the server-side script and its bounds.
 *
 * The client never blocks: it is driven by the daemon's event loop. Before
 * every poll(), take cxp_bank_fd() and cxp_bank_events() (the fd changes
 * across reconnects and is -1 while none is open) and wake up no later than
 * cxp_bank_next_ns(); after it, call cxp_bank_io() with the fd's revents
 * and cxp_bank_tick(). Replies come back through the grant callback, from
 * inside cxp_bank_io() or cxp_bank_tick(), never from cxp_bank_request().
 *
 * Every request that cxp_bank_request() accepts ends in exactly one grant
 * callback: status 0 with the bytes granted and the bank's level after the
 * grant, or a negative errno:
 *   -EIO        the server answered with an error (NOPERM, OOM, a script
 *               error...)
 *   -EBADMSG    the reply had the wrong shape
 *   -EUCLEAN    the tenant's key holds something no policer writes (not a
 *               hash of two non-negative integers within the bounds below):
 *               the key is left as it is, for the operator to look at
 *   -ETIMEDOUT  no reply within timeout_ns (the connection is then dropped:
 *               a late reply would be matched to the wrong request)
 *   -ENOTCONN   the connection was lost with the request outstanding
 * cxp_bank_free() ends outstanding requests without callbacks. A callback
 * may call cxp_bank_request() (to ask again at once) but not
 * cxp_bank_free().
 *
 * Errors of one tenant stay that tenant's: a request ending with -EIO,
 * -EBADMSG or -EUCLEAN puts its slot in backoff (cxp_bank_request says
 * -EAGAIN until it is over): backoff_min_ns at the first error, doubling
 * per error up to backoff_max_ns, each wait drawn in [b/2, b] (jitter, so
 * that hosts do not retry in step), back to the minimum after a grant. The
 * first error of a run is logged with the server's words, then at most
 * one line per tenant a minute, and all tenants together at most a few
 * lines per ten seconds; a grant after errors is logged once. So an error
 * storm costs at most one request per tenant per backoff, however fast the
 * caller asks.
 *
 * The bank is UP once the server has accepted the credentials (AUTH, sent
 * first on every connection when a password is set) and loaded the script
 * on a fresh connection, and DOWN otherwise; while DOWN, requests fail at
 * once and the daemon runs its buckets on a static share. Reconnection
 * backs off from backoff_min_ns, doubling to backoff_max_ns, with the same
 * jitter, and starts again at the minimum after the first grant of a
 * connection (not merely once UP: a server that accepts and then fails
 * every connection is retried ever more slowly). A refused AUTH, or a
 * server that wants one when none is configured, is counted (auth_failures)
 * and logged with the server's words at most once a minute.
 */
#ifndef CXP_BANK_H
#define CXP_BANK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

/*
 * Bounds that keep the server-side arithmetic exact: tokens are held in
 * micro-bits (1/8e6 byte), so a full bucket is burst_bytes * 8e6 and the
 * refill of one call at most that plus rate_bps; both stay below 2^53,
 * where Lua's doubles stop representing every integer
 * (1e9 * 8e6 + 2 * 1e12 = 8.002e15 < 9.007e15).
 */
#define CXP_BANK_RATE_MAX_BPS		1000000000000ULL	/* 1 Tbit/s */
#define CXP_BANK_BURST_MAX_BYTES	1000000000ULL		/* 1 GB */
/* Idle TTL: about 31 years, an integer the script still holds exactly. */
#define CXP_BANK_TTL_MAX_MS		1000000000000ULL
#define CXP_BANK_TENANT_MAX		64	/* bytes in a tenant name */
#define CXP_BANK_TENANTS_MAX		4096U	/* request slots */
#define CXP_BANK_KEY_PREFIX		"conex:bank:"	/* the default */
#define CXP_BANK_PREFIX_MAX		32	/* bytes in a key prefix */
#define CXP_BANK_USER_MAX		64	/* bytes in an ACL user name */
#define CXP_BANK_PASSWORD_MAX		512	/* bytes in a password */
/*
 * A stored balance above this (micro-bits: CXP_BANK_BURST_MAX_BYTES full)
 * is absurd: no policer can have written it, and the key is corrupt
 * (-EUCLEAN). A balance above the requester's own burst but within this
 * is clamped to the burst (a burst lowered by a reload, or hosts that
 * disagree for a while).
 */
#define CXP_BANK_TOKENS_MAX		(CXP_BANK_BURST_MAX_BYTES * 8000000ULL)

enum cxp_bank_state {
	CXP_BANK_DOWN = 0,
	CXP_BANK_UP = 1,
};

/* Where the server listens: "redis://ADDR[:PORT]" or "unix:/PATH". */
struct cxp_bank_url {
	bool			is_unix;
	char			host[64];	/* numeric, no brackets */
	uint16_t		port;		/* 6379 if omitted */
	char			path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/*
 * Strict: redis://IPV4[:PORT], redis://[IPV6][:PORT] or unix:/ABSOLUTE/PATH.
 * The host must be a numeric address (resolving a name could block the
 * loop on every reconnect); the port is decimal 1..65535 without leading
 * zeros; no user, password, database or query. Returns 0, or -EINVAL for
 * anything else (out is then unchanged).
 */
int cxp_bank_url_parse(const char *s, struct cxp_bank_url *out);

struct cxp_bank_opts {
	uint64_t	timeout_ns;	/* connect and each request; > 0 */
	uint64_t	backoff_min_ns;	/* first reconnect delay; > 0 */
	uint64_t	backoff_max_ns;	/* >= backoff_min_ns */
	uint64_t	idle_ttl_ms;	/* keys of idle tenants expire after
					 * this or the bucket's fill time,
					 * whichever is longer;
					 * 1..CXP_BANK_TTL_MAX_MS */
	uint32_t	tenants;	/* slots: tenant_idx < tenants,
					 * 1..CXP_BANK_TENANTS_MAX */
	/*
	 * Keys are key_prefix followed by the tenant's name; NULL for
	 * CXP_BANK_KEY_PREFIX. 1..CXP_BANK_PREFIX_MAX printable ASCII
	 * bytes without space. Read at every request.
	 */
	const char	*key_prefix;
	/*
	 * Credentials, sent as AUTH [user] password first on every
	 * connection; NULL or "" for none (then user must be too). A user
	 * is a Redis 6+ ACL user (1..CXP_BANK_USER_MAX printable bytes
	 * without space); without one, AUTH is the default user's
	 * (requirepass). The password is 1..CXP_BANK_PASSWORD_MAX bytes
	 * without NUL, CR or LF. Both are read at every connection, not
	 * copied: they must stay valid until cxp_bank_free(), and may be
	 * changed between calls (a reload), taking effect at the next
	 * connection.
	 */
	const char	*user;
	const char	*password;
	/* One call per finished request; status 0 or -errno (see above). */
	void		(*on_grant)(void *arg, uint32_t tenant_idx, int status,
				    uint64_t granted_bytes,
				    uint64_t level_bytes);
	/* Each change between UP and DOWN; may be NULL. */
	void		(*on_state)(void *arg, enum cxp_bank_state state);
	void		*arg;
};

/* 200 ms timeout, 100 ms .. 5 s backoff, 1 h idle TTL, 256 tenants, the
 * default prefix, no credentials. */
void cxp_bank_opts_default(struct cxp_bank_opts *opts);

struct cxp_bank_stats {
	uint64_t	requests;	/* accepted by cxp_bank_request */
	uint64_t	rejected;	/* refused because the bank was DOWN */
	uint64_t	grants;		/* requests ended with status 0 */
	uint64_t	granted_bytes;
	uint64_t	errors;		/* ended with -EIO, -EBADMSG or
					 * -EUCLEAN */
	uint64_t	corrupt;	/* of those, -EUCLEAN */
	uint64_t	backoffs;	/* tenant backoffs started or extended
					 * (one per error above) */
	uint64_t	auth_failures;	/* connections refused for their
					 * credentials (or their lack) */
	uint64_t	timeouts;	/* connects or replies too late, each
					 * dropping the connection */
	uint64_t	lost;		/* ended with -ENOTCONN or -ETIMEDOUT */
	uint64_t	noscript;	/* EVALSHA retried as EVAL */
	uint64_t	connects;	/* connection attempts */
	uint64_t	reconnects;	/* attempts after the first */
	uint64_t	state_changes;
};

/* One slot's error state (cxp_bank_tenant). */
struct cxp_bank_tenant {
	uint64_t	errors;		/* as stats.errors, this slot's */
	uint64_t	backoffs;
	uint32_t	streak;		/* errors since its last grant */
	uint64_t	retry_ns;	/* no request before this */
};

struct cxp_bank;

/*
 * Allocates everything the client will need (no allocation afterwards
 * except hiredis's reply objects and its reader on each connection). Does
 * not connect: the first cxp_bank_tick() does. NULL with errno set
 * (EINVAL for a bad url or option, ENOMEM).
 */
struct cxp_bank *cxp_bank_new(const char *url,
			      const struct cxp_bank_opts *opts);
void cxp_bank_free(struct cxp_bank *bank);

int cxp_bank_fd(const struct cxp_bank *bank);
/* POLLIN and/or POLLOUT, 0 when there is no fd. */
short cxp_bank_events(const struct cxp_bank *bank);
/* The time by which cxp_bank_tick() wants to run; UINT64_MAX for never. */
uint64_t cxp_bank_next_ns(const struct cxp_bank *bank);

/*
 * Handles readiness of cxp_bank_fd() (revents from poll; 0 is harmless).
 * Returns 0, or a negative errno if the connection failed and was closed
 * (the client reconnects by itself; nothing to do but count it).
 */
int cxp_bank_io(struct cxp_bank *bank, short revents, uint64_t now_ns);

/* Timeouts and reconnection. Returns 0, or -errno as cxp_bank_io(). */
int cxp_bank_tick(struct cxp_bank *bank, uint64_t now_ns);

/*
 * Asks for want_bytes from tenant's bucket (key key_prefix tenant) of
 * rate_bps and burst_bytes; the server grants min(want, available). A want
 * of 0 only checks the key (and refills it): a probe. The request is
 * queued and written when the fd is writable. Returns 0, or
 *   -EINVAL    tenant_idx >= tenants, tenant empty, longer than
 *              CXP_BANK_TENANT_MAX or not printable ASCII without space,
 *              rate_bps 0 or above CXP_BANK_RATE_MAX_BPS, burst_bytes or
 *              want_bytes above CXP_BANK_BURST_MAX_BYTES
 *   -EBUSY     tenant_idx already has a request outstanding
 *   -EAGAIN    tenant_idx is backing off after an error (see above); a
 *              slot asked for by another tenant's name starts afresh
 *   -ENOTCONN  the bank is DOWN
 *   -ENOSPC    no room to queue it (not expected: cxp_bank_new sizes the
 *              buffers for one EVAL per tenant)
 * A rate of 0 is refused: an idle key expires and would come back full,
 * which a bucket that never refills must not do.
 */
int cxp_bank_request(struct cxp_bank *bank, uint32_t tenant_idx,
		     const char *tenant, uint64_t rate_bps,
		     uint64_t burst_bytes, uint64_t want_bytes,
		     uint64_t now_ns);

enum cxp_bank_state cxp_bank_state(const struct cxp_bank *bank);
/*
 * Slot tenant_idx's error state, if it was last asked for by tenant;
 * zeros otherwise (also for an index out of range). streak > 0 means the
 * tenant's last request failed on its own account (not a lost connection).
 */
void cxp_bank_tenant(const struct cxp_bank *bank, uint32_t tenant_idx,
		     const char *tenant, struct cxp_bank_tenant *out);
void cxp_bank_stats(const struct cxp_bank *bank, struct cxp_bank_stats *out);

#endif
