/*
 * ConEx audit (conex/audit.h): classification vectors, balance and
 * sequence rules, state-table policy, and simulated TCP traces (honest
 * and cheating senders, RFC 7786 rules) under a deterministic PRNG.
 */
#include <errno.h>
#include <stddef.h>

#include "cxtest.h"

#include <conex/audit.h>
#include <conex/signal.h>

#define X	CX_SIG_X
#define L	CX_SIG_L
#define E	CX_SIG_E
#define C	CX_SIG_C
#define MS	(1000ULL * 1000)
/* past a flow's startup second (audit.c FLOW_STARTUP_NS): both checks apply */
#define OLD	(1100 * MS)

enum { PAYLOAD = 1448, HDR = 52, IPB = PAYLOAD + HDR };

static const struct cx_siphash_key sk = { 0x0706050403020100ULL,
					  0x0f0e0d0c0b0a0908ULL };

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: deterministic, good enough for test traffic. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static uint32_t rng_pm(uint64_t *s)
{
	return (uint32_t)(rng_next(s) >> 32) % 1000;
}

static struct cx_flow_key key_of(uint32_t host, uint16_t sport)
{
	struct cx_flow_key k;

	cx_flow_key_v4(&k, 0xc6120000 | host, 0xc6130001, sport, 80, 6);
	return k;
}

static struct cx_audit *audit_with(uint32_t flows, uint32_t sources,
				   uint32_t sketch)
{
	struct cx_audit_cfg cfg;
	struct cx_audit *a;

	cx_audit_cfg_default(&cfg);
	cfg.flow_capacity = flows;
	cfg.source_capacity = sources;
	cfg.sketch_buckets = sketch;
	a = cx_audit_new(&cfg, &sk);
	assert_non_null(a);
	return a;
}

static struct cx_audit *audit(void)
{
	return audit_with(64, 16, 64);
}

struct tx {
	struct cx_audit_result res;
	int verdict;
};

/* One TCP packet of ip_bytes carrying payload bytes from seq. */
static struct tx send_ip(struct cx_audit *a, const struct cx_flow_key *k,
			 uint8_t sig, uint16_t flags, uint32_t seq,
			 uint32_t payload, uint32_t ip_bytes, uint64_t now_ns,
			 uint32_t rnd)
{
	struct cx_audit_pkt p;
	struct tx t;

	memset(&p, 0, sizeof(p));
	p.key = *k;
	memcpy(p.src, k->saddr, sizeof(p.src));
	p.now_ns = now_ns;
	p.ip_bytes = ip_bytes;
	p.seq = seq;
	p.payload_bytes = payload;
	p.rand = rnd;
	p.flags = flags | CX_AUDIT_P_TCP;
	p.sig = sig;
	t.verdict = cx_audit_packet(a, &p, &t.res);
	assert_true(t.verdict == CX_AUDIT_PASS || t.verdict == CX_AUDIT_DROP);
	return t;
}

static struct tx send_pkt(struct cx_audit *a, const struct cx_flow_key *k,
			  uint8_t sig, uint16_t flags, uint32_t seq,
			  uint32_t payload, uint64_t now_ns, uint32_t rnd)
{
	return send_ip(a, k, sig, flags, seq, payload, payload + HDR, now_ns,
		       rnd);
}

#define CX	CX_AUDIT_P_CONEX
#define CE	CX_AUDIT_P_CE

/* One UDP packet (no sequence) of ip_bytes from host, source port sport. */
static struct tx send_udp(struct cx_audit *a, uint32_t host, uint16_t sport,
			  uint8_t sig, uint16_t flags, uint32_t ip_bytes,
			  uint64_t now_ns, uint32_t rnd)
{
	struct cx_audit_pkt p;
	struct tx t;

	memset(&p, 0, sizeof(p));
	cx_flow_key_v4(&p.key, 0xc6120000 | host, 0xc6130001, sport, 7000, 17);
	memcpy(p.src, p.key.saddr, sizeof(p.src));
	p.now_ns = now_ns;
	p.ip_bytes = ip_bytes;
	p.rand = rnd;
	p.flags = flags;
	p.sig = sig;
	t.verdict = cx_audit_packet(a, &p, &t.res);
	assert_true(t.verdict == CX_AUDIT_PASS || t.verdict == CX_AUDIT_DROP);
	return t;
}

static struct cx_audit_counters counters(const struct cx_audit *a)
{
	struct cx_audit_counters c;

	cx_audit_counters(a, &c);
	return c;
}

static struct cx_audit_flow_info info(struct cx_audit *a,
				      const struct cx_flow_key *k)
{
	struct cx_audit_flow_info fi;

	assert_int_equal(cx_audit_flow_get(a, k, &fi), 0);
	return fi;
}

/* The account of k's source. */
static struct cx_audit_source_info src_info(struct cx_audit *a,
					    const struct cx_flow_key *k)
{
	struct cx_audit_source_info si;

	assert_int_equal(cx_audit_source_get(a, k->saddr, k->family, &si), 0);
	return si;
}

/* Debt cap and flow cover of the default configuration. */
#define CAP	(CX_AUDIT_SLACK_DEFAULT + 2 * CX_AUDIT_SCALE_DEFAULT)
#define COVER	(2 * CX_AUDIT_SLACK_DEFAULT)

static void test_cfg(void **state)
{
	static const struct {
		const char *name;
		size_t off;
		size_t size;
		uint64_t value;
	} bad[] = {
#define F(m, v) { #m "=" #v, offsetof(struct cx_audit_cfg, m), \
		  sizeof(((struct cx_audit_cfg *)0)->m), v }
		F(flow_capacity, 0),
		F(flow_capacity, (1U << 24) + 1),
		F(source_capacity, 0),
		F(sketch_buckets, 0),
		F(sketch_buckets, 3),
		F(sketch_buckets, 1U << 21),
		F(hole_cap_bytes, 0),
		F(hole_cap_bytes, (1U << 30) + 1),
		F(sanction_scale_bytes, 0),
		F(slack_bytes, (1ULL << 32) + 1),
		F(reecho_allowance_ns, 6),
		F(reecho_allowance_ns, 61ULL * 1000 * MS),
		F(reorder_window_ns, 1001ULL * MS),
		F(idle_ns, 25ULL * 3600 * 1000 * MS),
		F(source_flows_max, (1U << 24) + 1),
#undef F
	};
	struct cx_audit_cfg cfg, c2;
	struct cx_audit *a;
	size_t i;

	(void)state;
	cx_audit_cfg_default(&cfg);
	assert_int_equal(cx_audit_cfg_check(&cfg), 0);
	assert_int_equal(cfg.reecho_allowance_ns, 20 * MS);
	assert_int_equal(cx_audit_cfg_check(NULL), -EINVAL);
	for (i = 0; i < CX_ARRAY_SIZE(bad); i++) {
		uint32_t v32 = (uint32_t)bad[i].value;

		c2 = cfg;
		if (bad[i].size == sizeof(uint32_t))
			memcpy((uint8_t *)&c2 + bad[i].off, &v32, sizeof(v32));
		else
			memcpy((uint8_t *)&c2 + bad[i].off, &bad[i].value,
			       sizeof(bad[i].value));
		expect_ret(bad[i].name, cx_audit_cfg_check(&c2), -EINVAL);
		assert_int_equal(cx_audit_mem_size(&c2), 0);
		errno = 0;
		assert_null(cx_audit_new(&c2, &sk));
		assert_int_equal(errno, EINVAL);
	}
	assert_null(cx_audit_new(&cfg, NULL));
	/* One record is a flow-table entry: more than the 40-byte key, and
	 * small enough for a million flows in a few hundred MB. */
	assert_true(cx_audit_mem_per_flow(&cfg) > sizeof(struct cx_flow_key));
	assert_true(cx_audit_mem_per_flow(&cfg) <= 288);
	assert_true(cx_audit_mem_size(&cfg) >=
		    cx_audit_mem_per_flow(&cfg) * cfg.flow_capacity / 2);
	a = cx_audit_new(&cfg, &sk);
	assert_non_null(a);
	cx_audit_free(a);
	cx_audit_free(NULL);
}

static void test_null_args(void **state)
{
	struct cx_audit *a = audit();
	struct cx_audit_result res;
	struct cx_audit_pkt p;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_int_equal(cx_audit_packet(NULL, &p, &res), -EINVAL);
	assert_int_equal(cx_audit_packet(a, NULL, &res), -EINVAL);
	assert_int_equal(cx_audit_packet(a, &p, NULL), -EINVAL);
	assert_int_equal(counters(a).packets, 0);
	cx_audit_free(a);
}

#define CNT(m) offsetof(struct cx_audit_counters, m)
#define NONE ((size_t)-1)

static uint64_t cnt_at(const struct cx_audit_counters *c, size_t off)
{
	uint64_t v;

	memcpy(&v, (const uint8_t *)c + off, sizeof(v));
	return v;
}

/* RFC 7713 §2.1 classes, docs/wire.md §2/§3 anomalies: outcome and counter. */
static void test_classify(void **state)
{
	static const struct {
		const char *name;
		uint16_t flags;
		uint8_t sig;
		size_t cls;		/* class counter that must be 1 */
		size_t anomaly;		/* anomaly counter that must be 1 */
		bool flow;		/* flow state created */
	} v[] = {
		{ "no encoding", 0, 0, CNT(not_conex), NONE, false },
		{ "bits without encoding", 0, X | C, CNT(not_conex), NONE, false },
		{ "X=0", CX, 0, CNT(not_conex), NONE, false },
		{ "X=0 with L,C", CX, L | C, CNT(not_conex), CNT(x0_with_flags), false },
		{ "X=0 with E", CX, E, CNT(not_conex), CNT(x0_with_flags), false },
		{ "X only", CX, X, CNT(conex_not_marked), NONE, false },
		{ "credit", CX, X | C, CNT(conex_marked), NONE, true },
		{ "L E C", CX, X | L | E | C, CNT(conex_marked), NONE, true },
		{ "reserved, C", CX, X | C | 0x05, CNT(conex_marked), CNT(reserved_set), true },
		{ "reserved, X only", CX, X | 0x08, CNT(conex_not_marked), CNT(reserved_set), false },
		{ "multicast CDO", CX | CX_AUDIT_P_MCAST_CDO, X | C, CNT(not_conex), CNT(mcast_cdo), false },
		{ "non-first fragment", CX | CX_AUDIT_P_FRAG, X | C, CNT(not_conex), CNT(non_first_frag), false },
		{ "RF non-atomic", CX | CX_AUDIT_P_RF_NONATOMIC, X | E, CNT(not_conex), CNT(rf_non_atomic), false },
	};
	static const size_t anomalies[] = {
		CNT(x0_with_flags), CNT(reserved_set), CNT(mcast_cdo),
		CNT(non_first_frag), CNT(rf_non_atomic),
	};
	struct cx_flow_key k = key_of(1, 1000);
	size_t i, j;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(v); i++) {
		struct cx_audit *a = audit();
		struct cx_audit_counters c;
		struct tx t;

		t = send_pkt(a, &k, v[i].sig, v[i].flags, 1, PAYLOAD, MS, 0);
		c = counters(a);
		expect_ret(v[i].name, t.verdict, CX_AUDIT_PASS);
		expect_ret(v[i].name, (int)cnt_at(&c, v[i].cls), 1);
		expect_ret(v[i].name, (int)(c.not_conex + c.conex_not_marked +
					    c.conex_marked), 1);
		for (j = 0; j < CX_ARRAY_SIZE(anomalies); j++)
			expect_ret(v[i].name, (int)cnt_at(&c, anomalies[j]),
				   anomalies[j] == v[i].anomaly);
		expect_ret(v[i].name, !!(t.res.events & CX_AUDIT_E_ANOMALY),
			   v[i].anomaly != NONE);
		expect_ret(v[i].name, (int)c.flows_created, v[i].flow);
		expect_ret(v[i].name, (int)t.res.reason,
			   v[i].flow ? CX_AUDIT_R_FLOW : CX_AUDIT_R_AGG);
		/* Only ConEx-Marked packets declare. */
		expect_ret(v[i].name, (int)(c.l_bytes + c.e_bytes + c.c_bytes),
			   v[i].cls == CNT(conex_marked) ?
			   IPB * __builtin_popcount(v[i].sig & CX_SIG_LEC) : 0);
		cx_audit_free(a);
	}
}

