/* SPDX-License-Identifier: MIT */
/*
 * Presence across brokers (docs/scale-out.md, "Presence"). Each broker
 * counts its own sessions per user (presence.c) and tells its peers, on
 * chatpeer/out/presence:
 *
 *   {"node":"n0","users":{"alice":1,"bob":0}}          counts that changed
 *   {"node":"n0","full":true,"users":{...}}            all non-zero counts
 *   {"node":"n0"}                                      a heartbeat
 *
 * Changes are batched per tick; a full list goes out when a peer
 * subscribes, a heartbeat every second. A user's shown count is the local
 * one plus every live peer's; a peer not heard from for three seconds is
 * dropped with its counts, so a broker that dies leaves no user online.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "peer_int.h"
#include "sessions.h"
#include "topic.h"

#define BEAT_MS 1000u

struct peer_count {
	UT_hash_handle hh;
	unsigned sessions;
	char user[TOPIC_ID_MAX + 1];
};

struct peer_node {
	UT_hash_handle hh;
	uint64_t last_ms;
	struct peer_count *counts;
	char node[TOPIC_ID_MAX + 1];
};

static void counts_free(struct peer_node *n)
{
	struct peer_count *e, *t;
	HASH_ITER(hh, n->counts, e, t) {
		HASH_DEL(n->counts, e);
		mosquitto_free(e);
	}
}

void peer_presence_free(struct chat_peer *p)
{
	struct peer_node *n, *t;
	HASH_ITER(hh, p->nodes, n, t) {
		HASH_DEL(p->nodes, n);
		counts_free(n);
		mosquitto_free(n);
	}
	cJSON_Delete(p->presence_pending);
	p->presence_pending = NULL;
}

unsigned chat_peer_sessions(const struct chat *c, const char *user)
{
	unsigned total = 0;
	if (!c->peer || !user) return 0;
	for (const struct peer_node *n = c->peer->nodes; n; n = n->hh.next) {
		const struct peer_count *e = NULL;
		HASH_FIND_STR(n->counts, user, e);
		if (e) total += e->sessions;
	}
	return total;
}

void chat_peer_presence_changed(struct chat *c, const char *user, unsigned sessions)
{
	struct chat_peer *p = c->peer;
	if (!p || peer_list_has(&p->users, user)) return;
	if (!p->presence_pending) p->presence_pending = cJSON_CreateObject();
	if (!p->presence_pending) return;
	cJSON_DeleteItemFromObjectCaseSensitive(p->presence_pending, user);
	cJSON_AddNumberToObject(p->presence_pending, user, sessions);
}

/* Sets node's count for user and republishes the user's presence. user
 * may be the entry's own name, which this frees: it is copied first. */
static void set_count(struct chat *c, struct peer_node *n, const char *name, unsigned sessions)
{
	char user[TOPIC_ID_MAX + 1];
	struct peer_count *e = NULL;
	snprintf(user, sizeof(user), "%s", name);
	HASH_FIND_STR(n->counts, user, e);
	unsigned before = e ? e->sessions : 0;
	if (before == sessions) return;
	unsigned local = chat_user_sessions(c, user), others = chat_peer_sessions(c, user) - before;
	bool flipped = (local + others + before > 0) != (local + others + sessions > 0);
	if (!e && sessions) {
		e = mosquitto_calloc(1, sizeof(*e));
		if (!e) return;
		snprintf(e->user, sizeof(e->user), "%s", user);
		HASH_ADD_STR(n->counts, user, e);
	}
	if (sessions) {
		e->sessions = sessions;
	} else {
		HASH_DEL(n->counts, e);
		mosquitto_free(e);
	}
	chat_presence_refresh(c, user, flipped);
}

static struct peer_node *node_get(struct chat_peer *p, const char *node)
{
	struct peer_node *n = NULL;
	HASH_FIND_STR(p->nodes, node, n);
	if (n) return n;
	n = mosquitto_calloc(1, sizeof(*n));
	if (!n) return NULL;
	snprintf(n->node, sizeof(n->node), "%s", node);
	HASH_ADD_STR(p->nodes, node, n);
	return n;
}

