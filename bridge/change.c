/* SPDX-License-Identifier: MIT */
/*
 * Edits, deletes and reactions: envelopes that change a stored message
 * rather than add one. They arrive on chat/rooms/{room}/messages like
 * messages (so they are journaled, ordered and retried like them), and the
 * store thread applies each one to the document it names instead of
 * inserting it:
 *
 *   edit     text, data and type replaced; "edited" (time) and "edit_id"
 *            (the edit's id) set. Only the sender's own message, and only
 *            by an edit newer than the last one applied, so a replay never
 *            brings back an older text.
 *   delete   a tombstone: "deleted":true with who and when; text, data and
 *            reactions removed, never served again.
 *   react    the sender's reaction replaced (a "" reaction removes it);
 *            "reactions" is an object {user: reaction}, one per user.
 *
 * Whether the sender may make the change (own message, window, role) the
 * plugin decided before anyone received it (plugin/edit.c); the bridge
 * applies it only to a message that is stored in that room and not
 * deleted, and matches on nothing else. Each update is idempotent, so a
 * retry or a journal replay is harmless. A change is not a new message:
 * bridge_on_stored (push) is not called for it.
 *
 * Operators used ($set and $unset, with dotted paths; $ne, $lt,
 * $exists, $or) are supported alike by MongoDB and FerretDB. ($pull with
 * a condition is not: FerretDB matches it as an equal value.)
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "chat_err.h"
#include "envelope.h"
#include "id.h"
#include "topic.h"

#define CHANGE_WAIT_MS 10000

bool change_is(const char *json, size_t len)
{
	/* Cheap first: the members are written by the plugin, unescaped; only
	 * a payload that has one is read in full (a "data" object may hold
	 * the same bytes). */
	if (!memmem(json, len, "\"edit\":\"", 8) && !memmem(json, len, "\"delete\":\"", 10) &&
	    !memmem(json, len, "\"react\":\"", 9)) {
		return false;
	}
	struct envelope_view v;
	return envelope_read(json, len, &v) == CHAT_OK && (v.has_edit || v.has_del || v.has_react);
}

/* A decoded string span into out (capacity cap); false when it does not fit. */
static bool span_str(const struct json_span *s, char *out, size_t cap)
{
	long n = json_string_decode(s, out, cap);
	return n >= 0 && !memchr(out, '\0', (size_t)n);
}

struct change {
	char room[TOPIC_ROOM_MAX + 1], id[ID_LEN + 1], from[TOPIC_ID_MAX + 1], ref[ID_LEN + 1];
	char type[ENVELOPE_TYPE_MAX + 1], reaction[ENVELOPE_REACTION_MAX + 1];
	char *text; /* owned; NULL = none */
	bson_t data; /* empty when none */
	bool has_data;
	int64_t ts;
};

static bool read_change(struct change *c, const struct envelope_view *v)
{
	const struct json_span *ref = v->has_edit ? &v->edit : v->has_del ? &v->del : &v->react;
	if (!span_str(&v->room, c->room, sizeof(c->room)) || !span_str(&v->id, c->id, sizeof(c->id)) ||
	    !span_str(&v->from, c->from, sizeof(c->from)) || !span_str(ref, c->ref, sizeof(c->ref)) ||
	    !span_str(&v->type, c->type, sizeof(c->type)) || !id_valid(c->ref, strlen(c->ref))) {
		return false;
	}
	if (v->has_reaction && !span_str(&v->reaction, c->reaction, sizeof(c->reaction))) return false;
	if (v->has_text) {
		c->text = xmalloc(v->text.len + 1);
		if (!span_str(&v->text, c->text, v->text.len + 1)) return false;
	}
	if (v->has_data) {
		bson_error_t err;
		if (!bson_init_from_json(&c->data, v->data.p, (ssize_t)v->data.len, &err)) return false;
		c->has_data = true;
	}
	c->ts = v->ts;
	return true;
}

