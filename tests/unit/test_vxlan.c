#include "cxtest.h"

#include <errno.h>

#include <conex/vxlan.h>

#define ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	uint8_t b[CX_VXLAN_HLEN];
	int ret;
	struct cx_vxlan want;
} vecs[] = {
	{ { 0x08, 0, 0, 0, 0x00, 0x10, 0x20, 0x00 }, CX_VXLAN_HLEN,
	  { 0x001020, 0x08, 0, 0 } },
	{ { 0x08, 0, 0, 0, 0x00, 0x00, 0x00, 0x00 }, CX_VXLAN_HLEN,
	  { 0, 0x08, 0, 0 } },
	{ { 0x08, 0, 0, 0, 0xff, 0xff, 0xff, 0x00 }, CX_VXLAN_HLEN,
	  { 0xffffff, 0x08, 0, 0 } },
	/* Reserved bits are ignored on receipt (RFC 7348 §5). */
	{ { 0xff, 0xab, 0xcd, 0xef, 0x12, 0x34, 0x56, 0x78 }, CX_VXLAN_HLEN,
	  { 0x123456, 0xff, 0xabcdef, 0x78 } },
	/* I flag clear. */
	{ { 0x00, 0, 0, 0, 0x00, 0x10, 0x20, 0x00 }, -EBADMSG, { 0 } },
	{ { 0xf7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, -EBADMSG,
	  { 0 } },
};

static void test_decode(void **state)
{
	struct cx_vxlan v;
	uint8_t *q;
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_N(vecs); i++) {
		for (n = 0; n <= CX_VXLAN_HLEN; n++) {
			q = cxt_dup(vecs[i].b, n);
			memset(&v, 0, sizeof(v));
			assert_int_equal(cx_vxlan_decode(q, n, &v),
					 n < CX_VXLAN_HLEN ? -ENODATA :
							     vecs[i].ret);
			if (n == CX_VXLAN_HLEN && vecs[i].ret >= 0) {
				assert_int_equal(v.vni, vecs[i].want.vni);
				assert_int_equal(v.flags, vecs[i].want.flags);
				assert_int_equal(v.rsvd1, vecs[i].want.rsvd1);
				assert_int_equal(v.rsvd2, vecs[i].want.rsvd2);
			}
			free(q);
		}
	}
}

static void test_encode_roundtrip(void **state)
{
	static const uint32_t vnis[] = { 0, 1, 0x001020, 0x800000, 0xffffff };
	struct cx_vxlan in = { 0 }, out;
	uint8_t b[CX_VXLAN_HLEN + 4], *q;
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_N(vnis); i++) {
		in.vni = vnis[i];
		/* Sent as zero whatever the struct holds (RFC 7348 §5). */
		in.flags = 0xff;
		in.rsvd1 = 0xffffff;
		in.rsvd2 = 0xff;
		memset(b, 0xee, sizeof(b));
		assert_int_equal(cx_vxlan_encode(b, sizeof(b), &in),
				 CX_VXLAN_HLEN);
		assert_int_equal(b[0], CX_VXLAN_F_I);
		assert_int_equal(b[1] | b[2] | b[3] | b[7], 0);
		assert_int_equal(b[CX_VXLAN_HLEN], 0xee);
		assert_int_equal(cx_vxlan_decode(b, CX_VXLAN_HLEN, &out),
				 CX_VXLAN_HLEN);
		assert_int_equal(out.vni, vnis[i]);
		assert_int_equal(out.flags, CX_VXLAN_F_I);
		assert_int_equal(out.rsvd1, 0);
		assert_int_equal(out.rsvd2, 0);
		for (n = 0; n < CX_VXLAN_HLEN; n++) {
			q = cxt_dup(b, n);
			assert_int_equal(cx_vxlan_encode(q, n, &in), -ENOSPC);
			free(q);
		}
	}
	in.vni = 0x1000000;
	assert_int_equal(cx_vxlan_encode(b, sizeof(b), &in), -EINVAL);
	in.vni = 0xffffffffU;
	assert_int_equal(cx_vxlan_encode(b, sizeof(b), &in), -EINVAL);
	assert_int_equal(CX_VXLAN_PORT, 4789);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_encode_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
