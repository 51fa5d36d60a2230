/*
 * cx-ecnq: attach, inspect and detach the testbed's ECN-marking queue
 * (ecnq.bpf.c) on a device's clsact egress. Run it inside the namespace of
 * the device (ip netns exec).
 *
 *   cx-ecnq attach --dev X --rate R --mark-bytes B --limit-bytes L [--drain-pct P]
 *   cx-ecnq stats  --dev X [--json]
 *   cx-ecnq detach --dev X
 *
 * The tc filter holds the program and the program its map, so nothing is
 * pinned: stats finds the map again through the filter (bpf_tc_query ->
 * program id -> program info -> map ids). stats also lists the per-source
 * counters (map ecnq_src: marks and drops by IP source, the inner one for
 * VXLAN), sorted by address.
 *
 * Exit status: 0 done, 1 system error, 2 usage error, 3 no ecnq filter on
 * the device (stats, detach).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <conex/parse.h>

#include "ecnq.h"
/* bpftool's generated skeleton casts const away from its embedded object. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#include "ecnq.skel.h"
#pragma GCC diagnostic pop

#define EXIT_USAGE	2
#define EXIT_ABSENT	3

#define PROG_NAME	"cx_ecnq"
#define MAP_NAME	"ecnq_state"
#define SRC_MAP_NAME	"ecnq_src"
#define MAX_PROG_MAPS	16

struct opts {
	const char *dev;
	unsigned int ifindex;
	uint64_t rate_bps;
	uint64_t mark_bytes;
	uint64_t limit_bytes;
	uint64_t burst_bytes;
	uint64_t drain_pct;
	int json;
	int have_rate, have_mark, have_limit, have_burst;
};

static const char usage_text[] =
	"usage: cx-ecnq attach --dev DEV --rate RATE --mark-bytes SIZE --limit-bytes SIZE\n"
	"                      [--burst-bytes SIZE] [--drain-pct PCT]\n"
	"       cx-ecnq stats  --dev DEV [--json]\n"
	"       cx-ecnq detach --dev DEV\n"
	"\n"
	"ECN-marking virtual queue on DEV's clsact egress (run inside DEV's namespace).\n"
	"  --rate RATE         service rate the queue models, tc units (100mbit)\n"
	"  --drain-pct PCT     drain the virtual queue at PCT % of RATE (1..100, default 100)\n"
	"  --mark-bytes SIZE   above this backlog mark ECT packets CE, drop Not-ECT (64k)\n"
	"  --limit-bytes SIZE  above this backlog drop everything (512k, at most 1g)\n"
	"  --burst-bytes SIZE  the shaper's burst (HTB burst): it may send this much\n"
	"                      ahead of RATE, so its real backlog is that much\n"
	"                      smaller than a plain queue's (default 0)\n"
	"  --json              stats as one JSON object\n"
	"Exit status: 0 ok, 1 error, 2 usage, 3 no ecnq filter on DEV.\n";

static void usage(FILE *f)
{
	fputs(usage_text, f);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* Warnings and errors only: libbpf's debug output is for developers. */
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void hook_init(struct bpf_tc_hook *hook, unsigned int ifindex)
{
	memset(hook, 0, sizeof(*hook));
	hook->sz = sizeof(*hook);
	hook->ifindex = (int)ifindex;
	hook->attach_point = BPF_TC_EGRESS;
}

static void tcopts_init(struct bpf_tc_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	o->handle = CX_ECNQ_TC_HANDLE;
	o->priority = CX_ECNQ_TC_PRIO;
}

/*
 * Find the map called name, of value_size, of the ecnq filter on the hook.
 * Returns a map fd (the caller closes it), -ENOENT if no filter of ours is
 * there (or it has no such map), or -errno.
 */
