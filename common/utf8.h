/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 validation and decoding, strict per RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF. Every chat payload passes through
 * utf8_valid() before anything else looks at it.
 */
#ifndef CHAT_UTF8_H
#define CHAT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when s[0..len) is well-formed UTF-8 (NUL bytes are allowed). */
bool utf8_valid(const char *s, size_t len);

/*
 * Decodes one code point at s[0..len). Returns its length in bytes (1-4) and
 * stores it in *cp, or returns 0 for an ill-formed sequence (then *cp is
 * U+FFFD and the caller should skip one byte).
 */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Encodes cp into out (room for 4 bytes); returns the length, 0 if invalid. */
size_t utf8_encode(uint32_t cp, char *out);

#endif
