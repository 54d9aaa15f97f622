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
#include "id.h"
#include "json_bytes.h"
#include "utf8.h"

struct parse_ctx {
	const struct envelope_limits *lim;
	char *scratch;
	size_t cap;
	struct chat_msg *m;
	bool seen_text;
	bool seen_reaction;
};

#if JSON_SSE2
/* The bytes of v that a token cannot hold: below 0x21 as signed bytes (the
 * blanks, controls and all above 0x7F), DEL, '"' and '\\'. */
static inline unsigned token_odd16(__m128i v)
{
	__m128i odd = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x21)), _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F)));
	odd = _mm_or_si128(odd, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
	return (unsigned)_mm_movemask_epi8(_mm_or_si128(odd, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
}

/* type and cid are short tokens: printable ASCII without quotes or '\\'.
 * Copies s[0..n) to out when it is one: 16 bytes at a time, the last block
 * overlapping the one before, and under 16 as two overlapping halves
 * (whether any byte is odd, never which), storing what it loaded; out may
 * be s itself, to test a token in place. */
static bool token_copy(char *out, const char *s, size_t n)
{
	if (n >= 16) {
		for (size_t i = 0; n - i > 16; i += 16) {
			__m128i v = _mm_loadu_si128((const void *)(s + i));
			if (token_odd16(v)) return false;
			_mm_storeu_si128((void *)(out + i), v);
		}
		__m128i v = _mm_loadu_si128((const void *)(s + n - 16));
		if (token_odd16(v)) return false;
		_mm_storeu_si128((void *)(out + n - 16), v);
		return true;
	}
	if (n >= 8) {
		__m128i a = _mm_loadl_epi64((const void *)s), b = _mm_loadl_epi64((const void *)(s + n - 8));
		if (token_odd16(_mm_unpacklo_epi64(a, b))) return false;
		_mm_storel_epi64((void *)out, a);
		_mm_storel_epi64((void *)(out + n - 8), b);
		return true;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7E || c == '"' || c == '\\') return false;
		out[i] = (char)c;
	}
	return n > 0;
}

#else
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
	if (n >= 8) {
		/* Words, the last one overlapping the one before. */
		for (; n - i > 8; i += 8) {
			if (!token_ok8(s + i)) return false;
		}
		return token_ok8(s + n - 8);
	}
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7E || c == '"' || c == '\\') return false;
	}
	return n > 0;
}

static bool token_copy(char *out, const char *s, size_t n)
{
	if (!token_ok(s, n)) return false;
	memmove(out, s, n);
	return true;
}
#endif

/* The token v into out (NUL-terminated). Returns its length, or
 * CHAT_ERR_JSON. */
static long take_token(const struct json_span *v, char *out, size_t cap)
{
	if (v->type != JSON_STRING) return CHAT_ERR_JSON;
	if (v->plain) {
		/* Without escapes the value is the bytes between the quotes:
		 * checked where they stand, then copied (json_string_decode's
		 * answer, without its search for a backslash). */
		size_t n = v->len - 2;
		if (n >= cap) return CHAT_ERR_JSON;
		if (!token_copy(out, v->p + 1, n)) {
			out[0] = '\0'; /* not left unterminated */
			return CHAT_ERR_JSON;
		}
		out[n] = '\0';
		return (long)n;
	}
	long n = json_string_decode(v, out, cap);
	if (n < 0 || !token_copy(out, out, (size_t)n)) return CHAT_ERR_JSON; /* tested in place */
	return n;
}

enum client_key { KEY_TEXT, KEY_TYPE, KEY_CID, KEY_DATA, KEY_EDIT, KEY_DELETE, KEY_REACT, KEY_REACTION,
		  KEY_REPLY, KEY_OTHER };

/* Which member a key names: the plain spellings are compared as they
 * stand, and only a key that is none of them is decoded (a key may be
 * written with its letters escaped). */
static enum client_key client_key(const struct json_span *key)
{
	static const char *const names[] = {[KEY_TEXT] = "text",     [KEY_TYPE] = "type",
					    [KEY_CID] = "cid",       [KEY_DATA] = "data",
					    [KEY_EDIT] = "edit",     [KEY_DELETE] = "delete",
					    [KEY_REACT] = "react",   [KEY_REACTION] = "reaction",
					    [KEY_REPLY] = "reply"};
	if (key->len == 6 && memcmp(key->p, "\"text\"", 6) == 0) return KEY_TEXT;
	if (key->len == 5 && memcmp(key->p, "\"cid\"", 5) == 0) return KEY_CID;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (json_key_is(key, names[i])) return (enum client_key)i;
	}
	return KEY_OTHER;
}

