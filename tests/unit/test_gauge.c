/*
 * RFC 7786 gauges (conex/gauge.h): table-driven scenarios. Each scenario is
 * a sequence of sends and ACKs with the signal octet expected from every
 * send and, where given, the gauges expected after a step.
 */
#include <errno.h>

#include "cxtest.h"

#include <conex/gauge.h>

#define X	CX_SIG_X
#define L	CX_SIG_L
#define E	CX_SIG_E
#define C	CX_SIG_C
#define ANY	(-1)

enum { EV_SEND = 1, EV_ACK, EV_CE };

struct ev {
	int type;
	uint32_t a;		/* SEND: seq; ACK: ack; CE: new CE packets */
	uint32_t b;		/* SEND: payload; CE: delivered bytes */
	int ece;		/* ACK: ECE flag; SEND: segments */
	uint32_t nblocks;	/* ACK: SACK blocks */
	uint32_t s0, e0, s1, e1;
	int bits;		/* SEND: expected octet; ACK/CE: expected return, or ANY */
	int64_t leg, ceg, csc;	/* after the step, or ANY */
};

struct scenario {
	const char *name;
	struct cx_gauge_cfg cfg;
	uint32_t isn;
	struct ev ev[16];
};

#define SEND(seq, len, exp)		{ EV_SEND, seq, len, 1, 0, 0, 0, 0, 0, exp, ANY, ANY, ANY }
#define SENDS(seq, len, segs, exp)	{ EV_SEND, seq, len, segs, 0, 0, 0, 0, 0, exp, ANY, ANY, ANY }
#define SENDG(seq, len, exp, l, e, c)	{ EV_SEND, seq, len, 1, 0, 0, 0, 0, 0, exp, l, e, c }
#define ACK(ack, ece, del, l, e, c)	{ EV_ACK, ack, 0, ece, 0, 0, 0, 0, 0, del, l, e, c }
#define SACK1(ack, s, e_, del, l, e, c)	{ EV_ACK, ack, 0, 0, 1, s, e_, 0, 0, del, l, e, c }
#define SACK2(ack, s, e_, s1, e1, del, l, e, c) \
	{ EV_ACK, ack, 0, 0, 2, s, e_, s1, e1, del, l, e, c }
#define CE(n, del, ret, e, c)		{ EV_CE, n, del, 0, 0, 0, 0, 0, 0, ret, ANY, e, c }

/* One credit packet at start, no every-Nth rule: the arithmetic stays visible. */
#define CFG1		{ 1, 0, CX_GAUGE_HONEST }

