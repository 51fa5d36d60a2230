/*
 * NFQUEUE I/O. The approach is bench/nfq-accept.c's, measured there
 * (DESIGN.md, "Facts about this kernel"):
 *  - copy mode with a short range: headers only, the payload stays put and
 *    the verdict never carries a packet (a verdict with a packet makes the
 *    kernel set CHECKSUM_NONE, and a shorter one truncates the packet);
 *  - NFQA_CFG_F_GSO: without it the kernel segments GSO packets before
 *    queueing and a TCP flow falls from ~10 to ~1 Gb/s;
 *  - NFQA_CFG_F_FAIL_OPEN per the failure policy: a full queue accepts
 *    (fail-open) or drops (fail-closed);
 *  - a large queue, SO_RCVBUFFORCE and NETLINK_NO_ENOBUFS;
 *  - recvmmsg(), since netlink hands out one skb per recvmsg();
 *  - NFQNL_MSG_VERDICT_BATCH for runs of accepts; a drop is a single
 *    verdict sent right after the batch that covers the ids before it.
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

/* Send what the tx batch holds; the overflowed message, if any, stays. */
static int tx_send(struct aud_nfq *q)
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
	return ret;
}

static int tx_verdict(struct aud_nfq *q, int type, uint32_t id,
		      unsigned int verdict)
{
	struct nlmsghdr *nlh;

	nlh = nfq_nlmsg_put(mnl_nlmsg_batch_current(q->tx), type, q->num);
	nfq_nlmsg_verdict_put(nlh, (int)id, (int)verdict);
	q->st.verdict_msgs++;
	if (!mnl_nlmsg_batch_next(q->tx))
		return tx_send(q);
	return 0;
}

/*
 * The kernel applies a batch verdict to every queued entry whose id is <=
 * the one given (nfqnl_recv_verdict_batch()); ids grow per queue, and drops
 * were verdicted one by one, so last_id covers exactly the pending accepts.
 */
static int queue_pending(struct aud_nfq *q)
{
	int ret;

	if (q->pending == 0)
		return 0;
	ret = tx_verdict(q, NFQNL_MSG_VERDICT_BATCH, q->last_id, NF_ACCEPT);
	q->pending = 0;
	return ret;
}

int aud_nfq_flush(struct aud_nfq *q)
{
	int ret = queue_pending(q);

	if (ret < 0)
		return ret;
	return tx_send(q);
}

static void on_packet(struct aud_nfq *q, const struct nlmsghdr *nlh)
{
	struct nlattr *attr[NFQA_MAX + 1] = { NULL };
	const struct nfqnl_msg_packet_hdr *ph;
	struct aud_nfq_pkt p;
	unsigned int verdict;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL ||
	    mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(*ph)) {
		q->st.malformed++;
		return;
	}
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	memset(&p, 0, sizeof(p));
	p.id = ntohl(ph->packet_id);
	p.hook = ph->hook;
	p.hw_proto = ntohs(ph->hw_protocol);
	if (attr[NFQA_IFINDEX_INDEV] != NULL)
		p.indev = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_INDEV]));
	if (attr[NFQA_IFINDEX_OUTDEV] != NULL)
		p.outdev = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_OUTDEV]));
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
	verdict = p.data != NULL ? q->cb(q->cb_arg, &p) : NF_ACCEPT;
	if (p.data == NULL)
		q->st.malformed++;
	if (verdict == NF_DROP) {
		q->st.dropped++;
		/* Ids before this one first, then this one alone. */
		if (queue_pending(q) == 0)
			(void)tx_verdict(q, NFQNL_MSG_VERDICT, p.id, NF_DROP);
		return;
	}
	q->st.accepted++;
	q->last_id = p.id;
	q->pending++;
}

static void dispatch(struct aud_nfq *q, const void *buf, size_t len)
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

int aud_nfq_receive(struct aud_nfq *q)
{
	int fd = mnl_socket_get_fd(q->nl);
	int i, n;

	for (i = 0; i < AUD_NFQ_RX_VLEN; i++) {
		q->rx_hdr[i].msg_hdr.msg_namelen = sizeof(q->rx_addr[i]);
		q->rx_hdr[i].msg_hdr.msg_flags = 0;
	}
	n = recvmmsg(fd, q->rx_hdr, AUD_NFQ_RX_VLEN, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		if (errno == ENOBUFS) {
			q->st.enobufs++;
			return 0;
		}
		return -errno;
	}
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
	if (q->pending >= AUD_NFQ_BATCH) {
		int ret = aud_nfq_flush(q);

		if (ret < 0)
			return ret;
	}
	return n;
}

/*
 * One config message with NLM_F_ACK; waits for the ack while verdicting
 * packets of the queue if it is already bound.
 */
static int config_send(struct aud_nfq *q, struct nlmsghdr *nlh)
{
	struct pollfd pfd = { .fd = mnl_socket_get_fd(q->nl), .events = POLLIN };
	int turn, ret;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++q->seq;
	q->seq_wait = nlh->nlmsg_seq;
	q->acked = false;
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (turn = 0; turn < ACK_TURNS_MAX && !q->acked; turn++) {
		ret = aud_nfq_receive(q);
		if (ret < 0)
			return ret;
		if (ret > 0)
			continue;
		ret = aud_nfq_flush(q);
		if (ret < 0)
			return ret;
		if (q->acked)
			break;
		ret = poll(&pfd, 1, ACK_TIMEOUT_MS);
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret == 0)
			break;
	}
	q->seq_wait = 0;
	if (!q->acked)
		return -ETIMEDOUT;
	return -q->ack_err;
}

static int socket_open(struct aud_nfq *q)
{
	int fd, one = 1, rcvbuf = AUD_NFQ_RCVBUF_BYTES;

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

int aud_nfq_open(struct aud_nfq *q, uint16_t num, bool fail_open,
		 aud_nfq_cb cb, void *arg)
{
	char buf[256];
	struct nlmsghdr *nlh;
	uint32_t flags = NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN;
	uint32_t want = NFQA_CFG_F_GSO | (fail_open ? NFQA_CFG_F_FAIL_OPEN : 0);
	int i, ret;

	q->num = num;
	q->fail_open = fail_open;
	q->cb = cb;
	q->cb_arg = arg;
	for (i = 0; i < AUD_NFQ_RX_VLEN; i++) {
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

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, AUD_NFQ_COPY_BYTES);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, AUD_NFQ_QUEUE_MAXLEN);
	/* The mask covers both flags: a stale FAIL_OPEN must be cleared. */
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(want));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(flags));
	ret = config_send(q, nlh);
	if (ret < 0)
		return ret;
	q->bound = true;
	return 0;
}

int aud_nfq_fd(const struct aud_nfq *q)
{
	return mnl_socket_get_fd(q->nl);
}

void aud_nfq_close(struct aud_nfq *q)
{
	char buf[128];
	struct nlmsghdr *nlh;
	int turn;

	if (q->bound) {
		/* Packets already on the socket get their verdict, bounded. */
		for (turn = 0; turn < DRAIN_TURNS_MAX; turn++)
			if (aud_nfq_receive(q) <= 0)
				break;
		(void)aud_nfq_flush(q);
		nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
		nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
		(void)config_send(q, nlh);
		q->bound = false;
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
