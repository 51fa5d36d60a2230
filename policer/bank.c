/*
 * Tenant token bank client (see bank.h).
 *
 * Why a state machine of our own over a raw socket, with hiredis used only
 * for its reply parser (redisReader): hiredis 0.14's async API has no
 * connect timeout, resolves names with a blocking getaddrinfo inside
 * redisConnectNonBlock, and owns the context's lifetime through its
 * callbacks, which makes "drop everything and back off" awkward to get
 * right. Here the socket, the connect deadline, the output buffer (sized at
 * start-up for the worst case) and the FIFO of outstanding commands are
 * ours, and a reconnect is a close plus a fresh reader.
 *
 * Commands are pipelined on one connection and Redis answers them in
 * order (RESP), so the FIFO matches replies to requests. A reply that does
 * not come within timeout_ns therefore drops the connection: skipping it
 * would shift every later reply onto the wrong request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/read.h>
#include <hiredis/hiredis.h>

#include <conex/log.h>

#include "bank.h"

/*
 * The bucket, run atomically by the server (EVALSHA, or EVAL after
 * NOSCRIPT). KEYS[1] is the tenant's hash {tok, us}; ARGV is rate_bps,
 * burst_bytes, want_bytes, idle_ttl_ms.
 *
 * Atomic is what keeps a grant whole against concurrent writers: Redis
 * runs a script to the end before any other command, so no other client
 * (another host's policer, or anything else that can reach the server)
 * can come between the read and the write; WATCH/MULTI would only add a
 * round trip and a retry loop.
 *
 * Time is the server's own (TIME: seconds and microseconds), never a
 * host's, so hosts with skewed clocks share one bucket fairly; Redis 7
 * replicates a script's effects, which is what allows TIME in a script
 * that writes. now_us is about 1.7e15 today and stays below 2^53 until
 * the year 2255.
 *
 * Tokens are micro-bits: rate_bps * elapsed_us adds exactly the tokens
 * earned, with no division. The elapsed time is first bounded by the time
 * to fill what is missing (plus one microsecond), so the product is at most
 * cap + 2 * rate, below 2^53 with the limits of bank.h; every value the
 * script handles is then an integer held exactly by a double. fdiv is an
 * exact floor division of such integers: the quotient of the double
 * division may be off by one near an integer, and the remainder corrects
 * it.
 *
 * What the key holds is checked before it is used, because it is the one
 * input that does not come from this request: a hash of exactly the two
 * fields a policer writes, each a string of decimal digits (no sign,
 * point, exponent or blank) of at most 16 of them, tok at most
 * CXP_BANK_TOKENS_MAX and us below 2^53. Anything else is answered with an
 * error that starts with CXBANK and the key is left as it is: it is not
 * ours to repair (a prefix shared with another application would lose its
 * data), and a guess could only hand out tokens nobody earned or take
 * away tokens that were. The tenant's requests then fail and back off
 * (bank.h), and no other tenant's key is read or written by this call.
 *
 * A tok above this request's cap (a burst lowered since) is cut to the
 * cap. A server clock that steps back gives no tokens and re-anchors the
 * bucket. A key that does not exist (new tenant, or expired) starts full:
 * the TTL is at least the time to fill an empty bucket, so expiry never
 * hands out more than waiting would have. Writes use %.0f so that large
 * integers are stored digit for digit.
 */
/* CXP_BANK_TOKENS_MAX as the script spells it. */
#define BANK_TOKENS_MAX_LUA	8000000000000000
_Static_assert(BANK_TOKENS_MAX_LUA == CXP_BANK_TOKENS_MAX,
	       "the script's bound is bank.h's");
#define BANK_STR_(x)		#x
#define BANK_STR(x)		BANK_STR_(x)
static const char bank_script[] =
	"local rate = tonumber(ARGV[1])\n"
	"local cap = tonumber(ARGV[2]) * 8000000\n"
	"local want = tonumber(ARGV[3])\n"
	"local ttl = tonumber(ARGV[4])\n"
	"local function fdiv(a, b)\n"
	" local q = math.floor(a / b)\n"
	" local r = a - q * b\n"
	" if r < 0 then q = q - 1 elseif r >= b then q = q + 1 end\n"
	" return q\n"
	"end\n"
	"local function int(v, max)\n"
	" if type(v) ~= 'string' or #v == 0 or #v > 16 or\n"
	"  not string.find(v, '^%d+$') then return nil end\n"
	" local n = tonumber(v)\n"
	" if n > max then return nil end\n"
	" return n\n"
	"end\n"
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
	"local kind = redis.call('TYPE', KEYS[1])['ok']\n"
	"local tok, last\n"
	"if kind == 'none' then\n"
	" tok = cap; last = now\n"
	"else\n"
	" if kind ~= 'hash' then\n"
	"  return redis.error_reply('CXBANK key is a ' .. kind .. ', not a hash')\n"
	" end\n"
	" if redis.call('HLEN', KEYS[1]) ~= 2 then\n"
	"  return redis.error_reply('CXBANK key has fields other than tok and us')\n"
	" end\n"
	" local s = redis.call('HMGET', KEYS[1], 'tok', 'us')\n"
	" tok = int(s[1], " BANK_STR(BANK_TOKENS_MAX_LUA) ")\n"
	" last = int(s[2], 9007199254740991)\n"
	" if not tok then\n"
	"  return redis.error_reply('CXBANK tok is not an integer in 0.."
	BANK_STR(BANK_TOKENS_MAX_LUA) "')\n"
	" end\n"
	" if not last then\n"
	"  return redis.error_reply('CXBANK us is not an integer below 2^53')\n"
	" end\n"
	"end\n"
	"if tok > cap then tok = cap end\n"
	"if now > last then\n"
	" local dt = now - last\n"
	" local fill = fdiv(cap - tok, rate) + 1\n"
	" if dt > fill then dt = fill end\n"
	" tok = tok + rate * dt\n"
	" if tok > cap then tok = cap end\n"
	"end\n"
	"local g = fdiv(tok, 8000000)\n"
	"if g > want then g = want end\n"
	"tok = tok - g * 8000000\n"
	"local fill_ms = fdiv(cap, rate * 1000) + 1\n"
	"if ttl < fill_ms then ttl = fill_ms end\n"
	"redis.call('HSET', KEYS[1], 'tok', string.format('%.0f', tok),"
	" 'us', string.format('%.0f', now))\n"
	"redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl))\n"
	"return {g, fdiv(tok, 8000000)}\n";

