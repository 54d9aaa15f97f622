/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the envelope (common/envelope.c): the reader of a
 * client's payload, the writer of the server's envelope and its reader.
 * Input: one byte choosing the limits, the scratch size, the server's
 * timestamp and the flagged bit, then the client's payload. Checked on
 * every input:
 *
 * - envelope_parse_client gives exactly the answer of a model written from
 *   envelope.h and PRODUCT.md over the reference parser (refjson.c): the
 *   same error (too large, UTF-8, JSON, empty; a field of the wrong type or
 *   form, a text holding U+0000, a data object over max_data; a change in
 *   the wrong form: two changes, an id that is not one, a reaction without
 *   react or with a blank), and on success the same text, type, cid, data,
 *   change, reply and reaction, the last of repeated names winning as the
 *   scanner walks;
 * - an accepted message's envelope from envelope_write is valid JSON (the
 *   reference parser and cJSON) with exactly the members it should have,
 *   once each: id, room, from and ts are the server's whatever the client
 *   sent, type, text, cid and data are the message's (data byte for byte),
 *   flagged only when set; envelope_read gives them back; with or without
 *   the parser's text_plain (the text copied as it is, or escaped);
 * - envelope_read on the raw payload agrees with a model of its contract
 *   (an object with string id, room, from, type and an integer ts >= 0 of at
 *   most 18 digits; text and cid strings when there).
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_err.h"
#include "envelope.h"
#include "id.h"
#include "refjson.h"

#define SERVER_ID "01J0FUZZ0000000000000000ZZ"
#define SERVER_FROM "alice"

static const char *const server_rooms[] = {"general", "dm:alice:bob"};
static const int64_t server_ts[] = {1700000000123LL, 0, 999999999999999999LL, -1, INT64_MIN, INT64_MAX};
static const size_t payload_limits[] = {8192, 64, 300, 1024};
static const size_t data_limits[] = {4096, 2, 40, 200};

/* ---- the model of envelope_parse_client ---- */

struct want {
	int rc;
	const char *text; /* NULL = none */
	size_t text_len;
	char type[ENVELOPE_TYPE_MAX + 1], cid[ENVELOPE_CID_MAX + 1];
	const char *data; /* the data value's span in the payload, NULL = none */
	size_t data_len;
	enum envelope_op op;
	char ref[ID_LEN + 1], reply[ID_LEN + 1], reaction[ENVELOPE_REACTION_MAX + 1];
	bool seen_reaction;
};

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* type and cid: 1..max printable ASCII characters, no quote or backslash. */
static bool token(const struct refjson *v, size_t max, char *out)
{
	if (v->type != REFJSON_STRING || v->str_len == 0 || v->str_len > max) return false;
	for (size_t i = 0; i < v->str_len; i++) {
		unsigned char c = (unsigned char)v->str[i];
		if (c < 0x21 || c > 0x7E || c == '"' || c == '\\') return false;
	}
	memcpy(out, v->str, v->str_len + 1);
	return true;
}

static bool named(const struct refjson *m, const char *name)
{
	return m->key_len == strlen(name) && memcmp(m->key, name, m->key_len) == 0;
}

/* A message id: ID_LEN characters of the Crockford alphabet (id.h). */
static bool model_id(const struct refjson *v, char *out)
{
	static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	if (v->type != REFJSON_STRING || v->str_len != ID_LEN) return false;
	for (size_t i = 0; i < ID_LEN; i++) {
		if (v->str[i] == '\0' || !strchr(alphabet, v->str[i])) return false;
	}
	memcpy(out, v->str, ID_LEN + 1);
	return true;
}

