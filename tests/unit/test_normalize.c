/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of common/normalize: what one code point maps to, how runs
 * and their byte offsets come out, and the dedup form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "normalize.h"
#include "utf8.h"

/* Maps cp and checks the letters (n = 0: expects a separator or not). */
static void expect_cp(uint32_t cp, unsigned n, const uint32_t *want, bool gap)
{
	uint32_t out[NORM_MAX_OUT];
	bool g = !gap;
	unsigned got = normalize_cp(cp, out, &g);
	assert_int_equal(got, n);
	for (unsigned i = 0; i < n; i++) assert_int_equal(out[i], want[i]);
	if (n == 0) assert_int_equal(g, gap);
}

static void test_letters(void **state)
{
	(void)state;
	expect_cp('A', 1, (const uint32_t[]){'a'}, false);
	expect_cp(0xFF21, 1, (const uint32_t[]){'a'}, false);           /* full-width A */
	expect_cp(0x24B6, 1, (const uint32_t[]){'a'}, false);           /* circled A */
	expect_cp(0x1D400, 1, (const uint32_t[]){'a'}, false);          /* math bold A */
	expect_cp(0xE9, 1, (const uint32_t[]){'e'}, false);             /* e acute */
	expect_cp(0xDF, 2, (const uint32_t[]){'s', 's'}, false);        /* sharp s */
	expect_cp(0x3A3, 1, (const uint32_t[]){0x3C3}, false);          /* Greek sigma */
	expect_cp(0x3C2, 1, (const uint32_t[]){0x3C3}, false);          /* final sigma */
	expect_cp(0x0416, 1, (const uint32_t[]){0x0436}, false);        /* Cyrillic Zhe */
	expect_cp(0x0456, 1, (const uint32_t[]){'i'}, false);           /* Cyrillic і */
	expect_cp(0x0406, 1, (const uint32_t[]){'i'}, false);           /* Cyrillic І, like Latin I */
	expect_cp(0x0399, 1, (const uint32_t[]){'i'}, false);           /* Greek Iota */
	expect_cp(0x0422, 1, (const uint32_t[]){'t'}, false);           /* Cyrillic Т */
	expect_cp(0xFB01, 2, (const uint32_t[]){'f', 'i'}, false);      /* fi ligature */
	expect_cp(0xFF10 + 7, 1, (const uint32_t[]){'7'}, false);       /* full-width 7 */
}

static void test_hangul(void **state)
{
	(void)state;
	expect_cp(0xAC00, 2, (const uint32_t[]){0x1100, 0x1161}, false);          /* 가 */
	expect_cp(0xAC12, 4, (const uint32_t[]){0x1100, 0x1161, 0x1107, 0x1109}, false); /* 값 */
	expect_cp(0xC2ED, 3, (const uint32_t[]){0x1109, 0x1175, 0x1107}, false);  /* 십: final ㅂ as initial */
	expect_cp(0x3145, 1, (const uint32_t[]){0x1109}, false);                  /* compat ㅅ */
	expect_cp(0x3133, 2, (const uint32_t[]){0x1100, 0x1109}, false);          /* compat ㄳ */
	expect_cp(0x314F, 1, (const uint32_t[]){0x1161}, false);                  /* compat ㅏ */
	expect_cp(0xFFA1, 1, (const uint32_t[]){0x1100}, false);                  /* half-width ㄱ */
	expect_cp(0x11AF, 1, (const uint32_t[]){0x1105}, false);                  /* final ㄹ */
	assert_true(normalize_is_hangul(0x1100));
	assert_false(normalize_is_hangul('a'));
}

static void test_separators_and_invisible(void **state)
{
	(void)state;
	expect_cp(' ', 0, NULL, true);
	expect_cp('.', 0, NULL, true);
	expect_cp(0x3000, 0, NULL, true);  /* ideographic space */
	expect_cp(0x1F600, 0, NULL, true); /* emoji */
	expect_cp(0xFFFD, 0, NULL, true);
	expect_cp(0x200B, 0, NULL, false); /* zero-width space */
	expect_cp(0x200D, 0, NULL, false); /* zero-width joiner */
	expect_cp(0x2060, 0, NULL, false); /* word joiner */
	expect_cp(0xFEFF, 0, NULL, false); /* BOM */
	expect_cp(0xAD, 0, NULL, false);   /* soft hyphen */
	expect_cp(0x301, 0, NULL, false);  /* combining acute */
	expect_cp(0xFE0F, 0, NULL, false); /* variation selector */
	expect_cp(0x3164, 0, NULL, false); /* Hangul filler */
}