#define BANK_SHA_LEN		40
#define BANK_URL_MAX		256
#define BANK_DEFAULT_PORT	6379
#define BANK_KEY_MAX		(CXP_BANK_PREFIX_MAX + CXP_BANK_TENANT_MAX)
/* Decimal digits of a uint64_t. */
#define BANK_NUM_MAX		20
/*
 * Largest command: EVAL script 1 key rate burst want ttl, 8 arguments,
 * each framed as "$LEN\r\n...\r\n" (at most 20 digits of length), after
 * "*8\r\n".
 */
#define BANK_FRAME_MAX		(1 + BANK_NUM_MAX + 2 + 2)
#define BANK_CMD_MAX		(4 + 8 * BANK_FRAME_MAX + 4 + \
				 sizeof(bank_script) + 1 + BANK_KEY_MAX + \
				 4 * BANK_NUM_MAX)
/* AUTH user password. */
#define BANK_AUTH_MAX		(4 + 3 * BANK_FRAME_MAX + 4 + \
				 CXP_BANK_USER_MAX + CXP_BANK_PASSWORD_MAX)
/* Bounds on the work of one cxp_bank_io() call, so a flood of replies
 * cannot hold the daemon's loop. */
#define BANK_READ_CHUNK		16384
#define BANK_READS_MAX		8
#define BANK_WRITES_MAX		8
/* Logging: the server's words, cut to this; per tenant a line at the first
 * error of a run and then at most once a minute; all tenants together at
 * most TENANT_LOG_BURST lines per ten seconds; authentication at most once
 * a minute. */
#define BANK_WHY_MAX		160
#define BANK_TENANT_LOG_NS	(60ULL * 1000000000)
#define BANK_TENANT_LOG_BURST	10
#define BANK_TENANT_LOG_WINDOW_NS (10ULL * 1000000000)
#define BANK_AUTH_LOG_NS	(60ULL * 1000000000)

enum bank_conn {
	BANK_CONN_NONE,		/* no socket; reconnect at retry_ns */
	BANK_CONN_CONNECTING,	/* connect() in progress */
	BANK_CONN_LOADING,	/* connected, AUTH or SCRIPT LOAD outstanding */
	BANK_CONN_UP,
};

enum bank_cmd {
	BANK_CMD_AUTH,
	BANK_CMD_LOAD,
	BANK_CMD_EVALSHA,
	BANK_CMD_EVAL,
};

struct bank_slot {
	bool		busy;
	uint8_t		key_len;
	uint8_t		name_len;	/* the tenant last asked for here */
	char		key[BANK_KEY_MAX];
	char		name[CXP_BANK_TENANT_MAX];
	uint64_t	rate_bps;
	uint64_t	burst_bytes;
	uint64_t	want_bytes;
	struct cxp_bank_tenant st;	/* errors, backoff */
	uint64_t	backoff_ns;	/* the next error's; 0: the minimum */
	uint64_t	log_ns;		/* "still failing" not before this */
};

/* A command written (or queued to be written) whose reply is awaited. */
struct bank_pend {
	uint32_t	tenant_idx;	/* unused for AUTH and LOAD */
	uint8_t		cmd;
	uint64_t	deadline_ns;
};

struct cxp_bank {
	struct cxp_bank_opts	opts;
	struct cxp_bank_url	url;
	char			url_str[BANK_URL_MAX];
	enum cxp_bank_state	state;
	enum bank_conn		conn;
	int			fd;
	redisReader		*reader;
	uint64_t		connect_deadline_ns;
	uint64_t		retry_ns;
	uint64_t		backoff_ns;
	bool			logged_down;
	char			sha[BANK_SHA_LEN];
	/* Why the connection is being dropped, from the server's reply;
	 * "" for a local reason (the errno says it). */
	char			why[BANK_WHY_MAX];
	uint64_t		rng;		/* xorshift64*, for jitter */
	struct cx_log_ratelimit	tenant_rl;
	struct cx_log_ratelimit	auth_rl;

	struct bank_slot	*slots;		/* opts.tenants */
	struct bank_pend	*ring;		/* opts.tenants + 2 */
	uint32_t		ring_cap;
	uint32_t		ring_head;
	uint32_t		ring_len;

	/* Bytes out[out_off .. out_off + out_len) are still to be written. */
	char			*out;
	size_t			out_cap;
	size_t			out_off;
	size_t			out_len;

	struct cxp_bank_stats	stats;
};

/* --- small helpers ------------------------------------------------------ */

/* 1..max bytes of printable ASCII without space; *len its length. */
static bool token_ok(const char *s, size_t max, size_t *len)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i <= max; i++) {
		if (s[i] == '\0')
			break;
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	}
	if (i == 0 || i > max)
		return false;
	*len = i;
	return true;
}

static bool has_password(const struct cxp_bank_opts *o)
{
	return o->password != NULL && o->password[0] != '\0';
}

static bool has_user(const struct cxp_bank_opts *o)
{
	return o->user != NULL && o->user[0] != '\0';
}

