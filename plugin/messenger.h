/* SPDX-License-Identifier: MIT */
/*
 * The messenger features on the plugin's side: typing indicators
 * (typing.c) and the checks of edits, deletes, reactions and replies
 * (edit.c), with their options (messenger.c). The store side (applying a
 * change to MongoDB, history, search) is the bridge's.
 *
 * Why the plugin checks a change against a record of recent messages
 * rather than asking MongoDB: the message path runs on the broker's only
 * thread and must never wait for I/O. Every message the plugin stamps is
 * remembered (id, room, sender, time, deleted) for as long as it may be
 * edited, in one table for all rooms, bounded by plugin_opt_edit_recent_max
 * entries; the oldest go first. A member's own edit or delete must find its
 * message there, so the rule "your own, within the window" is decided
 * before the change reaches anyone. What the record cannot vouch for (a
 * message older than its horizon: before a restart, or pushed out by the
 * bound) is refused to members and passed for owners' and admins' deletes
 * and for replies and reactions, which name it by a well-formed id of the
 * past; the bridge applies a change only to a stored message of that room.
 *
 * This header is included by chat.h: it declares struct chat only.
 */
#ifndef CHAT_PLUGIN_MESSENGER_H
#define CHAT_PLUGIN_MESSENGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "rooms.h"

struct chat;
struct mosquitto;
struct mosquitto_evt_message;
struct topic_ref;

/* plugin_opt_edit_window, edit_recent_max, typing_interval (README). */
struct messenger_config {
	uint64_t edit_window_ms;     /* members edit and delete their own messages this long; 0 = never */
	size_t recent_max;           /* messages remembered for edit checks, all rooms together */
	uint64_t typing_interval_ms; /* least time between two "typing" of a user in a room */
	unsigned receipts_max_members; /* rooms of at most this many members have read receipts ("auto") */
	uint64_t receipts_interval_ms; /* least time between two read events of a room */
};


/* The state (recent record, typing table) in c->messenger: init at start,
 * free at cleanup (NULL-safe). MOSQ_ERR_*. */
int messenger_init(struct chat *c);
void messenger_free(struct chat *c);

/* edit.c: whether user may send m (an edit, delete, reaction or reply;
 * a plain post always may) into room room[0..room_len) at now. Returns
 * REJECT_COUNT when allowed, else the enum chat_reject to refuse with. */
int chat_change_check(struct chat *c, const char *user, const char *room, size_t room_len, const struct chat_msg *m,
		      uint64_t now);
/* The envelope's messenger members from m: what a change changes (edit,
 * delete, react and reaction; the type of a delete or reaction), what a
 * post replies to. Pointers into m. */
void chat_change_stamp(const struct chat_msg *m, struct envelope *e);
/* After the envelope id was given (by c->ids, just now): remembers a post
 * in room[0..room_len), marks a delete. */
void chat_change_record(struct chat *c, const char *room, size_t room_len, const char *user, const char *id,
			const struct chat_msg *m, uint64_t now);

/* mentions.c: the members of e's room (not sender) that e's text
 * mentions ("@user") as e->mentions, a JSON array written into sb (which
 * must outlive the envelope's writing); left NULL when none. */
void chat_mentions(struct chat *c, const char *sender, struct envelope *e, struct strbuf *sb);
/* The buffer chat_mentions writes into, owned by c->messenger. */
struct strbuf *chat_mentions_buf(struct chat *c);

/* receipts.c: read receipts. A read marker publish (MOSQ_EVT_MESSAGE on
 * chat/rooms/{room}/read) is noted for the room's next read event; the
 * tick callback (register at init, unregister at cleanup) publishes them.
 * chat_receipts_request_refused: true for a {"reads":true} history
 * request in a room without receipts. chat_receipts_on: whether room r
 * has them. The policy's names: parse gives -1 for an unknown one. */
void chat_receipts_on_read(struct chat *c, const struct mosquitto_evt_message *ed, const struct topic_ref *t);
bool chat_receipts_request_refused(struct chat *c, const struct mosquitto_evt_message *ed, const struct topic_ref *t);
bool chat_receipts_on(const struct chat *c, const struct room *r);
void chat_receipts_flush(struct chat *c, uint64_t now);
/* The TICK work: pending markers flushed, quiet ones forgotten. */
void chat_receipts_tick(struct chat *c, uint64_t now);
int chat_receipts_parse(const char *name);
const char *chat_receipts_name(int mode);

/* chats.c: a chat list request on chat/users/{user}/chats (MOSQ_EVT_MESSAGE):
 * its payload gets the user's rooms for the bridge; MOSQ_ERR_ACL_DENIED
 * when it is not a JSON object. */
int chat_chats_on_message(struct chat *c, struct mosquitto_evt_message *ed);

/* typing.c: a publish on chat/rooms/{room}/typing (MOSQ_EVT_MESSAGE):
 * replaced by the server's typing event, or dropped (rate limit, bad
 * payload, retained) with MOSQ_ERR_ACL_DENIED. */
int chat_typing_on_message(struct chat *c, struct mosquitto_evt_message *ed, const struct topic_ref *t);
/* user's message reached room: their typing there ended without an event
 * (members see the message). */
void chat_typing_sent(struct chat *c, const char *user, const char *room);
/* client went away: a "stopped" event for every room it was typing in. */
void chat_typing_disconnected(struct chat *c, const struct mosquitto *client);

#endif
