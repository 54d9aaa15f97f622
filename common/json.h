/* SPDX-License-Identifier: MIT */
/*
 * A small validating JSON scanner for the per-message path, where building a
 * cJSON tree for every message would cost allocations. It never copies: it
 * reports spans of the input. Use cJSON for commands and configuration.
 */
#ifndef CHAT_JSON_H
#define CHAT_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_MAX_DEPTH 32

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

/* A slice of the input: for strings it includes the quotes. */
struct json_span {
	const char *p;
	size_t len;
	enum json_type type;
	/* A string the scanner found without escapes: its value is the bytes
	 * between the quotes (valid UTF-8, no control byte). false when it has
	 * escapes or is not known not to (a span made by hand). */
	bool plain;
};

/*
 * Checks that buf[0..len) holds exactly one JSON value, with optional white
 * space around it, nested at most JSON_MAX_DEPTH deep. Strings must hold
 * valid UTF-8 and valid escapes. Returns 0 and the value's span in *out
 * (may be NULL), or CHAT_ERR_JSON.
 */
int json_check(const char *buf, size_t len, struct json_span *out);

/*
 * json_check for JSON that is handed to cJSON or any other reader of C
 * strings, which would cut a string at an escaped U+0000 ("\u0000") and
 * so read "bob\u0000x" as "bob". Returns 0; CHAT_ERR_INVAL when a string
 * (a member name included) decodes to hold U+0000; CHAT_ERR_JSON when the
 * text is not valid JSON. *at (may be NULL) gets the byte offset where
 * the check stopped (len on success), for error messages.
 */
int json_check_cstrings(const char *buf, size_t len, size_t *at);

/*
 * Calls cb for each member of the object span obj (as returned by
 * json_check, so already valid). Stops early and returns cb's value when it
 * is non-zero; returns 0 after the last member.
 */
typedef int (*json_member_cb)(const struct json_span *key, const struct json_span *value, void *ud);
int json_object_foreach(const struct json_span *obj, json_member_cb cb, void *ud);

/*
 * json_check and json_object_foreach in one walk, for the per-message path:
 * checks that buf[0..len) holds exactly one JSON object (white space around
 * it allowed, same rules as json_check) and calls cb for each of its
 * members while walking. After a non-zero return from cb no more members
 * are reported, but the rest is still checked. Returns CHAT_ERR_JSON when
 * the text is not such an object (even if cb failed first), else cb's
 * first non-zero value, else 0.
 */
int json_object_parse(const char *buf, size_t len, json_member_cb cb, void *ud);

/*
 * The length of the longest prefix of s[0..n) that stands in a JSON string
 * as it is: no control character, quote or backslash, and, when ascii, no
 * byte above 0x7F either. Steps 16 or 8 bytes at a time: chat text is
 * mostly such runs.
 */
size_t json_plain_prefix(const char *s, size_t n, bool ascii);

/* True when the string span key decodes to exactly name (ASCII names). */
bool json_key_is(const struct json_span *key, const char *name);

/*
 * Decodes the string span str into out (capacity cap, NUL-terminated).
 * Returns the decoded length (>= 0), CHAT_ERR_TOO_LARGE if it does not fit,
 * or CHAT_ERR_JSON if str is not a valid string span. The result may hold
 * U+0000 if the input escaped it; callers that need C strings reject that.
 */
long json_string_decode(const struct json_span *str, char *out, size_t cap);

/*
 * Parses the number span num as a signed integer without fraction or
 * exponent. Returns 0 and *v, or CHAT_ERR_INVAL.
 */
int json_number_i64(const struct json_span *num, long long *v);

#endif