/* Once per flag; CE on a marked packet counted both ways, never netted. */
static void test_counting(void **state)
{
	struct cx_flow_key k = key_of(1, 1000);
	struct cx_audit *a = audit();
	struct cx_audit_flow_info fi;
	struct cx_audit_counters c;

	(void)state;
	send_pkt(a, &k, X | L | C, CX, 1, PAYLOAD, MS, 0);
	send_pkt(a, &k, X | E | C, CX | CE, 1 + PAYLOAD, PAYLOAD, MS, 0);
	c = counters(a);
	assert_int_equal(c.l_bytes, IPB);
	assert_int_equal(c.e_bytes, IPB);
	assert_int_equal(c.c_bytes, 2 * IPB);
	assert_int_equal(c.ce_bytes, IPB);
	assert_int_equal(c.ce_marked, 1);
	fi = info(a, &k);
	/* credit: 2 C - 1 CE; re-echo: L + E, the CE still pending. */
	assert_int_equal(fi.credit_bal_bytes, IPB);
	assert_int_equal(fi.reecho_bal_bytes, 2 * IPB);
	assert_int_equal(fi.pending_bytes, IPB);
	cx_audit_free(a);
}

/* Not-ConEx packets of a ConEx flow: ignored by the flow, in the aggregate. */
static void test_not_conex_in_flow(void **state)
{
	struct cx_flow_key k = key_of(1, 1000);
	struct cx_audit *a = audit();
	struct cx_audit_source_info si;
	struct cx_audit_flow_info fi;
	struct tx t;

	(void)state;
	send_pkt(a, &k, X | C, CX, 1, PAYLOAD, MS, 0);
	t = send_pkt(a, &k, 0, CE, 1 + PAYLOAD, PAYLOAD, MS, 0);
	assert_int_equal(t.res.reason, CX_AUDIT_R_AGG);
	t = send_pkt(a, &k, L | E, CX | CE, 1 + 2 * PAYLOAD, PAYLOAD, MS, 0);
	assert_int_equal(t.res.reason, CX_AUDIT_R_AGG);
	fi = info(a, &k);
	assert_int_equal(fi.credit_bal_bytes, IPB);
	assert_int_equal(fi.pending_bytes, 0);
	/* In the source's own balance, beside the flow's credit. */
	si = src_info(a, &k);
	assert_int_equal(si.own_bytes, -2 * IPB);
	assert_int_equal(si.flows_bytes, IPB);
	assert_int_equal(si.balance_bytes, -IPB);
	assert_int_equal(counters(a).not_conex_in_flow, 2);
	/* A FIN with X=0 (no payload) still ends the flow. */
	t = send_pkt(a, &k, 0, CX_AUDIT_P_FIN, 1 + 3 * PAYLOAD, 0, MS, 0);
	assert_true(t.res.events & CX_AUDIT_E_FLOW_END);
	assert_int_equal(cx_audit_flow_get(a, &k, &fi), -ENOENT);
	cx_audit_free(a);
}

/* Re-echo may lag the CE by up to the allowance, not more. */
/*
 * One X-only packet per millisecond from ms_from to ms_to (after OLD);
 * returns the first millisecond at which the re-echo balance is negative,
 * or 0.
 */
static uint64_t tick_until_settled(struct cx_audit *a, const struct cx_flow_key *k,
				   uint32_t *seq, uint64_t ms_from, uint64_t ms_to,
				   struct tx *t)
{
	uint64_t ms;

	for (ms = ms_from; ms <= ms_to; ms++, *seq += PAYLOAD) {
		*t = send_pkt(a, k, X, CX, *seq, PAYLOAD, OLD + ms * MS, 0);
		if (info(a, k).reecho_bal_bytes < 0)
			return ms;
	}
	return 0;
}

static void test_reecho_allowance(void **state)
{
	struct cx_flow_key k = key_of(1, 1000);
	struct cx_audit *a = audit();
	uint32_t seq = 1, i;
	uint64_t ms;
	struct tx t;

	(void)state;
	/*
	 * Plenty of credit, so only the re-echo check can bite; the flow is
	 * past its startup second (test_startup_credit_only) from OLD on.
	 */
	for (i = 0; i < 80; i++, seq += PAYLOAD)
		send_pkt(a, &k, X | C, CX, seq, PAYLOAD, MS, 0);
	for (i = 0; i < 30; i++, seq += PAYLOAD)
		send_pkt(a, &k, X, CX | CE, seq, PAYLOAD, OLD + MS, 0);
	/* A flow sending every ms: settled between 1x and 8/7x the allowance. */
	ms = tick_until_settled(a, &k, &seq, 2, 40, &t);
	assert_in_range(ms, 1 + 20, 1 + 23);
	/* owed: 30 packets less the slack and twice as much of the credit */
	assert_int_equal(info(a, &k).reecho_bal_bytes, -30 * IPB);
	assert_int_equal(t.res.shortfall_bytes, 30 * IPB - 3 * CX_AUDIT_SLACK_DEFAULT);
	assert_true(t.res.events & CX_AUDIT_E_SANCTION_START);
	/* E declarations bring it back (to the slack and the cover). */
	for (i = 0; i < 6; i++, seq += PAYLOAD)
		t = send_pkt(a, &k, X | E, CX, seq, PAYLOAD, OLD + (ms + 1) * MS, 0);
	assert_true(t.res.events & CX_AUDIT_E_SANCTION_END);
	assert_int_equal(t.res.shortfall_bytes, 0);
	assert_int_equal(counters(a).sanction_ends, 1);

	/*
	 * A flow that falls silent (a retransmission timeout) has no packet
	 * to carry its re-echo: the silence counts for one slot at most, so
	 * 200 ms later the congestion is still pending, and it settles after
	 * about the allowance of sending time.
	 */
	for (i = 0; i < 24; i++, seq += PAYLOAD)
		send_pkt(a, &k, X | E, CX, seq, PAYLOAD, OLD + 90 * MS, 0);
	assert_int_equal(info(a, &k).reecho_bal_bytes, 0);
	for (i = 0; i < 4; i++, seq += PAYLOAD)
		send_pkt(a, &k, X, CX | CE, seq, PAYLOAD, OLD + 100 * MS, 0);
	t = send_pkt(a, &k, X, CX, seq, PAYLOAD, OLD + 300 * MS, 0);
	seq += PAYLOAD;
	assert_int_equal(info(a, &k).reecho_bal_bytes, 0);
	assert_int_equal(info(a, &k).pending_bytes, 4 * IPB);
	ms = tick_until_settled(a, &k, &seq, 301, 340, &t);
	assert_in_range(ms, 300 + 14, 300 + 23);
	assert_int_equal(info(a, &k).reecho_bal_bytes, -4 * IPB);
	cx_audit_free(a);
}

/*
 * In its first second a flow is held to its credit only; its re-echo
 * deficit is kept and due in full once the second is over.
 */
static void test_startup_credit_only(void **state)
{
	struct cx_flow_key k = key_of(1, 1001);
	struct cx_audit *a = audit();
	uint32_t seq = 1, i;
	struct tx t;

	(void)state;
	for (i = 0; i < 80; i++, seq += PAYLOAD)
		send_pkt(a, &k, X | C, CX, seq, PAYLOAD, MS, 0);
	for (i = 0; i < 30; i++, seq += PAYLOAD)
		send_pkt(a, &k, X, CX | CE, seq, PAYLOAD, MS, 0);
	/* settled (a packet every ms for most of a second), but young */
	for (i = 2; i < 990; i++, seq += PAYLOAD)
		t = send_pkt(a, &k, X, CX, seq, PAYLOAD, i * MS, 0);
	assert_int_equal(info(a, &k).reecho_bal_bytes, -30 * IPB);
	assert_int_equal(t.res.shortfall_bytes, 0);
	assert_int_equal(counters(a).sanction_starts, 0);
	/* a second after its first packet: the whole deficit is due */
	t = send_pkt(a, &k, X, CX, seq, PAYLOAD, MS + 1000 * MS, 0);
	seq += PAYLOAD;
	assert_int_equal(t.res.shortfall_bytes, 30 * IPB - 3 * CX_AUDIT_SLACK_DEFAULT);
	assert_true(t.res.events & CX_AUDIT_E_SANCTION_START);
	cx_audit_free(a);

	/* credit is checked at once, young or not */
	a = audit();
	k = key_of(1, 1002);
	seq = 1;
	send_pkt(a, &k, X | C, CX, seq, PAYLOAD, MS, 0);
	seq += PAYLOAD;
	for (i = 0; i < 12; i++, seq += PAYLOAD)
		t = send_pkt(a, &k, X, CX | CE, seq, PAYLOAD, 2 * MS, 0);
	assert_int_equal(t.res.shortfall_bytes, 11 * IPB - CX_AUDIT_SLACK_DEFAULT);
	assert_true(counters(a).sanction_starts == 1);
	cx_audit_free(a);
}

/*
 * Unspent credit covers re-echo owed beyond the slack, up to two more
 * slacks: with 75 kB of credit left the cover is two slacks; with 15 kB,
 * 15 kB; with none, none.
 */
static void test_reecho_cover(void **state)
{
	static const struct {
		uint32_t c_pkts;	/* C packets of IPB before the CE */
		int64_t cover;
	} v[] = {
		{ 80, 2 * CX_AUDIT_SLACK_DEFAULT },
		{ 40, 10 * IPB },
		{ 30, 0 },
	};
	size_t n;

	(void)state;
	for (n = 0; n < CX_ARRAY_SIZE(v); n++) {
		struct cx_flow_key k = key_of(1, (uint16_t)(1100 + n));
		struct cx_audit *a = audit();
		uint32_t seq = 1, i;
		uint64_t ms;
		struct tx t;

		for (i = 0; i < v[n].c_pkts; i++, seq += PAYLOAD)
			send_pkt(a, &k, X | C, CX, seq, PAYLOAD, MS, 0);
		for (i = 0; i < 30; i++, seq += PAYLOAD)
			send_pkt(a, &k, X, CX | CE, seq, PAYLOAD, OLD + MS, 0);
		ms = tick_until_settled(a, &k, &seq, 2, 40, &t);
		assert_true(ms > 0);
		assert_int_equal(info(a, &k).credit_bal_bytes,
				 ((int64_t)v[n].c_pkts - 30) * IPB);
		assert_int_equal(t.res.shortfall_bytes,
				 30 * IPB - CX_AUDIT_SLACK_DEFAULT - v[n].cover);
		cx_audit_free(a);
	}
}

