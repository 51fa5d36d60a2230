/* The start of a host daemon (see daemon.h). */
#include <sodium.h>

#include <conex/log.h>

#include "ctl.h"
#include "daemon.h"
#include "sig.h"

int cxd_daemon_start(struct cxd_ctl **ctl, const char *prog,
		     const char *ctl_name, sigset_t *waitmask,
		     void (*on_signal)(int))
{
	if (cxd_ctl_take(ctl, prog, "here", ctl_name) < 0)
		return -1;
	if (cxd_sig_init(waitmask, on_signal, true) < 0) {
		cx_log_warn("signals");
		goto err_free;
	}
	if (sodium_init() < 0) {
		cx_log_warnx("libsodium initialisation failed");
		goto err_free;
	}
	return 0;
err_free:
	cxd_ctl_free(*ctl);
	*ctl = NULL;
	return -1;
}
