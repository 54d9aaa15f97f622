/* SPDX-License-Identifier: MIT */
/*
 * Client message checking and envelope writing/reading. The fields the
 * server owns (id, room, from, ts) are never taken from the client: a
 * client's values for them are ignored, not copied.
 */
#include "envelope.h"

#include <stdint.h>
#include <string.h>

#include "chat_err.h"
#include "utf8.h"

struct parse_ctx {
	const struct envelope_limits *lim;
	char *scratch;
	size_t cap;
	struct chat_msg *m;
	bool seen_text;
};

#define BYTES_01 0x0101010101010101ull
#define BYTES_80 0x8080808080808080ull

/* The top bit of each byte of v that is zero (exact as to whether any is). */
static uint64_t zero_bytes(uint64_t v)
{
	return (v - BYTES_01) & ~v & BYTES_80;
}

/* token_ok() for 8 bytes at once: none below 0x21, above 0x7E, '"' or '\'. */
static bool token_ok8(const char *s)
{
	uint64_t w;
	memcpy(&w, s, 8);
	uint64_t odd = ((w - BYTES_01 * 0x21) & ~w) | ((w + BYTES_01) | w) | zero_bytes(w ^ (BYTES_01 * '"')) |
		       zero_bytes(w ^ (BYTES_01 * '\\'));
	return (odd & BYTES_80) == 0;
}

/* type and cid are short tokens: printable ASCII without quotes or '\'. */
static bool token_ok(const char *s, size_t n)
{
	size_t i = 0;
	for (; n - i >= 8; i += 8) {
		if (!token_ok8(s + i)) return false;
	}
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7E || c == '"' || c == '\\') return false;
	}
	return n > 0;
}

static int take_token(const struct json_span *v, char *out, size_t cap)
{
	if (v->type != JSON_STRING) return CHAT_ERR_JSON;
	long n = json_string_decode(v, out, cap);
	if (n < 0 || !token_ok(out, (size_t)n)) return CHAT_ERR_JSON;
	return CHAT_OK;
}

static int client_member(const struct json_span *key, const struct json_span *v, void *ud)
{
	struct parse_ctx *c = ud;
	struct chat_msg *m = c->m;
	if (json_key_is(key, "text")) {
		if (v->type != JSON_STRING) return CHAT_ERR_JSON;
		if (!memchr(v->p + 1, '\\', v->len - 2)) {
			/* Without escapes the text is the span between the quotes
			 * (a checked string holds no raw control byte, so no NUL). */
			m->text = v->p + 1;
			m->text_len = v->len - 2;
			c->seen_text = true;
			return CHAT_OK;
		}
		long n = json_string_decode(v, c->scratch, c->cap);
		if (n < 0) return CHAT_ERR_JSON;
		if (memchr(c->scratch, '\0', (size_t)n)) return CHAT_ERR_JSON;
		m->text = c->scratch;
		m->text_len = (size_t)n;
		c->seen_text = true;
	} else if (json_key_is(key, "type")) {
		return take_token(v, m->type, sizeof(m->type));
	} else if (json_key_is(key, "cid")) {
		return take_token(v, m->cid, sizeof(m->cid));
	} else if (json_key_is(key, "data")) {
		if (v->type != JSON_OBJECT) return CHAT_ERR_JSON;
		if (v->len > c->lim->max_data) return CHAT_ERR_TOO_LARGE;
		m->data = v->p;
		m->data_len = v->len;
	}
	/* Other keys, the server's own (id, from, ts, room) included, are dropped. */
	return CHAT_OK;
}

