/* SPDX-License-Identifier: MIT */
/*
 * Live rooms (live.c, live_control.c): rooms whose viewers get one
 * PUBLISH per interval per shard carrying every envelope since the last,
 * instead of one per message. The hooks other files call are declared
 * here; topics.md "Live rooms" describes what clients see.
 */
#ifndef CHAT_PLUGIN_LIVE_H
#define CHAT_PLUGIN_LIVE_H

#include <cjson/cJSON.h>

#include "chat.h"
#include "control.h"

/* plugin.c: the live state, and its TICK work: flushes the batches due
 * and returns the ms until the soonest next one (UINT64_MAX: none). */
int chat_live_init(struct chat *c);
void chat_live_free(struct chat *c);
uint64_t chat_live_tick(struct chat *c, uint64_t now);


/* True when some room has been live since start (else no check below
 * needs to look): one load, for the read check of every delivery. */
bool chat_live_active(const struct chat *c);
/* True when room (a span) exists and is live. */
bool chat_live_is(const struct chat *c, const char *room, size_t len);

/* message.c: the shard to write into the envelope of user's message in
 * room: the sender's shard, or the least full one when the sender is not
 * watching; 0 for a room that is not live and for the room-wide messages
 * of the room's owners and admins (they reach every shard). */
unsigned chat_live_shard(struct chat *c, const char *room, size_t len, const char *user);
/* message.c: an accepted envelope (env[0..len)) of room, stamped with
 * shard, joins the next batch of that shard (0 = of every shard). No-op
 * for rooms that are not live. */
void chat_live_accepted(struct chat *c, const char *room, size_t len, unsigned shard, const char *env, size_t env_len);
/* message.c: a message to room was refused for why (room-wide counters). */
void chat_live_refused(struct chat *c, const char *room, size_t len, enum chat_reject why);

/* acl.c: a granted SUBSCRIBE / an UNSUBSCRIBE of filter by client; joining
 * is subscribing to chat/rooms/{room}/live. And auth.c: client went away. */
void chat_live_subscribed(struct chat *c, const struct mosquitto *client, const char *filter);
void chat_live_unsubscribed(struct chat *c, const struct mosquitto *client, const char *filter);
void chat_live_disconnected(struct chat *c, const struct mosquitto *client);

/* publish.c: appends ,"live":true and, while user watches, ,"shard":K,
 * "shardTopic":"chat/rooms/{room}/live/K" to user's entry of room in
 * the rooms list. No-op for rooms that are not live. */
void chat_live_rooms_entry(struct chat *c, const struct room *room, const char *user, struct strbuf *sb);

/* metrics.c: per live room figures into getStats (appends
 * ,"live":{room:{...}}) and on $SYS/broker/chat/live/{room}/... */
void chat_live_stats_json(struct chat *c, struct strbuf *out);
void chat_live_publish_sys(struct chat *c);

/* live_control.c: the setRoomLive command, the live fields of getRoom's
 * policy, and their place in the state file's room policy. */
void control_set_room_live(struct control_req *r);
void chat_live_policy_json(const struct room_policy *p, cJSON *policy);
/* 0, or CHAT_ERR_INVAL with why filled in. */
int chat_live_policy_load(struct room_policy *p, const cJSON *policy, char *why, size_t cap);
/* live.c: after setRoomLive changed room: starts or drops its viewers and
 * republishes the rooms lists of its members. */
void chat_live_changed(struct chat *c, const struct room *room);

#endif
