/* SPDX-License-Identifier: MIT */
/*
 * The chat list, and muting a room, on chat/users/{user}/chats. The
 * plugin hands the bridge the user's rooms with the request (plugin/
 * chats.c: room, kind, the other party of a DM, role, title, member
 * count); the bridge adds what MongoDB knows and answers
 *
 *   {"type":"chats","cid":...,"chats":[{"room","kind","with"?,"title"?,
 *     "role","members","last":<envelope>|null,"unread":N,"muted":bool}],
 *    "total":N,"more":bool}
 *
 * newest activity first (the room's last message id; rooms without a
 * message after those, by id), paged with offset and limit, on the inbox
 * or the request's v5 Response Topic in the user's own tree (Correlation
 * Data echoed). {"op":"mute","room":"...","muted":true|false} sets the
 * user's mute of one of their rooms (kept in `reads` beside the read
 * marker; push skips a muted room but for mentions) and is answered
 * {"type":"mute","room":...,"muted":bool,"ok":true}.
 *
 * Keeping a list current costs no publish per message: a client lists
 * its rooms once and subscribes to each room's messages (the rooms list
 * tells it which), and every envelope there is the update (last message;
 * unread + 1 when someone else sent it). What a client cannot see for
 * itself is its own read marker moving on another device: for that the
 * bridge publishes {"type":"unread","room":...,"unread":N,"upto":...} on
 * the user's inbox once per marker that moves (chats_read_moved), one
 * publish to one user, whatever the room's size.
 *
 * Cost per list: one indexed query per room for its last message, and two
 * (the marker, the count) per room of the page. Parsing runs on the MQTT
 * thread; the queries on the store thread, behind the messages before it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mqtt_protocol.h>

#include "bridge.h"
#include "chat_err.h"
#include "envelope.h"
#include "id.h"
#include "json.h"
#include "topic.h"

#define CHATS_LIMIT_DEFAULT 20
#define CHATS_LIMIT_MAX 100
#define CHATS_ROOMS_MAX 10000
#define UNREAD_CAP 999

struct chat_entry {
	char room[TOPIC_ROOM_MAX + 1];
	char role[8];
	char with[TOPIC_ID_MAX + 1]; /* "" = a room, not a DM */
	char *title;                 /* owned, may be NULL */
	long long members;
	char last_id[ID_LEN + 1];    /* "" = no message */
	char *last;                  /* its envelope, owned */
};

struct chats_req {
	char user[TOPIC_ID_MAX + 1];
	char cid[ENVELOPE_CID_MAX + 1];
	const char *error; /* static text: answer with this */
	bool mute, muted;
	char mute_room[TOPIC_ROOM_MAX + 1];
	long long limit, offset;
	struct chat_entry *rooms;
	size_t n;
	char *reply_topic;
	void *corr;
	uint16_t corr_len;
};

void chats_req_free(void *p)
{
	struct chats_req *req = p;
	if (!req) return;
	for (size_t i = 0; i < req->n; i++) {
		free(req->rooms[i].title);
		free(req->rooms[i].last);
	}
	free(req->rooms);
	free(req->reply_topic);
	free(req->corr);
	free(req);
}

static bool copy_string(const cJSON *o, const char *key, char *out, size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap) return false;
	snprintf(out, cap, "%s", v->valuestring);
	return true;
}

/* The plugin's rooms part; false when it is not of the plugin's form. */
static bool parse_rooms(struct chats_req *req, const cJSON *rooms)
{
	int n = cJSON_GetArraySize(rooms);
	if (!cJSON_IsArray(rooms) || n > CHATS_ROOMS_MAX) return false;
	req->rooms = xcalloc((size_t)n + 1, sizeof(*req->rooms));
	const cJSON *r;
	cJSON_ArrayForEach(r, rooms) {
		struct chat_entry *e = &req->rooms[req->n];
		const cJSON *members = cJSON_GetObjectItemCaseSensitive(r, "members");
		const cJSON *title = cJSON_GetObjectItemCaseSensitive(r, "title");
		if (!copy_string(r, "room", e->room, sizeof(e->room)) || !topic_room_valid(e->room, strlen(e->room)) ||
		    !copy_string(r, "role", e->role, sizeof(e->role)) || !cJSON_IsNumber(members)) {
			return false;
		}
		copy_string(r, "with", e->with, sizeof(e->with));
		e->members = (long long)members->valuedouble;
		if (cJSON_IsString(title)) e->title = xstrdup(title->valuestring);
		req->n++;
	}
	return true;
}

