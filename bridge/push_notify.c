/* SPDX-License-Identifier: MIT */
/*
 * From stored messages to notifications. Each stored envelope adds one to
 * the bucket of every room member who is not the sender and has no live
 * session; a bucket opens with the first message for its (user, room) and
 * is flushed push_coalesce_ms later, so a burst of ten messages makes one
 * notification that says ten. Flushing looks up the read markers of all
 * due buckets' users at once (one query) and sends one job per device.
 * Devices are kept in memory for DEVICES_TTL_MS: registrations through
 * this bridge and dead tokens it removes take effect at once, changes that
 * only MongoDB saw (another bridge, a direct write) within the TTL.
 *
 * Unread counts come from memory: MongoDB counts a (user, room) once, at
 * its first notification (and again when its read marker moved back
 * behind the newest message counted), and from then on every stored
 * message from someone else adds one. A count is a scan of `messages` on
 * the SQLite stand-in (about 0.8 s at 30,000 messages), so one count per
 * notification held the whole push thread, its transfers included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "envelope.h"
#include "push_int.h"

#define PREVIEW_MAX     120 /* bytes of text in a preview */
#define UNREAD_CAP      9999
#define FLUSH_RETRY_MS  1000 /* MongoDB unreachable: try the bucket again */
#define FLUSH_TRIES_MAX 60
#define FLUSH_BATCH     256 /* buckets per flush: one devices and one reads query */
#define UNREAD_MAX      200000 /* (user, room) counts kept; beyond, start over */
#define DEVICES_TTL_MS  1000   /* devices read from MongoDB are trusted this long */
#define DEVICES_MAX     200000 /* users whose devices are kept; beyond, start over */

static char *span_dup(const struct json_span *s)
{
	if (!s->p) return xstrdup("");
	char *out = xmalloc(s->len + 1);
	long n = json_string_decode(s, out, s->len + 1);
	if (n < 0) n = 0;
	out[n] = '\0';
	return out;
}

/* Cuts s to at most max bytes at a UTF-8 boundary, adding an ellipsis. */
static void clip_utf8(char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max) return;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	memcpy(s + max, "\xe2\x80\xa6", 4);
}

struct incoming {
	char *room, *from, *id, *text;
	char *mentions; /* the envelope's raw "mentions" array, or NULL */
	int64_t ts;
	long long now;
};

/* One more unread message for a (user, room) whose count is kept. */
static void unread_bump(struct push *p, const char *key, const char *id)
{
	struct push_unread *u = NULL;
	HASH_FIND_STR(p->unread, key, u);
	if (!u) return;
	if (u->n < UNREAD_CAP) u->n++;
	snprintf(u->last, sizeof(u->last), "%s", id);
}

/* True when the plugin's mentions array (user ids, unescaped) names user. */
static bool mentioned(const char *mentions, const char *user)
{
	size_t n = strlen(user);
	for (const char *q = strchr(mentions, '"'); q; q = strchr(q + 1, '"')) {
		if (strncmp(q + 1, user, n) == 0 && q[n + 1] == '"') return true;
		q = strchr(q + 1, '"'); /* past this string's closing quote */
		if (!q) break;
	}
	return false;
}

static void add_to_bucket(struct push *p, const char *user, void *ud)
{
	struct incoming *in = ud;
	if (strcmp(user, in->from) == 0) return;
	char key[sizeof(((struct push_bucket *)0)->key)];
	snprintf(key, sizeof(key), "%s\x1f%s", user, in->room);
	unread_bump(p, key, in->id);
	if (push_index_online(p, user)) return;
	struct push_bucket *bk = NULL;
	HASH_FIND_STR(p->buckets, key, bk);
	if (!bk) {
		bk = xcalloc(1, sizeof(*bk));
		memcpy(bk->key, key, strlen(key) + 1);
		bk->note.user = xstrdup(user);
		bk->note.room = xstrdup(in->room);
		bk->due_ms = in->now + p->cfg.coalesce_ms;
		HASH_ADD_STR(p->buckets, key, bk);
	}
	bk->note.count++;
	if (in->mentions && mentioned(in->mentions, user)) bk->note.mentioned = true;
	free(bk->note.from);
	free(bk->note.text);
	free(bk->note.msg_id);
	bk->note.from = xstrdup(in->from);
	bk->note.text = xstrdup(in->text);
	bk->note.msg_id = xstrdup(in->id);
	bk->note.ts = in->ts;
}

