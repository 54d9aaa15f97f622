/* SPDX-License-Identifier: MIT */
/*
 * Bans and mutes set by admins (banUser, muteUser) and read on the hot
 * paths: the login check asks whether a user is banned, the message path
 * whether a sender is muted. Both are uthash tables keyed by a short
 * string ("user" for a ban or a global mute, "user/room" for a mute in one
 * room), so a check is one or two hash lookups with no allocation. An entry
 * holds the time it ends (unix ms, 0 = until lifted); expired entries are
 * dropped when a lookup meets them and by a periodic sweep.
 *
 * The chat-level entry points (chat_user_banned, chat_user_muted) are in
 * chat.h; this header is the table itself, for state.c and the commands.
 */
#ifndef CHAT_PLUGIN_SANCTIONS_H
#define CHAT_PLUGIN_SANCTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "topic.h"

/* "user/room": both ids plus the separator. */
#define SANCTION_KEY_MAX (TOPIC_ID_MAX + 1 + TOPIC_ROOM_MAX)

struct sanction {
	char key[SANCTION_KEY_MAX + 1];
	uint64_t until_ms; /* 0 = until lifted */
	UT_hash_handle hh;
};

struct sanctions {
	struct sanction *bans;    /* key: user */
	struct sanction *mutes;   /* key: user, or user/room */
	struct sanction *freezes; /* key: room, or SANCTION_EVERY_ROOM */
};

/* The key of a freeze of every room at once: no room id can be "*". */
#define SANCTION_EVERY_ROOM "*"

/* Frees every entry; the table is empty and reusable afterwards. */
void sanctions_clear(struct sanctions *s);

/*
 * Sets (or replaces) a ban or mute. room may be NULL (a ban, or a mute in
 * every room; must be NULL for bans). Returns 0, CHAT_ERR_INVAL for an
 * invalid id, or CHAT_ERR_NOMEM.
 */
int sanctions_ban(struct sanctions *s, const char *user, uint64_t until_ms);
int sanctions_mute(struct sanctions *s, const char *user, const char *room, uint64_t until_ms);
/* Lifts a ban or mute. CHAT_ERR_NOTFOUND when there was none. */
int sanctions_unban(struct sanctions *s, const char *user);
int sanctions_unmute(struct sanctions *s, const char *user, const char *room);

/*
 * The live entry for this ban or mute, or NULL. An entry found expired at
 * now_ms is freed and NULL returned; *reclaimed (may be NULL) is set true
 * then, so the caller knows the saved state changed.
 */
const struct sanction *sanctions_find_ban(struct sanctions *s, const char *user, uint64_t now_ms,
					  bool *reclaimed);
const struct sanction *sanctions_find_mute(struct sanctions *s, const char *user, const char *room,
					   uint64_t now_ms, bool *reclaimed);

/*
 * Freezes (read only for all but the room's owners and admins) one room,
 * or every room when room is NULL, until until_ms (0 = until lifted).
 * Returns 0, CHAT_ERR_INVAL for an invalid room id, or CHAT_ERR_NOMEM.
 * unfreeze returns CHAT_ERR_NOTFOUND when there was no such freeze.
 */
int sanctions_freeze(struct sanctions *s, const char *room, uint64_t until_ms);
int sanctions_unfreeze(struct sanctions *s, const char *room);
/* The live freeze of room (NULL: of every room), or NULL; as find_ban. */
const struct sanction *sanctions_find_freeze(struct sanctions *s, const char *room, uint64_t now_ms,
					     bool *reclaimed);

/* Drops every mute and the freeze of this room (it was deleted); returns
 * how many. */
size_t sanctions_forget_room(struct sanctions *s, const char *room);

/* Frees every entry that ended at or before now_ms; returns how many. */
size_t sanctions_sweep(struct sanctions *s, uint64_t now_ms);

/* Splits a mute key into its user and room (room "" for a global mute),
 * into caller buffers of TOPIC_ID_MAX + 1 and TOPIC_ROOM_MAX + 1 bytes. */
void sanctions_key_split(const char *key, char *user, char *room);

#endif