/* The credentials as they are now: none, or a valid password (and user). */
static bool creds_ok(const struct cxp_bank_opts *o)
{
	size_t n;

	if (!has_password(o))
		return !has_user(o);
	n = strnlen(o->password, CXP_BANK_PASSWORD_MAX + 1);
	if (n > CXP_BANK_PASSWORD_MAX || strpbrk(o->password, "\r\n") != NULL)
		return false;
	return !has_user(o) || token_ok(o->user, CXP_BANK_USER_MAX, &n);
}

static const char *prefix_of(const struct cxp_bank_opts *o)
{
	return o->key_prefix != NULL ? o->key_prefix : CXP_BANK_KEY_PREFIX;
}

static uint64_t rng_next(struct cxp_bank *bank)
{
	uint64_t x = bank->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	bank->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* A wait in [b/2, b]: hosts that failed together do not retry together. */
static uint64_t jitter(struct cxp_bank *bank, uint64_t b)
{
	return b - rng_next(bank) % (b / 2 + 1);
}

static uint64_t doubled(const struct cxp_bank *bank, uint64_t b)
{
	return b > bank->opts.backoff_max_ns / 2 ? bank->opts.backoff_max_ns :
	       b * 2;
}

/* A reply's text for a log line: printable ASCII, cut short. */
static void reply_text(const redisReply *r, char *buf, size_t len)
{
	size_t i, n = 0;

	if (r->type != REDIS_REPLY_ERROR && r->type != REDIS_REPLY_STATUS &&
	    r->type != REDIS_REPLY_STRING) {
		snprintf(buf, len, "a reply of type %d", r->type);
		return;
	}
	for (i = 0; i < r->len && n + 1 < len; i++)
		buf[n++] = r->str[i] >= ' ' && r->str[i] <= '~' ? r->str[i] : '?';
	buf[n] = '\0';
}

static bool reply_starts(const redisReply *r, const char *word)
{
	size_t n = strlen(word);

	return r->type == REDIS_REPLY_ERROR && r->len >= n &&
	       memcmp(r->str, word, n) == 0 &&
	       (r->len == n || r->str[n] == ' ');
}

/* --- URL ---------------------------------------------------------------- */

static int url_port(const char *s, uint16_t *port)
{
	uint32_t v = 0;
	size_t i;

	/* 1..5 digits, no leading zero: "0", "080" and "65536" are refused. */
	if (s[0] < '1' || s[0] > '9')
		return -EINVAL;
	for (i = 0; s[i] != '\0'; i++) {
		if (i == 5 || s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int cxp_bank_url_parse(const char *s, struct cxp_bank_url *out)
{
	static const char unix_pfx[] = "unix:", redis_pfx[] = "redis://";
	struct cxp_bank_url u;
	struct in6_addr a6;
	struct in_addr a4;
	const char *h, *end, *rest;
	bool v6;
	size_t n;

	if (s == NULL || out == NULL)
		return -EINVAL;
	memset(&u, 0, sizeof(u));
	if (strncmp(s, unix_pfx, sizeof(unix_pfx) - 1) == 0) {
		s += sizeof(unix_pfx) - 1;
		n = strlen(s);
		/* "unix://x" would read as a URL authority: refuse, not guess. */
		if (s[0] != '/' || s[1] == '/' || n >= sizeof(u.path))
			return -EINVAL;
		u.is_unix = true;
		memcpy(u.path, s, n + 1);
		*out = u;
		return 0;
	}
	if (strncmp(s, redis_pfx, sizeof(redis_pfx) - 1) != 0)
		return -EINVAL;
	h = s + sizeof(redis_pfx) - 1;
	v6 = h[0] == '[';
	if (v6) {
		end = strchr(h, ']');
		if (end == NULL)
			return -EINVAL;
		h++;
		rest = end + 1;
	} else {
		end = h + strcspn(h, ":");
		rest = end;
	}
	n = (size_t)(end - h);
	if (n == 0 || n >= sizeof(u.host))
		return -EINVAL;
	memcpy(u.host, h, n);
	u.host[n] = '\0';
	if (v6) {
		if (inet_pton(AF_INET6, u.host, &a6) != 1)
			return -EINVAL;
	} else if (inet_pton(AF_INET, u.host, &a4) != 1) {
		return -EINVAL;
	}
	if (rest[0] == '\0')
		u.port = BANK_DEFAULT_PORT;
	else if (rest[0] != ':' || url_port(rest + 1, &u.port) < 0)
		return -EINVAL;
	*out = u;
	return 0;
}

/* --- buffers ------------------------------------------------------------ */

static struct bank_pend *ring_head(struct cxp_bank *bank)
{
	return bank->ring_len ? &bank->ring[bank->ring_head] : NULL;
}

static int ring_push(struct cxp_bank *bank, uint32_t tenant_idx, uint8_t cmd,
		     uint64_t deadline_ns)
{
	struct bank_pend *p;

	if (bank->ring_len == bank->ring_cap)
		return -ENOSPC;
	p = &bank->ring[(bank->ring_head + bank->ring_len) % bank->ring_cap];
	p->tenant_idx = tenant_idx;
	p->cmd = cmd;
	p->deadline_ns = deadline_ns;
	bank->ring_len++;
	return 0;
}

static struct bank_pend ring_pop(struct cxp_bank *bank)
{
	struct bank_pend p = bank->ring[bank->ring_head];

	bank->ring_head = (bank->ring_head + 1) % bank->ring_cap;
	bank->ring_len--;
	return p;
}

/*
 * Appends one command in RESP (a multi-bulk of bulk strings) to the output
 * buffer: all of it, or nothing and -ENOSPC.
 */
static int out_cmd(struct cxp_bank *bank, unsigned int argc,
		   const char *const argv[], const size_t lens[])
{
	size_t need = 4 + (size_t)argc * BANK_FRAME_MAX, off;
	unsigned int i;
	int n;

	for (i = 0; i < argc; i++)
		need += lens[i];
	if (bank->out_off > 0 &&
	    need > bank->out_cap - bank->out_off - bank->out_len) {
		memmove(bank->out, bank->out + bank->out_off, bank->out_len);
		bank->out_off = 0;
	}
	if (need > bank->out_cap - bank->out_off - bank->out_len)
		return -ENOSPC;
	off = bank->out_off + bank->out_len;
	n = snprintf(bank->out + off, bank->out_cap - off, "*%u\r\n", argc);
	off += (size_t)n;
	for (i = 0; i < argc; i++) {
		n = snprintf(bank->out + off, bank->out_cap - off, "$%zu\r\n",
			     lens[i]);
		off += (size_t)n;
		memcpy(bank->out + off, argv[i], lens[i]);
		off += lens[i];
		memcpy(bank->out + off, "\r\n", 2);
		off += 2;
	}
	bank->out_len = off - bank->out_off;
	return 0;
}

static int queue_auth(struct cxp_bank *bank, uint64_t now_ns)
{
	const char *argv[3];
	size_t lens[3];
	unsigned int argc = 0;
	int ret;

	if (bank->ring_len == bank->ring_cap)
		return -ENOSPC;
	argv[argc] = "AUTH";
	lens[argc++] = 4;
	if (has_user(&bank->opts)) {
		argv[argc] = bank->opts.user;
		lens[argc++] = strlen(bank->opts.user);
	}
	argv[argc] = bank->opts.password;
	lens[argc++] = strlen(bank->opts.password);
	ret = out_cmd(bank, argc, argv, lens);
	if (ret < 0)
		return ret;
	return ring_push(bank, 0, BANK_CMD_AUTH, now_ns + bank->opts.timeout_ns);
}

static int queue_load(struct cxp_bank *bank, uint64_t now_ns)
{
	const char *argv[3] = { "SCRIPT", "LOAD", bank_script };
	size_t lens[3] = { 6, 4, sizeof(bank_script) - 1 };
	int ret;

	if (bank->ring_len == bank->ring_cap)
		return -ENOSPC;
	ret = out_cmd(bank, 3, argv, lens);
	if (ret < 0)
		return ret;
	return ring_push(bank, 0, BANK_CMD_LOAD, now_ns + bank->opts.timeout_ns);
}

static int queue_eval(struct cxp_bank *bank, uint32_t tenant_idx, uint8_t cmd,
		      uint64_t now_ns)
{
	const struct bank_slot *sl = &bank->slots[tenant_idx];
	char num[4][BANK_NUM_MAX + 1];
	const char *argv[8];
	size_t lens[8];
	unsigned int i;
	int ret;

	if (bank->ring_len == bank->ring_cap)
		return -ENOSPC;
	if (cmd == BANK_CMD_EVALSHA) {
		argv[0] = "EVALSHA";
		argv[1] = bank->sha;
		lens[1] = BANK_SHA_LEN;
	} else {
		argv[0] = "EVAL";
		argv[1] = bank_script;
		lens[1] = sizeof(bank_script) - 1;
	}
	lens[0] = strlen(argv[0]);
	argv[2] = "1";
	argv[3] = sl->key;
	lens[3] = sl->key_len;
	snprintf(num[0], sizeof(num[0]), "%" PRIu64, sl->rate_bps);
	snprintf(num[1], sizeof(num[1]), "%" PRIu64, sl->burst_bytes);
	snprintf(num[2], sizeof(num[2]), "%" PRIu64, sl->want_bytes);
	snprintf(num[3], sizeof(num[3]), "%" PRIu64, bank->opts.idle_ttl_ms);
	for (i = 0; i < 4; i++)
		argv[4 + i] = num[i];
	for (i = 2; i < 8; i++)
		if (i != 3)
			lens[i] = strlen(argv[i]);
	ret = out_cmd(bank, 8, argv, lens);
	if (ret < 0)
		return ret;
	return ring_push(bank, tenant_idx, cmd, now_ns + bank->opts.timeout_ns);
}

/* --- connection --------------------------------------------------------- */

static void set_state(struct cxp_bank *bank, enum cxp_bank_state state)
{
	if (bank->state == state)
		return;
	bank->state = state;
	bank->stats.state_changes++;
	if (bank->opts.on_state != NULL)
		bank->opts.on_state(bank->opts.arg, state);
}

/*
 * A request of the slot's tenant failed on its own account: the slot
 * backs off (bank.h), and it is logged within the limits of bank.h.
 */
static void tenant_backoff(struct cxp_bank *bank, struct bank_slot *sl,
			   int status, const char *why, uint64_t now_ns)
{
	char what[BANK_KEY_MAX + 64];
	uint64_t wait;

	if (sl->backoff_ns == 0)
		sl->backoff_ns = bank->opts.backoff_min_ns;
	wait = jitter(bank, sl->backoff_ns);
	sl->backoff_ns = doubled(bank, sl->backoff_ns);
	sl->st.errors++;
	sl->st.backoffs++;
	sl->st.streak++;
	sl->st.retry_ns = now_ns + wait;
	bank->stats.backoffs++;
	if (sl->st.streak > 1 && now_ns < sl->log_ns)
		return;
	sl->log_ns = now_ns + BANK_TENANT_LOG_NS;
	if (status == -EUCLEAN)
		snprintf(what, sizeof(what), "key %.*s is corrupt, left as it "
			 "is", (int)sl->key_len, sl->key);
	else if (status == -EIO)
		snprintf(what, sizeof(what), "the server answered an error");
	else
		snprintf(what, sizeof(what), "malformed reply");
	cx_log_rl(&bank->tenant_rl, now_ns, CX_LOG_WARNING,
		  "token bank: tenant %.*s: %s (%s); %" PRIu32 " error%s in a "
		  "row, next request in %" PRIu64 " ms", (int)sl->name_len,
		  sl->name, what, why, sl->st.streak,
		  sl->st.streak == 1 ? "" : "s", wait / 1000000);
}

static void end_request(struct cxp_bank *bank, uint32_t tenant_idx,
			int status, uint64_t granted_bytes,
			uint64_t level_bytes, const char *why, uint64_t now_ns)
{
	struct bank_slot *sl = &bank->slots[tenant_idx];

	sl->busy = false;
	if (status == 0) {
		bank->stats.grants++;
		bank->stats.granted_bytes += granted_bytes;
		/* The connection works: the next outage starts afresh. */
		bank->backoff_ns = bank->opts.backoff_min_ns;
		if (sl->st.streak > 0)
			cx_log_rl(&bank->tenant_rl, now_ns, CX_LOG_INFO,
				  "token bank: tenant %.*s: grants again after "
				  "%" PRIu32 " error%s", (int)sl->name_len,
				  sl->name, sl->st.streak,
				  sl->st.streak == 1 ? "" : "s");
		sl->st.streak = 0;
		sl->st.retry_ns = 0;
		sl->backoff_ns = 0;
	} else if (status == -ENOTCONN || status == -ETIMEDOUT) {
		bank->stats.lost++;
	} else {
		bank->stats.errors++;
		if (status == -EUCLEAN)
			bank->stats.corrupt++;
		tenant_backoff(bank, sl, status, why, now_ns);
	}
	bank->opts.on_grant(bank->opts.arg, tenant_idx, status, granted_bytes,
			    level_bytes);
}

/*
 * Drops the connection after err (a negative errno), ends every request
 * still outstanding and schedules the next attempt. The state is DOWN
 * before any callback runs, so a callback that asks again is refused
 * rather than queued on a dead connection. Logged once per outage, with
 * bank->why if the server said why.
 */
static int bank_fail(struct cxp_bank *bank, int err, uint64_t now_ns)
{
	int status = err == -ETIMEDOUT ? -ETIMEDOUT : -ENOTCONN;
	struct bank_pend p;
	uint32_t cap;

	if (bank->fd >= 0)
		close(bank->fd);
	bank->fd = -1;
	if (bank->reader != NULL)
		redisReaderFree(bank->reader);
	bank->reader = NULL;
	bank->conn = BANK_CONN_NONE;
	bank->out_off = 0;
	bank->out_len = 0;
	bank->retry_ns = now_ns + jitter(bank, bank->backoff_ns);
	bank->backoff_ns = doubled(bank, bank->backoff_ns);
	if (err == -ETIMEDOUT)
		bank->stats.timeouts++;
	if (!bank->logged_down) {
		cx_log_warnx("token bank %s down (%s%s%s): tenants fall back "
			     "to their static share", bank->url_str,
			     strerror(-err), bank->why[0] ? ": " : "",
			     bank->why);
		bank->logged_down = true;
	}
	bank->why[0] = '\0';
	set_state(bank, CXP_BANK_DOWN);
	/* Callbacks cannot queue more (DOWN), so this ends. */
	for (cap = bank->ring_cap; bank->ring_len > 0 && cap > 0; cap--) {
		p = ring_pop(bank);
		if (p.cmd == BANK_CMD_EVALSHA || p.cmd == BANK_CMD_EVAL)
			end_request(bank, p.tenant_idx, status, 0, 0, "",
				    now_ns);
	}
	return err;
}

/*
 * The server refused this connection for its credentials (AUTH answered
 * with an error, or NOAUTH to a command): counted, logged at most once a
 * minute with the server's words and what to check, and dropped.
 */
static int auth_fail(struct cxp_bank *bank, const redisReply *r,
		     uint64_t now_ns)
{
	char text[BANK_WHY_MAX];
	const char *hint;

	reply_text(r, text, sizeof(text));
	bank->stats.auth_failures++;
	if (!has_password(&bank->opts))
		hint = "the server wants a password: set bank_password_file "
		       "(and bank_user for an ACL user)";
	else if (reply_starts(r, "NOAUTH"))
		hint = "the server asks again for the password";
	else
		hint = "AUTH refused: check bank_user and bank_password_file "
		       "against the server's requirepass or ACL user";
	cx_log_rl(&bank->auth_rl, now_ns, CX_LOG_WARNING,
		  "token bank %s: %s (server: %s)", bank->url_str, hint, text);
	snprintf(bank->why, sizeof(bank->why), "%s", text);
	return bank_fail(bank, -EACCES, now_ns);
}

static int on_connected(struct cxp_bank *bank, uint64_t now_ns)
{
	int ret;

	bank->reader = redisReaderCreate();
	if (bank->reader == NULL)
		return bank_fail(bank, -ENOMEM, now_ns);
	bank->conn = BANK_CONN_LOADING;
	/* Credentials first: nothing else is sent on a connection that has
	 * not presented them. */
	if (has_password(&bank->opts)) {
		ret = queue_auth(bank, now_ns);
		if (ret < 0)
			return bank_fail(bank, ret, now_ns);
	}
	ret = queue_load(bank, now_ns);
	if (ret < 0)
		return bank_fail(bank, ret, now_ns);
	return 0;
}

static int bank_connect(struct cxp_bank *bank, uint64_t now_ns)
{
	union {
		struct sockaddr		sa;
		struct sockaddr_in	in;
		struct sockaddr_in6	in6;
		struct sockaddr_un	un;
	} addr;
	socklen_t alen;
	int fd, one = 1;

	if (bank->stats.connects > 0)
		bank->stats.reconnects++;
	bank->stats.connects++;
	/* Changed since cxp_bank_new (the caller owns them): refuse rather
	 * than send something the server would misread. */
	if (!creds_ok(&bank->opts)) {
		snprintf(bank->why, sizeof(bank->why), "bad user or password");
		return bank_fail(bank, -EINVAL, now_ns);
	}
	memset(&addr, 0, sizeof(addr));
	if (bank->url.is_unix) {
		addr.un.sun_family = AF_UNIX;
		memcpy(addr.un.sun_path, bank->url.path, sizeof(bank->url.path));
		alen = sizeof(addr.un);
	} else if (inet_pton(AF_INET, bank->url.host, &addr.in.sin_addr) == 1) {
		addr.in.sin_family = AF_INET;
		addr.in.sin_port = htons(bank->url.port);
		alen = sizeof(addr.in);
	} else if (inet_pton(AF_INET6, bank->url.host,
			     &addr.in6.sin6_addr) == 1) {
		addr.in6.sin6_family = AF_INET6;
		addr.in6.sin6_port = htons(bank->url.port);
		alen = sizeof(addr.in6);
	} else {
		return bank_fail(bank, -EINVAL, now_ns);
	}
	fd = socket(addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
	if (fd < 0)
		return bank_fail(bank, -errno, now_ns);
	bank->fd = fd;
	/* Requests are small and latency is the point: no Nagle delay. */
	if (!bank->url.is_unix)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, &addr.sa, alen) == 0)
		return on_connected(bank, now_ns);
	/*
	 * A unix socket whose listen backlog is full says EAGAIN rather than
	 * EINPROGRESS: treat it as a refusal and back off.
	 */
	if (errno != EINPROGRESS)
		return bank_fail(bank, -errno, now_ns);
	bank->conn = BANK_CONN_CONNECTING;
	bank->connect_deadline_ns = now_ns + bank->opts.timeout_ns;
	return 0;
}

/* --- replies ------------------------------------------------------------ */

static bool is_hex_sha(const redisReply *r)
{
	size_t i;

	if (r->type != REDIS_REPLY_STRING || r->len != BANK_SHA_LEN)
		return false;
	for (i = 0; i < BANK_SHA_LEN; i++)
		if ((r->str[i] < '0' || r->str[i] > '9') &&
		    (r->str[i] < 'a' || r->str[i] > 'f'))
			return false;
	return true;
}

static int on_reply(struct cxp_bank *bank, const redisReply *r,
		    uint64_t now_ns)
{
	char why[BANK_WHY_MAX];
	const struct bank_slot *sl;
	struct bank_pend p;
	long long g, l;
	int ret;

	if (bank->ring_len == 0)
		return bank_fail(bank, -EBADMSG, now_ns);
	p = *ring_head(bank);
	if (p.cmd == BANK_CMD_AUTH) {
		ring_pop(bank);
		if (r->type == REDIS_REPLY_STATUS && r->len == 2 &&
		    memcmp(r->str, "OK", 2) == 0)
			return 0;
		return auth_fail(bank, r, now_ns);
	}
	/* Lost or never had the right to ask: the connection's fault, not
	 * the tenant's; a new connection presents the credentials again.
	 * The request stays queued, for bank_fail to end. */
	if (reply_starts(r, "NOAUTH"))
		return auth_fail(bank, r, now_ns);
	ring_pop(bank);
	if (p.cmd == BANK_CMD_LOAD) {
		if (r->type == REDIS_REPLY_ERROR) {
			reply_text(r, bank->why, sizeof(bank->why));
			return bank_fail(bank, -EIO, now_ns);
		}
		if (!is_hex_sha(r))
			return bank_fail(bank, -EBADMSG, now_ns);
		memcpy(bank->sha, r->str, BANK_SHA_LEN);
		bank->conn = BANK_CONN_UP;
		if (bank->logged_down)
			cx_log_info("token bank %s up", bank->url_str);
		bank->logged_down = false;
		set_state(bank, CXP_BANK_UP);
		return 0;
	}
	sl = &bank->slots[p.tenant_idx];
	if (reply_starts(r, "NOSCRIPT") && p.cmd == BANK_CMD_EVALSHA) {
		/* The server lost its script cache (SCRIPT FLUSH, restart
		 * behind a proxy): EVAL sends the text and caches it again. */
		bank->stats.noscript++;
		ret = queue_eval(bank, p.tenant_idx, BANK_CMD_EVAL, now_ns);
		if (ret < 0)
			end_request(bank, p.tenant_idx, -EIO, 0, 0,
				    "NOSCRIPT, and no room to send the script",
				    now_ns);
		return 0;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		reply_text(r, why, sizeof(why));
		end_request(bank, p.tenant_idx,
			    reply_starts(r, "CXBANK") ? -EUCLEAN : -EIO, 0, 0,
			    why, now_ns);
		return 0;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER ||
	    r->element[1]->type != REDIS_REPLY_INTEGER) {
		end_request(bank, p.tenant_idx, -EBADMSG, 0, 0,
			    "(not two integers)", now_ns);
		return 0;
	}
	g = r->element[0]->integer;
	l = r->element[1]->integer;
	if (g < 0 || (uint64_t)g > sl->want_bytes || l < 0 ||
	    (uint64_t)l > sl->burst_bytes) {
		snprintf(why, sizeof(why), "(grant %lld, level %lld)", g, l);
		end_request(bank, p.tenant_idx, -EBADMSG, 0, 0, why, now_ns);
		return 0;
	}
	end_request(bank, p.tenant_idx, 0, (uint64_t)g, (uint64_t)l, "",
		    now_ns);
	return 0;
}

static int bank_read(struct cxp_bank *bank, uint64_t now_ns)
{
	char buf[BANK_READ_CHUNK];
	void *reply;
	ssize_t n;
	uint32_t i, cap;
	int ret;

	for (i = 0; i < BANK_READS_MAX; i++) {
		n = recv(bank->fd, buf, sizeof(buf), 0);
		if (n == 0)
			return bank_fail(bank, -ECONNRESET, now_ns);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return bank_fail(bank, -errno, now_ns);
		}
		if (redisReaderFeed(bank->reader, buf, (size_t)n) != REDIS_OK)
			return bank_fail(bank, -ENOMEM, now_ns);
		/* Every reply answers an entry of the ring, so ring_cap + 1
		 * replies at once is already a protocol error. */
		for (cap = bank->ring_cap + 1; cap > 0; cap--) {
			reply = NULL;
			if (redisReaderGetReply(bank->reader, &reply) !=
			    REDIS_OK)
				return bank_fail(bank, -EBADMSG, now_ns);
			if (reply == NULL)
				break;
			ret = on_reply(bank, reply, now_ns);
			freeReplyObject(reply);
			if (ret < 0)
				return ret;
		}
		if (cap == 0)
			return bank_fail(bank, -EBADMSG, now_ns);
		if ((size_t)n < sizeof(buf))
			break;
	}
	return 0;
}

static int bank_write(struct cxp_bank *bank, uint64_t now_ns)
{
	ssize_t n;
	uint32_t i;

	for (i = 0; i < BANK_WRITES_MAX && bank->out_len > 0; i++) {
		n = send(bank->fd, bank->out + bank->out_off, bank->out_len,
			 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return bank_fail(bank, -errno, now_ns);
		}
		bank->out_off += (size_t)n;
		bank->out_len -= (size_t)n;
	}
	if (bank->out_len == 0)
		bank->out_off = 0;
	return 0;
}

/* --- public ------------------------------------------------------------- */

void cxp_bank_opts_default(struct cxp_bank_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->timeout_ns = 200ULL * 1000000;
	opts->backoff_min_ns = 100ULL * 1000000;
	opts->backoff_max_ns = 5ULL * 1000000000;
	opts->idle_ttl_ms = 3600ULL * 1000;
	opts->tenants = 256;
}

static uint64_t rng_seed(const struct cxp_bank *bank)
{
	struct timespec ts;
	uint64_t seed = 0;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
		       ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)bank;
	}
	return seed != 0 ? seed : 0x9e3779b97f4a7c15ULL;
}

