/*
 * common/ctl.c, the control socket, against real sockets in a private
 * directory: the path per network namespace; the instance lock (a live
 * daemon, a stale file, one served by another user); the directory's
 * checks on both sides; a server loop (a thread, as a daemon's poll loop)
 * that silent clients do not hold up and that refuses other users before
 * reading; and a client that times out on a silent server and will not
 * talk to one that is not root. The tests that need another uid (nobody)
 * run as root only and say SKIP otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cxtest.h"

#include "common/ctl.h"

#define NOBODY		65534
#define BIG_REPLY	(64 * 1024)
#define NS_PER_MS	1000000ULL

struct env {
	char dir[64];
	char path[108];
	struct cxd_ctl *ctl;
	pthread_t thread;
	volatile bool stop;
	bool running;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t ms_since(uint64_t t0)
{
	return (now_ns() - t0) / NS_PER_MS;
}

static int cmd_ping(void *ctx, int argc, char **argv, char *buf, size_t len)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return snprintf(buf, len, "pong\n");
}

/* A reply as large as a daemon's (64 KiB), sent without waiting. */
static int cmd_big(void *ctx, int argc, char **argv, char *buf, size_t len)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	memset(buf, 'x', len - 2);
	buf[len - 2] = '\n';
	buf[len - 1] = '\0';
	return (int)len - 1;
}

static const struct cxd_ctl_cmd cmds[] = {
	{ "ping", 0, 0, false, cmd_ping },
	{ "big", 0, 0, false, cmd_big },
};

/* The daemon's loop, reduced to the control socket. */
static void *loop(void *arg)
{
	struct env *e = arg;
	struct pollfd pfd[CXD_CTL_POLLFDS];
	static char buf[BIG_REPLY];
	int ms;

	while (!e->stop) {
		cxd_ctl_pollfds(e->ctl, pfd);
		ms = cxd_ctl_timeout_ms(e->ctl, now_ns(), 20);
		poll(pfd, CXD_CTL_POLLFDS, ms);
		cxd_ctl_serve(e->ctl, pfd, now_ns(), cmds, CX_ARRAY_SIZE(cmds), NULL,
			      buf, sizeof(buf));
	}
	return NULL;
}

static void start_loop(struct env *e)
{
	e->stop = false;
	assert_int_equal(pthread_create(&e->thread, NULL, loop, e), 0);
	e->running = true;
}

static void stop_loop(struct env *e)
{
	if (!e->running)
		return;
	e->stop = true;
	pthread_join(e->thread, NULL);
	e->running = false;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	snprintf(e->dir, sizeof(e->dir), "/tmp/cxt-ctl-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/d", e->dir);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	char p[128];

	stop_loop(e);
	cxd_ctl_free(e->ctl);
	unlink(e->path);
	snprintf(p, sizeof(p), "%s/fake", e->dir);
	unlink(p);
	rmdir(e->dir);
	free(e);
	return 0;
}

