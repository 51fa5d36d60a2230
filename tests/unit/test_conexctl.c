/*
 * Unit tests of conexctl's pure parts (tools/conexctl): the parser of the
 * daemons' text replies (reply.c) and the table and JSON printers
 * (print.c). The replies are the daemons' own text formats (policer/stats.c,
 * auditor/stats.c, guest-marker/stats.c), written out here and also built
 * with the daemons' writer (common/out.c), so the parser is held against it.
 */
#include "cxtest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/out.h"
#include "print.h"
#include "reply.h"

static const char *const k_tenant[] = { "tenant", NULL };
static const char *const k_flow[] = { "flow", NULL };
static const char *const k_peer[] = { "peer", NULL };

/* `conex-policer` "status text" (pol_status_format). */
static const char policer_status[] =
	"daemon conex-policer\n"
	"version 0.7.0\n"
	"pid 4242\n"
	"uptime_ms 93784000\n"
	"config /etc/conex/policer.conf\n"
	"queue 0\n"
	"fail_open 0\n"
	"bucket_mode local\n"
	"tunnel 1\n"
	"bank_up 0\n"
	"tenants_n 2\n"
	"guests_n 3\n"
	"nfq_packets 120345\n"
	"nfq_bytes 160000000\n"
	"nfq_dropped 17\n"
	"drops_police 15\n"
	"drops_spoof 2\n"
	"feedback_accepted 88\n"
	"reloads 1\n"
	"reload_errors 0\n"
	"allowance_changes 0\n";

/* `conex-auditor` "status text" (aud_status_format), config unprintable. */
static const char auditor_status[] =
	"daemon conex-auditor\n"
	"version 0.7.0\n"
	"pid 77\n"
	"uptime_ms 5000\n"
	"config (unprintable)\n"
	"queue 1\n"
	"fail_open 1\n"
	"guests_n 2\n"
	"peers_n 1\n"
	"flow_capacity 65536\n"
	"flows_live 3\n"
	"packets 1000\n"
	"bytes 1500000\n"
	"dropped 4\n"
	"dropped_bytes 6000\n"
	"sanction_starts 1\n"
	"feedback_sent 12\n"
	"reloads 0\n"
	"reload_errors 0\n";

/* "stats text" with tenant items (pol_stats_format, tenant keys cut). */
static const char policer_stats[] =
	"uptime_ms 1200\n"
	"host_id 7\n"
	"bucket_mode share\n"
	"tenants_n 2\n"
	"tenant gold allowance_bps 10000000 burst_bytes 150000 "
	"tokens_bytes -3000 drop_ppm 125000 l_bytes 9000 e_bytes 0 c_bytes 1500 "
	"feedback_ce_bytes 4500 drops_police 3 drops_spoof 0\n"
	"tenant silver allowance_bps 2000000 burst_bytes 30000 "
	"tokens_bytes 30000 drop_ppm 0 l_bytes 0 e_bytes 0 c_bytes 0 "
	"feedback_ce_bytes 0 drops_police 0 drops_spoof 0\n";

/* "flows 2 text" (aud_flows_format): counters, items, then a tail. */
static const char auditor_flows[] =
	"flows_live 3\n"
	"flows_seen 3\n"
	"requested 2\n"
	"flow 1 proto tcp src 198.18.0.2:40000 dst 198.18.1.2:5001 tenant gold "
	"guest vm1 credit_bal_bytes -4500 reecho_bal_bytes 0 pending_bytes 0 "
	"shortfall_bytes 4500 debt_bytes 0 dropped_bytes 3000 sanction 1 ended 0\n"
	"flow 2 proto udp src [2001:2::2]:4000 dst [2001:2:0:1::2]:4001 tenant - "
	"guest - credit_bal_bytes 0 reecho_bal_bytes 12 pending_bytes 0 "
	"shortfall_bytes 0 debt_bytes 0 dropped_bytes 0 sanction 0 ended 1\n"
	"shown 2\n"
	"truncated 0\n";

/*
 * The auditor's "stats text" peer line (aud_stats_format) is "peer ID ADDR
 * key value ...": the address is a word without a key, so the line is not
 * of the item shape. conexctl does not ask the auditor for "stats" (and its
 * ~80 counters pass CXCTL_KV_MAX too); the parser refuses it whole.
 */
