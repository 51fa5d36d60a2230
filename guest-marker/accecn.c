/*
 * `accecn yes`: register cx_accecn (accecn.bpf.c) and make it this network
 * namespace's default congestion control; undo both on the way out.
 *
 * Registration goes through a struct_ops link (Linux 6.4). Debian's libbpf
 * 1.1 predates those links: the map is created with BPF_F_LINK, libbpf's
 * bpf_map__attach_struct_ops() writes the value (with BPF_F_LINK the
 * kernel only checks it and marks it ready, it registers nothing) and
 * bpf_link_create(map, BPF_STRUCT_OPS) registers it. The kernel
 * unregisters it when the link's last fd closes, so a marker that dies,
 * even by SIGKILL, takes cx_accecn out of tcp_available_congestion_control.
 * The raw values are from this kernel's BTF, as marker.h does for tcx.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "accecn.h"
/* bpftool's generated skeleton casts const away from its embedded object. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#include "accecn.skel.h"
#pragma GCC diagnostic pop

#define CXM_BPF_F_LINK		8192	/* map flag: registered by a link */
#define CXM_BPF_STRUCT_OPS	44	/* attach type of a struct_ops link */

#define SYSCTL_CC	"/proc/sys/net/ipv4/tcp_congestion_control"
/* Restored when the namespace's default already was ours (see start). */
#define CC_GUESS	"cubic"
/*
 * When the previous default cannot be restored (a namespace other than
 * the initial one may only name algorithms in the global
 * tcp_allowed_congestion_control): Reno is built in and never restricted.
 */
#define CC_LAST_RESORT	"reno"

