/* SPDX-License-Identifier: MIT */
/*
 * The push thread's private state and the seams between its files:
 * push.c (thread, event queue, settings, metrics), push_index.c (presence
 * and membership), push_notify.c (recipients, coalescing, unread counts),
 * devices.c (registration), push_outbox.c (the durable outbox in MongoDB),
 * push_http.c (the curl multi handle), push_snapshot.c (retained state at
 * start), ssrf.c (endpoint checks),
 * push_crypto.c (HMAC and JWT) and one file per provider. Everything here
 * is touched by the push thread only, except the queue (its mutex) and the
 * counters (atomics).
 */
#ifndef CHAT_BRIDGE_PUSH_INT_H
#define CHAT_BRIDGE_PUSH_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>
#include <mongoc/mongoc.h>
#include <openssl/evp.h>
#include <uthash.h>

#include "pushutil.h"
#include "strbuf.h"
#include "topic.h"

struct bridge;

enum push_platform { PUSH_WEBHOOK, PUSH_UNIFIEDPUSH, PUSH_FCM, PUSH_APNS, PUSH_PLATFORMS };

enum push_outcome {
	PUSH_OK,      /* delivered (2xx) */
	PUSH_RETRY,   /* provider down or busy: back off and retry */
	PUSH_DEAD,    /* the provider says the token is gone: remove the device */
	PUSH_FAILED,  /* refused for good (4xx): dead-letter now */
	PUSH_BLOCKED, /* the SSRF guard refused the address */
	PUSH_OUTCOMES,
};

struct push_cfg {
	bool preview, allow_private, allow_http;
	long coalesce_ms, max_attempts, retry_base_ms, retry_max_ms, timeout_ms, up_ttl;
	char *title; /* NULL = "{from} in {room}" */
	char *webhook_url, *webhook_secret;
	char *fcm_file, *fcm_base_url, *fcm_token_url, *fcm_project, *fcm_email, *fcm_key_id;
	char *apns_key_file, *apns_base_url, *apns_key_id, *apns_team_id, *apns_topic;
};

/* What a notification says; the same for every device of a user. */
struct push_note {
	char *user, *room, *from, *title, *text, *msg_id;
	long count, unread; /* new in this burst; unread in the room */
	bool mentioned;     /* a message of the burst mentions the user: sent even when muted */
	int64_t ts;
};

struct push_job {
	/* A provider's own request (FCM's OAuth token): called when the
	 * transfer ends, instead of judging it as a notification; it owns and
	 * frees j then. NULL for a notification. */
	void (*done)(struct push *p, struct push_job *j, CURLcode rc, long status);
	bson_oid_t oid; /* its push_outbox document */
	enum push_platform platform;
	char *device, *token, *endpoint;
	struct push_note note;
	int attempts; /* before this one */
	bool stored;  /* has a push_outbox document (j->oid) */
	bool guarded; /* user-supplied URL: SSRF guard on */
	bool blocked; /* the guard refused an address */
	enum netaddr_class blocked_class;
	CURL *easy;
	struct curl_slist *headers;
	char *url;
	struct strbuf body, resp;
	char error[CURL_ERROR_SIZE];
	struct push_job *next;              /* waiting for an FCM token or a slot */
	struct push_job *fl_prev, *fl_next; /* in flight */
	struct push *p;
};

struct push_provider {
	const char *name;
	bool needs_token, needs_endpoint, endpoint_optional;
	/* Fills j->url, j->headers and j->body. PREP_READY, PREP_WAIT (parked
	 * by the provider until it can send, e.g. an OAuth token arrives), or
	 * PREP_FAIL (j->error says why). */
	int (*prepare)(struct push *p, struct push_job *j);
	/* Maps the HTTP status and j->resp to an outcome. */
	enum push_outcome (*result)(struct push *p, struct push_job *j, long status);
	/* The rest may be NULL: a provider with no key or state of its own. */
	const char *setting; /* the setting that configures it, named in load errors */
	/* Loads and checks its key when p->cfg configures it (0 when not);
	 * -1 with why. */
	int (*load)(struct push *p, char *why, size_t whylen);
	/* True when loaded: devices of this platform may register; else they
	 * are refused with not_ready. */
	bool (*ready)(const struct push *p);
	const char *not_ready;
	/* At shutdown: hands the jobs it parked back (push_outbox_release). */
	void (*release)(struct push *p);
	void (*free)(struct push *p);
};
enum { PREP_READY, PREP_WAIT, PREP_FAIL };

