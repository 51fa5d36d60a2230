/*
 * conex-policer's verdict per packet (policer/datapath.c, pol_dp_packet),
 * driven directly with packets built by the library's encoders: tenant
 * by interface and the spoof check, ConEx drain once per flag (RFC 7837
 * §4, docs/wire.md §2, §3), the tunnel mark per packet, policing with p and
 * p^2 (conex/police.h), forgiveness of L for the policer's own drops, and
 * every packet at every shorter copy length.
 *
 * The clock is ours: pol_now_ns() is main.c's, which is not linked here.
 */
#include "cxtest.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <conex/byteorder.h>
#include <conex/cdo.h>
#include <conex/csum.h>
#include <conex/ipv4id.h>
#include <conex/log.h>
#include <conex/police.h>
#include <conex/signal.h>
#include <conex/tcp.h>
#include <conex/udp.h>

#include "policer.h"

#define KEYHEX "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"

/* Not the default (0x4358): a datapath using the default is caught. */
#define MARK		0x51U
#define OTHER_MARK	0x77U	/* some other tool's mark on the skb */
#define FAKE_FB_FD	100	/* datapath only tests fb_fd >= 0 */
#define SEED		0x9e3779b97f4a7c15ULL
#define T0_NS		(1000ULL * 1000 * 1000 * 1000)	/* 1000 s: no wrap near 0 */
#define MS		(1000ULL * 1000)
#define US		1000ULL

/* Interface indexes of the guests (the config names; we resolve them). */
enum { IF_A = 11, IF_A2 = 12, IF_B = 21, IF_C = 31, IF_UNKNOWN = 99 };
/* Tenant indexes, in config order. */
enum { T_A = 0, T_B = 1, T_C = 2 };

#define A4	"198.18.1.11"		/* ga, tenant ta */
#define A6	"2001:2:0:1::11"
#define A2_4	"198.18.1.12"		/* ga2, tenant ta */
#define B4	"198.18.1.21"		/* gb, tenant tb */
#define B6	"2001:2:0:1::21"
#define C4	"198.18.1.31"		/* gc, tenant tc */
#define R4	"198.18.2.7"		/* behind peer 2: remote */
#define R6	"2001:2:0:2::7"
#define N4	"198.18.3.7"		/* not a remote prefix */
#define N6	"2001:2:0:3::7"

/*
 * tc is the one policed: 80 kbit/s = 10 bytes per ms, a 3000-byte bucket
 * (debt bound -3000, p capped at 1 from a debt of 1500), a 5 ms ramp.
 * ta and tb have room for every test's marks at a frozen clock. gz's
 * interface is absent (ifindex 0).
 */
static const char conf_text[] =
	"tenant ta 10mbit\n"
	"tenant tb 10mbit\n"
	"tenant tc 80kbit burst 3000 ramp 5ms\n"
	"guest ga ta " A4 " " A6 "\n"
	"guest ga2 ta " A2_4 "\n"
	"guest gb tb " B4 " " B6 "\n"
	"guest gc tc " C4 "\n"
	"guest gz tb 198.18.1.99\n"
	"host_id 1\n"
	"local 198.19.1.1\n"
	"peer 2 198.19.2.2 " KEYHEX "\n"
	"remote 198.18.2.0/24 2\n"
	"remote 2001:2:0:2::/64 2\n"
	"protect 198.19.200.0/24\n"
	"protect 2001:2:0:ff::/64\n"
	"tunnel_mark 0x51\n";

static const struct {
	const char *ifname;
	uint32_t ifindex;
} ifmap[] = {
	{ "ga", IF_A }, { "ga2", IF_A2 }, { "gb", IF_B }, { "gc", IF_C },
	{ "gz", 0 },
};

static struct pol_config base_cfg;
static uint64_t clock_ns;
static unsigned int log_lines;

uint64_t pol_now_ns(void)
{
	return clock_ns;
}

static void log_sink(int level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	(void)arg;
	log_lines++;
}

static int group_setup(void **state)
{
	char path[] = "/tmp/cx-poldp-XXXXXX", err[512];
	int fd, ret;

	(void)state;
	cx_log_set_sink(log_sink, NULL);
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (write(fd, conf_text, strlen(conf_text)) != (ssize_t)strlen(conf_text)) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	pol_config_init(&base_cfg);
	ret = pol_config_load(&base_cfg, path, err, sizeof(err));
	unlink(path);
	if (ret < 0)
		fprintf(stderr, "test_poldp: config: %s\n", err);
	return ret;
}

static int group_teardown(void **state)
{
	(void)state;
	cx_log_set_sink(NULL, NULL);
	return 0;
}

/* A policer as main.c sets it up (tenant_cfg, LOCAL mode), at T0_NS. */
static struct policer *pl_new(bool tunnel)
{
	struct policer *pl = calloc(1, sizeof(*pl));
	struct cx_police_cfg pc;
	unsigned int i, j;

	assert_non_null(pl);
	clock_ns = T0_NS;
	pl->cfg = base_cfg;
	for (i = 0; i < pl->cfg.n_guests; i++)
		for (j = 0; j < CX_ARRAY_SIZE(ifmap); j++)
			if (strcmp(pl->cfg.guests[i].ifname, ifmap[j].ifname) == 0)
				pl->guest_ifindex[i] = ifmap[j].ifindex;
	pl->mode = CX_POLICE_LOCAL;
	for (i = 0; i < pl->cfg.n_tenants; i++) {
		pc = pl->cfg.tenants[i].police;
		pc.share_ppm = pl->cfg.bank_share_ppm;
		assert_int_equal(cx_police_init(&pl->tenants[i].pol, &pc, pl->mode,
						clock_ns), 0);
	}
	pl->fb_fd = tunnel ? FAKE_FB_FD : -1;
	pl->rand_state = SEED;
	pl->start_mono_ns = clock_ns;
	assert_int_equal(cx_log_ratelimit_init(&pl->spoof_rl, 5, 10000 * MS,
					       clock_ns), 0);
	return pl;
}

enum { PK_TCP, PK_UDP, PK_ICMP };

/* A packet to build: the whole of it, payload zeros. */
struct pk {
	int family;
	const char *src;
	const char *dst;
	uint8_t kind;		/* PK_*; TCP with payload 0 is a pure ACK */
	uint16_t payload_bytes;
	bool enc;		/* write a ConEx field: CDO or RF=1 ID */
	uint8_t bits;		/* CX_SIG_* for it */
};

#define PKT_MAX 2048

