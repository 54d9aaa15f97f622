/* SPDX-License-Identifier: MIT */
/*
 * MongoDB persistence, on a thread of its own.
 *
 * Why a thread and not bounded batches in the MQTT loop: a MongoDB call can
 * block for seconds (server selection while a replica set elects, a stopped
 * server, a slow disk), and the MQTT loop must keep reading, journaling and
 * answering PINGREQs all that time or the broker drops the session. So the
 * MQTT thread only appends to the journal (microseconds) and this thread
 * takes from it: up to batch_size messages per insert_many (ordered:false),
 * read markers as upserts and history requests as queries, strictly in
 * arrival order, and reports each finished piece back with journal_done(),
 * which is the only thing that frees journal space.
 *
 * A failed call is retried with the same entries after a backoff (100 ms
 * doubling to 5 s): the unique index on (room, id) makes a retried or
 * replayed insert harmless, and error 11000 in writeErrors is counted as a
 * duplicate, not a failure. Messages that are not valid envelopes are
 * dropped (counted), since no retry would ever store them.
 *
 * The mongoc_client_t (not thread-safe) belongs to this thread alone.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"
#include "chat_err.h"
#include "envelope.h"
#include "id.h"
#include "topic.h"

#define DUPLICATE_KEY 11000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

static bool stopping(struct bridge *b)
{
	return atomic_load(&b->drain_deadline_ms) != 0;
}

static bool past_deadline(struct bridge *b)
{
	long long d = atomic_load(&b->drain_deadline_ms);
	return d != 0 && bridge_now_ms() >= d;
}

/* Sleeps ms in small steps; returns early once the drain deadline passed. */
static void backoff_sleep(struct bridge *b, int ms)
{
	while (ms > 0 && !past_deadline(b)) {
		int step = ms < 50 ? ms : 50;
		struct timespec ts = {0, (long)step * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

static int create_index(struct bridge *b, mongoc_collection_t *coll, const char *name, const bson_t *key)
{
	bson_error_t err;
	bson_t *cmd = BCON_NEW("createIndexes", BCON_UTF8(mongoc_collection_get_name(coll)), "indexes", "[", "{",
			       "key", BCON_DOCUMENT(key), "name", BCON_UTF8(name), "unique", BCON_BOOL(true), "}",
			       "]");
	bool ok = mongoc_collection_write_command_with_opts(coll, cmd, NULL, NULL, &err);
	bson_destroy(cmd);
	if (!ok) {
		blog(BLOG_WARN, "MongoDB: creating index %s: %s (will retry)", name, err.message);
		METRIC_ADD(b, mongo_errors, 1);
	}
	return ok ? 0 : -1;
}

/* One index per createIndexes command: FerretDB wants it so, MongoDB
 * does not mind. {room, id desc} serves newest-first scans of one room. */
static int ensure_indexes(struct bridge *b)
{
	bson_t *by_room = BCON_NEW("room", BCON_INT32(1), "id", BCON_INT32(-1));
	bson_t *by_user = BCON_NEW("user", BCON_INT32(1), "room", BCON_INT32(1));
	int rc = create_index(b, b->messages, "room_id", by_room);
	if (rc == 0) rc = create_index(b, b->reads, "user_room", by_user);
	bson_destroy(by_room);
	bson_destroy(by_user);
	if (rc == 0) {
		b->indexes_ok = true;
		blog(BLOG_INFO, "MongoDB ready (database %s)", b->cfg.mongo_database);
	}
	return rc;
}

/* Applies the bridge's timeouts where the URI does not choose its own:
 * the defaults (300 s socket timeout) would stall the store for minutes. */
static void set_default_timeouts(mongoc_uri_t *uri)
{
	static const struct {
		const char *option;
		int32_t ms;
	} defaults[] = {
		{MONGOC_URI_CONNECTTIMEOUTMS, 5000},
		{MONGOC_URI_SOCKETTIMEOUTMS, 30000},
		{MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000},
	};
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		if (!mongoc_uri_has_option(uri, defaults[i].option)) {
			mongoc_uri_set_option_as_int32(uri, defaults[i].option, defaults[i].ms);
		}
	}
}

static int mongo_open(struct bridge *b)
{
	bson_error_t err;
	mongoc_uri_t *uri = mongoc_uri_new_with_error(b->cfg.mongo_uri, &err);
	if (!uri) {
		blog(BLOG_ERR, "mongo_uri: %s", err.message);
		return -1;
	}
	set_default_timeouts(uri);
	b->mongo = mongoc_client_new_from_uri_with_error(uri, &err);
	mongoc_uri_destroy(uri);
	if (!b->mongo) {
		blog(BLOG_ERR, "mongo client: %s", err.message);
		return -1;
	}
	mongoc_client_set_error_api(b->mongo, MONGOC_ERROR_API_VERSION_2);
	mongoc_client_set_appname(b->mongo, "chat-bridge");
	b->messages = mongoc_client_get_collection(b->mongo, b->cfg.mongo_database, "messages");
	b->reads = mongoc_client_get_collection(b->mongo, b->cfg.mongo_database, "reads");
	return 0;
}

static void mongo_close(struct bridge *b)
{
	if (b->messages) mongoc_collection_destroy(b->messages);
	if (b->reads) mongoc_collection_destroy(b->reads);
	if (b->mongo) mongoc_client_destroy(b->mongo);
	b->messages = b->reads = NULL;
	b->mongo = NULL;
}

/* Appends the decoded string span as a UTF-8 field. Decoding never makes
 * a string longer than its span, so span length + 1 always fits. */
static bool append_span(bson_t *doc, const char *key, const struct json_span *s)
{
	char small[4096];
	char *buf = s->len < sizeof(small) ? small : xmalloc(s->len + 1);
	long n = json_string_decode(s, buf, s->len < sizeof(small) ? sizeof(small) : s->len + 1);
	bool ok = n >= 0 && bson_append_utf8(doc, key, -1, buf, (int)n);
	if (buf != small) free(buf);
	return ok;
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
	if (ok && v.has_reply) ok = append_span(doc, "reply", &v.reply);
	if (ok && v.has_mentions) ok = msgstate_append_mentions(doc, &v.mentions); /* msgstate.c */
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

/* Marks in dup[] the documents that writeErrors reports as duplicates.
 * Returns true when every write error was a duplicate key. */
static bool only_duplicates(const bson_t *reply, bool *dup, size_t ndocs)
{
	bson_iter_t it, arr, e;
	bool any = false;
	if (bson_iter_init_find(&it, reply, "writeConcernErrors") && BSON_ITER_HOLDS_ARRAY(&it) &&
	    bson_iter_recurse(&it, &arr) && bson_iter_next(&arr)) {
		return false;
	}
	if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &arr)) {
		return false;
	}
	while (bson_iter_next(&arr)) {
		int32_t code = 0, index = -1;
		if (!BSON_ITER_HOLDS_DOCUMENT(&arr) || !bson_iter_recurse(&arr, &e)) return false;
		while (bson_iter_next(&e)) {
			const char *key = bson_iter_key(&e);
			if (strcmp(key, "code") == 0) code = (int32_t)bson_iter_as_int64(&e);
			if (strcmp(key, "index") == 0) index = (int32_t)bson_iter_as_int64(&e);
		}
		if (code != DUPLICATE_KEY || index < 0 || (size_t)index >= ndocs) return false;
		dup[index] = true;
		any = true;
	}
	return any;
}

/* One insert_many of docs[0..n) (ordered:false); marks duplicates in
 * dup[]. 0, or -1 to retry. */
static int insert_docs(struct bridge *b, const bson_t **docs, size_t n, bool *dup)
{
	bson_t reply, *opts = BCON_NEW("ordered", BCON_BOOL(false));
	bson_error_t err;
	struct timespec s0, s1;
	int rc = 0;
	clock_gettime(CLOCK_MONOTONIC, &s0);
	bool ok = mongoc_collection_insert_many(b->messages, docs, n, opts, &reply, &err);
	clock_gettime(CLOCK_MONOTONIC, &s1);
	metrics_observe(&b->metrics.store_batch, (s1.tv_sec - s0.tv_sec) * 1000000LL + (s1.tv_nsec - s0.tv_nsec) / 1000);
	if (!ok && !only_duplicates(&reply, dup, n)) {
		blog(BLOG_WARN, "MongoDB: insert of %zu messages: %s (will retry)", n, err.message);
		METRIC_ADD(b, mongo_errors, 1);
		rc = -1;
	}
	bson_destroy(&reply);
	bson_destroy(opts);
	return rc;
}

/* Counts a stored run and hands each new message on (b->on_stored). */
static void after_insert(struct bridge *b, struct journal_entry **e, const size_t *from, const bool *dup,
			 size_t ndocs, size_t invalid)
{
	long long now = bridge_now_ms();
	for (size_t d = 0; d < ndocs; d++) {
		struct journal_entry *x = e[from[d]];
		metrics_observe(&b->metrics.store_lag, (now - x->arrived_ms) * 1000);
		METRIC_ADD(b, stored, 1);
		if (dup[d]) METRIC_ADD(b, duplicates, 1);
		else if (b->on_stored) b->on_stored(b, x->data, x->len);
	}
	if (invalid) {
		blog(BLOG_WARN, "dropped %zu messages that are not valid envelopes", invalid);
		METRIC_ADD(b, invalid, invalid);
	}
}

/* Inserts messages e[0..n) in one insert_many. 0, or -1 to retry. */
static int insert_messages(struct bridge *b, struct journal_entry **e, size_t n)
{
	bson_t *docs = xcalloc(n, sizeof(*docs));
	const bson_t **ptrs = xcalloc(n, sizeof(*ptrs));
	size_t *from = xcalloc(n, sizeof(*from)), ndocs = 0;
	bool *dup = xcalloc(n, sizeof(*dup));
	for (size_t i = 0; i < n; i++) {
		bson_init(&docs[ndocs]);
		if (!build_doc(&docs[ndocs], e[i]->data, e[i]->len)) {
			bson_destroy(&docs[ndocs]);
			continue;
		}
		change_check_reply(b, &docs[ndocs], docs, ndocs); /* change.c: replies the plugin could not check */
		ptrs[ndocs] = &docs[ndocs];
		from[ndocs++] = i;
	}
	int rc = ndocs > 0 ? insert_docs(b, ptrs, ndocs, dup) : 0;
	if (rc == 0) after_insert(b, e, from, dup, ndocs, n - ndocs);
	for (size_t d = 0; d < ndocs; d++) bson_destroy(&docs[d]);
	free(docs);
	free(ptrs);
	free(from);
	free(dup);
	return rc;
}

/* Splits a read record "user\nroom\nupto" in place. */
static bool split_read(char *data, char **user, char **room, char **upto)
{
	*user = data;
	char *nl = strchr(data, '\n');
	if (!nl) return false;
	*nl = '\0';
	*room = nl + 1;
	nl = strchr(*room, '\n');
	if (!nl) return false;
	*nl = '\0';
	*upto = nl + 1;
	return topic_user_valid(*user, strlen(*user)) && topic_room_valid(*room, strlen(*room)) &&
	       id_valid(*upto, strlen(*upto));
}

/*
 * Stores a read marker; it only moves forward. The filter matches the
 * user's marker only while it is older than upto, so an older or equal
 * marker turns the upsert into an insert that the unique (user, room)
 * index refuses with 11000: nothing to do, which is success.
 */
static int store_read(struct bridge *b, struct journal_entry *e)
{
	char copy[512], *user, *room, *upto;
	if (e->len >= sizeof(copy)) return 0;
	memcpy(copy, e->data, e->len + 1);
	if (!split_read(copy, &user, &room, &upto)) {
		blog(BLOG_WARN, "dropping a malformed read marker record");
		return 0;
	}
	bson_t *filter = BCON_NEW("user", BCON_UTF8(user), "room", BCON_UTF8(room), "upto", "{", "$lt",
				  BCON_UTF8(upto), "}");
	bson_t *update = BCON_NEW("$set", "{", "user", BCON_UTF8(user), "room", BCON_UTF8(room), "upto",
				  BCON_UTF8(upto), "ts", BCON_DATE_TIME(bridge_wall_ms()), "}");
	bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
	bson_error_t err;
	bson_t reply;
	bool ok = mongoc_collection_update_one(b->reads, filter, update, opts, &reply, &err);
	bson_destroy(filter);
	bson_destroy(update);
	bson_destroy(opts);
	bson_iter_t it;
	bool moved = ok && ((bson_iter_init_find(&it, &reply, "modifiedCount") && bson_iter_as_int64(&it) > 0) ||
			    (bson_iter_init_find(&it, &reply, "upsertedCount") && bson_iter_as_int64(&it) > 0));
	bson_destroy(&reply);
	if (moved) chats_read_moved(b, user, room, upto); /* chatlist.c: the user's other devices */
	if (!ok && err.code != DUPLICATE_KEY) {
		blog(BLOG_WARN, "MongoDB: read marker of %s in %s: %s (will retry)", user, room, err.message);
		METRIC_ADD(b, mongo_errors, 1);
		return -1;
	}
	METRIC_ADD(b, read_markers, 1);
	return 0;
}

/* Handles the run of entries starting at e[0] (same kind for messages);
 * sets *used to how many it covered. 0, or -1 to retry them. */
static int do_run(struct bridge *b, struct journal_entry **e, size_t n, size_t *used)
{
	size_t k = 1;
	switch (e[0]->kind) {
	case JOURNAL_MESSAGE:
		if (change_is(e[0]->data, e[0]->len)) { /* change.c: edits, deletes, reactions */
			*used = 1;
			return change_apply(b, e[0]->data, e[0]->len);
		}
		while (k < n && e[k]->kind == JOURNAL_MESSAGE && !change_is(e[k]->data, e[k]->len)) k++;
		*used = k;
		return insert_messages(b, e, k);
	case JOURNAL_READ: *used = 1; return store_read(b, e[0]);
	case JOURNAL_HISTORY: *used = 1; return history_answer(b, e[0]->job);
	case JOURNAL_CHATS: *used = 1; return chats_answer(b, e[0]->job);
	default:
		*used = 1;
		blog(BLOG_WARN, "journal: skipping a record of unknown kind %u", e[0]->kind);
		return 0;
	}
}

/* Works through a batch in order, retrying with backoff; returns early
 * only when the drain deadline has passed. */
static void process_batch(struct bridge *b, struct journal_entry **e, size_t n)
{
	int backoff = BACKOFF_MIN_MS;
	size_t i = 0;
	while (i < n) {
		size_t used = 0;
		int rc = b->indexes_ok || ensure_indexes(b) == 0 ? do_run(b, e + i, n - i, &used) : -1;
		if (rc == 0) {
			journal_done(&b->journal, used);
			i += used;
			backoff = BACKOFF_MIN_MS;
			continue;
		}
		if (past_deadline(b)) return;
		backoff_sleep(b, backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
}

static void *store_main(void *arg)
{
	struct bridge *b = arg;
	size_t max = (size_t)b->cfg.batch_size;
	struct journal_entry **batch = xcalloc(max, sizeof(*batch));
	if (!b->indexes_ok) ensure_indexes(b);
	for (;;) {
		if (stopping(b) && (journal_idle(&b->journal) || past_deadline(b))) break;
		size_t n = journal_take(&b->journal, batch, max, 200);
		if (n > 0) process_batch(b, batch, n);
	}
	free(batch);
	return NULL;
}

int store_start(struct bridge *b)
{
	if (mongo_open(b) != 0) return -1;
	if (pthread_create(&b->store_thread, NULL, store_main, b) != 0) {
		blog(BLOG_ERR, "cannot start the store thread");
		mongo_close(b);
		return -1;
	}
	b->store_running = true;
	return 0;
}

void store_stop(struct bridge *b)
{
	if (!b->store_running) return;
	long long deadline = bridge_now_ms() + b->cfg.drain_timeout_ms;
	atomic_store(&b->drain_deadline_ms, deadline > 0 ? deadline : 1);
	journal_wake_closing(&b->journal);
	pthread_join(b->store_thread, NULL);
	b->store_running = false;
	mongo_close(b);
	size_t records, bytes;
	journal_depth(&b->journal, &records, &bytes, NULL);
	if (records > 0) {
		blog(BLOG_WARN, "drain deadline passed: %zu records (%zu bytes) stay in the journal for the next start",
		     records, bytes);
	} else {
		blog(BLOG_INFO, "drained: the journal is empty");
	}
}

long store_unread_count(struct bridge *b, const char *room, const char *user, long cap)
{
	bson_error_t err;
	bson_t *filter = BCON_NEW("user", BCON_UTF8(user), "room", BCON_UTF8(room));
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(b->reads, filter, NULL, NULL);
	const bson_t *doc;
	char upto[ID_LEN + 1] = "";
	bson_iter_t it;
	if (mongoc_cursor_next(cur, &doc) && bson_iter_init_find(&it, doc, "upto") && BSON_ITER_HOLDS_UTF8(&it)) {
		snprintf(upto, sizeof(upto), "%s", bson_iter_utf8(&it, NULL));
	}
	bool failed = mongoc_cursor_error(cur, &err);
	mongoc_cursor_destroy(cur);
	bson_destroy(filter);
	if (failed) {
		METRIC_ADD(b, mongo_errors, 1);
		return -1;
	}
	filter = BCON_NEW("room", BCON_UTF8(room), "id", "{", "$gt", BCON_UTF8(upto), "}", "from", "{", "$ne",
			  BCON_UTF8(user), "}");
	bson_t *opts = BCON_NEW("limit", BCON_INT64(cap));
	int64_t n = mongoc_collection_count_documents(b->messages, filter, opts, NULL, NULL, &err);
	bson_destroy(filter);
	bson_destroy(opts);
	if (n < 0) METRIC_ADD(b, mongo_errors, 1);
	return n < 0 ? -1 : (long)n;
}
