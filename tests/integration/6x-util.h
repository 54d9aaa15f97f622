/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the 6x tests (banned words, flood control), on top of
 * the admin helpers of 5x-util.h: publishing into a room and reading the
 * envelope a member receives, the sender's inbox notices and the room's
 * moderation events, all parsed with cJSON and all with deadlines.
 */
#ifndef CHAT_TEST_6X_UTIL_H
#define CHAT_TEST_6X_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "5x-util.h"

/* chat/rooms/{room}/{leaf} into buf. */
static inline const char *m_topic(char *buf, size_t cap, const char *room, const char *leaf)
{
	snprintf(buf, cap, "chat/rooms/%s/%s", room, leaf);
	return buf;
}

/* Publishes payload (QoS 1) into room; returns the PUBACK reason code (0
 * for MQTT 3.1.1, which has none), with v5's 16 "no matching subscribers"
 * reported as 0: accepted all the same. */
static inline int m_send(struct tc *c, const char *room, const char *payload)
{
	char topic[160];
	int rc = tc_pub(c, m_topic(topic, sizeof(topic), room, "messages"), payload, 1);
	return rc == 16 ? 0 : rc;
}

/* The next envelope rx receives in room (cJSON_Delete it). */
static inline cJSON *m_envelope(struct tc *rx, const char *room)
{
	char topic[160];
	return c_wait_json(rx, m_topic(topic, sizeof(topic), room, "messages"));
}

/* Sends payload as tx, which must be accepted, and returns the envelope
 * rx receives. */
static inline cJSON *m_deliver(struct tc *tx, struct tc *rx, const char *room, const char *payload)
{
	int rc = m_send(tx, room, payload);
	if (rc != 0) fail_msg("'%s' in %s refused with %d", payload, room, rc);
	return m_envelope(rx, room);
}

/* The delivered text of payload sent by tx and read by rx, into out. */
static inline void m_text(struct tc *tx, struct tc *rx, const char *room, const char *payload, char *out, size_t cap)
{
	cJSON *env = m_deliver(tx, rx, room, payload);
	const char *text = c_str(env, "text");
	if (!text) fail_msg("envelope without text for '%s'", payload);
	snprintf(out, cap, "%s", text);
	cJSON_Delete(env);
}

/*
 * True when rx received nothing in room before a marker: tx (whose
 * messages are delivered in order) sends the text marker into room after
 * the message under test, and rx must see the marker first. Fails the test
 * when the marker never comes.
 */
static inline bool m_nothing_before_marker(struct tc *tx, struct tc *rx, const char *room, const char *marker)
{
	char topic[160];
	if (m_send(tx, room, marker) != 0) fail_msg("marker %s refused", marker);
	m_topic(topic, sizeof(topic), room, "messages");
	struct tc_msg *m = tc_wait(rx, topic, TC_WAIT_MS);
	if (!m) fail_msg("marker %s never arrived", marker);
	bool is_marker = strstr(m->payload, marker) != NULL;
	if (!is_marker) fprintf(stderr, "delivered before the marker: %s\n", m->payload);
	tc_msg_free(m);
	return is_marker;
}

/* Subscribes c to user's inbox. */
static inline void m_inbox_sub(struct tc *c, const char *user)
{
	char topic[160];
	snprintf(topic, sizeof(topic), "chat/users/%s/inbox", user);
	assert_int_equal(tc_subscribe(c, topic, 1), 1);
}

/* The next notice on user's inbox (cJSON_Delete it). */
static inline cJSON *m_notice(struct tc *c, const char *user)
{
	char topic[160];
	snprintf(topic, sizeof(topic), "chat/users/%s/inbox", user);
	return c_wait_json(c, topic);
}

/* The next refusal notice ({"type":"error"}) on user's inbox, skipping
 * other notices (e.g. an admin's mute or unmute). */
static inline cJSON *m_refusal(struct tc *c, const char *user)
{
	for (;;) {
		cJSON *n = m_notice(c, user);
		const char *type = c_str(n, "type");
		if (type && strcmp(type, "error") == 0) return n;
		cJSON_Delete(n);
	}
}

/* The next event on the room's events topic (cJSON_Delete it). */
static inline cJSON *m_event(struct tc *c, const char *room)
{
	char topic[160];
	return c_wait_json(c, m_topic(topic, sizeof(topic), room, "events"));
}

/* Fails unless the string member key of o equals want. */
static inline void m_expect(const cJSON *o, const char *key, const char *want)
{
	const char *got = c_str(o, key);
	if (!got || strcmp(got, want) != 0) {
		char *text = cJSON_PrintUnformatted(o);
		fail_msg("%s: expected '%s' in %s", key, want, text ? text : "?");
	}
}

/* True when the JSON array list holds the string s. */
static inline bool m_has_string(const cJSON *list, const char *s)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, list) {
		if (cJSON_IsString(v) && strcmp(v->valuestring, s) == 0) return true;
	}
	return false;
}

#endif