/* Builds k into b (PKT_MAX bytes); returns its length. */
static size_t pk_build(uint8_t *b, const struct pk *k)
{
	bool v4 = k->family == AF_INET;
	size_t off = v4 ? 20 : 40, l4, len;
	struct cx_tcp t;
	struct cx_udp u;
	uint8_t proto;
	int ret;

	memset(b, 0, PKT_MAX);
	switch (k->kind) {
	case PK_TCP:
		memset(&t, 0, sizeof(t));
		t.sport = 40000;
		t.dport = 5201;
		t.seq = 1000;
		t.ack = 1;
		t.flags = CX_TCP_F_ACK | (k->payload_bytes ? CX_TCP_F_PSH : 0);
		t.window = 512;
		ret = cx_tcp_encode(b + off, PKT_MAX - off, &t);
		assert_int_equal(ret, CX_TCP_HLEN_MIN);
		l4 = (size_t)ret;
		proto = IPPROTO_TCP;
		break;
	case PK_UDP:
		memset(&u, 0, sizeof(u));
		u.sport = 40001;
		u.dport = 5201;
		u.len = (uint16_t)(CX_UDP_HLEN + k->payload_bytes);
		assert_int_equal(cx_udp_encode(b + off, PKT_MAX - off, &u),
				 CX_UDP_HLEN);
		l4 = CX_UDP_HLEN;
		proto = IPPROTO_UDP;
		break;
	default:
		/* Echo request: type, code, checksum, id, sequence. */
		b[off] = v4 ? 8 : 128;
		l4 = 8;
		proto = v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		break;
	}
	len = off + l4 + k->payload_bytes;
	assert_true(len + CX_CDO_HDR_BYTES <= PKT_MAX);
	if (v4) {
		b[0] = 0x45;
		cx_put_be16(b + 2, (uint16_t)len);
		cx_put_be16(b + 4, 0x1234);
		cx_put_be16(b + 6, CX_IPV4ID_DF);
		b[8] = 64;
		b[9] = proto;
		assert_int_equal(inet_pton(AF_INET, k->src, b + 12), 1);
		assert_int_equal(inet_pton(AF_INET, k->dst, b + 16), 1);
		ret = cx_csum_ipv4_compute(b, 20);
		assert_true(ret >= 0);
		cx_put_be16(b + 10, (uint16_t)ret);
		if (k->enc)
			assert_int_equal(cx_ipv4id_apply(b, 20, k->bits, NULL), 0);
		return len;
	}
	b[0] = 0x60;
	cx_put_be16(b + 4, (uint16_t)(len - 40));
	b[6] = proto;
	b[7] = 64;
	assert_int_equal(inet_pton(AF_INET6, k->src, b + 8), 1);
	assert_int_equal(inet_pton(AF_INET6, k->dst, b + 24), 1);
	if (k->enc) {
		ret = cx_cdo_insert(b, len, PKT_MAX, k->bits);
		assert_int_equal(ret, (int)(len + CX_CDO_HDR_BYTES));
		len = (size_t)ret;
	}
	return len;
}

/*
 * Queue cap_len bytes of b (a heap copy of exactly that size, so ASan sees
 * an over-read) as a packet of pkt_len bytes from indev.
 */
static unsigned int queue_raw(struct policer *pl, uint8_t hook, uint32_t indev,
			      const uint8_t *b, size_t cap_len, uint32_t pkt_len,
			      uint32_t guess, struct cxd_nfq_mark *mark)
{
	struct cxd_nfq_pkt p;
	unsigned int v;
	uint8_t *q = cxt_dup(b, cap_len);

	memset(&p, 0, sizeof(p));
	p.hook = hook;
	p.hw_proto = cap_len && (b[0] >> 4) == 6 ? ETH_P_IPV6 : ETH_P_IP;
	p.indev = indev;
	p.mark = guess;
	p.data = q;
	p.cap_len = cap_len;
	p.pkt_len = pkt_len;
	mark->set = false;
	mark->value = 0;
	v = pol_dp_packet(pl, &p, mark);
	free(q);
	return v;
}

/* The whole packet, as the queue copies it: at most 160 bytes of it. */
static unsigned int queue_pk(struct policer *pl, uint32_t indev,
			     const struct pk *k, uint32_t guess,
			     struct cxd_nfq_mark *mark, uint32_t *len_out)
{
	uint8_t b[PKT_MAX];
	size_t len = pk_build(b, k);
	size_t cap = len < CXD_NFQ_COPY_DEFAULT ? len : CXD_NFQ_COPY_DEFAULT;

	if (len_out)
		*len_out = (uint32_t)len;
	return queue_raw(pl, NF_INET_PRE_ROUTING, indev, b, cap, (uint32_t)len,
			 guess, mark);
}

static uint64_t drops_all(const struct pol_tenant_rt *t)
{
	return t->drops[POL_DROP_POLICE] + t->drops[POL_DROP_SPOOF];
}

static int64_t level(const struct policer *pl, unsigned int tenant)
{
	return cx_police_level_bytes(&pl->tenants[tenant].pol, clock_ns);
}

static uint32_t drop_ppm(const struct policer *pl, unsigned int tenant)
{
	return cx_police_drop_ppm(&pl->tenants[tenant].pol, clock_ns);
}

/*
 * The tenant is the interface's, never the source address's; a source
 * that is not the guest's own is dropped on the interface's tenant.
 */
static void test_tenant_by_interface(void **state)
{
	static const struct {
		const char *what;
		uint32_t indev;
		int family;
		const char *src;
		unsigned int verdict;
		int tenant;		/* -1: none charged */
		bool spoof;
	} v[] = {
		{ "own v4", IF_A, AF_INET, A4, NF_ACCEPT, T_A, false },
		{ "own v6", IF_A, AF_INET6, A6, NF_ACCEPT, T_A, false },
		{ "B's v4 from A", IF_A, AF_INET, B4, NF_DROP, T_A, true },
		{ "B's v6 from A", IF_A, AF_INET6, B6, NF_DROP, T_A, true },
		{ "A's v4 from B", IF_B, AF_INET, A4, NF_DROP, T_B, true },
		{ "ga2 own, tenant ta", IF_A2, AF_INET, A2_4, NF_ACCEPT, T_A, false },
		{ "ga's from ga2", IF_A2, AF_INET, A4, NF_DROP, T_A, true },
		{ "link-local", IF_A, AF_INET6, "fe80::1", NF_ACCEPT, T_A, false },
		{ "link-local fe bf", IF_A, AF_INET6, "febf::1", NF_ACCEPT, T_A, false },
		{ "unspecified", IF_A, AF_INET6, "::", NF_ACCEPT, T_A, false },
		/* fec0::/10 (old site-local) is not link-local. */
		{ "site-local", IF_A, AF_INET6, "fec0::1", NF_DROP, T_A, true },
		{ "v4 any", IF_A, AF_INET, "0.0.0.0", NF_ACCEPT, T_A, false },
		{ "unknown indev", IF_UNKNOWN, AF_INET, "198.18.9.9", NF_ACCEPT, -1, false },
		/* gz's interface is absent: index 0 must not find it. */
		{ "no indev", 0, AF_INET, "198.18.1.99", NF_ACCEPT, -1, false },
	};
	struct pol_tenant_rt before[POL_TENANTS_MAX];
	struct pol_stats st;
	struct cxd_nfq_mark mark;
	struct policer *pl;
	struct pk k;
	uint32_t len;
	unsigned int i, j, ret;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(v); i++) {
		pl = pl_new(true);
		memcpy(before, pl->tenants, sizeof(before));
		st = pl->st;
		k = (struct pk){ v[i].family, v[i].src,
				 v[i].family == AF_INET ? R4 : R6, PK_UDP, 100,
				 false, 0 };
		ret = queue_pk(pl, v[i].indev, &k, 0, &mark, &len);
		if (ret != v[i].verdict)
			fail_msg("%s: verdict %u, want %u", v[i].what, ret,
				 v[i].verdict);
		if (ret == NF_DROP && mark.set)
			fail_msg("%s: a mark on a drop", v[i].what);
		for (j = 0; j < pl->cfg.n_tenants; j++) {
			const struct pol_tenant_rt *t = &pl->tenants[j];

			if ((int)j != v[i].tenant) {
				if (memcmp(t, &before[j], sizeof(*t)) != 0)
					fail_msg("%s: tenant %u touched", v[i].what, j);
				continue;
			}
			if (t->packets != 1 || t->bytes != len)
				fail_msg("%s: tenant %u packets %llu bytes %llu",
					 v[i].what, j, (unsigned long long)t->packets,
					 (unsigned long long)t->bytes);
			expect_ret(v[i].what, (int)t->drops[POL_DROP_SPOOF],
				   v[i].spoof);
			expect_ret(v[i].what, (int)t->dropped_bytes[POL_DROP_SPOOF],
				   v[i].spoof ? (int)len : 0);
			expect_ret(v[i].what, (int)t->drops[POL_DROP_POLICE], 0);
			/* A passed Not-ConEx packet to a remote: the tunnel. */
			expect_ret(v[i].what, (int)t->tunnel_packets, !v[i].spoof);
			expect_ret(v[i].what, mark.set, !v[i].spoof);
		}
		expect_ret(v[i].what, (int)pl->st.unknown_indev,
			   (int)st.unknown_indev + (v[i].tenant < 0));
		expect_ret(v[i].what, (int)pl->st.parse_errors, 0);
		free(pl);
	}
}

