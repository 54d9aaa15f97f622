/* SPDX-License-Identifier: MIT */
/*
 * The session table; see sessions.h for why it is keyed the way it is.
 * The sessions sit in one array; two open-addressing indexes (oatable.h)
 * hold places in it: by client pointer (DISCONNECT, the ACL's questions,
 * once or more per message) and by client id (takeovers).
 */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "fnv.h"
#include "sessions.h"

/* The client pointer's hash: Fibonacci hashing, one multiply, whose high
 * half mixes every bit of an address (the low ones are zero); FNV-1a over
 * the pointer's 8 bytes costs eight steps on the per-message path. */
static inline uint32_t client_hash(const struct mosquitto *client)
{
	return (uint32_t)(((uint64_t)(uintptr_t)client * 0x9e3779b97f4a7c15ull) >> 32);
}

static uint32_t id_hash(const char *id)
{
	return fnv32(FNV32_OFFSET, id, strlen(id));
}

static uint32_t by_client_hash(uint32_t ref, const void *ctx)
{
	const struct chat_sessions *s = ctx;
	return client_hash(s->list[ref - 1]->client);
}

static uint32_t by_id_hash(uint32_t ref, const void *ctx)
{
	const struct chat_sessions *s = ctx;
	return s->list[ref - 1]->id_hash;
}

static bool client_is(uint32_t ref, const void *key, const void *ctx)
{
	const struct chat_sessions *s = ctx;
	return s->list[ref - 1]->client == key;
}

/* The broker's allocator, so that its memory_limit and $SYS heap count
 * the indexes as they count every session's memory (sessions.h). */
static const struct oatable_alloc broker_alloc = {mosquitto_calloc, mosquitto_free};

static bool id_is(uint32_t ref, const void *key, const void *ctx)
{
	const struct chat_sessions *s = ctx;
	return strcmp(s->list[ref - 1]->client_id, key) == 0;
}

struct chat_sessions *sessions_new(void)
{
	struct chat_sessions *s = mosquitto_calloc(1, sizeof(*s));
	if (!s) return NULL;
	s->ledger_fd = -1;
	oatable_init(&s->by_client, by_client_hash, s, &broker_alloc);
	oatable_init(&s->by_id, by_id_hash, s, &broker_alloc);
	return s;
}

static void session_free(struct chat_session *e)
{
	mosquitto_free(e);
}

/* A session entry with its client id and user copied after it. The user
 * is copied whole: when the broker authenticates, it need not be a valid
 * user id, and client ids are compared by user (clientid.c). */
static struct chat_session *session_new(const char *id, const char *user)
{
	size_t idn = strlen(id) + 1, un = strlen(user) + 1;
	struct chat_session *e = mosquitto_calloc(1, sizeof(*e) + idn + un);
	if (!e) return NULL;
	e->client_id = e->names;
	memcpy(e->client_id, id, idn);
	e->user = e->names + idn;
	memcpy(e->user, user, un);
	e->id_hash = id_hash(e->client_id);
	return e;
}

/* True when the plugin authenticates (plugin_opt_auth), so a session it
 * records is one the broker accepts. */
static bool plugin_auth(const struct chat *c)
{
	return c->cfg.auth.methods != 0;
}

void sessions_free(struct chat_sessions *s)
{
	if (!s) return;
	for (size_t i = 0; i < s->count; i++) session_free(s->list[i]);
	mosquitto_free(s->list);
	oatable_free(&s->by_client);
	oatable_free(&s->by_id);
	struct client_owner *o, *otmp;
	HASH_ITER(hh, s->owners, o, otmp) {
		HASH_DEL(s->owners, o);
		mosquitto_free(o);
	}
	struct presence_user *u, *utmp;
	HASH_ITER(hh, s->users, u, utmp) {
		HASH_DEL(s->users, u);
		mosquitto_free(u);
	}
	mosquitto_free(s->ledger_path);
	mosquitto_free(s);
}

/* The first session with client id `id` (hash h), or NULL. */
static struct chat_session *find_id(const struct chat_sessions *s, const char *id, uint32_t h)
{
	uint32_t ref = oatable_find(&s->by_id, h, id_is, id);
	return ref ? s->list[ref - 1] : NULL;
}

static struct chat_session *find_client(struct chat_sessions *s, const struct mosquitto *client)
{
	struct chat_session *e = s->last_found;
	if (e && e->client == client) return e;
	uint32_t ref = oatable_find(&s->by_client, client_hash(client), client_is, client);
	e = ref ? s->list[ref - 1] : NULL;
	if (e) s->last_found = e;
	return e;
}

/* Makes room for one more session in the array and both indexes, so that
 * linking it cannot fail; false on out of memory. */
static bool reserve_one(struct chat_sessions *s)
{
	if (s->count == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		if (cap > UINT32_MAX) return false; /* places must fit a reference */
		struct chat_session **l = mosquitto_realloc(s->list, cap * sizeof(*l));
		if (!l) return false;
		s->list = l;
		s->cap = cap;
	}
	return oatable_reserve(&s->by_client, 1) == CHAT_OK && oatable_reserve(&s->by_id, 1) == CHAT_OK;
}

/* Appends e to the array and both indexes (room reserved). */
static void link_session(struct chat_sessions *s, struct chat_session *e)
{
	s->list[s->count++] = e;
	e->ref = (uint32_t)s->count;
	oatable_insert(&s->by_client, client_hash(e->client), e->ref);
	oatable_insert(&s->by_id, e->id_hash, e->ref);
}