/* Drop probability is shortfall / scale, compared as integers. */
static void test_proportional(void **state)
{
	static const struct {
		uint32_t ce_pkts;	/* undeclared CE packets of IPB bytes */
		uint32_t lo, hi;	/* drops out of 4000 */
	} v[] = {
		{ 0, 0, 0 },
		{ 8, 0, 0 },		/* within the slack */
		{ 19, 900, 1110 },	/* (19 * 1500 - 52 - 12000) / 65536 = 0.25 */
		{ 30, 1850, 2180 },	/* 0.50 */
		{ 54, 4000, 4000 },	/* >= 1: every unmarked packet */
	};
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(v); i++) {
		struct cx_flow_key k = key_of(1, 1000);
		struct cx_audit *a = audit();
		uint64_t rng = 12345 + i, n, drops = 0, want, before;
		uint32_t j;
		struct tx t;

		send_pkt(a, &k, X | C, CX, 1, 0, MS, 0);
		for (j = 0; j < v[i].ce_pkts; j++)
			send_pkt(a, &k, X, CX | CE, 1, PAYLOAD, MS, UINT32_MAX);
		want = (uint64_t)v[i].ce_pkts * IPB;
		want = want > HDR + CX_AUDIT_SLACK_DEFAULT ?
		       want - HDR - CX_AUDIT_SLACK_DEFAULT : 0;
		before = info(a, &k).dropped_bytes;
		for (n = 0; n < 4000; n++) {
			t = send_pkt(a, &k, X, CX, 1, 0, MS,
				     (uint32_t)(rng_next(&rng) >> 32));
			drops += t.verdict == CX_AUDIT_DROP;
			assert_int_equal(t.res.shortfall_bytes, want);
		}
		if (drops < v[i].lo || drops > v[i].hi)
			fail_msg("%u CE packets: %llu drops", v[i].ce_pkts,
				 (unsigned long long)drops);
		/* ConEx-Marked packets are never dropped. */
		t = send_pkt(a, &k, X | L, CX, 1, 0, MS, 0);
		assert_int_equal(t.verdict, CX_AUDIT_PASS);
		assert_int_equal(info(a, &k).dropped_bytes, before + drops * HDR);
		cx_audit_free(a);
	}
}

struct seqstep {
	uint32_t seq;
	uint32_t len;
	uint32_t loss;		/* flow_loss_bytes after the step */
	uint32_t hole;		/* outstanding after the step */
};

/* Holes, fills, wrap and the cap, on a flow with ample declarations. */
static void test_sequence(void **state)
{
	static const struct {
		const char *name;
		struct seqstep s[8];
	} v[] = {
		{ "in order", { { 1000, 100, 0, 0 }, { 1100, 100, 0, 0 },
				{ 1200, 100, 0, 0 } } },
		{ "hole filled", { { 1000, 100, 0, 0 }, { 1300, 100, 0, 200 },
				   { 1100, 100, 100, 100 }, { 1200, 100, 200, 0 } } },
		{ "duplicate, no hole", { { 1000, 100, 0, 0 }, { 1000, 100, 0, 0 },
					  { 1100, 50, 0, 0 } } },
		/* Only the part that lands in the hole fills it. */
		{ "partial overlap", { { 1000, 100, 0, 0 }, { 1200, 100, 0, 100 },
				       { 1150, 200, 50, 50 }, { 1100, 50, 100, 0 } } },
		/* Spurious retransmissions fill nothing, even while another
		 * hole is outstanding (go-back-N after an RTO). */
		{ "duplicates beside a hole", { { 1000, 100, 0, 0 },
						{ 1200, 100, 0, 100 },
						{ 1000, 100, 0, 100 },
						{ 1200, 100, 0, 100 },
						{ 1100, 100, 100, 0 } } },
		{ "fill in the middle splits", { { 1000, 100, 0, 0 },
						 { 1400, 100, 0, 300 },
						 { 1200, 100, 100, 200 },
						 { 1200, 100, 100, 200 },
						 { 1100, 100, 200, 100 },
						 { 1300, 100, 300, 0 } } },
		/* Five holes in four ranges: the nearest two merge, and a
		 * duplicate of the data between them counts, bounded by the
		 * bytes the merged range holds. */
		{ "more holes than ranges", { { 1000, 100, 0, 0 }, { 1200, 100, 0, 100 },
					      { 1400, 100, 0, 200 }, { 1600, 100, 0, 300 },
					      { 1800, 100, 0, 400 }, { 2000, 100, 0, 500 },
					      { 1800, 100, 100, 400 }, { 1100, 100, 200, 300 } } },
		{ "wrap", { { 0xffffff00u, 0x80, 0, 0 }, { 0x40, 0x10, 0, 0xc0 },
			    { 0xffffff80u, 0x80, 0x80, 0x40 },
			    { 0x0, 0x40, 0xc0, 0 } } },
		{ "jump capped", { { 1000, 100, 0, 0 },
				   { 0x30000000u, 100, 0, CX_AUDIT_HOLE_CAP_DEFAULT },
				   { 1100, 0x40000001u, 0, CX_AUDIT_HOLE_CAP_DEFAULT },
				   { 1100, 60000, 60000, CX_AUDIT_HOLE_CAP_DEFAULT - 60000 } } },
		/* Beyond any window: ignored, the holes it jumps stay. */
		{ "forged jump ignored", { { 1000, 100, 0, 0 }, { 1200, 100, 0, 100 },
					   { 0x70000000u, 100, 0, 100 },
					   { 1100, 100, 100, 0 } } },
		{ "far behind", { { 0x80001000u, 100, 0, 0 }, { 0x800010c8u, 100, 0, 100 },
				  { 0x10001000u, 100, 0, 100 },
				  { 0x80001064u, 100, 100, 0 } } },
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(v); i++) {
		struct cx_flow_key k = key_of(1, 1000);
		struct cx_audit *a = audit();

		for (j = 0; j < 20; j++)
			send_pkt(a, &k, X | C, CX, v[i].s[0].seq, 0, MS, 0);
		for (j = 0; j < CX_ARRAY_SIZE(v[i].s) && v[i].s[j].len; j++) {
			const struct seqstep *st = &v[i].s[j];
			struct tx t;

			t = send_pkt(a, &k, X | L | E | C, CX, st->seq, st->len,
				     MS, 0);
			expect_ret(v[i].name, t.verdict, CX_AUDIT_PASS);
			expect_ret(v[i].name, (int)counters(a).flow_loss_bytes,
				   (int)st->loss);
			expect_ret(v[i].name, (int)info(a, &k).hole_bytes,
				   (int)st->hole);
		}
		cx_audit_free(a);
	}
}

/* One TCP packet with a Timestamps option. */
static void send_ts(struct cx_audit *a, const struct cx_flow_key *k,
		    uint8_t sig, uint32_t seq, uint32_t tsval, uint64_t now_ns)
{
	struct cx_audit_result res;
	struct cx_audit_pkt p;

	memset(&p, 0, sizeof(p));
	p.key = *k;
	memcpy(p.src, k->saddr, sizeof(p.src));
	p.now_ns = now_ns;
	p.ip_bytes = IPB;
	p.seq = seq;
	p.payload_bytes = PAYLOAD;
	p.flags = CX | CX_AUDIT_P_TCP | CX_AUDIT_P_TS;
	p.tsval = tsval;
	p.sig = sig;
	assert_int_equal(cx_audit_packet(a, &p, &res), CX_AUDIT_PASS);
}

/*
 * A hole filled by a packet sent no later than the one that opened it
 * (TSval), within the reorder window, is reordering; a later TSval, a late
 * fill or a fill without timestamps is loss.
 */
static void test_reordering(void **state)
{
	static const struct {
		const char *name;
		uint32_t fill_tsval;
		uint64_t fill_after_ns;
		bool fill_ts;
		uint32_t loss;
	} v[] = {
		{ "older tsval, soon: reordered", 99, 3 * MS, true, 0 },
		{ "same tsval, soon: reordered", 100, 3 * MS, true, 0 },
		{ "tsval wraps, older", 0xfffffff0u, 3 * MS, true, 0 },
		{ "later tsval: retransmission", 101, 3 * MS, true, 2 * PAYLOAD },
		{ "after the window: loss", 100, 12 * MS, true, 2 * PAYLOAD },
		{ "no timestamps: loss", 100, 3 * MS, false, 2 * PAYLOAD },
	};
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(v); i++) {
		struct cx_flow_key k = key_of(1, 1000);
		struct cx_audit *a = audit();
		uint32_t opener_ts = v[i].fill_tsval == 0xfffffff0u ? 5 : 100;
		uint64_t t = 10 * MS;
		uint32_t j;

		send_ts(a, &k, X | L | E | C, 1000, opener_ts - 1, t);
		/* Two segments overtaken by the third. */
		send_ts(a, &k, X | L | E | C, 1000 + 3 * PAYLOAD, opener_ts, t);
		assert_int_equal(info(a, &k).hole_bytes, 2 * PAYLOAD);
		for (j = 1; j <= 2; j++) {
			if (v[i].fill_ts)
				send_ts(a, &k, X | L | E | C, 1000 + j * PAYLOAD,
					v[i].fill_tsval, t + v[i].fill_after_ns);
			else
				send_pkt(a, &k, X | L | E | C, CX,
					 1000 + j * PAYLOAD, PAYLOAD,
					 t + v[i].fill_after_ns, 0);
		}
		expect_ret(v[i].name, (int)counters(a).flow_loss_bytes,
			   (int)v[i].loss);
		expect_ret(v[i].name, (int)counters(a).reorder_bytes,
			   (int)(2 * PAYLOAD - v[i].loss));
		expect_ret(v[i].name, (int)info(a, &k).hole_bytes, 0);
		cx_audit_free(a);
	}
}

/* Bytes the audit dropped are not loss when their retransmission comes. */
static void test_self_drop_not_loss(void **state)
{
	struct cx_flow_key k = key_of(1, 1000);
	struct cx_audit *a = audit();
	struct cx_audit_counters c;
	uint32_t seq = 1, i;
	struct tx t;

	(void)state;
	send_pkt(a, &k, X | C, CX, seq, PAYLOAD, MS, 0);
	seq += PAYLOAD;
	for (i = 0; i < 60; i++)	/* deep in debt: p = 1 */
		send_ip(a, &k, X, CX | CE, seq, 0, IPB, MS, 0);
	for (i = 0; i < 3; i++) {
		t = send_pkt(a, &k, X, CX, seq + i * PAYLOAD, PAYLOAD, MS, 0);
		assert_int_equal(t.verdict, CX_AUDIT_DROP);
	}
	/* Pay the debt with credit, then resend the three segments. */
	for (i = 0; i < 60; i++)
		send_ip(a, &k, X | C, CX, seq, 0, IPB, 2 * MS, 0);
	assert_int_equal(info(a, &k).shortfall_bytes, 0);
	assert_int_equal(info(a, &k).hole_bytes, 3 * PAYLOAD);
	for (i = 0; i < 3; i++) {
		t = send_pkt(a, &k, X, CX, seq + i * PAYLOAD, PAYLOAD, 2 * MS, 0);
		assert_int_equal(t.verdict, CX_AUDIT_PASS);
	}
	c = counters(a);
	assert_int_equal(c.flow_loss_bytes, 0);
	assert_int_equal(c.self_drop_refills, 3 * PAYLOAD);
	/* A real upstream loss after that still counts. */
	seq += 3 * PAYLOAD;
	send_pkt(a, &k, X | L, CX, seq + PAYLOAD, PAYLOAD, 2 * MS, 0);
	send_pkt(a, &k, X | L, CX, seq, PAYLOAD, 2 * MS, 0);
	assert_int_equal(counters(a).flow_loss_bytes, PAYLOAD);
	cx_audit_free(a);
}

/*
 * Simulated TCP flow in rounds of one RTT, following RFC 7786 as the
 * marker does: L on retransmissions, E from a CE echo gauge fed by the
 * classic rule (every ACK with ECE adds its delivered data, from the first
 * CE to the end of the round) or by exact counts, C while the flight
 * exceeds the credit the sender believes the audit holds. Packets the
 * audit drops are lost to the sender like any other.
 */
enum mode {
	M_HONEST,		/* classic ECN feedback: E over-declares */
	M_HONEST_EXACT,		/* exact CE counts */
	M_HONEST_LAG,		/* L and E one RTT later than needed */
	M_NOMARK,		/* X only: never any state, the aggregate */
	M_HALF,			/* half the true congestion as L and E */
	M_CREDITONLY,		/* the initial window's credit, nothing else */
};

