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

static int stamp(struct chat *c, struct mosquitto_evt_message *ed, const struct topic_ref *t)
{
	const char *user = mosquitto_client_username(ed->client);
	struct chat_msg m;
	if (!user || ed->retain) return MOSQ_ERR_ACL_DENIED;
	int rc = envelope_parse_client(ed->payload, ed->payloadlen, &c->cfg.limits, c->scratch,
				       c->cfg.limits.max_payload + 1, &m);
	if (rc != CHAT_OK) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "refused message from %s: %s", user,
				     chat_strerror(rc));
		return MOSQ_ERR_ACL_DENIED;
	}
	char room[TOPIC_ROOM_MAX + 1], id[ID_LEN + 1];
	memcpy(room, t->id, t->id_len);
	room[t->id_len] = '\0';
	uint64_t now = chat_now_ms();
	id_next(&c->ids, now, id);
	struct envelope e = {
		.id = id, .room = room, .from = user, .ts = (int64_t)now, .type = m.type,
		.text = m.text, .text_len = m.text_len, .cid = m.cid, .data = m.data, .data_len = m.data_len,
	};
	strbuf_reset(&c->out);
	if (envelope_write(&c->out, &e) != CHAT_OK) return MOSQ_ERR_NOMEM;
	return replace_payload(ed, &c->out);
}

int chat_on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	struct topic_ref t;
	(void)event;
	topic_parse(ed->topic, &t);
	if (t.kind == TOPIC_ROOM_MESSAGES) return stamp(userdata, ed, &t);
	return MOSQ_ERR_SUCCESS;
}