/* A full list: users it no longer names have no session there. */
static void clear_missing(struct chat *c, struct peer_node *n, const cJSON *users)
{
	struct peer_count *e, *t;
	HASH_ITER(hh, n->counts, e, t) {
		if (!cJSON_GetObjectItemCaseSensitive(users, e->user)) set_count(c, n, e->user, 0);
	}
}

void peer_presence_on_record(struct chat *c, const char *payload, size_t len, uint64_t now)
{
	cJSON *rec = cJSON_ParseWithLength(payload, len);
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(rec, "node");
	const cJSON *users = cJSON_GetObjectItemCaseSensitive(rec, "users"), *u;
	struct peer_node *n = NULL;
	if (cJSON_IsString(node) && strcmp(node->valuestring, c->peer->node) != 0 &&
	    topic_user_valid(node->valuestring, strlen(node->valuestring)))
		n = node_get(c->peer, node->valuestring);
	if (!n) {
		cJSON_Delete(rec);
		return;
	}
	n->last_ms = now;
	if (cJSON_IsObject(users) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "full")))
		clear_missing(c, n, users);
	const cJSON *list = cJSON_IsObject(users) ? users : NULL;
	cJSON_ArrayForEach(u, list) {
		if (!cJSON_IsNumber(u) || u->valuedouble < 0 || u->valuedouble > 1e6) continue;
		if (!topic_user_valid(u->string, strlen(u->string))) continue;
		set_count(c, n, u->string, (unsigned)u->valuedouble);
	}
	cJSON_Delete(rec);
}

static void send_record(struct chat *c, cJSON *users, bool full)
{
	cJSON *rec = cJSON_CreateObject();
	if (!rec) {
		cJSON_Delete(users);
		return;
	}
	cJSON_AddStringToObject(rec, "node", c->peer->node);
	if (full) cJSON_AddBoolToObject(rec, "full", true);
	if (users) cJSON_AddItemToObject(rec, "users", users);
	char *text = cJSON_PrintUnformatted(rec);
	cJSON_Delete(rec);
	if (text) chat_publish(PEER_OUT "presence", text, strlen(text), false);
	free(text);
}

static cJSON *local_counts(struct chat *c)
{
	cJSON *users = cJSON_CreateObject();
	for (const struct presence_user *u = c->sessions ? c->sessions->users : NULL; users && u; u = u->hh.next) {
		if (u->sessions && !peer_list_has(&c->peer->users, u->user))
			cJSON_AddNumberToObject(users, u->user, u->sessions);
	}
	return users;
}

/* Peers silent for too long are gone, with their sessions. */
static void expire(struct chat *c, uint64_t now)
{
	struct peer_node *n, *t;
	HASH_ITER(hh, c->peer->nodes, n, t) {
		if (now - n->last_ms < c->peer->presence_expire_ms) continue;
		mosquitto_log_printf(MOSQ_LOG_NOTICE, CHAT_LOG_PREFIX "scale-out: no word from %s for %llu ms: its "
				     "sessions are gone", n->node, (unsigned long long)(now - n->last_ms));
		struct peer_count *e, *et;
		HASH_ITER(hh, n->counts, e, et) set_count(c, n, e->user, 0);
		HASH_DEL(c->peer->nodes, n);
		mosquitto_free(n);
	}
}

void peer_presence_tick(struct chat *c, uint64_t now)
{
	struct chat_peer *p = c->peer;
	if (p->presence_snapshot_due) {
		p->presence_snapshot_due = false;
		cJSON_Delete(p->presence_pending);
		p->presence_pending = NULL;
		send_record(c, local_counts(c), true);
		p->last_beat_ms = now;
	} else if (p->presence_pending) {
		send_record(c, p->presence_pending, false);
		p->presence_pending = NULL;
		p->last_beat_ms = now;
	} else if (now - p->last_beat_ms >= BEAT_MS) {
		send_record(c, NULL, false);
		p->last_beat_ms = now;
	}
	expire(c, now);
}