#define PUSH_HOST_MAX 253

/* An http(s) URL as libcurl reads it (ssrf_url_parse). */
struct push_url {
	bool https;
	char host[PUSH_HOST_MAX + 1]; /* decoded, IPv4 normalised, lower case, no brackets */
	long port;                    /* explicit or the scheme's default */
};

extern const struct push_provider push_webhook_provider, push_unifiedpush_provider, push_fcm_provider,
    push_apns_provider;

struct push_event {
	enum push_event_kind { EV_STORED, EV_PRESENCE, EV_ROOMS, EV_DEVICES } kind;
	char *topic, *from; /* from: the requester (request_sender), EV_DEVICES */
	char *data;
	size_t len;
	struct push_event *next;
};

/* Index: user -> online and rooms; room -> members. */
struct push_member {
	char user[TOPIC_ID_MAX + 1];
	UT_hash_handle hh;
};
struct push_room {
	char name[TOPIC_ROOM_MAX + 1];
	struct push_member *members;
	UT_hash_handle hh;
};
struct push_user {
	char name[TOPIC_ID_MAX + 1];
	bool online;
	char **rooms;
	size_t nrooms;
	UT_hash_handle hh;
};

/* A coalescing bucket: new messages for one (user, room) in one window. */
struct push_bucket {
	char key[TOPIC_ID_MAX + 1 + TOPIC_ROOM_MAX + 1]; /* user \x1f room */
	struct push_note note;
	long long due_ms;
	int flush_tries;
	UT_hash_handle hh;
};

/* The unread count of one (user, room), kept from the message stream once
 * MongoDB has counted it (push_notify.c). */
struct push_unread {
	char key[TOPIC_ID_MAX + 1 + TOPIC_ROOM_MAX + 1]; /* user \x1f room */
	char upto[64];                                   /* the read marker it counts from */
	char last[64];                                   /* the newest message counted */
	long n;
	UT_hash_handle hh;
};

/* The devices of one user as MongoDB had them at loaded_ms
 * (push_notify.c); forgotten when this bridge changes them. */
struct push_devices {
	char user[TOPIC_ID_MAX + 1];
	bson_t **docs;
	size_t n, cap;
	long long loaded_ms;
	UT_hash_handle hh;
};

/* Provider state, defined and owned by push_fcm.c and push_apns.c; NULL
 * when the provider is not configured. */
struct push_fcm_state;
struct push_apns_state;

struct push {
	struct bridge *b;
	struct push_cfg cfg;
	pthread_t thread;
	bool running;
	atomic_bool stop;

	pthread_mutex_t lock; /* guards the queue */
	struct push_event *head, *tail;
	size_t queued;

	mongoc_client_t *mongo;
	mongoc_collection_t *devices, *outbox, *dead, *messages, *reads;
	bool indexes_ok;
	char *owner; /* this bridge's client id, in claimed outbox docs */

	CURLM *multi;
	int inflight;
	struct push_job *flying;
	struct push_job *pending, *pending_tail; /* waiting for a transfer slot */
	size_t npending;
	bson_oid_t *done; /* finished jobs whose outbox documents go */
	size_t ndone, done_cap;
	struct push_user *users;
	struct push_room *rooms;
	struct push_bucket *buckets;
	struct push_unread *unread;
	struct push_devices *devcache;
	size_t nunread;
	long long next_scan_ms;
	struct push_url trusted[4]; /* hosts of operator URLs */
	size_t ntrusted;

	struct push_fcm_state *fcm;
	struct push_apns_state *apns;
};

/* push.c */
void push_note_free(struct push_note *n);
const char *push_platform_name(enum push_platform pf);
int push_platform_parse(const char *s, enum push_platform *out);
const struct push_provider *push_provider_of(enum push_platform pf);

/* push_snapshot.c: retained presence and rooms lists at start. */
void push_snapshot(struct push *p);

