/* SPDX-License-Identifier: MIT */
/*
 * MOSQ_EVT_MESSAGE: every publish passes here before it is stored and
 * delivered. For chat/rooms/{room}/messages the client's payload is checked
 * and replaced by the server envelope; everything else passes untouched.
 * This is the broker's hot path: no cJSON, one reused output buffer, one
 * allocation (the payload handed to the broker).
 */
#include <string.h>

#include "chat.h"
#include "chat_err.h"
#include "live.h"
#include "topic.h"

/* Swaps the event's payload for a broker-owned copy of sb's content. */
static int replace_payload(struct mosquitto_evt_message *ed, const struct strbuf *sb)
{
	void *p = mosquitto_malloc(sb->len);
	if (!p) return MOSQ_ERR_NOMEM;
	memcpy(p, sb->buf, sb->len);
	/* The broker frees the old payload when it sees a new pointer. */
	ed->payload = p;
	ed->payloadlen = (uint32_t)sb->len;
	return MOSQ_ERR_SUCCESS;
}

/* The reason of an envelope_parse_client() error. */
static enum chat_reject parse_reason(int err)
{
	switch (err) {
	case CHAT_ERR_UTF8: return REJECT_INVALID_UTF8;
	case CHAT_ERR_TOO_LARGE: return REJECT_TOO_LARGE;
	case CHAT_ERR_EMPTY: return REJECT_EMPTY;
	default: return REJECT_MALFORMED_JSON;
	}
}

static int cid_member(const struct json_span *key, const struct json_span *value, void *ud)
{
	if (!json_key_is(key, "cid") || value->type != JSON_STRING) return 0;
	return json_string_decode(value, ud, ENVELOPE_CID_MAX + 1) > 0 ? 1 : 0;
}

/* The "cid" of a payload that failed the envelope check, when it is still
 * a JSON object that has one (e.g. an empty or oversized message). */
static void refused_cid(const void *payload, uint32_t len, char *cid)
{
	struct json_span obj;
	cid[0] = '\0';
	if (!payload || json_check(payload, len, &obj) != 0 || obj.type != JSON_OBJECT) return;
	if (json_object_foreach(&obj, cid_member, cid) != 1 || strlen(cid) != strcspn(cid, "\"\\")) cid[0] = '\0';
}

void chat_refuse_notice(struct chat *c, const char *user, enum chat_reject why, const char *room,
			size_t room_len, const char *cid, uint64_t until_ms)
{
	struct strbuf sb;
	if (why < REJECT_COUNT) c->stats.messages_rejected[why]++;
	chat_live_refused(c, room, room_len, why);
	if (!user) return;
	strbuf_init(&sb);
	strbuf_puts(&sb, "{\"type\":\"error\",\"reason\":\"");
	strbuf_puts(&sb, chat_reject_name(why));
	strbuf_putc(&sb, '"');
	if (room) {
		strbuf_puts(&sb, ",\"room\":");
		strbuf_append_json_string(&sb, room, room_len);
		strbuf_puts(&sb, ",\"topic\":\"chat/rooms/");
		strbuf_append(&sb, room, room_len); /* a valid room id needs no escaping */
		strbuf_puts(&sb, "/messages\"");
	}
	if (cid && cid[0]) {
		strbuf_puts(&sb, ",\"cid\":");
		strbuf_append_json_string(&sb, cid, strlen(cid));
	}
	if (until_ms) {
		strbuf_puts(&sb, ",\"until\":");
		strbuf_append_u64(&sb, until_ms);
	}
	strbuf_putc(&sb, '}');
	if (strbuf_status(&sb) == CHAT_OK) chat_notify_user(c, user, sb.buf, sb.len);
	strbuf_free(&sb);
}

/* Refuses the message: notice to the sender, 135 to a v5 client. */
static int refuse(struct chat *c, const struct mosquitto_evt_message *ed, const char *user, enum chat_reject why,
		  const char *room, const char *cid, uint64_t until_ms)
{
	char found[ENVELOPE_CID_MAX + 1];
	if (!cid) {
		refused_cid(ed->payload, ed->payloadlen, found);
		cid = found;
	}
	mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "refused message from %s in %s: %s", user, room,
			     chat_reject_name(why));
	chat_refuse_notice(c, user, why, room, strlen(room), cid, until_ms);
	return MOSQ_ERR_ACL_DENIED;
}

/* No bridge would store the message (storers.c). MQTT 5 clients get PUBACK
 * 0x87 and a notice. A 3.1.1 client's PUBACK cannot say no, and one that
 * says yes would be a lie: any error but "denied" makes the broker close
 * the connection without acknowledging, and the client sends the message
 * again once it is back. */