static const char auditor_stats[] =
	"uptime_ms 10\n"
	"queue 1\n"
	"peer 2 198.18.0.9 packets 10 bytes 15000 ce_bytes 0 guests 1 "
	"guests_full 0 feedback_sent 1 feedback_errors 0\n"
	"feedback_sent 1\n";

/* A marker's "stats text" (cxm_stats_format): keys padded to 16. */
static const char marker_stats[] =
	"interface vm1\n"
	"pkts_x           12\n"
	"bytes_x          18000\n"
	"flows            1\n"
	"leg_bytes        0\n"
	"reload_errors    0\n";

static const struct reply_vec {
	const char *name;
	const char *text;
	size_t len;
	const char *const *kinds;
	unsigned int n_kv, n_items;
	/* A probe: key at the top level, or in item item_i if item_key. */
	const char *key, *val;
	unsigned int item_i;
	bool item_key;
} replies[] = {
#define R(t) t, sizeof(t) - 1
	{ "policer status", R(policer_status), NULL, 21, 0, "config",
	  "/etc/conex/policer.conf", 0, false },
	{ "auditor status", R(auditor_status), NULL, 19, 0, "config",
	  "(unprintable)", 0, false },
	{ "policer stats", R(policer_stats), k_tenant, 4, 2, "tokens_bytes",
	  "-3000", 0, true },
	{ "auditor flows", R(auditor_flows), k_flow, 5, 2, "dst",
	  "[2001:2:0:1::2]:4001", 1, true },
	{ "marker stats", R(marker_stats), NULL, 6, 0, "reload_errors", "0", 0,
	  false },
	{ "empty lines and runs of spaces", R("\n  a   1  \n\n b 2\n"), NULL, 2, 0,
	  "b", "2", 0, false },
	{ "same item name twice", R("tenant x a 1\ntenant x a 2\n"), k_tenant, 0,
	  2, "a", "2", 1, true },
	{ "item without values", R("tenant x\n"), k_tenant, 0, 1, NULL, NULL, 0,
	  false },
	{ "kind not asked for is a key", R("tenant x\n"), k_flow, 1, 0, "tenant",
	  "x", 0, false },
	{ "printable punctuation", R("k !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\n"),
	  NULL, 1, 0, "k", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", 0, false },
#undef R
};

static void expect_same_kv(const char *name, const struct cxctl_kv *a,
			   const struct cxctl_kv *b, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (strcmp(a[i].key, b[i].key) != 0 || strcmp(a[i].val, b[i].val) != 0)
			fail_msg("%s: pair %u is %s=%s, want %s=%s", name, i,
				 a[i].key, a[i].val, b[i].key, b[i].val);
}

/* Every word lies inside buf, NUL-terminated there. */
static void expect_inside(const char *name, const char *buf, size_t len,
			  const char *w)
{
	if (w < buf || w >= buf + len || strlen(w) >= (size_t)(buf + len - w))
		fail_msg("%s: a word outside the buffer", name);
}

static void expect_all_inside(const char *name, const char *buf, size_t len,
			      const struct cxctl_reply *r)
{
	unsigned int i, j;

	for (i = 0; i < r->n; i++) {
		expect_inside(name, buf, len, r->kv[i].key);
		expect_inside(name, buf, len, r->kv[i].val);
	}
	for (i = 0; i < r->n_items; i++) {
		expect_inside(name, buf, len, r->items[i].kind);
		expect_inside(name, buf, len, r->items[i].name);
		for (j = 0; j < r->items[i].n; j++) {
			expect_inside(name, buf, len, r->items[i].kv[j].key);
			expect_inside(name, buf, len, r->items[i].kv[j].val);
		}
	}
}

static struct cxctl_reply *reply_new(void)
{
	struct cxctl_reply *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	return r;
}

static void test_reply_valid(void **state)
{
	struct cxctl_reply *r = reply_new(), *p = reply_new();
	size_t i, k;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(replies); i++) {
		const struct reply_vec *v = &replies[i];
		char *q = (char *)cxt_dup(v->text, v->len);
		const struct cxctl_kv *kv = r->kv;
		unsigned int n = r->n;

		expect_ret(v->name, cxctl_reply_parse_len(q, v->len, v->kinds, r), 0);
		if (r->n != v->n_kv || r->n_items != v->n_items)
			fail_msg("%s: %u pairs %u items, want %u %u", v->name, r->n,
				 r->n_items, v->n_kv, v->n_items);
		expect_all_inside(v->name, q, v->len, r);
		if (v->item_key) {
			kv = r->items[v->item_i].kv;
			n = r->items[v->item_i].n;
		} else {
			n = r->n;
		}
		if (v->key) {
			const char *got = cxctl_kv_get(kv, n, v->key);

			if (got == NULL || strcmp(got, v->val) != 0)
				fail_msg("%s: %s = %s, want %s", v->name, v->key,
					 got ? got : "(absent)", v->val);
		}
		/*
		 * Every prefix: cut inside a line it is truncated; cut after a
		 * newline it is a reply of its own, the first lines of this one.
		 */
		for (k = 0; k < v->len; k++) {
			char *c = (char *)cxt_dup(v->text, k);
			int want = k > 0 && v->text[k - 1] == '\n' ? 0 : -ENODATA;
			unsigned int j;

			expect_ret(v->name, cxctl_reply_parse_len(c, k, v->kinds, p), want);
			if (want == 0) {
				if (p->n > r->n || p->n_items > r->n_items)
					fail_msg("%s: prefix %zu has more", v->name, k);
				expect_all_inside(v->name, c, k, p);
				expect_same_kv(v->name, p->kv, r->kv, p->n);
				for (j = 0; j < p->n_items; j++) {
					if (strcmp(p->items[j].name, r->items[j].name) != 0 ||
					    p->items[j].n != r->items[j].n)
						fail_msg("%s: prefix %zu item %u", v->name, k, j);
					expect_same_kv(v->name, p->items[j].kv,
						       r->items[j].kv, p->items[j].n);
				}
			}
			free(c);
			/* The NUL-terminated form of the same prefix. */
			c = malloc(k + 1);
			assert_non_null(c);
			memcpy(c, v->text, k);
			c[k] = '\0';
			expect_ret(v->name, cxctl_reply_parse(c, v->kinds, p), want);
			free(c);
		}
		free(q);
	}
	free(p);
	free(r);
}