/* A message id value into out (ENVELOPE_REF_MAX + 1). */
static int take_ref(const struct json_span *v, char *out)
{
	if (v->type != JSON_STRING || out[0]) return CHAT_ERR_JSON; /* a second one of a kind */
	long n = json_string_decode(v, out, ENVELOPE_REF_MAX + 1);
	if (n < 0 || !id_valid(out, (size_t)n)) {
		out[0] = '\0';
		return CHAT_ERR_JSON;
	}
	return CHAT_OK;
}

/* A reaction: up to ENVELOPE_REACTION_MAX bytes of UTF-8 (decoded JSON is
 * valid UTF-8) without blanks or control characters; "" takes one back. */
static int take_reaction(const struct json_span *v, char *out, bool *seen)
{
	if (v->type != JSON_STRING) return CHAT_ERR_JSON;
	long n = json_string_decode(v, out, ENVELOPE_REACTION_MAX + 1);
	if (n < 0) return CHAT_ERR_JSON;
	for (long i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)out[i];
		if (ch < 0x21 || ch == 0x7f) return CHAT_ERR_JSON;
	}
	*seen = true;
	return CHAT_OK;
}

/* The members that make a message a change or a reply (KEY_EDIT..KEY_REPLY). */
static int change_member(struct parse_ctx *c, enum client_key k, const struct json_span *v)
{
	static const enum envelope_op ops[] = {[KEY_EDIT] = ENVELOPE_EDIT, [KEY_DELETE] = ENVELOPE_DELETE,
					       [KEY_REACT] = ENVELOPE_REACT};
	struct chat_msg *m = c->m;
	if (k == KEY_REACTION) return take_reaction(v, m->reaction, &c->seen_reaction);
	if (k == KEY_REPLY) return take_ref(v, m->reply);
	if (m->op != ENVELOPE_POST) return CHAT_ERR_JSON; /* one change per message */
	m->op = ops[k];
	return take_ref(v, m->ref);
}

static int client_member(const struct json_span *key, const struct json_span *v, void *ud)
{
	struct parse_ctx *c = ud;
	struct chat_msg *m = c->m;
	enum client_key k = client_key(key);
	if (k == KEY_TEXT) {
		if (v->type != JSON_STRING) return CHAT_ERR_JSON;
		if (v->plain) {
			/* Without escapes the text is the span between the quotes
			 * (a checked string holds no raw control byte, so no NUL). */
			m->text = v->p + 1;
			m->text_len = v->len - 2;
			m->text_plain = true;
			c->seen_text = true;
			return CHAT_OK;
		}
		long n = json_string_decode(v, c->scratch, c->cap);
		if (n < 0) return CHAT_ERR_JSON;
		if (memchr(c->scratch, '\0', (size_t)n)) return CHAT_ERR_JSON;
		m->text = c->scratch;
		m->text_len = (size_t)n;
		m->text_plain = false;
		c->seen_text = true;
	} else if (k == KEY_TYPE) {
		return take_token(v, m->type, sizeof(m->type)) < 0 ? CHAT_ERR_JSON : CHAT_OK;
	} else if (k == KEY_CID) {
		long n = take_token(v, m->cid, sizeof(m->cid));
		if (n < 0) return CHAT_ERR_JSON;
		m->cid_len = (size_t)n;
	} else if (k == KEY_DATA) {
		if (v->type != JSON_OBJECT) return CHAT_ERR_JSON;
		if (v->len > c->lim->max_data) return CHAT_ERR_TOO_LARGE;
		m->data = v->p;
		m->data_len = v->len;
	} else if (k != KEY_OTHER) {
		return change_member(c, k, v);
	}
	/* Other keys, the server's own (id, from, ts, room) included, are dropped. */
	return CHAT_OK;
}

/* The members a message needs by what it does: a delete carries nothing
 * else, a reaction only its reaction, a post or an edit text or data. */
static int change_form(const struct parse_ctx *c)
{
	const struct chat_msg *m = c->m;
	bool content = (m->text && m->text_len > 0) || m->data;
	if (m->reply[0] && m->op != ENVELOPE_POST) return CHAT_ERR_JSON;
	if (c->seen_reaction != (m->op == ENVELOPE_REACT)) return CHAT_ERR_JSON;
	switch (m->op) {
	case ENVELOPE_DELETE:
	case ENVELOPE_REACT: return content ? CHAT_ERR_JSON : CHAT_OK;
	default: return content ? CHAT_OK : CHAT_ERR_EMPTY;
	}
}

