/* SPDX-License-Identifier: MIT */
/*
 * History requests answered by the bridge: the newest page, paging back
 * with "before" and forward with "after" (always newest first, "more"
 * telling whether the page was cut), the limit capped by
 * history_limit_max, the v5 Response Topic honoured inside the requester's
 * own tree and ignored outside it, Correlation Data and "cid" echoed, an
 * MQTT 3.1.1 requester answered on its inbox, a malformed request answered
 * with an error. Needs the plugin's `from` user property on history
 * requests.
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

#include "client.h"
#include "harness.h"

#define ROOM "r24"
#define HISTORY "chat/rooms/r24/history"
#define COUNT 12

/* These tests are about the bridge: the plugin's flood control (rate and
 * repeated-text limits) must not refuse their bursts. */
#define UNTHROTTLED "plugin_opt_flood_rate 0\nplugin_opt_flood_repeat 0\n"

static struct harness H;
static struct tc *alice, *bob_v311;
static char ids[COUNT][40]; /* ids[i] is the id of message h-i */
static const char *const members[] = {"alice", "bob", NULL};

static void load_ids(void)
{
	for (int i = 0; i < COUNT; i++) {
		char filter[96];
		snprintf(filter, sizeof(filter), "{\"room\":\"" ROOM "\",\"cid\":\"h-%d\"}", i);
		bson_t *doc = h_mongo_wait_one(&H, "messages", filter, 10000);
		assert_non_null(doc);
		bson_iter_t it;
		assert_true(bson_iter_init_find(&it, doc, "id"));
		snprintf(ids[i], sizeof(ids[i]), "%s", bson_iter_utf8(&it, NULL));
		bson_destroy(doc);
	}
}

static int setup(void **state)
{
	(void)state;
	h_init(&H, "24-bridge-history");
	h_start_mongo(&H);
	h_start_broker(&H, UNTHROTTLED);
	h_start_bridge(&H, "history_limit_default 5\nhistory_limit_max 8\n");
	h_setup_room(&H, ROOM, members);
	alice = tc_open(&H, "alice-24", "alice", TC_V5);
	bob_v311 = tc_open(&H, "bob-24", "bob", TC_V311);
	assert_int_equal(tc_subscribe(alice, "chat/users/alice/#", 1), 1);
	assert_int_equal(tc_subscribe(bob_v311, "chat/users/bob/inbox", 1), 1);
	for (int i = 0; i < COUNT; i++) {
		char payload[64];
		snprintf(payload, sizeof(payload), "{\"text\":\"old %d\",\"cid\":\"h-%d\"}", i, i);
		assert_int_equal(tc_pub(alice, "chat/rooms/" ROOM "/messages", payload, 1), 0);
	}
	assert_true(h_mongo_wait_count(&H, "messages", "{\"room\":\"" ROOM "\"}", COUNT, 10000));
	load_ids();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tc_close(alice);
	tc_close(bob_v311);
	return 0;
}

/* Waits for a history reply on topic and checks type, room and cid. */
static struct tc_msg *reply(struct tc *c, const char *topic, const char *cid)
{
	struct tc_msg *m = tc_wait(c, topic, TC_WAIT_MS);
	assert_non_null(m);
	assert_non_null(strstr(m->payload, "\"type\":\"history\""));
	assert_non_null(strstr(m->payload, "\"room\":\"" ROOM "\""));
	if (cid) {
		char want[96];
		snprintf(want, sizeof(want), "\"cid\":\"%s\"", cid);
		assert_non_null(strstr(m->payload, want));
	}
	return m;
}

/* Checks that the reply's messages are exactly h-<want[0]>, h-<want[1]>, ...
 * in that order, and the "more" flag. */
static void expect_page(const struct tc_msg *m, const int *want, int n, bool more)
{
	const char *at = strstr(m->payload, "\"messages\":[");
	assert_non_null(at);
	int seen = 0;
	for (const char *p = at; (p = strstr(p, "\"cid\":\"h-")) != NULL; p++) seen++;
	assert_int_equal(seen, n);
	for (int i = 0; i < n; i++) {
		char cid[32];
		snprintf(cid, sizeof(cid), "\"cid\":\"h-%d\"", want[i]);
		const char *p = strstr(at, cid);
		assert_non_null(p);
		at = p;
	}
	assert_non_null(strstr(m->payload, more ? "\"more\":true" : "\"more\":false"));
}

static void ask(struct tc *c, const char *payload, const mosquitto_property *props)
{
	assert_int_equal(tc_publish(c, HISTORY, payload, (int)strlen(payload), 1, false, props), 0);
}

static void test_newest_page_by_default(void **state)
{
	(void)state;
	ask(alice, "{\"cid\":\"q-newest\"}", NULL);
	struct tc_msg *m = reply(alice, "chat/users/alice/inbox", "q-newest");
	const int want[] = {11, 10, 9, 8, 7};
	expect_page(m, want, 5, true);
	assert_non_null(strstr(m->payload, "\"from\":\"alice\""));
	tc_msg_free(m);
}

static void test_paging_back_with_before(void **state)
{
	(void)state;
	char req[128];
	snprintf(req, sizeof(req), "{\"before\":\"%s\",\"limit\":3,\"cid\":\"q-b1\"}", ids[7]);
	ask(alice, req, NULL);
	struct tc_msg *m = reply(alice, "chat/users/alice/inbox", "q-b1");
	const int want[] = {6, 5, 4};
	expect_page(m, want, 3, true);
	tc_msg_free(m);
	snprintf(req, sizeof(req), "{\"before\":\"%s\",\"limit\":8,\"cid\":\"q-b2\"}", ids[2]);
	ask(alice, req, NULL);
	m = reply(alice, "chat/users/alice/inbox", "q-b2");
	const int last[] = {1, 0};
	expect_page(m, last, 2, false);
	tc_msg_free(m);
}

