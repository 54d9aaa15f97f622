/* SPDX-License-Identifier: MIT */
/*
 * Recursive-descent JSON validator (RFC 8259) with a depth limit, so a
 * hostile payload of nested brackets cannot exhaust the broker's stack.
 */
#include "json.h"

#include <stdint.h>
#include <string.h>

#include "chat_err.h"
#include "json_bytes.h"
#include "utf8.h"

struct scan {
	const char *s;
	size_t len;
	size_t i;
	bool no_nul;  /* json_check_cstrings: a string may not decode to U+0000 */
	bool saw_nul; /* ...and one did */
	bool escaped; /* the last string scanned held an escape */
};

static int scan_value(struct scan *sc, int depth, struct json_span *out);

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Inline, and one test when there is no white space (compact JSON, the
 * common case between a message's tokens). */
static inline void skip_ws(struct scan *sc)
{
	while (sc->i < sc->len && (unsigned char)sc->s[sc->i] <= ' ' && is_ws(sc->s[sc->i])) sc->i++;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* Reads 4 hex digits at s; returns the value or -1. */
static long hex4(const char *s)
{
	long v = 0;
	for (int k = 0; k < 4; k++) {
		int h = hexval(s[k]);
		if (h < 0) return -1;
		v = v * 16 + h;
	}
	return v;
}

/*
 * Decodes a \uXXXX escape (with its low surrogate when it is a high one) at
 * s[0..len), s pointing after the backslash-u. Returns the bytes consumed
 * after "\u" and the code point in *cp, or 0 when malformed.
 */
static size_t unicode_escape(const char *s, size_t len, unsigned long *cp)
{
	if (len < 4) return 0;
	long hi = hex4(s);
	if (hi < 0) return 0;
	if (hi >= 0xDC00 && hi <= 0xDFFF) return 0;
	if (hi < 0xD800 || hi > 0xDBFF) {
		*cp = (unsigned long)hi;
		return 4;
	}
	if (len < 10 || s[4] != '\\' || s[5] != 'u') return 0;
	long lo = hex4(s + 6);
	if (lo < 0xDC00 || lo > 0xDFFF) return 0;
	*cp = 0x10000ul + (((unsigned long)hi - 0xD800ul) << 10) + ((unsigned long)lo - 0xDC00ul);
	return 10;
}

/* Bytes a JSON string cannot hold as they are (1), and bytes above 0x7F (2). */
static const unsigned char byte_class[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

/* Word-at-a-time steps, then one last step over the final word-sized
 * window, overlapping bytes already passed (so none of its flagged bytes
 * lies before i): no byte-by-byte tail once n is a word or more. */
size_t json_plain_prefix(const char *s, size_t n, bool ascii)
{
	size_t i = 0;
#if JSON_SSE2
	if (n >= 16) {
		for (; n - i >= 16; i += 16) {
			__m128i v = _mm_loadu_si128((const void *)(s + i));
			unsigned odd = json_odd16(v) | (ascii ? (unsigned)_mm_movemask_epi8(v) : 0u);
			if (odd) return i + (size_t)__builtin_ctz(odd);
		}
		if (i == n) return n;
		__m128i v = _mm_loadu_si128((const void *)(s + n - 16));
		unsigned odd = json_odd16(v) | (ascii ? (unsigned)_mm_movemask_epi8(v) : 0u);
		return odd ? n - 16 + (size_t)__builtin_ctz(odd) : n;
	}
#endif
#if JSON_SWAR
	if (n >= 8) {
		for (; n - i >= 8; i += 8) {
			uint64_t odd = json_odd8(json_load8(s + i), ascii);
			if (odd) return i + (size_t)__builtin_ctzll(odd) / 8;
		}
		uint64_t odd = i == n ? 0 : json_odd8(json_load8(s + n - 8), ascii);
		return odd ? n - 8 + (size_t)__builtin_ctzll(odd) / 8 : n;
	}
#endif
	unsigned stop = ascii ? 3u : 1u;
	while (i < n && !(byte_class[(unsigned char)s[i]] & stop)) i++;
	return i;
}

/* A valid 3-byte UTF-8 character whose lead byte rules out overlong forms
 * and surrogates by itself (E1..EF, ED only below A0): Hangul and CJK, the
 * bulk of non-Latin chat text, checked inline; utf8_decode does the rest. */
static bool common_3byte(const char *s, size_t left)
{
	const unsigned char *p = (const unsigned char *)s;
	return left >= 3 && p[0] >= 0xE1 && p[0] <= 0xEF && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 &&
	       (p[0] != 0xED || p[1] < 0xA0);
}

/* The length of the valid UTF-8 character at sc->i (a byte above 0x7F), 0
 * when there is none. */
static size_t non_ascii_char(const struct scan *sc)
{
	uint32_t cp;
	if (common_3byte(sc->s + sc->i, sc->len - sc->i)) return 3;
	return utf8_decode(sc->s + sc->i, sc->len - sc->i, &cp);
}

/* The escape at sc->i (a backslash), stepped over when valid. */
static int scan_escape(struct scan *sc)
{
	if (sc->i + 1 >= sc->len) return CHAT_ERR_JSON;
	char e = sc->s[sc->i + 1];
	if (e == 'u') {
		unsigned long cp;
		size_t n = unicode_escape(sc->s + sc->i + 2, sc->len - sc->i - 2, &cp);
		if (n == 0) return CHAT_ERR_JSON;
		if (cp == 0 && sc->no_nul) {
			sc->saw_nul = true;
			return CHAT_ERR_JSON;
		}
		sc->i += 2 + n;
		return CHAT_OK;
	}
	if (e == '\0' || !strchr("\"\\/bfnrt", e)) return CHAT_ERR_JSON;
	sc->i += 2;
	return CHAT_OK;
}

#if JSON_SSE2
/* 0xFF in each byte of v above b (unsigned), given vs, v with each byte's
 * top bit flipped: a signed compare then orders bytes as unsigned ones. */
static inline __m128i above(__m128i vs, int b)
{
	return _mm_cmpgt_epi8(vs, _mm_set1_epi8((char)(b ^ 0x80)));
}

/*
 * The UTF-8 of one block of the scan: v's bytes (bit k of a mask is byte
 * shift + k) start at a character boundary; hi marks those above 0x7F and
 * lim the ones that count (up to the string's first stop byte). Returns
 * how far the next block starts (16, or the lead byte of a character cut
 * off by the block's end), or 0 when the bytes need the byte-by-byte check:
 * a lead byte without its continuation bytes or one of those without its
 * lead, ED followed by A0-BF (a surrogate), and the lead bytes with range
 * rules of their own or none valid (C0, C1, E0, F0-FF), rare in chat text.
 * Continuation bytes are where the lead bytes say, exactly when the places
 * the leads claim are the continuation bytes. Hangul (EA-ED) and CJK pass
 * here, 16 bytes at a time.
 */
static inline unsigned block_utf8(__m128i v, unsigned hi, unsigned lim, unsigned shift)
{
	__m128i vs = _mm_xor_si128(v, _mm_set1_epi8((char)0x80));
	unsigned lead = (unsigned)_mm_movemask_epi8(above(vs, 0xBF)) >> shift;
	unsigned lead3 = (unsigned)_mm_movemask_epi8(above(vs, 0xDF)) >> shift;
	__m128i rare = _mm_or_si128(above(vs, 0xEF), _mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xE0)));
	rare = _mm_or_si128(rare, _mm_cmpeq_epi8(_mm_or_si128(v, _mm_set1_epi8(1)), _mm_set1_epi8((char)0xC1)));
	__m128i sur = _mm_slli_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xED)), 1);
	rare = _mm_or_si128(rare, _mm_and_si128(sur, above(vs, 0x9F)));
	unsigned expect = (lead << 1) | (lead3 << 2); /* where continuation bytes go */
	unsigned bad = (expect ^ (hi & ~lead)) | ((unsigned)_mm_movemask_epi8(rare) >> shift);
	if (bad & lim) return 0;
	return expect >> 16 ? 31u - (unsigned)__builtin_clz(lead) : 16u;
}

