/* SPDX-License-Identifier: MIT */
/*
 * The token rules of disguise.h. A text is walked token by token; each
 * token's code points are classified into a small array on the stack (a
 * token longer than TOK_MAX is taken in pieces), its mix of classes picks
 * the rule, and the rewriting is written out code point by code point.
 * disguise_present runs the same walk without writing and stops at the
 * first code point that rewriting 1 would change: rewriting 1 changes a
 * superset of what rewriting 0 changes.
 */
#include "disguise.h"

#include "normalize.h"
#include "utf8.h"

#include <stdint.h>
#include <string.h>

#define TOK_MAX 128
#define ZWSP 0x200Bu
#define JAMO_I 0x3163u    /* ㅣ */
#define JAMO_IEUNG 0x3147u /* ㅇ */

enum cls { C_SEP, C_INVIS, C_LATIN, C_LETTER, C_DIGIT, C_SYM, C_HANGUL };

struct tok {
	size_t n;
	uint32_t cp[TOK_MAX];
	uint8_t cls[TOK_MAX];
	uint32_t start[TOK_MAX]; /* byte offset in the text */
	uint8_t len[TOK_MAX];
};

/* The letter a digit stands for, indexed by digit; '1' depends on k. */
static const char leet_digit[10] = {'o', 'i', 'z', 'e', 'a', 's', 'g', 't', 'b', 'g'};

static bool is_sym(uint32_t cp)
{
	return cp == '$' || cp == '@' || cp == '!' || cp == '|' || cp == '(' || cp == '+' || cp == '*';
}

static enum cls classify(uint32_t cp)
{
	if (cp < 0x80) {
		if ((cp | 0x20u) >= 'a' && (cp | 0x20u) <= 'z') return C_LATIN;
		if (cp >= '0' && cp <= '9') return C_DIGIT;
		return is_sym(cp) ? C_SYM : C_SEP;
	}
	uint32_t out[NORM_MAX_OUT];
	bool gap = true;
	unsigned k = normalize_cp(cp, out, &gap);
	if (k == 0) return gap ? C_SEP : C_INVIS;
	return normalize_is_hangul(out[0]) ? C_HANGUL : C_LETTER;
}

static bool alnum(uint8_t c)
{
	return c == C_LATIN || c == C_LETTER || c == C_DIGIT;
}

/* Index of the nearest visible code point before i (or t->n when none). */
static size_t prev_vis(const struct tok *t, size_t i)
{
	while (i > 0) {
		if (t->cls[--i] != C_INVIS) return i;
	}
	return t->n;
}

static size_t next_vis(const struct tok *t, size_t i)
{
	while (++i < t->n) {
		if (t->cls[i] != C_INVIS) return i;
	}
	return t->n;
}

/*
 * A symbol of a Latin token as a letter, or 0 to keep it. $ and @ read as
 * letters before a letter (or another of them: "a$$hole"), but not after a
 * digit, where they are more likely a printf position ("%4$s"). ! and |
 * read i between letters or digits and also first in the token, before a
 * letter ("!d!ot"); ( + and * only between two.
 */
static uint32_t sym_letter(const struct tok *t, size_t i, unsigned k, bool before, bool after)
{
	size_t nx = next_vis(t, i), pv = prev_vis(t, i);
	bool lead = nx < t->n && (t->cls[nx] == C_LATIN || t->cls[nx] == C_LETTER || t->cp[nx] == t->cp[i]) &&
		    !(pv < t->n && t->cls[pv] == C_DIGIT);
	switch (t->cp[i]) {
	case '$': return lead ? 's' : 0;
	case '@': return lead ? 'a' : 0;
	case '!': /* also first in the token, before a letter: "!d!ot" */
	case '|': return after && (before || lead) ? (k == 1 ? 'l' : 'i') : 0;
	case '(': return before && after ? 'c' : 0;
	case '+': return before && after ? 't' : 0;
	case '*': return before && after ? NORM_WILD : 0;
	default: return 0;
	}
}

/* Part of a word once the symbols are read: a letter, digit or read symbol. */
static bool wordish(const struct tok *t, const uint32_t *map, size_t i)
{
	return alnum(t->cls[i]) || t->cls[i] == C_INVIS || (t->cls[i] == C_SYM && map[i]);
}

/*
 * Rewrites a token with a non-Hangul letter: symbols first, then the
 * digits of each stretch of it that the kept symbols do not split and that
 * has a letter ("4$s" stays: its $ is kept, so 4 stands alone).
 */
static void latin_rule(const struct tok *t, unsigned k, uint32_t *map)
{
	size_t first = t->n, last = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (!alnum(t->cls[i])) continue;
		if (first == t->n) first = i;
		last = i;
	}
	for (size_t i = 0; i < t->n; i++) {
		if (t->cls[i] == C_SYM) map[i] = sym_letter(t, i, k, first < i, first != t->n && last > i);
	}
	for (size_t a = 0; a < t->n;) {
		size_t z = a;
		bool letter = false;
		while (z < t->n && wordish(t, map, z)) {
			letter |= t->cls[z] == C_LATIN || t->cls[z] == C_LETTER || t->cls[z] == C_SYM;
			z++;
		}
		for (size_t i = a; letter && i < z; i++) {
			if (t->cls[i] != C_DIGIT) continue;
			uint32_t d = t->cp[i] - '0';
			map[i] = d == 1 && k == 1 ? 'l' : (uint32_t)leet_digit[d];
		}
		a = z > a ? z : a + 1;
	}
}

