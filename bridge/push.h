/* SPDX-License-Identifier: MIT */
/*
 * Push notifications, as the rest of the bridge sees them. A push thread
 * of its own owns everything push: the index of who is online and who is
 * in which room (from the retained chat/presence/+ and chat/users/+/rooms),
 * device registrations (chat/users/+/devices), coalescing, the durable
 * outbox in MongoDB and the HTTP requests (one libcurl multi handle). The
 * MQTT network thread and the store thread only hand it copies of what
 * they received through the calls below, so neither ever waits on a push
 * provider or on the push thread's MongoDB queries.
 */
#ifndef CHAT_BRIDGE_PUSH_H
#define CHAT_BRIDGE_PUSH_H

#include <stdbool.h>
#include <stddef.h>

#include <mosquitto.h>

struct bridge;
struct strbuf;

/* The push keys of the configuration file, as text (NULL = default);
 * push_start() parses and checks them. config.c frees them. */
struct push_settings {
	char *preview, *coalesce_ms, *allow_private, *allow_http;
	char *max_attempts, *retry_base_ms, *retry_max_ms, *timeout_ms, *title;
	char *webhook_url, *webhook_secret;
	char *unifiedpush_ttl;
	char *fcm_service_account, *fcm_project, *fcm_base_url, *fcm_token_url;
	char *apns_key_file, *apns_key_id, *apns_team_id, *apns_topic, *apns_base_url;
};

/* Checks one push setting's value as it is read (key and value
 * NUL-terminated; other keys pass): 0, or -1 with the reason in why. */
int push_check_setting(const char *key, const char *value, char *why, size_t whylen);
/* Checks the push settings together (also for --check-config): 0, or -1
 * with the reason in why and the setting it is about in *key (static
 * text). Reads the FCM and APNs key files. */
int push_check_settings(const struct push_settings *s, char *why, size_t whylen, const char **key);

/* Parses the settings, opens the push thread's MongoDB client and starts
 * the thread; b->push is set. 0, or -1 after logging. */
int push_start(struct bridge *b);
/* Flushes pending coalesced notifications into the outbox, gives requests
 * in flight a moment to finish and joins the thread. NULL-safe. */
void push_stop(struct bridge *b);

/* Network thread (mqtt.c routes chat/presence/+ and chat/users/+/rooms,
 * not shared, and chat/users/+/devices, shared, here): queues presence,
 * rooms-list and device messages for the push thread and returns true;
 * false for anything else. */
bool push_on_mqtt(struct bridge *b, const struct mosquitto_message *msg, const mosquitto_property *props);
/* Store thread: an envelope MongoDB has just stored for the first time. */
void push_on_stored(struct bridge *b, const char *json, size_t len);

/* Appends the push counters (b->metrics.push*) in Prometheus text format. */
void push_metrics_write(struct bridge *b, struct strbuf *out);

#endif
