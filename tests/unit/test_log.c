#include "cxtest.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <conex/log.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MS 1000000ULL

struct capture {
	int level[16];
	char msg[16][CX_LOG_MSG_MAX];
	size_t n;
};

static void capture_sink(int level, const char *msg, void *arg)
{
	struct capture *c = arg;

	assert_true(c->n < ARRAY_SIZE(c->msg));
	c->level[c->n] = level;
	snprintf(c->msg[c->n], sizeof(c->msg[c->n]), "%s", msg);
	c->n++;
}

static int setup(void **state)
{
	static struct capture c;

	memset(&c, 0, sizeof(c));
	cx_log_init("test", true, CX_LOG_INFO);
	cx_log_set_sink(capture_sink, &c);
	*state = &c;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cx_log_set_sink(NULL, NULL);
	return 0;
}

static void test_levels_and_errno(void **state)
{
	struct capture *c = *state;

	cx_log_info("hello %d", 42);
	cx_log_debug("not shown");
	errno = ENOENT;
	cx_log_warn("open %s", "/x");
	assert_int_equal(errno, ENOENT);
	cx_log_warnx("plain");
	cx_log(CX_LOG_ERR, "bad %s", "thing");
	cx_log_set_level(CX_LOG_DEBUG);
	cx_log_debug("now shown");
	assert_int_equal(cx_log_level(), CX_LOG_DEBUG);

	assert_int_equal(c->n, 5);
	assert_int_equal(c->level[0], CX_LOG_INFO);
	assert_string_equal(c->msg[0], "hello 42");
	assert_int_equal(c->level[1], CX_LOG_WARNING);
	assert_string_equal(c->msg[1], "open /x: No such file or directory");
	assert_string_equal(c->msg[2], "plain");
	assert_int_equal(c->level[3], CX_LOG_ERR);
	assert_string_equal(c->msg[3], "bad thing");
	assert_int_equal(c->level[4], CX_LOG_DEBUG);
	assert_string_equal(c->msg[4], "now shown");
}

static void test_truncation(void **state)
{
	struct capture *c = *state;
	static char big[3000];

	memset(big, 'a', sizeof(big) - 1);
	errno = EINVAL;
	cx_log_warn("%s", big);
	assert_int_equal(c->n, 1);
	assert_int_equal(strlen(c->msg[0]), CX_LOG_MSG_MAX - 1);
}

static void test_ratelimit(void **state)
{
	struct cx_log_ratelimit rl;
	uint64_t sup = 99, t = 5 * MS;
	int i, allowed = 0;

	(void)state;
	assert_int_equal(cx_log_ratelimit_init(&rl, 0, MS, 0), -EINVAL);
	assert_int_equal(cx_log_ratelimit_init(&rl, 3, 0, 0), -EINVAL);
	assert_int_equal(cx_log_ratelimit_init(&rl, 3,
					       CX_LOG_RL_INTERVAL_MAX_NS + 1, 0),
			 -EINVAL);
	/* 3 per 300 ms: one message's worth every 100 ms. */
	assert_int_equal(cx_log_ratelimit_init(&rl, 3, 300 * MS, t), 0);
	for (i = 0; i < 10; i++)
		allowed += cx_log_ratelimit_allow(&rl, t, &sup);
	assert_int_equal(allowed, 3);
	assert_true(rl.suppressed == 7);
	assert_false(cx_log_ratelimit_allow(&rl, t + 100 * MS - 1, &sup));
	assert_true(cx_log_ratelimit_allow(&rl, t + 100 * MS, &sup));
	assert_true(sup == 8);
	assert_true(rl.suppressed == 0);
	assert_false(cx_log_ratelimit_allow(&rl, t + 150 * MS, &sup));
	/* Long idle refills only to the burst, without overflow. */
	t = UINT64_MAX - 1;
	for (i = 0, allowed = 0; i < 10; i++)
		allowed += cx_log_ratelimit_allow(&rl, t, &sup);
	assert_int_equal(allowed, 3);
	/* A clock step back gives nothing. */
	assert_false(cx_log_ratelimit_allow(&rl, 0, &sup));
	assert_false(cx_log_ratelimit_allow(&rl, 99 * MS, &sup));
	assert_true(cx_log_ratelimit_allow(&rl, 100 * MS, &sup));
	assert_true(sup == 9);
}

static void test_log_rl(void **state)
{
	struct capture *c = *state;
	struct cx_log_ratelimit rl;
	int i;

	assert_int_equal(cx_log_ratelimit_init(&rl, 2, 1000 * MS, 0), 0);
	for (i = 0; i < 7; i++)
		cx_log_rl(&rl, 0, CX_LOG_WARNING, "drop %d", i);
	cx_log_rl(&rl, 500 * MS, CX_LOG_WARNING, "drop %d", 7);
	/* Filtered by level: neither logged nor counted. */
	cx_log_rl(&rl, 500 * MS, CX_LOG_DEBUG, "debug");
	assert_int_equal(c->n, 3);
	assert_string_equal(c->msg[0], "drop 0");
	assert_string_equal(c->msg[1], "drop 1");
	assert_string_equal(c->msg[2], "drop 7 (5 similar messages suppressed)");
}

static void fatal_sink(int level, const char *msg, void *arg)
{
	int fd = *(int *)arg;
	char line[CX_LOG_MSG_MAX + 8];
	int n = snprintf(line, sizeof(line), "%d %s", level, msg);

	if (n > 0 && write(fd, line, (size_t)n) < 0)
		_exit(3);
}

static void run_fatal(bool with_errno, const char *want)
{
	char buf[256] = { 0 };
	int fds[2], st;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		cx_log_set_sink(fatal_sink, &fds[1]);
		errno = EPERM;
		if (with_errno)
			cx_fatal("cannot %s", "bind");
		cx_fatalx("bad config %d", 7);
	}
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	assert_true(n > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	assert_string_equal(buf, want);
}

/*
 * In a child with stderr on a temporary file: JOURNAL_STREAM naming that
 * file gives "<priority>msg" lines; naming another file gives the plain
 * "ident: level: msg" form. Returns what the child wrote.
 */
static void journal_child(bool match, char *out, size_t outlen)
{
	char path[] = "/tmp/cx-test-log-XXXXXX", env[64];
	struct stat st;
	ssize_t n;
	pid_t pid;
	int fd, status;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fd, STDERR_FILENO);
		snprintf(env, sizeof(env), "%llu:%llu",
			 (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino + (match ? 0 : 1));
		setenv("JOURNAL_STREAM", env, 1);
		cx_log_init("t", true, CX_LOG_INFO);
		cx_log(CX_LOG_NOTICE, "sanction of %d", 1);
		cx_log_warnx("fallback");
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	n = pread(fd, out, outlen - 1, 0);
	assert_true(n >= 0);
	out[n] = 0;
	close(fd);
	unlink(path);
}

static void test_journal_stream(void **state)
{
	char out[256];

	(void)state;
	journal_child(true, out, sizeof(out));
	assert_string_equal(out, "<5>sanction of 1\n<4>fallback\n");
	journal_child(false, out, sizeof(out));
	assert_string_equal(out, "t: notice: sanction of 1\nt: warning: fallback\n");
}

static void test_fatal(void **state)
{
	(void)state;
	run_fatal(true, "3 cannot bind: Operation not permitted");
	run_fatal(false, "3 bad config 7");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_levels_and_errno, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_truncation, setup,
						teardown),
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test_setup_teardown(test_log_rl, setup, teardown),
		cmocka_unit_test(test_journal_stream),
		cmocka_unit_test(test_fatal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
