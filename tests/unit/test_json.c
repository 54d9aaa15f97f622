/* SPDX-License-Identifier: MIT */
/* Unit tests of common/json: validation, member iteration, decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chat_err.h"
#include "json.h"
#include "utf8.h"

static int check(const char *s)
{
	return json_check(s, strlen(s), NULL);
}

static void test_valid(void **state)
{
	(void)state;
	const char *ok[] = {
		"{}", "[]", " {\"a\":1} ", "{\"a\":[1,2.5,-3e10,true,false,null,\"x\"]}", "\"\\u00e9\\ud83d\\ude00\"",
		"0", "-0.5", "{\"k\":{\"n\":{}}}", "\"한국어\"",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (check(ok[i]) != CHAT_OK) fail_msg("should be valid: %s", ok[i]);
	}
}

static void test_invalid(void **state)
{
	(void)state;
	const char *bad[] = {
		"", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "01", "1.", "-", "tru", "\"abc",
		"\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "{a:1}", "{} {}", "\"tab\there\"", "\"\xC0\xAF\"",
		"{\"a\":1}x", "nulll",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (check(bad[i]) != CHAT_ERR_JSON) fail_msg("should be invalid: %s", bad[i]);
	}
}

/* Strings long enough for the word-at-a-time scan, with one special
 * sequence at every offset: the verdict must not depend on where it falls. */
static void test_long_strings(void **state)
{
	(void)state;
	const struct {
		const char *seq;
		int want;
	} cases[] = {
		{"\\n", CHAT_OK},          {"\\\"", CHAT_OK},     {"\\u00e9", CHAT_OK}, {"\xC3\xA9", CHAT_OK},
		{"\xED\x95\x9C", CHAT_OK}, {"\x7F", CHAT_OK},       {"\t", CHAT_ERR_JSON}, {"\x01", CHAT_ERR_JSON},
		{"\xC0\xAF", CHAT_ERR_JSON}, {"\x80", CHAT_ERR_JSON}, {"\"", CHAT_ERR_JSON}, {"\\x", CHAT_ERR_JSON},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (size_t pos = 0; pos < 20; pos++) {
			char s[80];
			int n = snprintf(s, sizeof(s), "\"%.*s%s%s\"", (int)pos, "abcdefghijklmnopqrstuvwxyz", cases[c].seq,
					 "0123456789ABCDEF");
			assert_true(n > 0 && (size_t)n < sizeof(s));
			if (check(s) != cases[c].want) fail_msg("case %zu at %zu: %s", c, pos, s);
		}
	}
}

/* json_plain_prefix() against the byte-by-byte rule, for every byte value
 * at every position of every length up to 40 (both word sizes, their
 * overlapping last windows and the short tail). */
static void test_plain_prefix(void **state)
{
	(void)state;
	char buf[48];
	for (size_t n = 0; n <= 40; n++) {
		for (size_t pos = 0; pos <= n; pos++) {
			for (unsigned b = 0; b < 256; b++) {
				memset(buf, 'a', sizeof(buf));
				if (pos < n) buf[pos] = (char)b;
				char *exact = malloc(n ? n : 1); /* exactly n: a sanitizer sees a read past them */
				assert_non_null(exact);
				memcpy(exact, buf, n);
				for (int ascii = 0; ascii <= 1; ascii++) {
					bool odd = b < 0x20 || b == '"' || b == '\\' || (ascii && b >= 0x80);
					size_t want = pos < n && odd ? pos : n;
					size_t got = json_plain_prefix(exact, n, ascii);
					if (got != want) fail_msg("n %zu, %02X at %zu, ascii %d: %zu", n, b, pos, ascii, got);
				}
				free(exact);
			}
		}
	}
}

/* Words of non-Latin text with single spaces between them, and what may
 * follow a space there. */
