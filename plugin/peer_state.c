/* SPDX-License-Identifier: MIT */
/*
 * Room state across brokers (docs/scale-out.md, "Room state"). The state
 * is seen as keys, each with a JSON value and a version (ms time, node):
 *
 *   room/{room}            the room without its members (title, policy)
 *   member/{room}/{user}   the role
 *   ban/{user}             {"user","until"}
 *   mute/{user}/{room}     {"user","room","until"} (room "" = everywhere)
 *   freeze/{room}          {"room","until"} (room "*" and no "room": every room)
 *   words                  the banned-word lists (one value)
 *
 * A tick after a local change compares the state with the view last
 * published or applied and sends the keys that differ, versioned now by
 * this node, on chatpeer/out/state; a key gone is sent as a tombstone
 * (value null). A record's key replaces the view's when its version is
 * newer (time, then node, then value: the same order on every broker), so
 * brokers that saw the same records hold the same view whatever the
 * order. After a record changed the view, the state is rebuilt from it.
 * A peer that subscribes gets the whole view, tombstones included.
 *
 * The cost of a change is O(state) on each broker (the state is
 * serialised and rebuilt whole): admin changes are rare, deliveries never
 * pass here.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lww.h"
#include "peer_int.h"
#include "topic.h"

struct peer_key {
	char *key;
	char *value; /* compact JSON; NULL = deleted */
	uint64_t ts;
	char node[TOPIC_ID_MAX + 1];
	UT_hash_handle hh;
};

/* ---- the view ---------------------------------------------------------- */

static struct peer_key *key_get(struct chat_peer *p, const char *key, bool create)
{
	struct peer_key *k = NULL;
	HASH_FIND_STR(p->keys, key, k);
	if (k || !create) return k;
	k = mosquitto_calloc(1, sizeof(*k));
	if (!k) return NULL;
	k->key = mosquitto_strdup(key);
	if (!k->key) {
		mosquitto_free(k);
		return NULL;
	}
	HASH_ADD_KEYPTR(hh, p->keys, k->key, strlen(k->key), k);
	return k;
}

static int set_value(struct peer_key *k, const char *value)
{
	char *v = value ? mosquitto_strdup(value) : NULL;
	if (value && !v) return MOSQ_ERR_NOMEM;
	mosquitto_free(k->value);
	k->value = v;
	return MOSQ_ERR_SUCCESS;
}

static int cmp_value(const char *a, const char *b)
{
	if (!a || !b) return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

/* True when (ts, node, value) orders after the key's version (lww.h). */
static bool newer(const struct peer_key *k, uint64_t ts, const char *node, const char *value)
{
	struct lww_version mine = {k->ts, k->node, k->value}, theirs = {ts, node, value};
	return lww_cmp(&theirs, &mine) > 0;
}

void peer_state_free(struct chat_peer *p)
{
	struct peer_key *k, *t;
	HASH_ITER(hh, p->keys, k, t) {
		HASH_DEL(p->keys, k);
		mosquitto_free(k->key);
		mosquitto_free(k->value);
		mosquitto_free(k);
	}
}

/* ---- state <-> keys ---------------------------------------------------- */

typedef void (*key_fn)(void *ud, const char *key, const cJSON *value);


static void rooms_keys(const cJSON *rooms, key_fn fn, void *ud)
{
	const cJSON *r;
	char key[16 + TOPIC_ROOM_MAX + TOPIC_ID_MAX];
	cJSON_ArrayForEach(r, rooms) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "room");
		if (!cJSON_IsString(id)) continue;
		cJSON *attrs = cJSON_Duplicate(r, true);
		if (!attrs) continue;
		cJSON_DeleteItemFromObjectCaseSensitive(attrs, "members");
		snprintf(key, sizeof(key), "room/%s", id->valuestring);
		fn(ud, key, attrs);
		cJSON_Delete(attrs);
		const cJSON *m;
		cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(r, "members")) {
			const cJSON *user = cJSON_GetObjectItemCaseSensitive(m, "user");
			const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
			if (!cJSON_IsString(user) || !cJSON_IsString(role)) continue;
			snprintf(key, sizeof(key), "member/%s/%s", id->valuestring, user->valuestring);
			fn(ud, key, role);
		}
	}
}

