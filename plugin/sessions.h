/* SPDX-License-Identifier: MIT */
/*
 * The sessions the plugin saw log in, the presence they add up to, and
 * which user each client id belongs to.
 *
 * A session is created when MOSQ_EVT_BASIC_AUTH succeeds and removed on
 * MOSQ_EVT_DISCONNECT. Mosquitto 2.0.11 fires DISCONNECT for every client
 * that reaches its disconnect path, whatever the reason (own DISCONNECT,
 * lost connection, kick, the old connection of a client-id takeover, an
 * error after auth), and also for clients refused at CONNECT. So the table
 * is keyed by the client pointer and only sessions it knows are counted:
 * a refused client was never added, and nothing is removed twice.
 *
 * When the broker authenticates (plugin_opt_auth unset) the plugin still
 * registers BASIC_AUTH, records each login and defers it to the broker:
 * the table is then the logins the broker was asked about, one it refuses
 * removed by its DISCONNECT in the same loop turn. Either way the table
 * tells a will from a publish (acl.c): a will comes from a client with no
 * session, or from one that the login in progress (`connecting`) takes
 * over.
 *
 * A takeover (a new connection with a client id already connected) is seen
 * at BASIC_AUTH, before the broker closes the old connection: when the
 * plugin authenticates, the old session is retired there, so a user's
 * session count never shows the takeover as an extra device.
 *
 * Client ids (clientid.c) belong to users: a login with a client id that
 * another user's session holds, live or possibly waiting offline in the
 * broker, is refused; the ids are kept across restarts in the ledger.
 *
 * Presence (presence.c) is the per-user count of these sessions, published
 * retained on chat/presence/{user}; see topics.md.
 */
#ifndef CHAT_PLUGIN_SESSIONS_H
#define CHAT_PLUGIN_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <uthash.h>

#include "oatable.h"
#include "topic.h"

struct chat;
struct mosquitto;

/* One allocation per session: the two strings follow the struct (names). */
struct chat_session {
	const struct mosquitto *client; /* key of by_client; only compared, never used after DISCONNECT */
	char *client_id;                /* key of by_id; points into names */
	char *user;                     /* points into names */
	uint64_t expires_ms;            /* token expiry, unix ms; 0 = none */
	uint32_t id_hash;               /* of client_id, for by_id */
	uint32_t ref;                   /* its place in chat_sessions.list, + 1 */
	bool admin;                     /* the token's admin claim */
	char names[];                   /* client id, NUL, user, NUL */
};

struct client_owner;

/* One user the plugin has authenticated or read from the ledger: shown
 * online, recently published, or holding client ids; allocated with room
 * for the id after the struct. */
struct presence_user {
	UT_hash_handle hh;
	uint64_t since;        /* when online last changed, unix ms */
	uint64_t pub_tick;     /* tick count at the last publish */
	unsigned sessions;
	bool in_ledger;        /* written to the ledger file */
	unsigned id_count;     /* entries in ids */
	struct client_owner *ids; /* clientid.c: most recently used first */
	char user[];           /* NUL-terminated, at most TOPIC_ID_MAX bytes */
};

/* A client id a user logged in with in a way that can leave a session
 * behind in the broker (MQTT 5, or 3.1.1 without clean session); room for
 * the id after the struct. See topics.md, "Client ids". */
struct client_owner {
	UT_hash_handle hh;                /* chat_sessions.owners, by id */
	struct client_owner *prev, *next; /* the user's ids, most recent first */
	struct presence_user *user;
	char id[];
};

/* Client ids remembered per user; a user's older ids are forgotten. */
#define CLIENTID_PER_USER 32

struct chat_sessions {
	/* Every session, in no particular order: a removal moves the last
	 * one into the hole. count is the metrics' session count. */
	struct chat_session **list;
	size_t count, cap;
	/* Two indexes of list places + 1 (oatable.h, 4 bytes a slot instead
	 * of a 56-byte hash handle a session): by client pointer (DISCONNECT,
	 * the ACL's questions) and by client id (takeovers). */
	struct oatable by_client, by_id;
	/* The session found last: the write check of every publish asks for
	 * its client's, mostly the same one (sessions.c find_client). */
	struct chat_session *last_found;
	uint64_t next_expiry_ms; /* earliest expires_ms, 0 = none */
	/* The client of the BASIC_AUTH last seen, until the next DISCONNECT or
	 * TICK: a takeover sends the old connection's will during this login. */
	const struct mosquitto *connecting;
	/* presence and client ids */
	struct presence_user *users;
	struct client_owner *owners; /* by id */
	uint64_t ticks;          /* MOSQ_EVT_TICK count */
	char *ledger_path;       /* NULL = no ledger */
	int ledger_fd;           /* append-only, -1 when closed */
	size_t ledger_lines;     /* lines in the file, for compaction */
};

/* Allocates the table; NULL on out of memory. */
struct chat_sessions *sessions_new(void);
/* Frees every session, presence entry and remembered id; NULL ok. */
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
/* The user of a live session with client id id, or NULL. */
const char *sessions_id_user(const struct chat_sessions *s, const char *id);
/* True when the login in progress (connecting) has client's client id:
 * client is being taken over, and a write check for it is its will. */
bool sessions_taken_over(const struct chat_sessions *s, const struct mosquitto *client);

/* clientid.c: which user a client id belongs to. */
/* The user that id belongs to when that is not user (NULL: anonymous):
 * the user of a live session with that id, else the remembered one.
 * NULL when user may connect with id. */
const char *clientid_taken(const struct chat *c, const char *id, const char *user);
/* Remembers that user logged in with client's id, when that login can
 * leave a session behind, and appends it to the ledger when new. Returns
 * MOSQ_ERR_SUCCESS or MOSQ_ERR_NOMEM. */
int clientid_claim(struct chat *c, const struct mosquitto *client, const char *user);
/* Ledger replay: user holds id[0..len) (no NUL); a later line wins. */
int clientid_restore(struct chat *c, const char *user, const char *id, size_t len);
/* Writes a ledger line per remembered id; false on a write error. */
bool clientid_write(const struct chat_sessions *s, FILE *f);

/* presence.c */
/* Opens the ledger (path NULL = none) and publishes offline for every user
 * in it (those a previous run may have left shown online). */
int presence_start(struct chat *c, const char *ledger_path);
/* Called with every change of user's session count (delta +1 / -1). */
void presence_update(struct chat *c, const char *user, int delta);
/* Rewrites the ledger with the users the broker may still hold as online
 * and the remembered client ids. */
void presence_stop(struct chat *c);
/* The user's entry, created when missing; NULL on out of memory. */
struct presence_user *presence_user_get(struct chat_sessions *s, const char *user);
/* Appends line[0..len) (ending in a newline) to the ledger, compacting
 * the file when it has grown well past what it holds. */
void presence_ledger_append(struct chat_sessions *s, const char *line, size_t len);

#endif
