/* SPDX-License-Identifier: MIT */
/*
 * Flood control's state (flood.c), for moderation.c: the records the pure
 * verdict (moderation_verdict.h) reads and returns, and the automatic
 * mutes it asks for. Only moderation.c includes this; flood.c calls
 * nothing of moderation.c.
 */
#ifndef CHAT_PLUGIN_FLOOD_H
#define CHAT_PLUGIN_FLOOD_H

#include <stdbool.h>
#include <stdint.h>

#include "moderation_verdict.h"

struct chat;
struct room;

int flood_init(struct chat *c);
void flood_free(struct chat *c);

/* The flood part of the verdict's policy for a message in room r (may be
 * NULL: a DM not opened yet); service: the sender is a service client. */
void flood_policy(const struct chat *c, const struct room *r, bool service, struct verdict_policy *p);

/* The sender's record for a message in room at now: the stored one, or a
 * fresh one for a sender not tracked; the room bucket follows r's policy.
 * Returns the stored record itself when it is the whole answer (no room
 * bucket), else rec filled in; either stays valid until flood_store or
 * the next sweep, and is not to be changed. *entry gets the sender's
 * entry for flood_store (NULL: none yet). */
const struct flood_record *flood_gather(const struct chat *c, const char *user, const char *room,
					const struct room *r, const struct verdict_policy *p, int64_t now,
					struct flood_record *rec, void **entry);

/* Keeps rec as the sender's record, in entry (from flood_gather) or a new
 * one (out of memory keeps nothing, which lets the sender through next
 * time); then sweeps a little (a broker with per_listener_settings true has
 * no ticks). */
void flood_store(struct chat *c, void *entry, const char *user, const char *room, const struct verdict_policy *p,
		 const struct flood_record *rec, uint64_t now_ms);

/* The verdict's automatic mute: into the sanctions table, the state file
 * marked dirty, counted and logged (why: the offence's name). */
void flood_mute(struct chat *c, const char *user, const char *room, const struct verdict *v, const char *why);

/* Forgets senders whose records are idle and room buckets that are full. */
void flood_sweep(struct chat *c, uint64_t now_ms);

/* Tracked users and user+room buckets, for metrics and tests. */
size_t flood_tracked(const struct chat *c);

#endif
