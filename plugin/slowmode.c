/* SPDX-License-Identifier: MIT */
/*
 * The slow-mode table (see slowmode.h): one hash lookup per message in a
 * slow room, one insert the first time a user speaks there.
 */
#include <stdlib.h>
#include <string.h>

#include "chat_err.h"
#include "slowmode.h"

/* "user/room" into key; both ids were checked by the topic parser. */
static void make_key(const char *user, const char *room, char key[SANCTION_KEY_MAX + 1])
{
	size_t ulen = strnlen(user, TOPIC_ID_MAX), rlen = strnlen(room, TOPIC_ROOM_MAX);
	memcpy(key, user, ulen);
	key[ulen] = '/';
	memcpy(key + ulen + 1, room, rlen);
	key[ulen + 1 + rlen] = '\0';
}

bool slowmode_waiting(const struct slowmode *s, const char *user, const char *room, uint64_t interval_ms,
		      uint64_t now_ms, uint64_t *until_ms)
{
	char key[SANCTION_KEY_MAX + 1];
	struct slow_entry *e;
	if (!s->by_key || interval_ms == 0) return false;
	make_key(user, room, key);
	HASH_FIND_STR(s->by_key, key, e);
	if (!e || now_ms >= e->last_ms + interval_ms) return false;
	if (until_ms) *until_ms = e->last_ms + interval_ms;
	return true;
}

int slowmode_sent(struct slowmode *s, const char *user, const char *room, uint64_t now_ms)
{
	char key[SANCTION_KEY_MAX + 1];
	struct slow_entry *e;
	make_key(user, room, key);
	HASH_FIND_STR(s->by_key, key, e);
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) return CHAT_ERR_NOMEM;
		memcpy(e->key, key, strlen(key) + 1);
		HASH_ADD_STR(s->by_key, key, e);
	}
	e->last_ms = now_ms;
	return CHAT_OK;
}

size_t slowmode_sweep(struct slowmode *s, uint64_t now_ms)
{
	struct slow_entry *e, *tmp;
	size_t n = 0;
	HASH_ITER(hh, s->by_key, e, tmp) {
		if (now_ms - e->last_ms >= SLOWMODE_MAX_S * 1000ull) {
			HASH_DEL(s->by_key, e);
			free(e);
			n++;
		}
	}
	return n;
}

void slowmode_clear(struct slowmode *s)
{
	struct slow_entry *e, *tmp;
	HASH_ITER(hh, s->by_key, e, tmp) {
		HASH_DEL(s->by_key, e);
		free(e);
	}
}
