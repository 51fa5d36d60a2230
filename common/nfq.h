/*
 * NFQUEUE plumbing shared by the daemons and the benchmark ceiling
 * (bench/nfq-accept.c), libmnl + libnetfilter_queue's nlmsg API: bind one
 * queue or a range of queues on one socket, receive header-only copies in
 * recvmmsg() batches, hand each packet to a callback for a verdict and an
 * optional mark, and send verdicts in batches. No decisions are made here.
 */
#ifndef CXD_NFQ_H
#define CXD_NFQ_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#define CXD_NFQ_QUEUES_MAX	16
/* IPv6 + 8-byte CDO header + 60-byte TCP; VXLAN + inner IPv4 headers. */
#define CXD_NFQ_COPY_DEFAULT	160
/*
 * A packet message is nlmsghdr + nfgenmsg + about ten attributes (well
 * under 512 bytes) + the copy: a copy of at most 1024 bytes always fits
 * CXD_NFQ_RX_MSG_BYTES, so MSG_TRUNC means a kernel we do not know.
 */
#define CXD_NFQ_COPY_MAX	1024
#define CXD_NFQ_MAXLEN_DEFAULT	16384
#define CXD_NFQ_BATCH_DEFAULT	64
#define CXD_NFQ_BATCH_MAX	4096
#define CXD_NFQ_RCVBUF_BYTES	(32 * 1024 * 1024)
#define CXD_NFQ_RX_MSG_BYTES	2048
#define CXD_NFQ_RX_VLEN		64
#define CXD_NFQ_TX_BYTES	(8 * 1024)

struct mnl_socket;
struct mnl_nlmsg_batch;

struct cxd_nfq_config {
	uint16_t queue_first;
	uint16_t queue_count;	/* 1..CXD_NFQ_QUEUES_MAX, numbers must not wrap */
	uint32_t copy_bytes;	/* 1..CXD_NFQ_COPY_MAX */
	uint32_t queue_maxlen;	/* packets the kernel holds per queue, >= 1 */
	uint32_t batch;		/* accepts per batch verdict, 1..CXD_NFQ_BATCH_MAX */
	bool fail_open;		/* F_FAIL_OPEN: a full queue accepts, not drops */
};

/* One queued packet as the callback sees it. data is valid during the call. */
struct cxd_nfq_pkt {
	uint32_t id;
	uint16_t queue;
	uint8_t hook;		/* NF_INET_* */
	uint16_t hw_proto;	/* host order: ETH_P_IP, ETH_P_IPV6 */
	uint32_t indev;		/* ifindex, 0 if none */
	uint32_t outdev;
	uint32_t mark;		/* skb mark as queued (NFQA_MARK), 0 if none */
	const uint8_t *data;	/* the network header onwards */
	size_t cap_len;		/* bytes in data (<= copy_bytes) */
	uint32_t pkt_len;	/* the whole packet (a GSO packet whole) */
};

/* Set by the callback to give the packet a new skb mark with its verdict. */
struct cxd_nfq_mark {
	bool set;		/* false on entry */
	uint32_t value;
};

/*
 * Returns NF_ACCEPT or NF_DROP (anything else is taken as NF_ACCEPT). A
 * mark set with NF_ACCEPT travels as NFQA_MARK in a verdict of its own; it
 * is ignored with NF_DROP.
 */
typedef unsigned int (*cxd_nfq_cb)(void *arg, const struct cxd_nfq_pkt *p,
				   struct cxd_nfq_mark *mark);

struct cxd_nfq_stats {
	uint64_t packets;
	uint64_t bytes;		/* original lengths (GSO packets whole) */
	uint64_t accepted;
	uint64_t dropped;
	uint64_t marked;	/* accepted with a new mark */
	uint64_t verdict_msgs;	/* all verdict messages */
	uint64_t verdict_batches;	/* of which NFQNL_MSG_VERDICT_BATCH */
	uint64_t verdict_sends;	/* sendto() calls carrying them */
	uint64_t rx_calls;	/* recvmmsg() calls that returned data */
	uint64_t enobufs;
	uint64_t truncated;	/* netlink messages larger than the rx buffer */
	uint64_t malformed;	/* packet messages without id or payload */
	uint64_t unknown;	/* packet messages for queues not bound here */
	uint64_t nl_errors;	/* NLMSG_ERROR replies to verdicts */
};

struct cxd_nfq_queue {
	uint16_t num;
	bool bound;
	uint32_t last_id;	/* highest id received and not yet verdicted */
	uint32_t pending;	/* accepts covered by the next batch verdict */
};

struct cxd_nfq {
	struct cxd_nfq_config cfg;
	struct mnl_socket *nl;
	unsigned int portid;
	uint32_t seq;
	uint32_t seq_wait;
	bool acked;
	int ack_err;
	int tx_err;		/* first failed send since the last receive */
	uint32_t pending_total;
	cxd_nfq_cb cb;
	void *cb_arg;
	struct cxd_nfq_stats st;
	struct cxd_nfq_queue queues[CXD_NFQ_QUEUES_MAX];
	struct mnl_nlmsg_batch *tx;
	alignas(8) char txbuf[CXD_NFQ_TX_BYTES];
	struct mmsghdr rx_hdr[CXD_NFQ_RX_VLEN];
	struct iovec rx_iov[CXD_NFQ_RX_VLEN];
	struct sockaddr_nl rx_addr[CXD_NFQ_RX_VLEN];
	alignas(8) char rx_buf[CXD_NFQ_RX_VLEN][CXD_NFQ_RX_MSG_BYTES];
};

/* Queue 0, one queue, 160-byte copies, 16384 packets, batches of 64, fail-closed. */
void cxd_nfq_config_default(struct cxd_nfq_config *cfg);

/* 0, or -EINVAL if a field is outside its documented range. */
int cxd_nfq_config_check(const struct cxd_nfq_config *cfg);

/*
 * Open the netlink socket and bind every queue of cfg: copy mode with
 * cfg->copy_bytes, F_GSO always, F_FAIL_OPEN per cfg->fail_open. q must be
 * zeroed (it is large: allocate it). Returns 0, -EINVAL for a bad cfg or
 * NULL cb, or -errno; on error cxd_nfq_close() cleans up what was done.
 */
int cxd_nfq_open(struct cxd_nfq *q, const struct cxd_nfq_config *cfg,
		 cxd_nfq_cb cb, void *arg);

int cxd_nfq_fd(const struct cxd_nfq *q);

/*
 * Read up to CXD_NFQ_RX_VLEN messages and verdict every packet in them;
 * batch verdicts go out once cfg.batch accepts are pending. Returns the
 * number of messages (0: socket empty) or -errno.
 */
int cxd_nfq_receive(struct cxd_nfq *q);

/* Send the pending verdicts. Returns 0 or -errno. */
int cxd_nfq_flush(struct cxd_nfq *q);

/*
 * Verdict what is already on the socket (bounded: traffic may still be
 * flowing) and flush. Returns 0 or -errno.
 */
int cxd_nfq_drain(struct cxd_nfq *q);

/* Drain, unbind every bound queue, close; idempotent. */
void cxd_nfq_close(struct cxd_nfq *q);

#endif
