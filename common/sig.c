/* Signals for the daemons' loops (see sig.h). */
#include <poll.h>
#include <string.h>
#include <time.h>

#include "sig.h"

int cxd_sig_init(sigset_t *waitmask, void (*handler)(int), bool hup)
{
	struct sigaction sa;
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (hup)
		sigaddset(&block, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &block, waitmask) < 0)
		return -1;
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGHUP);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return -1;
	if (hup && sigaction(SIGHUP, &sa, NULL) < 0)
		return -1;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -1;
	if (!hup && sigaction(SIGHUP, &sa, NULL) < 0)
		return -1;
	return 0;
}

void cxd_sig_poll(const sigset_t *waitmask)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t pend;

	if (sigpending(&pend) == 0 && (sigismember(&pend, SIGINT) == 1 ||
				       sigismember(&pend, SIGTERM) == 1 ||
				       sigismember(&pend, SIGHUP) == 1))
		ppoll(NULL, 0, &zero, waitmask);
}
