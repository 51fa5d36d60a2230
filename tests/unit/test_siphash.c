#include "cxtest.h"

#include <conex/siphash.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Key 00 01 .. 0f, message 00 01 .. (len - 1). The 15-byte value is the
 * worked example of the SipHash paper (Appendix A); the others are the
 * outputs listed with the paper's reference implementation, here as the
 * little-endian 64-bit integer.
 */
static const struct {
	size_t len;
	uint64_t out;
} vecs[] = {
	{ 0, 0x726fdb47dd0e0e31ULL },
	{ 1, 0x74f839c593dc67fdULL },
	{ 2, 0x0d6c8009d9a94f5aULL },
	{ 3, 0x85676696d7fb7e2dULL },
	{ 4, 0xcf2794e0277187b7ULL },
	{ 5, 0x18765564cd99a68dULL },
	{ 6, 0xcbc9466e58fee3ceULL },
	{ 7, 0xab0200f58b01d137ULL },
	{ 8, 0x93f5f5799a932462ULL },
	{ 9, 0x9e0082df0ba9e4b0ULL },
	{ 10, 0x7a5dbbc594ddb9f3ULL },
	{ 11, 0xf4b32f46226bada7ULL },
	{ 12, 0x751e8fbc860ee5fbULL },
	{ 13, 0x14ea5627c0843d90ULL },
	{ 14, 0xf723ca908e7af2eeULL },
	{ 15, 0xa129ca6149be45e5ULL },
	{ 16, 0x3f2acc7f57c29bdbULL },
	{ 63, 0x958a324ceb064572ULL },
};

static void make_key(struct cx_siphash_key *key)
{
	uint8_t k[CX_SIPHASH_KEY_BYTES];
	size_t i;

	for (i = 0; i < sizeof(k); i++)
		k[i] = (uint8_t)i;
	cx_siphash_key_init(key, k);
}

static void test_vectors(void **state)
{
	struct cx_siphash_key key;
	uint8_t msg[64];
	size_t i;

	(void)state;
	make_key(&key);
	assert_true(key.k0 == 0x0706050403020100ULL);
	assert_true(key.k1 == 0x0f0e0d0c0b0a0908ULL);
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	for (i = 0; i < ARRAY_SIZE(vecs); i++) {
		/* Exact-size heap copy: ASan catches a read past len. */
		uint8_t *p = cxt_dup(msg, vecs[i].len);

		if (cx_siphash(&key, p, vecs[i].len) != vecs[i].out)
			fail_msg("len %zu", vecs[i].len);
		free(p);
	}
}

static void test_key_and_length_matter(void **state)
{
	struct cx_siphash_key key, key2;
	uint8_t zeros[16] = { 0 };
	uint64_t h;

	(void)state;
	make_key(&key);
	key2 = key;
	key2.k1 ^= 1;
	h = cx_siphash(&key, zeros, 8);
	assert_true(cx_siphash(&key2, zeros, 8) != h);
	/* The length byte separates messages that differ only by zeros. */
	assert_true(cx_siphash(&key, zeros, 9) != h);
	assert_true(cx_siphash(&key, zeros, 7) != h);
	assert_true(cx_siphash(&key, zeros, 8) == h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_key_and_length_matter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
