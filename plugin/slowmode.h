/* SPDX-License-Identifier: MIT */
/*
 * Slow mode: in a room whose policy sets slowMode, each user may send one
 * message per interval. The table remembers when each user last had a
 * message accepted in such a room ("user/room" -> unix ms); it is not
 * saved, so a broker restart gives everyone a fresh slot. Entries older
 * than the longest interval can refuse nothing and are swept.
 */
#ifndef CHAT_PLUGIN_SLOWMODE_H
#define CHAT_PLUGIN_SLOWMODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "sanctions.h"

/* The longest slowMode a room may set, in seconds (an hour). */
#define SLOWMODE_MAX_S 3600u

struct slow_entry {
	char key[SANCTION_KEY_MAX + 1]; /* user/room */
	uint64_t last_ms;
	UT_hash_handle hh;
};

struct slowmode {
	struct slow_entry *by_key;
};

/*
 * True when user sent in room less than interval_ms before now_ms; *until_ms
 * gets when the next message may go. user and room are valid ids.
 */
bool slowmode_waiting(const struct slowmode *s, const char *user, const char *room, uint64_t interval_ms,
		      uint64_t now_ms, uint64_t *until_ms);
/* Records an accepted message of user in room at now_ms. 0 or CHAT_ERR_NOMEM. */
int slowmode_sent(struct slowmode *s, const char *user, const char *room, uint64_t now_ms);
/* Frees the entries that can no longer refuse anything; returns how many. */
size_t slowmode_sweep(struct slowmode *s, uint64_t now_ms);
/* Frees every entry; the table is empty and reusable afterwards. */
void slowmode_clear(struct slowmode *s);

#endif
