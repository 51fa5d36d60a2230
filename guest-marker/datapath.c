/*
 * Loader for marker.bpf.c: skeleton open, map sizing, load, config map,
 * tcx links on egress and ingress.
 *
 * tcx (Linux 6.6) is newer than Debian's libbpf 1.1, which has no
 * bpf_program__attach_tcx(); bpf_link_create() passes the attach type
 * through unchanged, so the raw values from marker.h are used.
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <conex/log.h>

#include "datapath.h"
/* bpftool's generated skeleton casts const away from its embedded object. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#include "marker.skel.h"
#pragma GCC diagnostic pop

#define BTF_VMLINUX	"/sys/kernel/btf/vmlinux"

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[CX_LOG_MSG_MAX];
	size_t n;

	/* Debug output is for developers; warnings go to our log. */
	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n > 0)
		cx_log_debug("libbpf: %s", buf);
	return 0;
}

static int dev_mtu(const char *ifname, uint32_t *mtu)
{
	struct ifreq ifr;
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
		ret = -errno;
	else
		*mtu = (uint32_t)ifr.ifr_mtu;
	close(fd);
	return ret;
}

/* Returns a link fd or -errno. */
static int attach_tcx(struct bpf_program *prog, unsigned int ifindex, int type)
{
	int fd;

	fd = bpf_link_create(bpf_program__fd(prog), (int)ifindex,
			     (enum bpf_attach_type)type, NULL);
	return fd < 0 ? -errno : fd;
}

static const char *tcx_error(int err)
{
	/* Kernels before 6.6 reject the unknown attach type. */
	if (err == -EINVAL || err == -EOPNOTSUPP)
		return "kernel without tcx links (needs Linux 6.6 or later)";
	return strerror(-err);
}

int cxm_dp_set_cfg(const struct cxm_dp *dp, const struct cxm_config *c)
{
	struct cxm_cfg cfg;
	__u32 zero = 0;

	memset(&cfg, 0, sizeof(cfg));
	cfg.flags = (c->ipv4 ? CXM_CFG_F_IPV4 : 0) | (c->ipv6 ? CXM_CFG_F_IPV6 : 0) |
		    (c->mss_clamp ? CXM_CFG_F_MSS_CLAMP : 0);
	/* The MTU is the device's, read at start: a reload does not change it. */
	cfg.mtu_bytes = dp->mtu_bytes;
	cfg.gauge = c->gauge;
	/*
	 * One syscall replaces the array slot in place; the programs look
	 * the slot up per packet, so the next packet sees the new values and
	 * the flow table is not touched. A packet racing the update may see
	 * some fields old and some new: each is a u32 valid on its own, so
	 * every mix is a configuration the parser could have produced.
	 */
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.cxm_cfg_map), &zero,
				&cfg, BPF_ANY) < 0)
		return -errno;
	return 0;
}

