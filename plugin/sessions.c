/* SPDX-License-Identifier: MIT */
/*
 * The session table; see sessions.h for why it is keyed the way it is.
 * Two indexes over the same entries: a uthash by client pointer
 * (DISCONNECT, the ACL's questions) and an open-addressing array by
 * client id (takeovers), which costs a slot, not a hash handle, a session.
 */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "fnv.h"
#include "sessions.h"

struct chat_sessions *sessions_new(void)
{
	struct chat_sessions *s = calloc(1, sizeof(*s));
	if (s) s->ledger_fd = -1;
	return s;
}

static void session_free(struct chat_session *e)
{
	free(e);
}

/* A session entry with its client id and user copied after it. The user
 * is copied whole: when the broker authenticates, it need not be a valid
 * user id, and client ids are compared by user (clientid.c). */
static struct chat_session *session_new(const char *id, const char *user)
{
	size_t idn = strlen(id) + 1, un = strlen(user) + 1;
	struct chat_session *e = calloc(1, sizeof(*e) + idn + un);
	if (!e) return NULL;
	e->client_id = e->names;
	memcpy(e->client_id, id, idn);
	e->user = e->names + idn;
	memcpy(e->user, user, un);
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
	struct chat_session *e, *tmp;
	HASH_ITER(hh, s->by_client, e, tmp) {
		HASH_DELETE(hh, s->by_client, e);
		session_free(e);
	}
	free(s->by_id);
	struct client_owner *o, *otmp;
	HASH_ITER(hh, s->owners, o, otmp) {
		HASH_DEL(s->owners, o);
		free(o);
	}
	struct presence_user *u, *utmp;
	HASH_ITER(hh, s->users, u, utmp) {
		HASH_DEL(s->users, u);
		free(u);
	}
	free(s->ledger_path);
	free(s);
}

static uint32_t id_hash(const char *id)
{
	return fnv32(FNV32_OFFSET, id, strlen(id));
}

/* The first session with client id `id` (hash h), or NULL. */
static struct chat_session *find_id(const struct chat_sessions *s, const char *id, uint32_t h)
{
	size_t mask = s->id_slots - 1;
	for (size_t i = s->id_slots ? h & mask : 0; s->id_slots && s->by_id[i]; i = (i + 1) & mask) {
		if (s->by_id[i]->id_hash == h && strcmp(s->by_id[i]->client_id, id) == 0) return s->by_id[i];
	}
	return NULL;
}

/* Puts e in the first free slot of its probe sequence (room is there). */
static void id_place(struct chat_session **slots, size_t n, struct chat_session *e)
{
	size_t i = e->id_hash & (n - 1);
	while (slots[i]) i = (i + 1) & (n - 1);
	slots[i] = e;
}

/* Makes room for one more entry in the id index; false on out of memory. */
static bool id_reserve(struct chat_sessions *s)
{
	if ((s->id_count + 1) * 2 <= s->id_slots) return true;
	size_t n = s->id_slots ? s->id_slots * 2 : 64;
	struct chat_session **slots = calloc(n, sizeof(*slots));
	if (!slots) return false;
	for (size_t i = 0; i < s->id_slots; i++) {
		if (s->by_id[i]) id_place(slots, n, s->by_id[i]);
	}
	free(s->by_id);
	s->by_id = slots;
	s->id_slots = n;
	return true;
}

/* Takes e out of the id index, moving back the entries after it in the
 * probe run that would otherwise become unreachable. */
static void id_remove(struct chat_sessions *s, const struct chat_session *e)
{
	if (!s->id_slots) return;
	size_t mask = s->id_slots - 1, i = e->id_hash & mask;
	while (s->by_id[i] && s->by_id[i] != e) i = (i + 1) & mask;
	if (!s->by_id[i]) return;
	for (size_t j = (i + 1) & mask; s->by_id[j]; j = (j + 1) & mask) {
		size_t home = s->by_id[j]->id_hash & mask;
		/* Move j to the hole at i unless its home lies cyclically in (i, j]. */
		bool stays = i < j ? (home > i && home <= j) : (home > i || home <= j);
		if (stays) continue;
		s->by_id[i] = s->by_id[j];
		i = j;
	}
	s->by_id[i] = NULL;
	s->id_count--;
}

static struct chat_session *find_client(struct chat_sessions *s, const struct mosquitto *client)
{
	struct chat_session *e = s->last_found;
	if (e && e->client == client) return e;
	e = NULL;
	HASH_FIND(hh, s->by_client, &client, sizeof(client), e);
	if (e) s->last_found = e;
	return e;
}

/* Unlinks e; the caller updates presence and frees. */
static void unlink_session(struct chat_sessions *s, struct chat_session *e)
{
	if (s->last_found == e) s->last_found = NULL;
	HASH_DELETE(hh, s->by_client, e);
	id_remove(s, e);
}

int sessions_add(struct chat *c, const struct mosquitto *client, const char *user, bool admin,
		 uint64_t expires_ms)
{
	struct chat_sessions *s = c->sessions;
	const char *id = mosquitto_client_id(client);
	struct chat_session *e = id_reserve(s) ? session_new(id ? id : "", user) : NULL;
	if (!e) return MOSQ_ERR_NOMEM;
	e->id_hash = id_hash(e->client_id);
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
	HASH_ADD(hh, s->by_client, client, sizeof(e->client), e);
	id_place(s->by_id, s->id_slots, e); /* room reserved above */
	s->id_count++;
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

void sessions_expire(struct chat *c, uint64_t now_ms)
{
	struct chat_sessions *s = c->sessions;
	if (s->next_expiry_ms == 0 || now_ms < s->next_expiry_ms) return;
	/* Kicking re-enters DISCONNECT, which edits the table: collect first. */
	size_t n = 0, cap = 0;
	struct chat_session **due = NULL;
	uint64_t next = 0;
	bool partial = false;
	struct chat_session *e, *tmp;
	HASH_ITER(hh, s->by_client, e, tmp) {
		if (e->expires_ms == 0) continue;
		if (e->expires_ms > now_ms) {
			if (next == 0 || e->expires_ms < next) next = e->expires_ms;
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct chat_session **p = realloc(due, ncap * sizeof(*p));
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
		char *id = strdup(due[i]->client_id);
		char user[TOPIC_ID_MAX + 1];
		const struct mosquitto *client = due[i]->client;
		snprintf(user, sizeof(user), "%s", due[i]->user);
		if (id) kick(c, client, id, user);
		else s->next_expiry_ms = now_ms;
		free(id);
	}
	free(due);
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
