/*
 * Random operation sequences on a small flow table, checked against a
 * reference model. Input: byte 0 = capacity - 1 (mod 16), byte 1 = max_scan
 * (mod 20, 0 = default), then two bytes per operation (op, key id).
 * Invariants, trapped on violation:
 * - lookup/insert/delete results agree with the model (-EEXIST iff present);
 * - a refused insert happens only when the table is full, and, when the
 *   scan covers the whole pool, only when every entry is pinned;
 * - an evicted entry was present and not pinned;
 * - iteration visits exactly the model's entries, each once, with their
 *   values intact; the live counter matches.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <conex/flowtable.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { NKEYS = 48 };

struct val {
	uint32_t id;
	uint32_t canary;
	bool pinned;
};

struct model {
	bool present[NKEYS];
	bool pinned[NKEYS];
	uint32_t n, npinned;
	uint64_t evictions;
};

static struct cx_flow_key key_of(uint32_t id)
{
	struct cx_flow_key k;
	uint8_t a[16] = { 0x20, 0x01, 0x00, 0x02 }, b[16] = { 0x20, 0x01 };

	/* Mix both families so both layouts hash and compare. */
	if (id & 1) {
		a[15] = (uint8_t)id;
		b[2] = 0x00;
		b[3] = 0x02;
		b[15] = 0xff;
		cx_flow_key_v6(&k, a, b, (uint16_t)id, 443, 17);
	} else {
		cx_flow_key_v4(&k, 0xc6120000 | id, 0xc6120001, 5000, 80, 6);
	}
	return k;
}

static uint32_t canary_of(uint32_t id)
{
	return id * 2654435761U ^ 0x5a5a5a5aU;
}

static bool can_evict(const struct cx_flow_key *k, const void *value,
		      void *arg)
{
	(void)k;
	(void)arg;
	return !((const struct val *)value)->pinned;
}

static void on_evict(const struct cx_flow_key *k, void *value, void *arg)
{
	struct model *m = arg;
	const struct val *v = value;
	struct cx_flow_key kk;

	if (v->id >= NKEYS || !m->present[v->id] || m->pinned[v->id] ||
	    v->pinned || v->canary != canary_of(v->id))
		__builtin_trap();
	kk = key_of(v->id);
	if (!cx_flow_key_equal(&kk, k))
		__builtin_trap();
	m->present[v->id] = false;
	m->n--;
	m->evictions++;
}

static void check(struct cx_flowtable *t, const struct model *m)
{
	struct cx_flowtable_stats st;
	const struct cx_flow_key *k;
	bool seen[NKEYS] = { false };
	uint32_t cursor = 0, n = 0;
	void *vp;

	while (cx_flowtable_next(t, &cursor, &k, &vp) == 0) {
		const struct val *v = vp;
		struct cx_flow_key kk;

		if (v->id >= NKEYS || !m->present[v->id] || seen[v->id] ||
		    v->pinned != m->pinned[v->id] ||
		    v->canary != canary_of(v->id))
			__builtin_trap();
		kk = key_of(v->id);
		if (!cx_flow_key_equal(&kk, k))
			__builtin_trap();
		seen[v->id] = true;
		n++;
	}
	cx_flowtable_stats(t, &st);
	if (n != m->n || st.live != m->n || st.evictions != m->evictions)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cx_siphash_key sk = { 11, 22 };
	struct model m;
	struct cx_flowtable_policy pol = {
		.can_evict = can_evict,
		.on_evict = on_evict,
		.arg = &m,
	};
	struct cx_flowtable *t;
	uint32_t cap, scan;
	size_t i;

	if (size < 2)
		return 0;
	memset(&m, 0, sizeof(m));
	cap = 1 + data[0] % 16;
	pol.max_scan = data[1] % 20;
	scan = pol.max_scan ? pol.max_scan : CX_FLOWTABLE_SCAN_DEFAULT;
	t = cx_flowtable_new(cap, sizeof(struct val), &sk);
	if (!t)
		__builtin_trap();
	cx_flowtable_set_policy(t, &pol);

	for (i = 2; i + 1 < size; i += 2) {
		uint32_t id = data[i + 1] % NKEYS;
		struct cx_flow_key k = key_of(id);
		struct val *v;
		void *vp = NULL;
		int ret;

		switch (data[i] % 5) {
		case 0:
			ret = cx_flowtable_insert(t, &k, &vp);
			v = vp;
			if (m.present[id]) {
				if (ret != -EEXIST || v->id != id)
					__builtin_trap();
			} else if (ret == -ENOSPC) {
				if (m.n != cap ||
				    (scan >= cap && m.npinned != cap))
					__builtin_trap();
			} else {
				if (ret != 0 || v->id || v->canary || v->pinned)
					__builtin_trap();
				v->id = id;
				v->canary = canary_of(id);
				m.present[id] = true;
				m.n++;
			}
			break;
		case 1:
			ret = cx_flowtable_lookup(t, &k, &vp);
			if (ret != (m.present[id] ? 0 : -ENOENT))
				__builtin_trap();
			break;
		case 2:
			ret = cx_flowtable_delete(t, &k);
			if (ret != (m.present[id] ? 0 : -ENOENT))
				__builtin_trap();
			if (m.present[id]) {
				m.npinned -= m.pinned[id];
				m.present[id] = m.pinned[id] = false;
				m.n--;
			}
			break;
		case 3:
			if (cx_flowtable_lookup(t, &k, &vp) == 0) {
				v = vp;
				v->pinned = !v->pinned;
				m.pinned[id] = v->pinned;
				m.npinned += v->pinned ? 1 : (uint32_t)-1;
			}
			break;
		default:
			check(t, &m);
			break;
		}
		if (m.n > cap)
			__builtin_trap();
	}
	check(t, &m);
	cx_flowtable_free(t);
	return 0;
}