static bool has_room(const struct chats_req *req, const char *room)
{
	for (size_t i = 0; i < req->n; i++) {
		if (strcmp(req->rooms[i].room, room) == 0) return true;
	}
	return false;
}

static bool cid_ok(const char *s)
{
	for (; *s; s++) {
		if (*s < 0x21 || *s > 0x7e) return false;
	}
	return true;
}

static long long number_or(const cJSON *o, const char *key, long long dflt, long long min, const char **error)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v) return dflt;
	if (!cJSON_IsNumber(v) || v->valuedouble < (double)min || v->valuedouble > 1e9 ||
	    v->valuedouble != (double)(long long)v->valuedouble) {
		*error = "limit and offset must be integers (limit at least 1)";
		return dflt;
	}
	return (long long)v->valuedouble;
}

/* The client's part of the request. */
static void parse_request(struct chats_req *req, const cJSON *q)
{
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(q, "op");
	const cJSON *cid = cJSON_GetObjectItemCaseSensitive(q, "cid");
	if (cid && (!copy_string(q, "cid", req->cid, sizeof(req->cid)) || !cid_ok(req->cid))) {
		req->cid[0] = '\0';
		req->error = "cid must be at most 64 printable ASCII characters";
	}
	req->limit = number_or(q, "limit", CHATS_LIMIT_DEFAULT, 1, &req->error);
	req->offset = number_or(q, "offset", 0, 0, &req->error);
	if (req->limit > CHATS_LIMIT_MAX) req->limit = CHATS_LIMIT_MAX;
	if (!op || (cJSON_IsString(op) && strcmp(op->valuestring, "list") == 0)) return;
	if (!cJSON_IsString(op) || strcmp(op->valuestring, "mute") != 0) {
		req->error = "op must be list or mute";
		return;
	}
	const cJSON *muted = cJSON_GetObjectItemCaseSensitive(q, "muted");
	req->mute = true;
	req->muted = cJSON_IsTrue(muted);
	if (!copy_string(q, "room", req->mute_room, sizeof(req->mute_room)) || !cJSON_IsBool(muted)) {
		req->error = "mute needs room and muted (true or false)";
	} else if (!has_room(req, req->mute_room)) {
		req->error = "not a member of that room";
	}
}

void chats_on_request(struct bridge *b, const char *user, size_t user_len, const struct mosquitto_message *msg,
		      const mosquitto_property *props)
{
	struct chats_req *req = xcalloc(1, sizeof(*req));
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	if (!request_sender(msg, props, req->user, sizeof(req->user)) || strlen(req->user) != user_len ||
	    memcmp(req->user, user, user_len) != 0) {
		free(req);
		return;
	}
	cJSON *doc = len && json_check_cstrings(msg->payload, len, NULL) == CHAT_OK
			     ? cJSON_ParseWithLength(msg->payload, len)
			     : NULL;
	if (!doc || !parse_rooms(req, cJSON_GetObjectItemCaseSensitive(doc, "rooms"))) {
		blog(BLOG_WARN, "chat list request from %s without the plugin's rooms: dropped", req->user);
		cJSON_Delete(doc);
		chats_req_free(req);
		return;
	}
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(doc, "request");
	if (cJSON_IsObject(q)) parse_request(req, q);
	else req->error = "the request must be a JSON object";
	cJSON_Delete(doc);
	req->reply_topic = request_reply_topic(req->user, props);
	void *corr = NULL;
	uint16_t corr_len = 0;
	if (mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len, false)) {
		req->corr = corr;
		req->corr_len = corr_len;
	}
	journal_push_job(&b->journal, JOURNAL_CHATS, req, chats_req_free);
}

/* The room's newest message into e. 0, or -1 on a MongoDB error. */
static int load_last(struct bridge *b, struct chat_entry *e)
{
	bson_t *filter = BCON_NEW("room", BCON_UTF8(e->room));
	bson_t *opts = BCON_NEW("sort", "{", "id", BCON_INT32(-1), "}", "limit", BCON_INT64(1), "projection", "{",
				"_id", BCON_INT32(0), "}");
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(b->messages, filter, opts, NULL);
	const bson_t *doc;
	bson_error_t err;
	if (mongoc_cursor_next(cur, &doc)) {
		struct strbuf sb;
		strbuf_init(&sb);
		bson_iter_t it;
		if (history_envelope_write(&sb, doc) && bson_iter_init_find(&it, doc, "id") && BSON_ITER_HOLDS_UTF8(&it)) {
			snprintf(e->last_id, sizeof(e->last_id), "%s", bson_iter_utf8(&it, NULL));
			free(e->last);
			e->last = strbuf_detach(&sb, NULL);
		}
		strbuf_free(&sb);
	}
	int rc = mongoc_cursor_error(cur, &err) ? -1 : 0;
	if (rc) {
		blog(BLOG_WARN, "MongoDB: chat list, last message of %s: %s (will retry)", e->room, err.message);
		METRIC_ADD(b, mongo_errors, 1);
	}
	mongoc_cursor_destroy(cur);
	bson_destroy(filter);
	bson_destroy(opts);
	return rc;
}

