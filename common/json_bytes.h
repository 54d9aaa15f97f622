/* SPDX-License-Identifier: MIT */
/*
 * Private to json.c, strbuf.c and envelope.c: the bytes a JSON string
 * cannot hold as they are (control bytes, '"', '\'), found 16 bytes at a
 * time with SSE2 (baseline on x86-64) or 8 at a time in a 64-bit word
 * elsewhere. The scanner and the writer of strings step over runs of such
 * plain bytes; keeping the tests here, inline, lets each loop be a few
 * instructions. Defining CHAT_JSON_PORTABLE turns the SSE2 code off (build
 * the unit tests with it to test the portable code).
 */
#ifndef CHAT_JSON_BYTES_H
#define CHAT_JSON_BYTES_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) && !defined(CHAT_JSON_PORTABLE)
#define JSON_SSE2 1
#include <emmintrin.h>
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define JSON_SWAR 1 /* word tests find the lowest flagged byte first */
#endif

#define JSON_BYTES_01 0x0101010101010101ull
#define JSON_BYTES_80 0x8080808080808080ull

/* The top bit of each byte of v that is zero (exact as to whether any is). */
static inline uint64_t json_zero_bytes(uint64_t v)
{
	return (v - JSON_BYTES_01) & ~v & JSON_BYTES_80;
}

/* The top bit of each byte of w that a JSON string cannot hold as it is
 * and, when ascii, of each byte above 0x7F too. Only the lowest flagged
 * byte is exact (borrows run upwards), and it is the only one used. */
static inline uint64_t json_odd8(uint64_t w, bool ascii)
{
	uint64_t odd = ((w - JSON_BYTES_01 * 0x20) & ~w) | json_zero_bytes(w ^ (JSON_BYTES_01 * '"')) |
		       json_zero_bytes(w ^ (JSON_BYTES_01 * '\\'));
	return (ascii ? odd | w : odd) & JSON_BYTES_80;
}

static inline uint64_t json_load8(const char *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
	return w;
}

#if JSON_SSE2
/* One bit per byte of v that is a control byte, '"' or '\'. */
static inline unsigned json_odd16(__m128i v)
{
	__m128i special = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
	/* v < 0x20 (unsigned) exactly when min(v, 0x1F) is v. */
	__m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
	return (unsigned)_mm_movemask_epi8(_mm_or_si128(special, ctl));
}
#endif

#endif
