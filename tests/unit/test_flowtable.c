#include "cxtest.h"

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdalign.h>

#include <conex/flowtable.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct val {
	uint64_t id;
	bool pinned;
};

struct evict_log {
	uint64_t ids[64];
	size_t n;
};

static const struct cx_siphash_key sk = { 0x0123456789abcdefULL,
					  0xfedcba9876543210ULL };

static struct cx_flow_key key_of(uint32_t i)
{
	struct cx_flow_key k;

	cx_flow_key_v4(&k, 0xc6120000 | (i & 0xffff), 0xc6130001,
		       (uint16_t)(1024 + (i >> 16)), 80, 6);
	return k;
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
	struct evict_log *log = arg;

	(void)k;
	if (log->n < ARRAY_SIZE(log->ids))
		log->ids[log->n++] = ((struct val *)value)->id;
}

static struct cx_flowtable *table(uint32_t cap, struct evict_log *log,
				  uint32_t max_scan)
{
	struct cx_flowtable_policy pol = {
		.can_evict = can_evict,
		.on_evict = on_evict,
		.arg = log,
		.max_scan = max_scan,
	};
	struct cx_flowtable *t = cx_flowtable_new(cap, sizeof(struct val), &sk);

	assert_non_null(t);
	memset(log, 0, sizeof(*log));
	cx_flowtable_set_policy(t, &pol);
	return t;
}

static struct val *put(struct cx_flowtable *t, uint32_t i, int want)
{
	struct cx_flow_key k = key_of(i);
	void *v = NULL;

	assert_int_equal(cx_flowtable_insert(t, &k, &v), want);
	if (want == 0) {
		((struct val *)v)->id = i;
		assert_false(((struct val *)v)->pinned);
	}
	return v;
}

static bool has(struct cx_flowtable *t, uint32_t i)
{
	struct cx_flow_key k = key_of(i);
	void *v;
	int ret = cx_flowtable_lookup(t, &k, &v);

	assert_true(ret == 0 || ret == -ENOENT);
	if (ret == 0)
		assert_true(((struct val *)v)->id == i);
	return ret == 0;
}

static void test_fill_and_lookup(void **state)
{
	static const uint32_t caps[] = { 1, 2, 3, 8, 100 };
	struct cx_flowtable_stats st;
	struct evict_log log;
	size_t c;
	uint32_t i;

	(void)state;
	for (c = 0; c < ARRAY_SIZE(caps); c++) {
		struct cx_flowtable *t = table(caps[c], &log, 0);

		for (i = 0; i < caps[c]; i++)
			put(t, i, 0);
		for (i = 0; i < caps[c]; i++)
			assert_true(has(t, i));
		assert_false(has(t, caps[c]));
		/* Present key: -EEXIST with the existing value. */
		assert_true(put(t, 0, -EEXIST)->id == 0);
		cx_flowtable_stats(t, &st);
		assert_int_equal(st.live, caps[c]);
		assert_int_equal(st.capacity, caps[c]);
		assert_int_equal(st.inserts, caps[c]);
		assert_int_equal(st.exists, 1);
		assert_int_equal(st.hits, caps[c]);
		assert_int_equal(st.misses, 1);
		assert_int_equal(st.evictions, 0);
		assert_int_equal(log.n, 0);
		cx_flowtable_free(t);
	}
}

static void test_clock_order(void **state)
{
	struct cx_flowtable_stats st;
	struct evict_log log;
	struct cx_flowtable *t = table(4, &log, 0);
	uint32_t i;

	(void)state;
	for (i = 0; i < 4; i++)
		put(t, i, 0);	/* pool slots 0..3, all referenced */
	/* All referenced: one sweep clears them, the first is the victim. */
	put(t, 4, 0);
	assert_int_equal(log.n, 1);
	assert_true(log.ids[0] == 0);
	/* Slot 0 now holds 4 (referenced); touch 2 so it survives. */
	assert_true(has(t, 2));
	put(t, 5, 0);
	assert_true(log.ids[1] == 1);
	put(t, 6, 0);
	assert_true(log.ids[2] == 3);
	assert_int_equal(log.n, 3);
	assert_true(has(t, 2) && has(t, 4) && has(t, 5) && has(t, 6));
	assert_false(has(t, 0) || has(t, 1) || has(t, 3));
	cx_flowtable_stats(t, &st);
	assert_int_equal(st.evictions, 3);
	assert_int_equal(st.live, 4);
	cx_flowtable_free(t);
}

static void test_pinned_never_evicted(void **state)
{
	struct cx_flowtable_stats st;
	struct evict_log log;
	struct cx_flowtable *t = table(4, &log, 0);
	struct val *v[4];
	uint32_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		v[i] = put(t, i, 0);
		v[i]->pinned = true;
	}
	for (i = 0; i < 10; i++)
		put(t, 100 + i, -ENOSPC);
	cx_flowtable_stats(t, &st);
	assert_int_equal(st.full, 10);
	assert_int_equal(st.evict_refused, 40);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(log.n, 0);
	for (i = 0; i < 4; i++)
		assert_true(has(t, i));

	/* Unpin one: only it may go, however often the table churns. */
	v[2]->pinned = false;
	for (i = 0; i < 10; i++)
		put(t, 200 + i, 0);
	assert_true(has(t, 0) && has(t, 1) && has(t, 3));
	assert_false(has(t, 2));
	assert_true(has(t, 209));
	assert_int_equal(log.n, 10);
	assert_true(log.ids[0] == 2);
	cx_flowtable_free(t);
}