/* The jamo an ASCII character looks like, or 0. */
static uint32_t jamo_look(uint32_t cp)
{
	switch (cp) {
	case 'l': case 'I': case 'i': case '1': case '|': case '!': return JAMO_I;
	case 'o': case 'O': case '0': return JAMO_IEUNG;
	default: return 0;
	}
}

/* One or two ASCII characters between Hangul: as jamo (k 0) or dropped (k 1). */
static void hangul_rule(const struct tok *t, unsigned k, uint32_t *map)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->cls[i] == C_HANGUL || t->cls[i] == C_INVIS || t->cp[i] >= 0x80) continue;
		size_t j = i, count = 0;
		while (j < t->n && (t->cls[j] == C_INVIS || (t->cp[j] < 0x80 && t->cls[j] != C_HANGUL))) {
			count += t->cls[j] != C_INVIS;
			j++;
		}
		size_t p = prev_vis(t, i);
		bool between = p < t->n && t->cls[p] == C_HANGUL && j < t->n && t->cls[j] == C_HANGUL && count <= 2;
		for (size_t x = i; between && x < j; x++) {
			if (t->cls[x] == C_INVIS) continue;
			uint32_t look = jamo_look(t->cp[x]);
			map[x] = k == 1 ? ZWSP : look;
		}
		i = j - 1;
	}
}

/* The new code point of each of the token's code points, 0 = unchanged. */
static void rewrite_token(const struct tok *t, unsigned k, uint32_t *map)
{
	bool letter = false, digit_or_sym = false, hangul = false, ascii = false;
	memset(map, 0, t->n * sizeof(*map));
	for (size_t i = 0; i < t->n; i++) {
		letter |= t->cls[i] == C_LATIN || t->cls[i] == C_LETTER;
		digit_or_sym |= t->cls[i] == C_DIGIT || t->cls[i] == C_SYM;
		hangul |= t->cls[i] == C_HANGUL;
		ascii |= t->cp[i] < 0x80;
	}
	if (hangul && ascii) hangul_rule(t, k, map);
	else if (!hangul && letter && digit_or_sym) latin_rule(t, k, map);
}

/* Reads the next token (up to TOK_MAX code points) from *pos; separators
 * before it go straight to the output. Returns false at the end. */
static bool next_token(const char *text, size_t len, size_t *pos, struct tok *t, char *out, size_t *w)
{
	t->n = 0;
	while (*pos < len && t->n < TOK_MAX) {
		uint32_t cp = (unsigned char)text[*pos];
		size_t n = 1;
		if (cp >= 0x80) {
			n = utf8_decode(text + *pos, len - *pos, &cp);
			if (n == 0) n = 1, cp = 0xFFFD;
		}
		enum cls c = classify(cp);
		if (c == C_SEP) {
			if (t->n > 0) return true;
			if (out) memcpy(out + *w, text + *pos, n);
			*w += n;
			*pos += n;
			continue;
		}
		t->cp[t->n] = cp;
		t->cls[t->n] = (uint8_t)c;
		t->start[t->n] = (uint32_t)*pos;
		t->len[t->n++] = (uint8_t)n;
		*pos += n;
	}
	return t->n > 0;
}

/* The walk behind both functions: writes into out when it is not NULL,
 * else returns 1 at the first change. */
static size_t walk(const char *text, size_t len, unsigned k, char *out)
{
	struct tok t;
	uint32_t map[TOK_MAX];
	size_t pos = 0, w = 0;
	while (next_token(text, len, &pos, &t, out, &w)) {
		rewrite_token(&t, k, map);
		for (size_t i = 0; i < t.n; i++) {
			if (!out && map[i]) return 1;
			if (!out) continue;
			if (map[i]) {
				w += utf8_encode(map[i], out + w);
			} else {
				memcpy(out + w, text + t.start[i], t.len[i]);
				w += t.len[i];
			}
		}
	}
	return out ? w : 0;
}

/*
 * Byte classes for the pre-check: an ASCII letter, a digit, a symbol of
 * the rules, or a byte of a multi-byte character. A token can only need
 * rewriting where two bytes of different classes touch (a digit or symbol
 * next to a letter, ASCII next to Hangul), so text without such a pair is
 * passed over at a few instructions a byte, without decoding.
 */
#define B_LETTER 1u
#define B_DIGIT 2u
#define B_SYM 4u
#define B_HIGH 8u

static unsigned char byte_class(unsigned char b)
{
	if (b >= 0x80) return B_HIGH;
	if ((b | 0x20u) >= 'a' && (b | 0x20u) <= 'z') return B_LETTER;
	if (b >= '0' && b <= '9') return B_DIGIT;
	return is_sym(b) ? B_SYM : 0;
}

static bool may_mix(const unsigned char *s, size_t len)
{
	unsigned prev = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned c = byte_class(s[i]), pair = prev | c;
		/* Two different classes side by side; HIGH with HIGH is one character. */
		if ((pair & (pair - 1)) && prev && c) return true;
		prev = c;
	}
	return false;
}

bool disguise_present(const char *text, size_t len)
{
	return text && may_mix((const unsigned char *)text, len) && walk(text, len, 1, NULL) != 0;
}

size_t disguise_rewrite(const char *text, size_t len, unsigned k, char *out)
{
	if (!text || !out) return 0;
	return walk(text, len, k, out);
}