static int read_cc(char *buf, size_t len)
{
	ssize_t n;
	int fd, ret = 0;

	fd = open(SYSCTL_CC, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		ret = -errno;
	else if (n == 0)
		ret = -EIO;
	close(fd);
	if (ret < 0)
		return ret;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf[0] == '\0' ? -EIO : 0;
}

static int write_cc(const char *name)
{
	size_t len = strlen(name);
	ssize_t n;
	int fd, ret = 0;

	fd = open(SYSCTL_CC, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, name, len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

void cxm_accecn_init(struct cxm_accecn *a)
{
	memset(a, 0, sizeof(*a));
	a->link_fd = -1;
}

bool cxm_accecn_active(const struct cxm_accecn *a)
{
	return a->link_fd >= 0 && a->default_set;
}

static void unload(struct cxm_accecn *a)
{
	if (a->link_fd >= 0)
		close(a->link_fd);
	a->link_fd = -1;
	if (a->skel)
		accecn_bpf__destroy(a->skel);
	a->skel = NULL;
}

/* Load the programs and write the map's value; nothing registered yet. */
static int load(struct cxm_accecn *a, char *err, size_t errlen)
{
	struct bpf_link *fake;
	int ret;

	a->skel = accecn_bpf__open();
	if (!a->skel) {
		ret = -errno;
		snprintf(err, errlen, "accecn: BPF object: %s", strerror(-ret));
		return ret;
	}
	ret = bpf_map__set_map_flags(a->skel->maps.cx_accecn, CXM_BPF_F_LINK);
	if (ret < 0) {
		snprintf(err, errlen, "accecn: map flags: %s", strerror(-ret));
		return ret;
	}
	ret = accecn_bpf__load(a->skel);
	if (ret < 0) {
		if (ret == -EPERM)
			snprintf(err, errlen, "accecn: loading %s: %s (needs root, or "
				 "CAP_BPF and CAP_NET_ADMIN)", CXM_ACCECN_CC,
				 strerror(-ret));
		else
			snprintf(err, errlen, "accecn: loading %s: %s (needs BPF "
				 "struct_ops congestion controls, BPF_F_LINK maps "
				 "(Linux 6.4) and the kernel's CUBIC callable as "
				 "kfuncs, CONFIG_TCP_CONG_CUBIC=y)", CXM_ACCECN_CC,
				 strerror(-ret));
		return ret;
	}
	/*
	 * libbpf 1.1 fills the prog fds into its copy of the value only
	 * here. Its "link" is the map fd with a detach that deletes the
	 * value: disconnected and freed, it closes nothing.
	 */
	fake = bpf_map__attach_struct_ops(a->skel->maps.cx_accecn);
	if (!fake) {
		ret = -errno;
		if (ret == -EINVAL)
			snprintf(err, errlen, "accecn: %s refused: %s (a kernel "
				 "without TCP_CONG_NEEDS_ACCECN, Linux 6.18, takes "
				 "its flags for invalid)", CXM_ACCECN_CC,
				 strerror(-ret));
		else
			snprintf(err, errlen, "accecn: %s: writing the struct_ops: %s",
				 CXM_ACCECN_CC, strerror(-ret));
		return ret;
	}
	bpf_link__disconnect(fake);
	bpf_link__destroy(fake);
	return 0;
}

int cxm_accecn_start(struct cxm_accecn *a, char *err, size_t errlen,
		     char *notice, size_t noticelen)
{
	char cur[CXM_CC_NAME_MAX];
	int ret;

	cxm_accecn_init(a);
	if (notice && noticelen)
		notice[0] = '\0';
	ret = read_cc(cur, sizeof(cur));
	if (ret < 0) {
		snprintf(err, errlen, "accecn: %s: %s", SYSCTL_CC, strerror(-ret));
		return ret;
	}
	ret = load(a, err, errlen);
	if (ret < 0)
		goto fail;

	ret = bpf_link_create(bpf_map__fd(a->skel->maps.cx_accecn), 0,
			      (enum bpf_attach_type)CXM_BPF_STRUCT_OPS, NULL);
	if (ret < 0) {
		ret = -errno;
		if (ret == -EEXIST)
			snprintf(err, errlen, "accecn: a congestion control named %s "
				 "is already registered on this kernel (another "
				 "conex-marker with 'accecn yes'? one per kernel)",
				 CXM_ACCECN_CC);
		else if (ret == -EINVAL || ret == -EOPNOTSUPP)
			snprintf(err, errlen, "accecn: registering %s: %s (kernel "
				 "without struct_ops links, Linux 6.4)", CXM_ACCECN_CC,
				 strerror(-ret));
		else
			snprintf(err, errlen, "accecn: registering %s: %s",
				 CXM_ACCECN_CC, strerror(-ret));
		goto fail;
	}
	a->link_fd = ret;

	/*
	 * The default already named cx_accecn although the name was free:
	 * a marker killed before it could restore it (the namespace keeps
	 * the old, unregistered ops). What came before is lost; CUBIC is
	 * what cx_accecn behaves as.
	 */
	if (strcmp(cur, CXM_ACCECN_CC) == 0) {
		snprintf(a->prev_cc, sizeof(a->prev_cc), "%s", CC_GUESS);
		if (notice && noticelen)
			snprintf(notice, noticelen, "accecn: net.ipv4.tcp_congestion_"
				 "control already was %s (left by a killed "
				 "conex-marker?): %s, else %s, will be restored on "
				 "exit", CXM_ACCECN_CC, CC_GUESS, CC_LAST_RESORT);
	} else {
		snprintf(a->prev_cc, sizeof(a->prev_cc), "%s", cur);
	}
	ret = write_cc(CXM_ACCECN_CC);
	if (ret < 0) {
		snprintf(err, errlen, "accecn: net.ipv4.tcp_congestion_control = %s: "
			 "%s", CXM_ACCECN_CC, strerror(-ret));
		goto fail;
	}
	a->default_set = true;
	return 0;
fail:
	unload(a);
	return ret;
}

int cxm_accecn_stop(struct cxm_accecn *a)
{
	char cur[CXM_CC_NAME_MAX];
	int ret = 0;

	/*
	 * The default first: while the namespace names cx_accecn it holds
	 * a reference on the struct_ops, which would then outlive the link.
	 */
	if (a->default_set) {
		ret = read_cc(cur, sizeof(cur));
		if (ret == 0 && strcmp(cur, CXM_ACCECN_CC) == 0) {
			ret = write_cc(a->prev_cc);
			if (ret == 0)
				ret = CXM_ACCECN_RESTORED;
			else if (write_cc(CC_LAST_RESORT) == 0)
				ret = CXM_ACCECN_RESTORED_RENO;
		}
		a->default_set = false;
	}
	unload(a);
	return ret;
}
