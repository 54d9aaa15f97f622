/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the word filter: normalizer, matcher and masking.
 * An input starting with 'W' carries its own word list ("W" word lines,
 * a NUL, then the text) so the builder is fuzzed too; any other input is
 * scanned with a fixed Korean and English list. Checked on every input:
 * no crash or overflow (the buffers are exact-size for ASan), the same
 * hit count with and without masking, and the masked text keeps every
 * code point of the input either as it was or as one '*' (so it is never
 * longer), with clean text left untouched, and the fingerprint of the
 * word filter's pass equal to normalize_print and to the hash of
 * normalize_text's letters (so the fast letter reader agrees with the
 * run iterator). The disguise rewritings (common/disguise.h) are checked
 * too: each keeps the code point count and stays within its growth bound,
 * valid input gives valid UTF-8, and disguise_present says exactly whether
 * rewriting 1 differs from the text. The fixed list has words whose
 * disguises (digits, symbols, look-alikes, two-set keys) the rewritings
 * and the confusables table must reach.
 *
 * Build and run (see tests/fuzz in the CMake option CHAT_FUZZ):
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCHAT_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_wordfilter
 *   build-fuzz/tests/fuzz/fuzz_wordfilter -max_total_time=60 -max_len=4096
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disguise.h"
#include "normalize.h"
#include "utf8.h"
#include "wordfilter.h"

static const char *const fixed_words[] = {"bad", "=ass", "b a d", "시발", "ㅅㅂ", "개새끼", "baad", "ab", "ㄹㅏ",
					 "idiot", "fuck", "바보", "asshole"};
static const char *const fixed_allow[] = {"class", "assistant", "=badminton", "시발점"};

static struct wordfilter *fixed_filter(void)
{
	static struct wordfilter *wf;
	if (!wf) wf = wordfilter_build(fixed_words, 13, fixed_allow, 4, NULL);
	if (!wf) abort();
	return wf;
}

/* Each input code point (invalid byte = one) is in out as is, or as '*'. */
static void check_mask(const char *in, size_t len, const char *out, int hits)
{
	size_t i = 0, o = 0;
	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(in + i, len - i, &cp);
		if (n == 0) n = 1;
		if (out[o] == '*') {
			o++;
		} else {
			if (memcmp(out + o, in + i, n) != 0) abort();
			o += n;
		}
		i += n;
	}
	if (out[o] != '\0' || o > len) abort();
	if (hits == 0 && o != len) abort();
}

/* The print of apply and of normalize_print is the hash of norm's letters. */
static void check_print(const struct wordfilter *wf, const char *text, size_t len, const char *norm, size_t nlen)
{
	uint64_t want = NORM_FNV_OFFSET, print = 1;
	for (size_t i = 0; i < nlen;) {
		uint32_t cp;
		size_t n = utf8_decode(norm + i, nlen - i, &cp);
		if (n == 0) abort();
		want = normalize_hash_letter(want, cp);
		i += n;
	}
	if (nlen == 0) want = 0;
	if (wordfilter_apply_print(wf, text, len, NULL, 0, &print) < 0 || print != want) abort();
	if (normalize_print(text, len) != want) abort();
}

/* Code points of s[0..len), an invalid byte counting as one. */
static size_t count_cps(const char *s, size_t len)
{
	size_t i = 0, n = 0;
	while (i < len) {
		uint32_t cp;
		size_t k = utf8_decode(s + i, len - i, &cp);
		i += k ? k : 1;
		n++;
	}
	return n;
}

static void check_disguise(const char *text, size_t len)
{
	char *rw = malloc(DISGUISE_GROWTH * len + 1);
	if (!rw) abort();
	bool differs = false;
	for (unsigned k = 0; k < DISGUISE_REWRITINGS; k++) {
		size_t n = disguise_rewrite(text, len, k, rw);
		if (n > DISGUISE_GROWTH * len || count_cps(rw, n) != count_cps(text, len)) abort();
		if (utf8_valid(text, len) && !utf8_valid(rw, n)) abort();
		if (k == 1) differs = n != len || memcmp(rw, text, len) != 0;
	}
	if (disguise_present(text, len) != differs) abort();
	free(rw);
}

/* Splits "W" lines "\0" text into a word list; skips entries that would fail. */
static struct wordfilter *own_filter(const char *data, size_t size, size_t *text_at)
{
	const char *words[16];
	char *copy = malloc(size + 1);
	size_t n = 0, end = 1;
	if (!copy) abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	while (end < size && data[end] != '\0') end++;
	*text_at = end < size ? end + 1 : size;
	for (char *p = copy + 1; p < copy + end && n < 16;) {
		char *nl = memchr(p, '\n', (size_t)(copy + end - p));
		char *stop = nl ? nl : copy + end;
		*stop = '\0';
		if (wordfilter_word_check(p) == 0) words[n++] = p;
		p = stop + 1;
	}
	int err = 0;
	struct wordfilter *wf = wordfilter_build(words, n, NULL, 0, &err);
	if (!wf && err != CHAT_ERR_NOMEM) abort(); /* checked words must build */
	free(copy);
	return wf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	size_t at = 0;
	struct wordfilter *own = size > 0 && data[0] == 'W' ? own_filter(in, size, &at) : NULL;
	const struct wordfilter *wf = own ? own : fixed_filter();
	const char *text = in + at;
	size_t len = size - at;

	char *out = malloc(len + 1);
	if (!out) abort();
	int hits = wordfilter_apply(wf, text, len, out, len + 1);
	if (hits < 0 || wordfilter_apply(wf, text, len, NULL, 0) != hits) abort();
	check_mask(text, len, out, hits);
	free(out);
	check_disguise(text, len);

	size_t need = normalize_text(text, len, NULL, 0);
	char *norm = malloc(need + 1);
	if (!norm) abort();
	if (normalize_text(text, len, norm, need + 1) != need || strlen(norm) != need) abort();
	if (!utf8_valid(norm, need)) abort();
	check_print(wf, text, len, norm, need);
	free(norm);
	wordfilter_free(own);
	return 0;
}
