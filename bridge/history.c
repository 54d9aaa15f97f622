/* SPDX-License-Identifier: MIT */
/*
 * History requests. A member publishes {"before":"<id>","limit":N},
 * {"after":"<id>","limit":N} or {} (the newest) to
 * chat/rooms/{room}/history; the answer
 *
 *   {"type":"history","room":"...","cid":"...","messages":[...],"more":bool}
 *
 * (envelopes newest first; "error" instead when the request was malformed)
 * goes to chat/users/{requester}/inbox, or to the request's v5 Response
 * Topic when that lies inside the requester's own chat/users/{user}/ tree,
 * with the request's Correlation Data.
 *
 * The requester is the v5 user property `from` that the plugin stamps on
 * every publish to this topic (replacing any the client sent): a request
 * without exactly one is dropped, since there is nobody to answer. Who may
 * ask for a room's history is the plugin's ACL on the topic; the bridge
 * trusts the topic.
 *
 * Parsing runs on the MQTT thread (no allocation beyond the request); the
 * query and the reply run on the store thread, queued behind the messages
 * that arrived before the request, so a client sees its own last message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mqtt_protocol.h>

#include "bridge.h"
#include "chat_err.h"
#include "envelope.h"
#include "id.h"
#include "json.h"
#include "strbuf.h"
#include "topic.h"

struct history_req {
	char room[TOPIC_ROOM_MAX + 1];
	char user[TOPIC_ID_MAX + 1];
	char before[ID_LEN + 1];
	char after[ID_LEN + 1];
	char cid[ENVELOPE_CID_MAX + 1];
	char q[SEARCH_QUERY_MAX + 1]; /* search: the text to find, "" = plain history */
	bool reads;                    /* {"reads":true}: every member's read marker instead */
	long long limit;
	const char *error;  /* static text: answer with this instead */
	char *reply_topic;  /* owned */
	void *corr;         /* owned correlation data, or NULL */
	uint16_t corr_len;
};

void history_req_free(void *p)
{
	struct history_req *req = p;
	if (!req) return;
	free(req->reply_topic);
	free(req->corr);
	free(req);
}

/* Decodes a string member into out; false when not a non-empty string,
 * too long or holding U+0000. */
static bool member_string(const struct json_span *v, char *out, size_t cap)
{
	return request_string(v, out, cap) > 0;
}

static bool cid_ok(const char *s)
{
	for (; *s; s++) {
		if (*s < 0x21 || *s > 0x7e) return false;
	}
	return true;
}

static int on_member(const struct json_span *key, const struct json_span *v, void *ud)
{
	struct history_req *req = ud;
	if (json_key_is(key, "before") || json_key_is(key, "after")) {
		char *dst = json_key_is(key, "before") ? req->before : req->after;
		if (!member_string(v, dst, ID_LEN + 1) || !id_valid(dst, strlen(dst))) {
			req->error = "before and after must be message ids";
		}
	} else if (json_key_is(key, "limit")) {
		if (v->type != JSON_NUMBER || json_number_i64(v, &req->limit) != 0 || req->limit < 1) {
			req->error = "limit must be a positive integer";
		}
	} else if (json_key_is(key, "reads")) {
		req->reads = v->type == JSON_TRUE;
		if (v->type != JSON_TRUE && v->type != JSON_FALSE) req->error = "reads must be true or false";
	} else if (json_key_is(key, "q")) {
		if (!member_string(v, req->q, sizeof(req->q)) || !search_query_ok(req->q)) {
			req->q[0] = '\0';
			req->error = "q must be 1 to 128 bytes of text without control characters";
		}
	} else if (json_key_is(key, "cid")) {
		if (!member_string(v, req->cid, sizeof(req->cid)) || !cid_ok(req->cid)) {
			req->cid[0] = '\0';
			req->error = "cid must be at most 64 printable ASCII characters";
		}
	}
	return 0;
}

/* Fills the request fields from the JSON payload (empty = the newest). */
static void parse_body(struct bridge *b, struct history_req *req, const char *payload, size_t len)
{
	struct json_span obj;
	req->limit = 0;
	if (len > 0 && (json_check(payload, len, &obj) != CHAT_OK || obj.type != JSON_OBJECT)) {
		req->error = "the request must be a JSON object";
		return;
	}
	if (len > 0) json_object_foreach(&obj, on_member, req);
	if (!req->error && req->before[0] && req->after[0]) req->error = "give before or after, not both";
	if (req->limit == 0) req->limit = b->cfg.history_limit_default;
	if (req->limit > b->cfg.history_limit_max) req->limit = b->cfg.history_limit_max;
}