struct sim {
	enum mode mode;
	uint64_t rtt_ns;
	uint32_t ce_pm;		/* CE per mille, new packets */
	uint32_t episode_pm;	/* CE per mille during an episode */
	uint32_t loss_pm;
	uint32_t rounds;
};

struct simout {
	uint64_t sent;
	uint64_t drops;
	uint64_t first_drop_round;
	uint64_t first_sanction_round;
};

enum { WMAX = 40, NMAX = 64 };

/* One simulated sender's state between rounds. */
struct simflow {
	struct cx_flow_key k;
	uint64_t rng;
	uint32_t lost[NMAX], nlost, w, snd_nxt;
	uint64_t csc, ceg, leg, ceg_lag, leg_lag, pkts, rtx, half_ce;
	struct simout out;
};

static void sim_init(struct simflow *sf, const struct cx_flow_key *k,
		     uint64_t seed)
{
	memset(sf, 0, sizeof(*sf));
	sf->k = *k;
	sf->rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	sf->w = 10;
	sf->snd_nxt = (uint32_t)rng_next(&sf->rng);
	sf->out.first_drop_round = UINT64_MAX;
	sf->out.first_sanction_round = UINT64_MAX;
}

/* Round r of one sender, from start_ns + r RTTs. */
static void sim_round(struct cx_audit *a, const struct sim *s,
		      struct simflow *sf, uint32_t r, uint64_t start_ns)
{
	uint32_t next_lost[NMAX], nnext = 0, i;
	uint64_t t0 = start_ns + r * s->rtt_ns;
	uint32_t n = sf->w > sf->nlost ? sf->w : sf->nlost, nce = 0, first_ce = n;
	uint32_t pm = r % 100 < 10 ? s->episode_pm : s->ce_pm;
	struct simout *out = &sf->out;
	uint64_t ce_fb;

	for (i = 0; i < n; i++) {
		bool is_rtx = i < sf->nlost;
		uint32_t seq = is_rtx ? sf->lost[i] : sf->snd_nxt;
		uint16_t flags = CX;
		uint8_t sig = X;
		struct tx t;

		if (!is_rtx)
			sf->snd_nxt += PAYLOAD;
		if (is_rtx && s->mode != M_NOMARK &&
		    s->mode != M_CREDITONLY &&
		    (s->mode != M_HALF || sf->rtx++ % 2 == 0)) {
			if (s->mode == M_HONEST_LAG)
				sf->leg_lag += PAYLOAD;
			else
				sf->leg += PAYLOAD;
		}
		if (sf->leg) {
			sig |= L;
			sf->leg = sf->leg > PAYLOAD ? sf->leg - PAYLOAD : 0;
		}
		if (sf->ceg) {
			sig |= E;
			sf->ceg = sf->ceg > PAYLOAD ? sf->ceg - PAYLOAD : 0;
		}
		if (s->mode == M_CREDITONLY ? sf->pkts < 10 :
		    (s->mode != M_NOMARK &&
		     (sf->pkts < 5 || (uint64_t)sf->w * PAYLOAD > sf->csc))) {
			sig |= C;
			sf->csc += PAYLOAD;
		}
		sf->pkts++;
		/* Retransmissions are Not-ECT and, here, not lost. */
		if (!is_rtx && rng_pm(&sf->rng) < s->loss_pm) {
			next_lost[nnext++] = seq;
			continue;
		}
		if (!is_rtx && rng_pm(&sf->rng) < pm)
			flags |= CE;
		t = send_pkt(a, &sf->k, sig, flags, seq, PAYLOAD,
			     t0 + i * (s->rtt_ns / n),
			     (uint32_t)(rng_next(&sf->rng) >> 32));
		out->sent++;
		if ((t.res.events & (CX_AUDIT_E_SANCTION_START |
				     CX_AUDIT_E_AGG_SANCTION_START)) &&
		    out->first_sanction_round == UINT64_MAX)
			out->first_sanction_round = r;
		if (t.verdict == CX_AUDIT_DROP) {
			out->drops++;
			if (out->first_drop_round == UINT64_MAX)
				out->first_drop_round = r;
			next_lost[nnext++] = seq;
		} else if (flags & CE) {
			if (!nce++)
				first_ce = i;
		}
	}
	/* The half cheat halves the true count, not the classic
	 * rule's over-estimate. */
	ce_fb = s->mode == M_HONEST_EXACT || s->mode == M_HALF ?
		(uint64_t)nce * PAYLOAD :
		(uint64_t)(n - first_ce) * PAYLOAD;
	if (s->mode == M_HALF) {
		/* Every other CE packet: halving bytes would round
		 * back up to a whole marked packet. */
		sf->half_ce += nce;
		ce_fb = (uint64_t)(sf->half_ce / 2) * PAYLOAD;
		sf->half_ce %= 2;
	}
	if (s->mode == M_HONEST_LAG) {
		sf->ceg += sf->ceg_lag;
		sf->ceg_lag = ce_fb;
		sf->leg += sf->leg_lag;
		sf->leg_lag = 0;
	} else if (s->mode != M_NOMARK && s->mode != M_CREDITONLY) {
		sf->ceg += ce_fb;
	}
	if (nce || nnext) {
		uint64_t cong = (uint64_t)(n - first_ce) * PAYLOAD +
				(uint64_t)nnext * PAYLOAD;

		sf->csc = sf->csc > cong ? sf->csc - cong : 0;
		sf->w = sf->w / 2 > 2 ? sf->w / 2 : 2;
	} else if (sf->w < WMAX) {
		sf->w++;
	}
	memcpy(sf->lost, next_lost, nnext * sizeof(sf->lost[0]));
	sf->nlost = nnext;
}

static void sim_run(struct cx_audit *a, const struct sim *s,
		    const struct cx_flow_key *k, uint64_t seed,
		    uint64_t start_ns, struct simout *out)
{
	struct simflow sf;
	uint32_t r;

	sim_init(&sf, k, seed);
	for (r = 0; r < s->rounds; r++)
		sim_round(a, s, &sf, r, start_ns);
	*out = sf.out;
}

/* Honest senders through ECN episodes and losses: never dropped. */
static void test_honest_traces(void **state)
{
	static const struct sim v[] = {
		{ M_HONEST, 4 * MS, 20, 200, 10, 1500 },
		{ M_HONEST_EXACT, 4 * MS, 20, 300, 10, 1500 },
		{ M_HONEST_LAG, 4 * MS, 20, 200, 10, 1500 },
		{ M_HONEST, 1 * MS, 50, 400, 30, 1500 },
		{ M_HONEST_EXACT, 2 * MS, 0, 0, 50, 1500 },
	};
	size_t i;
	uint64_t seed;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(v); i++) {
		for (seed = 1; seed <= 16; seed++) {
			struct cx_flow_key k = key_of(1, (uint16_t)(1000 + seed));
			struct cx_audit *a = audit();
			struct cx_audit_counters c;
			struct simout o;
			struct tx t;

			sim_run(a, &v[i], &k, seed, MS, &o);
			c = counters(a);
			if (o.drops || c.sanction_starts || c.agg_packets)
				fail_msg("mode %d seed %llu: %llu drops, %llu sanctions, %llu in aggregate",
					 v[i].mode, (unsigned long long)seed,
					 (unsigned long long)o.drops,
					 (unsigned long long)c.sanction_starts,
					 (unsigned long long)c.agg_packets);
			assert_true(c.ce_packets > 0 || v[i].ce_pm == 0);
			assert_true(c.flow_loss_bytes > 0);
			/* A clean end moves no debt to the source. */
			t = send_pkt(a, &k, 0, CX_AUDIT_P_FIN, 0, 0,
				     MS + v[i].rounds * v[i].rtt_ns, 0);
			assert_true(t.res.events & CX_AUDIT_E_FLOW_END);
			assert_int_equal(counters(a).debt_to_source, 0);
			cx_audit_free(a);
		}
	}
}

/*
 * Cheats: sanctioned within by_round RTTs, about allowance / RTT (5) plus
 * slack (12 kB; re-echo also up to 24 kB of credit cover) over the
 * undeclared bytes per RTT (the half cheat at about
 * one CE packet per small window: some 750 B per RTT), and keep losing
 * packets.
 * The half cheat declares its credit, so it is held to the credit check
 * alone until its flow is a second old (audit.c FLOW_STARTUP_NS: 250
 * rounds of 4 ms); then its whole re-echo deficit is due.
 */
#define YOUNG_ROUNDS 250
static void test_cheats(void **state)
{
	static const struct {
		const char *name;
		struct sim s;
		bool agg;
		uint32_t by_round;
		uint32_t min_drop_pm;	/* share of packets dropped, per mille */
	} v[] = {
		{ "never marks, ECN", { M_NOMARK, 4 * MS, 300, 300, 0, 200 }, true, 16, 25 },
		{ "never marks, loss", { M_NOMARK, 4 * MS, 0, 0, 100, 200 }, true, 45, 25 },
		{ "half", { M_HALF, 4 * MS, 300, 300, 0, 400 }, false, YOUNG_ROUNDS + 5, 25 },
		{ "credit only", { M_CREDITONLY, 4 * MS, 300, 300, 0, 200 }, false, 30, 25 },
		/* Tail losses refill in order, unseen: slower to catch. */
		{ "half, lossy", { M_HALF, 4 * MS, 0, 0, 100, 800 }, false, YOUNG_ROUNDS + 300, 10 },
	};
	size_t i;
	uint64_t seed;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(v); i++) {
		for (seed = 1; seed <= 8; seed++) {
			struct cx_flow_key k = key_of(2, (uint16_t)(2000 + seed));
			struct cx_audit *a = audit();
			struct cx_audit_counters c;
			struct simout o;

			sim_run(a, &v[i].s, &k, seed, MS, &o);
			c = counters(a);
			if (o.first_sanction_round > v[i].by_round)
				fail_msg("%s seed %llu: sanctioned in round %llu",
					 v[i].name, (unsigned long long)seed,
					 (unsigned long long)o.first_sanction_round);
			assert_true(o.first_drop_round < v[i].s.rounds);
			/* Sanction persists: a good share of the packets. */
			if (o.drops * 1000 < o.sent * v[i].min_drop_pm)
				fail_msg("%s seed %llu: %llu of %llu dropped",
					 v[i].name, (unsigned long long)seed,
					 (unsigned long long)o.drops,
					 (unsigned long long)o.sent);
			if (v[i].agg) {
				struct cx_audit_source_info si = src_info(a, &k);

				/* Proportionate, never an amplifier: exactly
				 * the undeclared congestion less what is
				 * still owed or was forgotten past the cap. */
				assert_int_equal(c.dropped_bytes,
						 c.ce_bytes + c.agg_loss_bytes -
						 si.debt_bytes - c.debt_capped_bytes);
				assert_int_equal(si.dropped_bytes, c.dropped_bytes);
				assert_int_equal(c.flows_created, 0);
				assert_int_equal(c.agg_drops, o.drops);
				assert_true(c.agg_sanction_starts > 0);
			} else {
				assert_int_equal(c.flow_drops + c.source_drops,
						 o.drops);
				assert_true(c.sanction_starts > 0);
			}
			assert_int_equal(c.dropped, o.drops);
			cx_audit_free(a);
		}
	}
}

/*
 * Whitewashing by restarts (test_auditor.py's "whitewash" end to end): a
 * credit-only cheat that opens a new connection every 0.5 s. Each new flow
 * starts under its source's debt, capped but whole, so its unmarked
 * packets are dropped from its first RTT: restarting buys nothing over
 * staying (compare "credit only" in test_cheats).
 */