static void test_reply_malformed(void **state)
{
	static const struct {
		const char *name;
		const char *text;
		size_t len;
		const char *const *kinds;
		int want;
	} t[] = {
#define R(s) s, sizeof(s) - 1
		{ "empty", R(""), NULL, -ENODATA },
		{ "no newline at the end", R("queue 0"), NULL, -ENODATA },
		{ "last line cut", R("queue 0\nfail_open"), NULL, -ENODATA },
		{ "one word", R("queue\n"), NULL, -EBADMSG },
		{ "three words", R("queue 0 1\n"), NULL, -EBADMSG },
		{ "key twice", R("queue 0\nfail_open 0\nqueue 1\n"), NULL, -EBADMSG },
		{ "kind alone", R("tenant\n"), k_tenant, -EBADMSG },
		{ "item key without value", R("tenant gold l_bytes\n"), k_tenant,
		  -EBADMSG },
		{ "item key twice", R("tenant gold l_bytes 1 c_bytes 0 l_bytes 2\n"),
		  k_tenant, -EBADMSG },
		{ "tab", R("queue\t0\n"), NULL, -EBADMSG },
		{ "carriage return", R("queue 0\r\n"), NULL, -EBADMSG },
		{ "escape sequence", R("config \x1b[2J\n"), NULL, -EBADMSG },
		{ "DEL", R("config a\x7f\n"), NULL, -EBADMSG },
		{ "UTF-8", R("config caf\xc3\xa9\n"), NULL, -EBADMSG },
		{ "NUL between lines", R("queue 0\n\0fail_open 0\n"), NULL, -EBADMSG },
		{ "NUL in a value", R("queue 0\0 1\n"), NULL, -EBADMSG },
		{ "NUL at the end", R("queue 0\n\0"), NULL, -ENODATA },
		{ "NUL before the newline", R("queue 0\0\n"), NULL, -EBADMSG },
		{ "flows item one value short", R("flows_live 1\nflow 1 proto tcp src\n"),
		  k_flow, -EBADMSG },
		{ "error line", R("error: unknown command\n"), NULL, -EBADMSG },
		{ "auditor stats peer line", R(auditor_stats), k_peer, -EBADMSG },
#undef R
	};
	struct cxctl_reply *r = reply_new();
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(t); i++) {
		char *q = (char *)cxt_dup(t[i].text, t[i].len);

		expect_ret(t[i].name, cxctl_reply_parse_len(q, t[i].len, t[i].kinds, r),
			   t[i].want);
		free(q);
	}
	free(r);
}

