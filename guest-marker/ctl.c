/*
 * Control socket. SOCK_SEQPACKET: one request, one reply, message
 * boundaries kept. Clients get a short timeout so that a stuck one cannot
 * hold the daemon's loop.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"

#define CTL_PREFIX	"conex-marker."
#define CTL_TIMEOUT_MS	1000

/* Abstract address: sun_path[0] = 0, the name follows, no NUL counted. */
static socklen_t ctl_addr(struct sockaddr_un *sun, const char *ifname)
{
	int n;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	n = snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1, "%s%s",
		     CTL_PREFIX, ifname);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static void set_timeouts(int fd)
{
	struct timeval tv = { 0, CTL_TIMEOUT_MS * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int cxm_ctl_listen(const char *ifname)
{
	struct sockaddr_un sun;
	socklen_t alen = ctl_addr(&sun, ifname);
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, alen) < 0 || listen(fd, 8) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int cxm_ctl_accept(int lfd, bool *json)
{
	char req[64];
	ssize_t n;
	int cfd;

	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0)
		return -errno;
	set_timeouts(cfd);
	n = recv(cfd, req, sizeof(req) - 1, 0);
	if (n < 0) {
		n = -errno;
		close(cfd);
		return (int)n;
	}
	req[n] = '\0';
	if (strcmp(req, "stats json") == 0) {
		*json = true;
	} else if (strcmp(req, "stats text") == 0) {
		*json = false;
	} else {
		close(cfd);
		return -EBADMSG;
	}
	return cfd;
}

void cxm_ctl_reply(int cfd, const char *reply, size_t len)
{
	/* A client that went away is its own problem: nothing to report. */
	(void)send(cfd, reply, len, MSG_NOSIGNAL);
	close(cfd);
}

int cxm_ctl_request(const char *ifname, bool json, char *buf, size_t len)
{
	struct sockaddr_un sun;
	socklen_t alen = ctl_addr(&sun, ifname);
	const char *req = json ? "stats json" : "stats text";
	ssize_t n;
	int fd, ret;

	if (len == 0)
		return -ENOSPC;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	set_timeouts(fd);
	if (connect(fd, (struct sockaddr *)&sun, alen) < 0) {
		ret = errno == ECONNREFUSED ? -ENOENT : -errno;
		goto out_close;
	}
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		ret = -errno;
		goto out_close;
	}
	n = recv(fd, buf, len - 1, 0);
	if (n < 0) {
		ret = -errno;
		goto out_close;
	}
	buf[n] = '\0';
	ret = (int)n;
out_close:
	close(fd);
	return ret;
}