static void test_cheat_restarts(void **state)
{
	static const struct sim s = { M_CREDITONLY, 4 * MS, 300, 300, 0, 125 };
	enum { CONNS = 8 };
	uint64_t seed;

	(void)state;
	for (seed = 1; seed <= 4; seed++) {
		struct cx_audit *a = audit();
		struct cx_audit_counters c;
		uint64_t sent = 0, drops = 0, late = 0;
		uint32_t n, r;

		for (n = 0; n < CONNS; n++) {
			struct cx_flow_key k = key_of(2, (uint16_t)(3000 + n));
			uint64_t start = MS + n * s.rounds * s.rtt_ns;
			struct simflow f;
			struct tx t;

			sim_init(&f, &k, seed * 10 + n);
			for (r = 0; r < s.rounds; r++)
				sim_round(a, &s, &f, r, start);
			/* Its FIN, X=0: the source's sanction lets it by. */
			t = send_pkt(a, &k, 0, CX_AUDIT_P_FIN, f.snd_nxt, 0,
				     start + s.rounds * s.rtt_ns, 0);
			assert_true(t.res.events & CX_AUDIT_E_FLOW_END);
			sent += f.out.sent;
			drops += f.out.drops;
			if (n > 0 && f.out.first_drop_round > 2)
				late++;
		}
		c = counters(a);
		assert_true(c.debt_inherited >= CONNS - 1);
		assert_true(c.source_sanctions > 0);
		/* Every new connection is dropped from its first rounds. */
		assert_int_equal(late, 0);
		if (drops * 1000 < sent * 250)
			fail_msg("seed %llu: %llu of %llu dropped",
				 (unsigned long long)seed,
				 (unsigned long long)drops,
				 (unsigned long long)sent);
		cx_audit_free(a);
	}
}

/* A source's account writes off a byte of debt per byte its sanction drops. */
static void test_source_repays(void **state)
{
	struct cx_flow_key k = key_of(3, 3000);
	struct cx_audit *a = audit();
	struct cx_audit_source_info si;
	uint32_t i, drops = 0;
	struct tx t;

	(void)state;
	for (i = 0; i < 12; i++)
		send_pkt(a, &k, 0, CE, 1, PAYLOAD, MS, UINT32_MAX);
	si = src_info(a, &k);
	assert_int_equal(si.balance_bytes, -12 * IPB);
	assert_true(si.flags & CX_AUDIT_F_SANCTION);
	for (i = 0; i < 8; i++) {
		t = send_pkt(a, &k, 0, 0, 1, PAYLOAD, 100 * MS, 0);
		drops += t.verdict == CX_AUDIT_DROP;
		if (t.verdict == CX_AUDIT_DROP)
			assert_int_equal(t.res.reason, CX_AUDIT_R_AGG_SANCTION);
	}
	/* 12 packets owed, 8 of slack: 4 drops (rand 0 hits while p > 0). */
	assert_int_equal(drops, 4);
	si = src_info(a, &k);
	assert_int_equal(si.shortfall_bytes, 0);
	assert_int_equal(si.dropped_bytes, 4 * IPB);
	assert_false(si.flags & CX_AUDIT_F_SANCTION);
	assert_int_equal(counters(a).agg_sanction_ends, 1);
	assert_int_equal(counters(a).source_sanction_ends, 1);
	assert_int_equal(counters(a).source_sanctions, 1);
	cx_audit_free(a);
}

/* Sketch collisions never invent loss: one cell, two interleaved flows. */
static void test_sketch_collision(void **state)
{
	struct cx_flow_key k1 = key_of(4, 4000), k2 = key_of(5, 4001);
	struct cx_audit *a = audit_with(8, 8, 1);
	uint32_t s1 = 1000, s2 = 0x90000000u, i;

	(void)state;
	for (i = 0; i < 200; i++) {
		send_pkt(a, &k1, X, CX, s1, PAYLOAD, MS, 0);
		send_pkt(a, &k2, 0, 0, s2, PAYLOAD, MS, 0);
		s1 += PAYLOAD;
		s2 += PAYLOAD;
	}
	assert_int_equal(counters(a).agg_loss_bytes, 0);
	assert_int_equal(counters(a).dropped, 0);
	/* Alone in the cell, a filled hole does count. */
	send_pkt(a, &k1, X, CX, s1, PAYLOAD, MS, 0);
	send_pkt(a, &k1, X, CX, s1 + 2 * PAYLOAD, PAYLOAD, MS, 0);
	send_pkt(a, &k1, X, CX, s1 + PAYLOAD, PAYLOAD, MS, 0);
	assert_int_equal(counters(a).agg_loss_bytes, PAYLOAD);
	cx_audit_free(a);
}

/* Put a flow of host/port in debt: credit, then n undeclared CE packets. */
static void make_debtor(struct cx_audit *a, const struct cx_flow_key *k,
			uint32_t n)
{
	uint32_t i;

	send_pkt(a, k, X | C, CX, 1, 0, MS, 0);
	for (i = 0; i < n; i++)
		send_ip(a, k, X, CX | CE, 1, 0, IPB, MS, UINT32_MAX);
	assert_true(info(a, k).debt_bytes > 0);
}

/*
 * Abandoning a sanctioned flow (no FIN, no RST) for a new 5-tuple: the new
 * flow shares its source's debt, so its unmarked packets are dropped; a
 * clean source's second flow owes nothing.
 */
static void test_whitewash_abandon(void **state)
{
	struct cx_flow_key k1 = key_of(8, 6000), k2 = key_of(8, 6001);
	struct cx_flow_key k3 = key_of(8, 6002), c1 = key_of(9, 6000);
	struct cx_flow_key c2 = key_of(9, 6001);
	struct cx_audit *a = audit();
	uint64_t debt;
	struct tx t;

	(void)state;
	send_pkt(a, &c1, X | C, CX, 1, PAYLOAD, MS, 0);
	t = send_pkt(a, &c2, X | C, CX, 1, PAYLOAD, MS, 0);
	assert_false(t.res.events & CX_AUDIT_E_DEBT_INHERITED);

	make_debtor(a, &k1, 200);
	assert_true(info(a, &k1).shortfall_bytes > 0);
	debt = src_info(a, &k1).debt_bytes;
	assert_true(debt > CX_AUDIT_SLACK_DEFAULT);
	t = send_pkt(a, &k2, X | C, CX, 1, PAYLOAD, 2 * MS, 0);
	assert_true(t.res.events & CX_AUDIT_E_DEBT_INHERITED);
	assert_int_equal(counters(a).debt_inherited_bytes, debt);
	/* Its own balance is its own: the source's sanction drops it. */
	assert_int_equal(info(a, &k2).credit_bal_bytes, IPB);
	t = send_pkt(a, &k2, X, CX, 1 + PAYLOAD, PAYLOAD, 2 * MS, 0);
	assert_int_equal(t.verdict, CX_AUDIT_DROP);
	assert_int_equal(t.res.reason, CX_AUDIT_R_SOURCE_SANCTION);
	assert_int_equal(counters(a).source_drops, 1);
	/* The debtor declares its way out: later flows start clean. */
	while (info(a, &k1).shortfall_bytes)
		send_ip(a, &k1, X | C, CX, 1, 0, IPB, 3 * MS, 0);
	assert_int_equal(src_info(a, &k1).debt_bytes, 0);
	t = send_pkt(a, &k3, X | C, CX, 1, PAYLOAD, 3 * MS, 0);
	assert_true(t.res.events & CX_AUDIT_E_FLOW_NEW);
	assert_false(t.res.events & CX_AUDIT_E_DEBT_INHERITED);
	cx_audit_free(a);
}

/*
 * A flow in debt is pinned until it has been idle for idle_ns; then it
 * makes room, its credit staying with its source (the source's balance
 * does not move), whose next flow shares the debt.
 */
static void test_idle_debtor_ages(void **state)
{
	struct cx_flow_key k1 = key_of(10, 7000), k2 = key_of(11, 7000);
	struct cx_flow_key k3 = key_of(12, 7000), k4 = key_of(10, 7001);
	struct cx_audit *a = audit_with(1, 16, 64);
	struct cx_audit_source_info before, after;
	uint64_t src_debt;
	struct tx t;

	(void)state;
	make_debtor(a, &k1, 200);
	before = src_info(a, &k1);
	assert_int_equal(before.flows_in_debt, 1);
	/* 30 s later k1 is still pinned: k2 finds no room. */
	t = send_pkt(a, &k2, X | C, CX, 1, PAYLOAD, 30000 * MS, 0);
	assert_true(t.res.events & CX_AUDIT_E_TABLE_FULL);
	assert_int_equal(cx_audit_flow_get(a, &k1, &(struct cx_audit_flow_info){ 0 }), 0);
	/* 62 s after its last packet k1 was abandoned: k3 takes its place. */
	t = send_pkt(a, &k3, X | C, CX, 1, PAYLOAD, 62000 * MS, 0);
	assert_true(t.res.events & CX_AUDIT_E_FLOW_NEW);
	assert_true(t.res.events & CX_AUDIT_E_FLOW_EVICTED);
	assert_true(t.res.events & CX_AUDIT_E_DEBT_TO_SOURCE);
	assert_int_equal(counters(a).flows_aged, 1);
	assert_int_equal(cx_audit_flow_get(a, &k1, &(struct cx_audit_flow_info){ 0 }),
			 -ENOENT);
	after = src_info(a, &k1);
	assert_int_equal(after.balance_bytes, before.balance_bytes);
	assert_int_equal(after.flows, 0);
	assert_int_equal(after.flows_in_debt, 0);
	assert_int_equal(cx_audit_source_debt(a, k1.saddr, CX_FLOW_IPV4, &src_debt), 0);
	assert_int_equal(src_debt, before.debt_bytes);
	/* k1's source comes back: its new flow (k3 is clean, makes room) shares it. */
	t = send_pkt(a, &k4, X | C, CX, 1, PAYLOAD, 63000 * MS, 0);
	assert_true(t.res.events & CX_AUDIT_E_DEBT_INHERITED);
	t = send_pkt(a, &k4, X, CX, 1 + PAYLOAD, PAYLOAD, 63000 * MS, 0);
	assert_int_equal(t.verdict, CX_AUDIT_DROP);
	assert_int_equal(t.res.reason, CX_AUDIT_R_SOURCE_SANCTION);
	cx_audit_free(a);
}

/*
 * Ending a flow in debt leaves the debt with its source (capped); the
 * source's next flow shares it and its unmarked packets pay it off, a
 * byte per byte dropped; another source starts clean.
 */
