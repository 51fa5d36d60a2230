/*
 * Unit tests of conex-dump's pure parts (tools/conex-dump): pcap file and
 * record headers, link layers, packet reduction and per-direction
 * accounting. Packets are built here with libconex's own encoders
 * (cx_ipv4id_apply, cx_cdo_insert), so the decoder is held against them.
 */
#include "cxtest.h"

#include <errno.h>
#include <netinet/in.h>

#include <conex/byteorder.h>
#include <conex/cdo.h>
#include <conex/ipv4id.h>
#include <conex/signal.h>

#include "acct.h"
#include "pcap.h"
#include "pkt.h"

#define CX_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define S(x) (const uint8_t *)(x), sizeof(x) - 1

#define expect_ret(name, got, want) do {					\
	int got_ = (got), want_ = (want);					\
	if (got_ != want_)							\
		fail_msg("%s: %s = %d, want %d", (name), #got, got_, want_);	\
} while (0)

/* --- pcap file and record headers --- */

static void test_file_header(void **state)
{
	static const struct {
		const char *name;
		const uint8_t *p;
		size_t len;
		int want;
		bool le, nsec;
		uint32_t snaplen, linktype;
	} t[] = {
		{ "le usec raw", S("\xd4\xc3\xb2\xa1\x02\x00\x04\x00" "\0\0\0\0\0\0\0\0"
				   "\xff\xff\x00\x00\x65\x00\x00\x00"), 24, true, false, 65535, 101 },
		{ "be usec ether", S("\xa1\xb2\xc3\xd4\x00\x02\x00\x04" "\0\0\0\0\0\0\0\0"
				     "\x00\x00\x00\xc8\x00\x00\x00\x01"), 24, false, false, 200, 1 },
		{ "le nsec sll", S("\x4d\x3c\xb2\xa1\x02\x00\x04\x00" "\0\0\0\0\0\0\0\0"
				   "\x00\x00\x04\x00\x71\x00\x00\x00"), 24, true, true, 262144, 113 },
		{ "be nsec, FCS bits masked", S("\xa1\xb2\x3c\x4d\x00\x02\x00\x04" "\0\0\0\0\0\0\0\0"
						"\x00\x00\x00\xc8\x14\x00\x01\x14"), 24, false, true, 200, 276 },
		{ "pcapng", S("\x0a\x0d\x0d\x0a\x1c\x00\x00\x00" "\x4d\x3c\x2b\x1a\x01\x00\x00\x00"
			      "\xff\xff\xff\xff\xff\xff\xff\xff"), -EBADMSG, false, false, 0, 0 },
		{ "major 1", S("\xd4\xc3\xb2\xa1\x01\x00\x04\x00" "\0\0\0\0\0\0\0\0"
			       "\xff\xff\x00\x00\x65\x00\x00\x00"), -EBADMSG, false, false, 0, 0 },
	};
	size_t i, n;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(t); i++) {
		struct cxd_pcap_file f;
		uint8_t *q = cxt_dup(t[i].p, t[i].len);

		expect_ret(t[i].name, cxd_pcap_file_decode(q, t[i].len, &f), t[i].want);
		if (t[i].want >= 0) {
			assert_int_equal(f.le, t[i].le);
			assert_int_equal(f.nsec, t[i].nsec);
			assert_int_equal(f.snaplen, t[i].snaplen);
			assert_int_equal(f.linktype, t[i].linktype);
			assert_int_equal(f.version_major, 2);
			assert_int_equal(f.version_minor, 4);
		}
		free(q);
		for (n = 0; n < t[i].len; n++) {
			q = cxt_dup(t[i].p, n);
			expect_ret(t[i].name, cxd_pcap_file_decode(q, n, &f), -ENODATA);
			free(q);
		}
	}
	expect_ret("null", cxd_pcap_file_decode(NULL, 24, NULL), -EINVAL);
}

