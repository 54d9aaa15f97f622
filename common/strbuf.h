/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer, always NUL-terminated, used to write envelopes,
 * notices and replies. A buffer is meant to be reused: strbuf_reset() keeps
 * the allocation, so a caller on a hot path allocates once and then only
 * when a message is larger than any before it.
 */
#ifndef CHAT_STRBUF_H
#define CHAT_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf {
	char *buf;   /* owned; NUL-terminated when cap > 0 */
	size_t len;
	size_t cap;
	bool failed; /* set once an allocation failed; later appends are no-ops */
};

/* Zeroes sb; no allocation until the first append. */
void strbuf_init(struct strbuf *sb);
/* Frees the buffer; sb may be reused after strbuf_init(). NULL ok. */
void strbuf_free(struct strbuf *sb);
/* Empties the buffer, keeping its capacity and clearing a past failure. */
void strbuf_reset(struct strbuf *sb);
/* Makes room for n more bytes; returns 0 or CHAT_ERR_NOMEM. */
int strbuf_reserve(struct strbuf *sb, size_t n);

void strbuf_append(struct strbuf *sb, const char *s, size_t n);
void strbuf_puts(struct strbuf *sb, const char *s);
void strbuf_putc(struct strbuf *sb, char c);
void strbuf_append_u64(struct strbuf *sb, uint64_t v);
void strbuf_append_i64(struct strbuf *sb, int64_t v);
/* Appends s as a quoted JSON string, escaping what JSON requires. */
void strbuf_append_json_string(struct strbuf *sb, const char *s, size_t n);

/* The most bytes strbuf_json_escape() writes for n bytes of input (each
 * byte as \u00XX, and the quotes); n must be below SIZE_MAX / 6. */
#define STRBUF_JSON_MAX(n) ((n) * 6 + 2)
/* Writes s as a quoted JSON string at o, which has room for
 * STRBUF_JSON_MAX(n) bytes, and returns the end of what it wrote: for a
 * writer that reserves once for a whole document (no NUL is added). */
char *strbuf_json_escape(char *o, const char *s, size_t n);

/* 0 if every append so far succeeded, else CHAT_ERR_NOMEM. */
int strbuf_status(const struct strbuf *sb);

/* Hands the buffer to the caller (free() it); sb is left empty. */
char *strbuf_detach(struct strbuf *sb, size_t *len);

#endif
