/*
 * conex-dump: the project's ConEx decoder for captures. Reads a classic
 * pcap file and prints, per TCP direction, what the sender declared in
 * ConEx signals next to the congestion the capture shows (retransmissions,
 * CE) and the feedback the receiver gave (ECE ACKs).
 *
 * Exit status: 0 done, 1 file unreadable or corrupt, 2 usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <conex/flowtable.h>
#include <conex/parse.h>

#include "acct.h"
#include "pcap.h"
#include "pkt.h"

#define EXIT_USAGE		2
#define FIRST_N_DEFAULT		10
#define MAX_FLOWS_DEFAULT	65536

struct opts {
	const char *path;
	uint32_t first_n;
	uint32_t max_flows;
	int json;
};

struct dump_ctx {
	struct opts o;
	struct cxd_pcap_file f;
	struct cxd_acct *acct;
	bool file_truncated;	/* the last record was cut short */
	uint8_t *buf;		/* CXD_PCAP_CAPLEN_MAX octets */
};

static const char usage_text[] =
	"usage: conex-dump [--json] [--first-n N] [--max-flows N] FILE.pcap\n"
	"       conex-dump --help\n";

static const char help_text[] =
	"Decode the ConEx signals (IPv6 CDO, RFC 7837; IPv4 ID encoding) of the TCP\n"
	"flows in a classic pcap file (Ethernet, raw IP, Linux cooked v1/v2; either\n"
	"byte order; snaplen-truncated packets are fine) and print per direction:\n"
	"packets, payload, X/L/E/C packets and bytes, credit at flow start,\n"
	"retransmitted and CE-marked bytes, and the ECE feedback of the reverse\n"
	"direction. FILE may be - for standard input.\n"
	"\n"
	"  --json          one JSON object instead of the table\n"
	"  --first-n N     payload packets that count as a flow's start (default 10)\n"
	"  --max-flows N   directions tracked (default 65536); more are counted as untracked\n"
	"  -h, --help      this text\n"
	"\n"
	"Exit status: 0 done, 1 file unreadable or corrupt, 2 usage error.\n";

static int parse_u32(const char *opt, const char *s, uint64_t min, uint64_t max,
		     uint32_t *out)
{
	uint64_t v;
	int ret = cx_parse_u64(s, min, max, &v);

	if (ret < 0) {
		fprintf(stderr, "conex-dump: %s '%s': want an integer in %" PRIu64
			"..%" PRIu64 "\n", opt, s, min, max);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "first-n", required_argument, NULL, 'n' },
		{ "max-flows", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){
		.first_n = FIRST_N_DEFAULT,
		.max_flows = MAX_FLOWS_DEFAULT,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = 1;
			break;
		case 'n':
			if (parse_u32("--first-n", optarg, 1, 1000000, &o->first_n))
				return -1;
			break;
		case 'm':
			if (parse_u32("--max-flows", optarg, 1,
				      CX_FLOWTABLE_CAPACITY_MAX, &o->max_flows))
				return -1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs(help_text, stdout);
			exit(0);
		case ':':
			fprintf(stderr, "conex-dump: %s needs a value\n",
				argv[optind - 1]);
			return -1;
		default:
			fprintf(stderr, "conex-dump: unknown option '%s'\n",
				argv[optind - 1]);
			return -1;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "conex-dump: %s\n", argc - optind < 1 ?
			"no capture file given" : "more than one capture file given");
		return -1;
	}
	o->path = argv[optind];
	return 0;
}

/* Reads exactly n octets: 0, 1 at a clean end of file (nothing read), -1 cut short. */
static int read_full(FILE *fp, uint8_t *p, size_t n)
{
	size_t got = fread(p, 1, n, fp);

	if (got == n)
		return 0;
	return got == 0 && feof(fp) ? 1 : -1;
}

