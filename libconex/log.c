/*
 * Logging: the one libconex module with I/O and with process-wide state
 * (ident, level, destination), set once by main(). Messages are formatted
 * into a bounded buffer first and handed to the sink in one call, so a
 * line is written with one write(2) or one syslog(3) call.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <conex/log.h>

static const char *log_ident = "conex";
static bool log_foreground = true;
static bool log_journal;	/* stderr is systemd's journal stream */
static int log_max_level = CX_LOG_INFO;
static void (*log_sink)(int, const char *, void *);
static void *log_sink_arg;

static const char *level_prefix(int level)
{
	switch (level) {
	case CX_LOG_ERR:
		return "error: ";
	case CX_LOG_WARNING:
		return "warning: ";
	case CX_LOG_NOTICE:
		return "notice: ";
	case CX_LOG_DEBUG:
		return "debug: ";
	default:
		return "";
	}
}

static void default_sink(int level, const char *msg, void *arg)
{
	(void)arg;
	if (log_journal)
		fprintf(stderr, "<%d>%s\n", level, msg);
	else if (log_foreground)
		fprintf(stderr, "%s: %s%s\n", log_ident, level_prefix(level),
			msg);
	else
		syslog(level, "%s", msg);
}

/*
 * systemd connects a service's stderr to the journal and says so in
 * JOURNAL_STREAM ("DEVICE:INODE" of that stream, systemd.exec(5)); a
 * "<N>" prefix on a line then sets its syslog priority (sd-daemon(3)),
 * and the journal adds identifier and time itself. A stderr redirected
 * elsewhere (a child of the service, a test) no longer matches.
 */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (!js || sscanf(js, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void cx_log_init(const char *ident, bool foreground, int max_level)
{
	int saved = errno;

	log_ident = ident ? ident : "conex";
	log_foreground = foreground;
	log_journal = foreground && stderr_is_journal();
	log_max_level = max_level;
	if (!foreground)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	errno = saved;
}

int cx_log_level(void)
{
	return log_max_level;
}

void cx_log_set_level(int max_level)
{
	log_max_level = max_level;
}

void cx_log_set_sink(void (*sink)(int level, const char *msg, void *arg),
		     void *arg)
{
	log_sink = sink;
	log_sink_arg = arg;
}

/* Formats fmt, then the optional suffix, truncating to CX_LOG_MSG_MAX. */
static void emit(int level, const char *suffix, const char *fmt, va_list ap)
	CX_PRINTF(3, 0);

static void emit(int level, const char *suffix, const char *fmt, va_list ap)
{
	char msg[CX_LOG_MSG_MAX];
	int n;

	if (level > log_max_level)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		snprintf(msg, sizeof(msg), "(unformattable message)");
	else if (suffix && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, "%s", suffix);
	if (log_sink)
		log_sink(level, msg, log_sink_arg);
	else
		default_sink(level, msg, NULL);
}

void cx_log(int level, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	emit(level, NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}

void cx_log_debug(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	emit(CX_LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}

void cx_log_info(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	emit(CX_LOG_INFO, NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}

static void errno_suffix(char *buf, size_t len, int err)
{
	snprintf(buf, len, ": %s", strerror(err));
}

void cx_log_warn(const char *fmt, ...)
{
	int saved = errno;
	char suffix[128];
	va_list ap;

	errno_suffix(suffix, sizeof(suffix), saved);
	va_start(ap, fmt);
	emit(CX_LOG_WARNING, suffix, fmt, ap);
	va_end(ap);
	errno = saved;
}

void cx_log_warnx(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	emit(CX_LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}

void cx_fatal(const char *fmt, ...)
{
	int saved = errno;
	char suffix[128];
	va_list ap;

	errno_suffix(suffix, sizeof(suffix), saved);
	va_start(ap, fmt);
	emit(CX_LOG_ERR, suffix, fmt, ap);
	va_end(ap);
	exit(1);
}

void cx_fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(CX_LOG_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

int cx_log_ratelimit_init(struct cx_log_ratelimit *rl, uint32_t burst,
			  uint64_t interval_ns, uint64_t now_ns)
{
	if (burst == 0 || burst > CX_LOG_RL_BURST_MAX || interval_ns == 0 ||
	    interval_ns > CX_LOG_RL_INTERVAL_MAX_NS)
		return -EINVAL;
	rl->interval_ns = interval_ns;
	rl->burst = burst;
	/* At most 10^6 * 3.6 * 10^12 < 2^62: no overflow. */
	rl->tokens = (uint64_t)burst * interval_ns;
	rl->last_ns = now_ns;
	rl->suppressed = 0;
	return 0;
}

bool cx_log_ratelimit_allow(struct cx_log_ratelimit *rl, uint64_t now_ns,
			    uint64_t *suppressed)
{
	uint64_t cap = (uint64_t)rl->burst * rl->interval_ns;
	uint64_t tokens = rl->tokens;

	/* Elapsed time is bounded by the time to fill before multiplying. */
	if (now_ns > rl->last_ns) {
		uint64_t elapsed = now_ns - rl->last_ns;

		if (elapsed > (cap - tokens) / rl->burst)
			tokens = cap;
		else
			tokens += elapsed * rl->burst;
	}
	rl->last_ns = now_ns;
	if (tokens < rl->interval_ns) {
		rl->tokens = tokens;
		rl->suppressed++;
		return false;
	}
	rl->tokens = tokens - rl->interval_ns;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}

void cx_log_rl(struct cx_log_ratelimit *rl, uint64_t now_ns, int level,
	       const char *fmt, ...)
{
	int saved = errno;
	uint64_t suppressed;
	char suffix[64];
	va_list ap;

	if (level > log_max_level)
		return;
	if (!cx_log_ratelimit_allow(rl, now_ns, &suppressed))
		return;
	if (suppressed)
		snprintf(suffix, sizeof(suffix),
			 " (%llu similar messages suppressed)",
			 (unsigned long long)suppressed);
	va_start(ap, fmt);
	emit(level, suppressed ? suffix : NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}
