/*
 * Fixed-capacity flow table: bucket heads chaining entries of a
 * preallocated pool, CLOCK eviction with a hard scan cap and a policy hook
 * (see flowtable.h for the invariants).
 *
 * Memory layout of the one block, each part aligned for max_align_t:
 *
 *   +--------------------+----------------------+--------------------------+
 *   | struct cx_flowtable | uint32_t buckets[nb] | entry[0] .. entry[cap-1] |
 *   +--------------------+----------------------+--------------------------+
 *   entry = struct entry_hdr, padding, value_size bytes, padding (stride)
 */
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include <conex/flowtable.h>

#define NIL UINT32_MAX
#define ALIGN (alignof(max_align_t))

struct entry_hdr {
	struct cx_flow_key key;
	uint32_t next;		/* next on its chain, or on the free list */
	uint32_t hash;		/* low 32 bits of the key's hash */
	uint8_t live;
	uint8_t ref;		/* CLOCK reference bit */
};

struct cx_flowtable {
	struct cx_siphash_key key;
	struct cx_flowtable_policy policy;
	struct cx_flowtable_stats stats;
	uint32_t capacity;
	uint32_t bucket_mask;
	uint32_t free_head;
	uint32_t hand;		/* CLOCK hand: next pool index to examine */
	size_t stride;
	size_t value_off;
	uint32_t *buckets;
	uint8_t *entries;
	bool heap;
};

static size_t align_up(size_t n)
{
	return (n + ALIGN - 1) & ~(ALIGN - 1);
}

static uint32_t bucket_count(uint32_t capacity)
{
	uint32_t n = 1;

	while (n < capacity)
		n <<= 1;
	return n;
}

static size_t stride_of(size_t value_size)
{
	return align_up(sizeof(struct entry_hdr)) + align_up(value_size);
}

size_t cx_flowtable_mem_size(uint32_t capacity, size_t value_size)
{
	if (capacity < 1 || capacity > CX_FLOWTABLE_CAPACITY_MAX ||
	    value_size > CX_FLOWTABLE_VALUE_MAX)
		return 0;
	/* At most 2^24 * (2^16 + 128) + 2^26 + 256: fits a 64-bit size_t;
	 * a 32-bit one is checked. */
	if (capacity > (SIZE_MAX / 2) / stride_of(value_size))
		return 0;
	return align_up(sizeof(struct cx_flowtable)) +
	       align_up((size_t)bucket_count(capacity) * sizeof(uint32_t)) +
	       (size_t)capacity * stride_of(value_size);
}

static struct entry_hdr *entry(const struct cx_flowtable *t, uint32_t idx)
{
	return (struct entry_hdr *)(void *)(t->entries + (size_t)idx * t->stride);
}

static void *entry_value(const struct cx_flowtable *t, uint32_t idx)
{
	return t->entries + (size_t)idx * t->stride + t->value_off;
}

int cx_flowtable_init(void *mem, size_t mem_len, uint32_t capacity,
		      size_t value_size, const struct cx_siphash_key *key,
		      struct cx_flowtable **out)
{
	size_t need = cx_flowtable_mem_size(capacity, value_size);
	uint8_t *base = mem;
	struct cx_flowtable *t;
	uint32_t i, nb;

	if (!mem || !key || !out || !need || mem_len < need ||
	    (uintptr_t)mem % ALIGN)
		return -EINVAL;
	nb = bucket_count(capacity);
	t = mem;
	memset(t, 0, sizeof(*t));
	t->key = *key;
	t->capacity = capacity;
	t->bucket_mask = nb - 1;
	t->stride = stride_of(value_size);
	t->value_off = align_up(sizeof(struct entry_hdr));
	t->buckets = (uint32_t *)(void *)(base + align_up(sizeof(*t)));
	t->entries = base + align_up(sizeof(*t)) +
		     align_up((size_t)nb * sizeof(uint32_t));
	t->stats.capacity = capacity;
	t->policy.max_scan = CX_FLOWTABLE_SCAN_DEFAULT;
	for (i = 0; i < nb; i++)
		t->buckets[i] = NIL;
	memset(t->entries, 0, (size_t)capacity * t->stride);
	for (i = 0; i < capacity; i++)
		entry(t, i)->next = i + 1 < capacity ? i + 1 : NIL;
	t->free_head = 0;
	*out = t;
	return 0;
}

struct cx_flowtable *cx_flowtable_new(uint32_t capacity, size_t value_size,
				      const struct cx_siphash_key *key)
{
	size_t need = cx_flowtable_mem_size(capacity, value_size);
	struct cx_flowtable *t;
	void *mem;

	if (!need || !key) {
		errno = EINVAL;
		return NULL;
	}
	/* malloc's result is aligned for max_align_t. */
	mem = malloc(need);
	if (!mem)
		return NULL;
	if (cx_flowtable_init(mem, need, capacity, value_size, key, &t) < 0) {
		free(mem);
		errno = EINVAL;
		return NULL;
	}
	t->heap = true;
	return t;
}

void cx_flowtable_free(struct cx_flowtable *t)
{
	if (t && t->heap)
		free(t);
}

void cx_flowtable_set_policy(struct cx_flowtable *t,
			     const struct cx_flowtable_policy *policy)
{
	t->policy = *policy;
	if (!t->policy.max_scan)
		t->policy.max_scan = CX_FLOWTABLE_SCAN_DEFAULT;
}