void history_on_request(struct bridge *b, const char *room, size_t room_len, const struct mosquitto_message *msg,
			const mosquitto_property *props)
{
	struct history_req *req = xcalloc(1, sizeof(*req));
	if (!request_sender(msg, props, req->user, sizeof(req->user))) {
		METRIC_ADD(b, history_refused, 1);
		free(req);
		return;
	}
	snprintf(req->room, sizeof(req->room), "%.*s", (int)room_len, room);
	parse_body(b, req, msg->payload, msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0);
	req->reply_topic = request_reply_topic(req->user, props);
	void *corr = NULL;
	uint16_t corr_len = 0;
	if (mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len, false)) {
		req->corr = corr;
		req->corr_len = corr_len;
	}
	if (req->error) METRIC_ADD(b, history_refused, 1);
	journal_push_job(&b->journal, JOURNAL_HISTORY, req, history_req_free);
}

/* The string field key of doc, or NULL. */
static const char *doc_str(const bson_t *doc, const char *key, uint32_t *len)
{
	bson_iter_t it;
	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it)) return NULL;
	return bson_iter_utf8(&it, len);
}

bool history_envelope_write(struct strbuf *sb, const bson_t *doc)
{
	struct envelope e;
	bson_iter_t it;
	uint32_t text_len = 0;
	memset(&e, 0, sizeof(e));
	e.id = doc_str(doc, "id", NULL);
	e.room = doc_str(doc, "room", NULL);
	e.from = doc_str(doc, "from", NULL);
	e.type = doc_str(doc, "type", NULL);
	e.text = doc_str(doc, "text", &text_len);
	e.text_len = text_len;
	e.cid = doc_str(doc, "cid", NULL);
	if (!e.id || !e.room || !e.from || !e.type) return false;
	if (bson_iter_init_find(&it, doc, "ts") && BSON_ITER_HOLDS_DATE_TIME(&it)) e.ts = bson_iter_date_time(&it);
	e.flagged = bson_iter_init_find(&it, doc, "flagged") && bson_iter_as_bool(&it);
	struct strbuf reactions, mentions;
	strbuf_init(&reactions);
	strbuf_init(&mentions);
	msgstate_fields(doc, &e, &reactions, &mentions); /* msgstate.c: edited, deleted, reply, mentions, reactions */
	char *data = NULL;
	if (bson_iter_init_find(&it, doc, "data") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
		const uint8_t *raw;
		uint32_t raw_len;
		bson_t sub;
		bson_iter_document(&it, &raw_len, &raw);
		if (bson_init_static(&sub, raw, raw_len)) {
			size_t n;
			data = bson_as_relaxed_extended_json(&sub, &n);
			e.data = data;
			e.data_len = n;
		}
	}
	if (e.deleted) e.text = NULL, e.data = NULL;
	envelope_write(sb, &e);
	bson_free(data);
	strbuf_free(&reactions);
	strbuf_free(&mentions);
	return true;
}

static mongoc_cursor_t *run_query(struct bridge *b, const struct history_req *req)
{
	bson_t *filter, *opts;
	bool after = req->after[0] != '\0';
	if (req->before[0]) {
		filter = BCON_NEW("room", BCON_UTF8(req->room), "id", "{", "$lt", BCON_UTF8(req->before), "}");
	} else if (after) {
		filter = BCON_NEW("room", BCON_UTF8(req->room), "id", "{", "$gt", BCON_UTF8(req->after), "}");
	} else {
		filter = BCON_NEW("room", BCON_UTF8(req->room));
	}
	if (req->q[0]) search_filter(filter, req->q); /* search.c */
	/* One more than asked: its presence says whether there is more. */
	opts = BCON_NEW("sort", "{", "id", BCON_INT32(after ? 1 : -1), "}", "limit", BCON_INT64(req->limit + 1),
			"projection", "{", "_id", BCON_INT32(0), "}");
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(b->messages, filter, opts, NULL);
	bson_destroy(filter);
	bson_destroy(opts);
	return cur;
}

