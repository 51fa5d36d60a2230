/*
 * Logging for the daemons and tools, in the manner of OpenBSD's log.c:
 * stderr with a level prefix in the foreground, syslog otherwise (which
 * systemd's journal collects with the level intact). This is the one
 * libconex module that performs I/O; the other modules never log.
 *
 * The configuration (ident, level, destination) is process-wide, set once
 * by main() before anything else logs. Every function preserves errno.
 *
 * Per-packet code must not log unbounded: it keeps a struct
 * cx_log_ratelimit per call site (in its context, not in a static) and logs
 * through cx_log_rl, which passes at most burst messages per interval and
 * reports how many it swallowed on the next message it lets through.
 */
#ifndef CONEX_LOG_H
#define CONEX_LOG_H

#include <stdbool.h>
#include <stdint.h>

#define CX_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* The syslog(3) severities, so they pass straight through. */
enum cx_log_level {
	CX_LOG_ERR = 3,
	CX_LOG_WARNING = 4,
	CX_LOG_NOTICE = 5,
	CX_LOG_INFO = 6,
	CX_LOG_DEBUG = 7,
};

/* Longer messages are truncated to this many bytes, NUL included. */
#define CX_LOG_MSG_MAX 1024

/*
 * Messages above max_level (less severe) are dropped. In the background,
 * opens syslog with ident and facility daemon. In the foreground, lines go
 * to stderr as "IDENT: LEVEL: MSG", or as "<PRIORITY>MSG" when stderr is
 * the systemd journal (JOURNAL_STREAM matches it), so that the journal
 * records each line's priority.
 */
void cx_log_init(const char *ident, bool foreground, int max_level);
int cx_log_level(void);
void cx_log_set_level(int max_level);

/*
 * Replaces the destination (tests capture output this way); sink NULL
 * restores the default. msg is complete, without a trailing newline.
 */
void cx_log_set_sink(void (*sink)(int level, const char *msg, void *arg),
		     void *arg);

void cx_log(int level, const char *fmt, ...) CX_PRINTF(2, 3);
void cx_log_debug(const char *fmt, ...) CX_PRINTF(1, 2);
void cx_log_info(const char *fmt, ...) CX_PRINTF(1, 2);
/* Appends ": " and strerror(errno) as it was on entry. */
void cx_log_warn(const char *fmt, ...) CX_PRINTF(1, 2);
void cx_log_warnx(const char *fmt, ...) CX_PRINTF(1, 2);
/* Log at CX_LOG_ERR and exit(1); cx_fatal appends strerror(errno). */
_Noreturn void cx_fatal(const char *fmt, ...) CX_PRINTF(1, 2);
_Noreturn void cx_fatalx(const char *fmt, ...) CX_PRINTF(1, 2);

/*
 * Rate limiter: a token bucket holding up to burst messages, refilled at
 * burst per interval_ns. Integer only: one message costs interval_ns
 * tokens and each nanosecond adds burst tokens.
 */
struct cx_log_ratelimit {
	uint64_t interval_ns;
	uint32_t burst;
	uint64_t tokens;	/* <= burst * interval_ns */
	uint64_t last_ns;
	uint64_t suppressed;	/* since the last message let through */
};

enum {
	CX_LOG_RL_BURST_MAX = 1000000,
};
#define CX_LOG_RL_INTERVAL_MAX_NS (3600ULL * 1000000000ULL)

/*
 * Starts full. Returns 0, or -EINVAL if burst is 0 or above
 * CX_LOG_RL_BURST_MAX, or interval_ns is 0 or above an hour.
 */
int cx_log_ratelimit_init(struct cx_log_ratelimit *rl, uint32_t burst,
			  uint64_t interval_ns, uint64_t now_ns);

/*
 * True if a message may go out at now_ns; then *suppressed is the number
 * refused since the last one allowed, and the count restarts. A clock that
 * steps back gives no tokens.
 */
bool cx_log_ratelimit_allow(struct cx_log_ratelimit *rl, uint64_t now_ns,
			    uint64_t *suppressed);

/*
 * cx_log through rl: dropped (and counted) when over the limit; otherwise
 * logged, with " (N similar messages suppressed)" appended if any were.
 */
void cx_log_rl(struct cx_log_ratelimit *rl, uint64_t now_ns, int level,
	       const char *fmt, ...) CX_PRINTF(4, 5);

#endif
