/* SPDX-License-Identifier: MIT */
/*
 * The room model: rooms, their members with roles, per-room policy, and the
 * reverse index user -> rooms. Every lookup is a hash lookup (uthash), so the
 * broker's read check, which runs once per subscriber per message, costs the
 * same with ten rooms or a million. Pure C: the plugin owns one `struct
 * rooms`, the state file and the admin API mutate it.
 *
 * Ids may be passed as spans (pointer + length) straight out of a topic.
 */
#ifndef CHAT_ROOMS_H
#define CHAT_ROOMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <uthash.h>

#include "topic.h"

enum room_role {
	ROLE_NONE = 0, /* not a member */
	ROLE_READER,   /* reads, never writes */
	ROLE_MEMBER,
	ROLE_ADMIN,
	ROLE_OWNER,
};

enum words_action { WORDS_INHERIT = 0, WORDS_MASK, WORDS_REJECT, WORDS_FLAG };
enum dm_policy { DM_INHERIT = 0, DM_ANYONE, DM_SHARED, DM_NOBODY };
/* Read receipts of a room (plugin/receipts.c): by its size, on, off. */
enum read_receipts { RECEIPTS_AUTO = 0, RECEIPTS_ON, RECEIPTS_OFF };

/* Per-room settings; zero means "use the broker-wide default". */
struct room_policy {
	enum words_action words_action;
	double flood_rate;   /* messages per second per user in this room */
	double flood_burst;
	enum dm_policy dm_policy;
	enum read_receipts read_receipts;
	unsigned slow_mode_s; /* seconds between one user's messages; 0 = off */
	bool live;                 /* batched delivery in shards (plugin/live.c) */
	unsigned live_interval_ms; /* 0 = plugin_opt_live_interval_ms */
	unsigned shard_size;       /* 0 = plugin_opt_live_shard_size */
};

struct room_member {
	char user[TOPIC_ID_MAX + 1];
	enum room_role role;
	UT_hash_handle hh;
};

struct room {
	char id[TOPIC_ROOM_MAX + 1];
	char *title;                  /* owned, may be NULL */
	struct room_member *members;  /* uthash by user */
	unsigned member_count;
	struct room_policy policy;
	void *ext;                    /* owned by the plugin (e.g. word lists); freed by rooms' ext_free */
	UT_hash_handle hh;
};

/* One room of a user, in the reverse index. */
struct user_room {
	struct room *room;
	UT_hash_handle hh; /* keyed by the room pointer */
};

struct user_entry {
	char user[TOPIC_ID_MAX + 1];
	struct user_room *rooms; /* uthash by room pointer */
	unsigned room_count;
	UT_hash_handle hh;
};

/*
 * The last answers of rooms_lookup() and rooms_member_role(). The broker
 * asks about one room several times per message (the publisher's write
 * check, the envelope, each delivery's read check) and about the same few
 * users, so a remembered answer saves a hash lookup each time. Every
 * change of the set forgets them all; nothing else is ever stale, because
 * a remembered room is a pointer that only a change could free.
 */
#define ROOMS_MEMO_ROLES 4

struct rooms_memo_role {
	const struct room *room; /* NULL: an empty slot */
	size_t len;
	enum room_role role;
	char user[TOPIC_ID_MAX + 1];
};

struct rooms_memo {
	bool room_known;  /* room and id hold an answer */
	struct room *room; /* may be NULL: no room with that id */
	size_t len;
	char id[TOPIC_ROOM_MAX + 1];
	struct rooms_memo_role roles[ROOMS_MEMO_ROLES];
	unsigned next_role; /* the slot the next new answer takes */
};

struct rooms {
	struct room *by_id;
	struct user_entry *by_user;
	unsigned count;
	void (*ext_free)(void *ext); /* may be NULL */
	struct rooms_memo memo;
};

/* Initialises an empty set. */
void rooms_init(struct rooms *rs);
/* Frees every room and index entry; rs can be reused after rooms_init. */
void rooms_clear(struct rooms *rs);

