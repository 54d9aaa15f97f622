/* SPDX-License-Identifier: MIT */
/*
 * The plugin's one state struct and the entry points of its files. The
 * broker hands `struct chat *` back to every callback as userdata; nothing
 * lives in file-level globals.
 */
#ifndef CHAT_PLUGIN_CHAT_H
#define CHAT_PLUGIN_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Mosquitto 2.1 gathers its headers under <mosquitto.h> and warns on the
 * 2.0 names, which are all that 2.0.x has. */
#if __has_include(<mosquitto/broker.h>)
#include <mosquitto.h>
#else
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <mqtt_protocol.h>
#endif

#include "auth.h"
#include "envelope.h"
#include "id.h"
#include "messenger.h"
#include "live_shard.h"
#include "moderation.h"
#include "peer.h"
#include "rooms.h"
#include "sanctions.h"
#include "slowmode.h"
#include "strbuf.h"
#include "topic.h"

#define CHAT_LOG_PREFIX "chat: "

/* The rare work of a function asked on every message or tick (a sweep, a
 * rebuild, a save), kept out of line so that the common answer, "nothing
 * to do", is a compare and saves no registers. */
#define CHAT_OUT_OF_LINE __attribute__((noinline))

/* A comma-separated list of user ids from an option, sorted for bsearch. */
struct user_list {
	char **users;
	size_t count;
};

/* True when user (may be NULL) is on the list. */
bool user_list_has(const struct user_list *l, const char *user);

/* plugin_opt_other_topics: what the ACL says about topics that are not chat's. */
enum chat_other_topics {
	OTHER_DEFER = 0, /* MOSQ_ERR_PLUGIN_DEFER: acl_file, dynsec or the broker decide */
	OTHER_ALLOW,
	OTHER_DENY,
};

/* Why a chat publish was refused: the "reason" of the sender's inbox notice
 * and a $SYS counter each. Names in metrics.c (chat_reject_name). */
enum chat_reject {
	REJECT_INVALID_UTF8 = 0,
	REJECT_MALFORMED_JSON,
	REJECT_TOO_LARGE,
	REJECT_EMPTY,
	REJECT_MUTED,
	REJECT_NOT_MEMBER,
	REJECT_READ_ONLY,
	REJECT_NO_ROOM,
	REJECT_DM_NOT_ALLOWED,
	REJECT_RETAINED,
	REJECT_BANNED_WORDS,  /* moderation.c: a banned word in a reject room */
	REJECT_RATE_LIMITED,  /* flood.c: a token bucket ran dry */
	REJECT_REPEATED,      /* flood.c: the same message too often */
	REJECT_USER_PROPERTIES, /* message.c: MQTT 5 user properties from the client */
	REJECT_STORE_UNAVAILABLE, /* message.c: no bridge subscribed (storers.c) */
	REJECT_FROZEN,        /* message.c: the room, or every room, is frozen */
	REJECT_SLOW_MODE,     /* message.c: the room's slowMode interval has not passed */
	REJECT_NOT_FOUND,     /* edit.c: the message changed or pointed at is not there */
	REJECT_NOT_ALLOWED,   /* edit.c: someone else's message */
	REJECT_EDIT_WINDOW,   /* edit.c: older than plugin_opt_edit_window */
	REJECT_COUNT
};

/* Counters of the chat traffic (metrics.c), bumped on the hot paths as
 * plain integers: the broker runs every callback on one thread. */
struct chat_stats {
	uint64_t messages_accepted;            /* envelopes stamped and delivered */
	uint64_t messages_rejected[REJECT_COUNT];
	uint64_t denied_subscribe, denied_publish, denied_read;
	uint64_t dm_created;
	uint64_t words_masked, words_flagged; /* moderation.c: delivered masked or flagged */
	uint64_t auto_mutes;                  /* flood.c: automatic mutes */
	uint64_t last_sys_ms;                  /* last $SYS publication */
};

/* Options from plugin_opt_* in mosquitto.conf, parsed once at start. */
struct chat_config {
	char *node_id;        /* id generator node; NULL = host name */
	struct envelope_limits limits;
	struct user_list admins;        /* may use $CONTROL/chat/v1 */
	struct user_list service_users; /* the bridge: all chat traffic */
	struct chat_auth_config auth;   /* auth.h: plugin_opt_auth, password_file, jwt_*, presence */
	char *state_file;               /* NULL = state kept in memory only */
	unsigned state_save_ms;         /* least time between two state saves */
	enum chat_other_topics other_topics; /* topics outside chat/ and $CONTROL/chat/ */
	enum dm_policy dm_policy;       /* who may open a DM room: anyone, shared, nobody */
	unsigned sys_interval;          /* seconds between $SYS/broker/chat/ updates; 0 = off */
	bool require_store;             /* refuse chat messages while no bridge subscribes (storers.c) */
	char *spool_file;               /* spool.c; NULL = no spool */
	bool spool_file_set;            /* plugin_opt_spool_file given; else beside the state file */
	uint64_t spool_keep_ms;         /* age at which the current spool file rotates */
	size_t spool_max_bytes;         /* both spool files together, at most about */
	struct moderation_config mod;   /* moderation.h: banned words and flood options */
	struct messenger_config msgr;   /* messenger.h: edits, typing */
	struct live_config live;        /* live_shard.h: defaults of live rooms */
};

