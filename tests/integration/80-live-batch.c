/* SPDX-License-Identifier: MIT */
/*
 * Live rooms, batched delivery: messages published within one interval
 * reach a viewer in one PUBLISH on its shard topic, in the order they were
 * accepted, each still a server envelope; the bridge stores each message
 * once (never a batch); members may not read a live room's messages topic
 * one by one; an ordinary room beside it is unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "8x-util.h"

#define INTERVAL_MS 400
#define SHARD1 "chat/rooms/stadium/live/1"

static struct harness H;

static int setup(void **state)
{
	(void)state;
	h_init(&H, "80-live-batch");
	h_start_mongo(&H);
	h_start_broker(&H, C_ADMIN_CONF "plugin_opt_live_interval_ms 400\n");
	struct tc *a = c_admin(&H, "admin-80", TC_V5);
	c_do(a, "{\"command\":\"createRoom\",\"room\":\"stadium\"}");
	c_do(a, "{\"command\":\"createRoom\",\"room\":\"plain\"}");
	static const char *const users[] = {"alice", "bob", "carol"};
	for (size_t i = 0; i < 3; i++) {
		char cmd[160];
		snprintf(cmd, sizeof(cmd), "{\"command\":\"addRoomMember\",\"room\":\"stadium\",\"user\":\"%s\"}", users[i]);
		c_do(a, cmd);
		snprintf(cmd, sizeof(cmd), "{\"command\":\"addRoomMember\",\"room\":\"plain\",\"user\":\"%s\"}", users[i]);
		c_do(a, cmd);
	}
	c_do(a, "{\"command\":\"setRoomLive\",\"room\":\"stadium\",\"live\":true}");
	cJSON *room = c_ok(a, "{\"command\":\"getRoom\",\"room\":\"stadium\"}");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(room, "policy"), "live")));
	cJSON_Delete(room);
	c_fails(a, "{\"command\":\"setRoomLive\",\"room\":\"stadium\"}", "live: missing");
	c_fails(a, "{\"command\":\"setRoomLive\",\"room\":\"stadium\",\"live\":true,\"intervalMs\":1}", "intervalMs");
	c_fails(a, "{\"command\":\"setRoomLive\",\"room\":\"nope\",\"live\":true}", "room not found");
	tc_close(a);
	h_start_bridge(&H, NULL);
	return 0;
}

/* Five messages sent back to back arrive in at most two batches (the
 * interval may end between two of them), in order, within the interval. */
static void test_batches_keep_order(void **state)
{
	(void)state;
	struct tc *bob = l_viewer(&H, "bob-80", "bob", "stadium", 1);
	struct tc *alice = tc_open(&H, "alice-80", "alice", TC_V5);
	long long t0 = h_now_ms();
	for (int i = 1; i <= 5; i++) {
		char text[16];
		snprintf(text, sizeof(text), "m%d", i);
		assert_int_equal(tc_pub(alice, "chat/rooms/stadium/messages", text, 1), 0);
	}
	int seen = 0, batches = 0;
	while (seen < 5) {
		cJSON *b = l_batch(bob, SHARD1);
		if (l_count(b) == 0) { /* a viewer count update */
			cJSON_Delete(b);
			continue;
		}
		batches++;
		assert_string_equal(c_str(b, "room"), "stadium");
		assert_int_equal((int)c_num(b, "shard"), 1);
		assert_int_equal((int)c_num(b, "viewers"), 1);
		for (int i = 0; i < l_count(b); i++) {
			char want[16];
			snprintf(want, sizeof(want), "m%d", ++seen);
			assert_string_equal(l_text(b, i), want);
			const cJSON *env = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "messages"), i);
			assert_string_equal(c_str(env, "from"), "alice");
			assert_int_equal((int)c_num(env, "shard"), 1);
			assert_non_null(c_str(env, "id"));
		}
		cJSON_Delete(b);
	}
	assert_true(batches <= 2);
	/* The last one was due one interval after the first message at most,
	 * and the broker's idle tick comes every 100 ms. */
	assert_true(h_now_ms() - t0 < 3 * INTERVAL_MS + 500);
	/* Stored once each: five documents, none of them a batch. */
	assert_true(h_mongo_wait_count(&H, "messages", "{\"room\":\"stadium\"}", 5, TC_WAIT_MS));
	h_sleep_ms(500);
	assert_int_equal(h_mongo_count(&H, "messages", "{\"room\":\"stadium\"}"), 5);
	assert_int_equal(h_mongo_count(&H, "messages", "{\"room\":\"stadium\",\"shard\":1}"), 5);
	assert_int_equal(h_mongo_count(&H, "messages", "{\"type\":\"batch\"}"), 0);
	tc_close(alice);
	tc_close(bob);
}

/* Members read a live room through its batches only; the join topic and
 * shard topics are refused for rooms that are not live, and to non-members. */
