/* SPDX-License-Identifier: MIT */
/*
 * The bridge's MQTT side: one MQTT v5 client in a shared subscription to
 * every room's messages, so several bridges split the stream.
 */
#include <string.h>

#include <mqtt_protocol.h>

#include "bridge.h"

#define SHARE_GROUP "$share/chat-bridge/"
#define MESSAGES_FILTER "chat/rooms/+/messages"

static void on_connect(struct mosquitto *mosq, void *ud, int rc, int flags, const mosquitto_property *props)
{
	(void)flags;
	(void)props;
	(void)ud;
	if (rc != 0) {
		blog(BLOG_ERR, "MQTT connection refused: %s", mosquitto_reason_string(rc));
		return;
	}
	blog(BLOG_INFO, "connected to the broker");
	rc = mosquitto_subscribe_v5(mosq, NULL, SHARE_GROUP MESSAGES_FILTER, 1, 0, NULL);
	if (rc != MOSQ_ERR_SUCCESS) blog(BLOG_ERR, "subscribe: %s", mosquitto_strerror(rc));
}

static void on_subscribe(struct mosquitto *mosq, void *ud, int mid, int count, const int *granted,
			 const mosquitto_property *props)
{
	(void)mosq, (void)ud, (void)mid, (void)props;
	if (count < 1 || granted[0] > 2) {
		blog(BLOG_ERR, "the broker refused the subscription to %s", SHARE_GROUP MESSAGES_FILTER);
		return;
	}
	blog(BLOG_INFO, "subscribed to %s", SHARE_GROUP MESSAGES_FILTER);
}

static void on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct bridge *b = ud;
	(void)mosq;
	(void)props;
	b->received++;
	if (store_message(b, msg->payload, (size_t)msg->payloadlen) != 0) {
		blog(BLOG_ERR, "message on %s not stored", msg->topic);
	}
}

int mqtt_run(struct bridge *b)
{
	b->mosq = mosquitto_new(b->cfg.mqtt_client_id, true, b);
	if (!b->mosq) {
		blog(BLOG_ERR, "mosquitto_new failed");
		return -1;
	}
	mosquitto_int_option(b->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_connect_v5_callback_set(b->mosq, on_connect);
	mosquitto_message_v5_callback_set(b->mosq, on_message);
	mosquitto_subscribe_v5_callback_set(b->mosq, on_subscribe);
	if (b->cfg.mqtt_username) mosquitto_username_pw_set(b->mosq, b->cfg.mqtt_username, b->cfg.mqtt_password);
	int rc = mosquitto_connect_bind_v5(b->mosq, b->cfg.mqtt_host, b->cfg.mqtt_port, 30, NULL, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		blog(BLOG_ERR, "connect to %s:%d: %s", b->cfg.mqtt_host, b->cfg.mqtt_port, mosquitto_strerror(rc));
		/* keep going: the loop below reconnects */
	}
	while (!b->stop) {
		rc = mosquitto_loop(b->mosq, 200, 1);
		if (rc != MOSQ_ERR_SUCCESS && !b->stop) {
			blog(BLOG_WARN, "MQTT: %s; reconnecting", mosquitto_strerror(rc));
			mosquitto_loop(b->mosq, 1000, 1);
			mosquitto_reconnect(b->mosq);
		}
	}
	mosquitto_disconnect(b->mosq);
	mosquitto_destroy(b->mosq);
	b->mosq = NULL;
	return 0;
}
