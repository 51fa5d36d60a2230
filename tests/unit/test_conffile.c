/*
 * common/conffile.c, the loader every daemon's start and reload use:
 * only a regular file is read, and reading never waits (a FIFO in the
 * configuration's place blocked a reload, and with it the daemon's packet
 * loop and SIGTERM, until someone wrote to it). alarm() turns a read that
 * blocks into a failure instead of a hung test.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cxtest.h"

#include <conex/conf.h>

#include "common/conffile.h"

#define ALARM_S		5

struct env {
	char dir[64];
	char path[128];
	unsigned int lines;
};

static int set_line(void *arg, int argc, char **argv, char *err, size_t errlen)
{
	struct env *e = arg;

	(void)argv;
	(void)err;
	(void)errlen;
	(void)argc;
	e->lines++;
	return 0;
}

static const struct cxd_conf_spec spec = {
	1, 4, "expected KEY VALUE...", NULL, set_line,
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	snprintf(e->dir, sizeof(e->dir), "/tmp/cxt-conffile-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/conf", e->dir);
	*state = e;
	alarm(ALARM_S);
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	alarm(0);
	unlink(e->path);
	rmdir(e->path);
	rmdir(e->dir);
	free(e);
	return 0;
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void expect_refused(struct env *e, const char *path, const char *why)
{
	char err[256], want[256];

	assert_int_equal(cxd_conf_load(path, &spec, e, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: %s", path, why);
	assert_string_equal(err, want);
	assert_int_equal(e->lines, 0);
}

static void test_regular_file(void **state)
{
	struct env *e = *state;
	char err[256];

	write_file(e->path, "a 1\nb 2\n", 8);
	assert_int_equal(cxd_conf_load(e->path, &spec, e, err, sizeof(err)), 0);
	assert_int_equal(e->lines, 2);
}

/* Nobody writes to it: a blocking open would wait for ever. */
static void test_fifo(void **state)
{
	struct env *e = *state;

	assert_int_equal(mkfifo(e->path, 0600), 0);
	expect_refused(e, e->path, "not a regular file");
}

/* Someone holds it open for writing, and writes nothing. */
static void test_fifo_with_writer(void **state)
{
	struct env *e = *state;
	int rfd, wfd;

	assert_int_equal(mkfifo(e->path, 0600), 0);
	rfd = open(e->path, O_RDONLY | O_NONBLOCK);
	assert_true(rfd >= 0);
	wfd = open(e->path, O_WRONLY);
	assert_true(wfd >= 0);
	expect_refused(e, e->path, "not a regular file");
	close(wfd);
	close(rfd);
}

static void test_not_files(void **state)
{
	struct env *e = *state;

	expect_refused(e, "/dev/zero", "not a regular file");
	expect_refused(e, "/dev/null", "not a regular file");
	assert_int_equal(mkdir(e->path, 0700), 0);
	expect_refused(e, e->path, "not a regular file");
}

static void test_too_long(void **state)
{
	struct env *e = *state;
	char want[64];
	char *big;

	big = malloc(CX_CONF_TEXT_MAX + 1);
	assert_non_null(big);
	memset(big, '\n', CX_CONF_TEXT_MAX + 1);
	write_file(e->path, big, CX_CONF_TEXT_MAX + 1);
	free(big);
	snprintf(want, sizeof(want), "longer than %zu bytes", CX_CONF_TEXT_MAX);
	expect_refused(e, e->path, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_regular_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_with_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_long, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