static void sanction_keys(const cJSON *list, bool mutes, key_fn fn, void *ud)
{
	const cJSON *o;
	char key[16 + TOPIC_ROOM_MAX + TOPIC_ID_MAX];
	cJSON_ArrayForEach(o, list) {
		const cJSON *user = cJSON_GetObjectItemCaseSensitive(o, "user");
		const cJSON *room = cJSON_GetObjectItemCaseSensitive(o, "room");
		if (!cJSON_IsString(user)) continue;
		if (mutes)
			snprintf(key, sizeof(key), "mute/%s/%s", user->valuestring,
				 cJSON_IsString(room) ? room->valuestring : "");
		else snprintf(key, sizeof(key), "ban/%s", user->valuestring);
		fn(ud, key, o);
	}
}

static void freeze_keys(const cJSON *list, key_fn fn, void *ud)
{
	const cJSON *o;
	char key[16 + TOPIC_ROOM_MAX];
	cJSON_ArrayForEach(o, list) {
		const cJSON *room = cJSON_GetObjectItemCaseSensitive(o, "room");
		snprintf(key, sizeof(key), "freeze/%s", cJSON_IsString(room) ? room->valuestring : "*");
		fn(ud, key, o);
	}
}

/* Calls fn for every key of a state document (the state file's shape). */
static void state_keys(const cJSON *doc, key_fn fn, void *ud)
{
	rooms_keys(cJSON_GetObjectItemCaseSensitive(doc, "rooms"), fn, ud);
	sanction_keys(cJSON_GetObjectItemCaseSensitive(doc, "bans"), false, fn, ud);
	sanction_keys(cJSON_GetObjectItemCaseSensitive(doc, "mutes"), true, fn, ud);
	freeze_keys(cJSON_GetObjectItemCaseSensitive(doc, "freezes"), fn, ud);
	const cJSON *words = cJSON_GetObjectItemCaseSensitive(doc, "bannedWords");
	if (words) fn(ud, "words", words);
}

static cJSON *parse_value(const struct peer_key *k)
{
	return k->value ? cJSON_Parse(k->value) : NULL;
}

/* Adds member key k (member/{room}/{user}) to its room in rooms, when the
 * room is there. */
static void add_member(cJSON *rooms, const struct peer_key *k)
{
	const char *room = k->key + 7, *slash = strchr(room, '/');
	cJSON *r;
	if (!slash) return;
	cJSON_ArrayForEach(r, rooms) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "room");
		if (!cJSON_IsString(id) || strlen(id->valuestring) != (size_t)(slash - room) ||
		    memcmp(id->valuestring, room, (size_t)(slash - room)) != 0)
			continue;
		cJSON *m = cJSON_CreateObject(), *role = parse_value(k);
		if (!m || !role) {
			cJSON_Delete(m);
			cJSON_Delete(role);
			return;
		}
		cJSON_AddStringToObject(m, "user", slash + 1);
		cJSON_AddItemToObject(m, "role", role);
		cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(r, "members"), m);
		return;
	}
}

static void add_to(cJSON *list, const struct peer_key *k)
{
	cJSON *v = parse_value(k);
	if (v) cJSON_AddItemToArray(list, v);
}