/* Spoof drops are logged through the rate limit, never once per packet. */
static void test_spoof_log_limited(void **state)
{
	struct pk k = { AF_INET, B4, R4, PK_UDP, 100, false, 0 };
	struct cxd_nfq_mark mark;
	struct policer *pl = pl_new(true);
	unsigned int i;

	(void)state;
	log_lines = 0;
	for (i = 0; i < 100; i++)
		assert_int_equal(queue_pk(pl, IF_A, &k, 0, &mark, NULL), NF_DROP);
	assert_int_equal(pl->tenants[T_A].drops[POL_DROP_SPOOF], 100);
	assert_true(log_lines >= 1);
	assert_true(log_lines <= 5);
	free(pl);
}

/*
 * Another hook or an unknown interface: passed and counted, no tenant
 * touched. Unreadable bytes from a guest: dropped and counted on its
 * tenant (neither charged nor steered, so never passed), bucket untouched.
 */
static void test_ignored(void **state)
{
	static const uint8_t v5[24] = { 0x50 };
	static const uint8_t v4_ihl4[24] = { 0x44, 0, 0, 24 };
	static const uint8_t v6_short[30] = { 0x60 };
	static const struct {
		const char *what;
		uint8_t hook;
		uint32_t indev;
		const uint8_t *b;
		size_t len;
		int other_hook, unknown, parse;
	} v[] = {
		{ "version 5", NF_INET_PRE_ROUTING, IF_A, v5, sizeof(v5), 0, 0, 1 },
		{ "IHL 4", NF_INET_PRE_ROUTING, IF_A, v4_ihl4, sizeof(v4_ihl4), 0, 0, 1 },
		{ "short v6", NF_INET_PRE_ROUTING, IF_A, v6_short, sizeof(v6_short), 0, 0, 1 },
		{ "empty", NF_INET_PRE_ROUTING, IF_B, v5, 0, 0, 0, 1 },
		/* The indev is looked at before the bytes. */
		{ "junk, unknown indev", NF_INET_PRE_ROUTING, IF_UNKNOWN, v5, sizeof(v5), 0, 1, 0 },
		{ "LOCAL_OUT", NF_INET_LOCAL_OUT, IF_A, v5, sizeof(v5), 1, 0, 0 },
		{ "FORWARD", NF_INET_FORWARD, IF_A, v5, sizeof(v5), 1, 0, 0 },
		{ "POST_ROUTING", NF_INET_POST_ROUTING, IF_A, v5, sizeof(v5), 1, 0, 0 },
	};
	struct pol_tenant_rt before[POL_TENANTS_MAX];
	struct cxd_nfq_mark mark;
	struct policer *pl;
	uint8_t spoof[PKT_MAX];
	struct pk k = { AF_INET, B4, R4, PK_UDP, 100, false, 0 };
	size_t len;
	unsigned int i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(v); i++) {
		pl = pl_new(true);
		memcpy(before, pl->tenants, sizeof(before));
		expect_ret(v[i].what, (int)queue_raw(pl, v[i].hook, v[i].indev,
						     v[i].b, v[i].len, 1500, MARK,
						     &mark),
			   v[i].parse ? NF_DROP : NF_ACCEPT);
		expect_ret(v[i].what, mark.set, 0);
		expect_ret(v[i].what, (int)pl->st.other_hook, v[i].other_hook);
		expect_ret(v[i].what, (int)pl->st.unknown_indev, v[i].unknown);
		expect_ret(v[i].what, (int)pl->st.parse_errors, v[i].parse);
		if (v[i].parse) {
			const struct pol_tenant_rt *t = &pl->tenants[
				v[i].indev == IF_A ? T_A : T_B];

			expect_ret(v[i].what, (int)t->drops[POL_DROP_UNREADABLE], 1);
			expect_ret(v[i].what, (int)t->dropped_bytes[POL_DROP_UNREADABLE],
				   1500);
			if (memcmp(&t->pol, &before[v[i].indev == IF_A ? T_A : T_B].pol,
				   sizeof(t->pol)) != 0)
				fail_msg("%s: a bucket was touched", v[i].what);
		} else if (memcmp(before, pl->tenants, sizeof(before)) != 0) {
			fail_msg("%s: a tenant was charged", v[i].what);
		}
		free(pl);
	}
	/* On another hook even a spoofed packet is not ours to judge. */
	pl = pl_new(true);
	len = pk_build(spoof, &k);
	assert_int_equal(queue_raw(pl, NF_INET_LOCAL_IN, IF_A, spoof, len,
				   (uint32_t)len, 0, &mark), NF_ACCEPT);
	assert_int_equal(pl->st.other_hook, 1);
	assert_int_equal(pl->tenants[T_A].packets, 0);
	free(pl);
}

/*
 * A fresh tenant's first ConEx packet drains by ip_bytes times the larger
 * of its re-echo flags (L, E) and its credit flag (C): the once-only rule
 * of conex/charge.h. X alone drains nothing; X=0 with flags is Not-ConEx
 * (RFC 7837 §4): no drain, tunnel.
 */
