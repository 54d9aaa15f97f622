/* SPDX-License-Identifier: MIT */
/*
 * Read receipts in groups: when a member's read marker moves (a publish
 * on chat/rooms/{room}/read), the room's members learn it from one event
 * per room and plugin_opt_read_receipts_interval (coalesced: every marker
 * that moved since the last event, each user once, with their newest):
 *
 *   {"type":"read","room":"...","reads":[{"user":"bob","upto":"<id>"}],"ts":<ms>}
 *
 * on chat/rooms/{room}/events. Whether a room has them: its policy
 * readReceipts (setRoomPolicy: "on", "off", or "auto", the default), and
 * under "auto" whether it has at most plugin_opt_read_receipts_max_members
 * members (100), since every event costs one delivery per member online.
 * A room without receipts also refuses {"reads":true} history requests
 * (every member's marker, answered by the bridge).
 *
 * The plugin remembers the newest marker it saw per member of such rooms
 * (one small entry each, forgotten after an hour without a move) to
 * forward only markers that move; after a restart the first marker of
 * each member is forwarded as it comes, and the bridge's request gives the
 * stored truth.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "chat_err.h"
#include "json.h"
#include "messenger_int.h"

#define RECEIPT_KEEP_MS (3600u * 1000u)

static const char *const receipt_names[] = {[RECEIPTS_AUTO] = "auto", [RECEIPTS_ON] = "on", [RECEIPTS_OFF] = "off"};

int chat_receipts_parse(const char *name)
{
	for (int i = 0; i < (int)(sizeof(receipt_names) / sizeof(receipt_names[0])); i++) {
		if (strcmp(name, receipt_names[i]) == 0) return i;
	}
	return -1;
}

const char *chat_receipts_name(int mode)
{
	return mode >= 0 && mode <= RECEIPTS_OFF ? receipt_names[mode] : "auto";
}

bool chat_receipts_on(const struct chat *c, const struct room *r)
{
	if (!r || r->policy.read_receipts == RECEIPTS_OFF) return false;
	if (r->policy.read_receipts == RECEIPTS_ON) return true;
	return r->member_count <= c->cfg.msgr.receipts_max_members;
}

static int upto_member(const struct json_span *key, const struct json_span *v, void *ud)
{
	if (!json_key_is(key, "upto") || v->type != JSON_STRING) return 0;
	return json_string_decode(v, ud, ID_LEN + 1) == ID_LEN ? 1 : 0;
}

void chat_receipts_on_read(struct chat *c, const struct mosquitto_evt_message *ed, const struct topic_ref *t)
{
	const char *user = mosquitto_client_username(ed->client);
	const struct room *r = rooms_find(&c->rooms, t->id, t->id_len);
	char upto[ID_LEN + 1] = "";
	struct json_span obj;
	if (!user || !chat_receipts_on(c, r)) return;
	if (!ed->payload || json_check(ed->payload, ed->payloadlen, &obj) != CHAT_OK || obj.type != JSON_OBJECT) return;
	if (json_object_foreach(&obj, upto_member, upto) != 1 || !id_valid(upto, ID_LEN)) return;
	if (id_time_ms(upto) > chat_now_ms() + 1000) return; /* no message of the future */
	struct messenger *ms = c->messenger;
	struct receipt *e = NULL;
	char key[sizeof(e->key)];
	snprintf(key, sizeof(key), "%s/%s", r->id, user);
	HASH_FIND_STR(ms->receipts, key, e);
	if (e && strcmp(upto, e->upto) <= 0) return; /* not forward */
	if (!e) {
		e = mosquitto_calloc(1, sizeof(*e));
		if (!e) return;
		snprintf(e->key, sizeof(e->key), "%s", key);
		e->room_len = strlen(r->id);
		HASH_ADD_STR(ms->receipts, key, e);
	}
	memcpy(e->upto, upto, ID_LEN + 1);
	e->at_ms = chat_now_ms();
	if (!e->pending) {
		e->pending = true;
		e->next_pending = ms->pending;
		ms->pending = e;
	}
}

static int reads_member(const struct json_span *key, const struct json_span *v, void *ud)
{
	(void)ud;
	return json_key_is(key, "reads") && v->type == JSON_TRUE ? 1 : 0;
}