static void test_topics_refused(void **state)
{
	(void)state;
	struct tc *bob = tc_open(&H, "bob-80b", "bob", TC_V5);
	assert_int_equal(tc_subscribe(bob, "chat/rooms/stadium/messages", 1), 0x87);
	assert_int_equal(tc_subscribe(bob, "chat/rooms/plain/live", 1), 0x87);
	assert_int_equal(tc_subscribe(bob, "chat/rooms/plain/live/1", 1), 0x87);
	assert_int_equal(tc_pub(bob, "chat/rooms/stadium/live/1", "forged", 1), 0x87);
	tc_close(bob);
	struct tc *eve = tc_open(&H, "eve-80", "eve", TC_V5);
	assert_int_equal(tc_subscribe(eve, "chat/rooms/stadium/live", 1), 0x87);
	assert_int_equal(tc_subscribe(eve, "chat/rooms/stadium/live/1", 1), 0x87);
	tc_close(eve);
	/* The bridge's service user still reads messages one by one. */
	struct tc *svc = tc_open(&H, "svc-80", "bridge", TC_V5);
	assert_int_equal(tc_subscribe(svc, "chat/rooms/stadium/messages", 1), 1);
	struct tc *alice = tc_open(&H, "alice-80b", "alice", TC_V5);
	assert_int_equal(tc_pub(alice, "chat/rooms/stadium/messages", "one by one", 1), 0);
	struct tc_msg *m = tc_wait(svc, "chat/rooms/stadium/messages", TC_WAIT_MS);
	assert_non_null(m);
	assert_non_null(strstr(m->payload, "\"text\":\"one by one\""));
	tc_msg_free(m);
	tc_close(alice);
	tc_close(svc);
}

/* An ordinary room beside a live one: one envelope per message on its
 * messages topic, no shard, nothing about live in its rooms list entry. */
static void test_ordinary_room_unchanged(void **state)
{
	(void)state;
	struct tc *carol = tc_open(&H, "carol-80", "carol", TC_V5);
	assert_int_equal(tc_subscribe(carol, "chat/users/carol/rooms", 1), 1);
	cJSON *list = c_wait_json(carol, "chat/users/carol/rooms");
	assert_null(cJSON_GetObjectItem(l_entry(list, "plain"), "live"));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(l_entry(list, "stadium"), "live")));
	cJSON_Delete(list);
	assert_int_equal(tc_subscribe(carol, "chat/rooms/plain/messages", 1), 1);
	struct tc *alice = tc_open(&H, "alice-80c", "alice", TC_V5);
	assert_int_equal(tc_pub(alice, "chat/rooms/plain/messages", "p1", 1), 0);
	assert_int_equal(tc_pub(alice, "chat/rooms/plain/messages", "p2", 1), 0);
	for (int i = 1; i <= 2; i++) {
		cJSON *env = c_wait_json(carol, "chat/rooms/plain/messages");
		char want[8];
		snprintf(want, sizeof(want), "p%d", i);
		assert_string_equal(c_str(env, "text"), want);
		assert_null(cJSON_GetObjectItem(env, "shard"));
		cJSON_Delete(env);
	}
	assert_true(h_mongo_wait_count(&H, "messages", "{\"room\":\"plain\"}", 2, TC_WAIT_MS));
	assert_int_equal(h_mongo_count(&H, "messages", "{\"room\":\"plain\",\"shard\":{\"$exists\":true}}"), 0);
	tc_close(alice);
	tc_close(carol);
}

/* A masked message reaches the viewers masked in its batch, and no
 * per-message moderation event goes to the room's events topic (it would
 * be one PUBLISH per viewer per message again). */
static void test_masked_without_event(void **state)
{
	(void)state;
	struct tc *a = c_admin(&H, "admin-80m", TC_V5);
	c_do(a, "{\"command\":\"addBannedWords\",\"room\":\"stadium\",\"words\":[\"rotten\"]}");
	tc_close(a);
	struct tc *bob = l_viewer(&H, "bob-80m", "bob", "stadium", 1);
	assert_int_equal(tc_subscribe(bob, "chat/rooms/stadium/events", 1), 1);
	struct tc *alice = tc_open(&H, "alice-80m", "alice", TC_V5);
	assert_int_equal(tc_pub(alice, "chat/rooms/stadium/messages", "a rotten call", 1), 0);
	l_wait_text(bob, SHARD1, "a ****** call");
	assert_true(tc_quiet(bob, "chat/rooms/stadium/events", 500));
	tc_close(alice);
	tc_close(bob);
}

/* getStats counts the live room: messages in, batches out, refusals. */
static void test_live_stats(void **state)
{
	(void)state;
	struct tc *alice = tc_open(&H, "alice-80d", "alice", TC_V5);
	assert_int_equal(tc_pub(alice, "chat/rooms/stadium/messages", "", 1), 0x87); /* empty */
	tc_close(alice);
	struct tc *a = c_admin(&H, "admin-80s", TC_V5);
	cJSON *stats = c_ok(a, "{\"command\":\"getStats\"}");
	const cJSON *room = cJSON_GetObjectItem(cJSON_GetObjectItem(stats, "live"), "stadium");
	assert_non_null(room);
	assert_int_equal((int)c_num(room, "messages/in"), 6);
	assert_true(c_num(room, "batches/out") >= 1);
	assert_int_equal((int)c_num(room, "messages/rejected/empty"), 1);
	assert_int_equal((int)c_num(room, "viewers"), 0);
	cJSON_Delete(stats);
	tc_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batches_keep_order),
		cmocka_unit_test(test_topics_refused),
		cmocka_unit_test(test_ordinary_room_unchanged),
		cmocka_unit_test(test_live_stats),
		cmocka_unit_test(test_masked_without_event),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
