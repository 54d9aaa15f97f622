/* SPDX-License-Identifier: MIT */
/*
 * The durable outbox, `push_outbox` in MongoDB: one document per
 * notification to one device that still has to go out. A first attempt
 * goes out straight from memory; only when it fails is the job written
 * here, with exponential backoff and jitter (next_at), and it is removed
 * when the provider took it (or said the token is dead); after
 * push_max_attempts it moves to `push_dead` with the last error. Jobs
 * still in memory at shutdown are written here too, due at once.
 * (Writing every job before its first attempt cost an insert and a delete
 * per notification, which the MongoDB stand-in could not keep up with.)
 * A job is claimed by setting next_at one lease ahead (findAndModify), so
 * several bridges can scan the same outbox, and the jobs of a bridge that
 * died come due again when their lease runs out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "bridge.h"
#include "push_int.h"

#define LEASE_EXTRA_MS 30000
#define MAX_INFLIGHT   256

static long long lease_ms(const struct push *p)
{
	return p->cfg.timeout_ms * 2 + LEASE_EXTRA_MS;
}

static bool create_index(struct push *p, const char *coll, bson_t *keys, const char *name, bool unique)
{
	bson_error_t err;
	bson_t *cmd =
	    BCON_NEW("createIndexes", BCON_UTF8(coll), "indexes", "[", "{", "key", BCON_DOCUMENT(keys),
	             "name", BCON_UTF8(name), "unique", BCON_BOOL(unique), "}", "]");
	mongoc_database_t *db = mongoc_client_get_database(p->mongo, p->b->cfg.mongo_database);
	bool ok = mongoc_database_write_command_with_opts(db, cmd, NULL, NULL, &err);
	if (!ok) blog(BLOG_WARN, "push: index %s on %s: %s", name, coll, err.message);
	mongoc_database_destroy(db);
	bson_destroy(cmd);
	bson_destroy(keys);
	return ok;
}

int push_outbox_indexes(struct push *p)
{
	/* One index per command: the FerretDB stand-in takes no more. */
	bool ok = create_index(p, "devices", BCON_NEW("user", BCON_INT32(1), "device", BCON_INT32(1)),
	                       "user_device", true) &&
	          create_index(p, "push_outbox", BCON_NEW("next_at", BCON_INT32(1)), "next_at", false);
	p->indexes_ok = ok;
	return ok ? 0 : -1;
}

static void append_note(bson_t *doc, const struct push_note *n)
{
	bson_t sub;
	BSON_APPEND_DOCUMENT_BEGIN(doc, "note", &sub);
	BSON_APPEND_UTF8(&sub, "room", n->room);
	BSON_APPEND_UTF8(&sub, "from", n->from);
	BSON_APPEND_UTF8(&sub, "title", n->title);
	BSON_APPEND_UTF8(&sub, "text", n->text);
	BSON_APPEND_UTF8(&sub, "id", n->msg_id);
	BSON_APPEND_INT64(&sub, "count", n->count);
	BSON_APPEND_INT64(&sub, "unread", n->unread);
	BSON_APPEND_DATE_TIME(&sub, "ts", n->ts);
	bson_append_document_end(doc, &sub);
}

/* The job as a document (no next_at/attempts: the caller adds those). */
static void job_doc(bson_t *doc, const struct push_job *j)
{
	BSON_APPEND_OID(doc, "_id", &j->oid);
	BSON_APPEND_UTF8(doc, "user", j->note.user);
	BSON_APPEND_UTF8(doc, "device", j->device);
	BSON_APPEND_UTF8(doc, "platform", push_platform_name(j->platform));
	BSON_APPEND_UTF8(doc, "token", j->token ? j->token : "");
	BSON_APPEND_UTF8(doc, "endpoint", j->endpoint ? j->endpoint : "");
	append_note(doc, &j->note);
}

/* Writes a job that has no outbox document yet, due at next_at and
 * claimed by nobody. 0/-1. */
