/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the messenger tests (47-49, 54): posting into a room
 * and taking the id of the envelope a member receives, asking the bridge
 * for history or a search as a user, and reading fields of stored
 * documents.
 */
#ifndef CHAT_TEST_4Y_UTIL_H
#define CHAT_TEST_4Y_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "6x-util.h"

/* The plugin's flood control is not under test here. */
#define Y_UNTHROTTLED "plugin_opt_flood_rate 0\nplugin_opt_flood_repeat 0\n"

/* tx sends payload into room, rx receives its envelope: its id into id
 * (27 bytes), the envelope returned (cJSON_Delete it). */
static inline cJSON *y_post(struct tc *tx, struct tc *rx, const char *room, const char *payload, char *id)
{
	cJSON *env = m_deliver(tx, rx, room, payload);
	const char *got = c_str(env, "id");
	if (!got) fail_msg("envelope without id for %s", payload);
	snprintf(id, 27, "%s", got);
	return env;
}

/* The string field key of a bson document into out; false when absent. */
static inline bool y_doc_str(const bson_t *doc, const char *key, char *out, size_t cap)
{
	bson_iter_t it;
	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it)) return false;
	snprintf(out, cap, "%s", bson_iter_utf8(&it, NULL));
	return true;
}

/* The stored message (room, id), once filter_extra (a JSON fragment
 * such as "\"deleted\":true", or "") also holds; NULL after 10 s. */
static inline bson_t *y_stored(struct harness *h, const char *room, const char *id, const char *extra)
{
	char filter[512];
	snprintf(filter, sizeof(filter), "{\"room\":\"%s\",\"id\":\"%s\"%s%s}", room, id, extra[0] ? "," : "", extra);
	return h_mongo_wait_one(h, "messages", filter, 10000);
}

/* A request (history or search) as c, whose inbox is subscribed, on
 * room's history topic; the answer (cJSON_Delete it). */
static inline cJSON *y_history(struct tc *c, const char *user, const char *room, const char *request)
{
	char topic[160];
	assert_int_equal(tc_pub(c, m_topic(topic, sizeof(topic), room, "history"), request, 1) & 0x80, 0);
	for (;;) {
		cJSON *n = m_notice(c, user);
		const char *type = c_str(n, "type");
		if (type && (strcmp(type, "history") == 0 || strcmp(type, "search") == 0)) return n;
		cJSON_Delete(n);
	}
}

/* The message with this id in an answer's "messages", or NULL. */
static inline const cJSON *y_find(const cJSON *answer, const char *id)
{
	const cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(answer, "messages")) {
		const char *got = c_str(m, "id");
		if (got && strcmp(got, id) == 0) return m;
	}
	return NULL;
}

/* The refusal reason user's next inbox notice gives. Fails when it is not want. */
static inline void y_refused(struct tc *c, const char *user, const char *want)
{
	cJSON *n = m_refusal(c, user);
	m_expect(n, "reason", want);
	cJSON_Delete(n);
}

#endif