static void test_record_header(void **state)
{
	static const struct cxd_pcap_file le_us = { .le = true, .version_major = 2 };
	static const struct cxd_pcap_file be_ns = { .nsec = true, .version_major = 2 };
	static const struct {
		const char *name;
		const struct cxd_pcap_file *f;
		const uint8_t *p;
		size_t len;
		int want;
		uint64_t ts_ns;
		uint32_t caplen, origlen;
	} t[] = {
		{ "le usec", &le_us, S("\x01\x00\x00\x00\x40\x42\x0f\x00\xc8\x00\x00\x00\xdc\x05\x00\x00"),
		  -EBADMSG, 0, 0, 0 },	/* usec 1000000 is out of range */
		{ "le usec ok", &le_us, S("\x01\x00\x00\x00\x3f\x42\x0f\x00\xc8\x00\x00\x00\xdc\x05\x00\x00"),
		  16, 1999999000ULL, 200, 1500 },
		{ "be nsec", &be_ns, S("\x00\x00\x00\x02\x00\x00\x00\x05\x00\x00\x00\x28\x00\x00\x00\x28"),
		  16, 2000000005ULL, 40, 40 },
		{ "caplen > origlen", &be_ns, S("\x00\x00\x00\x02\x00\x00\x00\x05\x00\x00\x00\x29\x00\x00\x00\x28"),
		  -EBADMSG, 0, 0, 0 },
		{ "caplen > max", &be_ns, S("\x00\x00\x00\x02\x00\x00\x00\x05\x00\x04\x00\x01\x00\x05\x00\x00"),
		  -EBADMSG, 0, 0, 0 },
		{ "caplen = max", &be_ns, S("\x00\x00\x00\x02\x00\x00\x00\x05\x00\x04\x00\x00\x00\x05\x00\x00"),
		  16, 2000000005ULL, 262144, 0x50000 },
		{ "nsec 10^9", &be_ns, S("\x00\x00\x00\x02\x3b\x9a\xca\x00\x00\x00\x00\x28\x00\x00\x00\x28"),
		  -EBADMSG, 0, 0, 0 },
	};
	size_t i, n;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(t); i++) {
		struct cxd_pcap_rec r;
		uint8_t *q = cxt_dup(t[i].p, t[i].len);

		expect_ret(t[i].name, cxd_pcap_rec_decode(q, t[i].len, t[i].f, &r), t[i].want);
		if (t[i].want >= 0) {
			assert_int_equal(r.ts_ns, t[i].ts_ns);
			assert_int_equal(r.caplen, t[i].caplen);
			assert_int_equal(r.origlen, t[i].origlen);
		}
		free(q);
		for (n = 0; n < t[i].len; n++) {
			q = cxt_dup(t[i].p, n);
			expect_ret(t[i].name, cxd_pcap_rec_decode(q, n, t[i].f, &r), -ENODATA);
			free(q);
		}
	}
}

/* --- link layers --- */

#define MACS "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02"