/* The messenger members (envelope.h): edit, delete, react, reaction, reply. */
static int model_change(const struct refjson *m, struct want *w)
{
	static const struct {
		const char *name;
		enum envelope_op op;
	} changes[] = {{"edit", ENVELOPE_EDIT}, {"delete", ENVELOPE_DELETE}, {"react", ENVELOPE_REACT}};
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		if (!named(m, changes[i].name)) continue;
		if (w->op != ENVELOPE_POST || !model_id(m, w->ref)) return CHAT_ERR_JSON; /* one change, an id */
		w->op = changes[i].op;
		return CHAT_OK;
	}
	if (named(m, "reply")) return w->reply[0] || !model_id(m, w->reply) ? CHAT_ERR_JSON : CHAT_OK;
	if (!named(m, "reaction")) return CHAT_OK;
	if (m->type != REFJSON_STRING || m->str_len > ENVELOPE_REACTION_MAX) return CHAT_ERR_JSON;
	for (size_t i = 0; i < m->str_len; i++) {
		unsigned char c = (unsigned char)m->str[i];
		if (c < 0x21 || c == 0x7f) return CHAT_ERR_JSON;
	}
	memcpy(w->reaction, m->str, m->str_len + 1);
	w->seen_reaction = true;
	return CHAT_OK;
}

/* What the message must hold for what it does, after the walk. */
static int model_form(const struct want *w)
{
	bool content = w->text_len > 0 || w->data;
	if (w->reply[0] && w->op != ENVELOPE_POST) return CHAT_ERR_JSON;
	if (w->seen_reaction != (w->op == ENVELOPE_REACT)) return CHAT_ERR_JSON;
	if (w->op == ENVELOPE_DELETE || w->op == ENVELOPE_REACT) return content ? CHAT_ERR_JSON : CHAT_OK;
	return content ? CHAT_OK : CHAT_ERR_EMPTY;
}

/* One member, as the walk meets it: 0 or the error it gives. */
static int model_member(const struct refjson *m, const struct envelope_limits *lim, struct want *w)
{
	if (named(m, "text")) {
		if (m->type != REFJSON_STRING || memchr(m->str, '\0', m->str_len)) return CHAT_ERR_JSON;
		w->text = m->str;
		w->text_len = m->str_len;
	} else if (named(m, "type")) {
		if (!token(m, ENVELOPE_TYPE_MAX, w->type)) return CHAT_ERR_JSON;
	} else if (named(m, "cid")) {
		if (!token(m, ENVELOPE_CID_MAX, w->cid)) return CHAT_ERR_JSON;
	} else if (named(m, "data")) {
		if (m->type != REFJSON_OBJECT) return CHAT_ERR_JSON;
		if (m->span_len > lim->max_data) return CHAT_ERR_TOO_LARGE;
		w->data = m->span;
		w->data_len = m->span_len;
	} else {
		return model_change(m, w);
	}
	return CHAT_OK;
}

/* The expected result for payload; doc is its parse (NULL = invalid). */
static void model_client(const char *p, size_t len, const struct envelope_limits *lim, bool room_for_text,
			 const struct refjson *doc, struct want *w)
{
	bool utf8 = refjson_utf8_valid(p, len);
	size_t i = 0;
	memset(w, 0, sizeof(*w));
	memcpy(w->type, "text", 5);
	while (i < len && blank(p[i])) i++;
	if (len > lim->max_payload) w->rc = CHAT_ERR_TOO_LARGE;
	else if (!room_for_text) w->rc = utf8 ? CHAT_ERR_INVAL : CHAT_ERR_UTF8;
	else if (i == len) w->rc = CHAT_ERR_EMPTY;
	else if (p[i] != '{') {
		w->rc = !utf8 || memchr(p, '\0', len) ? CHAT_ERR_UTF8 : CHAT_OK;
		w->text = p;
		w->text_len = len;
	} else if (!doc) {
		w->rc = utf8 ? CHAT_ERR_JSON : CHAT_ERR_UTF8;
	} else {
		for (size_t k = 0; k < doc->count && w->rc == CHAT_OK; k++) w->rc = model_member(&doc->items[k], lim, w);
		if (w->rc == CHAT_OK) w->rc = model_form(w);
		if (w->text_len == 0) w->text = NULL;
	}
}

static void check_parsed(const struct chat_msg *m, const struct want *w)
{
	if ((m->text == NULL) != (w->text == NULL)) abort();
	if (m->text && (m->text_len != w->text_len || memcmp(m->text, w->text, w->text_len) != 0)) abort();
	if (strcmp(m->type, w->type) != 0 || strcmp(m->cid, w->cid) != 0) abort();
	if (m->data != w->data || m->data_len != w->data_len) abort();
	if (m->op != w->op || strcmp(m->ref, w->ref) != 0 || strcmp(m->reply, w->reply) != 0) abort();
	if (m->op == ENVELOPE_REACT && strcmp(m->reaction, w->reaction) != 0) abort();
}