static void test_conex_drain(void **state)
{
	static const struct {
		bool enc;
		uint8_t bits;
		unsigned int flags;	/* times ip_bytes is charged */
		bool conex;
	} v[] = {
		{ true, CX_SIG_X, 0, true },
		{ true, CX_SIG_X | CX_SIG_L, 1, true },
		{ true, CX_SIG_X | CX_SIG_E, 1, true },
		{ true, CX_SIG_X | CX_SIG_C, 1, true },
		{ true, CX_SIG_X | CX_SIG_L | CX_SIG_C, 1, true },
		{ true, CX_SIG_X | CX_SIG_L | CX_SIG_E, 2, true },
		{ true, CX_SIG_X | CX_SIG_LEC, 2, true },
		{ true, CX_SIG_L, 0, false },
		{ true, CX_SIG_E | CX_SIG_C, 0, false },
		{ true, CX_SIG_LEC, 0, false },
		{ true, 0, 0, false },
		{ false, 0, 0, false },
	};
	static const int families[] = { AF_INET, AF_INET6 };
	struct cxd_nfq_mark mark;
	struct policer *pl;
	struct pol_tenant_rt *t;
	char what[64];
	struct pk k;
	int64_t lvl0;
	uint32_t len;
	unsigned int i, f;

	(void)state;
	for (f = 0; f < CX_ARRAY_SIZE(families); f++) {
		for (i = 0; i < CX_ARRAY_SIZE(v); i++) {
			snprintf(what, sizeof(what), "%s bits 0x%02x%s",
				 families[f] == AF_INET ? "v4" : "v6", v[i].bits,
				 v[i].enc ? "" : " (no field)");
			pl = pl_new(true);
			t = &pl->tenants[T_A];
			lvl0 = level(pl, T_A);
			k = (struct pk){ families[f], families[f] == AF_INET ? A4 : A6,
					 families[f] == AF_INET ? R4 : R6, PK_TCP,
					 1000, v[i].enc, v[i].bits };
			expect_ret(what, (int)queue_pk(pl, IF_A, &k, 0, &mark, &len),
				   NF_ACCEPT);
			expect_ret(what, (int)(lvl0 - level(pl, T_A)),
				   (int)(len * v[i].flags));
			expect_ret(what, (int)t->pol.c.charged_bytes,
				   (int)(len * v[i].flags));
			expect_ret(what, (int)t->conex_packets, v[i].conex);
			expect_ret(what, (int)t->conex_bytes, v[i].conex ? (int)len : 0);
			expect_ret(what, (int)t->l_bytes,
				   v[i].conex && (v[i].bits & CX_SIG_L) ? (int)len : 0);
			expect_ret(what, (int)t->e_bytes,
				   v[i].conex && (v[i].bits & CX_SIG_E) ? (int)len : 0);
			expect_ret(what, (int)t->c_bytes,
				   v[i].conex && (v[i].bits & CX_SIG_C) ? (int)len : 0);
			expect_ret(what, (int)t->tunnel_packets, !v[i].conex);
			expect_ret(what, (int)t->tunnel_bytes, v[i].conex ? 0 : (int)len);
			expect_ret(what, mark.set, !v[i].conex);
			expect_ret(what, (int)t->packets, 1);
			expect_ret(what, (int)t->bytes, (int)len);
			free(pl);
		}
	}
}

/*
 * One guest interleaving ConEx and Not-ConEx packets to a remote prefix:
 * the tunnel mark follows each packet, correcting the kernel's guess.
 */
#define SW_TCP(f, s, d, enc, bits, pay) { f, s, d, PK_TCP, pay, enc, bits }
static const struct {
	const char *what;
	struct pk k;
	uint32_t guess;
	bool set;		/* with a tunnel */
	uint32_t value;
	bool conex, tunnel;
} switch_seq[] = {
	{ "conex v4, wrong guess", SW_TCP(AF_INET, A4, R4, true, CX_SIG_X | CX_SIG_E, 1000),
	  MARK, true, 0, true, false },
	{ "conex v4, no guess", SW_TCP(AF_INET, A4, R4, true, CX_SIG_X, 1000),
	  0, false, 0, true, false },
	{ "udp v4, no guess", { AF_INET, A4, R4, PK_UDP, 200, false, 0 },
	  0, true, MARK, false, true },
	{ "udp v4, right guess", { AF_INET, A4, R4, PK_UDP, 200, false, 0 },
	  MARK, false, 0, false, true },
	{ "conex v4 again, wrong guess", SW_TCP(AF_INET, A4, R4, true, CX_SIG_X | CX_SIG_C, 500),
	  MARK, true, 0, true, false },
	{ "pure ack without X", SW_TCP(AF_INET, A4, R4, false, 0, 0),
	  0, true, MARK, false, true },
	{ "pure ack, X=0 encoded", SW_TCP(AF_INET, A4, R4, true, 0, 0),
	  0, true, MARK, false, true },
	{ "icmp v4, right guess", { AF_INET, A4, R4, PK_ICMP, 56, false, 0 },
	  MARK, false, 0, false, true },
	{ "icmp v4, other mark", { AF_INET, A4, R4, PK_ICMP, 56, false, 0 },
	  OTHER_MARK, true, MARK, false, true },
	{ "conex v4, other mark", SW_TCP(AF_INET, A4, R4, true, CX_SIG_X, 1000),
	  OTHER_MARK, false, 0, true, false },
	{ "X=0 with L", SW_TCP(AF_INET, A4, R4, true, CX_SIG_L, 1000),
	  0, true, MARK, false, true },
	{ "conex v6, wrong guess", SW_TCP(AF_INET6, A6, R6, true, CX_SIG_X | CX_SIG_L, 1000),
	  MARK, true, 0, true, false },
	{ "udp v6, no guess", { AF_INET6, A6, R6, PK_UDP, 300, false, 0 },
	  0, true, MARK, false, true },
	{ "icmpv6, no guess", { AF_INET6, A6, R6, PK_ICMP, 56, false, 0 },
	  0, true, MARK, false, true },
	{ "conex v6, no guess", SW_TCP(AF_INET6, A6, R6, true, CX_SIG_X, 1000),
	  0, false, 0, true, false },
	{ "tcp v6 no CDO, no guess", SW_TCP(AF_INET6, A6, R6, false, 0, 1000),
	  0, true, MARK, false, true },
	/* Not remote: the mark finds no route in the tunnel table. */
	{ "udp v4 local, no guess", { AF_INET, A4, N4, PK_UDP, 200, false, 0 },
	  0, false, 0, false, false },
	{ "udp v4 local, guess", { AF_INET, A4, N4, PK_UDP, 200, false, 0 },
	  MARK, false, 0, false, false },
	{ "udp v6 local, guess", { AF_INET6, A6, N6, PK_UDP, 200, false, 0 },
	  MARK, false, 0, false, false },
	{ "conex v4 local, guess", SW_TCP(AF_INET, A4, N4, true, CX_SIG_X | CX_SIG_E, 100),
	  MARK, false, 0, true, false },
	{ "conex v6 local, no guess", SW_TCP(AF_INET6, A6, N6, true, CX_SIG_X, 100),
	  0, false, 0, true, false },
};

