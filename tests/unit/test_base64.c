/* SPDX-License-Identifier: MIT */
/*
 * Unit test of common/base64.c: RFC 4648's test vectors both ways, each
 * alphabet refusing the other's two characters, optional padding, and
 * the bounds of the output buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"
#include "chat_err.h"

static void test_vectors_round_trip(void **state)
{
	(void)state;
	char out[64];
	unsigned char back[64];
	const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	const char *want[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	const char *padded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	for (int i = 0; i < 7; i++) {
		size_t len = strlen(in[i]);
		long n = base64url_encode(in[i], len, out, sizeof(out));
		assert_int_equal(n, (long)strlen(want[i]));
		assert_string_equal(out, want[i]);
		assert_int_equal(base64_decode(out, (size_t)n, back, sizeof(back), BASE64_URL), (long)len);
		assert_memory_equal(back, in[i], len);
		assert_int_equal(base64_decode(padded[i], strlen(padded[i]), back, sizeof(back), BASE64_STD), (long)len);
		assert_memory_equal(back, in[i], len);
	}
}

static void test_alphabets_do_not_mix(void **state)
{
	(void)state;
	char out[8];
	unsigned char back[8];
	const unsigned char bin[] = {0xfb, 0xff, 0xfe};
	assert_int_equal(base64url_encode(bin, 3, out, sizeof(out)), 4);
	assert_string_equal(out, "-__-");
	assert_int_equal(base64_decode("-__-", 4, back, sizeof(back), BASE64_URL), 3);
	assert_memory_equal(back, bin, 3);
	assert_int_equal(base64_decode("+//+", 4, back, sizeof(back), BASE64_STD), 3);
	assert_memory_equal(back, bin, 3);
	assert_int_equal(base64_decode("+//+", 4, back, sizeof(back), BASE64_URL), CHAT_ERR_INVAL);
	assert_int_equal(base64_decode("-__-", 4, back, sizeof(back), BASE64_STD), CHAT_ERR_INVAL);
	assert_int_equal(base64_decode("Zm 9v", 5, back, sizeof(back), BASE64_STD), CHAT_ERR_INVAL);
	assert_int_equal(base64_decode("Zm\0v", 4, back, sizeof(back), BASE64_STD), CHAT_ERR_INVAL);
}

static void test_bounds(void **state)
{
	(void)state;
	char out[16];
	unsigned char back[8];
	assert_int_equal(base64url_encode("foobar", 6, out, 9), 8); /* 8 characters and the NUL */
	assert_int_equal(base64url_encode("foobar", 6, out, 8), CHAT_ERR_TOO_LARGE);
	assert_int_equal(base64_decode("Zm9vY", 5, back, sizeof(back), BASE64_URL), CHAT_ERR_INVAL);
	assert_int_equal(base64_decode("Zm9v", 4, back, 2, BASE64_URL), CHAT_ERR_TOO_LARGE);
	assert_int_equal(base64_decode("Zm9v", 4, back, 3, BASE64_URL), 3);
	assert_int_equal(base64_decode("====", 4, back, sizeof(back), BASE64_STD), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_round_trip),
		cmocka_unit_test(test_alphabets_do_not_mix),
		cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
