/* SPDX-License-Identifier: MIT */
/*
 * Push to the right people, on every device, signed. In a room of alice,
 * bob, carol and dave, with carol connected (online) and bob and dave not,
 * a message from alice makes one notification on each of bob's three
 * devices (a webhook with its own endpoint, one on the operator's
 * webhook_url, a UnifiedPush endpoint) and on dave's device, and none for
 * carol (online) or alice (the sender). Each webhook carries
 * X-Chat-Signature, recomputed here with the secret; the body names the
 * room, sender, preview and unread count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "3x-util.h"

#define SECRET     "webhook-test-secret"
#define ROOM_TOPIC "chat/rooms/general/messages"

static struct harness H;
static struct hr *R;

static int setup(void **state)
{
	(void)state;
	char conf[1024], url[256];
	h_init(&H, "30-push-webhook");
	R = hr_start();
	h_start_mongo(&H);
	h_start_broker(&H, P_BROKER_CONF);
	snprintf(conf, sizeof(conf),
	         "push_coalesce_ms 300\npush_allow_private true\npush_allow_http true\n"
	         "webhook_url %s\nwebhook_secret %s\n",
	         hr_url(R, "/global", url, sizeof(url)), SECRET);
	h_start_bridge(&H, conf);
	const char *members[] = {"alice", "bob", "carol", "dave", NULL};
	assert_true(h_setup_room(&H, "general", members));
	return 0;
}

static void check_signature(const struct hr_request *q)
{
	char got[128], want[80] = "sha256=";
	unsigned char mac[32];
	unsigned int len = 0;
	assert_non_null(hr_header(q, "X-Chat-Signature", got, sizeof(got)));
	HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)q->body, q->body_len, mac,
	     &len);
	assert_int_equal(len, 32);
	for (unsigned i = 0; i < len; i++)
		snprintf(want + 7 + 2 * i, 3, "%02x", mac[i]);
	assert_string_equal(got, want);
}

static void test_offline_members_every_device(void **state)
{
	(void)state;
	char url[256], json[512];
	struct tc *obs = p_observer(&H);
	p_webhook_device(&H, R, "bob", "bob-phone", "/bob-phone");
	p_register(&H, "bob", "{\"op\":\"register\",\"device\":\"bob-tablet\",\"platform\":\"webhook\"}");
	snprintf(
	    json, sizeof(json),
	    "{\"op\":\"register\",\"device\":\"bob-up\",\"platform\":\"unifiedpush\",\"endpoint\":\"%s\"}",
	    hr_url(R, "/up/bob", url, sizeof(url)));
	p_register(&H, "bob", json);
	/* dave's app speaks MQTT 3.1.1: no properties of its own, the
	 * registration works the same (the plugin adds `from`). */
	snprintf(json, sizeof(json),
	         "{\"op\":\"register\",\"device\":\"dave-phone\",\"platform\":\"webhook\","
	         "\"endpoint\":\"%s\",\"cid\":\"r-1\"}",
	         hr_url(R, "/dave", url, sizeof(url)));
	char *dave = p_device_proto(&H, "dave", json, TC_V311);
	assert_non_null(strstr(dave, "\"ok\":true"));
	assert_non_null(strstr(dave, "\"cid\":\"r-1\""));
	free(dave);
	p_webhook_device(&H, R, "carol", "carol-phone", "/carol");
	p_webhook_device(&H, R, "alice", "alice-phone", "/alice");
	/* A bad registration is answered with the reason. */
	char *reply = p_device(&H, "bob", "{\"op\":\"register\",\"device\":\"x\",\"platform\":\"pager\"}");
	assert_non_null(strstr(reply, "\"ok\":false"));
	assert_non_null(strstr(reply, "platform"));
	free(reply);
	assert_int_equal(h_mongo_count(&H, "devices", "{\"user\":\"bob\"}"), 3);

	struct tc *carol = tc_open(&H, "carol-app", "carol", TC_V311);
	struct tc *alice = tc_open(&H, "alice-app", "alice", TC_V5);
	p_wait_presence(obs, "carol", true);
	p_wait_presence(obs, "bob", false);
	p_wait_presence(obs, "dave", false);
	p_barrier(&H);

	assert_int_equal(tc_pub(alice, ROOM_TOPIC, "{\"text\":\"lunch at noon? 점심\"}", 1), 0);
	assert_true(hr_wait(R, "/bob-phone", 1, P_WAIT_MS));
	assert_true(hr_wait(R, "/global", 1, P_WAIT_MS));
	assert_true(hr_wait(R, "/up/bob", 1, P_WAIT_MS));
	assert_true(hr_wait(R, "/dave", 1, P_WAIT_MS));

	struct hr_request *q = hr_get(R, "/bob-phone", 0);
	assert_string_equal(q->method, "POST");
	check_signature(q);
	assert_non_null(strstr(q->body, "\"room\":\"general\""));
	assert_non_null(strstr(q->body, "\"from\":\"alice\""));
	assert_non_null(strstr(q->body, "\"user\":\"bob\""));
	assert_non_null(strstr(q->body, "\"title\":\"alice in general\""));
	assert_non_null(strstr(q->body, "\"body\":\"lunch at noon? 점심\""));
	assert_int_equal(p_json_long(q->body, "count"), 1);
	assert_int_equal(p_json_long(q->body, "unread"), 1);
	hr_request_free(q);
	q = hr_get(R, "/global", 0);
	check_signature(q);
	assert_non_null(strstr(q->body, "\"user\":\"bob\""));
	hr_request_free(q);
	q = hr_get(R, "/up/bob", 0);
	char ttl[32];
	assert_non_null(hr_header(q, "TTL", ttl, sizeof(ttl)));
	assert_non_null(strstr(q->body, "\"room\":\"general\""));
	hr_request_free(q);

	/* Nothing for the online member or the sender: once the second
	 * message (after the first one's window) has reached dave, the first
	 * one's notifications are all out. */
	assert_true(p_wait_count(&H, "push_outbox", "{}", 0));
	assert_int_equal(tc_pub(alice, ROOM_TOPIC, "second", 1), 0);
	assert_true(hr_wait(R, "/dave", 2, P_WAIT_MS));
	assert_int_equal(hr_count(R, "/carol"), 0);
	assert_int_equal(hr_count(R, "/alice"), 0);
	q = hr_get(R, "/dave", 1);
	assert_int_equal(p_json_long(q->body, "unread"), 2);
	hr_request_free(q);
	/* Every request went out once: nothing needed a retry. */
	assert_int_equal(h_log_count(H.bridge.log, "retry"), 0);
	assert_true(hr_wait(R, "/global", 2, P_WAIT_MS));
	assert_int_equal(hr_count(R, "/global"), 2);
	/* The counters say the same: 2 x (3 bob + 1 dave) - 2 on UnifiedPush
	 * (counted before the outbox entry goes). */
	assert_true(p_wait_count(&H, "push_outbox", "{}", 0));
	assert_int_equal(h_metric(&H.bridge, "chat_bridge_push_total{provider=\"webhook\",outcome=\"ok\"}"),
	                 6);
	assert_int_equal(
	    h_metric(&H.bridge, "chat_bridge_push_total{provider=\"unifiedpush\",outcome=\"ok\"}"), 2);
	assert_int_equal(
	    h_metric(&H.bridge, "chat_bridge_push_total{provider=\"webhook\",outcome=\"retry\"}"), 0);
	assert_true(h_metric(&H.bridge, "chat_bridge_push_registrations_total") >= 6);
	tc_close(alice);
	tc_close(carol);
	tc_close(obs);
}