static void run_switch(bool tunnel)
{
	struct pol_tenant_rt want;
	struct cxd_nfq_mark mark;
	struct policer *pl = pl_new(tunnel);
	const struct pol_tenant_rt *t = &pl->tenants[T_A];
	uint64_t fixes = 0;
	uint32_t len;
	unsigned int i, r;

	memset(&want, 0, sizeof(want));
	/* Twice through, so that every kind follows every other. */
	for (r = 0; r < 2; r++) {
		for (i = 0; i < CX_ARRAY_SIZE(switch_seq); i++) {
			const char *what = switch_seq[i].what;
			uint8_t sig = switch_seq[i].k.bits;
			bool set = tunnel && switch_seq[i].set;

			expect_ret(what, (int)queue_pk(pl, IF_A, &switch_seq[i].k,
						       switch_seq[i].guess, &mark,
						       &len), NF_ACCEPT);
			expect_ret(what, mark.set, set);
			if (set)
				expect_ret(what, (int)mark.value,
					   (int)switch_seq[i].value);
			fixes += set;
			want.packets++;
			want.bytes += len;
			if (switch_seq[i].conex) {
				want.conex_packets++;
				want.conex_bytes += len;
				want.l_bytes += sig & CX_SIG_L ? len : 0;
				want.e_bytes += sig & CX_SIG_E ? len : 0;
				want.c_bytes += sig & CX_SIG_C ? len : 0;
			}
			if (tunnel && switch_seq[i].tunnel) {
				want.tunnel_packets++;
				want.tunnel_bytes += len;
			}
			expect_ret(what, (int)t->packets, (int)want.packets);
			expect_ret(what, (int)t->conex_packets, (int)want.conex_packets);
			expect_ret(what, (int)t->tunnel_packets, (int)want.tunnel_packets);
			expect_ret(what, (int)pl->st.mark_fixes, (int)fixes);
		}
	}
	assert_int_equal(t->bytes, want.bytes);
	assert_int_equal(t->conex_bytes, want.conex_bytes);
	assert_int_equal(t->l_bytes, want.l_bytes);
	assert_int_equal(t->e_bytes, want.e_bytes);
	assert_int_equal(t->c_bytes, want.c_bytes);
	assert_int_equal(t->tunnel_bytes, want.tunnel_bytes);
	assert_int_equal(drops_all(t), 0);
	if (!tunnel)
		assert_int_equal(pl->st.mark_fixes, 0);
	free(pl);
}

/*
 * tunnel_mark VALUE/MASK: the policer reads and writes only the mask's
 * bits, so another tool's bits of the same packet mark survive.
 */
static void test_mark_mask(void **state)
{
	static const struct {
		const char *what;
		struct pk k;
		uint32_t guess;
		bool set;
		uint32_t value;
	} v[] = {
		{ "udp, no guess, other bit", { AF_INET, A4, R4, PK_UDP, 200, false, 0 },
		  0x1, true, 0x10001 },
		{ "udp, right guess, other bit", { AF_INET, A4, R4, PK_UDP, 200, false, 0 },
		  0x10001, false, 0 },
		{ "conex, wrong guess, other bit", SW_TCP(AF_INET, A4, R4, true, CX_SIG_X, 100),
		  0x10001, true, 0x1 },
		{ "conex, right guess, other bits", SW_TCP(AF_INET, A4, R4, true, CX_SIG_X, 100),
		  0xfffeffff, false, 0 },
		{ "udp v6, other bits only", { AF_INET6, A6, R6, PK_UDP, 200, false, 0 },
		  0xfffeffff, true, 0xffffffff },
		{ "udp local, other bit", { AF_INET, A4, N4, PK_UDP, 200, false, 0 },
		  0x1, false, 0 },
	};
	struct cxd_nfq_mark mark;
	struct policer *pl = pl_new(true);
	size_t i;

	(void)state;
	pl->cfg.mark = 0x10000;
	pl->cfg.mark_mask = 0x10000;
	for (i = 0; i < CX_ARRAY_SIZE(v); i++) {
		expect_ret(v[i].what, (int)queue_pk(pl, IF_A, &v[i].k, v[i].guess, &mark,
						    NULL), NF_ACCEPT);
		expect_ret(v[i].what, mark.set, v[i].set);
		if (v[i].set)
			expect_ret(v[i].what, (int)mark.value, (int)v[i].value);
	}
	free(pl);
}

static void test_switch_per_packet(void **state)
{
	(void)state;
	run_switch(true);
}

static void test_no_tunnel_no_mark(void **state)
{
	(void)state;
	run_switch(false);
}

/* Empties tc's bucket at the current time: 3000 -> -3000, p still 0. */
static void drain_tc(struct policer *pl)
{
	struct pk k = { AF_INET, C4, R4, PK_TCP, 960, true, CX_SIG_X | CX_SIG_E };
	struct cxd_nfq_mark mark;
	uint32_t len;
	unsigned int i;

	assert_int_equal(level(pl, T_C), 3000);
	for (i = 0; i < 6; i++)
		assert_int_equal(queue_pk(pl, IF_C, &k, 0, &mark, &len), NF_ACCEPT);
	assert_int_equal(len, 1000);
	assert_int_equal(level(pl, T_C), -3000);
	assert_int_equal(pl->tenants[T_C].pol.c.debt_capped_bytes, 0);
	assert_int_equal(drops_all(&pl->tenants[T_C]), 0);
	assert_int_equal(drop_ppm(pl, T_C), 0);
}

/* (d - e)^2 <= 100 var: d within 10 standard deviations of e. */
static void assert_within_10sd(const char *what, uint64_t d, double e, double var)
{
	double x = (double)d - e;

	if (x * x > 100.0 * var + 1.0)
		fail_msg("%s: %llu drops, expected %.1f (variance %.1f)", what,
			 (unsigned long long)d, e, var);
}

/*
 * (1) While tc's bucket stays empty its drops rise with p (the 5 ms ramp,
 * capped at 1 by a debt of at least half the depth); (3) tb, in the same
 * period, loses nothing.
 */
