/* The start of a host daemon (see daemon.h). */
#include <errno.h>
#include <sodium.h>
#include <unistd.h>

#include <conex/log.h>

#include "ctl.h"
#include "daemon.h"
#include "sig.h"

int cxd_daemon_start(const char *prog, const char *ctl_name,
		     sigset_t *waitmask, void (*on_signal)(int))
{
	int fd;

	fd = cxd_ctl_listen(ctl_name);
	if (fd == -EADDRINUSE) {
		cx_log_warnx("another %s is already running here", prog);
		return -1;
	}
	if (fd < 0) {
		errno = -fd;
		cx_log_warn("control socket");
		return -1;
	}
	if (cxd_sig_init(waitmask, on_signal, true) < 0) {
		cx_log_warn("signals");
		goto out_close;
	}
	if (sodium_init() < 0) {
		cx_log_warnx("libsodium initialisation failed");
		goto out_close;
	}
	return fd;
out_close:
	close(fd);
	return -1;
}
