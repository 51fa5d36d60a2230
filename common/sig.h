/*
 * The daemons' signal handling: SIGINT and SIGTERM (and SIGHUP for a
 * daemon that reloads) stay blocked except inside ppoll(..., waitmask),
 * so a signal between a loop's flag test and its sleep is not lost; a
 * busy loop that never sleeps takes pending ones with cxd_sig_poll().
 */
#ifndef CXD_SIG_H
#define CXD_SIG_H

#include <signal.h>
#include <stdbool.h>

/*
 * Install handler for SIGINT, SIGTERM and, if hup, SIGHUP (else SIGHUP is
 * ignored); ignore SIGPIPE; block them and set *waitmask to the mask that
 * lets them through. 0, or -1 with errno set.
 */
int cxd_sig_init(sigset_t *waitmask, void (*handler)(int), bool hup);

/* Deliver whichever of those signals is pending, now. */
void cxd_sig_poll(const sigset_t *waitmask);

#endif
