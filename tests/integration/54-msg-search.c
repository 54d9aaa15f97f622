/* SPDX-License-Identifier: MIT */
/*
 * Search within a room: {"q":"..."} on chat/rooms/{room}/history, over
 * MQTT 5 (Response Topic, Correlation Data) and 3.1.1 (the inbox): the
 * room's messages holding the text, case-insensitively, newest first,
 * paged with before; the text is matched literally (no pattern syntax);
 * deleted messages are not found; only members may search.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mqtt_protocol.h>

#include "4y-util.h"

#define ROOM "r54"

static struct harness H;
static const char *const members[] = {"alice", "bob", NULL};
static char ids[6][27];

static const char *const texts[] = {"Lunch at noon", "점심 먹자", "dinner later", "a.c", "abc",
				    "lunch? 점심 메뉴"};

static int setup(void **state)
{
	(void)state;
	h_init(&H, "54-msg-search");
	h_start_mongo(&H);
	h_start_broker(&H, Y_UNTHROTTLED);
	h_start_bridge(&H, NULL);
	assert_true(h_setup_room(&H, ROOM, members));
	assert_true(h_setup_room(&H, "r54b", members));
	struct tc *alice = tc_open(&H, "alice-54s", "alice", TC_V5);
	assert_int_equal(tc_subscribe(alice, "chat/rooms/" ROOM "/messages", 1), 1);
	for (int i = 0; i < 6; i++) {
		char payload[128];
		snprintf(payload, sizeof(payload), "{\"text\":\"%s\"}", texts[i]);
		cJSON_Delete(y_post(alice, alice, ROOM, payload, ids[i]));
	}
	assert_int_equal(m_send(alice, "r54b", "lunch elsewhere"), 0);
	tc_close(alice);
	return 0;
}

/* The ids of an answer's messages, space-separated, into out. */
static const char *found(const cJSON *answer, char *out, size_t cap)
{
	const cJSON *m;
	size_t n = 0;
	out[0] = '\0';
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(answer, "messages")) {
		n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? " " : "", c_str(m, "id"));
	}
	return out;
}

static void expect(const cJSON *answer, const char *q, const int *which, int count, bool more)
{
	char want[256] = "", got[256];
	size_t n = 0;
	for (int i = 0; i < count; i++) n += (size_t)snprintf(want + n, sizeof(want) - n, "%s%s", i ? " " : "", ids[which[i]]);
	m_expect(answer, "type", "search");
	m_expect(answer, "q", q);
	assert_string_equal(found(answer, got, sizeof(got)), want);
	assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(answer, "more")), more);
}

static void test_search_v311(void **state)
{
	(void)state;
	struct tc *bob = tc_open(&H, "bob-54", "bob", TC_V311);
	m_inbox_sub(bob, "bob");
	cJSON *a = y_history(bob, "bob", ROOM, "{\"q\":\"LUNCH\"}");
	expect(a, "LUNCH", (const int[]){5, 0}, 2, false); /* newest first, this room only */
	cJSON_Delete(a);
	a = y_history(bob, "bob", ROOM, "{\"q\":\"점심\",\"limit\":1}");
	expect(a, "점심", (const int[]){5}, 1, true);
	cJSON_Delete(a);
	char req[128];
	snprintf(req, sizeof(req), "{\"q\":\"점심\",\"limit\":1,\"before\":\"%s\"}", ids[5]);
	a = y_history(bob, "bob", ROOM, req);
	expect(a, "점심", (const int[]){1}, 1, false);
	cJSON_Delete(a);
	/* Literal: "a.c" is no pattern that "abc" would match. */
	a = y_history(bob, "bob", ROOM, "{\"q\":\"a.c\"}");
	expect(a, "a.c", (const int[]){3}, 1, false);
	cJSON_Delete(a);
	a = y_history(bob, "bob", ROOM, "{\"q\":\"(\"}");
	expect(a, "(", (const int[]){0}, 0, false);
	cJSON_Delete(a);
	a = y_history(bob, "bob", ROOM, "{\"q\":\"x\\u0001\"}");
	assert_non_null(strstr(c_str(a, "error"), "q must be"));
	cJSON_Delete(a);
	tc_close(bob);
}

static void test_search_v5_and_deleted(void **state)
{
	(void)state;
	char payload[128];
	struct tc *alice = tc_open(&H, "alice-54", "alice", TC_V5);
	assert_int_equal(tc_subscribe(alice, "chat/users/alice/search-1", 1), 1);
	assert_int_equal(tc_subscribe(alice, "chat/rooms/" ROOM "/messages", 1), 1);
	snprintf(payload, sizeof(payload), "{\"delete\":\"%s\"}", ids[0]);
	cJSON_Delete(m_deliver(alice, alice, ROOM, payload));
	bson_t *doc = y_stored(&H, ROOM, ids[0], "\"deleted\":true");
	assert_non_null(doc);
	bson_destroy(doc);
	mosquitto_property *props = NULL;
	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "chat/users/alice/search-1");
	mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "c-54", 4);
	const char *req = "{\"q\":\"lunch\",\"cid\":\"s1\"}";
	assert_int_equal(tc_publish(alice, "chat/rooms/" ROOM "/history", req, (int)strlen(req), 1, false, props), 0);
	mosquitto_property_free_all(&props);
	struct tc_msg *m = tc_wait(alice, "chat/users/alice/search-1", TC_WAIT_MS);
	assert_non_null(m);
	assert_non_null(m->correlation);
	assert_memory_equal(m->correlation, "c-54", 4);
	cJSON *a = cJSON_Parse(m->payload);
	tc_msg_free(m);
	m_expect(a, "cid", "s1");
	expect(a, "lunch", (const int[]){5}, 1, false);
	cJSON_Delete(a);
	tc_close(alice);
}

static void test_search_members_only(void **state)
{
	(void)state;
	struct tc *carol = tc_open(&H, "carol-54", "carol", TC_V5);
	assert_int_equal(tc_pub(carol, "chat/rooms/" ROOM "/history", "{\"q\":\"lunch\"}", 1), 135);
	tc_close(carol);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_search_v311),
		cmocka_unit_test(test_search_v5_and_deleted),
		cmocka_unit_test(test_search_members_only),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