/* Byte by byte from sc->i to end or the first byte that stops a plain run
 * ('"', '\', a control byte), whichever comes first, one character at a
 * time: for the blocks block_utf8 leaves to it. */
static int scan_chars(struct scan *sc, size_t end)
{
	while (sc->i < end) {
		unsigned char c = (unsigned char)sc->s[sc->i];
		if (byte_class[c] & 1) return CHAT_OK;
		size_t n = c < 0x80 ? 1 : non_ascii_char(sc);
		if (n == 0) return CHAT_ERR_JSON;
		sc->i += n;
	}
	return CHAT_OK;
}

/* The 16 bytes from i on, or when fewer are left, the input's last 16
 * with *shift set to the count of those before i (never a read past the
 * end); an input under 16 bytes is copied, zeros after it. */
static inline __m128i load_block(const struct scan *sc, size_t i, unsigned *shift)
{
	size_t left = sc->len - i;
	*shift = 0;
	if (left >= 16) return _mm_loadu_si128((const void *)(sc->s + i));
	if (sc->len >= 16) {
		*shift = (unsigned)(16 - left);
		return _mm_loadu_si128((const void *)(sc->s + sc->len - 16));
	}
	char tail[16] = {0}; /* zero bytes stop the scan, at len or later */
	memcpy(tail, sc->s + i, left);
	return _mm_loadu_si128((const void *)tail);
}