int cxm_dp_open(struct cxm_dp *dp, const struct cxm_config *c, char *err,
		size_t errlen)
{
	int ret;

	memset(dp, 0, sizeof(*dp));
	dp->egress_fd = -1;
	dp->ingress_fd = -1;
	libbpf_set_print(libbpf_log);

	dp->ifindex = if_nametoindex(c->ifname);
	if (dp->ifindex == 0) {
		snprintf(err, errlen, "interface %s: %s", c->ifname, strerror(errno));
		return -ENODEV;
	}
	ret = dev_mtu(c->ifname, &dp->mtu_bytes);
	if (ret < 0) {
		snprintf(err, errlen, "interface %s: MTU: %s", c->ifname, strerror(-ret));
		return ret;
	}
	if (access(BTF_VMLINUX, R_OK) < 0) {
		snprintf(err, errlen, "kernel without BTF (%s): %s; conex-marker needs "
			 "Linux 6.6 or later built with CONFIG_DEBUG_INFO_BTF",
			 BTF_VMLINUX, strerror(errno));
		return -EOPNOTSUPP;
	}

	dp->skel = marker__open();
	if (!dp->skel) {
		ret = -errno;
		snprintf(err, errlen, "BPF object: %s", strerror(errno));
		return ret;
	}
	ret = bpf_map__set_max_entries(dp->skel->maps.cxm_flows, c->flows_max);
	if (ret < 0) {
		snprintf(err, errlen, "flow table size: %s", strerror(-ret));
		goto err_destroy;
	}
	ret = marker__load(dp->skel);
	if (ret < 0) {
		if (ret == -EPERM)
			snprintf(err, errlen, "loading BPF programs: %s (needs root, or "
				 "CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)", strerror(-ret));
		else
			snprintf(err, errlen, "loading BPF programs: %s", strerror(-ret));
		goto err_destroy;
	}

	ret = cxm_dp_set_cfg(dp, c);
	if (ret < 0) {
		snprintf(err, errlen, "config map: %s", strerror(-ret));
		goto err_destroy;
	}

	/* Ingress first: feedback is read before any packet is stamped. */
	ret = attach_tcx(dp->skel->progs.cxm_ingress, dp->ifindex, CXM_BPF_TCX_INGRESS);
	if (ret < 0) {
		snprintf(err, errlen, "attach ingress on %s: %s", c->ifname, tcx_error(ret));
		goto err_destroy;
	}
	dp->ingress_fd = ret;
	ret = attach_tcx(dp->skel->progs.cxm_egress, dp->ifindex, CXM_BPF_TCX_EGRESS);
	if (ret < 0) {
		snprintf(err, errlen, "attach egress on %s: %s", c->ifname, tcx_error(ret));
		goto err_detach_ingress;
	}
	dp->egress_fd = ret;
	return 0;

err_detach_ingress:
	close(dp->ingress_fd);
	dp->ingress_fd = -1;
err_destroy:
	marker__destroy(dp->skel);
	dp->skel = NULL;
	return ret;
}

void cxm_dp_close(struct cxm_dp *dp)
{
	/* Closing a tcx link detaches its program (the link owns the attachment). */
	if (dp->egress_fd >= 0)
		close(dp->egress_fd);
	dp->egress_fd = -1;
	if (dp->ingress_fd >= 0)
		close(dp->ingress_fd);
	dp->ingress_fd = -1;
	if (dp->skel)
		marker__destroy(dp->skel);
	dp->skel = NULL;
}

int cxm_dp_counters(const struct cxm_dp *dp, struct cxm_counters *out)
{
	struct cxm_counters *percpu;
	const __u64 *src;
	__u64 *dst;
	__u32 zero = 0;
	size_t i, j, nfields = sizeof(*out) / sizeof(__u64);
	int ncpu, ret = 0;

	memset(out, 0, sizeof(*out));
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	percpu = calloc((size_t)ncpu, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.cxm_counters_map), &zero,
				percpu) < 0) {
		ret = -errno;
		goto out_free;
	}
	dst = (__u64 *)out;
	for (i = 0; i < (size_t)ncpu; i++) {
		src = (const __u64 *)&percpu[i];
		for (j = 0; j < nfields; j++)
			dst[j] += src[j];
	}
out_free:
	free(percpu);
	return ret;
}

int cxm_dp_scan(const struct cxm_dp *dp, uint64_t now_ns, uint64_t idle_ns,
		struct cxm_flow_sums *out)
{
	struct cxm_flow_key key, next;
	struct cxm_flow val;
	uint32_t n, cap;
	int fd, have_key = 0;

	memset(out, 0, sizeof(*out));
	fd = bpf_map__fd(dp->skel->maps.cxm_flows);
	cap = bpf_map__max_entries(dp->skel->maps.cxm_flows);
	/*
	 * Deleting the current key restarts get_next_key from the first
	 * entry (hash maps do that for a missing key), so the walk keeps
	 * the previous surviving key. Capped: the table churns meanwhile.
	 */
	for (n = 0; n < 2 * cap + 16; n++) {
		if (bpf_map_get_next_key(fd, have_key ? &key : NULL, &next) < 0)
			break;
		/* BPF_F_LOCK: a consistent copy, taken under the flow's lock. */
		if (bpf_map_lookup_elem_flags(fd, &next, &val, BPF_F_LOCK) < 0)
			continue;
		if (idle_ns && now_ns > val.last_ns && now_ns - val.last_ns > idle_ns) {
			if (bpf_map_delete_elem(fd, &next) == 0)
				out->reaped++;
			continue;
		}
		out->flows++;
		out->leg_bytes += val.g.leg_bytes;
		out->ceg_bytes += val.g.ceg_bytes;
		out->csc_bytes += val.g.csc_bytes;
		key = next;
		have_key = 1;
	}
	return 0;
}