static void test_link(void **state)
{
	static const struct {
		const char *name;
		uint32_t linktype;
		const uint8_t *p;
		size_t len;
		int want;
		enum cxd_l3 l3;
	} t[] = {
		{ "ether v4", CXD_LINKTYPE_ETHERNET, S(MACS "\x08\x00" "\x45"), 14, CXD_L3_IPV4 },
		{ "ether v6", CXD_LINKTYPE_ETHERNET, S(MACS "\x86\xdd" "\x60"), 14, CXD_L3_IPV6 },
		{ "ether arp", CXD_LINKTYPE_ETHERNET, S(MACS "\x08\x06" "\x00"), 14, CXD_L3_OTHER },
		{ "vlan v6", CXD_LINKTYPE_ETHERNET, S(MACS "\x81\x00\x00\x05\x86\xdd" "\x60"), 18, CXD_L3_IPV6 },
		{ "qinq v4", CXD_LINKTYPE_ETHERNET,
		  S(MACS "\x88\xa8\x00\x05\x81\x00\x00\x07\x08\x00" "\x45"), 22, CXD_L3_IPV4 },
		/* A third tag is not followed: what is behind it is not IP. */
		{ "three tags", CXD_LINKTYPE_ETHERNET,
		  S(MACS "\x88\xa8\x00\x05\x81\x00\x00\x07\x81\x00\x00\x01\x08\x00" "\x45"), 22, CXD_L3_OTHER },
		{ "raw v4", CXD_LINKTYPE_RAW, S("\x45\x00"), 0, CXD_L3_IPV4 },
		{ "raw v6", CXD_LINKTYPE_RAW, S("\x60\x00"), 0, CXD_L3_IPV6 },
		{ "raw junk", CXD_LINKTYPE_RAW, S("\x15\x00"), 0, CXD_L3_OTHER },
		{ "sll v4", CXD_LINKTYPE_LINUX_SLL,
		  S("\x00\x00\x00\x01\x00\x06" "\x02\x00\x00\x00\x00\x01\x00\x00" "\x08\x00" "\x45"), 16, CXD_L3_IPV4 },
		{ "sll2 v6", CXD_LINKTYPE_LINUX_SLL2,
		  S("\x86\xdd\x00\x00\x00\x00\x00\x02\x00\x01\x00\x06" "\x02\x00\x00\x00\x00\x01\x00\x00" "\x60"),
		  20, CXD_L3_IPV6 },
		{ "unknown linktype", 105, S(MACS "\x08\x00"), -ENOENT, CXD_L3_OTHER },
	};
	size_t i, n;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(t); i++) {
		enum cxd_l3 l3 = CXD_L3_OTHER;
		uint8_t *q = cxt_dup(t[i].p, t[i].len);

		expect_ret(t[i].name, cxd_link_decode(t[i].linktype, q, t[i].len, &l3), t[i].want);
		if (t[i].want >= 0)
			assert_int_equal(l3, t[i].l3);
		assert_int_equal(cxd_link_supported(t[i].linktype), t[i].want != -ENOENT);
		free(q);
		/* Every prefix shorter than the link header is -ENODATA; longer ones agree. */
		for (n = 0; n < t[i].len && t[i].want != -ENOENT; n++) {
			int want = n < (size_t)t[i].want || (t[i].want == 0 && n == 0) ?
				   -ENODATA : t[i].want;

			q = cxt_dup(t[i].p, n);
			expect_ret(t[i].name, cxd_link_decode(t[i].linktype, q, n, &l3), want);
			free(q);
		}
	}
}

/* --- packets --- */

enum { TCP_HDR = 20 };

/* IPv4 198.18.1.11 -> dst, TOS ecn, Total Length tot, then TCP at 20. */
static size_t mk4(uint8_t *b, uint32_t dst, uint8_t proto, uint8_t ecn,
		  uint16_t tot, uint16_t frag_word)
{
	memset(b, 0, 60);
	b[0] = 0x45;
	b[1] = ecn;
	cx_put_be16(b + 2, tot);
	cx_put_be16(b + 4, 0x1234);
	cx_put_be16(b + 6, frag_word);
	b[8] = 64;
	b[9] = proto;
	cx_put_be32(b + 12, 0xc612010b);
	cx_put_be32(b + 16, dst);
	return 20;
}

static size_t mk6(uint8_t *b, const uint8_t dst[16], uint8_t nh, uint8_t ecn,
		  uint16_t plen)
{
	static const uint8_t src[16] = { 0x20, 0x01, 0x00, 0x02, 0, 0, 0, 1, [15] = 0x11 };

	memset(b, 0, 40);
	b[0] = 0x60;
	b[1] = (uint8_t)(ecn << 4);
	cx_put_be16(b + 4, plen);
	b[6] = nh;
	b[7] = 64;
	memcpy(b + 8, src, 16);
	memcpy(b + 24, dst, 16);
	return 40;
}

static size_t mk_tcp(uint8_t *p, uint32_t seq, uint32_t ack, uint8_t flags)
{
	memset(p, 0, TCP_HDR);
	cx_put_be16(p, 40000);
	cx_put_be16(p + 2, 5201);
	cx_put_be32(p + 4, seq);
	cx_put_be32(p + 8, ack);
	p[12] = 5 << 4;
	p[13] = flags;
	cx_put_be16(p + 14, 512);
	return TCP_HDR;
}