/* ---- the written envelope ---- */

static bool decodes_to(const struct refjson *v, const char *s, size_t n)
{
	return v && v->type == REFJSON_STRING && v->str_len == n && memcmp(v->str, s, n) == 0;
}

static void check_members(const struct refjson *doc, const struct envelope *e)
{
	static const char *const names[] = {"id", "room", "from", "ts", "type", "text", "cid", "data", "flagged"};
	bool present[] = {true, true, true, true, true, e->text != NULL, e->cid[0] != '\0', e->data != NULL, e->flagged};
	size_t want = 0;
	if (!doc || doc->type != REFJSON_OBJECT) abort();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct refjson *m = refjson_member(doc, names[i]);
		if ((m != NULL) != present[i]) abort();
		want += present[i];
	}
	if (doc->count != want) abort(); /* no other member, none twice */
	char ts[24];
	snprintf(ts, sizeof(ts), "%lld", (long long)e->ts);
	const struct refjson *t = refjson_member(doc, "ts"), *d = refjson_member(doc, "data");
	if (t->type != REFJSON_NUMBER || t->span_len != strlen(ts) || memcmp(t->span, ts, t->span_len) != 0) abort();
	if (!decodes_to(refjson_member(doc, "id"), e->id, strlen(e->id))) abort();
	if (!decodes_to(refjson_member(doc, "room"), e->room, strlen(e->room))) abort();
	if (!decodes_to(refjson_member(doc, "from"), e->from, strlen(e->from))) abort();
	if (!decodes_to(refjson_member(doc, "type"), e->type, strlen(e->type))) abort();
	if (e->text && !decodes_to(refjson_member(doc, "text"), e->text, e->text_len)) abort();
	if (e->cid[0] && !decodes_to(refjson_member(doc, "cid"), e->cid, strlen(e->cid))) abort();
	if (d && (d->span_len != e->data_len || memcmp(d->span, e->data, e->data_len) != 0)) abort();
	if (e->flagged && refjson_member(doc, "flagged")->type != REFJSON_TRUE) abort();
}

/* cJSON reads the server's fields and the text the same way. */
static void check_cjson(const char *json, size_t len, const struct envelope *e)
{
	cJSON *j = cJSON_ParseWithLength(json, len);
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(j, "from"), *ts = cJSON_GetObjectItemCaseSensitive(j, "ts");
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
	if (!cJSON_IsString(from) || strcmp(from->valuestring, e->from) != 0) abort();
	if (!cJSON_IsNumber(ts) || ts->valuedouble != (double)e->ts) abort();
	if (e->text && (!cJSON_IsString(text) || strlen(text->valuestring) != e->text_len ||
			memcmp(text->valuestring, e->text, e->text_len) != 0))
		abort();
	cJSON_Delete(j);
}

static bool span_decodes_to(const struct json_span *s, const char *want, size_t n)
{
	char *out = malloc(n + 1);
	if (!out) abort();
	bool ok = json_string_decode(s, out, n + 1) == (long)n && memcmp(out, want, n) == 0;
	free(out);
	return ok;
}

/* envelope_read gives the written envelope back (when its ts is one it reads). */
static void check_read_back(const char *json, size_t len, const struct envelope *e)
{
	struct envelope_view v;
	bool readable = e->ts >= 0 && e->ts <= 999999999999999999LL;
	int rc = envelope_read(json, len, &v);
	if (rc != (readable ? CHAT_OK : CHAT_ERR_JSON)) abort();
	if (!readable) return;
	if (v.ts != e->ts || v.flagged != e->flagged || v.has_text != (e->text != NULL) ||
	    v.has_cid != (e->cid[0] != '\0') || v.has_data != (e->data != NULL))
		abort();
	if (!span_decodes_to(&v.id, e->id, strlen(e->id)) || !span_decodes_to(&v.room, e->room, strlen(e->room)) ||
	    !span_decodes_to(&v.from, e->from, strlen(e->from)) || !span_decodes_to(&v.type, e->type, strlen(e->type)))
		abort();
	if (e->text && !span_decodes_to(&v.text, e->text, e->text_len)) abort();
	if (e->data && (v.data.len != e->data_len || memcmp(v.data.p, e->data, e->data_len) != 0)) abort();
}