/* The user's read marker (into upto, "" = none) and mute of room. 0 or -1. */
static int load_read(struct bridge *b, const char *user, const char *room, char *upto, bool *muted)
{
	bson_t *filter = BCON_NEW("user", BCON_UTF8(user), "room", BCON_UTF8(room));
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(b->reads, filter, NULL, NULL);
	const bson_t *doc;
	bson_iter_t it;
	bson_error_t err;
	upto[0] = '\0';
	*muted = false;
	if (mongoc_cursor_next(cur, &doc)) {
		if (bson_iter_init_find(&it, doc, "upto") && BSON_ITER_HOLDS_UTF8(&it))
			snprintf(upto, ID_LEN + 1, "%s", bson_iter_utf8(&it, NULL));
		*muted = bson_iter_init_find(&it, doc, "muted") && bson_iter_as_bool(&it);
	}
	int rc = mongoc_cursor_error(cur, &err) ? -1 : 0;
	if (rc) METRIC_ADD(b, mongo_errors, 1);
	mongoc_cursor_destroy(cur);
	bson_destroy(filter);
	return rc;
}

/* Messages of room after upto that others than user sent, up to UNREAD_CAP; -1 on error. */
static long count_unread(struct bridge *b, const char *user, const char *room, const char *upto)
{
	bson_error_t err;
	bson_t *filter = BCON_NEW("room", BCON_UTF8(room), "id", "{", "$gt", BCON_UTF8(upto), "}", "from", "{", "$ne",
				  BCON_UTF8(user), "}");
	bson_t *opts = BCON_NEW("limit", BCON_INT64(UNREAD_CAP));
	int64_t n = mongoc_collection_count_documents(b->messages, filter, opts, NULL, NULL, &err);
	bson_destroy(filter);
	bson_destroy(opts);
	if (n < 0) METRIC_ADD(b, mongo_errors, 1);
	return n < 0 ? -1 : (long)n;
}

/* Newest activity first; rooms without messages last, by id. */
static int by_activity(const void *pa, const void *pb)
{
	const struct chat_entry *a = pa, *b = pb;
	int c = strcmp(b->last_id, a->last_id);
	return c ? c : strcmp(a->room, b->room);
}

static int write_entry(struct bridge *b, const struct chats_req *req, const struct chat_entry *e, struct strbuf *sb)
{
	char upto[ID_LEN + 1];
	bool muted;
	if (load_read(b, req->user, e->room, upto, &muted) != 0) return -1;
	long unread = count_unread(b, req->user, e->room, upto);
	if (unread < 0) return -1;
	strbuf_puts(sb, "{\"room\":");
	strbuf_append_json_string(sb, e->room, strlen(e->room));
	strbuf_puts(sb, e->with[0] ? ",\"kind\":\"dm\",\"with\":" : ",\"kind\":\"room\"");
	if (e->with[0]) strbuf_append_json_string(sb, e->with, strlen(e->with));
	if (e->title) {
		strbuf_puts(sb, ",\"title\":");
		strbuf_append_json_string(sb, e->title, strlen(e->title));
	}
	strbuf_puts(sb, ",\"role\":");
	strbuf_append_json_string(sb, e->role, strlen(e->role));
	strbuf_puts(sb, ",\"members\":");
	strbuf_append_i64(sb, e->members);
	strbuf_puts(sb, ",\"last\":");
	strbuf_puts(sb, e->last ? e->last : "null");
	strbuf_puts(sb, ",\"unread\":");
	strbuf_append_i64(sb, unread);
	strbuf_puts(sb, muted ? ",\"muted\":true}" : ",\"muted\":false}");
	return 0;
}

