/* SPDX-License-Identifier: MIT */
/*
 * Room model; see rooms.h. The reverse index (user -> rooms) is kept in
 * step with each membership change so that "which rooms is alice in" (her
 * rooms list, the DM "shared" policy) never scans all rooms.
 */
#include "rooms.h"

#include <stdlib.h>
#include <string.h>

#include "chat_err.h"
#include "fnv.h"

/* The tables hash their keys (ids of a few bytes, room pointers) with the
 * project's FNV-1a instead of uthash's default: fewer instructions per
 * lookup, and the read check of every delivery makes one. Only this file
 * adds to or searches these tables. */
#undef HASH_FUNCTION
#define HASH_FUNCTION(keyptr, keylen, hashv) ((hashv) = fnv32(FNV32_OFFSET, (keyptr), (keylen)))

void rooms_init(struct rooms *rs)
{
	memset(rs, 0, sizeof(*rs));
}

/* Called by every change of rooms or members: the memo's answers may be
 * wrong from now on. */
static void memo_forget(struct rooms *rs)
{
	rs->memo.room_known = false;
	for (unsigned i = 0; i < ROOMS_MEMO_ROLES; i++) rs->memo.roles[i].room = NULL;
}

static struct user_entry *user_find(const struct rooms *rs, const char *user, size_t len)
{
	struct user_entry *u = NULL;
	HASH_FIND(hh, rs->by_user, user, len, u);
	return u;
}

static int index_add(struct rooms *rs, const char *user, struct room *r)
{
	struct user_entry *u = user_find(rs, user, strlen(user));
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u) return CHAT_ERR_NOMEM;
		memcpy(u->user, user, strlen(user) + 1);
		HASH_ADD_KEYPTR(hh, rs->by_user, u->user, strlen(u->user), u);
	}
	struct user_room *ur = calloc(1, sizeof(*ur));
	if (!ur) return CHAT_ERR_NOMEM;
	ur->room = r;
	HASH_ADD_PTR(u->rooms, room, ur);
	u->room_count++;
	return CHAT_OK;
}

static void index_remove(struct rooms *rs, const char *user, struct room *r)
{
	struct user_entry *u = user_find(rs, user, strlen(user));
	struct user_room *ur = NULL;
	if (!u) return;
	HASH_FIND_PTR(u->rooms, &r, ur);
	if (ur) {
		HASH_DEL(u->rooms, ur);
		free(ur);
		u->room_count--;
	}
	if (u->room_count == 0) {
		HASH_DEL(rs->by_user, u);
		free(u);
	}
}

static void room_free(struct rooms *rs, struct room *r)
{
	struct room_member *m, *tmp;
	HASH_ITER(hh, r->members, m, tmp) {
		index_remove(rs, m->user, r);
		HASH_DEL(r->members, m);
		free(m);
	}
	if (r->ext && rs->ext_free) rs->ext_free(r->ext);
	free(r->title);
	free(r);
}

void rooms_clear(struct rooms *rs)
{
	struct room *r, *tmp;
	HASH_ITER(hh, rs->by_id, r, tmp) {
		HASH_DEL(rs->by_id, r);
		room_free(rs, r);
	}
	rs->count = 0;
	memo_forget(rs);
}

struct room *rooms_find(const struct rooms *rs, const char *id, size_t len)
{
	struct room *r = NULL;
	HASH_FIND(hh, rs->by_id, id, len, r);
	return r;
}

/* Never inlined (under LTO): the memo's inline hit in the header stays small. */
__attribute__((noinline)) struct room *rooms_lookup_remember(struct rooms *rs, const char *id, size_t len)
{
	struct rooms_memo *m = &rs->memo;
	struct room *r = rooms_find(rs, id, len);
	if (len < sizeof(m->id)) { /* an id too long is no room: asked rarely, never remembered */
		memcpy(m->id, id, len);
		m->len = len;
		m->room = r;
		m->room_known = true;
	}
	return r;
}

int rooms_set_title(struct room *r, const char *title)
{
	char *t = NULL;
	if (title) {
		t = strdup(title);
		if (!t) return CHAT_ERR_NOMEM;
	}
	free(r->title);
	r->title = t;
	return CHAT_OK;
}

int rooms_create(struct rooms *rs, const char *id, const char *title, struct room **out)
{
	size_t len = strlen(id);
	if (!topic_room_valid(id, len)) return CHAT_ERR_INVAL;
	if (rooms_find(rs, id, len)) return CHAT_ERR_EXISTS;
	struct room *r = calloc(1, sizeof(*r));
	if (!r) return CHAT_ERR_NOMEM;
	memcpy(r->id, id, len + 1);
	if (rooms_set_title(r, title) != CHAT_OK) {
		free(r);
		return CHAT_ERR_NOMEM;
	}
	HASH_ADD_KEYPTR(hh, rs->by_id, r->id, len, r);
	rs->count++;
	memo_forget(rs);
	if (out) *out = r;
	return CHAT_OK;
}

