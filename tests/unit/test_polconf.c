/*
 * conex-policer's configuration file (policer/config.c): every key, the
 * defaults, and for each kind of mistake the file:line and the offending
 * value in the message, with nothing else accepted.
 */
#include "cxtest.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"

#define KEYHEX "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"

/* Load text as a file; 0 or -1 with err set. */
static int load(const char *text, struct pol_config *c, char *err, size_t len,
		char *path, size_t plen)
{
	int fd, ret;

	snprintf(path, plen, "/tmp/cx-polconf-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	pol_config_init(c);
	ret = pol_config_load(c, path, err, len);
	unlink(path);
	return ret;
}

static void test_full(void **state)
{
	static const char text[] =
		"# every key\n"
		"tenant ta 2mbit\n"
		"tenant tb 1mbit burst 64k peak 5mbit peak_burst 8k ramp 20ms\n"
		"guest g1 ta 198.18.1.11 2001:2:0:1::11\n"
		"guest g2 tb 198.18.1.0/28\n"
		"queue 3\n"
		"failure_policy fail-closed\n"
		"host_id 1\n"
		"local 198.19.1.2\n"
		"peer 2 198.19.2.2 " KEYHEX "\n"
		"remote 198.18.2.0/24 2\n"
		"remote 2001:2:0:2::/64 2\n"
		"feedback_port 5000\n"
		"vxlan_port 4800\n"
		"vni 77\n"
		"tunnel_dev tun9\n"
		"tunnel_table 300\n"
		"tunnel_mark 0x10\n"
		"redis redis://198.19.0.1:6379\n"
		"bank_share 25%\n";
	struct pol_config c;
	char err[512], path[64];
	uint8_t a[16];

	(void)state;
	assert_int_equal(load(text, &c, err, sizeof(err), path, sizeof(path)), 0);
	assert_int_equal(c.n_tenants, 2);
	assert_int_equal(c.tenants[0].police.allowance_bps, 2000000);
	assert_int_equal(c.tenants[0].police.burst_bytes, 250000);	/* 1 s */
	assert_int_equal(c.tenants[0].police.ramp_ns, POL_RAMP_DEFAULT_NS);
	assert_int_equal(c.tenants[1].police.burst_bytes, 64 * 1024);
	assert_int_equal(c.tenants[1].police.peak_bps, 5000000);
	assert_int_equal(c.tenants[1].police.peak_burst_bytes, 8 * 1024);
	assert_int_equal(c.tenants[1].police.ramp_ns, 20000000);
	assert_int_equal(c.n_guests, 2);
	assert_string_equal(c.guests[0].ifname, "g1");
	assert_int_equal(c.guests[1].tenant, 1);
	assert_int_equal(c.guests[0].n_addrs, 2);
	assert_int_equal(c.guests[1].addrs[0].len, 28);
	inet_pton(AF_INET, "198.18.1.9", a);
	assert_true(pol_prefix_match(&c.guests[1].addrs[0], AF_INET, a));
	inet_pton(AF_INET, "198.18.1.16", a);
	assert_false(pol_prefix_match(&c.guests[1].addrs[0], AF_INET, a));
	assert_false(pol_prefix_match(&c.guests[1].addrs[0], AF_INET6, a));
	assert_int_equal(c.queue, 3);
	assert_false(c.fail_open);
	assert_int_equal(c.host_id, 1);
	assert_int_equal(c.local_family, AF_INET);
	assert_int_equal(c.n_peers, 1);
	assert_int_equal(c.peers[0].key[31], 0x5a);
	assert_int_equal(c.n_remotes, 2);
	assert_int_equal(c.remotes[1].prefix.family, AF_INET6);
	assert_int_equal(c.feedback_port, 5000);
	assert_int_equal(c.vxlan_port, 4800);
	assert_int_equal(c.vni, 77);
	assert_string_equal(c.tun_dev, "tun9");
	assert_int_equal(c.table, 300);
	assert_int_equal(c.mark, 0x10);
	assert_int_equal(c.mark_mask, UINT32_MAX);
	assert_string_equal(c.redis_url, "redis://198.19.0.1:6379");
	assert_int_equal(c.bank_share_ppm, 250000);
	assert_true(pol_config_tunnel(&c));
	assert_int_equal(pol_config_tenant(&c, "tb"), 1);
	assert_int_equal(pol_config_tenant(&c, "tc"), -1);
}

static void test_defaults(void **state)
{
	struct pol_config c;
	char err[512], path[64];

	(void)state;
	assert_int_equal(load("tenant t 1mbit\nguest g1 t 198.18.1.11\n", &c, err,
			      sizeof(err), path, sizeof(path)), 0);
	assert_int_equal(c.queue, POL_QUEUE_DEFAULT);
	assert_true(c.fail_open);
	assert_int_equal(c.feedback_port, POL_FEEDBACK_PORT_DEFAULT);
	assert_int_equal(c.vni, POL_VNI_DEFAULT);
	assert_string_equal(c.tun_dev, POL_TUN_DEV_DEFAULT);
	assert_int_equal(c.mark, POL_MARK_DEFAULT);
	assert_int_equal(c.mark_mask, UINT32_MAX);
	assert_int_equal(c.bank_share_ppm, POL_BANK_SHARE_DEFAULT_PPM);
	assert_false(pol_config_tunnel(&c));
	/* The default burst (one second) is capped for large allowances. */
	assert_int_equal(load("tenant t 100gbit\nguest g1 t 198.18.1.11\n", &c, err,
			      sizeof(err), path, sizeof(path)), 0);
	assert_int_equal(c.tenants[0].police.burst_bytes, CX_POLICE_BURST_MAX_BYTES);
	assert_string_equal(c.redis_url, "");
}

/* tunnel_mark VALUE/MASK: the tunnel owns only the mask's bits. */
static void test_mark_mask(void **state)
{
	static const struct {
		const char *v;
		uint32_t mark, mask;
	} ok[] = {
		{ "0x10000/0x10000", 0x10000, 0x10000 },
		{ "0x4358", 0x4358, UINT32_MAX },
		{ "0x4300/0xff00", 0x4300, 0xff00 },
		{ "1/0xffffffff", 1, UINT32_MAX },
	};
	char text[160], err[512], path[64];
	struct pol_config c;
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(ok); i++) {
		snprintf(text, sizeof(text), "tenant t 1mbit\nguest g1 t 198.18.1.11\n"
			 "tunnel_mark %s\n", ok[i].v);
		assert_int_equal(load(text, &c, err, sizeof(err), path, sizeof(path)), 0);
		assert_int_equal(c.mark, ok[i].mark);
		assert_int_equal(c.mark_mask, ok[i].mask);
	}
}