static void check_written(const struct chat_msg *m, uint8_t knobs)
{
	struct envelope e = {
		.id = SERVER_ID, .room = server_rooms[knobs & 1], .from = SERVER_FROM,
		.ts = server_ts[(knobs >> 1) % (sizeof(server_ts) / sizeof(server_ts[0]))],
		.type = m->type, .text = m->text, .text_len = m->text_len, .cid = m->cid,
		.data = m->data, .data_len = m->data_len, .flagged = (knobs & 0x40) != 0,
		.text_plain = (knobs & 0x10) && m->text_plain, /* both ways of writing the text */
	};
	struct strbuf sb;
	strbuf_init(&sb);
	if (envelope_write(&sb, &e) != CHAT_OK || strlen(sb.buf) != sb.len) abort();
	struct refjson *doc = refjson_parse(sb.buf, sb.len, JSON_MAX_DEPTH);
	check_members(doc, &e);
	refjson_free(doc);
	check_cjson(sb.buf, sb.len, &e);
	check_read_back(sb.buf, sb.len, &e);
	strbuf_free(&sb);
}

/* ---- envelope_read on the raw payload ---- */

static bool ts_value(const struct refjson *v, long long *ts)
{
	size_t neg = v->span[0] == '-', digits = v->span_len - neg;
	if (v->type != REFJSON_NUMBER || digits == 0 || digits > 18) return false;
	long long r = 0;
	for (size_t i = neg; i < v->span_len; i++) {
		if (v->span[i] < '0' || v->span[i] > '9') return false;
		r = r * 10 + (v->span[i] - '0');
	}
	*ts = neg ? -r : r;
	return true;
}

static int model_read(const struct refjson *doc)
{
	static const char *const strings[] = {"id",   "room",   "from",  "type",     "text",
					      "cid",  "edit",   "delete", "react", "reaction", "reply"};
	bool seen[4] = {false};
	long long ts = -1;
	if (!doc || doc->type != REFJSON_OBJECT) return CHAT_ERR_JSON;
	for (size_t k = 0; k < doc->count; k++) {
		const struct refjson *m = &doc->items[k];
		for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
			if (!named(m, strings[i])) continue;
			if (m->type != REFJSON_STRING) return CHAT_ERR_JSON;
			if (i < 4) seen[i] = true;
		}
		if (named(m, "ts") && !ts_value(m, &ts)) return CHAT_ERR_JSON;
		if (named(m, "mentions") && m->type != REFJSON_ARRAY) return CHAT_ERR_JSON;
	}
	return seen[0] && seen[1] && seen[2] && seen[3] && ts >= 0 ? CHAT_OK : CHAT_ERR_JSON;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) return 0;
	uint8_t knobs = data[0];
	struct envelope_limits lim = {payload_limits[knobs & 3], data_limits[(knobs >> 2) & 3]};
	size_t len = size - 1;
	bool room_for_text = (knobs & 0x80) == 0;
	char *payload = malloc(len ? len : 1), *scratch = malloc(len + 1);
	if (!payload || !scratch) abort();
	memcpy(payload, data + 1, len);

	struct refjson *doc = refjson_parse(payload, len, JSON_MAX_DEPTH);
	struct want w;
	struct chat_msg m;
	model_client(payload, len, &lim, room_for_text, doc, &w);
	int rc = envelope_parse_client(payload, len, &lim, scratch, room_for_text ? len + 1 : len, &m);
	if (rc != w.rc) abort();
	if (rc == CHAT_OK) {
		check_parsed(&m, &w);
		check_written(&m, knobs);
	}
	struct envelope_view v;
	if (envelope_read(payload, len, &v) != model_read(doc)) abort();
	refjson_free(doc);
	free(scratch);
	free(payload);
	return 0;
}