/* A NUL ends a NUL-terminated reply: what comes before it is the reply. */
static void test_reply_nul_terminated(void **state)
{
	static const char text[] = "queue 0\n\0fail_open 1\n";
	struct cxctl_reply *r = reply_new();
	char *q = (char *)cxt_dup(text, sizeof(text));

	(void)state;
	expect_ret("prefix", cxctl_reply_parse(q, NULL, r), 0);
	assert_int_equal(r->n, 1);
	assert_string_equal(r->kv[0].key, "queue");
	memcpy(q, text, sizeof(text));
	expect_ret("whole", cxctl_reply_parse_len(q, sizeof(text) - 1, NULL, r),
		   -EBADMSG);
	free(q);
	free(r);
}

/* A reply of n lines "k<i> <i>" (or n items of per pairs), heap, exact. */
static char *gen_reply(unsigned int n, unsigned int per, size_t *len)
{
	size_t cap = (size_t)n * (16 + (size_t)per * 16) + 1, used = 0;
	char *b = malloc(cap);
	unsigned int i, j;
	int w;

	assert_non_null(b);
	for (i = 0; i < n; i++) {
		if (per == 0) {
			w = snprintf(b + used, cap - used, "k%u %u\n", i, i);
		} else {
			w = snprintf(b + used, cap - used, "tenant t%u", i);
			assert_true(w > 0 && (size_t)w < cap - used);
			used += (size_t)w;
			for (j = 0; j < per; j++) {
				w = snprintf(b + used, cap - used, " k%u %u", j, j);
				assert_true(w > 0 && (size_t)w < cap - used);
				used += (size_t)w;
			}
			w = snprintf(b + used, cap - used, "\n");
		}
		assert_true(w > 0 && (size_t)w < cap - used);
		used += (size_t)w;
	}
	*len = used;
	return b;
}

static void test_reply_limits(void **state)
{
	static const struct {
		const char *name;
		unsigned int n, per;
		int want;
	} t[] = {
		{ "64 pairs", CXCTL_KV_MAX, 0, 0 },
		{ "65 pairs", CXCTL_KV_MAX + 1, 0, -EBADMSG },
		{ "item of 64 pairs", 1, CXCTL_KV_MAX, 0 },
		{ "item of 65 pairs", 1, CXCTL_KV_MAX + 1, -EBADMSG },
		{ "1024 items", CXCTL_ITEMS_MAX, 1, 0 },
		{ "1025 items", CXCTL_ITEMS_MAX + 1, 1, -EBADMSG },
	};
	struct cxctl_reply *r = reply_new();
	size_t i, len;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(t); i++) {
		char *b = gen_reply(t[i].n, t[i].per, &len), *q;

		q = (char *)cxt_dup(b, len);
		expect_ret(t[i].name, cxctl_reply_parse_len(q, len, k_tenant, r),
			   t[i].want);
		if (t[i].want == 0 && t[i].per == 0)
			assert_int_equal(r->n, t[i].n);
		if (t[i].want == 0 && t[i].per > 0) {
			assert_int_equal(r->n_items, t[i].n);
			assert_int_equal(r->items[t[i].n - 1].n, t[i].per);
		}
		free(q);
		free(b);
	}
	free(r);
}

/* An overlong value is a word like any other; it is no number. */
static void test_reply_overlong(void **state)
{
	enum { VAL_BYTES = 100000 };
	struct cxctl_reply *r = reply_new();
	size_t len = 4 + VAL_BYTES + 1;
	char *b = malloc(len);
	uint64_t u = 7;

	(void)state;
	assert_non_null(b);
	memcpy(b, "big ", 4);
	memset(b + 4, '9', VAL_BYTES);
	b[len - 1] = '\n';
	expect_ret("overlong", cxctl_reply_parse_len(b, len, NULL, r), 0);
	assert_int_equal(strlen(r->kv[0].val), VAL_BYTES);
	expect_ret("overlong u64", cxctl_kv_u64(r->kv, r->n, "big", &u), -EBADMSG);
	assert_int_equal(u, 7);
	free(b);
	free(r);
}

