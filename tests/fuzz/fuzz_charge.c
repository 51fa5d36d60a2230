/*
 * The once-only charge (conex/charge.h) against an oracle. Input: 8 bytes
 * per packet: time step (3 bytes, scaled by a shift in the low 5 bits of
 * the 4th; bit 7 steps back; bits 5-6 the forgiven share of the re-echo,
 * 0, 1/3, 2/3 or all), re-echo (2 bytes), credit (2 bytes). Each packet's
 * charge is summed; the oracle replays the same packets, assigns them to
 * windows the way the rule defines them (a window starts at a packet and
 * holds the packets less than window_ns after it; a clock step back
 * starts a new one) and charges each window the highest its
 * max(credit, re-echo) less forgiven reached. Trapped on: a different
 * total, a charge above the packet's own declarations, or, with nothing
 * forgiven, a total below either kind's sum.
 */
#include <stdint.h>
#include <string.h>

#include <conex/charge.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { REC = 8, MAXPKTS = 4096 };

struct pkt {
	uint64_t t, re, c, f;
};

static uint64_t oracle(const struct pkt *p, size_t n, uint64_t t0)
{
	uint64_t start = t0, re = 0, c = 0, f = 0, high = 0, sum = 0, m;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i].t < start || p[i].t - start >= CX_CHARGE_WINDOW_NS) {
			sum += high;
			start = p[i].t;
			re = c = f = high = 0;
		}
		re += p[i].re;
		c += p[i].c;
		f += p[i].f;
		m = re > c ? re : c;
		m = m > f ? m - f : 0;
		if (m > high)
			high = m;
	}
	return sum + high;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pkt p[MAXPKTS];
	uint64_t t0 = 1ULL << 40, t = t0, total = 0, all_re = 0, all_c = 0;
	uint64_t all_f = 0;
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
		p[n].f = p[n].re * ((r[3] >> 5) & 3) / 3;
		got = cx_charge_add(&w, p[n].re, p[n].c, p[n].f, CX_CHARGE_WINDOW_NS, t);
		if (got > p[n].re + p[n].c)
			__builtin_trap();
		total += got;
		all_re += p[n].re;
		all_c += p[n].c;
		all_f += p[n].f;
	}
	if (n == 0)
		return 0;
	if (total != oracle(p, n, t0))
		__builtin_trap();
	/* Sum over windows of the max: between the larger kind and both. */
	if (total > all_re + all_c ||
	    (all_f == 0 && (total < all_re || total < all_c)))
		__builtin_trap();
	return 0;
}
