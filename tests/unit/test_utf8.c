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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_text),
		cmocka_unit_test(test_invalid_text),
		cmocka_unit_test(test_decode_encode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
