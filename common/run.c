/* Child processes for the daemons' hooks (see run.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run.h"

void cxd_args_add(struct cxd_args *a, const char *s)
{
	size_t len = strlen(s) + 1;

	if (a->n >= CXD_ARGS_MAX - 1 || len > sizeof(a->pool) - a->used) {
		a->overflow = true;
		return;
	}
	memcpy(a->pool + a->used, s, len);
	a->argv[a->n++] = a->pool + a->used;
	a->argv[a->n] = NULL;
	a->used += len;
}

void cxd_args_init(struct cxd_args *a, const char *arg0, ...)
{
	const char *s;
	va_list ap;

	a->used = 0;
	a->n = 0;
	a->argv[0] = NULL;
	a->overflow = false;
	cxd_args_add(a, arg0);
	va_start(ap, arg0);
	while ((s = va_arg(ap, const char *)) != NULL)
		cxd_args_add(a, s);
	va_end(ap);
}

int cxd_run(char *const argv[], char *out, size_t outlen)
{
	size_t used = 0;
	ssize_t n;
	int pfd[2], status, ret;
	pid_t pid;

	if (outlen == 0)
		return -EINVAL;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return ret;
	}
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		char sink[512];
		char *dst = used + 1 < outlen ? out + used : sink;
		size_t room = used + 1 < outlen ? outlen - used - 1 : sizeof(sink);

		n = read(pfd[0], dst, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (dst != sink)
			used += (size_t)n;
	}
	close(pfd[0]);
	out[used] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status))
		return 128;
	return WEXITSTATUS(status);
}

const char *cxd_first_line(char *s)
{
	s[strcspn(s, "\n")] = '\0';
	return s;
}