static const uint8_t dst6[16] = { 0x20, 0x01, 0x00, 0x02, 0, 0, 0, 2, [15] = 0x11 };
static const uint8_t mcast6[16] = { 0xff, 0x02, [15] = 1 };

struct pkt_vec {
	const char *name;
	uint8_t buf[128];
	size_t len;		/* captured: headers only */
	int want;
	enum cxd_l3 l3;
	uint32_t flags;
	uint8_t sig;
	uint32_t ip_bytes;
	uint32_t payload;
	uint8_t counted;	/* CX_SIG_* whose flag_bytes equal ip_bytes */
};

static void check_vec(const struct pkt_vec *v)
{
	static const uint8_t sig[CXD_FLAGS] = { CX_SIG_X, CX_SIG_L, CX_SIG_E, CX_SIG_C };
	struct cxd_pkt pk;
	uint8_t *q;
	size_t n;
	int i;

	q = cxt_dup(v->buf, v->len);
	expect_ret(v->name, cxd_pkt_decode(v->l3, q, v->len, &pk), v->want);
	free(q);
	if (v->want < 0)
		return;
	if (pk.flags != v->flags)
		fail_msg("%s: flags %#x, want %#x", v->name, pk.flags, v->flags);
	assert_int_equal(pk.sig, v->sig);
	assert_int_equal(pk.ip_bytes, v->ip_bytes);
	assert_int_equal(pk.family, v->l3 == CXD_L3_IPV4 ? 4 : 6);
	if (pk.flags & CXD_PKT_F_TCP)
		assert_int_equal(pk.payload_bytes, v->payload);
	for (i = 0; i < CXD_FLAGS; i++)
		if (pk.flag_bytes[i] != ((v->counted & sig[i]) ? v->ip_bytes : 0))
			fail_msg("%s: flag %d counts %u", v->name, i, pk.flag_bytes[i]);
	/* Shorter captures: every header is needed, so all are cut short. */
	for (n = 0; n < v->len; n++) {
		q = cxt_dup(v->buf, n);
		expect_ret(v->name, cxd_pkt_decode(v->l3, q, n, &pk), -ENODATA);
		free(q);
	}
}