/*
 * One block of scan_plain, v's bytes from bit shift on: 0 when it needs
 * the byte-by-byte check, else how far the next block starts, and in
 * *stop the mask of the stop bytes. One mask tests for both the stop bytes
 * and the bytes above 0x7F (a signed compare below 0x20 takes both the
 * control bytes and those); only a block with bytes above 0x7F is checked
 * for their UTF-8 form. Inline twice: with shift 0 for the blocks inside
 * the input, where the shifts then cost nothing.
 */
__attribute__((always_inline)) static inline unsigned plain_block(__m128i v, unsigned shift, unsigned *stop)
{
	__m128i odd = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
	odd = _mm_or_si128(odd, _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
	unsigned any = (unsigned)_mm_movemask_epi8(odd) >> shift;
	*stop = 0;
	if (!any) return 16;
	unsigned hi = (unsigned)_mm_movemask_epi8(v) >> shift;
	*stop = any & ~hi;
	unsigned lim = *stop ? *stop ^ (*stop - 1) : 0xFFFFu;
	return hi & lim ? block_utf8(v, hi, lim, shift) : 16;
}

/*
 * Steps sc->i over valid UTF-8 without a byte that stops a plain run, up
 * to such a byte or len (or past len in the input's last block: then the
 * caller sees the end). Each block is tested once for both: stop bytes and,
 * when it holds bytes above 0x7F, their UTF-8 form.
 */
static inline int scan_plain(struct scan *sc)
{
	size_t i = sc->i;
	for (;;) {
		unsigned shift, stop, step;
		bool last = sc->len - i <= 16;
		if (!last) {
			step = plain_block(_mm_loadu_si128((const void *)(sc->s + i)), 0, &stop);
		} else {
			__m128i v = load_block(sc, i, &shift);
			step = plain_block(v, shift, &stop);
		}
		if (step == 0) {
			size_t end = last ? sc->len : i + 16;
			sc->i = i;
			if (scan_chars(sc, end) != CHAT_OK) return CHAT_ERR_JSON;
			if (sc->i < end) return CHAT_OK;
			i = sc->i;
			continue;
		}
		if (stop) {
			sc->i = i + (size_t)__builtin_ctz(stop);
			return CHAT_OK;
		}
		if (last) {
			sc->i = sc->len;
			return CHAT_OK;
		}
		i += step;
	}
}

#if (defined(__x86_64__) || defined(__i386__)) && !defined(CHAT_JSON_NO_SSSE3)
#define JSON_SSSE3 1 /* picked at run time: __builtin_cpu_supports (CHAT_JSON_NO_SSSE3: never) */
#include <tmmintrin.h>

/*
 * The UTF-8 check by table lookups (the nibble-table method of Keiser and
 * Lemire): each byte pair (prev, cur) is looked up by prev's high nibble,
 * prev's low nibble and cur's high nibble in three 16-entry tables whose
 * bits are the errors a pair can show; a pair is bad when one bit is in
 * all three. The bits:
 */
#define U8_SHORT 0x01    /* a lead byte, then no continuation byte */
#define U8_LONG 0x02     /* ASCII, then a continuation byte */
#define U8_OVER3 0x04    /* E0 80-9F: overlong */
#define U8_LARGE 0x08    /* F4 90-BF, F5-FF 90-BF: above U+10FFFF */
#define U8_SURR 0x10     /* ED A0-BF: a surrogate */
#define U8_OVER2 0x20    /* C0-C1 80-BF: overlong */
#define U8_OVER4 0x40    /* F0 80-8F overlong, F5-FF 80-8F too large */
#define U8_TWOCONT 0x80  /* two continuation bytes: bad unless the 3rd or 4th byte */

#define U8_ANY (U8_SHORT | U8_LONG | U8_TWOCONT)  /* need no lead byte in particular */
#define U8_F5 (U8_ANY | U8_LARGE | U8_OVER4)     /* low nibble 5-F: F5-FF */
#define U8_CONT (U8_LONG | U8_TWOCONT | U8_OVER2) /* cur 80-BF */

/* The tables, by prev's high nibble, prev's low nibble, cur's high one. */
static const unsigned char u8_prev_hi[16] __attribute__((aligned(16))) = {
	U8_LONG, U8_LONG, U8_LONG, U8_LONG, U8_LONG, U8_LONG, U8_LONG, U8_LONG,
	U8_TWOCONT, U8_TWOCONT, U8_TWOCONT, U8_TWOCONT,
	U8_SHORT | U8_OVER2, U8_SHORT, U8_SHORT | U8_OVER3 | U8_SURR, U8_SHORT | U8_OVER4 | U8_LARGE,
};
static const unsigned char u8_prev_lo[16] __attribute__((aligned(16))) = {
	U8_ANY | U8_OVER2 | U8_OVER3 | U8_OVER4, U8_ANY | U8_OVER2, U8_ANY, U8_ANY, U8_ANY | U8_LARGE,
	U8_F5, U8_F5, U8_F5, U8_F5, U8_F5, U8_F5, U8_F5, U8_F5, U8_F5 | U8_SURR, U8_F5, U8_F5,
};
static const unsigned char u8_cur_hi[16] __attribute__((aligned(16))) = {
	U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT,
	U8_CONT | U8_OVER3 | U8_OVER4, U8_CONT | U8_OVER3 | U8_LARGE, U8_CONT | U8_SURR | U8_LARGE,
	U8_CONT | U8_SURR | U8_LARGE, U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT,
};
#define U8_TABLE(t) _mm_load_si128((const __m128i *)(const void *)(t))

/* The bytes of v that are wrong as UTF-8 (nonzero), p being the 16 bytes
 * before v. */
__attribute__((always_inline, target("ssse3"))) static inline __m128i utf8_errors16(__m128i v, __m128i p)
{
	const __m128i nib = _mm_set1_epi8(0x0F);
	__m128i p1 = _mm_alignr_epi8(v, p, 15);
	__m128i e = _mm_shuffle_epi8(U8_TABLE(u8_prev_hi), _mm_and_si128(_mm_srli_epi16(p1, 4), nib));
	e = _mm_and_si128(e, _mm_shuffle_epi8(U8_TABLE(u8_prev_lo), _mm_and_si128(p1, nib)));
	e = _mm_and_si128(e, _mm_shuffle_epi8(U8_TABLE(u8_cur_hi), _mm_and_si128(_mm_srli_epi16(v, 4), nib)));
	/* The 3rd byte after E0-FF and the 4th after F0-FF must be the second
	 * of two continuation bytes, and only those may be. */
	__m128i third = _mm_subs_epu8(_mm_alignr_epi8(v, p, 14), _mm_set1_epi8(0xE0 - 0x80));
	__m128i fourth = _mm_subs_epu8(_mm_alignr_epi8(v, p, 13), _mm_set1_epi8(0xF0 - 0x80));
	__m128i must = _mm_and_si128(_mm_or_si128(third, fourth), _mm_set1_epi8((char)0x80));
	return _mm_xor_si128(e, must);
}

/* A mask of the nonzero bytes of v. */
__attribute__((always_inline)) static inline unsigned nonzero16(__m128i v)
{
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128())) ^ 0xFFFFu;
}