static const struct scenario scenarios[] = {
	{ "initial credit then half-flight rule in slow start", { 2, 0, 0 }, 999, {
		SENDG(1000, 1000, X | C, 0, 0, 1000),
		SENDG(2000, 1000, X | C, 0, 0, 2000),
		/* flight 3000: half is 1500 <= CSC 2000 */
		SENDG(3000, 1000, X, 0, 0, 2000),
		SENDG(4000, 1000, X, 0, 0, 2000),
		/* flight 5000: half 2500 > 2000 */
		SENDG(5000, 1000, X | C, 0, 0, 3000),
	} },
	{ "every fourth segment in slow start", { 1, 4, 0 }, 999, {
		/* a large first packet keeps the half-flight rule quiet */
		SENDG(1000, 10000, X | C, 0, 0, 10000),	/* countdown 3 */
		SEND(11000, 100, X),		/* 2 */
		SEND(11100, 100, X),		/* 1 */
		SEND(11200, 100, X | C),	/* the fourth */
		SEND(11300, 100, X),
		SEND(11400, 100, X),
		SEND(11500, 100, X),
		SENDG(11600, 100, X | C, 0, 0, 10200),
		/* a GSO packet of 4 segments reaches the count at once */
		SENDS(11700, 400, 4, X | C),
		SENDG(12100, 100, X, 0, 0, 10600),
	} },
	{ "loss episode: L on the retransmission, CSC >= flight after", CFG1, 999, {
		SENDG(1000, 1000, X | C, 0, 0, 1000),
		SENDG(2000, 1000, X, 0, 0, 1000),
		SENDG(3000, 1000, X | C, 0, 0, 2000),
		/*
		 * rtx: LEG 1000 then spent; CSC 2000 - 1000 (the loss) - 666
		 * (credit re-added: 2000 of the 3000 sent carried C) < flight
		 */
		SENDG(1000, 1000, X | L | C, 0, 0, 1334),
		SENDG(4000, 1000, X | C, 0, 0, 2334),
		ACK(5000, 0, 4000, 0, 0, 2334),
		SENDG(5000, 1000, X, 0, 0, 2334),
	} },
	{ "ECE episode: CEG += DeliveredData, dup ACK counts SMSS", CFG1, 999, {
		SENDG(1000, 1000, X | C, 0, 0, 1000),
		SEND(2000, 1000, X),
		ACK(2000, 1, 1000, 0, 1000, 0),
		/* E spends CEG; flight 2000 > CSC 0 */
		SENDG(3000, 1000, X | E | C, 0, 0, 1000),
		ACK(2000, 1, 0, 0, 1448, 0),
		SENDG(4000, 1000, X | E | C, 0, 448, 1000),
		SENDG(5000, 1000, X | E | C, 0, 0, 2000),
		ACK(4000, 0, 2000, 0, 0, 2000),
	} },
	{ "L and E together, never deferred", CFG1, 999, {
		SEND(1000, 1000, X | C),
		SEND(2000, 1000, X),
		ACK(2000, 1, 1000, 0, 1000, 0),
		SENDG(2000, 500, X | L | E | C, 0, 500, 500),
		SENDG(3000, 1000, X | E | C, 0, 0, 1500),
		SENDG(4000, 1000, X | C, 0, 0, 2500),
	} },
	{ "losses continue: second rtx of a sequence resends credit", CFG1, 999, {
		SEND(1000, 1000, X | C),
		SEND(2000, 1000, X),
		SEND(3000, 1000, X | C),
		/* CSC 2000 - 1000 - 666 re-added, then 1000 of credit */
		SENDG(1000, 1000, X | L | C, 0, 0, 1334),
		/*
		 * same sequence again: CSC zeroed, then 1000 of credit; the
		 * L share of what was sent (the first L: 1000 of 4000) is
		 * re-added, 250, and rides the next packet
		 */
		SENDG(1000, 1000, X | L | C, 250, 0, 1000),
		SENDG(4000, 1000, X | L | C, 0, 0, 2000),
	} },
	{ "bytes below snd_una are not a loss", CFG1, 999, {
		SEND(1000, 1000, X | C),
		SEND(2000, 1000, X),
		ACK(3000, 0, 2000, 0, 0, 1000),
		SENDG(2000, 1000, X, 0, 0, 1000),
		/* half of it below snd_una, half new */
		SENDG(2500, 1000, X, 0, 0, 1000),
	} },
	{ "SACK counts new bytes once; partial ACK removes them", CFG1, 999, {
		SEND(1000, 1000, X | C),
		SEND(2000, 1000, X),
		SEND(3000, 1000, X | C),
		SEND(4000, 1000, X),
		SACK1(1000, 2000, 3000, 1000, 0, 0, ANY),
		SACK1(1000, 2000, 4000, 1000, 0, 0, ANY),
		/* same block again: nothing new */
		SACK1(1000, 2000, 4000, 0, 0, 0, ANY),
		/* rtx fills the hole; the ACK covers the SACKed 2000 bytes */
		SEND(1000, 1000, X | L | C),
		ACK(4000, 0, 1000, 0, 0, ANY),
		ACK(5000, 0, 1000, 0, 0, ANY),
	} },
	{ "DSACK below the ACK: spurious rtx becomes debt, paid by the next loss",
	  CFG1, 999, {
		SEND(1000, 1000, X | C),
		SEND(2000, 1000, X),
		SEND(3000, 1000, X | C),
		SENDG(1000, 1000, X | L | C, 0, 0, ANY),
		SACK1(2000, 1000, 2000, 1000, 0, 0, ANY),
		/*
		 * this loss is already declared by the spurious L; the L share
		 * of the recent bytes (1000 of 4000) re-added for lost L marks
		 * rides this packet
		 */
		SENDG(2000, 1000, X | L | C, 0, 0, ANY),
		SENDG(3000, 1000, X | L | C, 0, 0, ANY),
	} },
	{ "DSACK inside the second block; debt lapses after a flight", CFG1, 999, {
		SEND(1000, 1000, X | C),
		SEND(2000, 1000, X),
		SEND(3000, 1000, X | C),
		SEND(4000, 1000, X),
		SACK2(1000, 3000, 3500, 3000, 5000, 0, 0, 0, ANY),
		ACK(5000, 0, 4000, 0, 0, ANY),
		/* no congestion event yet: still slow start, CSC 2000 */
		SEND(5000, 1000, X),
		/*
		 * the debt lapsed with the ACK: this loss is declared in full;
		 * CSC 2000 + 250 (the DSACK gave back the C share of its 500
		 * bytes: 2000 of 4000 sent carried C) - 1000 - 400 (the C share
		 * of this loss, 2000 of 5000) is below the flight: C again
		 */
		SENDG(5000, 1000, X | L | C, 0, 0, 1850),
	} },
	{ "sequence wrap at 2^32", CFG1, 0xfffff82fU, {
		SENDG(0xfffff830U, 1000, X | C, 0, 0, 1000),
		SENDG(0xfffffc18U, 1000, X, 0, 0, 1000),	/* crosses zero */
		SENDG(0x00000000U, 1000, X | C, 0, 0, 2000),
		ACK(0x00000000U, 1, 2000, 0, 2000, 0),
		/* below snd_una across the wrap: acknowledged, not a loss */
		SENDG(0xfffffc18U, 1000, X | E | C, 0, 1000, 1000),
		/* a loss: the E share of the recent bytes (1000 of 4000) re-added */
		SENDG(0x00000000U, 1000, X | L | E | C, 0, 250, 1000),
	} },
	{ "exact CE counts: min(SMSS * n, delivered)", CFG1, 999, {
		SEND(1000, 1000, X | C),
		CE(2, 5000, 2896, 2896, 0),
		CE(10, 3000, 3000, 5896, 0),
		CE(0, 3000, 0, 5896, 0),
	} },
	{ "cheat nomark: X only", { 1, 4, CX_GAUGE_NOMARK }, 999, {
		SEND(1000, 1000, X),
		SEND(1000, 1000, X),
		ACK(2000, 1, ANY, 0, 0, ANY),
		SEND(2000, 1000, X),
	} },
	/* Half of each loss, in whole packets: every other loss is L. */
	{ "cheat half: half the loss declared", { 1, 0, CX_GAUGE_HALF }, 999, {
		SEND(1000, 400, X | C),
		SEND(1400, 400, X),
		SEND(1800, 400, X | C),
		SENDG(1000, 400, X | C, 200, 0, ANY),
		SENDG(1400, 400, X | L | C, 0, 0, ANY),
		SENDG(2200, 400, X | C, 0, 0, ANY),
		ACK(1800, 1, 800, 0, 400, ANY),
		SENDG(2600, 400, X | E | C, 0, 0, ANY),
	} },
	{ "cheat creditonly: initial credit, nothing else", { 2, 4, CX_GAUGE_CREDITONLY }, 999, {
		SEND(1000, 1000, X | C),
		SEND(2000, 1000, X | C),
		SEND(3000, 1000, X),
		SEND(1000, 1000, X),
		ACK(2000, 1, 1000, 0, 0, ANY),
		SEND(4000, 1000, X),
	} },
};

