/*
 * Integer token buckets (see tb.h for the unit). Every update computes the
 * new state into locals and then stores it. Refill is stored even when a
 * take fails: with exact integers, min(B, min(B, T + r*a) + r*b) equals
 * min(B, T + r*(a + b)), so bringing the bucket up to date early never
 * changes a later result, and it is what re-anchors a stepped-back clock.
 */
#include <errno.h>

#include <conex/tb.h>

#define U CX_TB_UNITS_PER_BYTE

static uint64_t cap_units(const struct cx_tb *tb)
{
	return tb->burst_bytes * U;
}

/*
 * Tokens at now_ns. Elapsed time is compared with the time to fill the
 * room left before multiplying: elapsed > room / rate implies
 * elapsed * rate > room, so the bucket is full; otherwise
 * elapsed * rate <= room and the sum cannot overflow.
 */
static uint64_t tokens_at(const struct cx_tb *tb, uint64_t now_ns)
{
	uint64_t room, elapsed;

	if (now_ns <= tb->last_ns || tb->rate_bps == 0)
		return tb->tokens;
	elapsed = now_ns - tb->last_ns;
	room = cap_units(tb) - tb->tokens;
	if (elapsed > room / tb->rate_bps)
		return cap_units(tb);
	return tb->tokens + elapsed * tb->rate_bps;
}

static void refill(struct cx_tb *tb, uint64_t now_ns)
{
	uint64_t tokens = tokens_at(tb, now_ns);

	tb->tokens = tokens;
	tb->last_ns = now_ns;
}

int cx_tb_init(struct cx_tb *tb, uint64_t rate_bps, uint64_t burst_bytes,
	       uint64_t now_ns)
{
	if (burst_bytes > CX_TB_BURST_MAX)
		return -EINVAL;
	tb->rate_bps = rate_bps;
	tb->burst_bytes = burst_bytes;
	tb->tokens = burst_bytes * U;
	tb->last_ns = now_ns;
	return 0;
}

uint64_t cx_tb_level(const struct cx_tb *tb, uint64_t now_ns)
{
	return tokens_at(tb, now_ns) / U;
}

bool cx_tb_try(struct cx_tb *tb, uint64_t bytes, uint64_t now_ns)
{
	refill(tb, now_ns);
	return bytes <= tb->burst_bytes && bytes * U <= tb->tokens;
}

bool cx_tb_take(struct cx_tb *tb, uint64_t bytes, uint64_t now_ns)
{
	if (!cx_tb_try(tb, bytes, now_ns))
		return false;
	tb->tokens -= bytes * U;
	return true;
}

uint64_t cx_tb_drain(struct cx_tb *tb, uint64_t bytes, uint64_t now_ns)
{
	uint64_t have;

	refill(tb, now_ns);
	if (bytes <= tb->burst_bytes && bytes * U <= tb->tokens) {
		tb->tokens -= bytes * U;
		return 0;
	}
	/*
	 * Not all fit, so bytes > tokens / U >= have: the shortfall
	 * bytes - tokens / U, rounded up, is bytes - have.
	 */
	have = tb->tokens / U;
	tb->tokens = 0;
	return bytes - have;
}

void cx_tb_add(struct cx_tb *tb, uint64_t bytes, uint64_t now_ns)
{
	uint64_t room;

	refill(tb, now_ns);
	room = cap_units(tb) - tb->tokens;
	if (bytes > room / U)
		tb->tokens = cap_units(tb);
	else
		tb->tokens += bytes * U;
}

void cx_tb_set_rate(struct cx_tb *tb, uint64_t rate_bps, uint64_t now_ns)
{
	refill(tb, now_ns);
	tb->rate_bps = rate_bps;
}

uint64_t cx_tb_time_until(const struct cx_tb *tb, uint64_t bytes,
			  uint64_t now_ns)
{
	uint64_t tokens = tokens_at(tb, now_ns), deficit;

	if (bytes > tb->burst_bytes)
		return UINT64_MAX;
	if (bytes * U <= tokens)
		return 0;
	if (tb->rate_bps == 0)
		return UINT64_MAX;
	deficit = bytes * U - tokens;
	return deficit / tb->rate_bps + (deficit % tb->rate_bps ? 1 : 0);
}

int cx_tb_dual_init(struct cx_tb_dual *d, uint64_t peak_rate_bps,
		    uint64_t peak_burst_bytes, uint64_t avg_rate_bps,
		    uint64_t avg_burst_bytes, uint64_t now_ns)
{
	struct cx_tb peak, avg;

	if (cx_tb_init(&peak, peak_rate_bps, peak_burst_bytes, now_ns) < 0 ||
	    cx_tb_init(&avg, avg_rate_bps, avg_burst_bytes, now_ns) < 0)
		return -EINVAL;
	d->peak = peak;
	d->avg = avg;
	return 0;
}

bool cx_tb_dual_take(struct cx_tb_dual *d, uint64_t bytes, uint64_t now_ns)
{
	if (!cx_tb_try(&d->peak, bytes, now_ns) ||
	    !cx_tb_try(&d->avg, bytes, now_ns))
		return false;
	d->peak.tokens -= bytes * U;
	d->avg.tokens -= bytes * U;
	return true;
}

uint64_t cx_tb_dual_time_until(const struct cx_tb_dual *d, uint64_t bytes,
			       uint64_t now_ns)
{
	uint64_t a = cx_tb_time_until(&d->peak, bytes, now_ns);
	uint64_t b = cx_tb_time_until(&d->avg, bytes, now_ns);

	return a > b ? a : b;
}