static int refuse_unstored(struct chat *c, const struct mosquitto_evt_message *ed, const char *user, const char *room)
{
	int rc = refuse(c, ed, user, REJECT_STORE_UNAVAILABLE, room, NULL, 0);
	if (ed->qos > 0 && mosquitto_client_protocol_version(ed->client) != 5) return MOSQ_ERR_NOT_SUPPORTED;
	return rc;
}

/* Room sanctions on the sender: a freeze of this room or of every room,
 * then the room's slow mode. Owners and admins of the room pass both (they
 * speak to a frozen room). REJECT_COUNT when the message may go on. */
static enum chat_reject room_gate(struct chat *c, const char *user, const struct room *r, const char *room,
				  uint64_t now, uint64_t *until)
{
	unsigned slow = r ? r->policy.slow_mode_s : 0;
	if (!c->sanctions.freezes && !slow) return REJECT_COUNT;
	if (r && rooms_member_role(&c->rooms, r, user, strlen(user)) >= ROLE_ADMIN) return REJECT_COUNT;
	if (chat_room_frozen(c, room, now, until)) return REJECT_FROZEN;
	if (slowmode_waiting(&c->slow, user, room, slow * 1000ull, now, until)) return REJECT_SLOW_MODE;
	return REJECT_COUNT;
}

static int stamp(struct chat *c, struct mosquitto_evt_message *ed, const struct topic_ref *t)
{
	const char *user = mosquitto_client_username(ed->client);
	char room[TOPIC_ROOM_MAX + 1], id[ID_LEN + 1];
	struct chat_msg m;
	uint64_t now = chat_now_ms(), until = 0;
	if (!user) return MOSQ_ERR_ACL_DENIED;
	memcpy(room, t->id, t->id_len);
	room[t->id_len] = '\0';
	if (ed->retain) return refuse(c, ed, user, REJECT_RETAINED, room, NULL, 0);
	if (!chat_store_ready(c)) return refuse_unstored(c, ed, user, room);
	if (chat_user_muted(c, user, room, now, &until)) return refuse(c, ed, user, REJECT_MUTED, room, NULL, until);
	const struct room *r = rooms_lookup(&c->rooms, t->id, t->id_len); /* memoized by the write check */
	enum chat_reject gate = room_gate(c, user, r, room, now, &until);
	if (gate != REJECT_COUNT) return refuse(c, ed, user, gate, room, NULL, until);
	int rc = envelope_parse_client(ed->payload, ed->payloadlen, &c->cfg.limits, c->scratch,
				       c->cfg.limits.max_payload + 1, &m);
	if (rc != CHAT_OK) return refuse(c, ed, user, parse_reason(rc), room, NULL, 0);
	/* A plain post (no target, no reply) has nothing to check: no call. */
	bool change = (m.op != ENVELOPE_POST ? m.ref : m.reply)[0] != '\0';
	int why = change ? chat_change_check(c, user, t->id, t->id_len, &m, now) : REJECT_COUNT; /* edit.c */
	if (why != REJECT_COUNT) return refuse(c, ed, user, (enum chat_reject)why, room, m.cid, 0);
	struct moderation_verdict mv; /* moderation.h: flood control, then banned words */
	if (moderation_judge(c, user, room, t->id_len, r, &m, now, &mv)) {
		moderation_refused(c, &mv, user, room, now);
		return refuse(c, ed, user, (enum chat_reject)moderation_reason(&mv), room, m.cid, mv.v.until_ms);
	}
	/* Checks that may refuse the message go above this line: what follows
	 * creates a DM room on its first message. */
	if (!r) {
		if (chat_dm_open(c, t->id, t->id_len) != MOSQ_ERR_SUCCESS) {
			return refuse(c, ed, user, REJECT_NO_ROOM, room, m.cid, 0);
		}
	}
	id_next(&c->ids, now, id);
	struct envelope e = {
		.id = id, .room = room, .from = user, .ts = (int64_t)now, .type = m.type,
		.text = m.text, .text_len = m.text_len, .text_plain = m.text_plain, .cid = m.cid, .data = m.data,
		.data_len = m.data_len, .id_len = ID_LEN, .room_len = t->id_len, .cid_len = m.cid_len,
	};
	chat_change_stamp(&m, &e); /* edit.c */
	moderation_stamp(&mv, &e); /* masked text and data, flagged */
	if (m.op == ENVELOPE_POST) chat_mentions(c, user, &e, chat_mentions_buf(c)); /* mentions.c */
	bool live = r && r->policy.live; /* r is the room found above: no second lookup on the hot path */
	if (live) e.shard = chat_live_shard(c, room, t->id_len, user); /* live.c: the sender's shard */
	strbuf_reset(&c->out);
	if (envelope_write(&c->out, &e) != CHAT_OK) return MOSQ_ERR_NOMEM;
	/* Before the broker acknowledges it: a QoS 0 message gets no "ok". */
	if (ed->qos > 0 && chat_spool_append(c, c->out.buf, c->out.len) != CHAT_OK)
		return refuse_unstored(c, ed, user, room);
	rc = replace_payload(ed, &c->out);
	if (rc != MOSQ_ERR_SUCCESS) return rc;
	c->stats.messages_accepted++;
	moderation_accepted(c, &mv, &e, now); /* flood record, the mask or flag event */
	/* Out of memory here costs only the wait before the next message. */
	if (r && r->policy.slow_mode_s) (void)slowmode_sent(&c->slow, user, room, now);
	chat_change_record(c, room, t->id_len, user, id, &m, now); /* edit.c */
	chat_typing_sent(c, user, room);
	if (live) chat_live_accepted(c, room, t->id_len, e.shard, c->out.buf, c->out.len); /* its shard's next batch */
	return rc;
}