static void run_scenario(const struct scenario *sc)
{
	struct cx_gauge g;
	struct cx_gauge_sack sack;
	const struct ev *ev;
	size_t i;
	int got;

	cx_gauge_init(&g, &sc->cfg, sc->isn + 1, 1448);
	for (i = 0; i < 16 && sc->ev[i].type; i++) {
		ev = &sc->ev[i];
		switch (ev->type) {
		case EV_SEND:
			got = cx_gauge_send(&g, &sc->cfg, ev->a, ev->b,
					    (uint32_t)ev->ece);
			break;
		case EV_ACK:
			memset(&sack, 0, sizeof(sack));
			sack.nblocks = ev->nblocks;
			sack.start[0] = ev->s0;
			sack.end[0] = ev->e0;
			sack.start[1] = ev->s1;
			sack.end[1] = ev->e1;
			got = (int)cx_gauge_ack(&g, &sc->cfg, ev->a, ev->ece, &sack);
			break;
		default:
			got = (int)cx_gauge_ce_count(&g, &sc->cfg, ev->a, ev->b);
			break;
		}
		if (ev->bits != ANY && got != ev->bits)
			fail_msg("%s: step %zu: got 0x%x, want 0x%x", sc->name, i,
				 got, ev->bits);
		if (ev->leg != ANY && g.leg_bytes != (uint64_t)ev->leg)
			fail_msg("%s: step %zu: LEG %llu, want %lld", sc->name, i,
				 (unsigned long long)g.leg_bytes, (long long)ev->leg);
		if (ev->ceg != ANY && g.ceg_bytes != (uint64_t)ev->ceg)
			fail_msg("%s: step %zu: CEG %llu, want %lld", sc->name, i,
				 (unsigned long long)g.ceg_bytes, (long long)ev->ceg);
		if (ev->csc != ANY && g.csc_bytes != (uint64_t)ev->csc)
			fail_msg("%s: step %zu: CSC %llu, want %lld", sc->name, i,
				 (unsigned long long)g.csc_bytes, (long long)ev->csc);
	}
}