void push_notify_stored(struct push *p, const char *json, size_t len)
{
	struct envelope_view v;
	if (envelope_read(json, len, &v) != 0) return;
	struct incoming in = {.room = span_dup(&v.room),
	                      .from = span_dup(&v.from),
	                      .id = span_dup(&v.id),
	                      .ts = v.ts,
	                      .now = bridge_now_ms()};
	if (v.has_text) {
		in.text = span_dup(&v.text);
	} else {
		char *type = span_dup(&v.type);
		size_t n = strlen(type) + 3;
		in.text = xmalloc(n);
		snprintf(in.text, n, "[%s]", type);
		free(type);
	}
	clip_utf8(in.text, PREVIEW_MAX);
	if (v.has_mentions) {
		in.mentions = xmalloc(v.mentions.len + 1);
		memcpy(in.mentions, v.mentions.p, v.mentions.len);
		in.mentions[v.mentions.len] = '\0';
	}
	push_index_members(p, in.room, add_to_bucket, &in);
	free(in.room);
	free(in.from);
	free(in.id);
	free(in.text);
	free(in.mentions);
}

/* Messages in room after upto ("" = from the start) up to and including
 * last that others than user sent, or -1. */
static long unread_count(struct push *p, const char *user, const char *room, const char *upto,
                         const char *last)
{
	bson_error_t err;
	bson_t *filter = BCON_NEW("room", BCON_UTF8(room), "from", "{", "$ne", BCON_UTF8(user), "}");
	if (upto[0])
		BCON_APPEND(filter, "id", "{", "$gt", BCON_UTF8(upto), "$lte", BCON_UTF8(last), "}");
	else
		BCON_APPEND(filter, "id", "{", "$lte", BCON_UTF8(last), "}");
	bson_t *opts = BCON_NEW("limit", BCON_INT64(UNREAD_CAP));
	int64_t n = mongoc_collection_count_documents(p->messages, filter, opts, NULL, NULL, &err);
	bson_destroy(filter);
	bson_destroy(opts);
	if (n < 0) blog(BLOG_WARN, "push: unread count for %s in %s: %s", user, room, err.message);
	return n < 0 ? -1 : (long)n;
}

static void unread_clear(struct push *p)
{
	struct push_unread *u, *tmp;
	HASH_ITER(hh, p->unread, u, tmp) {
		HASH_DEL(p->unread, u);
		free(u);
	}
	p->nunread = 0;
}

/* The unread count of note's (user, room) after the marker upto: kept,
 * zero when the marker passed everything counted, else counted by
 * MongoDB up to the note's message and kept from then on. -1 on error. */
static long unread_get(struct push *p, const char *key, const struct push_note *n, const char *upto)
{
	struct push_unread *u = NULL;
	HASH_FIND_STR(p->unread, key, u);
	if (u && strcmp(u->upto, upto) != 0 && strcmp(upto, u->last) >= 0) {
		u->n = 0;
		snprintf(u->upto, sizeof(u->upto), "%s", upto);
	}
	if (u && strcmp(u->upto, upto) == 0) return u->n;
	char last[sizeof(u->last)];
	snprintf(last, sizeof(last), "%s", u && strcmp(u->last, n->msg_id) > 0 ? u->last : n->msg_id);
	long c = unread_count(p, n->user, n->room, upto, last);
	if (c < 0) return -1;
	if (!u) {
		if (p->nunread >= UNREAD_MAX) unread_clear(p);
		u = xcalloc(1, sizeof(*u));
		snprintf(u->key, sizeof(u->key), "%s", key);
		HASH_ADD_STR(p->unread, key, u);
		p->nunread++;
	}
	u->n = c;
	snprintf(u->upto, sizeof(u->upto), "%s", upto);
	snprintf(u->last, sizeof(u->last), "%s", last);
	return c;
}

/* What one flush needs from MongoDB for all its buckets, fetched with one
 * query per collection ({user: {$in: [...]}}) rather than one per user. */
struct lookup_user {
	char user[TOPIC_ID_MAX + 1];
	UT_hash_handle hh;
};
struct lookup_read {
	char key[TOPIC_ID_MAX + 1 + TOPIC_ROOM_MAX + 1]; /* user \x1f room */
	char upto[64];
	bool muted; /* the user muted the room (bridge/chatlist.c) */
	UT_hash_handle hh;
};
struct lookup {
	struct push *p;
	struct lookup_user *users;
	struct lookup_read *reads;
};

