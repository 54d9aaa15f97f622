/* SPDX-License-Identifier: MIT */
/*
 * Coalescing and unread counts. A burst of ten messages to an offline
 * member makes one notification that says ten; the next message, after
 * the window, makes its own. After the member's read marker (published
 * on chat/rooms/{room}/read, stored by the bridge) the unread count starts
 * from the marker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "3x-util.h"

#define ROOM_TOPIC "chat/rooms/general/messages"

static struct harness H;
static struct hr *R;

static int setup(void **state)
{
	(void)state;
	h_init(&H, "31-push-coalesce");
	R = hr_start();
	h_start_mongo(&H);
	h_start_broker(&H, P_BROKER_CONF);
	h_start_bridge(&H, "push_coalesce_ms 1500\npush_allow_private true\npush_allow_http true\n");
	const char *members[] = {"alice", "bob", NULL};
	assert_true(h_setup_room(&H, "general", members));
	return 0;
}

/* The id of the stored message with this text. */
static void message_id(const char *text, char *id, size_t cap)
{
	char filter[128];
	snprintf(filter, sizeof(filter), "{\"room\":\"general\",\"text\":\"%s\"}", text);
	bson_t *doc = h_mongo_wait_one(&H, "messages", filter, P_WAIT_MS);
	assert_non_null(doc);
	bson_iter_t it;
	assert_true(bson_iter_init_find(&it, doc, "id"));
	snprintf(id, cap, "%s", bson_iter_utf8(&it, NULL));
	bson_destroy(doc);
}

static void test_burst_is_one_notification(void **state)
{
	(void)state;
	char text[32];
	struct tc *obs = p_observer(&H);
	p_webhook_device(&H, R, "bob", "bob-phone", "/bob");
	struct tc *alice = tc_open(&H, "alice-app", "alice", TC_V5);
	p_wait_presence(obs, "bob", false);
	p_barrier(&H);

	for (int i = 1; i <= 10; i++) {
		snprintf(text, sizeof(text), "m%d", i);
		assert_int_equal(tc_pub(alice, ROOM_TOPIC, text, 1), 0);
	}
	assert_true(hr_wait(R, "/bob", 1, P_WAIT_MS));
	struct hr_request *q = hr_get(R, "/bob", 0);
	assert_int_equal(p_json_long(q->body, "count"), 10);
	assert_int_equal(p_json_long(q->body, "unread"), 10);
	assert_non_null(strstr(q->body, "10 new messages"));
	assert_non_null(strstr(q->body, "m10"));
	hr_request_free(q);

	/* The next message opens a new window: its own notification, and
	 * still exactly two in all. */
	assert_int_equal(tc_pub(alice, ROOM_TOPIC, "m11", 1), 0);
	assert_true(hr_wait(R, "/bob", 2, P_WAIT_MS));
	q = hr_get(R, "/bob", 1);
	assert_int_equal(p_json_long(q->body, "count"), 1);
	assert_int_equal(p_json_long(q->body, "unread"), 11);
	assert_non_null(strstr(q->body, "\"body\":\"m11\""));
	hr_request_free(q);
	assert_int_equal(hr_count(R, "/bob"), 2);
	tc_close(alice);
	tc_close(obs);
}

static void test_unread_counts_from_read_marker(void **state)
{
	(void)state;
	char id[64], json[128];
	struct tc *obs = p_observer(&H);
	message_id("m9", id, sizeof(id));
	/* Bob reads up to m9 from another device, then goes away again. */
	struct tc *bob = tc_open(&H, "bob-app", "bob", TC_V5);
	snprintf(json, sizeof(json), "{\"upto\":\"%s\"}", id);
	assert_int_equal(tc_pub(bob, "chat/rooms/general/read", json, 1), 0);
	tc_close(bob);
	snprintf(json, sizeof(json), "{\"user\":\"bob\",\"room\":\"general\",\"upto\":\"%s\"}", id);
	bson_t *marker = h_mongo_wait_one(&H, "reads", json, P_WAIT_MS);
	assert_non_null(marker);
	bson_destroy(marker);
	struct tc *alice = tc_open(&H, "alice-app2", "alice", TC_V5);
	p_wait_presence(obs, "bob", false);
	p_barrier(&H);

	assert_int_equal(tc_pub(alice, ROOM_TOPIC, "m12", 1), 0);
	assert_true(hr_wait(R, "/bob", 3, P_WAIT_MS));
	struct hr_request *q = hr_get(R, "/bob", 2);
	assert_int_equal(p_json_long(q->body, "count"), 1);
	assert_int_equal(p_json_long(q->body, "unread"), 3); /* m10, m11, m12 */
	hr_request_free(q);
	tc_close(alice);
	tc_close(obs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_is_one_notification),
	    cmocka_unit_test(test_unread_counts_from_read_marker),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	bool clean = h_finish(&H, failed != 0);
	hr_stop(R);
	return clean ? failed : 1;
}
