/*
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * INDOCRYPT 2012): a keyed 64-bit hash. With a secret key, an attacker who
 * chooses packet headers cannot predict which flows share a hash bucket, so
 * cannot craft collisions to lengthen chains or to steer evictions.
 *
 * The key is supplied by the caller (a daemon reads it from getrandom() at
 * start-up); the library does no I/O.
 */
#ifndef CONEX_SIPHASH_H
#define CONEX_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

enum { CX_SIPHASH_KEY_BYTES = 16 };

/* k0 and k1 are the two key halves read little-endian, as in the paper. */
struct cx_siphash_key {
	uint64_t k0;
	uint64_t k1;
};

void cx_siphash_key_init(struct cx_siphash_key *key,
			 const uint8_t bytes[CX_SIPHASH_KEY_BYTES]);

uint64_t cx_siphash(const struct cx_siphash_key *key, const void *data,
		    size_t len);

#endif