static void test_scenarios(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run_scenario(&scenarios[i]);
}

/*
 * The credit window halves once it holds CX_GAUGE_WIN_BYTES, so it stays
 * bounded and follows the recent share of C: half, then none.
 */
static void test_credit_readd_window(void **state)
{
	struct cx_gauge_cfg cfg = { 0, 0, CX_GAUGE_HONEST };
	struct cx_gauge g;
	uint32_t i;

	(void)state;
	cx_gauge_init(&g, &cfg, 1000, 1000);
	/* an empty window re-adds nothing (and does not divide by zero) */
	g.csc_bytes = 100000;
	cx_gauge__readd_credit(&g, &cfg, 10000);
	assert_int_equal(g.csc_bytes, 100000);
	for (i = 0; i < 4000; i++) {
		cx_gauge__window(&g, i % 2 ? CX_SIG_X : CX_SIG_X | CX_SIG_C, 1000);
		assert_true(g.win_bytes <= CX_GAUGE_WIN_BYTES + 1000);
	}
	cx_gauge__readd_credit(&g, &cfg, 10000);
	assert_in_range(100000 - g.csc_bytes, 4900, 5100);
	assert_int_equal(g.readd_c_bytes, 100000 - g.csc_bytes);
	for (i = 0; i < 4000; i++)
		cx_gauge__window(&g, CX_SIG_X, 1000);
	g.csc_bytes = 100000;
	cx_gauge__readd_credit(&g, &cfg, 10000);
	assert_in_range(100000 - g.csc_bytes, 0, 100);
	/* cheats re-add nothing */
	cfg.cheat = CX_GAUGE_HALF;
	g.win_c_bytes = g.win_bytes;
	cx_gauge__readd_credit(&g, &cfg, 10000);
	assert_in_range(100000 - g.csc_bytes, 0, 100);
}

static void test_saturation(void **state)
{
	struct cx_gauge_cfg cfg = CFG1;
	struct cx_gauge g;
	uint32_t i;

	(void)state;
	assert_int_equal(cx_gauge_add(CX_GAUGE_MAX_BYTES - 1, 5), CX_GAUGE_MAX_BYTES);
	assert_int_equal(cx_gauge_add(0, UINT64_MAX), CX_GAUGE_MAX_BYTES);
	assert_int_equal(cx_gauge_sub(5, 7), 0);
	cx_gauge_init(&g, &cfg, 1, 1448);
	g.ceg_bytes = CX_GAUGE_MAX_BYTES - 10;
	cx_gauge_ack(&g, &cfg, 1, true, NULL);
	assert_int_equal(g.ceg_bytes, CX_GAUGE_MAX_BYTES);
	/* pkts_sent saturates rather than wrapping into the initial credit. */
	g.pkts_sent = UINT32_MAX - 1;
	for (i = 0; i < 3; i++)
		cx_gauge_send(&g, &cfg, 1 + i * 10, 10, 1);
	assert_int_equal(g.pkts_sent, UINT32_MAX);
}

