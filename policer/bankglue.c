/*
 * The policer's side of the token bank (bank.h): one allowance per tenant
 * across all hosts. While the bank is UP every tenant's local bucket is in
 * BANK mode (no refill of its own; tokens come as grants, asked for at low
 * water, one request per tenant at a time). Before the first connection
 * and whenever Redis is lost, the buckets refill themselves at the static
 * share of the allowance (SHARE mode, bank_share): nothing blocks, nothing
 * stops, the switch keeps every bucket's level. Without `redis` buckets
 * are LOCAL: refilled at the whole allowance.
 *
 * A tenant whose own requests fail while the bank is UP (its key corrupt,
 * an error reply, a malformed reply) goes to SHARE alone: a bucket in BANK
 * mode that gets no grants would never refill, which is how one bad key
 * used to starve its tenant. bank.c backs its slot off (no request before
 * the backoff is over); the first request after it is a probe that asks
 * for nothing (want 0), and its success puts the tenant back in BANK mode.
 * The other tenants are not touched: their keys, requests and modes are
 * their own.
 */
#include <errno.h>
#include <string.h>

#include "bank.h"
#include "policer.h"

_Static_assert(POL_BANK_PREFIX_MAX == CXP_BANK_PREFIX_MAX + 1,
	       "bank_prefix fits the client's bound");
_Static_assert(POL_BANK_USER_MAX == CXP_BANK_USER_MAX + 1,
	       "bank_user fits the client's bound");
_Static_assert(POL_BANK_PASSWORD_MAX == CXP_BANK_PASSWORD_MAX + 1,
	       "the password fits the client's bound");
_Static_assert(POL_NAME_MAX - 1 <= CXP_BANK_TENANT_MAX,
	       "tenant names fit the client's bound");

/* Is tenant i failing on its own account (its slot backing off)? */
static bool tenant_failing(const struct policer *pl, unsigned int i)
{
	struct cxp_bank_tenant bt;

	cxp_bank_tenant(pl->bank, i, pl->cfg.tenants[i].name, &bt);
	return bt.streak > 0;
}

static void set_mode(struct policer *pl, int mode, uint64_t now_ns)
{
	unsigned int i;
	int m;

	pl->mode = mode;
	for (i = 0; i < pl->cfg.n_tenants; i++) {
		m = mode == CX_POLICE_BANK && tenant_failing(pl, i) ?
		    CX_POLICE_SHARE : mode;
		cx_police_set_mode(&pl->tenants[i].pol, m, now_ns);
	}
}

static void on_state(void *arg, enum cxp_bank_state state)
{
	struct policer *pl = arg;
	uint64_t now_ns = pol_now_ns();

	if (state == CXP_BANK_UP) {
		cx_log_info("token bank: shared allowances from %s", pl->cfg.redis_url);
		set_mode(pl, CX_POLICE_BANK, now_ns);
	} else {
		/* bank.c logs the loss once; this says what happens meanwhile. */
		if (pl->mode == CX_POLICE_BANK)
			cx_log_warnx("token bank: lost; each tenant refills at "
				     "%u%% of its allowance on this host until "
				     "it is back", pl->cfg.bank_share_ppm / 10000);
		pl->st.bank_fallbacks++;
		set_mode(pl, CX_POLICE_SHARE, now_ns);
	}
}

static void on_grant(void *arg, uint32_t idx, int status, uint64_t granted,
		     uint64_t level)
{
	struct policer *pl = arg;
	struct pol_tenant_rt *t;
	uint64_t now_ns = pol_now_ns();

	(void)level;
	if (idx >= pl->cfg.n_tenants)
		return;
	t = &pl->tenants[idx];
	t->bank_pending = false;
	if (status < 0) {
		t->bank_errors++;
		/* A lost connection is everyone's (on_state); anything else
		 * is this tenant's alone, and bank.c now backs it off. */
		if (status == -ENOTCONN || status == -ETIMEDOUT)
			return;
		t->bank_backoffs++;
		if (t->pol.mode == CX_POLICE_BANK)
			cx_police_set_mode(&t->pol, CX_POLICE_SHARE, now_ns);
		return;
	}
	t->bank_grants++;
	if (t->pol.mode == CX_POLICE_SHARE && pl->mode == CX_POLICE_BANK)
		cx_police_set_mode(&t->pol, CX_POLICE_BANK, now_ns);
	if (granted)
		cx_police_grant(&t->pol, granted, now_ns);
}

int pol_bank_open(struct policer *pl, uint64_t now_ns)
{
	struct cxp_bank_opts opts;

	if (pl->cfg.redis_url[0] == '\0') {
		set_mode(pl, CX_POLICE_LOCAL, now_ns);
		return 0;
	}
	cxp_bank_opts_default(&opts);
	/* Every slot a reload may fill: tenants added later get grants too. */
	opts.tenants = POL_TENANTS_MAX;
	opts.on_grant = on_grant;
	opts.on_state = on_state;
	opts.arg = pl;
	/*
	 * Pointers into the running configuration, which a reload rewrites
	 * in place (pol_apply): a new password file is used from the next
	 * connection on, and a new prefix from the next request.
	 */
	opts.key_prefix = pl->cfg.bank_prefix;
	opts.user = pl->cfg.bank_user;
	opts.password = pl->cfg.bank_password;
	pl->bank = cxp_bank_new(pl->cfg.redis_url, &opts);
	if (pl->bank == NULL)
		return -errno;
	set_mode(pl, CX_POLICE_SHARE, now_ns);
	return 0;
}

void pol_bank_close(struct policer *pl)
{
	cxp_bank_free(pl->bank);
	pl->bank = NULL;
}

void pol_bank_tick(struct policer *pl, uint64_t now_ns)
{
	unsigned int i;

	if (pl->bank == NULL)
		return;
	cxp_bank_tick(pl->bank, now_ns);
	if (pl->mode != CX_POLICE_BANK)
		return;
	for (i = 0; i < pl->cfg.n_tenants; i++) {
		struct pol_tenant_rt *t = &pl->tenants[i];
		const struct cx_police_cfg *pc = &pl->cfg.tenants[i].police;
		uint64_t want;

		if (t->bank_pending)
			continue;
		/*
		 * In BANK mode: what the bucket lacks, at low water. Fallen
		 * back alone (its own errors): a probe for nothing, which
		 * bank.c lets out only once the backoff is over (-EAGAIN
		 * until then, at no cost).
		 */
		if (t->pol.mode == CX_POLICE_BANK) {
			want = cx_police_want_bytes(&t->pol, now_ns);
			if (want == 0)
				continue;
		} else {
			want = 0;
		}
		if (cxp_bank_request(pl->bank, i, pl->cfg.tenants[i].name,
				     pc->allowance_bps, pc->burst_bytes, want,
				     now_ns) == 0)
			t->bank_pending = true;
	}
}