/* A raw client: connected to path, nothing sent. */
static int connect_raw(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* A listening socket on path, never accepting. */
static int listen_raw(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static void test_path(void **state)
{
	char buf[108], big[200];
	unsigned long long ino;
	struct stat st;
	int n;

	(void)state;
	assert_int_equal(stat("/proc/self/ns/net", &st), 0);
	n = cxd_ctl_path("conex-policer", buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(sscanf(buf, CXD_CTL_DIR "/conex-policer.net%llu", &ino), 1);
	assert_true(ino == (unsigned long long)st.st_ino);
	expect_ret("empty", cxd_ctl_path("", buf, sizeof(buf)), -EINVAL);
	expect_ret("slash", cxd_ctl_path("../x", buf, sizeof(buf)), -EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	expect_ret("too long", cxd_ctl_path(big, buf, sizeof(buf)), -ENAMETOOLONG);
	expect_ret("small buf", cxd_ctl_path("conex-auditor", buf, 12), -ENAMETOOLONG);
}

static void test_instance_lock(void **state)
{
	struct env *e = *state;
	struct cxd_ctl *second = NULL;
	struct stat st;
	int fd;

	assert_int_equal(cxd_ctl_open(&e->ctl, e->path), 0);
	expect_ret("second", cxd_ctl_open(&second, e->path), -EADDRINUSE);
	cxd_ctl_free(e->ctl);
	e->ctl = NULL;
	assert_int_equal(lstat(e->path, &st), -1);	/* unlinked at the end */

	/* A file left by a daemon that died: nothing answers, it is replaced. */
	fd = listen_raw(e->path);
	close(fd);
	assert_int_equal(lstat(e->path, &st), 0);
	assert_int_equal(cxd_ctl_open(&e->ctl, e->path), 0);
}

static void test_directory(void **state)
{
	struct env *e = *state;
	char buf[64];
	struct stat st;

	/* Writable by others: neither side uses it. */
	assert_int_equal(chmod(e->dir, 0777), 0);
	expect_ret("open", cxd_ctl_open(&e->ctl, e->path), -ENOTDIR);
	expect_ret("call", cxd_ctl_call_path(e->path, "ping", buf, sizeof(buf), 500),
		   -ENOTDIR);
	/* Readable by others: made 0700. */
	assert_int_equal(chmod(e->dir, 0755), 0);
	assert_int_equal(cxd_ctl_open(&e->ctl, e->path), 0);
	assert_int_equal(stat(e->dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	start_loop(e);
	assert_int_equal(cxd_ctl_call_path(e->path, "ping", buf, sizeof(buf), 1000), 5);
	assert_string_equal(buf, "pong\n");
	assert_int_equal(cxd_ctl_call_path(e->path, "pong", buf, sizeof(buf), 1000),
			 (int)strlen("error: usage: unknown request\n"));
}

static void test_big_reply(void **state)
{
	struct env *e = *state;
	char *buf = malloc(2 * BIG_REPLY);

	assert_non_null(buf);
	assert_int_equal(cxd_ctl_open(&e->ctl, e->path), 0);
	start_loop(e);
	assert_int_equal(cxd_ctl_call_path(e->path, "big", buf, 2 * BIG_REPLY, 1000),
			 BIG_REPLY - 1);
	assert_int_equal(buf[BIG_REPLY - 2], '\n');
	free(buf);
}

/*
 * Silent clients, more of them than there are slots: a request that
 * follows them is answered at once, and each is dropped by its deadline.
 */
static void test_silent_clients(void **state)
{
	struct env *e = *state;
	int silent[2 * CXD_CTL_CONNS_MAX];
	struct cxd_ctl_stats st;
	char buf[64];
	uint64_t t0;
	unsigned int i;

	assert_int_equal(cxd_ctl_open(&e->ctl, e->path), 0);
	start_loop(e);
	for (i = 0; i < CX_ARRAY_SIZE(silent); i++) {
		silent[i] = connect_raw(e->path);
		assert_true(silent[i] >= 0);
		usleep(2000);	/* each accepted before the next */
	}
	t0 = now_ns();
	assert_int_equal(cxd_ctl_call_path(e->path, "ping", buf, sizeof(buf), 2000), 5);
	/* At once: before the first silent client's time is up. */
	if (ms_since(t0) >= CXD_CTL_REQUEST_MS)
		fail_msg("request answered after %llu ms behind %zu silent clients",
			 (unsigned long long)ms_since(t0), CX_ARRAY_SIZE(silent));
	usleep(2 * CXD_CTL_REQUEST_MS * 1000);
	stop_loop(e);
	cxd_ctl_get_stats(e->ctl, &st);
	assert_int_equal(st.served, 1);
	assert_int_equal(st.timed_out, CX_ARRAY_SIZE(silent));
	/* Each was closed: its read ends. */
	for (i = 0; i < CX_ARRAY_SIZE(silent); i++) {
		assert_int_equal(recv(silent[i], buf, sizeof(buf), MSG_DONTWAIT), 0);
		close(silent[i]);
	}
}

static void test_client_timeout(void **state)
{
	struct env *e = *state;
	char buf[64];
	uint64_t t0, ms;
	int fd;

	/* Listens and never answers (as a daemon's loop that hangs would). */
	fd = listen_raw(e->path);
	t0 = now_ns();
	expect_ret("silent server",
		   cxd_ctl_call_path(e->path, "ping", buf, sizeof(buf), 300), -ETIMEDOUT);
	ms = ms_since(t0);
	if (ms < 250 || ms > 2000)
		fail_msg("timed out after %llu ms, want 300", (unsigned long long)ms);
	close(fd);
	/* Nothing listens any more: the daemon is not running. */
	expect_ret("stale", cxd_ctl_call_path(e->path, "ping", buf, sizeof(buf), 300),
		   -ENOENT);
	unlink(e->path);
	expect_ret("absent", cxd_ctl_call_path(e->path, "ping", buf, sizeof(buf), 300),
		   -ENOENT);
	assert_string_equal(cxd_ctl_strerror(-ETIMEDOUT),
			    "no reply within 5 s (the daemon is stuck, or not a "
			    "conex daemon)");
}

static bool skip_unless_root(void)
{
	if (geteuid() == 0)
		return false;
	printf("SKIP: needs root to run a peer as nobody\n");
	skip();
	return true;
}

/* fork(): the child becomes nobody and runs fn; its exit status back. */
static pid_t as_nobody(int (*fn)(const char *path, int ready), const char *path,
		       int *ready_fd)
{
	int p[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		_exit(fn(path, p[1]));
	}
	close(p[1]);
	/* The child says when it is ready (one byte), or dies. */
	assert_int_equal(read(p[0], &c, 1), 1);
	if (ready_fd)
		*ready_fd = p[0];
	else
		close(p[0]);
	return pid;
}

static int drop_to_nobody(void)
{
	return setgroups(0, NULL) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0 &&
	       setresuid(NOBODY, NOBODY, NOBODY) == 0 ? 0 : -1;
}

/* Connects as nobody, sends nothing, and wants the refusal at once. */
static int silent_nobody(const char *path, int ready)
{
	struct timeval tv = { 2, 0 };
	char buf[128];
	ssize_t n;
	int fd;

	if (drop_to_nobody() < 0)
		return 10;
	fd = connect_raw(path);
	if (fd < 0)
		return 11;
	if (write(ready, "r", 1) != 1)
		return 12;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 13;
	buf[n] = '\0';
	return strncmp(buf, "error: permission denied", 24) == 0 ? 0 : 14;
}

static void test_other_user_refused(void **state)
{
	struct env *e = *state;
	struct cxd_ctl_stats st;
	char buf[64];
	uint64_t t0;
	int status;
	pid_t pid;

	if (skip_unless_root())
		return;
	assert_int_equal(cxd_ctl_open(&e->ctl, e->path), 0);
	/* Let nobody in, as a mistake of the operator's would. */
	assert_int_equal(chmod(e->dir, 0711), 0);
	assert_int_equal(chmod(e->path, 0777), 0);
	start_loop(e);
	t0 = now_ns();
	pid = as_nobody(silent_nobody, e->path, NULL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	expect_ret("nobody's client", WEXITSTATUS(status), 0);
	if (ms_since(t0) >= CXD_CTL_REQUEST_MS)
		fail_msg("refused after %llu ms", (unsigned long long)ms_since(t0));
	assert_int_equal(cxd_ctl_call_path(e->path, "ping", buf, sizeof(buf), 1000), 5);
	stop_loop(e);
	cxd_ctl_get_stats(e->ctl, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.served, 1);
	assert_int_equal(st.timed_out, 0);
}

/* Binds as root, listens as nobody (SO_PEERCRED is taken at listen), answers "ok". */
static int nobody_server(const char *path, int ready)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char buf[256];
	int fd, cfd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return 10;
	if (drop_to_nobody() < 0 || listen(fd, 4) < 0)
		return 11;
	if (write(ready, "r", 1) != 1)
		return 12;
	for (;;) {
		cfd = accept(fd, NULL, NULL);
		if (cfd < 0)
			return 13;
		if (recv(cfd, buf, sizeof(buf), 0) > 0)
			send(cfd, "ok\n", 3, MSG_NOSIGNAL);
		close(cfd);
	}
}

static void test_untrusted_server(void **state)
{
	struct env *e = *state;
	char buf[64], fake[128];
	pid_t pid;

	if (skip_unless_root())
		return;
	snprintf(fake, sizeof(fake), "%s/fake", e->dir);
	pid = as_nobody(nobody_server, fake, NULL);
	/* The client sends nothing to it. */
	expect_ret("client", cxd_ctl_call_path(fake, "set-allowance a 1", buf,
					       sizeof(buf), 1000), -EPERM);
	/* A daemon takes the name over. */
	assert_int_equal(cxd_ctl_open(&e->ctl, fake), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	start_loop(e);
	assert_int_equal(cxd_ctl_call_path(fake, "ping", buf, sizeof(buf), 1000), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test_setup_teardown(test_instance_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_user_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_server, setup, teardown),
	};

	/* A peer that went away must not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