static void test_whitewash(void **state)
{
	struct cx_flow_key k1 = key_of(6, 6000), k2 = key_of(6, 6001);
	struct cx_flow_key other = key_of(7, 6000);
	struct cx_audit *a = audit();
	struct cx_audit_source_info si;
	uint64_t debt, src_debt, drops = 0;
	uint32_t seq = 1 + PAYLOAD;
	struct tx t;

	(void)state;
	make_debtor(a, &k1, 200);
	assert_true(info(a, &k1).flags & CX_AUDIT_F_SANCTION);
	/* The flow's own sanction wrote nothing off: its source owes it all. */
	si = src_info(a, &k1);
	assert_true(si.flags & CX_AUDIT_F_SANCTION);
	assert_true(info(a, &k1).dropped_bytes > 0);
	assert_int_equal(si.debt_bytes, CAP);
	assert_true(counters(a).debt_capped_bytes > 0);
	t = send_pkt(a, &k1, X, CX | CX_AUDIT_P_RST, 1, 0, MS, 0);
	assert_int_equal(t.verdict, CX_AUDIT_DROP);	/* RST under sanction */
	assert_int_equal(t.res.reason, CX_AUDIT_R_FLOW_SANCTION);
	/* A Not-ConEx RST is the source's; its sanction spares control. */
	t = send_pkt(a, &k1, 0, CX_AUDIT_P_RST, 1, 0, MS, 0);
	assert_int_equal(t.verdict, CX_AUDIT_PASS);
	assert_int_equal(t.res.reason, CX_AUDIT_R_AGG);
	assert_true(t.res.events & CX_AUDIT_E_DEBT_TO_SOURCE);
	assert_true(t.res.events & CX_AUDIT_E_FLOW_END);
	/* The flow's debt stays with its source, capped. */
	assert_int_equal(cx_audit_source_debt(a, k1.saddr, CX_FLOW_IPV4,
					      &debt), 0);
	assert_int_equal(debt, CAP);
	/* Another source's new flow starts clean. */
	t = send_pkt(a, &other, X | C, CX, 1, PAYLOAD, MS, 0);
	assert_false(t.res.events & CX_AUDIT_E_DEBT_INHERITED);
	t = send_pkt(a, &other, X, CX, 1 + PAYLOAD, PAYLOAD, MS, 0);
	assert_int_equal(t.verdict, CX_AUDIT_PASS);
	/* The same source's new flow shares the debt, not in its balance. */
	t = send_pkt(a, &k2, X | C, CX, 1, PAYLOAD, 2 * MS, 0);
	assert_true(t.res.events & CX_AUDIT_E_FLOW_NEW);
	assert_true(t.res.events & CX_AUDIT_E_DEBT_INHERITED);
	assert_int_equal(counters(a).debt_inherited_bytes, debt);
	assert_int_equal(info(a, &k2).credit_bal_bytes, IPB);
	/* p = 1 down to slack + scale, then p > 0 while above the slack. */
	do {
		t = send_pkt(a, &k2, X, CX, seq, PAYLOAD, 2 * MS, 0);
		seq += PAYLOAD;
		drops += t.verdict == CX_AUDIT_DROP;
		if (t.verdict == CX_AUDIT_DROP)
			assert_int_equal(t.res.reason, CX_AUDIT_R_SOURCE_SANCTION);
	} while (t.verdict == CX_AUDIT_DROP);
	/* Equal loss: less its own IPB of credit, a byte dropped per byte owed. */
	assert_int_equal(drops, (debt - IPB - CX_AUDIT_SLACK_DEFAULT + IPB - 1) / IPB);
	assert_int_equal(cx_audit_source_debt(a, k1.saddr, CX_FLOW_IPV4,
					      &src_debt), 0);
	assert_true(src_debt <= CX_AUDIT_SLACK_DEFAULT);
	assert_false(src_info(a, &k1).flags & CX_AUDIT_F_SANCTION);
	assert_int_equal(info(a, &k2).shortfall_bytes, 0);
	assert_int_equal(counters(a).source_sanction_ends, 1);
	cx_audit_free(a);
}

/* Eviction frees clean flows only; a table of debtors refuses new state. */
static void test_eviction(void **state)
{
	struct cx_audit *a = audit_with(4, 64, 64);
	struct cx_flow_key d1 = key_of(10, 1), d2 = key_of(11, 1), k;
	struct cx_audit_flow_info fi;
	struct cx_audit_counters c;
	uint32_t i;
	struct tx t;

	(void)state;
	struct cx_flow_key clean[4];
	uint32_t cursor = 0, nclean = 0;

	make_debtor(a, &d1, 10);
	make_debtor(a, &d2, 10);
	for (i = 0; i < 50; i++) {
		k = key_of(20 + i, 1);
		t = send_pkt(a, &k, X | C, CX, 1, PAYLOAD, MS, 0);
		assert_true(t.res.events & CX_AUDIT_E_FLOW_NEW);
		assert_int_equal(!!(t.res.events & CX_AUDIT_E_FLOW_EVICTED),
				 i >= 2);
	}
	c = counters(a);
	assert_int_equal(c.flows_evicted, 48);
	assert_int_equal(c.flows_live, 4);
	assert_int_equal(cx_audit_flow_get(a, &d1, &fi), 0);
	assert_int_equal(cx_audit_flow_get(a, &d2, &fi), 0);
	/* Make the two clean ones debtors: now no flow state for anyone. */
	while (cx_audit_flow_next(a, &cursor, &fi) == 0)
		if (!fi.debt_bytes)
			clean[nclean++] = fi.key;
	assert_int_equal(nclean, 2);
	for (i = 0; i < nclean; i++)
		make_debtor(a, &clean[i], 10);
	k = key_of(90, 1);
	t = send_pkt(a, &k, X | C, CX, 1, PAYLOAD, MS, 0);
	assert_int_equal(t.verdict, CX_AUDIT_PASS);
	assert_true(t.res.events & CX_AUDIT_E_TABLE_FULL);
	assert_int_equal(t.res.reason, CX_AUDIT_R_AGG);
	assert_int_equal(cx_audit_flow_get(a, &k, &fi), -ENOENT);
	/* Its declarations and congestion are audited in its source. */
	send_pkt(a, &k, X, CX | CE, 1 + PAYLOAD, PAYLOAD, MS, 0);
	assert_int_equal(src_info(a, &k).balance_bytes, 0);
	/* Under its source's sanction, its ConEx-Marked packets still pass. */
	for (i = 0; i < 10; i++)
		send_pkt(a, &k, 0, CE, 1, PAYLOAD, MS, UINT32_MAX);
	t = send_pkt(a, &k, X | C, CX, 1, PAYLOAD, MS, 0);
	assert_int_equal(t.verdict, CX_AUDIT_PASS);
	assert_int_equal(t.res.reason, CX_AUDIT_R_AGG);
	assert_true(t.res.shortfall_bytes > 0);
	t = send_pkt(a, &k, X, CX, 1, PAYLOAD, MS, 0);
	assert_int_equal(t.verdict, CX_AUDIT_DROP);
	assert_int_equal(t.res.reason, CX_AUDIT_R_AGG_SANCTION);
	c = counters(a);
	assert_int_equal(c.table_full, 2);
	/* Every source has its account, flow state or not. */
	assert_int_equal(c.sources_live, 2 + 50 + 1);
	cx_audit_free(a);
}

/*
 * Source table full of debtors: a new source is audited in the shared
 * overflow account (no flow state), the debtor source itself keeps its.
 */
static void test_source_full(void **state)
{
	struct cx_audit *a = audit_with(8, 1, 64);
	struct cx_flow_key k1 = key_of(30, 1), k2 = key_of(31, 1);
	struct cx_flow_key k3 = key_of(30, 2);
	struct cx_audit_source_info si;
	struct cx_audit_flow_info fi;
	struct tx t;

	(void)state;
	make_debtor(a, &k1, 10);
	t = send_pkt(a, &k1, 0, CX_AUDIT_P_FIN, 1, 0, MS, 0);
	assert_true(t.res.events & CX_AUDIT_E_DEBT_TO_SOURCE);
	assert_true(src_info(a, &k1).debt_bytes > CX_AUDIT_SLACK_DEFAULT);
	t = send_pkt(a, &k2, X | C, CX, 1, PAYLOAD, MS, 0);
	assert_true(t.res.events & CX_AUDIT_E_OVERFLOW);
	assert_false(t.res.events & CX_AUDIT_E_FLOW_NEW);
	assert_int_equal(t.res.reason, CX_AUDIT_R_AGG);
	assert_int_equal(counters(a).source_overflow, 1);
	assert_int_equal(cx_audit_source_get(a, k2.saddr, CX_FLOW_IPV4, &si),
			 -ENOENT);
	cx_audit_overflow_info(a, &si);
	assert_int_equal(si.balance_bytes, IPB);
	/* The debtor source itself still gets state, under its debt. */
	t = send_pkt(a, &k3, X | C, CX, 1, PAYLOAD, MS, 0);
	assert_true(t.res.events & CX_AUDIT_E_DEBT_INHERITED);
	assert_int_equal(cx_audit_flow_get(a, &k3, &fi), 0);
	assert_int_equal(src_info(a, &k3).flows, 1);
	cx_audit_free(a);
}

/*
 * The overflow is shared: a source in it can drive it into sanction for
 * every source in it (the exposure the old single aggregate had, now
 * confined to sources that find no record). Counted, and a source is out
 * of it as soon as a record frees.
 */
static void test_overflow_shared(void **state)
{
	struct cx_audit *a = audit_with(64, 2, 64);
	struct cx_flow_key d1 = key_of(32, 1), d2 = key_of(33, 1);
	struct cx_flow_key bad = key_of(34, 1), good = key_of(35, 1);
	struct cx_audit_source_info si;
	uint32_t i;
	struct tx t;

	(void)state;
	make_debtor(a, &d1, 20);
	make_debtor(a, &d2, 20);
	for (i = 0; i < 20; i++) {
		t = send_pkt(a, &bad, 0, CE, 1, PAYLOAD, MS, UINT32_MAX);
		assert_true(t.res.events & CX_AUDIT_E_OVERFLOW);
	}
	cx_audit_overflow_info(a, &si);
	assert_true(si.flags & CX_AUDIT_F_SANCTION);
	assert_int_equal(counters(a).overflow_sanctions, 1);
	assert_int_equal(counters(a).source_sanctions, 2);
	assert_int_equal(counters(a).agg_sanction_starts, 3);
	t = send_pkt(a, &good, X, CX, 1, PAYLOAD, MS, 0);
	assert_int_equal(t.verdict, CX_AUDIT_DROP);
	assert_int_equal(t.res.reason, CX_AUDIT_R_AGG_SANCTION);
	/* d2 declares its way out; its record may go, and good takes it. */
	while (info(a, &d2).debt_bytes)
		send_ip(a, &d2, X | C, CX, 1, 0, IPB, MS, 0);
	while (src_info(a, &d2).balance_bytes < 0)
		send_ip(a, &d2, X | C, CX, 1, 0, IPB, MS, 0);
	t = send_pkt(a, &good, X, CX, 1 + PAYLOAD, PAYLOAD, MS, 0);
	assert_int_equal(t.verdict, CX_AUDIT_PASS);
	assert_false(t.res.events & CX_AUDIT_E_OVERFLOW);
	assert_int_equal(src_info(a, &good).balance_bytes, 0);
	cx_audit_free(a);
}

/*
 * Sources are keyed by address: IPv4 whole, IPv6 by its /64, so a guest
 * cannot rotate addresses within its prefix for a fresh account.
 */
static void test_source_key(void **state)
{
	static const uint8_t s6a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1,
					 0, 0, 0, 0, 0, 0, 0, 0x11 };
	static const uint8_t s6b[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1,
					 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0x22 };
	static const uint8_t s6c[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 2,
					 0, 0, 0, 0, 0, 0, 0, 0x11 };
	static const uint8_t d6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 9,
					0, 0, 0, 0, 0, 0, 0, 1 };
	struct cx_flow_key ka, kb, kc, k4a = key_of(1, 1), k4b = key_of(2, 1);
	struct cx_audit *a = audit();
	struct cx_audit_source_info si;
	uint32_t i;

	(void)state;
	cx_flow_key_v6(&ka, s6a, d6, 1000, 80, 6);
	cx_flow_key_v6(&kb, s6b, d6, 1000, 80, 6);
	cx_flow_key_v6(&kc, s6c, d6, 1000, 80, 6);
	/* Undeclared CE from two addresses of one /64: one account. */
	for (i = 0; i < 5; i++) {
		send_pkt(a, &ka, 0, CE, 1, PAYLOAD, MS, UINT32_MAX);
		send_pkt(a, &kb, 0, CE, 1, PAYLOAD, MS, UINT32_MAX);
	}
	si = src_info(a, &ka);
	assert_int_equal(si.balance_bytes, -10 * IPB);
	assert_true(si.flags & CX_AUDIT_F_SANCTION);
	assert_memory_equal(si.addr, s6a, 8);
	assert_int_equal(si.addr[8] | si.addr[15], 0);
	assert_int_equal(src_info(a, &kb).balance_bytes, -10 * IPB);
	/* The next /64 is another source. */
	send_pkt(a, &kc, 0, CE, 1, PAYLOAD, MS, UINT32_MAX);
	assert_int_equal(src_info(a, &kc).balance_bytes, -IPB);
	/* IPv4: each address its own. */
	send_pkt(a, &k4a, 0, CE, 1, PAYLOAD, MS, UINT32_MAX);
	send_pkt(a, &k4b, 0, CE, 1, PAYLOAD, MS, UINT32_MAX);
	assert_int_equal(src_info(a, &k4a).balance_bytes, -IPB);
	assert_int_equal(src_info(a, &k4b).balance_bytes, -IPB);
	assert_int_equal(counters(a).sources_live, 4);
	cx_audit_free(a);
}

