/* SPDX-License-Identifier: MIT */
/*
 * Reference JSON parser of the fuzz oracles (see refjson.h): recursive
 * descent over the grammar of RFC 8259 section 2-7, one function per rule,
 * written for being obviously right rather than fast.
 */
#include "refjson.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct cursor {
	const char *s;
	size_t len, i;
	int max_depth;
};

static bool parse_value(struct cursor *c, int depth, struct refjson *out);

/* ---- UTF-8 (RFC 3629, section 4) ---- */

/* Each row: a range of lead bytes, the range its second byte must be in,
 * and the length of the sequence; the other bytes are 80..BF. */
static const struct {
	unsigned char lo, hi, second_lo, second_hi, len;
} utf8_rows[] = {
	{0xC2, 0xDF, 0x80, 0xBF, 2}, {0xE0, 0xE0, 0xA0, 0xBF, 3}, {0xE1, 0xEC, 0x80, 0xBF, 3},
	{0xED, 0xED, 0x80, 0x9F, 3}, {0xEE, 0xEF, 0x80, 0xBF, 3}, {0xF0, 0xF0, 0x90, 0xBF, 4},
	{0xF1, 0xF3, 0x80, 0xBF, 4}, {0xF4, 0xF4, 0x80, 0x8F, 4},
};