/* One update_one; *matched (may be NULL) gets whether a document matched. */
static bool update(struct bridge *b, const bson_t *filter, const bson_t *upd, const char *what, bool *matched)
{
	bson_error_t err;
	bson_t reply;
	bson_iter_t it;
	bool ok = mongoc_collection_update_one(b->messages, filter, upd, NULL, &reply, &err);
	if (!ok) {
		blog(BLOG_WARN, "MongoDB: %s: %s (will retry)", what, err.message);
		METRIC_ADD(b, mongo_errors, 1);
	}
	if (matched) *matched = ok && bson_iter_init_find(&it, &reply, "matchedCount") && bson_iter_as_int64(&it) > 0;
	bson_destroy(&reply);
	return ok;
}

/*
 * Whether the change's message is stored: 1 yes, 0 no and never will be
 * (drop the change), -1 not yet or unknown (try again). With several
 * bridges sharing the load, a change and its message can go to different
 * bridges, and the change can reach MongoDB a moment before the message:
 * it waits for it (the store's backoff) until CHANGE_WAIT_MS after the
 * change was sent, when the message was sent at most CHANGE_WAIT_MS before
 * the change; otherwise it is dropped (its message never came, or is older
 * than the plugin's record and absent). Asked before the update: a stored
 * message is never removed, so the update then sees it.
 */
static int message_stored(struct bridge *b, const struct change *c)
{
	bson_error_t err;
	bson_t *filter = BCON_NEW("room", BCON_UTF8(c->room), "id", BCON_UTF8(c->ref));
	bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
	int64_t n = mongoc_collection_count_documents(b->messages, filter, opts, NULL, NULL, &err);
	bson_destroy(filter);
	bson_destroy(opts);
	if (n < 0) {
		blog(BLOG_WARN, "MongoDB: a change in %s: %s (will retry)", c->room, err.message);
		METRIC_ADD(b, mongo_errors, 1);
		return -1;
	}
	if (n > 0) return 1;
	/* Only a message sent just before the change is worth waiting for: an
	 * older id that is not stored will not be (and the plugin passes such
	 * ids unchecked, so waiting for them would let anyone stall the store). */
	int64_t sent = (int64_t)id_time_ms(c->ref);
	if (sent + CHANGE_WAIT_MS < c->ts || bridge_wall_ms() > c->ts + CHANGE_WAIT_MS) {
		blog(BLOG_INFO, "a change in %s names no stored message: dropped", c->room);
		return 0;
	}
	blog(BLOG_INFO, "a change in %s came before its message: trying again", c->room);
	return -1;
}

static bool apply_edit(struct bridge *b, const struct change *c, bool *matched)
{
	bson_t *filter = BCON_NEW("room", BCON_UTF8(c->room), "id", BCON_UTF8(c->ref), "from", BCON_UTF8(c->from),
				  "deleted", "{", "$ne", BCON_BOOL(true), "}", "$or", "[", "{", "edit_id", "{",
				  "$exists", BCON_BOOL(false), "}", "}", "{", "edit_id", "{", "$lt", BCON_UTF8(c->id),
				  "}", "}", "]");
	bson_t upd = BSON_INITIALIZER, set, unset;
	BSON_APPEND_DOCUMENT_BEGIN(&upd, "$set", &set);
	BSON_APPEND_UTF8(&set, "type", c->type);
	BSON_APPEND_DATE_TIME(&set, "edited", c->ts);
	BSON_APPEND_UTF8(&set, "edit_id", c->id);
	if (c->text) BSON_APPEND_UTF8(&set, "text", c->text);
	if (c->has_data) BSON_APPEND_DOCUMENT(&set, "data", &c->data);
	bson_append_document_end(&upd, &set);
	if (!c->text || !c->has_data) {
		BSON_APPEND_DOCUMENT_BEGIN(&upd, "$unset", &unset);
		if (!c->text) BSON_APPEND_UTF8(&unset, "text", "");
		if (!c->has_data) BSON_APPEND_UTF8(&unset, "data", "");
		bson_append_document_end(&upd, &unset);
	}
	bool ok = update(b, filter, &upd, "edit", matched);
	bson_destroy(filter);
	bson_destroy(&upd);
	return ok;
}

static bool apply_delete(struct bridge *b, const struct change *c, bool *matched)
{
	bson_t *filter = BCON_NEW("room", BCON_UTF8(c->room), "id", BCON_UTF8(c->ref));
	bson_t *upd = BCON_NEW("$set", "{", "deleted", BCON_BOOL(true), "deleted_by", BCON_UTF8(c->from),
			       "deleted_ts", BCON_DATE_TIME(c->ts), "}", "$unset", "{", "text", BCON_UTF8(""), "data",
			       BCON_UTF8(""), "reactions", BCON_UTF8(""), "}");
	bool ok = update(b, filter, upd, "delete", matched);
	bson_destroy(filter);
	bson_destroy(upd);
	return ok;
}