/* push_index.c */
void push_index_presence(struct push *p, const char *user, const char *json, size_t len);
void push_index_rooms(struct push *p, const char *user, const char *json, size_t len);
bool push_index_online(struct push *p, const char *user);
/* Calls fn for each member of room (DM rooms: its two users when unknown). */
void push_index_members(struct push *p, const char *room, void (*fn)(struct push *, const char *, void *),
                        void *ud);
void push_index_free(struct push *p);

/* push_notify.c */
void push_notify_stored(struct push *p, const char *json, size_t len);
/* Flushes buckets that are due (all when force); returns ms until the
 * next one is due (or max_wait). */
long push_notify_flush(struct push *p, bool force, long max_wait);
void push_notify_free(struct push *p);
/* Drops the cached devices of user (registered, unregistered, removed). */
void push_notify_forget_devices(struct push *p, const char *user);

/* devices.c */
void devices_on_message(struct push *p, const char *topic, const char *from, const char *json,
                        size_t len);
void devices_remove(struct push *p, const char *user, const char *device);

/* push_outbox.c */
int push_outbox_indexes(struct push *p);
/* Deletes the outbox documents of jobs finished since the last call, in
 * one delete_many. */
void push_outbox_flush_deletes(struct push *p);
/* Claims up to max due jobs and starts them. */
void push_outbox_scan(struct push *p, int max);
/* Records the outcome: delete, reschedule or dead-letter. */
void push_outbox_done(struct push *p, struct push_job *j, enum push_outcome o, long status);
/* Deletes what waits in the outbox for one device (unregistered). A
 * retry is also dropped when it comes due and its device is gone. */
void push_outbox_forget_device(struct push *p, const char *user, const char *device);
/* At shutdown: makes a job that this bridge claimed due now, or writes a
 * job that has no outbox document yet, due now. */
void push_outbox_release(struct push *p, struct push_job *j);

/* push_http.c */
int push_http_init(struct push *p);
void push_http_cleanup(struct push *p);
/* Starts a job when a transfer slot is free, else queues it; parks it for
 * an OAuth token; on failure finishes it. */
void push_send(struct push *p, struct push_job *j);
/* Drives transfers and finishes completed ones. */
void push_http_run(struct push *p);
/* Finishes a job: outbox, counters, free. */
void push_job_finish(struct push *p, struct push_job *j, enum push_outcome o, long status);
void push_job_free(struct push_job *j);
/* Adds a provider's own request (j->done set) to the multi handle. */
int push_http_add_raw(struct push *p, struct push_job *j);

/* ssrf.c */
/* Reads url with libcurl's parser (http or https, a port 1..65535, no
 * credentials, an ASCII host) into out: NULL, or why not ("is not an ..."),
 * static text. */
const char *ssrf_url_parse(const char *url, struct push_url *out);
/* Registration-time check of a user-supplied URL: 0 or -1 with why. */
int ssrf_check_url(struct push *p, const char *url, char *why, size_t whylen);
/* Arms the send-time guard on a transfer. */
void ssrf_guard(struct push *p, struct push_job *j);

/* push_crypto.c */
/* "sha256=<hex>" of HMAC-SHA256(key, data) into out (cap >= 72). */
void push_hmac_signature(const char *key, const char *data, size_t len, char *out, size_t cap);
/* Loads a PEM private key from a file or from memory. NULL on error. */
EVP_PKEY *push_key_load_file(const char *path, char *why, size_t whylen);
EVP_PKEY *push_key_load_pem(const char *pem, char *why, size_t whylen);
/* header.claims.signature with RS256 or ES256 (by key type) into out. */
int push_jwt_sign(EVP_PKEY *key, const char *header_json, const char *claims_json, struct strbuf *out);

/* push_webhook.c: shared by the providers. */
/* The provider-neutral notification JSON. */
void push_note_json(const struct push_note *n, struct strbuf *sb);
/* 2xx ok, 404/410 dead, 408/425/429/5xx retry, other failed. */
enum push_outcome push_status_outcome(long status);
/* Appends a header line "name: value" to j->headers. */
void push_header(struct push_job *j, const char *name, const char *value);


#endif
