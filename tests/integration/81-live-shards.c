/* SPDX-License-Identifier: MIT */
/*
 * Live rooms, shards: viewers are dealt into shards of shardSize as they
 * join, learning theirs from their rooms list; a viewer's message reaches
 * its shard only; the owner's reaches every shard; shards merge as viewers
 * leave (by UNSUBSCRIBE or by going away) and a moved viewer's rooms list
 * names its new shard; a viewer removed from the room stops counting;
 * history can be asked per shard or for the room.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "8x-util.h"

#define S1 "chat/rooms/arena/live/1"
#define S2 "chat/rooms/arena/live/2"
#define MSGS "chat/rooms/arena/messages"

static struct harness H;
static struct tc *V[5]; /* alice, bob, carol, dave, eve */
static const char *const NAMES[5] = {"alice", "bob", "carol", "dave", "eve"};

static int setup(void **state)
{
	(void)state;
	h_init(&H, "81-live-shards");
	h_start_mongo(&H);
	h_start_broker(&H, C_ADMIN_CONF);
	struct tc *a = c_admin(&H, "admin-81", TC_V5);
	c_do(a, "{\"command\":\"createRoom\",\"room\":\"arena\"}");
	for (size_t i = 0; i < 5; i++) {
		char cmd[160];
		snprintf(cmd, sizeof(cmd), "{\"command\":\"addRoomMember\",\"room\":\"arena\",\"user\":\"%s\"}", NAMES[i]);
		c_do(a, cmd);
	}
	c_do(a, "{\"command\":\"addRoomMember\",\"room\":\"arena\",\"user\":\"admin\",\"role\":\"owner\"}");
	c_do(a, "{\"command\":\"setRoomLive\",\"room\":\"arena\",\"live\":true,\"intervalMs\":100,\"shardSize\":4}");
	tc_close(a);
	h_start_bridge(&H, NULL);
	return 0;
}

static cJSON *live_stats(void)
{
	struct tc *a = c_admin(&H, "admin-81s", TC_V5);
	cJSON *stats = c_ok(a, "{\"command\":\"getStats\"}");
	tc_close(a);
	cJSON *room = cJSON_DetachItemFromObject(cJSON_GetObjectItem(stats, "live"), "arena");
	cJSON_Delete(stats);
	assert_non_null(room);
	return room;
}

/* Four fill shard 1; the fifth opens shard 2. */
static void test_dealing(void **state)
{
	(void)state;
	for (int i = 0; i < 5; i++) {
		char id[32];
		snprintf(id, sizeof(id), "%s-81", NAMES[i]);
		V[i] = l_viewer(&H, id, NAMES[i], "arena", i < 4 ? 1 : 2);
	}
	cJSON *st = live_stats();
	assert_int_equal((int)c_num(st, "viewers"), 5);
	assert_int_equal((int)c_num(st, "shards"), 2);
	cJSON_Delete(st);
}

/* eve's message reaches shard 2 (eve), not shard 1; alice's the reverse. */
static void test_shard_messages(void **state)
{
	(void)state;
	assert_int_equal(tc_pub(V[4], MSGS, "from eve", 1), 0);
	l_wait_text(V[4], S2, "from eve");
	assert_int_equal(tc_pub(V[0], MSGS, "from alice", 1), 0);
	l_wait_text(V[1], S1, "from alice");
	l_wait_text(V[3], S1, "from alice");
	/* Shard 1 saw nothing of eve's, shard 2 nothing of alice's (what
	 * else came were the viewer counts). */
	for (int i = 0; i < 5; i++) {
		struct tc_msg *m;
		const char *topic = i < 4 ? S1 : S2;
		while ((m = tc_wait(V[i], topic, 300)) != NULL) {
			assert_null(strstr(m->payload, i < 4 ? "from eve" : "from alice"));
			tc_msg_free(m);
		}
	}
}

/* The room's owner reaches every shard, without a shard in the envelope. */
static void test_owner_reaches_all(void **state)
{
	(void)state;
	struct tc *owner = tc_open(&H, "admin-81o", "admin", TC_V5);
	assert_int_equal(tc_pub(owner, MSGS, "to everyone", 1), 0);
	l_wait_text(V[2], S1, "to everyone");
	l_wait_text(V[4], S2, "to everyone");
	tc_close(owner);
	bson_t *doc = h_mongo_wait_one(&H, "messages", "{\"room\":\"arena\",\"text\":\"to everyone\"}", TC_WAIT_MS);
	assert_non_null(doc);
	bson_iter_t it;
	assert_false(bson_iter_init_find(&it, doc, "shard"));
	bson_destroy(doc);
}

