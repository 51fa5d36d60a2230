#include "cxtest.h"

#include <conex/byteorder.h>

static void test_get_put_roundtrip(void **state)
{
	uint8_t b[8];

	(void)state;
	cx_put_be16(b, 0xc001);
	assert_int_equal(b[0], 0xc0);
	assert_int_equal(b[1], 0x01);
	assert_int_equal(cx_get_be16(b), 0xc001);

	cx_put_be32(b, 0x8040201fU);
	assert_memory_equal(b, "\x80\x40\x20\x1f", 4);
	assert_int_equal(cx_get_be32(b), 0x8040201fU);

	cx_put_be64(b, 0x0102030405060708ULL);
	assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_true(cx_get_be64(b) == 0x0102030405060708ULL);

	cx_put_le32(b, 0x11223344U);
	assert_memory_equal(b, "\x44\x33\x22\x11", 4);
	assert_int_equal(cx_get_le32(b), 0x11223344U);
}

static void test_unaligned(void **state)
{
	uint8_t b[9] = { 0, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0 };

	(void)state;
	assert_int_equal(cx_get_be32(b + 1), 0xdeadbeefU);
	assert_int_equal(cx_get_be16(b + 3), 0xbeef);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_put_roundtrip),
		cmocka_unit_test(test_unaligned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
