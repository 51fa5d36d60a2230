/*
 * Integer token buckets. Rates are bit/s, sizes bytes, time ns passed in
 * by the caller (a monotonic clock).
 *
 * Tokens are held in units of 1/8e9 byte: a rate of R bit/s then adds
 * exactly R units per nanosecond, so refill is one multiplication with no
 * division and no rounding, and even 40 kbit/s gains a byte every 200 us
 * exactly, with no per-call truncation loss. The price is a burst cap of
 * CX_TB_BURST_MAX (about 2.3 GB). Refill first bounds the elapsed time by
 * what would fill the bucket, so no product overflows, whatever the idle
 * time (years) or the rate (up to UINT64_MAX bit/s).
 *
 * A clock that goes backwards (now_ns before the last update) gives no
 * tokens and re-anchors the bucket at now_ns, so refill resumes from the
 * new reading instead of waiting for the clock to catch up.
 */
#ifndef CONEX_TB_H
#define CONEX_TB_H

#include <stdbool.h>
#include <stdint.h>

#define CX_TB_UNITS_PER_BYTE 8000000000ULL
#define CX_TB_BURST_MAX (UINT64_MAX / CX_TB_UNITS_PER_BYTE)

struct cx_tb {
	uint64_t rate_bps;
	uint64_t burst_bytes;	/* <= CX_TB_BURST_MAX */
	uint64_t tokens;	/* 1/8e9 byte units, <= burst_bytes * 8e9 */
	uint64_t last_ns;	/* time tokens was last brought up to date */
};

/* Starts full. -EINVAL if burst_bytes > CX_TB_BURST_MAX. */
int cx_tb_init(struct cx_tb *tb, uint64_t rate_bps, uint64_t burst_bytes,
	       uint64_t now_ns);

/* Whole bytes available at now_ns; does not change the bucket. */
uint64_t cx_tb_level(const struct cx_tb *tb, uint64_t now_ns);

/* Would a take of bytes succeed at now_ns? Does not take. */
bool cx_tb_try(struct cx_tb *tb, uint64_t bytes, uint64_t now_ns);

/* Takes bytes if all are available; otherwise takes nothing. */
bool cx_tb_take(struct cx_tb *tb, uint64_t bytes, uint64_t now_ns);

/*
 * Takes up to bytes, emptying the bucket if fewer are available (a
 * congestion policer is drained by marked bytes whether or not they fit).
 * Returns by how many bytes the level fell short (rounded up), 0 if all
 * fitted.
 */
uint64_t cx_tb_drain(struct cx_tb *tb, uint64_t bytes, uint64_t now_ns);

/* Credits bytes (e.g. from a token bank), capped at the burst. */
void cx_tb_add(struct cx_tb *tb, uint64_t bytes, uint64_t now_ns);

/* New rate from now_ns on; the level earned so far is kept. */
void cx_tb_set_rate(struct cx_tb *tb, uint64_t rate_bps, uint64_t now_ns);

/*
 * Nanoseconds from now_ns until bytes are available: 0 if they are,
 * UINT64_MAX if never (bytes > burst, or rate 0 and not enough).
 */
uint64_t cx_tb_time_until(const struct cx_tb *tb, uint64_t bytes,
			  uint64_t now_ns);

/*
 * Dual bucket (peak and average, as a policer's peak-rate limit): a take
 * succeeds only if both buckets hold the bytes, and then takes from both.
 */
struct cx_tb_dual {
	struct cx_tb peak;
	struct cx_tb avg;
};

int cx_tb_dual_init(struct cx_tb_dual *d, uint64_t peak_rate_bps,
		    uint64_t peak_burst_bytes, uint64_t avg_rate_bps,
		    uint64_t avg_burst_bytes, uint64_t now_ns);
bool cx_tb_dual_take(struct cx_tb_dual *d, uint64_t bytes, uint64_t now_ns);
uint64_t cx_tb_dual_time_until(const struct cx_tb_dual *d, uint64_t bytes,
			       uint64_t now_ns);

#endif
