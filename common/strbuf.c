/* SPDX-License-Identifier: MIT */
/*
 * Growable buffer. Appends never fail loudly: an allocation failure sets a
 * sticky flag that the caller checks once at the end with strbuf_status(),
 * which keeps writers of long JSON documents free of per-call error checks.
 */
#include "strbuf.h"

#include <stdlib.h>
#include <string.h>

#include "chat_err.h"
#include "json.h"
#include "json_bytes.h"

void strbuf_init(struct strbuf *sb)
{
	memset(sb, 0, sizeof(*sb));
}

void strbuf_free(struct strbuf *sb)
{
	if (!sb) return;
	free(sb->buf);
	memset(sb, 0, sizeof(*sb));
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->failed = false;
	if (sb->buf) sb->buf[0] = '\0';
}

int strbuf_reserve(struct strbuf *sb, size_t n)
{
	if (sb->failed) return CHAT_ERR_NOMEM;
	if (sb->cap > sb->len && n < sb->cap - sb->len) return CHAT_OK; /* room for n + NUL */
	size_t want = sb->len + n + 1;
	if (want < sb->len) {
		sb->failed = true;
		return CHAT_ERR_NOMEM;
	}
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < want) {
		if (cap > SIZE_MAX / 2) {
			cap = want;
			break;
		}
		cap *= 2;
	}
	char *p = realloc(sb->buf, cap);
	if (!p) {
		sb->failed = true;
		return CHAT_ERR_NOMEM;
	}
	sb->buf = p;
	sb->cap = cap;
	return CHAT_OK;
}

void strbuf_append(struct strbuf *sb, const char *s, size_t n)
{
	if (strbuf_reserve(sb, n) != CHAT_OK) return;
	if (n) memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void strbuf_puts(struct strbuf *sb, const char *s)
{
	strbuf_append(sb, s, strlen(s));
}

void strbuf_putc(struct strbuf *sb, char c)
{
	strbuf_append(sb, &c, 1);
}

void strbuf_append_u64(struct strbuf *sb, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	strbuf_append(sb, tmp + i, sizeof(tmp) - i);
}

void strbuf_append_i64(struct strbuf *sb, int64_t v)
{
	if (v < 0) {
		strbuf_putc(sb, '-');
		strbuf_append_u64(sb, (uint64_t)0 - (uint64_t)v);
	} else {
		strbuf_append_u64(sb, (uint64_t)v);
	}
}

void strbuf_append_json_string(struct strbuf *sb, const char *s, size_t n)
{
	/* Worst case every byte becomes \u00XX: reserve once, then write. */
	if (n > (SIZE_MAX - 2) / 6 || strbuf_reserve(sb, STRBUF_JSON_MAX(n)) != CHAT_OK) {
		sb->failed = true;
		return;
	}
	char *o = strbuf_json_escape(sb->buf + sb->len, s, n);
	sb->len = (size_t)(o - sb->buf);
	sb->buf[sb->len] = '\0';
}

#if JSON_SSE2
/*
 * Copies s[0..n) to o when none of its bytes needs an escape and returns
 * true, else returns false (and o holds some of the bytes). A string with
 * nothing to escape (nearly every one) is read once, tested and stored 16
 * bytes at a time; the last block overlaps the one before rather than going
 * byte by byte, and a string under 16 bytes is loaded as two overlapping
 * halves (or, under 4, as its first, middle and last bytes), so no load or
 * store leaves s[0..n) or o[0..n).
 */
__attribute__((always_inline)) static inline bool copy_plain(char *o, const char *s, size_t n)
{
	__m128i v;
	if (n >= 16) {
		size_t i = 0;
		for (; n - i > 16; i += 16) {
			v = _mm_loadu_si128((const void *)(s + i));
			_mm_storeu_si128((void *)(o + i), v);
			if (json_odd16(v)) return false;
		}
		v = _mm_loadu_si128((const void *)(s + n - 16));
		_mm_storeu_si128((void *)(o + n - 16), v);
		return !json_odd16(v);
	}
	if (n >= 8) {
		__m128i a = _mm_loadl_epi64((const void *)s), b = _mm_loadl_epi64((const void *)(s + n - 8));
		if (json_odd16(_mm_unpacklo_epi64(a, b))) return false;
		_mm_storel_epi64((void *)o, a);
		_mm_storel_epi64((void *)(o + n - 8), b);
		return true;
	}
	uint32_t a, b;
	if (n >= 4) {
		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
	} else if (n > 0) {
		a = (unsigned char)s[0] | (unsigned)(unsigned char)s[n / 2] << 8 | (unsigned)(unsigned char)s[n - 1] << 16;
		a |= a << 24 & 0xFF000000u;
		b = a;
	} else {
		return true;
	}
	v = _mm_unpacklo_epi32(_mm_cvtsi32_si128((int)a), _mm_cvtsi32_si128((int)b));
	if (json_odd16(_mm_unpacklo_epi64(v, v))) return false;
	if (n >= 4) {
		memcpy(o, &a, 4);
		memcpy(o + n - 4, &b, 4);
	} else {
		o[0] = s[0];
		o[n / 2] = s[n / 2];
		o[n - 1] = s[n - 1];
	}
	return true;
}
#else
static bool copy_plain(char *o, const char *s, size_t n)
{
	size_t plain = json_plain_prefix(s, n, false);
	memcpy(o, s, plain);
	return plain == n;
}
#endif

/* s[0..n) escaped, and the closing quote: for the strings copy_plain does
 * not take, apart from strbuf_json_escape so that its usual path saves no
 * registers. */
__attribute__((noinline)) static char *escape_all(char *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		size_t plain = json_plain_prefix(s + i, n - i, false);
		memcpy(o, s + i, plain);
		o += plain;
		i += plain;
		if (i == n) break;
		unsigned char c = (unsigned char)s[i]; /* a control byte, '"' or '\\' */
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o++ = '"';
	return o;
}

char *strbuf_json_escape(char *o, const char *s, size_t n)
{
	*o++ = '"';
	if (!copy_plain(o, s, n)) return escape_all(o, s, n);
	o[n] = '"';
	return o + n + 1;
}

int strbuf_status(const struct strbuf *sb)
{
	return sb->failed ? CHAT_ERR_NOMEM : CHAT_OK;
}

char *strbuf_detach(struct strbuf *sb, size_t *len)
{
	char *p = sb->buf;
	if (len) *len = sb->len;
	if (!p) p = calloc(1, 1);
	memset(sb, 0, sizeof(*sb));
	return p;
}
