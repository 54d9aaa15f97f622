/* SPDX-License-Identifier: MIT */
/*
 * The sessions the plugin authenticated, and the presence they add up to.
 *
 * A session is created when MOSQ_EVT_BASIC_AUTH succeeds and removed on
 * MOSQ_EVT_DISCONNECT. Mosquitto 2.0.11 fires DISCONNECT for every client
 * that reaches its disconnect path, whatever the reason (own DISCONNECT,
 * lost connection, kick, the old connection of a client-id takeover, an
 * error after auth), and also for clients refused at CONNECT. So the table
 * is keyed by the client pointer and only sessions it knows are counted:
 * a refused client was never added, and nothing is removed twice.
 *
 * A takeover (a new connection with a client id already connected) is seen
 * at BASIC_AUTH, before the broker closes the old connection: the old
 * session is retired there, so a user's session count never shows the
 * takeover as an extra device.
 *
 * Presence (presence.c) is the per-user count of these sessions, published
 * retained on chat/presence/{user}; see topics.md.
 */
#ifndef CHAT_PLUGIN_SESSIONS_H
#define CHAT_PLUGIN_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "topic.h"

struct chat;
struct mosquitto;

/* One allocation per session: the two strings follow the struct (names). */
struct chat_session {
	const struct mosquitto *client; /* key of hh; only compared, never used after DISCONNECT */
	char *client_id;                /* key of the id index; points into names */
	char *user;                     /* points into names */
	uint64_t expires_ms;            /* token expiry, unix ms; 0 = none */
	uint32_t id_hash;               /* of client_id, for the id index */
	bool admin;                     /* the token's admin claim */
	UT_hash_handle hh;
	char names[];                   /* client id, NUL, user, NUL */
};

/* One user shown online, or recently published (the ledger keeps it);
 * allocated with room for the id after the struct. */
struct presence_user {
	UT_hash_handle hh;
	uint64_t since;        /* when online last changed, unix ms */
	uint64_t pub_tick;     /* tick count at the last publish */
	unsigned sessions;
	bool in_ledger;        /* written to the ledger file */
	char user[];           /* NUL-terminated, at most TOPIC_ID_MAX bytes */
};

struct chat_sessions {
	struct chat_session *by_client;
	/* By client id: open addressing, linear probing, at most half full
	 * (8 bytes a slot instead of a second 56-byte handle per session). */
	struct chat_session **by_id;
	size_t id_slots, id_count; /* id_slots a power of two, or 0 */
	uint64_t next_expiry_ms; /* earliest expires_ms, 0 = none */
	/* presence */
	struct presence_user *users;
	uint64_t ticks;          /* MOSQ_EVT_TICK count */
	char *ledger_path;       /* NULL = no ledger */
	int ledger_fd;           /* append-only, -1 when closed */
};

/* Allocates the table; NULL on out of memory. */
struct chat_sessions *sessions_new(void);
/* Frees every session and presence entry; NULL ok. */
void sessions_free(struct chat_sessions *s);

/*
 * Records a session of user for client (authenticated just now) and
 * updates presence. A session with the same client id (a takeover) is
 * retired first. Returns MOSQ_ERR_SUCCESS or MOSQ_ERR_NOMEM.
 */
int sessions_add(struct chat *c, const struct mosquitto *client, const char *user, bool admin,
		 uint64_t expires_ms);
/* Removes client's session if there is one, updating presence. */
void sessions_remove(struct chat *c, const struct mosquitto *client);
/* Kicks the sessions whose token expired at now_ms (call on a tick). */
void sessions_expire(struct chat *c, uint64_t now_ms);

/* presence.c */
/* Opens the ledger (path NULL = none) and publishes offline for every user
 * in it (those a previous run may have left shown online). */
int presence_start(struct chat *c, const char *ledger_path);
/* Called with every change of user's session count (delta +1 / -1). */
void presence_update(struct chat *c, const char *user, int delta);
/* Rewrites the ledger with the users the broker may still hold as online. */
void presence_stop(struct chat *c);

#endif