static void test_runs(void **state)
{
	(void)state;
	const char *t = "Baa\xE2\x80\x8B" "a d!";
	struct norm_iter it;
	struct norm_run r;
	norm_iter_init(&it, t, strlen(t));
	assert_true(norm_iter_next(&it, &r));
	assert_int_equal(r.cp, 'b');
	assert_int_equal(r.count, 1);
	assert_false(r.gap_before);
	assert_true(norm_iter_next(&it, &r));
	assert_int_equal(r.cp, 'a');
	assert_int_equal(r.count, 3);
	assert_int_equal(r.letters, 3);
	assert_int_equal(r.first_start, 1);
	assert_int_equal(r.last_start, 6);
	assert_int_equal(r.last_end, 7);
	assert_true(norm_iter_next(&it, &r));
	assert_int_equal(r.cp, 'd');
	assert_true(r.gap_before);
	assert_int_equal(r.first_start, 8);
	assert_false(norm_iter_next(&it, &r));
	assert_false(norm_iter_next(&it, &r));
}

static void test_hangul_runs(void **state)
{
	(void)state;
	/* 시이이발: the silent ㅇ of 이 only stretches ㅣ. */
	const char *t = "시이이발";
	struct norm_iter it;
	struct norm_run r;
	uint32_t cps[8];
	unsigned n = 0;
	norm_iter_init(&it, t, strlen(t));
	while (n < 8 && norm_iter_next(&it, &r)) cps[n++] = r.cp;
	assert_int_equal(n, 5);
	assert_int_equal(cps[0], 0x1109);
	assert_int_equal(cps[1], 0x1175);
	assert_int_equal(cps[2], 0x1107);
	/* 아이 keeps its ㅇ: the vowel changes. */
	norm_iter_init(&it, "아이", strlen("아이"));
	n = 0;
	while (n < 8 && norm_iter_next(&it, &r)) n++;
	assert_int_equal(n, 4);
}

static void test_invalid(void **state)
{
	(void)state;
	const char *t = "\xFF" "a\xC3";
	struct norm_iter it;
	struct norm_run r;
	norm_iter_init(&it, t, 3);
	assert_true(norm_iter_next(&it, &r));
	assert_int_equal(r.cp, 'a');
	assert_true(r.gap_before);
	assert_int_equal(r.first_start, 1);
	assert_false(norm_iter_next(&it, &r));
	norm_iter_init(&it, NULL, 5);
	assert_false(norm_iter_next(&it, &r));
}

static void test_text(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(normalize_text("HeLLo, ｗｏｒｌｄ!", strlen("HeLLo, ｗｏｒｌｄ!"), out, sizeof(out)), 9);
	assert_string_equal(out, "heloworld");
	/* Cut to fit, at a whole letter, but the full length is returned. */
	assert_int_equal(normalize_text("가", strlen("가"), out, 4), 6);
	assert_string_equal(out, "\xE1\x84\x80");
	assert_int_equal(normalize_text("abc", 3, out, 2), 3);
	assert_string_equal(out, "a");
	assert_int_equal(normalize_text("abc", 3, NULL, 0), 3);
	assert_int_equal(normalize_text("", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	char a[32], b[32];
	normalize_text("ㄱㅏ", strlen("ㄱㅏ"), a, sizeof(a));
	normalize_text("가", strlen("가"), b, sizeof(b));
	assert_string_equal(a, b);
}

/* fingerprint(t) must hash the letters of normalize_text(t), one code point
 * at a time, and count them. */
static void expect_fingerprint(const char *t, size_t len)
{
	char out[512];
	uint64_t want = NORM_FNV_OFFSET, got = 0;
	size_t n = normalize_text(t, len, out, sizeof(out));
	assert_true(n < sizeof(out));
	size_t letters = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t w = utf8_decode(out + i, n - i, &cp);
		assert_true(w > 0);
		want = normalize_hash_letter(want, cp);
		letters++;
		i += w;
	}
	assert_int_equal(normalize_fingerprint(t, len, &got), letters);
	assert_true(got == want);
	assert_true(normalize_print(t, len) == (letters ? want : 0));
}

static void test_fingerprint(void **state)
{
	(void)state;
	static const char *const texts[] = {
		"", "!!! ...", "\xF0\x9F\x98\x80", "HeLLo, ｗｏｒｌｄ!", "h.e.l.l.o wooorld", "Hello!!  World",
		"l.l", "a\xE2\x80\x8B" "b", "시이이발", "시 이발", "시\xE2\x80\x8B이발", "아이", "ㄱㅏ 가 각",
		"\xFF\xFE" "ab\xC3", "Ǆ ﬃ ① Ⅻ", "\xF0\x9D\x90\x80\xF0\x9D\x90\x81", "Straße ΣΑΣ",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) expect_fingerprint(texts[i], strlen(texts[i]));
	uint64_t a, b;
	normalize_fingerprint("Buy NOW", 7, &a);
	normalize_fingerprint("b-u-y n o w!!", 13, &b);
	assert_true(a == b);
	normalize_fingerprint("buy now", 7, &a);
	normalize_fingerprint("buy cow", 7, &b);
	assert_true(a != b);
	assert_int_equal(normalize_fingerprint(NULL, 5, &a), 0);
	assert_true(a == NORM_FNV_OFFSET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_letters),
		cmocka_unit_test(test_hangul),
		cmocka_unit_test(test_separators_and_invisible),
		cmocka_unit_test(test_runs),
		cmocka_unit_test(test_hangul_runs),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_fingerprint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
