/*
 * Control socket (see ctl.h). Clients get a short timeout so that a stuck
 * one cannot hold the daemon's loop.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <conex/log.h>

#include "ctl.h"
#include "opts.h"

#define CTL_TIMEOUT_MS	1000
#define CTL_BACKLOG	8

/* Abstract address: sun_path[0] = 0, the name follows, no NUL counted. */
static int ctl_addr(struct sockaddr_un *sun, const char *name, socklen_t *alen)
{
	size_t n = strlen(name);

	if (n == 0 || n > sizeof(sun->sun_path) - 1)
		return -EINVAL;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path + 1, name, n);
	*alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	return 0;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { 0, CTL_TIMEOUT_MS * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/*
 * One reply is one message: the socket buffers must hold it whole
 * (a larger send fails with EMSGSIZE). Twice the message leaves room for
 * the kernel's per-message overhead.
 */
static void set_buf(int fd, int opt, size_t msg_bytes)
{
	int bytes = msg_bytes > INT_MAX / 2 ? INT_MAX : (int)(2 * msg_bytes);

	setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes));
}

int cxd_ctl_listen(const char *name)
{
	struct sockaddr_un sun;
	socklen_t alen;
	int fd, ret;

	ret = ctl_addr(&sun, name, &alen);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, alen) < 0 ||
	    listen(fd, CTL_BACKLOG) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int cxd_ctl_accept_req(int lfd, char *req, size_t reqlen, uid_t *uid)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	ssize_t n;
	int cfd;

	if (reqlen < 2)
		return -ENOSPC;
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0)
		return -errno;
	set_timeouts(cfd);
	/* Abstract names have no file mode: the peer's uid is the check. */
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		n = -errno;
		close(cfd);
		return (int)n;
	}
	*uid = cred.uid;
	n = recv(cfd, req, reqlen - 1, 0);
	if (n < 0) {
		n = -errno;
		close(cfd);
		return (int)n;
	}
	req[n] = '\0';
	return cfd;
}

void cxd_ctl_reply(int cfd, const char *reply, size_t len)
{
	set_buf(cfd, SO_SNDBUF, len);
	/* A client that went away is its own problem: nothing to report. */
	(void)send(cfd, reply, len, MSG_NOSIGNAL);
	close(cfd);
}

int cxd_ctl_call(const char *name, const char *req, char *buf, size_t len)
{
	struct sockaddr_un sun;
	socklen_t alen;
	ssize_t n;
	int fd, ret;

	if (len == 0)
		return -ENOSPC;
	if (strlen(req) >= CXD_CTL_REQ_MAX)
		return -E2BIG;
	ret = ctl_addr(&sun, name, &alen);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	set_timeouts(fd);
	set_buf(fd, SO_RCVBUF, len);
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

/* Words of req, split in place; at most max of them. */
static int split(char *req, char **argv, int max)
{
	char *save = NULL, *tok;
	int argc = 0;

	for (tok = strtok_r(req, " \n", &save); tok && argc < max;
	     tok = strtok_r(NULL, " \n", &save))
		argv[argc++] = tok;
	return argc;
}

static const struct cxd_ctl_cmd *lookup(const struct cxd_ctl_cmd *cmds,
					size_t n_cmds, int argc, char **argv)
{
	size_t i;

	if (argc == 0)
		return NULL;
	for (i = 0; i < n_cmds; i++) {
		if (strcmp(argv[0], cmds[i].name) != 0 ||
		    argc - 1 < cmds[i].args_min || argc - 1 > cmds[i].args_max)
			continue;
		if (cmds[i].format && (argc < 2 || (strcmp(argv[1], "json") != 0 &&
						    strcmp(argv[1], "text") != 0)))
			continue;
		return &cmds[i];
	}
	return NULL;
}

void cxd_ctl_serve(int lfd, const struct cxd_ctl_cmd *cmds, size_t n_cmds,
		   void *ctx, char *buf, size_t len)
{
	char req[CXD_CTL_REQ_MAX], *argv[CXD_CTL_ARGS_MAX];
	const struct cxd_ctl_cmd *cmd;
	int cfd, n, argc;
	uid_t uid;

	cfd = cxd_ctl_accept_req(lfd, req, sizeof(req), &uid);
	if (cfd < 0) {
		if (cfd != -EAGAIN && cfd != -EWOULDBLOCK)
			cx_log_debug("control socket: %s", strerror(-cfd));
		return;
	}
	argc = split(req, argv, CXD_CTL_ARGS_MAX);
	cmd = lookup(cmds, n_cmds, argc, argv);
	/* Tenants' allowances, peers and traffic: the operator's only. */
	if (uid != 0)
		n = snprintf(buf, len, "error: permission denied: the "
			     "control socket is root-only\n");
	else if (cmd != NULL)
		n = cmd->run(ctx, argc, argv, buf, len);
	else
		n = snprintf(buf, len, "error: usage: unknown request\n");
	if (n < 0)
		n = snprintf(buf, len, "error: %s\n", strerror(-n));
	if (n < 0 || (size_t)n >= len)
		n = (int)strlen(buf);
	cxd_ctl_reply(cfd, buf, (size_t)n);
}

int cxd_ctl_ask(const struct cxd_ctl_client *c, const char *req,
		const char *what, unsigned int flags)
{
	int ret;

	ret = cxd_ctl_call(c->name, req, c->buf, c->len);
	if (ret == -ENOENT) {
		fprintf(stderr, "%s: %s\n", c->prog, c->absent);
		return EXIT_FAILURE;
	}
	if (ret <= 0) {
		fprintf(stderr, "%s: %s%s%s\n", c->prog, what ? what : "",
			what ? ": " : "", ret == 0 ? "empty reply" : strerror(-ret));
		return EXIT_FAILURE;
	}
	if ((flags & CXD_CTL_F_OK_ONLY) && strcmp(c->buf, "ok\n") != 0) {
		fprintf(stderr, "%s: %s", c->prog, strncmp(c->buf, "error: ", 7) == 0 ?
			c->buf + 7 : c->buf);
		return EXIT_FAILURE;
	}
	if (strncmp(c->buf, "error: ", 7) == 0) {
		fprintf(stderr, "%s: %s", c->prog, c->buf + 7);
		return strncmp(c->buf + 7, "usage", 5) == 0 ? CXD_EXIT_USAGE :
							      EXIT_FAILURE;
	}
	if (!(flags & CXD_CTL_F_QUIET_OK) || strcmp(c->buf, "ok\n") != 0)
		fputs(c->buf, stdout);
	return 0;
}