/* The room with this id, or NULL. */
struct room *rooms_find(const struct rooms *rs, const char *id, size_t len);
/* rooms_find through the memo: the same answer, cheaper when the id is the
 * one asked about last (the hot path's lookups: acl.c, message.c). The
 * memo's hit is inline; rooms_lookup_remember() looks up and remembers. */
struct room *rooms_lookup_remember(struct rooms *rs, const char *id, size_t len);

/* a[0..len) == b[0..len), for the memo's ids (at most TOPIC_ROOM_MAX
 * bytes, mostly a handful): no call, eight bytes at a time past seven,
 * the last eight overlapping. Five of these a message and one per
 * delivery, where a call to memcmp cost more than the compare. */
static inline bool rooms_id_equal(const char *a, const char *b, size_t len)
{
	uint64_t x, y;
	if (len < 8) {
		for (size_t i = 0; i < len; i++) {
			if (a[i] != b[i]) return false;
		}
		return true;
	}
	for (size_t i = 0; i + 8 < len; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y) return false;
	}
	memcpy(&x, a + len - 8, 8);
	memcpy(&y, b + len - 8, 8);
	return x == y;
}

static inline struct room *rooms_lookup(struct rooms *rs, const char *id, size_t len)
{
	const struct rooms_memo *m = &rs->memo;
	if (m->room_known && m->len == len && rooms_id_equal(m->id, id, len)) return m->room;
	return rooms_lookup_remember(rs, id, len);
}

/*
 * Creates a room. Returns 0 and the room in *out (may be NULL),
 * CHAT_ERR_INVAL for an invalid id, CHAT_ERR_EXISTS, or CHAT_ERR_NOMEM.
 */
int rooms_create(struct rooms *rs, const char *id, const char *title, struct room **out);
/* Deletes a room and its memberships. CHAT_ERR_NOTFOUND if absent. */
int rooms_delete(struct rooms *rs, const char *id);
/* Replaces the title (NULL clears it). 0 or CHAT_ERR_NOMEM. */
int rooms_set_title(struct room *r, const char *title);

/* The user's role in r, ROLE_NONE when not a member. */
enum room_role rooms_role(const struct room *r, const char *user, size_t len);
/* rooms_role through the memo (r from this set, or NULL): the same answer,
 * cheaper for the few users asked about last. The last byte is compared
 * first: users asked about together mostly differ there ("u1", "u2"). */
enum room_role rooms_member_role_remember(struct rooms *rs, const struct room *r, const char *user, size_t len);
static inline enum room_role rooms_member_role(struct rooms *rs, const struct room *r, const char *user,
					       size_t len)
{
	for (unsigned i = 0; r && i < ROOMS_MEMO_ROLES; i++) {
		const struct rooms_memo_role *e = &rs->memo.roles[i];
		if (e->room != r || e->len != len) continue;
		if (len && e->user[len - 1] != user[len - 1]) continue;
		if (rooms_id_equal(e->user, user, len)) return e->role;
	}
	return rooms_member_role_remember(rs, r, user, len);
}
/*
 * Adds user to r with role, or changes the role of a member. Returns 0,
 * CHAT_ERR_INVAL (invalid user id or ROLE_NONE), or CHAT_ERR_NOMEM.
 */
int rooms_set_member(struct rooms *rs, struct room *r, const char *user, enum room_role role);
/* Removes user from r. CHAT_ERR_NOTFOUND when not a member. */
int rooms_remove_member(struct rooms *rs, struct room *r, const char *user);

/* The user's reverse-index entry (their rooms), or NULL when in none. */
const struct user_entry *rooms_of_user(const struct rooms *rs, const char *user, size_t len);
/* True when users a and b are both members of at least one common room. */
bool rooms_share(const struct rooms *rs, const char *a, size_t alen, const char *b, size_t blen);

/* Names for roles and actions ("owner", "mask", ...); parse returns -1 when unknown. */
const char *rooms_role_name(enum room_role role);
int rooms_role_parse(const char *name);
const char *rooms_words_action_name(enum words_action a);
int rooms_words_action_parse(const char *name);
const char *rooms_dm_policy_name(enum dm_policy p);
int rooms_dm_policy_parse(const char *name);

#endif