/* The state document of the view's live keys. */
static cJSON *view_state(const struct chat_peer *p)
{
	cJSON *doc = cJSON_CreateObject(), *rooms = cJSON_CreateArray(), *bans = cJSON_CreateArray(),
	      *mutes = cJSON_CreateArray(), *freezes = cJSON_CreateArray();
	const struct peer_key *k;
	if (!doc || !rooms || !bans || !mutes || !freezes) {
		cJSON_Delete(doc);
		cJSON_Delete(rooms);
		cJSON_Delete(bans);
		cJSON_Delete(mutes);
		cJSON_Delete(freezes);
		return NULL;
	}
	cJSON_AddNumberToObject(doc, "version", 1);
	cJSON_AddItemToObject(doc, "rooms", rooms);
	cJSON_AddItemToObject(doc, "bans", bans);
	cJSON_AddItemToObject(doc, "mutes", mutes);
	cJSON_AddItemToObject(doc, "freezes", freezes);
	for (k = p->keys; k; k = k->hh.next) {
		if (!k->value || strncmp(k->key, "room/", 5) != 0) continue;
		cJSON *r = parse_value(k);
		if (!r) continue;
		cJSON_AddItemToObject(r, "members", cJSON_CreateArray());
		cJSON_AddItemToArray(rooms, r);
	}
	for (k = p->keys; k; k = k->hh.next) {
		if (!k->value) continue;
		if (strncmp(k->key, "member/", 7) == 0) add_member(rooms, k);
		else if (strncmp(k->key, "ban/", 4) == 0) add_to(bans, k);
		else if (strncmp(k->key, "mute/", 5) == 0) add_to(mutes, k);
		else if (strncmp(k->key, "freeze/", 7) == 0) add_to(freezes, k);
		else if (strcmp(k->key, "words") == 0) cJSON_AddItemToObject(doc, "bannedWords", parse_value(k));
	}
	return doc;
}

/* ---- records ----------------------------------------------------------- */

static void record_key(cJSON *keys, const struct peer_key *k)
{
	cJSON *o = cJSON_CreateObject();
	if (!o) return;
	cJSON_AddStringToObject(o, "k", k->key);
	if (k->value) cJSON_AddStringToObject(o, "v", k->value);
	else cJSON_AddNullToObject(o, "v");
	cJSON_AddNumberToObject(o, "t", (double)k->ts);
	cJSON_AddStringToObject(o, "n", k->node);
	cJSON_AddItemToArray(keys, o);
}

static void publish_record(struct chat *c, cJSON *keys, bool snapshot)
{
	cJSON *rec = cJSON_CreateObject();
	if (!rec) {
		cJSON_Delete(keys);
		return;
	}
	cJSON_AddStringToObject(rec, "node", c->peer->node);
	cJSON_AddBoolToObject(rec, "snapshot", snapshot);
	cJSON_AddItemToObject(rec, "keys", keys);
	char *text = cJSON_PrintUnformatted(rec);
	cJSON_Delete(rec);
	if (text) chat_publish(PEER_OUT "state", text, strlen(text), false);
	free(text);
}

/* The keys of a state document, as a table of their own (value = text). */
static void collect_key(void *ud, const char *key, const cJSON *value)
{
	struct chat_peer *tmp = ud;
	char *text = cJSON_PrintUnformatted(value);
	struct peer_key *k = text ? key_get(tmp, key, true) : NULL;
	if (k) set_value(k, text);
	free(text);
}

/* Versions key k of the view with value (NULL = deleted) as a change made
 * here now, and adds it to the record. */
static void change(struct chat *c, struct peer_key *k, const char *value, uint64_t now, cJSON *keys)
{
	if (set_value(k, value) != MOSQ_ERR_SUCCESS) return;
	k->ts = now;
	snprintf(k->node, sizeof(k->node), "%s", c->peer->node);
	if (keys) record_key(keys, k);
}

/* Compares the running state with the view. With keys NULL (at start) the
 * state is taken as it is, at version 0; else every difference is
 * versioned now and added to keys. */
static void diff_state(struct chat *c, uint64_t now, cJSON *keys)
{
	struct chat_peer *p = c->peer, fresh = {0};
	cJSON *doc = chat_state_json(c);
	if (!doc) return;
	state_keys(doc, collect_key, &fresh);
	cJSON_Delete(doc);
	for (struct peer_key *f = fresh.keys; f; f = f->hh.next) {
		struct peer_key *k = key_get(p, f->key, true);
		if (!k || cmp_value(f->value, k->value) == 0) continue;
		if (keys) change(c, k, f->value, now, keys);
		else set_value(k, f->value);
	}
	for (struct peer_key *k = p->keys; keys && k; k = k->hh.next) {
		struct peer_key *f = NULL;
		if (!k->value) continue;
		HASH_FIND_STR(fresh.keys, k->key, f);
		if (!f) change(c, k, NULL, now, keys);
	}
	peer_state_free(&fresh);
}