static void lookup_users_free(struct lookup_user **users)
{
	struct lookup_user *u, *ut;
	HASH_ITER(hh, *users, u, ut) {
		HASH_DEL(*users, u);
		free(u);
	}
}

static void lookup_free(struct lookup *lk)
{
	lookup_users_free(&lk->users);
	struct lookup_read *r, *rt;
	HASH_ITER(hh, lk->reads, r, rt) {
		HASH_DEL(lk->reads, r);
		free(r);
	}
}

static const char *doc_str(const bson_t *doc, const char *key)
{
	bson_iter_t it;
	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it)) return NULL;
	return bson_iter_utf8(&it, NULL);
}

static void devices_entry_free(struct push *p, struct push_devices *d)
{
	HASH_DEL(p->devcache, d);
	for (size_t i = 0; i < d->n; i++)
		bson_destroy(d->docs[i]);
	free(d->docs);
	free(d);
}

void push_notify_forget_devices(struct push *p, const char *user)
{
	struct push_devices *d = NULL;
	HASH_FIND_STR(p->devcache, user, d);
	if (d) devices_entry_free(p, d);
}

static void devices_clear(struct push *p)
{
	struct push_devices *d, *tmp;
	HASH_ITER(hh, p->devcache, d, tmp)
		devices_entry_free(p, d);
}

static void add_device(struct lookup *lk, const bson_t *doc)
{
	const char *user = doc_str(doc, "user");
	struct push_devices *d = NULL;
	if (!user) return;
	HASH_FIND_STR(lk->p->devcache, user, d);
	if (!d) return;
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 4;
		bson_t **grown = xmalloc(d->cap * sizeof(*grown));
		if (d->n) memcpy(grown, d->docs, d->n * sizeof(*grown));
		free(d->docs);
		d->docs = grown;
	}
	d->docs[d->n++] = bson_copy(doc);
}

static void add_read(struct lookup *lk, const bson_t *doc)
{
	const char *user = doc_str(doc, "user"), *room = doc_str(doc, "room"), *upto = doc_str(doc, "upto");
	if (!user || !room || !upto) return;
	struct lookup_read *r = xcalloc(1, sizeof(*r));
	snprintf(r->key, sizeof(r->key), "%s\x1f%s", user, room);
	snprintf(r->upto, sizeof(r->upto), "%s", upto);
	bson_iter_t it;
	r->muted = bson_iter_init_find(&it, doc, "muted") && bson_iter_as_bool(&it);
	struct lookup_read *old = NULL;
	HASH_FIND_STR(lk->reads, r->key, old);
	if (old) {
		free(r);
		return;
	}
	HASH_ADD_STR(lk->reads, key, r);
}

/* Runs {user: {$in: users}} on coll, handing each document to fn. */
static int find_users(mongoc_collection_t *coll, const struct lookup *lk, struct lookup *out,
                      void (*fn)(struct lookup *, const bson_t *))
{
	bson_t filter = BSON_INITIALIZER, user, in;
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "user", &user);
	BSON_APPEND_ARRAY_BEGIN(&user, "$in", &in);
	unsigned i = 0;
	const struct lookup_user *u, *ut;
	HASH_ITER(hh, lk->users, u, ut) {
		char idx[16];
		const char *key;
		bson_uint32_to_string(i++, &key, idx, sizeof(idx));
		bson_append_utf8(&in, key, -1, u->user, -1);
	}
	bson_append_array_end(&user, &in);
	bson_append_document_end(&filter, &user);
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
	const bson_t *doc;
	while (mongoc_cursor_next(cur, &doc))
		fn(out, doc);
	bson_error_t err;
	bool failed = mongoc_cursor_error(cur, &err);
	if (failed) blog(BLOG_WARN, "push: lookup in %s: %s", mongoc_collection_get_name(coll), err.message);
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	return failed ? -1 : 0;
}

static void lookup_add_user(struct lookup_user **users, const char *name)
{
	struct lookup_user *u = NULL;
	HASH_FIND_STR(*users, name, u);
	if (u) return;
	u = xcalloc(1, sizeof(*u));
	snprintf(u->user, sizeof(u->user), "%s", name);
	HASH_ADD_STR(*users, user, u);
}

/* Reads the devices of the users in lk whose cached ones are missing or
 * older than DEVICES_TTL_MS, in one query. */