static int find_map(struct bpf_tc_hook *hook, const char *name, __u32 value_size)
{
	struct bpf_prog_info pinfo;
	struct bpf_map_info minfo;
	struct bpf_tc_opts q;
	__u32 map_ids[MAX_PROG_MAPS];
	__u32 len, i, n;
	libbpf_print_fn_t old_print;
	int prog_fd, map_fd, ret;

	tcopts_init(&q);
	/* "No filter here" is an answer, not an error worth libbpf's warning. */
	old_print = libbpf_set_print(NULL);
	ret = bpf_tc_query(hook, &q);
	libbpf_set_print(old_print);
	if (ret < 0)
		return ret == -ENOENT || ret == -EINVAL ? -ENOENT : ret;
	prog_fd = bpf_prog_get_fd_by_id(q.prog_id);
	if (prog_fd < 0)
		return -errno;

	memset(&pinfo, 0, sizeof(pinfo));
	pinfo.nr_map_ids = MAX_PROG_MAPS;
	pinfo.map_ids = (__u64)(uintptr_t)map_ids;
	len = sizeof(pinfo);
	ret = bpf_obj_get_info_by_fd(prog_fd, &pinfo, &len);
	close(prog_fd);
	if (ret < 0)
		return -errno;
	/* Something else sits at our handle and priority: not ours to read. */
	if (strcmp(pinfo.name, PROG_NAME) != 0)
		return -ENOENT;

	n = pinfo.nr_map_ids < MAX_PROG_MAPS ? pinfo.nr_map_ids : MAX_PROG_MAPS;
	for (i = 0; i < n; i++) {
		map_fd = bpf_map_get_fd_by_id(map_ids[i]);
		if (map_fd < 0)
			continue;
		memset(&minfo, 0, sizeof(minfo));
		len = sizeof(minfo);
		if (bpf_obj_get_info_by_fd(map_fd, &minfo, &len) == 0 &&
		    strcmp(minfo.name, name) == 0 && minfo.value_size == value_size)
			return map_fd;
		close(map_fd);
	}
	return -ENOENT;
}

static int find_state_map(struct bpf_tc_hook *hook)
{
	return find_map(hook, MAP_NAME, sizeof(struct cx_ecnq_state));
}

static int read_state(int map_fd, struct cx_ecnq_state *st)
{
	__u32 key = 0;

	memset(st, 0, sizeof(*st));
	/* BPF_F_LOCK: a consistent snapshot, taken under the program's lock. */
	if (bpf_map_lookup_elem_flags(map_fd, &key, st, BPF_F_LOCK) < 0)
		return -errno;
	return 0;
}

struct src_entry {
	struct cx_ecnq_src_key key;
	struct cx_ecnq_src c;
};

struct src_list {
	struct src_entry *v;
	size_t n;
};

static int src_cmp(const void *a, const void *b)
{
	const struct src_entry *x = a, *y = b;

	return memcmp(x->key.addr, y->key.addr, sizeof(x->key.addr));
}

/*
 * Every entry of the per-source map, sorted by address. Each entry is read
 * once, not all in one snapshot (the program adds to them atomically,
 * without the state's lock).
 */