/* The sender's reaction is the field reactions.<user> (a '.' of the user
 * id written ':', which no user id holds, so that the path has two
 * levels): one $set replaces it, one $unset takes it back. */
static bool apply_react(struct bridge *b, const struct change *c, bool *matched)
{
	char path[sizeof("reactions.") + TOPIC_ID_MAX];
	snprintf(path, sizeof(path), "reactions.%s", c->from);
	for (char *p = path + sizeof("reactions.") - 1; *p; p++) {
		if (*p == '.') *p = ':';
	}
	bson_t *filter = BCON_NEW("room", BCON_UTF8(c->room), "id", BCON_UTF8(c->ref), "deleted", "{", "$ne",
				  BCON_BOOL(true), "}");
	bson_t *upd = BCON_NEW(c->reaction[0] ? "$set" : "$unset", "{", path, BCON_UTF8(c->reaction), "}");
	bool ok = update(b, filter, upd, "reaction", matched);
	bson_destroy(filter);
	bson_destroy(upd);
	return ok;
}

/* True when one of batch[0..n) is message id of room. */
static bool in_batch(const bson_t *batch, size_t n, const char *room, const char *id)
{
	for (size_t i = 0; i < n; i++) {
		bson_iter_t it;
		if (!bson_iter_init_find(&it, &batch[i], "id") || strcmp(bson_iter_utf8(&it, NULL), id) != 0) continue;
		if (bson_iter_init_find(&it, &batch[i], "room") && strcmp(bson_iter_utf8(&it, NULL), room) == 0) return true;
	}
	return false;
}

void change_check_reply(struct bridge *b, bson_t *doc, const bson_t *batch, size_t n)
{
	bson_iter_t it;
	const char *room, *reply;
	if (!bson_iter_init_find(&it, doc, "reply") || !BSON_ITER_HOLDS_UTF8(&it)) return;
	reply = bson_iter_utf8(&it, NULL);
	if (!bson_iter_init_find(&it, doc, "room") || !BSON_ITER_HOLDS_UTF8(&it)) return;
	room = bson_iter_utf8(&it, NULL);
	if (in_batch(batch, n, room, reply)) return; /* stored with this batch, just before */
	bson_error_t err;
	bson_t *filter = BCON_NEW("room", BCON_UTF8(room), "id", BCON_UTF8(reply), "deleted", "{", "$ne",
				  BCON_BOOL(true), "}");
	bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
	int64_t found = mongoc_collection_count_documents(b->messages, filter, opts, NULL, NULL, &err);
	bson_destroy(filter);
	bson_destroy(opts);
	if (found != 0) return; /* there, or unknown (an error): kept as the plugin passed it */
	blog(BLOG_INFO, "a reply in %s names no stored message of the room: stored without it", room);
	bson_t copy;
	bson_init(&copy);
	bson_copy_to_excluding_noinit(doc, &copy, "reply", NULL);
	bson_destroy(doc);
	bson_steal(doc, &copy);
}

int change_apply(struct bridge *b, const char *json, size_t len)
{
	struct envelope_view v;
	struct change c;
	memset(&c, 0, sizeof(c));
	bson_init(&c.data);
	int rc = 0;
	if (envelope_read(json, len, &v) != CHAT_OK || !read_change(&c, &v)) {
		blog(BLOG_WARN, "dropping a change that is not a valid envelope");
		METRIC_ADD(b, invalid, 1);
	} else {
		int stored = message_stored(b, &c);
		bool matched = false, ok = true;
		if (stored == 1) {
			ok = v.has_edit	  ? apply_edit(b, &c, &matched)
			     : v.has_del ? apply_delete(b, &c, &matched)
					 : apply_react(b, &c, &matched);
		}
		rc = stored < 0 || !ok ? -1 : 0;
		if (rc == 0 && matched) METRIC_ADD(b, changes, 1);
	}
	free(c.text);
	bson_destroy(&c.data);
	return rc;
}