/* state.c: where the state file stands; see chat_state_*. */
struct chat_state {
	bool dirty;           /* changed since the last save */
	uint64_t last_save_ms;
	uint64_t last_sweep_ms;
	uint64_t last_tick_ms; /* 0 until the broker sends a tick */
	bool have_identity;   /* the fields below describe the file last written or read */
	unsigned long long dev, ino, size;
	long long mtime_ns;
	unsigned saves;       /* files written since start */
};

/* spool.c: the write-ahead copy of acknowledged chat messages. */
struct chat_spool {
	char *path, *old; /* <spool_file> and <spool_file>.old; NULL = no spool */
	int fd;           /* the current file, for appending; -1 = none */
	size_t bytes;     /* in the current file */
	uint64_t since_ms; /* when the current file was started */
	bool replay;      /* hand the spool to the first storer (storers.c) */
};

/* storers.c: client ids of the service sessions subscribed to every room's
 * messages. */
struct chat_storers {
	char **ids;
	size_t count, cap;
};

struct chat {
	mosquitto_plugin_id_t *pid;
	struct chat_config cfg;
	struct id_gen ids;
	struct strbuf out;    /* reused for every envelope */
	char *scratch;        /* decode buffer, max_payload + 1 bytes */
	struct rooms rooms;   /* rooms, members, policies */
	struct auth_state *auth;          /* auth.c: password table and JWT key */
	struct chat_sessions *sessions;   /* sessions.h: authenticated sessions, presence */
	struct sanctions sanctions; /* bans, mutes and freezes */
	struct slowmode slow;       /* last message per user in slow rooms */
	struct chat_state state;
	struct chat_stats stats;
	struct moderation *mod; /* moderation*.c: word lists and filters */
	struct flood *flood;    /* flood.c: buckets, repeats, offences */
	struct topic_memo topics; /* acl.c, message.c: the last topic classified */
	void (*prop_free)(void *); /* props.c: frees what a property reader copied out */
	struct chat_storers storers;
	struct chat_spool spool;
	struct chat_peer *peer; /* peer.h: scale-out; NULL on a single broker */
	struct messenger *messenger; /* messenger.h: recent messages, typing */
	struct chat_live *live; /* live.c: viewers, shards and batches of live rooms */
};

/* options.c: fills cfg from the broker's options; logs and returns a
 * MOSQ_ERR_* on a bad value. */
int chat_config_load(struct chat_config *cfg, struct mosquitto_opt *opts, int opt_count);
void chat_config_free(struct chat_config *cfg);

/* identity.c: broker-wide roles of a connected client. Never implied by a
 * room role. */
bool chat_is_admin(const struct chat *c, const struct mosquitto *client);
bool chat_is_service(const struct chat *c, const struct mosquitto *client);
bool chat_is_service_user(const struct chat *c, const char *user); /* the same, by username */

/* sessions.c: the session of client's login, or NULL (anonymous, a
 * login the plugin never saw, or after its DISCONNECT). When the broker
 * authenticates, a session carries no claims. Valid until the client's
 * DISCONNECT; do not keep it. */
const struct chat_session *chat_session_of(const struct chat *c, const struct mosquitto *client);
/* Number of live sessions of user (0 = offline). */
unsigned chat_user_sessions(const struct chat *c, const char *user);

/* presence.c: whether client may read chat/presence/{user} (user[0..len)),
 * after plugin_opt_presence: all = any authenticated client, rooms = the
 * user, those sharing a room with them and service users, none = service
 * users only. For the ACL. */
bool chat_presence_readable(const struct chat *c, const struct mosquitto *client, const char *user,
			    size_t len);

/* publish.c: messages from the plugin itself (QoS 1). Return MOSQ_ERR_*. */
int chat_publish(const char *topic, const char *payload, size_t len, bool retain);
/* A JSON notice on chat/users/{user}/inbox. */
int chat_notify_user(struct chat *c, const char *user, const char *json, size_t len);
/* A JSON event on chat/rooms/{room}/events. */
int chat_publish_event(struct chat *c, const char *room, const char *json, size_t len);
/* The retained [{"room","role"}] list on chat/users/{user}/rooms; call after
 * every change of the user's memberships. */
int chat_publish_rooms_list(struct chat *c, const char *user);

/* props.c: reading MQTT 5 properties on every broker version. Call
 * chat_props_init once before any other. */
void chat_props_init(struct chat *c);
/* True when list holds a user property (nothing is copied). */
bool chat_props_has_user_property(const mosquitto_property *list);
/* The string / binary property id of list as a malloc'd copy (free()), or
 * NULL when absent, empty (binary) or out of memory; *len gets the length. */
