/* State files of the daemons (statefile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <conex/parse.h>

#include "statefile.h"

#define TMP_SUFFIX	".tmp"
#define PATH_BYTES	512
#define LINE_BYTES	128

uint64_t cxd_state_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int tmp_path(const char *path, char *tmp, size_t len)
{
	if (snprintf(tmp, len, "%s" TMP_SUFFIX, path) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

int cxd_state_begin(const char *path, const char *magic, uint64_t real_ns,
		    FILE **f)
{
	char tmp[PATH_BYTES];
	int fd, ret;

	ret = tmp_path(path, tmp, sizeof(tmp));
	if (ret < 0)
		return ret;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	*f = fdopen(fd, "w");
	if (*f == NULL) {
		ret = -errno;
		close(fd);
		unlink(tmp);
		return ret;
	}
	fprintf(*f, "%s\ntime_ns %llu\n", magic, (unsigned long long)real_ns);
	return 0;
}

int cxd_state_commit(const char *path, FILE *f)
{
	char tmp[PATH_BYTES];
	int ret = 0;

	/*
	 * No fsync: the daemons write from their packet loop every few
	 * seconds, and a state a crash loses is at worst one write old.
	 */
	if (fflush(f) != 0)
		ret = -errno;
	if (fclose(f) != 0 && ret == 0)
		ret = -errno;
	if (tmp_path(path, tmp, sizeof(tmp)) < 0)
		return -ENAMETOOLONG;
	if (ret == 0 && rename(tmp, path) != 0)
		ret = -errno;
	if (ret < 0)
		unlink(tmp);
	return ret;
}

int cxd_state_open(const char *path, const char *magic, uint64_t real_ns,
		   uint64_t max_age_ns, FILE **f, uint64_t *saved_ns)
{
	char line[LINE_BYTES];
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 1 : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	*f = fdopen(fd, "r");
	if (*f == NULL) {
		close(fd);
		return -errno;
	}
	if (fgets(line, sizeof(line), *f) == NULL ||
	    strncmp(line, magic, strlen(magic)) != 0 ||
	    strcmp(line + strlen(magic), "\n") != 0 ||
	    fgets(line, sizeof(line), *f) == NULL ||
	    strncmp(line, "time_ns ", 8) != 0 ||
	    (line[strcspn(line, "\n")] = '\0',
	     cx_parse_u64(line + 8, 0, UINT64_MAX, saved_ns) < 0)) {
		fclose(*f);
		return -EBADMSG;
	}
	if (*saved_ns > real_ns || real_ns - *saved_ns > max_age_ns) {
		fclose(*f);
		return -ESTALE;
	}
	return 0;
}
