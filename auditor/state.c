/*
 * The sources' debts across restarts (issue "No escape", attack 10): a
 * restart must not forgive every under-declaring sender. Sources in debt
 * are written to a small text file, atomically (a temporary file renamed
 * over it), every AUD_STATE_SAVE_NS and at exit, and read back at start:
 *
 *   conex-auditor-state 1
 *   time_ns <CLOCK_REALTIME when written>
 *   source <4|6> <address> <debt bytes>
 *
 * A debt is restored whole (the audit repays debt only with the source's
 * own drops and declarations, not with time) and capped as any inherited
 * debt (cx_audit_source_restore). A file older than a day, from the
 * future, not a regular file or of another version restores nothing;
 * a malformed line restores nothing for that line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <conex/log.h>
#include <conex/parse.h>

#include "common/statefile.h"

#include "auditor.h"

#define STATE_MAGIC	"conex-auditor-state 1"
#define LINE_MAX_BYTES	128

int aud_state_save(struct cx_audit *audit, const char *path, uint64_t real_ns)
{
	struct cx_audit_source_info si;
	char addr[INET6_ADDRSTRLEN];
	uint32_t cursor = 0;
	FILE *f;
	int ret;

	if (path[0] == '\0')
		return 0;
	ret = cxd_state_begin(path, STATE_MAGIC, real_ns, &f);
	if (ret < 0)
		return ret;
	while (cx_audit_source_next(audit, &cursor, &si) == 0) {
		if (si.debt_bytes == 0)
			continue;
		if (si.family == CX_FLOW_IPV4)
			inet_ntop(AF_INET, si.addr + 12, addr, sizeof(addr));
		else
			inet_ntop(AF_INET6, si.addr, addr, sizeof(addr));
		fprintf(f, "source %d %s %llu\n", si.family == CX_FLOW_IPV4 ? 4 : 6,
			addr, (unsigned long long)si.debt_bytes);
	}
	return cxd_state_commit(path, f);
}

/* One "source" line: 0 restored, -EBADMSG, or -ENOSPC (no room). */
static int restore_line(struct cx_audit *audit, char *line, uint64_t now_ns)
{
	char fam[4], addr[INET6_ADDRSTRLEN + 1], debt_s[24];
	uint8_t src[16] = { 0 };
	uint64_t debt;

	if (sscanf(line, "source %3s %46s %23s", fam, addr, debt_s) != 3 ||
	    cx_parse_u64(debt_s, 1, UINT64_MAX, &debt) < 0)
		return -EBADMSG;
	if (strcmp(fam, "4") == 0) {
		src[10] = src[11] = 0xff;	/* v4-mapped, as flow keys are */
		if (inet_pton(AF_INET, addr, src + 12) != 1)
			return -EBADMSG;
		return cx_audit_source_restore(audit, src, CX_FLOW_IPV4, debt, now_ns);
	}
	if (strcmp(fam, "6") != 0 || inet_pton(AF_INET6, addr, src) != 1)
		return -EBADMSG;
	return cx_audit_source_restore(audit, src, CX_FLOW_IPV6, debt, now_ns);
}

int aud_state_load(struct cx_audit *audit, const char *path, uint64_t real_ns,
		   uint64_t now_ns, unsigned int *restored)
{
	char line[LINE_MAX_BYTES];
	uint64_t saved_ns;
	FILE *f;
	int ret, r;

	*restored = 0;
	if (path[0] == '\0')
		return 0;
	ret = cxd_state_open(path, STATE_MAGIC, real_ns, AUD_STATE_MAX_AGE_NS, &f,
			     &saved_ns);
	if (ret != 0)
		return ret > 0 ? 0 : ret;
	while (fgets(line, sizeof(line), f) != NULL) {
		r = restore_line(audit, line, now_ns);
		if (r < 0)
			ret = r;
		else
			(*restored)++;
	}
	fclose(f);
	return ret;
}

void aud_state_start(struct auditor *a, uint64_t now_ns)
{
	const char *path = a->cfg.state_file;
	unsigned int n = 0;
	int ret;

	a->state_next_ns = now_ns + AUD_STATE_SAVE_NS;
	if (path[0] == '\0')
		return;
	ret = aud_state_load(a->audit, path, cxd_state_real_ns(), now_ns, &n);
	if (ret < 0)
		cx_log_warnx("state %s: %s; %u source debt(s) restored", path,
			     ret == -ESTALE ? "too old or from the future" :
			     ret == -EBADMSG ? "malformed" : strerror(-ret), n);
	else if (n > 0)
		cx_log_info("state %s: %u source debt(s) restored", path, n);
}

void aud_state_tick(struct auditor *a, uint64_t now_ns, bool now)
{
	const char *path = a->cfg.state_file;
	int ret;

	if (path[0] == '\0' || (!now && now_ns < a->state_next_ns))
		return;
	a->state_next_ns = now_ns + AUD_STATE_SAVE_NS;
	ret = aud_state_save(a->audit, path, cxd_state_real_ns());
	if (ret < 0) {
		a->st.state_errors++;
		if (!a->state_warned)
			cx_log_warnx("state %s: %s (sources' debts will not survive "
				     "a restart)", path, strerror(-ret));
		a->state_warned = true;
	} else {
		a->st.state_saves++;
		a->state_warned = false;
	}
}
