/*
 * conexctl: one command line over the control sockets of the conex
 * daemons in this network namespace (common/ctl.h): conex-policer,
 * conex-auditor and conex-marker.IFNAME under /run/conex. It asks for the
 * text replies (reply.h) and prints them as tables or, with -j, as JSON.
 *
 *   conexctl [-j] status | tenants | flows [-n N]
 *   conexctl set-allowance TENANT RATE
 *   conexctl reload [--daemon policer|auditor]
 *
 * Exit status: 0 ok, 1 runtime error, 2 usage error (as the daemons').
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <conex/log.h>
#include <conex/parse.h>

#include "common/conffile.h"
#include "common/ctl.h"
#include "common/version.h"
#include "print.h"
#include "reply.h"

#define EXIT_USAGE		2
#define POLICER			"conex-policer"
#define AUDITOR			"conex-auditor"
#define MARKER_PREFIX		"conex-marker."
#define MARKERS_MAX		64
#define MARKER_NAME_MAX		48
/* Twice the daemons' CTL_MSG_MAX (64 KiB): a reply never arrives cut. */
#define REPLY_MAX		(128 * 1024)
#define FLOWS_DEFAULT		20
#define FLOWS_MAX		1000	/* the auditor's AUD_FLOWS_TOP_MAX */
#define TENANT_NAME_MAX		32	/* the policer's POL_NAME_MAX */

static const char usage_text[] =
	"usage: conexctl [-j|--json] COMMAND [ARGS]\n"
	"\n"
	"Commands:\n"
	"status\n"
	"tenants\n"
	"flows [-n N]\n"
	"set-allowance TENANT RATE\n"
	"reload [--daemon policer|auditor]\n"
	"\n"
	"status: the conex daemons running in this network namespace (the\n"
	"  policer, the auditor, guest markers): version, uptime, configuration\n"
	"  file, queue and a counter summary.\n"
	"tenants: the policer's tenants: allowance, tokens, drop probability,\n"
	"  ConEx-marked bytes per flag, feedback CE, drops by reason.\n"
	"flows: the auditor's top N (default 20, at most 1000) flows by\n"
	"  shortfall, then dropped bytes: balances, tenant and sanction.\n"
	"set-allowance: change a tenant's allowance (e.g. 2mbit), keeping its\n"
	"  bucket, until the next reload or restart.\n"
	"reload: re-read the configuration of every daemon running here (guest\n"
	"  markers too), or only the one named; a file with an error is refused\n"
	"  whole.\n"
	"\n"
	"  -j, --json      JSON instead of tables\n"
	"  -h, --help      this text\n"
	"  -V, --version   the version\n"
	"\n"
	"The control sockets are root-only. Exit status: 0 ok, 1 runtime\n"
	"error, 2 usage error. See conexctl(8).\n";

struct ctl {
	bool json;
	char buf[REPLY_MAX];
	size_t len;		/* of the reply in buf, which may hold a NUL */
	struct cxctl_reply r;
};

static int usage_error(const char *fmt, ...) CX_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("conexctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(conexctl --help lists the commands)\n", stderr);
	return EXIT_USAGE;
}

/*
 * One request to daemon; the reply in c->buf. Returns 0, -ENOENT (not
 * running, not reported), or 1 after reporting any other failure.
 */
static int call(struct ctl *c, const char *daemon, const char *req,
		bool absent_ok)
{
	int ret;

	c->len = 0;
	ret = cxd_ctl_call(daemon, req, c->buf, sizeof(c->buf));
	if (ret == -ENOENT) {
		if (absent_ok)
			return -ENOENT;
		fprintf(stderr, "conexctl: %s is not running in this network "
			"namespace\n", daemon);
		return 1;
	}
	if (ret < 0) {
		fprintf(stderr, "conexctl: %s: %s\n", daemon, cxd_ctl_strerror(ret));
		return 1;
	}
	if (ret == 0) {
		fprintf(stderr, "conexctl: %s: malformed reply: empty\n", daemon);
		return 1;
	}
	c->len = (size_t)ret;
	if (strncmp(c->buf, "error: ", 7) == 0) {
		fprintf(stderr, "conexctl: %s: %s%s", daemon, c->buf + 7,
			c->buf[ret - 1] == '\n' ? "" : "\n");
		return 1;
	}
	return 0;
}