/*
 * scan_plain 16 bytes a block, the UTF-8 checked across blocks (no block
 * restarts at a character, and the errors of the blocks before the stop
 * byte's are gathered, to be tested once): true with sc->i at the first
 * stop byte when all before it is valid UTF-8, false, sc->i as it was, for
 * all else (bad UTF-8, no stop byte, an input under 32 bytes), which
 * scan_plain then does from the same place, so that errors stay where it
 * says they are.
 */
__attribute__((always_inline, target("ssse3"))) static inline bool scan_plain_ssse3(struct scan *sc)
{
	const char *s = sc->s;
	size_t len = sc->len, i = sc->i;
	if (len < 32) return false;
	__m128i p = _mm_setzero_si128(); /* sc->i is a character boundary */
	__m128i bad = _mm_setzero_si128(), v, e;
	unsigned shift = 0, stop;
	for (;; i += 16) {
		if (len - i <= 16) { /* the input's last 16 bytes, the 16 before them */
			shift = (unsigned)(16 - (len - i));
			v = _mm_loadu_si128((const void *)(s + len - 16));
			p = _mm_loadu_si128((const void *)(s + len - 32));
			e = utf8_errors16(v, p);
			stop = json_odd16(v) >> shift << shift;
			if (!stop) return false;
			break;
		}
		v = _mm_loadu_si128((const void *)(s + i));
		e = utf8_errors16(v, p);
		stop = json_odd16(v);
		if (stop) break;
		bad = _mm_or_si128(bad, e);
		p = v;
	}
	unsigned upto = (stop ^ (stop - 1)) >> shift << shift; /* sc->i up to the stop byte */
	if (nonzero16(bad) || (nonzero16(e) & upto)) return false;
	sc->i = i - shift + (size_t)__builtin_ctz(stop);
	return true;
}
#endif
#else
/* Steps sc->i over valid UTF-8 without a byte that stops a plain run:
 * ASCII a word at a time, then each run of non-ASCII characters (words of
 * Korean, and the single spaces between them) character by character. */