static void test_kv_numbers(void **state)
{
	static const struct {
		const char *v;
		int want_u;
		uint64_t u;
		int want_i;
		int64_t i;
	} t[] = {
		{ "0", 0, 0, 0, 0 },
		{ "1", 0, 1, 0, 1 },
		{ "93784000", 0, 93784000, 0, 93784000 },
		{ "9223372036854775807", 0, INT64_MAX, 0, INT64_MAX },
		{ "9223372036854775808", 0, (uint64_t)INT64_MAX + 1, -EBADMSG, 0 },
		{ "18446744073709551615", 0, UINT64_MAX, -EBADMSG, 0 },
		{ "18446744073709551616", -EBADMSG, 0, -EBADMSG, 0 },
		{ "99999999999999999999999", -EBADMSG, 0, -EBADMSG, 0 },
		{ "-1", -EBADMSG, 0, 0, -1 },
		{ "-3000", -EBADMSG, 0, 0, -3000 },
		{ "-9223372036854775808", -EBADMSG, 0, 0, INT64_MIN },
		{ "-9223372036854775809", -EBADMSG, 0, -EBADMSG, 0 },
		{ "-0", -EBADMSG, 0, -EBADMSG, 0 },
		{ "-01", -EBADMSG, 0, -EBADMSG, 0 },
		{ "007", -EBADMSG, 0, -EBADMSG, 0 },
		{ "00", -EBADMSG, 0, -EBADMSG, 0 },
		{ "0x10", -EBADMSG, 0, -EBADMSG, 0 },
		{ "-0x10", -EBADMSG, 0, -EBADMSG, 0 },
		{ "+5", -EBADMSG, 0, -EBADMSG, 0 },
		{ "12a", -EBADMSG, 0, -EBADMSG, 0 },
		{ "1.5", -EBADMSG, 0, -EBADMSG, 0 },
		{ "1e3", -EBADMSG, 0, -EBADMSG, 0 },
		{ " 1", -EBADMSG, 0, -EBADMSG, 0 },
		{ "1 ", -EBADMSG, 0, -EBADMSG, 0 },
		{ "", -EBADMSG, 0, -EBADMSG, 0 },
		{ "-", -EBADMSG, 0, -EBADMSG, 0 },
		{ "--1", -EBADMSG, 0, -EBADMSG, 0 },
		{ "local", -EBADMSG, 0, -EBADMSG, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(t); i++) {
		struct cxctl_kv kv[2] = { { "other", "5" }, { "k", t[i].v } };
		uint64_t u = 42;
		int64_t s = 42;

		expect_ret(t[i].v, cxctl_kv_u64(kv, 2, "k", &u), t[i].want_u);
		if (t[i].want_u == 0)
			assert_int_equal(u, t[i].u);
		else
			assert_int_equal(u, 42);
		expect_ret(t[i].v, cxctl_kv_i64(kv, 2, "k", &s), t[i].want_i);
		if (t[i].want_i == 0)
			assert_true(s == t[i].i);
		else
			assert_true(s == 42);
	}
}

static void test_kv_get(void **state)
{
	static const struct cxctl_kv kv[] = {
		{ "queue", "0" }, { "q", "1" }, { "queue_len", "2" },
	};
	uint64_t u;
	int64_t s;

	(void)state;
	assert_string_equal(cxctl_kv_get(kv, 3, "queue"), "0");
	assert_string_equal(cxctl_kv_get(kv, 3, "q"), "1");
	assert_string_equal(cxctl_kv_get(kv, 3, "queue_len"), "2");
	assert_null(cxctl_kv_get(kv, 3, "queu"));
	assert_null(cxctl_kv_get(kv, 1, "q"));
	assert_null(cxctl_kv_get(kv, 0, "queue"));
	expect_ret("absent u64", cxctl_kv_u64(kv, 3, "nope", &u), -ENOENT);
	expect_ret("absent i64", cxctl_kv_i64(kv, 3, "nope", &s), -ENOENT);
	expect_ret("none", cxctl_kv_u64(kv, 0, "queue", &u), -ENOENT);
}

/* --- printers, into a memory stream --- */

struct mem {
	FILE *f;
	char *buf;
	size_t len;
};

static void mem_open(struct mem *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	assert_non_null(m->f);
}

/* The text written, NUL-terminated; the caller frees m->buf. */
static const char *mem_close(struct mem *m)
{
	assert_int_equal(fclose(m->f), 0);
	return m->buf;
}

static void test_json_str(void **state)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "", "\"\"" },
		{ "gold", "\"gold\"" },
		{ "a\"b", "\"a\\\"b\"" },
		{ "a\\b", "\"a\\\\b\"" },
		{ "\\\"", "\"\\\\\\\"\"" },
		{ "a\nb", "\"a\\u000ab\"" },
		{ "\t\r", "\"\\u0009\\u000d\"" },
		{ "\x01\x1f", "\"\\u0001\\u001f\"" },
		{ "\x1b[2J", "\"\\u001b[2J\"" },
		{ " ~\x7f", "\" ~\x7f\"" },
		{ "/etc/conex/policer.conf", "\"/etc/conex/policer.conf\"" },
		{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" },
	};
	struct mem m;
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(t); i++) {
		mem_open(&m);
		cxctl_json_str(m.f, t[i].in);
		assert_string_equal(mem_close(&m), t[i].want);
		free(m.buf);
	}
}