/* call() and a text reply parsed into c->r. */
static int query(struct ctl *c, const char *daemon, const char *req,
		 const char *const *kinds, bool absent_ok)
{
	int ret = call(c, daemon, req, absent_ok);

	if (ret != 0)
		return ret;
	if (cxctl_reply_parse_len(c->buf, c->len, kinds, &c->r) < 0) {
		fprintf(stderr, "conexctl: %s: malformed reply to '%s'\n", daemon,
			req);
		return 1;
	}
	return 0;
}

static const char *get(const struct cxctl_kv *kv, unsigned int n,
		       const char *key)
{
	const char *v = cxctl_kv_get(kv, n, key);

	return v ? v : "-";
}

/* "1d2h", "3h4m", "5m6s", "7s" from milliseconds. */
static void fmt_uptime(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;

	if (s >= 86400)
		snprintf(buf, len, "%llud%lluh", (unsigned long long)(s / 86400),
			 (unsigned long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(buf, len, "%lluh%llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(buf, len, "%llum%llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else
		snprintf(buf, len, "%llus", (unsigned long long)s);
}

struct markers {
	char (*names)[MARKER_NAME_MAX];
	unsigned int n;
	unsigned int max;
};

static void add_marker(const char *name, void *arg)
{
	struct markers *m = arg;

	if (m->n < m->max && strlen(name) < MARKER_NAME_MAX)
		snprintf(m->names[m->n++], MARKER_NAME_MAX, "%s", name);
}

/*
 * The markers' sockets in this network namespace (common/ctl.h). One a
 * marker killed left behind answers nobody: its calls say -ENOENT and it
 * is skipped like a daemon that is not running.
 */
static unsigned int find_markers(char names[][MARKER_NAME_MAX], unsigned int max)
{
	struct markers m = { names, 0, max };

	if (cxd_ctl_names(MARKER_PREFIX, add_marker, &m) < 0)
		return 0;
	return m.n;
}

static void status_text(const char *daemon, const struct cxctl_reply *r)
{
	const struct cxctl_kv *kv = r->kv;
	unsigned int n = r->n;
	uint64_t v = 0;
	char up[32];

	if (cxctl_kv_u64(kv, n, "uptime_ms", &v) < 0)
		v = 0;
	fmt_uptime(v, up, sizeof(up));
	printf("%s: running\n", daemon);
	printf("  version %s, pid %s, up %s\n", get(kv, n, "version"),
	       get(kv, n, "pid"), up);
	printf("  config %s\n", get(kv, n, "config"));
	printf("  queue %s (%s)\n", get(kv, n, "queue"),
	       strcmp(get(kv, n, "fail_open"), "1") == 0 ? "fail-open" : "fail-closed");
	if (strcmp(daemon, POLICER) == 0) {
		printf("  tenants %s, guests %s, buckets %s, tunnel %s, bank %s\n",
		       get(kv, n, "tenants_n"), get(kv, n, "guests_n"),
		       get(kv, n, "bucket_mode"),
		       strcmp(get(kv, n, "tunnel"), "1") == 0 ? "on" : "off",
		       strcmp(get(kv, n, "bank_up"), "1") == 0 ? "up" : "down or off");
		printf("  packets %s queued, %s dropped (police %s, spoof %s), "
		       "feedback %s accepted\n", get(kv, n, "nfq_packets"),
		       get(kv, n, "nfq_dropped"), get(kv, n, "drops_police"),
		       get(kv, n, "drops_spoof"), get(kv, n, "feedback_accepted"));
		printf("  reloads %s (%s refused), allowance changes %s\n",
		       get(kv, n, "reloads"), get(kv, n, "reload_errors"),
		       get(kv, n, "allowance_changes"));
	} else {
		printf("  guests %s, peers %s, flows %s of %s\n",
		       get(kv, n, "guests_n"), get(kv, n, "peers_n"),
		       get(kv, n, "flows_live"), get(kv, n, "flow_capacity"));
		printf("  packets %s audited, %s dropped (%s bytes), sanctions %s, "
		       "feedback %s sent\n", get(kv, n, "packets"),
		       get(kv, n, "dropped"), get(kv, n, "dropped_bytes"),
		       get(kv, n, "sanction_starts"), get(kv, n, "feedback_sent"));
		printf("  reloads %s (%s refused)\n", get(kv, n, "reloads"),
		       get(kv, n, "reload_errors"));
	}
}

static void marker_text(const char *name, const struct cxctl_reply *r)
{
	const struct cxctl_kv *kv = r->kv;
	unsigned int i, n = r->n;

	printf("%s: running\n", name);
	/* The marker's counters are its own (conex-marker(8)): all of them. */
	for (i = 0; i < n; i++)
		if (strcmp(kv[i].key, "interface") != 0)
			printf("  %s %s\n", kv[i].key, kv[i].val);
}

static int cmd_status(struct ctl *c)
{
	static const char *const daemons[] = { POLICER, AUDITOR };
	static char markers[MARKERS_MAX][MARKER_NAME_MAX];
	unsigned int i, n_markers, shown;
	int ret, status = 0;

	if (c->json)
		fputs("{", stdout);
	for (i = 0; i < 2; i++) {
		ret = query(c, daemons[i], "status text", NULL, true);
		if (ret > 0)
			status = 1;
		if (c->json) {
			printf("%s\"%s\":{\"running\":%s", i ? "," : "",
			       daemons[i] + strlen("conex-"),
			       ret == -ENOENT ? "false" : "true");
			if (ret == 0)
				cxctl_json_kvs(stdout, c->r.kv, c->r.n, true);
			else if (ret > 0)
				fputs(",\"error\":true", stdout);
			fputs("}", stdout);
		} else if (ret == -ENOENT) {
			printf("%s: not running\n", daemons[i]);
		} else if (ret == 0) {
			status_text(daemons[i], &c->r);
		}
	}
	n_markers = find_markers(markers, MARKERS_MAX);
	if (c->json)
		fputs(",\"markers\":[", stdout);
	for (i = 0, shown = 0; i < n_markers; i++) {
		ret = query(c, markers[i], "stats text", NULL, true);
		if (ret == -ENOENT)
			continue;
		if (ret > 0)
			status = 1;
		if (c->json) {
			printf("%s{\"name\":", shown ? "," : "");
			cxctl_json_str(stdout, markers[i]);
			fputs(",\"running\":true", stdout);
			if (ret == 0)
				cxctl_json_kvs(stdout, c->r.kv, c->r.n, true);
			fputs("}", stdout);
		} else if (ret == 0) {
			marker_text(markers[i], &c->r);
		}
		shown++;
	}
	if (c->json)
		fputs("]}\n", stdout);
	else if (shown == 0)
		printf("conex-marker: none running\n");
	return status;
}

/* Items as objects; the item's name (a tenant's, a flow's rank) as name_key. */
static void items_json(const struct cxctl_reply *r, const char *key,
		       const char *name_key)
{
	unsigned int i;

	printf("\"%s\":[", key);
	for (i = 0; i < r->n_items; i++) {
		printf("%s{\"%s\":", i ? "," : "", name_key);
		cxctl_json_value(stdout, r->items[i].name);
		cxctl_json_kvs(stdout, r->items[i].kv, r->items[i].n, true);
		fputs("}", stdout);
	}
	fputs("]", stdout);
}

/* drop_ppm as a percentage with two decimals. */
static void fmt_ppm(const char *ppm, char *buf, size_t len)
{
	uint64_t v;

	if (cx_parse_u64(ppm, 0, 1000000, &v) < 0) {
		snprintf(buf, len, "-");
		return;
	}
	snprintf(buf, len, "%llu.%02llu%%", (unsigned long long)(v / 10000),
		 (unsigned long long)(v % 10000 / 100));
}

/* One row of a table: its cells, and room for those formatted here. */
struct row {
	const char *cell[CXCTL_COLS_MAX];
	char fmt[2][160];
};

/*
 * c->r's items as a table of ncols columns, one row each from fill().
 * 0, or 1 after reporting.
 */
static int print_items(const struct ctl *c, unsigned int ncols,
		       const char *const *heads,
		       void (*fill)(const struct cxctl_item *it, struct row *row))
{
	struct cxctl_table t;
	struct row row;
	unsigned int i;

	if (cxctl_table_init(&t, ncols, heads) < 0)
		return 1;
	for (i = 0; i < c->r.n_items; i++) {
		fill(&c->r.items[i], &row);
		if (cxctl_table_row(&t, row.cell) < 0) {
			fprintf(stderr, "conexctl: out of memory\n");
			cxctl_table_fini(&t);
			return 1;
		}
	}
	cxctl_table_print(&t, stdout);
	cxctl_table_fini(&t);
	return 0;
}

static void tenant_row(const struct cxctl_item *it, struct row *row)
{
	uint64_t bps;

	if (cxctl_kv_u64(it->kv, it->n, "allowance_bps", &bps) < 0 ||
	    cx_format_rate(bps, row->fmt[0], sizeof(row->fmt[0])) < 0)
		snprintf(row->fmt[0], sizeof(row->fmt[0]), "-");
	fmt_ppm(get(it->kv, it->n, "drop_ppm"), row->fmt[1], sizeof(row->fmt[1]));
	row->cell[0] = it->name;
	row->cell[1] = row->fmt[0];
	row->cell[2] = get(it->kv, it->n, "tokens_bytes");
	row->cell[3] = row->fmt[1];
	row->cell[4] = get(it->kv, it->n, "l_bytes");
	row->cell[5] = get(it->kv, it->n, "e_bytes");
	row->cell[6] = get(it->kv, it->n, "c_bytes");
	row->cell[7] = get(it->kv, it->n, "feedback_ce_bytes");
	row->cell[8] = get(it->kv, it->n, "drops_police");
	row->cell[9] = get(it->kv, it->n, "drops_spoof");
}

static int cmd_tenants(struct ctl *c)
{
	static const char *const kinds[] = { "tenant", NULL };
	static const char *const heads[] = {
		"TENANT", ">ALLOWANCE", ">TOKENS", ">DROP", ">L_BYTES",
		">E_BYTES", ">C_BYTES", ">FB_CE_BYTES", ">DROPS_POLICE",
		">DROPS_SPOOF",
	};

	if (query(c, POLICER, "stats text", kinds, false) != 0)
		return 1;
	if (c->json) {
		fputs("{", stdout);
		items_json(&c->r, "tenants", "name");
		fputs("}\n", stdout);
		return 0;
	}
	return print_items(c, 10, heads, tenant_row);
}

static void flow_row(const struct cxctl_item *it, struct row *row)
{
	snprintf(row->fmt[0], sizeof(row->fmt[0]), "%s %s > %s",
		 get(it->kv, it->n, "proto"), get(it->kv, it->n, "src"),
		 get(it->kv, it->n, "dst"));
	row->cell[0] = row->fmt[0];
	row->cell[1] = get(it->kv, it->n, "tenant");
	row->cell[2] = get(it->kv, it->n, "credit_bal_bytes");
	row->cell[3] = get(it->kv, it->n, "reecho_bal_bytes");
	row->cell[4] = get(it->kv, it->n, "shortfall_bytes");
	row->cell[5] = get(it->kv, it->n, "dropped_bytes");
	row->cell[6] = strcmp(get(it->kv, it->n, "sanction"), "1") == 0 ? "yes" : "no";
}

static int cmd_flows(struct ctl *c, unsigned int n)
{
	static const char *const kinds[] = { "flow", NULL };
	static const char *const heads[] = {
		"FLOW", "TENANT", ">CREDIT_BAL", ">REECHO_BAL", ">SHORTFALL",
		">DROPPED_BYTES", "SANCTION",
	};
	char req[32];

	snprintf(req, sizeof(req), "flows %u text", n);
	if (query(c, AUDITOR, req, kinds, false) != 0)
		return 1;
	if (c->json) {
		fputs("{", stdout);
		cxctl_json_kvs(stdout, c->r.kv, c->r.n, false);
		fputs(c->r.n ? "," : "", stdout);
		items_json(&c->r, "flows", "rank");
		fputs("}\n", stdout);
		return 0;
	}
	if (print_items(c, 7, heads, flow_row) != 0)
		return 1;
	printf("%s of %s live flows shown%s\n", get(c->r.kv, c->r.n, "shown"),
	       get(c->r.kv, c->r.n, "flows_live"),
	       strcmp(get(c->r.kv, c->r.n, "truncated"), "1") == 0 ?
	       " (truncated: the reply is full; ask for fewer with -n)" : "");
	return 0;
}

static int cmd_set_allowance(struct ctl *c, const char *tenant, const char *rate)
{
	char req[CXD_CTL_REQ_MAX], fmt[CX_FORMAT_MAX];
	uint64_t bps;
	int ret;

	if (!cxd_conf_name_ok(tenant, TENANT_NAME_MAX))
		return usage_error("set-allowance: bad tenant name '%s'", tenant);
	if (cx_parse_rate(rate, &bps) < 0 || bps == 0)
		return usage_error("set-allowance: bad rate '%s' (e.g. 2mbit, "
				   "500kbit)", rate);
	snprintf(req, sizeof(req), "set-allowance %s %llu", tenant,
		 (unsigned long long)bps);
	ret = call(c, POLICER, req, false);
	if (ret != 0)
		return 1;
	if (strcmp(c->buf, "ok\n") != 0) {
		fprintf(stderr, "conexctl: %s: malformed reply to set-allowance\n",
			POLICER);
		return 1;
	}
	cx_format_rate(bps, fmt, sizeof(fmt));
	if (c->json)
		printf("{\"tenant\":\"%s\",\"allowance_bps\":%llu,\"ok\":true}\n",
		       tenant, (unsigned long long)bps);
	else
		printf("tenant %s: allowance %s\n", tenant, fmt);
	return 0;
}

/* which: NULL for every daemon running here, guest markers included. */
static int cmd_reload(struct ctl *c, const char *which)
{
	static char markers[MARKERS_MAX][MARKER_NAME_MAX];
	const char *daemons[2 + MARKERS_MAX] = { POLICER, AUDITOR };
	unsigned int i, n_markers = 0, n = 2, done = 0;
	int ret, status = 0;
	bool first = true;

	if (which == NULL)
		n_markers = find_markers(markers, MARKERS_MAX);
	for (i = 0; i < n_markers; i++)
		daemons[n++] = markers[i];
	if (c->json)
		fputs("{", stdout);
	for (i = 0; i < n; i++) {
		if (which && strcmp(daemons[i] + strlen("conex-"), which) != 0)
			continue;
		ret = call(c, daemons[i], "reload", which == NULL);
		if (ret == 0 && strcmp(c->buf, "ok\n") != 0) {
			fprintf(stderr, "conexctl: %s: malformed reply to reload\n",
				daemons[i]);
			ret = 1;
		}
		if (ret == -ENOENT)
			continue;
		done++;
		if (ret != 0)
			status = 1;
		if (c->json) {
			printf("%s\"%s\":{\"reloaded\":%s}", first ? "" : ",",
			       daemons[i] + strlen("conex-"), ret == 0 ? "true" : "false");
			first = false;
		} else if (ret == 0) {
			printf("%s: configuration reloaded\n", daemons[i]);
		}
	}
	if (c->json)
		fputs("}\n", stdout);
	if (done == 0) {
		if (which == NULL)
			fprintf(stderr, "conexctl: neither %s nor %s nor a "
				"conex-marker is running in this network "
				"namespace\n", POLICER, AUDITOR);
		return 1;
	}
	return status;
}

static int sub_flows(struct ctl *c, int argc, char **argv)
{
	uint64_t n = FLOWS_DEFAULT;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			if (cx_parse_u64(argv[++i], 1, FLOWS_MAX, &n) < 0)
				return usage_error("flows: -n wants a number in "
						   "1..1000, not '%s'", argv[i]);
		} else {
			return usage_error("flows: unexpected argument '%s'", argv[i]);
		}
	}
	return cmd_flows(c, (unsigned int)n);
}

static int sub_reload(struct ctl *c, int argc, char **argv)
{
	const char *which = NULL;

	if (argc == 3 && strcmp(argv[1], "--daemon") == 0) {
		which = argv[2];
		if (strcmp(which, "policer") != 0 && strcmp(which, "auditor") != 0)
			return usage_error("reload: --daemon wants policer or "
					   "auditor, not '%s'", which);
	} else if (argc != 1) {
		return usage_error("reload: unexpected argument '%s'", argv[1]);
	}
	return cmd_reload(c, which);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct ctl c;
	const char *cmd;
	int ch;

	/* "+": options end at the command, whose own options follow it. */
	while ((ch = getopt_long(argc, argv, "+jhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			c.json = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("conexctl %s\n", CXD_VERSION);
			return 0;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	cmd = argv[0];
	/* -j after the command too: `conexctl tenants -j`. */
	if (argc > 1 && (strcmp(argv[argc - 1], "-j") == 0 ||
			 strcmp(argv[argc - 1], "--json") == 0)) {
		c.json = true;
		argc--;
	}
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "tenants") == 0) {
		if (argc != 1)
			return usage_error("unexpected argument '%s'", argv[1]);
		return cmd[0] == 's' ? cmd_status(&c) : cmd_tenants(&c);
	}
	if (strcmp(cmd, "flows") == 0)
		return sub_flows(&c, argc, argv);
	if (strcmp(cmd, "set-allowance") == 0) {
		if (argc != 3)
			return usage_error("%s: expected 'set-allowance TENANT RATE'",
					   cmd);
		return cmd_set_allowance(&c, argv[1], argv[2]);
	}
	if (strcmp(cmd, "reload") == 0)
		return sub_reload(&c, argc, argv);
	if (strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	return usage_error("unknown command '%s'", cmd);
}
