/* SPDX-License-Identifier: MIT */
/* Unit tests of common/pushutil: the SSRF address rules and the retry
 * backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "chat_err.h"
#include "pushutil.h"

static enum netaddr_class cls(const char *s)
{
	enum netaddr_class c;
	assert_int_equal(netaddr_classify_text(s, &c), 0);
	return c;
}

static void test_netaddr(void **state)
{
	(void)state;
	assert_int_equal(cls("8.8.8.8"), NETADDR_PUBLIC);
	assert_int_equal(cls("2606:4700::1111"), NETADDR_PUBLIC);
	assert_int_equal(cls("127.0.0.1"), NETADDR_LOOPBACK);
	assert_int_equal(cls("127.255.1.2"), NETADDR_LOOPBACK);
	assert_int_equal(cls("::1"), NETADDR_LOOPBACK);
	assert_int_equal(cls("0.0.0.0"), NETADDR_UNSPECIFIED);
	assert_int_equal(cls("::"), NETADDR_UNSPECIFIED);
	assert_int_equal(cls("10.0.0.1"), NETADDR_PRIVATE);
	assert_int_equal(cls("172.16.0.1"), NETADDR_PRIVATE);
	assert_int_equal(cls("172.31.255.255"), NETADDR_PRIVATE);
	assert_int_equal(cls("172.32.0.1"), NETADDR_PUBLIC);
	assert_int_equal(cls("192.168.1.1"), NETADDR_PRIVATE);
	assert_int_equal(cls("100.64.0.1"), NETADDR_CGNAT);
	assert_int_equal(cls("100.127.255.255"), NETADDR_CGNAT);
	assert_int_equal(cls("100.128.0.1"), NETADDR_PUBLIC);
	assert_int_equal(cls("169.254.169.254"), NETADDR_LINKLOCAL);
	assert_int_equal(cls("fe80::1"), NETADDR_LINKLOCAL);
	assert_int_equal(cls("224.0.0.1"), NETADDR_MULTICAST);
	assert_int_equal(cls("255.255.255.255"), NETADDR_MULTICAST);
	assert_int_equal(cls("ff02::1"), NETADDR_MULTICAST);
	assert_int_equal(cls("fd00::1"), NETADDR_ULA);
	assert_int_equal(cls("fc12::1"), NETADDR_ULA);
	assert_int_equal(cls("::ffff:127.0.0.1"), NETADDR_LOOPBACK);
	assert_int_equal(cls("::ffff:10.1.2.3"), NETADDR_PRIVATE);
	assert_int_equal(cls("::ffff:8.8.8.8"), NETADDR_PUBLIC);
	assert_int_equal(cls("64:ff9b::a00:1"), NETADDR_PRIVATE);
	assert_int_equal(cls("2002:7f00:1::"), NETADDR_LOOPBACK);
	assert_int_equal(cls("::127.0.0.1"), NETADDR_RESERVED);
	assert_int_equal(cls("2001:db8::1"), NETADDR_RESERVED);
	assert_int_equal(cls("240.0.0.1"), NETADDR_RESERVED);
	enum netaddr_class c;
	assert_int_equal(netaddr_classify_text("localhost", &c), CHAT_ERR_INVAL);
	assert_string_equal(netaddr_class_name(NETADDR_LOOPBACK), "loopback");
}

static void test_backoff(void **state)
{
	(void)state;
	/* Without jitter (rnd 0) the delay is half of the doubled base. */
	assert_int_equal(backoff_delay_ms(1, 1000, 60000, 0), 500);
	assert_int_equal(backoff_delay_ms(2, 1000, 60000, 0), 1000);
	assert_int_equal(backoff_delay_ms(3, 1000, 60000, 0), 2000);
	assert_int_equal(backoff_delay_ms(3, 1000, 60000, 2000), 4000);
	assert_int_equal(backoff_delay_ms(40, 1000, 60000, 0), 30000);
	for (uint32_t r = 0; r < 100000; r += 777) {
		uint64_t d = backoff_delay_ms(5, 1000, 60000, r);
		assert_true(d >= 8000 && d <= 16000);
	}
	assert_true(backoff_delay_ms(1, 0, 10, 5) >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		    cmocka_unit_test(test_netaddr),
	    cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
