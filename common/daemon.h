/*
 * The first steps of a host daemon that owns hooks (conex-policer,
 * conex-auditor), in the order that keeps a second instance harmless.
 */
#ifndef CXD_DAEMON_H
#define CXD_DAEMON_H

#include <signal.h>

struct cxd_ctl;

/*
 * Take the control socket ctl_name first (cxd_ctl_take() into *ctl): it
 * is the instance lock, so a second prog in this network namespace stops
 * here ("another PROG is already running here") before it touches
 * anything. Then install on_signal for SIGINT, SIGTERM and SIGHUP
 * (cxd_sig_init) and initialise libsodium (feedback tags). Returns 0, or
 * -1 after logging why, with nothing left open.
 */
int cxd_daemon_start(struct cxd_ctl **ctl, const char *prog,
		     const char *ctl_name, sigset_t *waitmask,
		     void (*on_signal)(int));

#endif
