/*
 * The once-only charge (conex/charge.h) against an oracle. Input: 8 bytes
 * per packet: time step (3 bytes, scaled by a shift in the 4th), re-echo
 * (2 bytes), credit (2 bytes). Each packet's charge is summed; the oracle
 * replays the same packets, assigns them to windows the way the rule
 * defines them (a window starts at a packet and holds the packets less
 * than window_ns after it; a clock step back starts a new one) and
 * computes the sum over windows of max(credit, re-echo) at once.
 * Trapped on: a different total, a charge above the packet's own
 * declarations, or a total below either kind's sum.
 */
#include <stdint.h>
#include <string.h>

#include <conex/charge.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { REC = 8, MAXPKTS = 4096 };

struct pkt {
	uint64_t t, re, c;
};

static uint64_t oracle(const struct pkt *p, size_t n, uint64_t t0)
{
	uint64_t start = t0, re = 0, c = 0, sum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i].t < start || p[i].t - start >= CX_CHARGE_WINDOW_NS) {
			sum += re > c ? re : c;
			start = p[i].t;
			re = c = 0;
		}
		re += p[i].re;
		c += p[i].c;
	}
	return sum + (re > c ? re : c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pkt p[MAXPKTS];
	uint64_t t0 = 1ULL << 40, t = t0, total = 0, all_re = 0, all_c = 0;
	struct cx_charge w;
	size_t n = 0, off;

	cx_charge_init(&w, t0);
	for (off = 0; off + REC <= size && n < MAXPKTS; off += REC, n++) {
		const uint8_t *r = data + off;
		uint64_t step = (uint64_t)r[0] | (uint64_t)r[1] << 8 |
				(uint64_t)r[2] << 16;
		uint64_t got;

		/* Bit 7 of the scale: the clock steps back instead. */
		step <<= (r[3] & 0x1f);
		if (r[3] & 0x80)
			t = step > t - t0 ? t0 : t - step;
		else
			t += step;
		p[n].t = t;
		p[n].re = (uint64_t)r[4] | (uint64_t)r[5] << 8;
		p[n].c = (uint64_t)r[6] | (uint64_t)r[7] << 8;
		got = cx_charge_add(&w, p[n].re, p[n].c, CX_CHARGE_WINDOW_NS, t);
		if (got > p[n].re + p[n].c)
			__builtin_trap();
		total += got;
		all_re += p[n].re;
		all_c += p[n].c;
	}
	if (n == 0)
		return 0;
	if (total != oracle(p, n, t0))
		__builtin_trap();
	/* Sum over windows of the max: between the larger kind and both. */
	if (total < all_re || total < all_c || total > all_re + all_c)
		__builtin_trap();
	return 0;
}
