/* SPDX-License-Identifier: MIT */
/*
 * What peer.c, peer_state.c and peer_presence.c share: the scale-out
 * state of one broker (one struct, in struct chat's peer).
 */
#ifndef CHAT_PLUGIN_PEER_INT_H
#define CHAT_PLUGIN_PEER_INT_H

#include "chat.h"
#include "peer.h"

/* A list of strings from a comma-separated option, in the order given. */
struct peer_list {
	char **items;
	size_t count;
};

struct peer_key;   /* peer_state.c: one key of the replicated state */
struct peer_node;  /* peer_presence.c: what one peer says about presence */

struct chat_peer {
	char *node;              /* this broker's node id (plugin_opt_node_id) */
	struct peer_list users;  /* plugin_opt_peer_users: peers' bridges logging in here */
	struct peer_list links;  /* plugin_opt_peer_links: client ids of this broker's bridges */
	struct peer_list peers;  /* plugin_opt_peers: node ids to catch up with at start */
	bool *synced;            /* per peers entry: a snapshot came */
	struct peer_list inbound; /* client ids of peers' links subscribed here */
	uint64_t started_ms, sync_timeout_ms;
	bool sync_done;
	/* peer_state.c */
	struct peer_key *keys;   /* the key view last applied or published */
	bool snapshot_due;       /* a peer subscribed: send the whole view */
	bool applying;           /* rebuilding from records: not a local change */
	bool local_change;       /* the state changed here: diff and publish */
	bool view_ready;         /* keys taken from the state at start */
	/* peer_presence.c */
	struct peer_node *nodes;
	uint64_t last_beat_ms;
	uint64_t presence_expire_ms;
	bool presence_snapshot_due;
	struct cJSON *presence_pending; /* {user: count} changed since the last tick */
};

bool peer_list_has(const struct peer_list *l, const char *s);

/* peer_state.c */
void peer_state_on_record(struct chat *c, const char *payload, size_t len);
void peer_state_tick(struct chat *c, uint64_t now);
void peer_state_free(struct chat_peer *p);

/* peer_presence.c */
void peer_presence_on_record(struct chat *c, const char *payload, size_t len, uint64_t now);
void peer_presence_tick(struct chat *c, uint64_t now);
void peer_presence_free(struct chat_peer *p);

#endif