int envelope_parse_client(const char *payload, size_t len, const struct envelope_limits *lim,
			  char *scratch, size_t cap, struct chat_msg *m)
{
	/* Each member set, not the whole struct zeroed: its strings are a
	 * quarter of a kilobyte that only their first bytes need. */
	m->text = NULL;
	m->text_len = 0;
	m->text_plain = false;
	memcpy(m->type, "text", 5);
	m->cid[0] = '\0';
	m->cid_len = 0;
	m->data = NULL;
	m->data_len = 0;
	m->op = ENVELOPE_POST;
	m->ref[0] = m->reply[0] = m->reaction[0] = '\0';
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
	struct parse_ctx ctx = {lim, scratch, cap, m, false, false};
	int rc = json_object_parse(payload, len, client_member, &ctx);
	if (rc != CHAT_OK) return utf8_valid(payload, len) ? rc : CHAT_ERR_UTF8;
	rc = change_form(&ctx);
	if (rc != CHAT_OK) return rc;
	if (m->text && m->text_len == 0) m->text = NULL;
	return CHAT_OK;
}

/* A string literal and its length, measured at compile time: the writer
 * runs once per message, so its fixed pieces are not strlen'd each time. */
#define LIT(s) (s), (sizeof(s) - 1)

static char *put(char *o, const char *s, size_t n)
{
	memcpy(o, s, n);
	return o + n;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The 8 decimal digits of v (below 10^8), most significant first, as the
 * bytes of a little-endian word holding the digits' values: v is split in
 * two halves of 4 digits, each of those in two of 2, then in single digits,
 * all lanes of one word at once (a multiply and shift divide a lane by 100
 * or 10 exactly at these sizes; no lane carries into the next). */
static uint64_t digits8(uint32_t v)
{
	uint64_t y = (uint64_t)(v / 10000) | (uint64_t)(v % 10000) << 32;
	uint64_t z = ((y * 10486) >> 20) & 0x0000007F0000007Full;
	y = z | (y - z * 100) << 16;
	z = ((y * 103) >> 10) & 0x000F000F000F000Full;
	return z | (y - z * 10) << 8;
}

/* Writes u (below 10^16: a timestamp in ms until the year 318857) without
 * leading zeros, in at most two 8-byte stores; o has room for 16 bytes. */
static char *put_u64_short(char *o, uint64_t u)
{
	const uint64_t zeros = 0x3030303030303030ull; /* '0' in each byte */
	uint64_t lo = digits8((uint32_t)(u % 100000000)), hi = u / 100000000;
	uint64_t w;
	if (hi == 0) {
		unsigned skip = lo ? (unsigned)__builtin_ctzll(lo) / 8 : 7; /* leading zeros */
		w = (lo + zeros) >> 8 * skip;
		memcpy(o, &w, 8);
		return o + 8 - skip;
	}
	uint64_t d = digits8((uint32_t)hi);
	unsigned skip = (unsigned)__builtin_ctzll(d) / 8;
	w = (d + zeros) >> 8 * skip;
	memcpy(o, &w, 8);
	w = lo + zeros;
	memcpy(o + 8 - skip, &w, 8);
	return o + 16 - skip;
}
#define PUT_SHORT_MAX 10000000000000000ull
#endif

/* Writes v in decimal; o has room for 24 bytes. */
static char *put_i64(char *o, int64_t v)
{
#ifdef PUT_SHORT_MAX
	if (v >= 0 && (uint64_t)v < PUT_SHORT_MAX) return put_u64_short(o, (uint64_t)v);
#endif
	char tmp[24];
	size_t i = sizeof(tmp);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0) tmp[--i] = '-';
	return put(o, tmp + i, sizeof(tmp) - i);
}

static void put_string_member(struct strbuf *sb, const char *key, const char *s)
{
	if (!s) return;
	strbuf_puts(sb, key);
	strbuf_append_json_string(sb, s, strlen(s));
}

