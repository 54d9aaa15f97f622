/* SPDX-License-Identifier: MIT */
/*
 * Dead tokens are removed: a webhook answering 410 and a UnifiedPush
 * endpoint answering 404 lose their `devices` entry (with no retry and no
 * dead letter), the user's healthy device stays and keeps getting
 * notifications; after a restart of the bridge pushes go on. This bridge runs with push_preview off and a
 * fixed push_title: the message text must not leave the server.
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

static struct harness H;
static struct hr *R;

static int setup(void **state)
{
	(void)state;
	h_init(&H, "34-push-dead-token");
	R = hr_start();
	h_start_mongo(&H);
	h_start_broker(&H, P_BROKER_CONF);
	h_start_bridge(&H, "push_coalesce_ms 200\npush_allow_private true\npush_allow_http true\n"
	                   "push_preview off\npush_title New chat activity\n");
	const char *members[] = {"alice", "bob", NULL};
	assert_true(h_setup_room(&H, "general", members));
	return 0;
}

static void test_dead_tokens_removed(void **state)
{
	(void)state;
	char url[256], json[512];
	struct tc *obs = p_observer(&H);
	p_webhook_device(&H, R, "bob", "bob-old-phone", "/gone");
	p_webhook_device(&H, R, "bob", "bob-phone", "/alive");
	snprintf(
	    json, sizeof(json),
	    "{\"op\":\"register\",\"device\":\"bob-up\",\"platform\":\"unifiedpush\",\"endpoint\":\"%s\"}",
	    hr_url(R, "/up-gone", url, sizeof(url)));
	p_register(&H, "bob", json);
	hr_rule(R, "/gone", NULL, 410, "{\"error\":\"gone\"}");
	hr_rule(R, "/up-gone", NULL, 404, NULL);
	assert_int_equal(h_mongo_count(&H, "devices", "{\"user\":\"bob\"}"), 3);

	struct tc *alice = tc_open(&H, "alice-app", "alice", TC_V5);
	p_wait_presence(obs, "bob", false);
	p_barrier(&H);
	assert_int_equal(tc_pub(alice, "chat/rooms/general/messages", "secret plans", 1), 0);
	assert_true(hr_wait(R, "/alive", 1, P_WAIT_MS));
	assert_true(p_wait_count(&H, "devices", "{\"user\":\"bob\"}", 1));
	assert_int_equal(h_mongo_count(&H, "devices", "{\"user\":\"bob\",\"device\":\"bob-phone\"}"), 1);
	assert_true(p_wait_count(&H, "push_outbox", "{}", 0));
	assert_int_equal(h_mongo_count(&H, "push_dead", "{}"), 0);
	assert_int_equal(hr_count(R, "/gone"), 1);
	assert_int_equal(hr_count(R, "/up-gone"), 1);

	struct hr_request *q = hr_get(R, "/alive", 0);
	assert_null(strstr(q->body, "secret"));
	assert_non_null(strstr(q->body, "\"title\":\"New chat activity\""));
	assert_non_null(strstr(q->body, "\"body\":\"New message\""));
	hr_request_free(q);

	/* The next message goes to the live device only. */
	assert_int_equal(tc_pub(alice, "chat/rooms/general/messages", "more secret plans", 1), 0);
	assert_true(hr_wait(R, "/alive", 2, P_WAIT_MS));
	assert_int_equal(hr_count(R, "/gone"), 1);
	assert_int_equal(hr_count(R, "/up-gone"), 1);
	tc_close(alice);
	tc_close(obs);
}

/* A restarted bridge resumes its MQTT session, where the broker sends no
 * retained messages again: it still knows who is in the room and offline
 * (its start-up snapshot), so pushes go on. */
static void test_restart_keeps_pushing(void **state)
{
	(void)state;
	h_restart_bridge(&H);
	assert_true(h_wait_log_count(H.bridge.log, "push: snapshot of", 2, P_WAIT_MS));
	struct tc *alice = tc_open(&H, "alice-app2", "alice", TC_V5);
	int before = hr_count(R, "/alive");
	assert_int_equal(tc_pub(alice, "chat/rooms/general/messages", "after restart", 1), 0);
	assert_true(hr_wait(R, "/alive", before + 1, P_WAIT_MS));
	tc_close(alice);
}

/* A user cannot fan one message out to more than 20 devices. */
static void test_device_limit(void **state)
{
	(void)state;
	char json[256];
	long have = h_mongo_count(&H, "devices", "{\"user\":\"carol\"}");
	for (long i = have; i < 20; i++) {
		snprintf(json, sizeof(json),
		         "{\"op\":\"register\",\"device\":\"d%ld\",\"platform\":\"webhook\","
		         "\"endpoint\":\"https://push.example.org/%ld\"}",
		         i, i);
		p_register(&H, "carol", json);
	}
	char *reply = p_device(&H, "carol",
	                       "{\"op\":\"register\",\"device\":\"one-more\",\"platform\":\"webhook\","
	                       "\"endpoint\":\"https://push.example.org/x\"}");
	assert_non_null(strstr(reply, "too many devices"));
	free(reply);
	/* re-registering a known device is still fine */
	p_register(&H, "carol",
	           "{\"op\":\"register\",\"device\":\"d3\",\"platform\":\"webhook\","
	           "\"endpoint\":\"https://push.example.org/3b\"}");
	assert_int_equal(h_mongo_count(&H, "devices", "{\"user\":\"carol\"}"), 20);
}

/* Bad push settings stop the bridge at --check-config, with the key named. */
static void check_config_fails(const char *line, const char *needle)
{
	char conf[600], out[600];
	snprintf(conf, sizeof(conf), "%s/bad-push.conf", H.dir);
	snprintf(out, sizeof(out), "%s/bad-push.out", H.dir);
	h_write_file(conf, line);
	char *argv[] = {(char *)CHAT_BRIDGE_PATH, (char *)"--check-config", (char *)"-c", conf, NULL};
	assert_int_equal(h_run(argv, out, 10000), 1);
	char *text = h_read_file(out, NULL);
	if (!text || !strstr(text, needle))
		fail_msg("'%s': expected '%s' in: %s", line, needle, text ? text : "");
	free(text);
	remove(out);
}

static void test_check_config(void **state)
{
	(void)state;
	check_config_fails("push_coalesce_ms soon\n", "push_coalesce_ms");
	check_config_fails("push_allow_private maybe\n", "push_allow_private");
	check_config_fails("webhook_url ftp://example.org/\n", "webhook_url");
	check_config_fails("apns_key_file /nonexistent.p8\napns_key_id K\napns_team_id T\napns_topic x\n",
	                   "/nonexistent.p8");
	check_config_fails("apns_key_file /nonexistent.p8\n", "apns_key_id");
	check_config_fails("fcm_service_account /nonexistent.json\n", "/nonexistent.json");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dead_tokens_removed),
	    cmocka_unit_test(test_restart_keeps_pushing),
	    cmocka_unit_test(test_check_config),
	    cmocka_unit_test(test_device_limit),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	bool clean = h_finish(&H, failed != 0);
	hr_stop(R);
	return clean ? failed : 1;
}