static int write_list(struct bridge *b, struct chats_req *req, struct strbuf *sb)
{
	for (size_t i = 0; i < req->n; i++) {
		if (load_last(b, &req->rooms[i]) != 0) return -1;
	}
	qsort(req->rooms, req->n, sizeof(*req->rooms), by_activity);
	size_t from = req->offset < (long long)req->n ? (size_t)req->offset : req->n;
	size_t to = from + (size_t)req->limit < req->n ? from + (size_t)req->limit : req->n;
	strbuf_puts(sb, ",\"chats\":[");
	for (size_t i = from; i < to; i++) {
		if (i > from) strbuf_putc(sb, ',');
		if (write_entry(b, req, &req->rooms[i], sb) != 0) return -1;
	}
	strbuf_puts(sb, "],\"total\":");
	strbuf_append_u64(sb, req->n);
	strbuf_puts(sb, to < req->n ? ",\"more\":true" : ",\"more\":false");
	return 0;
}

static int write_mute(struct bridge *b, const struct chats_req *req, struct strbuf *sb)
{
	bson_error_t err;
	/* A marker inserted here starts at "" so that any read marker moves it. */
	bson_t *filter = BCON_NEW("user", BCON_UTF8(req->user), "room", BCON_UTF8(req->mute_room));
	bson_t *upd = BCON_NEW("$set", "{", "muted", BCON_BOOL(req->muted), "}", "$setOnInsert", "{", "upto",
			       BCON_UTF8(""), "}");
	bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
	bool ok = mongoc_collection_update_one(b->reads, filter, upd, opts, NULL, &err);
	bson_destroy(filter);
	bson_destroy(upd);
	bson_destroy(opts);
	if (!ok) {
		blog(BLOG_WARN, "MongoDB: mute of %s by %s: %s (will retry)", req->mute_room, req->user, err.message);
		METRIC_ADD(b, mongo_errors, 1);
		return -1;
	}
	strbuf_puts(sb, ",\"room\":");
	strbuf_append_json_string(sb, req->mute_room, strlen(req->mute_room));
	strbuf_puts(sb, req->muted ? ",\"muted\":true,\"ok\":true" : ",\"muted\":false,\"ok\":true");
	return 0;
}

static void send_reply(struct bridge *b, const char *topic, const void *corr, uint16_t corr_len, const struct strbuf *sb)
{
	mosquitto_property *props = NULL;
	if (corr) mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, corr, corr_len);
	int rc = mqtt_reply(b, topic, sb->buf, sb->len, props);
	mosquitto_property_free_all(&props);
	if (rc != MOSQ_ERR_SUCCESS) blog(BLOG_WARN, "chat list: reply to %s not sent: %s", topic, mosquitto_strerror(rc));
}

int chats_answer(struct bridge *b, struct chats_req *req)
{
	struct strbuf sb;
	strbuf_init(&sb);
	strbuf_puts(&sb, req->mute ? "{\"type\":\"mute\"" : "{\"type\":\"chats\"");
	if (req->cid[0]) {
		strbuf_puts(&sb, ",\"cid\":");
		strbuf_append_json_string(&sb, req->cid, strlen(req->cid));
	}
	int rc = 0;
	if (req->error) {
		strbuf_puts(&sb, ",\"error\":");
		strbuf_append_json_string(&sb, req->error, strlen(req->error));
	} else {
		rc = req->mute ? write_mute(b, req, &sb) : write_list(b, req, &sb);
	}
	strbuf_putc(&sb, '}');
	if (rc == 0 && strbuf_status(&sb) == CHAT_OK) send_reply(b, req->reply_topic, req->corr, req->corr_len, &sb);
	strbuf_free(&sb);
	return rc;
}

void chats_read_moved(struct bridge *b, const char *user, const char *room, const char *upto)
{
	long unread = count_unread(b, user, room, upto);
	if (unread < 0) return; /* the marker is stored; only this notice is lost */
	struct strbuf sb;
	char topic[sizeof("chat/users//inbox") + TOPIC_ID_MAX];
	strbuf_init(&sb);
	strbuf_puts(&sb, "{\"type\":\"unread\",\"room\":");
	strbuf_append_json_string(&sb, room, strlen(room));
	strbuf_puts(&sb, ",\"unread\":");
	strbuf_append_i64(&sb, unread);
	strbuf_puts(&sb, ",\"upto\":");
	strbuf_append_json_string(&sb, upto, strlen(upto));
	strbuf_putc(&sb, '}');
	snprintf(topic, sizeof(topic), "chat/users/%s/inbox", user);
	if (strbuf_status(&sb) == CHAT_OK) send_reply(b, topic, NULL, 0, &sb);
	strbuf_free(&sb);
}