struct cxp_bank *cxp_bank_new(const char *url,
			      const struct cxp_bank_opts *opts)
{
	struct cxp_bank *bank;
	uint64_t now_ns;
	struct timespec ts;
	size_t n;

	if (url == NULL || opts == NULL || strlen(url) >= BANK_URL_MAX ||
	    opts->on_grant == NULL || opts->timeout_ns == 0 ||
	    opts->backoff_min_ns == 0 ||
	    opts->backoff_max_ns < opts->backoff_min_ns ||
	    opts->idle_ttl_ms == 0 || opts->idle_ttl_ms > CXP_BANK_TTL_MAX_MS ||
	    opts->tenants == 0 ||
	    opts->tenants > CXP_BANK_TENANTS_MAX ||
	    !token_ok(prefix_of(opts), CXP_BANK_PREFIX_MAX, &n) ||
	    !creds_ok(opts)) {
		errno = EINVAL;
		return NULL;
	}
	bank = calloc(1, sizeof(*bank));
	if (bank == NULL)
		return NULL;
	if (cxp_bank_url_parse(url, &bank->url) < 0) {
		free(bank);
		errno = EINVAL;
		return NULL;
	}
	memcpy(bank->url_str, url, strlen(url) + 1);
	bank->opts = *opts;
	bank->fd = -1;
	bank->state = CXP_BANK_DOWN;
	bank->conn = BANK_CONN_NONE;
	bank->backoff_ns = opts->backoff_min_ns;
	bank->rng = rng_seed(bank);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	cx_log_ratelimit_init(&bank->tenant_rl, BANK_TENANT_LOG_BURST,
			      BANK_TENANT_LOG_WINDOW_NS, now_ns);
	cx_log_ratelimit_init(&bank->auth_rl, 1, BANK_AUTH_LOG_NS, now_ns);
	/* A command per tenant, behind an AUTH and a SCRIPT LOAD. */
	bank->ring_cap = opts->tenants + 2;
	/* Worst case: every tenant's command is an EVAL (a NOSCRIPT storm)
	 * not yet written, behind an AUTH and a SCRIPT LOAD. */
	bank->out_cap = ((size_t)opts->tenants + 1) * BANK_CMD_MAX +
			BANK_AUTH_MAX;
	bank->slots = calloc(opts->tenants, sizeof(*bank->slots));
	bank->ring = calloc(bank->ring_cap, sizeof(*bank->ring));
	bank->out = malloc(bank->out_cap);
	if (bank->slots == NULL || bank->ring == NULL || bank->out == NULL) {
		cxp_bank_free(bank);
		errno = ENOMEM;
		return NULL;
	}
	return bank;
}