static void send_snapshot(struct chat *c)
{
	cJSON *keys = cJSON_CreateArray();
	if (!keys) return;
	for (const struct peer_key *k = c->peer->keys; k; k = k->hh.next) record_key(keys, k);
	publish_record(c, keys, true);
}

void peer_state_tick(struct chat *c, uint64_t now)
{
	struct chat_peer *p = c->peer;
	if (!p->view_ready) {
		diff_state(c, now, NULL);
		p->view_ready = true;
	}
	if (p->local_change) {
		p->local_change = false;
		cJSON *keys = cJSON_CreateArray();
		if (keys) diff_state(c, now, keys);
		if (keys && cJSON_GetArraySize(keys) > 0) publish_record(c, keys, false);
		else cJSON_Delete(keys);
	}
	if (p->snapshot_due) {
		p->snapshot_due = false;
		send_snapshot(c);
	}
}

/* Applies one key of a record; true when it changed the view. */
static bool apply_key(struct chat_peer *p, const cJSON *o)
{
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(o, "k"), *v = cJSON_GetObjectItemCaseSensitive(o, "v");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "t"), *n = cJSON_GetObjectItemCaseSensitive(o, "n");
	if (!cJSON_IsString(key) || !cJSON_IsNumber(t) || !cJSON_IsString(n) || (!cJSON_IsString(v) && !cJSON_IsNull(v)))
		return false;
	const char *value = cJSON_IsString(v) ? v->valuestring : NULL;
	uint64_t ts = t->valuedouble > 0 ? (uint64_t)t->valuedouble : 0;
	struct peer_key *k = key_get(p, key->valuestring, false);
	if (k && !newer(k, ts, n->valuestring, value)) return false;
	if (!k && !value) {
		k = key_get(p, key->valuestring, true); /* a tombstone: remember it */
		if (k) {
			k->ts = ts;
			snprintf(k->node, sizeof(k->node), "%s", n->valuestring);
		}
		return false;
	}
	if (!k) k = key_get(p, key->valuestring, true);
	if (!k || set_value(k, value) != MOSQ_ERR_SUCCESS) return false;
	k->ts = ts;
	snprintf(k->node, sizeof(k->node), "%s", n->valuestring);
	return true;
}

static void mark_synced(struct chat_peer *p, const char *node)
{
	for (size_t i = 0; i < p->peers.count; i++) {
		if (strcmp(p->peers.items[i], node) == 0) p->synced[i] = true;
	}
}

/* Replaces the running state with the view. */
static void rebuild(struct chat *c)
{
	cJSON *doc = view_state(c->peer);
	if (!doc) return;
	c->peer->applying = true;
	chat_state_adopt_json(c, doc);
	c->peer->applying = false;
	cJSON_Delete(doc);
}

void peer_state_on_record(struct chat *c, const char *payload, size_t len)
{
	struct chat_peer *p = c->peer;
	cJSON *rec = cJSON_ParseWithLength(payload, len);
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(rec, "node");
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(rec, "keys"), *o;
	if (!cJSON_IsString(node) || !cJSON_IsArray(keys) || strcmp(node->valuestring, p->node) == 0) {
		cJSON_Delete(rec);
		return;
	}
	if (!p->view_ready) { /* a record before the first tick: take the state first */
		diff_state(c, 0, NULL);
		p->view_ready = true;
	}
	if (p->local_change) peer_state_tick(c, chat_now_ms()); /* version local edits before they are overwritten */
	bool changed = false;
	cJSON_ArrayForEach(o, keys) changed = apply_key(p, o) || changed;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "snapshot"))) mark_synced(p, node->valuestring);
	if (changed) rebuild(c);
	mosquitto_log_printf(MOSQ_LOG_DEBUG, CHAT_LOG_PREFIX "scale-out: state record from %s: %d key(s)%s",
			     node->valuestring, cJSON_GetArraySize(keys), changed ? ", applied" : "");
	cJSON_Delete(rec);
}

void chat_peer_state_changed(struct chat *c)
{
	if (c->peer && !c->peer->applying) c->peer->local_change = true;
}