int rooms_delete(struct rooms *rs, const char *id)
{
	struct room *r = rooms_find(rs, id, strlen(id));
	if (!r) return CHAT_ERR_NOTFOUND;
	HASH_DEL(rs->by_id, r);
	rs->count--;
	memo_forget(rs);
	room_free(rs, r);
	return CHAT_OK;
}

static struct room_member *member_find(const struct room *r, const char *user, size_t len)
{
	struct room_member *m = NULL;
	HASH_FIND(hh, r->members, user, len, m);
	return m;
}

enum room_role rooms_role(const struct room *r, const char *user, size_t len)
{
	const struct room_member *m = r ? member_find(r, user, len) : NULL;
	return m ? m->role : ROLE_NONE;
}

/* Never inlined (under LTO): the memo's inline hit in the header stays small. */
__attribute__((noinline)) enum room_role rooms_member_role_remember(struct rooms *rs, const struct room *r, const char *user, size_t len)
{
	struct rooms_memo *m = &rs->memo;
	if (!r) return ROLE_NONE;
	enum room_role role = rooms_role(r, user, len);
	if (len < sizeof(m->roles[0].user)) {
		struct rooms_memo_role *e = &m->roles[m->next_role];
		m->next_role = (m->next_role + 1) % ROOMS_MEMO_ROLES;
		memcpy(e->user, user, len);
		e->len = len;
		e->role = role;
		e->room = r;
	}
	return role;
}

int rooms_set_member(struct rooms *rs, struct room *r, const char *user, enum room_role role)
{
	size_t len = strlen(user);
	if (!topic_user_valid(user, len) || role <= ROLE_NONE || role > ROLE_OWNER) return CHAT_ERR_INVAL;
	struct room_member *m = member_find(r, user, len);
	memo_forget(rs);
	if (m) {
		m->role = role;
		return CHAT_OK;
	}
	m = calloc(1, sizeof(*m));
	if (!m) return CHAT_ERR_NOMEM;
	memcpy(m->user, user, len + 1);
	m->role = role;
	if (index_add(rs, m->user, r) != CHAT_OK) {
		free(m);
		return CHAT_ERR_NOMEM;
	}
	HASH_ADD_KEYPTR(hh, r->members, m->user, len, m);
	r->member_count++;
	return CHAT_OK;
}

int rooms_remove_member(struct rooms *rs, struct room *r, const char *user)
{
	struct room_member *m = member_find(r, user, strlen(user));
	if (!m) return CHAT_ERR_NOTFOUND;
	memo_forget(rs);
	HASH_DEL(r->members, m);
	r->member_count--;
	index_remove(rs, m->user, r);
	free(m);
	return CHAT_OK;
}

const struct user_entry *rooms_of_user(const struct rooms *rs, const char *user, size_t len)
{
	return user_find(rs, user, len);
}

bool rooms_share(const struct rooms *rs, const char *a, size_t alen, const char *b, size_t blen)
{
	const struct user_entry *ua = user_find(rs, a, alen), *ub = user_find(rs, b, blen);
	if (!ua || !ub) return false;
	if (ua->room_count > ub->room_count) { /* walk the shorter list */
		const struct user_entry *t = ua;
		ua = ub;
		ub = t;
	}
	for (const struct user_room *ur = ua->rooms; ur; ur = ur->hh.next) {
		if (rooms_role(ur->room, ub->user, strlen(ub->user)) != ROLE_NONE) return true;
	}
	return false;
}

static int parse_name(const char *const *names, int n, const char *name)
{
	for (int i = 0; i < n; i++) {
		if (names[i] && name && strcmp(names[i], name) == 0) return i;
	}
	return -1;
}

static const char *const role_names[] = {NULL, "reader", "member", "admin", "owner"};
static const char *const action_names[] = {NULL, "mask", "reject", "flag"};
static const char *const dm_names[] = {NULL, "anyone", "shared", "nobody"};

const char *rooms_role_name(enum room_role role)
{
	return role > ROLE_NONE && role <= ROLE_OWNER ? role_names[role] : "none";
}

int rooms_role_parse(const char *name)
{
	return parse_name(role_names, 5, name);
}

const char *rooms_words_action_name(enum words_action a)
{
	return a > WORDS_INHERIT && a <= WORDS_FLAG ? action_names[a] : "default";
}

int rooms_words_action_parse(const char *name)
{
	return parse_name(action_names, 4, name);
}

const char *rooms_dm_policy_name(enum dm_policy p)
{
	return p > DM_INHERIT && p <= DM_NOBODY ? dm_names[p] : "default";
}

int rooms_dm_policy_parse(const char *name)
{
	return parse_name(dm_names, 4, name);
}