/*
 * Index of the live entry with key k on its chain, or NIL; *prev is the
 * entry before it (NIL if it is the chain head). A chain never holds more
 * than capacity entries, which bounds the walk even if the table were
 * corrupted.
 */
static uint32_t find(const struct cx_flowtable *t, const struct cx_flow_key *k,
		     uint32_t hash, uint32_t *prev)
{
	uint32_t idx = t->buckets[hash & t->bucket_mask];
	uint32_t p = NIL, steps;

	for (steps = 0; idx != NIL && steps < t->capacity; steps++) {
		const struct entry_hdr *e = entry(t, idx);

		if (e->hash == hash && cx_flow_key_equal(&e->key, k)) {
			*prev = p;
			return idx;
		}
		p = idx;
		idx = e->next;
	}
	return NIL;
}

static void unlink_entry(struct cx_flowtable *t, uint32_t idx, uint32_t prev)
{
	struct entry_hdr *e = entry(t, idx);

	if (prev == NIL)
		t->buckets[e->hash & t->bucket_mask] = e->next;
	else
		entry(t, prev)->next = e->next;
	e->live = 0;
	e->next = t->free_head;
	t->free_head = idx;
	t->stats.live--;
}

static uint32_t hash_key(const struct cx_flowtable *t,
			 const struct cx_flow_key *k)
{
	return (uint32_t)cx_flow_key_hash(k, &t->key);
}

/*
 * CLOCK over the (full) pool, at most max_scan entries and never more than
 * one revolution. Returns the victim or NIL if every examined entry is
 * kept by the policy.
 */
static uint32_t clock_victim(struct cx_flowtable *t)
{
	uint32_t scan = t->policy.max_scan, fallback = NIL, i;

	if (scan > t->capacity)
		scan = t->capacity;
	for (i = 0; i < scan; i++) {
		uint32_t idx = t->hand;
		struct entry_hdr *e = entry(t, idx);

		t->hand = idx + 1 < t->capacity ? idx + 1 : 0;
		if (t->policy.can_evict &&
		    !t->policy.can_evict(&e->key, entry_value(t, idx),
					 t->policy.arg)) {
			t->stats.evict_refused++;
			continue;
		}
		if (!e->ref)
			return idx;
		e->ref = 0;
		if (fallback == NIL)
			fallback = idx;
	}
	return fallback;
}

static int evict_one(struct cx_flowtable *t)
{
	uint32_t victim = clock_victim(t), prev;
	struct entry_hdr *e;

	if (victim == NIL)
		return -ENOSPC;
	e = entry(t, victim);
	/* The victim is live, so find() locates it on its chain. */
	if (find(t, &e->key, e->hash, &prev) != victim)
		return -ENOSPC;
	if (t->policy.on_evict)
		t->policy.on_evict(&e->key, entry_value(t, victim),
				   t->policy.arg);
	unlink_entry(t, victim, prev);
	t->stats.evictions++;
	return 0;
}

int cx_flowtable_lookup(struct cx_flowtable *t, const struct cx_flow_key *k,
			void **value)
{
	uint32_t prev, idx = find(t, k, hash_key(t, k), &prev);

	if (idx == NIL) {
		t->stats.misses++;
		return -ENOENT;
	}
	t->stats.hits++;
	entry(t, idx)->ref = 1;
	*value = entry_value(t, idx);
	return 0;
}

int cx_flowtable_insert(struct cx_flowtable *t, const struct cx_flow_key *k,
			void **value)
{
	uint32_t hash = hash_key(t, k), prev, idx, b;
	struct entry_hdr *e;

	idx = find(t, k, hash, &prev);
	if (idx != NIL) {
		t->stats.exists++;
		entry(t, idx)->ref = 1;
		*value = entry_value(t, idx);
		return -EEXIST;
	}
	if (t->free_head == NIL && evict_one(t) < 0) {
		t->stats.full++;
		return -ENOSPC;
	}
	idx = t->free_head;
	e = entry(t, idx);
	t->free_head = e->next;
	b = hash & t->bucket_mask;
	e->key = *k;
	e->hash = hash;
	e->live = 1;
	e->ref = 1;
	e->next = t->buckets[b];
	t->buckets[b] = idx;
	memset(entry_value(t, idx), 0, t->stride - t->value_off);
	t->stats.live++;
	t->stats.inserts++;
	*value = entry_value(t, idx);
	return 0;
}

int cx_flowtable_delete(struct cx_flowtable *t, const struct cx_flow_key *k)
{
	uint32_t prev, idx = find(t, k, hash_key(t, k), &prev);

	if (idx == NIL)
		return -ENOENT;
	unlink_entry(t, idx, prev);
	t->stats.deletes++;
	return 0;
}

int cx_flowtable_next(struct cx_flowtable *t, uint32_t *cursor,
		      const struct cx_flow_key **key, void **value)
{
	uint32_t i;

	for (i = *cursor; i < t->capacity; i++) {
		struct entry_hdr *e = entry(t, i);

		if (e->live) {
			*cursor = i + 1;
			*key = &e->key;
			*value = entry_value(t, i);
			return 0;
		}
	}
	*cursor = t->capacity;
	return -ENOENT;
}

void cx_flowtable_stats(const struct cx_flowtable *t,
			struct cx_flowtable_stats *out)
{
	*out = t->stats;
}