static void test_rejects(void **state)
{
	struct cx_gauge_cfg cfg = CFG1, bad;
	struct cx_gauge g;

	(void)state;
	cx_gauge_init(&g, &cfg, 100, 1448);
	/* No payload, or a span no TCP segment has: no signal, no change. */
	assert_int_equal(cx_gauge_send(&g, &cfg, 100, 0, 1), 0);
	assert_int_equal(cx_gauge_send(&g, &cfg, 100, CX_GAUGE_MAX_SPAN_BYTES + 1, 1), 0);
	assert_int_equal(g.snd_max, 100);
	/* An ACK from the far past or the far future is ignored. */
	assert_int_equal(cx_gauge_ack(&g, &cfg, 100 + 0x80000000U, false, NULL), 0);
	assert_int_equal(g.snd_una, 100);
	assert_int_equal(cx_gauge_cfg_check(&cfg), 0);
	bad = cfg;
	bad.cheat = CX_GAUGE_CHEAT_MAX + 1;
	assert_int_equal(cx_gauge_cfg_check(&bad), -EINVAL);
	bad = cfg;
	bad.init_credit_pkts = CX_GAUGE_CFG_PKTS_MAX + 1;
	assert_int_equal(cx_gauge_cfg_check(&bad), -EINVAL);
	cx_gauge_cfg_default(&bad);
	assert_int_equal(bad.init_credit_pkts, CX_GAUGE_INIT_CREDIT_PKTS);
}

static void test_seq_compare(void **state)
{
	static const struct { uint32_t a, b; bool before; } v[] = {
		{ 1, 2, true }, { 2, 1, false }, { 5, 5, false },
		{ 0xffffffffU, 0, true }, { 0, 0xffffffffU, false },
		{ 0x7fffffffU, 0xfffffffeU, true },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(cx_gauge_seq_before(v[i].a, v[i].b), v[i].before);
		assert_int_equal(cx_gauge_seq_after(v[i].b, v[i].a), v[i].before);
	}
}

/* RFC 9768 Table 2: which ACE values of a SYN-ACK mean what. */
static void test_synack_ecn(void **state)
{
	static const int want[8] = {
		CX_GAUGE_ECN_NONE, CX_GAUGE_ECN_CLASSIC, CX_GAUGE_ECN_ACCECN,
		CX_GAUGE_ECN_ACCECN, CX_GAUGE_ECN_ACCECN, CX_GAUGE_ECN_NONE,
		CX_GAUGE_ECN_ACCECN, CX_GAUGE_ECN_NONE,
	};
	unsigned int ace;

	(void)state;
	for (ace = 0; ace < 8; ace++)
		assert_int_equal(cx_gauge_synack_ecn(ace), want[ace]);
	assert_int_equal(cx_gauge_synack_ecn(8 + 1), CX_GAUGE_ECN_CLASSIC);
}

/* An AccECN connection with 20 segments of 1000 B in flight from 1. */
static void accecn_flow(struct cx_gauge *g, const struct cx_gauge_cfg *cfg)
{
	uint32_t seq;

	cx_gauge_init(g, cfg, 1, 1000);
	cx_gauge_set_ecn(g, CX_GAUGE_ECN_ACCECN);
	for (seq = 1; seq < 20001; seq += 1000)
		cx_gauge_send(g, cfg, seq, 1000, 1);
}

/*
 * ECEB gives the exact CE bytes; ECE, a bit of ACE on such a connection,
 * is never read as classic ECN-Echo (which declared ~100x before).
 */
