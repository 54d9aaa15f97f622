/* SPDX-License-Identifier: MIT */
/*
 * Typing indicators on chat/rooms/{room}/typing, over MQTT 5 and 3.1.1:
 * members receive the server's event (never the client's payload), a
 * second "typing" within plugin_opt_typing_interval is dropped, readers
 * and strangers cannot type, service users (the bridge) cannot listen, a
 * "stopped" goes out when the typing session disconnects, and nothing of
 * it reaches MongoDB.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "6x-util.h"

#define ROOM "r47"
#define TYPING "chat/rooms/r47/typing"
#define INTERVAL_MS 400

static struct harness H;
static const char *const members[] = {"alice", "bob", "carol", NULL};

static int setup(void **state)
{
	(void)state;
	h_init(&H, "47-msg-typing");
	h_start_mongo(&H);
	h_start_broker(&H, "plugin_opt_typing_interval 400\nplugin_opt_flood_rate 0\nplugin_opt_flood_repeat 0\n");
	h_start_bridge(&H, NULL);
	assert_true(h_setup_room(&H, ROOM, members));
	struct tc *admin = c_admin(&H, "admin-47", TC_V5);
	c_do(admin, "{\"command\":\"setRoomMemberRole\",\"room\":\"" ROOM "\",\"user\":\"carol\",\"role\":\"reader\"}");
	tc_close(admin);
	return 0;
}

/* The next typing event rx receives; checks user, room and state. */
static void expect_typing(struct tc *rx, const char *user, bool typing)
{
	cJSON *ev = c_wait_json(rx, TYPING);
	m_expect(ev, "type", "typing");
	m_expect(ev, "room", ROOM);
	m_expect(ev, "user", user);
	assert_true(cJSON_IsBool(cJSON_GetObjectItem(ev, "typing")));
	assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(ev, "typing")), typing);
	assert_true(c_num(ev, "ts") > 0);
	if (typing) assert_int_equal((long)c_num(ev, "ttl"), 2 * INTERVAL_MS);
	else assert_null(cJSON_GetObjectItem(ev, "ttl"));
	cJSON_Delete(ev);
}

static void typing_between(int tx_proto, int rx_proto)
{
	struct tc *alice = tc_open(&H, "alice-47", "alice", tx_proto);
	struct tc *bob = tc_open(&H, "bob-47", "bob", rx_proto);
	assert_int_equal(tc_subscribe(bob, TYPING, 0), 0);
	assert_int_equal(tc_pub(alice, TYPING, "{\"typing\":true}", 0), 0);
	expect_typing(bob, "alice", true);
	/* Within the interval: dropped (v5 QoS 1 says so with 135). */
	int rc = tc_pub(alice, TYPING, "{}", 1);
	assert_int_equal(rc, tx_proto == TC_V5 ? 135 : 0);
	assert_true(tc_quiet(bob, TYPING, 200));
	h_sleep_ms(INTERVAL_MS);
	assert_int_equal(tc_pub(alice, TYPING, "", 0), 0); /* empty = typing */
	expect_typing(bob, "alice", true);
	assert_int_equal(tc_pub(alice, TYPING, "{\"typing\":false}", 0), 0);
	expect_typing(bob, "alice", false);
	/* Nothing to stop any more: dropped. */
	assert_int_equal(tc_pub(alice, TYPING, "{\"typing\":false}", 0), 0);
	assert_true(tc_quiet(bob, TYPING, 200));
	tc_close(alice);
	tc_close(bob);
}

static void test_typing_v5_to_v311(void **state)
{
	(void)state;
	typing_between(TC_V5, TC_V311);
}

static void test_typing_v311_to_v5(void **state)
{
	(void)state;
	h_sleep_ms(INTERVAL_MS); /* the last test's entry is gone by now */
	typing_between(TC_V311, TC_V5);
}

static void test_forged_payloads_dropped(void **state)
{
	(void)state;
	struct tc *alice = tc_open(&H, "alice-47f", "alice", TC_V5);
	struct tc *bob = tc_open(&H, "bob-47f", "bob", TC_V5);
	assert_int_equal(tc_subscribe(bob, TYPING, 0), 0);
	assert_int_equal(tc_pub(alice, TYPING, "{\"typing\":true,\"user\":\"mallory\"}", 1), 135);
	assert_int_equal(tc_pub(alice, TYPING, "typing", 1), 135);
	assert_int_equal(tc_pub(alice, TYPING, "{\"typing\":1}", 1), 135);
	assert_int_equal(tc_publish(alice, TYPING, "{}", 2, 1, true, NULL), 135); /* retained */
	assert_true(tc_quiet(bob, TYPING, 200));
	tc_close(alice);
	tc_close(bob);
}

