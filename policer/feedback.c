/*
 * Feedback from the tunnel egress (the auditors of the peer hosts,
 * conex/feedback.h): per source guest, the bytes that came out of the
 * tunnel and how many of them met congestion (outer CE) or were lost.
 * Each accepted message drains the guest's tenant by the CE and lost
 * bytes since the last one (RFC 7713 §5.5 "ECN tunnel loss audit",
 * draft-briscoe-conex-data-centre §5).
 *
 * Trust: a message counts only if it comes from the peer's underlay
 * address, names a configured peer as reporter and this host as sender,
 * verifies under that peer's key (HMAC-SHA-256) and is newer than the
 * last accepted one (cx_fb_peer_accept: replays and regressions refused).
 * A guest that sends to this port gets nothing but a counter: it cannot
 * forge the tag, and its source address is not a peer's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "policer.h"

#define FB_BATCH	64	/* datagrams per call, then back to the loop */

int pol_fb_open(struct policer *pl)
{
	const struct pol_config *c = &pl->cfg;
	struct sockaddr_storage ss;
	socklen_t slen;
	unsigned int i;
	int fd, ret;

	pl->fb_fd = -1;
	if (!pol_config_tunnel(c))
		return 0;
	pl->fb_peers = calloc(c->n_peers ? c->n_peers : 1, sizeof(*pl->fb_peers));
	if (pl->fb_peers == NULL)
		return -ENOMEM;
	for (i = 0; i < c->n_peers; i++) {
		ret = cx_fb_peer_init(&pl->fb_peers[i].fb, c->peers[i].host_id,
				      c->host_id, pl->fb_peers[i].guests,
				      sizeof(pl->fb_peers[i].guests) /
				      sizeof(pl->fb_peers[i].guests[0]));
		if (ret < 0)
			return ret;
	}
	memset(&ss, 0, sizeof(ss));
	if (c->local_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(c->feedback_port);
		memcpy(&sin->sin_addr, c->local_addr, 4);
		slen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(c->feedback_port);
		memcpy(&sin6->sin6_addr, c->local_addr, 16);
		slen = sizeof(*sin6);
	}
	fd = socket(c->local_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&ss, slen) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	pl->fb_fd = fd;
	return 0;
}

void pol_fb_close(struct policer *pl)
{
	if (pl->fb_fd >= 0)
		close(pl->fb_fd);
	pl->fb_fd = -1;
	free(pl->fb_peers);
	pl->fb_peers = NULL;
}

static int peer_by_id(const struct policer *pl, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < pl->cfg.n_peers; i++)
		if (pl->cfg.peers[i].host_id == id)
			return (int)i;
	return -1;
}

static bool from_peer(const struct pol_peer *pe, const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET && pe->family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)ss)->sin_addr,
			      pe->addr, 4) == 0;
	if (ss->ss_family == AF_INET6 && pe->family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr,
			      pe->addr, 16) == 0;
	return false;
}

static int peer_by_addr(const struct policer *pl,
			const struct sockaddr_storage *ss)
{
	unsigned int i;

	for (i = 0; i < pl->cfg.n_peers; i++)
		if (from_peer(&pl->cfg.peers[i], ss))
			return (int)i;
	return -1;
}

/* The guest a feedback entry names (IPv4 as ::ffff:a.b.c.d), or NULL. */
static const struct pol_guest *guest_by_addr(const struct policer *pl,
					     const uint8_t a[16])
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t *addr = a;
	int family = AF_INET6;
	unsigned int i, j;

	if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
		family = AF_INET;
		addr = a + 12;
	}
	for (i = 0; i < pl->cfg.n_guests; i++) {
		const struct pol_guest *g = &pl->cfg.guests[i];

		for (j = 0; j < g->n_addrs; j++)
			if (pol_prefix_match(&g->addrs[j], family, addr))
				return g;
	}
	return NULL;
}

static void handle(struct policer *pl, const uint8_t *buf, size_t len,
		   const struct sockaddr_storage *from, uint64_t now_ns)
{
	struct cx_fb_entry entries[CX_FB_ENTRIES_MAX];
	struct cx_fb_delta deltas[CX_FB_ENTRIES_MAX];
	uint32_t reporter, sender;
	struct pol_fb_peer *fp;
	struct cx_fb_msg m;
	int idx, ret, n, i;

	/* Cheapest first: only a peer's underlay address may report. */
	if (peer_by_addr(pl, from) < 0) {
		pl->st.fb_wrong_source++;
		return;
	}
	ret = cx_fb_peek_hosts(buf, len, &reporter, &sender);
	if (ret < 0) {
		pl->fb_stats.n[cx_fb_decode_event(ret)]++;
		return;
	}
	idx = peer_by_id(pl, reporter);
	if (idx < 0 || sender != pl->cfg.host_id) {
		pl->fb_stats.n[CX_FB_EV_UNKNOWN_HOST]++;
		return;
	}
	/* A peer may report only for itself. */
	if (!from_peer(&pl->cfg.peers[idx], from)) {
		pl->st.fb_wrong_source++;
		return;
	}
	ret = cx_fb_decode(buf, len, pl->cfg.peers[idx].key, &m, entries,
			   CX_FB_ENTRIES_MAX);
	if (ret < 0) {
		pl->fb_stats.n[cx_fb_decode_event(ret)]++;
		return;
	}
	fp = &pl->fb_peers[idx];
	n = cx_fb_peer_accept(&fp->fb, &m, deltas, CX_FB_ENTRIES_MAX);
	if (n < 0) {
		pl->fb_stats.n[n == -EALREADY ? CX_FB_EV_REPLAYED :
			       n == -EBADMSG ? CX_FB_EV_REGRESSED :
			       CX_FB_EV_LOCAL]++;
		return;
	}
	pl->fb_stats.n[CX_FB_EV_ACCEPTED]++;
	for (i = 0; i < n; i++) {
		const struct pol_guest *g = guest_by_addr(pl, deltas[i].guest);
		struct pol_tenant_rt *t;
		uint64_t congested;

		if (g == NULL) {
			pl->st.fb_unknown_guest++;
			continue;
		}
		t = &pl->tenants[g->tenant];
		t->feedback_bytes += deltas[i].bytes;
		t->feedback_ce_bytes += deltas[i].ce_bytes;
		t->feedback_lost_bytes += deltas[i].lost_bytes;
		congested = deltas[i].ce_bytes + deltas[i].lost_bytes;
		if (congested)
			cx_police_drain(&t->pol, congested, now_ns);
	}
}

void pol_fb_receive(struct policer *pl, uint64_t now_ns)
{
	uint8_t buf[CX_FB_DGRAM_MAX + 1];
	struct sockaddr_storage from;
	socklen_t flen;
	ssize_t n;
	int i;

	if (pl->fb_fd < 0)
		return;
	for (i = 0; i < FB_BATCH; i++) {
		flen = sizeof(from);
		n = recvfrom(pl->fb_fd, buf, sizeof(buf), MSG_TRUNC,
			     (struct sockaddr *)&from, &flen);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				pl->st.fb_errors++;
			return;
		}
		pl->st.fb_datagrams++;
		/* Longer than any message: refused as such, not cut to fit. */
		if ((size_t)n > CX_FB_DGRAM_MAX) {
			pl->fb_stats.n[CX_FB_EV_MALFORMED]++;
			continue;
		}
		handle(pl, buf, (size_t)n, &from, now_ns);
	}
}
