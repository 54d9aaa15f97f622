/* SPDX-License-Identifier: MIT */
/*
 * The metrics endpoint answers GET /metrics in Prometheus text format with
 * the bridge's counters, gauges and histograms, and they move with the
 * traffic; other paths get 404. Also: a message larger than the bridge's
 * stack buffers is stored whole.
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

/* These tests are about the bridge: the plugin's flood control (rate and
 * repeated-text limits) must not refuse their bursts. */
#define UNTHROTTLED "plugin_opt_flood_rate 0\nplugin_opt_flood_repeat 0\n"

static struct harness H;
static const char *const members[] = {"alice", "bob", NULL};

static int setup(void **state)
{
	(void)state;
	h_init(&H, "26-bridge-metrics");
	h_start_mongo(&H);
	h_start_broker(&H, UNTHROTTLED "plugin_opt_max_payload 65536\n");
	h_start_bridge(&H, NULL);
	h_setup_room(&H, "r26", members);
	return 0;
}

static void test_counters_follow_traffic(void **state)
{
	(void)state;
	int port = h_metrics_port(&H.bridge), status = 0;
	assert_true(port > 0);
	assert_int_equal(h_metric(&H.bridge, "chat_bridge_messages_received_total"), 0);
	struct tc *c = tc_open(&H, "alice-26", "alice", TC_V5);
	for (int i = 0; i < 5; i++) assert_int_equal(tc_pub(c, "chat/rooms/r26/messages", "counted", 1), 0);
	tc_close(c);
	assert_true(h_mongo_wait_count(&H, "messages", "{\"room\":\"r26\"}", 5, 10000));
	assert_true(h_wait_metric(&H.bridge, "chat_bridge_messages_stored_total", 5, 5000));

	char *body = h_http_get(port, "/metrics", &status);
	assert_non_null(body);
	assert_int_equal(status, 200);
	const char *expected[] = {
		"# TYPE chat_bridge_messages_received_total counter\nchat_bridge_messages_received_total 5\n",
		"chat_bridge_messages_stored_total 5\n",
		"chat_bridge_messages_duplicate_total 0\n",
		"chat_bridge_journal_records 0\n",
		"chat_bridge_journal_bytes 0\n",
		"chat_bridge_mongo_errors_total 0\n",
		"chat_bridge_history_requests_total 0\n",
		"chat_bridge_mqtt_connected 1\n",
		"# TYPE chat_bridge_store_lag_seconds histogram\n",
		"chat_bridge_store_lag_seconds_bucket{le=\"+Inf\"} 5\n",
		"chat_bridge_store_lag_seconds_count 5\n",
		"chat_bridge_store_batch_seconds_count ",
	};
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		if (!strstr(body, expected[i])) fail_msg("missing in /metrics: %s\n%s", expected[i], body);
	}
	free(body);
}

static void test_other_paths_404(void **state)
{
	(void)state;
	int status = 0;
	char *body = h_http_get(h_metrics_port(&H.bridge), "/nope", &status);
	assert_non_null(body);
	assert_int_equal(status, 404);
	free(body);
}

static void test_large_text_stored_whole(void **state)
{
	(void)state;
	enum { LEN = 40000 };
	char *payload = malloc(LEN + 64), *text = malloc(LEN + 1);
	assert_non_null(payload);
	assert_non_null(text);
	for (int i = 0; i < LEN; i++) text[i] = (char)('a' + i % 26);
	text[LEN] = '\0';
	snprintf(payload, LEN + 64, "{\"text\":\"%s\",\"cid\":\"big-1\"}", text);
	struct tc *c = tc_open(&H, "alice-26-big", "alice", TC_V5);
	assert_int_equal(tc_pub(c, "chat/rooms/r26/messages", payload, 1), 0);
	tc_close(c);
	bson_t *doc = h_mongo_wait_one(&H, "messages", "{\"cid\":\"big-1\"}", 10000);
	assert_non_null(doc);
	bson_iter_t it;
	uint32_t len = 0;
	assert_true(bson_iter_init_find(&it, doc, "text"));
	const char *stored = bson_iter_utf8(&it, &len);
	assert_int_equal(len, LEN);
	assert_memory_equal(stored, text, LEN);
	assert_int_equal(h_metric(&H.bridge, "chat_bridge_messages_invalid_total"), 0);
	bson_destroy(doc);
	free(payload);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters_follow_traffic),
		cmocka_unit_test(test_other_paths_404),
		cmocka_unit_test(test_large_text_stored_whole),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
