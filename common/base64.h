/* SPDX-License-Identifier: MIT */
/*
 * Base64 (RFC 4648): the url alphabet without padding for the JWTs the
 * bridge signs and the plugin checks, and the standard alphabet for the
 * salts and hashes of mosquitto_passwd files. One decoder for both: the
 * caller says which alphabet it expects, so a token cannot mix them.
 */
#ifndef CHAT_BASE64_H
#define CHAT_BASE64_H

#include <stddef.h>

enum base64_alphabet {
	BASE64_STD, /* A-Z a-z 0-9 + / */
	BASE64_URL, /* A-Z a-z 0-9 - _ */
};

/* base64url without padding of in[0..len) into out (capacity cap);
 * returns the length written (NUL-terminated), or CHAT_ERR_TOO_LARGE. */
long base64url_encode(const void *in, size_t len, char *out, size_t cap);

/* Decodes in[0..len) in alphabet a (trailing '=' padding optional) into
 * out (capacity cap); returns the decoded length, CHAT_ERR_INVAL for a
 * character outside the alphabet or an impossible length, or
 * CHAT_ERR_TOO_LARGE. */
long base64_decode(const char *in, size_t len, unsigned char *out, size_t cap, enum base64_alphabet a);

#endif