/*
 * Honest senders with many flows from one source, through the same ECN
 * episodes and losses at once (ten flows as in the isolation trials):
 * their credit adds up at the source, and the one slack of the source is
 * never needed. Never dropped, never sanctioned, flow or source.
 */
static void test_honest_many_flows(void **state)
{
	static const struct sim v[] = {
		{ M_HONEST, 4 * MS, 20, 200, 10, 1000 },
		{ M_HONEST_EXACT, 4 * MS, 20, 300, 10, 1000 },
		{ M_HONEST_LAG, 4 * MS, 20, 200, 10, 1000 },
		{ M_HONEST, 1 * MS, 50, 400, 30, 1000 },
		{ M_HONEST_EXACT, 2 * MS, 0, 0, 50, 1000 },
	};
	enum { NF = 10 };
	size_t i, j;
	uint64_t seed;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(v); i++) {
		for (seed = 1; seed <= 3; seed++) {
			struct cx_audit *a = audit_with(256, 16, 64);
			struct simflow fl[NF];
			struct cx_audit_counters c;
			int64_t low = 0, bal;
			uint64_t drops = 0;
			uint32_t r;

			for (j = 0; j < NF; j++) {
				struct cx_flow_key k = key_of(1, (uint16_t)(1000 + j));

				sim_init(&fl[j], &k, seed * 100 + j);
			}
			for (r = 0; r < v[i].rounds; r++) {
				for (j = 0; j < NF; j++)
					sim_round(a, &v[i], &fl[j], r,
						  MS + j * 100 * 1000);
				bal = src_info(a, &fl[0].k).balance_bytes;
				low = bal < low ? bal : low;
			}
			for (j = 0; j < NF; j++)
				drops += fl[j].out.drops;
			c = counters(a);
			if (drops || c.sanction_starts || c.agg_sanction_starts ||
			    c.agg_packets)
				fail_msg("mode %d seed %llu: %llu drops, %llu + %llu sanctions, lowest balance %lld",
					 v[i].mode, (unsigned long long)seed,
					 (unsigned long long)drops,
					 (unsigned long long)c.sanction_starts,
					 (unsigned long long)c.agg_sanction_starts,
					 (long long)low);
			assert_true(low > -(int64_t)CX_AUDIT_SLACK_DEFAULT);
			assert_int_equal(src_info(a, &fl[0].k).flows, NF);
			cx_audit_free(a);
		}
	}
}

/*
 * Attack 3 of issue "No escape": an X-only UDP flood, ECT so that the
 * bottleneck marks it CE, a new 5-tuple every 8 packets, each opened by
 * one tiny C-marked packet so that it has flow state; each tuple stays
 * under the flow slack (7 packets) and, before, never reported it: 71
 * Mbit/s delivered, 0 sanctions. Now the tuples' credit adds up in their
 * source: it is sanctioned within the first few tuples past the slack and
 * its drops rise to take back an equal loss, on new tuples as on old,
 * while an honest flow of another source beside it is never touched.
 */
static void test_attack_rotating_xonly(void **state)
{
	static const struct sim hs = { M_HONEST_EXACT, 4 * MS, 20, 300, 10, 1000 };
	struct cx_flow_key hk = key_of(1, 5001), ak = key_of(66, 0);
	struct cx_audit *a = audit_with(4096, 256, 1024);
	uint64_t rng = 7, ce = 0, c_bytes = 0, late_x = 0, late_drops = 0;
	uint64_t t, first_drop = 0;
	struct cx_audit_source_info si, hi;
	struct cx_audit_counters c;
	struct simflow h;
	uint32_t r, n = 0;
	struct tx tx;

	(void)state;
	sim_init(&h, &hk, 3);
	for (r = 0; r < hs.rounds; r++) {
		uint64_t t0 = MS + r * hs.rtt_ns;

		sim_round(a, &hs, &h, r, MS);
		/* 71 Mbit/s of 1500-byte packets: one every 169 us. */
		for (t = t0; t < t0 + hs.rtt_ns; t += 169 * 1000, n++) {
			uint16_t sport = (uint16_t)(10000 + n / 8), flags = CX;
			uint32_t rnd = (uint32_t)(rng_next(&rng) >> 32);

			if (n % 8 == 0) {
				tx = send_udp(a, 66, sport, X | C, CX, 60, t, rnd);
				assert_int_equal(tx.verdict, CX_AUDIT_PASS);
				c_bytes += 60;
				continue;
			}
			if (rng_pm(&rng) < 300) {
				flags |= CE;
				ce += 1500;
			}
			tx = send_udp(a, 66, sport, X, flags, 1500, t, rnd);
			if (tx.verdict == CX_AUDIT_DROP && !first_drop)
				first_drop = n;
			if (r >= hs.rounds / 2) {
				late_x++;
				late_drops += tx.verdict == CX_AUDIT_DROP;
			}
		}
	}
	c = counters(a);
	si = src_info(a, &ak);
	hi = src_info(a, &hk);
	/* The honest flow and its source: untouched. */
	assert_int_equal(h.out.drops, 0);
	assert_int_equal(hi.dropped_bytes, 0);
	assert_int_equal(hi.flags, 0);
	assert_false(info(a, &hk).flags & CX_AUDIT_F_SANCTION);
	/* No tuple is ever short on its own; the source is. */
	assert_int_equal(c.sanction_starts, 0);
	assert_int_equal(c.source_sanctions, 1);
	assert_true(si.flags & CX_AUDIT_F_SANCTION);
	assert_true(first_drop > 0 && first_drop < 8 * 16);
	/* Equal loss: a byte dropped per byte of congestion not declared. */
	assert_int_equal(si.balance_bytes, (int64_t)c_bytes - (int64_t)ce +
			 (int64_t)si.dropped_bytes + (int64_t)c.debt_capped_bytes);
	assert_int_equal(si.dropped_bytes, c.dropped_bytes);
	/* Drops rise to the CE share (30 %) of its X-only traffic. */
	if (late_drops * 1000 < late_x * 250)
		fail_msg("late drops %llu of %llu", (unsigned long long)late_drops,
			 (unsigned long long)late_x);
	/* It holds at most its share of the flow table. */
	assert_int_equal(si.flows, 4096 / 32);
	assert_true(c.source_flows_full > 0);
	cx_audit_free(a);
}

/*
 * Attack 4: a sender owning a /28 (16 sources) mints 5-tuples of tiny
 * CE-marked, ConEx-Marked packets at 20 kpps; each flow is in debt, so
 * pinned. Before, they filled the flow table, and an honest tenant's new
 * flow fell into the one shared aggregate, which they had driven into
 * sanction: 95.7 -> 0.5 Mbit/s. Now each source holds at most its share
 * of the table, and a flow that finds no room is audited in its own
 * source's account: untouched either way.
 */
static void test_attack_table_fill(void **state)
{
	static const struct {
		uint32_t flows, share;
		bool room;
	} v[] = {
		{ 4096, 0, true },	/* default share 128: half the table */
		{ 1024, 64, false },	/* 16 x 64: all of it */
	};
	static const struct sim hs = { M_HONEST, 4 * MS, 20, 200, 10, 750 };
	enum { LEAD = 250 };	/* rounds of attack before the honest flow */
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(v); i++) {
		struct cx_flow_key hk = key_of(1, 5002);
		struct cx_audit_source_info hi;
		struct cx_audit_flow_info fi;
		struct cx_audit_counters c;
		struct cx_audit_cfg cfg;
		struct cx_audit *a;
		struct simflow h;
		uint64_t t, rng = 11;
		uint32_t r, n = 0, share;

		cx_audit_cfg_default(&cfg);
		cfg.flow_capacity = v[i].flows;
		cfg.source_capacity = 256;
		cfg.sketch_buckets = 1024;
		cfg.source_flows_max = v[i].share;
		a = cx_audit_new(&cfg, &sk);
		assert_non_null(a);
		share = v[i].share ? v[i].share : v[i].flows / 32;
		sim_init(&h, &hk, 5);
		for (r = 0; r < LEAD + hs.rounds; r++) {
			uint64_t t0 = MS + r * hs.rtt_ns;

			/* 20 kpps of 60-byte X|L packets, CE, new tuples. */
			for (t = t0; t < t0 + hs.rtt_ns; t += 50 * 1000, n++) {
				struct tx tx = send_udp(a, 0x40 + n % 16,
							(uint16_t)(n / 16), X | L,
							CX | CE, 60, t,
							(uint32_t)(rng_next(&rng) >> 32));

				assert_int_equal(tx.verdict, CX_AUDIT_PASS);
			}
			if (r >= LEAD)
				sim_round(a, &hs, &h, r - LEAD, MS + LEAD * hs.rtt_ns);
		}
		c = counters(a);
		hi = src_info(a, &hk);
		if (h.out.drops || hi.flags || hi.dropped_bytes)
			fail_msg("case %zu: honest flow %llu drops, source flags %u",
				 i, (unsigned long long)h.out.drops, hi.flags);
		assert_int_equal(c.sanction_starts, 0);
		/* Its 16 sources at most their share each, all in sanction. */
		assert_true(c.flows_live <= 16 * share + 1);
		assert_true(c.source_flows_full > 0);
		assert_int_equal(c.source_sanctions, 16);
		if (v[i].room) {
			assert_int_equal(cx_audit_flow_get(a, &hk, &fi), 0);
			assert_int_equal(fi.flags & CX_AUDIT_F_SANCTION, 0);
		} else {
			assert_int_equal(cx_audit_flow_get(a, &hk, &fi), -ENOENT);
			assert_true(c.table_full > 0);
			assert_true(c.agg_packets > 0);
		}
		cx_audit_free(a);
	}
}

/*
 * Attack 5: with the sender's policer down (fail-open) a guest forges
 * FINs in a victim's name, marked X+L and CE, on new 5-tuples. Before,
 * each moved its CE to the victim's source, whose next transfers
 * inherited 2 MB of debt and ran at 0.5-0.7 Mbit/s. Now a FIN moves no
 * more than its flow owed before it (a FIN alone: nothing), and a
 * source's debt is capped: forging a debt packet before each FIN costs
 * the victim one short sanction at worst, repaid by its drops, and no
 * bystander anything.
 */
