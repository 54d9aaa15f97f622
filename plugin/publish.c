/* SPDX-License-Identifier: MIT */
/*
 * What the plugin itself publishes: notices to a user's inbox, moderation
 * and membership events to a room's events topic, and the retained list of
 * a user's rooms. The broker still runs its read check for each subscriber
 * of these messages, so the ACL decides who receives them.
 */
#include <string.h>

#include "chat.h"
#include "chat_err.h"

int chat_publish(const char *topic, const char *payload, size_t len, bool retain)
{
	int rc = mosquitto_broker_publish_copy(NULL, topic, (int)len, payload, 1, retain, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		mosquitto_log_printf(MOSQ_LOG_WARNING, CHAT_LOG_PREFIX "cannot publish to %s: %s", topic,
				     mosquitto_strerror(rc));
	}
	return rc;
}

int chat_notify_user(struct chat *c, const char *user, const char *json, size_t len)
{
	char topic[32 + TOPIC_ID_MAX];
	(void)c;
	snprintf(topic, sizeof(topic), "chat/users/%s/inbox", user);
	chat_peer_forward(c, topic, json, len); /* the user's sessions on other brokers */
	return chat_publish(topic, json, len, false);
}

int chat_publish_event(struct chat *c, const char *room, const char *json, size_t len)
{
	char topic[32 + TOPIC_ROOM_MAX];
	(void)c;
	snprintf(topic, sizeof(topic), "chat/rooms/%s/events", room);
	chat_peer_forward(c, topic, json, len); /* members on other brokers */
	return chat_publish(topic, json, len, false);
}

int chat_publish_rooms_list(struct chat *c, const char *user)
{
	char topic[32 + TOPIC_ID_MAX];
	struct strbuf sb;
	const struct user_entry *u = rooms_of_user(&c->rooms, user, strlen(user));
	strbuf_init(&sb);
	strbuf_putc(&sb, '[');
	for (const struct user_room *ur = u ? u->rooms : NULL; ur; ur = ur->hh.next) {
		if (sb.len > 1) strbuf_putc(&sb, ',');
		strbuf_puts(&sb, "{\"room\":");
		strbuf_append_json_string(&sb, ur->room->id, strlen(ur->room->id));
		strbuf_puts(&sb, ",\"role\":\"");
		strbuf_puts(&sb, rooms_role_name(rooms_role(ur->room, user, strlen(user))));
		strbuf_puts(&sb, "\"}");
	}
	strbuf_putc(&sb, ']');
	int rc = strbuf_status(&sb) == CHAT_OK ? MOSQ_ERR_SUCCESS : MOSQ_ERR_NOMEM;
	if (rc == MOSQ_ERR_SUCCESS) {
		snprintf(topic, sizeof(topic), "chat/users/%s/rooms", user);
		rc = chat_publish(topic, sb.buf, sb.len, true);
	}
	strbuf_free(&sb);
	return rc;
}
