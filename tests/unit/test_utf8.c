/* SPDX-License-Identifier: MIT */
/* Unit tests of common/utf8: strict validation, decoding and encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "utf8.h"

#define VALID(s) utf8_valid(s, sizeof(s) - 1)

static void test_valid_text(void **state)
{
	(void)state;
	assert_true(VALID(""));
	assert_true(VALID("hello, world"));
	assert_true(VALID("안녕하세요 여러분"));
	assert_true(VALID("emoji \xF0\x9F\x98\x80 ok"));
	assert_true(VALID("nul\0inside"));
	assert_true(VALID("\xEF\xBF\xBF"));         /* U+FFFF */
	assert_true(VALID("\xF4\x8F\xBF\xBF"));     /* U+10FFFF */
}

static void test_invalid_text(void **state)
{
	(void)state;
	assert_false(VALID("\xC0\xAF"));           /* overlong '/' */
	assert_false(VALID("\xE0\x80\xAF"));       /* overlong 3-byte */
	assert_false(VALID("\xED\xA0\x80"));       /* surrogate U+D800 */
	assert_false(VALID("\xF4\x90\x80\x80"));   /* above U+10FFFF */
	assert_false(VALID("\xF5\x80\x80\x80"));
	assert_false(VALID("abc\x80"));            /* lone continuation */
	assert_false(VALID("\xEA\xB0"));           /* truncated 가 */
	assert_false(VALID("12345678\xFF"));       /* after the ASCII fast path */
}

static void test_decode_encode(void **state)
{
	(void)state;
	uint32_t cp;
	char out[4];
	assert_int_equal(utf8_decode("가", 3, &cp), 3);
	assert_int_equal(cp, 0xAC00);
	assert_int_equal(utf8_encode(0xAC00, out), 3);
	assert_memory_equal(out, "가", 3);
	assert_int_equal(utf8_decode("\xF0\x9F\x98\x80", 4, &cp), 4);
	assert_int_equal(cp, 0x1F600);
	assert_int_equal(utf8_decode("\xC3", 1, &cp), 0);
	assert_int_equal(cp, 0xFFFD);
	assert_int_equal(utf8_encode(0xD800, out), 0);
	assert_int_equal(utf8_encode(0x110000, out), 0);
	assert_int_equal(utf8_encode('A', out), 1);
}

/* The decoder accepts exactly the shortest encodings of scalar values:
 * every one of them decodes back, and whatever it accepts among all 1- to
 * 3-byte inputs (and 4-byte ones over every lead and second byte) is the
 * encoder's output for the value it returns. */
static void test_decode_exhaustive(void **state)
{
	(void)state;
	char out[4];
	uint32_t cp;
	for (uint32_t v = 0; v <= 0x10FFFF; v++) {
		size_t n = utf8_encode(v, out);
		if (v >= 0xD800 && v <= 0xDFFF) {
			assert_int_equal(n, 0);
			continue;
		}
		if (utf8_decode(out, n, &cp) != n || cp != v) fail_msg("U+%04X does not decode back", (unsigned)v);
	}
	unsigned char b[4];
	for (unsigned i = 0; i < 0x1000000u; i++) {
		b[0] = (unsigned char)(i >> 16), b[1] = (unsigned char)(i >> 8), b[2] = (unsigned char)i;
		for (size_t len = 1; len <= 3; len++) {
			size_t n = utf8_decode((const char *)b, len, &cp);
			if (n == 0) continue;
			if (n > len || utf8_encode(cp, out) != n || memcmp(out, b, n) != 0)
				fail_msg("%02X %02X %02X (len %zu) accepted as U+%04X", b[0], b[1], b[2], len, (unsigned)cp);
		}
	}
	for (unsigned i = 0; i < 0x10000u; i++) {
		b[0] = (unsigned char)(i >> 8), b[1] = (unsigned char)i, b[2] = 0x80, b[3] = 0xBF;
		size_t n = utf8_decode((const char *)b, 4, &cp);
		if (n == 4 && (utf8_encode(cp, out) != 4 || memcmp(out, b, 4) != 0))
			fail_msg("%02X %02X 80 BF accepted as U+%04X", b[0], b[1], (unsigned)cp);
		if (b[0] >= 0xF0 && n != 0 && n != 4) fail_msg("%02X %02X: %zu bytes", b[0], b[1], n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_text),
		cmocka_unit_test(test_invalid_text),
		cmocka_unit_test(test_decode_encode),
		cmocka_unit_test(test_decode_exhaustive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
