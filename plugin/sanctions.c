/* SPDX-License-Identifier: MIT */
/*
 * Bans, mutes and freezes (see sanctions.h), and the questions the rest of
 * the plugin asks about them: is this user banned (login), is this sender
 * muted here, is this room frozen (message path). Both answer from a hash lookup on a key built
 * in a stack buffer; when a lookup meets an expired entry it frees it and
 * marks the state dirty so the state file forgets it too.
 */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "chat_err.h"
#include "sanctions.h"

static void table_clear(struct sanction **table)
{
	struct sanction *e, *tmp;
	HASH_ITER(hh, *table, e, tmp) {
		HASH_DEL(*table, e);
		mosquitto_free(e);
	}
}

void sanctions_clear(struct sanctions *s)
{
	table_clear(&s->bans);
	table_clear(&s->mutes);
	table_clear(&s->freezes);
}

/* Writes "user" or "user/room" into key; false when an id is invalid. */
static bool make_key(const char *user, const char *room, char key[SANCTION_KEY_MAX + 1])
{
	size_t ulen = user ? strlen(user) : 0, rlen = room ? strlen(room) : 0;
	if (!topic_user_valid(user, ulen)) return false;
	if (room && !topic_room_valid(room, rlen)) return false;
	memcpy(key, user, ulen);
	if (room) {
		key[ulen] = '/';
		memcpy(key + ulen + 1, room, rlen);
		ulen += 1 + rlen;
	}
	key[ulen] = '\0';
	return true;
}

static int table_set(struct sanction **table, const char *key, uint64_t until_ms)
{
	struct sanction *e;
	HASH_FIND_STR(*table, key, e);
	if (!e) {
		e = mosquitto_calloc(1, sizeof(*e));
		if (!e) return CHAT_ERR_NOMEM;
		memcpy(e->key, key, strlen(key) + 1);
		HASH_ADD_STR(*table, key, e);
	}
	e->until_ms = until_ms;
	return CHAT_OK;
}

static int table_remove(struct sanction **table, const char *key)
{
	struct sanction *e;
	HASH_FIND_STR(*table, key, e);
	if (!e) return CHAT_ERR_NOTFOUND;
	HASH_DEL(*table, e);
	mosquitto_free(e);
	return CHAT_OK;
}

static bool expired(const struct sanction *e, uint64_t now_ms)
{
	return e->until_ms != 0 && e->until_ms <= now_ms;
}

static const struct sanction *table_find(struct sanction **table, const char *key, uint64_t now_ms,
					 bool *reclaimed)
{
	struct sanction *e;
	HASH_FIND_STR(*table, key, e);
	if (e && expired(e, now_ms)) {
		HASH_DEL(*table, e);
		mosquitto_free(e);
		if (reclaimed) *reclaimed = true;
		return NULL;
	}
	return e;
}

int sanctions_ban(struct sanctions *s, const char *user, uint64_t until_ms)
{
	char key[SANCTION_KEY_MAX + 1];
	if (!make_key(user, NULL, key)) return CHAT_ERR_INVAL;
	return table_set(&s->bans, key, until_ms);
}

int sanctions_mute(struct sanctions *s, const char *user, const char *room, uint64_t until_ms)
{
	char key[SANCTION_KEY_MAX + 1];
	if (!make_key(user, room, key)) return CHAT_ERR_INVAL;
	return table_set(&s->mutes, key, until_ms);
}

int sanctions_unban(struct sanctions *s, const char *user)
{
	char key[SANCTION_KEY_MAX + 1];
	if (!make_key(user, NULL, key)) return CHAT_ERR_INVAL;
	return table_remove(&s->bans, key);
}

int sanctions_unmute(struct sanctions *s, const char *user, const char *room)
{
	char key[SANCTION_KEY_MAX + 1];
	if (!make_key(user, room, key)) return CHAT_ERR_INVAL;
	return table_remove(&s->mutes, key);
}

const struct sanction *sanctions_find_ban(struct sanctions *s, const char *user, uint64_t now_ms,
					  bool *reclaimed)
{
	char key[SANCTION_KEY_MAX + 1];
	if (!s->bans || !make_key(user, NULL, key)) return NULL;
	return table_find(&s->bans, key, now_ms, reclaimed);
}

const struct sanction *sanctions_find_mute(struct sanctions *s, const char *user, const char *room,
					   uint64_t now_ms, bool *reclaimed)
{
	char key[SANCTION_KEY_MAX + 1];
	if (!s->mutes || !make_key(user, room, key)) return NULL;
	return table_find(&s->mutes, key, now_ms, reclaimed);
}

/* The key of a freeze: the room id, or SANCTION_EVERY_ROOM for NULL. */
static bool freeze_key(const char *room, char key[SANCTION_KEY_MAX + 1])
{
	size_t len = room ? strlen(room) : 0;
	if (!room) {
		memcpy(key, SANCTION_EVERY_ROOM, sizeof(SANCTION_EVERY_ROOM));
		return true;
	}
	if (!topic_room_valid(room, len)) return false;
	memcpy(key, room, len + 1);
	return true;
}

