/*
 * Control socket (see ctl.h). The server never waits on a client: accept
 * is non-blocking, the peer's uid is checked before anything is read, and
 * a client whose request is not there yet waits in a slot the daemon's
 * poll watches, until its request comes or CXD_CTL_REQUEST_MS pass.
 * Clients have checked timeouts on every step.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <conex/log.h>

#include "ctl.h"
#include "opts.h"

#define CTL_BACKLOG		8
/* Client: connect and send; a listener with a full backlog is stuck. */
#define CONNECT_MS		1000
/* Server: accepts per turn, so that a flood of clients cannot hold the loop. */
#define ACCEPTS_PER_TURN	(2 * CXD_CTL_CONNS_MAX)
#define NS_PER_MS		1000000ULL
#define SUN_PATH_MAX		sizeof(((struct sockaddr_un *)0)->sun_path)
#define NETNS_PATH		"/proc/self/ns/net"

/* The message of cxd_ctl_strerror(-ETIMEDOUT) says so. */
_Static_assert(CXD_CTL_REPLY_MS == 5000, "ctl.c: no reply within 5 s");

struct ctl_conn {
	int fd;			/* -1: free */
	uint64_t deadline_ns;	/* its request must have come by then */
};

struct cxd_ctl {
	int fd;
	char path[SUN_PATH_MAX];
	dev_t dev;		/* of the socket file: unlinked at the end if */
	ino_t ino;		/* it is still this one */
	struct ctl_conn conn[CXD_CTL_CONNS_MAX];
	struct cxd_ctl_stats st;
};

/* Root, or the user this process runs as: the only peers either side trusts. */
static bool trusted_uid(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

static int netns_ino(unsigned long long *ino)
{
	struct stat st;

	if (stat(NETNS_PATH, &st) < 0)
		return -errno;
	*ino = (unsigned long long)st.st_ino;
	return 0;
}

int cxd_ctl_path(const char *name, char *buf, size_t len)
{
	unsigned long long ino = 0;
	int n, ret;

	if (name[0] == '\0' || strchr(name, '/') != NULL)
		return -EINVAL;
	ret = netns_ino(&ino);
	if (ret < 0)
		return ret;
	n = snprintf(buf, len, "%s/%s.net%llu", CXD_CTL_DIR, name, ino);
	if (n < 0 || (size_t)n >= len || (size_t)n >= SUN_PATH_MAX)
		return -ENAMETOOLONG;
	return n;
}

static int ctl_addr(struct sockaddr_un *sun, const char *path)
{
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n);
	return 0;
}

/* The directory part of path ("." if none). */
static int dir_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL)
		return snprintf(buf, len, ".") < (int)len ? 0 : -ENAMETOOLONG;
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(buf, path, n);
	buf[n] = '\0';
	return 0;
}

/*
 * A directory whose sockets can be trusted: root's (or ours), and nobody
 * else may create or replace a name in it.
 */
static int dir_safe(const struct stat *st)
{
	if (!S_ISDIR(st->st_mode) || !trusted_uid(st->st_uid) ||
	    (st->st_mode & (S_IWGRP | S_IWOTH)))
		return -ENOTDIR;
	return 0;
}

static int set_timeout(int fd, int opt, int ms)
{
	struct timeval tv = { ms / 1000, (suseconds_t)(ms % 1000) * 1000 };

	if (ms <= 0)
		return -EINVAL;
	return setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv)) < 0 ? -errno : 0;
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

static int peer_uid(int fd, struct ucred *cred)
{
	socklen_t clen = sizeof(*cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &clen) < 0 ? -errno : 0;
}

/*
 * Whether a daemon answers on path: 1 yes (-EADDRINUSE for the caller),
 * 0 no, and the path is free now (a stale file, or one served by another
 * user, unlinked), or -errno. Called with the directory locked.
 */
static int probe(const char *path, const struct sockaddr_un *sun)
{
	struct ucred cred;
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0) {
		ret = peer_uid(fd, &cred);
		if (ret == 0 && trusted_uid(cred.uid)) {
			ret = 1;
		} else if (ret == 0) {
			cx_log_warnx("control socket %s: held by pid %d uid %u, "
				     "not root: replaced", path, (int)cred.pid,
				     (unsigned int)cred.uid);
		}
	} else if (errno == EAGAIN) {
		ret = 1;	/* its backlog is full: alive, and busy */
	} else if (errno == ECONNREFUSED) {
		ret = 0;	/* left by a daemon that died */
	} else if (errno == ENOENT) {
		close(fd);
		return 0;
	} else {
		ret = -errno;
	}
	close(fd);
	if (ret == 0 && unlink(path) < 0 && errno != ENOENT)
		ret = -errno;
	return ret;
}

