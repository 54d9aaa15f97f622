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

char *strbuf_json_escape(char *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		size_t plain = json_plain_prefix(s + i, n - i, false);
		memcpy(o, s + i, plain);
		o += plain;
		i += plain;
		if (i == n) break;
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			*o++ = (char)c;
			continue;
		}
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