void cxp_bank_free(struct cxp_bank *bank)
{
	if (bank == NULL)
		return;
	if (bank->fd >= 0)
		close(bank->fd);
	if (bank->reader != NULL)
		redisReaderFree(bank->reader);
	/* It held the AUTH command. */
	if (bank->out != NULL)
		explicit_bzero(bank->out, bank->out_cap);
	free(bank->out);
	free(bank->ring);
	free(bank->slots);
	free(bank);
}

int cxp_bank_fd(const struct cxp_bank *bank)
{
	return bank->fd;
}

short cxp_bank_events(const struct cxp_bank *bank)
{
	switch (bank->conn) {
	case BANK_CONN_NONE:
		return 0;
	case BANK_CONN_CONNECTING:
		return POLLOUT;
	case BANK_CONN_LOADING:
	case BANK_CONN_UP:
		break;
	}
	return (short)(POLLIN | (bank->out_len > 0 ? POLLOUT : 0));
}

uint64_t cxp_bank_next_ns(const struct cxp_bank *bank)
{
	switch (bank->conn) {
	case BANK_CONN_NONE:
		return bank->retry_ns;
	case BANK_CONN_CONNECTING:
		return bank->connect_deadline_ns;
	case BANK_CONN_LOADING:
	case BANK_CONN_UP:
		break;
	}
	/* FIFO with deadlines set from a monotonic now_ns: the head is due
	 * first. */
	return bank->ring_len ? bank->ring[bank->ring_head].deadline_ns :
	       UINT64_MAX;
}

