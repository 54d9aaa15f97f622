/* SPDX-License-Identifier: MIT */
/*
 * A synchronous MQTT test client on libmosquitto (its own network thread):
 * connect as a user with MQTT 3.1.1 or 5, subscribe, publish and wait for
 * the acknowledgement's reason code, and wait for messages on a topic. All
 * waits have deadlines, so a test fails instead of hanging.
 */
#ifndef CHAT_TEST_CLIENT_H
#define CHAT_TEST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <mosquitto.h>

struct harness;

struct tc_msg {
	char *topic;
	char *payload;        /* NUL-terminated copy */
	int payloadlen;
	int qos;
	bool retain;
	char *response_topic; /* v5 property, or NULL */
	char *correlation;    /* v5 property (NUL-terminated copy), or NULL */
	int correlation_len;
	struct tc_msg *next;
};

struct tc;

#define TC_V311 4
#define TC_V5 5
#define TC_WAIT_MS 5000

/*
 * Connects client_id as user (password "<user>-pw" unless password is
 * given; user NULL = anonymous) with protocol TC_V311 or TC_V5. Returns the
 * client, or NULL when the broker refused or could not be reached;
 * *connack gets the CONNACK reason code (0 = accepted; -1 = no CONNACK)
 * when not NULL.
 */
struct tc *tc_connect(struct harness *h, const char *client_id, const char *user, const char *password,
		      int protocol, int *connack);
/* Like tc_connect but fails the test when refused. */
struct tc *tc_open(struct harness *h, const char *client_id, const char *user, int protocol);
/* tc_open with a will: will_payload on will_topic (QoS 1, not retained),
 * which the broker sends when the connection ends without a DISCONNECT or
 * is taken over. */
struct tc *tc_open_will(struct harness *h, const char *client_id, const char *user, int protocol,
			const char *will_topic, const char *will_payload);
/* Disconnects and frees; NULL ok. */
void tc_close(struct tc *c);

/* Subscribes and waits for SUBACK; returns the granted QoS or the v5
 * reason code (>= 0x80 when refused). */
int tc_subscribe(struct tc *c, const char *filter, int qos);
/* Unsubscribes and waits for UNSUBACK; false when none came. */
bool tc_unsubscribe(struct tc *c, const char *filter);
/* Publishes and, for QoS 1, waits for PUBACK; returns the v5 reason code
 * (0 for QoS 0 once sent), or -1 when the client was disconnected. props
 * is consumed by libmosquitto's copy; the caller frees it. */
int tc_publish(struct tc *c, const char *topic, const char *payload, int len, int qos, bool retain,
	       const mosquitto_property *props);
/* Same with a NUL-terminated payload. */
int tc_pub(struct tc *c, const char *topic, const char *payload, int qos);

/* Waits for the next message on topic (NULL = any); removes and returns
 * it, or NULL after timeout_ms. Free with tc_msg_free(). */
struct tc_msg *tc_wait(struct tc *c, const char *topic, int timeout_ms);
/* True if no message on topic (NULL = any) arrives within ms. */
bool tc_quiet(struct tc *c, const char *topic, int ms);
void tc_msg_free(struct tc_msg *m);

/* True when the broker closed the connection within timeout_ms; *reason
 * gets the disconnect reason when not NULL. */
bool tc_wait_disconnect(struct tc *c, int timeout_ms, int *reason);
bool tc_connected(struct tc *c);

#endif
