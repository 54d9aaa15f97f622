/* SPDX-License-Identifier: MIT */
/*
 * Strict UTF-8. The validator takes an ASCII fast path eight bytes at a time,
 * since most chat text, JSON keys and topic names are ASCII.
 */
#include "utf8.h"

#include <string.h>

/* True when b is a continuation byte (10xxxxxx). */
static bool cont(unsigned char b)
{
	return (b & 0xC0u) == 0x80u;
}

/* One branch per sequence length, no loop: the word filter, the
 * normalizer and the JSON scanner call this once per non-ASCII character. */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	*cp = 0xFFFD;
	if (len == 0) return 0;
	uint32_t c = p[0], v;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c < 0xC2) return 0; /* a continuation byte, or an overlong 2-byte lead */
	if (c < 0xE0) {
		if (len < 2 || !cont(p[1])) return 0;
		*cp = ((c & 0x1Fu) << 6) | (p[1] & 0x3Fu);
		return 2;
	}
	if (c < 0xF0) {
		if (len < 3 || !cont(p[1]) || !cont(p[2])) return 0;
		v = ((c & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
		if (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF)) return 0;
		*cp = v;
		return 3;
	}
	if (c > 0xF4 || len < 4 || !cont(p[1]) || !cont(p[2]) || !cont(p[3])) return 0;
	v = ((c & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
	if (v < 0x10000 || v > 0x10FFFF) return 0;
	*cp = v;
	return 4;
}

bool utf8_valid(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		if (len - i >= 8) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if ((w & 0x8080808080808080ull) == 0) {
				i += 8;
				continue;
			}
		}
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		uint32_t cp;
		size_t n = utf8_decode(s + i, len - i, &cp);
		if (n == 0) return false;
		i += n;
	}
	return true;
}

size_t utf8_encode(uint32_t cp, char *out)
{
	unsigned char *o = (unsigned char *)out;
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	if (cp > 0x10FFFF) return 0;
	o[0] = (unsigned char)(0xF0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}
