/* SPDX-License-Identifier: MIT */
/*
 * chat-bridge's one state struct, its configuration and the entry points of
 * its files. main.c owns `struct bridge` and passes it explicitly.
 *
 * Threads: the main thread runs the MQTT loop (mqtt.c) and appends what
 * arrives to the journal; the store thread (store.c) owns the MongoDB
 * client, writes journal batches, answers history requests and trims the
 * journal; libmicrohttpd runs the metrics endpoint on its own thread.
 * They share only the journal (its own mutex), the metrics (atomics) and
 * libmosquitto's publish call (thread-safe in threaded mode).
 */
#ifndef CHAT_BRIDGE_H
#define CHAT_BRIDGE_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mongoc/mongoc.h>
#include <mosquitto.h>

#include "journal.h"
#include "metrics.h"
#include "push.h"
#include "strbuf.h"

#define BRIDGE_VERSION "0.2.0"

struct bridge_config {
	char *mqtt_host;
	int mqtt_port;
	char *mqtt_brokers;         /* "host:port,host:port": several brokers (scale-out); NULL = mqtt_host:mqtt_port */
	char *mqtt_username;
	char *mqtt_password;
	char *mqtt_client_id;
	int mqtt_keepalive;         /* seconds */
	int mqtt_session_expiry;    /* seconds the broker keeps our session */
	int mqtt_receive_maximum;   /* QoS 1 messages in flight to us (v5 Receive Maximum) */
	char *mqtt_share_group;     /* $share/<group>/... */
	char *mongo_uri;
	char *mongo_database;
	char *journal_dir;
	long long journal_max_bytes;
	int batch_size;             /* messages per insert_many */
	int drain_timeout_ms;       /* SIGTERM: how long to keep flushing */
	int history_limit_default;
	int history_limit_max;
	char *metrics_listen;       /* host:port, "" = off */
	struct push_settings push;  /* push_*, webhook_*, unifiedpush_*, fcm_*, apns_* (push.c) */
};

/* mqtt.c: one connection to one broker. */
#define BRIDGE_MAX_BROKERS 16
struct mqtt_conn {
	struct bridge *b;
	struct mosquitto *mosq;
	char host[256];
	int port;
	int rc;               /* the last loop's result; not MOSQ_ERR_SUCCESS = reconnect */
	bool up;              /* CONNACK accepted, no disconnect since */
	bool started;         /* a connect went out once: reconnect from now on */
	int retry_ms;
	long long retry_at_ms; /* next attempt; 0 = none scheduled */
};

struct bridge {
	struct bridge_config cfg;
	struct mqtt_conn conns[BRIDGE_MAX_BROKERS];
	size_t nconns;
	int mqtt_wake_fd;             /* eventfd: a reply is queued, write it now */
	unsigned long mqtt_arrivals;  /* PUBLISH packets handled (MQTT thread only) */
	struct journal journal;
	struct bridge_metrics metrics;
	volatile sig_atomic_t stop;   /* set by SIGTERM/SIGINT */

	/* store thread (store.c); only it touches these */
	pthread_t store_thread;
	bool store_running;
	mongoc_client_t *mongo;
	mongoc_collection_t *messages;
	mongoc_collection_t *reads;
	bool indexes_ok;
	_Atomic long long drain_deadline_ms; /* set when stopping; 0 = not stopping */
	/* Called by the store thread once per message MongoDB has just stored
	 * for the first time (not for duplicates), with the envelope JSON:
	 * the work that must follow persistence. Set by main.c (push). */
	void (*on_stored)(struct bridge *b, const char *json, size_t len);

	/* push notifications (push*.c) keep their state below */
	struct push *push;            /* the push thread; NULL when not running */
};