static void test_scan_cap(void **state)
{
	struct cx_flowtable_stats st;
	struct evict_log log;
	struct cx_flowtable *t = table(8, &log, 2);
	uint32_t i;

	(void)state;
	for (i = 0; i < 8; i++)
		put(t, i, 0)->pinned = i < 2;
	/* The hand examines pool slots 0 and 1 only, both pinned. */
	put(t, 8, -ENOSPC);
	cx_flowtable_stats(t, &st);
	assert_int_equal(st.evict_refused, 2);
	assert_int_equal(st.full, 1);
	/* The next window (slots 2, 3) has evictable entries. */
	put(t, 8, 0);
	assert_int_equal(log.n, 1);
	assert_true(log.ids[0] == 2);
	cx_flowtable_free(t);
}

static void test_delete_reinsert(void **state)
{
	struct cx_flowtable_stats st;
	struct evict_log log;
	struct cx_flowtable *t = table(3, &log, 0);
	struct cx_flow_key k = key_of(1);
	uint32_t i;

	(void)state;
	for (i = 0; i < 3; i++)
		put(t, i, 0)->pinned = true;
	assert_int_equal(cx_flowtable_delete(t, &k), 0);
	assert_int_equal(cx_flowtable_delete(t, &k), -ENOENT);
	assert_false(has(t, 1));
	/* The freed slot is reused without eviction; the value is zeroed. */
	put(t, 7, 0)->pinned = true;
	put(t, 1, -ENOSPC);
	k = key_of(7);
	assert_int_equal(cx_flowtable_delete(t, &k), 0);
	put(t, 1, 0);
	assert_true(has(t, 0) && has(t, 1) && has(t, 2));
	cx_flowtable_stats(t, &st);
	assert_int_equal(st.deletes, 2);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.live, 3);
	cx_flowtable_free(t);
}

static void test_iterate(void **state)
{
	struct evict_log log;
	struct cx_flowtable *t = table(16, &log, 0);
	const struct cx_flow_key *k;
	uint32_t cursor = 0, i, n = 0;
	uint64_t seen = 0;
	void *v;

	(void)state;
	for (i = 0; i < 10; i++)
		put(t, i, 0);
	/* Delete while iterating: every odd id goes. */
	while (cx_flowtable_next(t, &cursor, &k, &v) == 0) {
		uint64_t id = ((struct val *)v)->id;
		struct cx_flow_key kk = key_of((uint32_t)id);

		assert_true(cx_flow_key_equal(k, &kk));
		assert_false(seen & (1ULL << id));
		seen |= 1ULL << id;
		if (id & 1)
			assert_int_equal(cx_flowtable_delete(t, &kk), 0);
	}
	assert_true(seen == 0x3ff);
	cursor = 0;
	while (cx_flowtable_next(t, &cursor, &k, &v) == 0) {
		assert_false(((struct val *)v)->id & 1);
		n++;
	}
	assert_int_equal(n, 5);
	assert_int_equal(cx_flowtable_next(t, &cursor, &k, &v), -ENOENT);
	cx_flowtable_free(t);
}

static void test_init_args(void **state)
{
	size_t need = cx_flowtable_mem_size(10, 24);
	uint8_t *mem;
	struct cx_flowtable *t;

	(void)state;
	assert_true(need > 0);
	assert_int_equal(cx_flowtable_mem_size(0, 8), 0);
	assert_int_equal(cx_flowtable_mem_size(CX_FLOWTABLE_CAPACITY_MAX + 1,
					       8), 0);
	assert_int_equal(cx_flowtable_mem_size(8, CX_FLOWTABLE_VALUE_MAX + 1),
			 0);
	assert_true(cx_flowtable_mem_size(CX_FLOWTABLE_CAPACITY_MAX,
					  CX_FLOWTABLE_VALUE_MAX) > 0);
	mem = malloc(need + alignof(max_align_t));
	assert_non_null(mem);
	assert_int_equal(cx_flowtable_init(mem, need - 1, 10, 24, &sk, &t),
			 -EINVAL);
	assert_int_equal(cx_flowtable_init(mem + 1, need, 10, 24, &sk, &t),
			 -EINVAL);
	assert_int_equal(cx_flowtable_init(mem, need, 0, 24, &sk, &t),
			 -EINVAL);
	assert_int_equal(cx_flowtable_init(mem, need, 10, 24, NULL, &t),
			 -EINVAL);
	assert_int_equal(cx_flowtable_init(mem, need, 10, 24, &sk, &t), 0);
	free(mem);
	errno = 0;
	assert_null(cx_flowtable_new(0, 8, &sk));
	assert_int_equal(errno, EINVAL);
	cx_flowtable_free(NULL);
}

