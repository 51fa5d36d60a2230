/*
 * conex-dump's accounting. Each TCP direction is one flow-table entry; the
 * reverse direction's entry holds the ACK side, so the E bound of a flow is
 * read from its peer at report time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <conex/flowtable.h>
#include <conex/signal.h>

#include "acct.h"

struct cxd_acct {
	struct cx_flowtable *t;
	struct cxd_totals tot;
	uint32_t first_n;
	uint32_t n_dirs;
};

/* RFC 1982 serial-number comparison, 32 bits. */
static bool seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* A capture is a record: no entry is ever forgotten to make room. */
static bool never_evict(const struct cx_flow_key *key, const void *value,
			void *arg)
{
	(void)key;
	(void)value;
	(void)arg;
	return false;
}

struct cxd_acct *cxd_acct_new(uint32_t max_flows, uint32_t first_n,
			      const struct cx_siphash_key *key)
{
	struct cx_flowtable_policy pol = { .can_evict = never_evict };
	struct cxd_acct *a;

	if (!key) {
		errno = EINVAL;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->t = cx_flowtable_new(max_flows, sizeof(struct cxd_dir), key);
	if (!a->t) {
		free(a);
		return NULL;
	}
	cx_flowtable_set_policy(a->t, &pol);
	a->first_n = first_n;
	return a;
}

void cxd_acct_free(struct cxd_acct *a)
{
	if (!a)
		return;
	cx_flowtable_free(a->t);
	free(a);
}

const struct cxd_totals *cxd_acct_totals(const struct cxd_acct *a)
{
	return &a->tot;
}

uint32_t cxd_acct_first_n(const struct cxd_acct *a)
{
	return a->first_n;
}

uint32_t cxd_acct_count(const struct cxd_acct *a)
{
	return a->n_dirs;
}

static void count_signals(struct cxd_dir *d, const struct cxd_pkt *pk)
{
	int i;

	for (i = 0; i < CXD_FLAGS; i++) {
		if (!pk->flag_bytes[i])
			continue;
		d->sig_pkts[i]++;
		d->sig_bytes[i] += pk->flag_bytes[i];
		d->sig_payload_bytes[i] += pk->payload_bytes;
	}
}

static void count_payload(struct cxd_acct *a, struct cxd_dir *d,
			  const struct cxd_pkt *pk)
{
	uint32_t plen = pk->payload_bytes;
	bool x = pk->flag_bytes[CXD_FLAG_X] != 0;
	bool c = pk->flag_bytes[CXD_FLAG_C] != 0;

	d->payload_pkts++;
	d->payload_bytes += plen;
	if (x)
		d->payload_pkts_x++;
	else
		d->payload_pkts_no_x++;
	if (plen > d->max_payload)
		d->max_payload = plen;
	if (d->payload_pkts == 1)
		d->c_first_pkt = c;
	if (d->first_n_done < a->first_n) {
		d->first_n_done++;
		if (c) {
			d->c_first_n_pkts++;
			d->c_first_n_bytes += pk->flag_bytes[CXD_FLAG_C];
		}
	}
	if (pk->ecn == 3) {
		d->ce_payload_pkts++;
		d->ce_payload_bytes += plen;
	}
}

/* Remember [start, end) as missing from the capture; full: forget it (counted). */
static void add_hole(struct cxd_dir *d, uint32_t start, uint32_t end)
{
	if (d->nholes == CXD_HOLES_MAX) {
		d->holes_dropped += end - start;
		return;
	}
	d->holes[d->nholes].start = start;
	d->holes[d->nholes].end = end;
	d->nholes++;
}

/*
 * Bytes of [s, e) that fill remembered holes; those parts of the holes are
 * removed. A fill in the middle of a hole splits it (or, with no room for
 * the second part, forgets that part, counted in holes_dropped).
 */
static uint32_t fill_holes(struct cxd_dir *d, uint32_t s, uint32_t e)
{
	uint32_t filled = 0, i = 0, hs, he, os, oe;

	while (i < d->nholes) {
		hs = d->holes[i].start;
		he = d->holes[i].end;
		os = seq_before(s, hs) ? hs : s;
		oe = seq_before(e, he) ? e : he;
		if (!seq_before(os, oe)) {
			i++;
			continue;
		}
		filled += oe - os;
		if (os == hs && oe == he) {
			d->holes[i] = d->holes[--d->nholes];
			continue;
		}
		if (os == hs) {
			d->holes[i].start = oe;
		} else if (oe == he) {
			d->holes[i].end = os;
		} else {
			d->holes[i].end = os;
			add_hole(d, oe, he);
		}
		i++;
	}
	return filled;
}

/*
 * Sequence space this direction already sent: payload below snd_max was
 * sent before. At a capture downstream of a loss the first copy is not in
 * the file, so this counts what the sender retransmitted, which is what it
 * must declare as L (RFC 7786 §3.1), plus any reordering.
 */
static void track_seq(struct cxd_dir *d, const struct cxd_pkt *pk)
{
	const struct cx_tcp *t = &pk->tcp;
	uint32_t data = t->seq + ((t->flags & CX_TCP_F_SYN) ? 1U : 0U);
	uint32_t end = data + pk->payload_bytes +
		       ((t->flags & CX_TCP_F_FIN) ? 1U : 0U);
	uint32_t dup, fill;

	if (t->flags & CX_TCP_F_RST)
		return;
	if (!d->have_seq) {
		d->have_seq = true;
		d->snd_max = end;
		return;
	}
	if (pk->payload_bytes && seq_before(data, d->snd_max)) {
		dup = d->snd_max - data;
		if (dup > pk->payload_bytes)
			dup = pk->payload_bytes;
		d->retx_pkts++;
		d->retx_bytes += dup;
		fill = fill_holes(d, data, data + dup);
		d->retx_fill_bytes += fill;
		d->retx_dup_bytes += dup - fill;
	}
	if (pk->payload_bytes && seq_before(d->snd_max, data))
		add_hole(d, d->snd_max, data);
	if (seq_before(d->snd_max, end))
		d->snd_max = end;
}

/* This direction's ACK field: feedback on the reverse direction's data. */
static void track_ack(struct cxd_dir *d, const struct cxd_pkt *pk)
{
	const struct cx_tcp *t = &pk->tcp;
	bool ece = (t->flags & CX_TCP_F_ECE) && !(t->flags & CX_TCP_F_SYN);

	if (!(t->flags & CX_TCP_F_ACK) || (t->flags & CX_TCP_F_RST))
		return;
	if (!d->have_ack) {
		d->have_ack = true;
		d->snd_una = t->ack;
		if (ece)
			d->ece_acks++;
		return;
	}
	if (seq_before(d->snd_una, t->ack)) {
		if (ece) {
			d->ece_acks++;
			d->ece_acked_bytes += t->ack - d->snd_una;
		}
		d->snd_una = t->ack;
	} else if (ece) {
		d->ece_acks++;
		/* RFC 5681 §2 duplicate ACK: no data, no SYN/FIN, same ACK. */
		if (t->ack == d->snd_una && !pk->payload_bytes &&
		    !(t->flags & (CX_TCP_F_SYN | CX_TCP_F_FIN)))
			d->ece_dup_acks++;
	}
}

void cxd_acct_packet(struct cxd_acct *a, int decode_ret,
		     const struct cxd_pkt *pk)
{
	const struct cx_tcp *t;
	struct cxd_dir *d;
	void *v;
	int ret;

	a->tot.packets++;
	if (decode_ret == -ENOENT) {
		a->tot.non_ip++;
		return;
	}
	if (decode_ret == -ENODATA) {
		a->tot.truncated++;
		return;
	}
	if (decode_ret < 0) {
		a->tot.malformed++;
		return;
	}
	if (pk->family == 4)
		a->tot.ipv4++;
	else
		a->tot.ipv6++;
	if (pk->flags & CXD_PKT_F_RF_ANOMALY)
		a->tot.rf_anomaly++;
	if ((pk->flags & CXD_PKT_F_MULTICAST) && (pk->flags & CXD_PKT_F_MARKING))
		a->tot.multicast_marking++;
	if (pk->flags & CXD_PKT_F_FRAGMENT) {
		a->tot.fragments++;
		return;
	}
	if (!(pk->flags & CXD_PKT_F_TCP)) {
		a->tot.non_tcp++;
		if (pk->flags & CXD_PKT_F_MARKING)
			a->tot.non_tcp_marking++;
		return;
	}
	a->tot.tcp++;
	ret = cx_flowtable_insert(a->t, &pk->key, &v);
	if (ret == -ENOSPC) {
		a->tot.untracked++;
		return;
	}
	d = v;
	if (ret == 0) {
		a->n_dirs++;
		d->key = pk->key;
		d->first_pkt = a->tot.packets;
	}
	t = &pk->tcp;
	d->pkts++;
	count_signals(d, pk);
	if (pk->ecn == 3) {
		d->ce_pkts++;
		d->ce_ip_bytes += pk->ip_bytes;
	}
	if ((t->flags & CX_TCP_F_SYN) && (t->opt.present & CX_TCP_OPT_F_MSS))
		d->syn_mss = t->opt.mss;
	if (pk->payload_bytes)
		count_payload(a, d, pk);
	else if ((t->flags & CX_TCP_F_ACK) &&
		 !(t->flags & (CX_TCP_F_SYN | CX_TCP_F_FIN | CX_TCP_F_RST))) {
		d->pure_acks++;
		if (pk->flags & CXD_PKT_F_MARKING)
			d->pure_acks_marking++;
		if (pk->flag_bytes[CXD_FLAG_X])
			d->pure_acks_x++;
	}
	track_seq(d, pk);
	track_ack(d, pk);
}

static int by_first_pkt(const void *x, const void *y)
{
	const struct cxd_dir *a = *(const struct cxd_dir *const *)x;
	const struct cxd_dir *b = *(const struct cxd_dir *const *)y;

	return a->first_pkt < b->first_pkt ? -1 : a->first_pkt > b->first_pkt;
}

uint32_t cxd_acct_list(struct cxd_acct *a, const struct cxd_dir **dirs,
		       uint32_t n)
{
	const struct cx_flow_key *k;
	uint32_t cursor = 0, i = 0;
	void *v;

	while (i < n && cx_flowtable_next(a->t, &cursor, &k, &v) == 0)
		dirs[i++] = v;
	qsort(dirs, i, sizeof(*dirs), by_first_pkt);
	return i;
}

const struct cxd_dir *cxd_acct_reverse(struct cxd_acct *a,
				       const struct cx_flow_key *k)
{
	struct cx_flow_key r;
	void *v;

	cx_flow_key_reverse(&r, k);
	if (cx_flowtable_lookup(a->t, &r, &v) < 0)
		return NULL;
	return v;
}

uint64_t cxd_acct_classic_e_bound(const struct cxd_dir *d,
				  const struct cxd_dir *rev)
{
	uint64_t smss;

	if (!rev)
		return 0;
	smss = rev->syn_mss ? rev->syn_mss : d->max_payload;
	return rev->ece_acked_bytes + rev->ece_dup_acks * smss;
}