/* Unlinks e, moving the last session into its place; the caller updates
 * presence and frees. */
static void unlink_session(struct chat_sessions *s, struct chat_session *e)
{
	if (s->last_found == e) s->last_found = NULL;
	uint32_t ref = e->ref;
	oatable_remove(&s->by_client, client_hash(e->client), ref);
	oatable_remove(&s->by_id, e->id_hash, ref);
	struct chat_session *last = s->list[--s->count];
	if (last == e) return;
	uint32_t moved = last->ref;
	s->list[ref - 1] = last;
	last->ref = ref;
	oatable_replace(&s->by_client, client_hash(last->client), moved, ref);
	oatable_replace(&s->by_id, last->id_hash, moved, ref);
}

int sessions_add(struct chat *c, const struct mosquitto *client, const char *user, bool admin,
		 uint64_t expires_ms)
{
	struct chat_sessions *s = c->sessions;
	const char *id = mosquitto_client_id(client);
	struct chat_session *e = reserve_one(s) ? session_new(id ? id : "", user) : NULL;
	if (!e) return MOSQ_ERR_NOMEM;
	e->client = client;
	e->admin = admin;
	e->expires_ms = expires_ms;
	/* The same client authenticating twice, or a takeover of its id: the
	 * older session ends here, silently if the user stays the same. When
	 * the broker authenticates, this login may still be refused after the
	 * plugin deferred it: the session it would take over stays until its
	 * own DISCONNECT, and presence is not tracked. */
	struct chat_session *old = find_client(s, client);
	if (!old && plugin_auth(c)) old = find_id(s, e->client_id, e->id_hash);
	bool same_user = old && strcmp(old->user, user) == 0;
	bool track = plugin_auth(c);
	if (old) {
		unlink_session(s, old);
		if (!same_user && track) presence_update(c, old->user, -1);
		session_free(old);
	}
	link_session(s, e); /* room reserved above */
	if (expires_ms && (s->next_expiry_ms == 0 || expires_ms < s->next_expiry_ms)) s->next_expiry_ms = expires_ms;
	if (!same_user && track) presence_update(c, user, +1);
	return MOSQ_ERR_SUCCESS;
}

void sessions_remove(struct chat *c, const struct mosquitto *client)
{
	struct chat_sessions *s = c->sessions;
	struct chat_session *e = find_client(s, client);
	if (!e) return;
	unlink_session(s, e);
	if (plugin_auth(c)) presence_update(c, e->user, -1);
	session_free(e);
}

/* Kicks one expired session; the broker's DISCONNECT removes it, and if
 * the broker no longer knows the client, it is removed here. */
static void kick(struct chat *c, const struct mosquitto *client, const char *client_id, const char *user)
{
	mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "token of %s (client %s) expired: disconnecting", user,
			     client_id);
	mosquitto_kick_client_by_clientid(client_id, false);
	sessions_remove(c, client);
}

/* The kicks of sessions_expire, out of line: the tick only compares. */
CHAT_OUT_OF_LINE static void expire_due(struct chat *c, struct chat_sessions *s, uint64_t now_ms)
{
	/* Kicking re-enters DISCONNECT, which edits the table: collect first. */
	size_t n = 0, cap = 0;
	struct chat_session **due = NULL;
	uint64_t next = 0;
	bool partial = false;
	for (size_t i = 0; i < s->count; i++) {
		struct chat_session *e = s->list[i];
		if (e->expires_ms == 0) continue;
		if (e->expires_ms > now_ms) {
			if (next == 0 || e->expires_ms < next) next = e->expires_ms;
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct chat_session **p = mosquitto_realloc(due, ncap * sizeof(*p));
			if (!p) {
				partial = true; /* the rest waits for the next tick */
				break;
			}
			due = p;
			cap = ncap;
		}
		due[n++] = e;
	}
	s->next_expiry_ms = partial ? now_ms : next;
	for (size_t i = 0; i < n; i++) {
		/* Copies: the entry is freed during the kick. */
		char *id = mosquitto_strdup(due[i]->client_id);
		char user[TOPIC_ID_MAX + 1];
		const struct mosquitto *client = due[i]->client;
		snprintf(user, sizeof(user), "%s", due[i]->user);
		if (id) kick(c, client, id, user);
		else s->next_expiry_ms = now_ms;
		mosquitto_free(id);
	}
	mosquitto_free(due);
}

void sessions_expire(struct chat *c, uint64_t now_ms)
{
	struct chat_sessions *s = c->sessions;
	if (s->next_expiry_ms == 0 || now_ms < s->next_expiry_ms) return;
	expire_due(c, s, now_ms);
}

const struct chat_session *chat_session_of(const struct chat *c, const struct mosquitto *client)
{
	return c->sessions && client ? find_client(c->sessions, client) : NULL;
}

const char *sessions_id_user(const struct chat_sessions *s, const char *id)
{
	const struct chat_session *e = id ? find_id(s, id, id_hash(id)) : NULL;
	return e ? e->user : NULL;
}

bool sessions_taken_over(const struct chat_sessions *s, const struct mosquitto *client)
{
	const struct mosquitto *q = s ? s->connecting : NULL;
	if (!q || q == client) return false;
	const char *a = mosquitto_client_id(client), *b = mosquitto_client_id(q);
	return a && b && strcmp(a, b) == 0;
}