/* log.c: leveled logging to stderr. */
enum blog_level { BLOG_ERR, BLOG_WARN, BLOG_INFO, BLOG_DEBUG };
void blog_set_level(enum blog_level level);
void blog(enum blog_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Aborts on out-of-memory: the one allocation policy of the bridge. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Milliseconds on a monotonic clock, and since the Unix epoch. */
long long bridge_now_ms(void);
long long bridge_wall_ms(void);

/* config.c: defaults, file, then environment overrides (CHAT_BRIDGE_<KEY>).
 * Returns 0, or -1 after printing file:line and the reason. */
int config_load(struct bridge_config *cfg, const char *path);
void config_free(struct bridge_config *cfg);

/* store.c: the store thread and everything MongoDB. */
/* Starts the store thread (connects lazily, retries with backoff). 0/-1. */
int store_start(struct bridge *b);
/* Lets the thread drain the journal until it is empty or
 * cfg.drain_timeout_ms passed, then joins it. */
void store_stop(struct bridge *b);
/*
 * Unread messages of user in room: messages after the user's read marker
 * that others sent, counted up to cap. Returns the count, or -1 on a
 * MongoDB error. Blocks on MongoDB: call it from the store thread only
 * (b->on_stored runs there).
 */
long store_unread_count(struct bridge *b, const char *room, const char *user, long cap);

/* change.c: edits, deletes and reactions (envelopes that change a stored
 * message). change_is: true when the envelope is one (any thread).
 * change_apply: applies it (store thread); 0, or -1 on a MongoDB error
 * (retry). A malformed one is dropped and counted, returning 0. */
bool change_is(const char *json, size_t len);
int change_apply(struct bridge *b, const char *json, size_t len);
/* The "reply" of a message document about to be stored: removed when it
 * names no stored, undeleted message of the room (a reply the plugin could
 * not check: one to a message older than its record), unless one of the
 * messages batch[0..n) stored with it is that message. Store thread. */
void change_check_reply(struct bridge *b, bson_t *doc, const bson_t *batch, size_t n);

/* history.c: requests on chat/rooms/{room}/history. */
struct history_req;
/* Parses a request (network thread) into a new history_req queued on the
 * journal; drops and logs one without a `from` user property. */
void history_on_request(struct bridge *b, const char *room, size_t room_len, const struct mosquitto_message *msg,
			const mosquitto_property *props);
/* Answers a request from MongoDB (store thread). 0, or -1 on a MongoDB
 * error (retry later). */
int history_answer(struct bridge *b, struct history_req *req);
/* Writes a stored message document as its envelope (with the messenger
 * state: edited, deleted, reply, reactions) into sb. False when the
 * document lacks a required field. */
bool history_envelope_write(struct strbuf *sb, const bson_t *doc);
void history_req_free(void *req);

/* chatlist.c: requests on chat/users/{user}/chats (the chat list, muting
 * a room). chats_on_request parses one (MQTT thread) into a job queued on
 * the journal; chats_answer runs it (store thread): 0, or -1 on a MongoDB
 * error (retry). chats_read_moved tells the user's other sessions their
 * new unread count in room after a read marker moved (store thread). */
struct chats_req;
void chats_on_request(struct bridge *b, const char *user, size_t user_len, const struct mosquitto_message *msg,
		      const mosquitto_property *props);
int chats_answer(struct bridge *b, struct chats_req *req);
void chats_req_free(void *req);
void chats_read_moved(struct bridge *b, const char *user, const char *room, const char *upto);

/* msgstate.c: the messenger state of a stored message document into e
 * (reply, mentions, edited, deleted, reactions); the JSON of its mentions
 * and reaction counts is written into mentions and reactions, which must
 * outlive e's use. */
struct envelope;
void msgstate_fields(const bson_t *doc, struct envelope *e, struct strbuf *reactions, struct strbuf *mentions);
/* An envelope's "mentions" (the plugin's array of user ids) appended to a
 * message document being built; false when it cannot be read. */
struct json_span;
bool msgstate_append_mentions(bson_t *doc, const struct json_span *arr);

/* search.c: "q" of a search request: 1 to SEARCH_QUERY_MAX bytes without
 * control characters (search_query_ok); search_filter appends to filter
 * what finds it in a room's messages. */
#define SEARCH_QUERY_MAX 128
bool search_query_ok(const char *q);
void search_filter(bson_t *filter, const char *q);

/* reads.c: appends ,"reads":[...] (every member's read marker of room) to
 * sb. 0, or -1 on a MongoDB error. Store thread. */
int reads_write(struct bridge *b, const char *room, struct strbuf *sb);

/* mqtt.c: the client (mqtt_init), the loop until b->stop (mqtt_run: it
 * disconnects before returning) and mosquitto_destroy (mqtt_close, after
 * the store thread has stopped publishing). */
int mqtt_init(struct bridge *b);
int mqtt_run(struct bridge *b);
void mqtt_close(struct bridge *b);
/* Publishes a reply (any thread). props may be NULL. 0 or a MOSQ_ERR_*. */
int mqtt_reply(struct bridge *b, const char *topic, const char *payload, size_t len, const mosquitto_property *props);

/* request.c: what the bridge reads from a request, one set of rules for
 * all. */
struct json_span;
/* The requester: the single v5 user property `from` (set by the plugin), a
 * valid user id, copied into out. False, after a log line naming msg's
 * topic, when it is absent, repeated or invalid: drop the request. */
bool request_sender(const struct mosquitto_message *msg, const mosquitto_property *props, char *out,
		    size_t cap);
/* Where to answer user's request: its v5 Response Topic when that lies in
 * user's own chat/users/{user}/ tree (not a wildcard), else the inbox. A
 * malloc'd topic (free()). */
char *request_reply_topic(const char *user, const mosquitto_property *props);
/* A JSON string value as a C string into out (capacity cap): its length,
 * or -1 (out emptied) when it is not a string, does not fit, or holds
 * U+0000 (which would cut it short). */
long request_string(const struct json_span *v, char *out, size_t cap);

#endif
