/* SPDX-License-Identifier: MIT */
/*
 * Replies and reactions through the real broker, bridge and stand-in, over
 * MQTT 5 and 3.1.1: a reply names a message of the same room that the
 * server knows; reactions are one per user per message, replaced or taken
 * back, and counted in history; a deleted message takes neither. After a
 * broker restart (the plugin's record of recent messages is empty), a
 * member can no longer edit an older message, a reply to it passes and
 * keeps its "reply", and a reply to an id the plugin cannot check is
 * stored without its "reply" when the bridge has no such message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "4y-util.h"

#define ROOM "r49"
#define OTHER "r49b"

static struct harness H;
static const char *const members[] = {"alice", "bob", "carol", NULL};

static int setup(void **state)
{
	(void)state;
	h_init(&H, "49-msg-replies");
	h_start_mongo(&H);
	char conf[1024];
	snprintf(conf, sizeof(conf), Y_UNTHROTTLED "plugin_opt_state_file %s\n", H.state_file);
	h_start_broker(&H, conf);
	h_start_bridge(&H, NULL);
	assert_true(h_setup_room(&H, ROOM, members));
	assert_true(h_setup_room(&H, OTHER, members));
	return 0;
}

static void test_reply(void **state)
{
	(void)state;
	char first[27], elsewhere[27], reply[27], payload[256];
	struct tc *alice = tc_open(&H, "alice-49", "alice", TC_V5);
	struct tc *bob = tc_open(&H, "bob-49", "bob", TC_V311);
	m_inbox_sub(alice, "alice");
	assert_int_equal(tc_subscribe(bob, "chat/rooms/" ROOM "/messages", 1), 1);
	assert_int_equal(tc_subscribe(bob, "chat/rooms/" OTHER "/messages", 1), 1);
	cJSON_Delete(y_post(alice, bob, ROOM, "{\"text\":\"lunch?\"}", first));
	cJSON_Delete(y_post(alice, bob, OTHER, "{\"text\":\"elsewhere\"}", elsewhere));
	snprintf(payload, sizeof(payload), "{\"text\":\"yes!\",\"reply\":\"%s\"}", first);
	cJSON *env = y_post(bob, bob, ROOM, payload, reply);
	m_expect(env, "reply", first);
	m_expect(env, "text", "yes!");
	cJSON_Delete(env);
	bson_t *doc = y_stored(&H, ROOM, reply, "");
	assert_non_null(doc);
	char got[32];
	assert_true(y_doc_str(doc, "reply", got, sizeof(got)));
	assert_string_equal(got, first);
	bson_destroy(doc);
	cJSON *h = y_history(alice, "alice", ROOM, "{\"limit\":5}");
	const cJSON *m = y_find(h, reply);
	assert_non_null(m);
	m_expect(m, "reply", first);
	cJSON_Delete(h);
	/* Another room's message, one that was never sent, a malformed id. */
	snprintf(payload, sizeof(payload), "{\"text\":\"huh\",\"reply\":\"%s\"}", elsewhere);
	assert_int_equal(m_send(alice, ROOM, payload), 135);
	y_refused(alice, "alice", "not_found");
	char ghost[27];
	memcpy(ghost, first, 27);
	ghost[25] = ghost[25] == 'Z' ? 'Y' : 'Z';
	snprintf(payload, sizeof(payload), "{\"text\":\"huh\",\"reply\":\"%s\"}", ghost);
	assert_int_equal(m_send(alice, ROOM, payload), 135);
	y_refused(alice, "alice", "not_found");
	assert_int_equal(m_send(alice, ROOM, "{\"text\":\"huh\",\"reply\":\"x\"}"), 135);
	y_refused(alice, "alice", "malformed_json");
	assert_true(m_nothing_before_marker(alice, bob, ROOM, "marker-49"));
	tc_close(alice);
	tc_close(bob);
}

