/* SPDX-License-Identifier: MIT */
/*
 * A stored message's messenger state, as history and the chat list show
 * it: the reply it answers, whom it mentions, when it was last edited,
 * whether it is a tombstone, and its reactions counted by reaction (the
 * document holds {user: reaction}, change.c).
 */
#include <stdio.h>
#include <string.h>

#include "bridge.h"
#include "chat_err.h"
#include "envelope.h"

/* The string field key of doc, or NULL. */
static const char *doc_str(const bson_t *doc, const char *key, uint32_t *len)
{
	bson_iter_t it;
	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it)) return NULL;
	return bson_iter_utf8(&it, len);
}

/* Counts the values of a stored "reactions" object {user: reaction} by
 * reaction, as the JSON object {"<reaction>":count} into out (empty when
 * there are none). A message has few distinct reactions: a linear table
 * is enough. */
static void count_reactions(bson_iter_t *arr, struct strbuf *out)
{
	enum { DISTINCT = 32 };
	const char *name[DISTINCT];
	uint32_t len[DISTINCT];
	long count[DISTINCT];
	size_t n = 0;
	while (bson_iter_next(arr)) {
		if (!BSON_ITER_HOLDS_UTF8(arr)) continue;
		uint32_t l;
		const char *s = bson_iter_utf8(arr, &l);
		size_t i = 0;
		while (i < n && !(len[i] == l && memcmp(name[i], s, l) == 0)) i++;
		if (i == n && n == DISTINCT) continue;
		if (i == n) name[n] = s, len[n] = l, count[n++] = 0;
		count[i]++;
	}
	if (n == 0) return;
	strbuf_putc(out, '{');
	for (size_t i = 0; i < n; i++) {
		if (i) strbuf_putc(out, ',');
		strbuf_append_json_string(out, name[i], len[i]);
		strbuf_putc(out, ':');
		strbuf_append_i64(out, count[i]);
	}
	strbuf_putc(out, '}');
}

void msgstate_fields(const bson_t *doc, struct envelope *e, struct strbuf *reactions, struct strbuf *mentions)
{
	bson_iter_t it, arr;
	e->reply = doc_str(doc, "reply", NULL);
	if (bson_iter_init_find(&it, doc, "mentions") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &arr)) {
		while (bson_iter_next(&arr)) {
			uint32_t l;
			if (!BSON_ITER_HOLDS_UTF8(&arr)) continue;
			const char *s = bson_iter_utf8(&arr, &l);
			strbuf_putc(mentions, mentions->len ? ',' : '[');
			strbuf_append_json_string(mentions, s, l);
		}
		if (mentions->len) strbuf_putc(mentions, ']');
		if (mentions->len && strbuf_status(mentions) == CHAT_OK) {
			e->mentions = mentions->buf;
			e->mentions_len = mentions->len;
		}
	}
	if (bson_iter_init_find(&it, doc, "edited") && BSON_ITER_HOLDS_DATE_TIME(&it)) e->edited = bson_iter_date_time(&it);
	e->deleted = bson_iter_init_find(&it, doc, "deleted") && bson_iter_as_bool(&it);
	if (!e->deleted && bson_iter_init_find(&it, doc, "reactions") && BSON_ITER_HOLDS_DOCUMENT(&it) &&
	    bson_iter_recurse(&it, &arr)) {
		count_reactions(&arr, reactions);
		if (reactions->len > 0 && strbuf_status(reactions) == CHAT_OK) {
			e->reactions = reactions->buf;
			e->reactions_len = reactions->len;
		}
	}
}

bool msgstate_append_mentions(bson_t *doc, const struct json_span *arr)
{
	char json[4096];
	bson_error_t err;
	bson_t wrap, inner;
	bson_iter_t it;
	int n = snprintf(json, sizeof(json), "{\"m\":%.*s}", (int)arr->len, arr->p);
	if (n < 0 || (size_t)n >= sizeof(json)) return true; /* the plugin never writes so many: leave it out */
	if (!bson_init_from_json(&wrap, json, n, &err)) return false;
	bool ok = bson_iter_init_find(&it, &wrap, "m") && BSON_ITER_HOLDS_ARRAY(&it);
	if (ok) {
		const uint8_t *raw;
		uint32_t len;
		bson_iter_array(&it, &len, &raw);
		ok = bson_init_static(&inner, raw, len) && BSON_APPEND_ARRAY(doc, "mentions", &inner);
	}
	bson_destroy(&wrap);
	return ok;
}