static void test_paging_forward_with_after(void **state)
{
	(void)state;
	char req[128];
	snprintf(req, sizeof(req), "{\"after\":\"%s\",\"limit\":3,\"cid\":\"q-a1\"}", ids[4]);
	ask(alice, req, NULL);
	struct tc_msg *m = reply(alice, "chat/users/alice/inbox", "q-a1");
	const int want[] = {7, 6, 5};
	expect_page(m, want, 3, true);
	tc_msg_free(m);
	snprintf(req, sizeof(req), "{\"after\":\"%s\",\"limit\":5,\"cid\":\"q-a2\"}", ids[9]);
	ask(alice, req, NULL);
	m = reply(alice, "chat/users/alice/inbox", "q-a2");
	const int last[] = {11, 10};
	expect_page(m, last, 2, false);
	tc_msg_free(m);
}

static void test_limit_is_capped(void **state)
{
	(void)state;
	ask(alice, "{\"limit\":1000,\"cid\":\"q-cap\"}", NULL);
	struct tc_msg *m = reply(alice, "chat/users/alice/inbox", "q-cap");
	const int want[] = {11, 10, 9, 8, 7, 6, 5, 4};
	expect_page(m, want, 8, true);
	tc_msg_free(m);
}

static void test_response_topic_inside_tree_and_correlation(void **state)
{
	(void)state;
	mosquitto_property *props = NULL;
	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "chat/users/alice/replies/h1");
	mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "corr-24", 7);
	ask(alice, "{\"limit\":2,\"cid\":\"q-rt\"}", props);
	mosquitto_property_free_all(&props);
	struct tc_msg *m = reply(alice, "chat/users/alice/replies/h1", "q-rt");
	const int want[] = {11, 10};
	expect_page(m, want, 2, true);
	assert_non_null(m->correlation);
	assert_int_equal(m->correlation_len, 7);
	assert_memory_equal(m->correlation, "corr-24", 7);
	tc_msg_free(m);
	assert_true(tc_quiet(alice, "chat/users/alice/inbox", 300));
}

static void test_response_topic_outside_tree_goes_to_inbox(void **state)
{
	(void)state;
	mosquitto_property *props = NULL;
	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "chat/users/bob/inbox");
	mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "c2", 2);
	ask(alice, "{\"limit\":1,\"cid\":\"q-out\"}", props);
	mosquitto_property_free_all(&props);
	struct tc_msg *m = reply(alice, "chat/users/alice/inbox", "q-out");
	assert_non_null(m->correlation);
	assert_memory_equal(m->correlation, "c2", 2);
	tc_msg_free(m);
	assert_true(tc_quiet(bob_v311, "chat/users/bob/inbox", 300));
}

static void test_v311_requester_answered_on_inbox(void **state)
{
	(void)state;
	ask(bob_v311, "{\"limit\":1,\"cid\":\"q-v3\"}", NULL);
	struct tc_msg *m = reply(bob_v311, "chat/users/bob/inbox", "q-v3");
	const int want[] = {11};
	expect_page(m, want, 1, true);
	tc_msg_free(m);
}

static void test_malformed_request_gets_error(void **state)
{
	(void)state;
	ask(alice, "{\"before\":\"not-an-id\",\"cid\":\"q-bad\"}", NULL);
	struct tc_msg *m = reply(alice, "chat/users/alice/inbox", "q-bad");
	assert_non_null(strstr(m->payload, "\"error\":"));
	assert_non_null(strstr(m->payload, "\"messages\":[]"));
	tc_msg_free(m);
	assert_true(h_metric(&H.bridge, "chat_bridge_history_requests_total") >= 8);
}

/* The real mosquitto_rr, as topics.md shows it. */
static void test_mosquitto_rr(void **state)
{
	(void)state;
	char port[16], pw[80], out[600];
	snprintf(port, sizeof(port), "%d", H.broker_port);
	snprintf(out, sizeof(out), "%s/rr.out", H.dir);
	char *argv[] = {(char *)MOSQUITTO_RR_BIN, "-h", "127.0.0.1", "-p", port, "-u", "alice", "-P",
			(char *)h_password("alice", pw, sizeof(pw)), "-t", HISTORY, "-e", "chat/users/alice/history-rr",
			"-m", "{\"limit\":2,\"cid\":\"q-rr\"}", "-W", "10", NULL};
	assert_int_equal(h_run(argv, out, 15000), 0);
	char *text = h_read_file(out, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"type\":\"history\""));
	assert_non_null(strstr(text, "\"cid\":\"q-rr\""));
	assert_non_null(strstr(text, "\"cid\":\"h-11\""));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_newest_page_by_default),
		cmocka_unit_test(test_paging_back_with_before),
		cmocka_unit_test(test_paging_forward_with_after),
		cmocka_unit_test(test_limit_is_capped),
		cmocka_unit_test(test_response_topic_inside_tree_and_correlation),
		cmocka_unit_test(test_response_topic_outside_tree_goes_to_inbox),
		cmocka_unit_test(test_v311_requester_answered_on_inbox),
		cmocka_unit_test(test_malformed_request_gets_error),
		cmocka_unit_test(test_mosquitto_rr),
	};
	int failed = cmocka_run_group_tests(tests, setup, teardown);
	return h_finish(&H, failed != 0) ? failed : 1;
}
