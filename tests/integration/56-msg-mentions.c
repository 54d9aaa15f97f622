/* SPDX-License-Identifier: MIT */
/*
 * Mentions and muted rooms, through the real broker, bridge and a real
 * HTTP receiver for push: "@user" of a member puts them in the envelope's
 * "mentions" (kept in MongoDB and history); a user who muted a room gets
 * no notification for its messages but those that mention them.
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
#include "4y-util.h"

#define ROOM "r56"

static struct harness H;
static struct hr *R;

static int setup(void **state)
{
	(void)state;
	char conf[512];
	h_init(&H, "56-msg-mentions");
	R = hr_start();
	h_start_mongo(&H);
	h_start_broker(&H, P_BROKER_CONF);
	snprintf(conf, sizeof(conf), "push_coalesce_ms 100\npush_allow_private true\npush_allow_http true\n");
	h_start_bridge(&H, conf);
	const char *members[] = {"alice", "bob", "carol", NULL};
	assert_true(h_setup_room(&H, ROOM, members));
	p_webhook_device(&H, R, "bob", "bob-phone", "/bob");
	p_webhook_device(&H, R, "carol", "carol-phone", "/carol");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hr_stop(R);
	return 0;
}

static void mute(const char *user, bool muted)
{
	char topic[96], inbox[96], req[128];
	struct tc *c = tc_open(&H, "mute-56", user, TC_V311);
	snprintf(topic, sizeof(topic), "chat/users/%s/chats", user);
	snprintf(inbox, sizeof(inbox), "chat/users/%s/inbox", user);
	snprintf(req, sizeof(req), "{\"op\":\"mute\",\"room\":\"" ROOM "\",\"muted\":%s}", muted ? "true" : "false");
	assert_int_equal(tc_subscribe(c, inbox, 1), 1);
	assert_int_equal(tc_pub(c, topic, req, 1), 0);
	struct tc_msg *m = tc_wait(c, inbox, TC_WAIT_MS);
	assert_non_null(m);
	assert_non_null(strstr(m->payload, "\"ok\":true"));
	tc_msg_free(m);
	tc_close(c);
}

static void test_mentions_in_envelope_and_history(void **state)
{
	(void)state;
	char id[27];
	struct tc *alice = tc_open(&H, "alice-56", "alice", TC_V5);
	struct tc *carol = tc_open(&H, "carol-56", "carol", TC_V311);
	m_inbox_sub(carol, "carol");
	assert_int_equal(tc_subscribe(carol, "chat/rooms/" ROOM "/messages", 1), 1);
	cJSON *env = y_post(alice, carol, ROOM, "@bob and @carol, not @dave, @alice or mail@bob.org, @bob again.", id);
	char *mentions = cJSON_PrintUnformatted(cJSON_GetObjectItem(env, "mentions"));
	assert_string_equal(mentions, "[\"bob\",\"carol\"]");
	free(mentions);
	cJSON_Delete(env);
	env = y_post(alice, carol, ROOM, "nobody here", id);
	assert_null(cJSON_GetObjectItem(env, "mentions"));
	cJSON_Delete(env);
	env = y_post(alice, carol, ROOM, "{\"text\":\"end @bob.\"}", id);
	mentions = cJSON_PrintUnformatted(cJSON_GetObjectItem(env, "mentions"));
	assert_string_equal(mentions, "[\"bob\"]");
	free(mentions);
	cJSON_Delete(env);
	cJSON *h = y_history(carol, "carol", ROOM, "{\"limit\":1}");
	const cJSON *m = y_find(h, id);
	assert_non_null(m);
	mentions = cJSON_PrintUnformatted(cJSON_GetObjectItem(m, "mentions"));
	assert_string_equal(mentions, "[\"bob\"]");
	free(mentions);
	cJSON_Delete(h);
	tc_close(alice);
	tc_close(carol);
}

static void test_muted_room_pushes_mentions_only(void **state)
{
	(void)state;
	struct tc *obs = p_observer(&H);
	mute("bob", true);
	p_wait_presence(obs, "bob", false);
	p_wait_presence(obs, "carol", false);
	p_barrier(&H);
	int bob = hr_count(R, "/bob"), carol = hr_count(R, "/carol");
	struct tc *alice = tc_open(&H, "alice-56m", "alice", TC_V5);
	assert_int_equal(m_send(alice, ROOM, "plain news"), 0);
	/* carol's notification leaves in the same flush as bob's would. */
	assert_true(hr_wait(R, "/carol", carol + 1, P_WAIT_MS));
	h_sleep_ms(300);
	assert_int_equal(hr_count(R, "/bob"), bob);
	assert_int_equal(m_send(alice, ROOM, "look @bob"), 0);
	assert_true(hr_wait(R, "/bob", bob + 1, P_WAIT_MS));
	struct hr_request *q = hr_get(R, "/bob", bob);
	assert_non_null(strstr(q->body, "look @bob"));
	hr_request_free(q);
	/* Unmuted: every message again. */
	mute("bob", false);
	p_wait_presence(obs, "bob", false);
	p_barrier(&H);
	assert_int_equal(m_send(alice, ROOM, "more plain news"), 0);
	assert_true(hr_wait(R, "/bob", bob + 2, P_WAIT_MS));
	tc_close(alice);
	tc_close(obs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mentions_in_envelope_and_history),
		cmocka_unit_test(test_muted_room_pushes_mentions_only),
	};
	int failed = cmocka_run_group_tests(tests, setup, teardown);
	return h_finish(&H, failed != 0) ? failed : 1;
}