static int read_sources(int map_fd, struct src_list *out)
{
	struct cx_ecnq_src_key key, next;
	struct src_entry *v;
	void *prev = NULL;
	size_t n = 0;

	out->v = NULL;
	out->n = 0;
	v = calloc(CX_ECNQ_SRC_MAX, sizeof(*v));
	if (!v)
		return -ENOMEM;
	while (n < CX_ECNQ_SRC_MAX && bpf_map_get_next_key(map_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		/* The program never deletes an entry: any error is one. */
		if (bpf_map_lookup_elem(map_fd, &key, &v[n].c) < 0) {
			int err = -errno;

			free(v);
			return err;
		}
		v[n].key = key;
		n++;
	}
	qsort(v, n, sizeof(*v), src_cmp);
	out->v = v;
	out->n = n;
	return 0;
}

/* The address as text: IPv4-mapped keys as dotted quads. */
static void src_addr(const struct cx_ecnq_src_key *k, char *buf, size_t len)
{
	static const __u8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (memcmp(k->addr, mapped, sizeof(mapped)) == 0)
		inet_ntop(AF_INET, &k->addr[12], buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, k->addr, buf, (socklen_t)len);
}

/* 1 if this call created clsact, 0 if it was there, or -errno. */
static int hook_create_or_reuse(struct bpf_tc_hook *hook)
{
	libbpf_print_fn_t old_print;
	int err;

	/* An existing clsact is fine: keep libbpf from warning about EEXIST. */
	old_print = libbpf_set_print(NULL);
	err = bpf_tc_hook_create(hook);
	libbpf_set_print(old_print);

	if (err == 0)
		return 1;
	if (err == -EEXIST)
		return 0;
	return err;
}

static int cmd_attach(const struct opts *o)
{
	struct cx_ecnq_state st;
	struct bpf_tc_hook hook;
	struct bpf_tc_opts to;
	struct ecnq *skel;
	__u32 key = 0, flags = 0;
	int ret = 1, err, old_fd;

	hook_init(&hook, o->ifindex);

	/* Replacing our own filter keeps the note of who made clsact. */
	old_fd = find_state_map(&hook);
	if (old_fd >= 0) {
		if (read_state(old_fd, &st) == 0)
			flags = st.flags & CX_ECNQ_F_OWN_CLSACT;
		close(old_fd);
	}

	skel = ecnq__open_and_load();
	if (!skel) {
		fprintf(stderr, "cx-ecnq: loading the BPF program: %s\n", strerror(errno));
		return 1;
	}

	memset(&st, 0, sizeof(st));
	st.rate_bps = o->rate_bps;
	st.drain_bytes_per_s = o->rate_bps / 8 * o->drain_pct / 100 +
			       o->rate_bps % 8 * o->drain_pct / 800;
	st.mark_bytes = o->mark_bytes;
	st.limit_bytes = o->limit_bytes;
	st.burst_bytes = o->burst_bytes;
	/* Configure before attaching: the first packet must see a drain rate. */
	err = hook_create_or_reuse(&hook);
	if (err < 0) {
		fprintf(stderr, "cx-ecnq: clsact on %s: %s\n", o->dev, strerror(-err));
		goto err_destroy_skel;
	}
	if (err == 1)
		flags |= CX_ECNQ_F_OWN_CLSACT;
	st.flags = flags;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.ecnq_state), &key, &st, 0) < 0) {
		fprintf(stderr, "cx-ecnq: writing the configuration: %s\n", strerror(errno));
		goto err_destroy_hook;
	}

	tcopts_init(&to);
	to.prog_fd = bpf_program__fd(skel->progs.cx_ecnq);
	to.flags = BPF_TC_F_REPLACE;
	err = bpf_tc_attach(&hook, &to);
	if (err < 0) {
		fprintf(stderr, "cx-ecnq: attaching to %s egress: %s\n", o->dev, strerror(-err));
		goto err_destroy_hook;
	}
	ret = 0;
	goto out_destroy_skel;

err_destroy_hook:
	if (flags & CX_ECNQ_F_OWN_CLSACT) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
err_destroy_skel:
out_destroy_skel:
	/* The filter keeps its own reference to the program and map. */
	ecnq__destroy(skel);
	return ret;
}

/* The virtual backlog as of the last packet: level minus the shaper's burst. */
static uint64_t backlog_bytes(const struct cx_ecnq_state *st)
{
	uint64_t level = st->level_bns / CX_ECNQ_NS_PER_S;

	return level > st->burst_bytes ? level - st->burst_bytes : 0;
}