/* A history request per shard: the shard's messages and the room-wide
 * ones; without a shard, the whole room. */
static void test_history_per_shard(void **state)
{
	(void)state;
	assert_true(h_mongo_wait_count(&H, "messages", "{\"room\":\"arena\"}", 3, TC_WAIT_MS));
	struct tc *c = V[0];
	assert_int_equal(tc_subscribe(c, "chat/users/alice/inbox", 1), 1);
	assert_int_equal(tc_pub(c, "chat/rooms/arena/history", "{\"shard\":2,\"cid\":\"h2\"}", 1), 0);
	cJSON *h = c_wait_json(c, "chat/users/alice/inbox");
	assert_string_equal(c_str(h, "cid"), "h2");
	const cJSON *msgs = cJSON_GetObjectItem(h, "messages");
	assert_int_equal(cJSON_GetArraySize(msgs), 2); /* newest first */
	assert_string_equal(c_str(cJSON_GetArrayItem(msgs, 0), "text"), "to everyone");
	assert_string_equal(c_str(cJSON_GetArrayItem(msgs, 1), "text"), "from eve");
	assert_int_equal((int)c_num(cJSON_GetArrayItem(msgs, 1), "shard"), 2);
	cJSON_Delete(h);
	assert_int_equal(tc_pub(c, "chat/rooms/arena/history", "{\"cid\":\"all\"}", 1), 0);
	h = c_wait_json(c, "chat/users/alice/inbox");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(h, "messages")), 3);
	cJSON_Delete(h);
	assert_int_equal(tc_pub(c, "chat/rooms/arena/history", "{\"shard\":0}", 1), 0);
	h = c_wait_json(c, "chat/users/alice/inbox");
	assert_non_null(strstr(c_str(h, "error"), "shard"));
	cJSON_Delete(h);
}

/* carol goes away and dave unsubscribes: three viewers fit in one shard
 * with room to spare, so shard 2 closes and eve moves to shard 1. */
static void test_merge(void **state)
{
	(void)state;
	tc_close(V[2]);
	V[2] = NULL;
	cJSON *st = live_stats();
	assert_int_equal((int)c_num(st, "viewers"), 4);
	assert_int_equal((int)c_num(st, "shards"), 2);
	cJSON_Delete(st);
	assert_true(tc_unsubscribe(V[3], "chat/rooms/arena/live"));
	l_wait_shard(V[3], "dave", "arena", 0); /* dave's list: no shard now */
	const char *topic = l_wait_shard(V[4], "eve", "arena", 1);
	assert_string_equal(topic, S1);
	assert_int_equal(tc_subscribe(V[4], S1, 1), 1);
	st = live_stats();
	assert_int_equal((int)c_num(st, "viewers"), 3);
	assert_int_equal((int)c_num(st, "shards"), 1);
	cJSON_Delete(st);
	assert_int_equal(tc_pub(V[0], MSGS, "merged", 1), 0);
	l_wait_text(V[4], S1, "merged");
}

/* bob removed from the room while watching: his batches stop at once (the
 * read check) and he stops counting as a viewer within a second. */
static void test_removed_viewer(void **state)
{
	(void)state;
	struct tc *a = c_admin(&H, "admin-81r", TC_V5);
	c_do(a, "{\"command\":\"removeRoomMember\",\"room\":\"arena\",\"user\":\"bob\"}");
	tc_close(a);
	long long deadline = h_now_ms() + TC_WAIT_MS;
	int viewers = -1;
	while (viewers != 2 && h_now_ms() < deadline) {
		cJSON *st = live_stats();
		viewers = (int)c_num(st, "viewers");
		cJSON_Delete(st);
		if (viewers != 2) h_sleep_ms(100);
	}
	assert_int_equal(viewers, 2);
	struct tc_msg *m;
	while ((m = tc_wait(V[1], S1, 200)) != NULL) tc_msg_free(m); /* what came before the removal */
	assert_int_equal(tc_pub(V[0], MSGS, "not for bob", 1), 0);
	l_wait_text(V[4], S1, "not for bob");
	assert_true(tc_quiet(V[1], S1, 500));
	for (int i = 0; i < 5; i++) tc_close(V[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dealing),
		cmocka_unit_test(test_shard_messages),
		cmocka_unit_test(test_owner_reaches_all),
		cmocka_unit_test(test_history_per_shard),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_removed_viewer),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