static int scan_plain(struct scan *sc)
{
	for (;;) {
		sc->i += json_plain_prefix(sc->s + sc->i, sc->len - sc->i, true);
		if (sc->i >= sc->len || (unsigned char)sc->s[sc->i] < 0x80) return CHAT_OK;
		for (;;) {
			size_t n = non_ascii_char(sc);
			if (n == 0) return CHAT_ERR_JSON;
			sc->i += n;
			if (sc->i < sc->len && (unsigned char)sc->s[sc->i] >= 0x80) continue;
			if (sc->len - sc->i < 2 || sc->s[sc->i] != ' ' || (unsigned char)sc->s[sc->i + 1] < 0x80)
				break;
			sc->i++;
		}
	}
}
#endif

/* The rest of the string from sc->i on (a character boundary inside it):
 * every form of string, byte by byte where need be. */
__attribute__((noinline)) static int scan_string_rest(struct scan *sc)
{
	for (;;) {
		if (scan_plain(sc) != CHAT_OK || sc->i >= sc->len) return CHAT_ERR_JSON;
		char c = sc->s[sc->i];
		if (c == '"') {
			sc->i++;
			return CHAT_OK;
		}
		if (c != '\\' || scan_escape(sc) != CHAT_OK) return CHAT_ERR_JSON;
		sc->escaped = true;
	}
}

#if JSON_SSSE3
/* scan_string_rest with scan_plain_ssse3 first, scan_plain where it
 * declines. */
__attribute__((always_inline, target("ssse3"))) static inline int string_rest_ssse3(struct scan *sc)
{
	for (;;) {
		if ((!scan_plain_ssse3(sc) && scan_plain(sc) != CHAT_OK) || sc->i >= sc->len) return CHAT_ERR_JSON;
		char c = sc->s[sc->i];
		if (c == '"') {
			sc->i++;
			return CHAT_OK;
		}
		if (c != '\\' || scan_escape(sc) != CHAT_OK) return CHAT_ERR_JSON;
		sc->escaped = true;
	}
}

__attribute__((noinline, target("ssse3"))) static int scan_string_rest_ssse3(struct scan *sc)
{
	return string_rest_ssse3(sc);
}

/* The same compiled for AVX, for its VEX encoding of the SSSE3 code: the
 * three-operand forms spare the register copies, a fifth of the loop. */
__attribute__((noinline, target("avx"))) static int scan_string_rest_avx(struct scan *sc)
{
	return string_rest_ssse3(sc);
}
#endif

#if JSON_SSE2
/* One bit per byte of v that is '"', '\\', or below 0x20 as a signed byte:
 * the control bytes and all above 0x7F. */
static inline unsigned string_odd16(__m128i v)
{
	__m128i odd = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
	return (unsigned)_mm_movemask_epi8(_mm_or_si128(odd, _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))));
}