static int devices_refresh(struct push *p, struct lookup *lk)
{
	struct lookup stale = {.p = p};
	long long now = bridge_now_ms();
	struct lookup_user *u, *ut;
	if (HASH_COUNT(p->devcache) + HASH_COUNT(lk->users) > DEVICES_MAX) devices_clear(p);
	HASH_ITER(hh, lk->users, u, ut) {
		struct push_devices *d = NULL;
		HASH_FIND_STR(p->devcache, u->user, d);
		if (d && now - d->loaded_ms < DEVICES_TTL_MS) continue;
		if (d) devices_entry_free(p, d);
		d = xcalloc(1, sizeof(*d));
		snprintf(d->user, sizeof(d->user), "%s", u->user);
		d->loaded_ms = now;
		HASH_ADD_STR(p->devcache, user, d);
		lookup_add_user(&stale.users, u->user);
	}
	int rc = stale.users ? find_users(p->devices, &stale, lk, add_device) : 0;
	if (rc != 0) { /* not trusted: read again next time */
		HASH_ITER(hh, stale.users, u, ut)
			push_notify_forget_devices(p, u->user);
	}
	lookup_users_free(&stale.users);
	return rc;
}

static int lookup_load(struct push *p, struct push_bucket **due, size_t n, struct lookup *lk)
{
	memset(lk, 0, sizeof(*lk));
	lk->p = p;
	for (size_t i = 0; i < n; i++)
		lookup_add_user(&lk->users, due[i]->note.user);
	if (devices_refresh(p, lk) != 0 || find_users(p->reads, lk, lk, add_read) != 0) return -1;
	return 0;
}

static char *make_title(const struct push *p, const struct push_note *n)
{
	if (p->cfg.title) return xstrdup(p->cfg.title);
	size_t cap = strlen(n->from) + strlen(n->room) + 8;
	char *t = xmalloc(cap);
	if (strncmp(n->room, "dm:", 3) == 0)
		snprintf(t, cap, "%s", n->from);
	else
		snprintf(t, cap, "%s in %s", n->from, n->room);
	return t;
}

static char *make_body(const struct push *p, const struct push_note *n)
{
	size_t cap = strlen(n->text) + 64;
	char *t = xmalloc(cap);
	if (p->cfg.preview && n->count == 1)
		snprintf(t, cap, "%s", n->text);
	else if (p->cfg.preview)
		snprintf(t, cap, "%ld new messages, the latest: %s", n->count, n->text);
	else if (n->count == 1)
		snprintf(t, cap, "New message");
	else
		snprintf(t, cap, "%ld new messages", n->count);
	return t;
}

static char *bson_str(const bson_t *doc, const char *key)
{
	bson_iter_t it;
	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it)) return NULL;
	const char *s = bson_iter_utf8(&it, NULL);
	return *s ? xstrdup(s) : NULL; /* "" = none */
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void note_copy(struct push_note *dst, const struct push_note *src)
{
	*dst = *src;
	dst->user = dup_or_null(src->user);
	dst->room = dup_or_null(src->room);
	dst->from = dup_or_null(src->from);
	dst->title = dup_or_null(src->title);
	dst->text = dup_or_null(src->text);
	dst->msg_id = dup_or_null(src->msg_id);
}

/* The jobs one flush makes, written to the outbox together. */
struct batch {
	struct push_job **jobs;
	size_t n, cap;
};

static void batch_add(struct batch *bt, struct push_job *j)
{
	if (bt->n == bt->cap) {
		bt->cap = bt->cap ? bt->cap * 2 : 64;
		struct push_job **grown = xmalloc(bt->cap * sizeof(*grown));
		if (bt->n) memcpy(grown, bt->jobs, bt->n * sizeof(*grown));
		free(bt->jobs);
		bt->jobs = grown;
	}
	bt->jobs[bt->n++] = j;
}

/* One job per device. */
static struct push_job *job_for_device(struct push *p, const bson_t *dev, const struct push_note *note)
{
	char *platform = bson_str(dev, "platform");
	enum push_platform pf;
	bool ok = platform && push_platform_parse(platform, &pf) == 0;
	free(platform);
	if (!ok) return NULL;
	struct push_job *j = xcalloc(1, sizeof(*j));
	j->p = p;
	j->platform = pf;
	bson_oid_init(&j->oid, NULL); /* its outbox or push_dead _id, if it needs one */
	j->device = bson_str(dev, "device");
	j->token = bson_str(dev, "token");
	j->endpoint = bson_str(dev, "endpoint");
	note_copy(&j->note, note);
	strbuf_init(&j->body);
	strbuf_init(&j->resp);
	if (j->device) return j;
	push_job_free(j);
	return NULL;
}

