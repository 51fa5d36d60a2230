/*
 * NFQUEUE I/O for every program that queues packets, so that the ceiling
 * bench/run measures (cx-nfq-accept) is the daemons' own plumbing. What
 * keeps it cheap, each measured in docs/design.md §5.3:
 *  - copy mode with a short range: headers only, the payload stays put and
 *    the verdict never carries a packet (a verdict with a packet makes the
 *    kernel set CHECKSUM_NONE, and a shorter one truncates the packet);
 *  - NFQA_CFG_F_GSO: without it the kernel segments GSO packets before
 *    queueing and a TCP flow falls from ~10 to ~1 Gb/s;
 *  - NFQA_CFG_F_FAIL_OPEN per the failure policy: a full queue accepts
 *    (fail-open) or drops (fail-closed);
 *  - a large queue, SO_RCVBUFFORCE and NETLINK_NO_ENOBUFS;
 *  - recvmmsg(), since netlink hands out one skb per recvmsg();
 *  - NFQNL_MSG_VERDICT_BATCH for runs of plain accepts; a drop or a new
 *    mark is a single verdict sent right after the batch that covers the
 *    ids before it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "nfq.h"

/* Config acks: bounded wait; packets arriving meanwhile are handled. */
#define ACK_TURNS_MAX		4096
#define ACK_TIMEOUT_MS		1000
#define DRAIN_TURNS_MAX		64
#define TX_HEADROOM_BYTES	512	/* room for the message that overflows */

void cxd_nfq_config_default(struct cxd_nfq_config *cfg)
{
	*cfg = (struct cxd_nfq_config){
		.queue_first = 0,
		.queue_count = 1,
		.copy_bytes = CXD_NFQ_COPY_DEFAULT,
		.queue_maxlen = CXD_NFQ_MAXLEN_DEFAULT,
		.batch = CXD_NFQ_BATCH_DEFAULT,
		.fail_open = false,
	};
}

int cxd_nfq_config_check(const struct cxd_nfq_config *cfg)
{
	if (cfg->queue_count < 1 || cfg->queue_count > CXD_NFQ_QUEUES_MAX ||
	    cfg->queue_count - 1U > (unsigned int)UINT16_MAX - cfg->queue_first)
		return -EINVAL;
	if (cfg->copy_bytes < 1 || cfg->copy_bytes > CXD_NFQ_COPY_MAX)
		return -EINVAL;
	if (cfg->queue_maxlen < 1)
		return -EINVAL;
	if (cfg->batch < 1 || cfg->batch > CXD_NFQ_BATCH_MAX)
		return -EINVAL;
	return 0;
}

static struct cxd_nfq_queue *queue_find(struct cxd_nfq *q, uint16_t num)
{
	if (num < q->cfg.queue_first ||
	    num - q->cfg.queue_first >= q->cfg.queue_count)
		return NULL;
	return &q->queues[num - q->cfg.queue_first];
}

/* Send what the tx batch holds; the overflowed message, if any, stays. */
static int tx_send(struct cxd_nfq *q)
{
	size_t len = mnl_nlmsg_batch_size(q->tx);
	int ret = 0;

	if (len > 0) {
		if (mnl_socket_sendto(q->nl, mnl_nlmsg_batch_head(q->tx), len) < 0)
			ret = -errno;
		else
			q->st.verdict_sends++;
	}
	mnl_nlmsg_batch_reset(q->tx);
	if (ret < 0 && q->tx_err == 0)
		q->tx_err = ret;
	return ret;
}

/* Appends one verdict; mark is NULL for none. */
static int tx_verdict(struct cxd_nfq *q, int type, uint16_t num, uint32_t id,
		      unsigned int verdict, const uint32_t *mark)
{
	struct nlmsghdr *nlh;

	nlh = nfq_nlmsg_put(mnl_nlmsg_batch_current(q->tx), type, num);
	nfq_nlmsg_verdict_put(nlh, (int)id, (int)verdict);
	if (mark != NULL)
		nfq_nlmsg_verdict_put_mark(nlh, *mark);
	q->st.verdict_msgs++;
	if (type == NFQNL_MSG_VERDICT_BATCH)
		q->st.verdict_batches++;
	if (!mnl_nlmsg_batch_next(q->tx))
		return tx_send(q);
	return 0;
}

/*
 * The kernel applies a batch verdict to every entry of the queue whose id
 * is <= the one given (nfqnl_recv_verdict_batch()); ids grow per queue,
 * and drops and marks were verdicted one by one after the batch before
 * them, so last_id covers exactly the pending accepts.
 */
static int queue_pending(struct cxd_nfq *q, struct cxd_nfq_queue *qu)
{
	int ret;

	if (qu->pending == 0)
		return 0;
	ret = tx_verdict(q, NFQNL_MSG_VERDICT_BATCH, qu->num, qu->last_id,
			 NF_ACCEPT, NULL);
	q->pending_total -= qu->pending;
	qu->pending = 0;
	return ret;
}