static void test_police_drops_rise(void **state)
{
	enum { STEPS = 60, PER_STEP = 200, WINDOW = 10 };
	struct pk uc = { AF_INET, C4, R4, PK_UDP, 972, false, 0 };
	struct pk ub = { AF_INET, B4, R4, PK_UDP, 972, false, 0 };
	struct pk mb = { AF_INET, B4, R4, PK_TCP, 60, true, CX_SIG_X | CX_SIG_E };
	uint64_t win[STEPS / WINDOW] = { 0 }, b_packets = 0, d;
	double e[STEPS / WINDOW] = { 0 }, var[STEPS / WINDOW] = { 0 }, p;
	struct cxd_nfq_mark mark;
	struct policer *pl = pl_new(true);
	unsigned int s, i, w;
	uint32_t ppm;
	char what[32];

	(void)state;
	drain_tc(pl);
	for (s = 0; s < STEPS; s++) {
		clock_ns = T0_NS + s * 100 * US;
		ppm = drop_ppm(pl, T_C);
		/* Over since T0: p_ns = elapsed, ramp 5 ms, debt >= 1500. */
		assert_int_equal(ppm, s * 20000 < 1000000 ? s * 20000 : 1000000);
		assert_true(level(pl, T_C) <= 0);
		d = drops_all(&pl->tenants[T_C]);
		for (i = 0; i < PER_STEP; i++) {
			queue_pk(pl, IF_C, &uc, MARK, &mark, NULL);
			if (i % 20 == 0) {
				assert_int_equal(queue_pk(pl, IF_B, &ub, 0, &mark, NULL),
						 NF_ACCEPT);
				assert_int_equal(queue_pk(pl, IF_B, &mb, 0, &mark, NULL),
						 NF_ACCEPT);
				b_packets += 2;
			}
		}
		d = drops_all(&pl->tenants[T_C]) - d;
		if (ppm == 0)
			assert_int_equal(d, 0);
		if (ppm == 1000000)
			assert_int_equal(d, PER_STEP);
		w = s / WINDOW;
		p = ppm / 1e6;
		win[w] += d;
		e[w] += PER_STEP * p;
		var[w] += PER_STEP * p * (1 - p);
	}
	for (w = 0; w < STEPS / WINDOW; w++) {
		snprintf(what, sizeof(what), "window %u", w);
		assert_within_10sd(what, win[w], e[w], var[w]);
		if (w > 0 && win[w] <= win[w - 1])
			fail_msg("window %u: %llu drops, not more than %llu", w,
				 (unsigned long long)win[w],
				 (unsigned long long)win[w - 1]);
	}
	assert_int_equal(pl->tenants[T_C].drops[POL_DROP_POLICE],
			 win[0] + win[1] + win[2] + win[3] + win[4] + win[5]);
	assert_int_equal(pl->tenants[T_C].drops[POL_DROP_SPOOF], 0);
	assert_int_equal(pl->tenants[T_C].packets, STEPS * PER_STEP + 6);
	assert_int_equal(drops_all(&pl->tenants[T_B]), 0);
	assert_int_equal(pl->tenants[T_B].packets, b_packets);
	assert_int_equal(drop_ppm(pl, T_B), 0);
	assert_int_equal(drops_all(&pl->tenants[T_A]), 0);
	free(pl);
}

/*
 * (2) At p = 0.5, unmarked packets are dropped with p and ConEx-Marked
 * ones with p^2 (RFC 7837 §8). 10 000 of each: the bounds are ten
 * standard deviations of a binomial (50 and 43), so no seed fails them.
 */
static void test_police_marked_less(void **state)
{
	enum { N = 10000 };
	struct pk u = { AF_INET, C4, R4, PK_UDP, 972, false, 0 };
	struct pk m = { AF_INET, C4, R4, PK_TCP, 960, true, CX_SIG_X | CX_SIG_E };
	struct pk x = { AF_INET, C4, R4, PK_TCP, 960, true, CX_SIG_X };
	uint64_t du = 0, dm = 0, dx = 0, d;
	struct cxd_nfq_mark mark;
	struct policer *pl = pl_new(true);
	const struct pol_tenant_rt *t = &pl->tenants[T_C];
	unsigned int i;

	(void)state;
	drain_tc(pl);
	clock_ns = T0_NS + 2500 * US;
	assert_int_equal(drop_ppm(pl, T_C), 500000);
	for (i = 0; i < N; i++) {
		d = drops_all(t);
		queue_pk(pl, IF_C, &u, 0, &mark, NULL);
		du += drops_all(t) - d;
		d = drops_all(t);
		queue_pk(pl, IF_C, &m, 0, &mark, NULL);
		dm += drops_all(t) - d;
		/* X alone carries no marks: treated as unmarked. */
		d = drops_all(t);
		queue_pk(pl, IF_C, &x, 0, &mark, NULL);
		dx += drops_all(t) - d;
	}
	/* The clock stood still and the debt stayed past half: p unchanged. */
	assert_int_equal(drop_ppm(pl, T_C), 500000);
	assert_within_10sd("unmarked", du, N * 0.5, N * 0.25);
	assert_within_10sd("X only", dx, N * 0.5, N * 0.25);
	assert_within_10sd("marked", dm, N * 0.25, N * 0.1875);
	assert_true(dm < du);
	assert_int_equal(t->drops[POL_DROP_POLICE], du + dm + dx);
	assert_int_equal(t->dropped_bytes[POL_DROP_POLICE], 1000 * (du + dm + dx));
	/* Passed marked packets were counted as E; dropped ones were not. */
	assert_int_equal(t->e_bytes, 1000 * (N - dm + 6));
	free(pl);
}

/*
 * (4) With no traffic the bucket refills and p runs down: drops stop. Not
 * before: while the debt lasts every packet is dropped.
 */
static void test_police_refill(void **state)
{
	struct pk u = { AF_INET, C4, R4, PK_UDP, 972, false, 0 };
	struct pk m = { AF_INET, C4, R4, PK_TCP, 960, true, CX_SIG_X | CX_SIG_E };
	struct cxd_nfq_mark mark;
	struct policer *pl = pl_new(true);
	const struct pol_tenant_rt *t = &pl->tenants[T_C];
	unsigned int i;
	uint64_t d;

	(void)state;
	drain_tc(pl);
	/* 100 ms on: level -2000, debt past half, p = 1. */
	clock_ns = T0_NS + 100 * MS;
	assert_int_equal(level(pl, T_C), -2000);
	for (i = 0; i < 10; i++)
		assert_int_equal(queue_pk(pl, IF_C, &u, 0, &mark, NULL), NF_DROP);
	assert_int_equal(queue_pk(pl, IF_C, &m, 0, &mark, NULL), NF_DROP);
	/* Dropped marks do not drain. */
	assert_int_equal(level(pl, T_C), -2000);
	d = drops_all(t);
	assert_int_equal(d, 11);
	/* 6000 bytes at 10 bytes/ms is 600 ms; then p falls over 5 ms. */
	clock_ns = T0_NS + 1000 * MS;
	assert_int_equal(level(pl, T_C), 3000);
	assert_int_equal(drop_ppm(pl, T_C), 0);
	for (i = 0; i < 1000; i++)
		assert_int_equal(queue_pk(pl, IF_C, &u, 0, &mark, NULL), NF_ACCEPT);
	/* Marks within the bucket pass too, and drain it. */
	assert_int_equal(queue_pk(pl, IF_C, &m, 0, &mark, NULL), NF_ACCEPT);
	assert_int_equal(level(pl, T_C), 2000);
	assert_int_equal(drops_all(t), d);
	free(pl);
}

