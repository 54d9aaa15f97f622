/* SPDX-License-Identifier: MIT */
/*
 * Live rooms and what stays the same: the live settings survive a broker
 * restart in the state file and a bad one stops the broker; messages sent
 * while the bridge is away reach the viewers at once and are stored once
 * when it is back; setting a room back gives members its messages topic
 * again and takes its viewers away.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "8x-util.h"

#define S1 "chat/rooms/hall/live/1"

static struct harness H;

static int setup(void **state)
{
	char conf[1024];
	(void)state;
	h_init(&H, "82-live-state");
	h_start_mongo(&H);
	snprintf(conf, sizeof(conf), C_ADMIN_CONF "plugin_opt_state_file %s\nplugin_opt_live_interval_ms 100\nplugin_opt_sys_interval 1\n",
		 H.state_file);
	h_start_broker(&H, conf);
	h_start_bridge(&H, NULL);
	return 0;
}

static void test_settings_survive_restart(void **state)
{
	(void)state;
	struct tc *a = c_admin(&H, "admin-82a", TC_V5);
	c_do(a, "{\"command\":\"createRoom\",\"room\":\"hall\"}");
	c_do(a, "{\"command\":\"addRoomMember\",\"room\":\"hall\",\"user\":\"alice\"}");
	c_do(a, "{\"command\":\"addRoomMember\",\"room\":\"hall\",\"user\":\"bob\"}");
	c_do(a, "{\"command\":\"setRoomLive\",\"room\":\"hall\",\"live\":true,\"intervalMs\":150,\"shardSize\":50}");
	c_fails(a, "{\"command\":\"setRoomLive\",\"room\":\"hall\",\"live\":true,\"shardSize\":-1}", "shardSize");
	cJSON *before = c_ok(a, "{\"command\":\"getRoom\",\"room\":\"hall\"}");
	const cJSON *policy = cJSON_GetObjectItem(before, "policy");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(policy, "live")));
	assert_int_equal((int)c_num(policy, "liveIntervalMs"), 150);
	assert_int_equal((int)c_num(policy, "shardSize"), 50);
	assert_true(h_wait_log(H.state_file, "\"liveIntervalMs\"", TC_WAIT_MS));
	tc_close(a);
	h_restart_broker(&H);
	assert_true(h_wait_log(H.broker.log, "state loaded from", TC_WAIT_MS));
	a = c_admin(&H, "admin-82b", TC_V5);
	cJSON *after = c_ok(a, "{\"command\":\"getRoom\",\"room\":\"hall\"}");
	assert_true(cJSON_Compare(before, after, true));
	cJSON_Delete(before);
	cJSON_Delete(after);
	tc_close(a);
	/* The bridge subscribes again after the restart. */
	assert_true(h_wait_log_count(H.bridge.log, "subscribed to", 2, 15000));
}

/* The plugin's figures per live room reach Prometheus through the
 * bridge's /metrics ($SYS/broker/chat/live/..., every sys_interval). */
static bool metrics_have(const char *needle)
{
	long long deadline = h_now_ms() + TC_WAIT_MS;
	while (h_now_ms() < deadline) {
		int status = 0;
		char *body = h_http_get(h_metrics_port(&H.bridge), "/metrics", &status);
		bool found = body && status == 200 && strstr(body, needle);
		free(body);
		if (found) return true;
		h_sleep_ms(200);
	}
	return false;
}

static void test_figures_on_metrics(void **state)
{
	(void)state;
	struct tc *bob = l_viewer(&H, "bob-82p", "bob", "hall", 1);
	struct tc *alice = tc_open(&H, "alice-82p", "alice", TC_V5);
	assert_int_equal(tc_pub(alice, "chat/rooms/hall/messages", "counted", 1), 0);
	assert_int_equal(tc_pub(alice, "chat/rooms/hall/messages", "", 1), 0x87);
	assert_true(metrics_have("# TYPE chat_live_viewers gauge\nchat_live_viewers{room=\"hall\"} 1\n"));
	assert_true(metrics_have("chat_live_messages_in{room=\"hall\"} 1\n"));
	assert_true(metrics_have("chat_live_messages_rejected{room=\"hall\",reason=\"empty\"} 1\n"));
	tc_close(alice);
	tc_close(bob);
	assert_true(metrics_have("chat_live_viewers{room=\"hall\"} 0\n"));
}