/* user reacts to id with reaction; the room hears it. */
static void react(struct tc *tx, struct tc *rx, const char *id, const char *reaction)
{
	char payload[160];
	snprintf(payload, sizeof(payload), "{\"react\":\"%s\",\"reaction\":\"%s\"}", id, reaction);
	cJSON *env = m_deliver(tx, rx, ROOM, payload);
	m_expect(env, "type", "reaction");
	m_expect(env, "react", id);
	m_expect(env, "reaction", reaction);
	assert_null(cJSON_GetObjectItem(env, "text"));
	cJSON_Delete(env);
}

/* Waits until history shows exactly the counts in want (a JSON object). */
static void expect_counts(struct tc *c, const char *id, const char *want)
{
	long long deadline = h_now_ms() + 10000;
	char *got = NULL;
	for (;;) {
		cJSON *h = y_history(c, "alice", ROOM, "{\"limit\":10}");
		const cJSON *m = y_find(h, id);
		assert_non_null(m);
		const cJSON *r = cJSON_GetObjectItem(m, "reactions");
		free(got);
		got = r ? cJSON_PrintUnformatted(r) : strdup("none");
		cJSON_Delete(h);
		if (strcmp(got, want) == 0) break;
		if (h_now_ms() > deadline) fail_msg("reactions %s, want %s", got, want);
		h_sleep_ms(50);
	}
	free(got);
}

static void test_reactions(void **state)
{
	(void)state;
	char id[27], payload[160];
	struct tc *alice = tc_open(&H, "alice-49r", "alice", TC_V5);
	struct tc *bob = tc_open(&H, "bob-49r", "bob", TC_V311);
	struct tc *carol = tc_open(&H, "carol-49r", "carol", TC_V5);
	m_inbox_sub(alice, "alice");
	m_inbox_sub(carol, "carol");
	assert_int_equal(tc_subscribe(alice, "chat/rooms/" ROOM "/messages", 1), 1);
	cJSON_Delete(y_post(alice, alice, ROOM, "{\"text\":\"pizza tonight\"}", id));
	react(bob, alice, id, "👍");
	react(carol, alice, id, "👍");
	react(alice, alice, id, "❤️");
	expect_counts(alice, id, "{\"👍\":2,\"❤️\":1}");
	react(bob, alice, id, "❤️"); /* one per user: replaces bob's 👍 */
	react(carol, alice, id, "");  /* taken back */
	expect_counts(alice, id, "{\"❤️\":2}");
	/* A reaction is short and has no blanks; it carries nothing else. */
	assert_int_equal(m_send(carol, ROOM, "{\"react\":\"01M87XJ1MMKHH8NFKT00000000\",\"reaction\":\"a b\"}"), 135);
	y_refused(carol, "carol", "malformed_json");
	snprintf(payload, sizeof(payload), "{\"react\":\"%s\",\"reaction\":\"%s\"}", id,
		 "0123456789012345678901234567890123");
	assert_int_equal(m_send(carol, ROOM, payload), 135);
	y_refused(carol, "carol", "malformed_json");
	snprintf(payload, sizeof(payload), "{\"react\":\"%s\",\"reaction\":\"ok\",\"text\":\"x\"}", id);
	assert_int_equal(m_send(carol, ROOM, payload), 135);
	y_refused(carol, "carol", "malformed_json");
	/* Deleted: the reactions go with it, and no new one comes. */
	snprintf(payload, sizeof(payload), "{\"delete\":\"%s\"}", id);
	cJSON_Delete(m_deliver(alice, alice, ROOM, payload));
	bson_t *doc = y_stored(&H, ROOM, id, "\"deleted\":true");
	assert_non_null(doc);
	bson_iter_t it;
	assert_false(bson_iter_init_find(&it, doc, "reactions"));
	bson_destroy(doc);
	snprintf(payload, sizeof(payload), "{\"react\":\"%s\",\"reaction\":\"👍\"}", id);
	assert_int_equal(m_send(carol, ROOM, payload), 135);
	y_refused(carol, "carol", "not_found");
	expect_counts(alice, id, "none");
	tc_close(alice);
	tc_close(bob);
	tc_close(carol);
}