static void test_packets(void **state)
{
	struct pkt_vec v;
	int n;

	(void)state;

	/* IPv4 X|C, snaplen-cut: 1500-byte datagram, 40 octets captured. */
	memset(&v, 0, sizeof(v));
	v.name = "v4 XC truncated";
	mk4(v.buf, 0xc612020b, IPPROTO_TCP, 2, 1500, 0);
	mk_tcp(v.buf + 20, 1, 1, 0x10);
	assert_int_equal(cx_ipv4id_apply(v.buf, 20, CX_SIG_X | CX_SIG_C, NULL), 0);
	v.len = 40, v.l3 = CXD_L3_IPV4, v.flags = CXD_PKT_F_MARKING | CXD_PKT_F_TCP;
	v.sig = CX_SIG_X | CX_SIG_C, v.ip_bytes = 1500, v.payload = 1460;
	v.counted = CX_SIG_X | CX_SIG_C;
	check_vec(&v);

	/* ID low 12 bits as TSO writes them: still X|L|E. */
	v.name = "v4 XLE tso id";
	mk4(v.buf, 0xc612020b, IPPROTO_TCP, 3, 1000, 0);
	mk_tcp(v.buf + 20, 1, 1, 0x10);
	assert_int_equal(cx_ipv4id_apply(v.buf, 20, CX_SIG_X | CX_SIG_L | CX_SIG_E, NULL), 0);
	v.buf[5] = 0x3f;
	v.sig = CX_SIG_X | CX_SIG_L | CX_SIG_E, v.ip_bytes = 1000, v.payload = 960;
	v.counted = CX_SIG_X | CX_SIG_L | CX_SIG_E;
	check_vec(&v);

	/* Plain IPv4 (RF=0): not ConEx, nothing counted. */
	v.name = "v4 plain";
	mk4(v.buf, 0xc612020b, IPPROTO_TCP, 0, 40, 0x4000);
	mk_tcp(v.buf + 20, 1, 1, 0x10);
	v.flags = CXD_PKT_F_TCP, v.sig = 0, v.ip_bytes = 40, v.payload = 0, v.counted = 0;
	check_vec(&v);

	/* RF=1 with MF: anomaly, a fragment, no L4 and nothing counted. */
	v.name = "v4 rf on fragment";
	mk4(v.buf, 0xc612020b, IPPROTO_TCP, 0, 600, 0xa000);
	v.len = 20, v.flags = CXD_PKT_F_RF_ANOMALY | CXD_PKT_F_FRAGMENT, v.ip_bytes = 600;
	check_vec(&v);

	/* UDP to 224.0.0.1 with the encoding: marking seen, multicast, counts nothing. */
	v.name = "v4 udp multicast encoded";
	mk4(v.buf, 0xe0000001, IPPROTO_UDP, 0, 28, 0);
	assert_int_equal(cx_ipv4id_apply(v.buf, 20, CX_SIG_X | CX_SIG_E, NULL), 0);
	v.len = 20, v.flags = CXD_PKT_F_MARKING | CXD_PKT_F_MULTICAST, v.ip_bytes = 28;
	check_vec(&v);

	/* IPv6 + CDO X|L|C, header-only capture of a 1440-octet payload. */
	memset(&v, 0, sizeof(v));
	v.name = "v6 cdo XLC";
	mk6(v.buf, dst6, IPPROTO_TCP, 2, TCP_HDR);
	mk_tcp(v.buf + 40, 1, 1, 0x10);
	n = cx_cdo_insert(v.buf, 60, sizeof(v.buf), CX_SIG_X | CX_SIG_L | CX_SIG_C);
	assert_int_equal(n, 68);
	cx_put_be16(v.buf + 4, 1448);	/* the capture stops after the TCP header */
	v.len = 68, v.l3 = CXD_L3_IPV6, v.flags = CXD_PKT_F_MARKING | CXD_PKT_F_TCP;
	v.sig = CX_SIG_X | CX_SIG_L | CX_SIG_C, v.ip_bytes = 1488, v.payload = 1420;
	v.counted = CX_SIG_X | CX_SIG_L | CX_SIG_C;
	check_vec(&v);

	/* CDO with X=0 (a pure ACK's allowed form): L ignored, nothing counted. */
	v.name = "v6 cdo X=0";
	mk6(v.buf, dst6, IPPROTO_TCP, 0, TCP_HDR);
	mk_tcp(v.buf + 40, 1, 1, 0x10);
	assert_int_equal(cx_cdo_insert(v.buf, 60, sizeof(v.buf), CX_SIG_L), 68);
	v.sig = CX_SIG_L, v.ip_bytes = 68, v.payload = 0, v.counted = 0;
	check_vec(&v);

	/* A CDO to ff02::1 (crafted; insert refuses it): ignored, RFC 7837 §4. */
	v.name = "v6 multicast cdo";
	mk6(v.buf, mcast6, IPPROTO_DSTOPTS, 0, 16);
	assert_int_equal(cx_cdo_hdr_encode(v.buf + 40, 8, IPPROTO_UDP, CX_SIG_X | CX_SIG_E), 8);
	memset(v.buf + 48, 0, 8);
	v.len = 48, v.flags = CXD_PKT_F_MARKING | CXD_PKT_F_MULTICAST;
	v.sig = 0, v.ip_bytes = 56;
	check_vec(&v);

	/* TCP header longer than the IP packet says: malformed. */
	memset(&v, 0, sizeof(v));
	v.name = "v4 tcp past tot_len";
	mk4(v.buf, 0xc612020b, IPPROTO_TCP, 0, 30, 0);
	mk_tcp(v.buf + 20, 1, 1, 0x10);
	v.len = 40, v.l3 = CXD_L3_IPV4, v.want = -EBADMSG;
	check_vec(&v);

	memset(&v, 0, sizeof(v));
	v.name = "not ip";
	v.len = 1, v.l3 = CXD_L3_OTHER, v.want = -ENOENT;
	check_vec(&v);
}

