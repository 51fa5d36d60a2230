#include "cxtest.h"

#include <errno.h>

#include <conex/flow.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const uint8_t v6a[16] = { 0x20, 0x01, 0x00, 0x02, 0, 0, 0, 0,
				 0, 0, 0, 0, 0, 0, 0, 0x01 };
static const uint8_t v6b[16] = { 0x20, 0x01, 0x00, 0x02, 0, 0, 0, 0,
				 0, 0, 0, 0, 0, 0, 0, 0x02 };

static void test_v4_layout(void **state)
{
	static const uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff, 198, 18, 0, 1 };
	struct cx_flow_key k;

	(void)state;
	/* Junk first: the constructor must clear padding itself. */
	memset(&k, 0xa5, sizeof(k));
	cx_flow_key_v4(&k, 0xc6120001, 0xc6120002, 5001, 80, 6);
	assert_memory_equal(k.saddr, mapped, 16);
	assert_int_equal(k.daddr[15], 2);
	assert_int_equal(k.sport, 5001);
	assert_int_equal(k.dport, 80);
	assert_int_equal(k.proto, 6);
	assert_int_equal(k.family, CX_FLOW_IPV4);
	assert_int_equal(k.pad[0], 0);
	assert_int_equal(k.pad[1], 0);
}

static void test_equal_and_hash(void **state)
{
	struct cx_siphash_key sk = { 1, 2 }, sk2 = { 3, 4 };
	struct cx_flow_key a, b, r, rr;

	(void)state;
	memset(&b, 0x5a, sizeof(b));
	cx_flow_key_v4(&a, 0xc6120001, 0xc6120002, 5001, 80, 6);
	cx_flow_key_v4(&b, 0xc6120001, 0xc6120002, 5001, 80, 6);
	assert_true(cx_flow_key_equal(&a, &b));
	assert_true(cx_flow_key_hash(&a, &sk) == cx_flow_key_hash(&b, &sk));
	assert_true(cx_flow_key_hash(&a, &sk) != cx_flow_key_hash(&a, &sk2));

	/* Each field takes part in equality. */
	cx_flow_key_v4(&b, 0xc6120001, 0xc6120002, 5001, 81, 6);
	assert_false(cx_flow_key_equal(&a, &b));
	cx_flow_key_v4(&b, 0xc6120001, 0xc6120002, 5001, 80, 17);
	assert_false(cx_flow_key_equal(&a, &b));
	cx_flow_key_v4(&b, 0xc6120003, 0xc6120002, 5001, 80, 6);
	assert_false(cx_flow_key_equal(&a, &b));

	/* An IPv4 key never equals the IPv6 key of the mapped address. */
	cx_flow_key_v6(&b, a.saddr, a.daddr, 5001, 80, 6);
	assert_false(cx_flow_key_equal(&a, &b));

	cx_flow_key_reverse(&r, &a);
	assert_int_equal(r.sport, 80);
	assert_int_equal(r.dport, 5001);
	assert_memory_equal(r.saddr, a.daddr, 16);
	assert_false(cx_flow_key_equal(&a, &r));
	cx_flow_key_reverse(&rr, &r);
	assert_true(cx_flow_key_equal(&a, &rr));
	/* In-place reverse. */
	rr = a;
	cx_flow_key_reverse(&rr, &rr);
	assert_true(cx_flow_key_equal(&r, &rr));
}

struct fmt_vec {
	int family;
	uint8_t proto;
	const char *s;
};

static void test_format(void **state)
{
	static const struct fmt_vec vecs[] = {
		{ CX_FLOW_IPV4, 6, "tcp 198.18.0.1:5001 > 198.18.0.2:80" },
		{ CX_FLOW_IPV4, 17, "udp 198.18.0.1:5001 > 198.18.0.2:80" },
		{ CX_FLOW_IPV4, 132, "proto 132 198.18.0.1:5001 > 198.18.0.2:80" },
		{ CX_FLOW_IPV6, 6, "tcp [2001:2::1]:5001 > [2001:2::2]:80" },
		{ CX_FLOW_IPV6, 58, "icmpv6 [2001:2::1]:5001 > [2001:2::2]:80" },
	};
	struct cx_flow_key k;
	char big[CX_FLOW_KEY_FORMAT_MAX];
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(vecs); i++) {
		if (vecs[i].family == CX_FLOW_IPV4)
			cx_flow_key_v4(&k, 0xc6120001, 0xc6120002, 5001, 80,
				       vecs[i].proto);
		else
			cx_flow_key_v6(&k, v6a, v6b, 5001, 80, vecs[i].proto);
		assert_int_equal(cx_flow_key_format(&k, big, sizeof(big)),
				 (int)strlen(vecs[i].s));
		assert_string_equal(big, vecs[i].s);
		/* Every smaller buffer, exactly sized on the heap. */
		for (n = 0; n <= strlen(vecs[i].s); n++) {
			char *buf = malloc(n ? n : 1);

			assert_non_null(buf);
			assert_int_equal(cx_flow_key_format(&k, n ? buf : NULL, n),
					 -ENOSPC);
			if (n)
				assert_int_equal(buf[0], '\0');
			free(buf);
		}
	}
	k.family = 5;
	assert_int_equal(cx_flow_key_format(&k, big, sizeof(big)), -EINVAL);
}

static void test_format_max(void **state)
{
	uint8_t all[16];
	struct cx_flow_key k;
	char buf[CX_FLOW_KEY_FORMAT_MAX];

	(void)state;
	memset(all, 0xff, sizeof(all));
	all[0] = 0xfe;
	cx_flow_key_v6(&k, all, all, 65535, 65535, 255);
	assert_true(cx_flow_key_format(&k, buf, sizeof(buf)) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_layout),
		cmocka_unit_test(test_equal_and_hash),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