/* The length of the UTF-8 character at s[0..n), or 0 when there is none. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
	if (n == 0) return 0;
	if (s[0] < 0x80) return 1;
	for (size_t r = 0; r < sizeof(utf8_rows) / sizeof(utf8_rows[0]); r++) {
		if (s[0] < utf8_rows[r].lo || s[0] > utf8_rows[r].hi) continue;
		size_t len = utf8_rows[r].len;
		if (n < len || s[1] < utf8_rows[r].second_lo || s[1] > utf8_rows[r].second_hi) return 0;
		for (size_t k = 2; k < len; k++) {
			if (s[k] < 0x80 || s[k] > 0xBF) return 0;
		}
		return len;
	}
	return 0;
}

bool refjson_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_char(p + i, n - i);
		if (k == 0) return false;
		i += k;
	}
	return true;
}

/* Writes code point cp (not a surrogate, at most 10FFFF) as UTF-8. */
static size_t utf8_put(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* ---- the grammar ---- */

static void skip_ws(struct cursor *c)
{
	while (c->i < c->len && strchr(" \t\n\r", c->s[c->i]) && c->s[c->i] != '\0') c->i++;
}

static bool at(const struct cursor *c, char ch)
{
	return c->i < c->len && c->s[c->i] == ch;
}

static bool digit_at(const struct cursor *c)
{
	return c->i < c->len && c->s[c->i] >= '0' && c->s[c->i] <= '9';
}

/* Four hex digits at s[i..]: the value, or -1. */
static long hex4(const struct cursor *c, size_t i)
{
	static const char digits[] = "0123456789abcdef0123456789ABCDEF";
	long v = 0;
	if (i > c->len || c->len - i < 4) return -1;
	for (size_t k = 0; k < 4; k++) {
		const char *d = c->s[i + k] ? strchr(digits, c->s[i + k]) : NULL;
		if (!d) return -1;
		v = v * 16 + (d - digits) % 16;
	}
	return v;
}

/* After "\u" at c->i: one code point, a surrogate pair taken together. */
static bool unicode_escape(struct cursor *c, uint32_t *cp)
{
	long hi = hex4(c, c->i);
	if (hi < 0) return false;
	c->i += 4;
	if (hi >= 0xDC00 && hi <= 0xDFFF) return false; /* a low surrogate first */
	if (hi < 0xD800 || hi > 0xDBFF) {
		*cp = (uint32_t)hi;
		return true;
	}
	if (c->len - c->i < 6 || c->s[c->i] != '\\' || c->s[c->i + 1] != 'u') return false;
	long lo = hex4(c, c->i + 2);
	if (lo < 0xDC00 || lo > 0xDFFF) return false;
	c->i += 6;
	*cp = 0x10000u + (((uint32_t)hi - 0xD800u) << 10) + ((uint32_t)lo - 0xDC00u);
	return true;
}

/* string = quotation-mark *char quotation-mark; decoded into a new buffer. */
static bool parse_string(struct cursor *c, char **out, size_t *out_len)
{
	static const char simple[] = "\"\\/bfnrt", meaning[] = "\"\\/\b\f\n\r\t";
	if (!at(c, '"')) return false;
	c->i++;
	/* Decoding never grows the text: an escape of 2, 6 or 12 bytes gives
	 * at most 1, 3 or 4. */
	char *buf = malloc(c->len - c->i + 1);
	size_t o = 0;
	if (!buf) abort();
	for (;;) {
		if (c->i >= c->len) break;
		unsigned char ch = (unsigned char)c->s[c->i];
		if (ch == '"') {
			c->i++;
			buf[o] = '\0';
			*out = buf;
			*out_len = o;
			return true;
		}
		if (ch < 0x20) break;
		if (ch == '\\') {
			if (c->i + 1 >= c->len) break;
			char e = c->s[c->i + 1];
			c->i += 2;
			if (e == 'u') {
				uint32_t cp;
				if (!unicode_escape(c, &cp)) break;
				o += utf8_put(cp, buf + o);
				continue;
			}
			const char *k = e ? strchr(simple, e) : NULL;
			if (!k) break;
			buf[o++] = meaning[k - simple];
			continue;
		}
		size_t n = utf8_char((const unsigned char *)c->s + c->i, c->len - c->i);
		if (n == 0) break;
		memcpy(buf + o, c->s + c->i, n);
		o += n;
		c->i += n;
	}
	free(buf);
	return false;
}

/* number = [ minus ] int [ frac ] [ exp ] */
static bool parse_number(struct cursor *c)
{
	if (at(c, '-')) c->i++;
	if (at(c, '0')) {
		c->i++;
	} else {
		if (!digit_at(c)) return false;
		while (digit_at(c)) c->i++;
	}
	if (at(c, '.')) {
		c->i++;
		if (!digit_at(c)) return false;
		while (digit_at(c)) c->i++;
	}
	if (at(c, 'e') || at(c, 'E')) {
		c->i++;
		if (at(c, '+') || at(c, '-')) c->i++;
		if (!digit_at(c)) return false;
		while (digit_at(c)) c->i++;
	}
	return true;
}

static struct refjson *add_item(struct refjson *v)
{
	struct refjson *items = realloc(v->items, (v->count + 1) * sizeof(*items));
	if (!items) abort();
	v->items = items;
	memset(&items[v->count], 0, sizeof(items[0]));
	return &items[v->count++];
}

static void free_inside(struct refjson *v)
{
	for (size_t i = 0; i < v->count; i++) free_inside(&v->items[i]);
	free(v->items);
	free(v->str);
	free(v->key);
}

/* array = begin-array [ value *( value-separator value ) ] end-array, and
 * object likewise with members (close is ']' or '}'). */
static bool parse_container(struct cursor *c, int depth, char close, struct refjson *v)
{
	if (depth >= c->max_depth) return false;
	c->i++;
	skip_ws(c);
	if (at(c, close)) {
		c->i++;
		return true;
	}
	for (;;) {
		skip_ws(c);
		struct refjson *item = add_item(v);
		if (close == '}') {
			item->key_span = c->s + c->i;
			if (!parse_string(c, &item->key, &item->key_len)) return false;
			item->key_span_len = (size_t)(c->s + c->i - item->key_span);
			skip_ws(c);
			if (!at(c, ':')) return false;
			c->i++;
		}
		if (!parse_value(c, depth + 1, item)) return false;
		skip_ws(c);
		if (at(c, ',')) {
			c->i++;
			continue;
		}
		if (!at(c, close)) return false;
		c->i++;
		return true;
	}
}

static bool literal(struct cursor *c, const char *word)
{
	size_t n = strlen(word);
	if (c->len - c->i < n || memcmp(c->s + c->i, word, n) != 0) return false;
	c->i += n;
	return true;
}

/* value = false / null / true / object / array / number / string, with
 * the white space before it. Keeps the member name already in out. */
static bool parse_value(struct cursor *c, int depth, struct refjson *out)
{
	skip_ws(c);
	if (c->i >= c->len) return false;
	size_t start = c->i;
	bool ok;
	switch (c->s[c->i]) {
	case '{': out->type = REFJSON_OBJECT, ok = parse_container(c, depth, '}', out); break;
	case '[': out->type = REFJSON_ARRAY, ok = parse_container(c, depth, ']', out); break;
	case '"': out->type = REFJSON_STRING, ok = parse_string(c, &out->str, &out->str_len); break;
	case 't': out->type = REFJSON_TRUE, ok = literal(c, "true"); break;
	case 'f': out->type = REFJSON_FALSE, ok = literal(c, "false"); break;
	case 'n': out->type = REFJSON_NULL, ok = literal(c, "null"); break;
	default: out->type = REFJSON_NUMBER, ok = parse_number(c); break;
	}
	out->span = c->s + start;
	out->span_len = c->i - start;
	return ok;
}

struct refjson *refjson_parse(const char *buf, size_t len, int max_depth)
{
	struct cursor c = {buf, len, 0, max_depth};
	struct refjson *v = calloc(1, sizeof(*v));
	if (!v) abort();
	bool ok = parse_value(&c, 0, v);
	skip_ws(&c);
	if (ok && c.i == len) return v;
	refjson_free(v);
	return NULL;
}

void refjson_free(struct refjson *v)
{
	if (!v) return;
	free_inside(v);
	free(v);
}

const struct refjson *refjson_get(const struct refjson *v, const char *name, size_t n)
{
	if (!v || v->type != REFJSON_OBJECT) return NULL;
	for (size_t i = 0; i < v->count; i++) {
		if (v->items[i].key_len == n && memcmp(v->items[i].key, name, n) == 0) return &v->items[i];
	}
	return NULL;
}

const struct refjson *refjson_member(const struct refjson *v, const char *name)
{
	return refjson_get(v, name, strlen(name));
}

bool refjson_has_nul(const struct refjson *v)
{
	if (v->key && memchr(v->key, '\0', v->key_len)) return true;
	if (v->str && memchr(v->str, '\0', v->str_len)) return true;
	for (size_t i = 0; i < v->count; i++) {
		if (refjson_has_nul(&v->items[i])) return true;
	}
	return false;
}

bool refjson_number_longer(const struct refjson *v, size_t n)
{
	if (v->type == REFJSON_NUMBER && v->span_len > n) return true;
	for (size_t i = 0; i < v->count; i++) {
		if (refjson_number_longer(&v->items[i], n)) return true;
	}
	return false;
}
