/* SPDX-License-Identifier: MIT */
/*
 * The push thread's first look at presence and rooms lists. The main MQTT
 * connection keeps a persistent session and, when it resumes one, does not
 * subscribe again (mqtt.c), so the broker sends no retained messages: it
 * only queues the changes that happen while the bridge is away. A bridge
 * that restarts would then start with an empty index. So at start the
 * push thread opens a short clean session of its own, subscribes at QoS 0
 * to chat/presence/+ and chat/users/+/rooms, and takes the retained
 * copies; to know it has them all, it then publishes a marker to its own
 * chat/users/{me}/push-snapshot: the broker queued every retained message
 * of the SUBSCRIBE before it handles the later PUBLISH, so the marker
 * arrives last. Live changes that arrive meanwhile on the main connection
 * are queued and applied after the snapshot, so they win.
 */
#include <stdio.h>
#include <string.h>

#include <mqtt_protocol.h>

#include "bridge.h"
#include "push_int.h"

#define SNAPSHOT_TIMEOUT_MS 10000
#define QUIET_MS            500 /* without a marker: done after this long without messages */

struct snap {
	struct push *p;
	char marker[TOPIC_ID_MAX + 64];
	bool subscribed, done, failed, refused;
	long presence, rooms;
	long long last_ms;
};

static void on_connect(struct mosquitto *m, void *ud, int rc, int flags, const mosquitto_property *props)
{
	struct snap *s = ud;
	(void)flags, (void)props;
	char *filters[] = {"chat/presence/+", "chat/users/+/rooms", s->marker};
	if (rc != 0 || mosquitto_subscribe_multiple(m, NULL, 3, filters, 0, 0, NULL) != MOSQ_ERR_SUCCESS)
		s->refused = true;
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int count, const int *granted,
                         const mosquitto_property *props)
{
	struct snap *s = ud;
	(void)mid, (void)props;
	s->last_ms = bridge_now_ms();
	if (count != 3 || granted[2] > 2) {
		s->failed = true; /* no marker: take what comes until the timeout */
		return;
	}
	s->subscribed = true;
	mosquitto_publish_v5(m, NULL, s->marker, 1, "x", 0, false, NULL);
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
	struct snap *s = ud;
	struct topic_ref t;
	char user[TOPIC_ID_MAX + 1];
	(void)m, (void)props;
	s->last_ms = bridge_now_ms();
	if (strcmp(msg->topic, s->marker) == 0) {
		s->done = true;
		return;
	}
	topic_parse(msg->topic, &t);
	if (!t.id || t.id_len == 0 || t.id_len > TOPIC_ID_MAX) return;
	memcpy(user, t.id, t.id_len);
	user[t.id_len] = '\0';
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	if (t.kind == TOPIC_PRESENCE) {
		push_index_presence(s->p, user, msg->payload, len);
		s->presence++;
	} else if (t.kind == TOPIC_USER_ROOMS) {
		push_index_rooms(s->p, user, msg->payload, len);
		s->rooms++;
	}
}

void push_snapshot(struct push *p)
{
	const struct bridge_config *cfg = &p->b->cfg;
	char id[256];
	struct snap s = {.p = p};
	snprintf(id, sizeof(id), "%s-push-snapshot",
	         cfg->mqtt_client_id ? cfg->mqtt_client_id : "chat-bridge");
	snprintf(s.marker, sizeof(s.marker), "chat/users/%s/push-snapshot",
	         cfg->mqtt_username ? cfg->mqtt_username : "chat-bridge");
	struct mosquitto *m = mosquitto_new(id, true, &s);
	if (!m) return;
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_connect_v5_callback_set(m, on_connect);
	mosquitto_subscribe_v5_callback_set(m, on_subscribe);
	mosquitto_message_v5_callback_set(m, on_message);
	if (cfg->mqtt_username) mosquitto_username_pw_set(m, cfg->mqtt_username, cfg->mqtt_password);
	long long deadline = bridge_now_ms() + SNAPSHOT_TIMEOUT_MS;
	int rc = mosquitto_connect_bind_v5(m, cfg->mqtt_host, cfg->mqtt_port, 30, NULL, NULL);
	while (rc == MOSQ_ERR_SUCCESS && !s.done && !s.refused && !atomic_load(&p->stop) &&
	       bridge_now_ms() < deadline) {
		rc = mosquitto_loop(m, 100, 1);
		/* no marker (its topic refused): settle for a quiet moment */
		if (s.failed && bridge_now_ms() - s.last_ms > QUIET_MS) break;
	}
	if (rc == MOSQ_ERR_SUCCESS) mosquitto_disconnect_v5(m, MQTT_RC_NORMAL_DISCONNECTION, NULL);
	mosquitto_destroy(m);
	if (s.done)
		blog(BLOG_INFO, "push: snapshot of %ld presence and %ld rooms lists", s.presence, s.rooms);
	else
		blog(BLOG_WARN, "push: snapshot of presence and rooms lists incomplete (%ld, %ld)%s",
		     s.presence, s.rooms,
		     s.refused  ? ": connection refused"
		     : s.failed ? ": no marker, took what came"
		                : "");
}