static int outbox_insert(struct push *p, struct push_job *j, int attempts, long long next_at,
                         const char *reason)
{
	bson_error_t err;
	bson_t doc = BSON_INITIALIZER;
	job_doc(&doc, j);
	BSON_APPEND_INT32(&doc, "attempts", attempts);
	BSON_APPEND_DATE_TIME(&doc, "next_at", next_at);
	BSON_APPEND_UTF8(&doc, "error", reason);
	BSON_APPEND_UTF8(&doc, "owner", "");
	BSON_APPEND_DATE_TIME(&doc, "created", bridge_wall_ms());
	bool ok = mongoc_collection_insert_one(p->outbox, &doc, NULL, NULL, &err);
	bson_destroy(&doc);
	if (!ok) {
		blog(BLOG_ERR, "push: outbox insert for %s device %s of %s: %s: the notification is lost",
		     push_platform_name(j->platform), j->device, j->note.user, err.message);
		return -1;
	}
	j->stored = true;
	return 0;
}

static char *get_str(const bson_t *doc, const char *path)
{
	bson_iter_t it, sub;
	if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &sub) ||
	    !BSON_ITER_HOLDS_UTF8(&sub))
		return NULL;
	const char *s = bson_iter_utf8(&sub, NULL);
	return *s ? xstrdup(s) : NULL;
}

static int64_t get_int(const bson_t *doc, const char *path)
{
	bson_iter_t it, sub;
	if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &sub)) return 0;
	if (BSON_ITER_HOLDS_DATE_TIME(&sub)) return bson_iter_date_time(&sub);
	return BSON_ITER_HOLDS_NUMBER(&sub) ? bson_iter_as_int64(&sub) : 0;
}

static struct push_job *job_from_doc(struct push *p, const bson_t *doc)
{
	bson_iter_t it;
	char *platform = get_str(doc, "platform");
	enum push_platform pf;
	bool ok = platform && push_platform_parse(platform, &pf) == 0 &&
	          bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it);
	free(platform);
	if (!ok) return NULL;
	struct push_job *j = xcalloc(1, sizeof(*j));
	j->p = p;
	j->platform = pf;
	bson_oid_copy(bson_iter_oid(&it), &j->oid);
	j->stored = true;
	j->device = get_str(doc, "device");
	j->token = get_str(doc, "token");
	j->endpoint = get_str(doc, "endpoint");
	j->attempts = (int)get_int(doc, "attempts");
	struct push_note *n = &j->note;
	n->user = get_str(doc, "user");
	n->room = get_str(doc, "note.room");
	n->from = get_str(doc, "note.from");
	n->title = get_str(doc, "note.title");
	n->text = get_str(doc, "note.text");
	n->msg_id = get_str(doc, "note.id");
	n->count = (long)get_int(doc, "note.count");
	n->unread = (long)get_int(doc, "note.unread");
	n->ts = get_int(doc, "note.ts");
	strbuf_init(&j->body);
	strbuf_init(&j->resp);
	if (!j->device || !n->user || !n->room || !n->from || !n->title || !n->text || !n->msg_id) {
		push_job_free(j);
		return NULL;
	}
	return j;
}

/* Queued for push_outbox_flush_deletes(). */
static void outbox_delete(struct push *p, const bson_oid_t *oid)
{
	if (p->ndone == p->done_cap) {
		p->done_cap = p->done_cap ? p->done_cap * 2 : 64;
		bson_oid_t *grown = xmalloc(p->done_cap * sizeof(*grown));
		if (p->ndone) memcpy(grown, p->done, p->ndone * sizeof(*grown));
		free(p->done);
		p->done = grown;
	}
	bson_oid_copy(oid, &p->done[p->ndone++]);
}

/* True unless the job's device is gone from `devices` or was registered
 * again with another token or endpoint (or MongoDB could not say: then
 * the retry goes out, as it would have before). */
static bool still_registered(struct push *p, const struct push_job *j)
{
	bson_error_t err;
	bson_t *q = BCON_NEW("user", BCON_UTF8(j->note.user), "device", BCON_UTF8(j->device), "platform",
	                     BCON_UTF8(push_platform_name(j->platform)), "token",
	                     BCON_UTF8(j->token ? j->token : ""), "endpoint",
	                     BCON_UTF8(j->endpoint ? j->endpoint : ""));
	int64_t n = mongoc_collection_count_documents(p->devices, q, NULL, NULL, NULL, &err);
	bson_destroy(q);
	if (n < 0)
		blog(BLOG_WARN, "push: outbox: looking up device %s of %s: %s", j->device, j->note.user,
		     err.message);
	return n != 0;
}