static void test_after_restart(void **state)
{
	(void)state;
	char old[27], payload[256], id[27];
	struct tc *alice = tc_open(&H, "alice-49x", "alice", TC_V5);
	assert_int_equal(tc_subscribe(alice, "chat/rooms/" ROOM "/messages", 1), 1);
	cJSON_Delete(y_post(alice, alice, ROOM, "{\"text\":\"before the restart\"}", old));
	bson_t *doc = y_stored(&H, ROOM, old, "");
	assert_non_null(doc);
	bson_destroy(doc);
	tc_close(alice);
	h_restart_broker(&H);
	assert_true(h_wait_log(H.bridge.log, "subscribed to", 10000));
	alice = tc_open(&H, "alice-49y", "alice", TC_V5);
	struct tc *bob = tc_open(&H, "bob-49y", "bob", TC_V5);
	m_inbox_sub(alice, "alice");
	assert_int_equal(tc_subscribe(alice, "chat/rooms/" ROOM "/messages", 1), 1);
	/* Her own message, but the plugin no longer knows it. */
	snprintf(payload, sizeof(payload), "{\"edit\":\"%s\",\"text\":\"changed\"}", old);
	for (long long until = h_now_ms() + 10000; m_send(alice, ROOM, payload) == 135;) {
		cJSON *n = m_refusal(alice, "alice");
		const char *why = c_str(n, "reason");
		bool unstored = why && strcmp(why, "store_unavailable") == 0; /* the bridge is back in a moment */
		if (!unstored) m_expect(n, "reason", "not_found");
		cJSON_Delete(n);
		if (!unstored) break;
		if (h_now_ms() > until) fail_msg("the bridge never came back");
		h_sleep_ms(100);
	}
	/* A reply to it passes, and is kept: the bridge has the message. */
	snprintf(payload, sizeof(payload), "{\"text\":\"re\",\"reply\":\"%s\"}", old);
	cJSON_Delete(y_post(bob, alice, ROOM, payload, id));
	doc = y_stored(&H, ROOM, id, "");
	assert_non_null(doc);
	char got[32];
	assert_true(y_doc_str(doc, "reply", got, sizeof(got)));
	bson_destroy(doc);
	/* A reply to an old id nobody sent: passed on, stored without it. */
	const char *ghost = "01000000000000000000000000";
	snprintf(payload, sizeof(payload), "{\"text\":\"re ghost\",\"reply\":\"%s\"}", ghost);
	cJSON *env = y_post(bob, alice, ROOM, payload, id);
	m_expect(env, "reply", ghost);
	cJSON_Delete(env);
	doc = y_stored(&H, ROOM, id, "");
	assert_non_null(doc);
	assert_false(y_doc_str(doc, "reply", got, sizeof(got)));
	bson_destroy(doc);
	/* A reaction to it passes too, and is dropped at once: it does not
	 * hold up what comes after it. */
	snprintf(payload, sizeof(payload), "{\"react\":\"%s\",\"reaction\":\"ok\"}", ghost);
	cJSON_Delete(m_deliver(bob, alice, ROOM, payload));
	long long t0 = h_now_ms();
	cJSON_Delete(y_post(bob, alice, ROOM, "{\"text\":\"after the ghost\"}", id));
	doc = y_stored(&H, ROOM, id, "");
	assert_non_null(doc);
	bson_destroy(doc);
	assert_true(h_now_ms() - t0 < 3000);
	assert_true(h_wait_log(H.bridge.log, "names no stored message: dropped", 1000));
	tc_close(alice);
	tc_close(bob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_reactions),
		cmocka_unit_test(test_after_restart),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	return h_finish(&H, failed != 0) ? failed : 1;
}
