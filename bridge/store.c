/* SPDX-License-Identifier: MIT */
/*
 * MongoDB persistence of envelopes. One document per message in
 * `messages`; the unique index {room: 1, id: -1} both refuses a second copy
 * of a redelivered message and serves newest-first scans of one room.
 */
#include <string.h>

#include "bridge.h"
#include "chat_err.h"
#include "envelope.h"

#define DUPLICATE_KEY 11000

static int ensure_indexes(struct bridge *b)
{
	bson_error_t err;
	bson_t *cmd = BCON_NEW("createIndexes", BCON_UTF8("messages"), "indexes", "[", "{", "key", "{",
			       "room", BCON_INT32(1), "id", BCON_INT32(-1), "}", "name", BCON_UTF8("room_id"),
			       "unique", BCON_BOOL(true), "}", "]");
	bool ok = mongoc_collection_write_command_with_opts(b->messages, cmd, NULL, NULL, &err);
	bson_destroy(cmd);
	if (!ok) blog(BLOG_ERR, "creating index on messages: %s", err.message);
	return ok ? 0 : -1;
}

int store_open(struct bridge *b)
{
	bson_error_t err;
	mongoc_uri_t *uri = mongoc_uri_new_with_error(b->cfg.mongo_uri, &err);
	if (!uri) {
		blog(BLOG_ERR, "mongo_uri: %s", err.message);
		return -1;
	}
	b->mongo = mongoc_client_new_from_uri_with_error(uri, &err);
	mongoc_uri_destroy(uri);
	if (!b->mongo) {
		blog(BLOG_ERR, "mongo client: %s", err.message);
		return -1;
	}
	mongoc_client_set_appname(b->mongo, "chat-bridge");
	b->messages = mongoc_client_get_collection(b->mongo, b->cfg.mongo_database, "messages");
	return ensure_indexes(b);
}

void store_close(struct bridge *b)
{
	if (b->messages) mongoc_collection_destroy(b->messages);
	if (b->mongo) mongoc_client_destroy(b->mongo);
	b->messages = NULL;
	b->mongo = NULL;
}

/* Appends the decoded string span as a UTF-8 field. */
static bool append_span(bson_t *doc, const char *key, const struct json_span *s)
{
	char buf[16384];
	long n = json_string_decode(s, buf, sizeof(buf));
	if (n < 0) return false;
	return bson_append_utf8(doc, key, -1, buf, (int)n);
}

static bool build_doc(bson_t *doc, const char *json, size_t len)
{
	struct envelope_view v;
	if (envelope_read(json, len, &v) != CHAT_OK) return false;
	bool ok = append_span(doc, "room", &v.room) && append_span(doc, "id", &v.id) &&
		  append_span(doc, "from", &v.from) && BSON_APPEND_DATE_TIME(doc, "ts", v.ts) &&
		  append_span(doc, "type", &v.type);
	if (ok && v.has_text) ok = append_span(doc, "text", &v.text);
	if (ok && v.has_cid) ok = append_span(doc, "cid", &v.cid);
	if (ok && v.flagged) ok = BSON_APPEND_BOOL(doc, "flagged", true);
	if (ok && v.has_data) {
		bson_error_t err;
		bson_t data;
		ok = bson_init_from_json(&data, v.data.p, (ssize_t)v.data.len, &err);
		if (ok) {
			ok = BSON_APPEND_DOCUMENT(doc, "data", &data);
			bson_destroy(&data);
		}
	}
	return ok;
}

int store_message(struct bridge *b, const char *json, size_t len)
{
	bson_t doc;
	bson_error_t err;
	bson_init(&doc);
	if (!build_doc(&doc, json, len)) {
		bson_destroy(&doc);
		blog(BLOG_WARN, "dropping a message that is not a valid envelope (%zu bytes)", len);
		return 0; /* not retryable */
	}
	bool ok = mongoc_collection_insert_one(b->messages, &doc, NULL, NULL, &err);
	bson_destroy(&doc);
	if (!ok && err.code != DUPLICATE_KEY) {
		blog(BLOG_ERR, "insert into messages: %s", err.message);
		return -1;
	}
	b->stored++;
	return 0;
}