static void test_attack_forged_fin(void **state)
{
	static const struct sim hs = { M_HONEST, 4 * MS, 20, 200, 10, 500 };
	struct cx_flow_key vk = key_of(5, 5003), bk = key_of(9, 5004);
	struct cx_audit *a = audit();
	struct cx_audit_source_info vi;
	struct simflow h, b;
	uint64_t debt, start;
	uint32_t i, r;
	struct tx t;

	(void)state;
	/* 1400 forged FINs of 1500 bytes: 2 MB of CE. */
	for (i = 0; i < 1400; i++) {
		struct cx_flow_key k = key_of(5, (uint16_t)(20000 + i));

		t = send_ip(a, &k, X | L, CX | CE | CX_AUDIT_P_FIN, 1, PAYLOAD,
			    IPB, MS + i * 1000, 0);
		assert_int_equal(t.verdict, CX_AUDIT_PASS);
		assert_true(t.res.events & CX_AUDIT_E_FLOW_END);
	}
	assert_int_equal(cx_audit_source_debt(a, vk.saddr, CX_FLOW_IPV4, &debt), 0);
	assert_int_equal(debt, 0);
	assert_int_equal(counters(a).debt_to_source, 0);
	/* The victim's next transfer runs untouched. */
	sim_init(&h, &vk, 1);
	start = 2000 * MS;
	for (r = 0; r < hs.rounds; r++)
		sim_round(a, &hs, &h, r, start);
	assert_int_equal(h.out.drops, 0);
	assert_int_equal(src_info(a, &vk).dropped_bytes, 0);
	assert_int_equal(counters(a).agg_sanction_starts, 0);

	/* A forged CE packet before each FIN: the debt is capped. */
	start = 5000 * MS;
	for (i = 0; i < 1400; i++) {
		struct cx_flow_key k = key_of(5, (uint16_t)(30000 + i));

		send_ip(a, &k, X | L, CX | CE, 1, PAYLOAD, IPB, start + i * 1000, 0);
		t = send_ip(a, &k, X | L, CX | CX_AUDIT_P_FIN, 1 + PAYLOAD, 0,
			    HDR, start + i * 1000, 0);
		assert_true(t.res.events & CX_AUDIT_E_FLOW_END);
		vi = src_info(a, &vk);
		assert_true(vi.debt_bytes <= CAP);
	}
	assert_int_equal(vi.debt_bytes, CAP);
	assert_true(counters(a).debt_capped_bytes > 2000000 - 2 * CAP);
	/* Its transfers: a bounded, short sanction, then nothing. */
	sim_init(&h, &vk, 2);
	sim_init(&b, &bk, 3);
	start = 7000 * MS;
	for (r = 0; r < hs.rounds; r++) {
		sim_round(a, &hs, &h, r, start);
		sim_round(a, &hs, &b, r, start);
	}
	vi = src_info(a, &vk);
	assert_true(h.out.drops > 0);
	assert_true(vi.dropped_bytes <= CAP - CX_AUDIT_SLACK_DEFAULT + IPB);
	assert_true(h.out.first_drop_round < 20);
	assert_int_equal(vi.flags, 0);
	assert_true(vi.debt_bytes <= CX_AUDIT_SLACK_DEFAULT);
	assert_int_equal(counters(a).sanction_starts, 0);
	/* A bystander: nothing. */
	assert_int_equal(b.out.drops, 0);
	assert_int_equal(src_info(a, &bk).dropped_bytes, 0);
	cx_audit_free(a);
}

/*
 * A FIN or RST moves at most the debt its flow had before it: not the CE
 * of the FIN itself (a GSO burst of 64 kB, say), and not credit.
 */
static void test_fin_moves_no_more(void **state)
{
	struct cx_flow_key k1 = key_of(40, 1), k2 = key_of(41, 1);
	struct cx_audit *a = audit();
	uint64_t debt;
	uint32_t i;
	struct tx t;

	(void)state;
	/* In credit before: nothing moves. */
	send_pkt(a, &k1, X | C, CX, 1, PAYLOAD, MS, 0);
	t = send_ip(a, &k1, X | L, CX | CE | CX_AUDIT_P_FIN, 1 + PAYLOAD,
		    64000, 64052, 2 * MS, 0);
	assert_true(t.res.events & CX_AUDIT_E_FLOW_END);
	assert_false(t.res.events & CX_AUDIT_E_DEBT_TO_SOURCE);
	assert_int_equal(cx_audit_source_debt(a, k1.saddr, CX_FLOW_IPV4, &debt), 0);
	assert_int_equal(debt, 0);
	assert_int_equal(src_info(a, &k1).balance_bytes, 0);
	/* 5 packets in debt before: those, not the FIN's 64 kB. */
	send_pkt(a, &k2, X | C, CX, 1, 0, MS, 0);
	for (i = 0; i < 5; i++)
		send_ip(a, &k2, X, CX | CE, 1, 0, IPB, MS, UINT32_MAX);
	t = send_ip(a, &k2, X | L, CX | CE | CX_AUDIT_P_FIN, 1, 64000, 64052,
		    2 * MS, 0);
	assert_true(t.res.events & CX_AUDIT_E_DEBT_TO_SOURCE);
	assert_int_equal(counters(a).debt_to_source_bytes, 5 * IPB - HDR);
	assert_int_equal(cx_audit_source_debt(a, k2.saddr, CX_FLOW_IPV4, &debt), 0);
	assert_int_equal(debt, 5 * IPB - HDR);
	cx_audit_free(a);
}

/* One source holds at most source_flows_max flows; others are unaffected. */
static void test_source_flows_max(void **state)
{
	struct cx_audit_cfg cfg;
	struct cx_audit_flow_info fi;
	struct cx_flow_key k, other = key_of(61, 1);
	struct cx_audit *a;
	uint16_t i;
	struct tx t;

	(void)state;
	cx_audit_cfg_default(&cfg);
	cfg.flow_capacity = 64;
	cfg.source_capacity = 16;
	cfg.sketch_buckets = 64;
	cfg.source_flows_max = 3;
	a = cx_audit_new(&cfg, &sk);
	assert_non_null(a);
	for (i = 0; i < 3; i++) {
		k = key_of(60, i);
		t = send_pkt(a, &k, X | C, CX, 1, PAYLOAD, MS, 0);
		assert_true(t.res.events & CX_AUDIT_E_FLOW_NEW);
	}
	k = key_of(60, 3);
	t = send_pkt(a, &k, X | C, CX, 1, PAYLOAD, MS, 0);
	assert_true(t.res.events & CX_AUDIT_E_SOURCE_FLOWS_FULL);
	assert_int_equal(t.res.reason, CX_AUDIT_R_AGG);
	assert_int_equal(cx_audit_flow_get(a, &k, &fi), -ENOENT);
	assert_int_equal(counters(a).source_flows_full, 1);
	/* Its credit is its source's all the same. */
	assert_int_equal(src_info(a, &k).own_bytes, IPB);
	t = send_pkt(a, &other, X | C, CX, 1, PAYLOAD, MS, 0);
	assert_true(t.res.events & CX_AUDIT_E_FLOW_NEW);
	/* One ends: room for the next. */
	k = key_of(60, 0);
	send_pkt(a, &k, X, CX | CX_AUDIT_P_FIN, 1 + PAYLOAD, 0, MS, 0);
	k = key_of(60, 3);
	t = send_pkt(a, &k, X | C, CX, 1 + PAYLOAD, PAYLOAD, MS, 0);
	assert_true(t.res.events & CX_AUDIT_E_FLOW_NEW);
	assert_int_equal(src_info(a, &k).flows, 3);
	cx_audit_free(a);
}

/*
 * Partition: a packet of one source moves no other source's balance. A
 * clean flow evicted by another source's new flow leaves its credit with
 * its source; a clean source record evicted by another's first packet
 * takes nothing its flows cannot report again, and they do, once.
 */
static void test_source_partition(void **state)
{
	struct cx_flow_key ka = key_of(70, 1), kb = key_of(71, 1);
	struct cx_flow_key kc = key_of(72, 1);
	struct cx_audit_source_info before, after;
	struct cx_audit *a = audit_with(1, 2, 64);
	uint32_t i;
	struct tx t;

	(void)state;
	for (i = 0; i < 10; i++)
		send_pkt(a, &ka, X | C, CX, 1 + i * PAYLOAD, PAYLOAD, MS, 0);
	before = src_info(a, &ka);
	assert_int_equal(before.flows_bytes, 10 * IPB);
	t = send_pkt(a, &kb, X | C, CX, 1, PAYLOAD, MS, 0);
	assert_true(t.res.events & CX_AUDIT_E_FLOW_EVICTED);
	after = src_info(a, &ka);
	assert_int_equal(after.balance_bytes, before.balance_bytes);
	assert_int_equal(after.own_bytes, 10 * IPB);
	assert_int_equal(after.flows, 0);
	/* kc's first packet takes a clean record, a's or kb's. */
	t = send_pkt(a, &kc, 0, 0, 1, PAYLOAD, MS, 0);
	assert_false(t.res.events & CX_AUDIT_E_OVERFLOW);
	assert_int_equal(counters(a).sources_live, 2);
	/* kb's flow reports to its record once: its credit, not twice. */
	send_pkt(a, &kb, X | C, CX, 1 + PAYLOAD, PAYLOAD, MS, 0);
	assert_int_equal(src_info(a, &kb).flows_bytes, 2 * IPB);
	assert_int_equal(src_info(a, &kb).flows, 1);
	cx_audit_free(a);
}

static void test_iterate(void **state)
{
	struct cx_audit *a = audit();
	struct cx_audit_flow_info fi;
	uint32_t cursor = 0, n = 0, i;

	(void)state;
	for (i = 0; i < 5; i++) {
		struct cx_flow_key k = key_of(50 + i, 1);

		send_pkt(a, &k, X | C, CX, 1, PAYLOAD, MS, 0);
	}
	while (cx_audit_flow_next(a, &cursor, &fi) == 0) {
		assert_int_equal(fi.credit_bal_bytes, IPB);
		assert_true(fi.flags & CX_AUDIT_F_SEQ);
		n++;
	}
	assert_int_equal(n, 5);
	cx_audit_free(a);
}

/*
 * A restored debt (a restart must not forgive it): the source's record
 * owes it, capped as inherited debt is; another source is untouched.
 */
static void test_source_restore(void **state)
{
	struct cx_audit *a = audit();
	struct cx_flow_key k = key_of(7, 1000), o = key_of(8, 1000);
	uint64_t debt = 0;

	(void)state;
	assert_int_equal(cx_audit_source_restore(a, k.saddr, k.family, 50000,
						 1000000000ULL), 0);
	assert_int_equal(cx_audit_source_debt(a, k.saddr, k.family, &debt), 0);
	assert_true(debt == 50000);
	assert_int_equal(cx_audit_source_debt(a, o.saddr, o.family, &debt), -ENOENT);
	/* Capped like any inherited debt. */
	assert_int_equal(cx_audit_source_restore(a, o.saddr, o.family, UINT64_MAX,
						 1000000000ULL), 0);
	assert_int_equal(cx_audit_source_debt(a, o.saddr, o.family, &debt), 0);
	assert_true(debt > 50000 && debt < (1ULL << 30));
	assert_int_equal(cx_audit_source_restore(a, o.saddr, 0, 1, 0), -EINVAL);
	cx_audit_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_source_restore),
		cmocka_unit_test(test_cfg),
		cmocka_unit_test(test_null_args),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_counting),
		cmocka_unit_test(test_not_conex_in_flow),
		cmocka_unit_test(test_reecho_allowance),
		cmocka_unit_test(test_startup_credit_only),
		cmocka_unit_test(test_reecho_cover),
		cmocka_unit_test(test_proportional),
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_self_drop_not_loss),
		cmocka_unit_test(test_reordering),
		cmocka_unit_test(test_honest_traces),
		cmocka_unit_test(test_cheats),
		cmocka_unit_test(test_cheat_restarts),
		cmocka_unit_test(test_source_repays),
		cmocka_unit_test(test_sketch_collision),
		cmocka_unit_test(test_whitewash),
		cmocka_unit_test(test_whitewash_abandon),
		cmocka_unit_test(test_idle_debtor_ages),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_source_full),
		cmocka_unit_test(test_overflow_shared),
		cmocka_unit_test(test_iterate),
		cmocka_unit_test(test_source_key),
		cmocka_unit_test(test_honest_many_flows),
		cmocka_unit_test(test_attack_rotating_xonly),
		cmocka_unit_test(test_attack_table_fill),
		cmocka_unit_test(test_attack_forged_fin),
		cmocka_unit_test(test_fin_moves_no_more),
		cmocka_unit_test(test_source_flows_max),
		cmocka_unit_test(test_source_partition),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