static void print_text(const char *dev, const struct cx_ecnq_state *st,
		       const struct src_list *src)
{
	char addr[INET6_ADDRSTRLEN];
	size_t i;

	printf("dev %s rate_bps %" PRIu64 " drain_bytes_per_s %" PRIu64
	       " mark_bytes %" PRIu64 " limit_bytes %" PRIu64 "\n",
	       dev, (uint64_t)st->rate_bps, (uint64_t)st->drain_bytes_per_s,
	       (uint64_t)st->mark_bytes, (uint64_t)st->limit_bytes);
	printf("  skbs %" PRIu64 " pkts %" PRIu64 " bytes %" PRIu64 " non_ip %" PRIu64 "\n",
	       (uint64_t)st->skbs, (uint64_t)st->pkts, (uint64_t)st->bytes,
	       (uint64_t)st->non_ip);
	printf("  in: not_ect %" PRIu64 " ect1 %" PRIu64 " ect0 %" PRIu64 " ce %" PRIu64 "\n",
	       (uint64_t)st->in_not_ect, (uint64_t)st->in_ect1, (uint64_t)st->in_ect0,
	       (uint64_t)st->in_ce);
	printf("  marked %" PRIu64 " (%" PRIu64 " bytes) dropped %" PRIu64 " (%" PRIu64
	       " bytes, %" PRIu64 " at limit)\n",
	       (uint64_t)st->marked, (uint64_t)st->marked_bytes, (uint64_t)st->dropped,
	       (uint64_t)st->dropped_bytes, (uint64_t)st->dropped_limit);
	printf("  burst_bytes %" PRIu64 " backlog_bytes %" PRIu64
	       " max_backlog_bytes %" PRIu64 "\n", (uint64_t)st->burst_bytes,
	       backlog_bytes(st),
	       (uint64_t)st->max_backlog_bytes);
	printf("  sources %zu src_untracked %" PRIu64 "\n", src->n,
	       (uint64_t)st->src_untracked);
	for (i = 0; i < src->n; i++) {
		src_addr(&src->v[i].key, addr, sizeof(addr));
		printf("  source %s ce %" PRIu64 " (%" PRIu64 " bytes) dropped %" PRIu64
		       " (%" PRIu64 " bytes)\n", addr, (uint64_t)src->v[i].c.ce_pkts,
		       (uint64_t)src->v[i].c.ce_bytes, (uint64_t)src->v[i].c.dropped_pkts,
		       (uint64_t)src->v[i].c.dropped_bytes);
	}
}

static void print_json(const char *dev, const struct cx_ecnq_state *st,
		       const struct src_list *src)
{
	char addr[INET6_ADDRSTRLEN];
	const struct {
		const char *name;
		uint64_t v;
	} f[] = {
		{ "rate_bps", st->rate_bps },
		{ "drain_bytes_per_s", st->drain_bytes_per_s },
		{ "mark_bytes", st->mark_bytes },
		{ "limit_bytes", st->limit_bytes },
		{ "burst_bytes", st->burst_bytes },
		{ "backlog_bytes", backlog_bytes(st) },
		{ "max_backlog_bytes", st->max_backlog_bytes },
		{ "skbs", st->skbs },
		{ "pkts", st->pkts },
		{ "bytes", st->bytes },
		{ "in_not_ect", st->in_not_ect },
		{ "in_ect1", st->in_ect1 },
		{ "in_ect0", st->in_ect0 },
		{ "in_ce", st->in_ce },
		{ "marked", st->marked },
		{ "marked_bytes", st->marked_bytes },
		{ "dropped", st->dropped },
		{ "dropped_bytes", st->dropped_bytes },
		{ "dropped_limit", st->dropped_limit },
		{ "non_ip", st->non_ip },
		{ "src_untracked", st->src_untracked },
	};
	size_t i;

	/* Interface names are [A-Za-z0-9_.-]-ish, but escape '"' and '\' anyway. */
	fputs("{\"dev\": \"", stdout);
	for (i = 0; dev[i]; i++) {
		if (dev[i] == '"' || dev[i] == '\\')
			putchar('\\');
		putchar(dev[i]);
	}
	putchar('"');
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		printf(", \"%s\": %" PRIu64, f[i].name, f[i].v);
	fputs(", \"sources\": [", stdout);
	for (i = 0; i < src->n; i++) {
		src_addr(&src->v[i].key, addr, sizeof(addr));
		printf("%s{\"addr\": \"%s\", \"ce_pkts\": %" PRIu64 ", \"ce_bytes\": %" PRIu64
		       ", \"dropped_pkts\": %" PRIu64 ", \"dropped_bytes\": %" PRIu64 "}",
		       i ? ", " : "", addr, (uint64_t)src->v[i].c.ce_pkts,
		       (uint64_t)src->v[i].c.ce_bytes, (uint64_t)src->v[i].c.dropped_pkts,
		       (uint64_t)src->v[i].c.dropped_bytes);
	}
	fputs("]}\n", stdout);
}

