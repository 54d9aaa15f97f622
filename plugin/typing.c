/* SPDX-License-Identifier: MIT */
/*
 * Typing indicators on chat/rooms/{room}/typing. A member publishes {} or
 * {"typing":true} while typing and {"typing":false} when they stop; the
 * room's other members (never service users: nothing stores them) receive
 *
 *   {"type":"typing","room":"...","user":"...","typing":true,"ts":<ms>,"ttl":<ms>}
 *
 * in place of the client's payload. Ephemeral by design: nothing is kept
 * but one small entry per user typing now, and a receiver shows "typing"
 * for ttl ms unless a newer event comes. Rate limit: one "typing" per user
 * and room per plugin_opt_typing_interval (ttl is twice that, so a client
 * repeating at the interval never flickers); one that comes sooner, a
 * "stopped" with nothing to stop, a retained publish or any other payload
 * is dropped (MQTT 5 QoS 1: PUBACK 135). When the session that said
 * "typing" goes away, the plugin publishes "stopped" for it; a message by
 * the user in the room ends it silently (the message says it).
 */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "chat_err.h"
#include "json.h"
#include "messenger_int.h"

static int typing_member(const struct json_span *key, const struct json_span *v, void *ud)
{
	int *state = ud;
	if (!json_key_is(key, "typing")) return CHAT_ERR_JSON;
	if (v->type == JSON_TRUE) *state = 1;
	else if (v->type == JSON_FALSE) *state = 0;
	else return CHAT_ERR_JSON;
	return CHAT_OK;
}

/* 1 = typing, 0 = stopped, -1 = not a typing payload. */
static int parse_typing(const void *payload, uint32_t len)
{
	struct json_span obj;
	int state = 1;
	if (len == 0) return 1;
	if (json_check(payload, len, &obj) != CHAT_OK || obj.type != JSON_OBJECT) return -1;
	if (json_object_foreach(&obj, typing_member, &state) != CHAT_OK) return -1;
	return state;
}

static void write_event(struct strbuf *sb, const char *room, const char *user, size_t ulen, bool typing,
			uint64_t now, uint64_t ttl)
{
	strbuf_reset(sb);
	strbuf_puts(sb, "{\"type\":\"typing\",\"room\":");
	strbuf_append_json_string(sb, room, strlen(room));
	strbuf_puts(sb, ",\"user\":");
	strbuf_append_json_string(sb, user, ulen);
	strbuf_puts(sb, typing ? ",\"typing\":true,\"ts\":" : ",\"typing\":false,\"ts\":");
	strbuf_append_u64(sb, now);
	if (typing) {
		strbuf_puts(sb, ",\"ttl\":");
		strbuf_append_u64(sb, ttl);
	}
	strbuf_putc(sb, '}');
}

static void make_key(char *key, size_t cap, const char *user, const char *room, size_t room_len)
{
	snprintf(key, cap, "%s/%.*s", user, (int)room_len, room);
}

static void drop(struct messenger *ms, struct typing_entry *e)
{
	HASH_DEL(ms->typing, e);
	mosquitto_free(e);
}

/* Forgets entries whose ttl has passed (their receivers have). */
static void sweep(struct messenger *ms, uint64_t ttl, uint64_t now)
{
	struct typing_entry *e, *tmp;
	if (now - ms->typing_swept_ms < 1000) return;
	ms->typing_swept_ms = now;
	HASH_ITER(hh, ms->typing, e, tmp) {
		if (e->last_ms + ttl < now) drop(ms, e);
	}
}

/* The verdict on a typing publish: true = forward it. Updates the table. */
static bool admit(struct chat *c, const struct mosquitto *client, const char *key, size_t ulen, bool typing,
		  uint64_t now)
{
	struct messenger *ms = c->messenger;
	struct typing_entry *e = NULL;
	HASH_FIND_STR(ms->typing, key, e);
	if (!typing) {
		if (e) drop(ms, e);
		return e != NULL;
	}
	if (e && now < e->last_ms + c->cfg.msgr.typing_interval_ms) return false;
	if (!e) {
		e = mosquitto_calloc(1, sizeof(*e));
		if (!e) return false;
		snprintf(e->key, sizeof(e->key), "%s", key);
		e->user_len = ulen;
		HASH_ADD_STR(ms->typing, key, e);
	}
	e->client = client;
	e->last_ms = now;
	return true;
}

int chat_typing_on_message(struct chat *c, struct mosquitto_evt_message *ed, const struct topic_ref *t)
{
	const char *user = mosquitto_client_username(ed->client);
	char room[TOPIC_ROOM_MAX + 1], key[sizeof(((struct typing_entry *)0)->key)];
	uint64_t now = chat_now_ms(), ttl = 2 * c->cfg.msgr.typing_interval_ms;
	if (!user || ed->retain || !rooms_find(&c->rooms, t->id, t->id_len)) return MOSQ_ERR_ACL_DENIED;
	int state = parse_typing(ed->payload, ed->payloadlen);
	if (state < 0) return MOSQ_ERR_ACL_DENIED;
	sweep(c->messenger, ttl, now);
	make_key(key, sizeof(key), user, t->id, t->id_len);
	if (!admit(c, ed->client, key, strlen(user), state == 1, now)) return MOSQ_ERR_ACL_DENIED;
	memcpy(room, t->id, t->id_len);
	room[t->id_len] = '\0';
	write_event(&c->out, room, user, strlen(user), state == 1, now, ttl);
	if (strbuf_status(&c->out) != CHAT_OK) return MOSQ_ERR_NOMEM;
	void *p = mosquitto_malloc(c->out.len);
	if (!p) return MOSQ_ERR_NOMEM;
	memcpy(p, c->out.buf, c->out.len);
	ed->payload = p; /* the broker frees the old one */
	ed->payloadlen = (uint32_t)c->out.len;
	chat_peer_forward(c, ed->topic, c->out.buf, c->out.len); /* members on other brokers */
	return MOSQ_ERR_SUCCESS;
}

void chat_typing_sent(struct chat *c, const char *user, const char *room)
{
	char key[sizeof(((struct typing_entry *)0)->key)];
	struct typing_entry *e = NULL;
	if (!c->messenger->typing) return;
	make_key(key, sizeof(key), user, room, strlen(room));
	HASH_FIND_STR(c->messenger->typing, key, e);
	if (e) drop(c->messenger, e);
}

void chat_typing_disconnected(struct chat *c, const struct mosquitto *client)
{
	struct messenger *ms = c->messenger;
	struct typing_entry *e, *tmp;
	struct strbuf sb;
	char topic[sizeof("chat/rooms//typing") + TOPIC_ROOM_MAX];
	if (!ms || !ms->typing) return;
	strbuf_init(&sb);
	HASH_ITER(hh, ms->typing, e, tmp) {
		if (e->client != client) continue;
		const char *room = e->key + e->user_len + 1;
		write_event(&sb, room, e->key, e->user_len, false, chat_now_ms(), 0);
		snprintf(topic, sizeof(topic), "chat/rooms/%s/typing", room);
		if (strbuf_status(&sb) == CHAT_OK) {
			mosquitto_broker_publish_copy(NULL, topic, (int)sb.len, sb.buf, 0, false, NULL);
			chat_peer_forward(c, topic, sb.buf, sb.len);
		}
		drop(ms, e);
	}
	strbuf_free(&sb);
}

void chat_typing_free(struct messenger *ms)
{
	struct typing_entry *e, *tmp;
	HASH_ITER(hh, ms->typing, e, tmp) drop(ms, e);
}