/* tc at p = 1: drained at T0, then over for a whole ramp. */
static void tc_at_p1(struct policer *pl)
{
	drain_tc(pl);
	clock_ns = T0_NS + 5 * MS;
	assert_int_equal(drop_ppm(pl, T_C), 1000000);
}

/*
 * L re-echoing the policer's own drop is forgiven byte for byte: the
 * retransmission of a dropped payload packet drains nothing for L, a
 * second one drains fully. Drops without payload (pure ACK, UDP) are not
 * retransmitted and earn nothing.
 */
static void test_police_forgive(void **state)
{
	struct pk ack = { AF_INET, C4, R4, PK_TCP, 0, true, CX_SIG_X };
	struct pk udp = { AF_INET, C4, R4, PK_UDP, 972, false, 0 };
	struct pk data = { AF_INET, C4, R4, PK_TCP, 960, true, CX_SIG_X };
	struct pk retx = { AF_INET, C4, R4, PK_TCP, 960, true, CX_SIG_X | CX_SIG_L };
	struct pk big = { AF_INET, C4, R4, PK_TCP, 1460, true,
			  CX_SIG_X | CX_SIG_L | CX_SIG_E };
	struct cxd_nfq_mark mark;
	struct policer *pl = pl_new(true);
	struct pol_tenant_rt *t = &pl->tenants[T_C];
	unsigned int i;

	(void)state;
	tc_at_p1(pl);
	assert_int_equal(queue_pk(pl, IF_C, &ack, 0, &mark, NULL), NF_DROP);
	assert_int_equal(queue_pk(pl, IF_C, &udp, 0, &mark, NULL), NF_DROP);
	assert_int_equal(t->forgive_bytes, 0);
	assert_int_equal(queue_pk(pl, IF_C, &data, 0, &mark, NULL), NF_DROP);
	assert_int_equal(t->forgive_bytes, 1000);
	assert_int_equal(t->forgiven_bytes, 0);

	clock_ns = T0_NS + 1000 * MS;
	assert_int_equal(level(pl, T_C), 3000);
	assert_int_equal(queue_pk(pl, IF_C, &retx, 0, &mark, NULL), NF_ACCEPT);
	assert_int_equal(level(pl, T_C), 3000);
	assert_int_equal(t->forgive_bytes, 0);
	assert_int_equal(t->forgiven_bytes, 1000);
	assert_int_equal(t->l_bytes, 1000);
	assert_int_equal(queue_pk(pl, IF_C, &retx, 0, &mark, NULL), NF_ACCEPT);
	assert_int_equal(level(pl, T_C), 2000);
	assert_int_equal(t->forgiven_bytes, 1000);
	assert_int_equal(t->l_bytes, 2000);
	free(pl);

	/* Forgiveness covers at most the bytes dropped, and L only (not E). */
	pl = pl_new(true);
	t = &pl->tenants[T_C];
	tc_at_p1(pl);
	assert_int_equal(queue_pk(pl, IF_C, &data, 0, &mark, NULL), NF_DROP);
	clock_ns = T0_NS + 1000 * MS;
	assert_int_equal(queue_pk(pl, IF_C, &big, 0, &mark, NULL), NF_ACCEPT);
	/* 1500 bytes, L and E: (1500 - 1000) + 1500. */
	assert_int_equal(level(pl, T_C), 1000);
	assert_int_equal(t->forgiven_bytes, 1000);
	assert_int_equal(t->forgive_bytes, 0);
	free(pl);

	/* What may be forgiven is bounded by the burst. */
	pl = pl_new(true);
	t = &pl->tenants[T_C];
	tc_at_p1(pl);
	for (i = 0; i < 10; i++)
		assert_int_equal(queue_pk(pl, IF_C, &data, 0, &mark, NULL), NF_DROP);
	assert_int_equal(t->forgive_bytes, 3000);
	/* An L retransmission that is itself dropped forgives nothing. */
	assert_int_equal(queue_pk(pl, IF_C, &retx, 0, &mark, NULL), NF_DROP);
	assert_int_equal(t->forgive_bytes, 3000);
	assert_int_equal(t->forgiven_bytes, 0);
	/* Another tenant's drops are not this one's to forgive. */
	assert_int_equal(pl->tenants[T_A].forgive_bytes, 0);
	free(pl);
}

/* Valid packets for the truncation test, on the tenants they reach. */
static const struct {
	const char *what;
	uint32_t indev;
	struct pk k;
	uint32_t guess;
	bool policed;		/* sent with tc at p = 1 */
} trunc_v[] = {
	{ "v4 conex tcp", IF_A,
	  SW_TCP(AF_INET, A4, R4, true, CX_SIG_X | CX_SIG_LEC, 1000), MARK, false },
	{ "v4 X=0 L", IF_A, SW_TCP(AF_INET, A4, R4, true, CX_SIG_L, 1000), 0, false },
	{ "v4 pure ack", IF_A, SW_TCP(AF_INET, A4, R4, false, 0, 0), 0, false },
	{ "v4 udp", IF_A, { AF_INET, A4, R4, PK_UDP, 100, false, 0 }, 0, false },
	{ "v4 icmp", IF_A, { AF_INET, A4, R4, PK_ICMP, 56, false, 0 }, 0, false },
	{ "v4 icmp local", IF_A, { AF_INET, A4, N4, PK_ICMP, 56, false, 0 }, MARK, false },
	{ "v6 conex tcp", IF_A,
	  SW_TCP(AF_INET6, A6, R6, true, CX_SIG_X | CX_SIG_E, 1000), MARK, false },
	{ "v6 X=0 C", IF_A, SW_TCP(AF_INET6, A6, R6, true, CX_SIG_C, 1000), 0, false },
	{ "v6 tcp", IF_A, SW_TCP(AF_INET6, A6, R6, false, 0, 1000), 0, false },
	{ "v6 udp", IF_A, { AF_INET6, A6, R6, PK_UDP, 100, false, 0 }, 0, false },
	{ "v6 icmp link-local", IF_A,
	  { AF_INET6, "fe80::1", R6, PK_ICMP, 24, false, 0 }, 0, false },
	{ "v4 spoof", IF_A, { AF_INET, B4, R4, PK_UDP, 100, false, 0 }, 0, false },
	{ "v6 spoof", IF_B,
	  SW_TCP(AF_INET6, A6, R6, true, CX_SIG_X | CX_SIG_E, 100), 0, false },
	{ "v4 policed udp", IF_C, { AF_INET, C4, R4, PK_UDP, 100, false, 0 }, 0, true },
	{ "v4 policed data", IF_C,
	  SW_TCP(AF_INET, C4, R4, true, CX_SIG_X | CX_SIG_E, 1000), 0, true },
};

/*
 * Every packet at every shorter copy: no over-read (a heap copy of
 * exactly cap_len bytes), ACCEPT with a parse error and nothing charged,
 * or, where the prefix holds every header the decision needs, exactly the
 * whole packet's result.
 */