static void test_accecn_exact(void **state)
{
	struct cx_gauge_cfg cfg;
	struct cx_gauge g;
	uint32_t d;

	(void)state;
	cx_gauge_cfg_default(&cfg);
	accecn_flow(&g, &cfg);
	assert_false(cx_gauge_wants_cwr(&g));
	/* ACE 5 -> 7 (ECE set in it), 1500 CE bytes in two packets. */
	d = cx_gauge_ack(&g, &cfg, 4001, true, NULL);
	assert_int_equal(d, 4000);
	assert_int_equal(g.ceg_bytes, 0);
	assert_int_equal(cx_gauge_accecn(&g, &cfg, 7, true, 1500, d), 1500);
	assert_int_equal(g.ceg_bytes, 1500);
	/* ACE unchanged, ECE still set: nothing new. */
	d = cx_gauge_ack(&g, &cfg, 8001, true, NULL);
	assert_int_equal(cx_gauge_accecn(&g, &cfg, 7, true, 1500, d), 0);
	assert_int_equal(g.ceg_bytes, 1500);
	/* ECEB wraps modulo 2^24. */
	g.eceb = CX_GAUGE_ECEB_MASK - 99;
	d = cx_gauge_ack(&g, &cfg, 9001, false, NULL);
	assert_int_equal(cx_gauge_accecn(&g, &cfg, 0, true, 900, d), 1000);
	assert_int_equal(g.ceg_bytes, 2500);
	assert_int_equal(g.ce_fed_bytes, 2500);
	/* The half cheat declares half. */
	cfg.cheat = CX_GAUGE_HALF;
	accecn_flow(&g, &cfg);
	d = cx_gauge_ack(&g, &cfg, 4001, false, NULL);
	cx_gauge_accecn(&g, &cfg, 7, true, 2000, d);
	assert_int_equal(g.ceg_bytes, 1000);
}

/*
 * Without the option: min(SMSS * ACE increase, DeliveredData), and the
 * option that comes back later counts only what that did not cover, or
 * takes back what it over-counted.
 */
static void test_accecn_fallback(void **state)
{
	struct cx_gauge_cfg cfg;
	struct cx_gauge g;
	uint32_t d;

	(void)state;
	cx_gauge_cfg_default(&cfg);
	accecn_flow(&g, &cfg);
	d = cx_gauge_ack(&g, &cfg, 2001, false, NULL);
	/* Three CE packets, 2000 B delivered: 2000. */
	assert_int_equal(cx_gauge_accecn(&g, &cfg, 0, false, 0, d), 2000);
	assert_int_equal(g.eceb, 2000);
	/* The option says 2600: 600 more. */
	d = cx_gauge_ack(&g, &cfg, 3001, false, NULL);
	assert_int_equal(cx_gauge_accecn(&g, &cfg, 0, true, 2600, d), 600);
	assert_int_equal(g.ceg_bytes, 2600);
	/* One more CE packet estimated at SMSS, then the option says 2900. */
	d = cx_gauge_ack(&g, &cfg, 5001, false, NULL);
	assert_int_equal(cx_gauge_accecn(&g, &cfg, 1, false, 0, d), 1000);
	assert_int_equal(g.ceg_bytes, 3600);
	d = cx_gauge_ack(&g, &cfg, 6001, false, NULL);
	assert_int_equal(cx_gauge_accecn(&g, &cfg, 1, true, 2900, d), 0);
	assert_int_equal(g.ceg_bytes, 2900);
	assert_int_equal(g.eceb, 2900);
}

/* The handshake's ACK echoes the SYN-ACK's codepoint; counting starts after. */
static void test_accecn_handshake(void **state)
{
	struct cx_gauge_cfg cfg;
	struct cx_gauge g;
	uint32_t d;

	(void)state;
	cx_gauge_cfg_default(&cfg);
	cx_gauge_init(&g, &cfg, 1, 1000);
	cx_gauge_set_ecn(&g, CX_GAUGE_ECN_ACCECN);
	d = cx_gauge_ack(&g, &cfg, 1, false, NULL);
	/* 0b100: the SYN-ACK arrived ECT(0); not 7 CE packets. */
	assert_int_equal(cx_gauge_accecn(&g, &cfg, 4, false, 0, d), 0);
	assert_int_equal(g.ace, CX_GAUGE_ACE_INIT);
	cx_gauge_send(&g, &cfg, 1, 1000, 1);
	d = cx_gauge_ack(&g, &cfg, 1001, false, NULL);
	assert_int_equal(cx_gauge_accecn(&g, &cfg, 6, false, 0, d), 1000);
	/* A classic connection: CWR on its segments, ECE read as ECN-Echo. */
	cx_gauge_set_ecn(&g, CX_GAUGE_ECN_CLASSIC);
	assert_true(cx_gauge_wants_cwr(&g));
	assert_int_equal(cx_gauge_accecn(&g, &cfg, 7, true, 5000, 1000), 0);
	cx_gauge_set_ecn(&g, CX_GAUGE_ECN_NONE);
	assert_false(cx_gauge_wants_cwr(&g));
}