/* Drops a claimed job whose device is no longer registered. */
static void forget(struct push *p, struct push_job *j)
{
	blog(BLOG_INFO, "push: %s device %s of %s is no longer registered: notification dropped",
	     push_platform_name(j->platform), j->device, j->note.user);
	outbox_delete(p, &j->oid);
	push_job_free(j);
}

/* Claims the oldest due job; 1 claimed, 0 none due, -1 error. */
static int claim_one(struct push *p)
{
	bson_error_t err;
	bson_t reply;
	long long now = bridge_wall_ms();
	bson_t *query = BCON_NEW("next_at", "{", "$lte", BCON_DATE_TIME(now), "}");
	bson_t *sort = BCON_NEW("next_at", BCON_INT32(1));
	bson_t *update = BCON_NEW("$set", "{", "next_at", BCON_DATE_TIME(now + lease_ms(p)), "owner",
	                          BCON_UTF8(p->owner), "}");
	mongoc_find_and_modify_opts_t *opts = mongoc_find_and_modify_opts_new();
	mongoc_find_and_modify_opts_set_sort(opts, sort);
	mongoc_find_and_modify_opts_set_update(opts, update);
	mongoc_find_and_modify_opts_set_flags(opts, MONGOC_FIND_AND_MODIFY_RETURN_NEW);
	bool ok = mongoc_collection_find_and_modify_with_opts(p->outbox, query, opts, &reply, &err);
	int rc = ok ? 0 : -1;
	bson_iter_t it;
	if (ok && bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
		const uint8_t *data;
		uint32_t len;
		bson_t doc;
		bson_iter_document(&it, &len, &data);
		if (bson_init_static(&doc, data, len)) {
			struct push_job *j = job_from_doc(p, &doc);
			if (!j)
				blog(BLOG_WARN, "push: dropping a malformed outbox document");
			else if (still_registered(p, j))
				push_send(p, j);
			else
				forget(p, j);
		}
		rc = 1;
	}
	if (!ok) blog(BLOG_WARN, "push: outbox scan: %s", err.message);
	bson_destroy(&reply);
	mongoc_find_and_modify_opts_destroy(opts);
	bson_destroy(query);
	bson_destroy(sort);
	bson_destroy(update);
	return rc;
}

void push_outbox_scan(struct push *p, int max)
{
	for (int i = 0; i < max && (size_t)p->inflight + p->npending < MAX_INFLIGHT; i++) {
		if (claim_one(p) != 1) break;
	}
}

void push_outbox_flush_deletes(struct push *p)
{
	if (p->ndone == 0) return;
	bson_error_t err;
	bson_t filter = BSON_INITIALIZER, id, in;
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &id);
	BSON_APPEND_ARRAY_BEGIN(&id, "$in", &in);
	for (size_t i = 0; i < p->ndone; i++) {
		char idx[16];
		const char *key;
		bson_uint32_to_string((uint32_t)i, &key, idx, sizeof(idx));
		bson_append_oid(&in, key, -1, &p->done[i]);
	}
	bson_append_array_end(&id, &in);
	bson_append_document_end(&filter, &id);
	/* On failure the documents stay: their leases run out and the jobs go
	 * out once more (at least once, never lost). */
	if (!mongoc_collection_delete_many(p->outbox, &filter, NULL, NULL, &err))
		blog(BLOG_WARN, "push: outbox delete: %s", err.message);
	bson_destroy(&filter);
	p->ndone = 0;
}

static void dead_letter(struct push *p, struct push_job *j, const char *reason, long status)
{
	bson_error_t err;
	bson_t doc = BSON_INITIALIZER;
	job_doc(&doc, j);
	BSON_APPEND_INT32(&doc, "attempts", j->attempts + 1);
	BSON_APPEND_UTF8(&doc, "error", reason);
	BSON_APPEND_INT32(&doc, "status", (int32_t)status);
	BSON_APPEND_DATE_TIME(&doc, "failed_at", bridge_wall_ms());
	if (!mongoc_collection_insert_one(p->dead, &doc, NULL, NULL, &err))
		blog(BLOG_ERR, "push: push_dead insert: %s", err.message);
	bson_destroy(&doc);
	if (j->stored) outbox_delete(p, &j->oid);
	blog(BLOG_WARN, "push: gave up on %s device %s of %s after %d attempts: %s",
	     push_platform_name(j->platform), j->device, j->note.user, j->attempts + 1, reason);
}