static int read_capture(struct dump_ctx *ctx, FILE *fp)
{
	uint8_t hdr[CXD_PCAP_FILE_HDR_BYTES];
	struct cxd_pcap_rec rec;
	struct cxd_pkt pk;
	enum cxd_l3 l3;
	int ret, off;

	if (read_full(fp, hdr, sizeof(hdr)) != 0) {
		fprintf(stderr, "conex-dump: %s: %s\n", ctx->o.path, ferror(fp) ?
			strerror(errno) : "shorter than a pcap file header");
		return -1;
	}
	if (cxd_pcap_file_decode(hdr, sizeof(hdr), &ctx->f) < 0) {
		fprintf(stderr, "conex-dump: %s: not a classic pcap file "
			"(magic %02x%02x%02x%02x; pcapng is not read, convert it "
			"with editcap -F pcap)\n", ctx->o.path, hdr[0], hdr[1],
			hdr[2], hdr[3]);
		return -1;
	}
	if (!cxd_link_supported(ctx->f.linktype)) {
		fprintf(stderr, "conex-dump: %s: link type %u not supported "
			"(Ethernet 1, raw IP 101, Linux cooked 113 and 276 are)\n",
			ctx->o.path, ctx->f.linktype);
		return -1;
	}
	for (;;) {
		ret = read_full(fp, hdr, CXD_PCAP_REC_HDR_BYTES);
		if (ret == 1)
			break;
		if (ret < 0)
			goto cut_short;
		if (cxd_pcap_rec_decode(hdr, CXD_PCAP_REC_HDR_BYTES, &ctx->f,
					&rec) < 0) {
			fprintf(stderr, "conex-dump: %s: corrupt record header "
				"after %" PRIu64 " records\n", ctx->o.path,
				cxd_acct_totals(ctx->acct)->packets);
			return -1;
		}
		if (read_full(fp, ctx->buf, rec.caplen) != 0)
			goto cut_short;
		off = cxd_link_decode(ctx->f.linktype, ctx->buf, rec.caplen, &l3);
		if (off < 0)
			ret = off == -ENODATA ? -ENODATA : -EBADMSG;
		else
			ret = cxd_pkt_decode(l3, ctx->buf + off,
					     rec.caplen - (size_t)off, &pk);
		cxd_acct_packet(ctx->acct, ret, &pk);
	}
	if (ferror(fp)) {
		fprintf(stderr, "conex-dump: %s: %s\n", ctx->o.path, strerror(errno));
		return -1;
	}
	return 0;

cut_short:
	if (ferror(fp)) {
		fprintf(stderr, "conex-dump: %s: %s\n", ctx->o.path, strerror(errno));
		return -1;
	}
	/* A capture stopped mid-write (tcpdump killed): keep what is whole. */
	fprintf(stderr, "conex-dump: %s: last record cut short, ignored\n",
		ctx->o.path);
	ctx->file_truncated = true;
	return 0;
}

