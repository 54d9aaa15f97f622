/* SPDX-License-Identifier: MIT */
/*
 * Rewritings of a text that undo disguises which depend on the letters
 * around a character, so that no per-code-point table can undo them: a
 * digit or symbol written for a letter ("1d10t", "$cam", "id!ot", "f*ck"),
 * and a Latin letter or digit written for a jamo or slipped between two
 * Hangul syllables ("ㅅl발", "시1발", "바1보"). The word filter scans each
 * rewriting of a text that has such a token, next to the text itself.
 *
 * A token here is a maximal run of letters, digits and the symbols below,
 * so spaces and other punctuation end it. The rules, per token:
 *   - a token with a Latin (or other non-Hangul) letter and a digit: every
 *     digit is a letter (0 o, 1 i, 2 z, 3 e, 4 a, 5 s, 6 g, 7 t, 8 b, 9 g);
 *   - in such a token, $ and @ before a letter or digit read s and a, and
 *     between letters or digits ! | ( + read i, i, c, t (! and | also
 *     first in the token, before a letter), while each * stands for
 *     a letter (NORM_WILD; the filter matches a run of them for one to
 *     three letters of a word);
 *   - one or two ASCII letters or digits between two Hangul characters of a
 *     token read as the jamo they look like (l I i 1 | ! as ㅣ, o O 0 as ㅇ)
 *     in rewriting 0 and are dropped in rewriting 1.
 * Rewriting 1 also reads 1, ! and | as l instead of i ("ki11").
 * Digits and symbols in a token without letters ("10:30", "$5", "2*3")
 * are left alone, as is everything outside the tokens the rules name.
 *
 * A rewriting replaces each code point by exactly one code point (a
 * dropped one becomes U+200B, which the normalizer does not see), so a
 * mask of the rewriting is a mask of the text, code point for code point.
 */
#ifndef CHAT_DISGUISE_H
#define CHAT_DISGUISE_H

#include <stdbool.h>
#include <stddef.h>

/* How many rewritings there are (k in disguise_rewrite is below this). */
#define DISGUISE_REWRITINGS 2

/* A rewriting is at most this many times longer than the text, in bytes. */
#define DISGUISE_GROWTH 3

/*
 * True when some rewriting of text[0..len) differs from it. Does not
 * allocate; invalid UTF-8 bytes count as separators.
 */
bool disguise_present(const char *text, size_t len);

/*
 * Writes rewriting k of text[0..len) into out, which needs room for
 * DISGUISE_GROWTH * len bytes, and returns its length (not NUL-terminated).
 */
size_t disguise_rewrite(const char *text, size_t len, unsigned k, char *out);

#endif