int sanctions_freeze(struct sanctions *s, const char *room, uint64_t until_ms)
{
	char key[SANCTION_KEY_MAX + 1];
	if (!freeze_key(room, key)) return CHAT_ERR_INVAL;
	return table_set(&s->freezes, key, until_ms);
}

int sanctions_unfreeze(struct sanctions *s, const char *room)
{
	char key[SANCTION_KEY_MAX + 1];
	if (!freeze_key(room, key)) return CHAT_ERR_INVAL;
	return table_remove(&s->freezes, key);
}

const struct sanction *sanctions_find_freeze(struct sanctions *s, const char *room, uint64_t now_ms,
					     bool *reclaimed)
{
	char key[SANCTION_KEY_MAX + 1];
	if (!s->freezes || !freeze_key(room, key)) return NULL;
	return table_find(&s->freezes, key, now_ms, reclaimed);
}

static size_t table_sweep(struct sanction **table, uint64_t now_ms)
{
	struct sanction *e, *tmp;
	size_t n = 0;
	HASH_ITER(hh, *table, e, tmp) {
		if (expired(e, now_ms)) {
			HASH_DEL(*table, e);
			mosquitto_free(e);
			n++;
		}
	}
	return n;
}

size_t sanctions_sweep(struct sanctions *s, uint64_t now_ms)
{
	return table_sweep(&s->bans, now_ms) + table_sweep(&s->mutes, now_ms) + table_sweep(&s->freezes, now_ms);
}

size_t sanctions_forget_room(struct sanctions *s, const char *room)
{
	struct sanction *e, *tmp;
	size_t n = 0, rlen = strlen(room);
	HASH_ITER(hh, s->mutes, e, tmp) {
		const char *slash = strchr(e->key, '/');
		if (slash && strlen(slash + 1) == rlen && memcmp(slash + 1, room, rlen) == 0) {
			HASH_DEL(s->mutes, e);
			mosquitto_free(e);
			n++;
		}
	}
	if (sanctions_unfreeze(s, room) == CHAT_OK) n++;
	return n;
}

void sanctions_key_split(const char *key, char *user, char *room)
{
	size_t ulen = strcspn(key, "/");
	memcpy(user, key, ulen);
	user[ulen] = '\0';
	if (key[ulen] == '/') {
		size_t rlen = strlen(key + ulen + 1);
		memcpy(room, key + ulen + 1, rlen + 1);
	} else {
		room[0] = '\0';
	}
}

bool chat_user_banned(struct chat *c, const char *user, uint64_t now_ms)
{
	bool reclaimed = false;
	const struct sanction *e = sanctions_find_ban(&c->sanctions, user, now_ms, &reclaimed);
	if (reclaimed) chat_state_dirty(c);
	return e != NULL;
}

/* Keeps the later end of two sanctions; 0 (until lifted) beats any time. */
static uint64_t later_end(uint64_t a, uint64_t b)
{
	if (a == 0 || b == 0) return 0;
	return a > b ? a : b;
}

/* True when there is a sanction of every room (all) or of this one (here);
 * *until_ms (may be NULL) gets the later end of the two. */
static bool either(const struct sanction *all, const struct sanction *here, uint64_t *until_ms)
{
	if (!all && !here) return false;
	if (until_ms) {
		if (all && here) *until_ms = later_end(all->until_ms, here->until_ms);
		else *until_ms = all ? all->until_ms : here->until_ms;
	}
	return true;
}

/* chat_user_muted when some mute is in force: asked on every message,
 * mostly of a broker that has none. */
CHAT_OUT_OF_LINE static bool find_muted(struct chat *c, const char *user, const char *room, uint64_t now_ms,
					uint64_t *until_ms)
{
	bool reclaimed = false;
	const struct sanction *all = sanctions_find_mute(&c->sanctions, user, NULL, now_ms, &reclaimed);
	const struct sanction *here =
		room ? sanctions_find_mute(&c->sanctions, user, room, now_ms, &reclaimed) : NULL;
	if (reclaimed) chat_state_dirty(c);
	return either(all, here, until_ms);
}

bool chat_user_muted(struct chat *c, const char *user, const char *room, uint64_t now_ms, uint64_t *until_ms)
{
	return c->sanctions.mutes && find_muted(c, user, room, now_ms, until_ms);
}

bool chat_room_frozen(struct chat *c, const char *room, uint64_t now_ms, uint64_t *until_ms)
{
	bool reclaimed = false;
	if (!c->sanctions.freezes) return false;
	const struct sanction *all = sanctions_find_freeze(&c->sanctions, NULL, now_ms, &reclaimed);
	const struct sanction *here = sanctions_find_freeze(&c->sanctions, room, now_ms, &reclaimed);
	if (reclaimed) chat_state_dirty(c);
	return either(all, here, until_ms);
}
