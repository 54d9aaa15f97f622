/* SPDX-License-Identifier: MIT */
/*
 * Which user a client id belongs to, so that one user can never end or
 * consume another's session: with MQTT, a CONNECT with a client id in use
 * takes over that session, cutting the live connection or, with a
 * persistent session, taking (or with clean start, deleting) the messages
 * queued for it. The rule (topics.md, "Client ids"):
 *
 * - A client id belongs to the user of a live session that holds it.
 * - After a login that can leave a session behind in the broker (MQTT 5,
 *   whose session expiry the plugin cannot see, or 3.1.1 without clean
 *   session), the id stays that user's: the plugin remembers the
 *   CLIENTID_PER_USER ids each user used last, in the presence ledger, so
 *   across restarts too. A user's older ids are forgotten; other users'
 *   logins never push them out.
 * - A login with an id that belongs to another user (or an anonymous one
 *   with an id that belongs to any user) is refused; the same user taking
 *   over its own session is not.
 *
 * Only logins the plugin authenticates are remembered: when the broker
 * authenticates, the plugin does not learn whether a login it deferred was
 * accepted, so only live sessions count.
 */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "sessions.h"

static struct client_owner *find_owner(const struct chat_sessions *s, const char *id, size_t len)
{
	struct client_owner *o = NULL;
	HASH_FIND(hh, s->owners, id, len, o);
	return o;
}

/* Takes o out of its user's list. */
static void unlink_owner(struct client_owner *o)
{
	struct presence_user *u = o->user;
	if (o->prev) o->prev->next = o->next;
	else u->ids = o->next;
	if (o->next) o->next->prev = o->prev;
	u->id_count--;
}

/* Puts o first in its user's list (most recently used). */
static void link_first(struct client_owner *o)
{
	struct presence_user *u = o->user;
	o->prev = NULL;
	o->next = u->ids;
	if (u->ids) u->ids->prev = o;
	u->ids = o;
	u->id_count++;
}

static void forget(struct chat_sessions *s, struct client_owner *o)
{
	unlink_owner(o);
	HASH_DEL(s->owners, o);
	mosquitto_free(o);
}

/*
 * Makes id[0..len) u's most recent id, forgetting u's oldest beyond
 * CLIENTID_PER_USER. An entry of another user is replaced: the ledger's
 * later line wins (a login never gets here with one: clientid_taken
 * refused it). *fresh tells whether u did not hold the id yet. NULL on
 * out of memory.
 */
static struct client_owner *remember(struct chat_sessions *s, struct presence_user *u, const char *id, size_t len,
				     bool *fresh)
{
	struct client_owner *o = find_owner(s, id, len);
	*fresh = !o || o->user != u;
	if (!*fresh) {
		unlink_owner(o);
		link_first(o);
		return o;
	}
	if (o) forget(s, o);
	o = mosquitto_calloc(1, sizeof(*o) + len + 1);
	if (!o) return NULL;
	memcpy(o->id, id, len);
	o->user = u;
	HASH_ADD(hh, s->owners, id, len, o);
	link_first(o);
	if (u->id_count > CLIENTID_PER_USER) {
		struct client_owner *last = u->ids;
		while (last->next) last = last->next;
		forget(s, last);
	}
	return o;
}

const char *clientid_taken(const struct chat *c, const char *id, const char *user)
{
	const struct chat_sessions *s = c->sessions;
	if (!s || !id) return NULL;
	const char *owner = sessions_id_user(s, id);
	if (!owner) {
		const struct client_owner *o = find_owner(s, id, strlen(id));
		owner = o ? o->user->user : NULL;
	}
	return owner && (!user || strcmp(owner, user) != 0) ? owner : NULL;
}

/* True when a session of this login can outlive its connection: 3.1.1
 * without clean session, or MQTT 5 (a session expiry interval the plugin
 * API does not show). */
static bool may_persist(const struct mosquitto *client)
{
	return mosquitto_client_protocol_version(client) == 5 || !mosquitto_client_clean_session(client);
}

/* The ledger line for user and id: `user "id"` (a JSON string). */
static void owner_line(struct strbuf *sb, const char *user, const char *id, size_t len)
{
	strbuf_puts(sb, user);
	strbuf_putc(sb, ' ');
	strbuf_append_json_string(sb, id, len);
	strbuf_putc(sb, '\n');
}

int clientid_claim(struct chat *c, const struct mosquitto *client, const char *user)
{
	struct chat_sessions *s = c->sessions;
	const char *id = mosquitto_client_id(client);
	if (!id || !may_persist(client)) return MOSQ_ERR_SUCCESS;
	struct presence_user *u = presence_user_get(s, user);
	bool fresh;
	size_t len = strlen(id);
	if (!u || !remember(s, u, id, len, &fresh)) return MOSQ_ERR_NOMEM;
	if (!fresh) return MOSQ_ERR_SUCCESS;
	struct strbuf sb;
	strbuf_init(&sb);
	owner_line(&sb, user, id, len);
	if (strbuf_status(&sb) == 0) presence_ledger_append(s, sb.buf, sb.len);
	strbuf_free(&sb);
	return MOSQ_ERR_SUCCESS;
}

int clientid_restore(struct chat *c, const char *user, const char *id, size_t len)
{
	struct chat_sessions *s = c->sessions;
	struct presence_user *u = presence_user_get(s, user);
	bool fresh;
	return u && remember(s, u, id, len, &fresh) ? MOSQ_ERR_SUCCESS : MOSQ_ERR_NOMEM;
}

bool clientid_write(const struct chat_sessions *s, FILE *f)
{
	struct strbuf sb;
	bool ok = true;
	strbuf_init(&sb);
	for (const struct presence_user *u = s->users; ok && u; u = u->hh.next) {
		/* Oldest first: replaying the file rebuilds the same order. */
		const struct client_owner *o = u->ids;
		while (o && o->next) o = o->next;
		for (; ok && o; o = o->prev) {
			strbuf_reset(&sb);
			owner_line(&sb, u->user, o->id, strlen(o->id));
			ok = strbuf_status(&sb) == 0 && fwrite(sb.buf, 1, sb.len, f) == sb.len;
		}
	}
	strbuf_free(&sb);
	return ok;
}