/* A direct message: only the other party, titled with the sender. */
static void test_direct_message(void **state)
{
	(void)state;
	struct tc *alice = tc_open(&H, "alice-dm", "alice", TC_V5);
	int bob = hr_count(R, "/bob-phone"), dave = hr_count(R, "/dave");
	assert_int_equal(tc_pub(alice, "chat/rooms/dm:alice:bob/messages", "just you and me", 1), 0);
	assert_true(hr_wait(R, "/bob-phone", bob + 1, P_WAIT_MS));
	struct hr_request *q = hr_get(R, "/bob-phone", bob);
	assert_non_null(strstr(q->body, "\"room\":\"dm:alice:bob\""));
	assert_non_null(strstr(q->body, "\"title\":\"alice\""));
	hr_request_free(q);
	assert_true(p_wait_count(&H, "push_outbox", "{}", 0));
	assert_int_equal(hr_count(R, "/dave"), dave);
	tc_close(alice);
}

/* Carol goes offline: she now gets pushed, and the preview is there. */
static void test_going_offline_starts_push(void **state)
{
	(void)state;
	struct tc *obs = p_observer(&H);
	struct tc *alice = tc_open(&H, "alice-app2", "alice", TC_V5);
	p_wait_presence(obs, "carol", false);
	p_barrier(&H);
	int before = hr_count(R, "/carol");
	assert_int_equal(tc_pub(alice, ROOM_TOPIC, "are you there?", 1), 0);
	assert_true(hr_wait(R, "/carol", before + 1, P_WAIT_MS));
	struct hr_request *q = hr_get(R, "/carol", before);
	check_signature(q);
	assert_non_null(strstr(q->body, "\"body\":\"are you there?\""));
	hr_request_free(q);
	tc_close(alice);
	tc_close(obs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_offline_members_every_device),
	    cmocka_unit_test(test_direct_message),
	    cmocka_unit_test(test_going_offline_starts_push),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	bool clean = h_finish(&H, failed != 0);
	hr_stop(R);
	return clean ? failed : 1;
}
