/* SPDX-License-Identifier: MIT */
/*
 * The fuzz targets' reference JSON parser: RFC 8259 read as plainly as it
 * is written, with RFC 3629 UTF-8 inside strings, no lone surrogates, and
 * a nesting limit. It builds a tree (a few allocations per value, which
 * the product's scanner avoids) and decodes every string with its length,
 * so an escaped U+0000 stays visible where cJSON cuts the string short.
 * It shares no code with common/json.c, which it checks, nor with cJSON.
 */
#ifndef CHAT_FUZZ_REFJSON_H
#define CHAT_FUZZ_REFJSON_H

#include <stdbool.h>
#include <stddef.h>

enum refjson_type {
	REFJSON_NULL,
	REFJSON_FALSE,
	REFJSON_TRUE,
	REFJSON_NUMBER,
	REFJSON_STRING,
	REFJSON_ARRAY,
	REFJSON_OBJECT,
};

struct refjson {
	enum refjson_type type;
	const char *span;       /* the value's text in the input (strings with their quotes) */
	size_t span_len;
	char *str;              /* REFJSON_STRING: decoded bytes, NUL after them; owned */
	size_t str_len;
	char *key;              /* a member of an object: its decoded name, NUL after it; owned */
	size_t key_len;
	const char *key_span;   /* the name's text in the input, with its quotes */
	size_t key_span_len;
	struct refjson *items;  /* array items or object members, in order; owned */
	size_t count;
};

/*
 * Parses buf[0..len) as one JSON value with optional white space around
 * it, containers nested at most max_depth deep. Returns a tree to free
 * with refjson_free, or NULL when the text is not such a value.
 */
struct refjson *refjson_parse(const char *buf, size_t len, int max_depth);
void refjson_free(struct refjson *v);

/* The first member of object v whose name is exactly name[0..n), or NULL. */
const struct refjson *refjson_get(const struct refjson *v, const char *name, size_t n);
/* refjson_get for a C string name. */
const struct refjson *refjson_member(const struct refjson *v, const char *name);

/* True when a string or a member name anywhere in v holds U+0000. */
bool refjson_has_nul(const struct refjson *v);
/* True when the longest number anywhere in v is longer than n characters. */
bool refjson_number_longer(const struct refjson *v, size_t n);

/* True when s[0..n) is UTF-8 as RFC 3629 defines it (no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
bool refjson_utf8_valid(const char *s, size_t n);

#endif