/*
 * A GSO packet marks E on every segment: the excess over CEG is prepaid
 * and absorbs the next marks, so E follows the CE bytes, not packet sizes.
 */
static void test_prepaid_marks(void **state)
{
	struct cx_gauge_cfg cfg;
	struct cx_gauge g;
	uint32_t seq = 1, i;
	uint64_t e_bytes = 0;
	uint8_t bits;

	(void)state;
	cx_gauge_cfg_default(&cfg);
	cx_gauge_init(&g, &cfg, 1, 1000);
	cx_gauge_set_ecn(&g, CX_GAUGE_ECN_ACCECN);
	/* Ten rounds: a 4000 B GSO packet, then an ACK feeding back 1000 CE bytes. */
	for (i = 0; i < 10; i++) {
		uint32_t d;

		bits = cx_gauge_send(&g, &cfg, seq, 4000, 4);
		seq += 4000;
		if (bits & E)
			e_bytes += 4000;
		d = cx_gauge_ack(&g, &cfg, seq, false, NULL);
		cx_gauge_accecn(&g, &cfg, CX_GAUGE_ACE_INIT + i + 1, true,
				1000 * (i + 1), d);
		assert_true(g.ceg_bytes == 0 || g.ceg_prepaid_bytes == 0);
	}
	bits = cx_gauge_send(&g, &cfg, seq, 4000, 4);
	if (bits & E)
		e_bytes += 4000;
	/* 10 marks of 1000 B declared in whole 4000 B packets: 3, not 10. */
	assert_int_equal(e_bytes, 12000);
	assert_int_equal(g.ceg_prepaid_bytes, 2000);
}

/* The markall cheat sets every flag on every payload packet. */
static void test_cheat_markall(void **state)
{
	struct cx_gauge_cfg cfg;
	struct cx_gauge g;

	(void)state;
	cx_gauge_cfg_default(&cfg);
	cfg.cheat = CX_GAUGE_MARKALL;
	assert_int_equal(cx_gauge_cfg_check(&cfg), 0);
	cx_gauge_init(&g, &cfg, 1, 1000);
	assert_int_equal(cx_gauge_send(&g, &cfg, 1, 1000, 1), X | L | E | C);
	assert_int_equal(cx_gauge_send(&g, &cfg, 1001, 1000, 1), X | L | E | C);
	assert_int_equal(cx_gauge_send(&g, &cfg, 1001, 0, 1), 0);
	cfg.cheat = CX_GAUGE_CHEAT_MAX + 1;
	assert_int_equal(cx_gauge_cfg_check(&cfg), -EINVAL);
}

/*
 * Classic ECN with CWR on every packet: an ECE ACK counts back no further
 * than the start of the packet holding its last byte; beyond the record
 * of CWR starts, all it delivered.
 */