/* Deterministic xorshift64* so that failures reproduce. */
static uint64_t prng(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

enum { MODEL_KEYS = 96, MODEL_CAP = 32 };

struct model {
	bool present[MODEL_KEYS];
	bool pinned[MODEL_KEYS];
	uint32_t n;
	uint64_t evictions;
	bool bad;
};

static void model_evict(const struct cx_flow_key *k, void *value, void *arg)
{
	struct model *m = arg;
	const struct val *v = value;

	(void)k;
	/* Evicting something absent or pinned is a table bug. */
	if (v->id >= MODEL_KEYS || !m->present[v->id] || m->pinned[v->id])
		m->bad = true;
	else
		m->present[v->id] = false;
	m->n--;
	m->evictions++;
}

static void model_check(struct cx_flowtable *t, const struct model *m)
{
	struct cx_flowtable_stats st;
	const struct cx_flow_key *k;
	uint32_t cursor = 0, n = 0;
	void *v;

	assert_false(m->bad);
	while (cx_flowtable_next(t, &cursor, &k, &v) == 0) {
		const struct val *vv = v;
		struct cx_flow_key kk = key_of((uint32_t)vv->id);

		assert_true(vv->id < MODEL_KEYS);
		assert_true(m->present[vv->id]);
		assert_true(vv->pinned == m->pinned[vv->id]);
		assert_true(cx_flow_key_equal(k, &kk));
		n++;
	}
	assert_int_equal(n, m->n);
	cx_flowtable_stats(t, &st);
	assert_int_equal(st.live, m->n);
	assert_true(st.evictions == m->evictions);
}

static void test_random_vs_model(void **state)
{
	static struct model m;
	struct cx_flowtable_policy pol = {
		.can_evict = can_evict,
		.on_evict = model_evict,
		.arg = &m,
		/* One full revolution: refusal iff everything is pinned. */
		.max_scan = MODEL_CAP,
	};
	size_t need = cx_flowtable_mem_size(MODEL_CAP, sizeof(struct val));
	void *mem = malloc(need);
	uint64_t seed = 42;
	struct cx_flowtable *t;
	uint32_t step, npinned = 0;
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
	struct mallinfo2 before, after;
#endif

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_non_null(mem);
	assert_int_equal(cx_flowtable_init(mem, need, MODEL_CAP,
					   sizeof(struct val), &sk, &t), 0);
	cx_flowtable_set_policy(t, &pol);
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
	before = mallinfo2();
#endif
	for (step = 0; step < 200000; step++) {
		uint64_t r = prng(&seed);
		uint32_t id = (uint32_t)(r % MODEL_KEYS);
		struct cx_flow_key k = key_of(id);
		void *v = NULL;
		int ret;

		switch ((r >> 32) % 8) {
		case 0:
		case 1:
		case 2:
			ret = cx_flowtable_insert(t, &k, &v);
			if (m.present[id]) {
				assert_int_equal(ret, -EEXIST);
				assert_true(((struct val *)v)->id == id);
			} else if (ret == -ENOSPC) {
				assert_int_equal(m.n, MODEL_CAP);
				assert_int_equal(npinned, MODEL_CAP);
			} else {
				assert_int_equal(ret, 0);
				((struct val *)v)->id = id;
				m.present[id] = true;
				m.n++;
			}
			break;
		case 3:
		case 4:
			ret = cx_flowtable_lookup(t, &k, &v);
			assert_int_equal(ret, m.present[id] ? 0 : -ENOENT);
			break;
		case 5:
			ret = cx_flowtable_delete(t, &k);
			assert_int_equal(ret, m.present[id] ? 0 : -ENOENT);
			if (m.present[id]) {
				npinned -= m.pinned[id];
				m.pinned[id] = false;
				m.present[id] = false;
				m.n--;
			}
			break;
		default:
			/* Toggle the pin, keeping some unpinned most of the time. */
			if (cx_flowtable_lookup(t, &k, &v) == 0 &&
			    (m.pinned[id] || (r >> 40) % 4 == 0)) {
				m.pinned[id] = !m.pinned[id];
				((struct val *)v)->pinned = m.pinned[id];
				npinned += m.pinned[id] ? 1 : (uint32_t)-1;
			}
			break;
		}
		if (step % 64 == 0)
			model_check(t, &m);
	}
	model_check(t, &m);
	assert_true(m.evictions > 1000);
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
	after = mallinfo2();
	/* No allocation after init: the heap did not grow or change. */
	assert_true(after.uordblks == before.uordblks);
#endif
	free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fill_and_lookup),
		cmocka_unit_test(test_clock_order),
		cmocka_unit_test(test_pinned_never_evicted),
		cmocka_unit_test(test_scan_cap),
		cmocka_unit_test(test_delete_reinsert),
		cmocka_unit_test(test_iterate),
		cmocka_unit_test(test_init_args),
		cmocka_unit_test(test_random_vs_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