/* The messenger members, rare enough to be written piece by piece. */
static void write_messenger(struct strbuf *sb, const struct envelope *e)
{
	put_string_member(sb, ",\"edit\":", e->edit);
	put_string_member(sb, ",\"delete\":", e->del);
	put_string_member(sb, ",\"react\":", e->react);
	if (e->react) put_string_member(sb, ",\"reaction\":", e->reaction ? e->reaction : "");
	put_string_member(sb, ",\"reply\":", e->reply);
	if (e->mentions) {
		strbuf_puts(sb, ",\"mentions\":");
		strbuf_append(sb, e->mentions, e->mentions_len);
	}
	if (e->edited) {
		strbuf_puts(sb, ",\"edited\":");
		strbuf_append_i64(sb, e->edited);
	}
	if (e->deleted) strbuf_puts(sb, ",\"deleted\":true");
	if (e->reactions) {
		strbuf_puts(sb, ",\"reactions\":");
		strbuf_append(sb, e->reactions, e->reactions_len);
	}
}

/* The envelope is written in one piece: its largest possible size (every
 * string byte escaped) is reserved once, then the members are written at a
 * cursor, without a bounds check or a function call per piece. */
int envelope_write(struct strbuf *sb, const struct envelope *e)
{
	const char *cid = e->cid && *e->cid ? e->cid : NULL;
	size_t id_n = e->id_len ? e->id_len : strlen(e->id);
	size_t room_n = e->room_len ? e->room_len : strlen(e->room);
	size_t from_n = e->from_len ? e->from_len : strlen(e->from), type_n = strlen(e->type);
	size_t text_n = e->text ? e->text_len : 0, cid_n = !cid ? 0 : e->cid_len ? e->cid_len : strlen(cid);
	if ((id_n | room_n | from_n | type_n | text_n | cid_n) > SIZE_MAX / 64) return CHAT_ERR_TOO_LARGE;
	/* Fixed parts: six keys of at most 16 bytes, ts (sign and 20 digits,
	 * and 8 bytes that put_i64 may store past them), data's key, flagged,
	 * shard, the closing brace. */
	size_t max = 6 * 16 + 32 + 16 + sizeof(",\"flagged\":true") + sizeof(",\"shard\":4294967295") + 8 + 1;
	max += STRBUF_JSON_MAX(id_n + room_n + from_n + type_n + text_n + cid_n) + 5 * 2;
	if (e->data && e->data_len > SIZE_MAX / 2 - max) return CHAT_ERR_TOO_LARGE;
	if (e->data) max += e->data_len;
	if (strbuf_reserve(sb, max) != CHAT_OK) return CHAT_ERR_NOMEM;
	char *o = sb->buf + sb->len;
	o = strbuf_json_escape(put(o, LIT("{\"id\":")), e->id, id_n);
	o = strbuf_json_escape(put(o, LIT(",\"room\":")), e->room, room_n);
	o = strbuf_json_escape(put(o, LIT(",\"from\":")), e->from, from_n);
	o = put_i64(put(o, LIT(",\"ts\":")), e->ts);
	o = strbuf_json_escape(put(o, LIT(",\"type\":")), e->type, type_n);
	if (e->text && e->text_plain) {
		o = put(put(put(o, LIT(",\"text\":\"")), e->text, text_n), LIT("\""));
	} else if (e->text) {
		o = strbuf_json_escape(put(o, LIT(",\"text\":")), e->text, text_n);
	}
	if (cid) o = strbuf_json_escape(put(o, LIT(",\"cid\":")), cid, cid_n);
	if (e->data) o = put(put(o, LIT(",\"data\":")), e->data, e->data_len);
	if (e->flagged) o = put(o, LIT(",\"flagged\":true"));
	if (e->shard) o = put_i64(put(o, LIT(",\"shard\":")), (int64_t)e->shard);
	if (e->edit || e->del || e->react || e->reply || e->mentions || e->edited || e->deleted || e->reactions) {
		*o = '\0';
		sb->len = (size_t)(o - sb->buf);
		write_messenger(sb, e);
		strbuf_putc(sb, '}');
		return strbuf_status(sb);
	}
	*o++ = '}';
	*o = '\0';
	sb->len = (size_t)(o - sb->buf);
	return CHAT_OK;
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
		{"edit", &ev->edit, &ev->has_edit}, {"delete", &ev->del, &ev->has_del},
		{"react", &ev->react, &ev->has_react}, {"reaction", &ev->reaction, &ev->has_reaction},
		{"reply", &ev->reply, &ev->has_reply},
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
	} else if (json_key_is(key, "mentions")) {
		if (v->type != JSON_ARRAY) return CHAT_ERR_JSON;
		ev->mentions = *v;
		ev->has_mentions = true;
	} else if (json_key_is(key, "shard")) {
		long long n;
		if (v->type == JSON_NUMBER && json_number_i64(v, &n) == CHAT_OK && n > 0 && n <= UINT32_MAX)
			ev->shard = (unsigned)n;
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