static void test_classic_cwr_start(void **state)
{
	struct cx_gauge_cfg cfg;
	struct cx_gauge g;
	uint32_t seq, i;

	(void)state;
	cx_gauge_cfg_default(&cfg);
	cx_gauge_init(&g, &cfg, 1, 1000);
	cx_gauge_set_ecn(&g, CX_GAUGE_ECN_CLASSIC);
	cx_gauge_send(&g, &cfg, 1, 4000, 4);
	cx_gauge_send(&g, &cfg, 4001, 4000, 4);
	/* One ACK for both (a delayed ACK): ECE is about the second only. */
	assert_int_equal(cx_gauge_ack(&g, &cfg, 8001, true, NULL), 8000);
	assert_int_equal(g.ceg_bytes, 4000);
	/* An ACK inside a packet: from its start, at most what it delivered. */
	assert_int_equal(cx_gauge_send(&g, &cfg, 8001, 4000, 4) & E, E);
	assert_int_equal(g.ceg_bytes, 0);
	assert_int_equal(cx_gauge_ack(&g, &cfg, 10001, true, NULL), 2000);
	assert_int_equal(g.ceg_bytes, 2000);
	assert_int_equal(cx_gauge_ack(&g, &cfg, 12001, true, NULL), 2000);
	assert_int_equal(g.ceg_bytes, 4000);
	/*
	 * More packets in flight than the record holds: the start of the
	 * packet holding 14000 (13001) is forgotten, so all it delivered.
	 */
	seq = 12001;
	for (i = 0; i < CX_GAUGE_CWR_RING + 2; i++, seq += 1000)
		cx_gauge_send(&g, &cfg, seq, 1000, 1);
	assert_int_equal(g.ceg_bytes, 0);
	assert_int_equal(cx_gauge_ack(&g, &cfg, 14001, true, NULL), 2000);
	assert_int_equal(g.ceg_bytes, 2000);
	/* Not classic: no record, the conservative rule. */
	cx_gauge_init(&g, &cfg, 1, 1000);
	cx_gauge_send(&g, &cfg, 1, 4000, 4);
	cx_gauge_send(&g, &cfg, 4001, 4000, 4);
	assert_int_equal(g.cwr_n, 0);
	cx_gauge_ack(&g, &cfg, 8001, true, NULL);
	assert_int_equal(g.ceg_bytes, 8000);
}

/*
 * Lost packets take their marks with them: a retransmission re-adds the
 * L and E share of the recent bytes (as credit), and a DSACK (the packet
 * was not lost) takes the E back.
 */
static void test_readd_lost_marks(void **state)
{
	struct cx_gauge_cfg cfg;
	struct cx_gauge_sack sack = { 1, { 1001, 0 }, { 2001, 0 } };
	struct cx_gauge g;

	(void)state;
	cx_gauge_cfg_default(&cfg);
	cx_gauge_init(&g, &cfg, 1, 1000);
	g.ceg_bytes = 2000;
	cx_gauge_send(&g, &cfg, 1, 1000, 1);		/* E */
	cx_gauge_send(&g, &cfg, 1001, 1000, 1);		/* E */
	cx_gauge_send(&g, &cfg, 2001, 2000, 2);
	assert_int_equal(g.ceg_bytes, 0);
	/* 1000 resent: half the window carried E, so 500 of E re-added... */
	assert_int_equal(cx_gauge_send(&g, &cfg, 1001, 1000, 1) & E, E);
	assert_int_equal(g.readd_le_bytes, 500);
	/* ...which that packet re-declared whole (500 prepaid). */
	assert_int_equal(g.ceg_prepaid_bytes, 500);
	/* The DSACK says it was not lost: the E share comes back off. */
	g.ceg_bytes = 1000;
	cx_gauge_ack(&g, &cfg, 2001, false, &sack);
	assert_true(g.ceg_bytes < 1000);
	/* Cheats re-add nothing. */
	cfg.cheat = CX_GAUGE_HALF;
	cx_gauge_init(&g, &cfg, 1, 1000);
	cx_gauge_send(&g, &cfg, 1, 1000, 1);
	cx_gauge_send(&g, &cfg, 1, 1000, 1);
	assert_int_equal(g.readd_le_bytes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_synack_ecn),
		cmocka_unit_test(test_readd_lost_marks),
		cmocka_unit_test(test_classic_cwr_start),
		cmocka_unit_test(test_cheat_markall),
		cmocka_unit_test(test_prepaid_marks),
		cmocka_unit_test(test_accecn_exact),
		cmocka_unit_test(test_accecn_fallback),
		cmocka_unit_test(test_accecn_handshake),
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_credit_readd_window),
		cmocka_unit_test(test_saturation),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_seq_compare),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