/* --- accounting --- */

enum { A2B, B2A };

static struct cxd_pkt tcp_pkt(int dir, uint32_t seq, uint32_t ack, uint16_t flags,
			      uint32_t payload, uint8_t sig, uint8_t ecn)
{
	static const uint8_t sigs[CXD_FLAGS] = { CX_SIG_X, CX_SIG_L, CX_SIG_E, CX_SIG_C };
	struct cxd_pkt pk;
	uint32_t a = 0xc612010b, b = 0xc612020b;
	int i;

	memset(&pk, 0, sizeof(pk));
	pk.family = 4;
	pk.proto = IPPROTO_TCP;
	pk.ecn = ecn;
	pk.sig = sig;
	pk.ip_bytes = 40 + payload;
	pk.flags = CXD_PKT_F_TCP | (sig ? CXD_PKT_F_MARKING : 0);
	for (i = 0; i < CXD_FLAGS && (sig & CX_SIG_X); i++)
		if (sig & sigs[i])
			pk.flag_bytes[i] = pk.ip_bytes;
	pk.tcp.sport = dir == A2B ? 40000 : 5201;
	pk.tcp.dport = dir == A2B ? 5201 : 40000;
	pk.tcp.seq = seq;
	pk.tcp.ack = ack;
	pk.tcp.flags = flags;
	pk.tcp.hlen = 20;
	pk.payload_bytes = payload;
	if (dir == A2B)
		cx_flow_key_v4(&pk.key, a, b, 40000, 5201, IPPROTO_TCP);
	else
		cx_flow_key_v4(&pk.key, b, a, 5201, 40000, IPPROTO_TCP);
	return pk;
}

