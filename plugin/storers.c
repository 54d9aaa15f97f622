/* SPDX-License-Identifier: MIT */
/*
 * Whether a chat message would be stored if accepted now. The broker tells
 * a publisher "success" (PUBACK 0, or 0x10 "no matching subscribers") as
 * soon as it has queued the message for whoever subscribes; the bridge
 * stores only what reaches its subscription. After a broker restart, and
 * for as long as no bridge has subscribed again, that is nothing, and a
 * client told "ok" would have lost its message. So with
 * plugin_opt_require_store (the default) the plugin accepts chat messages
 * only while some service session holds the subscription to every room's
 * messages, and refuses them otherwise (message.c).
 *
 * A storer is known by client id: it counts from its SUBSCRIBE to
 * chat/rooms/+/messages (shared or not) until it unsubscribes, or
 * disconnects with a session that ends there (clean session; not when a
 * new login with its client id resumes the session). A persistent
 * session keeps counting while its client is away, since the broker queues
 * for it. Nothing is kept across a broker restart: the bridge subscribes on
 * every connect, and that is what counts again.
 */
#include <stdlib.h>
#include <string.h>

#include "chat.h"

#define STORE_FILTER "chat/rooms/+/messages"

static size_t find(const struct chat_storers *s, const char *id)
{
	for (size_t i = 0; i < s->count; i++) {
		if (strcmp(s->ids[i], id) == 0) return i;
	}
	return s->count;
}

static void forget(struct chat_storers *s, const char *id)
{
	size_t i = find(s, id);
	if (i == s->count) return;
	mosquitto_free(s->ids[i]);
	s->ids[i] = s->ids[--s->count];
}

bool chat_store_ready(const struct chat *c)
{
	return !c->cfg.require_store || c->storers.count > 0;
}

void chat_storers_subscribed(struct chat *c, const struct mosquitto *client, const char *filter)
{
	struct chat_storers *s = &c->storers;
	const char *id = mosquitto_client_id(client);
	if (!id || strcmp(filter, STORE_FILTER) != 0 || find(s, id) < s->count) return;
	if (s->count == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 4;
		char **ids = mosquitto_realloc(s->ids, cap * sizeof(*ids));
		if (!ids) return; /* not counted: messages are refused, never lost */
		s->ids = ids;
		s->cap = cap;
	}
	char *copy = mosquitto_strdup(id);
	if (!copy) return;
	s->ids[s->count++] = copy;
	mosquitto_log_printf(MOSQ_LOG_INFO, CHAT_LOG_PREFIX "%s subscribed to every room's messages (%zu storing)",
			     id, s->count);
	chat_spool_replay(c, id); /* after a restart, what the broker may have lost */
}

void chat_storers_unsubscribed(struct chat *c, const struct mosquitto *client, const char *filter)
{
	const char *id = mosquitto_client_id(client);
	if (id && strcmp(filter, STORE_FILTER) == 0) forget(&c->storers, id);
}

void chat_storers_disconnected(struct chat *c, const struct mosquitto *client, bool moving)
{
	const char *id = mosquitto_client_id(client);
	if (id && !moving && mosquitto_client_clean_session(client)) forget(&c->storers, id);
}

void chat_storers_free(struct chat *c)
{
	for (size_t i = 0; i < c->storers.count; i++) mosquitto_free(c->storers.ids[i]);
	mosquitto_free(c->storers.ids);
	memset(&c->storers, 0, sizeof(c->storers));
}