/* The directory of path, made if missing and safe, open and locked. */
static int lock_dir(const char *path)
{
	char dir[SUN_PATH_MAX];
	struct stat st;
	int dfd, ret;

	ret = dir_of(path, dir, sizeof(dir));
	if (ret < 0)
		return ret;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ELOOP ? -ENOTDIR : -errno;
	if (fstat(dfd, &st) < 0) {
		ret = -errno;
		goto err_close;
	}
	ret = dir_safe(&st);
	if (ret < 0)
		goto err_close;
	/* Nobody else may even look at the names (or connect). */
	if ((st.st_mode & 077) && fchmod(dfd, 0700) < 0) {
		ret = -errno;
		goto err_close;
	}
	/* Probe, unlink and bind as one step against a second daemon. */
	if (flock(dfd, LOCK_EX) < 0) {
		ret = -errno;
		goto err_close;
	}
	return dfd;
err_close:
	close(dfd);
	return ret;
}

int cxd_ctl_open(struct cxd_ctl **out, const char *path)
{
	struct sockaddr_un sun;
	struct cxd_ctl *c;
	struct stat st;
	int dfd, ret;
	unsigned int i;

	ret = ctl_addr(&sun, path);
	if (ret < 0)
		return ret;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->fd = -1;
	for (i = 0; i < CXD_CTL_CONNS_MAX; i++)
		c->conn[i].fd = -1;
	snprintf(c->path, sizeof(c->path), "%s", path);
	dfd = lock_dir(path);
	if (dfd < 0) {
		ret = dfd;
		goto err_free;
	}
	ret = probe(path, &sun);
	if (ret != 0) {
		ret = ret > 0 ? -EADDRINUSE : ret;
		goto err_unlock;
	}
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    lstat(path, &st) < 0) {
		ret = -errno;
		goto err_unlock;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	if (listen(c->fd, CTL_BACKLOG) < 0) {
		ret = -errno;
		unlink(path);
		goto err_unlock;
	}
	close(dfd);
	*out = c;
	return 0;
err_unlock:
	if (c->fd >= 0)
		close(c->fd);
	close(dfd);
err_free:
	free(c);
	return ret;
}

int cxd_ctl_take(struct cxd_ctl **out, const char *prog, const char *where,
		 const char *name)
{
	char path[SUN_PATH_MAX];
	int ret;

	ret = cxd_ctl_path(name, path, sizeof(path));
	if (ret < 0) {
		cx_log_warnx("control socket %s: %s", name, strerror(-ret));
		return -1;
	}
	ret = cxd_ctl_open(out, path);
	if (ret == -EADDRINUSE)
		cx_log_warnx("another %s is already running %s", prog, where);
	else if (ret == -ENOTDIR)
		cx_log_warnx("control socket %s: %s is not a directory of root's "
			     "that only root may write: refusing to use it",
			     path, CXD_CTL_DIR);
	else if (ret < 0)
		cx_log_warnx("control socket %s: %s", path, strerror(-ret));
	return ret < 0 ? -1 : 0;
}

static void conn_close(struct ctl_conn *k)
{
	close(k->fd);
	k->fd = -1;
}

