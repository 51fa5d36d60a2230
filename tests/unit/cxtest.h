/*
 * Shared helpers for the cmocka unit tests (one program per library module).
 *
 * Every valid vector is also tried at every shorter length: cxt_dup() copies
 * a prefix into a heap buffer of exactly that size, so an over-read is caught
 * by ASan in the SAN=1 build rather than landing in the rest of the vector.
 */
#ifndef CXTEST_H
#define CXTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define CX_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* An int result checked against a vector, naming the vector on failure. */
#define expect_ret(name, got, want) do {					\
	int got_ = (got), want_ = (want);					\
	if (got_ != want_)							\
		fail_msg("%s: %s = %d, want %d", (name), #got, got_, want_);	\
} while (0)

static inline uint8_t *cxt_dup(const void *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	assert_non_null(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

#endif