/* The string whose opening quote is at sc->i; sc->escaped says whether it
 * held an escape. ASCII without escapes (keys, ids, English text) is
 * stepped over here 16 bytes at a time, and the first block that holds
 * anything else goes to scan_string_rest: apart, so that this loop saves
 * no registers. */
static inline int scan_string(struct scan *sc)
{
	const char *s = sc->s;
	size_t len = sc->len, i = sc->i + 1;
	unsigned any;
	sc->escaped = false;
	/* The blocks before the input's last 16 bytes, then those: one test
	 * of where i is per block. */
	for (; len - i > 16; i += 16) {
		any = string_odd16(_mm_loadu_si128((const void *)(s + i)));
		if (any) goto found;
	}
	if (len < 16) goto rest;
	unsigned shift = (unsigned)(16 - (len - i)); /* the input's last 16 bytes */
	any = string_odd16(_mm_loadu_si128((const void *)(s + len - 16))) >> shift;
	if (!any) {
		sc->i = len; /* no closing quote: where json_check_cstrings says it stopped */
		return CHAT_ERR_JSON;
	}
found:;
	size_t at = i + (size_t)__builtin_ctz(any);
	if (s[at] == '"') {
		sc->i = at + 1;
		return CHAT_OK;
	}
rest:
	sc->i = i;
#if JSON_SSSE3
	if (__builtin_cpu_supports("avx")) return scan_string_rest_avx(sc);
	if (__builtin_cpu_supports("ssse3")) return scan_string_rest_ssse3(sc);
#endif
	return scan_string_rest(sc);
}
#else
static int scan_string(struct scan *sc)
{
	sc->i++; /* opening quote */
	sc->escaped = false;
	return scan_string_rest(sc);
}
#endif

static int scan_number(struct scan *sc)
{
	const char *s = sc->s;
	size_t i = sc->i;
	if (i < sc->len && s[i] == '-') i++;
	if (i >= sc->len) return CHAT_ERR_JSON;
	if (s[i] == '0') {
		i++;
	} else if (is_digit(s[i])) {
		while (i < sc->len && is_digit(s[i])) i++;
	} else {
		return CHAT_ERR_JSON;
	}
	if (i < sc->len && s[i] == '.') {
		i++;
		if (i >= sc->len || !is_digit(s[i])) return CHAT_ERR_JSON;
		while (i < sc->len && is_digit(s[i])) i++;
	}
	if (i < sc->len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < sc->len && (s[i] == '+' || s[i] == '-')) i++;
		if (i >= sc->len || !is_digit(s[i])) return CHAT_ERR_JSON;
		while (i < sc->len && is_digit(s[i])) i++;
	}
	sc->i = i;
	return CHAT_OK;
}

static int scan_literal(struct scan *sc, const char *word)
{
	size_t n = strlen(word);
	if (sc->len - sc->i < n || memcmp(sc->s + sc->i, word, n) != 0) return CHAT_ERR_JSON;
	sc->i += n;
	return CHAT_OK;
}

/* Scans '[' or '{' containers; close is ']' or '}'. */
static int scan_container(struct scan *sc, int depth, char close)
{
	if (depth >= JSON_MAX_DEPTH) return CHAT_ERR_JSON;
	sc->i++;
	skip_ws(sc);
	if (sc->i < sc->len && sc->s[sc->i] == close) {
		sc->i++;
		return CHAT_OK;
	}
	for (;;) {
		skip_ws(sc);
		if (close == '}') {
			if (sc->i >= sc->len || sc->s[sc->i] != '"' || scan_string(sc) != CHAT_OK) return CHAT_ERR_JSON;
			skip_ws(sc);
			if (sc->i >= sc->len || sc->s[sc->i] != ':') return CHAT_ERR_JSON;
			sc->i++;
		}
		if (scan_value(sc, depth + 1, NULL) != CHAT_OK) return CHAT_ERR_JSON;
		skip_ws(sc);
		if (sc->i >= sc->len) return CHAT_ERR_JSON;
		if (sc->s[sc->i] == ',') {
			sc->i++;
			continue;
		}
		if (sc->s[sc->i] != close) return CHAT_ERR_JSON;
		sc->i++;
		return CHAT_OK;
	}
}