void cxd_ctl_free(struct cxd_ctl *c)
{
	struct stat st;
	unsigned int i;

	if (c == NULL)
		return;
	for (i = 0; i < CXD_CTL_CONNS_MAX; i++)
		if (c->conn[i].fd >= 0)
			conn_close(&c->conn[i]);
	close(c->fd);
	/* A daemon that replaced ours (after we hung, say) keeps its file. */
	if (lstat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	free(c);
}

/*
 * A slot for a new client: a free one, else the one that has waited the
 * longest for its request (dropped): a client sends its request with the
 * connect, so one that is still silent is not going to be served anyway.
 */
static struct ctl_conn *take_conn(struct cxd_ctl *c)
{
	struct ctl_conn *oldest = &c->conn[0];
	unsigned int i;

	for (i = 0; i < CXD_CTL_CONNS_MAX; i++) {
		if (c->conn[i].fd < 0)
			return &c->conn[i];
		if (c->conn[i].deadline_ns < oldest->deadline_ns)
			oldest = &c->conn[i];
	}
	cx_log_debug("control socket: no request yet, and a new client: dropped");
	c->st.timed_out++;
	conn_close(oldest);
	return oldest;
}

unsigned int cxd_ctl_pollfds(const struct cxd_ctl *c, struct pollfd *pfd)
{
	unsigned int i;

	pfd[0] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
	for (i = 0; i < CXD_CTL_CONNS_MAX; i++)
		pfd[1 + i] = (struct pollfd){ .fd = c->conn[i].fd, .events = POLLIN };
	return CXD_CTL_POLLFDS;
}

int cxd_ctl_timeout_ms(const struct cxd_ctl *c, uint64_t now_ns, int ms)
{
	uint64_t left_ms;
	unsigned int i;

	for (i = 0; i < CXD_CTL_CONNS_MAX; i++) {
		if (c->conn[i].fd < 0)
			continue;
		if (c->conn[i].deadline_ns <= now_ns)
			return 0;
		/* Rounded up: waking before the deadline only turns again. */
		left_ms = (c->conn[i].deadline_ns - now_ns + NS_PER_MS - 1) / NS_PER_MS;
		if (ms < 0 || left_ms < (uint64_t)ms)
			ms = (int)left_ms;
	}
	return ms;
}

void cxd_ctl_get_stats(const struct cxd_ctl *c, struct cxd_ctl_stats *st)
{
	*st = c->st;
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

/* One message, never waiting: a client that cannot take it has gone. */
static void reply(int fd, const char *msg, size_t len)
{
	set_buf(fd, SO_SNDBUF, len);
	if (send(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		cx_log_debug("control socket: reply: %s", strerror(errno));
}

/*
 * Read k's request if it has come, and answer it. Returns false while it
 * has not (k stays), true once k is closed.
 */
static bool serve_conn(struct cxd_ctl *c, struct ctl_conn *k,
		       const struct cxd_ctl_cmd *cmds, size_t n_cmds, void *ctx,
		       char *buf, size_t len)
{
	char req[CXD_CTL_REQ_MAX], *argv[CXD_CTL_ARGS_MAX];
	const struct cxd_ctl_cmd *cmd;
	ssize_t got;
	int n, argc;

	got = recv(k->fd, req, sizeof(req) - 1, MSG_DONTWAIT);
	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return false;
	if (got <= 0) {
		/* Gone without a request (a second daemon's probe, say). */
		if (got < 0)
			cx_log_debug("control socket: %s", strerror(errno));
		conn_close(k);
		return true;
	}
	req[got] = '\0';
	argc = split(req, argv, CXD_CTL_ARGS_MAX);
	cmd = lookup(cmds, n_cmds, argc, argv);
	if (cmd != NULL)
		n = cmd->run(ctx, argc, argv, buf, len);
	else
		n = snprintf(buf, len, "error: usage: unknown request\n");
	if (n < 0)
		n = snprintf(buf, len, "error: %s\n", strerror(-n));
	if (n < 0 || (size_t)n >= len)
		n = (int)strlen(buf);
	reply(k->fd, buf, (size_t)n);
	c->st.served++;
	conn_close(k);
	return true;
}

static void accept_clients(struct cxd_ctl *c, uint64_t now_ns,
			   const struct cxd_ctl_cmd *cmds, size_t n_cmds,
			   void *ctx, char *buf, size_t len)
{
	static const char denied[] = "error: permission denied: the control "
				     "socket is root-only\n";
	struct ctl_conn *k;
	struct ucred cred;
	unsigned int turn;
	int fd, ret;

	for (turn = 0; turn < ACCEPTS_PER_TURN; turn++) {
		fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				cx_log_debug("control socket: accept: %s", strerror(errno));
			return;
		}
		ret = peer_uid(fd, &cred);
		if (ret < 0 || !trusted_uid(cred.uid)) {
			/* Tenants' allowances, peers and traffic: root's only. */
			if (ret == 0)
				reply(fd, denied, sizeof(denied) - 1);
			c->st.refused++;
			close(fd);
			continue;
		}
		k = take_conn(c);
		k->fd = fd;
		k->deadline_ns = now_ns + CXD_CTL_REQUEST_MS * NS_PER_MS;
		/* A client sends its request with the connect: it is there already. */
		serve_conn(c, k, cmds, n_cmds, ctx, buf, len);
	}
}

void cxd_ctl_serve(struct cxd_ctl *c, const struct pollfd *pfd, uint64_t now_ns,
		   const struct cxd_ctl_cmd *cmds, size_t n_cmds, void *ctx,
		   char *buf, size_t len)
{
	struct ctl_conn *k;
	unsigned int i;

	for (i = 0; i < CXD_CTL_CONNS_MAX; i++) {
		k = &c->conn[i];
		if (k->fd < 0)
			continue;
		if (pfd[1 + i].fd == k->fd && pfd[1 + i].revents &&
		    serve_conn(c, k, cmds, n_cmds, ctx, buf, len))
			continue;
		if (now_ns >= k->deadline_ns) {
			cx_log_debug("control socket: no request within %d ms: "
				     "dropped", CXD_CTL_REQUEST_MS);
			c->st.timed_out++;
			conn_close(k);
		}
	}
	if (pfd[0].fd == c->fd && (pfd[0].revents & POLLIN))
		accept_clients(c, now_ns, cmds, n_cmds, ctx, buf, len);
}

int cxd_ctl_call_path(const char *path, const char *req, char *buf, size_t len,
		      int timeout_ms)
{
	char dir[SUN_PATH_MAX];
	struct sockaddr_un sun;
	struct ucred cred;
	struct stat st;
	ssize_t n;
	int fd, ret;

	if (len == 0)
		return -ENOSPC;
	if (strlen(req) >= CXD_CTL_REQ_MAX)
		return -E2BIG;
	ret = ctl_addr(&sun, path);
	if (ret == 0)
		ret = dir_of(path, dir, sizeof(dir));
	if (ret < 0)
		return ret;
	/* Anyone who may write there could stand in for a daemon. */
	if (lstat(dir, &st) < 0)
		return -errno;
	ret = dir_safe(&st);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = set_timeout(fd, SO_SNDTIMEO, CONNECT_MS);
	if (ret == 0)
		ret = set_timeout(fd, SO_RCVTIMEO, timeout_ms);
	if (ret < 0)
		goto out_close;
	set_buf(fd, SO_RCVBUF, len);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		/* EAGAIN: the backlog stayed full for CONNECT_MS. */
		ret = errno == ECONNREFUSED ? -ENOENT : errno == EAGAIN ?
		      -ETIMEDOUT : -errno;
		goto out_close;
	}
	ret = peer_uid(fd, &cred);
	if (ret < 0)
		goto out_close;
	if (!trusted_uid(cred.uid)) {
		ret = -EPERM;
		goto out_close;
	}
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
		goto out_close;
	}
	n = recv(fd, buf, len - 1, 0);
	if (n < 0) {
		ret = errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		goto out_close;
	}
	buf[n] = '\0';
	ret = (int)n;
out_close:
	close(fd);
	return ret;
}

int cxd_ctl_call(const char *name, const char *req, char *buf, size_t len)
{
	char path[SUN_PATH_MAX];
	int ret;

	ret = cxd_ctl_path(name, path, sizeof(path));
	if (ret < 0)
		return ret;
	return cxd_ctl_call_path(path, req, buf, len, CXD_CTL_REPLY_MS);
}

const char *cxd_ctl_strerror(int err)
{
	switch (err) {
	case -EACCES:
		return "permission denied: the control sockets are root-only";
	case -EPERM:
		return "refusing to trust the control socket: its server is not "
		       "root (not a conex daemon)";
	case -ENOTDIR:
		return "refusing to trust the control socket: " CXD_CTL_DIR
		       " is not a directory only root can write";
	case -ETIMEDOUT:
		return "no reply within 5 s (the daemon is stuck, or not a conex "
		       "daemon)";
	default:
		return strerror(-err);
	}
}

int cxd_ctl_names(const char *prefix,
		  void (*fn)(const char *name, void *arg), void *arg)
{
	char suffix[32], name[NAME_MAX + 1];
	unsigned long long ino = 0;
	struct dirent *de;
	size_t plen = strlen(prefix), slen, dlen;
	DIR *d;
	int n = 0, ret;

	ret = netns_ino(&ino);
	if (ret < 0)
		return ret;
	snprintf(suffix, sizeof(suffix), ".net%llu", ino);
	slen = strlen(suffix);
	d = opendir(CXD_CTL_DIR);
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		dlen = strlen(de->d_name);
		if (dlen <= plen + slen || strncmp(de->d_name, prefix, plen) != 0 ||
		    strcmp(de->d_name + dlen - slen, suffix) != 0)
			continue;
		memcpy(name, de->d_name, dlen - slen);
		name[dlen - slen] = '\0';
		fn(name, arg);
		n++;
	}
	closedir(d);
	return n;
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
			what ? ": " : "", ret == 0 ? "empty reply" :
			cxd_ctl_strerror(ret));
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
