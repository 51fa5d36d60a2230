/*
 * nfnetlink_acct over libmnl (nfacct.h). The messages are nfgenmsg with
 * NFACCT_NAME, and for GET the kernel answers with NFACCT_PKTS and
 * NFACCT_BYTES (big-endian 64-bit).
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_acct.h>

#include <endian.h>

#include "nfacct.h"

#define NFACCT_BUF	8192	/* one answer: an nfacct object is ~100 bytes */

int cxd_nfacct_open(struct cxd_nfacct *a)
{
	memset(a, 0, sizeof(*a));
	a->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (a->nl == NULL)
		return -errno;
	if (mnl_socket_bind(a->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = -errno;

		mnl_socket_close(a->nl);
		a->nl = NULL;
		return err;
	}
	a->portid = mnl_socket_get_portid(a->nl);
	a->seq = (uint32_t)time(NULL);
	return 0;
}

void cxd_nfacct_close(struct cxd_nfacct *a)
{
	if (a->nl != NULL)
		mnl_socket_close(a->nl);
	a->nl = NULL;
}

struct get_ctx {
	uint64_t pkts, bytes;
	int found;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, NFACCT_MAX) < 0)
		return MNL_CB_OK;
	if ((type == NFACCT_PKTS || type == NFACCT_BYTES) &&
	    mnl_attr_validate(attr, MNL_TYPE_U64) < 0)
		return MNL_CB_ERROR;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NFACCT_MAX + 1] = { NULL };
	struct get_ctx *g = data;

	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, tb) < 0)
		return MNL_CB_ERROR;
	if (tb[NFACCT_PKTS] == NULL || tb[NFACCT_BYTES] == NULL)
		return MNL_CB_OK;
	g->pkts = be64toh(mnl_attr_get_u64(tb[NFACCT_PKTS]));
	g->bytes = be64toh(mnl_attr_get_u64(tb[NFACCT_BYTES]));
	g->found = 1;
	return MNL_CB_OK;
}

/* One request for name and its answer (or ack); 0 or -errno. */
static int request(struct cxd_nfacct *a, uint16_t msg, uint16_t flags,
		   const char *name, struct get_ctx *g)
{
	char buf[NFACCT_BUF];
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	uint32_t seq;
	ssize_t n;
	int ret;

	if (a->nl == NULL)
		return -EBADF;
	if (strlen(name) >= NFACCT_NAME_MAX)
		return -ENAMETOOLONG;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_ACCT << 8) | msg;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	seq = ++a->seq;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	mnl_attr_put_strz(nlh, NFACCT_NAME, name);
	if (mnl_socket_sendto(a->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(a->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, seq, a->portid,
				 g ? get_cb : NULL, g);
		if (ret < 0)
			return -errno;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

int cxd_nfacct_new(struct cxd_nfacct *a, const char *name)
{
	return request(a, NFNL_MSG_ACCT_NEW, NLM_F_CREATE | NLM_F_EXCL, name,
		       NULL);
}

int cxd_nfacct_get(struct cxd_nfacct *a, const char *name, uint64_t *pkts,
		   uint64_t *bytes)
{
	struct get_ctx g = { 0, 0, 0 };
	int ret = request(a, NFNL_MSG_ACCT_GET, 0, name, &g);

	if (ret < 0)
		return ret;
	if (!g.found)
		return -ENOENT;
	*pkts = g.pkts;
	*bytes = g.bytes;
	return 0;
}

int cxd_nfacct_del(struct cxd_nfacct *a, const char *name)
{
	return request(a, NFNL_MSG_ACCT_DEL, 0, name, NULL);
}

int cxd_nfacct_ensure(const char *name)
{
	struct cxd_nfacct a;
	int ret = cxd_nfacct_open(&a);

	if (ret < 0)
		return ret;
	ret = cxd_nfacct_new(&a, name);
	cxd_nfacct_close(&a);
	return ret == -EEXIST ? 0 : ret;
}

int cxd_nfacct_remove(const char *name)
{
	struct cxd_nfacct a;
	int ret = cxd_nfacct_open(&a);

	if (ret < 0)
		return ret;
	ret = cxd_nfacct_del(&a, name);
	cxd_nfacct_close(&a);
	return ret == -ENOENT ? 0 : ret;
}

int cxd_nfacct_read(const char *name, uint64_t *pkts)
{
	struct cxd_nfacct a;
	uint64_t bytes;
	int ret = cxd_nfacct_open(&a);

	if (ret < 0)
		return ret;
	ret = cxd_nfacct_get(&a, name, pkts, &bytes);
	cxd_nfacct_close(&a);
	return ret;
}

uint64_t cxd_nfacct_queued(const char *name)
{
	uint64_t pkts = 0;

	if (cxd_nfacct_read(name, &pkts) < 0)
		return 0;
	return pkts;
}