static void reschedule(struct push *p, struct push_job *j, const char *reason)
{
	bson_error_t err;
	uint32_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) rnd = (uint32_t)bridge_now_ms();
	int attempts = j->attempts + 1;
	uint64_t delay = backoff_delay_ms((unsigned)attempts, (uint64_t)p->cfg.retry_base_ms,
	                                  (uint64_t)p->cfg.retry_max_ms, rnd);
	if (!j->stored) {
		if (outbox_insert(p, j, attempts, bridge_wall_ms() + (long long)delay, reason) == 0)
			blog(BLOG_INFO, "push: %s device %s of %s: %s; retry %d in %llu ms",
			     push_platform_name(j->platform), j->device, j->note.user, reason, attempts,
			     (unsigned long long)delay);
		return;
	}
	bson_t *sel = BCON_NEW("_id", BCON_OID(&j->oid));
	bson_t *upd = BCON_NEW("$set", "{", "attempts", BCON_INT32(attempts), "next_at",
	                       BCON_DATE_TIME(bridge_wall_ms() + (long long)delay), "error", BCON_UTF8(reason),
	                       "owner", BCON_UTF8(""), "}");
	if (!mongoc_collection_update_one(p->outbox, sel, upd, NULL, NULL, &err))
		blog(BLOG_WARN, "push: outbox reschedule: %s", err.message);
	bson_destroy(sel);
	bson_destroy(upd);
	blog(BLOG_INFO, "push: %s device %s of %s: %s; retry %d in %llu ms", push_platform_name(j->platform),
	     j->device, j->note.user, reason, attempts, (unsigned long long)delay);
}

void push_outbox_done(struct push *p, struct push_job *j, enum push_outcome o, long status)
{
	char reason[CURL_ERROR_SIZE + 64];
	if (j->error[0])
		snprintf(reason, sizeof(reason), "%s", j->error);
	else
		snprintf(reason, sizeof(reason), "HTTP %ld", status);
	switch (o) {
	case PUSH_OK:
		if (j->stored) outbox_delete(p, &j->oid);
		break;
	case PUSH_DEAD:
		devices_remove(p, j->note.user, j->device);
		if (j->stored) outbox_delete(p, &j->oid);
		break;
	case PUSH_RETRY:
		if (j->attempts + 1 < p->cfg.max_attempts)
			reschedule(p, j, reason);
		else
			dead_letter(p, j, reason, status);
		break;
	default: dead_letter(p, j, reason, status); break;
	}
}

void push_outbox_release(struct push *p, struct push_job *j)
{
	if (!j->stored) {
		outbox_insert(p, j, j->attempts, bridge_wall_ms(), "bridge stopped");
		return;
	}
	bson_t *sel = BCON_NEW("_id", BCON_OID(&j->oid));
	bson_t *upd =
	    BCON_NEW("$set", "{", "next_at", BCON_DATE_TIME(bridge_wall_ms()), "owner", BCON_UTF8(""), "}");
	mongoc_collection_update_one(p->outbox, sel, upd, NULL, NULL, NULL);
	bson_destroy(sel);
	bson_destroy(upd);
}

void push_outbox_forget_device(struct push *p, const char *user, const char *device)
{
	bson_error_t err;
	bson_t reply;
	bson_iter_t it;
	bson_t *sel = BCON_NEW("user", BCON_UTF8(user), "device", BCON_UTF8(device));
	if (!mongoc_collection_delete_many(p->outbox, sel, NULL, &reply, &err))
		blog(BLOG_WARN, "push: outbox: dropping what waits for device %s of %s: %s", device, user,
		     err.message);
	else if (bson_iter_init_find(&it, &reply, "deletedCount") && bson_iter_as_int64(&it) > 0)
		blog(BLOG_INFO, "push: device %s of %s unregistered: %lld waiting notifications dropped",
		     device, user, (long long)bson_iter_as_int64(&it));
	bson_destroy(&reply);
	bson_destroy(sel);
}