static void test_who_may_type_and_listen(void **state)
{
	(void)state;
	struct tc *carol = tc_open(&H, "carol-47", "carol", TC_V5); /* a reader */
	struct tc *dave = tc_open(&H, "dave-47", "dave", TC_V5);    /* no member */
	struct tc *bridge = tc_open(&H, "bridge-47", "bridge", TC_V5);
	struct tc *bob = tc_open(&H, "bob-47w", "bob", TC_V5);
	assert_int_equal(tc_subscribe(bob, TYPING, 0), 0);
	assert_int_equal(tc_subscribe(carol, TYPING, 0), 0); /* readers see who types */
	assert_int_equal(tc_pub(carol, TYPING, "{}", 1), 135);
	assert_int_equal(tc_pub(dave, TYPING, "{}", 1), 135);
	assert_int_equal(tc_subscribe(dave, TYPING, 0), 135);
	/* Nothing stores typing: the service user may not listen, neither
	 * to one room nor to all. */
	assert_int_equal(tc_subscribe(bridge, TYPING, 0), 135);
	assert_int_equal(tc_subscribe(bridge, "chat/rooms/+/typing", 0), 135);
	assert_int_equal(tc_subscribe(bridge, "$share/g/chat/rooms/+/typing", 0), 135);
	assert_true(tc_quiet(bob, TYPING, 200));
	tc_close(carol);
	tc_close(dave);
	tc_close(bridge);
	tc_close(bob);
}

static void test_stopped_on_disconnect(void **state)
{
	(void)state;
	struct tc *alice = tc_open(&H, "alice-47d", "alice", TC_V311);
	struct tc *bob = tc_open(&H, "bob-47d", "bob", TC_V5);
	assert_int_equal(tc_subscribe(bob, TYPING, 0), 0);
	h_sleep_ms(INTERVAL_MS);
	assert_int_equal(tc_pub(alice, TYPING, "{}", 0), 0);
	expect_typing(bob, "alice", true);
	tc_close(alice);
	expect_typing(bob, "alice", false);
	tc_close(bob);
}

static void test_message_ends_typing_and_nothing_stored(void **state)
{
	(void)state;
	struct tc *alice = tc_open(&H, "alice-47m", "alice", TC_V5);
	struct tc *bob = tc_open(&H, "bob-47m", "bob", TC_V5);
	assert_int_equal(tc_subscribe(bob, TYPING, 0), 0);
	h_sleep_ms(INTERVAL_MS);
	assert_int_equal(tc_pub(alice, TYPING, "{}", 0), 0);
	expect_typing(bob, "alice", true);
	assert_int_equal(m_send(alice, ROOM, "{\"text\":\"done typing\",\"cid\":\"t47\"}"), 0);
	/* The message ended it: a "stopped" has nothing to stop, and the
	 * disconnect sends none. */
	assert_int_equal(tc_pub(alice, TYPING, "{\"typing\":false}", 1), 135);
	tc_close(alice);
	assert_true(tc_quiet(bob, TYPING, 300));
	bson_t *doc = h_mongo_wait_one(&H, "messages", "{\"room\":\"" ROOM "\",\"cid\":\"t47\"}", 10000);
	assert_non_null(doc);
	bson_destroy(doc);
	assert_int_equal(h_mongo_count(&H, "messages", "{\"room\":\"" ROOM "\"}"), 1);
	assert_int_equal(h_mongo_count(&H, "messages", "{\"type\":\"typing\"}"), 0);
	tc_close(bob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typing_v5_to_v311),
		cmocka_unit_test(test_typing_v311_to_v5),
		cmocka_unit_test(test_forged_payloads_dropped),
		cmocka_unit_test(test_who_may_type_and_listen),
		cmocka_unit_test(test_stopped_on_disconnect),
		cmocka_unit_test(test_message_ends_typing_and_nothing_stored),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
