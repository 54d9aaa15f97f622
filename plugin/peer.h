/* SPDX-License-Identifier: MIT */
/*
 * Scale-out (docs/scale-out.md): several brokers joined by Mosquitto
 * bridges in a full mesh, each bridge `in` only. Two roles:
 *
 * - a *peer* is a network client here whose user is in
 *   plugin_opt_peer_users: another broker's bridge. It may receive only
 *   what this broker originated (room messages stamped here, and what the
 *   plugin publishes under chatpeer/out/).
 * - a *link* is this broker's own bridge to a peer (a local bridge
 *   context, client id in plugin_opt_peer_links). What it brings in is
 *   passed through untouched; a network client may not use its client id.
 *
 * peer.c holds the options, the roles and the ACL; peer_state.c the room
 * state replication; peer_presence.c the presence counts.
 */
#ifndef CHAT_PLUGIN_PEER_H
#define CHAT_PLUGIN_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chat;
struct mosquitto;
struct mosquitto_opt;
struct mosquitto_evt_message;
struct mosquitto_evt_acl_check;

/* The namespace only the local plugin publishes in (peers read it), and the
 * one links publish into (bridges remap chatpeer/out/ to chatpeer/in/). */
#define PEER_OUT "chatpeer/out/"
#define PEER_IN "chatpeer/in/"
#define PEER_FWD PEER_OUT "fwd/"

/* True for a plugin_opt_peer_* key (options.c leaves them to peer.c). */
bool chat_peer_option_known(const char *key);
/* Reads the peer options; leaves c->peer NULL when none is set (a single
 * broker). Returns MOSQ_ERR_*; logs a bad value. */
int chat_peer_init(struct chat *c, struct mosquitto_opt *opts, int opt_count);
/* The TICK work that drives heartbeats and catch-up (nothing without
 * peers). */
void chat_peer_tick(struct chat *c, uint64_t now);
void chat_peer_free(struct chat *c);

/* True when client is one of this broker's links (a bridge context). */
bool chat_peer_is_link(const struct chat *c, const struct mosquitto *client);
/* True when client_id is reserved for a link: a login with it is refused. */
bool chat_peer_link_id(const struct chat *c, const char *client_id);
/* MOSQ_EVT_MESSAGE from a link: records for the state and presence are
 * applied, everything else passes as it came. */
int chat_peer_on_link_message(struct chat *c, struct mosquitto_evt_message *ed);
/* The ACL's scale-out rules; true when they decide (*rc set). */
bool chat_peer_acl(struct chat *c, const struct mosquitto_evt_acl_check *ed, int *rc);
/* A copy of a plugin publication on topic for the peers (events, inbox). */
void chat_peer_forward(struct chat *c, const char *topic, const char *payload, size_t len);
/* True when a login must be refused (logged): its client id is a link's,
 * or the broker is still catching up and user is neither a peer nor a
 * service user. */
bool chat_peer_refuses_login(struct chat *c, const char *client_id, const char *user);
/* True while the broker has not caught up with its peers (chat logins are
 * refused until then, or until plugin_opt_peer_sync_timeout). */
bool chat_peer_syncing(struct chat *c);
/* state.c hook: the state changed (a command, a DM, an expiry); the next
 * tick publishes the changed keys. */
void chat_peer_state_changed(struct chat *c);
/* state.c, for peer_state.c: the whole state as the state file's JSON
 * (cJSON_Delete it; NULL when out of memory), and a state in that form
 * replacing the running one (rooms lists republished, banned users
 * kicked, the file saved later). Returns MOSQ_ERR_*. */
struct cJSON;
struct cJSON *chat_state_json(const struct chat *c);
int chat_state_adopt_json(struct chat *c, const struct cJSON *root);
/* presence.c hooks: the local count of user changed; the sessions other
 * brokers report for user (0 on a single broker). */
void chat_peer_presence_changed(struct chat *c, const char *user, unsigned sessions);
unsigned chat_peer_sessions(const struct chat *c, const char *user);
/* presence.c, for peer_presence.c: republishes user's presence (local plus
 * peers' sessions); flipped = online changed, so `since` is now. */
void chat_presence_refresh(struct chat *c, const char *user, bool flipped);
/* True when an envelope (payload of a room message) was stamped here. */
bool chat_peer_stamped_here(const struct chat *c, const void *payload, uint32_t len);

#endif