/* Appends the page as a JSON array, newest first. Returns 0, or -1 on a
 * MongoDB error; *more tells whether the page was cut at the limit. */
static int write_page(struct bridge *b, const struct history_req *req, struct strbuf *sb, bool *more)
{
	mongoc_cursor_t *cur = run_query(b, req);
	const bson_t *doc;
	size_t n = 0, cap = (size_t)req->limit;
	struct strbuf *items = xcalloc(cap, sizeof(*items));
	*more = false;
	while (mongoc_cursor_next(cur, &doc)) {
		if (n == cap) {
			*more = true;
			break;
		}
		strbuf_init(&items[n]);
		if (history_envelope_write(&items[n], doc)) n++;
		else strbuf_free(&items[n]);
	}
	bson_error_t err;
	int rc = 0;
	if (mongoc_cursor_error(cur, &err)) {
		blog(BLOG_WARN, "MongoDB: history of %s: %s (will retry)", req->room, err.message);
		METRIC_ADD(b, mongo_errors, 1);
		rc = -1;
	}
	mongoc_cursor_destroy(cur);
	bool reverse = req->after[0] != '\0';
	strbuf_putc(sb, '[');
	for (size_t i = 0; i < n; i++) {
		struct strbuf *it = &items[reverse ? n - 1 - i : i];
		if (i) strbuf_putc(sb, ',');
		strbuf_append(sb, it->buf, it->len);
	}
	strbuf_putc(sb, ']');
	for (size_t i = 0; i < n; i++) strbuf_free(&items[i]);
	free(items);
	return rc;
}

static void send_reply(struct bridge *b, const struct history_req *req, const struct strbuf *sb)
{
	mosquitto_property *props = NULL;
	if (req->corr) mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, req->corr, req->corr_len);
	int rc = mqtt_reply(b, req->reply_topic, sb->buf, sb->len, props);
	mosquitto_property_free_all(&props);
	if (rc != MOSQ_ERR_SUCCESS) {
		blog(BLOG_WARN, "history: reply to %s not sent: %s", req->reply_topic, mosquitto_strerror(rc));
	}
}

int history_answer(struct bridge *b, struct history_req *req)
{
	struct strbuf sb;
	strbuf_init(&sb);
	strbuf_puts(&sb, req->q[0] ? "{\"type\":\"search\",\"room\":" : "{\"type\":\"history\",\"room\":");
	strbuf_append_json_string(&sb, req->room, strlen(req->room));
	if (req->q[0]) {
		strbuf_puts(&sb, ",\"q\":");
		strbuf_append_json_string(&sb, req->q, strlen(req->q));
	}
	if (req->cid[0]) {
		strbuf_puts(&sb, ",\"cid\":");
		strbuf_append_json_string(&sb, req->cid, strlen(req->cid));
	}
	bool more = false;
	if (!req->error && req->reads) {
		strbuf_reset(&sb);
		strbuf_puts(&sb, "{\"type\":\"reads\",\"room\":");
		strbuf_append_json_string(&sb, req->room, strlen(req->room));
		if (req->cid[0]) {
			strbuf_puts(&sb, ",\"cid\":");
			strbuf_append_json_string(&sb, req->cid, strlen(req->cid));
		}
		int rc = reads_write(b, req->room, &sb); /* reads.c */
		strbuf_putc(&sb, '}');
		if (rc == 0 && strbuf_status(&sb) == 0) send_reply(b, req, &sb);
		strbuf_free(&sb);
		return rc;
	}
	if (req->error) {
		strbuf_puts(&sb, ",\"error\":");
		strbuf_append_json_string(&sb, req->error, strlen(req->error));
		strbuf_puts(&sb, ",\"messages\":[]");
	} else {
		strbuf_puts(&sb, ",\"messages\":");
		if (write_page(b, req, &sb, &more) != 0) {
			strbuf_free(&sb);
			return -1;
		}
	}
	strbuf_puts(&sb, more ? ",\"more\":true}" : ",\"more\":false}");
	if (strbuf_status(&sb) != 0) abort();
	send_reply(b, req, &sb);
	if (!req->error) METRIC_ADD(b, history_requests, 1);
	strbuf_free(&sb);
	return 0;
}