static void test_acct_flow(void **state)
{
	enum { F_SYN = CX_TCP_F_SYN, F_ACK = CX_TCP_F_ACK, F_ECE = CX_TCP_F_ECE,
	       F_CWR = CX_TCP_F_CWR, X = CX_SIG_X };
	static const struct cx_siphash_key sk;
	const struct cxd_dir *dirs[4], *a, *b;
	const struct cxd_totals *t;
	struct cxd_acct *acct;
	struct cxd_pkt pk;
	uint32_t i, n;
	/* Seq numbers straddle 2^32 so that serial arithmetic is exercised. */
	const uint32_t s0 = 0xfffffc00U;
	const struct cxd_pkt seq[] = {
		tcp_pkt(A2B, s0 - 1, 0, F_SYN | F_ECE | F_CWR, 0, 0, 0),
		tcp_pkt(B2A, 5000, s0, F_SYN | F_ACK | F_ECE, 0, 0, 0),
		tcp_pkt(A2B, s0, 5001, F_ACK, 0, 0, 0),
		tcp_pkt(A2B, s0, 5001, F_ACK, 1000, X | CX_SIG_C, 2),
		tcp_pkt(A2B, s0 + 1000, 5001, F_ACK, 1000, X, 3),
		tcp_pkt(A2B, s0 + 2000, 5001, F_ACK, 1000, X | CX_SIG_E, 2),
		tcp_pkt(B2A, 5001, s0 + 1000, F_ACK | F_ECE, 0, 0, 0),
		tcp_pkt(B2A, 5001, s0 + 1000, F_ACK | F_ECE, 0, 0, 0),
		tcp_pkt(A2B, s0 + 1000, 5001, F_ACK, 1000, X | CX_SIG_L, 0),
		tcp_pkt(A2B, s0 + 3000, 5001, F_ACK, 1000, 0, 2),
		tcp_pkt(B2A, 5001, s0 + 4000, F_ACK, 0, 0, 0),
		tcp_pkt(B2A, 5001, s0 + 4000, F_ACK, 0, X, 0),
	};

	(void)state;
	acct = cxd_acct_new(2, 2, &sk);
	assert_non_null(acct);
	for (i = 0; i < CX_ARRAY_SIZE(seq); i++)
		cxd_acct_packet(acct, 0, &seq[i]);
	/* The table holds two directions: a third flow is untracked. */
	pk = tcp_pkt(A2B, 1, 1, F_ACK, 10, X, 0);
	pk.key.sport = 40001;
	cxd_acct_packet(acct, 0, &pk);
	/* UDP with a marking; decode failures by kind. */
	memset(&pk, 0, sizeof(pk));
	pk.family = 6, pk.proto = IPPROTO_UDP, pk.flags = CXD_PKT_F_MARKING;
	cxd_acct_packet(acct, 0, &pk);
	cxd_acct_packet(acct, -ENOENT, &pk);
	cxd_acct_packet(acct, -ENODATA, &pk);
	cxd_acct_packet(acct, -EBADMSG, &pk);
	cxd_acct_packet(acct, -E2BIG, &pk);

	t = cxd_acct_totals(acct);
	assert_int_equal(t->packets, CX_ARRAY_SIZE(seq) + 6);
	assert_int_equal(t->ipv4, CX_ARRAY_SIZE(seq) + 1);
	assert_int_equal(t->ipv6, 1);
	assert_int_equal(t->tcp, CX_ARRAY_SIZE(seq) + 1);
	assert_int_equal(t->untracked, 1);
	assert_int_equal(t->non_tcp, 1);
	assert_int_equal(t->non_tcp_marking, 1);
	assert_int_equal(t->non_ip, 1);
	assert_int_equal(t->truncated, 1);
	assert_int_equal(t->malformed, 2);

	n = cxd_acct_list(acct, dirs, 4);
	assert_int_equal(n, 2);
	assert_int_equal(cxd_acct_count(acct), 2);
	a = dirs[0], b = dirs[1];
	assert_int_equal(a->key.sport, 40000);
	assert_ptr_equal(cxd_acct_reverse(acct, &a->key), b);
	assert_ptr_equal(cxd_acct_reverse(acct, &b->key), a);

	assert_int_equal(a->pkts, 7);
	assert_int_equal(a->payload_pkts, 5);
	assert_int_equal(a->payload_bytes, 5000);
	assert_int_equal(a->payload_pkts_x, 4);
	assert_int_equal(a->payload_pkts_no_x, 1);
	assert_int_equal(a->sig_pkts[CXD_FLAG_X], 4);
	assert_int_equal(a->sig_bytes[CXD_FLAG_X], 4 * 1040);
	assert_int_equal(a->sig_bytes[CXD_FLAG_L], 1040);
	assert_int_equal(a->sig_payload_bytes[CXD_FLAG_L], 1000);
	assert_int_equal(a->sig_bytes[CXD_FLAG_E], 1040);
	assert_int_equal(a->sig_bytes[CXD_FLAG_C], 1040);
	assert_true(a->c_first_pkt);
	assert_int_equal(a->first_n_done, 2);
	assert_int_equal(a->c_first_n_pkts, 1);
	assert_int_equal(a->c_first_n_bytes, 1040);
	assert_int_equal(a->retx_pkts, 1);
	assert_int_equal(a->retx_bytes, 1000);
	/* s0 + 1000 had been captured: a spurious retransmission, no hole. */
	assert_int_equal(a->retx_fill_bytes, 0);
	assert_int_equal(a->retx_dup_bytes, 1000);
	assert_int_equal(a->ce_pkts, 1);
	assert_int_equal(a->ce_ip_bytes, 1040);
	assert_int_equal(a->ce_payload_pkts, 1);
	assert_int_equal(a->ce_payload_bytes, 1000);
	assert_int_equal(a->pure_acks, 1);
	assert_int_equal(a->pure_acks_marking, 0);
	assert_int_equal(a->ece_acks, 0);

	/* The SYN-ACK's ECE is ECN negotiation, not feedback (RFC 3168 §6.1.1). */
	assert_int_equal(b->ece_acks, 2);
	assert_int_equal(b->ece_acked_bytes, 1000);
	assert_int_equal(b->ece_dup_acks, 1);
	assert_int_equal(b->pure_acks, 4);
	assert_int_equal(b->pure_acks_marking, 1);
	assert_int_equal(b->pure_acks_x, 1);
	assert_int_equal(b->syn_mss, 0);
	/* SMSS: no MSS option seen, so the largest payload sent (1000). */
	assert_int_equal(cxd_acct_classic_e_bound(a, b), 1000 + 1000);
	assert_int_equal(cxd_acct_classic_e_bound(a, NULL), 0);
	cxd_acct_free(acct);
}

