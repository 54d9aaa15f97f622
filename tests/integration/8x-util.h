/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the live-room tests (80-89): a viewer that joins a
 * live room the way topics.md "Live rooms" tells a client to (rooms list,
 * join topic, then the shard topic the rooms list names), and batches
 * parsed with cJSON. Every wait has a deadline.
 */
#ifndef CHAT_TEST_8X_UTIL_H
#define CHAT_TEST_8X_UTIL_H

#include "5x-util.h"

/* The entry of room in a rooms list payload (borrowed from list), or NULL. */
static inline const cJSON *l_entry(const cJSON *list, const char *room)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, list)
	{
		const char *r = c_str(e, "room");
		if (r && strcmp(r, room) == 0) return e;
	}
	return NULL;
}

/* Waits for the user's rooms list to give room's shard as want (0 = no
 * shard); returns the shard topic given (static buffer) or "". */
static inline const char *l_wait_shard(struct tc *c, const char *user, const char *room, int want)
{
	static char topic_out[128];
	char topic[96];
	snprintf(topic, sizeof(topic), "chat/users/%s/rooms", user);
	long long deadline = h_now_ms() + TC_WAIT_MS;
	int last = -1;
	while (h_now_ms() < deadline) {
		struct tc_msg *m = tc_wait(c, topic, (int)(deadline - h_now_ms()));
		if (!m) break;
		cJSON *list = cJSON_Parse(m->payload);
		tc_msg_free(m);
		const cJSON *e = l_entry(list, room);
		const cJSON *shard = e ? cJSON_GetObjectItemCaseSensitive(e, "shard") : NULL;
		last = cJSON_IsNumber(shard) ? shard->valueint : 0;
		const char *st = e ? c_str(e, "shardTopic") : NULL;
		snprintf(topic_out, sizeof(topic_out), "%s", st ? st : "");
		bool live = e && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "live"));
		cJSON_Delete(list);
		if (live && last == want) return topic_out;
	}
	fail_msg("%s: rooms list never gave %s shard %d (last %d)", user, room, want, last);
	return "";
}

/* A viewer: connects as user (v5), reads its rooms list, joins room and
 * subscribes to the shard topic its rooms list names, which must be shard
 * want. */
static inline struct tc *l_viewer(struct harness *h, const char *client_id, const char *user, const char *room,
				  int want)
{
	char topic[96];
	struct tc *v = tc_open(h, client_id, user, TC_V5);
	snprintf(topic, sizeof(topic), "chat/users/%s/rooms", user);
	assert_int_equal(tc_subscribe(v, topic, 1), 1); /* the retained list, if any, comes first */
	snprintf(topic, sizeof(topic), "chat/rooms/%s/live", room);
	assert_int_equal(tc_subscribe(v, topic, 1), 1);
	const char *st = l_wait_shard(v, user, room, want);
	char expect[128];
	snprintf(expect, sizeof(expect), "chat/rooms/%s/live/%d", room, want);
	assert_string_equal(st, expect);
	assert_int_equal(tc_subscribe(v, expect, 1), 1);
	return v;
}

/* The next batch on topic, parsed (cJSON_Delete it); fails after the wait. */
static inline cJSON *l_batch(struct tc *c, const char *topic)
{
	cJSON *b = c_wait_json(c, topic);
	const char *type = c_str(b, "type");
	if (!type || strcmp(type, "batch") != 0) fail_msg("not a batch on %s", topic);
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(b, "messages"))) fail_msg("batch without messages");
	return b;
}

/* The text of message i of batch b (borrowed), or NULL. */
static inline const char *l_text(const cJSON *b, int i)
{
	return c_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(b, "messages"), i), "text");
}

static inline int l_count(const cJSON *b)
{
	return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(b, "messages"));
}

/* Waits for batches on topic until one carries a message with text;
 * returns the number of batches read, or fails after the wait. */
static inline int l_wait_text(struct tc *c, const char *topic, const char *text)
{
	long long deadline = h_now_ms() + TC_WAIT_MS;
	int batches = 0;
	while (h_now_ms() < deadline) {
		struct tc_msg *m = tc_wait(c, topic, (int)(deadline - h_now_ms()));
		if (!m) break;
		cJSON *b = cJSON_Parse(m->payload);
		tc_msg_free(m);
		batches++;
		for (int i = 0; b && i < l_count(b); i++) {
			const char *t = l_text(b, i);
			if (t && strcmp(t, text) == 0) {
				cJSON_Delete(b);
				return batches;
			}
		}
		cJSON_Delete(b);
	}
	fail_msg("no batch on %s carried '%s'", topic, text);
	return 0;
}

#endif