static int scan_value(struct scan *sc, int depth, struct json_span *out)
{
	skip_ws(sc);
	if (sc->i >= sc->len) return CHAT_ERR_JSON;
	size_t start = sc->i;
	enum json_type type;
	int rc;
	switch (sc->s[sc->i]) {
	case '{': type = JSON_OBJECT, rc = scan_container(sc, depth, '}'); break;
	case '[': type = JSON_ARRAY, rc = scan_container(sc, depth, ']'); break;
	case '"': type = JSON_STRING, rc = scan_string(sc); break;
	case 't': type = JSON_TRUE, rc = scan_literal(sc, "true"); break;
	case 'f': type = JSON_FALSE, rc = scan_literal(sc, "false"); break;
	case 'n': type = JSON_NULL, rc = scan_literal(sc, "null"); break;
	default: type = JSON_NUMBER, rc = scan_number(sc); break;
	}
	if (rc != CHAT_OK) return rc;
	if (out) {
		out->p = sc->s + start;
		out->len = sc->i - start;
		out->type = type;
		out->plain = type == JSON_STRING && !sc->escaped;
	}
	return CHAT_OK;
}

int json_check(const char *buf, size_t len, struct json_span *out)
{
	struct scan sc = {.s = buf, .len = len};
	struct json_span v;
	if (!buf || scan_value(&sc, 0, &v) != CHAT_OK) return CHAT_ERR_JSON;
	skip_ws(&sc);
	if (sc.i != len) return CHAT_ERR_JSON;
	if (out) *out = v;
	return CHAT_OK;
}

int json_check_cstrings(const char *buf, size_t len, size_t *at)
{
	struct scan sc = {.s = buf, .len = len, .no_nul = true};
	int rc = buf ? scan_value(&sc, 0, NULL) : CHAT_ERR_JSON;
	if (rc == CHAT_OK) {
		skip_ws(&sc);
		if (sc.i != len) rc = CHAT_ERR_JSON;
	}
	if (at) *at = sc.i;
	if (rc == CHAT_OK) return CHAT_OK;
	return sc.saw_nul ? CHAT_ERR_INVAL : CHAT_ERR_JSON;
}

int json_object_foreach(const struct json_span *obj, json_member_cb cb, void *ud)
{
	if (obj->type != JSON_OBJECT) return CHAT_ERR_INVAL;
	struct scan sc = {.s = obj->p, .len = obj->len, .i = 1};
	for (;;) {
		skip_ws(&sc);
		if (sc.i >= sc.len || sc.s[sc.i] == '}') return CHAT_OK;
		struct json_span key = {sc.s + sc.i, 0, JSON_STRING, false};
		if (scan_string(&sc) != CHAT_OK) return CHAT_ERR_JSON;
		key.len = (size_t)(sc.s + sc.i - key.p);
		key.plain = !sc.escaped;
		skip_ws(&sc);
		sc.i++; /* ':' */
		struct json_span val;
		if (scan_value(&sc, 1, &val) != CHAT_OK) return CHAT_ERR_JSON;
		int rc = cb(&key, &val, ud);
		if (rc != 0) return rc;
		skip_ws(&sc);
		if (sc.i < sc.len && sc.s[sc.i] == ',') sc.i++;
	}
}

/* The index of the first byte from i on that is not white space. */
static inline size_t ws_end(const char *s, size_t len, size_t i)
{
	while (i < len && (unsigned char)s[i] <= ' ' && is_ws(s[i])) i++;
	return i;
}

/* Whether the byte at *i, after the white space there (which *i steps
 * over), is c: one compare when there is none. */
static inline bool next_is(const char *s, size_t len, size_t *i, char c)
{
	if (*i < len && s[*i] == c) return true;
	*i = ws_end(s, len, *i);
	return *i < len && s[*i] == c;
}

/* The value at sc->i (white space skipped) into *val: a string, the usual
 * member value, without the call to scan_value. */
static inline int scan_member_value(struct scan *sc, struct json_span *val)
{
	size_t start = sc->i;
	if (start >= sc->len || sc->s[start] != '"') return scan_value(sc, 1, val);
	if (scan_string(sc) != CHAT_OK) return CHAT_ERR_JSON;
	*val = (struct json_span){sc->s + start, sc->i - start, JSON_STRING, !sc->escaped};
	return CHAT_OK;
}

/*
 * The object walk keeps its index in a local, so that the white space
 * between tokens (none in compact JSON) costs a compare at each place, and
 * hands it to the scanner only for the keys and values.
 */