bool chat_receipts_request_refused(struct chat *c, const struct mosquitto_evt_message *ed, const struct topic_ref *t)
{
	struct json_span obj;
	if (!ed->payload || !memmem(ed->payload, ed->payloadlen, "reads", 5)) return false;
	if (json_check(ed->payload, ed->payloadlen, &obj) != CHAT_OK || obj.type != JSON_OBJECT) return false;
	if (json_object_foreach(&obj, reads_member, NULL) != 1) return false;
	return !chat_receipts_on(c, rooms_find(&c->rooms, t->id, t->id_len));
}

/* Forgets, once a minute, markers that have not moved for RECEIPT_KEEP_MS
 * (a member gone quiet, or gone): the table stays as large as the members
 * reading now. A marker forgotten and sent again later is announced again,
 * older or not; receivers keep the newest per user. */
CHAT_OUT_OF_LINE static void sweep(struct messenger *ms, uint64_t now)
{
	struct receipt *e, *tmp;
	ms->receipts_swept_ms = now;
	HASH_ITER(hh, ms->receipts, e, tmp) {
		if (e->pending || e->at_ms + RECEIPT_KEEP_MS > now) continue;
		HASH_DEL(ms->receipts, e);
		mosquitto_free(e);
	}
}

void chat_receipts_tick(struct chat *c, uint64_t now)
{
	struct messenger *ms = c->messenger;
	chat_receipts_flush(c, now);
	if (now >= ms->receipts_swept_ms + 60000) sweep(ms, now);
}

static int by_key(const void *a, const void *b)
{
	return strcmp((*(struct receipt *const *)a)->key, (*(struct receipt *const *)b)->key);
}

/* One event for the receipts rs[0..n) of one room. */
static void publish_room(struct chat *c, struct receipt **rs, size_t n, uint64_t now)
{
	struct strbuf sb;
	char room[TOPIC_ROOM_MAX + 1];
	snprintf(room, sizeof(room), "%.*s", (int)rs[0]->room_len, rs[0]->key);
	strbuf_init(&sb);
	strbuf_puts(&sb, "{\"type\":\"read\",\"room\":");
	strbuf_append_json_string(&sb, room, strlen(room));
	strbuf_puts(&sb, ",\"reads\":[");
	for (size_t i = 0; i < n; i++) {
		const char *user = rs[i]->key + rs[i]->room_len + 1;
		strbuf_puts(&sb, i ? ",{\"user\":" : "{\"user\":");
		strbuf_append_json_string(&sb, user, strlen(user));
		strbuf_puts(&sb, ",\"upto\":\"");
		strbuf_puts(&sb, rs[i]->upto);
		strbuf_puts(&sb, "\"}");
	}
	strbuf_puts(&sb, "],\"ts\":");
	strbuf_append_u64(&sb, now);
	strbuf_putc(&sb, '}');
	if (strbuf_status(&sb) == CHAT_OK && rooms_find(&c->rooms, room, strlen(room)))
		chat_publish_event(c, room, sb.buf, sb.len);
	strbuf_free(&sb);
}

/* chat_receipts_flush once there is something to announce. */
CHAT_OUT_OF_LINE static void flush_pending(struct chat *c, uint64_t now)
{
	struct messenger *ms = c->messenger;
	ms->receipts_flushed_ms = now;
	size_t n = 0;
	for (struct receipt *e = ms->pending; e; e = e->next_pending) n++;
	struct receipt **rs = mosquitto_malloc(n * sizeof(*rs));
	if (!rs) return;
	n = 0;
	for (struct receipt *e = ms->pending; e; e = e->next_pending) rs[n++] = e;
	for (size_t i = 0; i < n; i++) rs[i]->pending = false;
	ms->pending = NULL;
	qsort(rs, n, sizeof(*rs), by_key); /* a room's receipts side by side */
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && rs[j]->room_len == rs[i]->room_len &&
				memcmp(rs[j]->key, rs[i]->key, rs[i]->room_len + 1) == 0;
		     j++) {
		}
		publish_room(c, rs + i, j - i, now);
	}
	mosquitto_free(rs);
}

void chat_receipts_flush(struct chat *c, uint64_t now)
{
	const struct messenger *ms = c->messenger;
	if (!ms->pending || now < ms->receipts_flushed_ms + c->cfg.msgr.receipts_interval_ms) return;
	flush_pending(c, now);
}

void chat_receipts_free(struct messenger *ms)
{
	struct receipt *e, *tmp;
	HASH_ITER(hh, ms->receipts, e, tmp) {
		HASH_DEL(ms->receipts, e);
		mosquitto_free(e);
	}
	ms->pending = NULL;
}