int cxd_nfq_flush(struct cxd_nfq *q)
{
	uint16_t i;
	int ret;

	for (i = 0; i < q->cfg.queue_count && q->pending_total > 0; i++) {
		ret = queue_pending(q, &q->queues[i]);
		if (ret < 0)
			return ret;
	}
	return tx_send(q);
}

static void on_packet(struct cxd_nfq *q, const struct nlmsghdr *nlh)
{
	struct nlattr *attr[NFQA_MAX + 1] = { NULL };
	const struct nfqnl_msg_packet_hdr *ph;
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	struct cxd_nfq_mark mark = { .set = false };
	struct cxd_nfq_queue *qu;
	struct cxd_nfq_pkt p;
	unsigned int verdict;

	qu = queue_find(q, ntohs(nfg->res_id));
	if (qu == NULL) {
		q->st.unknown++;
		return;
	}
	if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL ||
	    mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(*ph)) {
		q->st.malformed++;
		return;
	}
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	memset(&p, 0, sizeof(p));
	p.id = ntohl(ph->packet_id);
	p.queue = qu->num;
	p.hook = ph->hook;
	p.hw_proto = ntohs(ph->hw_protocol);
	if (attr[NFQA_IFINDEX_INDEV] != NULL)
		p.indev = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_INDEV]));
	if (attr[NFQA_IFINDEX_OUTDEV] != NULL)
		p.outdev = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_OUTDEV]));
	if (attr[NFQA_MARK] != NULL)
		p.mark = ntohl(mnl_attr_get_u32(attr[NFQA_MARK]));
	if (attr[NFQA_PAYLOAD] != NULL) {
		p.data = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
		p.cap_len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	}
	/* NFQA_CAP_LEN is present only when the copy was cut short. */
	if (attr[NFQA_CAP_LEN] != NULL)
		p.pkt_len = ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN]));
	else
		p.pkt_len = (uint32_t)p.cap_len;

	q->st.packets++;
	q->st.bytes += p.pkt_len;
	if (p.data != NULL) {
		verdict = q->cb(q->cb_arg, &p, &mark);
	} else {
		/* Nothing to judge: passed, as the failure policy cannot apply. */
		q->st.malformed++;
		verdict = NF_ACCEPT;
	}
	if (verdict == NF_DROP || mark.set) {
		/* Ids before this one first, then this one alone. */
		(void)queue_pending(q, qu);
		if (verdict == NF_DROP) {
			q->st.dropped++;
			(void)tx_verdict(q, NFQNL_MSG_VERDICT, qu->num, p.id,
					 NF_DROP, NULL);
		} else {
			q->st.accepted++;
			q->st.marked++;
			(void)tx_verdict(q, NFQNL_MSG_VERDICT, qu->num, p.id,
					 NF_ACCEPT, &mark.value);
		}
		return;
	}
	q->st.accepted++;
	qu->last_id = p.id;
	qu->pending++;
	q->pending_total++;
}

static void dispatch(struct cxd_nfq *q, const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;
	int left = (int)len;

	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e))
				continue;
			if (q->seq_wait != 0 && nlh->nlmsg_seq == q->seq_wait) {
				q->acked = true;
				q->ack_err = -e->error;
			} else if (e->error != 0) {
				q->st.nl_errors++;
			}
			continue;
		}
		if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_QUEUE ||
		    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFQNL_MSG_PACKET)
			continue;
		if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nfgenmsg)) {
			q->st.malformed++;
			continue;
		}
		on_packet(q, nlh);
	}
}

int cxd_nfq_receive(struct cxd_nfq *q)
{
	int fd = mnl_socket_get_fd(q->nl);
	int i, n, ret;

	for (i = 0; i < CXD_NFQ_RX_VLEN; i++) {
		q->rx_hdr[i].msg_hdr.msg_namelen = sizeof(q->rx_addr[i]);
		q->rx_hdr[i].msg_hdr.msg_flags = 0;
	}
	n = recvmmsg(fd, q->rx_hdr, CXD_NFQ_RX_VLEN, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		if (errno == ENOBUFS) {
			q->st.enobufs++;
			return 0;
		}
		return -errno;
	}
	q->st.rx_calls++;
	for (i = 0; i < n; i++) {
		const struct msghdr *mh = &q->rx_hdr[i].msg_hdr;

		/* Only the kernel (port id 0) may hand us packets. */
		if (q->rx_addr[i].nl_pid != 0)
			continue;
		if (mh->msg_flags & MSG_TRUNC) {
			q->st.truncated++;
			continue;
		}
		dispatch(q, q->rx_buf[i], q->rx_hdr[i].msg_len);
	}
	if (q->pending_total >= q->cfg.batch)
		(void)cxd_nfq_flush(q);
	/* A verdict that did not go out leaves its packet queued: say so. */
	ret = q->tx_err;
	q->tx_err = 0;
	return ret < 0 ? ret : n;
}

/*
 * One config message with NLM_F_ACK; waits for the ack while verdicting
 * packets of queues already bound.
 */