int json_object_parse(const char *buf, size_t len, json_member_cb cb, void *ud)
{
	struct scan sc = {.s = buf, .len = len};
	int cb_rc = 0;
	if (!buf) return CHAT_ERR_JSON;
	size_t i = 0;
	if (!next_is(buf, len, &i, '{')) return CHAT_ERR_JSON;
	i++;
	if (next_is(buf, len, &i, '}')) {
		i++;
	} else {
		for (;;) {
			struct json_span key, val;
			if (!next_is(buf, len, &i, '"')) return CHAT_ERR_JSON;
			sc.i = i;
			if (scan_string(&sc) != CHAT_OK) return CHAT_ERR_JSON;
			key = (struct json_span){buf + i, sc.i - i, JSON_STRING, !sc.escaped};
			i = sc.i;
			if (!next_is(buf, len, &i, ':')) return CHAT_ERR_JSON;
			sc.i = ws_end(buf, len, i + 1);
			if (scan_member_value(&sc, &val) != CHAT_OK) return CHAT_ERR_JSON;
			if (cb_rc == 0) cb_rc = cb(&key, &val, ud);
			i = sc.i;
			if (next_is(buf, len, &i, ',')) {
				i++;
				continue;
			}
			if (i >= len || buf[i] != '}') return CHAT_ERR_JSON;
			i++;
			break;
		}
	}
	i = ws_end(buf, len, i);
	return i == len ? cb_rc : CHAT_ERR_JSON;
}

bool json_key_is(const struct json_span *key, const char *name)
{
	size_t n = strlen(name);
	if (key->type != JSON_STRING || key->len < 2) return false;
	if (key->len == n + 2 && memcmp(key->p + 1, name, n) == 0) return true;
	if (key->plain || !memchr(key->p, '\\', key->len)) return false;
	char tmp[64];
	long got = json_string_decode(key, tmp, sizeof(tmp));
	return got >= 0 && (size_t)got == n && memcmp(tmp, name, n) == 0;
}

long json_string_decode(const struct json_span *str, char *out, size_t cap)
{
	if (str->type != JSON_STRING || str->len < 2 || cap == 0) return CHAT_ERR_JSON;
	const char *s = str->p + 1;
	size_t n = str->len - 2, o = 0;
	for (size_t i = 0; i < n;) {
		char tmp[4];
		size_t tn = 1;
		if (s[i] != '\\') {
			/* A run without escapes is copied as it is, in one go. */
			const char *bs = memchr(s + i, '\\', n - i);
			size_t run = bs ? (size_t)(bs - (s + i)) : n - i;
			if (cap - o <= run) return CHAT_ERR_TOO_LARGE;
			memcpy(out + o, s + i, run);
			o += run;
			i += run;
			continue;
		} else {
			if (i + 1 >= n) return CHAT_ERR_JSON;
			char e = s[i + 1];
			i += 2;
			switch (e) {
			case 'b': tmp[0] = '\b'; break;
			case 'f': tmp[0] = '\f'; break;
			case 'n': tmp[0] = '\n'; break;
			case 'r': tmp[0] = '\r'; break;
			case 't': tmp[0] = '\t'; break;
			case '"': case '\\': case '/': tmp[0] = e; break;
			case 'u': {
				unsigned long cp;
				size_t used = unicode_escape(s + i, n - i, &cp);
				if (used == 0) return CHAT_ERR_JSON;
				i += used;
				tn = utf8_encode((uint32_t)cp, tmp);
				if (tn == 0) return CHAT_ERR_JSON;
				break;
			}
			default: return CHAT_ERR_JSON;
			}
		}
		if (cap - o <= tn) return CHAT_ERR_TOO_LARGE;
		memcpy(out + o, tmp, tn);
		o += tn;
	}
	out[o] = '\0';
	return (long)o;
}

int json_number_i64(const struct json_span *num, long long *v)
{
	if (num->type != JSON_NUMBER || num->len == 0 || num->len > 19) return CHAT_ERR_INVAL;
	size_t i = 0;
	bool neg = num->p[0] == '-';
	if (neg) i++;
	if (i == num->len || num->len - i > 18) return CHAT_ERR_INVAL; /* 18 digits cannot overflow */
	long long r = 0;
	for (; i < num->len; i++) {
		if (!is_digit(num->p[i])) return CHAT_ERR_INVAL;
		r = r * 10 + (num->p[i] - '0');
	}
	*v = neg ? -r : r;
	return CHAT_OK;
}
