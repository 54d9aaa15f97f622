/* SPDX-License-Identifier: MIT */
/*
 * Chat list requests on chat/users/{user}/chats. The bridge answers them
 * (bridge/chatlist.c) from MongoDB, but the rooms themselves (which, the
 * user's role, title, member count, the other party of a DM) are the
 * plugin's: so the plugin replaces the request's payload with
 *
 *   {"request":<the client's JSON object, or {}>,"rooms":[{"room","kind",
 *    "role","members","title"?,"with"?}, ...]}
 *
 * Only the user may publish there (acl.c) and only the bridge reads it;
 * the client's own payload cannot pass for the rooms part, which the
 * plugin always writes. A payload that is not a JSON object, or is over
 * plugin_opt_max_payload, is dropped.
 */
#include <string.h>

#include "chat.h"
#include "chat_err.h"
#include "json.h"

/* The other party of a DM room user is in, into peer. */
static void dm_peer(const char *room, const char *user, char *peer, size_t cap)
{
	const char *a, *b;
	size_t alen, blen;
	peer[0] = '\0';
	if (!topic_dm_users(room, strlen(room), &a, &alen, &b, &blen)) return;
	bool is_a = alen == strlen(user) && memcmp(a, user, alen) == 0;
	snprintf(peer, cap, "%.*s", (int)(is_a ? blen : alen), is_a ? b : a);
}

static void write_room(struct strbuf *sb, const struct room *r, const char *user)
{
	char peer[TOPIC_ID_MAX + 1];
	dm_peer(r->id, user, peer, sizeof(peer));
	strbuf_puts(sb, "{\"room\":");
	strbuf_append_json_string(sb, r->id, strlen(r->id));
	strbuf_puts(sb, peer[0] ? ",\"kind\":\"dm\",\"with\":" : ",\"kind\":\"room\"");
	if (peer[0]) strbuf_append_json_string(sb, peer, strlen(peer));
	strbuf_puts(sb, ",\"role\":\"");
	strbuf_puts(sb, rooms_role_name(rooms_role(r, user, strlen(user))));
	strbuf_puts(sb, "\",\"members\":");
	strbuf_append_u64(sb, r->member_count);
	if (r->title) {
		strbuf_puts(sb, ",\"title\":");
		strbuf_append_json_string(sb, r->title, strlen(r->title));
	}
	strbuf_putc(sb, '}');
}

int chat_chats_on_message(struct chat *c, struct mosquitto_evt_message *ed)
{
	const char *user = mosquitto_client_username(ed->client);
	struct json_span obj;
	if (!user || ed->retain || ed->payloadlen > c->cfg.limits.max_payload) return MOSQ_ERR_ACL_DENIED;
	bool empty = ed->payloadlen == 0;
	if (!empty && (json_check(ed->payload, ed->payloadlen, &obj) != CHAT_OK || obj.type != JSON_OBJECT))
		return MOSQ_ERR_ACL_DENIED;
	struct strbuf *sb = &c->out;
	strbuf_reset(sb);
	strbuf_puts(sb, "{\"request\":");
	if (empty) strbuf_puts(sb, "{}");
	else strbuf_append(sb, ed->payload, ed->payloadlen);
	strbuf_puts(sb, ",\"rooms\":[");
	const struct user_entry *u = rooms_of_user(&c->rooms, user, strlen(user));
	bool first = true;
	for (const struct user_room *ur = u ? u->rooms : NULL; ur; ur = ur->hh.next) {
		if (!first) strbuf_putc(sb, ',');
		first = false;
		write_room(sb, ur->room, user);
	}
	strbuf_puts(sb, "]}");
	if (strbuf_status(sb) != CHAT_OK) return MOSQ_ERR_NOMEM;
	void *p = mosquitto_malloc(sb->len);
	if (!p) return MOSQ_ERR_NOMEM;
	memcpy(p, sb->buf, sb->len);
	ed->payload = p; /* the broker frees the old one */
	ed->payloadlen = (uint32_t)sb->len;
	return MOSQ_ERR_SUCCESS;
}