static void test_json_value(void **state)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "0", "0" },
		{ "123", "123" },
		{ "-3000", "-3000" },
		{ "18446744073709551615", "18446744073709551615" },
		{ "-0", "-0" },
		{ "007", "\"007\"" },
		{ "-007", "\"-007\"" },
		{ "0x10", "\"0x10\"" },
		{ "1.5", "\"1.5\"" },
		{ "1e3", "\"1e3\"" },
		{ "+1", "\"+1\"" },
		{ "-", "\"-\"" },
		{ "", "\"\"" },
		{ "12a", "\"12a\"" },
		{ "local", "\"local\"" },
		{ "198.18.0.2:40000", "\"198.18.0.2:40000\"" },
		{ "1\"", "\"1\\\"\"" },
	};
	struct mem m;
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(t); i++) {
		mem_open(&m);
		cxctl_json_value(m.f, t[i].in);
		assert_string_equal(mem_close(&m), t[i].want);
		free(m.buf);
	}
}

static void test_json_kvs(void **state)
{
	static const struct cxctl_kv kv[] = {
		{ "queue", "0" }, { "bucket_mode", "local" }, { "k\"", "a\\b" },
	};
	static const struct {
		const char *name;
		unsigned int n;
		bool lead;
		const char *want;
	} t[] = {
		{ "none", 0, false, "" },
		{ "none, lead", 0, true, "" },
		{ "one", 1, false, "\"queue\":0" },
		{ "one, lead", 1, true, ",\"queue\":0" },
		{ "three", 3, false,
		  "\"queue\":0,\"bucket_mode\":\"local\",\"k\\\"\":\"a\\\\b\"" },
		{ "three, lead", 3, true,
		  ",\"queue\":0,\"bucket_mode\":\"local\",\"k\\\"\":\"a\\\\b\"" },
	};
	struct mem m;
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(t); i++) {
		mem_open(&m);
		cxctl_json_kvs(m.f, kv, t[i].n, t[i].lead);
		if (strcmp(mem_close(&m), t[i].want) != 0)
			fail_msg("%s: %s, want %s", t[i].name, m.buf, t[i].want);
		free(m.buf);
	}
}

/*
 * The daemons' writer in JSON and conexctl's printer over the parsed text
 * reply agree on a flat reply: integers as numbers, words as strings.
 */