static int config_send(struct cxd_nfq *q, struct nlmsghdr *nlh)
{
	struct pollfd pfd = { .fd = mnl_socket_get_fd(q->nl), .events = POLLIN };
	int turn, ret = 0;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++q->seq;
	q->seq_wait = nlh->nlmsg_seq;
	q->acked = false;
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0) {
		q->seq_wait = 0;
		return -errno;
	}
	for (turn = 0; turn < ACK_TURNS_MAX && !q->acked; turn++) {
		ret = cxd_nfq_receive(q);
		if (ret < 0)
			break;
		if (ret > 0)
			continue;
		ret = cxd_nfq_flush(q);
		if (ret < 0 || q->acked)
			break;
		ret = poll(&pfd, 1, ACK_TIMEOUT_MS);
		if (ret < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		if (ret == 0)
			break;
	}
	q->seq_wait = 0;
	if (!q->acked)
		return ret < 0 ? ret : -ETIMEDOUT;
	return -q->ack_err;
}

static int socket_open(struct cxd_nfq *q)
{
	int fd, one = 1, rcvbuf = CXD_NFQ_RCVBUF_BYTES;

	q->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (q->nl == NULL)
		return -errno;
	if (mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	q->portid = mnl_socket_get_portid(q->nl);
	fd = mnl_socket_get_fd(q->nl);
	/*
	 * FORCE ignores net.core.rmem_max and needs CAP_NET_ADMIN; SOL_SOCKET,
	 * as mnl_socket_setsockopt() sets SOL_NETLINK options only.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
		return -errno;
	/*
	 * A full receive buffer fails the packet open or drops it per the
	 * queue flags; ENOBUFS on recv would tell us nothing more.
	 */
	if (mnl_socket_setsockopt(q->nl, NETLINK_NO_ENOBUFS, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

static int queue_bind(struct cxd_nfq *q, uint16_t num)
{
	char buf[256];
	struct nlmsghdr *nlh;
	uint32_t flags = NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN;
	uint32_t want = NFQA_CFG_F_GSO | (q->cfg.fail_open ? NFQA_CFG_F_FAIL_OPEN : 0);

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, (int)q->cfg.copy_bytes);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, q->cfg.queue_maxlen);
	/* The mask covers both flags: a stale FAIL_OPEN must be cleared. */
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(want));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(flags));
	return config_send(q, nlh);
}

static int queue_unbind(struct cxd_nfq *q, uint16_t num)
{
	char buf[128];
	struct nlmsghdr *nlh;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
	return config_send(q, nlh);
}

int cxd_nfq_open(struct cxd_nfq *q, const struct cxd_nfq_config *cfg,
		 cxd_nfq_cb cb, void *arg)
{
	uint16_t i;
	int ret;

	if (cb == NULL || cxd_nfq_config_check(cfg) < 0)
		return -EINVAL;
	q->cfg = *cfg;
	q->cb = cb;
	q->cb_arg = arg;
	for (i = 0; i < cfg->queue_count; i++)
		q->queues[i].num = (uint16_t)(cfg->queue_first + i);
	for (i = 0; i < CXD_NFQ_RX_VLEN; i++) {
		q->rx_iov[i].iov_base = q->rx_buf[i];
		q->rx_iov[i].iov_len = sizeof(q->rx_buf[i]);
		q->rx_hdr[i].msg_hdr.msg_iov = &q->rx_iov[i];
		q->rx_hdr[i].msg_hdr.msg_iovlen = 1;
		q->rx_hdr[i].msg_hdr.msg_name = &q->rx_addr[i];
	}
	q->tx = mnl_nlmsg_batch_start(q->txbuf, sizeof(q->txbuf) - TX_HEADROOM_BYTES);
	if (q->tx == NULL)
		return -ENOMEM;
	ret = socket_open(q);
	if (ret < 0)
		return ret;
	for (i = 0; i < cfg->queue_count; i++) {
		ret = queue_bind(q, q->queues[i].num);
		if (ret < 0)
			return ret;
		q->queues[i].bound = true;
	}
	return 0;
}

int cxd_nfq_fd(const struct cxd_nfq *q)
{
	return mnl_socket_get_fd(q->nl);
}

int cxd_nfq_drain(struct cxd_nfq *q)
{
	int turn, ret;

	for (turn = 0; turn < DRAIN_TURNS_MAX; turn++) {
		ret = cxd_nfq_receive(q);
		if (ret < 0)
			return ret;
		if (ret == 0)
			break;
	}
	return cxd_nfq_flush(q);
}

void cxd_nfq_close(struct cxd_nfq *q)
{
	uint16_t i;

	if (q->nl != NULL && q->tx != NULL)
		(void)cxd_nfq_drain(q);
	for (i = q->cfg.queue_count; i > 0; i--) {
		struct cxd_nfq_queue *qu = &q->queues[i - 1];

		if (!qu->bound)
			continue;
		(void)queue_unbind(q, qu->num);
		qu->bound = false;
	}
	if (q->nl != NULL) {
		mnl_socket_close(q->nl);
		q->nl = NULL;
	}
	if (q->tx != NULL) {
		mnl_nlmsg_batch_stop(q->tx);
		q->tx = NULL;
	}
}