/* The bridge away (its persistent session queues for it): a live
 * message is acknowledged, reaches the viewers in a batch at once, and is
 * stored exactly once when the bridge is back. */
static void test_stored_once_across_bridge_restart(void **state)
{
	(void)state;
	struct tc *bob = l_viewer(&H, "bob-82", "bob", "hall", 1);
	struct tc *alice = tc_open(&H, "alice-82", "alice", TC_V5);
	assert_int_equal(tc_pub(alice, "chat/rooms/hall/messages", "before", 1), 0);
	l_wait_text(bob, S1, "before");
	h_stop(&H.bridge, SIGTERM, 10000);
	for (int i = 1; i <= 3; i++) {
		char text[32];
		snprintf(text, sizeof(text), "while away %d", i);
		assert_int_equal(tc_pub(alice, "chat/rooms/hall/messages", text, 1), 0);
	}
	l_wait_text(bob, S1, "while away 3");
	h_restart_bridge(&H);
#define THESE "{\"room\":\"hall\",\"text\":{\"$in\":[\"before\",\"while away 1\",\"while away 2\",\"while away 3\"]}"
	assert_true(h_mongo_wait_count(&H, "messages", THESE "}", 4, 15000));
	h_sleep_ms(500);
	assert_int_equal(h_mongo_count(&H, "messages", THESE "}"), 4);
	assert_int_equal(h_mongo_distinct_count(&H, "messages", "id", THESE "}"), 4);
	assert_int_equal(h_mongo_count(&H, "messages", THESE ",\"shard\":1}"), 4);
#undef THESE
	tc_close(alice);
	tc_close(bob);
}

/* Back to an ordinary room: the messages topic is members' again, the
 * rooms list says nothing of live, the live topics are refused. */
static void test_live_off(void **state)
{
	(void)state;
	struct tc *a = c_admin(&H, "admin-82c", TC_V5);
	c_do(a, "{\"command\":\"setRoomLive\",\"room\":\"hall\",\"live\":false}");
	tc_close(a);
	struct tc *bob = tc_open(&H, "bob-82b", "bob", TC_V5);
	assert_int_equal(tc_subscribe(bob, "chat/users/bob/rooms", 1), 1);
	cJSON *list = c_wait_json(bob, "chat/users/bob/rooms");
	assert_null(cJSON_GetObjectItem(l_entry(list, "hall"), "live"));
	cJSON_Delete(list);
	assert_int_equal(tc_subscribe(bob, "chat/rooms/hall/live", 1), 0x87);
	assert_int_equal(tc_subscribe(bob, "chat/rooms/hall/messages", 1), 1);
	struct tc *alice = tc_open(&H, "alice-82b", "alice", TC_V5);
	assert_int_equal(tc_pub(alice, "chat/rooms/hall/messages", "plain again", 1), 0);
	cJSON *env = c_wait_json(bob, "chat/rooms/hall/messages");
	assert_string_equal(c_str(env, "text"), "plain again");
	assert_null(cJSON_GetObjectItem(env, "shard"));
	cJSON_Delete(env);
	tc_close(alice);
	tc_close(bob);
}

static void test_bad_live_field_stops_broker(void **state)
{
	(void)state;
	h_stop(&H.broker, SIGTERM, 10000);
	h_write_file(H.state_file, "{\"version\":1,\"rooms\":[{\"room\":\"x\",\"policy\":{\"live\":true,\"shardSize\":\"big\"}}]}");
	assert_true(h_run_broker(H.broker_conf, 20000) > 0);
	assert_true(h_wait_log(H.broker.log, "rooms[0].policy.shardSize: not a number in 0..1000000; refusing to start",
			       TC_WAIT_MS));
	h_write_file(H.state_file, "{\"version\":1,\"rooms\":[{\"room\":\"x\",\"policy\":{\"live\":1}}]}");
	assert_true(h_run_broker(H.broker_conf, 20000) > 0);
	assert_true(h_wait_log(H.broker.log, "rooms[0].policy.live: not true or false", TC_WAIT_MS));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_settings_survive_restart),
		cmocka_unit_test(test_figures_on_metrics),
		cmocka_unit_test(test_stored_once_across_bridge_restart),
		cmocka_unit_test(test_live_off),
		cmocka_unit_test(test_bad_live_field_stops_broker),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
