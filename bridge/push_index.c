/* SPDX-License-Identifier: MIT */
/*
 * Who is online and who is in which room, as the plugin announces it in
 * retained messages: chat/presence/{user} {"online":bool,...} and
 * chat/users/{user}/rooms [{"room","role"}]. Every bridge subscribes to
 * both without sharing, so each holds the whole picture; a bridge that
 * (re)connects gets it back from the retained copies. Two uthash tables:
 * user -> (online, rooms) and room -> members.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bridge.h"
#include "push_int.h"

static struct push_user *user_get(struct push *p, const char *name, bool create)
{
	struct push_user *u = NULL;
	HASH_FIND_STR(p->users, name, u);
	if (u || !create) return u;
	u = xcalloc(1, sizeof(*u));
	memcpy(u->name, name, strlen(name) + 1);
	HASH_ADD_STR(p->users, name, u);
	return u;
}

void push_index_presence(struct push *p, const char *user, const char *json, size_t len)
{
	cJSON *doc = len ? cJSON_ParseWithLength(json, len) : NULL;
	const cJSON *online = cJSON_GetObjectItemCaseSensitive(doc, "online");
	/* An empty retained message (cleared) or a malformed one: offline. */
	bool on = cJSON_IsTrue(online);
	cJSON_Delete(doc);
	struct push_user *u = user_get(p, user, on);
	if (u && u->online != on) blog(BLOG_DEBUG, "push: %s is %s", user, on ? "online" : "offline");
	if (u) u->online = on;
}

bool push_index_online(struct push *p, const char *user)
{
	struct push_user *u = user_get(p, user, false);
	return u && u->online;
}

static void member_add(struct push *p, const char *room, const char *user)
{
	struct push_room *r = NULL;
	HASH_FIND_STR(p->rooms, room, r);
	if (!r) {
		r = xcalloc(1, sizeof(*r));
		memcpy(r->name, room, strlen(room) + 1);
		HASH_ADD_STR(p->rooms, name, r);
	}
	struct push_member *m = NULL;
	HASH_FIND_STR(r->members, user, m);
	if (m) return;
	m = xcalloc(1, sizeof(*m));
	memcpy(m->user, user, strlen(user) + 1);
	HASH_ADD_STR(r->members, user, m);
}

static void member_del(struct push *p, const char *room, const char *user)
{
	struct push_room *r = NULL;
	struct push_member *m = NULL;
	HASH_FIND_STR(p->rooms, room, r);
	if (r) HASH_FIND_STR(r->members, user, m);
	if (!m) return;
	HASH_DEL(r->members, m);
	free(m);
	if (r->members) return;
	HASH_DEL(p->rooms, r);
	free(r);
}

static void user_rooms_clear(struct push *p, struct push_user *u)
{
	for (size_t i = 0; i < u->nrooms; i++) {
		member_del(p, u->rooms[i], u->name);
		free(u->rooms[i]);
	}
	free(u->rooms);
	u->rooms = NULL;
	u->nrooms = 0;
}

void push_index_rooms(struct push *p, const char *user, const char *json, size_t len)
{
	cJSON *doc = len ? cJSON_ParseWithLength(json, len) : NULL;
	if (len && !cJSON_IsArray(doc)) {
		blog(BLOG_WARN, "push: rooms list of %s is not a JSON array; ignored", user);
		cJSON_Delete(doc);
		return;
	}
	struct push_user *u = user_get(p, user, true);
	user_rooms_clear(p, u);
	int n = cJSON_GetArraySize(doc);
	u->rooms = xcalloc((size_t)(n > 0 ? n : 1), sizeof(char *));
	const cJSON *item;
	cJSON_ArrayForEach(item, doc) {
		const char *room = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "room"));
		if (!room || !topic_room_valid(room, strlen(room))) continue;
		u->rooms[u->nrooms++] = xstrdup(room);
		member_add(p, room, user);
	}
	cJSON_Delete(doc);
	blog(BLOG_DEBUG, "push: %s is in %zu rooms", user, u->nrooms);
}

void push_index_members(struct push *p, const char *room, void (*fn)(struct push *, const char *, void *),
                        void *ud)
{
	/* A DM room is always exactly its two users: take them from the id,
	 * not from the rooms lists, which reach the bridge one user at a time
	 * (after the first message, the sender's list may be in and the
	 * other's not yet). */
	const char *a, *b;
	size_t alen, blen;
	if (topic_dm_users(room, strlen(room), &a, &alen, &b, &blen)) {
		char ua[TOPIC_ID_MAX + 1], ub[TOPIC_ID_MAX + 1];
		memcpy(ua, a, alen);
		ua[alen] = '\0';
		memcpy(ub, b, blen);
		ub[blen] = '\0';
		fn(p, ua, ud);
		fn(p, ub, ud);
		return;
	}
	struct push_room *r = NULL;
	HASH_FIND_STR(p->rooms, room, r);
	if (!r) return;
	struct push_member *m, *tmp;
	HASH_ITER(hh, r->members, m, tmp)
		fn(p, m->user, ud);
}

void push_index_free(struct push *p)
{
	struct push_user *u, *ut;
	HASH_ITER(hh, p->users, u, ut) {
		user_rooms_clear(p, u);
		HASH_DEL(p->users, u);
		free(u);
	}
	struct push_room *r, *rt;
	HASH_ITER(hh, p->rooms, r, rt) {
		struct push_member *m, *mt;
		HASH_ITER(hh, r->members, m, mt) {
			HASH_DEL(r->members, m);
			free(m);
		}
		HASH_DEL(p->rooms, r);
		free(r);
	}
}