/* Each error: the line it names and a piece of the message. */
static void test_errors(void **state)
{
	static const struct {
		const char *text;
		int line;	/* 0: a whole-file rule, no line */
		const char *msg;
	} v[] = {
#define T "tenant ta 1mbit\n"
#define G "guest g1 ta 198.18.1.11\n"
		{ "tenant ta\n", 1, "expected 'tenant NAME ALLOWANCE" },
		{ "tenant ta 1mbit burst\n", 1, "expected 'tenant NAME ALLOWANCE" },
		{ "tenant t%a 1mbit\n", 1, "bad name 't%a'" },
		{ "tenant ta slow\n", 1, "bad allowance 'slow'" },
		{ "tenant ta 1mbit colour red\n", 1, "unknown option 'colour'" },
		{ "tenant ta 1mbit burst lots\n", 1, "bad burst 'lots'" },
		{ "tenant ta 1mbit ramp 0\n", 1, "bad ramp '0'" },
		{ "tenant ta 1mbit ramp 100s\n", 1, "out of range" },
		{ "tenant ta 1mbit burst 10\n", 1, "out of range" },
		{ T "tenant ta 2mbit\n", 2, "'ta' given twice" },
		{ T "guest g1 tb 198.18.1.11\n", 2, "unknown tenant 'tb'" },
		{ T "guest g1 ta\n", 2, "expected 'guest IFNAME TENANT ADDRESS" },
		{ T "guest g1 ta 198.18.1.300\n", 2, "'198.18.1.300' is not an IPv4" },
		{ T "guest g1 ta 198.18.1.11/33\n", 2, "'198.18.1.11/33' is not" },
		{ T "guest g1 ta 198.18.1.11/24\n", 2, "host bits set" },
		{ T G "guest g1 ta 198.18.1.12\n", 3, "interface 'g1' given twice" },
		{ T G "queue 70000\n", 3, "queue: '70000' is not a number" },
		{ T G "queue\n", 3, "queue: expected one value" },
		{ T G "failure_policy maybe\n", 3, "got 'maybe'" },
		{ T G "local 198.19.1\n", 3, "local: '198.19.1' is not" },
		{ T G "vni 16777216\n", 3, "vni: '16777216'" },
		{ T G "tunnel_table 254\n", 3, "tunnel_table: '254'" },
		{ T G "tunnel_dev a/b\n", 3, "bad interface name 'a/b'" },
		{ T G "tunnel_mark 0\n", 3, "tunnel_mark: '0' is not VALUE[/MASK]" },
		{ T G "tunnel_mark 0x10/0\n", 3, "tunnel_mark: '0x10/0' is not" },
		{ T G "tunnel_mark 0x10/\n", 3, "tunnel_mark: '0x10/' is not" },
		{ T G "tunnel_mark /0xff\n", 3, "tunnel_mark: '/0xff' is not" },
		{ T G "tunnel_mark 0x10/0xff/0xff\n", 3, "is not VALUE[/MASK]" },
		{ T G "tunnel_mark 0x100000000\n", 3, "is not VALUE[/MASK]" },
		{ T G "tunnel_mark 0x1234567890123456789012/1\n", 3, "is not VALUE[/MASK]" },
		{ T G "tunnel_mark 0x110/0xf0\n", 3, "the value has bits outside the mask" },
		{ T G "bank_share 0%\n", 3, "got '0%'" },
		{ T G "bank_share 50\n", 3, "got '50'" },
		{ T G "peer 0 198.19.2.2 " KEYHEX "\n", 3, "peer: '0' is not a number" },
		{ T G "peer 2 198.19.2.2 abc\n", 3, "64 hex digits" },
		{ T G "peer 2 198.19.2.2 /nonexistent/key\n", 3, "key file /nonexistent/key" },
		{ T G "remote 198.18.2.0/24 2\n", 3, "unknown peer host id 2" },
		{ T G "host_id 1\npeer 1 198.19.2.2 " KEYHEX "\n", 0, "this host's own id" },
		{ T G "speed 10\n", 3, "unknown key 'speed'" },
		{ T G "redis\n", 3, "redis: expected one value" },
		{ T, 0, "no 'guest IFNAME TENANT ADDRESS" },
		{ T G "tenant tb 1mbit\n", 0, "tenant tb: no guest belongs to it" },
		{ T G "host_id 1\npeer 2 198.19.2.2 " KEYHEX "\nremote 198.18.2.0/24 2\n",
		  0, "no 'local'" },
		{ T G "local 198.19.1.2\n", 0, "no host_id" },
		{ T G "host_id 1\nlocal 198.19.1.2\npeer 2 2001:2::2 " KEYHEX "\n", 0,
		  "address family differs" },
#undef T
#undef G
	};
	size_t i;

	(void)state;
	for (i = 0; i < CX_ARRAY_SIZE(v); i++) {
		struct pol_config c;
		char err[512], path[64], where[96];
		int ret = load(v[i].text, &c, err, sizeof(err), path, sizeof(path));

		if (ret != -1 || !strstr(err, v[i].msg))
			print_error("case %zu: %d '%s'\n", i, ret, err);
		assert_int_equal(ret, -1);
		assert_non_null(strstr(err, v[i].msg));
		if (v[i].line)
			snprintf(where, sizeof(where), "%s:%d: ", path, v[i].line);
		else
			snprintf(where, sizeof(where), "%s: ", path);
		if (strncmp(err, where, strlen(where)) != 0)
			print_error("case %zu: '%s' does not start '%s'\n", i, err, where);
		assert_int_equal(strncmp(err, where, strlen(where)), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_mark_mask),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
