/*
 * NFQUEUE I/O (libmnl + libnetfilter_queue's nlmsg API): bind one queue,
 * receive header-only copies, hand each packet to a callback for a
 * verdict, and send verdicts in batches. No decisions are made here.
 */
#ifndef AUD_NFQ_H
#define AUD_NFQ_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#define AUD_NFQ_COPY_BYTES	160	/* IPv6 + 8-byte CDO header + 60-byte TCP, VXLAN + inner */
#define AUD_NFQ_QUEUE_MAXLEN	16384
#define AUD_NFQ_RCVBUF_BYTES	(32 * 1024 * 1024)
#define AUD_NFQ_BATCH		64
#define AUD_NFQ_RX_MSG_BYTES	2048
#define AUD_NFQ_RX_VLEN		64
#define AUD_NFQ_TX_BYTES	(8 * 1024)

struct mnl_socket;
struct mnl_nlmsg_batch;

/* One queued packet as the callback sees it. data is valid during the call. */
struct aud_nfq_pkt {
	uint32_t id;
	uint8_t hook;		/* NF_INET_* */
	uint16_t hw_proto;	/* host order: ETH_P_IP, ETH_P_IPV6 */
	uint32_t indev;		/* ifindex, 0 if none */
	uint32_t outdev;
	const uint8_t *data;	/* the network header onwards */
	size_t cap_len;		/* bytes in data (<= AUD_NFQ_COPY_BYTES) */
	uint32_t pkt_len;	/* the whole packet (a GSO packet whole) */
};

/* The callback returns NF_ACCEPT or NF_DROP. */
typedef unsigned int (*aud_nfq_cb)(void *arg, const struct aud_nfq_pkt *p);

struct aud_nfq_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t accepted;
	uint64_t dropped;
	uint64_t verdict_msgs;
	uint64_t verdict_sends;
	uint64_t enobufs;
	uint64_t truncated;	/* netlink messages larger than the rx buffer */
	uint64_t malformed;	/* packet messages without id or payload */
	uint64_t nl_errors;	/* NLMSG_ERROR replies to verdicts */
};

struct aud_nfq {
	struct mnl_socket *nl;
	unsigned int portid;
	uint16_t num;
	bool bound;
	bool fail_open;
	uint32_t seq;
	uint32_t seq_wait;
	bool acked;
	int ack_err;
	uint32_t last_id;	/* highest id received and not yet verdicted */
	uint32_t pending;	/* accepts covered by the next batch verdict */
	aud_nfq_cb cb;
	void *cb_arg;
	struct aud_nfq_stats st;
	struct mnl_nlmsg_batch *tx;
	alignas(8) char txbuf[AUD_NFQ_TX_BYTES];
	struct mmsghdr rx_hdr[AUD_NFQ_RX_VLEN];
	struct iovec rx_iov[AUD_NFQ_RX_VLEN];
	struct sockaddr_nl rx_addr[AUD_NFQ_RX_VLEN];
	alignas(8) char rx_buf[AUD_NFQ_RX_VLEN][AUD_NFQ_RX_MSG_BYTES];
};

/*
 * Open the netlink socket and bind queue num: copy AUD_NFQ_COPY_BYTES,
 * F_GSO always, F_FAIL_OPEN if fail_open. q must be zeroed (it is large:
 * allocate it). Returns 0 or -errno; on error aud_nfq_close() cleans up.
 */
int aud_nfq_open(struct aud_nfq *q, uint16_t num, bool fail_open,
		 aud_nfq_cb cb, void *arg);

int aud_nfq_fd(const struct aud_nfq *q);

/*
 * Read up to AUD_NFQ_RX_VLEN messages and verdict every packet in them.
 * Returns the number of messages (0: socket empty) or -errno.
 */
int aud_nfq_receive(struct aud_nfq *q);

/* Send the pending verdicts. Returns 0 or -errno. */
int aud_nfq_flush(struct aud_nfq *q);

/* Verdict what is queued on the socket (bounded), unbind, close; idempotent. */
void aud_nfq_close(struct aud_nfq *q);

#endif
