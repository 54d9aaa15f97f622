/* SPDX-License-Identifier: MIT */
/*
 * Read markers: {"upto":"<id>"} on chat/rooms/{room}/read is stored per
 * (user, room) in `reads`, from MQTT 5 and 3.1.1 clients; a marker only
 * moves forward; a malformed one is dropped. Needs the plugin's `from`
 * user property on read markers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"
#include "harness.h"

#define ROOM "r25"
#define READ_TOPIC "chat/rooms/r25/read"

/* These tests are about the bridge: the plugin's flood control (rate and
 * repeated-text limits) must not refuse their bursts. */
#define UNTHROTTLED "plugin_opt_flood_rate 0\nplugin_opt_flood_repeat 0\n"

static struct harness H;
static char ids[4][40];
static const char *const members[] = {"alice", "bob", NULL};

static int setup(void **state)
{
	(void)state;
	h_init(&H, "25-bridge-read");
	h_start_mongo(&H);
	h_start_broker(&H, UNTHROTTLED);
	h_start_bridge(&H, NULL);
	h_setup_room(&H, ROOM, members);
	struct tc *c = tc_open(&H, "alice-25-msg", "alice", TC_V5);
	for (int i = 0; i < 4; i++) {
		char payload[64], filter[96];
		snprintf(payload, sizeof(payload), "{\"text\":\"read me %d\",\"cid\":\"r-%d\"}", i, i);
		assert_int_equal(tc_pub(c, "chat/rooms/" ROOM "/messages", payload, 1), 0);
		snprintf(filter, sizeof(filter), "{\"room\":\"" ROOM "\",\"cid\":\"r-%d\"}", i);
		bson_t *doc = h_mongo_wait_one(&H, "messages", filter, 10000);
		assert_non_null(doc);
		bson_iter_t it;
		assert_true(bson_iter_init_find(&it, doc, "id"));
		snprintf(ids[i], sizeof(ids[i]), "%s", bson_iter_utf8(&it, NULL));
		bson_destroy(doc);
	}
	tc_close(c);
	return 0;
}

static void mark(struct tc *c, const char *id)
{
	char payload[96];
	snprintf(payload, sizeof(payload), "{\"upto\":\"%s\"}", id);
	assert_int_equal(tc_pub(c, READ_TOPIC, payload, 1), 0);
}

/* Waits until user's marker in the room is exactly id. */
static bool marker_is(const char *user, const char *id)
{
	char filter[160];
	snprintf(filter, sizeof(filter), "{\"user\":\"%s\",\"room\":\"" ROOM "\",\"upto\":\"%s\"}", user, id);
	return h_mongo_wait_count(&H, "reads", filter, 1, 10000);
}

static void test_marker_stored_and_only_moves_forward(void **state)
{
	(void)state;
	struct tc *alice = tc_open(&H, "alice-25", "alice", TC_V5);
	struct tc *bob = tc_open(&H, "bob-25", "bob", TC_V311);
	long long before = h_metric(&H.bridge, "chat_bridge_read_markers_total");
	mark(alice, ids[2]);
	assert_true(marker_is("alice", ids[2]));
	/* An older marker must not move it back; bob's marker, sent after it
	 * on the same ordered path, shows it has been handled. */
	mark(alice, ids[1]);
	mark(bob, ids[0]);
	assert_true(marker_is("bob", ids[0]));
	assert_int_equal(h_mongo_count(&H, "reads", "{\"user\":\"alice\",\"room\":\"" ROOM "\"}"), 1);
	assert_true(marker_is("alice", ids[2]));
	mark(alice, ids[3]);
	assert_true(marker_is("alice", ids[3]));
	assert_int_equal(h_mongo_count(&H, "reads", "{\"room\":\"" ROOM "\"}"), 2);
	assert_true(h_wait_metric(&H.bridge, "chat_bridge_read_markers_total", before + 4, 5000));
	tc_close(alice);
	tc_close(bob);
}

static void test_malformed_marker_dropped(void **state)
{
	(void)state;
	struct tc *bob = tc_open(&H, "bob-25b", "bob", TC_V5);
	assert_int_equal(tc_pub(bob, READ_TOPIC, "{\"upto\":\"nonsense\"}", 1), 0);
	assert_int_equal(tc_pub(bob, READ_TOPIC, "not json", 1), 0);
	mark(bob, ids[1]); /* the barrier: handled after the two above */
	assert_true(marker_is("bob", ids[1]));
	assert_int_equal(h_mongo_count(&H, "reads", "{\"user\":\"bob\"}"), 1);
	assert_true(h_wait_log(H.bridge.log, "no valid upto id: dropped", 1000));
	tc_close(bob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marker_stored_and_only_moves_forward),
		cmocka_unit_test(test_malformed_marker_dropped),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
