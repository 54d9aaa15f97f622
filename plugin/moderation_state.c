/* SPDX-License-Identifier: MIT */
/*
 * The state file's "bannedWords": the global lists edited live and each
 * room's own lists, written as JSON with the rest of the state (state.c)
 * and read back, checked word by word, before the state is adopted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "chat_err.h"
#include "moderation_int.h"

static cJSON *set_json(const struct word_set *s)
{
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; list && i < s->n; i++) {
		cJSON *w = cJSON_CreateString(s->w[i]);
		if (!w) {
			cJSON_Delete(list);
			return NULL;
		}
		cJSON_AddItemToArray(list, w);
	}
	return list;
}

/* {"banned":[...],"allowed":[...]} plus "room" when given. */
static cJSON *lists_json(const char *room, const struct word_set *banned, const struct word_set *allowed)
{
	cJSON *o = cJSON_CreateObject(), *b = set_json(banned), *a = set_json(allowed);
	if (!o || !b || !a || (room && !cJSON_AddStringToObject(o, "room", room))) {
		cJSON_Delete(o);
		cJSON_Delete(b);
		cJSON_Delete(a);
		return NULL;
	}
	cJSON_AddItemToObject(o, "banned", b);
	cJSON_AddItemToObject(o, "allowed", a);
	return o;
}

cJSON *moderation_state_save(const struct chat *c)
{
	const struct moderation *m = c->mod;
	cJSON *root = lists_json(NULL, &m->live.banned, &m->live.allowed), *rooms = cJSON_CreateArray();
	if (!root || !rooms) goto nomem;
	for (const struct room *r = c->rooms.by_id; r; r = r->hh.next) {
		const struct room_words *rw = r->ext;
		if (!rw || (rw->banned.n == 0 && rw->allowed.n == 0)) continue;
		cJSON *o = lists_json(r->id, &rw->banned, &rw->allowed);
		if (!o) goto nomem;
		cJSON_AddItemToArray(rooms, o);
	}
	cJSON_AddItemToObject(root, "rooms", rooms);
	return root;
nomem:
	cJSON_Delete(root);
	cJSON_Delete(rooms);
	return NULL;
}

/* Reads an array of words (absent = empty) into s. */
static int load_set(struct word_set *s, const cJSON *list, const char *at, const char *key, char *why, size_t len)
{
	const cJSON *w;
	int i = 0;
	if (!list) return CHAT_OK;
	if (!cJSON_IsArray(list)) {
		snprintf(why, len, "bannedWords%s.%s: not an array", at, key);
		return CHAT_ERR_INVAL;
	}
	cJSON_ArrayForEach(w, list) {
		int rc = cJSON_IsString(w) ? moderation_word_check(w->valuestring) : CHAT_ERR_INVAL;
		if (rc == CHAT_OK) rc = word_set_add(s, w->valuestring) < 0 ? CHAT_ERR_NOMEM : CHAT_OK;
		if (rc != CHAT_OK) {
			snprintf(why, len, "bannedWords%s.%s[%d]: %s", at, key, i, chat_strerror(rc));
			return rc;
		}
		i++;
	}
	return CHAT_OK;
}

static int load_room_lists(struct rooms *rs, const cJSON *o, int i, char *why, size_t len)
{
	char at[32];
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "room");
	snprintf(at, sizeof(at), ".rooms[%d]", i);
	struct room *r = cJSON_IsString(id) ? rooms_find(rs, id->valuestring, strlen(id->valuestring)) : NULL;
	if (!r || r->ext) {
		snprintf(why, len, "bannedWords%s.room: %s", at, !r ? "not a room of the file" : "listed twice");
		return CHAT_ERR_INVAL;
	}
	struct room_words *rw = moderation_room_words(r, true);
	if (!rw) {
		snprintf(why, len, "bannedWords%s: out of memory", at);
		return CHAT_ERR_NOMEM;
	}
	int rc = load_set(&rw->banned, cJSON_GetObjectItemCaseSensitive(o, "banned"), at, "banned", why, len);
	if (rc == CHAT_OK) rc = load_set(&rw->allowed, cJSON_GetObjectItemCaseSensitive(o, "allowed"), at, "allowed", why, len);
	return rc;
}

int moderation_state_load(struct rooms *rs, const cJSON *item, struct moderation_global **out, char *why,
			  size_t why_len)
{
	const cJSON *rooms = cJSON_GetObjectItemCaseSensitive(item, "rooms"), *o;
	int rc = CHAT_OK, i = 0;
	*out = NULL;
	if (!item) return CHAT_OK;
	if (!cJSON_IsObject(item)) {
		snprintf(why, why_len, "bannedWords: not an object");
		return CHAT_ERR_INVAL;
	}
	struct moderation_global *g = calloc(1, sizeof(*g));
	if (!g) return CHAT_ERR_NOMEM;
	*out = g; /* freed with the other parts on error */
	rc = load_set(&g->banned, cJSON_GetObjectItemCaseSensitive(item, "banned"), "", "banned", why, why_len);
	if (rc == CHAT_OK)
		rc = load_set(&g->allowed, cJSON_GetObjectItemCaseSensitive(item, "allowed"), "", "allowed", why, why_len);
	if (rc == CHAT_OK && rooms && !cJSON_IsArray(rooms)) {
		snprintf(why, why_len, "bannedWords.rooms: not an array");
		rc = CHAT_ERR_INVAL;
	}
	cJSON_ArrayForEach(o, rooms) {
		if (rc != CHAT_OK) break;
		rc = load_room_lists(rs, o, i++, why, why_len);
	}
	return rc;
}

void moderation_global_free(struct moderation_global *g)
{
	if (!g) return;
	word_set_free(&g->banned);
	word_set_free(&g->allowed);
	free(g);
}

void moderation_state_adopt(struct chat *c, struct moderation_global *g)
{
	struct moderation *m = c->mod;
	word_set_free(&m->live.banned);
	word_set_free(&m->live.allowed);
	if (g) {
		m->live = *g;
		free(g);
	}
	m->stale = true;
	m->allow_gen++;
}