static void test_json_matches_daemon(void **state)
{
	char text[512], json[512];
	struct cxctl_reply *r = reply_new();
	struct cxd_out o;
	struct mem m;
	int i, n_text = 0, n_json = 0;

	(void)state;
	for (i = 0; i < 2; i++) {
		cxd_out_init(&o, i ? json : text, 512, i == 1);
		cxd_out_begin(&o);
		cxd_out_str(&o, "daemon", "conex-auditor");
		cxd_out_str(&o, "version", "0.7.0");
		cxd_out_u64(&o, "uptime_ms", 93784000);
		cxd_out_str(&o, "config", "/etc/conex/auditor.conf");
		cxd_out_u64(&o, "flow_capacity", 65536);
		cxd_out_i64(&o, "credit_bal_bytes", -4500);
		cxd_out_u64(&o, "max", UINT64_MAX);
		cxd_out_i64(&o, "min", INT64_MIN);
		if (i)
			n_json = cxd_out_end(&o);
		else
			n_text = cxd_out_end(&o);
	}
	assert_true(n_text > 0 && n_json > 0);
	expect_ret("daemon text", cxctl_reply_parse(text, NULL, r), 0);
	assert_int_equal(r->n, 8);
	mem_open(&m);
	fputc('{', m.f);
	cxctl_json_kvs(m.f, r->kv, r->n, false);
	fputs("}\n", m.f);
	assert_string_equal(mem_close(&m), json);
	free(m.buf);
	free(r);
}

/* Items written by the daemons' writer parse back to what was written. */
static void test_items_from_daemon(void **state)
{
	static const char *const names[] = { "gold", "silver", "bronze" };
	struct cxctl_reply *r = reply_new();
	char buf[1024];
	struct cxd_out o;
	unsigned int i;
	uint64_t u;
	int64_t s;
	int len;

	(void)state;
	cxd_out_init(&o, buf, sizeof(buf), false);
	cxd_out_begin(&o);
	cxd_out_u64(&o, "tenants_n", 3);
	cxd_out_list_begin(&o, "tenants");
	for (i = 0; i < 3; i++) {
		cxd_out_item_begin(&o, "tenant", names[i]);
		cxd_out_u64(&o, "allowance_bps", 1000000ULL * (i + 1));
		cxd_out_i64(&o, "tokens_bytes", -(int64_t)i * 1500);
		cxd_out_u64(&o, "drop_ppm", i * 250000);
		cxd_out_item_end(&o);
	}
	cxd_out_list_end(&o);
	cxd_out_u64(&o, "reloads", 0);
	len = cxd_out_end(&o);
	assert_true(len > 0);
	expect_ret("daemon items", cxctl_reply_parse_len(buf, (size_t)len, k_tenant, r), 0);
	assert_int_equal(r->n, 2);
	assert_int_equal(r->n_items, 3);
	for (i = 0; i < 3; i++) {
		const struct cxctl_item *it = &r->items[i];

		assert_string_equal(it->kind, "tenant");
		assert_string_equal(it->name, names[i]);
		assert_int_equal(it->n, 3);
		expect_ret("allowance", cxctl_kv_u64(it->kv, it->n, "allowance_bps", &u), 0);
		assert_int_equal(u, 1000000ULL * (i + 1));
		expect_ret("tokens", cxctl_kv_i64(it->kv, it->n, "tokens_bytes", &s), 0);
		assert_true(s == -(int64_t)i * 1500);
		expect_ret("ppm", cxctl_kv_u64(it->kv, it->n, "drop_ppm", &u), 0);
		assert_int_equal(u, i * 250000);
	}
	free(r);
}

/* --- tables --- */

static void test_table_init(void **state)
{
	static const char *const heads[CXCTL_COLS_MAX + 1] = {
		"A", ">B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M",
	};
	struct cxctl_table t;

	(void)state;
	expect_ret("no columns", cxctl_table_init(&t, 0, heads), -EINVAL);
	expect_ret("13 columns", cxctl_table_init(&t, CXCTL_COLS_MAX + 1, heads),
		   -EINVAL);
	expect_ret("12 columns", cxctl_table_init(&t, CXCTL_COLS_MAX, heads), 0);
	assert_string_equal(t.head[1], "B");
	assert_true(t.right[1]);
	assert_false(t.right[0]);
	cxctl_table_fini(&t);
	/* fini twice is harmless: it leaves no rows behind. */
	cxctl_table_fini(&t);
}

