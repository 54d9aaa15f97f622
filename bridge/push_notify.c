/* SPDX-License-Identifier: MIT */
/*
 * From stored messages to notifications. Each stored envelope adds one to
 * the bucket of every room member who is not the sender and has no live
 * session; a bucket opens with the first message for its (user, room) and
 * is flushed push_coalesce_ms later, so a burst of ten messages makes one
 * notification that says ten. Flushing looks the user's devices up, counts
 * the unread messages after the user's read marker, and writes one outbox
 * job per device before sending it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "envelope.h"
#include "push_int.h"

#define PREVIEW_MAX 120      /* bytes of text in a preview */
#define UNREAD_CAP 9999
#define FLUSH_RETRY_MS 1000  /* MongoDB unreachable: try the bucket again */
#define FLUSH_TRIES_MAX 60

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
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80) max--;
	memcpy(s + max, "\xe2\x80\xa6", 4);
}

struct incoming {
	char *room, *from, *id, *text;
	int64_t ts;
	long long now;
};

static void add_to_bucket(struct push *p, const char *user, void *ud)
{
	struct incoming *in = ud;
	if (strcmp(user, in->from) == 0 || push_index_online(p, user)) return;
	char key[sizeof(((struct push_bucket *)0)->key)];
	snprintf(key, sizeof(key), "%s\x1f%s", user, in->room);
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
	struct incoming in = {.room = span_dup(&v.room), .from = span_dup(&v.from), .id = span_dup(&v.id),
			      .ts = v.ts, .now = push_now_ms()};
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
	push_index_members(p, in.room, add_to_bucket, &in);
	free(in.room);
	free(in.from);
	free(in.id);
	free(in.text);
}

/* Messages in room after user's read marker that others sent, or -1. */
static long unread_count(struct push *p, const char *user, const char *room)
{
	bson_error_t err;
	bson_t *q = BCON_NEW("user", BCON_UTF8(user), "room", BCON_UTF8(room));
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(p->reads, q, NULL, NULL);
	const bson_t *doc;
	char upto[64] = "";
	bson_iter_t it;
	if (mongoc_cursor_next(cur, &doc) && bson_iter_init_find(&it, doc, "upto") && BSON_ITER_HOLDS_UTF8(&it))
		snprintf(upto, sizeof(upto), "%s", bson_iter_utf8(&it, NULL));
	bool failed = mongoc_cursor_error(cur, &err);
	mongoc_cursor_destroy(cur);
	bson_destroy(q);
	if (failed) return -1;
	bson_t *filter = BCON_NEW("room", BCON_UTF8(room), "from", "{", "$ne", BCON_UTF8(user), "}");
	if (upto[0]) BCON_APPEND(filter, "id", "{", "$gt", BCON_UTF8(upto), "}");
	bson_t *opts = BCON_NEW("limit", BCON_INT64(UNREAD_CAP));
	int64_t n = mongoc_collection_count_documents(p->messages, filter, opts, NULL, NULL, &err);
	bson_destroy(filter);
	bson_destroy(opts);
	if (n < 0) blog(BLOG_WARN, "push: unread count for %s in %s: %s", user, room, err.message);
	return n < 0 ? -1 : (long)n;
}

static char *make_title(const struct push *p, const struct push_note *n)
{
	if (p->cfg.title) return xstrdup(p->cfg.title);
	size_t cap = strlen(n->from) + strlen(n->room) + 8;
	char *t = xmalloc(cap);
	if (strncmp(n->room, "dm:", 3) == 0) snprintf(t, cap, "%s", n->from);
	else snprintf(t, cap, "%s in %s", n->from, n->room);
	return t;
}

static char *make_body(const struct push *p, const struct push_note *n)
{
	size_t cap = strlen(n->text) + 64;
	char *t = xmalloc(cap);
	if (p->cfg.preview && n->count == 1) snprintf(t, cap, "%s", n->text);
	else if (p->cfg.preview) snprintf(t, cap, "%ld new messages, the latest: %s", n->count, n->text);
	else if (n->count == 1) snprintf(t, cap, "New message");
	else snprintf(t, cap, "%ld new messages", n->count);
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

/* One job per device: into the outbox (claimed by us), then out. */
static void job_for_device(struct push *p, const bson_t *dev, void *ud)
{
	const struct push_note *note = ud;
	char *platform = bson_str(dev, "platform");
	enum push_platform pf;
	if (!platform || push_platform_parse(platform, &pf) != 0) {
		free(platform);
		return;
	}
	free(platform);
	struct push_job *j = xcalloc(1, sizeof(*j));
	j->p = p;
	j->platform = pf;
	j->device = bson_str(dev, "device");
	j->token = bson_str(dev, "token");
	j->endpoint = bson_str(dev, "endpoint");
	note_copy(&j->note, note);
	strbuf_init(&j->body);
	strbuf_init(&j->resp);
	if (!j->device || push_outbox_add(p, j) != 0) {
		push_job_free(j);
		return;
	}
	push_send(p, j);
}

/* 0 when done with the bucket, -1 to try it again later. */
static int flush_bucket(struct push *p, struct push_bucket *bk)
{
	const struct push_note *n = &bk->note;
	if (push_index_online(p, n->user)) return 0; /* back online: they will see it */
	long unread = unread_count(p, n->user, n->room);
	if (unread < 0) return -1;
	struct push_note out = *n;
	out.unread = unread > n->count ? unread : n->count;
	out.title = make_title(p, n);
	out.text = make_body(p, n);
	int devices = devices_each(p, n->user, job_for_device, &out);
	free(out.title);
	free(out.text);
	if (devices < 0) return -1;
	if (devices > 0) METRIC_ADD(p->b, push_notifications, 1);
	blog(BLOG_DEBUG, "push: %s in %s: %ld new, %ld unread, %d devices", n->user, n->room, n->count, out.unread,
	     devices);
	return 0;
}

long push_notify_flush(struct push *p, bool force, long max_wait)
{
	long long now = push_now_ms();
	long wait = max_wait;
	struct push_bucket *bk, *tmp;
	HASH_ITER(hh, p->buckets, bk, tmp) {
		if (!force && bk->due_ms > now) {
			if (bk->due_ms - now < wait) wait = (long)(bk->due_ms - now);
			continue;
		}
		if (flush_bucket(p, bk) != 0 && !force && ++bk->flush_tries < FLUSH_TRIES_MAX) {
			bk->due_ms = now + FLUSH_RETRY_MS;
			continue;
		}
		HASH_DEL(p->buckets, bk);
		push_note_free(&bk->note);
		free(bk);
	}
	return wait;
}

void push_notify_free(struct push *p)
{
	struct push_bucket *bk, *tmp;
	HASH_ITER(hh, p->buckets, bk, tmp) {
		HASH_DEL(p->buckets, bk);
		push_note_free(&bk->note);
		free(bk);
	}
}