int envelope_parse_client(const char *payload, size_t len, const struct envelope_limits *lim,
			  char *scratch, size_t cap, struct chat_msg *m)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->type, "text", 5);
	if (len > lim->max_payload) return CHAT_ERR_TOO_LARGE;
	if (cap < len + 1) return utf8_valid(payload, len) ? CHAT_ERR_INVAL : CHAT_ERR_UTF8;
	size_t i = 0;
	while (i < len && (payload[i] == ' ' || payload[i] == '\t' || payload[i] == '\n' || payload[i] == '\r')) i++;
	if (i == len) return CHAT_ERR_EMPTY;
	if (payload[i] != '{') {
		if (!utf8_valid(payload, len)) return CHAT_ERR_UTF8;
		if (memchr(payload, '\0', len)) return CHAT_ERR_UTF8;
		m->text = payload;
		m->text_len = len;
		return CHAT_OK;
	}
	/* One walk checks the whole payload and takes the members: malformed
	 * JSON anywhere is still CHAT_ERR_JSON, before any member's error.
	 * Invalid UTF-8 is never valid JSON (the scanner decodes every string
	 * strictly, and all else must be ASCII), so the payload is checked for
	 * UTF-8 only when the walk fails, to tell which error it is. */
	struct parse_ctx ctx = {lim, scratch, cap, m, false};
	int rc = json_object_parse(payload, len, client_member, &ctx);
	if (rc != CHAT_OK) return utf8_valid(payload, len) ? rc : CHAT_ERR_UTF8;
	if ((!m->text || m->text_len == 0) && !m->data) return CHAT_ERR_EMPTY;
	if (m->text && m->text_len == 0) m->text = NULL;
	return CHAT_OK;
}

/* A string literal and its length, measured at compile time: the writer
 * runs once per message, so its fixed pieces are not strlen'd each time. */
#define LIT(s) (s), (sizeof(s) - 1)

/* key is the member's whole prefix, as in LIT(",\"room\":"). */
static void put_field(struct strbuf *sb, const char *key, size_t key_len, const char *s, size_t n)
{
	strbuf_append(sb, key, key_len);
	strbuf_append_json_string(sb, s, n);
}

int envelope_write(struct strbuf *sb, const struct envelope *e)
{
	put_field(sb, LIT("{\"id\":"), e->id, strlen(e->id));
	put_field(sb, LIT(",\"room\":"), e->room, strlen(e->room));
	put_field(sb, LIT(",\"from\":"), e->from, strlen(e->from));
	strbuf_append(sb, LIT(",\"ts\":"));
	strbuf_append_i64(sb, e->ts);
	put_field(sb, LIT(",\"type\":"), e->type, strlen(e->type));
	if (e->text) put_field(sb, LIT(",\"text\":"), e->text, e->text_len);
	if (e->cid && *e->cid) put_field(sb, LIT(",\"cid\":"), e->cid, strlen(e->cid));
	if (e->data) {
		strbuf_append(sb, LIT(",\"data\":"));
		strbuf_append(sb, e->data, e->data_len);
	}
	if (e->flagged) strbuf_append(sb, LIT(",\"flagged\":true"));
	strbuf_putc(sb, '}');
	return strbuf_status(sb);
}

static int view_member(const struct json_span *key, const struct json_span *v, void *ud)
{
	struct envelope_view *ev = ud;
	struct {
		const char *name;
		struct json_span *dst;
		bool *has;
	} strings[] = {
		{"id", &ev->id, NULL},     {"room", &ev->room, NULL}, {"from", &ev->from, NULL},
		{"type", &ev->type, NULL}, {"text", &ev->text, &ev->has_text}, {"cid", &ev->cid, &ev->has_cid},
	};
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		if (!json_key_is(key, strings[i].name)) continue;
		if (v->type != JSON_STRING) return CHAT_ERR_JSON;
		*strings[i].dst = *v;
		if (strings[i].has) *strings[i].has = true;
		return CHAT_OK;
	}
	if (json_key_is(key, "ts")) {
		long long ts;
		if (json_number_i64(v, &ts) != CHAT_OK) return CHAT_ERR_JSON;
		ev->ts = ts;
	} else if (json_key_is(key, "data")) {
		ev->data = *v;
		ev->has_data = true;
	} else if (json_key_is(key, "flagged")) {
		ev->flagged = v->type == JSON_TRUE;
	}
	return CHAT_OK;
}

int envelope_read(const char *json, size_t len, struct envelope_view *v)
{
	struct json_span obj;
	memset(v, 0, sizeof(*v));
	v->ts = -1;
	if (json_check(json, len, &obj) != CHAT_OK || obj.type != JSON_OBJECT) return CHAT_ERR_JSON;
	if (json_object_foreach(&obj, view_member, v) != CHAT_OK) return CHAT_ERR_JSON;
	if (!v->id.p || !v->room.p || !v->from.p || !v->type.p || v->ts < 0) return CHAT_ERR_JSON;
	return CHAT_OK;
}
