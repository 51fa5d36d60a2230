/*
 * Fixed-capacity flow table: cx_flow_key -> fixed-size value.
 *
 * All memory is taken at start-up, in one block (cx_flowtable_new, or
 * cx_flowtable_init on caller memory); nothing is allocated afterwards, so
 * a full table is a counted event, never an allocation failure.
 *
 * Structure: a power-of-two array of bucket heads (at least capacity
 * buckets, so load <= 1) chaining entries from a pool of exactly
 * capacity entries. Buckets are chosen by SipHash-2-4 under the caller's
 * secret key, so a sender cannot craft headers that collide. Lookup,
 * insert and delete are O(1) expected; a chain walk is also hard-capped at
 * capacity steps.
 *
 * Eviction: when the pool is empty an insert runs a CLOCK hand over the
 * pool, examining at most max_scan entries. An entry the policy refuses
 * (can_evict returns false, e.g. a flow under sanction or in debt) is
 * skipped and never evicted. Among the others, the first whose reference
 * bit is clear is evicted (the bit is set by lookup and insert and cleared
 * as the hand passes); if every examined evictable entry was referenced,
 * the first of them is evicted. Only when none of the examined entries may
 * be evicted is the insert refused (-ENOSPC). Victims are picked by the
 * hand's position, not by hash or age a sender controls, so flooding new
 * flows can push out other unpinned flows but can never free a pinned one:
 * a cheat cannot shed its own sanction state by making the table churn.
 *
 * Invariants: live + free == capacity; every live entry is on exactly one
 * chain, the one of its hash; every free entry is on the free list; no two
 * live entries have equal keys.
 *
 * Value pointers returned by lookup/insert/next stay valid until that entry
 * is deleted or evicted. Values are aligned for any type (max_align_t).
 */
#ifndef CONEX_FLOWTABLE_H
#define CONEX_FLOWTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <conex/flow.h>
#include <conex/siphash.h>

enum {
	CX_FLOWTABLE_CAPACITY_MAX = 1U << 24,
	CX_FLOWTABLE_VALUE_MAX = 1U << 16,	/* bytes per value */
	CX_FLOWTABLE_SCAN_DEFAULT = 64,		/* entries per eviction */
};

struct cx_flowtable;

/*
 * Eviction policy. can_evict and on_evict are called from inside
 * cx_flowtable_insert and must not call back into the table. Either may be
 * NULL: then every entry is evictable / nobody is told.
 */
struct cx_flowtable_policy {
	bool (*can_evict)(const struct cx_flow_key *key, const void *value,
			  void *arg);
	/* Told just before the entry's memory is reused. */
	void (*on_evict)(const struct cx_flow_key *key, void *value,
			 void *arg);
	void *arg;
	uint32_t max_scan;	/* 0: CX_FLOWTABLE_SCAN_DEFAULT */
};

struct cx_flowtable_stats {
	uint64_t inserts;	/* new entries created */
	uint64_t exists;	/* insert found the key already present */
	uint64_t deletes;
	uint64_t hits;		/* lookup found the key */
	uint64_t misses;
	uint64_t evictions;
	uint64_t evict_refused;	/* examined entry the policy kept */
	uint64_t full;		/* insert refused: nothing evictable */
	uint32_t live;
	uint32_t capacity;
};

/*
 * Bytes of memory cx_flowtable_init needs, or 0 if capacity is not in
 * 1..CX_FLOWTABLE_CAPACITY_MAX or value_size not in
 * 0..CX_FLOWTABLE_VALUE_MAX.
 */
size_t cx_flowtable_mem_size(uint32_t capacity, size_t value_size);

/*
 * Builds a table in caller memory (mem aligned for max_align_t, at least
 * cx_flowtable_mem_size bytes; the caller frees it afterwards; there is
 * nothing to finalise). Returns 0, or -EINVAL.
 */
int cx_flowtable_init(void *mem, size_t mem_len, uint32_t capacity,
		      size_t value_size, const struct cx_siphash_key *key,
		      struct cx_flowtable **out);

/* The same on one heap block; NULL with errno EINVAL or ENOMEM. */
struct cx_flowtable *cx_flowtable_new(uint32_t capacity, size_t value_size,
				      const struct cx_siphash_key *key);
void cx_flowtable_free(struct cx_flowtable *t);

void cx_flowtable_set_policy(struct cx_flowtable *t,
			     const struct cx_flowtable_policy *policy);

/* 0 and *value set, or -ENOENT. Marks the entry referenced. */
int cx_flowtable_lookup(struct cx_flowtable *t, const struct cx_flow_key *k,
			void **value);

/*
 * 0: a new entry with a zeroed value; -EEXIST: the key was present, *value
 * is the existing value (not cleared); -ENOSPC: table full and none of the
 * examined entries may be evicted (*value untouched).
 */
int cx_flowtable_insert(struct cx_flowtable *t, const struct cx_flow_key *k,
			void **value);

/* 0 or -ENOENT. */
int cx_flowtable_delete(struct cx_flowtable *t, const struct cx_flow_key *k);

/*
 * Iteration over live entries in pool order: start with *cursor = 0; each
 * call returns 0 with *key and *value set, or -ENOENT at the end. Deleting
 * the entry just returned is allowed; inserting during iteration may or
 * may not visit the new entry.
 */
int cx_flowtable_next(struct cx_flowtable *t, uint32_t *cursor,
		      const struct cx_flow_key **key, void **value);

void cx_flowtable_stats(const struct cx_flowtable *t,
			struct cx_flowtable_stats *out);

#endif