static void test_table_print(void **state)
{
	static const char *const heads3[] = { "TENANT", ">ALLOWANCE", "SANCTION" };
	static const char *const heads2[] = { "NAME", ">N" };
	static const char *const rows3[][3] = {
		{ "gold", "10mbit", "yes" },
		{ "a-much-longer-name", "500kbit", NULL },
		{ "x", "1", "no" },
	};
	static const char *const rows2[][2] = {
		{ "a", "5" },
		{ "bb", "12345" },
	};
	static const struct {
		const char *name;
		unsigned int ncols, nrows;
		const char *const *heads;
		const char *const *rows;
		const char *want;
	} t[] = {
		{ "no rows", 3, 0, heads3, NULL, "TENANT  ALLOWANCE  SANCTION\n" },
		/* Left columns padded but the last; numbers right-aligned; NULL as "-". */
		{ "three columns", 3, 3, heads3, &rows3[0][0],
		  "TENANT              ALLOWANCE  SANCTION\n"
		  "gold                   10mbit  yes\n"
		  "a-much-longer-name    500kbit  -\n"
		  "x                           1  no\n" },
		/* A right-aligned last column is padded on the left. */
		{ "right last", 2, 2, heads2, &rows2[0][0],
		  "NAME      N\n"
		  "a         5\n"
		  "bb    12345\n" },
	};
	struct cxctl_table tb;
	struct mem m;
	size_t i, r;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(t); i++) {
		expect_ret(t[i].name, cxctl_table_init(&tb, t[i].ncols, t[i].heads), 0);
		for (r = 0; r < t[i].nrows; r++)
			expect_ret(t[i].name, cxctl_table_row(&tb, t[i].rows +
				   r * t[i].ncols), 0);
		mem_open(&m);
		cxctl_table_print(&tb, m.f);
		if (strcmp(mem_close(&m), t[i].want) != 0)
			fail_msg("%s:\n%s\nwant\n%s", t[i].name, m.buf, t[i].want);
		free(m.buf);
		cxctl_table_fini(&tb);
	}
}

/* Past the first allocation (16 rows): every row kept, in order, copied. */
static void test_table_grow(void **state)
{
	static const char *const heads[] = { "FLOW", ">BYTES" };
	enum { ROWS = 100 };
	struct cxctl_table tb;
	char name[16], bytes[16], want[64];
	const char *cells[2] = { name, bytes };
	const char *line;
	struct mem m;
	unsigned int r;

	(void)state;
	expect_ret("init", cxctl_table_init(&tb, 2, heads), 0);
	for (r = 0; r < ROWS; r++) {
		snprintf(name, sizeof(name), "f%u", r);
		snprintf(bytes, sizeof(bytes), "%u", r * 1000);
		expect_ret("row", cxctl_table_row(&tb, cells), 0);
	}
	/* The row holds copies: the caller's buffers are reused. */
	memset(name, 'z', sizeof(name) - 1);
	assert_int_equal(tb.nrows, ROWS);
	mem_open(&m);
	cxctl_table_print(&tb, m.f);
	line = mem_close(&m);
	assert_true(strncmp(line, "FLOW  BYTES\n", 12) == 0);
	line += 12;
	for (r = 0; r < ROWS; r++) {
		snprintf(name, sizeof(name), "f%u", r);
		snprintf(want, sizeof(want), "%-4s  %5u\n", name, r * 1000);
		if (strncmp(line, want, strlen(want)) != 0)
			fail_msg("row %u: %.*s, want %s", r, (int)strlen(want), line, want);
		line += strlen(want);
	}
	assert_int_equal(*line, '\0');
	free(m.buf);
	cxctl_table_fini(&tb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_valid),
		cmocka_unit_test(test_reply_malformed),
		cmocka_unit_test(test_reply_nul_terminated),
		cmocka_unit_test(test_reply_limits),
		cmocka_unit_test(test_reply_overlong),
		cmocka_unit_test(test_kv_numbers),
		cmocka_unit_test(test_kv_get),
		cmocka_unit_test(test_json_str),
		cmocka_unit_test(test_json_value),
		cmocka_unit_test(test_json_kvs),
		cmocka_unit_test(test_json_matches_daemon),
		cmocka_unit_test(test_items_from_daemon),
		cmocka_unit_test(test_table_init),
		cmocka_unit_test(test_table_print),
		cmocka_unit_test(test_table_grow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