static void test_acct_args(void **state)
{
	static const struct cx_siphash_key sk;

	(void)state;
	assert_null(cxd_acct_new(0, 1, &sk));
	assert_null(cxd_acct_new(1, 1, NULL));
	cxd_acct_free(NULL);
}

/*
 * Retransmitted bytes split into hole fills (lost before the capture) and
 * duplicates (already captured: spurious), including a fill that splits a
 * hole, sequence wrap, and the hole table running full.
 */
static void test_acct_holes(void **state)
{
	enum { F_ACK = CX_TCP_F_ACK, X = CX_SIG_X };
	static const struct cx_siphash_key sk;
	const struct cxd_dir *dirs[2];
	struct cxd_acct *acct;
	struct cxd_pkt pk;
	uint32_t s0 = 0xfffff000U, i;	/* wraps after 4096 bytes */

	(void)state;
	acct = cxd_acct_new(4, 2, &sk);
	assert_non_null(acct);
	/* [s0, +1000) seen; [+1000, +4000) lost; [+4000, +5000) seen. */
	pk = tcp_pkt(A2B, s0, 1, F_ACK, 1000, X, 0);
	cxd_acct_packet(acct, 0, &pk);
	pk = tcp_pkt(A2B, s0 + 4000, 1, F_ACK, 1000, X, 0);
	cxd_acct_packet(acct, 0, &pk);
	/* Fill the middle of the hole: it splits in two. */
	pk = tcp_pkt(A2B, s0 + 2000, 1, F_ACK, 1000, X | CX_SIG_L, 0);
	cxd_acct_packet(acct, 0, &pk);
	/* A duplicate of captured data, then one straddling filled + hole. */
	pk = tcp_pkt(A2B, s0, 1, F_ACK, 1000, X, 0);
	cxd_acct_packet(acct, 0, &pk);
	pk = tcp_pkt(A2B, s0 + 2500, 1, F_ACK, 1000, X, 0);
	cxd_acct_packet(acct, 0, &pk);
	/* The rest of both halves. */
	pk = tcp_pkt(A2B, s0 + 1000, 1, F_ACK, 1000, X, 0);
	cxd_acct_packet(acct, 0, &pk);
	pk = tcp_pkt(A2B, s0 + 3500, 1, F_ACK, 500, X, 0);
	cxd_acct_packet(acct, 0, &pk);

	assert_int_equal(cxd_acct_list(acct, dirs, 2), 1);
	assert_int_equal(dirs[0]->retx_bytes, 4500);
	assert_int_equal(dirs[0]->retx_fill_bytes, 1000 + 500 + 1000 + 500);
	assert_int_equal(dirs[0]->retx_dup_bytes, 1000 + 500);
	assert_int_equal(dirs[0]->nholes, 0);
	assert_int_equal(dirs[0]->holes_dropped, 0);

	/* Past CXD_HOLES_MAX holes, new ones are forgotten and counted. */
	for (i = 0; i < CXD_HOLES_MAX + 2; i++) {
		pk = tcp_pkt(A2B, s0 + 6000 + 2000 * i, 1, F_ACK, 1000, X, 0);
		cxd_acct_packet(acct, 0, &pk);
	}
	assert_int_equal(dirs[0]->nholes, CXD_HOLES_MAX);
	assert_int_equal(dirs[0]->holes_dropped, 2 * 1000);
	cxd_acct_free(acct);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_header),
		cmocka_unit_test(test_record_header),
		cmocka_unit_test(test_link),
		cmocka_unit_test(test_packets),
		cmocka_unit_test(test_acct_flow),
		cmocka_unit_test(test_acct_args),
		cmocka_unit_test(test_acct_holes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