static int cmd_stats(const struct opts *o)
{
	struct cx_ecnq_state st;
	struct bpf_tc_hook hook;
	struct src_list src = { NULL, 0 };
	int fd, err;

	hook_init(&hook, o->ifindex);
	fd = find_state_map(&hook);
	if (fd == -ENOENT) {
		fprintf(stderr, "cx-ecnq: no ecnq filter on %s\n", o->dev);
		return EXIT_ABSENT;
	}
	if (fd < 0) {
		fprintf(stderr, "cx-ecnq: %s: %s\n", o->dev, strerror(-fd));
		return 1;
	}
	err = read_state(fd, &st);
	close(fd);
	if (err < 0) {
		fprintf(stderr, "cx-ecnq: reading the state of %s: %s\n", o->dev, strerror(-err));
		return 1;
	}
	fd = find_map(&hook, SRC_MAP_NAME, sizeof(struct cx_ecnq_src));
	if (fd < 0) {
		fprintf(stderr, "cx-ecnq: the per-source map of %s: %s\n", o->dev,
			strerror(-fd));
		return 1;
	}
	err = read_sources(fd, &src);
	close(fd);
	if (err < 0) {
		fprintf(stderr, "cx-ecnq: reading the sources of %s: %s\n", o->dev,
			strerror(-err));
		return 1;
	}
	if (o->json)
		print_json(o->dev, &st, &src);
	else
		print_text(o->dev, &st, &src);
	free(src.v);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_detach(const struct opts *o)
{
	struct cx_ecnq_state st;
	struct bpf_tc_hook hook;
	struct bpf_tc_opts to;
	int fd, err, own = 0;

	hook_init(&hook, o->ifindex);
	fd = find_state_map(&hook);
	if (fd == -ENOENT) {
		fprintf(stderr, "cx-ecnq: no ecnq filter on %s\n", o->dev);
		return EXIT_ABSENT;
	}
	if (fd < 0) {
		fprintf(stderr, "cx-ecnq: %s: %s\n", o->dev, strerror(-fd));
		return 1;
	}
	if (read_state(fd, &st) == 0)
		own = !!(st.flags & CX_ECNQ_F_OWN_CLSACT);
	close(fd);

	tcopts_init(&to);
	err = bpf_tc_detach(&hook, &to);
	if (err < 0) {
		fprintf(stderr, "cx-ecnq: detaching from %s: %s\n", o->dev, strerror(-err));
		return 1;
	}
	if (own) {
		/* Also removes any filter added since; clsact was ours to begin with. */
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		err = bpf_tc_hook_destroy(&hook);
		if (err < 0 && err != -ENOENT) {
			fprintf(stderr, "cx-ecnq: removing clsact from %s: %s\n", o->dev,
				strerror(-err));
			return 1;
		}
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },
		{ "mark-bytes", required_argument, NULL, 'm' },
		{ "limit-bytes", required_argument, NULL, 'l' },
		{ "burst-bytes", required_argument, NULL, 'b' },
		{ "drain-pct", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, err, idx;

	while ((c = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
		err = 0;
		switch (c) {
		case 'd':
			o->dev = optarg;
			break;
		case 'r':
			err = cx_parse_rate(optarg, &o->rate_bps);
			o->have_rate = 1;
			break;
		case 'm':
			err = cx_parse_size(optarg, &o->mark_bytes);
			o->have_mark = 1;
			break;
		case 'l':
			err = cx_parse_size(optarg, &o->limit_bytes);
			o->have_limit = 1;
			break;
		case 'b':
			err = cx_parse_size(optarg, &o->burst_bytes);
			o->have_burst = 1;
			break;
		case 'p':
			err = cx_parse_u64(optarg, 1, 100, &o->drain_pct);
			break;
		case 'j':
			o->json = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
		if (err < 0) {
			fprintf(stderr, "cx-ecnq: bad value for --%s: '%s'\n",
				longopts[idx].name, optarg);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_attach_opts(const struct opts *o)
{
	if (!o->have_rate || !o->have_mark || !o->have_limit) {
		fprintf(stderr, "cx-ecnq: attach needs --rate, --mark-bytes and --limit-bytes\n");
		return -EINVAL;
	}
	if (o->rate_bps == 0 ||
	    o->rate_bps / 8 * o->drain_pct / 100 > CX_ECNQ_MAX_DRAIN_BYTES_PER_S) {
		fprintf(stderr, "cx-ecnq: --rate must be 1bit..100gbit\n");
		return -EINVAL;
	}
	if (o->rate_bps / 8 * o->drain_pct / 100 == 0) {
		fprintf(stderr, "cx-ecnq: --rate x --drain-pct is below 1 byte/s\n");
		return -EINVAL;
	}
	if (o->mark_bytes == 0 || o->limit_bytes <= o->mark_bytes ||
	    o->limit_bytes > CX_ECNQ_MAX_LIMIT_BYTES) {
		fprintf(stderr, "cx-ecnq: need 0 < --mark-bytes < --limit-bytes <= 1g "
			"(got %" PRIu64 ", %" PRIu64 ")\n", o->mark_bytes, o->limit_bytes);
		return -EINVAL;
	}
	if (o->burst_bytes > CX_ECNQ_MAX_BURST_BYTES) {
		fprintf(stderr, "cx-ecnq: --burst-bytes must be at most 1g (got %" PRIu64 ")\n",
			o->burst_bytes);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .drain_pct = 100 };
	const char *cmd;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "attach") != 0 && strcmp(cmd, "stats") != 0 &&
	    strcmp(cmd, "detach") != 0) {
		fprintf(stderr, "cx-ecnq: unknown command '%s'\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (parse_opts(argc - 1, argv + 1, &o) < 0)
		return EXIT_USAGE;
	if (optind < argc - 1) {
		fprintf(stderr, "cx-ecnq: unexpected argument '%s'\n", argv[optind + 1]);
		return EXIT_USAGE;
	}
	if (!o.dev) {
		fprintf(stderr, "cx-ecnq: %s needs --dev\n", cmd);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "attach") == 0) {
		if (check_attach_opts(&o) < 0)
			return EXIT_USAGE;
	} else if (o.have_rate || o.have_mark || o.have_limit || o.have_burst ||
		   o.drain_pct != 100) {
		fprintf(stderr, "cx-ecnq: %s takes only --dev%s\n", cmd,
			strcmp(cmd, "stats") == 0 ? " and --json" : "");
		return EXIT_USAGE;
	} else if (o.json && strcmp(cmd, "stats") != 0) {
		fprintf(stderr, "cx-ecnq: --json is for stats\n");
		return EXIT_USAGE;
	}
	o.ifindex = if_nametoindex(o.dev);
	if (o.ifindex == 0) {
		fprintf(stderr, "cx-ecnq: no device '%s' in this namespace\n", o.dev);
		return 1;
	}
	libbpf_set_print(libbpf_quiet);

	if (strcmp(cmd, "attach") == 0)
		return cmd_attach(&o);
	if (strcmp(cmd, "stats") == 0)
		return cmd_stats(&o);
	return cmd_detach(&o);
}