/* Address of one side of a key, as text. */
static void key_addr(const struct cx_flow_key *k, bool src, char *buf,
		     size_t len)
{
	const uint8_t *a = src ? k->saddr : k->daddr;

	if (k->family == CX_FLOW_IPV4)
		inet_ntop(AF_INET, a + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, a, buf, (socklen_t)len);
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static const char *const flag_name[CXD_FLAGS] = { "x", "l", "e", "c" };

static void json_flow(struct dump_ctx *ctx, const struct cxd_dir *d)
{
	const struct cxd_dir *r = cxd_acct_reverse(ctx->acct, &d->key);
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	int i;

	key_addr(&d->key, true, src, sizeof(src));
	key_addr(&d->key, false, dst, sizeof(dst));
	printf("{\"family\": %u, \"src\": \"%s\", \"sport\": %u, "
	       "\"dst\": \"%s\", \"dport\": %u,\n", d->key.family, src,
	       d->key.sport, dst, d->key.dport);
	printf("   \"packets\": %" PRIu64 ", \"payload_packets\": %" PRIu64
	       ", \"payload_bytes\": %" PRIu64 ", \"payload_packets_x\": %" PRIu64
	       ", \"payload_packets_no_x\": %" PRIu64 ",\n", d->pkts,
	       d->payload_pkts, d->payload_bytes, d->payload_pkts_x,
	       d->payload_pkts_no_x);
	printf("  ");
	for (i = 0; i < CXD_FLAGS; i++)
		printf(" \"pkts_%s\": %" PRIu64 ", \"bytes_%s\": %" PRIu64
		       ", \"payload_bytes_%s\": %" PRIu64 ",", flag_name[i],
		       d->sig_pkts[i], flag_name[i], d->sig_bytes[i],
		       flag_name[i], d->sig_payload_bytes[i]);
	printf("\n   \"c_first_pkt\": %s, \"first_n\": %u, \"first_n_seen\": %u, "
	       "\"pkts_c_first_n\": %" PRIu64 ", \"bytes_c_first_n\": %" PRIu64
	       ",\n", d->c_first_pkt ? "true" : "false", cxd_acct_first_n(ctx->acct),
	       d->first_n_done, d->c_first_n_pkts, d->c_first_n_bytes);
	printf("   \"retx_fill_bytes\": %" PRIu64 ", \"retx_dup_bytes\": %" PRIu64
	       ", \"holes_dropped_bytes\": %" PRIu64 ",\n", d->retx_fill_bytes,
	       d->retx_dup_bytes, d->holes_dropped);
	printf("   \"retx_packets\": %" PRIu64 ", \"retx_bytes\": %" PRIu64
	       ", \"ce_packets\": %" PRIu64 ", \"ce_ip_bytes\": %" PRIu64
	       ", \"ce_payload_packets\": %" PRIu64 ", \"ce_payload_bytes\": %"
	       PRIu64 ",\n", d->retx_pkts, d->retx_bytes, d->ce_pkts,
	       d->ce_ip_bytes, d->ce_payload_pkts, d->ce_payload_bytes);
	printf("   \"pure_acks\": %" PRIu64 ", \"pure_acks_marking\": %" PRIu64
	       ", \"pure_acks_x\": %" PRIu64 ", \"max_payload\": %u, "
	       "\"syn_mss\": %u,\n", d->pure_acks, d->pure_acks_marking,
	       d->pure_acks_x, d->max_payload, d->syn_mss);
	printf("   \"reverse\": {\"seen\": %s, \"ece_acks\": %" PRIu64
	       ", \"ece_acked_bytes\": %" PRIu64 ", \"ece_dup_acks\": %" PRIu64
	       ", \"smss\": %u, \"classic_e_bound_bytes\": %" PRIu64 "}}",
	       r ? "true" : "false", r ? r->ece_acks : 0,
	       r ? r->ece_acked_bytes : 0, r ? r->ece_dup_acks : 0,
	       r && r->syn_mss ? r->syn_mss : d->max_payload,
	       cxd_acct_classic_e_bound(d, r));
}

static void print_json(struct dump_ctx *ctx, const struct cxd_dir **dirs,
		       uint32_t n)
{
	const struct cxd_totals *t = cxd_acct_totals(ctx->acct);
	uint32_t i;

	printf("{\"file\": ");
	json_string(ctx->o.path);
	printf(", \"linktype\": %u, \"file_truncated\": %s,\n", ctx->f.linktype,
	       ctx->file_truncated ? "true" : "false");
	printf(" \"totals\": {\"packets\": %" PRIu64 ", \"non_ip\": %" PRIu64
	       ", \"ipv4\": %" PRIu64 ", \"ipv6\": %" PRIu64 ", \"truncated\": %"
	       PRIu64 ", \"malformed\": %" PRIu64 ", \"fragments\": %" PRIu64
	       ", \"tcp\": %" PRIu64 ", \"non_tcp\": %" PRIu64
	       ", \"non_tcp_marking\": %" PRIu64 ", \"multicast_marking\": %"
	       PRIu64 ", \"rf_anomaly\": %" PRIu64 ", \"untracked\": %" PRIu64
	       ", \"flows\": %u},\n", t->packets, t->non_ip, t->ipv4, t->ipv6,
	       t->truncated, t->malformed, t->fragments, t->tcp, t->non_tcp,
	       t->non_tcp_marking, t->multicast_marking, t->rf_anomaly,
	       t->untracked, n);
	printf(" \"flows\": [");
	for (i = 0; i < n; i++) {
		printf(i ? ",\n  " : "\n  ");
		json_flow(ctx, dirs[i]);
	}
	printf("\n ]}\n");
}

static void print_table(struct dump_ctx *ctx, const struct cxd_dir **dirs,
			uint32_t n)
{
	const struct cxd_totals *t = cxd_acct_totals(ctx->acct);
	char name[CX_FLOW_KEY_FORMAT_MAX];
	uint32_t i;

	printf("%-52s %8s %8s %6s %10s %10s %10s %10s %2s %10s %10s %10s\n",
	       "flow", "pkts", "payload", "no-X", "X bytes", "L bytes",
	       "E bytes", "C bytes", "C1", "retx B", "CE IP B", "E bound");
	for (i = 0; i < n; i++) {
		const struct cxd_dir *d = dirs[i];
		const struct cxd_dir *r = cxd_acct_reverse(ctx->acct, &d->key);

		if (cx_flow_key_format(&d->key, name, sizeof(name)) < 0)
			snprintf(name, sizeof(name), "?");
		printf("%-52s %8" PRIu64 " %8" PRIu64 " %6" PRIu64 " %10" PRIu64
		       " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %2s %10" PRIu64
		       " %10" PRIu64 " %10" PRIu64 "\n", name, d->pkts,
		       d->payload_pkts, d->payload_pkts_no_x,
		       d->sig_bytes[CXD_FLAG_X], d->sig_bytes[CXD_FLAG_L],
		       d->sig_bytes[CXD_FLAG_E], d->sig_bytes[CXD_FLAG_C],
		       d->c_first_pkt ? "y" : "n", d->retx_bytes, d->ce_ip_bytes,
		       cxd_acct_classic_e_bound(d, r));
	}
	printf("\n%" PRIu64 " packets (IPv4 %" PRIu64 ", IPv6 %" PRIu64
	       ", TCP %" PRIu64 ", other IP %" PRIu64 ", not IP %" PRIu64
	       ", fragments %" PRIu64 "), %u directions\n", t->packets, t->ipv4,
	       t->ipv6, t->tcp, t->non_tcp, t->non_ip, t->fragments, n);
	printf("anomalies: truncated %" PRIu64 ", malformed %" PRIu64
	       ", non-TCP marked %" PRIu64 ", multicast marked %" PRIu64
	       ", RF on non-atomic %" PRIu64 ", untracked %" PRIu64 "%s\n",
	       t->truncated, t->malformed, t->non_tcp_marking,
	       t->multicast_marking, t->rf_anomaly, t->untracked,
	       ctx->file_truncated ? "; last record cut short" : "");
	printf("C1: first payload packet had C; E bound: classic ECE rule "
	       "(RFC 7786 §3.2), payload bytes\n");
}

int main(int argc, char **argv)
{
	struct dump_ctx ctx = { 0 };
	struct cx_siphash_key sk;
	const struct cxd_dir **dirs = NULL;
	FILE *fp = NULL;
	uint32_t n;
	int ret = 1;

	if (parse_opts(argc, argv, &ctx.o) < 0) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	/* Keyed hashing: a crafted capture must not collide every flow. */
	if (getrandom(&sk, sizeof(sk), 0) != (ssize_t)sizeof(sk)) {
		fprintf(stderr, "conex-dump: getrandom: %s\n", strerror(errno));
		return 1;
	}
	ctx.buf = malloc(CXD_PCAP_CAPLEN_MAX);
	ctx.acct = cxd_acct_new(ctx.o.max_flows, ctx.o.first_n, &sk);
	if (!ctx.buf || !ctx.acct) {
		fprintf(stderr, "conex-dump: %s\n", strerror(errno ? errno : ENOMEM));
		goto err_free;
	}
	fp = strcmp(ctx.o.path, "-") ? fopen(ctx.o.path, "rb") : stdin;
	if (!fp) {
		fprintf(stderr, "conex-dump: %s: %s\n", ctx.o.path, strerror(errno));
		goto err_free;
	}
	if (read_capture(&ctx, fp) < 0)
		goto err_close;
	n = cxd_acct_count(ctx.acct);
	dirs = calloc(n ? n : 1, sizeof(*dirs));
	if (!dirs) {
		fprintf(stderr, "conex-dump: %s\n", strerror(errno));
		goto err_close;
	}
	n = cxd_acct_list(ctx.acct, dirs, n);
	if (ctx.o.json)
		print_json(&ctx, dirs, n);
	else
		print_table(&ctx, dirs, n);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "conex-dump: stdout: %s\n", strerror(errno));
		goto err_close;
	}
	ret = 0;
err_close:
	if (fp != stdin)
		fclose(fp);
err_free:
	free(dirs);
	cxd_acct_free(ctx.acct);
	free(ctx.buf);
	return ret;
}
