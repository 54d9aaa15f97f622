/* SPDX-License-Identifier: MIT */
/*
 * Base64 encoding and decoding (see base64.h), byte by byte: the inputs
 * are a few hundred bytes at most (a JWT, a password hash).
 */
#include "base64.h"

#include <stdint.h>

#include "chat_err.h"

static const char url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

long base64url_encode(const void *in, size_t len, char *out, size_t cap)
{
	const unsigned char *p = in;
	size_t need = len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
	if (need + 1 > cap) return CHAT_ERR_TOO_LARGE;
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t left = len - i;
		if (left > 1) v |= (uint32_t)p[i + 1] << 8;
		if (left > 2) v |= p[i + 2];
		out[o++] = url_alphabet[v >> 18 & 63];
		out[o++] = url_alphabet[v >> 12 & 63];
		if (left > 1) out[o++] = url_alphabet[v >> 6 & 63];
		if (left > 2) out[o++] = url_alphabet[v & 63];
	}
	out[o] = '\0';
	return (long)o;
}

/* The 6-bit value of ch in alphabet a, or -1. */
static int value_of(unsigned char ch, enum base64_alphabet a)
{
	if (ch >= 'A' && ch <= 'Z') return ch - 'A';
	if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9') return ch - '0' + 52;
	if (ch == (a == BASE64_URL ? '-' : '+')) return 62;
	if (ch == (a == BASE64_URL ? '_' : '/')) return 63;
	return -1;
}

long base64_decode(const char *in, size_t len, unsigned char *out, size_t cap, enum base64_alphabet a)
{
	while (len && in[len - 1] == '=') len--;
	if (len % 4 == 1) return CHAT_ERR_INVAL;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = value_of((unsigned char)in[i], a);
		if (v < 0) return CHAT_ERR_INVAL;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap) return CHAT_ERR_TOO_LARGE;
			out[o++] = (unsigned char)(acc >> bits & 0xff);
		}
	}
	return (long)o;
}