char *chat_props_string(const struct chat *c, const mosquitto_property *list, int id);
void *chat_props_binary(const struct chat *c, const mosquitto_property *list, int id, uint16_t *len);

/* storers.c: true when a chat message accepted now would reach a bridge
 * (or plugin_opt_require_store is off). The others follow the service
 * client's subscriptions (acl.c) and disconnects (auth.c; moving: a login
 * with the same client id resumes the session). */
bool chat_store_ready(const struct chat *c);
void chat_storers_subscribed(struct chat *c, const struct mosquitto *client, const char *filter);
void chat_storers_unsubscribed(struct chat *c, const struct mosquitto *client, const char *filter);
void chat_storers_disconnected(struct chat *c, const struct mosquitto *client, bool moving);
void chat_storers_free(struct chat *c);

/* spool.c: chat_spool_open at init (cfg.spool_file NULL = no spool),
 * chat_spool_close at cleanup. chat_spool_append writes one envelope
 * before the broker acknowledges it: 0, or a CHAT_ERR_* when it could not
 * (the message must then be refused). chat_spool_tick rotates the files;
 * chat_spool_replay hands what the spool holds to client_id, once after
 * start. */
int chat_spool_open(struct chat *c);
void chat_spool_close(struct chat *c);
int chat_spool_append(struct chat *c, const char *env, size_t len);
void chat_spool_tick(struct chat *c, uint64_t now);
void chat_spool_replay(struct chat *c, const char *client_id);

/* message.c: MOSQ_EVT_MESSAGE callback. */
int chat_on_message(int event, void *event_data, void *userdata);

/* sanctions.c: true when user is banned at now_ms (an expired ban is
 * reclaimed). */
bool chat_user_banned(struct chat *c, const char *user, uint64_t now_ms);
/* True when user may not send in room (NULL = anywhere) at now_ms: muted in
 * every room or in this one. *until_ms (may be NULL) gets when the mute
 * ends, 0 = until an admin lifts it. */
bool chat_user_muted(struct chat *c, const char *user, const char *room, uint64_t now_ms, uint64_t *until_ms);
/* True when room is frozen at now_ms, by its own freeze or one of every
 * room; *until_ms (may be NULL) gets when it thaws, 0 = until lifted. */
bool chat_room_frozen(struct chat *c, const char *room, uint64_t now_ms, uint64_t *until_ms);

/* state.c: the state file (rooms, members, policies, bans, mutes). Load at
 * init returns MOSQ_ERR_* and logs why; a corrupt file is an error. */
int chat_state_load(struct chat *c);
/* Marks the state changed; it is written on a later tick, in a batch. */
void chat_state_dirty(struct chat *c);
/* Writes the state now if it changed (cleanup). */
void chat_state_flush(struct chat *c);
/* The TICK work: spool rotation, sanction sweeps, the batched save. */
void chat_state_tick(struct chat *c, uint64_t now);
/* The RELOAD work: the state file again, when it changed on disk. */
void chat_state_reload(struct chat *c);

/* control.c: the MOSQ_EVT_CONTROL callback of the admin API's topic
 * (registered by plugin.c with that topic). */
#define CONTROL_TOPIC "$CONTROL/chat/v1"
int chat_on_control(int event, void *event_data, void *userdata);

/* acl.c: MOSQ_EVT_ACL_CHECK for subscribe, publish (write) and each
 * delivery (read); see topics.md for the rules. */
int chat_on_acl_check(int event, void *event_data, void *userdata);
/* True when user may open the DM room with peer under the DM policy. */
bool chat_dm_allowed(const struct chat *c, const char *user, size_t ulen, const char *peer, size_t plen);

/* dm.c: creates DM room (a DM id) with its two users as members when it
 * does not exist yet, republishes both rooms lists and marks the state
 * dirty. Returns MOSQ_ERR_*. */
int chat_dm_open(struct chat *c, const char *room, size_t len);

/* message.c: a JSON notice {"type":"error","reason",...} on the sender's
 * inbox and a rejected-message count. room and cid may be NULL; until_ms
 * 0 = not given. */
void chat_refuse_notice(struct chat *c, const char *user, enum chat_reject why, const char *room,
			size_t room_len, const char *cid, uint64_t until_ms);

/* metrics.c: the counters as one JSON object (getStats); appends to out,
 * returns 0 or CHAT_ERR_NOMEM. */
int chat_stats_json(struct chat *c, struct strbuf *out);
/* The reason's name in notices and $SYS ("not_member", ...). */
const char *chat_reject_name(enum chat_reject why);
/* The TICK work: publishes $SYS/broker/chat/... every sys_interval s. */
void chat_metrics_tick(struct chat *c, uint64_t now);

/* Milliseconds since the epoch, from CLOCK_REALTIME. */
uint64_t chat_now_ms(void);

#endif
