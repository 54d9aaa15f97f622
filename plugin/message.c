/* SPDX-License-Identifier: MIT */
/*
 * MOSQ_EVT_MESSAGE: every publish passes here before it is stored and
 * delivered. For chat/rooms/{room}/messages the client's payload is checked
 * and replaced by the server envelope; everything else passes untouched.
 * This is the broker's hot path: no cJSON, one reused output buffer, one
 * allocation (the payload handed to the broker).
 */
#include <string.h>

#include <mqtt_protocol.h>

#include "chat.h"
#include "chat_err.h"
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
	if (chat_user_muted(c, user, room, now, &until)) return refuse(c, ed, user, REJECT_MUTED, room, NULL, until);
	int rc = envelope_parse_client(ed->payload, ed->payloadlen, &c->cfg.limits, c->scratch,
				       c->cfg.limits.max_payload + 1, &m);
	if (rc != CHAT_OK) return refuse(c, ed, user, parse_reason(rc), room, NULL, 0);
	struct moderation_verdict mv; /* moderation.h: flood control, then banned words */
	if (moderation_refuses(c, ed->client, user, room, &m, now, &mv))
		return refuse(c, ed, user, (enum chat_reject)mv.reason, room, m.cid, mv.until_ms);
	/* Checks that may refuse the message go above this line: what follows
	 * creates a DM room on its first message. */
	if (!rooms_find(&c->rooms, t->id, t->id_len)) {
		if (chat_dm_open(c, t->id, t->id_len) != MOSQ_ERR_SUCCESS) {
			return refuse(c, ed, user, REJECT_NO_ROOM, room, m.cid, 0);
		}
	}
	id_next(&c->ids, now, id);
	struct envelope e = {
		.id = id, .room = room, .from = user, .ts = (int64_t)now, .type = m.type,
		.text = m.text, .text_len = m.text_len, .cid = m.cid, .data = m.data, .data_len = m.data_len,
	};
	moderation_stamp(c, &mv, &e); /* masked text, flagged, the moderation event */
	strbuf_reset(&c->out);
	if (envelope_write(&c->out, &e) != CHAT_OK) return MOSQ_ERR_NOMEM;
	rc = replace_payload(ed, &c->out);
	if (rc == MOSQ_ERR_SUCCESS) c->stats.messages_accepted++;
	return rc;
}

/* Copies one property of any type onto *dst. */
static int copy_property(mosquitto_property **dst, const mosquitto_property *p)
{
	int id = mosquitto_property_identifier(p), type = 0, same;
	if (mosquitto_string_to_property_info(mosquitto_property_identifier_to_string(id), &same, &type)) {
		return MOSQ_ERR_INVAL;
	}
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	void *bin = NULL;
	char *name = NULL, *value = NULL;
	int rc = MOSQ_ERR_INVAL;
	switch (type) {
	case MQTT_PROP_TYPE_BYTE:
		if (mosquitto_property_read_byte(p, id, &u8, false)) rc = mosquitto_property_add_byte(dst, id, u8);
		break;
	case MQTT_PROP_TYPE_INT16:
		if (mosquitto_property_read_int16(p, id, &u16, false)) rc = mosquitto_property_add_int16(dst, id, u16);
		break;
	case MQTT_PROP_TYPE_INT32:
		if (mosquitto_property_read_int32(p, id, &u32, false)) rc = mosquitto_property_add_int32(dst, id, u32);
		break;
	case MQTT_PROP_TYPE_VARINT:
		if (mosquitto_property_read_varint(p, id, &u32, false)) rc = mosquitto_property_add_varint(dst, id, u32);
		break;
	case MQTT_PROP_TYPE_BINARY:
		if (mosquitto_property_read_binary(p, id, &bin, &u16, false)) rc = mosquitto_property_add_binary(dst, id, bin, u16);
		break;
	case MQTT_PROP_TYPE_STRING:
		if (mosquitto_property_read_string(p, id, &value, false)) rc = mosquitto_property_add_string(dst, id, value);
		break;
	case MQTT_PROP_TYPE_STRING_PAIR:
		if (mosquitto_property_read_string_pair(p, id, &name, &value, false)) {
			rc = mosquitto_property_add_string_pair(dst, id, name, value);
		}
		break;
	default: break;
	}
	/* Allocated by the broker's copy of libmosquitto's readers. */
	mosquitto_free(bin);
	mosquitto_free(name);
	mosquitto_free(value);
	return rc;
}

static bool is_from_property(const mosquitto_property *p)
{
	char *name = NULL, *value = NULL;
	if (mosquitto_property_identifier(p) != MQTT_PROP_USER_PROPERTY) return false;
	if (!mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value, false)) return false;
	bool from = name && strcmp(name, "from") == 0;
	mosquitto_free(name);
	mosquitto_free(value);
	return from;
}

/* Requests to the bridge (history, read markers, devices) carry the v5 user
 * property from = the authenticated user, so the bridge knows who asks; a
 * "from" the client put there is dropped first. */
static int stamp_requester(struct mosquitto_evt_message *ed)
{
	const char *user = mosquitto_client_username(ed->client);
	mosquitto_property *props = NULL;
	if (!user) return MOSQ_ERR_ACL_DENIED;
	for (const mosquitto_property *p = ed->properties; p; p = mosquitto_property_next(p)) {
		if (is_from_property(p)) continue;
		if (copy_property(&props, p) != MOSQ_ERR_SUCCESS) {
			mosquitto_property_free_all(&props);
			return MOSQ_ERR_ACL_DENIED;
		}
	}
	if (mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "from", user)) {
		mosquitto_property_free_all(&props);
		return MOSQ_ERR_ACL_DENIED;
	}
	/* The broker keeps whatever list the event holds: the old one is ours to free. */
	mosquitto_property_free_all(&ed->properties);
	ed->properties = props;
	return MOSQ_ERR_SUCCESS;
}

int chat_on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	struct chat *c = userdata;
	struct topic_ref t;
	(void)event;
	topic_parse_memo(&c->topics, ed->topic, &t); /* parsed by the write check just before */
	switch (t.kind) {
	case TOPIC_ROOM_MESSAGES: return stamp(c, ed, &t);
	case TOPIC_ROOM_HISTORY:
	case TOPIC_ROOM_READ:
	case TOPIC_USER_DEVICES: return stamp_requester(ed);
	default: return MOSQ_ERR_SUCCESS;
	}
}
