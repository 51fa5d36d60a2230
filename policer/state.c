/*
 * Enforcement state across restarts (issue "No escape", attack 10): a
 * restart must not hand every tenant a full bucket. The levels, p and the
 * forgiveness owed are written to a small text file, atomically (a
 * temporary file renamed over it), at every save tick and at exit, and
 * read back at start:
 *
 *   conex-policer-state 1
 *   time_ns <CLOCK_REALTIME when written>
 *   tenant <name> <level> <peak level> <p in ppm> <forgive bytes>
 *
 * A tenant is restored as it was at time_ns and then brought up to now
 * as the policer would have (refill, p decaying or rising), so the gap
 * counts like time passed; a gap longer than POL_STATE_MAX_AGE_NS, a
 * clock that went back, an unknown version or a malformed line restores
 * nothing for the file or the line. Tenants not in the file start full.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>


#include <conex/log.h>
#include <conex/parse.h>

#include "common/statefile.h"

#include "policer.h"

#define STATE_MAGIC	"conex-policer-state 1"
#define LINE_MAX_BYTES	256

int pol_state_save(const struct policer *pl, const char *path,
		   uint64_t real_ns, uint64_t now_ns)
{
	unsigned int i;
	FILE *f;
	int ret;

	if (path[0] == '\0')
		return 0;
	ret = cxd_state_begin(path, STATE_MAGIC, real_ns, &f);
	if (ret < 0)
		return ret;
	for (i = 0; i < pl->cfg.n_tenants; i++) {
		const struct pol_tenant_rt *t = &pl->tenants[i];

		fprintf(f, "tenant %s %lld %lld %u %llu\n", pl->cfg.tenants[i].name,
			(long long)cx_police_level_bytes(&t->pol, now_ns),
			(long long)cx_police_peak_level_bytes(&t->pol, now_ns),
			cx_police_drop_ppm(&t->pol, now_ns),
			(unsigned long long)t->forgive_bytes);
	}
	return cxd_state_commit(path, f);
}

static int parse_i64(const char *s, int64_t *out)
{
	uint64_t v;

	if (s[0] == '-') {
		if (cx_parse_u64(s + 1, 1, (uint64_t)INT64_MAX + 1, &v) < 0)
			return -EINVAL;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
		return 0;
	}
	if (cx_parse_u64(s, 0, INT64_MAX, &v) < 0)
		return -EINVAL;
	*out = (int64_t)v;
	return 0;
}

/* One "tenant" line: 0 restored, 1 not ours to restore, -EBADMSG. */
static int restore_line(struct policer *pl, char *line, uint64_t then_ns)
{
	char *tok[6], *save = NULL;
	int64_t level, peak;
	uint64_t ppm, forgive;
	unsigned int n = 0;
	int ti;

	for (char *t = strtok_r(line, " \n", &save); t && n < 6;
	     t = strtok_r(NULL, " \n", &save))
		tok[n++] = t;
	if (n != 6 || strcmp(tok[0], "tenant") != 0 ||
	    parse_i64(tok[2], &level) < 0 || parse_i64(tok[3], &peak) < 0 ||
	    cx_parse_u64(tok[4], 0, CX_POLICE_PPM, &ppm) < 0 ||
	    cx_parse_u64(tok[5], 0, UINT64_MAX, &forgive) < 0)
		return -EBADMSG;
	ti = pol_config_tenant(&pl->cfg, tok[1]);
	if (ti < 0)
		return 1;
	if (cx_police_restore(&pl->tenants[ti].pol, level, peak, (uint32_t)ppm,
			      then_ns) < 0)
		return -EBADMSG;
	pl->tenants[ti].forgive_bytes =
		forgive < pl->tenants[ti].pol.cfg.burst_bytes ?
		forgive : pl->tenants[ti].pol.cfg.burst_bytes;
	return 0;
}

int pol_state_load(struct policer *pl, const char *path, uint64_t real_ns,
		   uint64_t now_ns, unsigned int *restored)
{
	char line[LINE_MAX_BYTES];
	uint64_t saved_ns, gap_ns;
	FILE *f;
	int ret, r;

	*restored = 0;
	if (path[0] == '\0')
		return 0;
	ret = cxd_state_open(path, STATE_MAGIC, real_ns, POL_STATE_MAX_AGE_NS, &f,
			     &saved_ns);
	if (ret != 0)
		return ret > 0 ? 0 : ret;
	gap_ns = real_ns - saved_ns;
	if (gap_ns > now_ns)
		gap_ns = now_ns;
	while (fgets(line, sizeof(line), f) != NULL) {
		r = restore_line(pl, line, now_ns - gap_ns);
		if (r < 0)
			ret = r;
		else if (r == 0)
			(*restored)++;
	}
	fclose(f);
	return ret;
}

void pol_state_start(struct policer *pl, uint64_t now_ns)
{
	const char *path = pl->cfg.state_file;
	unsigned int n = 0;
	int ret;

	pl->state_next_ns = now_ns + POL_STATE_SAVE_NS;
	if (path[0] == '\0')
		return;
	ret = pol_state_load(pl, path, cxd_state_real_ns(), now_ns, &n);
	if (ret < 0)
		cx_log_warnx("state %s: %s; %u tenant(s) restored, the rest start "
			     "full", path, ret == -ESTALE ? "too old or from the future" :
			     ret == -EBADMSG ? "malformed" : strerror(-ret), n);
	else if (n > 0)
		cx_log_info("state %s: %u tenant(s) restored", path, n);
}

void pol_state_tick(struct policer *pl, uint64_t now_ns, bool now)
{
	const char *path = pl->cfg.state_file;
	int ret;

	if (path[0] == '\0' || (!now && now_ns < pl->state_next_ns))
		return;
	pl->state_next_ns = now_ns + POL_STATE_SAVE_NS;
	ret = pol_state_save(pl, path, cxd_state_real_ns(), now_ns);
	if (ret < 0) {
		pl->st.state_errors++;
		if (!pl->state_warned)
			cx_log_warnx("state %s: %s (enforcement state will not "
				     "survive a restart)", path, strerror(-ret));
		pl->state_warned = true;
	} else {
		pl->st.state_saves++;
		pl->state_warned = false;
	}
}