/* 0 when done with the bucket (its jobs, if any, added to bt), -1 to try
 * it again later. */
static int flush_bucket(struct push *p, struct push_bucket *bk, const struct lookup *lk, struct batch *bt)
{
	const struct push_note *n = &bk->note;
	if (push_index_online(p, n->user)) return 0; /* back online: they will see it */
	struct push_devices *u = NULL;
	HASH_FIND_STR(p->devcache, n->user, u);
	if (!u || u->n == 0) return 0; /* no devices: nothing to do */
	char key[sizeof(((struct lookup_read *)0)->key)];
	struct lookup_read *r = NULL;
	snprintf(key, sizeof(key), "%s\x1f%s", n->user, n->room);
	HASH_FIND_STR(lk->reads, key, r);
	if (r && r->muted && !n->mentioned) return 0; /* muted by the user, and not mentioned */
	long unread = unread_get(p, key, n, r ? r->upto : "");
	if (unread < 0) return -1;
	struct push_note out = *n;
	out.unread = unread > n->count ? unread : n->count;
	out.title = make_title(p, n);
	out.text = make_body(p, n);
	for (size_t i = 0; i < u->n; i++) {
		struct push_job *j = job_for_device(p, u->docs[i], &out);
		if (j) batch_add(bt, j);
	}
	free(out.title);
	free(out.text);
	blog(BLOG_DEBUG, "push: %s in %s: %ld new, %ld unread, %zu devices", n->user, n->room, n->count,
	     out.unread, u->n);
	return 0;
}

/* Straight out: a job reaches the outbox only when its first attempt
 * fails (push_outbox.c). */
static bool send_batch(struct push *p, struct batch *bt)
{
	for (size_t i = 0; i < bt->n; i++)
		push_send(p, bt->jobs[i]);
	free(bt->jobs);
	return true;
}

/* Collects the due buckets, at most FLUSH_BATCH; *wait gets the time until
 * the next one when none more is due. */
static size_t collect_due(struct push *p, bool force, long long now, struct push_bucket **due, long *wait)
{
	size_t n = 0;
	struct push_bucket *bk, *tmp;
	HASH_ITER(hh, p->buckets, bk, tmp) {
		if (!force && bk->due_ms > now) {
			if (bk->due_ms - now < *wait) *wait = (long)(bk->due_ms - now);
			continue;
		}
		if (n == FLUSH_BATCH) {
			*wait = 0; /* more are due: come back at once */
			break;
		}
		due[n++] = bk;
	}
	return n;
}

long push_notify_flush(struct push *p, bool force, long max_wait)
{
	long long now = bridge_now_ms();
	long wait = max_wait;
	struct push_bucket *due[FLUSH_BATCH];
	int status[FLUSH_BATCH];
	size_t n = collect_due(p, force, now, due, &wait);
	if (n == 0) return wait;
	struct lookup lk;
	struct batch bt = {0};
	bool looked_up = lookup_load(p, due, n, &lk) == 0;
	for (size_t i = 0; i < n; i++)
		status[i] = looked_up ? flush_bucket(p, due[i], &lk, &bt) : -1;
	lookup_free(&lk);
	bool sent = send_batch(p, &bt);
	for (size_t i = 0; i < n; i++) {
		struct push_bucket *bk = due[i];
		if ((status[i] != 0 || !sent) && !force && ++bk->flush_tries < FLUSH_TRIES_MAX) {
			bk->due_ms = now + FLUSH_RETRY_MS;
			if (FLUSH_RETRY_MS < wait) wait = FLUSH_RETRY_MS;
			continue;
		}
		if (status[i] == 0 && sent) METRIC_ADD(p->b, push_notifications, 1);
		HASH_DEL(p->buckets, bk);
		push_note_free(&bk->note);
		free(bk);
	}
	return force && p->buckets ? push_notify_flush(p, force, max_wait) : wait;
}

void push_notify_free(struct push *p)
{
	unread_clear(p);
	devices_clear(p);
	struct push_bucket *bk, *tmp;
	HASH_ITER(hh, p->buckets, bk, tmp) {
		HASH_DEL(p->buckets, bk);
		push_note_free(&bk->note);
		free(bk);
	}
}