static void test_spaced_words(void **state)
{
	(void)state;
	const char *ok[] = {"\"가 나 다\"", "\"가 \"", "\"가  나\"", "\"가 a\"", "\"가 \\n나\"", "\"é ü\"",
			    "\"가 나 다 라 마 바 사 아 자 차 카 타 파 하\""};
	const char *bad[] = {"\"가 \x80\"", "\"가 \t나\"", "\"가 \xC0\xAF\"", "\"가 나", "\"가 ", "\"가 \xEA\xB0\""};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (check(ok[i]) != CHAT_OK) fail_msg("should be valid: %s", ok[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (check(bad[i]) != CHAT_ERR_JSON) fail_msg("should be invalid: %s", bad[i]);
	}
}

/* Every 3-byte sequence with a lead E0..EF inside a string: valid JSON
 * exactly when it is one valid UTF-8 character. */
static void test_three_byte_chars(void **state)
{
	(void)state;
	for (unsigned i = 0xE00000u; i <= 0xEFFFFFu; i++) {
		char s[6] = {'"', (char)(i >> 16), (char)(i >> 8), (char)i, '"', '\0'};
		uint32_t cp;
		bool valid = utf8_decode(s + 1, 3, &cp) == 3;
		if ((json_check(s, 5, NULL) == CHAT_OK) != valid) fail_msg("%06X: json and utf8 disagree", i);
	}
}

static void test_depth_limit(void **state)
{
	(void)state;
	char deep[2 * JSON_MAX_DEPTH + 8];
	size_t n = 0;
	for (int i = 0; i < JSON_MAX_DEPTH; i++) deep[n++] = '[';
	for (int i = 0; i < JSON_MAX_DEPTH; i++) deep[n++] = ']';
	assert_int_equal(json_check(deep, n, NULL), CHAT_OK);
	char deeper[2 * JSON_MAX_DEPTH + 8];
	n = 0;
	for (int i = 0; i <= JSON_MAX_DEPTH; i++) deeper[n++] = '[';
	for (int i = 0; i <= JSON_MAX_DEPTH; i++) deeper[n++] = ']';
	assert_int_equal(json_check(deeper, n, NULL), CHAT_ERR_JSON);
}

struct seen {
	int count;
	long long b;
	char a[32];
};

static int member(const struct json_span *key, const struct json_span *v, void *ud)
{
	struct seen *s = ud;
	s->count++;
	if (json_key_is(key, "a")) assert_true(json_string_decode(v, s->a, sizeof(s->a)) >= 0);
	if (json_key_is(key, "b")) assert_int_equal(json_number_i64(v, &s->b), CHAT_OK);
	return 0;
}

static void test_members(void **state)
{
	(void)state;
	const char *doc = "{ \"a\" : \"x\\ny\" , \"\\u0062\":-42, \"c\":{\"a\":\"inner\"} }";
	struct json_span obj;
	struct seen s = {0};
	assert_int_equal(json_check(doc, strlen(doc), &obj), CHAT_OK);
	assert_int_equal(obj.type, JSON_OBJECT);
	assert_int_equal(json_object_foreach(&obj, member, &s), 0);
	assert_int_equal(s.count, 3);
	assert_string_equal(s.a, "x\ny");
	assert_int_equal(s.b, -42);
}

/* Counts members; fails from the member named "stop" on. */
static int stop_at(const struct json_span *key, const struct json_span *v, void *ud)
{
	(void)v;
	int *count = ud;
	(*count)++;
	return json_key_is(key, "stop") ? CHAT_ERR_TOO_LARGE : 0;
}

static int parse_count_n(const char *doc, size_t len, int *count)
{
	*count = 0;
	return json_object_parse(doc, len, stop_at, count);
}

static int parse_count(const char *doc, int *count)
{
	return parse_count_n(doc, strlen(doc), count);
}

static void test_object_parse(void **state)
{
	(void)state;
	const char *doc = "{ \"a\" : \"x\\ny\" , \"\\u0062\":-42, \"c\":{\"a\":\"inner\"} }";
	struct seen s = {0};
	int n;
	assert_int_equal(json_object_parse(doc, strlen(doc), member, &s), 0);
	assert_int_equal(s.count, 3);
	assert_string_equal(s.a, "x\ny");
	assert_int_equal(s.b, -42);
	assert_int_equal(parse_count(" \n{}\t", &n), 0);
	assert_int_equal(n, 0);
	/* The callback's error, after which no member is reported... */
	assert_int_equal(parse_count("{\"stop\":1,\"b\":2}", &n), CHAT_ERR_TOO_LARGE);
	assert_int_equal(n, 1);
	/* ...but malformed JSON anywhere, also after it, wins. */
	static const char *const bad[] = {
		"{\"stop\":1,\"b\":}", "{\"stop\":1} x", "{\"stop\":1,}", "{\"a\":1", "{\"a\" 1}", "{a:1}",
		"[1]", "\"s\"", "", "{\"a\":1}}", "{\"a\":\"\xC0\xAF\"}", "{\"a\":[1,2}", "{\"stop\":1 \"b\":2}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) assert_int_equal(parse_count(bad[i], &n), CHAT_ERR_JSON);
	assert_int_equal(json_object_parse(NULL, 3, stop_at, &n), CHAT_ERR_JSON);
	char deep[2 * JSON_MAX_DEPTH + 16];
	size_t k = 5;
	memcpy(deep, "{\"a\":", 5);
	for (int i = 0; i < JSON_MAX_DEPTH; i++) deep[k++] = '[';
	for (int i = 0; i < JSON_MAX_DEPTH; i++) deep[k++] = ']';
	deep[k++] = '}';
	assert_int_equal(json_object_parse(deep, k, stop_at, &n), CHAT_ERR_JSON);
	assert_int_equal(json_check(deep, k, NULL), CHAT_ERR_JSON);
	/* One level less is within the limit, as for json_check. */
	memmove(deep + 5, deep + 6, k - 6);
	k -= 2;
	deep[k - 1] = '}';
	assert_int_equal(json_check(deep, k, NULL), CHAT_OK);
	assert_int_equal(parse_count_n(deep, k, &n), 0);
	assert_int_equal(n, 1);
}

static void test_decode_limits(void **state)
{
	(void)state;
	struct json_span s = {"\"abcdef\"", 8, JSON_STRING, false};
	char small[4], big[16];
	assert_int_equal(json_string_decode(&s, small, sizeof(small)), CHAT_ERR_TOO_LARGE);
	assert_int_equal(json_string_decode(&s, big, sizeof(big)), 6);
	assert_string_equal(big, "abcdef");
	/* Runs between escapes are copied whole; the limit counts the NUL. */
	const char *esc = "\"ab\\tcd\\u00e9\"";
	struct json_span e = {esc, strlen(esc), JSON_STRING, false};
	assert_int_equal(json_string_decode(&e, big, sizeof(big)), 7);
	assert_string_equal(big, "ab\tcd\xC3\xA9");
	assert_int_equal(json_string_decode(&e, big, 8), 7);
	assert_int_equal(json_string_decode(&e, big, 7), CHAT_ERR_TOO_LARGE);
	assert_int_equal(json_string_decode(&e, big, 5), CHAT_ERR_TOO_LARGE);
	assert_int_equal(json_string_decode(&s, big, 7), 6);
	assert_int_equal(json_string_decode(&s, small, 3), CHAT_ERR_TOO_LARGE);
	struct json_span n = {"12345678901234567890", 20, JSON_NUMBER, false};
	long long v;
	assert_int_equal(json_number_i64(&n, &v), CHAT_ERR_INVAL);
	struct json_span f = {"1.5", 3, JSON_NUMBER, false};
	assert_int_equal(json_number_i64(&f, &v), CHAT_ERR_INVAL);
}

/* json_check_cstrings: an escaped U+0000 anywhere (value, member name,
 * nested) is told apart from other errors; an escaped backslash before
 * "u0000" is not one; everything json_check refuses is still refused. */
static void test_cstrings(void **state)
{
	(void)state;
	const char *nul[] = {
		"\"bob\\u0000\"", "{\"room\":\"general\\u0000x\"}", "{\"room\\u0000\":1}",
		"[1,{\"a\":[\"\\u0000\"]}]", "{\"sub\":\"\\u0000\"}",
	};
	for (size_t i = 0; i < sizeof(nul) / sizeof(nul[0]); i++) {
		size_t at = 0;
		if (json_check_cstrings(nul[i], strlen(nul[i]), &at) != CHAT_ERR_INVAL) fail_msg("NUL missed: %s", nul[i]);
		assert_memory_equal(nul[i] + at, "\\u0000", 6);
	}
	const char *ok[] = {"\"\\\\u0000\"", "{\"a\":\"\\u0001\\ud83d\\ude00\"}", " [] ", "\"한\""};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		size_t at = 0;
		assert_int_equal(json_check_cstrings(ok[i], strlen(ok[i]), &at), CHAT_OK);
		assert_int_equal(at, strlen(ok[i]));
	}
	const char *bad[] = {"{", "\"\\u00\"", "[1,]", "\"\xff\"", "{} x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(json_check_cstrings(bad[i], strlen(bad[i]), NULL), CHAT_ERR_JSON);
	const char raw[] = "\"a\0b\"";
	assert_int_equal(json_check_cstrings(raw, sizeof(raw) - 1, NULL), CHAT_ERR_JSON);
	assert_int_equal(json_check_cstrings(NULL, 0, NULL), CHAT_ERR_JSON);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),       cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_long_strings), cmocka_unit_test(test_three_byte_chars),
		cmocka_unit_test(test_plain_prefix), cmocka_unit_test(test_spaced_words),
		cmocka_unit_test(test_depth_limit), cmocka_unit_test(test_members),
		cmocka_unit_test(test_decode_limits), cmocka_unit_test(test_object_parse),
		cmocka_unit_test(test_cstrings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