/* Requests to the bridge (history, read markers, devices) carry the v5 user
 * property from = the authenticated user, so the bridge knows who asks.
 * The client's own user properties were refused before (chat_on_message),
 * so this one is the only one; appending keeps the list the broker's. */
static int stamp_requester(struct mosquitto_evt_message *ed)
{
	const char *user = mosquitto_client_username(ed->client);
	if (!user) return MOSQ_ERR_ACL_DENIED;
	if (mosquitto_property_add_string_pair(&ed->properties, MQTT_PROP_USER_PROPERTY, "from", user))
		return MOSQ_ERR_ACL_DENIED;
	return MOSQ_ERR_SUCCESS;
}

/* Client user properties ride along to every subscriber next to the
 * envelope (and to the bridge next to "from"), where they could pass for
 * server facts; the sender is told why. */
static int refuse_user_properties(struct chat *c, const struct mosquitto_evt_message *ed, const struct topic_ref *t)
{
	const char *user = mosquitto_client_username(ed->client);
	char room[TOPIC_ROOM_MAX + 1] = "";
	if (t->kind != TOPIC_USER_DEVICES && t->kind != TOPIC_USER_CHATS) {
		memcpy(room, t->id, t->id_len);
		room[t->id_len] = '\0';
	}
	mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "refused publish from %s on %s: %s", user ? user : "",
			     ed->topic, chat_reject_name(REJECT_USER_PROPERTIES));
	chat_refuse_notice(c, user, REJECT_USER_PROPERTIES, room[0] ? room : NULL, strlen(room), NULL, 0);
	return MOSQ_ERR_ACL_DENIED;
}

int chat_on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	struct chat *c = userdata;
	struct topic_ref t;
	(void)event;
	if (chat_peer_is_link(c, ed->client)) return chat_peer_on_link_message(c, ed); /* stamped at its origin */
	topic_parse_memo(&c->topics, ed->topic, &t); /* parsed by the write check just before */
	bool request = t.kind == TOPIC_ROOM_HISTORY || t.kind == TOPIC_ROOM_READ || t.kind == TOPIC_USER_DEVICES ||
		       t.kind == TOPIC_USER_CHATS;
	bool typing = t.kind == TOPIC_ROOM_TYPING;
	if (t.kind != TOPIC_ROOM_MESSAGES && !request && !typing) return MOSQ_ERR_SUCCESS;
	if (chat_props_has_user_property(ed->properties)) return refuse_user_properties(c, ed, &t);
	if (typing) return chat_typing_on_message(c, ed, &t); /* typing.c */
	if (t.kind == TOPIC_ROOM_READ) chat_receipts_on_read(c, ed, &t); /* receipts.c */
	if (t.kind == TOPIC_ROOM_HISTORY && chat_receipts_request_refused(c, ed, &t)) return MOSQ_ERR_ACL_DENIED;
	if (t.kind == TOPIC_USER_CHATS) { /* chats.c: the user's rooms for the bridge */
		int rc = chat_chats_on_message(c, ed);
		if (rc != MOSQ_ERR_SUCCESS) return rc;
	}
	return request ? stamp_requester(ed) : stamp(c, ed, &t);
}