int cxp_bank_io(struct cxp_bank *bank, short revents, uint64_t now_ns)
{
	socklen_t len = sizeof(int);
	int err = 0, ret;

	if (bank->conn == BANK_CONN_NONE)
		return 0;
	if (bank->conn == BANK_CONN_CONNECTING) {
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return 0;
		if (getsockopt(bank->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			return bank_fail(bank, -errno, now_ns);
		if (err != 0)
			return bank_fail(bank, -err, now_ns);
		ret = on_connected(bank, now_ns);
		if (ret < 0)
			return ret;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		ret = bank_read(bank, now_ns);
		if (ret < 0 || bank->conn == BANK_CONN_NONE)
			return ret;
	}
	/* Written whether or not POLLOUT was asked for: requests queued
	 * since the last poll go out without waiting for another turn. */
	return bank_write(bank, now_ns);
}

int cxp_bank_tick(struct cxp_bank *bank, uint64_t now_ns)
{
	const struct bank_pend *p;

	switch (bank->conn) {
	case BANK_CONN_NONE:
		if (now_ns >= bank->retry_ns)
			return bank_connect(bank, now_ns);
		return 0;
	case BANK_CONN_CONNECTING:
		if (now_ns >= bank->connect_deadline_ns)
			return bank_fail(bank, -ETIMEDOUT, now_ns);
		return 0;
	case BANK_CONN_LOADING:
	case BANK_CONN_UP:
		break;
	}
	p = ring_head(bank);
	if (p != NULL && now_ns >= p->deadline_ns)
		return bank_fail(bank, -ETIMEDOUT, now_ns);
	return 0;
}

int cxp_bank_request(struct cxp_bank *bank, uint32_t tenant_idx,
		     const char *tenant, uint64_t rate_bps,
		     uint64_t burst_bytes, uint64_t want_bytes,
		     uint64_t now_ns)
{
	const char *pfx = prefix_of(&bank->opts);
	struct bank_slot *sl;
	size_t tlen, plen;
	int ret;

	if (tenant_idx >= bank->opts.tenants || tenant == NULL ||
	    !token_ok(tenant, CXP_BANK_TENANT_MAX, &tlen) ||
	    !token_ok(pfx, CXP_BANK_PREFIX_MAX, &plen) || rate_bps == 0 ||
	    rate_bps > CXP_BANK_RATE_MAX_BPS ||
	    burst_bytes > CXP_BANK_BURST_MAX_BYTES ||
	    want_bytes > CXP_BANK_BURST_MAX_BYTES)
		return -EINVAL;
	sl = &bank->slots[tenant_idx];
	if (sl->busy)
		return -EBUSY;
	/* Another tenant on this slot (a reload renumbered them): the old
	 * one's errors are not this one's. */
	if (sl->name_len != tlen || memcmp(sl->name, tenant, tlen) != 0) {
		memset(&sl->st, 0, sizeof(sl->st));
		sl->backoff_ns = 0;
		sl->log_ns = 0;
		memcpy(sl->name, tenant, tlen);
		sl->name_len = (uint8_t)tlen;
	}
	if (sl->st.streak > 0 && now_ns < sl->st.retry_ns)
		return -EAGAIN;
	if (bank->state != CXP_BANK_UP) {
		bank->stats.rejected++;
		return -ENOTCONN;
	}
	memcpy(sl->key, pfx, plen);
	memcpy(sl->key + plen, tenant, tlen);
	sl->key_len = (uint8_t)(plen + tlen);
	sl->rate_bps = rate_bps;
	sl->burst_bytes = burst_bytes;
	sl->want_bytes = want_bytes;
	ret = queue_eval(bank, tenant_idx, BANK_CMD_EVALSHA, now_ns);
	if (ret < 0)
		return ret;
	sl->busy = true;
	bank->stats.requests++;
	return 0;
}

void cxp_bank_tenant(const struct cxp_bank *bank, uint32_t tenant_idx,
		     const char *tenant, struct cxp_bank_tenant *out)
{
	const struct bank_slot *sl;
	size_t tlen;

	memset(out, 0, sizeof(*out));
	if (tenant_idx >= bank->opts.tenants || tenant == NULL ||
	    !token_ok(tenant, CXP_BANK_TENANT_MAX, &tlen))
		return;
	sl = &bank->slots[tenant_idx];
	if (sl->name_len == tlen && memcmp(sl->name, tenant, tlen) == 0)
		*out = sl->st;
}

enum cxp_bank_state cxp_bank_state(const struct cxp_bank *bank)
{
	return bank->state;
}

void cxp_bank_stats(const struct cxp_bank *bank, struct cxp_bank_stats *out)
{
	*out = bank->stats;
}