static void test_truncated(void **state)
{
	struct policer *base[2], *full, *work;
	struct cxd_nfq_mark fmark, mark;
	unsigned int fv, v, i;
	uint8_t b[PKT_MAX];
	size_t len, cap, c;
	uint64_t parsed;
	char what[80];

	(void)state;
	base[0] = pl_new(true);
	base[1] = pl_new(true);
	tc_at_p1(base[1]);
	full = malloc(sizeof(*full));
	work = malloc(sizeof(*work));
	assert_non_null(full);
	assert_non_null(work);
	for (i = 0; i < CX_ARRAY_SIZE(trunc_v); i++) {
		const struct policer *from = base[trunc_v[i].policed];

		len = pk_build(b, &trunc_v[i].k);
		cap = len < CXD_NFQ_COPY_DEFAULT ? len : CXD_NFQ_COPY_DEFAULT;
		memcpy(full, from, sizeof(*full));
		fv = queue_raw(full, NF_INET_PRE_ROUTING, trunc_v[i].indev, b, cap,
			       (uint32_t)len, trunc_v[i].guess, &fmark);
		expect_ret(trunc_v[i].what, (int)full->st.parse_errors, 0);
		parsed = 0;
		for (c = 0; c < cap; c++) {
			snprintf(what, sizeof(what), "%s, %zu of %zu bytes",
				 trunc_v[i].what, c, cap);
			memcpy(work, from, sizeof(*work));
			v = queue_raw(work, NF_INET_PRE_ROUTING, trunc_v[i].indev,
				      b, c, (uint32_t)len, trunc_v[i].guess, &mark);
			if (v != NF_ACCEPT && v != NF_DROP)
				fail_msg("%s: verdict %u", what, v);
			if (work->st.parse_errors == 1) {
				unsigned int t;

				/* Unreadable: dropped and counted, not charged. */
				expect_ret(what, (int)v, NF_DROP);
				expect_ret(what, mark.set, 0);
				for (t = 0; t < POL_TENANTS_MAX; t++)
					if (memcmp(&work->tenants[t].pol,
						   &from->tenants[t].pol,
						   sizeof(work->tenants[t].pol)) != 0)
						fail_msg("%s: charged on a parse error",
							 what);
				continue;
			}
			parsed++;
			expect_ret(what, (int)work->st.parse_errors, 0);
			expect_ret(what, (int)v, (int)fv);
			expect_ret(what, mark.set, fmark.set);
			expect_ret(what, (int)mark.value, (int)fmark.value);
			if (memcmp(work->tenants, full->tenants,
				   sizeof(work->tenants)) != 0 ||
			    memcmp(&work->st, &full->st, sizeof(work->st)) != 0)
				fail_msg("%s: not the whole packet's result", what);
		}
		/* ICMP needs only the IP header(s): those prefixes decide. */
		if (trunc_v[i].k.kind == PK_ICMP)
			expect_ret(trunc_v[i].what, parsed > 0, 1);
	}
	free(work);
	free(full);
	free(base[1]);
	free(base[0]);
}

/*
 * Guests never reach the underlay (this host's and the peers' addresses,
 * where their own VXLAN would be taken for the tunnel's) nor a 'protect'
 * prefix (the token bank, management): dropped and counted, not charged.
 */
static void test_protected(void **state)
{
	static const struct {
		const char *what, *dst;
		int family;
		int kind;
		bool dropped;
	} v[] = {
		{ "own underlay", "198.19.1.1", AF_INET, PK_UDP, true },
		{ "peer underlay", "198.19.2.2", AF_INET, PK_UDP, true },
		{ "peer underlay, TCP", "198.19.2.2", AF_INET, PK_TCP, true },
		{ "bank prefix", "198.19.200.9", AF_INET, PK_TCP, true },
		{ "v6 protect prefix", "2001:2:0:ff::9", AF_INET6, PK_UDP, true },
		{ "next to the peer", "198.19.2.3", AF_INET, PK_UDP, false },
		{ "remote guest", R4, AF_INET, PK_UDP, false },
	};
	struct cxd_nfq_mark mark;
	struct policer *pl;
	struct pol_tenant_rt *t;
	unsigned int i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(v); i++) {
		struct pk k = { v[i].family, v[i].family == AF_INET ? A4 : A6,
				v[i].dst, v[i].kind, 100, false, 0 };

		pl = pl_new(true);
		t = &pl->tenants[T_A];
		expect_ret(v[i].what, (int)queue_pk(pl, IF_A, &k, 0, &mark, NULL),
			   v[i].dropped ? NF_DROP : NF_ACCEPT);
		expect_ret(v[i].what, (int)t->drops[POL_DROP_PROTECTED],
			   v[i].dropped ? 1 : 0);
		expect_ret(v[i].what, (int)t->pol.c.charged_bytes, 0);
		free(pl);
	}
}

/*
 * X alone on UDP declares nothing and is not what the marker sends: it
 * goes the Not-ConEx way (the tunnel, charged by its CE), counted. UDP
 * carrying marks pays them as ConEx; X-only TCP stays ConEx.
 */
static void test_xonly_non_tcp(void **state)
{
	static const struct {
		const char *what;
		int kind;
		uint8_t bits;
		bool conex, tunnel;
		unsigned int xonly_other;
	} v[] = {
		{ "X-only UDP", PK_UDP, CX_SIG_X, false, true, 1 },
		{ "X+E UDP", PK_UDP, CX_SIG_X | CX_SIG_E, true, false, 0 },
		{ "X-only TCP", PK_TCP, CX_SIG_X, true, false, 0 },
	};
	struct cxd_nfq_mark mark;
	struct policer *pl;
	struct pol_tenant_rt *t;
	unsigned int i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(v); i++) {
		struct pk k = { AF_INET, A4, R4, v[i].kind, 500, true, v[i].bits };

		pl = pl_new(true);
		t = &pl->tenants[T_A];
		expect_ret(v[i].what, (int)queue_pk(pl, IF_A, &k, 0, &mark, NULL),
			   NF_ACCEPT);
		expect_ret(v[i].what, (int)t->conex_packets, v[i].conex);
		expect_ret(v[i].what, (int)t->tunnel_packets, v[i].tunnel);
		expect_ret(v[i].what, (int)t->xonly_other_packets, (int)v[i].xonly_other);
		free(pl);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xonly_non_tcp),
		cmocka_unit_test(test_protected),
		cmocka_unit_test(test_tenant_by_interface),
		cmocka_unit_test(test_spoof_log_limited),
		cmocka_unit_test(test_ignored),
		cmocka_unit_test(test_conex_drain),
		cmocka_unit_test(test_switch_per_packet),
		cmocka_unit_test(test_mark_mask),
		cmocka_unit_test(test_no_tunnel_no_mark),
		cmocka_unit_test(test_police_drops_rise),
		cmocka_unit_test(test_police_marked_less),
		cmocka_unit_test(test_police_refill),
		cmocka_unit_test(test_police_forgive),
		cmocka_unit_test(test_truncated),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
